"""Organizations (core) against a real ``kindling serve`` on both engines.

Every operation: its exact 2xx and a contract-valid body, 403 without its scope,
bad input (400 with a code, nothing written), unknown organizations, and the
integrity rules (unique handles, all-or-nothing creates, cascading deletes).
Connections have no API of their own yet, so they are inserted through the
storage layer (``uow[ORGANIZATIONS_REPO].add_connection``) on the server's database.
"""

from __future__ import annotations

import re
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from kindling.context import open_storage
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.errors import ValidationError
from kindling.platform.ids import connection_id
from kindling.platform.storage import Storage
from kindling.resources.organizations import routes
from kindling.resources.organizations.model import Connection, Organization
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.organizations.routes import multipart_fields
from kindling.resources.organizations.service import sniff_image
from tests.contract.contract import load_contract
from tests.support import KindlingServer, error_code, token_for

CONTRACT = load_contract()
BASE = "/api/v1"
NOW = "2024-01-01T00:00:00+00:00"
ORG_CODE = re.compile(r"org_[0-9a-f]{11}")


def uid() -> str:
    return uuid.uuid4().hex[:12]


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00"
    b"/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- logo -->\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect/></svg>'
)


# --- helpers ---------------------------------------------------------------------


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    return error_code(resp, status, code)


