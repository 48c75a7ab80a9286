"""The Management API against a real ``kindling serve`` on both engines.

Every implemented operation is checked for (a) its contract status and body on a
valid call, (b) 403 ``error_response`` with a token lacking its scope, and (c) a
scope and status equal to the contract's. Then the flows: users (pagination,
create/get/patch/delete, duplicates, invalid input, concurrent creates), APIs
(scopes, authorizations, grants read by the very next token request) and
applications.

Servers are shared across the session, so every name, email and audience is
unique (uuid), and lists are filtered or paged to find our own rows.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.errors import ValidationError
from kindling.platform.pagination import CursorCodec
from kindling.web.app import management_operations
from tests.contract.contract import load_contract
from tests.support import KindlingServer, error_code, token_for

CONTRACT = load_contract()
BASE = "/api/v1"

#: The operations this brief covers, as (method, path under /api/v1).
IMPLEMENTED = {
    ("GET", "/users"),
    ("GET", "/user"),
    ("POST", "/user"),
    ("PATCH", "/user"),
    ("DELETE", "/user"),
    ("GET", "/applications"),
    ("POST", "/applications"),
    ("GET", "/applications/{application_id}"),
    ("GET", "/apis"),
    ("POST", "/apis"),
    ("GET", "/apis/{api_id}"),
    ("POST", "/apis/{api_id}/scopes"),
    ("PATCH", "/apis/{api_id}/applications"),
    ("POST", "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}"),
    ("DELETE", "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}"),
}
GRANT = "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}"


def uid() -> str:
    return uuid.uuid4().hex[:12]


def unique_email(tag: str = "u") -> str:
    return f"{tag}-{uid()}@{uid()}.example.com"


# --- helpers ---------------------------------------------------------------


def assert_error(resp: httpx.Response, status: int | None = None, code: str | None = None) -> str:
    return error_code(resp, status, code)


def contract_status(method: str, template: str) -> int:
    codes = CONTRACT.find(method, BASE + template).success_codes
    assert len(codes) == 1, codes
    return codes[0]


class Mgmt:
    """An HTTP client for one server's Management API with a bearer token."""

    def __init__(self, server: KindlingServer, token: str | None = None) -> None:
        self.server = server
        self.http = server.client()
        self.default_token = token or token_for(server)

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.default_token}"}
        headers.update(kwargs.pop("headers", {}))
        return self.http.request(method, BASE + path, headers=headers, **kwargs)

    def ok(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        """Call, assert the contract's exact 2xx, validate the body, return it."""
        resp = self.request(method, path or template, **kwargs)
        expected = contract_status(method, template)
        assert resp.status_code == expected, (method, path or template, resp.text)
        body = resp.json() if resp.content else None
        CONTRACT.validate_response(method, BASE + template, resp.status_code, body)
        return body

    # Shortcuts for setting things up.

    def create_user(self, email: str | None = None, **profile: Any) -> str:
        body: dict[str, Any] = {"profile": profile} if profile else {}
        if email is not None:
            body["identities"] = [{"type": "email", "details": {"email": email}}]
        created = self.ok("POST", "/user", json=body)
        assert created["created"] is True
        return str(created["id"])

    def users_by_email(self, *emails: str) -> list[dict[str, Any]]:
        body = self.ok("GET", "/users", params={"email": ",".join(emails), "page_size": 500})
        assert "next_token" not in body
        users: list[dict[str, Any]] = body["users"]
        return users

    def create_app(self, type_: str = "m2m") -> dict[str, Any]:
        body = self.ok("POST", "/applications", json={"name": f"app-{uid()}", "type": type_})
        app: dict[str, Any] = body["application"]
        return app

    def create_api(self) -> tuple[str, str]:
        audience = f"https://api-{uid()}.example.com"
        body = self.ok("POST", "/apis", json={"name": f"api-{uid()}", "audience": audience})
        return str(body["api"]["id"]), audience

    def add_scope(self, api_id: str, key: str) -> str:
        body = self.ok(
            "POST",
            "/apis/{api_id}/scopes",
            f"/apis/{api_id}/scopes",
            json={"key": key, "description": f"scope {key}"},
        )
        return str(body["scope"]["id"])

    def connect(self, api_id: str, app_id: str, remove: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {"id": app_id}
        if remove:
            item["operation"] = "delete"
        body: dict[str, Any] = self.ok(
            "PATCH",
            "/apis/{api_id}/applications",
            f"/apis/{api_id}/applications",
            json={"applications": [item]},
        )
        return body

    def grant(self, api_id: str, app_id: str, scope_id: str, granted: bool = True) -> None:
        self.ok(
            "POST" if granted else "DELETE",
            GRANT,
            f"/apis/{api_id}/applications/{app_id}/scopes/{scope_id}",
        )

    def management_api_id(self) -> str:
        for api in self.all_pages("/apis", "apis"):
            if api["is_management_api"]:
                return str(api["id"])
        raise AssertionError("no management API listed")

    def all_pages(
        self, path: str, key: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = dict(params or {}, page_size=100)
        for _ in range(1000):
            body = self.ok("GET", path, params=query)
            items.extend(body[key])
            if "next_token" not in body:
                return items
            query["next_token"] = body["next_token"]
        raise AssertionError("pagination did not end")


def token_request(
    server: KindlingServer, client_id: str, client_secret: str, audience: str
) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "audience": audience,
            },
        )


def issued_scope(server: KindlingServer, app: dict[str, Any], audience: str) -> str:
    """Request a token for ``audience`` and return its scope (checked against the JWT)."""
    resp = token_request(server, app["client_id"], app["client_secret"], audience)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert audience in claims["aud"]
    assert claims["azp"] == app["client_id"]
    assert claims["scope"] == body["scope"]
    assert claims["scp"] == (body["scope"].split() if body["scope"] else [])
    return str(body["scope"])


@pytest.fixture
def mg(server: KindlingServer) -> Iterator[Mgmt]:
    client = Mgmt(server)
    yield client
    client.close()


# --- (c) our routes versus the contract ------------------------------------


def test_routes_match_contract_scope_and_status() -> None:
    ops = management_operations()
    declared = [(op.method, op.path) for op in ops]
    assert len(declared) == len(set(declared)), "an operation is declared twice"
    assert IMPLEMENTED <= set(declared)
    for op in ops:
        spec = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == spec.scope, (op.method, op.path, op.scope, spec.scope)
        assert op.status in spec.success_codes, (op.method, op.path, op.status)
        assert op.operation_id == spec.operation_id, (op, spec)


# --- (a) every operation: a valid call matches the contract ----------------


@dataclass
class World:
    """Resources shared by the per-operation contract checks on one server."""

    user_id: str
    app_id: str
    api_id: str
    scope_id: str


@pytest.fixture(scope="module")
def world(server: KindlingServer) -> Iterator[World]:
    client = Mgmt(server)
    user_id = client.create_user(unique_email("world"), given_name="World", family_name="User")
    app = client.create_app()
    api_id, _ = client.create_api()
    scope_id = client.add_scope(api_id, f"read:{uid()}")
    client.connect(api_id, app["id"])
    yield World(user_id, app["id"], api_id, scope_id)
    client.close()


def _grant_path(w: World) -> str:
    return f"/apis/{w.api_id}/applications/{w.app_id}/scopes/{w.scope_id}"


VALID_CALLS: dict[tuple[str, str], Callable[[Mgmt, World], Any]] = {
    ("GET", "/users"): lambda m, w: m.ok("GET", "/users", params={"user_id": w.user_id}),
    ("GET", "/user"): lambda m, w: m.ok(
        "GET", "/user", params={"id": w.user_id, "expand": "identities,organizations"}
    ),
    ("POST", "/user"): lambda m, w: m.ok(
        "POST",
        "/user",
        json={
            "profile": {"given_name": "Ada", "family_name": "L", "picture": "https://p.example"},
            "provided_id": f"ext-{uid()}",
            "identities": [
                {"type": "email", "is_verified": True, "details": {"email": unique_email()}},
                {"type": "username", "details": {"username": f"user{uid()}"}},
                {"type": "phone", "details": {"phone": "+6140000" + str(uuid.uuid4().int)[:4]}},
            ],
        },
    ),
    ("PATCH", "/user"): lambda m, w: m.ok(
        "PATCH", "/user", params={"id": w.user_id}, json={"given_name": "Patched"}
    ),
    ("DELETE", "/user"): lambda m, w: m.ok(
        "DELETE", "/user", params={"id": m.create_user(unique_email("del"))}
    ),
    ("GET", "/applications"): lambda m, w: m.ok(
        "GET", "/applications", params={"page_size": 5, "sort": "name_asc"}
    ),
    ("POST", "/applications"): lambda m, w: m.ok(
        "POST", "/applications", json={"name": f"a-{uid()}", "type": "m2m"}
    ),
    ("GET", "/applications/{application_id}"): lambda m, w: m.ok(
        "GET", "/applications/{application_id}", f"/applications/{w.app_id}"
    ),
    ("GET", "/apis"): lambda m, w: m.ok("GET", "/apis", params={"expand": "scopes"}),
    ("POST", "/apis"): lambda m, w: m.ok(
        "POST", "/apis", json={"name": f"n-{uid()}", "audience": f"urn:api:{uid()}"}
    ),
    ("GET", "/apis/{api_id}"): lambda m, w: m.ok("GET", "/apis/{api_id}", f"/apis/{w.api_id}"),
    ("POST", "/apis/{api_id}/scopes"): lambda m, w: m.ok(
        "POST", "/apis/{api_id}/scopes", f"/apis/{w.api_id}/scopes", json={"key": f"k:{uid()}"}
    ),
    ("PATCH", "/apis/{api_id}/applications"): lambda m, w: m.ok(
        "PATCH",
        "/apis/{api_id}/applications",
        f"/apis/{w.api_id}/applications",
        json={"applications": [{"id": w.app_id}]},
    ),
    ("POST", GRANT): lambda m, w: m.ok("POST", GRANT, _grant_path(w)),
    ("DELETE", GRANT): lambda m, w: (
        m.ok("POST", GRANT, _grant_path(w)),
        m.ok("DELETE", GRANT, _grant_path(w)),
    ),
}


def test_valid_calls_cover_every_operation() -> None:
    assert set(VALID_CALLS) == IMPLEMENTED


@pytest.mark.parametrize("key", sorted(VALID_CALLS), ids=lambda k: f"{k[0]} {k[1]}")
def test_valid_call_matches_contract(mg: Mgmt, world: World, key: tuple[str, str]) -> None:
    VALID_CALLS[key](mg, world)


# --- (b) every operation: a token without its scope gets 403 --------------


def _concrete(path: str) -> str:
    return (
        path.replace("{api_id}", "0" * 32)
        .replace("{application_id}", "1" * 32)
        .replace("{scope_id}", "api_scope_0")
    )


@pytest.mark.parametrize(
    "op",
    [op for op in management_operations() if not op.public],
    ids=lambda op: f"{op.method} {op.path}",
)
def test_token_without_scope_is_forbidden(server: KindlingServer, mg: Mgmt, op: Any) -> None:
    others = [s for s in MANAGEMENT_API_SCOPES if s != op.scope]
    narrow = token_for(server, others)
    claims = jwt.decode(narrow, options={"verify_signature": False})
    assert op.scope not in claims["scp"] and len(claims["scp"]) == len(others)
    email = unique_email("forbidden")
    body = {
        "identities": [{"type": "email", "details": {"email": email}}],
        "name": f"x-{uid()}",
        "type": "m2m",
        "audience": f"urn:forbidden:{uid()}",
        "key": "k",
        "applications": [{"id": "1" * 32}],
    }
    params = {"id": "kp_0"} if op.path == "/user" else None
    kwargs: dict[str, Any] = {"params": params}
    if op.body:
        kwargs["json"] = body
    resp = mg.request(op.method, _concrete(op.path), token=narrow, **kwargs)
    assert_error(resp, 403, "INSUFFICIENT_SCOPE")
    assert "insufficient_scope" in resp.headers["www-authenticate"]
    assert f'scope="{op.scope}"' in resp.headers["www-authenticate"]
    # The same request with the scope is let through (whatever the handler says).
    full = mg.request(op.method, _concrete(op.path), **kwargs)
    assert full.status_code != 403, full.text
    if (op.method, op.path) == ("POST", "/user"):
        # The refused create wrote nothing, and the allowed one did.
        assert len(mg.users_by_email(email)) == 1
    # No token at all: 401.
    resp = mg.http.request(op.method, BASE + _concrete(op.path), **kwargs)
    assert_error(resp, 401)


# --- users: pagination ------------------------------------------------------


def test_users_pagination_with_email_filter(mg: Mgmt) -> None:
    domain = f"page-{uid()}.example.com"
    emails = [f"p{i:02d}-{uid()}@{domain}" for i in range(25)]
    ids = [mg.create_user(e) for e in emails]
    query: dict[str, Any] = {"page_size": 10, "email": ",".join(emails)}
    sizes: list[int] = []
    seen: list[str] = []
    tokens: list[str] = []
    for _ in range(10):
        body = mg.ok("GET", "/users", params=query)
        sizes.append(len(body["users"]))
        seen.extend(u["id"] for u in body["users"])
        for u in body["users"]:
            assert u["email"] in emails
        if "next_token" not in body:
            break
        assert isinstance(body["next_token"], str) and body["next_token"]
        tokens.append(body["next_token"])
        query["next_token"] = body["next_token"]
    assert sizes == [10, 10, 5]
    assert len(seen) == len(set(seen)) == 25
    assert seen == ids  # oldest first, no gaps
    # The filter is normalized: upper-case emails with spaces find the same users.
    loud = ",".join(f" {e.upper()} " for e in emails)
    body = mg.ok("GET", "/users", params={"page_size": 500, "email": loud})
    assert sorted(u["id"] for u in body["users"]) == sorted(ids)

    # A next_token belongs to its listing: used without the filter it is refused.
    resp = mg.request("GET", "/users", params={"page_size": 10, "next_token": tokens[0]})
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")


@pytest.mark.parametrize(
    ("size", "code"),
    [
        ("501", "PAGE_SIZE_LIMIT_EXCEEDED"),
        ("0", "INVALID_PAGE_SIZE"),
        ("-1", "INVALID_PAGE_SIZE"),
        ("abc", "INVALID_PAGE_SIZE"),
        ("1.5", "INVALID_PAGE_SIZE"),
    ],
)
@pytest.mark.parametrize("path", ["/users", "/applications", "/apis"])
def test_bad_page_size(mg: Mgmt, path: str, size: str, code: str) -> None:
    assert_error(mg.request("GET", path, params={"page_size": size}), 400, code)


@pytest.mark.parametrize("path", ["/users", "/applications", "/apis"])
def test_page_size_limits_accepted(mg: Mgmt, path: str) -> None:
    for size in ("1", "500"):
        body = mg.ok("GET", path, params={"page_size": size})
        assert len(body[path.strip("/")]) <= int(size)


def _tamper(token: str) -> list[str]:
    first = "B" if token[0] == "A" else "A"
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    payload, _, tag = raw.partition(b".")
    other = str(int(payload) + 1).encode()
    forged = base64.urlsafe_b64encode(other + b"." + tag).rstrip(b"=").decode()
    zero = base64.urlsafe_b64encode(b"0." + tag).rstrip(b"=").decode()
    flipped_tag = (
        base64.urlsafe_b64encode(payload + b"." + bytes([tag[0] ^ 1]) + tag[1:])
        .rstrip(b"=")
        .decode()
    )
    return [first + token[1:], forged, zero, flipped_tag, "not-a-token", "%%%", token + "AAAA"]


def test_tampered_next_token(mg: Mgmt) -> None:
    emails = [unique_email("tamper") for _ in range(3)]
    for e in emails:
        mg.create_user(e)
    body = mg.ok("GET", "/users", params={"page_size": 1, "email": ",".join(emails)})
    token = body["next_token"]
    for bad in _tamper(token):
        resp = mg.request(
            "GET", "/users", params={"page_size": 1, "email": ",".join(emails), "next_token": bad}
        )
        assert_error(resp, 400, "INVALID_NEXT_TOKEN")
    # Tampered tokens are refused on the other listings too.
    mg.create_app()
    mg.create_app()
    apps = mg.ok("GET", "/applications", params={"page_size": 1})
    assert "next_token" in apps
    for bad in _tamper(apps["next_token"]):
        resp = mg.request("GET", "/applications", params={"page_size": 1, "next_token": bad})
        assert_error(resp, 400, "INVALID_NEXT_TOKEN")
    # A users token is not an applications token.
    resp = mg.request("GET", "/applications", params={"page_size": 1, "next_token": token})
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")


# --- users: create, get, patch, delete -------------------------------------


def test_user_create_get_patch_delete(mg: Mgmt) -> None:
    email = unique_email("flow")
    username = f"flow{uid()}"
    created = mg.ok(
        "POST",
        "/user",
        json={
            "profile": {"given_name": "Grace", "family_name": "Hopper"},
            "identities": [
                {"type": "email", "is_verified": True, "details": {"email": email}},
                {"type": "username", "details": {"username": username}},
            ],
        },
    )
    user_id = created["id"]
    assert created["created"] is True
    assert [i["type"] for i in created["identities"]] == ["email", "username"]

    got = mg.ok("GET", "/user", params={"id": user_id, "expand": "identities"})
    assert got["id"] == user_id
    assert got["preferred_email"] == email
    assert got["username"] == username
    assert (got["first_name"], got["last_name"]) == ("Grace", "Hopper")
    assert got["is_suspended"] is False
    assert {(i["type"], i["identity"]) for i in got["identities"]} == {
        ("email", email),
        ("username", username),
    }
    listed = mg.users_by_email(email)
    assert [u["id"] for u in listed] == [user_id]
    assert listed[0]["email"] == email
    body = mg.ok("GET", "/users", params={"username": username.upper()})
    assert [u["id"] for u in body["users"]] == [user_id]
    body = mg.ok("GET", "/users", params={"user_id": user_id, "expand": "identities"})
    assert [u["id"] for u in body["users"]] == [user_id]

    patched = mg.ok(
        "PATCH",
        "/user",
        params={"id": user_id},
        json={"given_name": "Amazing", "is_suspended": True, "picture": "https://pic.example"},
    )
    assert patched["id"] == user_id
    assert patched["given_name"] == "Amazing"
    assert patched["family_name"] == "Hopper"
    assert patched["is_suspended"] is True
    assert patched["email"] == email
    got = mg.ok("GET", "/user", params={"id": user_id})
    assert got["first_name"] == "Amazing"
    assert got["last_name"] == "Hopper"
    assert got["is_suspended"] is True
    assert got["picture"] == "https://pic.example"

    deleted = mg.ok("DELETE", "/user", params={"id": user_id})
    assert deleted["code"] == "USER_DELETED"
    assert_error(mg.request("GET", "/user", params={"id": user_id}))
    assert_error(mg.request("DELETE", "/user", params={"id": user_id}))
    assert_error(mg.request("PATCH", "/user", params={"id": user_id}, json={"given_name": "x"}))
    assert mg.users_by_email(email) == []
    # The email and username are free again.
    again = mg.ok(
        "POST",
        "/user",
        json={
            "identities": [
                {"type": "email", "details": {"email": email}},
                {"type": "username", "details": {"username": username}},
            ]
        },
    )
    assert again["id"] != user_id
    assert [u["id"] for u in mg.users_by_email(email)] == [again["id"]]


def test_user_query_id_required(mg: Mgmt) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"given_name": "x"}} if method == "PATCH" else {}
        assert_error(mg.request(method, "/user", **kwargs), 400)
    assert_error(mg.request("GET", "/user", params={"id": "kp_" + "0" * 32}))


