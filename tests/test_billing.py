"""Billing over HTTP on both engines: agreements, entitlements, meter usage and plans.

Kinde's three billing tags are checked against the contract (exact 2xx, body schema,
scope) and exercised the way an integration uses them: define a plan (Kindling's
``/kindling/v1/billing/plans``), put a customer on it, read what the customer is
entitled to, record usage and read the accumulated usage back; switching plans replaces
the customer's agreement and its entitlements. Bad input is a 400 with a specific code
that writes nothing.

Servers are shared by the whole session: plan codes and customer ids are unique.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.billing import routes
from tests.support import KindlingServer, error_code, token_for
from tests.test_roles import BASE, CONTRACT, Api, uid

EXT = "/kindling/v1"
TAGS = ("Billing Agreements", "Billing Entitlements", "Billing Meter Usage")
ROUTERS = (routes.agreements, routes.entitlements, routes.meter_usage)
SEATS = {
    "feature_code": "seats",
    "feature_name": "Seats",
    "price_name": "Per seat",
    "unit_amount": 500,
    "entitlement_limit_min": 1,
    "entitlement_limit_max": 25,
}
CALLS = {"feature_code": "api_calls", "feature_name": "API calls", "fixed_charge": 35}


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def define_plan(api: Api, *features: dict[str, Any], code: str | None = None) -> str:
    code = code or f"plan_{uid()}"
    body = {"code": code, "name": f"Plan {code}", "features": list(features or (SEATS, CALLS))}
    resp = api.http.post(f"{EXT}/billing/plans", json=body)
    assert resp.status_code == 201, resp.text
    return code


def customer() -> str:
    return f"customer_{uid()}"


def put_on_plan(api: Api, customer_id: str, plan: str, **extra: Any) -> Any:
    body = api.ok(
        "POST",
        "/billing/agreements",
        json={"customer_id": customer_id, "plan_code": plan, **extra},
    )
    assert body == {
        "code": "AGREEMENT_CREATED",
        "message": "Billing agreement successfully changed",
    }
    return body


def agreements(api: Api, customer_id: str, **params: Any) -> Any:
    return api.ok("GET", "/billing/agreements", params={"customer_id": customer_id, **params})


def entitlements(api: Api, customer_id: str, **params: Any) -> Any:
    return api.ok("GET", "/billing/entitlements", params={"customer_id": customer_id, **params})


def usage(api: Api, agreement: str) -> dict[str, str]:
    resp = api.http.get(f"{EXT}/billing/meter_usage", params={"customer_agreement_id": agreement})
    assert resp.status_code == 200, resp.text
    return {u["billing_feature_code"]: u["meter_value"] for u in resp.json()["meter_usage"]}


def record(api: Api, agreement: str, feature: str, value: str, **extra: Any) -> None:
    body = api.ok(
        "POST",
        "/billing/meter_usage",
        json={
            "customer_agreement_id": agreement,
            "billing_feature_code": feature,
            "meter_value": value,
            **extra,
        },
    )
    assert body == {
        "code": "METER_USAGE_RECORDED",
        "message": "Meter usage record successfully created",
    }


# --- the routes versus the contract ---------------------------------------------------


def test_routes_match_the_contract() -> None:
    ops = [op for router in ROUTERS for op in router.operations]
    spec = {(op.method, op.path.removeprefix(BASE)) for op in CONTRACT.operations if op.tag in TAGS}
    assert {(op.method, op.path) for op in ops} == spec
    assert len(ops) == len(spec) == 4
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert (op.scope, op.operation_id, op.tag) == (found.scope, found.operation_id, found.tag)
        assert (op.status,) == found.success_codes, op
        assert op.body == (found.request_body is not None), op
        declared = {p["name"]: p["required"] for p in found.parameters if p["in"] == "query"}
        assert {p.name: p.required for p in op.query} == declared, op


@pytest.mark.parametrize(
    "op",
    [op for router in (*ROUTERS, routes.extensions) for op in router.operations],
    ids=lambda op: f"{op.method} {op.path}",
)
def test_each_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    who = customer()
    prefix = BASE if any(op in r.operations for r in ROUTERS) else EXT
    kwargs: dict[str, Any] = {"params": {"customer_id": who, "customer_agreement_id": "x"}}
    if op.body:
        kwargs["json"] = {"customer_id": who, "plan_code": define_plan(api), "code": uid()}
    resp = api.http.request(
        op.method, prefix + op.path, headers={"Authorization": f"Bearer {narrow}"}, **kwargs
    )
    error_code(resp, 403, "INSUFFICIENT_SCOPE")
    assert f'scope="{op.scope}"' in resp.headers["www-authenticate"]
    assert agreements(api, who)["agreements"] == []  # the refused call wrote nothing


# --- plans (Kindling's extension) -----------------------------------------------------


def test_a_plan_is_defined_once_and_listed(api: Api) -> None:
    code = f"plan_{uid()}"
    resp = api.http.post(
        f"{EXT}/billing/plans",
        json={"code": code, "name": "Pro", "description": "Teams", "features": [SEATS, CALLS]},
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert (created["code"], created["plan"]["code"]) == ("PLAN_CREATED", code)
    assert created["plan"]["features"] == [SEATS, CALLS]
    again = api.http.post(f"{EXT}/billing/plans", json={"code": code, "name": "Again"})
    error_code(again, 409, "BILLING_PLAN_EXISTS")

    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"page_size": 50}
    while True:
        page = api.http.get(f"{EXT}/billing/plans", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["plans"]) <= 50
        found.extend(p for p in body["plans"] if p["code"] == code)
        if "next_token" not in body:
            break
        params["next_token"] = body["next_token"]
    assert found == [created["plan"]]
    assert found[0]["name"] == "Pro" and found[0]["description"] == "Teams"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "No code"}, "CODE_REQUIRED"),
        ({"code": "two words", "name": "X"}, "INVALID_CODE"),
        ({"code": "CODE", "name": "X", "features": [SEATS, SEATS]}, "DUPLICATE_FEATURE_CODE"),
        (
            {"code": "CODE", "name": "X", "features": [{**SEATS, "unit_amount": "5"}]},
            "INVALID_UNIT_AMOUNT",
        ),
    ],
)
def test_a_bad_plan_is_refused_and_not_defined(api: Api, body: dict[str, Any], code: str) -> None:
    plan = f"plan_{uid()}"
    if body.get("code") == "CODE":
        body = {**body, "code": plan}
    error_code(api.http.post(f"{EXT}/billing/plans", json=body), 400, code)
    # Nothing was written: the plan code is still free and no customer can use it.
    error_code(
        api.request(
            "POST", "/billing/agreements", json={"customer_id": customer(), "plan_code": plan}
        ),
        400,
        "BILLING_PLAN_NOT_FOUND",
    )


# --- agreements and entitlements ------------------------------------------------------


def test_a_customer_on_a_plan_has_its_agreement_and_entitlements(api: Api) -> None:
    plan = define_plan(api)
    who = customer()
    assert agreements(api, who) == {
        "code": "OK",
        "message": "Success",
        "has_more": False,
        "agreements": [],
    }
    put_on_plan(api, who, plan, is_invoice_now=True, is_prorate=True)

    body = agreements(api, who)
    [agreement] = body["agreements"]
    assert body["has_more"] is False
    assert agreement["id"].startswith("agreement_") and agreement["plan_code"] == plan
    assert agreement["expires_on"] is None
    assert [e["feature_code"] for e in agreement["entitlements"]] == ["seats", "api_calls"]
    assert agreements(api, who, feature_code="seats")["agreements"] == [agreement]
    assert agreements(api, who, feature_code="storage")["agreements"] == []

    listed = entitlements(api, who)
    ids = [e["entitlement_id"] for e in agreement["entitlements"]]
    assert listed == {
        "code": "OK",
        "message": "Success",
        "has_more": False,
        "entitlements": [
            {
                "id": ids[0],
                "price_name": "Per seat",
                "unit_amount": 500,
                "feature_code": "seats",
                "feature_name": "Seats",
                "entitlement_limit_max": 25,
                "entitlement_limit_min": 1,
            },
            {
                "id": ids[1],
                "fixed_charge": 35,
                "feature_code": "api_calls",
                "feature_name": "API calls",
            },
        ],
    }
    # ``max_value`` stands in for a missing maximum only; ``expand=plans`` adds the plan.
    expanded = entitlements(api, who, max_value="1000", expand="plans")
    assert [e.get("entitlement_limit_max") for e in expanded["entitlements"]] == [25, 1000]
    [subscribed] = expanded["plans"]
    assert subscribed["code"] == plan and subscribed["subscribed_on"].startswith("20")


def test_changing_plan_replaces_the_agreement_and_its_entitlements(api: Api) -> None:
    basic = define_plan(api, CALLS)
    pro = define_plan(api, SEATS, CALLS, {"feature_code": "sso", "feature_name": "SSO"})
    who = customer()
    put_on_plan(api, who, basic)
    [old] = agreements(api, who)["agreements"]
    put_on_plan(api, who, pro)
    [new] = agreements(api, who)["agreements"]
    assert new["id"] != old["id"] and new["plan_code"] == pro
    assert [e["feature_code"] for e in entitlements(api, who)["entitlements"]] == [
        "seats",
        "api_calls",
        "sso",
    ]
    # Usage goes to the current agreement only.
    error_code(
        api.request(
            "POST",
            "/billing/meter_usage",
            json={
                "customer_agreement_id": old["id"],
                "billing_feature_code": "api_calls",
                "meter_value": "1",
            },
        ),
        400,
        "BILLING_AGREEMENT_EXPIRED",
    )
    # Asking for the current plan again changes nothing.
    error_code(
        api.request("POST", "/billing/agreements", json={"customer_id": who, "plan_code": pro}),
        400,
        "CUSTOMER_ALREADY_ON_PLAN",
    )
    assert agreements(api, who)["agreements"] == [new]


def test_entitlements_page_with_starting_after_and_ending_before(api: Api) -> None:
    features = [{"feature_code": f"f{i}", "feature_name": f"F{i}"} for i in range(5)]
    who = customer()
    put_on_plan(api, who, define_plan(api, *features))

    def codes(body: Any) -> list[str]:
        return [e["feature_code"] for e in body["entitlements"]]

    first = entitlements(api, who, page_size=2)
    assert (codes(first), first["has_more"]) == (["f0", "f1"], True)
    second = entitlements(api, who, page_size=2, starting_after=first["entitlements"][-1]["id"])
    assert (codes(second), second["has_more"]) == (["f2", "f3"], True)
    last = entitlements(api, who, page_size=2, starting_after=second["entitlements"][-1]["id"])
    assert (codes(last), last["has_more"]) == (["f4"], False)
    back = entitlements(api, who, page_size=2, ending_before=last["entitlements"][0]["id"])
    assert back["entitlements"] == second["entitlements"] and back["has_more"] is True


def test_agreement_cursors_must_be_the_customers_own(api: Api) -> None:
    plan = define_plan(api)
    who, other = customer(), customer()
    put_on_plan(api, who, plan)
    put_on_plan(api, other, plan)
    [theirs] = agreements(api, other)["agreements"]
    [mine] = agreements(api, who)["agreements"]
    for params, code in (
        ({"starting_after": theirs["id"]}, "INVALID_STARTING_AFTER"),
        ({"ending_before": theirs["id"]}, "INVALID_ENDING_BEFORE"),
        ({"starting_after": mine["id"], "ending_before": mine["id"]}, "INVALID_PAGINATION"),
    ):
        resp = api.request("GET", "/billing/agreements", params={"customer_id": who, **params})
        error_code(resp, 400, code)
    assert agreements(api, who, starting_after=mine["id"])["agreements"] == []
    for params, code in (
        ({"starting_after": theirs["entitlements"][0]["entitlement_id"]}, "INVALID_STARTING_AFTER"),
        ({"ending_before": "entitlement_missing"}, "INVALID_ENDING_BEFORE"),
    ):
        resp = api.request("GET", "/billing/entitlements", params={"customer_id": who, **params})
        error_code(resp, 400, code)


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/billing/agreements", {}, "CUSTOMER_ID_REQUIRED"),
        ("/billing/agreements", {"customer_id": ""}, "CUSTOMER_ID_REQUIRED"),
        ("/billing/agreements", {"customer_id": "a b"}, "INVALID_CUSTOMER_ID"),
        ("/billing/agreements", {"customer_id": "c", "page_size": "0"}, "INVALID_PAGE_SIZE"),
        (
            "/billing/agreements",
            {"customer_id": "c", "page_size": "501"},
            "PAGE_SIZE_LIMIT_EXCEEDED",
        ),
        ("/billing/entitlements", {}, "CUSTOMER_ID_REQUIRED"),
        ("/billing/entitlements", {"customer_id": "c", "max_value": "lots"}, "INVALID_MAX_VALUE"),
        ("/billing/entitlements", {"customer_id": "c", "max_value": "-1"}, "INVALID_MAX_VALUE"),
        ("/billing/entitlements", {"customer_id": "c", "expand": "prices"}, "INVALID_EXPAND"),
    ],
)
def test_listing_parameters_are_checked(
    api: Api, path: str, params: dict[str, str], code: str
) -> None:
    error_code(api.request("GET", path, params=params), 400, code)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"plan_code": "PLAN"}, "CUSTOMER_ID_REQUIRED"),
        ({"customer_id": "CUSTOMER"}, "PLAN_CODE_REQUIRED"),
        ({"customer_id": "CUSTOMER", "plan_code": "no_such_plan"}, "BILLING_PLAN_NOT_FOUND"),
        (
            {"customer_id": "CUSTOMER", "plan_code": "PLAN", "is_prorate": "true"},
            "INVALID_IS_PRORATE",
        ),
    ],
)
def test_a_bad_agreement_is_refused_and_writes_nothing(
    api: Api, body: dict[str, Any], code: str
) -> None:
    plan = define_plan(api)
    who = customer()
    filled = {k: (who if v == "CUSTOMER" else plan if v == "PLAN" else v) for k, v in body.items()}
    error_code(api.request("POST", "/billing/agreements", json=filled), 400, code)
    assert agreements(api, who)["agreements"] == []


def test_agreement_bodies_must_be_json_objects(api: Api) -> None:
    error_code(api.request("POST", "/billing/agreements"), 400, "BODY_REQUIRED")
    error_code(
        api.request(
            "POST",
            "/billing/agreements",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "INVALID_JSON",
    )


# --- meter usage ----------------------------------------------------------------------


def test_usage_accumulates_and_can_be_read_back(api: Api) -> None:
    who = customer()
    put_on_plan(api, who, define_plan(api))
    [agreement] = agreements(api, who)["agreements"]
    assert usage(api, agreement["id"]) == {"seats": "0", "api_calls": "0"}
    record(api, agreement["id"], "api_calls", "40")
    record(api, agreement["id"], "api_calls", "2", meter_type_code="delta")
    record(
        api,
        agreement["id"],
        "seats",
        "7",
        meter_type_code="absolute",
        meter_usage_timestamp="2024-11-18T13:32:03+11:00",
    )
    record(api, agreement["id"], "seats", "5", meter_type_code="absolute")
    assert usage(api, agreement["id"]) == {"seats": "5", "api_calls": "42"}
    read = api.http.get(
        f"{EXT}/billing/meter_usage", params={"customer_agreement_id": agreement["id"]}
    ).json()
    assert (read["customer_agreement_id"], read["customer_id"]) == (agreement["id"], who)


def test_concurrent_usage_records_all_count(api: Api, server: KindlingServer) -> None:
    who = customer()
    put_on_plan(api, who, define_plan(api))
    [agreement] = agreements(api, who)["agreements"]
    statuses: list[int] = []
    token = token_for(server)

    def post() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            for _ in range(5):
                resp = http.post(
                    f"{BASE}/billing/meter_usage",
                    json={
                        "customer_agreement_id": agreement["id"],
                        "billing_feature_code": "api_calls",
                        "meter_value": "3",
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
                statuses.append(resp.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert usage(api, agreement["id"])["api_calls"] == "60"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"customer_agreement_id": "agreement_missing"}, "BILLING_AGREEMENT_NOT_FOUND"),
        ({"billing_feature_code": "storage"}, "BILLING_FEATURE_NOT_IN_AGREEMENT"),
        ({"meter_value": None}, "METER_VALUE_REQUIRED"),
        ({"meter_value": 3}, "INVALID_METER_VALUE"),
        ({"meter_value": "pro_gym"}, "INVALID_METER_VALUE"),
        ({"meter_type_code": "sum"}, "INVALID_METER_TYPE_CODE"),
        ({"meter_usage_timestamp": "tomorrow"}, "INVALID_METER_USAGE_TIMESTAMP"),
    ],
)
def test_bad_usage_is_refused_and_not_counted(api: Api, fields: dict[str, Any], code: str) -> None:
    who = customer()
    put_on_plan(api, who, define_plan(api))
    [agreement] = agreements(api, who)["agreements"]
    body = {
        "customer_agreement_id": agreement["id"],
        "billing_feature_code": "api_calls",
        "meter_value": "9",
        **fields,
    }
    # The contract declares no 404 for this operation: an unknown agreement is a 400.
    error_code(api.request("POST", "/billing/meter_usage", json=body), 400, code)
    assert usage(api, agreement["id"]) == {"seats": "0", "api_calls": "0"}


def test_reading_the_usage_of_an_unknown_agreement_is_404(api: Api) -> None:
    resp = api.http.get(
        f"{EXT}/billing/meter_usage", params={"customer_agreement_id": "agreement_missing"}
    )
    error_code(resp, 404, "BILLING_AGREEMENT_NOT_FOUND")
    error_code(api.http.get(f"{EXT}/billing/meter_usage"), 400, "CUSTOMER_AGREEMENT_ID_REQUIRED")
