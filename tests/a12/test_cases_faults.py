"""A12 cases 45-54: faults of the database, the process, the keys, the clock, a receiver.

Cheap forms of the real thing, all with real ``kindling serve`` processes:

* PostgreSQL (cases 45-47) is the shared server on :5432 behind a TCP relay in this
  process (``PgRelay``). Stopping the relay is the database going away (refused
  connections, every open one cut); the relay can also cut the one connection that is
  about to ``COMMIT`` a given write, which is a drop in the middle of a request.
  ``tests/test_database_faults.py`` does the same with a private cluster it stops and
  restarts under load.
* SQLite faults are a held lock (45, 47) and an audit insert that fails (51).
* A crash is one SIGKILL during a load of multi-row writes, token requests and key
  rotations, then a restart on the same data (48, 49); ``tests/test_crash_safety.py``
  repeats that twenty times.
"""

from __future__ import annotations

import http.server
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
import psycopg
import pytest
from limits import parse

from kindling.clock import FrozenClock
from kindling.crypto.keys import SigningKey, generate_private_key
from kindling.resources.webhooks.delivery import RetryPolicy
from kindling.web.ratelimit import Counters, MonotonicWindows
from tests.a12.common import (
    admin,
    assert_refused_change,
    check_bearer,
    count,
    eventually,
    jti_of,
    request_id,
    sql,
    token_form,
    uid,
    unit_token,
    users_with_email,
    written_by,
)
from tests.conftest import require_postgres
from tests.support import (
    PG_ADMIN_URL,
    KindlingServer,
    create_pg_schema,
    drop_pg_schema,
    error_code,
    free_port,
)

#: Run first (tests/conftest.py): about 3 s per test on a quiet machine.
pytestmark = pytest.mark.long(3)


def retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    assert value.isdigit() and int(value) >= 1, response.headers
    return int(value)


def assert_api_unavailable(response: httpx.Response) -> None:
    error_code(response, 503, "SERVICE_UNAVAILABLE")
    retry_after(response)


def assert_token_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in response.json()
    assert response.headers["cache-control"] == "no-store"
    retry_after(response)


def new_user_body(tag: str, **extra: Any) -> dict[str, Any]:
    return {
        "provided_id": tag,
        "identities": [{"type": "email", "details": {"email": f"{tag}@faults.example.com"}}],
        **extra,
    }


# --- PostgreSQL behind a relay --------------------------------------------------------------


class PgRelay:
    """A TCP relay to PostgreSQL that can stop, or cut the connection of one write."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.dropped = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._marker: bytes | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """The database goes away: new connections are refused, open ones are cut."""
        if self._listener is not None:
            self._shut(self._listener)  # shutdown wakes the accept() blocked on it
            self._listener = None
        with self._lock:
            cut, self._open = self._open, set()
        for sock in cut:
            self._shut(sock)

    def cut_before_commit(self, marker: str) -> None:
        """Cut the connection that sends ``marker`` (a query parameter) before its COMMIT
        reaches PostgreSQL: the transaction's every statement ran, none is committed."""
        self._marker = marker.encode()

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            marked = threading.Event()
            for args in ((client, server, marked), (server, client, None)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, marked: threading.Event | None) -> None:
        tail = b""
        try:
            while data := src.recv(65536):
                marker = self._marker
                if marked is not None and marker is not None:
                    if marked.is_set() and b"COMMIT" in data:
                        self._marker = None
                        self.dropped += 1
                        return
                    if marker in tail + data:
                        marked.set()
                    tail = (tail + data)[-len(marker) :]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {src, dst}
            self._shut(src)
            self._shut(dst)


@dataclass
class PgFaulty:
    server: KindlingServer
    relay: PgRelay
    direct_url: str
    #: What the server answered while PostgreSQL was down at its start (case 45).
    at_start: dict[str, httpx.Response] = field(default_factory=dict)
    output_at_start: str = ""


def _relayed(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) > 1 else host))


