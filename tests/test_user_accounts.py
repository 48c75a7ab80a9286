"""User identities, the Identities resource, sessions, MFA, passwords, claims refresh,
and the organization side of users (``organization_code``, ``expand=organizations``,
``has_organization``), against a real server on both engines.

Nothing in the Management API creates sessions or MFA factors, so the tests seed
those rows straight into the database (``db``) and read rows back the same way to
prove what was (and was not) written.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from kindling.web.app import management_operations
from tests.contract.contract import load_contract
from tests.support import KindlingServer, error_code, token_for

CONTRACT = load_contract()
BASE = "/api/v1"
BCRYPT = "$2b$10$" + "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

#: (method, path under /api/v1) of every operation this module covers.
OPERATIONS = [
    ("GET", "/users/{user_id}/identities"),
    ("POST", "/users/{user_id}/identities"),
    ("GET", "/identities/{identity_id}"),
    ("PATCH", "/identities/{identity_id}"),
    ("DELETE", "/identities/{identity_id}"),
    ("GET", "/users/{user_id}/sessions"),
    ("DELETE", "/users/{user_id}/sessions"),
    ("GET", "/users/{user_id}/mfa"),
    ("DELETE", "/users/{user_id}/mfa"),
    ("DELETE", "/users/{user_id}/mfa/{factor_id}"),
    ("PUT", "/users/{user_id}/password"),
    ("POST", "/users/{user_id}/refresh_claims"),
]


def uid() -> str:
    return uuid.uuid4().hex[:12]


def unique_email(tag: str = "u") -> str:
    return f"{tag}-{uid()}@{uid()}.example.com"


# --- helpers (shared with test_search.py and test_invites.py) -----------------------


def db(server: KindlingServer, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the server's database (committed); return its rows."""
    if server.database_url:
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []
    conn = sqlite3.connect(server.data_dir / "kindling.db", timeout=10)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return list(rows)
    finally:
        conn.close()


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    return error_code(resp, status, code)


