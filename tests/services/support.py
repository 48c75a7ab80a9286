"""Helpers of the service unit tier, imported by its conftest and its test modules.

They live here rather than in ``conftest.py``: pytest imports a conftest under its own
name, so a class defined there and imported by a test module would exist twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from kindling.clock import isoformat
from kindling.platform.events import DomainEvent
from kindling.platform.outbox import OUTBOX_REPO
from kindling.platform.storage import Storage

#: 2024-01-01T00:00:00Z, the frozen clock's start.
START = 1_704_067_200.0
NOW = isoformat(START)
MASTER_KEY = "service-tier-master-key-0123456789abcdef"


class Boom(Exception):
    """Raised on purpose inside a transaction to make it roll back."""


def uid() -> str:
    """A short unique suffix for names, keys and emails (PostgreSQL is shared)."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Recorded:
    """One committed outbox row as a test compares it: its type and data."""

    type: str
    data: dict[str, Any]


class Outbox:
    """The outbox rows committed after a mark (the fixture marks when the test starts)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._mark = self._last_seq()

    def _rows(self, after: int | None) -> list[tuple[int, DomainEvent]]:
        with self._storage.read() as uow:
            return uow[OUTBOX_REPO].after(after, 1_000_000)

    def _last_seq(self) -> int | None:
        with self._storage.engine.session(write=False) as session:
            row = session.one("SELECT MAX(seq) AS last FROM outbox")
        return None if row is None or row["last"] is None else int(row["last"])

    def mark(self) -> None:
        """Forget the events committed so far (e.g. by a test's setup calls)."""
        self._mark = self._last_seq()

    def events(self) -> list[DomainEvent]:
        """The full events committed since the mark, oldest first."""
        return [event for _, event in self._rows(self._mark)]

    def recorded(self) -> list[Recorded]:
        """``(type, data)`` of the events committed since the mark, oldest first."""
        return [Recorded(e.type, e.data) for e in self.events()]

    def take(self) -> list[Recorded]:
        """``recorded()``, then mark: the next call sees only later events."""
        found = self.recorded()
        self.mark()
        return found