class Api:
    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.token = token_for(server)

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        headers.update(kwargs.pop("headers", {}))
        return self.http.request(method, BASE + path, headers=headers, **kwargs)

    def ok(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        """Call; assert the contract's 2xx (200 here) and a contract-valid body."""
        resp = self.request(method, path or template, **kwargs)
        assert resp.status_code == 200, (method, path or template, resp.text)
        if CONTRACT.response_schema(method, BASE + template, 200) is None:
            # The spec's 200 has no body: none is sent, and no JSON content type either.
            assert resp.content == b"" and "content-type" not in resp.headers, resp.headers
            return None
        assert resp.headers["content-type"].startswith("application/json")
        body = resp.json()
        CONTRACT.validate_response(method, BASE + template, resp.status_code, body)
        return body

    def create(self, name: str | None = None, **fields: Any) -> str:
        body = self.ok("POST", "/organization", json={"name": name or f"org-{uid()}", **fields})
        code = body["organization"]["code"]
        assert ORG_CODE.fullmatch(code), code
        return str(code)

    def get(self, code: str, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.ok("GET", "/organization", params={"code": code, **params})
        return body

    def upload(
        self, code: str, type_: str, data: bytes, filename: str = "logo.png", **kwargs: Any
    ) -> httpx.Response:
        return self.request(
            "POST",
            f"/organizations/{code}/logos/{type_}",
            files={"logo": (filename, data, "image/png")},
            **kwargs,
        )


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def store(server: KindlingServer) -> Iterator[Storage]:
    """The server's own database, opened beside it (SQLite WAL / PostgreSQL)."""
    opened = open_storage(server.database_url, server.data_dir, NOW)
    yield opened
    opened.close()


def stored(store: Storage, code: str) -> Organization | None:
    with store.read() as uow:
        return uow[ORGANIZATIONS_REPO].get(code)


def count(store: Storage, sql: str, *params: object) -> int:
    with store.engine.session(write=False) as session:
        row = session.one(sql, params)
    assert row is not None
    return int(row["n"])


def add_connection(store: Storage, name: str | None = None) -> Connection:
    conn = Connection(
        id=connection_id(),
        name=name or f"conn-{uid()}",
        display_name="Test connection",
        strategy="oauth2:google",
        created_on=NOW,
    )
    with store.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(conn)
    return conn


def add_flag(store: Storage, type_: str, level: str | None, default: str) -> str:
    key = f"flag_{uid()}"
    with store.engine.session(write=True) as session:
        session.execute(
            "INSERT INTO feature_flags (id, key, name, type, allow_override_level, "
            "default_value, created_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("flag_" + uuid.uuid4().hex, key, key, type_, level, default, NOW),
        )
    return key


# --- the routes versus the contract ---------------------------------------------

OPERATIONS = {
    ("GET", "/organization"),
    ("POST", "/organization"),
    ("GET", "/organizations"),
    ("PATCH", "/organization/{org_code}"),
    ("DELETE", "/organization/{org_code}"),
    ("DELETE", "/organization/{org_code}/handle"),
    ("GET", "/organizations/{org_code}/logos"),
    ("POST", "/organizations/{org_code}/logos/{type}"),
    ("DELETE", "/organizations/{org_code}/logos/{type}"),
    ("PATCH", "/organizations/{org_code}/sessions"),
    ("PUT", "/organizations/{org_code}/mfa"),
    ("GET", "/organizations/{org_code}/passkey"),
    ("PUT", "/organizations/{org_code}/passkey"),
    ("GET", "/organizations/{organization_code}/connections"),
    ("POST", "/organizations/{organization_code}/connections/{connection_id}"),
    ("DELETE", "/organizations/{organization_code}/connections/{connection_id}"),
}


def test_routes_match_the_contract() -> None:
    ops = routes.router.operations
    assert {(op.method, op.path) for op in ops} == OPERATIONS
    assert len(ops) == len(OPERATIONS)
    for op in ops:
        spec = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == spec.scope, op
        assert op.status == 200 and op.status in spec.success_codes, op
        assert op.operation_id == spec.operation_id, (op.operation_id, spec.operation_id)
        assert op.tag == spec.tag == "Organizations"
        assert {p.name for p in op.query} == {
            p["name"] for p in spec.parameters if p["in"] == "query"
        }, op
        # 404 is declared exactly where the spec lists it.
        assert (404 in op.declared_errors) == (404 in spec.error_codes), op
        assert op.body == (spec.request_body is not None), op


# --- every operation: 403 without its scope ---------------------------------------


def _concrete(path: str, code: str) -> str:
    return (
        path.replace("{org_code}", code)
        .replace("{organization_code}", code)
        .replace("{type}", "light")
        .replace("{connection_id}", "conn_0")
    )


@pytest.mark.parametrize("op", routes.router.operations, ids=lambda op: f"{op.method} {op.path}")
def test_token_without_scope_is_forbidden(
    server: KindlingServer, api: Api, store: Storage, op: Any
) -> None:
    code = api.create(handle=f"h{uid()}")
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    name = f"forbidden-{uid()}"
    kwargs: dict[str, Any] = {"params": {"code": code}}
    if op.path.endswith("/logos/{type}") and op.method == "POST":
        kwargs["files"] = {"logo": ("logo.png", png(), "image/png")}
    elif op.body:
        kwargs["json"] = {"name": name}
    resp = api.request(op.method, _concrete(op.path, code), token=narrow, **kwargs)
    assert_error(resp, 403, "INSUFFICIENT_SCOPE")
    assert f'scope="{op.scope}"' in resp.headers["www-authenticate"]
    # Nothing was done: the organization is untouched and nothing named ``name`` exists.
    after = stored(store, code)
    assert after is not None and after.handle is not None and after.name != name
    assert count(store, "SELECT count(*) AS n FROM organizations WHERE name = ?", name) == 0
    with store.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logos(code) == []
    # No token at all: 401.
    assert_error(api.http.request(op.method, BASE + _concrete(op.path, code), **kwargs), 401)


# --- create and read ------------------------------------------------------------------


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def test_create_minimal_then_get(api: Api) -> None:
    name = f"Acme {uid()}"
    body = api.ok("POST", "/organization", json={"name": name})
    assert body["code"] == "OK" and body["message"] == "Success"
    assert set(body["organization"]) == {"code"}
    code = body["organization"]["code"]
    assert ORG_CODE.fullmatch(code)
    org = api.get(code)
    assert org["code"] == code and org["name"] == name
    assert org["is_default"] is False and org["is_suspended"] is False
    assert org["is_auto_membership_enabled"] is False
    assert org["is_allow_registrations"] is False
    assert org["theme_code"] == "light" and org["color_scheme"] == "light"
    assert org["allowed_domains"] == []
    assert org["handle"] is None and org["external_id"] is None
    assert org["logo"] is None and org["logo_dark"] is None
    assert org["background_color"] is None and org["suspended_on"] is None
    assert "billing" not in org
    _iso(org["created_on"])


def test_create_with_every_field(api: Api, store: Storage) -> None:
    handle = f"acme_{uid()}"
    name = f"Acme {uid()}"
    code = api.create(
        name,
        external_id=f"ext-{uid()}",
        handle=handle,
        background_color="#0056F1",
        button_color="#fff",
        button_text_color="#000000",
        link_color="#123456",
        background_color_dark="#000",
        button_color_dark="#111111",
        button_text_color_dark="#eeeeee",
        link_color_dark="#abc",
        theme_code="user_preference",
        is_auto_membership_enabled=True,
        sender_name="Acme Mail",
        sender_email="hello@acme.example.com",
        is_create_billing_customer=False,
    )
    org = api.get(code, expand="billing")
    assert org["handle"] == handle and org["external_id"].startswith("ext-")
    assert org["background_color"] == {
        "raw": "#0056F1",
        "hex": "#0056f1",
        "hsl": "hsl(219, 100%, 47%)",
    }
    assert org["button_color"] == {"raw": "#fff", "hex": "#ffffff", "hsl": "hsl(0, 0%, 100%)"}
    assert org["button_text_color"]["hsl"] == "hsl(0, 0%, 0%)"
    assert org["link_color_dark"]["hex"] == "#aabbcc"
    assert org["theme_code"] == "user_preference" and org["color_scheme"] == "light dark"
    assert org["is_auto_membership_enabled"] is True and org["is_allow_registrations"] is True
    assert org["sender_name"] == "Acme Mail" and org["sender_email"] == "hello@acme.example.com"
    assert org["billing"] == {"agreements": []}
    # The deprecated alias sets the same switch.
    legacy = api.get(api.create(is_allow_registrations=True))
    assert legacy["is_auto_membership_enabled"] is True
    saved = stored(store, code)
    assert saved is not None and saved.settings.theme_code == "user_preference"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NAME_REQUIRED"),
        ({"name": "   "}, "NAME_REQUIRED"),
        ({"name": 5}, "INVALID_NAME"),
        ({"name": "x" * 65}, "NAME_TOO_LONG"),
        ({"background_color": "blue"}, "INVALID_BACKGROUND_COLOR"),
        ({"link_color_dark": "#12345"}, "INVALID_LINK_COLOR_DARK"),
        ({"theme_code": "neon"}, "INVALID_THEME_CODE"),
        ({"handle": "Not A Handle"}, "INVALID_HANDLE"),
        ({"handle": "h" * 65}, "HANDLE_TOO_LONG"),
        ({"external_id": "e" * 256}, "EXTERNAL_ID_TOO_LONG"),
        ({"sender_email": "nope"}, "INVALID_SENDER_EMAIL"),
        ({"sender_email": "a@" + "b" * 260}, "SENDER_EMAIL_TOO_LONG"),
        ({"sender_name": "s" * 65}, "SENDER_NAME_TOO_LONG"),
        ({"is_auto_membership_enabled": "true"}, "INVALID_IS_AUTO_MEMBERSHIP_ENABLED"),
        ({"feature_flags": ["x"]}, "INVALID_FEATURE_FLAGS"),
        ({"feature_flags": {"some_flag": "float"}}, "INVALID_FEATURE_FLAG_TYPE"),
        ({"feature_flags": {f"unknown_{uuid.uuid4().hex}": "bool"}}, "FEATURE_FLAG_NOT_FOUND"),
        ({"is_create_billing_customer": True}, "BILLING_NOT_SUPPORTED"),
    ],
)
def test_create_rejects_bad_input(
    api: Api, store: Storage, body: dict[str, Any], code: str
) -> None:
    name = f"bad-{uid()}"
    payload = {"name": name, **body} if "name" not in body and body else body
    assert_error(api.request("POST", "/organization", json=payload), 400, code)
    assert count(store, "SELECT count(*) AS n FROM organizations WHERE name = ?", name) == 0