class Api:
    """The Management API of one server, with an all-scopes token by default."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.token = token_for(server)

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.http.request(method, BASE + path, headers=headers, **kwargs)

    def ok(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        """Call; assert the contract's exact 2xx and a contract-valid body; return it."""
        resp = self.call(method, path or template, **kwargs)
        (expected,) = CONTRACT.find(method, BASE + template).success_codes
        assert resp.status_code == expected, (method, path or template, resp.text)
        body = resp.json()
        CONTRACT.validate_response(method, BASE + template, resp.status_code, body)
        return body

    def error(
        self, method: str, path: str, status: int, code: str | None = None, **kwargs: Any
    ) -> str:
        return assert_error(self.call(method, path, **kwargs), status, code)

    def create_user(self, email: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = dict(extra)
        if email is not None:
            body["identities"] = [{"type": "email", "details": {"email": email}}]
        created = self.ok("POST", "/user", json=body)
        return str(created["id"])

    def user(self, user_id: str, expand: str | None = None) -> dict[str, Any]:
        params = {"id": user_id, **({"expand": expand} if expand else {})}
        body: dict[str, Any] = self.ok("GET", "/user", params=params)
        return body

    def create_org(self) -> str:
        resp = self.call("POST", "/organization", json={"name": f"org-{uid()}"})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["organization"]["code"])

    def create_role(self, name: str | None = None) -> tuple[str, str]:
        key = f"role_{uid()}"
        resp = self.call("POST", "/roles", json={"name": name or f"Role {key}", "key": key})
        assert resp.status_code == 201, resp.text
        return key, str(resp.json()["role"]["id"])

    def identities(self, user_id: str, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(
            "GET",
            "/users/{user_id}/identities",
            f"/users/{user_id}/identities",
            params=params,
        )
        return body

    def add_identity(self, user_id: str, **body: Any) -> str:
        created = self.ok(
            "POST", "/users/{user_id}/identities", f"/users/{user_id}/identities", json=body
        )
        assert created["code"] == "OK"
        return str(created["identity"]["id"])


@pytest.fixture(name="api")
def api_fixture(server: KindlingServer) -> Any:
    client = Api(server)
    yield client
    client.close()


def seed_connection(server: KindlingServer) -> str:
    conn_id = "conn_" + uuid.uuid4().hex
    db(
        server,
        "INSERT INTO connections (id, name, strategy, options, created_on) VALUES (?, ?, ?, ?, ?)",
        (conn_id, f"google-{uid()}", "oauth2:google", "{}", "2024-01-01T00:00:00+00:00"),
    )
    return conn_id


def identity_rows(server: KindlingServer, user_id: str) -> list[tuple[Any, ...]]:
    return db(
        server,
        "SELECT type, value, is_primary FROM user_identities WHERE user_id = ? ORDER BY seq",
        (user_id,),
    )


# --- declarations -------------------------------------------------------------------


def test_operations_match_the_contract() -> None:
    declared = {(op.method, op.path): op for op in management_operations()}
    for method, path in OPERATIONS:
        op = declared[(method, path)]
        spec = CONTRACT.find(method, BASE + path)
        assert op.scope == spec.scope, (method, path)
        assert op.operation_id == spec.operation_id, (method, path)
        assert (op.status,) == spec.success_codes, (method, path)
        declared_404 = 404 in op.declared_errors
        assert declared_404 == (404 in spec.error_codes), (method, path)
        params = {p["name"] for p in spec.parameters if p["in"] == "query"}
        assert {p.name for p in op.query} == params, (method, path)
    tags = {(op.method, op.path): op.tag for op in management_operations()}
    assert tags[("GET", "/identities/{identity_id}")] == "Identities"
    assert tags[("GET", "/users/{user_id}/mfa")] == "Users"


def test_every_operation_needs_its_scope(api: Api) -> None:
    narrow = token_for(api.server, ["read:roles"])
    user_id = api.create_user(unique_email())
    for method, template in OPERATIONS:
        path = (
            template.replace("{user_id}", user_id)
            .replace("{identity_id}", "identity_x")
            .replace("{factor_id}", "mfa_x")
        )
        kwargs: dict[str, Any] = {}
        if method in ("POST", "PATCH", "PUT"):
            kwargs["json"] = {}
        resp = api.call(method, path, token=narrow, **kwargs)
        assert_error(resp, 403)
        scope = CONTRACT.find(method, BASE + template).scope
        assert scope is not None
        assert "read:roles" != scope


# --- identities ---------------------------------------------------------------------


def test_identities_list_create_get(api: Api) -> None:
    email = unique_email("ident")
    user_id = api.create_user(email)
    listing = api.identities(user_id)
    assert listing["has_more"] is False
    (first,) = listing["identities"]
    assert first["type"] == "email" and first["name"] == email and first["email"] == email
    assert first["is_primary"] is True and first["total_logins"] == 0
    assert first["id"].startswith("identity_")

    second = unique_email("Second").upper()
    second_id = api.add_identity(user_id, type="email", value=second)
    got = api.ok("GET", "/identities/{identity_id}", f"/identities/{second_id}")
    assert got["id"] == second_id and got["name"] == second and got["type"] == "email"
    assert got["is_primary"] is False and got["is_confirmed"] is False
    assert got["connection_id"] is None and "last_login_on" not in got
    assert isinstance(got["created_on"], str) and "+00:00" in got["created_on"]

    username = f"user_{uid()}"
    username_id = api.add_identity(user_id, type="username", value=username)
    phone_id = api.add_identity(
        user_id, type="phone", value="+61 400 000 000", phone_country_id="au"
    )
    got = api.ok("GET", "/identities/{identity_id}", f"/identities/{username_id}")
    assert got["is_primary"] is True and "email" not in got  # first username: primary
    user = api.user(user_id, expand="identities")
    assert user["username"] == username and user["phone"] == "+61 400 000 000"
    assert user["preferred_email"] == email
    ids = [i["id"] for i in api.identities(user_id)["identities"]]
    assert ids == [first["id"], second_id, username_id, phone_id]


def test_identity_values_are_unique_per_type(api: Api) -> None:
    email = unique_email("dup")
    owner = api.create_user(email)
    other = api.create_user(unique_email())
    before = identity_rows(api.server, other)
    path = f"/users/{other}/identities"
    api.error("POST", path, 400, "IDENTITY_ALREADY_EXISTS", json={"type": "email", "value": email})
    api.error(
        "POST",
        path,
        400,
        "IDENTITY_ALREADY_EXISTS",
        json={"type": "email", "value": "  " + email.upper() + " "},
    )
    api.error(
        "POST",
        f"/users/{owner}/identities",
        400,
        "IDENTITY_ALREADY_EXISTS",
        json={"type": "email", "value": email},
    )
    assert identity_rows(api.server, other) == before
    # The same text as another type is a different identity.
    api.add_identity(other, type="username", value=email.split("@")[0])
    # A user created later cannot take an email added as an identity.
    added = unique_email("added")
    api.add_identity(other, type="email", value=added)
    resp = api.call(
        "POST", "/user", json={"identities": [{"type": "email", "details": {"email": added}}]}
    )
    assert_error(resp, 400, "USER_ALREADY_EXISTS")


def test_identity_input_is_validated_before_writing(api: Api) -> None:
    user_id = api.create_user(unique_email())
    path = f"/users/{user_id}/identities"
    before = identity_rows(api.server, user_id)
    cases: list[tuple[Any, str]] = [
        ({}, "IDENTITY_TYPE_REQUIRED"),
        ({"type": "passkey", "value": "x"}, "INVALID_IDENTITY_TYPE"),
        ({"type": 5, "value": "x"}, "INVALID_IDENTITY_TYPE"),
        ({"type": "email"}, "VALUE_REQUIRED"),
        ({"type": "email", "value": "   "}, "VALUE_REQUIRED"),
        ({"type": "email", "value": "not-an-email"}, "INVALID_EMAIL"),
        ({"type": "email", "value": "a" * 250 + "@b.co"}, "EMAIL_TOO_LONG"),
        ({"type": "email", "value": 12}, "INVALID_VALUE"),
        ({"type": "username", "value": "has space"}, "INVALID_USERNAME"),
        ({"type": "username", "value": "u" * 65}, "INVALID_USERNAME"),
        ({"type": "phone", "value": "call me"}, "INVALID_PHONE"),
        (
            {"type": "phone", "value": "+61400000001", "phone_country_id": "australia"},
            "INVALID_PHONE_COUNTRY_ID",
        ),
        (
            {"type": "email", "value": unique_email(), "connection_id": "conn_x"},
            "CONNECTION_ID_NOT_ALLOWED",
        ),
        ({"type": "social", "value": "12345"}, "CONNECTION_ID_REQUIRED"),
        (
            {"type": "social", "value": "12345", "connection_id": "conn_nope"},
            "CONNECTION_NOT_FOUND",
        ),
        ({"type": "enterprise", "value": "x" * 256, "connection_id": "c"}, "VALUE_TOO_LONG"),
    ]
    for body, code in cases:
        api.error("POST", path, 400, code, json=body)
    api.error("POST", path, 400, "INVALID_BODY", content=b"[1]")
    api.error("POST", path, 400, "INVALID_JSON", content=b"{")
    api.error("POST", path, 400, "IDENTITY_TYPE_REQUIRED")  # the body is optional in the spec
    assert identity_rows(api.server, user_id) == before
    api.error(
        "POST",
        "/users/kp_missing/identities",
        400,
        "USER_NOT_FOUND",
        json={"type": "email", "value": unique_email()},
    )


def test_social_identities_are_unique_per_connection(api: Api) -> None:
    google, github = seed_connection(api.server), seed_connection(api.server)
    user_id = api.create_user(unique_email())
    social = api.add_identity(user_id, type="social", value="1234567", connection_id=google)
    got = api.ok("GET", "/identities/{identity_id}", f"/identities/{social}")
    assert got["type"] == "social" and got["connection_id"] == google and got["is_primary"] is True
    api.add_identity(user_id, type="social", value="1234567", connection_id=github)
    other = api.create_user(unique_email())
    api.error(
        "POST",
        f"/users/{other}/identities",
        400,
        "IDENTITY_ALREADY_EXISTS",
        json={"type": "social", "value": "1234567", "connection_id": google},
    )


def test_identity_primary_switch_and_delete(api: Api) -> None:
    first = unique_email("first")
    user_id = api.create_user(first)
    first_id = api.identities(user_id)["identities"][0]["id"]
    second = unique_email("second")
    second_id = api.add_identity(user_id, type="email", value=second)
    third_id = api.add_identity(user_id, type="email", value=unique_email("third"))

    api.ok(
        "PATCH", "/identities/{identity_id}", f"/identities/{second_id}", json={"is_primary": True}
    )
    primaries = [i["id"] for i in api.identities(user_id)["identities"] if i["is_primary"]]
    assert primaries == [second_id]
    assert api.user(user_id)["preferred_email"] == second
    listed = api.ok("GET", "/users", params={"user_id": user_id})["users"][0]
    assert listed["email"] == second
    # Idempotent; false on a non-primary one changes nothing.
    api.ok(
        "PATCH", "/identities/{identity_id}", f"/identities/{second_id}", json={"is_primary": True}
    )
    api.ok(
        "PATCH", "/identities/{identity_id}", f"/identities/{first_id}", json={"is_primary": False}
    )
    # The only primary cannot be unset; bad bodies are refused.
    path = f"/identities/{second_id}"
    api.error("PATCH", path, 400, "PRIMARY_IDENTITY_REQUIRED", json={"is_primary": False})
    api.error("PATCH", path, 400, "NO_FIELDS_TO_UPDATE", json={})
    api.error("PATCH", path, 400, "INVALID_IS_PRIMARY", json={"is_primary": "true"})
    api.error("PATCH", path, 400, "INVALID_IS_PRIMARY", json={"is_primary": None})
    api.error("PATCH", path, 400, "BODY_REQUIRED")
    api.error(
        "PATCH", "/identities/identity_nope", 400, "IDENTITY_NOT_FOUND", json={"is_primary": True}
    )
    primaries = [i["id"] for i in api.identities(user_id)["identities"] if i["is_primary"]]
    assert primaries == [second_id]

    # Deleting the primary promotes the oldest remaining identity of its type.
    api.ok("DELETE", "/identities/{identity_id}", f"/identities/{second_id}")
    api.error("GET", f"/identities/{second_id}", 400, "IDENTITY_NOT_FOUND")
    api.error("DELETE", f"/identities/{second_id}", 400, "IDENTITY_NOT_FOUND")
    remaining = api.identities(user_id)["identities"]
    assert [(i["id"], i["is_primary"]) for i in remaining] == [(first_id, True), (third_id, False)]
    assert api.user(user_id)["preferred_email"] == first
    # Deleting the last identity leaves a user without an email.
    api.ok("DELETE", "/identities/{identity_id}", f"/identities/{first_id}")
    api.ok("DELETE", "/identities/{identity_id}", f"/identities/{third_id}")
    assert api.identities(user_id)["identities"] == []
    assert "preferred_email" not in api.user(user_id)
    # The email is free again.
    api.create_user(first)


def test_identities_paginate_with_id_cursors(api: Api) -> None:
    user_id = api.create_user(unique_email("pages"))
    for n in range(13):
        api.add_identity(user_id, type="username", value=f"p{n}_{uid()}")
    first = api.identities(user_id)
    assert len(first["identities"]) == 10 and first["has_more"] is True
    ids = [i["id"] for i in first["identities"]]
    second = api.identities(user_id, starting_after=ids[-1])
    assert len(second["identities"]) == 4 and second["has_more"] is False
    later = [i["id"] for i in second["identities"]]
    assert not set(ids) & set(later)
    back = api.identities(user_id, ending_before=later[0])
    assert [i["id"] for i in back["identities"]] == ids and back["has_more"] is False
    back = api.identities(user_id, ending_before=later[-1])
    assert [i["id"] for i in back["identities"]] == ids[3:] + later[:-1]
    assert back["has_more"] is True
    path = f"/users/{user_id}/identities"
    api.error(
        "GET",
        path,
        400,
        "TOO_MANY_PARAMETERS",
        params={"starting_after": ids[0], "ending_before": ids[1]},
    )
    api.error(
        "GET", path, 400, "INVALID_STARTING_AFTER", params={"starting_after": "identity_nope"}
    )
    api.error("GET", path, 400, "INVALID_ENDING_BEFORE", params={"ending_before": "identity_nope"})
    other = api.create_user(unique_email())
    api.error(
        "GET",
        f"/users/{other}/identities",
        400,
        "INVALID_STARTING_AFTER",
        params={"starting_after": ids[0]},
    )
    api.error("GET", "/users/kp_missing/identities", 400, "USER_NOT_FOUND")


# --- sessions and MFA -----------------------------------------------------------------


def seed_session(server: KindlingServer, user_id: str, org_code: str | None = None) -> str:
    session_id = "session_" + uuid.uuid4().hex
    db(
        server,
        "INSERT INTO user_sessions (id, user_id, org_code, client_id, user_agent, ip_address, "
        "created_on, expires_on, last_active_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session_id,
            user_id,
            org_code,
            "client_abc",
            "Mozilla/5.0",
            "203.0.113.9",
            "2024-05-01T10:00:00+00:00",
            "2024-05-02T10:00:00+00:00",
            "2024-05-01T11:00:00+00:00",
        ),
    )
    return session_id


