"""Billing: plans, agreements, the entitlements derived from them, and metered usage.

Kinde's Management API puts a billing customer on a plan (``POST /billing/agreements``),
lists what the customer is entitled to (``GET /billing/entitlements``) and records metered
usage against an agreement's feature (``POST /billing/meter_usage``). It has no operation
that defines a plan, so Kindling adds one (``POST /kindling/v1/billing/plans``); plans
start empty and are immutable once defined.

The rules, each applied in one transaction:

* An agreement names a customer (``customer_id``, an opaque identifier the caller chooses,
  such as Kinde's ``customer_…`` ids) and an existing plan; it gets one entitlement per
  feature of the plan. As Kinde describes the operation, creating it cancels the
  customer's existing agreements (their ``expires_on`` becomes now), so a customer has at
  most one active agreement; asking for the plan the customer is already on changes
  nothing and is refused (``CUSTOMER_ALREADY_ON_PLAN``).
* The agreements and entitlements listings show what the customer *currently* has: the
  active agreement and its entitlements, paged by ``starting_after`` / ``ending_before``
  with ``has_more``.
* Usage is recorded against an active agreement and one of its features; ``meter_value``
  is a whole number of units. A ``delta`` (the default) adds it to the feature's running
  total, an ``absolute`` replaces the total (Kinde: "absolutes overrides the current
  usage"). Every record is kept; the total is read with ``GET
  /kindling/v1/billing/meter_usage``.

Events (Kindling's): ``billing_plan.created``, ``billing_agreement.created`` (after one
``billing_agreement.cancelled`` per agreement it replaced) and ``meter_usage.recorded``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, Conflict, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import SCOPE_KEY, optional_bool, optional_text, required_text
from kindling.resources.billing.model import (
    METER_TYPES,
    Agreement,
    CustomerEntitlement,
    Entitlement,
    MeterUsage,
    Plan,
    PlanFeature,
)
from kindling.resources.billing.repository import BILLING_REPO

T = TypeVar("T")

CODE_MAX = 128
NAME_MAX = 128
DESCRIPTION_MAX = 1000
MAX_FEATURES = 100
#: The largest amount, limit or meter value accepted: the largest integer every JSON
#: client reads exactly (2^53 - 1).
MAX_AMOUNT = 9_007_199_254_740_991
_DIGITS = re.compile(r"[0-9]{1,16}")


def agreement_id() -> str:
    """Kinde's agreement ids: ``agreement_`` and 32 hex characters."""
    return "agreement_" + hex_id()


def entitlement_id() -> str:
    """Kinde's entitlement ids: ``entitlement_`` and 32 hex characters."""
    return "entitlement_" + hex_id()


def meter_usage_id() -> str:
    return "meter_usage_" + hex_id()


# --- validation --------------------------------------------------------------------


def identifier(value: object, field: str, code_prefix: str) -> str:
    """A code or id: trimmed, at most 128 printable ASCII characters without spaces,
    quotes or backslashes (``<PREFIX>_REQUIRED``, ``INVALID_<PREFIX>``, ...)."""
    text = required_text(value, field, CODE_MAX, code_prefix)
    if not SCOPE_KEY.fullmatch(text):
        raise ValidationError(
            f"{field} may contain only printable ASCII without spaces, quotes or backslashes",
            derived(f"INVALID_{code_prefix}"),
        )
    return text


def _amount(value: object, field: str) -> int | None:
    """An optional whole number from 0 to 2^53 - 1 (``INVALID_<FIELD>``)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_AMOUNT:
        raise ValidationError(
            f"{field} must be a whole number from 0 to {MAX_AMOUNT}",
            derived(f"INVALID_{field.upper()}"),
        )
    return value


class FeatureBody(Body, frozen=True):
    """One feature of a plan, with the field names of Kinde's entitlements listing."""

    feature_code: object = None
    feature_name: object = None
    price_name: object = None
    unit_amount: object = None
    fixed_charge: object = None
    entitlement_limit_min: object = None
    entitlement_limit_max: object = None


class PlanBody(Body, frozen=True):
    """``POST /kindling/v1/billing/plans``."""

    code: object = None
    name: object = None
    description: object = None
    features: object = None


class AgreementBody(Body, frozen=True):
    """Kinde's ``POST /billing/agreements``. ``is_invoice_now`` and ``is_prorate`` steer
    invoicing, which Kindling does not do: they are checked and carried in the event."""

    customer_id: object = None
    plan_code: object = None
    is_invoice_now: object = None
    is_prorate: object = None


class UsageBody(Body, frozen=True):
    """Kinde's ``POST /billing/meter_usage``."""

    customer_agreement_id: object = None
    billing_feature_code: object = None
    meter_value: object = None
    meter_usage_timestamp: object = None
    meter_type_code: object = None