def test_create_rejects_non_object_bodies(api: Api) -> None:
    assert_error(api.request("POST", "/organization"), 400, "BODY_REQUIRED")
    assert_error(api.request("POST", "/organization", content=b"[1]"), 400, "INVALID_BODY")
    assert_error(api.request("POST", "/organization", content=b"{"), 400, "INVALID_JSON")


def test_create_with_feature_flag_overrides(api: Api, store: Storage) -> None:
    flag = add_flag(store, "bool", "org", "true")
    other = add_flag(store, "int", "usr", "42")
    env_only = add_flag(store, "str", "env", "x")
    code = api.create(feature_flags={flag: "bool", other: "int"})
    with store.engine.session(write=False) as session:
        rows = session.all(
            "SELECT f.key, o.value FROM organization_feature_flags o "
            "JOIN feature_flags f ON f.id = o.flag_id WHERE o.org_code = ? ORDER BY f.key",
            (code,),
        )
    assert sorted((r["key"], r["value"]) for r in rows) == sorted([(flag, "true"), (other, "42")])
    # A wrong type, or a flag organizations may not override: nothing written.
    for flags, error in (
        ({flag: "str"}, "FEATURE_FLAG_TYPE_MISMATCH"),
        ({flag: "bool", env_only: "str"}, "OVERRIDE_NOT_ALLOWED"),
    ):
        name = f"flags-{uid()}"
        resp = api.request("POST", "/organization", json={"name": name, "feature_flags": flags})
        assert_error(resp, 400, error)
        assert count(store, "SELECT count(*) AS n FROM organizations WHERE name = ?", name) == 0


def test_get_organization_errors(api: Api) -> None:
    assert_error(api.request("GET", "/organization"), 400, "CODE_REQUIRED")
    assert_error(api.request("GET", "/organization", params={"code": ""}), 400, "CODE_REQUIRED")
    resp = api.request("GET", "/organization", params={"code": "org_00000000000"})
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    code = api.create()
    resp = api.request("GET", "/organization", params={"code": code, "expand": "users"})
    assert_error(resp, 400, "INVALID_EXPAND")
    resp = api.request("GET", "/organization", params=[("code", code), ("code", code)])
    assert_error(resp, 400, "REPEATED_PARAMETER")


# --- handles ----------------------------------------------------------------------------


def test_handles_are_unique(api: Api, store: Storage) -> None:
    handle = f"h-{uid()}"
    first = api.create(handle=handle)
    name = f"dup-{uid()}"
    resp = api.request("POST", "/organization", json={"name": name, "handle": handle})
    assert_error(resp, 400, "HANDLE_ALREADY_EXISTS")
    assert count(store, "SELECT count(*) AS n FROM organizations WHERE name = ?", name) == 0
    second = api.create()
    resp = api.request("PATCH", f"/organization/{second}", json={"handle": handle})
    assert_error(resp, 400, "HANDLE_ALREADY_EXISTS")
    assert api.get(second)["handle"] is None
    # Setting an organization's own handle again is fine.
    api.ok("PATCH", "/organization/{org_code}", f"/organization/{first}", json={"handle": handle})
    # Once deleted, the handle is free again.
    body = api.ok("DELETE", "/organization/{org_code}/handle", f"/organization/{first}/handle")
    assert body["code"] == "HANDLE_DELETED"
    assert api.get(first)["handle"] is None
    api.ok("PATCH", "/organization/{org_code}", f"/organization/{second}", json={"handle": handle})
    assert api.get(second)["handle"] == handle
    # Deleting an absent handle is harmless; an unknown organization is an error.
    api.ok("DELETE", "/organization/{org_code}/handle", f"/organization/{first}/handle")
    resp = api.request("DELETE", "/organization/org_00000000000/handle")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")


