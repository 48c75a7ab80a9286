"""The outbox table: domain events in commit order, for webhook delivery and audit.

Rows are appended by the unit of work inside the transaction of the change
(never by services directly) and read in ``seq`` order; ``seq`` is assigned at
insert, so a reader that remembers the last ``seq`` it handled sees every later
event once.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from kindling.platform.engine import Row, Session
from kindling.platform.events import DomainEvent
from kindling.platform.repository import RepositoryKey

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class SqlOutbox:
    """Append and read outbox rows within one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, events: Sequence[DomainEvent], request_id: str | None) -> None:
        """Insert the events in the order given."""
        self._session.executemany(
            "INSERT INTO outbox (event_id, type, data, occurred_on, request_id) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (e.event_id, e.type, _encode(e.data).decode(), e.occurred_on, request_id)
                for e in events
            ],
        )

    def after(self, seq: int | None, limit: int) -> list[tuple[int, DomainEvent]]:
        """Up to ``limit`` events after sequence ``seq`` (all when None), oldest first."""
        rows = self._session.all(
            "SELECT seq, event_id, type, data, occurred_on FROM outbox "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq or 0, limit),
        )
        return [(row["seq"], _event(row)) for row in rows]

    def get(self, event_id: str) -> DomainEvent | None:
        """The event with this id, or None."""
        row = self._session.one(
            "SELECT seq, event_id, type, data, occurred_on FROM outbox WHERE event_id = ?",
            (event_id,),
        )
        return None if row is None else _event(row)


def _event(row: Row) -> DomainEvent:
    return DomainEvent(
        event_id=row["event_id"],
        type=row["type"],
        data=_decode(row["data"]),
        occurred_on=row["occurred_on"],
    )


OUTBOX_REPO = RepositoryKey[SqlOutbox]("outbox")
