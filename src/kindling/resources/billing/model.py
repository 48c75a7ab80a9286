"""Billing: the domain objects.

Plain frozen dataclasses: no I/O, no framework types. Timestamps are ISO 8601 strings in
UTC, as the Management API shows them; amounts are whole cents and limits whole units.

A *plan* lists the features a customer on it is entitled to, with their prices and
limits. An *agreement* puts one billing customer on one plan; creating it gives the
agreement one *entitlement* per feature of the plan. Kinde's entitlements listing
(``GET /billing/entitlements``) is therefore derived: the entitlements of the customer's
active agreement, each shown with its feature's name, prices and limits. *Meter usage*
is recorded against an entitlement (agreement and feature code) and accumulates in a
running total per agreement and feature.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Kinde's ``meter_type_code`` values: a delta adds to the usage, an absolute replaces it.
METER_TYPES = ("delta", "absolute")


@dataclass(frozen=True)
class PlanFeature:
    """One feature of a plan: what an entitlement to it costs and how much of it is allowed.

    ``limit_max`` None means no upper limit (Kinde's ``max_value`` stands in for it).
    """

    code: str
    name: str
    price_name: str | None = None
    unit_amount: int | None = None
    fixed_charge: int | None = None
    limit_min: int | None = None
    limit_max: int | None = None


@dataclass(frozen=True)
class Plan:
    """A billing plan, identified by its ``code`` (Kinde's ``plan_code``); immutable once
    defined, so every agreement on it keeps the entitlements it was made with."""

    code: str
    name: str
    created_on: str
    features: tuple[PlanFeature, ...] = ()
    description: str | None = None

    def feature(self, code: str) -> PlanFeature | None:
        return next((f for f in self.features if f.code == code), None)


@dataclass(frozen=True)
class Entitlement:
    """An agreement's entitlement to one feature of its plan."""

    id: str
    agreement_id: str
    feature_code: str


@dataclass(frozen=True)
class Agreement:
    """A billing customer on a plan; active while ``expires_on`` is None."""

    id: str
    customer_id: str
    plan_code: str
    created_on: str
    expires_on: str | None = None
    entitlements: tuple[Entitlement, ...] = ()

    @property
    def active(self) -> bool:
        return self.expires_on is None

    def entitlement(self, feature_code: str) -> Entitlement | None:
        return next((e for e in self.entitlements if e.feature_code == feature_code), None)


@dataclass(frozen=True)
class CustomerEntitlement:
    """An entitlement as its customer sees it: joined with its plan's feature."""

    id: str
    agreement_id: str
    plan_code: str
    feature: PlanFeature


@dataclass(frozen=True)
class MeterUsage:
    """One usage record (``POST /billing/meter_usage``) as stored."""

    id: str
    agreement_id: str
    feature_code: str
    meter_type: str
    value: int
    usage_on: str
    recorded_on: str


@dataclass(frozen=True)
class UsageTotal:
    """The accumulated usage of one feature under one agreement."""

    agreement_id: str
    feature_code: str
    total: int
    updated_on: str
