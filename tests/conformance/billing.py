"""Conformance builders of the ``billing`` resource: agreements, entitlements, meter usage.

Plans are defined through Kindling's ``POST /kindling/v1/billing/plans`` (Kinde's API has
no plan operation); every builder puts a fresh customer on the session's plan.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid

FEATURES = [
    {
        "feature_code": "seats",
        "feature_name": "Seats",
        "price_name": "Per seat",
        "unit_amount": 500,
        "entitlement_limit_min": 1,
        "entitlement_limit_max": 25,
    },
    {"feature_code": "api_calls", "feature_name": "API calls", "fixed_charge": 35},
]


def plan(w: World) -> str:
    """The session's plan (defined once per server)."""

    def define() -> str:
        code = f"conf_plan_{uid()}"
        resp = w.http.post(
            "/kindling/v1/billing/plans",
            json={"code": code, "name": "Conformance plan", "features": FEATURES},
            headers={"Authorization": f"Bearer {w.token}"},
        )
        assert resp.status_code == 201, resp.text
        return code

    return w.once(("billing", "plan"), define)


def customer_on_plan(w: World) -> tuple[str, str]:
    """A fresh customer with an agreement on the session's plan: (customer id, agreement id)."""
    customer = f"customer_{uid()}"
    w.ok(
        "createBillingAgreement",
        Req("/billing/agreements", json={"customer_id": customer, "plan_code": plan(w)}),
        "put a customer on a plan",
    )
    body = w.ok(
        "getBillingAgreements",
        Req("/billing/agreements", params={"customer_id": customer}),
        "find the customer's agreement",
    )
    return customer, str(body["agreements"][0]["id"])


@builder("getBillingAgreements")
def _get_billing_agreements(w: World) -> Req:
    customer, agreement = customer_on_plan(w)

    def check(body: Any) -> None:
        assert body["has_more"] is False, body
        [item] = body["agreements"]
        assert (item["id"], item["plan_code"]) == (agreement, plan(w)), body
        assert [e["feature_code"] for e in item["entitlements"]] == ["seats", "api_calls"], body

    return Req(
        "/billing/agreements",
        params={"customer_id": customer, "page_size": 5, "feature_code": "seats"},
        check=check,
    )


@builder("createBillingAgreement")
def _create_billing_agreement(w: World) -> Req:
    return Req(
        "/billing/agreements",
        json={
            "customer_id": f"customer_{uid()}",
            "plan_code": plan(w),
            "is_invoice_now": True,
            "is_prorate": False,
        },
    )


@builder("getBillingEntitlements")
def _get_billing_entitlements(w: World) -> Req:
    customer, _ = customer_on_plan(w)

    def check(body: Any) -> None:
        seats, calls = body["entitlements"]
        assert (seats["feature_code"], seats["entitlement_limit_max"]) == ("seats", 25), body
        assert (calls["feature_code"], calls["entitlement_limit_max"]) == ("api_calls", 100), body
        assert [p["code"] for p in body["plans"]] == [plan(w)], body

    return Req(
        "/billing/entitlements",
        params={"customer_id": customer, "max_value": "100", "expand": "plans"},
        check=check,
    )


@builder("createMeterUsageRecord")
def _create_meter_usage_record(w: World) -> Req:
    _, agreement = customer_on_plan(w)
    return Req(
        "/billing/meter_usage",
        json={
            "customer_agreement_id": agreement,
            "billing_feature_code": "api_calls",
            "meter_value": "42",
            "meter_usage_timestamp": "2024-11-18T13:32:03+11:00",
            "meter_type_code": "delta",
        },
    )
