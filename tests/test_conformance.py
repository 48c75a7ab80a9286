"""Spec-driven conformance: every operation of Kinde's Management API contract, walked.

For each of the contract's operations (``tests/contract/contract.py``) Kindling implements
it when ``kindling.web.app.management_operations()`` has the same method and path.
Whatever is implemented at the moment the suite runs is checked; nothing here lists the
implemented operations by hand, so operations that land later are picked up automatically.

* declarations (no server): operationId, scope, exact 2xx, JSON body flag, query
  parameters (names and required) and tag equal the contract's;
* (a) route: with no ``Authorization`` header the answer is 401 ``error_response`` (not 404
  ``ROUTE_NOT_FOUND``, not 405), on both engines;
* (b) scope: a token holding every Management API scope except the operation's gets 403
  ``INSUFFICIENT_SCOPE``;
* (c) valid call, for the checked tags (``CHECKED_TAGS``): a request built by ``BUILDERS``
  (keyed by operationId; prerequisites are created over HTTP, and checked the same way)
  answers the spec's exact 2xx with a body that validates against the spec's schema. An
  implemented operation without a builder fails, so gaps are visible.

At the end of the session a summary (``implemented N/183`` and the per-check results) is
written to the terminal by a small plugin this module registers.

Servers are shared by the whole session: every name, key and email is unique (uuid).
MFA factors and sessions cannot be created through the API (no user sign-in), so they are
seeded straight into the server's database with portable SQL.
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kindling.clock import isoformat
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
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

#: Tags whose implemented operations get the valid-call check (c).
CHECKED_TAGS = (
    "Users",
    "Organizations",
    "Roles",
    "Permissions",
    "Identities",
    "Search",
    "Properties",
    "Property Categories",
    "Feature Flags",
    "APIs",
    "Applications",
    "Environments",
    "Callbacks",
    "API Keys",
)
CHECKED: list[Operation] = [op for op in IMPLEMENTED if op.tag in CHECKED_TAGS]
SCOPED: list[Operation] = [op for op in IMPLEMENTED if op.scope is not None]

USER_ID = re.compile(r"^kp_[0-9a-f]{32}$")
ORG_CODE = re.compile(r"^org_[0-9a-f]{11}$")
UUID_LIKE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BCRYPT_HASH = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"


def _op_id(op: Operation) -> str:
    return op.operation_id


def uid() -> str:
    return uuid.uuid4().hex[:12]


def unique_email(tag: str = "conf") -> str:
    return f"{tag}-{uid()}@{uid()}.example.com"


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


# --- the session summary --------------------------------------------------------

_REPORT_PLUGIN = "kindling-conformance-report"
_CHECKS = {
    "test_route_requires_authentication": "route (a)",
    "test_scope_is_enforced": "scope (b)",
    "test_valid_call_matches_contract": "valid call (c)",
    "test_declaration_matches_contract": "declaration",
}


class ConformanceReport:
    """Collects this module's per-operation outcomes and prints the coverage at the end."""

    def __init__(self, nodes: dict[str, tuple[str, str, str]]) -> None:
        self.nodes = nodes  # nodeid -> (check, operationId, engine)
        self.outcomes: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = self.nodes.get(report.nodeid)
        if key is None:
            return
        if report.when != "call" and report.passed:
            return
        check, op_id, engine = key
        seen = self.outcomes[(check, op_id)]
        if seen.get(engine) != "failed":
            seen[engine] = "failed" if report.failed else report.outcome

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        verbose = tr.config.option.verbose > 0
        tr.write_sep("=", "Kinde Management API conformance")
        tr.write_line(
            f"implemented {len(IMPLEMENTED)}/{TOTAL} operations of the contract "
            f"(Kindling routes with the spec's method and path)"
        )
        per_tag_total = Counter(op.tag for op in CONTRACT.operations)
        per_tag_done = Counter(op.tag for op in IMPLEMENTED)
        tags = sorted(per_tag_total, key=lambda t: (t not in CHECKED_TAGS, str(t)))
        tr.write_line(
            "  by tag: " + ", ".join(f"{t} {per_tag_done[t]}/{per_tag_total[t]}" for t in tags if t)
        )
        for check in _CHECKS.values():
            results = {op: r for (c, op), r in self.outcomes.items() if c == check}
            if not results:
                continue
            failed = sorted(op for op, r in results.items() if "failed" in r.values())
            passed = [op for op, r in results.items() if set(r.values()) == {"passed"}]
            line = f"  {check}: {len(passed)}/{len(results)} operations passed"
            if failed:
                detail = ", ".join(
                    f"{op}[{'+'.join(sorted(e for e, o in results[op].items() if o == 'failed'))}]"
                    for op in failed
                )
                line += f"; failed: {detail}"
            tr.write_line(line)
        unchecked = sorted(op.operation_id for op in IMPLEMENTED if op.tag not in CHECKED_TAGS)
        if unchecked:
            tr.write_line(
                "  implemented outside the checked tags (route and scope only): "
                + ", ".join(unchecked)
            )
        missing = [op for op in CONTRACT.operations if op.operation_id not in IMPLEMENTED_IDS]
        missing_checked = [op for op in missing if op.tag in CHECKED_TAGS]
        if verbose:
            tr.write_line(
                "  not implemented in the checked tags: "
                + ", ".join(op.operation_id for op in missing_checked)
            )
        else:
            tr.write_line(
                f"  not implemented: {len(missing)} ({len(missing_checked)} in the checked "
                "tags; -v lists them)"
            )


@pytest.fixture(scope="session", autouse=True)
def _conformance_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """Register the summary plugin (hooks only run from plugins, not from test modules)."""
    manager = request.config.pluginmanager
    if manager.get_plugin(_REPORT_PLUGIN) is None:
        nodes: dict[str, tuple[str, str, str]] = {}
        for item in request.session.items:
            if not isinstance(item, pytest.Function) or item.module is None:
                continue
            spec = getattr(item, "callspec", None)
            name = item.originalname
            if spec is None or name not in _CHECKS or item.module.__name__ != __name__:
                continue
            op = spec.params.get("op")
            if isinstance(op, Operation):
                engine = str(spec.params.get("server", "-"))
                nodes[item.nodeid] = (_CHECKS[name], op.operation_id, engine)
        manager.register(ConformanceReport(nodes), _REPORT_PLUGIN)
    yield


# --- HTTP helpers ------------------------------------------------------------------


@dataclass
class Req:
    """One request of a builder: a concrete path under /api/v1 and its inputs."""

    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, Any] | None = None
    check: Callable[[Any], None] | None = None


def _fail_text(op: Operation, path: str, resp: httpx.Response) -> str:
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