def seed_factor(server: KindlingServer, user_id: str, org_code: str | None = None) -> str:
    factor_id = "mfa_" + uuid.uuid4().hex
    db(
        server,
        "INSERT INTO user_mfa_factors (id, user_id, org_code, type, name, created_on) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (factor_id, user_id, org_code, "email", "someone@example.com", "2024-05-01T10:00:00+00:00"),
    )
    return factor_id


def test_sessions_list_and_delete(api: Api) -> None:
    user_id = api.create_user(unique_email())
    template = "/users/{user_id}/sessions"
    path = f"/users/{user_id}/sessions"
    empty = api.ok("GET", template, path)
    assert empty["sessions"] == [] and empty["has_more"] is False and empty["code"] == "OK"
    first = seed_session(api.server, user_id)
    second = seed_session(api.server, user_id, "org_0123456789a")
    other = api.create_user(unique_email())
    kept = seed_session(api.server, other)
    listed = api.ok("GET", template, path)
    assert [s["session_id"] for s in listed["sessions"]] == [first, second]
    one = listed["sessions"][0]
    assert one["user_id"] == user_id and one["client_id"] == "client_abc"
    assert one["org_code"] is None and listed["sessions"][1]["org_code"] == "org_0123456789a"
    assert one["started_on"] == "2024-05-01T10:00:00+00:00"
    assert one["updated_on"] == "2024-05-01T11:00:00+00:00"
    assert one["initial_ip_address"] == "203.0.113.9" and one["last_user_agent"] == "Mozilla/5.0"
    api.ok("DELETE", template, path)
    assert api.ok("GET", template, path)["sessions"] == []
    api.ok("DELETE", template, path)  # nothing left: still fine
    assert [
        s["session_id"] for s in api.ok("GET", template, f"/users/{other}/sessions")["sessions"]
    ] == [kept]
    api.error("GET", "/users/kp_missing/sessions", 404, "USER_NOT_FOUND")
    api.error("DELETE", "/users/kp_missing/sessions", 404, "USER_NOT_FOUND")


