"""The Management API found by table (``kindling.web.route_table``) answers every request
as Starlette's routing did, on both engines: the same status, headers and body.

In process: each request goes once to ``KindlingApp`` (which answers ``/api/v1`` and
``/kindling/v1`` by table) and once to the same application's Starlette stack, and the two
answers are compared message by message. And every registered operation is found by the
table, as the route Starlette's router would pick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Match, Route

from kindling.bootstrap import bootstrap
from kindling.config import Settings
from kindling.context import REGISTRY, build_context
from kindling.environment_file.routes import operations as environment_file_operations
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.context import Context
from kindling.resources.apis.service import authorize_application, management_audience
from kindling.resources.applications.service import add_application
from kindling.resources.applications.tokens import mint_token
from kindling.web.app import KindlingApp
from tests.conftest import require_postgres
from tests.support import create_pg_schema, drop_pg_schema

ISSUER = "http://localhost:9"
AUDIENCE = management_audience(ISSUER)


@dataclass
class World:
    ctx: Context
    app: KindlingApp
    #: Authorization headers: every Management API scope, and read:roles only.
    full: str
    narrow: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    schema = None
    database_url = None
    if request.param == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp(f"route-table-{request.param}")),
        database_url=database_url,
        issuer=ISSUER,
    )
    ctx = build_context(settings)
    try:
        bootstrap(ctx, ISSUER)
        deadline = time.monotonic() + 10
        while ctx.storage.change_marker() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        with ctx.storage.transaction() as uow:
            created = add_application(uow, ctx.hasher, ctx.clock, "route table", "m2m")
            authorize_application(uow, ctx.clock, created.application.id, AUDIENCE, None)
        client_id = created.application.id
        full = mint_token(ctx, client_id, [AUDIENCE], list(MANAGEMENT_API_SCOPES))
        narrow = mint_token(ctx, client_id, [AUDIENCE], ["read:roles"])
        yield World(
            ctx,
            KindlingApp(ctx),
            f"Bearer {full['access_token']}",
            f"Bearer {narrow['access_token']}",
        )
    finally:
        ctx.close()
        if schema:
            drop_pg_schema(schema)


def _scope(method: str, target: str, authorization: str | None) -> dict[str, Any]:
    path, _, query = target.partition("?")
    headers = [(b"host", b"localhost:9")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 9),
    }


def _answer(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


#: (method, target, which token, answered by the table). Reads and refusals only, so the
#: two calls of each find the same data.
REQUESTS = [
    ("GET", "/api/v1/users?page_size=2", "full", True),
    ("GET", "/api/v1/users?page_size=0", "full", True),
    ("GET", "/api/v1/users?page_size=1&page_size=2", "full", True),
    ("GET", "/api/v1/users?expand=identities,organizations", "full", True),
    ("GET", "/api/v1/users?next_token=forged", "full", True),
    ("HEAD", "/api/v1/users", "full", True),
    ("POST", "/api/v1/users", "full", False),
    ("GET", "/api/v1/users", None, True),
    ("GET", "/api/v1/users", "Bearer not-a-token", True),
    ("GET", "/api/v1/users", "narrow", True),
    ("GET", "/api/v1/user?id=kp_0123456789abcdef0123456789abcdef", "full", True),
    ("GET", "/api/v1/user", "full", True),
    ("DELETE", "/api/v1/user?id=kp_0123456789abcdef0123456789abcdef", "narrow", True),
    ("GET", "/api/v1/roles", "narrow", True),
    ("GET", "/api/v1/roles/missing/permissions", "full", True),
    ("GET", "/api/v1/roles/a\tb/permissions", "full", True),
    ("GET", "/api/v1/roles/a\nb/permissions", "full", False),
    ("GET", "/api/v1/organizations?page_size=5", "full", True),
    ("GET", "/api/v1/organization?code=org_missing", "full", True),
    ("GET", "/api/v1/nowhere", "full", False),
    ("GET", "/api/v1/users/", "full", False),
    ("GET", "/api/v1", "full", False),
    ("GET", "/kindling/v1/nowhere", "full", False),
]


@pytest.mark.parametrize(("method", "target", "token", "by_table"), REQUESTS)
def test_the_table_answers_as_starlette_routing_did(
    world: World, method: str, target: str, token: str | None, by_table: bool
) -> None:
    authorization = {"full": world.full, "narrow": world.narrow}.get(token or "", token)
    found = world.app.routes.lookup(_scope(method, target, authorization))
    assert (found is not None) is by_table
    through_table = _answer(world.app, _scope(method, target, authorization))
    through_starlette = _answer(world.app.starlette, _scope(method, target, authorization))
    assert through_table == through_starlette


def _starlette_pick(routes: list[Any], path: str, method: str) -> Route | None:
    """The route Starlette's router answers a request with when that is a full match."""
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            assert isinstance(route, Route)
            return route
    return None


def test_every_operation_is_found_by_the_table_as_starlette_finds_it(world: World) -> None:
    mounts = {table.mount.path: table for table in world.app.routes.tables}
    assert set(mounts) == {"/api/v1", "/kindling/v1"}
    declared = [
        ("/api/v1", REGISTRY.operations()),
        ("/kindling/v1", [*REGISTRY.extension_operations(), *environment_file_operations()]),
    ]
    for prefix, operations in declared:
        routes = mounts[prefix].router.routes
        for op in operations:
            path = op.path
            for name in list(Route(op.path, lambda r: None).param_convertors):
                path = path.replace("{" + name + "}", f"{name}_1")
            for method in (op.method, "HEAD") if op.method == "GET" else (op.method,):
                found = world.app.routes.lookup(_scope(method, prefix + path, None))
                assert found is not None, (method, prefix + path)
                assert found[1] is _starlette_pick(routes, path, method), (method, path)