class World:
    """One server's client, a full-scope token, and makers for prerequisite resources.

    Every maker creates a fresh resource through the operation that creates it, checked
    like any other valid call (exact 2xx, contract-valid body); when that operation is not
    implemented the maker fails the test and says which prerequisite is missing.
    """

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.token = server.token()
        self._narrow: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    # -- plumbing

    def token_without(self, scope: str) -> str:
        if scope not in self._narrow:
            others = [s for s in MANAGEMENT_API_SCOPES if s != scope]
            self._narrow[scope] = self.server.token(scopes=others)
        return self._narrow[scope]

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
        assert resp.status_code in op.success_codes, _fail_text(op, req.path, resp)
        body = None
        if resp.content:
            assert resp.headers.get("content-type", "").startswith("application/json"), (
                f"{op}: content-type {resp.headers.get('content-type')!r}"
            )
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

    # -- makers (fresh resources)

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

    def role_keys(self) -> list[str]:
        """One fresh role key when roles can be created, else none."""
        return [self.role()[1]] if self.has("CreateRole") else []

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

    def authorize(self, api_id: str, app_id: str) -> None:
        self.ok(
            "updateAPIApplications",
            Req(f"/apis/{api_id}/applications", json={"applications": [{"id": app_id}]}),
            "authorize an application for an API",
        )

    def category(self, context: str) -> str:
        body = self.ok(
            "CreateCategory",
            Req("/property_categories", json={"name": f"Cat {uid()}", "context": context}),
            "create a property category",
        )
        return str(body["category"]["id"])

    def prop(self, context: str) -> tuple[str, str]:
        key = f"conf_prop_{uid()}"
        body = self.ok(
            "CreateProperty",
            Req(
                "/properties",
                json={
                    "name": f"Prop {key}",
                    "key": key,
                    "type": "single_line_text",
                    "context": context,
                    "is_private": False,
                    "category_id": self.category(context),
                    "description": "conformance",
                },
            ),
            f"create a property ({context})",
        )
        return str(body["property"]["id"]), key

    def flag(self, level: str) -> str:
        key = f"conf_flag_{uid()}"
        self.ok(
            "CreateFeatureFlag",
            Req(
                "/feature_flags",
                json={
                    "name": f"Flag {key}",
                    "key": key,
                    "type": "bool",
                    "default_value": "false",
                    "description": "conformance",
                    "allow_override_level": level,
                },
            ),
            f"create a feature flag ({level})",
        )
        return key

    def identity(self, user: str) -> str:
        """A second (email) identity of ``user``."""
        if self.has("CreateUserIdentity") or not self.has("GetUserIdentities"):
            body = self.ok(
                "CreateUserIdentity",
                Req(f"/users/{user}/identities", json={"type": "email", "value": unique_email()}),
                "create an identity",
            )
            return str(body["identity"]["id"])
        listed = self.ok("GetUserIdentities", Req(f"/users/{user}/identities"), "list identities")
        return str(listed["identities"][0]["id"])

    def invite(self, org: str) -> str:
        body = self.ok(
            "createOrganizationInvite",
            Req(
                f"/organization/{org}/invites",
                json={"email": unique_email("invite"), "roles": self.role_keys()},
            ),
            "create an invite",
        )
        return str(body["invite"]["code"])

    def org_flag_override(self, org: str) -> str:
        key = self.flag("org")
        self.ok(
            "UpdateOrganizationFeatureFlagOverride",
            Req(f"/organizations/{org}/feature_flags/{key}", params={"value": "true"}),
            "override a feature flag for an org",
        )
        return key

    def system_permission(self) -> str:
        body = self.ok(
            "GetSystemPermissions",
            Req("/system_permissions", params={"page_size": 100}),
            "find a system permission",
        )
        items = body.get("system_permissions") or []
        assert items, "GetSystemPermissions lists no system permissions"
        return str(items[0]["id"])

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
            (conn_id, f"conf-conn-{uid()}", "Conformance", "oauth2:google", "{}", _now()),
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
            (factor, user, org, "email", "conformance@example.com", _now()),
        )
        return factor

    def session_row(self, user: str) -> str:
        session = "session_" + uuid.uuid4().hex
        now = datetime.now(UTC)
        self.seed(
            "INSERT INTO user_sessions (id, user_id, org_code, client_id, user_agent, "
            "ip_address, created_on, expires_on, last_active_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session,
                user,
                None,
                self.server.client_id,
                "conformance/1.0",
                "127.0.0.1",
                _now(),
                isoformat((now + timedelta(days=1)).timestamp()),
                _now(),
            ),
        )
        return session


def _now() -> str:
    return isoformat(datetime.now(UTC).timestamp())


def _ids(items: list[dict[str, Any]] | None, field: str = "id") -> list[Any]:
    return [item.get(field) for item in items or []]


def _has(field: str, value: Any, key: str = "id") -> Callable[[Any], None]:
    """Check: ``body[field]`` lists an item whose ``key`` is ``value``."""

    def check(body: Any) -> None:
        assert value in _ids(body.get(field), key), (field, value, body)

    return check


@pytest.fixture(scope="session")
def world(server: KindlingServer) -> Iterator[World]:
    w = World(server)
    yield w
    w.close()


# --- the request builders (keyed by operationId) ---------------------------------

Builder = Callable[[World], Req]
BUILDERS: dict[str, Builder] = {}