@pytest.fixture(scope="module")
def pg_faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgFaulty]:
    """A server whose PostgreSQL is down when it starts, then comes up (the relay)."""
    require_postgres()
    upstream = urlsplit(PG_ADMIN_URL)
    relay = PgRelay((upstream.hostname or "127.0.0.1", upstream.port or 5432))
    schema, direct_url = create_pg_schema()
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp("a12-pg-faults"),
        port=free_port(),
        database_url=_relayed(direct_url, relay.port),
        extra_env={
            "KINDLING_RATE_LIMITS": "off",
            "KINDLING_DB_POOL_SIZE": "3",
            "KINDLING_DB_POOL_TIMEOUT": "1",
            "KINDLING_DB_LOCK_TIMEOUT": "1",
        },
    )
    faulty = PgFaulty(server, relay, direct_url)
    try:
        server.start()
        faulty.output_at_start = server.output
        with httpx.Client(base_url=server.base_url, timeout=15) as http:
            faulty.at_start = {
                "healthz": http.get("/healthz"),
                "readyz": http.get("/readyz"),
                "api": http.get("/api/v1/users", headers={"Authorization": "Bearer x"}),
                "token": http.post("/oauth2/token", data=token_form("x", "y", server.audience)),
            }
            relay.start()
            eventually(lambda: http.get("/readyz").status_code == 200, 30, "readiness")
        eventually(lambda: "client secret:" in server.output, 10, "the first run's secret")
        server.client_id = re.findall(r"client id:\s+(\S+)", server.output)[-1]
        server.client_secret = re.findall(r"client secret:\s+(\S+)", server.output)[-1]
        yield faulty
    finally:
        server.stop()
        relay.stop()
        drop_pg_schema(schema)


def test_case_45_postgres_down_at_start_serves_health_then_becomes_ready(
    pg_faulty: PgFaulty,
) -> None:
    down = pg_faulty.at_start
    assert "client secret:" not in pg_faulty.output_at_start  # nothing was set up yet
    assert down["healthz"].status_code == 200  # liveness stays up
    assert down["readyz"].status_code == 503
    assert down["readyz"].json()["checks"]["database"].startswith("unavailable")
    assert_api_unavailable(down["api"])
    assert_token_unavailable(down["token"])
    # It retried by itself: migrated, bootstrapped once, and serves.
    server = pg_faulty.server
    assert server.output.count("client secret:") == 1
    with admin(server) as http:
        assert http.get("/api/v1/users").status_code == 200


def _direct(faulty: PgFaulty, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with psycopg.connect(faulty.direct_url, autocommit=True) as conn:
        cur = conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
        return list(cur.fetchall())


def test_case_46_a_connection_cut_before_commit_writes_nothing(pg_faulty: PgFaulty) -> None:
    server, relay = pg_faulty.server, pg_faulty.relay
    tag = f"cut-{uid()}"
    rid = request_id()
    relay.cut_before_commit(f"{tag}@faults.example.com")
    with admin(server) as http:
        cut = http.post("/api/v1/user", json=new_user_body(tag), headers={"X-Request-ID": rid})
        assert relay.dropped == 1, cut.text  # the relay cut this very transaction
        assert_api_unavailable(cut)
        assert _direct(pg_faulty, "SELECT id FROM users WHERE provided_id = ?", (tag,)) == []
        assert_refused_change(server, rid)
        assert users_with_email(server, f"{tag}@faults.example.com") == []
        # The pool replaced the connection: the same request now succeeds, once.
        again = eventually(
            lambda: (
                (r := http.post("/api/v1/user", json=new_user_body(tag))).status_code == 200 and r
            ),
            10,
            "a successful retry",
        )
    (row,) = _direct(pg_faulty, "SELECT id FROM users WHERE provided_id = ?", (tag,))
    assert row[0] == again.json()["id"]


def test_case_46_no_token_is_issued_while_the_database_is_gone(pg_faulty: PgFaulty) -> None:
    server, relay = pg_faulty.server, pg_faulty.relay
    rids = [request_id() for _ in range(3)]
    relay.stop()
    try:
        with httpx.Client(base_url=server.base_url, timeout=15) as http:
            for rid in rids:
                form = token_form(server.client_id, server.client_secret, server.audience)
                answer = http.post("/oauth2/token", data=form, headers={"X-Request-ID": rid})
                assert_token_unavailable(answer)
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 503
            assert_api_unavailable(http.get("/api/v1/users", headers={"Authorization": "Bearer x"}))
    finally:
        relay.start()
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        form = token_form(server.client_id, server.client_secret, server.audience)
        token = eventually(
            lambda: (r := http.post("/oauth2/token", data=form)).status_code == 200 and r, 15
        ).json()["access_token"]
    target = jti_of(token)
    issued = "SELECT request_id FROM audit WHERE action = 'token.issued'"
    eventually(
        lambda: any(r[0] for r in _direct(pg_faulty, issued + " AND target_id = ?", (target,)))
    )
    recorded = {r[0] for r in _direct(pg_faulty, issued)}
    assert not recorded & set(rids)


def test_case_47_an_exhausted_pool_is_503_and_health_still_answers(pg_faulty: PgFaulty) -> None:
    """Kindling answers 503 with Retry-After, not the limiter's 429: the client did nothing
    wrong, the server is busy."""
    server = pg_faulty.server
    with admin(server) as http:
        assert http.get("/api/v1/users").status_code == 200
        auth = dict(http.headers)
    holder = psycopg.connect(pg_faulty.direct_url)
    holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    try:

        def read(_: int) -> httpx.Response:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                return http.get("/api/v1/users", headers={"Authorization": auth["authorization"]})

        with ThreadPoolExecutor(8) as pool:  # more than the 3 pooled connections
            answers = [pool.submit(read, i) for i in range(8)]
            time.sleep(0.3)  # while they wait for the lock or a connection:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                assert http.get("/healthz").status_code == 200
            for answer in answers:
                assert_api_unavailable(answer.result())
    finally:
        holder.rollback()
        holder.close()
    with admin(server) as http:
        assert eventually(lambda: http.get("/api/v1/users").status_code == 200, 10)


# --- SQLite: a held lock, a failing audit insert, a webhook receiver ------------------------

FAST_RETRIES = {
    "KINDLING_WEBHOOK_RETRY_BASE": "0.2",
    "KINDLING_WEBHOOK_RETRY_WINDOW": "60",
    "KINDLING_WEBHOOK_TIMEOUT": "5",
}


@pytest.fixture(scope="module")
def sqlite_faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    """A SQLite server of this module's own: its lock is held, its audit table broken."""
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp("a12-sqlite-faults"),
        port=free_port(),
        extra_env={
            "KINDLING_RATE_LIMITS": "off",
            "KINDLING_SQLITE_BUSY_TIMEOUT": "0.5",
            **FAST_RETRIES,
        },
    ).start()
    yield server
    server.stop()