def test_mfa_get_and_reset(api: Api) -> None:
    user_id = api.create_user(unique_email())
    template = "/users/{user_id}/mfa"
    path = f"/users/{user_id}/mfa"
    none = api.ok("GET", template, path)
    assert "mfa" not in none and none["code"] == "OK"
    org_factor = seed_factor(api.server, user_id, "org_0123456789a")
    assert "mfa" not in api.ok("GET", template, path)  # organization factors are not shown here
    first = seed_factor(api.server, user_id)
    second = seed_factor(api.server, user_id)
    mfa = api.ok("GET", template, path)["mfa"]
    assert mfa == {
        "id": first,
        "type": "email",
        "created_on": "2024-05-01T10:00:00+00:00",
        "name": "someone@example.com",
    }
    api.error("DELETE", f"{path}/mfa_nope", 404, "MFA_FACTOR_NOT_FOUND")
    api.error("DELETE", f"{path}/{org_factor}", 404, "MFA_FACTOR_NOT_FOUND")
    api.ok("DELETE", "/users/{user_id}/mfa/{factor_id}", f"{path}/{first}")
    assert api.ok("GET", template, path)["mfa"]["id"] == second
    third = seed_factor(api.server, user_id)
    api.ok("DELETE", template, path)
    assert "mfa" not in api.ok("GET", template, path)
    left = db(api.server, "SELECT id FROM user_mfa_factors WHERE user_id = ?", (user_id,))
    assert [r[0] for r in left] == [org_factor]
    assert third not in [r[0] for r in left]
    for method, missing in (
        ("GET", "/users/kp_missing/mfa"),
        ("DELETE", "/users/kp_missing/mfa"),
        ("DELETE", f"/users/kp_missing/mfa/{org_factor}"),
    ):
        api.error(method, missing, 404, "USER_NOT_FOUND")


