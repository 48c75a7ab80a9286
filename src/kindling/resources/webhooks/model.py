"""Webhooks, their deliveries and attempts: the domain objects.

Plain frozen dataclasses: no I/O, no framework types. ``created_on`` and the other
``*_on`` fields are ISO 8601 strings in UTC, as the Management API shows them; the
times the deliverer schedules by (``next_attempt_at``, ``deadline_at``,
``lease_until``) are Unix milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kindling.platform.render import compact

#: A delivery waiting for its (next) attempt.
PENDING = "pending"
#: The endpoint answered 2xx.
DELIVERED = "delivered"
#: The retry window closed without a 2xx answer.
FAILED = "failed"
STATUSES = (PENDING, DELIVERED, FAILED)


@dataclass(frozen=True)
class Webhook:
    """An endpoint subscribed to event types (Kinde's ``webhook``)."""

    id: str
    name: str
    endpoint: str
    event_types: tuple[str, ...]
    created_on: str
    #: The outbox ``seq`` when the webhook was created: only later events reach it.
    start_seq: int
    description: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    """An outbox row as the webhooks read it: the event plus its position and origin."""

    seq: int
    event_id: str
    type: str
    data: dict[str, Any]
    occurred_on: str
    #: The request that recorded it (None for the CLI and other out-of-request changes).
    request_id: str | None

    @property
    def source(self) -> str:
        """Kinde's ``source``: ``api`` for changes made by a request, ``admin`` otherwise.

        Kinde says ``admin`` for its dashboard and ``api`` for the Management API;
        Kindling's outbox records the request id but not the entry point, so a change made
        through the admin console (a request) also says ``api``; CLI changes say ``admin``.
        """
        return "api" if self.request_id else "admin"


@dataclass(frozen=True)
class Delivery:
    """One event queued for one webhook; its id is the ``webhook-id`` header."""

    id: str
    webhook_id: str
    event_id: str
    event_seq: int
    status: str
    attempts: int
    created_on: str
    next_attempt_at: int
    deadline_at: int
    lease_owner: str | None = None
    lease_until: int | None = None
    last_attempt_on: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_on: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One HTTP request to an endpoint and what came of it."""

    delivery_id: str
    attempted_on: str
    latency_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    response_truncated: bool = False


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease of, with what it needs to send it."""

    delivery: Delivery
    lease_owner: str
    endpoint: str
    event: StoredEvent


def webhook_from_row(row: Mapping[str, Any]) -> Webhook:
    return Webhook(
        id=row["id"],
        name=row["name"],
        endpoint=row["endpoint"],
        description=row["description"],
        event_types=tuple(json.loads(row["event_types"])),
        created_on=row["created_on"],
        start_seq=int(row["start_seq"]),
    )


def delivery_from_row(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event_id=row["event_id"],
        event_seq=int(row["event_seq"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        created_on=row["created_on"],
        next_attempt_at=int(row["next_attempt_at"]),
        deadline_at=int(row["deadline_at"]),
        lease_owner=row["lease_owner"],
        lease_until=None if row["lease_until"] is None else int(row["lease_until"]),
        last_attempt_on=row["last_attempt_on"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        delivered_on=row["delivered_on"],
    )


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    return Attempt(
        delivery_id=row["delivery_id"],
        attempted_on=row["attempted_on"],
        status_code=row["status_code"],
        latency_ms=int(row["latency_ms"]),
        error=row["error"],
        response_excerpt=row["response_excerpt"],
        response_truncated=bool(row["response_truncated"]),
    )


def event_from_row(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(
        seq=int(row["seq"]),
        event_id=row["event_id"],
        type=row["type"],
        data=json.loads(row["data"]),
        occurred_on=row["occurred_on"],
        request_id=row["request_id"],
    )


def webhook_item(webhook: Webhook) -> dict[str, Any]:
    """Kinde's ``webhook`` JSON (``GET /webhooks``); a missing description is omitted."""
    return compact(
        {
            "id": webhook.id,
            "name": webhook.name,
            "endpoint": webhook.endpoint,
            "description": webhook.description,
            "event_types": list(webhook.event_types),
            "created_on": webhook.created_on,
        }
    )


def delivery_item(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the CLI's ``--json`` and the console show it."""
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_on": delivery.created_on,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == PENDING else None,
        "last_attempt_on": delivery.last_attempt_on,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_on": delivery.delivered_on,
    }


def attempt_item(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempted_on": attempt.attempted_on,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "response_truncated": attempt.response_truncated,
    }