@pytest.mark.parametrize(
    "variant",
    [
        lambda e: e.upper(),
        lambda e: e[0].upper() + e[1:],
        lambda e: f"  {e}  ",
        lambda e: f"\t{e.upper()} ",
    ],
    ids=["upper", "capitalized", "spaces", "tab-upper"],
)
def test_duplicate_email_is_refused(mg: Mgmt, variant: Callable[[str], str]) -> None:
    email = unique_email("dup")
    first = mg.create_user(email)
    resp = mg.request(
        "POST",
        "/user",
        json={"identities": [{"type": "email", "details": {"email": variant(email)}}]},
    )
    assert_error(resp, None, "USER_ALREADY_EXISTS")
    assert [u["id"] for u in mg.users_by_email(email)] == [first]


def test_duplicate_identity_inside_one_request(mg: Mgmt) -> None:
    email = unique_email("twice")
    resp = mg.request(
        "POST",
        "/user",
        json={
            "identities": [
                {"type": "email", "details": {"email": email}},
                {"type": "email", "details": {"email": email.upper()}},
            ]
        },
    )
    assert_error(resp, 400, "DUPLICATE_IDENTITY")
    assert mg.users_by_email(email) == []


def test_failed_second_identity_writes_nothing(mg: Mgmt) -> None:
    """The second identity collides with another user: the whole create is undone."""
    taken = unique_email("taken")
    other = mg.create_user(taken)
    fresh = unique_email("fresh")
    resp = mg.request(
        "POST",
        "/user",
        json={
            "identities": [
                {"type": "email", "details": {"email": fresh}},
                {"type": "username", "details": {"username": f"u{uid()}"}},
                {"type": "email", "details": {"email": taken}},
            ]
        },
    )
    assert_error(resp, None, "USER_ALREADY_EXISTS")
    assert mg.users_by_email(fresh) == []
    assert [u["id"] for u in mg.users_by_email(taken)] == [other]
    # ...and the fresh email can still be used.
    mg.create_user(fresh)


