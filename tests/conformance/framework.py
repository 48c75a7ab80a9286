"""The conformance walk's shared machinery: the contract view, requests, the World, builders.

``tests/test_conformance.py`` holds the checks; the request builders of the valid-call
check (c) live one module per registered resource (``tests/conformance/<name>.py``, named
like ``kindling/resources/<name>/``) and register themselves with :func:`builder`.
:func:`load_builders` imports those modules from the resource registry, so a new resource
adds its own module and edits nothing here.

What is here:

* the contract and what Kindling implements of it (``CONTRACT``, ``OPS``, ``IMPLEMENTED``,
  ``CHECKED_TAGS``), computed from the routes Kindling serves, never listed by hand;
* :class:`Req` (one request of a builder) and :class:`World` (one server's client, tokens,
  makers for the prerequisites several resources share, and :meth:`World.once`, a memo a
  resource module uses for entities of its own without editing this file);
* :func:`builder` and :func:`load_builders`;
* small helpers (unique names, a PNG, list checks). The session summary plugin is
  ``tests/conformance/report.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import struct
import uuid
import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import pytest

from kindling.clock import isoformat
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.registry import Resource
from kindling.web.app import management_operations
from tests.contract.contract import Operation, load_contract
from tests.support import KindlingServer

CONTRACT = load_contract()
BASE = "/api/v1"
TOTAL = len(CONTRACT.operations)
OPS: dict[str, Operation] = {op.operation_id: op for op in CONTRACT.operations}
KINDLING = {(op.method, BASE + op.path): op for op in management_operations()}
IMPLEMENTED: list[Operation] = [
    op for op in CONTRACT.operations if (op.method, op.path) in KINDLING
]
IMPLEMENTED_IDS = frozenset(op.operation_id for op in IMPLEMENTED)

#: Tags whose implemented operations get the valid-call check (c): every tag Kindling
#: serves any operation of. A tag is then checked whole (every operation must have a
#: builder), so a resource that lands is exercised at once and none lands half-done.
CHECKED_TAGS = tuple(sorted({op.tag for op in IMPLEMENTED}))

T = TypeVar("T")


# --- small helpers -----------------------------------------------------------------


def uid() -> str:
    return uuid.uuid4().hex[:12]


def unique_email(tag: str = "conf") -> str:
    return f"{tag}-{uid()}@{uid()}.example.com"


def now_iso() -> str:
    return isoformat(datetime.now(UTC).timestamp())


def _png() -> bytes:
    """A valid 1x1 PNG (logo uploads)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png()


def logo_files() -> dict[str, Any]:
    """The multipart body of a logo upload (organization and environment logos)."""
    return {"logo": ("logo.png", PNG, "image/png")}


def item_ids(items: list[dict[str, Any]] | None, field: str = "id") -> list[Any]:
    return [item.get(field) for item in items or []]


def has_item(field: str, value: Any, key: str = "id") -> Callable[[Any], None]:
    """Check: ``body[field]`` lists an item whose ``key`` is ``value``."""

    def check(body: Any) -> None:
        assert value in item_ids(body.get(field), key), (field, value, body)

    return check


# --- HTTP helpers ------------------------------------------------------------------


@dataclass
class Req:
    """One request of a builder: a concrete path under /api/v1 and its inputs."""

    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, Any] | None = None
    check: Callable[[Any], None] | None = None


def fail_text(op: Operation, path: str, resp: httpx.Response) -> str:
    return f"{op} via {op.method} {BASE}{path}: {resp.status_code} {resp.text[:800]}"


def assert_error_body(resp: httpx.Response, status: int, code: str | None = None) -> None:
    """Kinde's ``error_response``: ``{"errors": [{"code", "message"}, ...]}``."""
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    assert body["errors"] and all(
        isinstance(e.get("code"), str) and isinstance(e.get("message"), str) for e in body["errors"]
    ), body
    if code is not None:
        assert body["errors"][0]["code"] == code, body


def assert_body_as_declared(op: Operation, resp: httpx.Response) -> None:
    """A 2xx has a JSON body exactly when the spec declares one for its status.

    An empty body labelled ``application/json`` is what the JS SDK cannot take: it calls
    ``response.json()`` on every JSON-labelled answer and prints ``SyntaxError: Unexpected
    end of JSON input``. Where the spec's 2xx has no body the answer has none and no JSON
    content type; where it declares a schema the answer is a JSON document.
    """
    media = resp.headers.get("content-type", "")
    declared = op.success.get(str(resp.status_code))
    if declared is None:
        assert not resp.content, f"{op}: the spec's {resp.status_code} has no body: {resp.text!r}"
        assert not media.startswith("application/json"), (
            f"{op}: an empty {resp.status_code} is labelled {media!r}"
        )
    else:
        assert resp.content, f"{op}: the spec declares a body for {resp.status_code}, got none"
        assert media.startswith("application/json"), f"{op}: content-type {media!r}"


