"""Soak: a long run at 80 % of the maximum token rate, with Management API reads (issue 10).

A benchmark, not a test: it asserts nothing, and reports against the issue's targets
(0 errors, server RSS growth <= 10 %). One run:

1. starts ``kindling serve --workers 1`` on a fresh data directory (SQLite, or a fresh
   PostgreSQL schema with ``--engine postgres``), rate limits off
   (``KINDLING_RATE_LIMITS=off``), pinned to CPU 0; this process and wrk run on CPU 1;
2. seeds a few users and organizations through the Management API, so the reads return
   something;
3. finds the maximum token rate: wrk, closed loop (``-t1 -c16``, as
   ``bench/token_bench.sh`` does, parsed by ``benchlib.parse_wrk``), 2 s warm-up then
   ``--probe-seconds``; without wrk, the same with this script's own client;
4. runs an **open-loop** load for ``--warmup`` + ``--duration`` seconds at
   ``--fraction`` (0.8) of that rate: request *i* is due at ``t0 + i / rate`` whatever
   happened to the previous ones (a fixed schedule, so a slow server meets a queue, not
   a politely waiting client; latency is counted from the due time, which avoids
   coordinated omission). ``--read-share`` of the requests (default 0.1) are Management
   API reads, in turn ``GET /api/v1/users``, ``GET /api/v1/organizations`` and
   ``GET /api/v1/applications/{id}``; the rest are ``POST /oauth2/token``;
5. samples the server's RSS (``VmRSS`` of its process and any children, from
   ``/proc``) every ``--rss-every`` seconds; the start figure is the sample at the end of
   the warm-up, the end figure the last one;
6. prints a summary and writes everything to ``bench/results/soak-<UTC timestamp>.json``
   (gitignored).

Usage (repo root, venv active):

    python bench/soak.py                      # 600 s measured after a 30 s warm-up
    python bench/soak.py --duration 60        # a quick check that it works
    python bench/soak.py --max-rate 1500      # skip the probe

Traffic goes to 127.0.0.1 only and every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import parse_wrk  # noqa: E402

PG_ADMIN = os.environ.get("KINDLING_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "token"
READS = ("users", "organizations", "application")
#: A response slower than this counts as an error (``timeout``), as wrk's 2 s default.
TIMEOUT = 10.0
HZ = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    client_id: str
    client_secret: str
    audience: str
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, database_url: str | None, pin: bool) -> Server:
    env = dict(os.environ, KINDLING_DATA_DIR=str(data_dir), KINDLING_RATE_LIMITS="off")
    env.pop("KINDLING_ISSUER", None)
    env.pop("KINDLING_DATABASE_URL", None)
    if database_url:
        env["KINDLING_DATABASE_URL"] = database_url
    port = free_port()
    command = [sys.executable, "-m", "kindling", "serve", "--no-access-log", "--workers", "1"]
    command += ["--port", str(port)]
    if pin:
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError("the server exited:\n" + "".join(lines))
        lines.append(line)
        if "Uvicorn running" in line:
            break
    else:
        process.kill()
        raise RuntimeError("the server did not start:\n" + "".join(lines))
    text = "".join(lines)
    found = {
        name: re.search(pattern, text)
        for name, pattern in (
            ("id", r"client id:\s+(\S+)"),
            ("secret", r"client secret:\s+(\S+)"),
            ("audience", r"Management API:\s+(\S+)"),
        )
    }
    if not all(found.values()):
        process.kill()
        raise RuntimeError("no credentials in the first-run banner:\n" + text)
    server = Server(
        process,
        port,
        found["id"].group(1),  # type: ignore[union-attr]
        found["secret"].group(1),  # type: ignore[union-attr]
        found["audience"].group(1),  # type: ignore[union-attr]
        lines,
    )
    threading.Thread(target=_drain, args=(server,), daemon=True).start()
    return server


def _drain(server: Server) -> None:
    """Keep reading the server's output so its pipe never fills."""
    assert server.process.stdout is not None
    for line in server.process.stdout:
        server.output.append(line)