def _email_identity(email: str) -> list[dict[str, Any]]:
    return [{"type": "email", "details": {"email": email}}]


INVALID_CREATES: list[tuple[str, Callable[[str], Any], str]] = [
    (
        "email-255-chars",
        lambda e: {
            "identities": _email_identity(
                "a" * (255 - len(e.split("@")[1]) - 1) + "@" + e.split("@")[1]
            )
        },
        "EMAIL_TOO_LONG",
    ),
    (
        "given-name-65",
        lambda e: {"profile": {"given_name": "g" * 65}, "identities": _email_identity(e)},
        "FIRST_NAME_TOO_LONG",
    ),
    (
        "family-name-65",
        lambda e: {"profile": {"family_name": "f" * 65}, "identities": _email_identity(e)},
        "LAST_NAME_TOO_LONG",
    ),
    (
        "identities-object",
        lambda e: {"identities": {"type": "email", "details": {"email": e}}},
        "INVALID_IDENTITIES",
    ),
    ("identities-string", lambda e: {"identities": e}, "INVALID_IDENTITIES"),
    ("identities-empty-object", lambda e: {"identities": {}}, "INVALID_IDENTITIES"),
    ("identities-empty-string", lambda e: {"identities": ""}, "INVALID_IDENTITIES"),
    ("identities-false", lambda e: {"identities": False}, "INVALID_IDENTITIES"),
    ("identities-zero", lambda e: {"identities": 0}, "INVALID_IDENTITIES"),
    (
        "given-name-number",
        lambda e: {"profile": {"given_name": 123}, "identities": _email_identity(e)},
        "INVALID_FIRST_NAME",
    ),
    (
        "profile-string",
        lambda e: {"profile": "Ada", "identities": _email_identity(e)},
        "INVALID_PROFILE",
    ),
    (
        "is-verified-string",
        lambda e: {
            "identities": [{"type": "email", "is_verified": "yes", "details": {"email": e}}]
        },
        "INVALID_IS_VERIFIED",
    ),
    (
        "provided-id-number",
        lambda e: {"provided_id": 7, "identities": _email_identity(e)},
        "INVALID_PROVIDED_ID",
    ),
    (
        "identity-type-unknown",
        lambda e: {"identities": [{"type": "fax", "details": {"email": e}}]},
        "INVALID_IDENTITY_TYPE",
    ),
    (
        "details-list",
        lambda e: {"identities": [{"type": "email", "details": [e]}]},
        "INVALID_DETAILS",
    ),
    (
        "identity-not-object",
        lambda e: {"identities": [e]},
        "INVALID_IDENTITY",
    ),
    (
        "email-not-an-address",
        lambda e: {"identities": _email_identity(e.replace("@", "-at-"))},
        "INVALID_EMAIL",
    ),
    (
        "email-number",
        lambda e: {"identities": [{"type": "email", "details": {"email": 42}}]},
        "EMAIL_REQUIRED",
    ),
    (
        "valid-email-then-bad-phone",
        lambda e: {
            "identities": _email_identity(e) + [{"type": "phone", "details": {"phone": "call me"}}]
        },
        "INVALID_PHONE",
    ),
    (
        "valid-email-then-bad-username",
        lambda e: {
            "identities": _email_identity(e)
            + [{"type": "username", "details": {"username": "has space"}}]
        },
        "INVALID_USERNAME",
    ),
    (
        "organization-unknown",
        lambda e: {"organization_code": "org_nope", "identities": _email_identity(e)},
        None,  # an unknown organization: any specific 4xx code
    ),
]


