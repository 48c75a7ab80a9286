"""Benchmark (not a test): CPU instructions per request of the whole server, by HTTP server.

``bench/token_instructions.py`` counts the application alone (no sockets); this counts the
server process as ``bench/token_bench.sh`` runs it, HTTP server included, so that servers
can be compared on this shared host without its wall-clock noise (issue 13):

    python bench/server_instructions.py [--servers uvicorn,granian] [--cases healthz,two,all]
        [--conns 16] [--src DIR] [--json OUT]

For each server and case, two fresh servers run under ``valgrind --tool=cachegrind``
(simulation off; ``--trace-children=yes``, so granian's worker process is counted with its
supervisor) and are sent ``n1`` and then ``n2`` requests over ``--conns`` keep-alive
connections by a native client; the figure is (I(n2) - I(n1)) / (n2 - n1), so start-up,
imports and shutdown cancel out (each server is first left to settle: it must be idle for 2 s
before the requests start). The servers are ``kindling serve --no-access-log
--workers 1`` (uvicorn, httptools, the stdlib loop) and ``bench/serve_under.py granian`` /
``hypercorn`` (the same set-up, then that server on ``kindling.web.asgi:from_env``).
Cases: ``healthz`` (``GET /healthz``: the HTTP floor), ``two`` and ``all`` (the
``kindling-2scopes`` and ``kindling`` token requests of ``token_bench.sh``), and ``idle``
(no request; ``n1`` and ``n2`` are seconds of waiting: what the server does per second by
itself, e.g. uvicorn's 0.1 s tick).

Determinism: every server runs a snapshot of ``--src`` (default ``src/``) copied and
byte-compiled once at the start, so edits others make to the tree meanwhile (and the
recompiling they cause) fall into no run; the data dir (signing key, bootstrap
application) is made once natively and copied per run; ``PYTHONHASHSEED=0``; a
``sitecustomize`` in the server's ``PYTHONPATH`` gives the audit writer batches of
exactly 100 rows (no 50 ms timer: valgrind slows the clock ~50x) and the webhook
deliverer no poll during the run (its 0.5 s poll would count the run's length).
Wall-clock timers the servers keep (uvicorn's 0.1 s tick) still count per second of the
run; the ``idle`` case gives that rate, and each result also shows the figure with it
taken out for the measured phase (``tick-corrected``).

Counted: user-space instructions only. The kernel's side (``read``/``write``/``epoll``
calls, which differ between servers) is not in these figures; ``token_bench.sh``'s
tokens per CPU-second include it. Valgrind has no AVX-512, so the signature's share is
not its native share. Needs ``valgrind``; ``pip install granian hypercorn`` for those.
"""

from __future__ import annotations

import argparse
import compileall
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
MASTER_KEY = "server-instructions-" + "k" * 32
ISSUER = "http://localhost:9"
SCOPES = {"all": "", "two": "read:users read:applications"}
DEFAULT_N = {"healthz": (1000, 4000), "two": (100, 300), "all": (100, 300), "idle": (10, 40)}
#: The line each server logs once its worker can serve (the socket listens before that).
READY = {
    "uvicorn": "Application startup complete.",
    "granian": "Started worker-1",
    "hypercorn": "Running on",
}
SITECUSTOMIZE = """\
# Written by bench/server_instructions.py: background work counted per request, not per second.
from kindling.platform.audit import AuditWriter
from kindling.resources.webhooks.deliverer import Deliverer

AuditWriter.__init__.__kwdefaults__.update(interval=1e9, batch=100)
Deliverer.__init__.__kwdefaults__.update(poll=1e9)
"""
_SUMMARY = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)


def prepare(data: Path, src: Path) -> dict[str, str]:
    """A data dir with its signing key and the bootstrap application (made natively)."""
    sys.path.insert(0, str(src))
    from kindling.bootstrap import bootstrap
    from kindling.config import Settings
    from kindling.context import build_context

    ctx = build_context(Settings(data_dir=data, master_key=MASTER_KEY, issuer=ISSUER))
    try:
        result = bootstrap(ctx, ISSUER)
        assert result.client_id and result.client_secret
    finally:
        ctx.close()
    return {
        "client_id": result.client_id,
        "client_secret": result.client_secret,
        "audience": result.audience,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _request(case: str, creds: dict[str, str]) -> tuple[str, str, bytes, dict[str, str]]:
    if case == "healthz":
        return "GET", "/healthz", b"", {}
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "audience": creds["audience"],
    }
    if SCOPES[case]:
        form["scope"] = SCOPES[case]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return "POST", "/oauth2/token", urlencode(form).encode(), headers


