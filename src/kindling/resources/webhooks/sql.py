"""Webhooks, deliveries, attempts and the fan-out cursor, in portable SQL (both engines)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kindling.platform.engine import Session
from kindling.resources.webhooks.model import (
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    StoredEvent,
    Webhook,
    attempt_from_row,
    delivery_from_row,
    event_from_row,
    webhook_from_row,
)

_WEBHOOK = "seq, id, name, endpoint, description, event_types, created_on, start_seq"
_DELIVERY = (
    "seq, id, webhook_id, event_id, event_seq, status, attempts, created_on, next_attempt_at, "
    "deadline_at, lease_owner, lease_until, last_attempt_on, last_status_code, last_error, "
    "delivered_on"
)
_ATTEMPT = (
    "delivery_id, attempted_on, status_code, latency_ms, error, response_excerpt, "
    "response_truncated"
)
_EVENT = "seq, event_id, type, data, occurred_on, request_id"


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


class SqlWebhookRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, webhook_id: str) -> Webhook | None:
        row = self._s.one(f"SELECT {_WEBHOOK} FROM webhooks WHERE id = ?", (webhook_id,))
        return None if row is None else webhook_from_row(row)

    def add(self, webhook: Webhook) -> None:
        self._s.execute(
            "INSERT INTO webhooks (id, name, endpoint, description, event_types, created_on, "
            "start_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                webhook.id,
                webhook.name,
                webhook.endpoint,
                webhook.description,
                json.dumps(list(webhook.event_types)),
                webhook.created_on,
                webhook.start_seq,
            ),
        )

    def update(self, webhook: Webhook) -> None:
        self._s.execute(
            "UPDATE webhooks SET name = ?, description = ?, event_types = ? WHERE id = ?",
            (webhook.name, webhook.description, json.dumps(list(webhook.event_types)), webhook.id),
        )

    def delete(self, webhook_id: str) -> bool:
        return self._s.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)) > 0

    def list_all(self) -> list[Webhook]:
        rows = self._s.all(f"SELECT {_WEBHOOK} FROM webhooks ORDER BY seq")
        return [webhook_from_row(row) for row in rows]


class SqlDeliveryRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # -- the outbox

    def outbox_position(self) -> int:
        row = self._s.one("SELECT COALESCE(MAX(seq), 0) AS last FROM outbox")
        return 0 if row is None else int(row["last"])

    def event(self, event_id: str) -> StoredEvent | None:
        row = self._s.one(f"SELECT {_EVENT} FROM outbox WHERE event_id = ?", (event_id,))
        return None if row is None else event_from_row(row)

    def events_after(self, seq: int, limit: int) -> list[StoredEvent]:
        rows = self._s.all(
            f"SELECT {_EVENT} FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [event_from_row(row) for row in rows]

    # -- the cursor

    def cursor(self, name: str) -> int:
        row = self._s.one("SELECT seq FROM webhook_cursors WHERE name = ?", (name,))
        if row is None:
            self._s.execute(
                "INSERT INTO webhook_cursors (name, seq) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) FROM outbox)) "
                "ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            row = self._s.one("SELECT seq FROM webhook_cursors WHERE name = ?", (name,))
        assert row is not None
        return int(row["seq"])

    def peek_cursor(self, name: str) -> int | None:
        row = self._s.one("SELECT seq FROM webhook_cursors WHERE name = ?", (name,))
        return None if row is None else int(row["seq"])

    def advance_cursor(self, name: str, expected: int, to: int) -> bool:
        changed = self._s.execute(
            "UPDATE webhook_cursors SET seq = ? WHERE name = ? AND seq = ?", (to, name, expected)
        )
        return changed > 0

    # -- deliveries

    def add(self, delivery: Delivery) -> bool:
        inserted = self._s.execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_seq, status, "
            "attempts, created_on, next_attempt_at, deadline_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (webhook_id, event_id) DO NOTHING",
            (
                delivery.id,
                delivery.webhook_id,
                delivery.event_id,
                delivery.event_seq,
                delivery.status,
                delivery.attempts,
                delivery.created_on,
                delivery.next_attempt_at,
                delivery.deadline_at,
            ),
        )
        return inserted > 0

    def get(self, delivery_id: str) -> Delivery | None:
        row = self._s.one(
            f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        )
        return None if row is None else delivery_from_row(row)

    def for_event(self, event_id: str) -> list[Delivery]:
        rows = self._s.all(
            f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE event_id = ? ORDER BY seq",
            (event_id,),
        )
        return [delivery_from_row(row) for row in rows]

    def due(self, now: int, limit: int, exclude_webhooks: Sequence[str] = ()) -> list[Delivery]:
        excluded = list(dict.fromkeys(exclude_webhooks))
        skip = f"AND webhook_id NOT IN ({_marks(excluded)}) " if excluded else ""
        rows = self._s.all(
            f"SELECT {_DELIVERY} FROM webhook_deliveries "
            "WHERE status = ? AND next_attempt_at <= ? "
            "AND (lease_until IS NULL OR lease_until < ?) "
            f"{skip}ORDER BY next_attempt_at, seq LIMIT ?",
            (PENDING, now, now, *excluded, limit),
        )
        return [delivery_from_row(row) for row in rows]

    def claim(self, delivery_id: str, owner: str, now: int, lease_until: int) -> bool:
        # One conditional UPDATE: SQLite runs writers one at a time, and PostgreSQL
        # re-checks the WHERE clause against the committed row after waiting for a
        # concurrent claimer's lock, so exactly one of several racing callers changes it.
        changed = self._s.execute(
            "UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? "
            "WHERE id = ? AND status = ? AND next_attempt_at <= ? "
            "AND (lease_until IS NULL OR lease_until < ?)",
            (owner, lease_until, delivery_id, PENDING, now, now),
        )
        return changed > 0

    def finish(
        self,
        delivery_id: str,
        owner: str,
        status: str,
        next_attempt_at: int,
        attempt: Attempt,
    ) -> bool:
        delivered_on = attempt.attempted_on if status == DELIVERED else None
        changed = self._s.execute(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, "
            "last_attempt_on = ?, last_status_code = ?, last_error = ?, "
            "delivered_on = COALESCE(?, delivered_on), lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (
                status,
                next_attempt_at,
                attempt.attempted_on,
                attempt.status_code,
                attempt.error,
                delivered_on,
                delivery_id,
                owner,
            ),
        )
        return changed > 0

    def add_attempt(self, attempt: Attempt) -> bool:
        # Counting first locks the delivery row (PostgreSQL) and tells whether it still
        # exists, so the insert below never meets a foreign-key violation.
        counted = self._s.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE id = ?",
            (attempt.delivery_id,),
        )
        if not counted:
            return False
        self._s.execute(
            f"INSERT INTO webhook_attempts ({_ATTEMPT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.delivery_id,
                attempt.attempted_on,
                attempt.status_code,
                attempt.latency_ms,
                attempt.error,
                attempt.response_excerpt,
                attempt.response_truncated,
            ),
        )
        return True

    def requeue(self, delivery_id: str, now: int, deadline_at: int) -> bool:
        changed = self._s.execute(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, deadline_at = ?, "
            "lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (PENDING, now, deadline_at, delivery_id),
        )
        return changed > 0

    def recent(
        self, limit: int, webhook_id: str | None = None, status: str | None = None
    ) -> list[Delivery]:
        conditions: list[str] = []
        params: list[object] = []
        if webhook_id is not None:
            conditions.append("webhook_id = ?")
            params.append(webhook_id)
        if status is not None:
            conditions.append("status = ?")
            params.append(status)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = self._s.all(
            f"SELECT {_DELIVERY} FROM webhook_deliveries {where}ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [delivery_from_row(row) for row in rows]

    def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = self._s.all(
            f"SELECT {_ATTEMPT} FROM webhook_attempts WHERE delivery_id = ? ORDER BY seq",
            (delivery_id,),
        )
        return [attempt_from_row(row) for row in rows]

    def status_counts(self, webhook_id: str) -> dict[str, int]:
        rows = self._s.all(
            "SELECT status, COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ? "
            "GROUP BY status",
            (webhook_id,),
        )
        counts = {"pending": 0, "delivered": 0, "failed": 0}
        counts.update({row["status"]: int(row["n"]) for row in rows})
        return counts
