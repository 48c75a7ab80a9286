"""Webhooks: the repository contracts services and the deliverer rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementations beside them serve both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.webhooks.model import Attempt, Delivery, StoredEvent, Webhook


class WebhookRepository(Protocol):
    """Webhook subscriptions."""

    def get(self, webhook_id: str) -> Webhook | None:
        """Return the webhook, or None."""

    def add(self, webhook: Webhook) -> None:
        """Insert a webhook. Raises IntegrityViolation if its id is taken."""

    def update(self, webhook: Webhook) -> None:
        """Overwrite name, description and event types of the webhook with ``webhook.id``
        (endpoint, creation time and start position never change; nothing happens if it
        is absent)."""

    def delete(self, webhook_id: str) -> bool:
        """Delete the webhook; its deliveries and their attempts go with it (ON DELETE
        CASCADE). False if absent."""

    def list_all(self) -> list[Webhook]:
        """Every webhook, oldest first."""


class DeliveryRepository(Protocol):
    """Deliveries, their attempts, the fan-out cursor, and the outbox as webhooks read it."""

    # -- the outbox (read only; the unit of work appends to it)

    def outbox_position(self) -> int:
        """The highest outbox ``seq`` (0 when the outbox is empty)."""

    def event(self, event_id: str) -> StoredEvent | None:
        """The outbox event with this id, or None."""

    def events_after(self, seq: int, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` outbox events with ``seq`` greater than ``seq``, in ``seq`` order."""

    # -- the fan-out cursor

    def cursor(self, name: str) -> int:
        """The outbox position cursor ``name`` has fanned out up to. A cursor that does
        not exist yet is created at the current ``outbox_position()`` (nothing already in
        the outbox is fanned out by a new cursor); two creating it at once both succeed."""

    def peek_cursor(self, name: str) -> int | None:
        """The position of cursor ``name``, or None when it does not exist (nothing is
        created)."""

    def advance_cursor(self, name: str, expected: int, to: int) -> bool:
        """Move cursor ``name`` from ``expected`` to ``to``; False (nothing changed) when
        it is no longer at ``expected`` (another worker advanced it first)."""

    # -- deliveries

    def add(self, delivery: Delivery) -> bool:
        """Insert a delivery; False (nothing inserted) when the webhook already has a
        delivery of this event. Raises IntegrityViolation if the webhook does not exist
        or the delivery id is taken."""

    def get(self, delivery_id: str) -> Delivery | None:
        """Return the delivery, or None."""

    def for_event(self, event_id: str) -> list[Delivery]:
        """Every delivery of one event, oldest first (empty when there is none)."""

    def due(self, now: int, limit: int, exclude_webhooks: Sequence[str] = ()) -> list[Delivery]:
        """Up to ``limit`` pending deliveries whose next attempt is at or before ``now``
        and whose lease (if any) has expired, earliest first, skipping the webhooks in
        ``exclude_webhooks``. Reading them claims nothing (see ``claim``)."""

    def claim(self, delivery_id: str, owner: str, now: int, lease_until: int) -> bool:
        """Take the lease of a due delivery: True when this call took it, False when the
        delivery is absent, not pending, not due yet or leased by someone else until
        after ``now``. Of several callers racing for one delivery exactly one wins."""

    def finish(
        self,
        delivery_id: str,
        owner: str,
        status: str,
        next_attempt_at: int,
        attempt: Attempt,
    ) -> bool:
        """Record the outcome of the attempt made under lease ``owner``: the new status,
        when to try next, the attempt's time, status code and error, and release the
        lease. False (nothing changed) when the delivery is gone or ``owner`` no longer
        holds its lease (it expired and another worker claimed it, or it was re-queued)."""

    def add_attempt(self, attempt: Attempt) -> bool:
        """Append an attempt to its delivery's history and count it; False when the
        delivery is gone (its webhook was deleted meanwhile)."""

    def requeue(self, delivery_id: str, now: int, deadline_at: int) -> bool:
        """Make a delivery pending again, due at ``now``, with a new retry deadline and
        no lease (an attempt in flight under the old lease no longer changes it). Its
        attempts so far stay. False if absent."""

    def recent(
        self, limit: int, webhook_id: str | None = None, status: str | None = None
    ) -> list[Delivery]:
        """Up to ``limit`` deliveries, newest first, of one webhook and/or one status
        (every one when None)."""

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """The attempts of a delivery, oldest first (empty when there is none)."""

    def status_counts(self, webhook_id: str) -> dict[str, int]:
        """How many deliveries of the webhook are in each status (absent statuses: 0)."""


WEBHOOKS_REPO = RepositoryKey[WebhookRepository]("webhooks")
"""Webhooks."""

DELIVERIES_REPO = RepositoryKey[DeliveryRepository]("webhook_deliveries")
"""Webhook deliveries, attempts and the fan-out cursor."""