@pytest.mark.parametrize(
    ("maker", "code"),
    [(m, c) for _, m, c in INVALID_CREATES],
    ids=[name for name, _, _ in INVALID_CREATES],
)
def test_invalid_create_writes_nothing(
    mg: Mgmt, maker: Callable[[str], Any], code: str | None
) -> None:
    email = unique_email("invalid")
    body = maker(email)
    resp = mg.request("POST", "/user", json=body)
    assert_error(resp, 400, code)
    assert mg.users_by_email(email) == []
    if isinstance(body.get("identities"), list):
        for ident in body["identities"]:
            details = ident.get("details") if isinstance(ident, dict) else None
            value = details.get("email") if isinstance(details, dict) else None
            if isinstance(value, str) and "@" in value:
                assert mg.users_by_email(value.strip()) == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"identities": [', "INVALID_JSON"),
        (b"not json", "INVALID_JSON"),
        (b"[]", "INVALID_BODY"),
        (b'"a string"', "INVALID_BODY"),
        (b"42", "INVALID_BODY"),
        (b"null", "INVALID_BODY"),
        (b"\xff\xfe", "INVALID_JSON"),
    ],
)
def test_create_user_bad_json(mg: Mgmt, content: bytes, code: str) -> None:
    resp = mg.request(
        "POST", "/user", content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(resp, 400, code)


def test_create_user_json_array_of_identity_writes_nothing(mg: Mgmt) -> None:
    email = unique_email("array")
    resp = mg.request("POST", "/user", json=[{"identities": _email_identity(email)}])
    assert_error(resp, 400, "INVALID_BODY")
    assert mg.users_by_email(email) == []


def test_invalid_patch_changes_nothing(mg: Mgmt) -> None:
    email = unique_email("patch")
    user_id = mg.create_user(email, given_name="Keep", family_name="Same")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"json": {"given_name": "g" * 65}}, "FIRST_NAME_TOO_LONG"),
        ({"json": {"given_name": "ok", "family_name": "f" * 65}}, "LAST_NAME_TOO_LONG"),
        ({"json": {"given_name": "ok", "is_suspended": "yes"}}, "INVALID_IS_SUSPENDED"),
        ({"json": {"given_name": 5}}, "INVALID_FIRST_NAME"),
        ({"json": ["given_name"]}, "INVALID_BODY"),
        ({"content": b"{bad", "headers": {"Content-Type": "application/json"}}, "INVALID_JSON"),
        ({"content": b"", "headers": {"Content-Type": "application/json"}}, "BODY_REQUIRED"),
    ]
    for kwargs, code in cases:
        resp = mg.request("PATCH", "/user", params={"id": user_id}, **kwargs)
        assert_error(resp, 400, code)
    got = mg.ok("GET", "/user", params={"id": user_id})
    assert (got["first_name"], got["last_name"], got["is_suspended"]) == ("Keep", "Same", False)


