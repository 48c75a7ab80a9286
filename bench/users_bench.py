"""Management API listing at scale: 1,000,000 users in SQLite and in PostgreSQL.

A benchmark, not a test. For each engine it:

1. seeds N users (one email identity each) through the storage layer's bulk path
   (``UserRepository.add_many``: multi-row INSERTs on SQLite, COPY on PostgreSQL), timed;
2. starts ``kindling serve`` pinned to CPU 0 and drives it with wrk pinned to CPU 1:
   ``GET /api/v1/users?page_size=100`` (page 1), the same request for page 10,000
   (its ``next_token`` is minted with the data dir's cursor key), and an exact-email
   lookup ``GET /api/v1/users?email=…``;
3. measures the exact-email lookup as server time in-process (the service call the
   route makes, without HTTP), averaged over many calls.

Usage (from the repo root, with the venv active):

    python bench/users_bench.py [--users 1000000] [--engines sqlite,postgres] [--seconds 10]
    python bench/users_bench.py --seed-only [--users 1000000] [--engines sqlite]

``--seed-only`` stops after step 1: it prints the seed's wall-clock and CPU seconds and the
seeding process's peak RSS, and writes no results file.

``KINDLING_BENCH_SRC=DIR`` measures another copy of ``src/`` (an A/B against a worktree).

Traffic goes to 127.0.0.1 only; every run is bounded in time. Results are printed and
written to ``bench/results/users-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The ``src/`` to measure (an A/B: ``KINDLING_BENCH_SRC=/tmp/base/src``); the server runs it too.
SRC = Path(os.environ.get("KINDLING_BENCH_SRC") or ROOT / "src")
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import parse_wrk  # noqa: E402

from kindling.config import Settings  # noqa: E402
from kindling.context import build_context  # noqa: E402
from kindling.resources.users import service as users_service  # noqa: E402
from kindling.resources.users.model import Identity, User  # noqa: E402
from kindling.resources.users.repository import USERS_REPO  # noqa: E402
from kindling.resources.users.service import list_users  # noqa: E402

#: What ``GET /users`` calls: ``user_summaries_page`` where the tree has it (older trees:
#: ``list_users``, which builds whole users); ``(storage, after, size, emails=)``.
_route_page = getattr(users_service, "user_summaries_page", None) or list_users

PG_ADMIN = os.environ.get("KINDLING_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 50_000
CREATED = "2026-01-01T00:00:00+00:00"


def _peak_rss_mib() -> float:
    """This process's peak resident set so far (``ru_maxrss``, KiB on Linux), in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def seed(settings: Settings, count: int) -> dict[str, Any]:
    """Insert ``count`` users with one email identity each, ``BATCH`` per transaction;
    return the time taken and the process's peak RSS before and after (bounded: one
    batch of objects and rows lives at a time)."""
    rss_before = _peak_rss_mib()
    ctx = build_context(settings)
    started = time.perf_counter()
    cpu_started = time.process_time()
    made = 0
    try:
        while made < count:
            size = min(BATCH, count - made)
            users = []
            for n in range(made, made + size):
                uid = f"kp_{n:032x}"
                email = f"user{n}@bench.example.com"
                users.append(
                    User(
                        id=uid,
                        created_on=CREATED,
                        email=email,
                        first_name=f"First{n}",
                        last_name=f"Last{n}",
                        identities=(
                            Identity(
                                id=f"identity_{n:032x}",
                                user_id=uid,
                                type="email",
                                value=email,
                                is_verified=True,
                                is_primary=True,
                                created_on=CREATED,
                            ),
                        ),
                    )
                )
            with ctx.storage.transaction() as uow:
                uow[USERS_REPO].add_many(users)
            made += size
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if ctx.storage.engine.dialect == "postgres":
            with ctx.storage.engine.session(write=True) as session:
                session.execute("ANALYZE users")
                session.execute("ANALYZE user_identities")
        return {
            "users": count,
            "seconds": round(elapsed, 2),
            "cpu_seconds": round(cpu, 2),
            "users_per_s": round(count / elapsed),
            "peak_rss_mib_before": rss_before,
            "peak_rss_mib": _peak_rss_mib(),
        }
    finally:
        ctx.close()


