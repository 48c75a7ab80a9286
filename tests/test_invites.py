"""Organization invites (``/organization/{org_code}/invites``) on both engines."""

from __future__ import annotations

from typing import Any

from kindling.web.app import management_operations
from tests.test_user_accounts import (
    BASE,
    CONTRACT,
    Api,
    api_fixture,  # noqa: F401  (the ``api`` fixture)
    assert_error,
    db,
    token_for,
    uid,
    unique_email,
)

LIST = "/organization/{org_code}/invites"
ONE = "/organization/{org_code}/invites/{invite_code}"
OPERATIONS = [("GET", LIST), ("POST", LIST), ("GET", ONE), ("DELETE", ONE)]


def invite(api: Api, org: str, email: str | None = None, **body: Any) -> dict[str, Any]:
    payload = {"email": email or unique_email("inv"), "roles": [], **body}
    created = api.ok("POST", LIST, f"/organization/{org}/invites", json=payload)
    assert created["code"] == "INVITATION_CREATED"
    result: dict[str, Any] = created["invite"]
    return result


def listing(api: Api, org: str, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = api.ok("GET", LIST, f"/organization/{org}/invites", params=params)
    return body


def invite_count(api: Api, org: str) -> int:
    rows = db(api.server, "SELECT COUNT(*) FROM organization_invites WHERE org_code = ?", (org,))
    return int(rows[0][0])


def test_operations_match_the_contract() -> None:
    declared = {(op.method, op.path): op for op in management_operations()}
    for method, path in OPERATIONS:
        op = declared[(method, path)]
        spec = CONTRACT.find(method, BASE + path)
        assert (op.scope, op.operation_id) == (spec.scope, spec.operation_id)
        assert (op.status,) == spec.success_codes
        assert (404 in op.declared_errors) == (404 in spec.error_codes)
        assert {p.name for p in op.query} == {
            p["name"] for p in spec.parameters if p["in"] == "query"
        }


def test_every_operation_needs_its_scope(api: Api) -> None:
    org = api.create_org()
    code = invite(api, org)["code"]
    narrow = token_for(api.server, ["read:users"])
    for method, template in OPERATIONS:
        path = template.replace("{org_code}", org).replace("{invite_code}", code)
        kwargs: dict[str, Any] = {"json": {"email": unique_email(), "roles": []}}
        assert_error(
            api.call(method, path, token=narrow, **kwargs if method == "POST" else {}), 403
        )
    assert invite_count(api, org) == 1


def test_create_get_list_revoke(api: Api) -> None:
    org = api.create_org()
    admin, _ = api.create_role("Administrator")
    manager, _ = api.create_role("Manager")
    email = unique_email("Invitee")
    created = invite(
        api, org, email, first_name="Ada", last_name="Lovelace", roles=[admin, manager, admin]
    )
    code = created["code"]
    assert code.startswith("inv_") and created["id"] == code
    assert created["email"] == email and created["full_name"] == "Ada Lovelace"
    assert created["roles"] == [
        {"key": admin, "name": "Administrator"},
        {"key": manager, "name": "Manager"},
    ]
    assert created["is_sent"] is False and created["is_revoked"] is False
    assert created["accepted_on"] is None
    assert created["invite_link"].endswith(f"/team_invitation?code={code}")
    assert created["invite_link"].startswith(api.server.base_url)

    got = api.ok("GET", ONE, f"/organization/{org}/invites/{code}")
    assert got["code"] == code and got["message"] == "Success"
    assert {k: v for k, v in got.items() if k != "message"} == created

    bare = invite(api, org, send_email=True)
    assert bare["roles"] == [] and bare["first_name"] is None and bare["full_name"] == ""
    listed = listing(api, org)
    assert [i["code"] for i in listed["invites"]] == [code, bare["code"]]
    assert listed["code"] == "OK" and "next_token" not in listed

    resp = api.ok("DELETE", ONE, f"/organization/{org}/invites/{code}")
    assert resp["code"] == "OK"
    api.ok("DELETE", ONE, f"/organization/{org}/invites/{code}")  # revoking twice is fine
    assert api.ok("GET", ONE, f"/organization/{org}/invites/{code}")["is_revoked"] is True
    assert [i["code"] for i in listing(api, org)["invites"]] == [bare["code"]]
    everything = listing(api, org, include_revoked="true", include_accepted="true")
    assert [i["code"] for i in everything["invites"]] == [code, bare["code"]]
    assert everything["invites"][0]["is_revoked"] is True


def test_invites_belong_to_their_organization(api: Api) -> None:
    org, other = api.create_org(), api.create_org()
    code = invite(api, org)["code"]
    assert_error(api.call("GET", f"/organization/{other}/invites/{code}"), 404, "INVITE_NOT_FOUND")
    assert_error(
        api.call("DELETE", f"/organization/{other}/invites/{code}"), 404, "INVITE_NOT_FOUND"
    )
    assert listing(api, other)["invites"] == []
    missing = "org_00000000000"
    assert_error(api.call("GET", f"/organization/{org}/invites/inv_nope"), 404, "INVITE_NOT_FOUND")
    assert_error(
        api.call("GET", f"/organization/{missing}/invites/{code}"), 404, "ORGANIZATION_NOT_FOUND"
    )
    assert_error(api.call("DELETE", f"/organization/{missing}/invites/{code}"), 404)
    assert_error(api.call("GET", f"/organization/{missing}/invites"), 400, "ORGANIZATION_NOT_FOUND")
    resp = api.call(
        "POST", f"/organization/{missing}/invites", json={"email": unique_email(), "roles": []}
    )
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    assert api.ok("GET", ONE, f"/organization/{org}/invites/{code}")["is_revoked"] is False


def test_invite_input_is_validated_before_writing(api: Api) -> None:
    org = api.create_org()
    role, _ = api.create_role()
    path = f"/organization/{org}/invites"
    ok_email = unique_email()
    cases: list[tuple[Any, str]] = [
        ({"roles": []}, "EMAIL_REQUIRED"),
        ({"email": "a" * 250 + "@b.co", "roles": []}, "EMAIL_TOO_LONG"),
        ({"email": "nope", "roles": []}, "INVALID_EMAIL"),
        ({"email": ok_email, "roles": [], "first_name": "F" * 65}, "FIRST_NAME_TOO_LONG"),
        ({"email": ok_email, "roles": [], "last_name": "L" * 65}, "LAST_NAME_TOO_LONG"),
        ({"email": ok_email, "roles": [], "first_name": 3}, "INVALID_FIRST_NAME"),
        ({"email": ok_email}, "ROLES_REQUIRED"),
        ({"email": ok_email, "roles": role}, "INVALID_ROLES"),
        ({"email": ok_email, "roles": [1]}, "INVALID_ROLES"),
        ({"email": ok_email, "roles": [role, f"missing_{uid()}"]}, "ROLE_NOT_FOUND"),
        ({"email": ok_email, "roles": [f"r{n}" for n in range(101)]}, "TOO_MANY_ROLES"),
        ({"email": ok_email, "roles": [], "send_email": "yes"}, "INVALID_SEND_EMAIL"),
    ]
    for body, code in cases:
        assert_error(api.call("POST", path, json=body), 400, code)
    assert_error(api.call("POST", path), 400, "BODY_REQUIRED")
    assert invite_count(api, org) == 0
    # Limits are inclusive.
    edge = invite(api, org, "e" * 244 + "@b.example", first_name="F" * 64, last_name="L" * 64)
    assert len(edge["email"]) == 254


def test_sorting_and_pagination(api: Api) -> None:
    org = api.create_org()
    people = [("Cleo", "c"), ("alice", "e"), ("Bob", "a"), ("dave", "d"), ("Eve", "b")]
    codes = []
    for first, mail in people:
        codes.append(invite(api, org, f"{mail}-{uid()}@example.com", first_name=first)["code"])

    def walk(sort: str | None, size: int) -> list[str]:
        params: dict[str, Any] = {"page_size": size}
        if sort:
            params["sort"] = sort
        seen: list[str] = []
        for _ in range(10):
            body = listing(api, org, **params)
            seen.extend(i["code"] for i in body["invites"])
            assert len(body["invites"]) <= size
            if "next_token" not in body:
                return seen
            params["next_token"] = body["next_token"]
        raise AssertionError("pagination did not end")

    by_name = [codes[1], codes[2], codes[0], codes[3], codes[4]]
    by_email = [codes[2], codes[4], codes[0], codes[3], codes[1]]
    assert walk(None, 2) == codes
    assert walk("created_on_asc", 2) == codes
    assert walk("created_on_desc", 2) == codes[::-1]
    assert walk("name_asc", 2) == by_name
    assert walk("name_desc", 3) == by_name[::-1]
    assert walk("email_asc", 1) == by_email
    assert walk("email_desc", 4) == by_email[::-1]
    path = f"/organization/{org}/invites"
    assert_error(api.call("GET", path, params={"sort": "code_asc"}), 400, "INVALID_SORT")
    assert_error(api.call("GET", path, params={"page_size": 501}), 400, "PAGE_SIZE_LIMIT_EXCEEDED")
    assert_error(api.call("GET", path, params={"page_size": "x"}), 400, "INVALID_PAGE_SIZE")
    assert_error(
        api.call("GET", path, params={"include_revoked": "maybe"}), 400, "INVALID_INCLUDE_REVOKED"
    )
    token = listing(api, org, page_size=2, sort="email_asc")["next_token"]
    assert_error(api.call("GET", path, params={"next_token": token}), 400, "INVALID_NEXT_TOKEN")
    assert_error(
        api.call("GET", path, params={"next_token": token[:-2]}), 400, "INVALID_NEXT_TOKEN"
    )
    other = api.create_org()
    resp = api.call(
        "GET", f"/organization/{other}/invites", params={"next_token": token, "sort": "email_asc"}
    )
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")


def test_deleting_the_organization_removes_its_invites(api: Api) -> None:
    org = api.create_org()
    invite(api, org)
    assert invite_count(api, org) == 1
    resp = api.call("DELETE", f"/organization/{org}")
    assert resp.status_code == 200, resp.text
    assert invite_count(api, org) == 0