def test_concurrent_creates_with_one_handle(server: KindlingServer, store: Storage) -> None:
    handle = f"race-{uid()}"
    token = token_for(server)
    results: list[int] = []
    lock = threading.Lock()

    def create() -> None:
        with server.client() as http:
            resp = http.post(
                f"{BASE}/organization",
                json={"name": f"race-{uid()}", "handle": handle},
                headers={"Authorization": f"Bearer {token}"},
            )
        with lock:
            results.append(resp.status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [400] * 7, results
    assert count(store, "SELECT count(*) AS n FROM organizations WHERE handle = ?", handle) == 1


# --- listing ------------------------------------------------------------------------


def _walk(api: Api, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int], str | None]:
    """Every page of a listing: (items, page sizes, the first next_token)."""
    items: list[dict[str, Any]] = []
    sizes: list[int] = []
    first: str | None = None
    query = dict(params)
    for _ in range(10_000):
        body = api.ok("GET", "/organizations", params=query)
        items.extend(body["organizations"])
        sizes.append(len(body["organizations"]))
        if "next_token" not in body:
            return items, sizes, first
        assert isinstance(body["next_token"], str) and body["next_token"]
        first = first or body["next_token"]
        query["next_token"] = body["next_token"]
    raise AssertionError("pagination did not end")


def test_list_pages_with_next_token(api: Api) -> None:
    prefix = f"page-{uid()}"
    codes = [api.create(f"{prefix}-{i:02d}") for i in range(5)]
    everything, sizes, _ = _walk(api, {"page_size": 500})
    mine = [o for o in everything if o["name"].startswith(prefix)]
    assert [o["code"] for o in mine] == codes  # creation order
    for item in mine:
        assert item["is_default"] is False and item["handle"] is None
        assert set(item) == {
            "code",
            "name",
            "handle",
            "is_default",
            "external_id",
            "is_auto_membership_enabled",
        }
    size = max(2, len(everything) // 4)
    paged_items, sizes, _ = _walk(api, {"page_size": size})
    assert [o["code"] for o in paged_items] == [o["code"] for o in everything]
    assert all(n == size for n in sizes[:-1]) and 1 <= sizes[-1] <= size
    first = api.ok("GET", "/organizations", params={"page_size": 1})
    assert len(first["organizations"]) == 1 and "next_token" in first


def test_list_sorted_by_name(api: Api) -> None:
    prefix = f"sort-{uid()}"
    names = [f"{prefix}-{c}" for c in ("c", "a", "e", "b", "d")]
    for name in names:
        api.create(name)
    default, _, _ = _walk(api, {"page_size": 500})
    for sort, expected in (
        ("name_asc", sorted(names)),
        ("name_desc", sorted(names, reverse=True)),
        ("email_asc", sorted(names)),
        ("email_desc", sorted(names, reverse=True)),
    ):
        size = max(2, len(default) // 3)
        items, sizes, token = _walk(api, {"sort": sort, "page_size": size})
        assert [o["name"] for o in items if o["name"].startswith(prefix)] == expected, sort
        assert sorted(o["code"] for o in items) == sorted(o["code"] for o in default)
        assert all(n == size for n in sizes[:-1])
        assert token is not None
        # A token belongs to its sort.
        other = "name_asc" if sort.endswith("_desc") else "name_desc"
        resp = api.request("GET", "/organizations", params={"sort": other, "next_token": token})
        assert_error(resp, 400, "INVALID_NEXT_TOKEN")
        resp = api.request("GET", "/organizations", params={"next_token": token})
        assert_error(resp, 400, "INVALID_NEXT_TOKEN")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"sort": "created_asc"}, "INVALID_SORT"),
        ({"sort": ""}, "INVALID_SORT"),
        ({"page_size": "501"}, "PAGE_SIZE_LIMIT_EXCEEDED"),
        ({"page_size": "0"}, "INVALID_PAGE_SIZE"),
        ({"page_size": "ten"}, "INVALID_PAGE_SIZE"),
        ({"next_token": "garbage"}, "INVALID_NEXT_TOKEN"),
    ],
)
def test_list_rejects_bad_parameters(api: Api, params: dict[str, str], code: str) -> None:
    assert_error(api.request("GET", "/organizations", params=params), 400, code)


def test_list_page_size_bounds(api: Api) -> None:
    api.create()
    api.create()
    assert len(api.ok("GET", "/organizations", params={"page_size": 1})["organizations"]) == 1
    assert len(api.ok("GET", "/organizations", params={"page_size": 500})["organizations"]) <= 500
    body = api.ok("GET", "/organizations")
    assert len(body["organizations"]) <= 10


# --- update ---------------------------------------------------------------------------


