"""Subscribers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kindling.platform.engine import Session, fold_case
from kindling.platform.keyset import keyset
from kindling.resources.subscribers.model import Subscriber

_COLUMNS = "seq, id, email, first_name, last_name, full_name, created_on"
#: Columns a subscriber listing may be sorted by (public name → SQL column).
SORT_COLUMNS = {"name": "full_name", "email": "email"}


def _subscriber(row: Mapping[str, Any]) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        created_on=row["created_on"],
    )


class SqlSubscriberRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, subscriber_id: str) -> Subscriber | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM subscribers WHERE id = ?", (subscriber_id,))
        return None if row is None else _subscriber(row)

    def get_by_email(self, email: str) -> Subscriber | None:
        row = self._s.one(
            f"SELECT {_COLUMNS} FROM subscribers WHERE email_key = ?", (fold_case(email),)
        )
        return None if row is None else _subscriber(row)

    def add(self, subscriber: Subscriber) -> None:
        self._s.execute(
            "INSERT INTO subscribers "
            "(id, email, email_key, first_name, last_name, full_name, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                subscriber.id,
                subscriber.email,
                fold_case(subscriber.email),
                subscriber.first_name,
                subscriber.last_name,
                subscriber.full_name,
                subscriber.created_on,
            ),
        )

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Subscriber]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM subscribers WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), _subscriber(row)) for row in rows]

    def list_sorted(
        self, column: str, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Subscriber]]:
        condition, order_by, params = keyset(SORT_COLUMNS, column, after, descending)
        where = f"WHERE {condition}" if condition else ""
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM subscribers {where} {order_by} LIMIT ?", (*params, limit)
        )
        return [((row[SORT_COLUMNS[column]], int(row["seq"])), _subscriber(row)) for row in rows]
