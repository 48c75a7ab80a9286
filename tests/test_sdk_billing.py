"""The official Python SDK drives every billing operation over TLS.

``billing_agreements_api``, ``billing_entitlements_api`` and ``billing_meter_usage_api``
against a real server: the SDK returns ``None`` when the status differs from the spec's
and raises when a field has the wrong JSON type, so each call is checked for a typed,
non-None result with the values we expect. Plans are defined first through Kindling's
``/kindling/v1/billing/plans`` (the SDK has no plan operation).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    CreateBillingAgreementRequest,
    CreateMeterUsageRecordRequest,
    CreateMeterUsageRecordResponse,
    GetBillingAgreementsResponse,
    GetBillingEntitlementsResponse,
    SuccessResponse,
)

from tests.support import KindlingServer, token_for


def uid() -> str:
    return uuid.uuid4().hex[:10]


def define_plan(server: KindlingServer) -> str:
    code = f"sdk_plan_{uid()}"
    with server.client() as http:
        resp = http.post(
            "/kindling/v1/billing/plans",
            json={
                "code": code,
                "name": "SDK plan",
                "features": [
                    {
                        "feature_code": "seats",
                        "feature_name": "Seats",
                        "price_name": "Per seat",
                        "unit_amount": 1200,
                        "entitlement_limit_min": 1,
                        "entitlement_limit_max": 10,
                    },
                    {"feature_code": "api_calls", "feature_name": "API calls", "fixed_charge": 5},
                ],
            },
            headers={"Authorization": f"Bearer {token_for(server)}"},
        )
    assert resp.status_code == 201, resp.text
    return code


def usage(server: KindlingServer, agreement_id: str) -> dict[str, str]:
    with server.client() as http:
        resp = http.get(
            "/kindling/v1/billing/meter_usage",
            params={"customer_agreement_id": agreement_id},
            headers={"Authorization": f"Bearer {token_for(server)}"},
        )
    assert resp.status_code == 200, resp.text
    return {u["billing_feature_code"]: u["meter_value"] for u in resp.json()["meter_usage"]}


def test_billing_apis_every_operation(client: ManagementClient, tls_server: KindlingServer) -> None:
    plan = define_plan(tls_server)
    customer = f"customer_{uid()}"

    created = client.billing_agreements_api.create_billing_agreement(
        create_billing_agreement_request=CreateBillingAgreementRequest(
            customer_id=customer, plan_code=plan, is_invoice_now=True, is_prorate=False
        )
    )
    assert isinstance(created, SuccessResponse) and created.code == "AGREEMENT_CREATED"

    listed = client.billing_agreements_api.get_billing_agreements(
        customer_id=customer, page_size=10, feature_code="seats"
    )
    assert isinstance(listed, GetBillingAgreementsResponse)
    assert listed.code == "OK" and listed.has_more is False
    assert listed.agreements is not None and len(listed.agreements) == 1
    agreement = listed.agreements[0]
    assert agreement.id is not None and agreement.id.startswith("agreement_")
    assert agreement.plan_code == plan and agreement.expires_on is None
    assert [e.feature_code for e in agreement.entitlements or []] == ["seats", "api_calls"]

    entitled = client.billing_entitlements_api.get_billing_entitlements(
        customer_id=customer, page_size=10, max_value="50", expand="plans"
    )
    assert isinstance(entitled, GetBillingEntitlementsResponse)
    assert entitled.has_more is False and entitled.entitlements is not None
    seats, calls = entitled.entitlements
    assert (seats.feature_code, seats.feature_name, seats.price_name) == (
        "seats",
        "Seats",
        "Per seat",
    )
    assert (seats.unit_amount, seats.entitlement_limit_min, seats.entitlement_limit_max) == (
        1200,
        1,
        10,
    )
    assert (calls.fixed_charge, calls.entitlement_limit_max) == (5, 50)
    assert [e.id for e in entitled.entitlements] == [
        e.entitlement_id for e in agreement.entitlements or []
    ]
    assert entitled.plans is not None and entitled.plans[0].code == plan
    assert isinstance(entitled.plans[0].subscribed_on, datetime)

    paged = client.billing_entitlements_api.get_billing_entitlements(
        customer_id=customer, page_size=1, starting_after=seats.id
    )
    assert paged is not None and [e.id for e in paged.entitlements or []] == [calls.id]
    before = client.billing_entitlements_api.get_billing_entitlements(
        customer_id=customer, ending_before=calls.id
    )
    assert before is not None and [e.id for e in before.entitlements or []] == [seats.id]

    for value, kind in (("4", "delta"), ("6", None), ("3", "absolute")):
        recorded = client.billing_meter_usage_api.create_meter_usage_record(
            create_meter_usage_record_request=CreateMeterUsageRecordRequest(
                customer_agreement_id=agreement.id,
                billing_feature_code="api_calls" if kind != "absolute" else "seats",
                meter_value=value,
                meter_usage_timestamp=datetime(2024, 11, 18, 2, 32, 3, tzinfo=UTC),
                meter_type_code=kind,
            )
        )
        assert isinstance(recorded, CreateMeterUsageRecordResponse)
        assert recorded.code == "METER_USAGE_RECORDED"
    assert usage(tls_server, agreement.id) == {"seats": "3", "api_calls": "10"}


def test_billing_errors_reach_the_sdk_as_bad_requests(client: ManagementClient) -> None:
    with pytest.raises(BadRequestException) as caught:
        client.billing_agreements_api.create_billing_agreement(
            create_billing_agreement_request=CreateBillingAgreementRequest(
                customer_id=f"customer_{uid()}", plan_code=f"missing_{uid()}"
            )
        )
    assert "BILLING_PLAN_NOT_FOUND" in str(caught.value.body)
    with pytest.raises(BadRequestException) as caught:
        client.billing_meter_usage_api.create_meter_usage_record(
            create_meter_usage_record_request=CreateMeterUsageRecordRequest(
                customer_agreement_id="agreement_missing",
                billing_feature_code="seats",
                meter_value="1",
            )
        )
    assert "BILLING_AGREEMENT_NOT_FOUND" in str(caught.value.body)
    empty = client.billing_agreements_api.get_billing_agreements(customer_id=f"customer_{uid()}")
    assert isinstance(empty, GetBillingAgreementsResponse) and empty.agreements == []