def test_update_every_field(api: Api, store: Storage) -> None:
    code = api.create(sender_name="Old", sender_email="old@example.com", link_color="#fff")
    handle = f"new_{uid()}"
    body = api.ok(
        "PATCH",
        "/organization/{org_code}",
        f"/organization/{code}",
        params={"expand": "billing"},
        json={
            "name": "Renamed",
            "external_id": "ext-2",
            "handle": handle,
            "background_color": "#f00",
            "button_color": "#00ff00",
            "button_text_color": "#0000ff",
            "link_color": "",
            "background_color_dark": "#010101",
            "button_color_dark": "#020202",
            "button_text_color_dark": "#030303",
            "link_color_dark": "#040404",
            "theme_code": "dark",
            "is_auto_membership_enabled": True,
            "is_auto_join_domain_list": True,
            "allowed_domains": ["Acme.com", "https://acme.kinde.com", "acme.com"],
            "is_enable_advanced_orgs": True,
            "is_enforce_mfa": True,
            "sender_name": None,
            "sender_email": "new@example.com",
            "is_suspended": True,
        },
    )
    assert body["code"] == "ORGANIZATION_UPDATED"
    org = api.get(code)
    assert org["name"] == "Renamed" and org["external_id"] == "ext-2"
    assert org["handle"] == handle
    assert org["background_color"] == {"raw": "#f00", "hex": "#ff0000", "hsl": "hsl(0, 100%, 50%)"}
    assert org["link_color"] is None
    assert org["theme_code"] == "dark" and org["color_scheme"] == "dark"
    assert org["is_auto_membership_enabled"] is True
    assert org["allowed_domains"] == ["acme.com", "https://acme.kinde.com"]
    assert org["sender_name"] is None and org["sender_email"] == "new@example.com"
    assert org["is_suspended"] is True
    suspended_on = org["suspended_on"]
    _iso(suspended_on)
    saved = stored(store, code)
    assert saved is not None
    assert saved.settings.is_auto_join_domain_list is True
    assert saved.settings.is_enable_advanced_orgs is True
    assert saved.settings.is_enforce_mfa is True
    # Suspending again keeps the first date; unsuspending clears it.
    api.ok(
        "PATCH", "/organization/{org_code}", f"/organization/{code}", json={"is_suspended": True}
    )
    assert api.get(code)["suspended_on"] == suspended_on
    api.ok(
        "PATCH", "/organization/{org_code}", f"/organization/{code}", json={"is_suspended": False}
    )
    org = api.get(code)
    assert org["is_suspended"] is False and org["suspended_on"] is None
    # Absent fields keep their values; an empty body changes nothing.
    api.ok("PATCH", "/organization/{org_code}", f"/organization/{code}", json={"name": "Again"})
    api.ok("PATCH", "/organization/{org_code}", f"/organization/{code}")
    org = api.get(code)
    assert org["name"] == "Again" and org["handle"] == handle and org["theme_code"] == "dark"
    # allowed_domains: [] clears.
    api.ok(
        "PATCH", "/organization/{org_code}", f"/organization/{code}", json={"allowed_domains": []}
    )
    assert api.get(code)["allowed_domains"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": ""}, "NAME_REQUIRED"),
        ({"name": "n" * 65}, "NAME_TOO_LONG"),
        ({"theme_code": "blue"}, "INVALID_THEME_CODE"),
        ({"button_color": "rgb(0,0,0)"}, "INVALID_BUTTON_COLOR"),
        ({"handle": "UPPER"}, "INVALID_HANDLE"),
        ({"is_suspended": "yes"}, "INVALID_IS_SUSPENDED"),
        ({"is_enforce_mfa": 1}, "INVALID_IS_ENFORCE_MFA"),
        ({"allowed_domains": "acme.com"}, "INVALID_ALLOWED_DOMAINS"),
        ({"allowed_domains": ["has space.com"]}, "INVALID_ALLOWED_DOMAINS"),
        (
            {"allowed_domains": [f"d{i}.example.com" for i in range(101)]},
            "TOO_MANY_ALLOWED_DOMAINS",
        ),
        ({"allowed_domains": ["a" * 254]}, "ALLOWED_DOMAIN_TOO_LONG"),
        ({"sender_email": "bad"}, "INVALID_SENDER_EMAIL"),
    ],
)
def test_update_rejects_bad_input(api: Api, body: dict[str, Any], code: str) -> None:
    org_code = api.create("Before", theme_code="light")
    # A valid change next to the bad one is not applied either.
    payload = {"external_id": "changed", **body}
    resp = api.request("PATCH", f"/organization/{org_code}", json=payload)
    assert_error(resp, 400, code)
    org = api.get(org_code)
    assert org["name"] == "Before" and org["external_id"] is None
    assert org["is_suspended"] is False and org["allowed_domains"] == []


def test_update_errors(api: Api) -> None:
    resp = api.request("PATCH", "/organization/org_00000000000", json={"name": "x"})
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    code = api.create()
    resp = api.request(
        "PATCH", f"/organization/{code}", params={"expand": "users"}, json={"name": "x"}
    )
    assert_error(resp, 400, "INVALID_EXPAND")
    assert_error(api.request("PATCH", f"/organization/{code}", content=b"[]"), 400, "INVALID_BODY")


# --- delete ---------------------------------------------------------------------------


def test_delete_cascades(api: Api, store: Storage) -> None:
    code = api.create(handle=f"gone-{uid()}")
    user = api.ok(
        "POST",
        "/user",
        json={"identities": [{"type": "email", "details": {"email": f"m-{uid()}@example.com"}}]},
    )["id"]
    with store.engine.session(write=True) as session:
        session.execute(
            "INSERT INTO organization_users (org_code, user_id, joined_on) VALUES (?, ?, ?)",
            (code, user, NOW),
        )
    conn = add_connection(store)
    flag = add_flag(store, "bool", "org", "false")
    with store.engine.session(write=True) as session:
        session.execute(
            "INSERT INTO organization_feature_flags (org_code, flag_id, value) "
            "SELECT ?, id, 'true' FROM feature_flags WHERE key = ?",
            (code, flag),
        )
    assert api.upload(code, "light", png()).status_code == 200
    api.ok(
        "POST",
        "/organizations/{organization_code}/connections/{connection_id}",
        f"/organizations/{code}/connections/{conn.id}",
    )
    body = api.ok("DELETE", "/organization/{org_code}", f"/organization/{code}")
    assert body["code"] == "ORGANIZATION_DELETED"
    assert_error(api.request("GET", "/organization", params={"code": code}), 400)
    for table in (
        "organization_users",
        "organization_logos",
        "organization_connections",
        "organization_feature_flags",
    ):
        n = count(store, f"SELECT count(*) AS n FROM {table} WHERE org_code = ?", code)
        assert n == 0, table
    # The user and the connection themselves remain.
    assert api.ok("GET", "/user", params={"id": user})["id"] == user
    with store.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get_connection(conn.id) is not None
    # Deleting again: 404, as the spec declares for this operation.
    assert_error(api.request("DELETE", f"/organization/{code}"), 404, "ORGANIZATION_NOT_FOUND")


