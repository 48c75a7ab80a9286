"""Benchmark (not a test): CPU instructions per access token, counted by valgrind.

Wall-clock token rates on this shared 2-core host drift by tens of percent within minutes;
instruction counts do not. This drives the whole ASGI application (``create_app``: the
request pipeline, the token endpoint, the audit writer) in one process, N times with a
prepared ``POST /oauth2/token`` (no HTTP server, no sockets), under
``valgrind --tool=cachegrind`` (simulation off: it only counts instructions), and prints
instructions per token for the 149-scope Management API token and a 2-scope one, and
for one RS256 signature alone (``sign``: ``cryptography`` signing a 10 kB payload with a
2048-bit key), so that what is not the signature can be read off: ``token - sign``.

    python bench/token_instructions.py [--src DIR] [--cases all,two,sign] [--n1 100 --n2 300]
        [--flush-every 100] [--rate-limits] [--metrics] [--json OUT]

Each count is the difference of two runs (``n1`` and ``n2`` tokens), so start-up, imports and
the first token's cache misses cancel out: (I(n2) - I(n1)) / (n2 - n1). The data dir (signing
key, bootstrap application) is made once, natively, and copied for every run, so RSA key
generation, whose cost is random, is not counted. ``PYTHONHASHSEED=0``.

The audit writer's batches are part of the cost (they run in the same process), but its
thread is timed by the wall clock, which valgrind slows ~50x: so the runs give the writer a
huge interval and flush it on the request thread every ``--flush-every`` tokens instead
(100 by default: what the writer's 50 ms window holds at ~2,000 tokens/s). ``--src`` runs
another copy of ``src/`` (an A/B: ``git worktree add /tmp/base HEAD`` and
``--src /tmp/base/src``); the driver uses only interfaces both sides have.

Valgrind emulates no AVX-512, so OpenSSL signs with its AVX2 code there: the signature's
share of the instructions is not its share of the time natively (about three quarters of
the CPU, bench/README.md). Compare instruction counts with instruction counts.

Without valgrind (``--tool none``) it prints process CPU time per token instead: quick,
noisy. Needs ``valgrind`` (``apt-get install -y valgrind``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MASTER_KEY = "token-instructions-" + "k" * 32
ISSUER = "http://localhost:9"
CASES = {
    "all": "",  # no scope parameter: every one of the 149 Management API scopes is granted
    "two": "read:users read:applications",
    "sign": None,  # the RS256 signature alone
}
LABELS = {"all": "149 scopes", "two": "2 scopes", "sign": "RS256 sign"}


def _settings(data: Path, rate_limits: bool, metrics: bool = False) -> Any:
    from kindling.config import Settings

    # With the hook on, limits no run reaches: its cost is measured, not its refusals.
    high = "1000000/second"
    return Settings(
        data_dir=data,
        master_key=MASTER_KEY,
        issuer=ISSUER,
        rate_limits=rate_limits,
        metrics=metrics,
        rate_limit_token=high,
        rate_limit_token_ip=high,
        rate_limit_token_failures=high,
        rate_limit_token_failures_ip=high,
    )


def prepare(data: Path) -> dict[str, str]:
    """A data dir with its signing key and the bootstrap application, and an RSA key for
    ``sign`` (run natively: key generation costs a random number of instructions)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from kindling.bootstrap import bootstrap
    from kindling.context import build_context

    ctx = build_context(_settings(data, False))
    try:
        result = bootstrap(ctx, ISSUER)
        assert result.client_id and result.client_secret
    finally:
        ctx.close()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (data / "sign-key.pem").write_bytes(pem)
    return {
        "client_id": result.client_id,
        "client_secret": result.client_secret,
        "audience": result.audience,
    }


def sign(data: Path, n: int) -> float:
    """``n`` RS256 signatures of a 10 kB payload (a 149-scope token's size)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key((data / "sign-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    message, pad, alg = b"x" * 10_000, padding.PKCS1v15(), hashes.SHA256()
    start = time.process_time()
    for _ in range(n):
        key.sign(message, pad, alg)
    return time.process_time() - start


def run(
    data: Path,
    creds: dict[str, str],
    case: str,
    n: int,
    every: int,
    limits: bool,
    metrics: bool = False,
) -> float:
    """``n`` token requests through the application; returns CPU seconds spent on them."""
    import asyncio
    from urllib.parse import urlencode

    from kindling.context import build_context
    from kindling.platform.audit import AuditWriter
    from kindling.web.app import create_app

    ctx = build_context(_settings(data, limits, metrics))
    ctx.keyring.reload()
    clock = ctx.clock
    # The writer of the real server, timed by token count instead of the wall clock.
    writer = AuditWriter(ctx.storage, lambda: int(clock.now() * 1000), interval=1e9, batch=10**9)
    ctx.storage.audit = writer
    app = create_app(ctx)
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "audience": creds["audience"],
    }
    if CASES[case]:
        form["scope"] = CASES[case]
    body = urlencode(form).encode()
    headers = [
        (b"host", b"127.0.0.1:18080"),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
    ]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def drive() -> float:
        start = time.process_time()
        for i in range(1, n + 1):
            scope = {
                "type": "http",
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/oauth2/token",
                "raw_path": b"/oauth2/token",
                "query_string": b"",
                "root_path": "",
                "headers": headers,
                "client": ("127.0.0.1", 40000 + i % 1000),
                "server": ("127.0.0.1", 18080),
            }
            await app(scope, receive, send)
            if i % every == 0:
                writer.flush()
        return time.process_time() - start

    try:
        spent = asyncio.run(drive())
    finally:
        ctx.close()
    if statuses != [200] * n:
        raise SystemExit(f"expected {n} tokens, got statuses {sorted(set(statuses))}")
    return spent


_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def row_bytes(data: Path) -> float | None:
    """The mean size of a run's ``token.issued`` rows: their text columns, in bytes."""
    conn = sqlite3.connect(data / "kindling.db")
    try:
        (size,) = conn.execute(
            "SELECT avg(length(details) + length(action) + length(actor_type) "
            "+ coalesce(length(actor_id), 0) + coalesce(length(target_id), 0) "
            "+ coalesce(length(ip), 0) + coalesce(length(request_id), 0)) "
            "FROM audit WHERE action = 'token.issued'"
        ).fetchone()
    finally:
        conn.close()
    return None if size is None else float(size)