def test_case_45_sqlite_locked_at_start_serves_health_then_becomes_ready(tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "kindling.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    server = KindlingServer(
        data_dir=tmp_path, port=free_port(), extra_env={"KINDLING_SQLITE_BUSY_TIMEOUT": "0.5"}
    )
    try:
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=15) as http:
            assert http.get("/healthz").status_code == 200
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "starting"
            assert_api_unavailable(http.get("/api/v1/users", headers={"Authorization": "Bearer x"}))
            form = token_form("x", "y", server.audience)
            assert_token_unavailable(http.post("/oauth2/token", data=form))
            holder.execute("ROLLBACK")
            eventually(lambda: http.get("/readyz").status_code == 200, 20, "readiness")
        eventually(lambda: "client secret:" in server.output, 10, "the first run's secret")
        server.client_id = re.findall(r"client id:\s+(\S+)", server.output)[-1]
        server.client_secret = re.findall(r"client secret:\s+(\S+)", server.output)[-1]
        assert server.token()
    finally:
        holder.close()
        server.stop()


def test_case_47_a_held_sqlite_lock_is_503_for_writes_while_reads_go_on(
    sqlite_faulty: KindlingServer,
) -> None:
    tag = f"locked-{uid()}"
    rid = request_id()
    holder = sqlite3.connect(sqlite_faulty.data_dir / "kindling.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with admin(sqlite_faulty) as http:
            refused = http.post(
                "/api/v1/user", json=new_user_body(tag), headers={"X-Request-ID": rid}
            )
            assert_api_unavailable(refused)
            assert http.get("/api/v1/users").status_code == 200  # WAL: reads never wait
            assert http.get("/healthz").status_code == 200
        form = token_form(
            sqlite_faulty.client_id, sqlite_faulty.client_secret, sqlite_faulty.audience
        )
        with sqlite_faulty.client() as http:
            assert http.post("/oauth2/token", data=form).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert count(sqlite_faulty, "SELECT count(*) FROM users WHERE provided_id = ?", (tag,)) == 0
    assert written_by(sqlite_faulty, rid) == {"events": [], "audit": []}


# --- 48-49: a crash during writes and rotations ---------------------------------------------


@dataclass
class Crash:
    server: KindlingServer
    org: str
    attempted: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    tokens: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    """One SIGKILL under a load of multi-row writes, tokens and rotations; restarted."""
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp("a12-crash"),
        port=free_port(),
        extra_env={"KINDLING_RATE_LIMITS": "off"},
    ).start()
    with admin(server) as http:
        org = http.post("/api/v1/organization", json={"name": f"Crash {uid()}"})
        assert org.status_code == 200, org.text
    crash = Crash(server, org.json()["organization"]["code"])
    bearer = {"Authorization": f"Bearer {server.token()}"}
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10, headers=bearer) as http:
            while not stop.is_set():
                tag = f"crash-{uid()}"
                crash.attempted.append(tag)
                body = new_user_body(tag, organization_code=crash.org)
                body["identities"].append({"type": "username", "details": {"username": tag}})
                try:
                    answer = http.post("/api/v1/user", json=body, headers={"X-Request-ID": tag})
                except httpx.HTTPError:
                    return
                if answer.status_code == 200:
                    crash.acknowledged.add(tag)

    def mint() -> None:
        form = token_form(server.client_id, server.client_secret, server.audience)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/oauth2/token", data=form)
                except httpx.HTTPError:
                    return
                if answer.status_code == 200:
                    crash.tokens.append(answer.json()["access_token"])

    def rotate() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10, headers=bearer) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/kindling/v1/keys/rotate", json={"publish_delay": 0})
                except httpx.HTTPError:
                    return
                if answer.status_code == 200:
                    crash.rotated.append(answer.json()["key"]["kid"])
                time.sleep(0.05)

    threads = [threading.Thread(target=f) for f in (write, write, write, mint, rotate)]
    for thread in threads:
        thread.start()
    try:
        eventually(
            lambda: len(crash.acknowledged) >= 10 and crash.rotated and len(crash.tokens) >= 10,
            30,
            "the load",
        )
        time.sleep(random.uniform(0.0, 0.3))
        assert server.process is not None
        server.process.kill()  # SIGKILL: no shutdown, no flush
        server.process.wait()
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    server.start()
    yield crash
    server.stop()