# --- logos -----------------------------------------------------------------------------


def test_logo_upload_list_replace_delete(api: Api, server: KindlingServer) -> None:
    code = api.create()
    assert (
        api.ok("GET", "/organizations/{org_code}/logos", f"/organizations/{code}/logos")["logos"]
        == []
    )
    resp = api.upload(code, "light", png())
    assert resp.status_code == 200, resp.text
    CONTRACT.validate_response(
        "POST", f"{BASE}/organizations/{{org_code}}/logos/{{type}}", 200, resp.json()
    )
    assert resp.json()["code"] == "LOGO_UPDATED"
    # The part's declared type is ignored: the bytes decide (JPEG sent as image/png).
    assert api.upload(code, "dark", JPEG, filename="dark.png").status_code == 200
    logos = api.ok("GET", "/organizations/{org_code}/logos", f"/organizations/{code}/logos")
    by_type = {logo["type"]: logo for logo in logos["logos"]}
    assert [logo["type"] for logo in logos["logos"]] == ["light", "dark"]
    assert by_type["light"]["file_name"] == "logo.png"
    assert by_type["dark"]["file_name"] == "logo_dark.jpg"
    assert by_type["light"]["path"].startswith(f"/logo?org_code={code}&cache=")
    assert by_type["dark"]["path"].startswith(f"/logo_dark?org_code={code}&cache=")
    org = api.get(code)
    assert org["logo"] == server.issuer + by_type["light"]["path"]
    assert org["logo_dark"] == server.issuer + by_type["dark"]["path"]
    # Replacing a logo changes its cache key.
    assert api.upload(code, "light", GIF, filename="x.gif").status_code == 200
    again = api.ok("GET", "/organizations/{org_code}/logos", f"/organizations/{code}/logos")
    light = next(logo for logo in again["logos"] if logo["type"] == "light")
    assert light["file_name"] == "logo.gif" and light["path"] != by_type["light"]["path"]
    # Delete: 200; again: still 200 (Kinde's "no logo found" case).
    template = "/organizations/{org_code}/logos/{type}"
    body = api.ok("DELETE", template, f"/organizations/{code}/logos/dark")
    assert body["code"] == "LOGO_DELETED"
    body = api.ok("DELETE", template, f"/organizations/{code}/logos/dark")
    assert body["code"] == "NO_LOGO_FOUND"
    assert api.get(code)["logo_dark"] is None


@pytest.mark.parametrize("data", [WEBP, SVG, b"\xef\xbb\xbf  " + SVG, GIF, JPEG])
def test_logo_formats_accepted(api: Api, store: Storage, data: bytes) -> None:
    code = api.create()
    resp = api.upload(code, "light", data)
    assert resp.status_code == 200, resp.text
    with store.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logo_data(code, "light") == data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"just some text", "INVALID_LOGO_FORMAT"),
        (b"<html><svg></svg></html>", "INVALID_LOGO_FORMAT"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "INVALID_LOGO_FORMAT",
        ),
        (b"\x89PNX\r\n", "INVALID_LOGO_FORMAT"),
        (b"", "LOGO_REQUIRED"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 1_048_577, "BODY_TOO_LARGE"),
    ],
)
def test_logo_rejected(api: Api, store: Storage, data: bytes, code: str) -> None:
    org = api.create()
    assert_error(api.upload(org, "light", data), 400, code)
    with store.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logos(org) == []