class World:
    """One server's client, a full-scope token, and makers for prerequisite resources.

    Every maker creates a fresh resource through the operation that creates it, checked
    like any other valid call (exact 2xx, contract-valid body); when that operation is not
    implemented the maker fails the test and says which prerequisite is missing.

    The makers here are the ones several resources' builders need (users, organizations,
    roles, APIs, ...). A maker only one resource needs lives in that resource's module as a
    function of the World; one whose result can be shared by the whole session (per
    server) goes through :meth:`once`, so a new resource never has to edit this class.
    """

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.token = server.token()
        self._memo: dict[Hashable, object] = {}

    def close(self) -> None:
        self.http.close()

    # -- plumbing

    def once(self, key: Hashable, factory: Callable[[], T]) -> T:
        """``factory()``, made the first time ``key`` is asked for on this server and
        remembered for the rest of the session (per engine: each server has its World).

        For entities a builder may reuse instead of creating afresh: prefix ``key`` with
        the resource's name (``("roles", "system permission")``) so modules never collide.
        """
        if key not in self._memo:
            self._memo[key] = factory()
        return cast(T, self._memo[key])

    def token_without(self, scope: str) -> str:
        others = [s for s in MANAGEMENT_API_SCOPES if s != scope]
        return self.once(("token without", scope), lambda: self.server.token(scopes=others))

    def send(self, op: Operation, req: Req, token: str | None = "", **extra: Any) -> httpx.Response:
        """Send ``req`` as ``op`` (the full-scope token unless ``token`` says otherwise;
        ``None`` sends no Authorization header)."""
        matched = CONTRACT.match(op.method, BASE + req.path)
        assert matched is op, f"{req.path} maps to {matched}, not {op}"
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        return self.http.request(
            op.method,
            BASE + req.path,
            params=req.params,
            json=req.json,
            files=req.files,
            headers=headers,
            **extra,
        )

    def expect_success(self, op: Operation, req: Req, resp: httpx.Response) -> Any:
        assert resp.status_code in op.success_codes, fail_text(op, req.path, resp)
        assert_body_as_declared(op, resp)
        body = None
        if resp.content:
            body = resp.json()
        CONTRACT.validate_response(op.method, op.path, resp.status_code, body)
        if req.check is not None:
            req.check(body)
        return body

    def require(self, op_id: str, why: str) -> Operation:
        op = OPS[op_id]
        if op_id not in IMPLEMENTED_IDS:
            pytest.fail(f"prerequisite {op} is not implemented; it is needed to {why}")
        return op

    def has(self, op_id: str) -> bool:
        return op_id in IMPLEMENTED_IDS

    def ok(self, op_id: str, req: Req, why: str = "set up this test") -> Any:
        op = self.require(op_id, why)
        return self.expect_success(op, req, self.send(op, req))

    def find_in_pages(
        self, op_id: str, path: str, key: str, field: str, value: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"page_size": 100}
        for _ in range(200):
            body = self.ok(op_id, Req(path, params=dict(params)), f"find {value} in {path}")
            for item in body.get(key) or []:
                if item.get(field) == value:
                    return dict(item)
            if not body.get("next_token"):
                break
            params["next_token"] = body["next_token"]
        pytest.fail(f"{value} not found in {path}")

    # -- makers shared by several resources (fresh resources)

    def user(self, email: str | None = None) -> str:
        email = email or unique_email("user")
        body = self.ok(
            "createUser",
            Req(
                "/user",
                json={
                    "profile": {"given_name": "Conf", "family_name": "User"},
                    "identities": [{"type": "email", "details": {"email": email}}],
                },
            ),
            "create a user",
        )
        return str(body["id"])

    def org(self, handle: bool = False) -> str:
        payload: dict[str, Any] = {"name": f"Conf org {uid()}"}
        if handle:
            payload["handle"] = f"conf{uid()}"
        body = self.ok("createOrganization", Req("/organization", json=payload), "create an org")
        return str(body["organization"]["code"])

    def member(self, org: str, user: str | None = None, roles: list[str] | None = None) -> str:
        user = user or self.user()
        item: dict[str, Any] = {"id": user}
        if roles:
            item["roles"] = roles
        self.ok(
            "AddOrganizationUsers",
            Req(f"/organizations/{org}/users", json={"users": [item]}),
            "add a user to an organization",
        )
        return user

    def role(self) -> tuple[str, str]:
        key = f"conf_role_{uid()}"
        body = self.ok(
            "CreateRole",
            Req("/roles", json={"key": key, "name": f"Role {key}", "description": "conf"}),
            "create a role",
        )
        return str(body["role"]["id"]), key

    def permission(self) -> tuple[str, str]:
        key = f"conf_perm_{uid()}"
        self.ok(
            "CreatePermission",
            Req("/permissions", json={"key": key, "name": f"Perm {key}", "description": "c"}),
            "create a permission",
        )
        # CreatePermission answers a success_response without the id: find it by key.
        found = self.find_in_pages("GetPermissions", "/permissions", "permissions", "key", key)
        return str(found["id"]), key

    def api(self) -> str:
        body = self.ok(
            "addAPIs",
            Req("/apis", json={"name": f"conf-{uid()}", "audience": f"urn:conf:{uid()}"}),
            "create an API",
        )
        return str(body["api"]["id"])

    def api_scope(self, api_id: str) -> str:
        body = self.ok(
            "addAPIScope",
            Req(f"/apis/{api_id}/scopes", json={"key": f"read:conf{uid()}", "description": "c"}),
            "create an API scope",
        )
        return str(body["scope"]["id"])

    def app(self, type_: str = "reg") -> str:
        body = self.ok(
            "createApplication",
            Req("/applications", json={"name": f"conf-app-{uid()}", "type": type_}),
            "create an application",
        )
        return str(body["application"]["id"])

    def connection(self) -> str:
        if self.has("CreateConnection"):
            body = self.ok(
                "CreateConnection",
                Req(
                    "/connections",
                    json={
                        "name": f"conf-conn-{uid()}",
                        "display_name": "Conformance",
                        "strategy": "oauth2:google",
                        "options": {"client_id": "cid", "client_secret": "secret"},
                    },
                ),
            )
            return str(body["connection"]["id"])
        conn_id = "conn_" + uuid.uuid4().hex
        self.seed(
            "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (conn_id, f"conf-conn-{uid()}", "Conformance", "oauth2:google", "{}", now_iso()),
        )
        return conn_id

    # -- state the API cannot create (no sign-in): seeded with portable SQL

    def seed(self, sql: str, params: tuple[Any, ...]) -> None:
        from kindling.platform.engine import Engine, PostgresEngine, SqliteEngine
        from kindling.platform.storage import SQLITE_FILE

        engine: Engine
        if self.server.database_url:
            engine = PostgresEngine(self.server.database_url)
        else:
            engine = SqliteEngine(Path(self.server.data_dir) / SQLITE_FILE)
        try:
            with engine.session(write=True) as session:
                session.execute(sql, params)
        finally:
            engine.close()

    def mfa_factor(self, user: str, org: str | None = None) -> str:
        factor = "mfa_" + uuid.uuid4().hex
        self.seed(
            "INSERT INTO user_mfa_factors (id, user_id, org_code, type, name, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (factor, user, org, "email", "conformance@example.com", now_iso()),
        )
        return factor


