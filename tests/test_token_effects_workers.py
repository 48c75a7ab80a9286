"""With two worker processes, every change is seen by the next token requests.

The server runs ``kindling serve --workers 2`` on SQLite and on PostgreSQL. Each
Management API change goes out on a fresh connection (so any worker may apply it);
then token requests are made, each on its own fresh TCP connection, until at least
20 were answered and each of the two workers answered several of them, and every
single answer must reflect the change. On SQLite that is the very next request. On
PostgreSQL the other worker learns of a change by its pushed notification
(``docs/architecture.md``, "The push"), which PostgreSQL delivers after the commit that
answered the change: answers within ``PUSH_BOUND`` seconds of the change may still be
the old ones there, none after. Which worker answered is read from the
kernel: the server side of the still-open connection is looked up in
``/proc/net/tcp`` and found among the worker processes' file descriptors.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from tests.conftest import require_postgres
from tests.support import (
    KindlingServer,
    create_pg_schema,
    descendants,
    drop_pg_schema,
    free_port,
    start_time,
)

WORKERS = 2
MIN_REQUESTS = 20
MIN_PER_WORKER = 3
MAX_REQUESTS = 400
#: PostgreSQL only: how long after a change an answer may still be the old one (the
#: push latency the architecture promises; usually well under a millisecond).
PUSH_BOUND = 1.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    worker: int


# --- which process answered ------------------------------------------------------------


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server side of the TCP connection from ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port == client_port:
                return fields[9]
    return None


def _owner(pids: list[int], inode: str) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def answering_worker(server: KindlingServer, connection: http.client.HTTPConnection) -> int:
    """The pid of the worker holding the server side of this (still open) connection."""
    assert connection.sock is not None, "the server closed the connection"
    client_port = connection.sock.getsockname()[1]
    inode = _server_socket_inode(server.port, client_port)
    assert inode is not None, f"no server socket for client port {client_port}"
    assert server.process is not None
    owner = _owner(descendants(server.process.pid), inode)
    assert owner is not None, f"no worker holds socket {inode}"
    return owner


# --- the server ---------------------------------------------------------------------------


def _wait_for_workers(server: KindlingServer, timeout: float = 60.0) -> None:
    """``Uvicorn running on`` is printed by the supervisor before the workers can serve."""
    deadline = time.monotonic() + timeout
    while server.output.count("Application startup complete.") < WORKERS:
        assert server.process is not None and server.process.poll() is None, server.output
        assert time.monotonic() < deadline, "workers did not start:\n" + server.output
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    schema = database_url = None
    if request.param == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp(f"workers-{request.param}"),
        port=free_port(),
        database_url=database_url,
        extra_args=["--workers", str(WORKERS)],
        # These tests send hundreds of requests with a rotated-out secret on purpose, which
        # the failed-authentication limit would answer with 429 (tests/test_rate_limits.py).
        extra_env={"KINDLING_RATE_LIMITS": "off"},
    )
    started: dict[int, str | None] = {}
    try:
        server.start()
        assert server.process is not None
        _wait_for_workers(server)
        started = {pid: start_time(pid) for pid in descendants(server.process.pid)}
        yield server
    finally:
        server.stop()
        # If the supervisor had to be killed, end the processes it started (same pid and
        # start time, so never a process that merely reused the pid).
        for pid, began in started.items():
            if began is not None and start_time(pid) == began:
                os.kill(pid, signal.SIGKILL)
        if schema:
            drop_pg_schema(schema)


# --- requests -----------------------------------------------------------------------------


def token_request(server: KindlingServer, form: dict[str, str]) -> Answer:
    """POST /oauth2/token on a fresh TCP connection; note which worker answered."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/oauth2/token",
            body=urlencode(form),
            headers={
                "Host": server.domain,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        body = json.loads(response.read())
        return Answer(response.status, body, answering_worker(server, connection))
    finally:
        connection.close()


def every_answer(
    server: KindlingServer, form: dict[str, str], check: Callable[[Answer], None]
) -> Counter[int]:
    """Fresh-connection token requests until both workers answered enough; all must pass
    (on PostgreSQL, all after the first ``PUSH_BOUND`` seconds)."""
    served: Counter[int] = Counter()
    total = 0
    settle_until = time.monotonic() + (PUSH_BOUND if server.database_url else 0.0)
    while total < MIN_REQUESTS or len(served) < WORKERS or min(served.values()) < MIN_PER_WORKER:
        assert total < MAX_REQUESTS, f"the workers did not both answer: {dict(served)}"
        answer = token_request(server, form)
        try:
            check(answer)
        except AssertionError as failure:
            if time.monotonic() < settle_until:
                continue  # the other worker's notification is still on its way
            raise AssertionError(
                f"request {total + 1} (worker {answer.worker}, after {dict(served)}): "
                f"{answer.status} {answer.body}"
            ) from failure
        served[answer.worker] += 1
        total += 1
    assert len(served) == WORKERS
    return served


def form(app: dict[str, str], audience: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "audience": audience,
        **extra,
    }


def granted(scopes: list[str]) -> Callable[[Answer], None]:
    def check(answer: Answer) -> None:
        assert answer.status == 200
        assert answer.body["scope"].split() == scopes
        claims = jwt.decode(answer.body["access_token"], options={"verify_signature": False})
        assert claims["scp"] == scopes

    return check


def refused(status: int, error: str) -> Callable[[Answer], None]:
    def check(answer: Answer) -> None:
        assert (answer.status, answer.body.get("error")) == (status, error)
        assert "access_token" not in answer.body

    return check


def lifetime(seconds: int) -> Callable[[Answer], None]:
    def check(answer: Answer) -> None:
        assert answer.status == 200 and answer.body["expires_in"] == seconds
        claims = jwt.decode(answer.body["access_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == seconds

    return check


_TOKENS: dict[int, str] = {}


def manage(
    server: KindlingServer, method: str, path: str, expect: int = 200, **kwargs: Any
) -> dict[str, Any]:
    """One Management API call on a fresh connection (so any worker may make the change)."""
    if server.port not in _TOKENS:
        _TOKENS[server.port] = server.token()
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        response = http.request(
            method,
            path,
            headers={"Authorization": f"Bearer {_TOKENS[server.port]}"},
            **kwargs,
        )
    assert response.status_code == expect, (method, path, response.status_code, response.text)
    return response.json() if response.content else {}


def new_api(server: KindlingServer, scope_keys: list[str]) -> tuple[str, str, dict[str, str]]:
    audience = f"https://workers-{uuid.uuid4().hex[:8]}.example.com"
    api_id = manage(server, "POST", "/api/v1/apis", json={"name": "Workers", "audience": audience})[
        "api"
    ]["id"]
    scopes = {
        key: manage(server, "POST", f"/api/v1/apis/{api_id}/scopes", json={"key": key})["scope"][
            "id"
        ]
        for key in scope_keys
    }
    return api_id, audience, scopes


def new_app(server: KindlingServer) -> dict[str, str]:
    created = manage(
        server,
        "POST",
        "/api/v1/applications",
        201,
        json={"name": f"workers-{uuid.uuid4().hex[:8]}", "type": "m2m"},
    )
    app: dict[str, str] = created["application"]
    return app


def set_authorized(server: KindlingServer, api_id: str, app_id: str, authorized: bool) -> None:
    item = {"id": app_id} if authorized else {"id": app_id, "operation": "delete"}
    result = manage(
        server, "PATCH", f"/api/v1/apis/{api_id}/applications", json={"applications": [item]}
    )
    changed = result["applications_connected" if authorized else "applications_disconnected"]
    assert changed == [app_id]


def authorized_app(server: KindlingServer) -> tuple[dict[str, str], str]:
    api_id, audience, _ = new_api(server, [])
    app = new_app(server)
    set_authorized(server, api_id, app["id"], True)
    return app, audience


def server_workers(server: KindlingServer) -> set[int]:
    """The worker processes: the supervisor's descendants that answer on the port."""
    assert server.process is not None
    return {pid for pid in descendants(server.process.pid) if _listens(pid, server.port)}


def _listens(pid: int, port: int) -> bool:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    return any(_owner([pid], inode) for inode in inodes)


# --- tests --------------------------------------------------------------------------------


def test_both_workers_answer_token_requests(workers: KindlingServer) -> None:
    app, audience = authorized_app(workers)
    served = every_answer(workers, form(app, audience), granted([]))
    assert server_workers(workers) == set(served)


def test_authorization_and_scope_changes_reach_every_worker(workers: KindlingServer) -> None:
    api_id, audience, scopes = new_api(workers, ["items:read", "items:write"])
    app = new_app(workers)
    request = form(app, audience)
    every_answer(workers, request, refused(400, "unauthorized_client"))

    set_authorized(workers, api_id, app["id"], True)
    every_answer(workers, request, granted([]))

    grant = f"/api/v1/apis/{api_id}/applications/{app['id']}/scopes/"
    manage(workers, "POST", grant + scopes["items:read"])
    every_answer(workers, request, granted(["items:read"]))
    manage(workers, "POST", grant + scopes["items:write"])
    every_answer(workers, request, granted(["items:read", "items:write"]))

    manage(workers, "DELETE", grant + scopes["items:read"])
    every_answer(workers, request, granted(["items:write"]))
    # A requested scope that is no longer granted is refused, everywhere.
    every_answer(
        workers,
        form(app, audience, scope="items:read"),
        refused(400, "invalid_scope"),
    )

    set_authorized(workers, api_id, app["id"], False)
    every_answer(workers, request, refused(400, "unauthorized_client"))

    set_authorized(workers, api_id, app["id"], True)
    every_answer(workers, request, granted([]))
    manage(workers, "DELETE", f"/api/v1/apis/{api_id}")
    every_answer(workers, request, refused(400, "unauthorized_client"))


def test_token_lifetime_changes_reach_every_worker(workers: KindlingServer) -> None:
    app, audience = authorized_app(workers)
    request = form(app, audience)
    every_answer(workers, request, lifetime(86400))
    for seconds in (900, 1800, 61):
        manage(
            workers,
            "PATCH",
            f"/api/v1/applications/{app['id']}/tokens",
            json={"access_token_lifetime": seconds},
        )
        every_answer(workers, request, lifetime(seconds))


def test_secret_rotation_reaches_every_worker(workers: KindlingServer) -> None:
    app, audience = authorized_app(workers)
    old = form(app, audience)
    every_answer(workers, old, granted([]))
    rotate = f"/kindling/v1/applications/{app['id']}/rotate_secret"

    # Inside a grace window both secrets work, everywhere.
    middle = manage(workers, "POST", rotate, json={"grace_seconds": 600})["client_secret"]
    middle_form = {**old, "client_secret": middle}
    every_answer(workers, old, granted([]))
    every_answer(workers, middle_form, granted([]))

    # Grace 0 ends every older secret at once.
    new = manage(workers, "POST", rotate, json={"grace_seconds": 0})["client_secret"]
    every_answer(workers, old, refused(401, "invalid_client"))
    every_answer(workers, middle_form, refused(401, "invalid_client"))
    every_answer(workers, {**old, "client_secret": new}, granted([]))


def test_deleted_application_is_refused_by_every_worker(workers: KindlingServer) -> None:
    app, audience = authorized_app(workers)
    request = form(app, audience)
    every_answer(workers, request, granted([]))
    manage(workers, "DELETE", f"/api/v1/applications/{app['id']}")
    every_answer(workers, request, refused(401, "invalid_client"))