# --- password and claims ----------------------------------------------------------------


def password_row(server: KindlingServer, user_id: str) -> list[tuple[Any, ...]]:
    return db(
        server,
        "SELECT password_hash, hashing_method, is_temporary, hash_params "
        "FROM user_passwords WHERE user_id = ?",
        (user_id,),
    )


def test_set_password_stores_the_hash(api: Api) -> None:
    user_id = api.create_user(unique_email())
    template = "/users/{user_id}/password"
    path = f"/users/{user_id}/password"
    api.ok("PUT", template, path, json={"hashed_password": BCRYPT})
    ((hashed, method, temporary, params),) = password_row(api.server, user_id)
    assert (hashed, method, bool(temporary), params) == (BCRYPT, "bcrypt", False, "{}")
    firebase = {
        "hashed_password": "bG9uZ2VyLWJhc2U2NC1oYXNoLXZhbHVlPT0=",
        "hashing_method": "firebase-scrypt",
        "salt": "c2FsdA==",
        "signer_key": "c2lnbmVy",
        "salt_separator": "Bw==",
        "rounds": 8,
        "mem_cost": 14,
        "is_temporary_password": True,
    }
    api.ok("PUT", template, path, json=firebase)
    ((hashed, method, temporary, params),) = password_row(api.server, user_id)
    assert (hashed, method, bool(temporary)) == (
        firebase["hashed_password"],
        "firebase-scrypt",
        True,
    )
    assert '"rounds": 8' in params and '"signer_key": "c2lnbmVy"' in params
    api.ok(
        "PUT",
        template,
        path,
        json={
            "hashed_password": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "hashing_method": "sha256",
            "salt": "pepper",
            "salt_position": "suffix",
        },
    )
    ((_, method, _, params),) = password_row(api.server, user_id)
    assert method == "sha256" and '"salt_position": "suffix"' in params


