"""Subscribers over HTTP on both engines: create, get, list, against the contract.

``POST /subscribers`` takes its fields as query parameters (Kinde's contract) and answers
201 with the new id; the id reads back through ``GET /subscribers/{id}`` and the sorted,
``next_token``-paged listing. One subscriber per address; bad input is a 400 with a
specific code that writes nothing. The contract declares no 404 for these operations, so
an unknown id is a 400 ``SUBSCRIBER_NOT_FOUND``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.subscribers import routes
from tests.support import KindlingServer, error_code, token_for
from tests.test_roles import BASE, CONTRACT, Api, uid


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def subscribe(api: Api, first: str = "Ann", last: str = "Lee", email: str | None = None) -> str:
    email = email or f"sub-{uid()}@example.com"
    body = api.ok(
        "POST",
        "/subscribers",
        params={"first_name": first, "last_name": last, "email": email},
    )
    assert set(body) == {"subscriber"} and set(body["subscriber"]) == {"subscriber_id"}
    return str(body["subscriber"]["subscriber_id"])


def get(api: Api, subscriber_id: str) -> dict[str, Any]:
    body = api.ok("GET", "/subscribers/{subscriber_id}", f"/subscribers/{subscriber_id}")
    assert (body["code"], len(body["subscribers"])) == ("OK", 1)
    item: dict[str, Any] = body["subscribers"][0]
    return item


def walk(api: Api, **params: Any) -> list[dict[str, Any]]:
    return api.walk("/subscribers", "subscribers", size=params.pop("size", 100), **params)


def test_routes_match_the_contract() -> None:
    ops = routes.router.operations
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Subscribers"
    }
    assert {(op.method, op.path) for op in ops} == spec and len(ops) == 3
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert (op.scope, op.operation_id, (op.status,)) == (
            found.scope,
            found.operation_id,
            found.success_codes,
        )
        declared = {p["name"]: p["required"] for p in found.parameters if p["in"] == "query"}
        assert {p.name: p.required for p in op.query} == declared, op


@pytest.mark.parametrize("op", routes.router.operations, ids=lambda op: f"{op.method} {op.path}")
def test_each_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    email = f"forbidden-{uid()}@example.com"
    resp = api.http.request(
        op.method,
        BASE + op.path.replace("{subscriber_id}", "sub_x"),
        params={"first_name": "No", "last_name": "Scope", "email": email},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    error_code(resp, 403, "INSUFFICIENT_SCOPE")
    assert not [s for s in walk(api) if s["email"] == email]


def test_a_subscriber_reads_back_as_created(api: Api) -> None:
    email = f"Ann.Lee-{uid()}@Example.com"
    subscriber_id = subscribe(api, " Ann ", "Lee", email)
    assert subscriber_id.startswith("sub_")
    assert get(api, subscriber_id) == {
        "id": subscriber_id,
        "preferred_email": email,
        "first_name": "Ann",
        "last_name": "Lee",
    }
    [listed] = [s for s in walk(api) if s["id"] == subscriber_id]
    assert listed == {
        "id": subscriber_id,
        "email": email,
        "full_name": "Ann Lee",
        "first_name": "Ann",
        "last_name": "Lee",
    }


def test_a_blank_last_name_is_left_out(api: Api) -> None:
    subscriber_id = subscribe(api, "Cher", "")
    assert "last_name" not in get(api, subscriber_id)
    [listed] = [s for s in walk(api) if s["id"] == subscriber_id]
    assert listed["full_name"] == "Cher" and "last_name" not in listed


def test_an_address_subscribes_once(api: Api) -> None:
    email = f"once-{uid()}@example.com"
    subscribe(api, email=email)
    resp = api.request(
        "POST",
        "/subscribers",
        params={"first_name": "Again", "last_name": "", "email": email.upper()},
    )
    error_code(resp, 400, "SUBSCRIBER_ALREADY_EXISTS")
    assert len([s for s in walk(api) if s["email"].lower() == email]) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"last_name": "Lee", "email": "EMAIL"}, "FIRST_NAME_REQUIRED"),
        ({"first_name": "", "last_name": "Lee", "email": "EMAIL"}, "FIRST_NAME_REQUIRED"),
        ({"first_name": "Ann", "email": "EMAIL"}, "LAST_NAME_REQUIRED"),
        ({"first_name": "Ann", "last_name": "Lee"}, "EMAIL_REQUIRED"),
        ({"first_name": "Ann", "last_name": "Lee", "email": ""}, "EMAIL_REQUIRED"),
        ({"first_name": "Ann", "last_name": "Lee", "email": "ann"}, "INVALID_EMAIL"),
        ({"first_name": "A" * 65, "last_name": "Lee", "email": "EMAIL"}, "FIRST_NAME_TOO_LONG"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    api: Api, params: dict[str, str], code: str
) -> None:
    email = f"bad-{uid()}@example.com"
    filled = {k: (email if v == "EMAIL" else v) for k, v in params.items()}
    error_code(api.request("POST", "/subscribers", params=filled), 400, code)
    assert not [s for s in walk(api) if s["email"] == email]


def test_an_unknown_subscriber_is_a_400(api: Api) -> None:
    error_code(api.request("GET", "/subscribers/sub_missing"), 400, "SUBSCRIBER_NOT_FOUND")


def test_listing_sorts_and_pages(api: Api) -> None:
    tag = uid()
    made = {
        subscribe(api, f"{tag}{first}", "Z", f"{tag}{mail}@example.com"): (first, mail)
        for first, mail in (("b", "c"), ("c", "a"), ("a", "b"), ("d", "d"))
    }
    for sort, field, reverse in (
        ("name_asc", 0, False),
        ("name_desc", 0, True),
        ("email_asc", 1, False),
        ("email_desc", 1, True),
    ):
        seen = [s["id"] for s in walk(api, sort=sort, size=3) if s["id"] in made]
        assert seen == sorted(made, key=lambda i: made[i][field], reverse=reverse), sort
    assert [s["id"] for s in walk(api, size=2) if s["id"] in made] == list(made)
    error_code(api.request("GET", "/subscribers", params={"sort": "id_asc"}), 400, "INVALID_SORT")
    page = api.ok("GET", "/subscribers", params={"page_size": 1, "sort": "name_asc"})
    if "next_token" in page:
        # A token belongs to its listing and sort.
        resp = api.request(
            "GET", "/subscribers", params={"next_token": page["next_token"], "sort": "email_asc"}
        )
        error_code(resp, 400, "INVALID_NEXT_TOKEN")
