"""Subscribers: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.subscribers.model import Subscriber


class SubscriberRepository(Protocol):
    """Subscribers."""

    def get(self, subscriber_id: str) -> Subscriber | None:
        """Return the subscriber, or None."""

    def get_by_email(self, email: str) -> Subscriber | None:
        """Return the subscriber with this email, compared case-insensitively (Unicode
        case folding), or None."""

    def add(self, subscriber: Subscriber) -> None:
        """Insert a subscriber. Raises IntegrityViolation if its id is taken or another
        subscriber has the same email (case-insensitively)."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Subscriber]]:
        """Return up to ``limit`` subscribers after sequence ``after``, oldest first."""

    def list_sorted(
        self, column: str, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Subscriber]]:
        """Return up to ``limit`` subscribers ordered by (``column``, sequence) after
        ``after``; ``column`` is ``name`` (the full name) or ``email`` (anything else
        raises ValueError)."""


SUBSCRIBERS_REPO = RepositoryKey[SubscriberRepository]("subscribers")
