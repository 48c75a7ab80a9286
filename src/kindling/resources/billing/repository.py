"""Billing: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.

Keyset listings take ``after`` / ``before`` sequence positions (Kinde's ``starting_after``
and ``ending_before``, resolved by the ``*_position`` methods) and return their rows in
ascending order either way; a ``before`` page is the ``limit`` rows just before it.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.billing.model import (
    Agreement,
    CustomerEntitlement,
    MeterUsage,
    Plan,
    UsageTotal,
)


class BillingRepository(Protocol):
    """Plans, agreements with their entitlements, and metered usage."""

    # --- plans ---

    def get_plan(self, code: str) -> Plan | None:
        """Return the plan with this exact (case-sensitive) code and its features in the
        order they were defined, or None."""

    def add_plan(self, plan: Plan) -> None:
        """Insert a plan and its features. Raises IntegrityViolation if the code is taken
        or two features share a code."""

    def list_plans(self, after: int | None, limit: int) -> list[tuple[int, Plan]]:
        """Return up to ``limit`` plans after sequence ``after``, oldest first."""

    # --- agreements and entitlements ---

    def get_agreement(self, agreement_id: str) -> Agreement | None:
        """Return the agreement (active or expired) with its entitlements, or None."""

    def active_agreements(self, customer_id: str) -> list[Agreement]:
        """Return the customer's active agreements (at most one), oldest first."""

    def add_agreement(self, agreement: Agreement) -> None:
        """Insert an agreement and its entitlements. Raises IntegrityViolation if its id
        or an entitlement id is taken, if its plan does not exist, or if it is active
        while the customer already has an active agreement."""

    def expire_agreement(self, agreement_id: str, expires_on: str) -> bool:
        """Set ``expires_on`` of an active agreement; False if it is absent or expired."""

    def agreement_position(self, customer_id: str, agreement_id: str) -> int | None:
        """The sequence of the customer's agreement (active or expired), or None when no
        agreement of this customer has that id."""

    def list_agreements(
        self,
        customer_id: str,
        feature_code: str | None,
        after: int | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[int, Agreement]]:
        """The customer's active agreements between the positions, each with its
        sequence; with ``feature_code``, only those entitled to that feature."""

    def entitlement_position(self, customer_id: str, entitlement_id: str) -> int | None:
        """The sequence of an entitlement of one of the customer's agreements, or None."""

    def list_entitlements(
        self, customer_id: str, after: int | None, before: int | None, limit: int
    ) -> list[tuple[int, CustomerEntitlement]]:
        """The entitlements of the customer's active agreements between the positions,
        each joined with its plan's feature and with its sequence."""

    # --- metered usage ---

    def add_usage(self, usage: MeterUsage) -> int:
        """Store a usage record and fold it into the running total of its agreement and
        feature in one atomic upsert (a delta adds to it, an absolute replaces it);
        return the total after it. Raises IntegrityViolation if the record id is taken
        or the agreement does not exist."""

    def usage_records(self, agreement_id: str) -> list[MeterUsage]:
        """Every usage record of the agreement in the order recorded (empty if none or
        the agreement does not exist)."""

    def usage_totals(self, agreement_id: str) -> list[UsageTotal]:
        """The running totals of the agreement, by feature code (empty if none)."""


BILLING_REPO = RepositoryKey[BillingRepository]("billing")
