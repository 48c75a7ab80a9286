"""A12 cases 37-44: hostile Management API input is answered 400 (or 403) in Kinde's
``error_response`` and changes nothing.

Each refused change carries a request id of its own, so "nothing written" is read where
it would land: the rows it would have made, the outbox (no event) and the audit log (a
failure row, never a success). The engine matters only for case 41 (the unique index
under concurrent creates), which runs on both; the rest run on ``sqlite_server``.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from typing import Any

import httpx
import jwt

from tests.a12.common import (
    admin,
    app_token,
    assert_refused_change,
    count,
    new_app,
    oauth_error,
    request_id,
    sql,
    stranger,
    token_form,
    uid,
    users_with_email,
    written_by,
)
from tests.support import KindlingServer, error_code, token_for


def email_body(email: str, **extra: Any) -> dict[str, Any]:
    return {"identities": [{"type": "email", "details": {"email": email}}], **extra}


def refused_change(
    http: httpx.Client, server: KindlingServer, method: str, path: str, code: str, **kwargs: Any
) -> httpx.Response:
    """One change that must be refused with 400 ``code``: no event, an audit failure."""
    rid = request_id()
    headers = {"X-Request-ID": rid, **kwargs.pop("headers", {})}
    response = http.request(method, path, headers=headers, **kwargs)
    error_code(response, 400, code)
    assert_refused_change(server, rid)
    assert written_by(server, rid)["audit"] == ["failure"]
    return response


def create_user(http: httpx.Client, email: str) -> str:
    created = http.post("/api/v1/user", json=email_body(email))
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def new_org(http: httpx.Client) -> str:
    created = http.post("/api/v1/organization", json={"name": f"A12 {uid()}"})
    assert created.status_code == 200, created.text
    return str(created.json()["organization"]["code"])


# --- 37-39: filters, paging, bulk -----------------------------------------------------------


def test_case_37_sql_in_filters_is_data_sort_is_allow_listed_cursors_are_signed(
    sqlite_server: KindlingServer,
) -> None:
    with admin(sqlite_server) as http:
        emails = [f"a12-{uid()}@paging.example.com" for _ in range(3)]
        for email in emails:
            create_user(http, email)
        users = count(sqlite_server, "SELECT count(*) FROM users")
        for value in ("' OR 1=1--", "%", "*", f"{emails[0]}' OR '1'='1"):
            found = http.get("/api/v1/users", params={"email": value, "page_size": 500})
            assert found.status_code == 200, found.text
            assert found.json().get("users", []) == [], value
        for path in ("/api/v1/organizations", "/api/v1/applications", "/api/v1/roles"):
            sorted_ = http.get(path, params={"sort": "name;DROP TABLE users"})
            error_code(sorted_, 400, "INVALID_SORT")
        assert count(sqlite_server, "SELECT count(*) FROM users") == users

        listing = {"email": ",".join(emails), "page_size": 1}
        first = http.get("/api/v1/users", params=listing).json()
        cursor = first["next_token"]
        flipped = ("B" if cursor[0] == "A" else "A") + cursor[1:]
        for bad in (flipped, cursor[:-2], cursor + "AAAA", "not-a-token", "' OR 1=1--"):
            tampered = http.get("/api/v1/users", params={**listing, "next_token": bad})
            error_code(tampered, 400, "INVALID_NEXT_TOKEN")
        # The untouched cursor still works: the refusals are about the tampering.
        assert (
            http.get("/api/v1/users", params={**listing, "next_token": cursor}).status_code == 200
        )


def test_case_38_page_size_outside_1_to_500_is_400(sqlite_server: KindlingServer) -> None:
    with admin(sqlite_server) as http:
        for path in ("/api/v1/users", "/api/v1/organizations", "/api/v1/applications"):
            for size, code in (
                ("0", "INVALID_PAGE_SIZE"),
                ("-1", "INVALID_PAGE_SIZE"),
                ("abc", "INVALID_PAGE_SIZE"),
                ("501", "PAGE_SIZE_LIMIT_EXCEEDED"),
                (str(10**12), "PAGE_SIZE_LIMIT_EXCEEDED"),
            ):
                error_code(http.get(path, params={"page_size": size}), 400, code)
            assert http.get(path, params={"page_size": "500"}).status_code == 200


def test_case_39_bulk_over_100_or_with_a_bad_item_applies_nothing(
    sqlite_server: KindlingServer,
) -> None:
    """Kinde caps bulk lists at 100; a batch is one transaction, all or nothing."""
    with admin(sqlite_server) as http:
        org = new_org(http)
        members = [create_user(http, f"a12-{uid()}@bulk.example.com") for _ in range(2)]
        path = f"/api/v1/organizations/{org}/users"
        too_many = {"users": [{"id": members[0]}] + [{"id": f"kp_{uid()}"} for _ in range(100)]}
        refused_change(http, sqlite_server, "POST", path, "TOO_MANY_USERS", json=too_many)
        rid = request_id()
        mixed = {"users": [{"id": members[0]}, {"id": f"kp_{uid()}"}, {"id": members[1]}]}
        half = http.post(path, json=mixed, headers={"X-Request-ID": rid})
        error_code(half, 400)
        assert_refused_change(sqlite_server, rid)
        held = "SELECT count(*) FROM organization_users WHERE org_code = ?"
        assert count(sqlite_server, held, (org,)) == 0
        whole = http.post(path, json={"users": [{"id": m} for m in members]})
        assert whole.status_code == 200, whole.text
        assert count(sqlite_server, held, (org,)) == 2


# --- 40-41: emails -----------------------------------------------------------------------


def test_case_40_emails_are_unique_on_a_normalized_form_and_kept_as_given(
    sqlite_server: KindlingServer,
) -> None:
    tag = uid()
    with admin(sqlite_server) as http:
        given = f"Ada.Lovelace+{tag}@Example.COM"
        user = create_user(http, f"  {given}  ")
        shown = http.get("/api/v1/user", params={"id": user}).json()
        assert shown["preferred_email"] == given  # trimmed; case kept for display
        nfc = unicodedata.normalize("NFC", f"zoë-{tag}@example.com")
        create_user(http, nfc)
        for duplicate in (
            given.lower(),
            given.upper(),
            f"\t{given} ",
            unicodedata.normalize("NFD", nfc),
        ):
            assert duplicate != given
            refused_change(
                http,
                sqlite_server,
                "POST",
                "/api/v1/user",
                "USER_ALREADY_EXISTS",
                json=email_body(duplicate),
            )
        assert users_with_email(sqlite_server, given) == [user]
        for bad, code in (
            (f"a12-{tag}\r\nBcc: victim@example.com", "INVALID_EMAIL"),
            (f"a12-{tag}\n@example.com", "INVALID_EMAIL"),
            (f"a12-{tag}\x00@example.com", "INVALID_EMAIL"),
            (f"a12 {tag}@example.com", "INVALID_EMAIL"),
            (f"a12-{tag}@", "INVALID_EMAIL"),
            ("a" * 290 + f"@{tag}.example", "EMAIL_TOO_LONG"),
        ):
            refused_change(http, sqlite_server, "POST", "/api/v1/user", code, json=email_body(bad))
        assert (
            count(
                sqlite_server,
                "SELECT count(*) FROM user_identities WHERE value LIKE ?",
                (f"%{tag}%",),
            )
            == 2
        )
        # Accepted as given: an IDN domain (not turned into punycode) and a dotless one.
        for kept in (f"a12-{tag}@bücher.example", f"a12-{tag}@b"):
            created = create_user(http, kept)
            assert (
                http.get("/api/v1/user", params={"id": created}).json()["preferred_email"] == kept
            )


def test_case_41_concurrent_creates_of_one_email_make_one_user(server: KindlingServer) -> None:
    """20 at once, on both engines: one 200 (Kinde's status for POST /user), 19 of Kinde's
    400 ``USER_ALREADY_EXISTS``, never a 500 or a second row (the unique index decides)."""
    email = f"a12-race-{uid()}@example.com"
    token = f"Bearer {token_for(server)}"
    barrier = threading.Barrier(20)
    rids = [request_id() for _ in range(20)]
    answers: list[httpx.Response | BaseException | None] = [None] * 20

    def create(i: int) -> None:
        try:
            with server.client() as http:
                body = email_body(email.upper() if i % 2 else email)
                headers = {"Authorization": token, "X-Request-ID": rids[i]}
                barrier.wait(timeout=30)
                answers[i] = http.post("/api/v1/user", json=body, headers=headers)
        except BaseException as exc:  # reported by the assertion below
            answers[i] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    responses = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(responses) == 20, answers
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 19, statuses
    for refused in (r for r in responses if r.status_code == 400):
        error_code(refused, 400, "USER_ALREADY_EXISTS")
    (winner,) = [r for r in responses if r.status_code == 200]
    assert users_with_email(server, email) == [winner.json()["id"]]
    events = [e for rid in rids for e in written_by(server, rid)["events"]]
    assert events == ["user.created"]


# --- 42-44: bodies, mass assignment, organization confinement -------------------------------


def test_case_42_hostile_bodies_are_400_and_write_nothing(sqlite_server: KindlingServer) -> None:
    email = f"a12-body-{uid()}@example.com"
    valid = json.dumps(email_body(email))
    identities = json.dumps(email_body(email)["identities"])
    with admin(sqlite_server) as http:
        for content, content_type, code in (
            (valid, "text/plain", "INVALID_CONTENT_TYPE"),
            (valid[:-5], "application/json", "INVALID_JSON"),
            (
                f'{{"identities": {identities}, "identities": {identities}}}',
                "application/json",
                "DUPLICATE_JSON_KEY",
            ),
            (
                f'{{"identities": {identities}, "profile": {"[" * 10_000}{"]" * 10_000}}}',
                "application/json",
                "INVALID_JSON",
            ),
            (
                f'{{"identities": {identities}, "provided_id": 1e400}}',
                "application/json",
                "INVALID_JSON",
            ),
        ):
            refused_change(
                http,
                sqlite_server,
                "POST",
                "/api/v1/user",
                code,
                content=content.encode(),
                headers={"Content-Type": content_type},
            )
        assert users_with_email(sqlite_server, email) == []
        assert http.get("/healthz").status_code == 200
        create_user(http, email)  # the same email was free all along


def test_case_43_fields_a_route_does_not_take_are_ignored(sqlite_server: KindlingServer) -> None:
    """As Kinde does, unknown body fields are ignored; none of them reaches storage."""
    pinned = f"kp_{uid()}{uid()}"
    email = f"a12-mass-{uid()}@example.com"
    with admin(sqlite_server) as http:
        created = http.post(
            "/api/v1/user",
            json=email_body(
                email,
                id=pinned,
                created_on="2001-01-01T00:00:00Z",
                total_sign_ins=99,
                roles=["admin"],
                permissions=["delete:users"],
            ),
        )
        assert created.status_code == 200, created.text
        user_id = created.json()["id"]
        assert user_id != pinned
        shown = http.get("/api/v1/user", params={"id": user_id}).json()
        assert not shown["created_on"].startswith("2001") and shown["total_sign_ins"] == 0
        assert count(sqlite_server, "SELECT count(*) FROM users WHERE id = ?", (pinned,)) == 0
        held = "SELECT count(*) FROM organization_user_roles WHERE user_id = ?"
        assert count(sqlite_server, held, (user_id,)) == 0

        chosen = f"chosen-{uid()}"
        app = http.post(
            "/api/v1/applications",
            json={
                "name": f"a12-{uid()}",
                "type": "m2m",
                "client_id": pinned,
                "client_secret": chosen,
            },
        )
        assert app.status_code == 201, app.text
        made = app.json()["application"]
        assert made["client_id"] != pinned and made["client_secret"] != chosen
    with stranger(sqlite_server) as http:  # the chosen secret authenticates nothing
        guessed = http.post(
            "/oauth2/token", data=token_form(made["client_id"], chosen, sqlite_server.audience)
        )
        oauth_error(guessed, 401, "invalid_client")
        issued = http.post(
            "/oauth2/token",
            data=token_form(made["client_id"], made["client_secret"], sqlite_server.audience),
        )
        oauth_error(issued, 400, "unauthorized_client")  # authenticated, not authorized


def test_case_44_an_organization_token_cannot_reach_another_organization(
    sqlite_server: KindlingServer,
) -> None:
    """Kinde declares 403 (not 404) for these operations; the body carries no data."""
    with admin(sqlite_server) as http:
        own, other = new_org(http), new_org(http)
        outsider = create_user(http, f"a12-org-{uid()}@example.com")
        member = http.post(
            f"/api/v1/organizations/{other}/users", json={"users": [{"id": outsider}]}
        )
        assert member.status_code == 200, member.text
        stray = create_user(http, f"a12-org-{uid()}@example.com")  # in no organization
    app = new_app(
        sqlite_server,
        scopes=("read:organization_users", "create:organization_users", "read:users"),
        org_code=own,
    )
    token = app_token(sqlite_server, app)
    assert jwt.decode(token, options={"verify_signature": False})["org_code"] == own
    with sqlite_server.client() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        assert http.get(f"/api/v1/organizations/{own}/users").status_code == 200
        for response in (
            http.get(f"/api/v1/organizations/{other}/users"),
            http.get("/api/v1/users"),
        ):
            error_code(response, 403, "ORGANIZATION_MISMATCH")
            assert outsider not in response.text
        rid = request_id()
        added = http.post(
            f"/api/v1/organizations/{other}/users",
            json={"users": [{"id": stray}]},
            headers={"X-Request-ID": rid},
        )
        error_code(added, 403, "ORGANIZATION_MISMATCH")
    assert_refused_change(sqlite_server, rid)
    held = "SELECT org_code FROM organization_users WHERE user_id = ?"
    assert sql(sqlite_server, held, (stray,)) == []
    assert sql(sqlite_server, held, (outsider,)) == [(other,)]
