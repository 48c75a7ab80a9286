"""Support for the introspection, revocation and key-rotation tests.

Each of those modules runs its own servers (never the session's shared ``server``):
they revoke tokens and signing keys, which would break the tokens other modules cache.
Tokens "signed with our key" are made with the server's own keyring, opened from its
data directory (and database), exactly as ``kindling token`` would.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from kindling.config import Settings
from kindling.context import build_context
from kindling.platform.context import Context
from tests.conftest import require_postgres
from tests.support import (
    KindlingServer,
    create_pg_schema,
    descendants,
    drop_pg_schema,
    free_port,
    start_time,
)

INTROSPECT = "/oauth2/introspect"
REVOKE = "/oauth2/revoke"
USERS = "/api/v1/users"


@contextmanager
def running_server(
    data_dir: Path, engine: str, extra_args: list[str] | None = None, tls: bool = False
) -> Iterator[KindlingServer]:
    """A ``kindling serve`` process of our own on ``engine`` (a fresh PostgreSQL schema).

    With ``--workers``, waits until every worker has started; on the way out, ends the
    processes the supervisor started if it had to be killed (same pid and start time).
    """
    schema = database_url = None
    if engine == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    server = KindlingServer(
        data_dir=data_dir,
        port=free_port(),
        tls=tls,
        database_url=database_url,
        extra_args=list(extra_args or []),
    )
    started: dict[int, str | None] = {}
    try:
        server.start()
        workers = _workers_asked(server.extra_args)
        if workers > 1:
            _wait_for_startups(server, workers)
        assert server.process is not None
        started = {pid: start_time(pid) for pid in descendants(server.process.pid)}
        yield server
    finally:
        server.stop()
        for pid, began in started.items():
            if began is not None and start_time(pid) == began:
                os.kill(pid, signal.SIGKILL)
        if schema:
            drop_pg_schema(schema)


def _workers_asked(args: list[str]) -> int:
    if "--workers" in args:
        return int(args[args.index("--workers") + 1])
    return 1


def _wait_for_startups(server: KindlingServer, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while server.output.count("Application startup complete.") < count:
        assert server.process is not None and server.process.poll() is None, server.output
        assert time.monotonic() < deadline, "workers did not start:\n" + server.output
        time.sleep(0.05)


@contextmanager
def server_context(server: KindlingServer) -> Iterator[Context]:
    """The server's own keys and storage, opened in this process (like the CLI does)."""
    ctx = build_context(Settings(data_dir=server.data_dir, database_url=server.database_url))
    try:
        ctx.keyring.reload()
        yield ctx
    finally:
        ctx.close()


def claims_for(server: KindlingServer, client_id: str, **changes: Any) -> dict[str, Any]:
    """Kinde M2M access-token claims of ``client_id`` for the Management API, valid now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": [server.audience],
        "azp": client_id,
        "exp": now + 3600,
        "gty": ["client_credentials"],
        "iat": now,
        "iss": server.issuer,
        "jti": str(uuid.uuid4()),
        "scope": "read:users",
        "scp": ["read:users"],
        "v": "2",
    }
    claims.update(changes)
    return claims


def post_form(
    server: KindlingServer,
    path: str,
    data: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """A form POST (Basic credentials when ``auth`` is given) on a fresh connection;
    ``content`` sends raw bytes instead (set its Content-Type in ``headers``)."""
    with server.client() as http:
        if content is not None:
            return http.post(path, content=content, auth=auth, headers=headers)
        return http.post(path, data=data or {}, auth=auth, headers=headers)


def bearer_get(server: KindlingServer, token: str, path: str = USERS) -> httpx.Response:
    with server.client() as http:
        return http.get(path, headers={"Authorization": f"Bearer {token}"})


def new_app(server: KindlingServer, management: bool = True) -> dict[str, Any]:
    """An M2M application (authorized for the Management API with every scope)."""
    return server.create_app(f"keys-{uuid.uuid4().hex[:8]}", management=management)


def app_token(server: KindlingServer, app: dict[str, Any], scopes: list[str] | None = None) -> str:
    return server.token(
        scopes=scopes, client_id=app["client_id"], client_secret=app["client_secret"]
    )


def credentials(app: dict[str, Any]) -> tuple[str, str]:
    return app["client_id"], app["client_secret"]


def post_as_client(
    server: KindlingServer,
    path: str,
    app: dict[str, Any],
    token: str,
    basic: bool = True,
    **extra: str,
) -> httpx.Response:
    """POST ``token`` to an RFC 7662/7009 endpoint, authenticated as ``app`` with HTTP Basic
    or with ``client_id``/``client_secret`` in the form (RFC 6749 §2.3.1)."""
    if basic:
        return post_form(server, path, {"token": token, **extra}, auth=credentials(app))
    form = {"token": token, "client_id": app["client_id"], "client_secret": app["client_secret"]}
    return post_form(server, path, {**form, **extra})