def test_case_48_after_a_sigkill_every_write_is_whole_or_absent(crashed: Crash) -> None:
    server = crashed.server
    assert sql(server, "PRAGMA integrity_check") == [("ok",)]
    assert sql(server, "PRAGMA foreign_key_check") == []
    present = 0
    for tag in crashed.attempted:
        users = sql(server, "SELECT id FROM users WHERE provided_id = ?", (tag,))
        left = written_by(server, tag)
        if not users:
            assert tag not in crashed.acknowledged, tag
            assert left == {"events": [], "audit": []}, (tag, left)
            assert (
                count(
                    server, "SELECT count(*) FROM user_identities WHERE value LIKE ?", (f"{tag}%",)
                )
                == 0
            )
            continue
        present += 1
        ((user_id,),) = users
        assert (
            count(server, "SELECT count(*) FROM user_identities WHERE user_id = ?", (user_id,)) == 2
        )
        held = "SELECT org_code FROM organization_users WHERE user_id = ?"
        assert sql(server, held, (user_id,)) == [(crashed.org,)]
        assert sorted(left["events"]) == ["organization.user_added", "user.created"], left
        assert left["audit"] == ["success", "success"], left  # iff the change committed
    assert present >= len(crashed.acknowledged) >= 10


def test_case_49_after_a_crash_during_rotations_every_issued_kid_is_published(
    crashed: Crash,
) -> None:
    server = crashed.server
    with server.client() as http:
        published = {k["kid"]: k for k in http.get("/.well-known/jwks.json").json()["keys"]}
    fresh = server.token()
    for token in [*crashed.tokens, fresh]:
        kid = jwt.get_unverified_header(token)["kid"]
        assert kid in published, kid
        jwt.decode(
            token,
            jwt.PyJWK(published[kid]),
            algorithms=["RS256"],
            audience=server.audience,
            issuer=server.issuer,
        )
    assert set(crashed.rotated) <= set(published)
    signing = sql(server, "SELECT kid FROM signing_keys WHERE status IN ('active', 'next')")
    assert {r[0] for r in signing} <= set(published)


# --- 50-52: keys at boot, the audit log, secret rotation ------------------------------------


def _serve_refused(server: KindlingServer) -> str:
    """``kindling serve`` on ``server``'s data, which must refuse to start; its one line."""
    result = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", "--port", str(free_port()), "--no-access-log"],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "Uvicorn running" not in output, output
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: "), line
    return line