def rss_kib(root: int) -> int:
    """VmRSS of ``root`` and every process under it, KiB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


# --------------------------------------------------------------------------- a raw HTTP/1.1 client


class Connection:
    """One keep-alive HTTP/1.1 connection: cheap enough that the client is never the limit."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = b""
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def build_requests(
    server: Server, scope: str, bearer: str, application_id: str
) -> dict[str, bytes]:
    host = f"localhost:{server.port}"
    form = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": server.audience,
    }
    if scope:
        form["scope"] = scope
    body = urlencode(form).encode()
    token = (
        f"POST /oauth2/token HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    def get(path: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\n\r\n"
        ).encode()

    return {
        TOKEN: token,
        "users": get("/api/v1/users?page_size=20"),
        "organizations": get("/api/v1/organizations?page_size=20"),
        "application": get(f"/api/v1/applications/{quote(application_id, safe='')}"),
    }


async def _one(port: int, raw: bytes) -> tuple[int, Any]:
    conn = Connection(port)
    try:
        status, body = await asyncio.wait_for(conn.request(raw), TIMEOUT)
        return status, json.loads(body) if body else None
    finally:
        conn.close()


def call(port: int, raw: bytes) -> tuple[int, Any]:
    return asyncio.run(_one(port, raw))


def setup(server: Server, scope: str, seed_users: int, seed_orgs: int) -> dict[str, bytes]:
    """A management token, a few users and organizations, and the request templates."""
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "audience": server.audience,
        }
    ).encode()
    host = f"localhost:{server.port}"
    raw = (
        f"POST /oauth2/token HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode() + form
    status, body = call(server.port, raw)
    if status != 200:
        raise RuntimeError(f"no management token: {status} {body}")
    bearer = body["access_token"]

    def send(method: str, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\n"
        if payload is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        status, answer = call(server.port, (head + "\r\n").encode() + data)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer

    for n in range(seed_orgs):
        send("POST", "/api/v1/organization", {"name": f"Soak org {n}"})
    for n in range(seed_users):
        email = f"soak-{n}-{secrets.token_hex(3)}@example.com"
        send(
            "POST",
            "/api/v1/user",
            {
                "profile": {"given_name": "Soak", "family_name": str(n)},
                "identities": [{"type": "email", "details": {"email": email}}],
            },
        )
    apps = send("GET", "/api/v1/applications?page_size=10")["applications"]
    return build_requests(server, scope, bearer, apps[0]["id"])


# --------------------------------------------------------------------------- maximum rate


def max_rate_wrk(server: Server, requests: dict[str, bytes], seconds: int, pin: bool) -> Any:
    head, _, body = requests[TOKEN].partition(b"\r\n\r\n")
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
    )
    url = f"http://127.0.0.1:{server.port}/oauth2/token"
    prefix = ["taskset", "-c", "1"] if pin else []
    try:
        subprocess.run(
            [*prefix, "wrk", "-t1", "-c16", "-d2s", "-s", str(script), url],
            capture_output=True,
            check=True,
            timeout=30,
        )
        out = subprocess.run(
            [*prefix, "wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        script.unlink()
    result = parse_wrk(out)
    if result["rps"] is None or result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError("wrk saw errors while probing the maximum rate:\n" + out)
    return {"method": "wrk -t1 -c16 (closed loop)", "seconds": seconds, **result}


async def _closed_loop(port: int, raw: bytes, seconds: float, connections: int) -> Any:
    loop = asyncio.get_running_loop()
    done = Counter[int]()
    deadline = loop.time() + seconds

    async def run() -> None:
        conn = Connection(port)
        try:
            while loop.time() < deadline:
                status, _ = await asyncio.wait_for(conn.request(raw), TIMEOUT)
                done[status] += 1
        finally:
            conn.close()

    started = loop.time()
    await asyncio.gather(*(run() for _ in range(connections)))
    return done, loop.time() - started


def max_rate_python(server: Server, requests: dict[str, bytes], seconds: int) -> Any:
    asyncio.run(_closed_loop(server.port, requests[TOKEN], 2, 16))
    done, elapsed = asyncio.run(_closed_loop(server.port, requests[TOKEN], seconds, 16))
    if set(done) != {200}:
        raise RuntimeError(f"errors while probing the maximum rate: {dict(done)}")
    return {
        "method": "python closed loop, 16 connections (no wrk)",
        "seconds": seconds,
        "rps": round(done[200] / elapsed, 1),
    }


# --------------------------------------------------------------------------- the open-loop soak


@dataclass
class Window:
    """What happened to the requests due in one window (warm-up or measured)."""

    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    latency: dict[str, array[float]] = field(default_factory=dict)
    lag: array[float] = field(default_factory=lambda: array("d"))
    #: Answers that arrived within the window, all kinds and tokens (the achieved rate).
    answered: int = 0
    answered_tokens: int = 0
    #: Requests still queued, never sent, when the schedule ended (the server fell behind).
    unsent: int = 0

    def record(self, kind: str, status: str, latency: float, lag: float) -> None:
        self.statuses.setdefault(kind, Counter())[status] += 1
        if status.isdigit():  # latency of answered requests only
            self.latency.setdefault(kind, array("d")).append(latency)
        self.lag.append(lag)


async def soak(
    port: int,
    requests: dict[str, bytes],
    rate: float,
    read_share: float,
    warmup: float,
    duration: float,
    connections: int,
    rss_every: float,
    server_pid: int,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
    warm, measured = Window(), Window()
    t0 = loop.time() + 0.2
    t_measure, t_end = t0 + warmup, t0 + warmup + duration
    rss: list[tuple[float, int]] = []
    deepest = inflight = 0
    cpu: dict[str, float] = {}

    async def worker() -> None:
        nonlocal inflight
        conn = Connection(port)
        while True:
            item = await queue.get()
            if item is None:
                conn.close()
                return
            inflight += 1
            due, kind = item
            sent = loop.time()
            try:
                async with asyncio.timeout(TIMEOUT):
                    answer, _ = await conn.request(requests[kind])
                status = str(answer)
            except TimeoutError:
                status = "timeout"
                conn.close()
            except (
                OSError,
                ValueError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
            ) as exc:
                status = f"transport:{type(exc).__name__}"
                conn.close()
            done = loop.time()
            window = measured if due >= t_measure else warm
            window.record(kind, status, done - due, sent - due)
            if t_measure <= done < t_end and status.isdigit():
                measured.answered += 1
                measured.answered_tokens += kind == TOKEN
            inflight -= 1

    async def schedule() -> None:
        nonlocal deepest
        picker = random.Random(1)
        n = reads = 0
        while True:
            due = t0 + n / rate
            if due >= t_end:
                return
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            while due <= now and due < t_end:
                if picker.random() < read_share:
                    kind = READS[reads % len(READS)]
                    reads += 1
                else:
                    kind = TOKEN
                queue.put_nowait((due, kind))
                n += 1
                due = t0 + n / rate
            deepest = max(deepest, queue.qsize())

    async def sample() -> None:
        """RSS at the end of the warm-up (the start figure), every ``rss_every`` seconds,
        and at the end; the server's CPU time over the measured window."""

        async def take(at: float) -> None:
            await asyncio.sleep(max(0.0, at - loop.time()))
            rss.append((round(loop.time() - t0, 1), rss_kib(server_pid)))

        await take(t_measure)
        cpu["start"] = cpu_seconds(server_pid)
        cpu["client_start"] = time.process_time()
        k = 1
        while t_measure + k * rss_every < t_end:
            await take(t_measure + k * rss_every)
            k += 1
        await take(t_end)
        cpu["end"] = cpu_seconds(server_pid)
        cpu["client_end"] = time.process_time()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    sampler = asyncio.create_task(sample())
    before = rss_kib(server_pid)
    await schedule()
    await sampler
    # What is still queued was never sent: the server (or this client) fell behind. The
    # requests in flight finish within their timeout; then the workers stop.
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            (measured if item[0] >= t_measure else warm).unsent += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return {
        "warm": warm,
        "measured": measured,
        "rss": rss,
        "rss_before_warmup_kib": before,
        "deepest_queue": deepest,
        "server_cpu_s": round(cpu["end"] - cpu["start"], 2),
        "client_cpu_s": round(cpu["client_end"] - cpu["client_start"], 2),
        "t_measure": t_measure,
    }


def _percentiles(values: array[float] | list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "p99_9_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "p99_9_ms": at(0.999), "max_ms": at(1.0)}


#: The schedule counts as kept when the p99 send lag (due time to the write) stays below
#: this and nothing was left unsent: otherwise the server, or this client, fell behind.
LAG_KEPT = 0.050


def summarize(window: Window, duration: float) -> dict[str, Any]:
    """Counts, errors and latencies of the requests due in ``window``; the achieved rate
    counts the answers that arrived within it (measured window only)."""
    total: Counter[str] = Counter()
    for counts in window.statuses.values():
        total.update(counts)
    errors = {status: n for status, n in sorted(total.items()) if not status.startswith("2")}
    every = array("d")
    for values in window.latency.values():
        every.extend(values)
    reads = array("d")
    for kind in READS:
        reads.extend(window.latency.get(kind, array("d")))
    lag = _percentiles(window.lag)
    return {
        "requests_due": sum(total.values()) + window.unsent,
        "requests_sent": sum(total.values()),
        "unsent_at_end": window.unsent,
        "achieved_rate": round(window.answered / duration, 1),
        "achieved_token_rate": round(window.answered_tokens / duration, 1),
        "by_kind": {k: dict(v) for k, v in sorted(window.statuses.items())},
        "error_count": sum(errors.values()),
        "errors_by_status": errors,
        "latency": {
            "all": _percentiles(every),
            "token": _percentiles(window.latency.get(TOKEN, array("d"))),
            "reads": _percentiles(reads),
        },
        "send_lag": lag,
        "schedule_kept": window.unsent == 0
        and lag["p99_ms"] is not None
        and lag["p99_ms"] < 1000 * LAG_KEPT,
    }


# --------------------------------------------------------------------------- the run


def pg_schema() -> tuple[str, str]:
    import psycopg

    schema = "soak_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema, f"{PG_ADMIN}?options=-csearch_path%3D{schema}"


def drop_pg_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def versions() -> dict[str, Any]:
    found: dict[str, Any] = {"python": platform.python_version()}
    for name in ("cryptography", "uvicorn", "kindling"):
        try:
            from importlib.metadata import version

            found[name] = version(name)
        except Exception:
            found[name] = None
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        found["repo_head"] = head.stdout.strip() or None
    except OSError:
        found["repo_head"] = None
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="measured seconds (600)")
    parser.add_argument("--warmup", type=float, default=30, help="seconds before measuring (30)")
    parser.add_argument("--fraction", type=float, default=0.8, help="of the max rate (0.8)")
    parser.add_argument("--read-share", type=float, default=0.1, help="share of reads (0.1)")
    parser.add_argument("--max-rate", type=float, help="skip the probe, use this max rate")
    parser.add_argument("--probe-seconds", type=int, default=8, help="max-rate probe (8 s)")
    parser.add_argument("--connections", type=int, default=32, help="client connections (32)")
    parser.add_argument("--rss-every", type=float, default=5, help="RSS sample period (5 s)")
    parser.add_argument("--scope", default="", help="token scope (default: all granted)")
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed-users", type=int, default=50)
    parser.add_argument("--seed-orgs", type=int, default=10)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPU 0 / CPU 1")
    args = parser.parse_args()

    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    loadavg_at_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="kindling-soak-"))
    schema = database_url = None
    if args.engine == "postgres":
        schema, database_url = pg_schema()
    server = start_server(work / "data", database_url, pin)
    try:
        requests = setup(server, args.scope, args.seed_users, args.seed_orgs)
        if args.max_rate:
            probe: dict[str, Any] = {"method": "given (--max-rate)", "rps": args.max_rate}
        elif shutil.which("wrk"):
            probe = max_rate_wrk(server, requests, args.probe_seconds, pin)
        else:
            probe = max_rate_python(server, requests, args.probe_seconds)
        target = round(args.fraction * float(probe["rps"]), 1)
        print(
            f"soak {stamp}: max token rate {probe['rps']:,.0f}/s ({probe['method']}); "
            f"target {target:,.0f}/s for {args.warmup:.0f} s warm-up + {args.duration:.0f} s, "
            f"reads {args.read_share:.0%}, engine {args.engine}",
            flush=True,
        )
        run = asyncio.run(
            soak(
                server.port,
                requests,
                target,
                args.read_share,
                args.warmup,
                args.duration,
                args.connections,
                args.rss_every,
                server.pid,
            )
        )
        alive = server.process.poll() is None
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
        if schema:
            drop_pg_schema(schema)

    measured = summarize(run["measured"], args.duration)
    warm = summarize(run["warm"], args.warmup) if args.warmup else None
    if warm:
        del warm["achieved_rate"], warm["achieved_token_rate"]  # counted for the measured window
    rss = run["rss"]
    start_kib, end_kib = rss[0][1], rss[-1][1]
    growth = round(100 * (end_kib - start_kib) / start_kib, 2)
    slope = None
    if len(rss) >= 3:
        slope = round(statistics.linear_regression([t for t, _ in rss], [k for _, k in rss])[0], 3)
    result = {
        "timestamp_utc": stamp,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "params": {
            **vars(args),
            "pinned": pin,
            "server": "kindling serve --workers 1, KINDLING_RATE_LIMITS=off",
            "reads": {
                "users": "GET /api/v1/users?page_size=20",
                "organizations": "GET /api/v1/organizations?page_size=20",
                "application": "GET /api/v1/applications/{id}",
            },
        },
        "machine": {
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": loadavg_at_start,
            "loadavg_at_end": os.getloadavg(),
        },
        "versions": versions(),
        "max_rate": probe,
        "target_rate": target,
        **measured,
        "server_cpu_cores": round(run["server_cpu_s"] / args.duration, 3),
        "client_cpu_cores": round(run["client_cpu_s"] / args.duration, 3),
        "deepest_client_queue": run["deepest_queue"],
        "server_alive_at_end": alive,
        "rss": {
            "before_warmup_kib": run["rss_before_warmup_kib"],
            "start_kib": start_kib,
            "end_kib": end_kib,
            "max_kib": max(k for _, k in rss),
            "growth_pct": growth,
            "slope_kib_per_s": slope,
            "samples": rss,
        },
        "warmup": warm,
        "targets": {
            "errors": {"target": 0, "met": measured["error_count"] == 0},
            "rss_growth_pct": {"target": 10, "met": growth <= 10},
            "schedule_kept": {"target": True, "met": measured["schedule_kept"]},
        },
    }
    out = ROOT / "bench" / "results" / f"soak-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    lat, lag = measured["latency"], measured["send_lag"]
    met = {name: "met" if t["met"] else "MISSED" for name, t in result["targets"].items()}
    print(
        f"achieved {measured['achieved_rate']:,.1f}/s "
        f"(tokens {measured['achieved_token_rate']:,.1f}/s) of {target:,.1f}/s offered; "
        f"{measured['requests_sent']:,} requests sent, {measured['unsent_at_end']:,} left "
        f"unsent; errors {measured['error_count']} {measured['errors_by_status'] or ''}\n"
        f"latency from due time (ms): all p50 {lat['all']['p50_ms']} p99 {lat['all']['p99_ms']}; "
        f"token p50 {lat['token']['p50_ms']} p99 {lat['token']['p99_ms']}; "
        f"reads p50 {lat['reads']['p50_ms']} p99 {lat['reads']['p99_ms']}; "
        f"send lag p99 {lag['p99_ms']}\n"
        f"CPU: server {result['server_cpu_cores']} cores, this client "
        f"{result['client_cpu_cores']}; "
        f"RSS {start_kib / 1024:.1f} MiB after warm-up -> {end_kib / 1024:.1f} MiB at end "
        f"({growth:+.2f} %, max {result['rss']['max_kib'] / 1024:.1f} MiB)\n"
        f"targets: errors 0 {met['errors']}, RSS growth <= 10 % {met['rss_growth_pct']}, "
        f"schedule kept {met['schedule_kept']}\n"
        f"results: {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