def _feature(item: object) -> PlanFeature:
    data = decode_body(
        item, FeatureBody, "each feature must be an object", derived("INVALID_FEATURES")
    )
    limit_min = _amount(data.entitlement_limit_min, "entitlement_limit_min")
    limit_max = _amount(data.entitlement_limit_max, "entitlement_limit_max")
    if limit_min is not None and limit_max is not None and limit_min > limit_max:
        raise ValidationError(
            "entitlement_limit_min cannot exceed entitlement_limit_max",
            derived("INVALID_ENTITLEMENT_LIMIT_MIN"),
        )
    return PlanFeature(
        code=identifier(data.feature_code, "feature_code", "FEATURE_CODE"),
        name=required_text(data.feature_name, "feature_name", NAME_MAX, "FEATURE_NAME"),
        price_name=optional_text(data.price_name, "price_name", NAME_MAX, "PRICE_NAME"),
        unit_amount=_amount(data.unit_amount, "unit_amount"),
        fixed_charge=_amount(data.fixed_charge, "fixed_charge"),
        limit_min=limit_min,
        limit_max=limit_max,
    )


def _features(value: object) -> tuple[PlanFeature, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValidationError("features must be a list", derived("INVALID_FEATURES"))
    if len(value) > MAX_FEATURES:
        raise ValidationError(
            f"a plan has at most {MAX_FEATURES} features", derived("TOO_MANY_FEATURES")
        )
    features = tuple(_feature(item) for item in value)
    codes = [f.code for f in features]
    if len(set(codes)) != len(codes):
        raise ValidationError(
            "two features of a plan share a feature_code", derived("DUPLICATE_FEATURE_CODE")
        )
    return features


def _meter_value(value: object) -> int:
    """Kinde sends ``meter_value`` as a string: here a whole number of units."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("meter_value is required", derived("METER_VALUE_REQUIRED"))
    if not isinstance(value, str) or not _DIGITS.fullmatch(value.strip()):
        raise ValidationError(
            'meter_value must be a whole number of units, as a string ("12")',
            derived("INVALID_METER_VALUE"),
        )
    number = int(value.strip())
    if number > MAX_AMOUNT:
        raise ValidationError(
            f"meter_value must be at most {MAX_AMOUNT}", derived("INVALID_METER_VALUE")
        )
    return number


def _timestamp(value: object, now: float) -> str:
    """An RFC 3339 date-time (an offset-less one is read as UTC), in UTC; absent is now."""
    if value is None:
        return isoformat(now)
    invalid = ValidationError(
        "meter_usage_timestamp must be a date-time such as 2024-11-18T13:32:03+11:00",
        derived("INVALID_METER_USAGE_TIMESTAMP"),
    )
    if not isinstance(value, str) or len(value.strip()) <= len("2024-11-18"):
        raise invalid
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        raise invalid from None


def _meter_type(value: object) -> str:
    if value is None:
        return "delta"
    if value not in METER_TYPES:
        raise ValidationError(
            "meter_type_code must be absolute or delta", derived("INVALID_METER_TYPE_CODE")
        )
    return str(value)


# --- event data --------------------------------------------------------------------


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "code": plan.code,
        "name": plan.name,
        "description": plan.description,
        "features": [f.code for f in plan.features],
    }


def agreement_data(agreement: Agreement) -> dict[str, Any]:
    return {
        "id": agreement.id,
        "customer_id": agreement.customer_id,
        "plan_code": agreement.plan_code,
        "expires_on": agreement.expires_on,
        "entitlements": [
            {"entitlement_id": e.id, "feature_code": e.feature_code} for e in agreement.entitlements
        ],
    }


# --- plans -------------------------------------------------------------------------


def create_plan(storage: Storage, clock: Clock, body: Any) -> Plan:
    """Define a plan and its features; its code must be new (``BILLING_PLAN_EXISTS``)."""
    data = decode_body(body, PlanBody)
    plan = Plan(
        code=identifier(data.code, "code", "CODE"),
        name=required_text(data.name, "name", NAME_MAX, "NAME"),
        description=optional_text(data.description, "description", DESCRIPTION_MAX, "DESCRIPTION"),
        features=_features(data.features),
        created_on=isoformat(clock.now()),
    )
    taken = AlreadyExists("A plan with this code already exists", Code.BILLING_PLAN_EXISTS)
    try:
        with storage.transaction() as uow:
            if uow[BILLING_REPO].get_plan(plan.code) is not None:
                raise taken
            uow[BILLING_REPO].add_plan(plan)
            uow.record(EventType.BILLING_PLAN_CREATED, {"billing_plan": plan_data(plan)})
    except IntegrityViolation:
        raise taken from None
    return plan


def list_plans(storage: Storage, after: int | None, size: int) -> tuple[list[Plan], int | None]:
    """Plans in the order they were defined."""
    with storage.read() as uow:
        rows = uow[BILLING_REPO].list_plans(after, size + 1)
    return page(rows, size)


# --- agreements --------------------------------------------------------------------


def create_agreement(storage: Storage, clock: Clock, body: Any) -> Agreement:
    """Kinde's ``POST /billing/agreements``: put the customer on the plan, cancelling the
    customer's current agreement (if any) in the same transaction."""
    data = decode_body(body, AgreementBody)
    customer_id = identifier(data.customer_id, "customer_id", "CUSTOMER_ID")
    plan_code = identifier(data.plan_code, "plan_code", "PLAN_CODE")
    is_invoice_now = optional_bool(data.is_invoice_now, "is_invoice_now")
    is_prorate = optional_bool(data.is_prorate, "is_prorate")
    now = isoformat(clock.now())
    try:
        with storage.transaction() as uow:
            repo = uow[BILLING_REPO]
            plan = repo.get_plan(plan_code)
            if plan is None:
                raise ValidationError("No plan has this plan_code", Code.BILLING_PLAN_NOT_FOUND)
            current = repo.active_agreements(customer_id)
            if any(a.plan_code == plan_code for a in current):
                raise ValidationError(
                    "The customer is already on this plan", Code.CUSTOMER_ALREADY_ON_PLAN
                )
            new_id = agreement_id()
            agreement = Agreement(
                id=new_id,
                customer_id=customer_id,
                plan_code=plan_code,
                created_on=now,
                entitlements=tuple(
                    Entitlement(entitlement_id(), new_id, f.code) for f in plan.features
                ),
            )
            for old in current:
                if repo.expire_agreement(old.id, now):
                    cancelled = replace(old, expires_on=now)
                    uow.record(
                        EventType.BILLING_AGREEMENT_CANCELLED,
                        {"billing_agreement": agreement_data(cancelled)},
                    )
            repo.add_agreement(agreement)
            uow.record(
                EventType.BILLING_AGREEMENT_CREATED,
                {
                    "billing_agreement": agreement_data(agreement),
                    "is_invoice_now": is_invoice_now,
                    "is_prorate": is_prorate,
                },
            )
    except IntegrityViolation:
        # Another agreement for this customer was committed first (PostgreSQL).
        raise Conflict(
            "The customer's agreements changed at the same time; try again", Code.CONFLICT
        ) from None
    return agreement


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of an id-cursor listing (``starting_after`` / ``ending_before``)."""

    items: list[T]
    has_more: bool


def _cursors(starting_after: str | None, ending_before: str | None) -> None:
    if starting_after and ending_before:
        raise ValidationError(
            "starting_after and ending_before cannot be used together", Code.INVALID_PAGINATION
        )


def _trim(rows: Sequence[tuple[int, T]], size: int, backwards: bool) -> Page[T]:
    """``size + 1`` fetched rows in ascending order: drop the look-ahead row."""
    items = [item for _, item in rows]
    if len(items) <= size:
        return Page(items, False)
    return Page(items[1:] if backwards else items[:size], True)


def _customer(customer_id: str) -> str:
    return identifier(customer_id, "customer_id", "CUSTOMER_ID")


def list_agreements(
    storage: Storage,
    customer_id: str,
    feature_code: str | None,
    starting_after: str | None,
    ending_before: str | None,
    size: int,
) -> Page[Agreement]:
    """The customer's current agreements (oldest first); ``feature_code`` keeps those
    entitled to that feature. A customer without agreements has an empty listing."""
    customer = _customer(customer_id)
    _cursors(starting_after, ending_before)
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        after = before = None
        if starting_after:
            after = repo.agreement_position(customer, starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after is not an agreement of this customer",
                    Code.INVALID_STARTING_AFTER,
                )
        if ending_before:
            before = repo.agreement_position(customer, ending_before)
            if before is None:
                raise ValidationError(
                    "ending_before is not an agreement of this customer",
                    Code.INVALID_ENDING_BEFORE,
                )
        rows = repo.list_agreements(customer, feature_code or None, after, before, size + 1)
    return _trim(rows, size, before is not None)


@dataclass(frozen=True)
class Entitlements:
    """A page of the customer's entitlements and the plans they come from."""

    page: Page[CustomerEntitlement]
    plans: list[Agreement]


def list_entitlements(
    storage: Storage,
    customer_id: str,
    starting_after: str | None,
    ending_before: str | None,
    size: int,
) -> Entitlements:
    """What the customer is entitled to now: the entitlements of its active agreement
    (oldest first), read in one snapshot with that agreement (Kinde's ``expand=plans``)."""
    customer = _customer(customer_id)
    _cursors(starting_after, ending_before)
    with storage.read() as uow:
        repo = uow[BILLING_REPO]
        after = before = None
        if starting_after:
            after = repo.entitlement_position(customer, starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after is not an entitlement of this customer",
                    Code.INVALID_STARTING_AFTER,
                )
        if ending_before:
            before = repo.entitlement_position(customer, ending_before)
            if before is None:
                raise ValidationError(
                    "ending_before is not an entitlement of this customer",
                    Code.INVALID_ENDING_BEFORE,
                )
        rows = repo.list_entitlements(customer, after, before, size + 1)
        plans = repo.active_agreements(customer)
    return Entitlements(_trim(rows, size, before is not None), plans)


# --- metered usage -----------------------------------------------------------------


@dataclass(frozen=True)
class RecordedUsage:
    usage: MeterUsage
    customer_id: str
    total: int


def _agreement(uow: UnitOfWork, agreement_id_: str) -> Agreement:
    agreement = uow[BILLING_REPO].get_agreement(agreement_id_)
    if agreement is None:
        raise NotFound("No agreement has this id", Code.BILLING_AGREEMENT_NOT_FOUND)
    return agreement


def record_usage(storage: Storage, clock: Clock, body: Any) -> RecordedUsage:
    """Kinde's ``POST /billing/meter_usage``: a usage record against an active agreement's
    feature, folded into that feature's running total."""
    data = decode_body(body, UsageBody)
    agreement_ref = identifier(
        data.customer_agreement_id, "customer_agreement_id", "CUSTOMER_AGREEMENT_ID"
    )
    feature_code = identifier(
        data.billing_feature_code, "billing_feature_code", "BILLING_FEATURE_CODE"
    )
    value = _meter_value(data.meter_value)
    usage_on = _timestamp(data.meter_usage_timestamp, clock.now())
    meter_type = _meter_type(data.meter_type_code)
    with storage.transaction() as uow:
        agreement = _agreement(uow, agreement_ref)
        if not agreement.active:
            raise ValidationError(
                "The agreement has expired: usage goes to the customer's current agreement",
                Code.BILLING_AGREEMENT_EXPIRED,
            )
        if agreement.entitlement(feature_code) is None:
            raise ValidationError(
                "The agreement's plan has no feature with this billing_feature_code",
                Code.BILLING_FEATURE_NOT_IN_AGREEMENT,
            )
        usage = MeterUsage(
            id=meter_usage_id(),
            agreement_id=agreement.id,
            feature_code=feature_code,
            meter_type=meter_type,
            value=value,
            usage_on=usage_on,
            recorded_on=isoformat(clock.now()),
        )
        total = uow[BILLING_REPO].add_usage(usage)
        uow.record(
            EventType.METER_USAGE_RECORDED,
            {
                "meter_usage": {
                    "id": usage.id,
                    "customer_agreement_id": agreement.id,
                    "customer_id": agreement.customer_id,
                    "billing_feature_code": feature_code,
                    "meter_type_code": meter_type,
                    "meter_value": str(value),
                    "meter_usage_timestamp": usage_on,
                    "total": str(total),
                }
            },
        )
    return RecordedUsage(usage, agreement.customer_id, total)


@dataclass(frozen=True)
class FeatureUsage:
    """The accumulated usage of one feature of an agreement; ``updated_on`` is None
    until usage is first recorded for it."""

    feature_code: str
    total: int
    updated_on: str | None


@dataclass(frozen=True)
class AgreementUsage:
    agreement: Agreement
    features: list[FeatureUsage]


def agreement_usage(storage: Storage, agreement_id_: str) -> AgreementUsage:
    """The accumulated usage of every feature of an agreement (0 where none was
    recorded), for ``GET /kindling/v1/billing/meter_usage``."""
    agreement_ref = identifier(agreement_id_, "customer_agreement_id", "CUSTOMER_AGREEMENT_ID")
    with storage.read() as uow:
        agreement = _agreement(uow, agreement_ref)
        recorded = {t.feature_code: t for t in uow[BILLING_REPO].usage_totals(agreement.id)}
    features = []
    for entitlement in agreement.entitlements:
        total = recorded.get(entitlement.feature_code)
        features.append(
            FeatureUsage(
                entitlement.feature_code,
                0 if total is None else total.total,
                None if total is None else total.updated_on,
            )
        )
    return AgreementUsage(agreement, features)
