"""Billing services on both engines, no HTTP: plans, agreements, entitlements, usage.

What a caller relies on: a new agreement replaces the customer's current one (one
active agreement per customer, even under concurrent calls), the entitlements follow
the active agreement's plan, usage accumulates per agreement and feature, and bad input
is refused with its code before anything is written. Every committed change has its
events in the outbox; a refused call has none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from kindling.clock import FrozenClock, isoformat
from kindling.platform.errors import (
    AlreadyExists,
    Conflict,
    KindlingError,
    NotFound,
    ValidationError,
)
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.billing import service as billing
from kindling.resources.billing.model import Agreement, Plan
from kindling.resources.billing.repository import BILLING_REPO
from tests.services.support import NOW, START, Outbox, Recorded, uid

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


def new_plan(storage: Storage, clock: FrozenClock, **body: Any) -> Plan:
    return billing.create_plan(
        storage, clock, {"code": f"plan_{uid()}", "name": "Pro", "features": FEATURES, **body}
    )


def customer() -> str:
    return f"customer_{uid()}"


def agree(storage: Storage, clock: FrozenClock, customer_id: str, plan: Plan) -> Agreement:
    return billing.create_agreement(
        storage, clock, {"customer_id": customer_id, "plan_code": plan.code}
    )


def refused(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> None:
    """``call`` raises ``error`` with ``code`` and commits no event."""
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code, raised.value.message
    assert outbox.recorded() == []


# --- plans ---------------------------------------------------------------------------


def test_create_plan_stores_it_and_records_its_event(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    code = f"pro_{uid()}"
    plan = billing.create_plan(
        storage,
        clock,
        {"code": f" {code} ", "name": " Pro ", "description": "For teams", "features": FEATURES},
    )
    assert (plan.code, plan.name, plan.description, plan.created_on) == (
        code,
        "Pro",
        "For teams",
        NOW,
    )
    seats, calls = plan.features
    assert (seats.code, seats.price_name, seats.unit_amount, seats.limit_min) == (
        "seats",
        "Per seat",
        500,
        1,
    )
    assert (calls.fixed_charge, calls.limit_max, calls.unit_amount) == (35, None, None)
    with storage.read() as uow:
        assert uow[BILLING_REPO].get_plan(code) == plan
    assert outbox.take() == [
        Recorded(
            EventType.BILLING_PLAN_CREATED,
            {
                "billing_plan": {
                    "code": code,
                    "name": "Pro",
                    "description": "For teams",
                    "features": ["seats", "api_calls"],
                }
            },
        )
    ]


def test_a_plan_code_is_defined_once(storage: Storage, clock: FrozenClock, outbox: Outbox) -> None:
    plan = new_plan(storage, clock)
    refused(
        outbox,
        AlreadyExists,
        "BILLING_PLAN_EXISTS",
        lambda: billing.create_plan(storage, clock, {"code": plan.code, "name": "Again"}),
    )
    with storage.read() as uow:
        assert uow[BILLING_REPO].get_plan(plan.code) == plan


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "No code"}, "CODE_REQUIRED"),
        ({"code": "has space", "name": "X"}, "INVALID_CODE"),
        ({"code": "ok"}, "NAME_REQUIRED"),
        ({"code": "ok", "name": "X", "features": {"seats": 1}}, "INVALID_FEATURES"),
        ({"code": "ok", "name": "X", "features": ["seats"]}, "INVALID_FEATURES"),
        ({"code": "ok", "name": "X", "features": [{"feature_name": "S"}]}, "FEATURE_CODE_REQUIRED"),
        ({"code": "ok", "name": "X", "features": [{"feature_code": "s"}]}, "FEATURE_NAME_REQUIRED"),
        (
            {"code": "ok", "name": "X", "features": [FEATURES[0], FEATURES[0]]},
            "DUPLICATE_FEATURE_CODE",
        ),
        (
            {"code": "ok", "name": "X", "features": [{**FEATURES[0], "unit_amount": -1}]},
            "INVALID_UNIT_AMOUNT",
        ),
        (
            {"code": "ok", "name": "X", "features": [{**FEATURES[0], "fixed_charge": True}]},
            "INVALID_FIXED_CHARGE",
        ),
        (
            {"code": "ok", "name": "X", "features": [{**FEATURES[0], "unit_amount": 1.5}]},
            "INVALID_UNIT_AMOUNT",
        ),
        (
            {
                "code": "ok",
                "name": "X",
                "features": [{**FEATURES[0], "entitlement_limit_min": 30}],
            },
            "INVALID_ENTITLEMENT_LIMIT_MIN",
        ),
        (
            {
                "code": "ok",
                "name": "X",
                "features": [
                    {"feature_code": f"f{i}", "feature_name": "F"}
                    for i in range(billing.MAX_FEATURES + 1)
                ],
            },
            "TOO_MANY_FEATURES",
        ),
    ],
)
def test_create_plan_refuses_bad_input_and_writes_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox, body: dict[str, Any], code: str
) -> None:
    if body.get("code") == "ok":
        body = {**body, "code": f"ok_{uid()}"}
    refused(outbox, ValidationError, code, lambda: billing.create_plan(storage, clock, body))
    if "code" in body and " " not in str(body["code"]):
        with storage.read() as uow:
            assert uow[BILLING_REPO].get_plan(str(body["code"])) is None


def test_list_plans_pages_in_definition_order(storage: Storage, clock: FrozenClock) -> None:
    everything: list[Plan] = []
    after = None
    made = [new_plan(storage, clock) for _ in range(3)]
    while True:
        plans, after = billing.list_plans(storage, after, 2)
        assert len(plans) <= 2
        everything.extend(plans)
        if after is None:
            break
    assert everything[-3:] == made


# --- agreements ----------------------------------------------------------------------


def test_an_agreement_gives_one_entitlement_per_feature_of_its_plan(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    plan = new_plan(storage, clock)
    outbox.mark()
    who = customer()
    agreement = billing.create_agreement(
        storage,
        clock,
        {"customer_id": who, "plan_code": plan.code, "is_invoice_now": True, "is_prorate": False},
    )
    assert agreement.id.startswith("agreement_") and len(agreement.id) == len("agreement_") + 32
    assert (agreement.customer_id, agreement.plan_code, agreement.created_on) == (
        who,
        plan.code,
        NOW,
    )
    assert agreement.expires_on is None
    assert [e.feature_code for e in agreement.entitlements] == ["seats", "api_calls"]
    assert all(e.id.startswith("entitlement_") for e in agreement.entitlements)
    listed = billing.list_agreements(storage, who, None, None, None, 10)
    assert (listed.items, listed.has_more) == ([agreement], False)
    assert outbox.take() == [
        Recorded(
            EventType.BILLING_AGREEMENT_CREATED,
            {
                "billing_agreement": {
                    "id": agreement.id,
                    "customer_id": who,
                    "plan_code": plan.code,
                    "expires_on": None,
                    "entitlements": [
                        {"entitlement_id": e.id, "feature_code": e.feature_code}
                        for e in agreement.entitlements
                    ],
                },
                "is_invoice_now": True,
                "is_prorate": False,
            },
        )
    ]


def test_a_new_agreement_cancels_the_current_one(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    basic = new_plan(storage, clock, features=[FEATURES[1]])
    pro = new_plan(storage, clock)
    who = customer()
    old = agree(storage, clock, who, basic)
    clock.advance(60)
    outbox.mark()
    new = agree(storage, clock, who, pro)
    later = isoformat(START + 60)
    assert billing.list_agreements(storage, who, None, None, None, 10).items == [new]
    with storage.read() as uow:
        expired = uow[BILLING_REPO].get_agreement(old.id)
    assert expired is not None and expired.expires_on == later
    events = outbox.take()
    assert [e.type for e in events] == [
        EventType.BILLING_AGREEMENT_CANCELLED,
        EventType.BILLING_AGREEMENT_CREATED,
    ]
    assert events[0].data["billing_agreement"]["id"] == old.id
    assert events[0].data["billing_agreement"]["expires_on"] == later
    assert events[1].data["billing_agreement"]["id"] == new.id
    # The entitlements follow the new plan; the old plan's are gone with its agreement.
    found = billing.list_entitlements(storage, who, None, None, 10)
    assert [e.feature.code for e in found.page.items] == ["seats", "api_calls"]
    assert {e.agreement_id for e in found.page.items} == {new.id}
    assert [a.id for a in found.plans] == [new.id]


def test_the_plan_a_customer_is_on_is_refused(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    plan = new_plan(storage, clock)
    who = customer()
    agreement = agree(storage, clock, who, plan)
    refused(
        outbox,
        ValidationError,
        "CUSTOMER_ALREADY_ON_PLAN",
        lambda: agree(storage, clock, who, plan),
    )
    assert billing.list_agreements(storage, who, None, None, None, 10).items == [agreement]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"plan_code": "PLAN"}, "CUSTOMER_ID_REQUIRED"),
        ({"customer_id": "  ", "plan_code": "PLAN"}, "CUSTOMER_ID_REQUIRED"),
        ({"customer_id": "has space", "plan_code": "PLAN"}, "INVALID_CUSTOMER_ID"),
        ({"customer_id": 12, "plan_code": "PLAN"}, "INVALID_CUSTOMER_ID"),
        ({"customer_id": "x" * 129, "plan_code": "PLAN"}, "CUSTOMER_ID_TOO_LONG"),
        ({"customer_id": "CUSTOMER"}, "PLAN_CODE_REQUIRED"),
        ({"customer_id": "CUSTOMER", "plan_code": "missing"}, "BILLING_PLAN_NOT_FOUND"),
        (
            {"customer_id": "CUSTOMER", "plan_code": "PLAN", "is_invoice_now": "yes"},
            "INVALID_IS_INVOICE_NOW",
        ),
        (
            {"customer_id": "CUSTOMER", "plan_code": "PLAN", "is_prorate": 1},
            "INVALID_IS_PRORATE",
        ),
    ],
)
def test_create_agreement_refuses_bad_input_and_writes_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox, body: dict[str, Any], code: str
) -> None:
    plan = new_plan(storage, clock)
    who = customer()
    current = agree(storage, clock, who, new_plan(storage, clock))
    filled = {
        k: (who if v == "CUSTOMER" else plan.code if v == "PLAN" else v) for k, v in body.items()
    }
    refused(outbox, ValidationError, code, lambda: billing.create_agreement(storage, clock, filled))
    assert billing.list_agreements(storage, who, None, None, None, 10).items == [current]


def test_concurrent_agreements_for_one_customer_leave_one_active(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    plans = [new_plan(storage, clock) for _ in range(4)]
    who = customer()
    outbox.mark()
    made: list[Agreement] = []
    conflicts: list[Conflict] = []
    unexpected: list[BaseException] = []

    def create(plan: Plan) -> None:
        try:
            made.append(agree(storage, clock, who, plan))
        except Conflict as exc:
            conflicts.append(exc)
        except BaseException as exc:  # pragma: no cover - reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=create, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    assert made and len(made) + len(conflicts) == len(plans)
    assert all(c.code == "CONFLICT" for c in conflicts)
    active = billing.list_agreements(storage, who, None, None, None, 10).items
    assert len(active) == 1 and active[0] in made
    # Each committed agreement has its created event; nothing of the refused ones.
    created = [e for e in outbox.recorded() if e.type == EventType.BILLING_AGREEMENT_CREATED]
    assert sorted(e.data["billing_agreement"]["id"] for e in created) == sorted(a.id for a in made)


# --- listings ------------------------------------------------------------------------


def test_listings_of_a_customer_without_agreements_are_empty(storage: Storage) -> None:
    who = customer()
    assert billing.list_agreements(storage, who, None, None, None, 10) == billing.Page([], False)
    found = billing.list_entitlements(storage, who, None, None, 10)
    assert (found.page, found.plans) == (billing.Page([], False), [])


def test_list_agreements_filters_by_feature(storage: Storage, clock: FrozenClock) -> None:
    plan = new_plan(storage, clock)
    who = customer()
    agreement = agree(storage, clock, who, plan)
    assert billing.list_agreements(storage, who, "seats", None, None, 10).items == [agreement]
    assert billing.list_agreements(storage, who, "storage", None, None, 10).items == []


def test_entitlements_page_both_ways(storage: Storage, clock: FrozenClock) -> None:
    features = [{"feature_code": f"f{i}", "feature_name": f"F{i}"} for i in range(5)]
    plan = new_plan(storage, clock, features=features)
    who = customer()
    agree(storage, clock, who, plan)

    def codes(page: billing.Page[Any]) -> list[str]:
        return [e.feature.code for e in page.items]

    first = billing.list_entitlements(storage, who, None, None, 2).page
    assert (codes(first), first.has_more) == (["f0", "f1"], True)
    second = billing.list_entitlements(storage, who, first.items[-1].id, None, 2).page
    assert (codes(second), second.has_more) == (["f2", "f3"], True)
    last = billing.list_entitlements(storage, who, second.items[-1].id, None, 2).page
    assert (codes(last), last.has_more) == (["f4"], False)
    back = billing.list_entitlements(storage, who, None, last.items[0].id, 2).page
    assert (codes(back), back.has_more) == (["f2", "f3"], True)
    start = billing.list_entitlements(storage, who, None, first.items[1].id, 2).page
    assert (codes(start), start.has_more) == (["f0"], False)


@pytest.mark.parametrize(
    ("after", "before", "code"),
    [
        ("OTHER", None, "INVALID_STARTING_AFTER"),
        ("entitlement_missing", None, "INVALID_STARTING_AFTER"),
        (None, "OTHER", "INVALID_ENDING_BEFORE"),
        ("MINE", "MINE", "INVALID_PAGINATION"),
    ],
)
def test_entitlement_cursors_must_name_the_customers_own(
    storage: Storage, clock: FrozenClock, after: str | None, before: str | None, code: str
) -> None:
    plan = new_plan(storage, clock)
    who = customer()
    mine = agree(storage, clock, who, plan).entitlements[0].id
    other = agree(storage, clock, customer(), plan).entitlements[0].id
    ids = {"MINE": mine, "OTHER": other}
    with pytest.raises(ValidationError) as raised:
        billing.list_entitlements(
            storage, who, ids.get(after or "", after), ids.get(before or "", before), 10
        )
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("after", "before", "code"),
    [
        ("OTHER", None, "INVALID_STARTING_AFTER"),
        (None, "OTHER", "INVALID_ENDING_BEFORE"),
        ("MINE", "MINE", "INVALID_PAGINATION"),
    ],
)
def test_agreement_cursors_must_name_the_customers_own(
    storage: Storage, clock: FrozenClock, after: str | None, before: str | None, code: str
) -> None:
    plan = new_plan(storage, clock)
    who = customer()
    ids = {
        "MINE": agree(storage, clock, who, plan).id,
        "OTHER": agree(storage, clock, customer(), plan).id,
    }
    with pytest.raises(ValidationError) as raised:
        billing.list_agreements(
            storage, who, None, ids.get(after or "", after), ids.get(before or "", before), 10
        )
    assert raised.value.code == code


def test_an_expired_agreement_may_still_be_a_cursor(storage: Storage, clock: FrozenClock) -> None:
    who = customer()
    old = agree(storage, clock, who, new_plan(storage, clock))
    new = agree(storage, clock, who, new_plan(storage, clock))
    assert billing.list_agreements(storage, who, None, old.id, None, 10).items == [new]
    assert billing.list_agreements(storage, who, None, None, new.id, 10).items == []


def test_listings_need_a_customer_id(storage: Storage) -> None:
    for call in (
        lambda: billing.list_agreements(storage, " ", None, None, None, 10),
        lambda: billing.list_entitlements(storage, "", None, None, 10),
    ):
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.code == "CUSTOMER_ID_REQUIRED"


# --- metered usage -------------------------------------------------------------------


def test_usage_accumulates_per_agreement_and_feature(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    plan = new_plan(storage, clock)
    who = customer()
    agreement = agree(storage, clock, who, plan)
    other = agree(storage, clock, customer(), plan)
    outbox.mark()

    def record(agreement_: Agreement, feature: str, value: str, **extra: str) -> int:
        body = {
            "customer_agreement_id": agreement_.id,
            "billing_feature_code": feature,
            "meter_value": value,
            **extra,
        }
        return billing.record_usage(storage, clock, body).total

    assert record(agreement, "api_calls", "5") == 5
    assert record(agreement, "api_calls", " 07 ", meter_type_code="delta") == 12
    assert record(other, "api_calls", "100") == 100
    assert record(agreement, "seats", "3", meter_type_code="absolute") == 3
    assert record(agreement, "seats", "2", meter_type_code="absolute") == 2
    assert record(agreement, "api_calls", "0") == 12
    usage = billing.agreement_usage(storage, agreement.id)
    assert [(f.feature_code, f.total, f.updated_on) for f in usage.features] == [
        ("seats", 2, NOW),
        ("api_calls", 12, NOW),
    ]
    events = outbox.take()
    assert [e.type for e in events] == [EventType.METER_USAGE_RECORDED] * 6
    first = events[0].data["meter_usage"]
    assert first == {
        "id": first["id"],
        "customer_agreement_id": agreement.id,
        "customer_id": who,
        "billing_feature_code": "api_calls",
        "meter_type_code": "delta",
        "meter_value": "5",
        "meter_usage_timestamp": NOW,
        "total": "5",
    }
    assert first["id"].startswith("meter_usage_")
    assert [e.data["meter_usage"]["total"] for e in events] == ["5", "12", "100", "3", "2", "12"]


def test_an_agreement_without_usage_shows_zero(storage: Storage, clock: FrozenClock) -> None:
    agreement = agree(storage, clock, customer(), new_plan(storage, clock))
    usage = billing.agreement_usage(storage, agreement.id)
    assert usage.agreement == agreement
    assert [(f.feature_code, f.total, f.updated_on) for f in usage.features] == [
        ("seats", 0, None),
        ("api_calls", 0, None),
    ]
    with pytest.raises(NotFound) as raised:
        billing.agreement_usage(storage, "agreement_missing")
    assert raised.value.code == "BILLING_AGREEMENT_NOT_FOUND"


@pytest.mark.parametrize(
    ("stamp", "stored"),
    [
        ("2024-11-18T13:32:03+11", "2024-11-18T02:32:03+00:00"),
        ("2024-11-18T13:32:03Z", "2024-11-18T13:32:03+00:00"),
        ("2024-11-18T13:32:03.250-05:00", "2024-11-18T18:32:03.250000+00:00"),
        ("2024-11-18T13:32:03", "2024-11-18T13:32:03+00:00"),
    ],
)
def test_usage_timestamps_are_stored_in_utc(
    storage: Storage, clock: FrozenClock, stamp: str, stored: str
) -> None:
    agreement = agree(storage, clock, customer(), new_plan(storage, clock))
    recorded = billing.record_usage(
        storage,
        clock,
        {
            "customer_agreement_id": agreement.id,
            "billing_feature_code": "seats",
            "meter_value": "1",
            "meter_usage_timestamp": stamp,
        },
    )
    assert (recorded.usage.usage_on, recorded.usage.recorded_on) == (stored, NOW)
    with storage.read() as uow:
        assert uow[BILLING_REPO].usage_records(agreement.id) == [recorded.usage]


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"customer_agreement_id": None}, ValidationError, "CUSTOMER_AGREEMENT_ID_REQUIRED"),
        ({"customer_agreement_id": "agreement_missing"}, NotFound, "BILLING_AGREEMENT_NOT_FOUND"),
        ({"billing_feature_code": None}, ValidationError, "BILLING_FEATURE_CODE_REQUIRED"),
        ({"billing_feature_code": "storage"}, ValidationError, "BILLING_FEATURE_NOT_IN_AGREEMENT"),
        ({"meter_value": None}, ValidationError, "METER_VALUE_REQUIRED"),
        ({"meter_value": " "}, ValidationError, "METER_VALUE_REQUIRED"),
        ({"meter_value": 5}, ValidationError, "INVALID_METER_VALUE"),
        ({"meter_value": "1.5"}, ValidationError, "INVALID_METER_VALUE"),
        ({"meter_value": "-3"}, ValidationError, "INVALID_METER_VALUE"),
        ({"meter_value": "pro_gym"}, ValidationError, "INVALID_METER_VALUE"),
        ({"meter_value": "9" * 17}, ValidationError, "INVALID_METER_VALUE"),
        ({"meter_value": "9999999999999999"}, ValidationError, "INVALID_METER_VALUE"),
        ({"meter_type_code": "sum"}, ValidationError, "INVALID_METER_TYPE_CODE"),
        ({"meter_usage_timestamp": "yesterday"}, ValidationError, "INVALID_METER_USAGE_TIMESTAMP"),
        ({"meter_usage_timestamp": "2024-11-18"}, ValidationError, "INVALID_METER_USAGE_TIMESTAMP"),
        ({"meter_usage_timestamp": 1731900000}, ValidationError, "INVALID_METER_USAGE_TIMESTAMP"),
        (
            {"meter_usage_timestamp": "2024-13-18T13:32:03Z"},
            ValidationError,
            "INVALID_METER_USAGE_TIMESTAMP",
        ),
    ],
)
def test_record_usage_refuses_bad_input_and_writes_nothing(
    storage: Storage,
    clock: FrozenClock,
    outbox: Outbox,
    fields: dict[str, Any],
    error: type[KindlingError],
    code: str,
) -> None:
    agreement = agree(storage, clock, customer(), new_plan(storage, clock))
    body = {
        "customer_agreement_id": agreement.id,
        "billing_feature_code": "api_calls",
        "meter_value": "5",
        **fields,
    }
    refused(outbox, error, code, lambda: billing.record_usage(storage, clock, body))
    with storage.read() as uow:
        assert uow[BILLING_REPO].usage_records(agreement.id) == []
        assert uow[BILLING_REPO].usage_totals(agreement.id) == []


def test_usage_against_a_replaced_agreement_is_refused(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    who = customer()
    old = agree(storage, clock, who, new_plan(storage, clock))
    agree(storage, clock, who, new_plan(storage, clock))
    body = {"customer_agreement_id": old.id, "billing_feature_code": "seats", "meter_value": "1"}
    refused(
        outbox,
        ValidationError,
        "BILLING_AGREEMENT_EXPIRED",
        lambda: billing.record_usage(storage, clock, body),
    )
    with storage.read() as uow:
        assert uow[BILLING_REPO].usage_records(old.id) == []