def test_concurrent_creates_of_one_email(server: KindlingServer, mg: Mgmt) -> None:
    email = unique_email("race")
    token = token_for(server)
    barrier = threading.Barrier(20)
    results: list[httpx.Response | BaseException] = [None] * 20  # type: ignore[list-item]

    def create(i: int) -> None:
        try:
            with server.client() as http:
                body = {"identities": _email_identity(email if i % 2 else email.upper())}
                barrier.wait(timeout=30)
                results[i] = http.post(
                    BASE + "/user", json=body, headers={"Authorization": f"Bearer {token}"}
                )
        except BaseException as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert len(responses) == 20, results
    statuses = [r.status_code for r in responses]
    assert 500 not in statuses, [r.text for r in responses]
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1, statuses
    CONTRACT.validate_response("POST", BASE + "/user", 200, ok[0].json())
    failures = [r for r in responses if r.status_code != 200]
    assert len({r.status_code for r in failures}) == 1, statuses
    codes = {assert_error(r) for r in failures}
    assert codes == {"USER_ALREADY_EXISTS"}
    listed = mg.users_by_email(email)
    assert [u["id"] for u in listed] == [ok[0].json()["id"]]


# --- APIs -------------------------------------------------------------------


def test_api_scope_grant_flow_reaches_the_token_endpoint(server: KindlingServer, mg: Mgmt) -> None:
    api_id, audience = mg.create_api()
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert detail["api"]["id"] == api_id
    assert detail["api"]["audience"] == audience
    assert detail["api"]["is_management_api"] is False
    assert detail["api"]["scopes"] == [] and detail["api"]["applications"] == []

    read_id = mg.add_scope(api_id, "read:things")
    write_id = mg.add_scope(api_id, "write:things")
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert detail["api"]["scopes"] == [
        {"id": read_id, "key": "read:things"},
        {"id": write_id, "key": "write:things"},
    ]

    app = mg.create_app()
    # Not yet authorized for the audience.
    resp = token_request(server, app["client_id"], app["client_secret"], audience)
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client", resp.text

    changes = mg.connect(api_id, app["id"])
    assert changes["applications_connected"] == [app["id"]]
    assert changes["applications_disconnected"] == []
    # Connecting twice changes nothing.
    assert mg.connect(api_id, app["id"])["applications_connected"] == []
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert [(a["id"], a["type"]) for a in detail["api"]["applications"]] == [
        (app["id"], "Machine to machine (M2M)")
    ]
    assert issued_scope(server, app, audience) == ""

    mg.grant(api_id, app["id"], write_id)
    assert issued_scope(server, app, audience) == "write:things"
    # Granting again is harmless.
    mg.grant(api_id, app["id"], write_id)
    assert issued_scope(server, app, audience) == "write:things"
    # Asking for a scope that was not granted is refused.
    with server.client() as http:
        resp = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "audience": audience,
                "scope": "read:things",
            },
        )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope", resp.text

    mg.grant(api_id, app["id"], write_id, granted=False)
    assert issued_scope(server, app, audience) == ""

    changes = mg.connect(api_id, app["id"], remove=True)
    assert changes["applications_disconnected"] == [app["id"]]
    assert changes["applications_connected"] == []
    resp = token_request(server, app["client_id"], app["client_secret"], audience)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "unauthorized_client"
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert detail["api"]["applications"] == []
    # Granting to an app that is no longer authorized is refused.
    resp = mg.request("POST", f"/apis/{api_id}/applications/{app['id']}/scopes/{read_id}")
    assert_error(resp, 400, "APPLICATION_NOT_AUTHORIZED")