def test_case_50_a_corrupt_or_missing_signing_key_refuses_to_start(
    sqlite_faulty: KindlingServer, tmp_path: Path
) -> None:
    """On a copy of a set-up data directory (SQLite's online backup and the master key)."""
    copy = KindlingServer(data_dir=tmp_path, port=free_port())
    source = sqlite3.connect(sqlite_faulty.data_dir / "kindling.db")
    target = sqlite3.connect(tmp_path / "kindling.db")
    with source, target:
        source.backup(target)
    source.close()
    target.close()
    shutil.copy2(sqlite_faulty.data_dir / "master.key", tmp_path / "master.key")
    keys = "SELECT kid, sealed_private FROM signing_keys WHERE status = 'active'"
    ((kid, sealed),) = sql(copy, keys)
    broken = bytearray(sealed)
    broken[40] ^= 0x01
    sql(copy, "UPDATE signing_keys SET sealed_private = ? WHERE kid = ?", (bytes(broken), kid))
    before = sql(copy, "SELECT kid FROM signing_keys ORDER BY kid")
    assert f"signing key {kid} is corrupt" in _serve_refused(copy)
    assert sql(copy, "SELECT kid FROM signing_keys ORDER BY kid") == before  # none replaced
    sql(copy, "DELETE FROM signing_keys")
    assert "no usable signing key" in _serve_refused(copy)
    assert sql(copy, "SELECT kid FROM signing_keys") == []  # never minted silently