def _count(src: Path, args: list[str], tool: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    command = [sys.executable, __file__, *args]
    if tool == "cachegrind":
        command = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--branch-sim=no",
            "--cachegrind-out-file=/dev/null",
            *command,
        ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    if tool == "none":
        return int(float(done.stdout.strip().splitlines()[-1]) * 1e9)  # nanoseconds of CPU
    found = _REFS.search(done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the src/ to measure")
    parser.add_argument(
        "--cases", default="all,two,sign", help="all (149 scopes), two (2 scopes), sign (RS256)"
    )
    parser.add_argument("--n1", type=int, default=100)
    parser.add_argument("--n2", type=int, default=300)
    parser.add_argument("--flush-every", type=int, default=100)
    parser.add_argument("--rate-limits", action="store_true", help="with the rate-limit hook")
    parser.add_argument(
        "--metrics", action="store_true", help="with the metrics hook (on under kindling serve)"
    )
    parser.add_argument("--tool", choices=("cachegrind", "none"), default="cachegrind")
    parser.add_argument("--json", type=Path, help="also write the results here")
    # Internal: the measured child process.
    parser.add_argument("--child", choices=("prepare", "run"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child == "prepare":
        print(json.dumps(prepare(options.data)))
        return
    if options.child == "run":
        if CASES[options.case] is None:
            print(sign(options.data, options.n))
            return
        creds = json.loads((options.data / "creds.json").read_text())
        spent = run(
            options.data,
            creds,
            options.case,
            options.n,
            options.flush_every,
            options.rate_limits,
            options.metrics,
        )
        print(spent)
        return

    every = options.flush_every
    if options.n2 <= options.n1 or options.n1 % every or options.n2 % every:
        parser.error("need n1 < n2, both multiples of --flush-every")
    if options.tool == "cachegrind" and shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind), or use --tool none")
    src = options.src.resolve()
    work = Path(tempfile.mkdtemp(prefix="token-instructions-"))
    results: dict[str, Any] = {
        "src": str(src),
        "tool": options.tool,
        "n1": options.n1,
        "n2": options.n2,
        "flush_every": options.flush_every,
        "rate_limits": options.rate_limits,
        "metrics": options.metrics,
        "cases": {},
    }
    try:
        base = work / "base"
        env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
        made = subprocess.run(
            [sys.executable, __file__, "--child", "prepare", "--data", str(base)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        (base / "creds.json").write_text(made.stdout.strip().splitlines()[-1])
        for case in options.cases.split(","):
            counts = []
            for n in (options.n1, options.n2):
                data = work / f"{case}-{n}"
                shutil.copytree(base, data)
                args = ["--child", "run", "--data", str(data), "--case", case, "--n", str(n)]
                args += ["--flush-every", str(options.flush_every)]
                if options.rate_limits:
                    args.append("--rate-limits")
                if options.metrics:
                    args.append("--metrics")
                counts.append(_count(src, args, options.tool))
                size = row_bytes(data) if CASES[case] is not None else None
                shutil.rmtree(data)
            per_token = (counts[1] - counts[0]) / (options.n2 - options.n1)
            results["cases"][case] = {"counts": counts, "per_token": per_token, "row_bytes": size}
            unit = "instructions" if options.tool == "cachegrind" else "ns CPU"
            row = "" if size is None else f"  (audit row {size:,.0f} bytes)"
            print(
                f"{case:>4} ({LABELS[case]}): {per_token:>12,.0f} {unit} per token{row}",
                flush=True,
            )
        signature = results["cases"].get("sign", {}).get("per_token")
        if signature is not None:
            for case in ("all", "two"):
                if case in results["cases"]:
                    rest = results["cases"][case]["per_token"] - signature
                    results["cases"][case]["without_signature"] = rest
                    print(f"{case:>4} ({LABELS[case]}) without the signature: {rest:>12,.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