def test_logo_request_errors(api: Api) -> None:
    code = api.create()
    assert_error(api.upload(code, "medium", png()), 400, "INVALID_LOGO_TYPE")
    assert_error(api.upload("org_00000000000", "light", png()), 400, "ORGANIZATION_NOT_FOUND")
    resp = api.request(
        "POST", f"/organizations/{code}/logos/light", files={"other": ("a.png", png())}
    )
    assert_error(resp, 400, "LOGO_REQUIRED")
    resp = api.request("POST", f"/organizations/{code}/logos/light", json={"logo": "x"})
    assert_error(resp, 400, "INVALID_CONTENT_TYPE")
    resp = api.request(
        "POST",
        f"/organizations/{code}/logos/light",
        content=b"--b\r\nno headers here",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_error(resp, 400, "INVALID_MULTIPART")
    resp = api.request(
        "POST",
        f"/organizations/{code}/logos/light",
        files=[("logo", ("a.png", png())), ("logo", ("b.png", png()))],
    )
    assert_error(resp, 400, "REPEATED_PARAMETER")
    resp = api.request("DELETE", f"/organizations/{code}/logos/medium")
    assert_error(resp, 400, "INVALID_LOGO_TYPE")
    resp = api.request("DELETE", "/organizations/org_00000000000/logos/light")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    resp = api.request("GET", "/organizations/org_00000000000/logos")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")


def test_multipart_parser() -> None:
    data = png()
    body = (
        b"preamble\r\n--XyZ\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="logo"; filename="a;b.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--XyZ--\r\n"
    )
    fields = multipart_fields('multipart/form-data; boundary="XyZ"', body)
    assert fields == {"note": b"hello", "logo": data}
    # Without a header the boundary is read from the body's first line.
    assert multipart_fields(None, body[len(b"preamble\r\n") :])["logo"] == data
    for bad in (b"", b"--XyZ\r\n", b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--"):
        with pytest.raises(ValidationError):
            multipart_fields("multipart/form-data; boundary=XyZ", bad)
    with pytest.raises(ValidationError):
        multipart_fields("text/plain", body)


def test_sniff_image() -> None:
    assert sniff_image(png()) == "image/png"
    assert sniff_image(JPEG) == "image/jpeg"
    assert sniff_image(GIF) == "image/gif"
    assert sniff_image(WEBP) == "image/webp"
    assert sniff_image(SVG) == "image/svg+xml"
    assert sniff_image(b"<!DOCTYPE svg>\n<svg/>") == "image/svg+xml"
    for bad in (
        b"",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"<svgx></svgx>",
        b"<svg",
        b"<!-- unterminated <svg>",
        b"<svg onload='x'><a href='javascript:alert(1)'/></svg>",
        b"\xff\xfe<\x00s\x00v\x00g\x00",
    ):
        assert sniff_image(bad) is None, bad
    # Large hostile prologs are rejected in linear time.
    started = time.monotonic()
    assert sniff_image(b" " * 1_000_000 + b"x") is None
    assert sniff_image(b"<!---->" * 140_000 + b"x") is None
    assert time.monotonic() - started < 5


# --- policies: sessions, MFA, passkeys ---------------------------------------------------


def test_update_sessions(api: Api, store: Storage) -> None:
    code = api.create()
    template = "/organizations/{org_code}/sessions"
    body = api.ok(
        "PATCH",
        template,
        f"/organizations/{code}/sessions",
        json={
            "is_use_org_sso_session_policy": True,
            "sso_session_persistence_mode": "non_persistent",
            "is_use_org_authenticated_session_lifetime": True,
            "authenticated_session_lifetime": 86400,
        },
    )
    assert body["code"] == "SESSIONS_UPDATED"
    saved = stored(store, code)
    assert saved is not None
    s = saved.settings
    assert s.is_use_org_sso_session_policy is True
    assert s.sso_session_persistence_mode == "non_persistent"
    assert s.is_use_org_authenticated_session_lifetime is True
    assert s.authenticated_session_lifetime == 86400
    api.ok(
        "PATCH",
        template,
        f"/organizations/{code}/sessions",
        json={"is_use_org_authenticated_session_lifetime": False},
    )
    saved = stored(store, code)
    assert saved is not None
    assert saved.settings.is_use_org_authenticated_session_lifetime is False
    assert saved.settings.authenticated_session_lifetime == 86400


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"sso_session_persistence_mode": "forever"}, "INVALID_SSO_SESSION_PERSISTENCE_MODE"),
        ({"authenticated_session_lifetime": "3600"}, "INVALID_AUTHENTICATED_SESSION_LIFETIME"),
        ({"authenticated_session_lifetime": True}, "INVALID_AUTHENTICATED_SESSION_LIFETIME"),
        ({"authenticated_session_lifetime": 0}, "INVALID_AUTHENTICATED_SESSION_LIFETIME"),
        ({"authenticated_session_lifetime": 2**31}, "INVALID_AUTHENTICATED_SESSION_LIFETIME"),
        ({"is_use_org_sso_session_policy": "yes"}, "INVALID_IS_USE_ORG_SSO_SESSION_POLICY"),
        ({"is_use_org_sso_session_policy": True}, "SSO_SESSION_PERSISTENCE_MODE_REQUIRED"),
        (
            {"is_use_org_authenticated_session_lifetime": True},
            "AUTHENTICATED_SESSION_LIFETIME_REQUIRED",
        ),
    ],
)
def test_update_sessions_rejects(api: Api, store: Storage, body: dict[str, Any], code: str) -> None:
    org = api.create()
    before = stored(store, org)
    resp = api.request("PATCH", f"/organizations/{org}/sessions", json=body)
    assert_error(resp, 400, code)
    assert stored(store, org) == before


def test_update_sessions_unknown_org(api: Api) -> None:
    resp = api.request(
        "PATCH",
        "/organizations/org_00000000000/sessions",
        json={"sso_session_persistence_mode": "persistent"},
    )
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    assert_error(
        api.request("PATCH", f"/organizations/{api.create()}/sessions"), 400, "BODY_REQUIRED"
    )