def email_server_time(settings: Settings, count: int, calls: int = 2000) -> dict[str, Any]:
    """Mean time of the exact-email lookup the route performs (no HTTP)."""
    ctx = build_context(settings)
    try:
        picks = [f"user{random.randrange(count)}@bench.example.com" for _ in range(calls)]
        for email in picks[:100]:
            _route_page(ctx.storage, None, 10, emails=email)
        started = time.perf_counter()
        for email in picks:
            found, _ = _route_page(ctx.storage, None, 10, emails=email)
            assert len(found) == 1
        mean_ms = (time.perf_counter() - started) / calls * 1000
        return {"calls": calls, "mean_ms": round(mean_ms, 4)}
    finally:
        ctx.close()


def page_server_time(settings: Settings, page: int, size: int, calls: int = 300) -> dict[str, Any]:
    """Mean in-process time of the route's service call for page 1 and page ``page`` (no HTTP)."""
    ctx = build_context(settings)
    try:
        with ctx.storage.engine.session(write=False) as session:
            row = session.one(
                "SELECT seq FROM users ORDER BY seq LIMIT 1 OFFSET ?", ((page - 1) * size - 1,)
            )
        assert row is not None
        after = int(row["seq"])
        means = {}
        for name, position in (("page_1_ms", None), (f"page_{page}_ms", after)) * 2:
            for _ in range(30):
                _route_page(ctx.storage, position, size)
            started = time.perf_counter()
            for _ in range(calls):
                _route_page(ctx.storage, position, size)
            means[name] = round((time.perf_counter() - started) / calls * 1000, 4)
        means["ratio"] = round(means[f"page_{page}_ms"] / means["page_1_ms"], 3)
        return means
    finally:
        ctx.close()


def page_token(settings: Settings, page: int, size: int) -> str:
    """The ``next_token`` that GET /users would hand out before page ``page``."""
    ctx = build_context(settings)
    try:
        with ctx.storage.engine.session(write=False) as session:
            row = session.one(
                "SELECT seq FROM users ORDER BY seq LIMIT 1 OFFSET ?", ((page - 1) * size - 1,)
            )
        assert row is not None
        return ctx.cursors.encode("users||||", int(row["seq"]))
    finally:
        ctx.close()


def start_server(settings: Settings, port: int) -> tuple[subprocess.Popen[str], str, str]:
    env = dict(os.environ, KINDLING_DATA_DIR=str(settings.data_dir), PYTHONPATH=str(SRC))
    # Rate limits stay on (their hook is part of every request's cost), with a per-client
    # API limit this one client cannot reach: the default, 2,000/s, is below the target.
    env.setdefault("KINDLING_RATE_LIMIT_API", "1000000/second")
    if settings.database_url:
        env["KINDLING_DATABASE_URL"] = settings.database_url
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "kindling",
            "serve",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Uvicorn running" in line:
            break
        if not line and process.poll() is not None:
            raise RuntimeError("".join(lines))
    text = "".join(lines)
    client_id = re.search(r"client id:\s+(\S+)", text)
    audience = re.search(r"Management API: (\S+)", text)
    assert client_id and audience, text
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "kindling",
            "token",
            "--app",
            client_id.group(1),
            "--audience",
            audience.group(1),
            "--scope",
            "read:users",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return process, token, env["KINDLING_DATA_DIR"]