def test_disconnect_drops_grants(server: KindlingServer, mg: Mgmt) -> None:
    """Reconnecting after a disconnect starts with no scopes."""
    api_id, audience = mg.create_api()
    scope_id = mg.add_scope(api_id, "use")
    app = mg.create_app()
    mg.connect(api_id, app["id"])
    mg.grant(api_id, app["id"], scope_id)
    assert issued_scope(server, app, audience) == "use"
    mg.connect(api_id, app["id"], remove=True)
    mg.connect(api_id, app["id"])
    assert issued_scope(server, app, audience) == ""


def test_apis_listing_includes_new_api(mg: Mgmt) -> None:
    api_id, audience = mg.create_api()
    scope_id = mg.add_scope(api_id, "listed")
    apis = mg.all_pages("/apis", "apis", {"expand": "scopes"})
    ids = [a["id"] for a in apis]
    assert len(ids) == len(set(ids))
    mine = [a for a in apis if a["id"] == api_id]
    assert len(mine) == 1
    assert mine[0]["audience"] == audience
    assert mine[0]["scopes"] == [{"id": scope_id, "key": "listed"}]
    assert sum(1 for a in apis if a["is_management_api"]) == 1
    plain = mg.ok("GET", "/apis", params={"page_size": 500})
    assert all("scopes" not in a for a in plain["apis"])
    assert_error(mg.request("GET", "/apis", params={"expand": "nope"}), 400, "INVALID_EXPAND")


def test_duplicate_audience(mg: Mgmt) -> None:
    api_id, audience = mg.create_api()
    resp = mg.request("POST", "/apis", json={"name": "again", "audience": audience})
    assert_error(resp, None, "AUDIENCE_EXISTS")
    resp = mg.request("POST", "/apis", json={"name": "again", "audience": f"  {audience} "})
    assert_error(resp, None, "AUDIENCE_EXISTS")
    same = [a for a in mg.all_pages("/apis", "apis") if a["audience"] == audience]
    assert [a["id"] for a in same] == [api_id]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "n"}, "AUDIENCE_REQUIRED"),
        ({"audience": "urn:x"}, "NAME_REQUIRED"),
        ({"name": "n", "audience": "has space"}, "INVALID_AUDIENCE"),
        ({"name": 1, "audience": "urn:y"}, "INVALID_NAME"),
    ],
)
def test_invalid_api(mg: Mgmt, body: dict[str, Any], code: str) -> None:
    assert_error(mg.request("POST", "/apis", json=body), 400, code)


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("read things", "INVALID_KEY"),
        ("read\tthings", "INVALID_KEY"),
        ('say"hi', "INVALID_KEY"),
        ("", "KEY_REQUIRED"),
        (None, "KEY_REQUIRED"),
        (5, "INVALID_KEY"),
        ("k" * 129, "KEY_TOO_LONG"),
    ],
)
def test_invalid_scope_key(mg: Mgmt, key: Any, code: str) -> None:
    api_id, _ = mg.create_api()
    body = {} if key is None else {"key": key}
    resp = mg.request("POST", f"/apis/{api_id}/scopes", json=body)
    assert_error(resp, 400, code)
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert detail["api"]["scopes"] == []


