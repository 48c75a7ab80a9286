"""Environment variables over HTTP on both engines: contract, scopes, secrets, validation.

A secret (``is_secret: true``) is write-only: no answer of any operation carries its
value (reads show ``value: null``), it is in no outbox row and no server log line, and
the database holds it only sealed (the raw row's ``value`` is NULL and its sealed bytes
do not contain it). Bad input is a 400 with a specific code that writes nothing. The
spec declares no 404 or 409 here, so unknown ids and taken keys are 400s.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.environment_variables import routes as variable_routes
from tests.support import KindlingServer
from tests.test_roles import BASE, CONTRACT, Api, count, database, token_for

ITEM = "/environment_variables/{variable_id}"


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def uid() -> str:
    return uuid.uuid4().hex[:12].upper()


def create(api: Api, **body: Any) -> str:
    payload = {"key": f"HTTP_{uid()}", "value": f"value-{uid()}", **body}
    created = api.ok("POST", "/environment_variables", json=payload)
    assert created["code"] == "VARIABLE_CREATED", created
    assert isinstance(created["message"], str) and created["message"]
    variable_id = created["environment_variable"]["id"]
    assert isinstance(variable_id, str) and variable_id.startswith("env_var_")
    assert set(created["environment_variable"]) == {"id"}, created
    return str(variable_id)


def get(api: Api, variable_id: str) -> dict[str, Any]:
    body = api.ok("GET", ITEM, f"/environment_variables/{variable_id}")
    assert body["code"] == "OK"
    variable: dict[str, Any] = body["environment_variable"]
    return variable


def listed(api: Api) -> dict[str, dict[str, Any]]:
    body = api.ok("GET", "/environment_variables")
    assert body["has_more"] is False and body["code"] == "OK"
    return {item["id"]: item for item in body["environment_variables"]}


def variable_rows(server: KindlingServer) -> int:
    with database(server) as session:
        return count(session, "SELECT COUNT(*) AS n FROM environment_variables")


def raw_row(server: KindlingServer, variable_id: str) -> dict[str, Any]:
    with database(server) as session:
        row = session.one("SELECT * FROM environment_variables WHERE id = ?", (variable_id,))
    assert row is not None
    return dict(row)


def outbox_text(server: KindlingServer) -> str:
    with database(server) as session:
        rows = session.all("SELECT type, data FROM outbox")
    return "\n".join(f"{row['type']} {row['data']}" for row in rows)


# --- the routes versus the contract ---------------------------------------------------

EXPECTED = {
    ("GET", "/environment_variables"),
    ("POST", "/environment_variables"),
    ("GET", ITEM),
    ("PATCH", ITEM),
    ("DELETE", ITEM),
}


def test_routes_match_the_contract() -> None:
    ops = variable_routes.router.operations
    assert {(op.method, op.path) for op in ops} == EXPECTED and len(ops) == len(EXPECTED)
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Environment variables"
    }
    assert spec == EXPECTED
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == found.scope, op
        assert (op.status,) == found.success_codes, op
        assert op.operation_id == found.operation_id, op
        assert op.body == (found.request_body is not None), op
        assert not op.query and not op.declared_errors, op


@pytest.mark.parametrize(
    "op", variable_routes.router.operations, ids=lambda op: f"{op.method} {op.path}"
)
def test_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    key = f"FORBIDDEN_{uid()}"
    kwargs: dict[str, Any] = {"json": {"key": key, "value": "v"}} if op.body else {}
    path = BASE + op.path.replace("{variable_id}", create(api))
    before = variable_rows(server)
    response = api.http.request(
        op.method, path, headers={"Authorization": f"Bearer {narrow}"}, **kwargs
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPE"
    assert f'scope="{op.scope}"' in response.headers["www-authenticate"]
    response = api.http.request(op.method, path, headers={"Authorization": ""}, **kwargs)
    assert response.status_code == 401, response.text
    assert variable_rows(server) == before  # neither refused call wrote anything


# --- the lifecycle --------------------------------------------------------------------


def test_variable_lifecycle(api: Api) -> None:
    key = f"LANGUAGE_{uid()}"
    variable_id = create(api, key=key, value="en-AU")
    shown = get(api, variable_id)
    assert set(shown) == {"id", "key", "value", "is_secret", "created_on"}
    assert (shown["id"], shown["key"], shown["value"], shown["is_secret"]) == (
        variable_id,
        key,
        "en-AU",
        False,
    )
    assert listed(api)[variable_id] == shown

    updated = api.ok(
        "PATCH", ITEM, f"/environment_variables/{variable_id}", json={"value": "fr-FR"}
    )
    assert updated == {"code": "ENVIRONMENT_VARIABLE_UPDATED", "message": updated["message"]}
    assert get(api, variable_id)["value"] == "fr-FR"
    renamed = f"LOCALE_{uid()}"
    api.ok("PATCH", ITEM, f"/environment_variables/{variable_id}", json={"key": renamed})
    assert get(api, variable_id) == {**shown, "key": renamed, "value": "fr-FR"}

    deleted = api.ok("DELETE", ITEM, f"/environment_variables/{variable_id}")
    assert deleted["code"] == "ENVIRONMENT_VARIABLE_DELETED"
    assert variable_id not in listed(api)
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"value": "x"}} if method == "PATCH" else {}
        api.error(
            method,
            f"/environment_variables/{variable_id}",
            "ENVIRONMENT_VARIABLE_NOT_FOUND",
            **kwargs,
        )
    # The key is free again once the variable is gone.
    create(api, key=renamed)


def test_a_secret_value_is_write_only(api: Api, server: KindlingServer) -> None:
    secret = f"sk_live_{uuid.uuid4().hex}"
    key = f"STRIPE_KEY_{uid()}"
    answers: list[str] = []

    response = api.request(
        "POST", "/environment_variables", json={"key": key, "value": secret, "is_secret": True}
    )
    assert response.status_code == 201, response.text
    answers.append(response.text)
    variable_id = response.json()["environment_variable"]["id"]

    shown = get(api, variable_id)
    assert shown["is_secret"] is True and shown["value"] is None and shown["key"] == key
    assert listed(api)[variable_id]["value"] is None
    for method, path, body in (
        ("GET", f"/environment_variables/{variable_id}", None),
        ("GET", "/environment_variables", None),
        ("PATCH", f"/environment_variables/{variable_id}", {"key": key + "_RENAMED"}),
        ("PATCH", f"/environment_variables/{variable_id}", {"is_secret": False}),  # refused
        ("POST", "/environment_variables", {"key": key + "_RENAMED", "value": secret}),  # taken
    ):
        answers.append(api.request(method, path, json=body).text)
    assert all(secret not in text for text in answers), answers

    row = raw_row(server, variable_id)
    assert row["value"] is None and bool(row["is_secret"]) is True
    sealed = bytes(row["sealed_value"])
    assert secret.encode() not in sealed and len(sealed) > len(secret)
    assert secret not in outbox_text(server)
    assert secret not in server.output
    # Still a secret, still hidden, after the refused attempt to make it readable.
    assert get(api, variable_id)["value"] is None


def test_a_readable_variable_made_secret_is_hidden_from_then_on(
    api: Api, server: KindlingServer
) -> None:
    value = f"was-visible-{uid()}"
    variable_id = create(api, value=value)
    assert get(api, variable_id)["value"] == value
    api.ok("PATCH", ITEM, f"/environment_variables/{variable_id}", json={"is_secret": True})
    shown = get(api, variable_id)
    assert shown["is_secret"] is True and shown["value"] is None
    row = raw_row(server, variable_id)
    assert row["value"] is None and value.encode() not in bytes(row["sealed_value"])
    # Readable again only with a new value, which is all it then shows.
    api.error(
        "PATCH",
        f"/environment_variables/{variable_id}",
        "VALUE_REQUIRED",
        json={"is_secret": False},
    )
    assert raw_row(server, variable_id) == row
    api.ok(
        "PATCH",
        ITEM,
        f"/environment_variables/{variable_id}",
        json={"is_secret": False, "value": "fresh"},
    )
    assert get(api, variable_id) == {**shown, "is_secret": False, "value": "fresh"}


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"value": "v"}, "KEY_REQUIRED"),
        ({"key": "", "value": "v"}, "KEY_REQUIRED"),
        ({"key": 1, "value": "v"}, "INVALID_KEY"),
        ({"key": "NOT VALID", "value": "v"}, "INVALID_KEY"),
        ({"key": "9LIVES", "value": "v"}, "INVALID_KEY"),
        ({"key": "K" * 129, "value": "v"}, "KEY_TOO_LONG"),
        ({"key": "FINE"}, "VALUE_REQUIRED"),
        ({"key": "FINE", "value": ""}, "VALUE_REQUIRED"),
        ({"key": "FINE", "value": 10}, "INVALID_VALUE"),
        ({"key": "FINE", "value": "v" * 2049}, "VALUE_TOO_LONG"),
        ({"key": "FINE", "value": "nul\u0000"}, "INVALID_VALUE"),
        ({"key": "FINE", "value": "v", "is_secret": "yes"}, "INVALID_IS_SECRET"),
    ],
)
def test_invalid_create_writes_nothing(
    api: Api, server: KindlingServer, body: dict[str, Any], code: str
) -> None:
    before = variable_rows(server)
    api.error("POST", "/environment_variables", code, json=body)
    assert variable_rows(server) == before


@pytest.mark.parametrize(
    ("content", "headers", "code"),
    [
        (b"", {}, "BODY_REQUIRED"),
        (b"{not json", {"content-type": "application/json"}, "INVALID_JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, "INVALID_BODY"),
        (b"key=A&value=b", {"content-type": "application/x-www-form-urlencoded"}, None),
    ],
)
def test_bad_bodies_write_nothing(
    api: Api, server: KindlingServer, content: bytes, headers: dict[str, str], code: str | None
) -> None:
    before = variable_rows(server)
    response = api.request("POST", "/environment_variables", content=content, headers=headers)
    assert response.status_code == 400, response.text
    if code is not None:
        assert response.json()["errors"][0]["code"] == code
    assert variable_rows(server) == before


def test_the_longest_key_and_value_are_accepted(api: Api) -> None:
    key = "K" * 116 + uid()
    value = "é" * 2048
    variable_id = create(api, key=key, value=value)
    assert get(api, variable_id)["value"] == value and len(key) == 128


def test_keys_are_unique_and_case_sensitive(api: Api, server: KindlingServer) -> None:
    key = f"TAKEN_{uid()}"
    first = create(api, key=key)
    before = variable_rows(server)
    api.error(
        "POST",
        "/environment_variables",
        "ENVIRONMENT_VARIABLE_KEY_EXISTS",
        json={"key": key, "value": "again", "is_secret": True},
    )
    assert variable_rows(server) == before
    second = create(api, key=key.lower())
    api.error(
        "PATCH",
        f"/environment_variables/{second}",
        "ENVIRONMENT_VARIABLE_KEY_EXISTS",
        json={"key": key, "value": "not applied"},
    )
    assert get(api, second)["key"] == key.lower() and get(api, second)["value"] != "not applied"
    assert get(api, first)["key"] == key


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"key": None}, "NO_FIELDS_TO_UPDATE"),
        ({"key": "bad-key"}, "INVALID_KEY"),
        ({"value": ""}, "VALUE_REQUIRED"),
        ({"value": "v" * 2049}, "VALUE_TOO_LONG"),
        ({"value": "ok", "is_secret": "false"}, "INVALID_IS_SECRET"),
    ],
)
def test_invalid_update_changes_nothing(
    api: Api, server: KindlingServer, body: dict[str, Any], code: str
) -> None:
    variable_id = create(api, is_secret=True)
    before = raw_row(server, variable_id)
    api.error("PATCH", f"/environment_variables/{variable_id}", code, json=body)
    assert raw_row(server, variable_id) == before


def test_concurrent_creates_of_one_key_make_one_variable(api: Api, server: KindlingServer) -> None:
    key = f"RACE_{uid()}"
    statuses: list[int] = []
    codes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        with server.client() as http:
            barrier.wait()
            response = http.post(
                BASE + "/environment_variables",
                json={"key": key, "value": "v", "is_secret": True},
                headers={"Authorization": f"Bearer {token_for(server)}"},
            )
        statuses.append(response.status_code)
        if response.status_code != 201:
            codes.append(response.json()["errors"][0]["code"])

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [400] * 5, statuses
    assert set(codes) == {"ENVIRONMENT_VARIABLE_KEY_EXISTS"}
    assert [v for v in listed(api).values() if v["key"] == key]