def builder(op_id: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        assert op_id in OPS, f"no operation {op_id} in the contract"
        assert op_id not in BUILDERS, f"two builders for {op_id}"
        BUILDERS[op_id] = fn
        return fn

    return register


# Users


@builder("getUsers")
def _get_users(w: World) -> Req:
    user = w.user()

    def check(body: Any) -> None:
        assert _ids(body["users"]) == [user], body

    return Req(
        "/users", params={"user_id": user, "expand": "organizations,identities"}, check=check
    )


@builder("getUserData")
def _get_user_data(w: World) -> Req:
    email = unique_email()
    user = w.user(email)

    def check(body: Any) -> None:
        assert (body["id"], body["preferred_email"]) == (user, email), body

    return Req("/user", params={"id": user, "expand": "organizations,identities"}, check=check)


@builder("createUser")
def _create_user(w: World) -> Req:
    def check(body: Any) -> None:
        assert USER_ID.match(body["id"]) and body["created"] is True, body

    return Req(
        "/user",
        json={
            "profile": {"given_name": "Ada", "family_name": "Lovelace"},
            "provided_id": f"ext-{uid()}",
            "identities": [
                {"type": "email", "is_verified": True, "details": {"email": unique_email()}},
                {"type": "username", "details": {"username": f"conf{uid()}"}},
            ],
        },
        check=check,
    )


@builder("updateUser")
def _update_user(w: World) -> Req:
    user = w.user()

    def check(body: Any) -> None:
        assert (body["id"], body["given_name"]) == (user, "Renamed"), body

    return Req("/user", params={"id": user}, json={"given_name": "Renamed"}, check=check)


@builder("deleteUser")
def _delete_user(w: World) -> Req:
    return Req("/user", params={"id": w.user()})


@builder("UpdateUserFeatureFlagOverride")
def _user_flag_override(w: World) -> Req:
    return Req(f"/users/{w.user()}/feature_flags/{w.flag('usr')}", params={"value": "true"})


@builder("GetUserIdentities")
def _get_user_identities(w: World) -> Req:
    def check(body: Any) -> None:
        assert len(body["identities"]) == 1, body

    return Req(f"/users/{w.user()}/identities", check=check)


@builder("CreateUserIdentity")
def _create_user_identity(w: World) -> Req:
    def check(body: Any) -> None:
        assert body["identity"]["id"], body

    return Req(
        f"/users/{w.user()}/identities",
        json={"type": "email", "value": unique_email("identity")},
        check=check,
    )


@builder("GetUsersMFA")
def _get_users_mfa(w: World) -> Req:
    user = w.user()
    w.mfa_factor(user)

    def check(body: Any) -> None:
        assert body["mfa"], body

    return Req(f"/users/{user}/mfa", check=check)


@builder("ResetUsersMFAAll")
def _reset_users_mfa_all(w: World) -> Req:
    user = w.user()
    w.mfa_factor(user)
    return Req(f"/users/{user}/mfa")


@builder("ResetUsersMFA")
def _reset_users_mfa(w: World) -> Req:
    user = w.user()
    return Req(f"/users/{user}/mfa/{w.mfa_factor(user)}")


@builder("SetUserPassword")
def _set_user_password(w: World) -> Req:
    return Req(
        f"/users/{w.user()}/password",
        json={"hashed_password": BCRYPT_HASH, "hashing_method": "bcrypt"},
    )


@builder("GetUserPropertyValues")
def _get_user_property_values(w: World) -> Req:
    if w.has("CreateProperty"):
        w.prop("usr")
    return Req(f"/users/{w.user()}/properties")


@builder("UpdateUserProperties")
def _update_user_properties(w: World) -> Req:
    _, key = w.prop("usr")
    return Req(f"/users/{w.user()}/properties", json={"properties": {key: "blue"}})


@builder("UpdateUserProperty")
def _update_user_property(w: World) -> Req:
    _, key = w.prop("usr")
    return Req(f"/users/{w.user()}/properties/{key}", params={"value": "green"})


@builder("refreshUserClaims")
def _refresh_user_claims(w: World) -> Req:
    return Req(f"/users/{w.user()}/refresh_claims")


@builder("GetUserSessions")
def _get_user_sessions(w: World) -> Req:
    user = w.user()
    w.session_row(user)

    def check(body: Any) -> None:
        assert len(body["sessions"]) == 1, body

    return Req(f"/users/{user}/sessions", check=check)


@builder("DeleteUserSessions")
def _delete_user_sessions(w: World) -> Req:
    user = w.user()
    w.session_row(user)
    return Req(f"/users/{user}/sessions")


# Search


@builder("searchUsers")
def _search_users(w: World) -> Req:
    email = unique_email("search")
    user = w.user(email)
    return Req("/search/users", params={"query": email}, check=_has("results", user))


# Identities


@builder("GetIdentity")
def _get_identity(w: World) -> Req:
    identity = w.identity(w.user())

    def check(body: Any) -> None:
        assert body["id"] == identity, body

    return Req(f"/identities/{identity}", check=check)


@builder("UpdateIdentity")
def _update_identity(w: World) -> Req:
    return Req(f"/identities/{w.identity(w.user())}", json={"is_primary": True})


@builder("DeleteIdentity")
def _delete_identity(w: World) -> Req:
    return Req(f"/identities/{w.identity(w.user())}")


# Organizations


@builder("getOrganization")
def _get_organization(w: World) -> Req:
    org = w.org()

    def check(body: Any) -> None:
        assert body["code"] == org, body

    return Req("/organization", params={"code": org}, check=check)


@builder("createOrganization")
def _create_organization(w: World) -> Req:
    def check(body: Any) -> None:
        assert ORG_CODE.match(body["organization"]["code"]), body

    return Req(
        "/organization",
        json={
            "name": f"Conf org {uid()}",
            "external_id": f"ext-{uid()}",
            "handle": f"conf{uid()}",
            "theme_code": "light",
            "is_auto_membership_enabled": True,
            "background_color": "#ffffff",
        },
        check=check,
    )


@builder("deleteOrganization")
def _delete_organization(w: World) -> Req:
    return Req(f"/organization/{w.org()}")


@builder("updateOrganization")
def _update_organization(w: World) -> Req:
    return Req(f"/organization/{w.org()}", json={"name": f"Renamed {uid()}", "theme_code": "dark"})


@builder("DeleteOrganizationHandle")
def _delete_organization_handle(w: World) -> Req:
    return Req(f"/organization/{w.org(handle=True)}/handle")


@builder("getOrganizationInvites")
def _get_organization_invites(w: World) -> Req:
    org = w.org()
    if w.has("createOrganizationInvite"):
        code = w.invite(org)
        return Req(f"/organization/{org}/invites", check=_has("invites", code, "code"))
    return Req(f"/organization/{org}/invites")


@builder("createOrganizationInvite")
def _create_organization_invite(w: World) -> Req:
    def check(body: Any) -> None:
        assert body["invite"]["code"], body

    return Req(
        f"/organization/{w.org()}/invites",
        json={
            "email": unique_email("invite"),
            "roles": w.role_keys(),
            "first_name": "Ivy",
            "last_name": "Invitee",
        },
        check=check,
    )


@builder("getOrganizationInvite")
def _get_organization_invite(w: World) -> Req:
    org = w.org()
    code = w.invite(org)

    def check(body: Any) -> None:
        assert body["code"] == code, body

    return Req(f"/organization/{org}/invites/{code}", check=check)


@builder("deleteOrganizationInvite")
def _delete_organization_invite(w: World) -> Req:
    org = w.org()
    return Req(f"/organization/{org}/invites/{w.invite(org)}")


@builder("getOrganizations")
def _get_organizations(w: World) -> Req:
    w.org()
    return Req("/organizations", params={"page_size": 5, "sort": "name_asc"})


@builder("GetOrganizationFeatureFlags")
def _get_organization_feature_flags(w: World) -> Req:
    org = w.org()
    if w.has("UpdateOrganizationFeatureFlagOverride"):
        key = w.org_flag_override(org)

        def check(body: Any) -> None:
            got = body["feature_flags"].get(key)
            assert got == {"type": "bool", "value": "true"}, (key, got, org)

        return Req(f"/organizations/{org}/feature_flags", check=check)
    return Req(f"/organizations/{org}/feature_flags")


@builder("DeleteOrganizationFeatureFlagOverrides")
def _delete_org_flag_overrides(w: World) -> Req:
    org = w.org()
    if w.has("UpdateOrganizationFeatureFlagOverride"):
        w.org_flag_override(org)
    return Req(f"/organizations/{org}/feature_flags")


@builder("DeleteOrganizationFeatureFlagOverride")
def _delete_org_flag_override(w: World) -> Req:
    org = w.org()
    return Req(f"/organizations/{org}/feature_flags/{w.org_flag_override(org)}")


@builder("UpdateOrganizationFeatureFlagOverride")
def _update_org_flag_override(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/feature_flags/{w.flag('org')}", params={"value": "true"})


@builder("ReadOrganizationLogo")
def _read_organization_logo(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/logos")


def _logo_files() -> dict[str, Any]:
    return {"logo": ("logo.png", PNG, "image/png")}


@builder("AddOrganizationLogo")
def _add_organization_logo(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/logos/light", files=_logo_files())


@builder("DeleteOrganizationLogo")
def _delete_organization_logo(w: World) -> Req:
    org = w.org()
    w.ok(
        "AddOrganizationLogo",
        Req(f"/organizations/{org}/logos/dark", files=_logo_files()),
        "upload a logo to delete",
    )
    return Req(f"/organizations/{org}/logos/dark")


@builder("ReplaceOrganizationMFA")
def _replace_organization_mfa(w: World) -> Req:
    return Req(
        f"/organizations/{w.org()}/mfa",
        json={"enabled_factors": ["mfa:email", "mfa:authenticator_app"]},
    )


@builder("GetOrganizationPasskey")
def _get_organization_passkey(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/passkey")


@builder("UpdateOrganizationPasskey")
def _update_organization_passkey(w: World) -> Req:
    return Req(
        f"/organizations/{w.org()}/passkey",
        json={"policy": "optional", "is_override_environment_passkey_settings": True},
    )


@builder("GetOrganizationPropertyValues")
def _get_organization_property_values(w: World) -> Req:
    if w.has("CreateProperty"):
        w.prop("org")
    return Req(f"/organizations/{w.org()}/properties")


@builder("UpdateOrganizationProperties")
def _update_organization_properties(w: World) -> Req:
    _, key = w.prop("org")
    return Req(f"/organizations/{w.org()}/properties", json={"properties": {key: "north"}})


@builder("UpdateOrganizationProperty")
def _update_organization_property(w: World) -> Req:
    _, key = w.prop("org")
    return Req(f"/organizations/{w.org()}/properties/{key}", params={"value": "south"})


def _org_role_member(w: World) -> tuple[str, str, str]:
    """An org with a member holding a fresh role: (org, role id, user)."""
    org = w.org()
    role_id, key = w.role()
    user = w.member(org, roles=[key])
    return org, role_id, user


@builder("GetOrganizationRoleActiveUsersCount")
def _org_role_active_users_count(w: World) -> Req:
    org, role_id, _ = _org_role_member(w)
    now = datetime.now(UTC).replace(microsecond=0)
    return Req(
        f"/organizations/{org}/roles/{role_id}/active_users/count",
        params={
            "date_time_from": (now - timedelta(days=1)).isoformat(),
            "date_time_to": now.isoformat(),
        },
    )


@builder("GetOrganizationRoleUsers")
def _org_role_users(w: World) -> Req:
    org, role_id, user = _org_role_member(w)
    return Req(f"/organizations/{org}/roles/{role_id}/users", check=_has("users", user))


@builder("GetOrganizationRoleUsersCount")
def _org_role_users_count(w: World) -> Req:
    org, role_id, _ = _org_role_member(w)

    def check(body: Any) -> None:
        assert body["count"] == 1, body

    return Req(f"/organizations/{org}/roles/{role_id}/users/count", check=check)


@builder("UpdateOrganizationSessions")
def _update_organization_sessions(w: World) -> Req:
    return Req(
        f"/organizations/{w.org()}/sessions",
        json={
            "is_use_org_sso_session_policy": True,
            "sso_session_persistence_mode": "persistent",
            "is_use_org_authenticated_session_lifetime": True,
            "authenticated_session_lifetime": 86400,
        },
    )


@builder("GetOrganizationUsers")
def _get_organization_users(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    return Req(
        f"/organizations/{org}/users",
        params={"page_size": 10, "sort": "name_asc"},
        check=_has("organization_users", user),
    )


@builder("AddOrganizationUsers")
def _add_organization_users(w: World) -> Req:
    user = w.user()

    def check(body: Any) -> None:
        assert body["users_added"] == [user], body

    return Req(f"/organizations/{w.org()}/users", json={"users": [{"id": user}]}, check=check)


@builder("UpdateOrganizationUsers")
def _update_organization_users(w: World) -> Req:
    org = w.org()
    user = w.member(org)

    def check(body: Any) -> None:
        assert body["users_removed"] == [user], body

    return Req(
        f"/organizations/{org}/users",
        json={"users": [{"id": user, "operation": "delete"}]},
        check=check,
    )


@builder("RemoveOrganizationUser")
def _remove_organization_user(w: World) -> Req:
    org = w.org()
    return Req(f"/organizations/{org}/users/{w.member(org)}")


def _org_user_api_scope(w: World) -> str:
    org = w.org()
    user = w.member(org)
    api_id = w.api()
    scope_id = w.api_scope(api_id)
    return f"/organizations/{org}/users/{user}/apis/{api_id}/scopes/{scope_id}"


@builder("addOrganizationUserAPIScope")
def _add_org_user_api_scope(w: World) -> Req:
    return Req(_org_user_api_scope(w))


@builder("deleteOrganizationUserAPIScope")
def _delete_org_user_api_scope(w: World) -> Req:
    path = _org_user_api_scope(w)
    w.ok("addOrganizationUserAPIScope", Req(path), "grant an org user an API scope")
    return Req(path)


def _org_member_with_factor(w: World) -> tuple[str, str, str]:
    org = w.org()
    user = w.member(org)
    return org, user, w.mfa_factor(user, org)


@builder("GetOrgUserMFA")
def _get_org_user_mfa(w: World) -> Req:
    org, user, _ = _org_member_with_factor(w)

    def check(body: Any) -> None:
        assert body["mfa"], body

    return Req(f"/organizations/{org}/users/{user}/mfa", check=check)


@builder("ResetOrgUserMFAAll")
def _reset_org_user_mfa_all(w: World) -> Req:
    org, user, _ = _org_member_with_factor(w)
    return Req(f"/organizations/{org}/users/{user}/mfa")


@builder("ResetOrgUserMFA")
def _reset_org_user_mfa(w: World) -> Req:
    org, user, factor = _org_member_with_factor(w)
    return Req(f"/organizations/{org}/users/{user}/mfa/{factor}")


def _grant_org_permission(w: World, org: str, user: str) -> str:
    permission_id, _ = w.permission()
    w.ok(
        "CreateOrganizationUserPermission",
        Req(
            f"/organizations/{org}/users/{user}/permissions",
            json={"permission_id": permission_id},
        ),
        "give an org user a permission",
    )
    return permission_id


@builder("GetOrganizationUserPermissions")
def _get_org_user_permissions(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    if w.has("CreateOrganizationUserPermission"):
        permission_id = _grant_org_permission(w, org, user)
        return Req(
            f"/organizations/{org}/users/{user}/permissions",
            check=_has("permissions", permission_id),
        )
    return Req(f"/organizations/{org}/users/{user}/permissions")


@builder("CreateOrganizationUserPermission")
def _create_org_user_permission(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    permission_id, _ = w.permission()
    return Req(
        f"/organizations/{org}/users/{user}/permissions", json={"permission_id": permission_id}
    )


@builder("DeleteOrganizationUserPermission")
def _delete_org_user_permission(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    permission_id = _grant_org_permission(w, org, user)
    return Req(f"/organizations/{org}/users/{user}/permissions/{permission_id}")


def _grant_org_role(w: World, org: str, user: str) -> str:
    role_id, _ = w.role()
    w.ok(
        "CreateOrganizationUserRole",
        Req(f"/organizations/{org}/users/{user}/roles", json={"role_id": role_id}),
        "give an org user a role",
    )
    return role_id


@builder("GetOrganizationUserRoles")
def _get_org_user_roles(w: World) -> Req:
    org = w.org()
    if w.has("CreateOrganizationUserRole"):
        user = w.member(org)
        role_id = _grant_org_role(w, org, user)
    else:
        role_id, key = w.role()
        user = w.member(org, roles=[key])
    return Req(f"/organizations/{org}/users/{user}/roles", check=_has("roles", role_id))


@builder("CreateOrganizationUserRole")
def _create_org_user_role(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    role_id, _ = w.role()
    return Req(f"/organizations/{org}/users/{user}/roles", json={"role_id": role_id})


@builder("DeleteOrganizationUserRole")
def _delete_org_user_role(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    return Req(f"/organizations/{org}/users/{user}/roles/{_grant_org_role(w, org, user)}")


@builder("GetOrganizationConnections")
def _get_organization_connections(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/connections")


@builder("EnableOrgConnection")
def _enable_org_connection(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/connections/{w.connection()}")


@builder("RemoveOrgConnection")
def _remove_org_connection(w: World) -> Req:
    path = f"/organizations/{w.org()}/connections/{w.connection()}"
    w.ok("EnableOrgConnection", Req(path), "enable a connection for an org")
    return Req(path)


# Roles


@builder("GetRoles")
def _get_roles(w: World) -> Req:
    w.role()
    return Req("/roles", params={"page_size": 5, "sort": "name_asc"})


@builder("CreateRole")
def _create_role(w: World) -> Req:
    key = f"conf_role_{uid()}"

    def check(body: Any) -> None:
        assert UUID_LIKE.match(body["role"]["id"]), body

    return Req(
        "/roles",
        json={"key": key, "name": f"Role {key}", "description": "d", "is_default_role": False},
        check=check,
    )


@builder("GetRole")
def _get_role(w: World) -> Req:
    role_id, key = w.role()

    def check(body: Any) -> None:
        assert (body["role"]["id"], body["role"]["key"]) == (role_id, key), body

    return Req(f"/roles/{role_id}", check=check)


@builder("DeleteRole")
def _delete_role(w: World) -> Req:
    return Req(f"/roles/{w.role()[0]}")


@builder("UpdateRoles")
def _update_roles(w: World) -> Req:
    role_id, key = w.role()
    return Req(f"/roles/{role_id}", json={"key": key, "name": f"Renamed {key}", "description": "r"})


def _give_role_permission(w: World, role_id: str) -> str:
    permission_id, _ = w.permission()
    w.ok(
        "UpdateRolePermissions",
        Req(f"/roles/{role_id}/permissions", json={"permissions": [{"id": permission_id}]}),
        "give a role a permission",
    )
    return permission_id


@builder("GetRolePermissions")
def _get_role_permissions(w: World) -> Req:
    role_id, _ = w.role()
    if w.has("UpdateRolePermissions"):
        permission_id = _give_role_permission(w, role_id)
        return Req(f"/roles/{role_id}/permissions", check=_has("permissions", permission_id))
    return Req(f"/roles/{role_id}/permissions")


@builder("UpdateRolePermissions")
def _update_role_permissions(w: World) -> Req:
    role_id, _ = w.role()
    permission_id, _ = w.permission()

    def check(body: Any) -> None:
        assert body["permissions_added"] == [permission_id], body

    return Req(
        f"/roles/{role_id}/permissions",
        json={"permissions": [{"id": permission_id}]},
        check=check,
    )


@builder("RemoveRolePermission")
def _remove_role_permission(w: World) -> Req:
    role_id, _ = w.role()
    return Req(f"/roles/{role_id}/permissions/{_give_role_permission(w, role_id)}")


def _role_scope(w: World) -> tuple[str, str]:
    role_id, _ = w.role()
    return role_id, w.api_scope(w.api())


@builder("GetRoleScopes")
def _get_role_scopes(w: World) -> Req:
    role_id, scope_id = _role_scope(w)
    if w.has("AddRoleScope"):
        w.ok("AddRoleScope", Req(f"/roles/{role_id}/scopes", json={"scope_id": scope_id}))
        return Req(f"/roles/{role_id}/scopes", check=_has("scopes", scope_id))
    return Req(f"/roles/{role_id}/scopes")


@builder("AddRoleScope")
def _add_role_scope(w: World) -> Req:
    role_id, scope_id = _role_scope(w)
    return Req(f"/roles/{role_id}/scopes", json={"scope_id": scope_id})


@builder("DeleteRoleScope")
def _delete_role_scope(w: World) -> Req:
    role_id, scope_id = _role_scope(w)
    w.ok("AddRoleScope", Req(f"/roles/{role_id}/scopes", json={"scope_id": scope_id}))
    return Req(f"/roles/{role_id}/scopes/{scope_id}")


@builder("GetRoleSystemPermissions")
def _get_role_system_permissions(w: World) -> Req:
    return Req(f"/roles/{w.role()[0]}/system_permissions")


@builder("UpdateRoleSystemPermissions")
def _update_role_system_permissions(w: World) -> Req:
    role_id, _ = w.role()
    return Req(
        f"/roles/{role_id}/system_permissions",
        json={"system_permissions": [{"id": w.system_permission()}]},
    )


@builder("GetRoleUsers")
def _get_role_users(w: World) -> Req:
    _, role_id, user = _org_role_member(w)
    return Req(f"/roles/{role_id}/users", check=_has("users", user))


@builder("GetSystemPermissions")
def _get_system_permissions(w: World) -> Req:
    return Req("/system_permissions", params={"page_size": 5})


# Permissions


@builder("GetPermissions")
def _get_permissions(w: World) -> Req:
    if w.has("CreatePermission"):
        w.permission()
    return Req("/permissions", params={"page_size": 5, "sort": "name_asc"})


@builder("CreatePermission")
def _create_permission(w: World) -> Req:
    key = f"conf_perm_{uid()}"
    return Req("/permissions", json={"key": key, "name": f"Perm {key}", "description": "d"})


@builder("DeletePermission")
def _delete_permission(w: World) -> Req:
    return Req(f"/permissions/{w.permission()[0]}")


@builder("UpdatePermissions")
def _update_permissions(w: World) -> Req:
    permission_id, key = w.permission()
    return Req(f"/permissions/{permission_id}", json={"name": f"Renamed {key}", "description": "r"})


# Properties and categories


@builder("GetProperties")
def _get_properties(w: World) -> Req:
    if w.has("CreateProperty"):
        w.prop("usr")
    return Req("/properties", params={"context": "usr", "page_size": 5})


@builder("CreateProperty")
def _create_property(w: World) -> Req:
    key = f"conf_prop_{uid()}"

    def check(body: Any) -> None:
        assert body["property"]["id"], body

    return Req(
        "/properties",
        json={
            "name": f"Prop {key}",
            "key": key,
            "type": "single_line_text",
            "context": "org",
            "is_private": False,
            "category_id": w.category("org"),
            "description": "d",
        },
        check=check,
    )


@builder("UpdateProperty")
def _update_property(w: World) -> Req:
    property_id, key = w.prop("usr")
    return Req(
        f"/properties/{property_id}",
        json={
            "name": f"Renamed {key}",
            "description": "r",
            "is_private": True,
            "category_id": w.category("usr"),
        },
    )


@builder("DeleteProperty")
def _delete_property(w: World) -> Req:
    return Req(f"/properties/{w.prop('usr')[0]}")


@builder("GetCategories")
def _get_categories(w: World) -> Req:
    if w.has("CreateCategory"):
        w.category("usr")
    return Req("/property_categories", params={"context": "usr", "page_size": 5})


@builder("CreateCategory")
def _create_category(w: World) -> Req:
    def check(body: Any) -> None:
        assert body["category"]["id"], body

    return Req("/property_categories", json={"name": f"Cat {uid()}", "context": "usr"}, check=check)


@builder("UpdateCategory")
def _update_category(w: World) -> Req:
    return Req(f"/property_categories/{w.category('org')}", json={"name": f"Renamed {uid()}"})


# Feature flags


@builder("CreateFeatureFlag")
def _create_feature_flag(w: World) -> Req:
    key = f"conf_flag_{uid()}"
    return Req(
        "/feature_flags",
        json={
            "name": f"Flag {key}",
            "key": key,
            "type": "str",
            "default_value": "blue",
            "description": "d",
            "allow_override_level": "org",
        },
    )


@builder("UpdateFeatureFlag")
def _update_feature_flag(w: World) -> Req:
    key = w.flag("org")
    return Req(
        f"/feature_flags/{key}",
        params={
            "name": f"Renamed {key}",
            "description": "r",
            "type": "bool",
            "allow_override_level": "org",
            "default_value": "true",
        },
    )


@builder("DeleteFeatureFlag")
def _delete_feature_flag(w: World) -> Req:
    return Req(f"/feature_flags/{w.flag('env')}")


# Environments


@builder("getEnvironment")
def _get_environment(w: World) -> Req:
    return Req("/environment")


def _env_flag_override(w: World) -> str:
    key = w.flag("env")
    w.ok(
        "UpdateEnvironementFeatureFlagOverride",
        Req(f"/environment/feature_flags/{key}", json={"value": "true"}),
        "override a feature flag for the environment",
    )
    return key


@builder("GetEnvironementFeatureFlags")
def _get_env_flags(w: World) -> Req:
    key = w.flag("env") if w.has("CreateFeatureFlag") else None

    def check(body: Any) -> None:
        if key is not None and not body.get("next_token"):
            assert body["feature_flags"][key] == {"type": "bool", "value": "false"}, body

    return Req("/environment/feature_flags", check=check)


@builder("DeleteEnvironementFeatureFlagOverrides")
def _delete_env_flag_overrides(w: World) -> Req:
    if w.has("UpdateEnvironementFeatureFlagOverride"):
        _env_flag_override(w)
    return Req("/environment/feature_flags")


@builder("DeleteEnvironementFeatureFlagOverride")
def _delete_env_flag_override(w: World) -> Req:
    return Req(f"/environment/feature_flags/{_env_flag_override(w)}")


@builder("UpdateEnvironementFeatureFlagOverride")
def _update_env_flag_override(w: World) -> Req:
    return Req(f"/environment/feature_flags/{w.flag('env')}", json={"value": "true"})


@builder("ReadLogo")
def _read_logo(w: World) -> Req:
    return Req("/environment/logos")


@builder("AddLogo")
def _add_logo(w: World) -> Req:
    return Req("/environment/logos/light", files=_logo_files())


@builder("DeleteLogo")
def _delete_logo(w: World) -> Req:
    w.ok("AddLogo", Req("/environment/logos/dark", files=_logo_files()), "upload a logo")
    return Req("/environment/logos/dark")


@builder("GetPasskey")
def _get_passkey(w: World) -> Req:
    return Req("/passkey")


@builder("UpdatePasskey")
def _update_passkey(w: World) -> Req:
    return Req("/passkey", json={"policy": "optional"})


# APIs


@builder("getAPIs")
def _get_apis(w: World) -> Req:
    return Req("/apis", params={"expand": "scopes"})


@builder("addAPIs")
def _add_apis(w: World) -> Req:
    return Req("/apis", json={"name": f"conf-{uid()}", "audience": f"urn:conf:{uid()}"})


@builder("getAPI")
def _get_api(w: World) -> Req:
    api_id = w.api()

    def check(body: Any) -> None:
        assert body["api"]["id"] == api_id, body

    return Req(f"/apis/{api_id}", check=check)


@builder("deleteAPI")
def _delete_api(w: World) -> Req:
    return Req(f"/apis/{w.api()}")


@builder("updateAPIApplications")
def _update_api_applications(w: World) -> Req:
    app_id = w.app("m2m")

    def check(body: Any) -> None:
        assert body["applications_connected"] == [app_id], body

    return Req(
        f"/apis/{w.api()}/applications", json={"applications": [{"id": app_id}]}, check=check
    )


def _api_app_scope(w: World) -> str:
    api_id = w.api()
    scope_id = w.api_scope(api_id)
    app_id = w.app("m2m")
    w.authorize(api_id, app_id)
    return f"/apis/{api_id}/applications/{app_id}/scopes/{scope_id}"


@builder("addAPIApplicationScope")
def _add_api_application_scope(w: World) -> Req:
    return Req(_api_app_scope(w))


@builder("deleteAPIApplicationScope")
def _delete_api_application_scope(w: World) -> Req:
    path = _api_app_scope(w)
    w.ok("addAPIApplicationScope", Req(path), "grant an application an API scope")
    return Req(path)


@builder("getAPIScopes")
def _get_api_scopes(w: World) -> Req:
    api_id = w.api()
    scope_id = w.api_scope(api_id)
    return Req(f"/apis/{api_id}/scopes", check=_has("scopes", scope_id))


@builder("addAPIScope")
def _add_api_scope(w: World) -> Req:
    return Req(f"/apis/{w.api()}/scopes", json={"key": f"read:conf{uid()}", "description": "d"})


@builder("getAPIScope")
def _get_api_scope(w: World) -> Req:
    api_id = w.api()
    scope_id = w.api_scope(api_id)

    def check(body: Any) -> None:
        assert body["scope"]["id"] == scope_id, body

    return Req(f"/apis/{api_id}/scopes/{scope_id}", check=check)


@builder("deleteAPIScope")
def _delete_api_scope(w: World) -> Req:
    api_id = w.api()
    return Req(f"/apis/{api_id}/scopes/{w.api_scope(api_id)}")


@builder("updateAPIScope")
def _update_api_scope(w: World) -> Req:
    api_id = w.api()
    return Req(f"/apis/{api_id}/scopes/{w.api_scope(api_id)}", json={"description": "renamed"})


# Applications


@builder("getApplications")
def _get_applications(w: World) -> Req:
    return Req("/applications", params={"page_size": 5, "sort": "name_asc"})


@builder("createApplication")
def _create_application(w: World) -> Req:
    def check(body: Any) -> None:
        app = body["application"]
        assert app["id"] and app["client_id"] and app["client_secret"], body

    return Req("/applications", json={"name": f"conf-app-{uid()}", "type": "reg"}, check=check)


@builder("getApplication")
def _get_application(w: World) -> Req:
    app_id = w.app()

    def check(body: Any) -> None:
        assert body["application"]["id"] == app_id, body

    return Req(f"/applications/{app_id}", check=check)


@builder("deleteApplication")
def _delete_application(w: World) -> Req:
    return Req(f"/applications/{w.app()}")


@builder("updateApplication")
def _update_application(w: World) -> Req:
    return Req(
        f"/applications/{w.app()}",
        json={
            "name": f"renamed-{uid()}",
            "login_uri": "https://app.example.com/login",
            "homepage_uri": "https://app.example.com",
            "redirect_uris": ["https://app.example.com/callback"],
            "logout_uris": ["https://app.example.com"],
            "is_ask_for_name": True,
        },
    )


@builder("GetApplicationAccessRoles")
def _get_application_access_roles(w: World) -> Req:
    return Req(f"/applications/{w.app()}/access_roles", params={"page_size": 5})


@builder("AddApplicationAccessRole")
def _add_application_access_role(w: World) -> Req:
    return Req(f"/applications/{w.app()}/access_roles/{w.role()[0]}")


@builder("RemoveApplicationAccessRole")
def _remove_application_access_role(w: World) -> Req:
    path = f"/applications/{w.app()}/access_roles/{w.role()[0]}"
    w.ok("AddApplicationAccessRole", Req(path), "give a role access to an application")
    return Req(path)


@builder("GetApplicationConnections")
def _get_application_connections(w: World) -> Req:
    return Req(f"/applications/{w.app()}/connections")


@builder("EnableConnection")
def _enable_connection(w: World) -> Req:
    return Req(f"/applications/{w.app()}/connections/{w.connection()}")


@builder("RemoveConnection")
def _remove_connection(w: World) -> Req:
    path = f"/applications/{w.app()}/connections/{w.connection()}"
    w.ok("EnableConnection", Req(path), "enable a connection for an application")
    return Req(path)


@builder("getApplicationPropertyValues")
def _get_application_property_values(w: World) -> Req:
    return Req(f"/applications/{w.app()}/properties")


@builder("updateApplicationsProperty")
def _update_applications_property(w: World) -> Req:
    _, key = w.prop("app")
    return Req(f"/applications/{w.app()}/properties/{key}", json={"value": "teal"})


@builder("updateApplicationTokens")
def _update_application_tokens(w: World) -> Req:
    return Req(
        f"/applications/{w.app()}/tokens",
        json={"access_token_lifetime": 3600, "id_token_lifetime": 3600},
    )


# Callbacks (an application's redirect and logout URLs)

_URL_KINDS = {"redirect": "auth_redirect_urls", "logout": "auth_logout_urls"}
_URL_ADD = {"redirect": "addRedirectCallbackURLs", "logout": "addLogoutRedirectURLs"}


def _app_urls(w: World, kind: str, add: bool = True) -> tuple[str, str]:
    """An application (with one URL of ``kind`` registered when ``add``): (path, url)."""
    path = f"/applications/{w.app()}/{_URL_KINDS[kind]}"
    url = f"https://conf-{uid()}.example.com/{kind}"
    if add:
        w.ok(_URL_ADD[kind], Req(path, json={"urls": [url]}), f"register a {kind} URL")
    return path, url


def _urls_check(url: str, present: bool = True) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        urls = body.get("redirect_urls") or body.get("logout_urls") or []
        assert (url in urls) is present, (url, body)

    return check


for _kind, _op_ids in (
    ("redirect", ("getCallbackURLs", "addRedirectCallbackURLs", "replaceRedirectCallbackURLs")),
    ("logout", ("getLogoutURLs", "addLogoutRedirectURLs", "replaceLogoutRedirectURLs")),
):
    _get, _add, _replace = _op_ids

    @builder(_get)
    def _get_urls(w: World, kind: str = _kind) -> Req:
        path, url = _app_urls(w, kind)
        return Req(path, check=_urls_check(url))

    @builder(_add)
    def _add_urls(w: World, kind: str = _kind) -> Req:
        path, url = _app_urls(w, kind, add=False)
        return Req(path, json={"urls": [url]})

    @builder(_replace)
    def _replace_urls(w: World, kind: str = _kind) -> Req:
        path, _ = _app_urls(w, kind)
        return Req(path, json={"urls": [f"https://conf-{uid()}.example.com/{kind}"]})


@builder("deleteCallbackURLs")
def _delete_callback_urls(w: World) -> Req:
    path, url = _app_urls(w, "redirect")
    return Req(path, params={"urls": url})


@builder("deleteLogoutURLs")
def _delete_logout_urls(w: World) -> Req:
    path, url = _app_urls(w, "logout")
    return Req(path, params={"urls": url})


# API keys


def _new_api_key(w: World) -> tuple[str, str]:
    """A fresh environment API key for a fresh API with one scope: (key id, key)."""
    api_id = w.api()
    body = w.ok(
        "createApiKey",
        Req(
            "/api_keys",
            json={
                "name": f"conf-key-{uid()}",
                "api_id": api_id,
                "type": "environment",
                "scope_ids": [w.api_scope(api_id)],
            },
        ),
        "create an API key",
    )
    return str(body["api_key"]["id"]), str(body["api_key"]["key"])


@builder("getApiKeys")
def _get_api_keys(w: World) -> Req:
    if w.has("createApiKey"):
        _new_api_key(w)
    return Req("/api_keys", params={"page_size": 5})


@builder("createApiKey")
def _create_api_key(w: World) -> Req:
    api_id = w.api()

    def check(body: Any) -> None:
        assert body["api_key"]["id"] and body["api_key"]["key"], body

    return Req(
        "/api_keys",
        json={
            "name": f"conf-key-{uid()}",
            "api_id": api_id,
            "type": "environment",
            "scope_ids": [w.api_scope(api_id)],
        },
        check=check,
    )


@builder("verifyApiKey")
def _verify_api_key(w: World) -> Req:
    key_id, key = _new_api_key(w)

    def check(body: Any) -> None:
        assert (body["is_valid"], body["key_id"]) == (True, key_id), body

    return Req("/api_keys/verify", json={"api_key": key}, check=check)


@builder("getApiKey")
def _get_api_key(w: World) -> Req:
    return Req(f"/api_keys/{_new_api_key(w)[0]}")


@builder("rotateApiKey")
def _rotate_api_key(w: World) -> Req:
    key_id, key = _new_api_key(w)

    def check(body: Any) -> None:
        assert body["api_key"]["key"] and body["api_key"]["key"] != key, body

    return Req(f"/api_keys/{key_id}", check=check)


@builder("deleteApiKey")
def _delete_api_key(w: World) -> Req:
    return Req(f"/api_keys/{_new_api_key(w)[0]}")


# --- dummy requests for the route and scope checks --------------------------------


def _dummy(op: Operation) -> Req:
    """A request that reaches ``op``'s route: path parameters and required query
    parameters filled with placeholders, a small JSON body (or a file) when it takes one."""
    path = op.path.removeprefix(BASE)
    params: dict[str, Any] = {}
    for p in op.parameters:
        name = str(p["name"])
        if p.get("in") == "path":
            enum = (p.get("schema") or {}).get("enum")
            value = enum[0] if enum else f"conf-{name}-0"
            path = path.replace("{" + name + "}", str(value))
        elif p.get("in") == "query" and p.get("required"):
            params[name] = "x"
    req = Req(path, params=params or None)
    body = op.request_body
    if body is not None:
        if str(body.get("content_type", "")).startswith("multipart/"):
            req.files = _logo_files()
        else:
            req.json = {"name": f"conf-{uid()}"}
    return req


# --- the tests ---------------------------------------------------------------------


def test_every_kindling_operation_is_in_the_contract() -> None:
    """Every Management API route Kindling serves is one of the spec's operations."""
    known = {(op.method, op.path) for op in CONTRACT.operations}
    extra = sorted(f"{m} {p}" for (m, p) in KINDLING if (m, p) not in known)
    assert not extra, f"routes that are not in Kinde's spec: {extra}"
    assert len(KINDLING) == len(management_operations()), "a route is declared twice"


def test_builders_cover_every_operation_of_the_checked_tags() -> None:
    """The builder table has an entry for every operation of the checked tags, implemented
    or not, so an operation that lands later is exercised at once."""
    wanted = {op.operation_id for op in CONTRACT.operations if op.tag in CHECKED_TAGS}
    missing = sorted(wanted - set(BUILDERS))
    assert not missing, f"operations without a request builder: {missing}"


@pytest.mark.parametrize("op", IMPLEMENTED, ids=_op_id)
def test_declaration_matches_contract(op: Operation) -> None:
    """operationId, scope, exact 2xx, JSON body, query parameters and tag are the spec's."""
    ours = KINDLING[(op.method, op.path)]
    problems = []
    if ours.operation_id != op.operation_id:
        problems.append(f"operation_id {ours.operation_id!r} != {op.operation_id!r}")
    if ours.scope != op.scope:
        problems.append(f"scope {ours.scope!r} != {op.scope!r}")
    if ours.status not in op.success_codes:
        problems.append(f"status {ours.status} not in {op.success_codes}")
    if ours.body != (op.request_body is not None):
        problems.append(
            f"body={ours.body} but the spec {'has' if op.request_body else 'has no'} body"
        )
    spec_query = {
        str(p["name"]): bool(p.get("required")) for p in op.parameters if p["in"] == "query"
    }
    our_query = {p.name: p.required for p in ours.query}
    # Every spec parameter is declared with the spec's required flag; extra (Kindling)
    # parameters are tolerated when optional.
    wrong = [k for k, required in spec_query.items() if our_query.get(k) != required]
    wrong += [k for k, required in our_query.items() if k not in spec_query and required]
    if wrong:
        problems.append(f"query params {our_query} do not match the spec's {spec_query}")
    if ours.tag != op.tag:
        problems.append(f"tag {ours.tag!r} != {op.tag!r}")
    assert not problems, f"{op}: " + "; ".join(problems)


@pytest.mark.parametrize("op", IMPLEMENTED, ids=_op_id)
def test_route_requires_authentication(world: World, op: Operation) -> None:
    """(a) The route exists: without a token the answer is 401, not 404/405.

    An operation without a scope in the spec (``verifyApiKey``) takes no bearer token; for
    it only the route is checked."""
    req = _dummy(op)
    resp = world.send(op, req, token=None)
    assert resp.status_code not in (404, 405), _fail_text(op, req.path, resp)
    if op.scope is None:
        return
    assert_error_body(resp, 401)
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), resp.headers


@pytest.mark.parametrize("op", SCOPED, ids=_op_id)
def test_scope_is_enforced(world: World, op: Operation) -> None:
    """(b) A token with every Management API scope except the operation's gets 403."""
    assert op.scope in MANAGEMENT_API_SCOPES, op.scope
    req = _dummy(op)
    resp = world.send(op, req, token=world.token_without(str(op.scope)))
    assert resp.status_code == 403, _fail_text(op, req.path, resp)
    assert_error_body(resp, 403, "INSUFFICIENT_SCOPE")
    assert f'scope="{op.scope}"' in resp.headers.get("www-authenticate", ""), resp.headers


@pytest.mark.parametrize("op", CHECKED, ids=_op_id)
def test_valid_call_matches_contract(world: World, op: Operation) -> None:
    """(c) A valid call answers the spec's exact 2xx with a contract-valid body."""
    build = BUILDERS.get(op.operation_id)
    if build is None:
        pytest.fail(f"{op} is implemented but has no request builder in BUILDERS")
    req = build(world)
    world.expect_success(op, req, world.send(op, req))
