"""Billing: Kinde's agreements, entitlements and meter usage; Kindling's plans and usage."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import keyset_page
from kindling.platform.params import ENDING_BEFORE, NEXT_TOKEN, PAGE_SIZE, STARTING_AFTER, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.billing import service
from kindling.resources.billing.model import Agreement, CustomerEntitlement, Plan

agreements = Router("Billing Agreements")
entitlements = Router("Billing Entitlements")
meter_usage = Router("Billing Meter Usage")

CUSTOMER_ID = Query.string("customer_id", required=True)
FEATURE_CODE = Query.string("feature_code")
#: Kinde's ``max_value``: the maximum shown for an entitlement whose plan sets none.
MAX_VALUE = Query.integer("max_value", minimum=0, maximum=service.MAX_AMOUNT)
EXPAND = Query.expand({"plans"})


def agreement_item(agreement: Agreement) -> dict[str, Any]:
    """An agreement as Kinde lists it; Kindling has no billing groups or billing cycles,
    so those (nullable) fields are null."""
    return {
        "id": agreement.id,
        "plan_code": agreement.plan_code,
        "expires_on": agreement.expires_on,
        "billing_group_id": None,
        "current_period_start": None,
        "current_period_end": None,
        "entitlements": [
            {"feature_code": e.feature_code, "entitlement_id": e.id} for e in agreement.entitlements
        ],
    }


def entitlement_item(entitlement: CustomerEntitlement, max_value: int | None) -> dict[str, Any]:
    """An entitlement as Kinde lists it; unset prices and limits are omitted (the
    contract's integers are not nullable), an unlimited maximum is ``max_value`` if sent."""
    feature = entitlement.feature
    limit_max = feature.limit_max if feature.limit_max is not None else max_value
    return compact(
        {
            "id": entitlement.id,
            "fixed_charge": feature.fixed_charge,
            "price_name": feature.price_name,
            "unit_amount": feature.unit_amount,
            "feature_code": feature.code,
            "feature_name": feature.name,
            "entitlement_limit_max": limit_max,
            "entitlement_limit_min": feature.limit_min,
        }
    )


@agreements.operation(
    "GET",
    "/billing/agreements",
    scope="read:billing_agreements",
    operation_id="getBillingAgreements",
    query=(PAGE_SIZE, STARTING_AFTER, ENDING_BEFORE, CUSTOMER_ID, FEATURE_CODE),
)
def get_billing_agreements(call: Call) -> dict[str, Any]:
    found = service.list_agreements(
        call.ctx.storage,
        call.param(CUSTOMER_ID),
        call.param(FEATURE_CODE),
        call.param(STARTING_AFTER),
        call.param(ENDING_BEFORE),
        call.param(PAGE_SIZE),
    )
    return success(
        "Success",
        "OK",
        has_more=found.has_more,
        agreements=[agreement_item(a) for a in found.items],
    )


@agreements.operation(
    "POST",
    "/billing/agreements",
    scope="create:billing_agreements",
    operation_id="createBillingAgreement",
    body=True,
)
def create_billing_agreement(call: Call) -> dict[str, Any]:
    service.create_agreement(call.ctx.storage, call.ctx.clock, call.json())
    return success("Billing agreement successfully changed", "AGREEMENT_CREATED")


@entitlements.operation(
    "GET",
    "/billing/entitlements",
    scope="read:billing_entitlements",
    operation_id="getBillingEntitlements",
    query=(PAGE_SIZE, STARTING_AFTER, ENDING_BEFORE, CUSTOMER_ID, MAX_VALUE, EXPAND),
)
def get_billing_entitlements(call: Call) -> dict[str, Any]:
    found = service.list_entitlements(
        call.ctx.storage,
        call.param(CUSTOMER_ID),
        call.param(STARTING_AFTER),
        call.param(ENDING_BEFORE),
        call.param(PAGE_SIZE),
    )
    max_value = call.param(MAX_VALUE)
    body = success(
        "Success",
        "OK",
        has_more=found.page.has_more,
        entitlements=[entitlement_item(e, max_value) for e in found.page.items],
    )
    if "plans" in call.param(EXPAND):
        body["plans"] = [{"code": a.plan_code, "subscribed_on": a.created_on} for a in found.plans]
    return body


@meter_usage.operation(
    "POST",
    "/billing/meter_usage",
    scope="create:meter_usage",
    operation_id="createMeterUsageRecord",
    body=True,
)
def create_meter_usage_record(call: Call) -> dict[str, Any]:
    service.record_usage(call.ctx.storage, call.ctx.clock, call.json())
    return success("Meter usage record successfully created", "METER_USAGE_RECORDED")


#: Kindling's own billing operations, mounted at ``/kindling/v1``: Kinde's Management API
#: can put a customer on a plan but cannot define one, and records usage without a way to
#: read it back. They take the Management API's bearer tokens and its billing scopes.
extensions = Router("Kindling extensions")
AGREEMENT_ID = Query.string("customer_agreement_id", required=True)


def plan_item(plan: Plan) -> dict[str, Any]:
    """A plan with its features, in the field names of Kinde's entitlements listing."""
    return compact(
        {
            "code": plan.code,
            "name": plan.name,
            "description": plan.description,
            "created_on": plan.created_on,
            "features": [
                compact(
                    {
                        "feature_code": f.code,
                        "feature_name": f.name,
                        "price_name": f.price_name,
                        "unit_amount": f.unit_amount,
                        "fixed_charge": f.fixed_charge,
                        "entitlement_limit_min": f.limit_min,
                        "entitlement_limit_max": f.limit_max,
                    }
                )
                for f in plan.features
            ],
        }
    )


@extensions.operation(
    "POST",
    "/billing/plans",
    scope="create:billing_agreements",
    status=201,
    operation_id="createBillingPlan",
    body=True,
    errors=(409,),
)
def create_billing_plan(call: Call) -> dict[str, Any]:
    """Define a plan: ``code``, ``name``, ``description`` and ``features`` (each with
    ``feature_code``, ``feature_name`` and optional ``price_name``, ``unit_amount``,
    ``fixed_charge``, ``entitlement_limit_min``, ``entitlement_limit_max``)."""
    plan = service.create_plan(call.ctx.storage, call.ctx.clock, call.json())
    return success("Billing plan successfully created", "PLAN_CREATED", plan=plan_item(plan))


@extensions.operation(
    "GET",
    "/billing/plans",
    scope="read:billing_agreements",
    operation_id="getBillingPlans",
    query=(PAGE_SIZE, NEXT_TOKEN),
)
def get_billing_plans(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage
    plans, token = keyset_page(
        call.ctx.cursors,
        "billing_plans",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        by_sequence=lambda after, size: service.list_plans(storage, after, size),
    )
    return paged("plans", [plan_item(p) for p in plans], token)


@extensions.operation(
    "GET",
    "/billing/meter_usage",
    scope="read:billing_agreements",
    operation_id="getMeterUsage",
    query=(AGREEMENT_ID,),
    errors=(404,),
)
def get_meter_usage(call: Call) -> dict[str, Any]:
    """The accumulated usage of each feature of an agreement (``meter_value`` as Kinde
    sends it: a string)."""
    usage = service.agreement_usage(call.ctx.storage, call.param(AGREEMENT_ID))
    return success(
        "Success",
        "OK",
        customer_agreement_id=usage.agreement.id,
        customer_id=usage.agreement.customer_id,
        meter_usage=[
            compact(
                {
                    "billing_feature_code": f.feature_code,
                    "meter_value": str(f.total),
                    "updated_on": f.updated_on,
                }
            )
            for f in usage.features
        ],
    )