def test_replace_mfa(api: Api, store: Storage) -> None:
    code = api.create()
    template = "/organizations/{org_code}/mfa"
    body = api.ok(
        "PUT",
        template,
        f"/organizations/{code}/mfa",
        json={
            "enabled_factors": ["mfa:email", "mfa:authenticator_app", "mfa:email"],
            "is_recovery_codes_enabled": False,
        },
    )
    assert body["code"] == "MFA_UPDATED"
    saved = stored(store, code)
    assert saved is not None
    assert saved.settings.mfa_enabled_factors == ("mfa:email", "mfa:authenticator_app")
    assert saved.settings.mfa_recovery_codes_enabled is False
    # Replaced, not merged; recovery codes default to on.
    api.ok("PUT", template, f"/organizations/{code}/mfa", json={"enabled_factors": ["mfa:sms"]})
    saved = stored(store, code)
    assert saved is not None
    assert saved.settings.mfa_enabled_factors == ("mfa:sms",)
    assert saved.settings.mfa_recovery_codes_enabled is True
    for bad, error in (
        ({}, "ENABLED_FACTORS_REQUIRED"),
        ({"enabled_factors": "mfa:sms"}, "INVALID_ENABLED_FACTORS"),
        ({"enabled_factors": ["mfa:carrier_pigeon"]}, "INVALID_MFA_FACTOR"),
        (
            {"enabled_factors": [], "is_recovery_codes_enabled": "no"},
            "INVALID_IS_RECOVERY_CODES_ENABLED",
        ),
    ):
        assert_error(api.request("PUT", f"/organizations/{code}/mfa", json=bad), 400, error)
    after = stored(store, code)
    assert after is not None and after.settings.mfa_enabled_factors == ("mfa:sms",)
    resp = api.request(
        "PUT", "/organizations/org_00000000000/mfa", json={"enabled_factors": ["mfa:sms"]}
    )
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")


def test_passkey_settings(api: Api) -> None:
    code = api.create()
    template = "/organizations/{org_code}/passkey"
    path = f"/organizations/{code}/passkey"
    body = api.ok("GET", template, path)
    assert body == {
        "code": "OK",
        "message": "Success",
        "enabled": False,
        "policy": "off",
        "is_override_environment_passkey_settings": False,
        "environment_policy": "off",
    }
    body = api.ok("PUT", template, path, json={"policy": "mandatory"})
    assert body["enabled"] is True and body["policy"] == "mandatory"
    assert body["is_override_environment_passkey_settings"] is True
    assert "environment_policy" not in body
    body = api.ok("GET", template, path)
    assert body["policy"] == "mandatory" and body["is_override_environment_passkey_settings"]
    body = api.ok(
        "PUT",
        template,
        path,
        json={"is_override_environment_passkey_settings": True, "policy": "off"},
    )
    assert body["enabled"] is False and body["is_override_environment_passkey_settings"] is True
    body = api.ok("PUT", template, path, json={"is_override_environment_passkey_settings": False})
    assert body["policy"] == "off" and body["is_override_environment_passkey_settings"] is False
    assert api.ok("GET", template, path)["is_override_environment_passkey_settings"] is False
    for bad, error in (
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"policy": "sometimes"}, "INVALID_POLICY"),
        ({"is_override_environment_passkey_settings": True}, "POLICY_REQUIRED"),
        ({"is_override_environment_passkey_settings": "true"}, None),
    ):
        assert_error(api.request("PUT", path, json=bad), 400, error)
    assert api.ok("GET", template, path)["policy"] == "off"
    unknown = "/organizations/org_00000000000/passkey"
    assert_error(api.request("GET", unknown), 400, "ORGANIZATION_NOT_FOUND")
    assert_error(api.request("PUT", unknown, json={"policy": "off"}), 400, "ORGANIZATION_NOT_FOUND")


# --- connections -----------------------------------------------------------------------


def test_connections_enable_list_remove(api: Api, store: Storage) -> None:
    code = api.create()
    first, second = add_connection(store, "google"), add_connection(store, "github")
    list_t = "/organizations/{organization_code}/connections"
    one_t = "/organizations/{organization_code}/connections/{connection_id}"
    body = api.ok("GET", list_t, f"/organizations/{code}/connections")
    assert body["connections"] == [] and body["has_more"] is False
    for conn in (second, first, first):  # enabling twice is harmless
        assert api.ok("POST", one_t, f"/organizations/{code}/connections/{conn.id}") is None
    body = api.ok("GET", list_t, f"/organizations/{code}/connections")
    assert [c["id"] for c in body["connections"]] == [first.id, second.id]
    item = body["connections"][0]
    assert item["connection"] == {
        "id": first.id,
        "name": "google",
        "display_name": "Test connection",
        "strategy": "oauth2:google",
    }
    assert {k: item[k] for k in ("id", "name", "display_name", "strategy")} == item["connection"]
    # Other organizations are unaffected.
    other = api.create()
    assert api.ok("GET", list_t, f"/organizations/{other}/connections")["connections"] == []
    body = api.ok("DELETE", one_t, f"/organizations/{code}/connections/{first.id}")
    assert body["code"] == "CONNECTION_REMOVED"
    api.ok("DELETE", one_t, f"/organizations/{code}/connections/{first.id}")
    body = api.ok("GET", list_t, f"/organizations/{code}/connections")
    assert [c["id"] for c in body["connections"]] == [second.id]


def test_connection_errors(api: Api, store: Storage) -> None:
    code = api.create()
    conn = add_connection(store)
    missing = "conn_" + "0" * 32
    for method in ("POST", "DELETE"):
        resp = api.request(method, f"/organizations/{code}/connections/{missing}")
        assert_error(resp, 400, "CONNECTION_NOT_FOUND")
        resp = api.request(method, f"/organizations/org_00000000000/connections/{conn.id}")
        assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    resp = api.request("GET", "/organizations/org_00000000000/connections")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    assert (
        api.ok(
            "GET",
            "/organizations/{organization_code}/connections",
            f"/organizations/{code}/connections",
        )["connections"]
        == []
    )