def test_set_password_validates_before_writing(api: Api) -> None:
    user_id = api.create_user(unique_email())
    path = f"/users/{user_id}/password"
    api.ok("PUT", "/users/{user_id}/password", path, json={"hashed_password": BCRYPT})
    before = password_row(api.server, user_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "HASHED_PASSWORD_REQUIRED"),
        ({"hashed_password": ""}, "HASHED_PASSWORD_REQUIRED"),
        ({"hashed_password": 5}, "INVALID_HASHED_PASSWORD"),
        ({"hashed_password": "hunter2"}, "INVALID_HASHED_PASSWORD"),  # plaintext, not bcrypt
        ({"hashed_password": "has space", "hashing_method": "crypt"}, "INVALID_HASHED_PASSWORD"),
        ({"hashed_password": "x" * 1025, "hashing_method": "crypt"}, "HASHED_PASSWORD_TOO_LONG"),
        ({"hashed_password": "abc", "hashing_method": "md5"}, "INVALID_HASHED_PASSWORD"),
        ({"hashed_password": BCRYPT, "hashing_method": "rot13"}, "INVALID_HASHING_METHOD"),
        (
            {"hashed_password": "aGFzaA==", "hashing_method": "pbkdf2", "variant": "v"},
            "SALT_REQUIRED",
        ),
        (
            {"hashed_password": "aGFzaA==", "hashing_method": "pbkdf2", "salt": "cw=="},
            "VARIANT_REQUIRED",
        ),
        (
            {"hashed_password": "aGFzaA==", "hashing_method": "firebase-scrypt", "salt": "cw=="},
            "SIGNER_KEY_REQUIRED",
        ),
        ({"hashed_password": BCRYPT, "signer_key": "a2V5"}, "SIGNER_KEY_NOT_ALLOWED"),
        ({"hashed_password": BCRYPT, "rounds": 17}, "INVALID_ROUNDS"),
        ({"hashed_password": BCRYPT, "iterations": "many"}, "INVALID_ITERATIONS"),
        ({"hashed_password": BCRYPT, "salt_position": "middle"}, "INVALID_SALT_POSITION"),
        (
            {"hashed_password": "aGFzaA==", "hashing_method": "aspnet-identity-v2", "salt": "cw=="},
            "SALT_NOT_ALLOWED",
        ),
        (
            {"hashed_password": BCRYPT, "is_temporary_password": "yes"},
            "INVALID_IS_TEMPORARY_PASSWORD",
        ),
    ]
    for body, code in cases:
        api.error("PUT", path, 400, code, json=body)
    assert password_row(api.server, user_id) == before
    api.error(
        "PUT", "/users/kp_missing/password", 400, "USER_NOT_FOUND", json={"hashed_password": BCRYPT}
    )
    assert password_row(api.server, "kp_missing") == []


