"""The business over HTTP on both engines: ``GET /business`` and ``PATCH /business``.

The business shows its industry and timezone by name, as ``GET /industries`` and ``GET
/timezones`` name the keys ``PATCH`` was given; unknown keys, malformed URLs and other
bad input are a 400 with a specific code that changes nothing.

The servers are shared by the session, so tests compare with what they read first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.business import routes
from tests.support import KindlingServer, error_code, token_for
from tests.test_roles import BASE, CONTRACT, Api, uid


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def business(api: Api) -> dict[str, Any]:
    body = api.ok("GET", "/business")
    assert (body["code"], body["message"]) == ("OK", "Success")
    found: dict[str, Any] = body["business"]
    return found


def patch(api: Api, **fields: Any) -> None:
    body = api.ok("PATCH", "/business", json=fields)
    assert body == {"code": "BUSINESS_UPDATED", "message": "Business successfully updated"}


def test_routes_match_the_contract() -> None:
    ops = routes.router.operations
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Business"
    }
    assert {(op.method, op.path) for op in ops} == spec and len(ops) == 2
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert (op.scope, op.operation_id, (op.status,), op.body) == (
            found.scope,
            found.operation_id,
            found.success_codes,
            found.request_body is not None,
        )


@pytest.mark.parametrize("op", routes.router.operations, ids=lambda op: op.method)
def test_each_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    before = business(api)
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    resp = api.http.request(
        op.method,
        BASE + op.path,
        json={"business_name": f"Forbidden {uid()}"} if op.body else None,
        headers={"Authorization": f"Bearer {narrow}"},
    )
    error_code(resp, 403, "INSUFFICIENT_SCOPE")
    assert business(api) == before


def test_the_business_has_a_stable_code_and_its_defaults(api: Api) -> None:
    first = business(api)
    assert first["code"].startswith("bus_") and first["name"]
    assert isinstance(first["has_clickwrap"], bool)
    assert isinstance(first["has_kinde_branding"], bool)
    assert business(api)["code"] == first["code"]


def test_patch_shows_industry_and_timezone_by_name(api: Api) -> None:
    industries = {i["key"]: i["name"] for i in api.ok("GET", "/industries")["industries"]}
    zones = {z["key"]: z["name"] for z in api.ok("GET", "/timezones")["timezones"]}
    name = f"Tailsforce {uid()}"
    patch(
        api,
        business_name=name,
        email="sally@example.com",
        phone="123-456-7890",
        industry_key="healthcare_medical",
        timezone_key="america_los_angeles",
        privacy_url="https://example.com/privacy",
        terms_url="https://example.com/terms",
        is_click_wrap=True,
        is_show_kinde_branding=True,
        kinde_perk_code="PERK",
    )
    found = business(api)
    assert found == {
        "code": found["code"],
        "name": name,
        "phone": "123-456-7890",
        "email": "sally@example.com",
        "industry": industries["healthcare_medical"],
        "timezone": zones["america_los_angeles"],
        "privacy_url": "https://example.com/privacy",
        "terms_url": "https://example.com/terms",
        "has_clickwrap": True,
        "has_kinde_branding": True,
        "created_on": found["created_on"],
    }
    assert found["industry"] == "Healthcare & Medical"
    assert found["timezone"].startswith("America/Los_Angeles (")

    # Only the fields sent change; null clears a detail but never the name or a flag.
    patch(api, email=None, industry_key=None, business_name=None, is_click_wrap=None)
    after = business(api)
    assert (after["email"], after["industry"], after["name"], after["has_clickwrap"]) == (
        None,
        None,
        name,
        True,
    )
    assert after["timezone"] == found["timezone"] and after["phone"] == found["phone"]
    patch(api, is_click_wrap=False, timezone_key="")
    cleared = business(api)
    assert (cleared["has_clickwrap"], cleared["timezone"]) == (False, None)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"business_name": ""}, "BUSINESS_NAME_REQUIRED"),
        ({"email": "sally"}, "INVALID_EMAIL"),
        ({"industry_key": "space_travel"}, "INVALID_INDUSTRY_KEY"),
        ({"timezone_key": "los_angeles_pacific_standard_time"}, "INVALID_TIMEZONE_KEY"),
        ({"privacy_url": "not a url"}, "INVALID_PRIVACY_URL"),
        ({"terms_url": "mailto:legal@example.com"}, "INVALID_TERMS_URL"),
        ({"is_show_kinde_branding": "true"}, "INVALID_IS_SHOW_KINDE_BRANDING"),
        ({"phone": "phone me"}, "INVALID_PHONE"),
        ({"business_name": "Partly fine", "industry_key": "nope"}, "INVALID_INDUSTRY_KEY"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    api: Api, body: dict[str, Any], code: str
) -> None:
    before = business(api)
    error_code(api.request("PATCH", "/business", json=body), 400, code)
    assert business(api) == before


def test_patch_needs_a_json_object(api: Api) -> None:
    error_code(api.request("PATCH", "/business"), 400, "BODY_REQUIRED")
    error_code(
        api.request(
            "PATCH", "/business", content=b"[1]", headers={"Content-Type": "application/json"}
        ),
        400,
        "INVALID_BODY",
    )