# --- the request builders (keyed by operationId) ---------------------------------

Builder = Callable[[World], Req]

#: Every builder a conformance module registered: operationId -> (module, builder).
_REGISTERED: dict[str, tuple[str, Builder]] = {}

#: The package of the per-resource modules (``tests/conformance/``).
PACKAGE = __name__.rpartition(".")[0]


def builder(op_id: str) -> Callable[[Builder], Builder]:
    """Register ``fn`` as the valid-call request builder of ``op_id``."""

    def register(fn: Builder) -> Builder:
        assert op_id in OPS, f"no operation {op_id} in the contract"
        assert op_id not in _REGISTERED, f"two builders for {op_id}"
        _REGISTERED[op_id] = (fn.__module__, fn)
        return fn

    return register


class ConformanceLayoutError(Exception):
    """The per-resource conformance modules do not match the resource registry."""


def declared_operations(resource: Resource) -> list[str]:
    """The operationIds of ``resource``'s Management API routers (``/api/v1``)."""
    return [op.operation_id for router in resource.routers for op in router.operations]


def module_path(name: str) -> str:
    return f"tests/conformance/{name}.py"


def load_builders(resources: Sequence[Resource]) -> dict[str, Builder]:
    """Import ``tests/conformance/<name>.py`` for every registered resource and return
    their builders by operationId.

    A resource without operations (``admin``) needs no module. A resource that declares
    operations but has no module, or a module that builds an operation its resource does
    not declare, raises :class:`ConformanceLayoutError` naming it, so the walk cannot
    silently skip a resource.
    """
    problems: list[str] = []
    loaded: dict[str, set[str]] = {}
    for resource in resources:
        declared = declared_operations(resource)
        module = f"{PACKAGE}.{resource.name}"
        if importlib.util.find_spec(module) is None:
            if declared:
                problems.append(
                    f"resource {resource.name!r} declares {len(declared)} operations "
                    f"({', '.join(declared)}) but has no conformance module "
                    f"{module_path(resource.name)}"
                )
            continue
        importlib.import_module(module)
        loaded[module] = set(declared)
    builders: dict[str, Builder] = {}
    for op_id, (module, fn) in _REGISTERED.items():
        if module not in loaded:
            continue
        if op_id not in loaded[module]:
            name = module.rpartition(".")[2]
            problems.append(
                f"{module_path(name)} builds {op_id}, which resource {name!r} does not declare"
            )
        builders[op_id] = fn
    if problems:
        raise ConformanceLayoutError("; ".join(problems))
    return builders
