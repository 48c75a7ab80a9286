"""Billing: plans, agreements, entitlements and metered usage over ``Session``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kindling.platform.engine import Session
from kindling.resources.billing.model import (
    Agreement,
    CustomerEntitlement,
    Entitlement,
    MeterUsage,
    Plan,
    PlanFeature,
    UsageTotal,
)

_PLAN_COLUMNS = "seq, code, name, description, created_on"
_FEATURE_COLUMNS = (
    "plan_code, feature_code, feature_name, price_name, unit_amount, fixed_charge, "
    "limit_min, limit_max"
)
_AGREEMENT_COLUMNS = "a.seq, a.id, a.customer_id, a.plan_code, a.created_on, a.expires_on"
_USAGE_COLUMNS = "id, agreement_id, feature_code, meter_type, meter_value, usage_on, recorded_on"


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _feature(row: Mapping[str, Any]) -> PlanFeature:
    return PlanFeature(
        code=row["feature_code"],
        name=row["feature_name"],
        price_name=row["price_name"],
        unit_amount=_optional_int(row["unit_amount"]),
        fixed_charge=_optional_int(row["fixed_charge"]),
        limit_min=_optional_int(row["limit_min"]),
        limit_max=_optional_int(row["limit_max"]),
    )


def _bounds(
    where: list[str], params: list[object], column: str, after: int | None, before: int | None
) -> str:
    """Add the keyset bounds to ``where``/``params``; return the ORDER BY direction
    (a ``before`` page is read newest first, then reversed)."""
    if after is not None:
        where.append(f"{column} > ?")
        params.append(after)
    if before is not None:
        where.append(f"{column} < ?")
        params.append(before)
    return "DESC" if before is not None and after is None else "ASC"


class SqlBillingRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- plans ---

    def _features(self, codes: Sequence[str]) -> dict[str, list[PlanFeature]]:
        found: dict[str, list[PlanFeature]] = {code: [] for code in codes}
        if not codes:
            return found
        rows = self._s.all(
            f"SELECT {_FEATURE_COLUMNS} FROM billing_plan_features "
            f"WHERE plan_code IN ({_placeholders(codes)}) ORDER BY plan_code, position",
            tuple(codes),
        )
        for row in rows:
            found[row["plan_code"]].append(_feature(row))
        return found

    def _plans(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, Plan]]:
        features = self._features([row["code"] for row in rows])
        return [
            (
                int(row["seq"]),
                Plan(
                    code=row["code"],
                    name=row["name"],
                    description=row["description"],
                    created_on=row["created_on"],
                    features=tuple(features[row["code"]]),
                ),
            )
            for row in rows
        ]

    def get_plan(self, code: str) -> Plan | None:
        row = self._s.one(f"SELECT {_PLAN_COLUMNS} FROM billing_plans WHERE code = ?", (code,))
        return None if row is None else self._plans([row])[0][1]

    def add_plan(self, plan: Plan) -> None:
        self._s.execute(
            "INSERT INTO billing_plans (code, name, description, created_on) VALUES (?, ?, ?, ?)",
            (plan.code, plan.name, plan.description, plan.created_on),
        )
        self._s.executemany(
            "INSERT INTO billing_plan_features (plan_code, position, feature_code, feature_name, "
            "price_name, unit_amount, fixed_charge, limit_min, limit_max) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    plan.code,
                    position,
                    f.code,
                    f.name,
                    f.price_name,
                    f.unit_amount,
                    f.fixed_charge,
                    f.limit_min,
                    f.limit_max,
                )
                for position, f in enumerate(plan.features)
            ],
        )

    def list_plans(self, after: int | None, limit: int) -> list[tuple[int, Plan]]:
        rows = self._s.all(
            f"SELECT {_PLAN_COLUMNS} FROM billing_plans WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return self._plans(rows)

    # --- agreements and entitlements ---

    def _agreements(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, Agreement]]:
        ids = [row["id"] for row in rows]
        entitlements: dict[str, list[Entitlement]] = {i: [] for i in ids}
        if ids:
            found = self._s.all(
                "SELECT id, agreement_id, feature_code FROM billing_entitlements "
                f"WHERE agreement_id IN ({_placeholders(ids)}) ORDER BY seq",
                tuple(ids),
            )
            for row in found:
                entitlements[row["agreement_id"]].append(
                    Entitlement(row["id"], row["agreement_id"], row["feature_code"])
                )
        return [
            (
                int(row["seq"]),
                Agreement(
                    id=row["id"],
                    customer_id=row["customer_id"],
                    plan_code=row["plan_code"],
                    created_on=row["created_on"],
                    expires_on=row["expires_on"],
                    entitlements=tuple(entitlements[row["id"]]),
                ),
            )
            for row in rows
        ]

    def get_agreement(self, agreement_id: str) -> Agreement | None:
        row = self._s.one(
            f"SELECT {_AGREEMENT_COLUMNS} FROM billing_agreements a WHERE a.id = ?",
            (agreement_id,),
        )
        return None if row is None else self._agreements([row])[0][1]

    def active_agreements(self, customer_id: str) -> list[Agreement]:
        rows = self._s.all(
            f"SELECT {_AGREEMENT_COLUMNS} FROM billing_agreements a "
            "WHERE a.customer_id = ? AND a.expires_on IS NULL ORDER BY a.seq",
            (customer_id,),
        )
        return [agreement for _, agreement in self._agreements(rows)]

    def add_agreement(self, agreement: Agreement) -> None:
        self._s.execute(
            "INSERT INTO billing_agreements (id, customer_id, plan_code, created_on, expires_on) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                agreement.id,
                agreement.customer_id,
                agreement.plan_code,
                agreement.created_on,
                agreement.expires_on,
            ),
        )
        self._s.executemany(
            "INSERT INTO billing_entitlements (id, agreement_id, feature_code) VALUES (?, ?, ?)",
            [(e.id, agreement.id, e.feature_code) for e in agreement.entitlements],
        )

    def expire_agreement(self, agreement_id: str, expires_on: str) -> bool:
        changed = self._s.execute(
            "UPDATE billing_agreements SET expires_on = ? WHERE id = ? AND expires_on IS NULL",
            (expires_on, agreement_id),
        )
        return changed > 0

    def agreement_position(self, customer_id: str, agreement_id: str) -> int | None:
        row = self._s.one(
            "SELECT seq FROM billing_agreements WHERE id = ? AND customer_id = ?",
            (agreement_id, customer_id),
        )
        return None if row is None else int(row["seq"])

    def list_agreements(
        self,
        customer_id: str,
        feature_code: str | None,
        after: int | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[int, Agreement]]:
        where = ["a.customer_id = ?", "a.expires_on IS NULL"]
        params: list[object] = [customer_id]
        if feature_code is not None:
            where.append(
                "EXISTS (SELECT 1 FROM billing_entitlements e "
                "WHERE e.agreement_id = a.id AND e.feature_code = ?)"
            )
            params.append(feature_code)
        order = _bounds(where, params, "a.seq", after, before)
        rows = self._s.all(
            f"SELECT {_AGREEMENT_COLUMNS} FROM billing_agreements a "
            f"WHERE {' AND '.join(where)} ORDER BY a.seq {order} LIMIT ?",
            (*params, limit),
        )
        found = self._agreements(rows)
        return found[::-1] if order == "DESC" else found

    def entitlement_position(self, customer_id: str, entitlement_id: str) -> int | None:
        row = self._s.one(
            "SELECT e.seq FROM billing_entitlements e "
            "JOIN billing_agreements a ON a.id = e.agreement_id "
            "WHERE e.id = ? AND a.customer_id = ?",
            (entitlement_id, customer_id),
        )
        return None if row is None else int(row["seq"])

    def list_entitlements(
        self, customer_id: str, after: int | None, before: int | None, limit: int
    ) -> list[tuple[int, CustomerEntitlement]]:
        where = ["a.customer_id = ?", "a.expires_on IS NULL"]
        params: list[object] = [customer_id]
        order = _bounds(where, params, "e.seq", after, before)
        rows = self._s.all(
            "SELECT e.seq, e.id, e.agreement_id, a.plan_code, f.feature_code, f.feature_name, "
            "f.price_name, f.unit_amount, f.fixed_charge, f.limit_min, f.limit_max "
            "FROM billing_entitlements e "
            "JOIN billing_agreements a ON a.id = e.agreement_id "
            "JOIN billing_plan_features f "
            "ON f.plan_code = a.plan_code AND f.feature_code = e.feature_code "
            f"WHERE {' AND '.join(where)} ORDER BY e.seq {order} LIMIT ?",
            (*params, limit),
        )
        found = [
            (
                int(row["seq"]),
                CustomerEntitlement(
                    id=row["id"],
                    agreement_id=row["agreement_id"],
                    plan_code=row["plan_code"],
                    feature=_feature(row),
                ),
            )
            for row in rows
        ]
        return found[::-1] if order == "DESC" else found

    # --- metered usage ---

    def add_usage(self, usage: MeterUsage) -> int:
        self._s.execute(
            f"INSERT INTO billing_meter_usage ({_USAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                usage.id,
                usage.agreement_id,
                usage.feature_code,
                usage.meter_type,
                usage.value,
                usage.usage_on,
                usage.recorded_on,
            ),
        )
        # One statement, so a concurrent record waits for this one's row lock and then
        # adds to the total it left: no addition is lost on either engine.
        total = (
            "excluded.total"
            if usage.meter_type == "absolute"
            else ("billing_usage_totals.total + excluded.total")
        )
        self._s.execute(
            "INSERT INTO billing_usage_totals (agreement_id, feature_code, total, updated_on) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (agreement_id, feature_code) "
            f"DO UPDATE SET total = {total}, updated_on = excluded.updated_on",
            (usage.agreement_id, usage.feature_code, usage.value, usage.recorded_on),
        )
        row = self._s.one(
            "SELECT total FROM billing_usage_totals WHERE agreement_id = ? AND feature_code = ?",
            (usage.agreement_id, usage.feature_code),
        )
        assert row is not None  # written just above, in this transaction
        return int(row["total"])

    def usage_records(self, agreement_id: str) -> list[MeterUsage]:
        rows = self._s.all(
            f"SELECT {_USAGE_COLUMNS} FROM billing_meter_usage WHERE agreement_id = ? ORDER BY seq",
            (agreement_id,),
        )
        return [
            MeterUsage(
                id=row["id"],
                agreement_id=row["agreement_id"],
                feature_code=row["feature_code"],
                meter_type=row["meter_type"],
                value=int(row["meter_value"]),
                usage_on=row["usage_on"],
                recorded_on=row["recorded_on"],
            )
            for row in rows
        ]

    def usage_totals(self, agreement_id: str) -> list[UsageTotal]:
        rows = self._s.all(
            "SELECT agreement_id, feature_code, total, updated_on FROM billing_usage_totals "
            "WHERE agreement_id = ? ORDER BY feature_code",
            (agreement_id,),
        )
        return [
            UsageTotal(
                agreement_id=row["agreement_id"],
                feature_code=row["feature_code"],
                total=int(row["total"]),
                updated_on=row["updated_on"],
            )
            for row in rows
        ]
