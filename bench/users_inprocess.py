"""Benchmark (not a test): CPU per ``GET /api/v1/users?page_size=100``, in process.

The wall-clock rate of ``bench/users_bench.py`` moves by tens of percent on this shared
2-core host; CPU time and instruction counts of one request do not (much). This drives the
whole ASGI application (``create_app``: the request pipeline, bearer check, the route, JSON)
in one process with a prepared request, no sockets and no HTTP server, and prints:

* ``page1`` / ``page10000``: CPU microseconds (``time.process_time``) per request for the
  first page of 100 users and for page 10,000 (its ``next_token`` minted with the data dir's
  cursor key), best of ``--rounds`` alternated rounds;
* ``bearer``: microseconds per Management API bearer check, amortized over many checks of
  one token (what every request pays before its handler runs);
* with ``--tool cachegrind``: instructions per request, counted by valgrind as
  ``(I(n2) - I(n1)) / (n2 - n1)`` so start-up and imports cancel out (``PYTHONHASHSEED=0``).

    python bench/users_inprocess.py [--data DIR] [--users 1000000] [--src DIR]
        [--cases page1,page10000,bearer] [--n 2000] [--rounds 5]
        [--tool none|cachegrind] [--n1 50 --n2 250] [--database-url postgresql://...]
        [--hooks]

``--hooks`` turns on what ``kindling serve`` adds to every request by default: the rate
limiter's and the metrics' pipeline hooks (without it the application has none).
``--data`` keeps the seeded data dir between runs (it is made and seeded on first use, which
prints the seeding time and the peak RSS); without it a temporary one is made and removed.
``--src`` runs another copy of ``src/`` (an A/B: ``git worktree add --detach /tmp/base HEAD``,
then ``--src /tmp/base/src`` against the changed tree); the driver uses only interfaces both
sides have. The requests only read, so one data dir serves both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MASTER_KEY = "users-inprocess-" + "k" * 32
ISSUER = "http://localhost:9"
BATCH = 50_000
CREATED = "2026-01-01T00:00:00+00:00"
PAGE = 10_000
SIZE = 100


def _settings(data: Path, hooks: bool = False) -> Any:
    from kindling.config import Settings

    url = os.environ.get("KINDLING_DATABASE_URL") or None
    if not hooks:
        return Settings(data_dir=data, master_key=MASTER_KEY, issuer=ISSUER, database_url=url)
    # What ``kindling serve`` turns on by default: the rate limiter's and the metrics'
    # hooks, with an API limit this one client cannot reach (as users_bench.py sets it).
    return Settings(
        data_dir=data,
        master_key=MASTER_KEY,
        issuer=ISSUER,
        database_url=url,
        rate_limits=True,
        rate_limit_api="1000000/second",
        metrics=True,
    )


def prepare(data: Path, users: int) -> dict[str, Any]:
    """Set the data dir up (bootstrap application) and seed ``users`` users through
    ``UserRepository.add_many``, as ``bench/users_bench.py`` does."""
    from kindling.bootstrap import bootstrap
    from kindling.context import build_context
    from kindling.resources.users.model import Identity, User
    from kindling.resources.users.repository import USERS_REPO

    data.mkdir(parents=True, exist_ok=True)
    ctx = build_context(_settings(data))
    try:
        result = bootstrap(ctx, ISSUER)
        assert result.client_id and result.client_secret
        started = time.perf_counter()
        made = 0
        while made < users:
            size = min(BATCH, users - made)
            batch = []
            for n in range(made, made + size):
                uid = f"kp_{n:032x}"
                email = f"user{n}@bench.example.com"
                identity = Identity(
                    id=f"identity_{n:032x}",
                    user_id=uid,
                    type="email",
                    value=email,
                    is_verified=True,
                    is_primary=True,
                    created_on=CREATED,
                )
                batch.append(
                    User(
                        id=uid,
                        created_on=CREATED,
                        email=email,
                        first_name=f"First{n}",
                        last_name=f"Last{n}",
                        identities=(identity,),
                    )
                )
            with ctx.storage.transaction() as uow:
                uow[USERS_REPO].add_many(batch)
            made += size
        seconds = time.perf_counter() - started
        if ctx.storage.engine.dialect == "postgres":
            with ctx.storage.engine.session(write=True) as session:
                session.execute("ANALYZE users")
                session.execute("ANALYZE user_identities")
    finally:
        ctx.close()
    info = {
        "client_id": result.client_id,
        "audience": result.audience,
        "users": users,
        "seed_seconds": round(seconds, 2),
        "seed_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    (data / "bench.json").write_text(json.dumps(info))
    return info


def child(data: Path, case: str, n: int, hooks: bool = False) -> float:
    """Run ``n`` requests (or bearer checks) of ``case``; return the CPU seconds they took."""
    import asyncio

    from kindling.context import build_context
    from kindling.resources.applications.tokens import mint_token
    from kindling.web.app import create_app

    info = json.loads((data / "bench.json").read_text())
    ctx = build_context(_settings(data, hooks))
    ctx.keyring.reload()
    token = mint_token(ctx, info["client_id"], [info["audience"]], ["read:users"])["access_token"]
    try:
        if case == "bearer":
            return _bearer(ctx, token, info["audience"], n)
        app = create_app(ctx)
        query = f"page_size={SIZE}"
        if case == f"page{PAGE}":
            with ctx.storage.engine.session(write=False) as session:
                row = session.one(
                    "SELECT seq FROM users ORDER BY seq LIMIT 1 OFFSET ?", ((PAGE - 1) * SIZE - 1,)
                )
            assert row is not None, "seed at least PAGE * SIZE users"
            query += "&next_token=" + ctx.cursors.encode("users||||", int(row["seq"]))
        headers = [
            (b"host", b"127.0.0.1:18080"),
            (b"authorization", f"Bearer {token}".encode()),
        ]
        statuses: list[int] = []
        sizes: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif message["type"] == "http.response.body":
                sizes.append(len(message.get("body", b"")))

        async def drive() -> float:
            scope = {
                "type": "http",
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": "/api/v1/users",
                "raw_path": b"/api/v1/users",
                "query_string": query.encode(),
                "root_path": "",
                "headers": headers,
                "client": ("127.0.0.1", 40000),
                "server": ("127.0.0.1", 18080),
            }
            await app(dict(scope), receive, send)  # first use: imports, caches
            statuses.clear()
            start = time.process_time()
            for _ in range(n):
                await app(dict(scope), receive, send)
            return time.process_time() - start

        spent = asyncio.run(drive())
        if statuses != [200] * n or max(sizes) < 100 * SIZE:
            raise SystemExit(f"expected {n} full pages, got {sorted(set(statuses))}")
        return spent
    finally:
        ctx.close()


def _bearer(ctx: Any, token: str, audience: str, n: int) -> float:
    """``n`` bearer checks of one token, as the Management API makes them before a call:
    the keyring's current view, then the token (``web.bearer_cache.BearerVerifier`` where
    the tree has one, else ``authenticate_bearer`` itself)."""
    from kindling.oauth.bearer import authenticate_bearer

    header = f"Bearer {token}"
    issuer = ctx.issuer()
    try:
        from kindling.web.bearer_cache import BearerVerifier
    except ImportError:  # a tree from before the cache
        BearerVerifier = None  # type: ignore[assignment,misc]
    if BearerVerifier is not None:
        verifier = BearerVerifier(ctx, lambda: audience)

        def check() -> object:
            return verifier.principal(header)

    else:

        def check() -> object:
            keys = ctx.keyring.current()
            return authenticate_bearer(
                header, keys.public_key, issuer, audience, ctx.clock.now(), revoked=keys.is_revoked
            )

    check()
    start = time.process_time()
    for _ in range(n):
        check()
    return time.process_time() - start


_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _spawn(src: Path, data: Path, case: str, n: int, tool: str, hooks: bool = False) -> float:
    """Run one child; CPU seconds (``tool`` none) or instructions (cachegrind)."""
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case, "--n", str(n)]
    cmd += ["--data", str(data)] + (["--hooks"] if hooks else [])
    if tool == "cachegrind":
        with tempfile.TemporaryDirectory() as out:
            cmd = [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                f"--cachegrind-out-file={out}/cg.out",
                *cmd,
            ]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    else:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    if tool == "cachegrind":
        found = _REFS.search(done.stderr)
        assert found, done.stderr
        return float(found.group(1).replace(",", ""))
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--src", type=Path, default=REPO / "src")
    parser.add_argument("--cases", default=f"page1,page{PAGE},bearer")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tool", choices=("none", "cachegrind"), default="none")
    parser.add_argument("--n1", type=int, default=50)
    parser.add_argument("--n2", type=int, default=250)
    parser.add_argument(
        "--database-url", help="PostgreSQL instead of the data dir's SQLite (keep its --data)"
    )
    parser.add_argument(
        "--hooks",
        action="store_true",
        help="with the rate limiter's and the metrics' hooks on, as under kindling serve",
    )
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.database_url:
        os.environ["KINDLING_DATABASE_URL"] = args.database_url
    if args.child:
        print(child(args.data, args.child, args.n, args.hooks))
        return 0
    temporary = args.data is None
    data = args.data or Path(tempfile.mkdtemp(prefix="kindling-users-inprocess-"))
    try:
        if not (data / "bench.json").exists():
            sys.path.insert(0, str(args.src))
            info = prepare(data, args.users)
            print(
                f"seeded {info['users']:,} users in {info['seed_seconds']} s, "
                f"peak RSS {info['seed_peak_rss_mib']} MiB",
                flush=True,
            )
        cases = args.cases.split(",")
        results: dict[str, Any] = {"src": str(args.src), "tool": args.tool, "hooks": args.hooks}
        if args.tool == "cachegrind":
            for case in cases:
                n1 = args.n1 * (20 if case == "bearer" else 1)
                n2 = args.n2 * (20 if case == "bearer" else 1)
                low = _spawn(args.src, data, case, n1, "cachegrind", args.hooks)
                high = _spawn(args.src, data, case, n2, "cachegrind", args.hooks)
                results[case] = round((high - low) / (n2 - n1))
                print(f"{case:>10}: {results[case]:,} instructions per request", flush=True)
        else:
            best = {case: float("inf") for case in cases}
            for _ in range(args.rounds):  # alternated: the host drifts
                for case in cases:
                    count = args.n * (20 if case == "bearer" else 1)
                    spent = _spawn(args.src, data, case, count, "none", args.hooks)
                    best[case] = min(best[case], spent / count * 1e6)
            for case in cases:
                results[case] = round(best[case], 1)
                print(f"{case:>10}: {results[case]} µs CPU per request (best)", flush=True)
        print(json.dumps(results))
    finally:
        if temporary:
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