def test_case_51_a_change_whose_audit_row_cannot_be_written_is_not_made(
    sqlite_faulty: KindlingServer,
) -> None:
    tag = f"audit-{uid()}"
    rid = request_id()
    sql(
        sqlite_faulty,
        "CREATE TRIGGER a12_disk_full BEFORE INSERT ON audit "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
    try:
        with admin(sqlite_faulty) as http:
            refused = http.post(
                "/api/v1/user", json=new_user_body(tag), headers={"X-Request-ID": rid}
            )
        error_code(refused, 503, "AUDIT_LOG_UNAVAILABLE")
    finally:
        sql(sqlite_faulty, "DROP TRIGGER a12_disk_full")
    assert count(sqlite_faulty, "SELECT count(*) FROM users WHERE provided_id = ?", (tag,)) == 0
    assert written_by(sqlite_faulty, rid) == {"events": [], "audit": []}
    with admin(sqlite_faulty) as http:
        made = http.post("/api/v1/user", json=new_user_body(tag), headers={"X-Request-ID": rid})
    assert made.status_code == 200, made.text
    assert written_by(sqlite_faulty, rid) == {"events": ["user.created"], "audit": ["success"]}


def test_case_52_rotating_a_secret_under_token_traffic_never_refuses_the_client(
    sqlite_faulty: KindlingServer,
) -> None:
    server = sqlite_faulty
    with admin(server) as http:
        made = http.post("/api/v1/applications", json={"name": f"a12-{uid()}", "type": "m2m"})
        app = made.json()["application"]
        api_id = next(
            a["id"] for a in http.get("/api/v1/apis").json()["apis"] if a["is_management_api"]
        )
        linked = http.patch(
            f"/api/v1/apis/{api_id}/applications", json={"applications": [{"id": app["id"]}]}
        )
        assert linked.status_code == 200, linked.text
    secrets = {"old": app["client_secret"]}
    answers: dict[str, list[int]] = {"old": [], "new": []}
    stop = threading.Event()

    def request(which: str) -> None:
        with server.client() as http:
            while not stop.is_set():
                time.sleep(0.005)
                if which in secrets:
                    form = token_form(app["client_id"], secrets[which], server.audience)
                    answers[which].append(http.post("/oauth2/token", data=form).status_code)

    threads = [threading.Thread(target=request, args=(w,)) for w in ("old", "new")]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(answers["old"]) >= 10, 10, "traffic with the old secret")
        with admin(server) as http:
            rotated = http.post(
                f"/kindling/v1/applications/{app['id']}/rotate_secret", json={"grace_seconds": 60}
            )
        assert rotated.status_code == 200, rotated.text
        secrets["new"] = rotated.json()["client_secret"]
        before = len(answers["old"])
        eventually(
            lambda: len(answers["new"]) >= 10 and len(answers["old"]) >= before + 10,
            10,
            "traffic with both secrets",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert set(answers["old"]) == {200}, answers["old"]
    assert set(answers["new"]) == {200}, answers["new"]


# --- 53: clocks -----------------------------------------------------------------------------


def test_case_53_the_bearer_check_allows_skew_on_iat_nbf_and_exp() -> None:
    key = SigningKey(kid="a12-unit", private_key=generate_private_key())
    clock = FrozenClock(1_800_000_000.0)
    now = clock.now()
    for claim, late in (("iat", 30), ("nbf", 30)):
        assert check_bearer(unit_token(clock, key, **{claim: now + late}), key, clock) == "accepted"
        assert check_bearer(unit_token(clock, key, **{claim: now + 120}), key, clock) != "accepted"
    assert check_bearer(unit_token(clock, key, exp=now - 30), key, clock) == "accepted"
    assert check_bearer(unit_token(clock, key, exp=now - 120), key, clock) == "TOKEN_EXPIRED"


def test_case_53_rate_limit_windows_run_on_the_monotonic_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step of the wall clock neither empties a window nor stretches it."""
    assert MonotonicWindows().clock is time.monotonic
    item = parse("2/minute")

    async def fill_then_step_the_wall_clock(counters: Counters, step: float) -> list[Any]:
        hits = [await counters.hit(item, "token-failures", "c") for _ in range(3)]
        wall = time.time()
        monkeypatch.setattr(time, "time", lambda: wall + step)
        hits.append(await counters.hit(item, "token-failures", "c"))
        hits.append(await counters.retry_after(item, "token-failures", "c"))
        monkeypatch.undo()
        return hits

    import asyncio

    for step in (3600.0, -3600.0):  # NTP steps forward an hour, or back
        hits = asyncio.run(fill_then_step_the_wall_clock(Counters(), step))
        assert hits[:4] == [True, True, False, False], (step, hits)
        assert 1 <= hits[4] <= 60, (step, hits)
    # Only the monotonic clock moves the window on.
    ticks = [1000.0]
    moved = Counters(clock=lambda: ticks[0])

    async def after(seconds: float) -> list[bool]:
        first = [await moved.hit(item, "k") for _ in range(3)]
        ticks[0] += seconds
        return [*first, await moved.hit(item, "k")]

    assert asyncio.run(after(61.0)) == [True, True, False, True]


# --- 54: a webhook receiver that is down, then hangs ----------------------------------------


class GatedReceiver:
    """An HTTP receiver that holds every request until ``release``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived = threading.Event()
        self.gate = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.arrived.set()
                owner.gate.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class Highest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_case_54_retries_back_off_exponentially() -> None:
    """Full jitter under a ceiling that doubles per attempt, capped by the window."""
    policy = RetryPolicy(base=0.5, window=3600)
    ceilings = [policy.delay(n, Highest()) for n in range(1, 6)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert all(0 <= policy.delay(n, random.Random(n)) <= c for n, c in enumerate(ceilings, 1))


def test_case_54_a_receiver_down_or_hung_never_holds_up_the_api(
    sqlite_faulty: KindlingServer,
) -> None:
    server = sqlite_faulty
    receiver = GatedReceiver()  # its port is chosen; nothing listens yet
    with admin(server) as http:
        made = http.post(
            "/api/v1/webhooks",
            json={
                "endpoint": receiver.url,
                "event_types": ["user.created"],
                "name": f"a12-{uid()}",
            },
        )
        assert made.status_code == 200, made.text
        webhook = made.json()["webhook"]["id"]
        try:
            first = http.post("/api/v1/user", json=new_user_body(f"hook-{uid()}"))
            assert first.status_code == 200, first.text  # answered with the receiver down
            attempts = (
                "SELECT a.error FROM webhook_attempts a JOIN webhook_deliveries d "
                "ON a.delivery_id = d.id WHERE d.webhook_id = ? ORDER BY a.seq"
            )
            refused = eventually(lambda: len(sql(server, attempts, (webhook,))) >= 2, 20, "retries")
            assert refused and all(r[0] for r in sql(server, attempts, (webhook,)))
            receiver.start()
            assert receiver.arrived.wait(20), "the retried delivery never arrived"
            # The receiver holds that delivery open; the API does not wait for it.
            second = http.post("/api/v1/user", json=new_user_body(f"hook-{uid()}"))
            assert second.status_code == 200, second.text
            assert not receiver.gate.is_set()
            receiver.gate.set()
            delivered = (
                "SELECT count(*) FROM webhook_deliveries "
                "WHERE webhook_id = ? AND status = 'delivered'"
            )
            eventually(lambda: count(server, delivered, (webhook,)) >= 1, 20, "a delivery")
        finally:
            receiver.stop()
            http.delete(f"/api/v1/webhooks/{webhook}")