def wrk(url: str, token: str, seconds: int, connections: int) -> dict[str, Any]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    try:
        subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                f"-c{connections}",
                "-d2s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            check=True,
        )
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    result = parse_wrk(out)
    if result["non_2xx"] or result["rps"] is None:
        raise RuntimeError(f"wrk saw errors for {url}:\n{out}")
    return result


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["rps"])
    median = dict(ordered[len(ordered) // 2])
    median["all_rps"] = [r["rps"] for r in runs]
    return median


def run_engine(
    engine: str, count: int, seconds: int, port: int, rounds: int, seed_only: bool = False
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"kindling-bench-{engine}-"))
    schema = None
    database_url = None
    if engine == "postgres":
        import psycopg  # the postgres extra; only for this engine

        schema = "kb_" + secrets.token_hex(4)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        database_url = f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    settings = Settings(data_dir=data_dir, database_url=database_url)
    result: dict[str, Any] = {"engine": engine}
    process = None
    try:
        result["seed"] = seed(settings, count)
        print(
            f"[{engine}] seeded {count} users in {result['seed']['seconds']} s "
            f"({result['seed']['cpu_seconds']} s of CPU in this process), "
            f"peak RSS {result['seed']['peak_rss_mib']} MiB",
            flush=True,
        )
        if seed_only:
            return result
        result["email_lookup_server_time"] = email_server_time(settings, count)
        process, token, _ = start_server(settings, port)
        base = f"http://127.0.0.1:{port}/api/v1/users?page_size=100"
        last_page = min(10_000, count // 100)
        token_at = page_token(settings, last_page, 100)
        result["page_server_time"] = page_server_time(settings, last_page, 100)
        # Alternate page 1 and page N (this host's speed drifts); keep the median of each.
        firsts, lasts = [], []
        for _ in range(rounds):
            firsts.append(wrk(base, token, seconds, 16))
            lasts.append(wrk(f"{base}&next_token={token_at}", token, seconds, 16))
        result["page_1"] = _median_run(firsts)
        result[f"page_{last_page}"] = _median_run(lasts)
        email = f"user{count // 2}@bench.example.com"
        result["email_lookup_http_c1"] = wrk(
            f"http://127.0.0.1:{port}/api/v1/users?email={email}", token, seconds, 1
        )
        # Time per request at saturation, page N over page 1 (target: at most 1.2).
        result["page_ratio"] = round(
            result["page_1"]["rps"] / result[f"page_{last_page}"]["rps"], 3
        )
        return result
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
        if schema:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--port", type=int, default=8471)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--seed-only", action="store_true", help="Only seed (timed, with the peak RSS); no server."
    )
    args = parser.parse_args()
    results = [
        run_engine(e, args.users, args.seconds, args.port, args.rounds, args.seed_only)
        for e in args.engines.split(",")
    ]
    if args.seed_only:
        print(json.dumps([r["seed"] | {"engine": r["engine"]} for r in results]))
        return 0
    print(
        f"\n{'engine':10} {'seed s':>7} {'seed MiB':>8} {'p1 req/s':>9} {'p1 p99':>8} "
        f"{'pN req/s':>9} {'pN p99':>8} {'pN/p1':>6} {'pN/p1 srv':>9} {'email ms (server)':>18} "
        f"{'email p50 http':>15}"
    )
    for r in results:
        last = next(
            k
            for k in r
            if k.startswith("page_") and k not in ("page_1", "page_ratio", "page_server_time")
        )
        print(
            f"{r['engine']:10} {r['seed']['seconds']:>7} {r['seed']['peak_rss_mib']:>8} "
            f"{r['page_1']['rps']:>9} "
            f"{r['page_1']['p99_ms']:>8} {r[last]['rps']:>9} {r[last]['p99_ms']:>8} "
            f"{r['page_ratio']:>6} {r['page_server_time']['ratio']:>9} "
            f"{r['email_lookup_server_time']['mean_ms']:>18} "
            f"{r['email_lookup_http_c1']['p50_ms']:>15}"
        )
    out = ROOT / "bench" / "results" / f"users-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