def test_refresh_claims(api: Api) -> None:
    user_id = api.create_user(unique_email())
    body = api.ok("POST", "/users/{user_id}/refresh_claims", f"/users/{user_id}/refresh_claims")
    assert body["code"] == "OK"
    api.error("POST", "/users/kp_missing/refresh_claims", 400, "USER_NOT_FOUND")


def test_deleting_a_user_removes_its_account_rows(api: Api) -> None:
    user_id = api.create_user(unique_email())
    api.add_identity(user_id, type="username", value=f"gone_{uid()}")
    seed_session(api.server, user_id)
    seed_factor(api.server, user_id)
    api.ok(
        "PUT",
        "/users/{user_id}/password",
        f"/users/{user_id}/password",
        json={"hashed_password": BCRYPT},
    )
    api.ok("DELETE", "/user", params={"id": user_id})
    for table in ("user_identities", "user_sessions", "user_mfa_factors", "user_passwords"):
        assert db(api.server, f"SELECT 1 FROM {table} WHERE user_id = ?", (user_id,)) == [], table


# --- users and organizations --------------------------------------------------------------


def test_create_user_in_an_organization(api: Api) -> None:
    org = api.create_org()
    email = unique_email("member")
    user_id = api.create_user(email, organization_code=org)
    assert api.user(user_id, expand="organizations")["organizations"] == [org]
    assert "organizations" not in api.user(user_id)
    listed = api.ok("GET", "/users", params={"user_id": user_id, "expand": "organizations"})
    assert listed["users"][0]["organizations"] == [org]
    loner = api.create_user(unique_email())
    listed = api.ok(
        "GET", "/users", params={"user_id": loner, "expand": "organizations,identities"}
    )
    assert listed["users"][0]["organizations"] == []
    rows = db(api.server, "SELECT org_code FROM organization_users WHERE user_id = ?", (user_id,))
    assert rows == [(org,)]