def test_duplicate_scope_key(mg: Mgmt) -> None:
    api_id, _ = mg.create_api()
    first = mg.add_scope(api_id, "dup:key")
    assert_error(
        mg.request("POST", f"/apis/{api_id}/scopes", json={"key": "dup:key"}),
        None,
        "SCOPE_EXISTS",
    )
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert detail["api"]["scopes"] == [{"id": first, "key": "dup:key"}]


def test_unknown_api_id(mg: Mgmt) -> None:
    app = mg.create_app()
    bogus = uuid.uuid4().hex
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/apis/{bogus}", {}),
        ("POST", f"/apis/{bogus}/scopes", {"json": {"key": "k"}}),
        ("PATCH", f"/apis/{bogus}/applications", {"json": {"applications": [{"id": app["id"]}]}}),
        ("POST", f"/apis/{bogus}/applications/{app['id']}/scopes/api_scope_x", {}),
        ("DELETE", f"/apis/{bogus}/applications/{app['id']}/scopes/api_scope_x", {}),
    ]
    for method, path, kwargs in calls:
        assert_error(mg.request(method, path, **kwargs), None, "API_NOT_FOUND")


def test_unknown_application_or_scope(mg: Mgmt) -> None:
    api_id, _ = mg.create_api()
    scope_id = mg.add_scope(api_id, "s")
    app = mg.create_app()
    bogus_app = uuid.uuid4().hex
    resp = mg.request(
        "PATCH",
        f"/apis/{api_id}/applications",
        json={"applications": [{"id": app["id"]}, {"id": bogus_app}]},
    )
    assert_error(resp, None, "APPLICATION_NOT_FOUND")
    # All or nothing: the known app was not connected either.
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{api_id}")
    assert detail["api"]["applications"] == []
    mg.connect(api_id, app["id"])
    resp = mg.request("POST", f"/apis/{api_id}/applications/{app['id']}/scopes/api_scope_nope")
    assert_error(resp, None, "SCOPE_NOT_FOUND")
    resp = mg.request("POST", f"/apis/{api_id}/applications/{bogus_app}/scopes/{scope_id}")
    assert_error(resp, None, "APPLICATION_NOT_AUTHORIZED")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"applications": []},
        {"applications": "x"},
        {"applications": [{}]},
        {"applications": [{"id": 5}]},
        {"applications": [{"id": "a", "operation": "remove"}]},
    ],
)
def test_invalid_api_applications_body(mg: Mgmt, body: dict[str, Any]) -> None:
    api_id, _ = mg.create_api()
    assert_error(mg.request("PATCH", f"/apis/{api_id}/applications", json=body), 400)


# --- applications -----------------------------------------------------------


def test_create_application_then_token(server: KindlingServer, mg: Mgmt) -> None:
    name = f"app-{uid()}"
    resp = mg.request("POST", "/applications", json={"name": name, "type": "m2m"})
    assert resp.status_code == 201, resp.text
    CONTRACT.validate_response("POST", BASE + "/applications", 201, resp.json())
    body = resp.json()
    assert body["code"] == "APPLICATION_CREATED"
    app = body["application"]
    assert app["client_id"] == app["id"]
    assert isinstance(app["client_secret"], str) and len(app["client_secret"]) >= 32

    listed = [a for a in mg.all_pages("/applications", "applications") if a["id"] == app["id"]]
    assert listed == [{"id": app["id"], "name": name, "type": "m2m"}]
    got = mg.ok("GET", "/applications/{application_id}", f"/applications/{app['id']}")
    assert got["application"]["id"] == app["id"]
    assert got["application"]["name"] == name
    assert got["application"]["client_id"] == app["id"]
    assert "client_secret" not in got["application"]

    # Not authorized for the Management API yet.
    resp = token_request(server, app["client_id"], app["client_secret"], server.audience)
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client", resp.text
    # Authorize it for the Management API with one scope: it can read users, nothing else.
    mgmt_api = mg.management_api_id()
    detail = mg.ok("GET", "/apis/{api_id}", f"/apis/{mgmt_api}")
    read_users = next(s["id"] for s in detail["api"]["scopes"] if s["key"] == "read:users")
    mg.connect(mgmt_api, app["id"])
    mg.grant(mgmt_api, app["id"], read_users)
    assert issued_scope(server, app, server.audience) == "read:users"
    token = server.token(client_id=app["client_id"], client_secret=app["client_secret"])
    mg.ok("GET", "/users", params={"page_size": 1}, token=token)
    assert_error(mg.request("POST", "/user", json={}, token=token), 403, "INSUFFICIENT_SCOPE")
    # A wrong secret is refused.
    resp = token_request(server, app["client_id"], "wrong-" + app["client_secret"], server.audience)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client", resp.text
    mg.connect(mgmt_api, app["id"], remove=True)