def load(port: int, case: str, creds: dict[str, str], n: int, conns: int) -> float:
    """``n`` requests over ``conns`` keep-alive connections; returns the seconds it took."""
    method, path, body, headers = _request(case, creds)
    errors: list[str] = []
    shares = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]

    def client(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            for _ in range(count):
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"{method} {path}: {response.status}")
                    return
        except OSError as exc:
            errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(share,)) for share in shares if share]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"requests failed: {errors[:3]}")
    return time.monotonic() - start


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants so far."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(stat[11]) + int(stat[12])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def settle(pid: int, deadline: float) -> None:
    """Wait until the server is idle (< 5 % of a core over 2 s): its start-up work after
    the ready line (first audit prune, lazy imports) must not fall into the measured
    phase, where a short run would cut it off and a long one would not."""
    before = _tree_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = _tree_cpu(pid)
        if now - before < 0.1:
            return
        before = now
    raise SystemExit("the server did not settle")


def one_run(
    server: str,
    case: str,
    n: int,
    conns: int,
    base: Path,
    creds: dict[str, str],
    work: Path,
) -> tuple[int, float]:
    """Instructions of one server's life serving ``n`` requests, and its measured phase's
    wall seconds."""
    run = Path(tempfile.mkdtemp(prefix=f"{server}-{case}-{n}-", dir=work))
    data, out = run / "data", run / "cg"
    shutil.copytree(base, data)
    out.mkdir()
    port = _free_port()
    serve = ["serve", "--no-access-log", "--workers", "1", "--port", str(port)]
    serve += ["--data-dir", str(data)]
    if server == "uvicorn":
        command = [sys.executable, "-m", "kindling", *serve]
    else:
        command = [sys.executable, str(REPO / "bench" / "serve_under.py"), server, *serve]
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--branch-sim=no",
        "--trace-children=yes",
        f"--cachegrind-out-file={out}/cg.%p",
        "--log-file=/dev/null",
        *command,
    ]
    env = dict(
        os.environ,
        PYTHONPATH=f"{work / 'site'}{os.pathsep}{work / 'src'}",
        PYTHONHASHSEED="0",
        KINDLING_MASTER_KEY=MASTER_KEY,
        KINDLING_ISSUER=ISSUER,
        KINDLING_RATE_LIMITS="off",
    )
    log = run / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 900
        while READY[server] not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{server} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        settle(proc.pid, deadline)
        if case == "idle":
            time.sleep(n)
            wall = float(n)
        else:
            wall = load(port, case, creds, n, conns)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    total = 0
    for path in out.iterdir():
        found = _SUMMARY.search(path.read_text())
        if found is None:
            raise SystemExit(f"no summary in {path}")
        total += int(found.group(1))
    if os.environ.get("SERVER_INSTRUCTIONS_KEEP"):  # keep the cachegrind files (diagnosis)
        keep = Path(os.environ["SERVER_INSTRUCTIONS_KEEP"]) / run.name
        shutil.copytree(out, keep)
        shutil.copy(log, keep / "server.log")
    shutil.rmtree(run)
    return total, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--cases", default="healthz,two,all")
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--n", help="n1,n2 for every case (default per case)")
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the src/ to measure")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    work = Path(tempfile.mkdtemp(prefix="server-instructions-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill
    results: dict[str, Any] = {"conns": options.conns, "runs": []}
    try:
        (work / "site").mkdir()
        (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        src = work / "src"
        shutil.copytree(options.src, src, ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(src, quiet=1)
        results["src"] = str(options.src.resolve())
        base = work / "base"
        creds = prepare(base, src)
        idle_rate: dict[str, float] = {}
        cases = options.cases.split(",")
        cases.sort(key=lambda c: c != "idle")  # the idle rate first, to correct the others
        for case in cases:
            n1, n2 = tuple(int(v) for v in options.n.split(",")) if options.n else DEFAULT_N[case]
            for server in options.servers.split(","):
                (i1, w1), (i2, w2) = (
                    one_run(server, case, n, options.conns, base, creds, work) for n in (n1, n2)
                )
                per = (i2 - i1) / (n2 - n1)
                row: dict[str, Any] = {"server": server, "case": case, "n": [n1, n2]}
                row.update({"instructions": [i1, i2], "wall_s": [round(w1, 2), round(w2, 2)]})
                if case == "idle":
                    idle_rate[server] = per
                    row["per_second"] = per
                    print(f"{server:>9} idle: {per:>14,.0f} instructions per second", flush=True)
                else:
                    row["per_request"] = per
                    text = f"{server:>9} {case:>7}: {per:>14,.0f} instructions per request"
                    if server in idle_rate:
                        fixed = (i2 - i1 - idle_rate[server] * (w2 - w1)) / (n2 - n1)
                        row["per_request_tick_corrected"] = fixed
                        text += f"  (tick-corrected {fixed:,.0f})"
                    print(f"{text}  [wall {w1:.1f} s / {w2:.1f} s]", flush=True)
                results["runs"].append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
