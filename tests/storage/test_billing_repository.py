"""Storage contract: ``BillingRepository`` on both engines.

Plans with their features, agreements with their entitlements (one active agreement per
customer, enforced by the schema), the keyset listings of a customer's agreements and
entitlements, and metered usage folded into running totals.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.storage import Storage
from kindling.resources.billing.model import (
    Agreement,
    CustomerEntitlement,
    Entitlement,
    MeterUsage,
    Plan,
    PlanFeature,
    UsageTotal,
)
from kindling.resources.billing.repository import BILLING_REPO
from kindling.resources.billing.service import agreement_id, entitlement_id, meter_usage_id
from tests.storage.conftest import LATER, NOW, Boom, uid

SEATS = PlanFeature(
    code="seats",
    name="Seats",
    price_name="Per seat",
    unit_amount=500,
    fixed_charge=0,
    limit_min=1,
    limit_max=25,
)
CALLS = PlanFeature(code="api_calls", name="API calls")


def make_plan(*features: PlanFeature, code: str | None = None) -> Plan:
    return Plan(
        code=code or f"plan_{uid()}",
        name="Pro",
        created_on=NOW,
        features=features or (SEATS, CALLS),
        description="The pro plan",
    )


def add_plan(storage: Storage, *features: PlanFeature) -> Plan:
    plan = make_plan(*features)
    with storage.transaction() as uow:
        uow[BILLING_REPO].add_plan(plan)
    return plan


def make_agreement(
    plan: Plan, customer: str | None = None, expires_on: str | None = None
) -> Agreement:
    new_id = agreement_id()
    return Agreement(
        id=new_id,
        customer_id=customer or f"customer_{uid()}",
        plan_code=plan.code,
        created_on=NOW,
        expires_on=expires_on,
        entitlements=tuple(Entitlement(entitlement_id(), new_id, f.code) for f in plan.features),
    )


def add_agreement(storage: Storage, agreement: Agreement) -> Agreement:
    with storage.transaction() as uow:
        uow[BILLING_REPO].add_agreement(agreement)
    return agreement


def usage(agreement: Agreement, feature: str, value: int, type_: str = "delta") -> MeterUsage:
    return MeterUsage(
        id=meter_usage_id(),
        agreement_id=agreement.id,
        feature_code=feature,
        meter_type=type_,
        value=value,
        usage_on=NOW,
        recorded_on=LATER,
    )


# --- plans ---------------------------------------------------------------------------


def test_a_missing_plan_is_none(storage: Storage) -> None:
    with storage.read() as uow:
        assert uow[BILLING_REPO].get_plan(f"missing_{uid()}") is None


def test_add_plan_round_trips_every_field_and_keeps_the_feature_order(storage: Storage) -> None:
    plan = add_plan(storage, CALLS, SEATS)
    bare = add_plan(storage, PlanFeature(code="x", name="X"))
    with storage.read() as uow:
        assert uow[BILLING_REPO].get_plan(plan.code) == plan
        assert uow[BILLING_REPO].get_plan(bare.code) == bare
        assert uow[BILLING_REPO].get_plan(plan.code.upper()) is None  # codes are exact


def test_a_plan_without_features_round_trips(storage: Storage) -> None:
    plan = replace(make_plan(), features=())
    with storage.transaction() as uow:
        uow[BILLING_REPO].add_plan(plan)
    with storage.read() as uow:
        assert uow[BILLING_REPO].get_plan(plan.code) == plan


def test_add_plan_refuses_a_taken_code_or_a_repeated_feature(storage: Storage) -> None:
    plan = add_plan(storage)
    clash = replace(make_plan(), code=plan.code, name="Other")
    repeated = make_plan(SEATS, replace(SEATS, name="Seats again"))
    for refused in (clash, repeated):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[BILLING_REPO].add_plan(refused)
    with storage.read() as uow:
        assert uow[BILLING_REPO].get_plan(plan.code) == plan
        assert uow[BILLING_REPO].get_plan(repeated.code) is None  # the plan row rolled back


def test_list_plans_pages_in_creation_order(storage: Storage) -> None:
    with storage.read() as uow:
        start = uow[BILLING_REPO].list_plans(None, 1_000_000)
    last = start[-1][0] if start else None
    made = [add_plan(storage) for _ in range(3)]
    with storage.read() as uow:
        first = uow[BILLING_REPO].list_plans(last, 2)
        rest = uow[BILLING_REPO].list_plans(first[-1][0], 10)
    assert [p for _, p in first] == made[:2]
    assert [p for _, p in rest] == made[2:]
    assert first[0][0] < first[1][0] < rest[0][0]


# --- agreements ----------------------------------------------------------------------


def test_a_missing_agreement_is_none_and_a_new_customer_has_none(storage: Storage) -> None:
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        assert repo.get_agreement(agreement_id()) is None
        assert repo.active_agreements(f"customer_{uid()}") == []
        assert repo.agreement_position(f"customer_{uid()}", agreement_id()) is None
        assert repo.list_agreements(f"customer_{uid()}", None, None, None, 10) == []


def test_add_agreement_round_trips_with_its_entitlements(storage: Storage) -> None:
    plan = add_plan(storage)
    agreement = add_agreement(storage, make_agreement(plan))
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        assert repo.get_agreement(agreement.id) == agreement
        assert repo.active_agreements(agreement.customer_id) == [agreement]
        assert [e.feature_code for e in agreement.entitlements] == ["seats", "api_calls"]


def test_add_agreement_refuses_an_unknown_plan_a_taken_id_or_a_second_active_one(
    storage: Storage,
) -> None:
    plan = add_plan(storage)
    first = add_agreement(storage, make_agreement(plan))
    unknown_plan = replace(make_agreement(plan), plan_code=f"missing_{uid()}", entitlements=())
    same_id = replace(make_agreement(plan), id=first.id, entitlements=())
    second_active = make_agreement(plan, customer=first.customer_id)
    for refused in (unknown_plan, same_id, second_active):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[BILLING_REPO].add_agreement(refused)
    with storage.read() as uow:
        assert uow[BILLING_REPO].active_agreements(first.customer_id) == [first]
        assert uow[BILLING_REPO].get_agreement(second_active.id) is None


def test_an_expired_agreement_leaves_room_for_a_new_active_one(storage: Storage) -> None:
    plan = add_plan(storage)
    old = add_agreement(storage, make_agreement(plan))
    with storage.transaction() as uow:
        assert uow[BILLING_REPO].expire_agreement(old.id, LATER) is True
        assert uow[BILLING_REPO].expire_agreement(old.id, LATER) is False  # already expired
        assert uow[BILLING_REPO].expire_agreement(agreement_id(), LATER) is False  # absent
    new = add_agreement(storage, make_agreement(plan, customer=old.customer_id))
    expired_too = add_agreement(
        storage, make_agreement(plan, customer=old.customer_id, expires_on=NOW)
    )
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        assert repo.get_agreement(old.id) == replace(old, expires_on=LATER)
        assert repo.active_agreements(old.customer_id) == [new]
        assert repo.get_agreement(expired_too.id) == expired_too


def test_agreement_position_is_per_customer(storage: Storage) -> None:
    plan = add_plan(storage)
    mine = add_agreement(storage, make_agreement(plan))
    theirs = add_agreement(storage, make_agreement(plan))
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        mine_at = repo.agreement_position(mine.customer_id, mine.id)
        theirs_at = repo.agreement_position(theirs.customer_id, theirs.id)
        assert mine_at is not None and theirs_at is not None and mine_at < theirs_at
        assert repo.agreement_position(mine.customer_id, theirs.id) is None


def test_list_agreements_shows_active_ones_filtered_by_feature_between_positions(
    storage: Storage,
) -> None:
    plan = add_plan(storage)
    other_plan = add_plan(storage, PlanFeature(code="storage", name="Storage"))
    customer = f"customer_{uid()}"
    expired = add_agreement(storage, make_agreement(plan, customer, expires_on=NOW))
    active = add_agreement(storage, make_agreement(other_plan, customer))
    add_agreement(storage, make_agreement(plan))  # someone else's
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        everything = repo.list_agreements(customer, None, None, None, 10)
        assert [a for _, a in everything] == [active]
        assert repo.list_agreements(customer, "storage", None, None, 10) == everything
        assert repo.list_agreements(customer, "seats", None, None, 10) == []
        at_expired = repo.agreement_position(customer, expired.id)
        at_active = everything[0][0]
        assert at_expired is not None and at_expired < at_active
        assert repo.list_agreements(customer, None, at_expired, None, 10) == everything
        assert repo.list_agreements(customer, None, at_active, None, 10) == []
        assert repo.list_agreements(customer, None, None, at_active, 10) == []


# --- entitlements --------------------------------------------------------------------


def test_list_entitlements_joins_the_features_of_the_active_agreement(storage: Storage) -> None:
    plan = add_plan(storage)
    customer = f"customer_{uid()}"
    expired = add_agreement(storage, make_agreement(plan, customer, expires_on=NOW))
    active = add_agreement(storage, make_agreement(plan, customer))
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        rows = repo.list_entitlements(customer, None, None, 10)
        assert [e for _, e in rows] == [
            CustomerEntitlement(active.entitlements[0].id, active.id, plan.code, SEATS),
            CustomerEntitlement(active.entitlements[1].id, active.id, plan.code, CALLS),
        ]
        first, second = (position for position, _ in rows)
        assert repo.entitlement_position(customer, active.entitlements[1].id) == second
        # An expired agreement's entitlement still has a position (a cursor may name it).
        assert repo.entitlement_position(customer, expired.entitlements[0].id) is not None
        assert repo.entitlement_position(f"customer_{uid()}", active.entitlements[0].id) is None
        assert repo.entitlement_position(customer, entitlement_id()) is None
        assert repo.list_entitlements(customer, first, None, 10) == rows[1:]
        assert repo.list_entitlements(customer, None, second, 10) == rows[:1]
        assert repo.list_entitlements(customer, None, None, 1) == rows[:1]
        assert repo.list_entitlements(f"customer_{uid()}", None, None, 10) == []


def test_list_entitlements_before_a_position_keeps_the_rows_nearest_to_it(
    storage: Storage,
) -> None:
    features = tuple(PlanFeature(code=f"f{i}", name=f"F{i}") for i in range(5))
    plan = add_plan(storage, *features)
    agreement = add_agreement(storage, make_agreement(plan))
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        rows = repo.list_entitlements(agreement.customer_id, None, None, 10)
        assert [e.feature.code for _, e in rows] == ["f0", "f1", "f2", "f3", "f4"]
        before_last = repo.list_entitlements(agreement.customer_id, None, rows[4][0], 2)
        assert before_last == rows[2:4]
        between = repo.list_entitlements(agreement.customer_id, rows[0][0], rows[4][0], 10)
        assert between == rows[1:4]


# --- metered usage -------------------------------------------------------------------


def test_add_usage_adds_deltas_and_absolutes_replace_the_total(storage: Storage) -> None:
    plan = add_plan(storage)
    agreement = add_agreement(storage, make_agreement(plan))
    records = [
        usage(agreement, "api_calls", 5),
        usage(agreement, "api_calls", 7),
        usage(agreement, "seats", 3, "absolute"),
        usage(agreement, "api_calls", 2, "absolute"),
        usage(agreement, "api_calls", 10),
    ]
    totals = []
    for record in records:
        with storage.transaction() as uow:
            totals.append(uow[BILLING_REPO].add_usage(record))
    assert totals == [5, 12, 3, 2, 12]
    with storage.read() as uow:
        assert uow[BILLING_REPO].usage_records(agreement.id) == records
        assert uow[BILLING_REPO].usage_totals(agreement.id) == [
            UsageTotal(agreement.id, "api_calls", 12, LATER),
            UsageTotal(agreement.id, "seats", 3, LATER),
        ]


def test_usage_of_an_unknown_agreement_or_a_taken_id_is_refused(storage: Storage) -> None:
    plan = add_plan(storage)
    agreement = add_agreement(storage, make_agreement(plan))
    kept = usage(agreement, "seats", 4)
    with storage.transaction() as uow:
        uow[BILLING_REPO].add_usage(kept)
    ghost = replace(make_agreement(plan), entitlements=())
    for refused in (usage(ghost, "seats", 1), replace(usage(agreement, "seats", 9), id=kept.id)):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[BILLING_REPO].add_usage(refused)
    with storage.read() as uow:
        assert uow[BILLING_REPO].usage_records(agreement.id) == [kept]
        assert uow[BILLING_REPO].usage_totals(agreement.id) == [
            UsageTotal(agreement.id, "seats", 4, LATER)
        ]
        assert uow[BILLING_REPO].usage_records(ghost.id) == []
        assert uow[BILLING_REPO].usage_totals(ghost.id) == []


def test_a_rolled_back_usage_record_leaves_the_total_as_it_was(storage: Storage) -> None:
    plan = add_plan(storage)
    agreement = add_agreement(storage, make_agreement(plan))
    with storage.transaction() as uow:
        uow[BILLING_REPO].add_usage(usage(agreement, "seats", 4))
    with pytest.raises(Boom), storage.transaction() as uow:
        assert uow[BILLING_REPO].add_usage(usage(agreement, "seats", 6)) == 10
        raise Boom
    with storage.read() as uow:
        assert [t.total for t in uow[BILLING_REPO].usage_totals(agreement.id)] == [4]
        assert len(uow[BILLING_REPO].usage_records(agreement.id)) == 1


def test_concurrent_deltas_are_all_counted(storage: Storage) -> None:
    plan = add_plan(storage)
    agreement = add_agreement(storage, make_agreement(plan))
    errors: list[BaseException] = []

    def record() -> None:
        try:
            for _ in range(10):
                with storage.transaction() as uow:
                    uow[BILLING_REPO].add_usage(usage(agreement, "api_calls", 1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with storage.read() as uow:
        assert [t.total for t in uow[BILLING_REPO].usage_totals(agreement.id)] == [40]
        assert len(uow[BILLING_REPO].usage_records(agreement.id)) == 40