def test_create_user_with_an_unknown_organization_writes_nothing(api: Api) -> None:
    email = unique_email("orphan")
    body = {
        "organization_code": "org_doesnotexist",
        "identities": [{"type": "email", "details": {"email": email}}],
    }
    assert_error(api.call("POST", "/user", json=body), 400, "ORGANIZATION_NOT_FOUND")
    assert api.ok("GET", "/users", params={"email": email})["users"] == []
    api.create_user(email)  # the email was not taken


def test_users_filter_by_organization_membership(api: Api) -> None:
    org = api.create_org()
    member = api.create_user(unique_email(), organization_code=org)
    loner = api.create_user(unique_email())
    ids = f"{member},{loner}"

    def listed(flag: str) -> list[str]:
        body = api.ok("GET", "/users", params={"user_id": ids, "has_organization": flag})
        return [u["id"] for u in body["users"]]

    assert listed("true") == [member]
    assert listed("false") == [loner]
    all_ids = [u["id"] for u in api.ok("GET", "/users", params={"user_id": ids})["users"]]
    assert all_ids == [member, loner]
    resp = api.call("GET", "/users", params={"has_organization": "maybe"})
    assert_error(resp, 400, "INVALID_HAS_ORGANIZATION")
    # Paging keeps the filter: the cursor is bound to it.
    body = api.ok("GET", "/users", params={"has_organization": "false", "page_size": 1})
    token = body["next_token"]
    resp = api.call("GET", "/users", params={"has_organization": "true", "next_token": token})
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")
    nxt = api.ok(
        "GET", "/users", params={"has_organization": "false", "page_size": 1, "next_token": token}
    )
    assert nxt["users"] and nxt["users"][0]["id"] != body["users"][0]["id"]


def test_concurrent_identity_changes_keep_one_primary(api: Api) -> None:
    user_id = api.create_user(unique_email("race"))
    names = [f"race{n}_{uid()}" for n in range(8)]
    emails = [unique_email(f"race{n}") for n in range(8)]
    results: list[int] = []

    def add(name: str) -> None:
        with api.server.client() as http:
            resp = http.post(
                f"{BASE}/users/{user_id}/identities",
                json={"type": "username", "value": name},
                headers={"Authorization": f"Bearer {api.token}"},
            )
        results.append(resp.status_code)

    threads = [threading.Thread(target=add, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * len(names)
    email_ids = [api.add_identity(user_id, type="email", value=e) for e in emails]

    def promote(identity_id: str) -> None:
        with api.server.client() as http:
            resp = http.patch(
                f"{BASE}/identities/{identity_id}",
                json={"is_primary": True},
                headers={"Authorization": f"Bearer {api.token}"},
            )
        results.append(resp.status_code)

    results.clear()
    threads = [threading.Thread(target=promote, args=(i,)) for i in email_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * len(email_ids)
    rows = identity_rows(api.server, user_id)
    primaries = {kind: [v for k, v, p in rows if k == kind and p] for kind in ("email", "username")}
    assert len(primaries["username"]) == 1 and len(primaries["email"]) == 1
    user = api.user(user_id)
    assert user["username"] == primaries["username"][0]
    assert user["preferred_email"] == primaries["email"][0]