def test_application_types(mg: Mgmt) -> None:
    for type_ in ("m2m", "reg", "spa", "device"):
        app = mg.create_app(type_)
        got = mg.ok("GET", "/applications/{application_id}", f"/applications/{app['id']}")
        assert got["application"]["type"] == type_


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "NAME", "type": "bogus"}, "INVALID_APPLICATION_TYPE"),
        ({"name": "NAME", "type": "M2M"}, "INVALID_APPLICATION_TYPE"),
        ({"name": "NAME", "type": ["m2m"]}, "INVALID_APPLICATION_TYPE"),
        ({"name": "NAME"}, "TYPE_REQUIRED"),
        ({"type": "m2m"}, "NAME_REQUIRED"),
        ({"name": "   ", "type": "m2m"}, "NAME_REQUIRED"),
        ({"name": 12, "type": "m2m"}, "INVALID_NAME"),
    ],
)
def test_invalid_application(mg: Mgmt, body: dict[str, Any], code: str) -> None:
    name = f"bad-app-{uid()}"
    if body.get("name") == "NAME":
        body = dict(body, name=name)
    assert_error(mg.request("POST", "/applications", json=body), 400, code)
    assert all(a["name"] != name for a in mg.all_pages("/applications", "applications"))


def test_unknown_application(mg: Mgmt) -> None:
    resp = mg.request("GET", f"/applications/{uuid.uuid4().hex}")
    assert_error(resp, None, "APPLICATION_NOT_FOUND")
    assert_error(mg.request("GET", "/applications", params={"sort": "x"}), 400, "INVALID_SORT")


def _page_through(
    mg: Mgmt, path: str, key: str, params: dict[str, Any], size: int
) -> list[dict[str, Any]]:
    """Follow next_token to the end; every token the server issued must be accepted."""
    items: list[dict[str, Any]] = []
    query = dict(params, page_size=size)
    for _ in range(5000):
        resp = mg.request("GET", path, params=query)
        assert resp.status_code == 200, (
            f"page {len(items) // size + 1} refused its own next_token",
            query.get("next_token"),
            resp.text,
        )
        body = resp.json()
        CONTRACT.validate_response("GET", BASE + path, 200, body)
        assert 1 <= len(body[key]) <= size or ("next_token" not in body and not items)
        items.extend(body[key])
        if "next_token" not in body:
            return items
        query["next_token"] = body["next_token"]
    raise AssertionError("pagination did not end")


def test_applications_listing_pages_without_duplicates(mg: Mgmt) -> None:
    for _ in range(3):
        mg.create_app()
    whole = mg.ok("GET", "/applications", params={"page_size": 500})
    assert "next_token" not in whole
    expected = [a["id"] for a in whole["applications"]]
    paged = [a["id"] for a in _page_through(mg, "/applications", "applications", {}, 2)]
    assert paged == expected
    assert len(paged) == len(set(paged))


def test_applications_sorted_by_name_page_consistently(mg: Mgmt) -> None:
    tag = uid()
    for name in (f"zz-{tag}", f"AA-{tag}", f"mm-{tag}", f"mm-{tag}", f"b.b-{tag}"):
        mg.ok("POST", "/applications", json={"name": name, "type": "spa"})
    everything = {a["id"] for a in mg.all_pages("/applications", "applications")}
    orders: dict[str, list[str]] = {}
    for sort in ("name_asc", "name_desc"):
        whole = mg.ok("GET", "/applications", params={"page_size": 500, "sort": sort})
        assert "next_token" not in whole
        single = [a["id"] for a in whole["applications"]]
        for size in (1, 3):
            paged = _page_through(mg, "/applications", "applications", {"sort": sort}, size)
            assert [a["id"] for a in paged] == single, (sort, size)
        assert len(single) == len(set(single)) and set(single) == everything
        orders[sort] = single
    assert orders["name_desc"] == orders["name_asc"][::-1]
    # A cursor of one ordering is refused by another.
    asc = mg.ok("GET", "/applications", params={"page_size": 1, "sort": "name_asc"})
    for params in ({"sort": "name_desc"}, {}):
        resp = mg.request(
            "GET", "/applications", params=dict(params, page_size=1, next_token=asc["next_token"])
        )
        assert_error(resp, 400, "INVALID_NEXT_TOKEN")


def test_every_issued_next_token_is_accepted(mg: Mgmt) -> None:
    """Page one user at a time: each of the ~60 tokens the server hands out must work."""
    domain = f"tok-{uid()}.example.com"
    emails = [f"t{i:02d}-{uid()}@{domain}" for i in range(60)]
    ids = [mg.create_user(e) for e in emails]
    paged = _page_through(mg, "/users", "users", {"email": ",".join(emails)}, 1)
    assert [u["id"] for u in paged] == ids


def test_next_token_codec_round_trips() -> None:
    """Every cursor the codec issues decodes again (the MAC is binary and may hold a '.')."""
    codec = CursorCodec(bytes(range(32)))
    refused: list[object] = []
    for position in range(1, 3001):
        try:
            assert codec.decode("users|", codec.encode("users|", position)) == position
        except ValidationError:
            refused.append(position)
    for n in range(1, 1001):
        keyed = (f"app.{n}", n)
        try:
            assert codec.decode_keyed("k", codec.encode("k", keyed)) == keyed
        except ValidationError:
            refused.append(keyed)
    assert refused == [], f"{len(refused)} issued cursors refused, e.g. {refused[:5]}"


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"[" * 20000 + b"]" * 20000, "application/json", "INVALID_JSON"),
        (b'{"name": 1e400}', "application/json", "INVALID_JSON"),
        (b'{"name": "x", "audience": "urn:x"}', "text/plain", "INVALID_CONTENT_TYPE"),
    ],
)
def test_hostile_json_bodies_are_400_not_500(
    server: KindlingServer, content: bytes, content_type: str, code: str
) -> None:
    with server.client() as http:
        response = http.post(
            "/api/v1/apis",
            content=content,
            headers={"Authorization": f"Bearer {server.token()}", "Content-Type": content_type},
        )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == code
