"""Webhooks: subscriptions (create, list, update, delete), the event-type catalogue,
events by id, re-sending an event, and the steps of the background deliverer.

**Subscriptions.** A webhook is a name, an endpoint and the event types it wants (every
one a member of ``EventType``; ``GET /event_types`` lists them). Endpoints must be
``https://`` URLs, except on a loopback host (``http://127.0.0.1:…``, ``http://localhost:…``,
``http://[::1]:…``) so a receiver on the developer's machine works; they may not carry
credentials or a fragment. The endpoint cannot be changed by ``PATCH`` (Kinde's update
takes only name, description and event types): a body naming it is refused with
``ENDPOINT_NOT_ALLOWED`` rather than ignored. Bad input is a 400 with its code and
writes nothing. Each change records ``webhook.created|updated|deleted``; an update that
changes nothing records none.

**Delivery.** Every committed change has its event in the outbox (``kindling.platform
.outbox``). The deliverer reads the outbox after a cursor row (``webhook_cursors``) and,
in one transaction, queues one delivery per event and subscribed webhook and advances
the cursor, so each event is fanned out once even with several workers or instances
(``fan_out``). A webhook only receives events recorded after its creation. Deliveries
are claimed under a lease (``claim_due``), sent outside any transaction, and their
outcome recorded with the attempt (``record_attempt``): delivered, pending again after
a back-off, or failed once the retry window closes. Delivery is at least once: a worker
killed mid-attempt leaves its lease to expire, and the attempt is made again with the
same ``event_id`` and ``webhook-id``. Nothing the deliverer does records an event, so a
webhook subscribed to ``webhook.*`` cannot set off a storm of deliveries about deliveries.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given
from kindling.platform.codes import Code
from kindling.platform.errors import NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_text, required_text
from kindling.resources.webhooks import catalogue
from kindling.resources.webhooks.delivery import (
    LOOPBACK_HOSTS,
    RetryPolicy,
    SendResult,
    iso_to_unix,
)
from kindling.resources.webhooks.model import (
    DELIVERED,
    FAILED,
    PENDING,
    STATUSES,
    Attempt,
    Claimed,
    Delivery,
    StoredEvent,
    Webhook,
)
from kindling.resources.webhooks.repository import DELIVERIES_REPO, WEBHOOKS_REPO

NAME_MAX = 128
DESCRIPTION_MAX = 1000
ENDPOINT_MAX = 2048
#: Outbox events fanned out per transaction.
FANOUT_BATCH = 200
#: The deliverer's own cursor row.
CURSOR = "webhooks"


def new_webhook_id() -> str:
    """Kinde's webhook ids: ``webhook_`` and 32 hex characters."""
    return "webhook_" + hex_id()


def new_delivery_id() -> str:
    """A delivery's id, sent as the ``webhook-id`` header: ``delivery_`` and 32 hex."""
    return "delivery_" + hex_id()


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


# --- validation ------------------------------------------------------------------------


class WebhookBody(Body, frozen=True):
    """``POST /webhooks`` and ``PATCH /webhooks/{id}``: a null or absent field means "not
    given", except ``description``, which a PATCH may send as null to clear it."""

    endpoint: object = UNSET
    event_types: object = None
    name: object = None
    description: object = UNSET


def _invalid_endpoint(message: str) -> ValidationError:
    return ValidationError(message, Code.INVALID_ENDPOINT)


def validate_endpoint(value: Any) -> str:
    """An absolute ``https://`` URL (``http://`` on a loopback host), trimmed."""
    if value is None:
        raise ValidationError("endpoint is required", Code.ENDPOINT_REQUIRED)
    if not isinstance(value, str):
        raise _invalid_endpoint("endpoint must be a URL string")
    url = value.strip()
    if not url:
        raise ValidationError("endpoint is required", Code.ENDPOINT_REQUIRED)
    if len(url) > ENDPOINT_MAX:
        raise ValidationError(
            f"endpoint must be at most {ENDPOINT_MAX} characters", Code.ENDPOINT_TOO_LONG
        )
    if not url.isascii() or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _invalid_endpoint(
            "endpoint must be an ASCII URL (punycode for international names) without "
            "spaces or control characters"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise _invalid_endpoint("endpoint is not a valid URL") from None
    scheme = parts.scheme.lower()
    if not scheme or not parts.netloc:
        raise _invalid_endpoint("endpoint must be an absolute URL such as https://example.com/hook")
    if scheme not in ("https", "http"):
        raise ValidationError("endpoint must be an https:// URL", Code.ENDPOINT_NOT_HTTPS)
    if not host or port == 0:
        raise _invalid_endpoint("endpoint must name a host (and a port from 1 to 65535)")
    if parts.username is not None or parts.password is not None:
        raise _invalid_endpoint("endpoint must not carry a user name or password")
    if "#" in url:
        raise _invalid_endpoint("endpoint must not have a #fragment")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValidationError(
            "endpoint must be an https:// URL (http:// is allowed only for 127.0.0.1, "
            "localhost and [::1])",
            Code.ENDPOINT_NOT_HTTPS,
        )
    return url


def validate_event_types(value: Any) -> tuple[str, ...]:
    """A non-empty list of known event type codes; repeats are dropped, order is kept."""
    if value is None:
        raise ValidationError("event_types is required", Code.EVENT_TYPES_REQUIRED)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(
            "event_types must be an array of event type codes", Code.INVALID_EVENT_TYPES
        )
    codes = tuple(dict.fromkeys(item.strip() for item in value))
    if not codes:
        raise ValidationError("event_types must name at least one type", Code.EVENT_TYPES_REQUIRED)
    for code in codes:
        if not catalogue.known(code):
            shown = code if len(code) <= 64 else code[:64] + "..."
            raise ValidationError(
                f"{shown!r} is not an event type; GET /api/v1/event_types lists them",
                Code.UNKNOWN_EVENT_TYPE,
            )
    return codes


def validate_name(value: Any) -> str:
    return required_text(value, "name", NAME_MAX, "NAME")


def validate_description(value: Any) -> str | None:
    return optional_text(value, "description", DESCRIPTION_MAX, "DESCRIPTION")


def webhook_data(webhook: Webhook) -> dict[str, Any]:
    """A webhook as its events show it: never the endpoint (it may hold a secret)."""
    return {"id": webhook.id, "name": webhook.name, "event_types": list(webhook.event_types)}


def _not_found() -> NotFound:
    return NotFound("Webhook not found", Code.WEBHOOK_NOT_FOUND)


# --- subscriptions ---------------------------------------------------------------------


def create_webhook(storage: Storage, clock: Clock, body: Any) -> Webhook:
    data = decode_body(body, WebhookBody)
    endpoint = validate_endpoint(None if not given(data.endpoint) else data.endpoint)
    event_types = validate_event_types(data.event_types)
    name = validate_name(data.name)
    description = validate_description(None if not given(data.description) else data.description)
    with storage.transaction() as uow:
        webhook = Webhook(
            id=new_webhook_id(),
            name=name,
            endpoint=endpoint,
            description=description,
            event_types=event_types,
            created_on=isoformat(clock.now()),
            start_seq=uow[DELIVERIES_REPO].outbox_position(),
        )
        uow[WEBHOOKS_REPO].add(webhook)
        uow.record(EventType.WEBHOOK_CREATED, {"webhook": webhook_data(webhook)})
    return webhook


def list_webhooks(storage: Storage) -> list[Webhook]:
    """Every webhook, oldest first (Kinde's listing is not paged)."""
    with storage.read() as uow:
        return uow[WEBHOOKS_REPO].list_all()


def get_webhook(storage: Storage, webhook_id: str) -> Webhook:
    with storage.read() as uow:
        found = uow[WEBHOOKS_REPO].get(webhook_id)
    if found is None:
        raise _not_found()
    return found


#: The fields of a webhook an update may change (and its event names).
_FIELDS = ("name", "description", "event_types")


def update_webhook(storage: Storage, webhook_id: str, body: Any) -> Webhook:
    """Change name, description and/or event types; absent (or null) name and event types
    stay as they are, a null or blank description clears it."""
    data = decode_body(body, WebhookBody)
    if given(data.endpoint):
        raise ValidationError(
            "the endpoint of a webhook cannot be changed; create a new webhook instead",
            Code.ENDPOINT_NOT_ALLOWED,
        )
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = validate_name(data.name)
    if data.event_types is not None:
        changes["event_types"] = validate_event_types(data.event_types)
    if given(data.description):
        changes["description"] = validate_description(data.description)
    if not changes:
        raise ValidationError(
            "give at least one of name, description, event_types", Code.NO_FIELDS_TO_UPDATE
        )
    with storage.transaction() as uow:
        current = uow[WEBHOOKS_REPO].get(webhook_id)
        if current is None:
            raise _not_found()
        updated = replace(current, **changes)
        fields = [f for f in _FIELDS if getattr(updated, f) != getattr(current, f)]
        if fields:
            uow[WEBHOOKS_REPO].update(updated)
            uow.record(
                EventType.WEBHOOK_UPDATED,
                {"webhook": webhook_data(updated), "updated_fields": fields},
            )
    return updated


def delete_webhook(storage: Storage, webhook_id: str) -> None:
    """Delete the webhook with its deliveries and their attempts (an attempt in flight
    finishes, but records nothing)."""
    with storage.transaction() as uow:
        if not uow[WEBHOOKS_REPO].delete(webhook_id):
            raise _not_found()
        uow.record(EventType.WEBHOOK_DELETED, {"webhook": {"id": webhook_id}})


# --- events ----------------------------------------------------------------------------


def event_types() -> list[dict[str, Any]]:
    """The catalogue in Kinde's ``event_type`` shape (``GET /event_types``)."""
    return list(catalogue.event_types())


def get_event(storage: Storage, event_id: str) -> StoredEvent:
    with storage.read() as uow:
        found = uow[DELIVERIES_REPO].event(event_id)
    if found is None:
        raise NotFound("Event not found", Code.EVENT_NOT_FOUND)
    return found


def event_item(event: StoredEvent) -> dict[str, Any]:
    """Kinde's ``get_event_response.event``; ``timestamp`` is a Unix time in seconds (the
    spec types it an integer)."""
    return {
        "type": event.type,
        "source": event.source,
        "event_id": event.event_id,
        "timestamp": int(iso_to_unix(event.occurred_on)),
        "data": event.data,
    }


def resend_event(storage: Storage, clock: Clock, event_id: str, window: float) -> list[Delivery]:
    """Queue an event again to every webhook subscribed to its type, due now, with a new
    retry window: a webhook that had a delivery of it gets that delivery back (same
    ``webhook-id``, earlier attempts kept), one that had none gets a new one. Webhooks no
    longer subscribed to the type are left alone. Records no event (see the module
    docstring)."""
    now = clock.now()
    now_ms = _ms(now)
    deadline = now_ms + _ms(window)
    queued: list[Delivery] = []
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        event = repo.event(event_id)
        if event is None:
            raise NotFound("Event not found", Code.EVENT_NOT_FOUND)
        existing = {d.webhook_id: d for d in repo.for_event(event_id)}
        for webhook in uow[WEBHOOKS_REPO].list_all():
            if event.type not in webhook.event_types:
                continue
            delivery = existing.get(webhook.id)
            if delivery is not None:
                repo.requeue(delivery.id, now_ms, deadline)
            else:
                delivery = _new_delivery(webhook.id, event, now, deadline)
                repo.add(delivery)
            queued.append(repo.get(delivery.id) or delivery)
    return queued


def _new_delivery(webhook_id: str, event: StoredEvent, now: float, deadline: int) -> Delivery:
    return Delivery(
        id=new_delivery_id(),
        webhook_id=webhook_id,
        event_id=event.event_id,
        event_seq=event.seq,
        status=PENDING,
        attempts=0,
        created_on=isoformat(now),
        next_attempt_at=_ms(now),
        deadline_at=deadline,
    )


# --- visibility (console and CLI) ------------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    delivery: Delivery
    attempts: list[Attempt]


@dataclass(frozen=True)
class WebhookView:
    webhook: Webhook
    counts: dict[str, int]
    recent: list[DeliveryView]


def webhooks_overview(storage: Storage, recent: int = 10) -> list[WebhookView]:
    """Every webhook with its delivery counts and its latest deliveries and attempts."""
    views: list[WebhookView] = []
    with storage.read() as uow:
        repo = uow[DELIVERIES_REPO]
        for webhook in uow[WEBHOOKS_REPO].list_all():
            latest = [DeliveryView(d, repo.attempts(d.id)) for d in repo.recent(recent, webhook.id)]
            views.append(WebhookView(webhook, repo.status_counts(webhook.id), latest))
    return views


def list_deliveries(
    storage: Storage, limit: int, webhook_id: str | None = None, status: str | None = None
) -> list[DeliveryView]:
    """The latest deliveries (of one webhook, in one status), newest first, with attempts."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}", Code.INVALID_STATUS)
    with storage.read() as uow:
        if webhook_id is not None and uow[WEBHOOKS_REPO].get(webhook_id) is None:
            raise _not_found()
        repo = uow[DELIVERIES_REPO]
        return [
            DeliveryView(d, repo.attempts(d.id))
            for d in repo.recent(max(1, limit), webhook_id, status)
        ]


# --- the deliverer's steps ------------------------------------------------------------


class _CursorMoved(Exception):
    """Another worker fanned the same events out first; this transaction rolls back."""


@dataclass(frozen=True)
class FanOut:
    events: int
    deliveries: int


def fan_out(
    storage: Storage,
    clock: Clock,
    window: float,
    gap_ok: Callable[[int], bool],
    cursor: str = CURSOR,
    limit: int = FANOUT_BATCH,
) -> FanOut:
    """Queue the outbox events after ``cursor`` to their subscribed webhooks and advance
    the cursor past them, in one transaction.

    Events are taken in ``seq`` order up to the first gap: on PostgreSQL a transaction can
    commit after a later one, so a missing ``seq`` may still appear. ``gap_ok(seq)`` says
    whether to stop waiting for it (the deliverer answers True once the gap has lasted a
    few seconds; a rolled-back insert leaves a gap forever). Only a read happens when the
    cursor is already at the end of the outbox.
    """
    with storage.read() as uow:
        repo = uow[DELIVERIES_REPO]
        at = repo.peek_cursor(cursor)
        if at is not None and repo.outbox_position() <= at:
            return FanOut(0, 0)
    now = clock.now()
    try:
        with storage.transaction() as uow:
            repo = uow[DELIVERIES_REPO]
            position = repo.cursor(cursor)
            events = repo.events_after(position, limit)
            accepted: list[StoredEvent] = []
            last = position
            for event in events:
                if event.seq != last + 1 and not gap_ok(last + 1):
                    break
                accepted.append(event)
                last = event.seq
            if not accepted:
                return FanOut(0, 0)
            webhooks = uow[WEBHOOKS_REPO].list_all()
            created = 0
            deadline = _ms(now) + _ms(window)
            for event in accepted:
                for webhook in webhooks:
                    if event.seq > webhook.start_seq and event.type in webhook.event_types:
                        if repo.add(_new_delivery(webhook.id, event, now, deadline)):
                            created += 1
            if not repo.advance_cursor(cursor, position, last):
                raise _CursorMoved
    except _CursorMoved:
        return FanOut(0, 0)
    return FanOut(len(accepted), created)


def claim_due(
    storage: Storage,
    now: float,
    lease: float,
    limit: int,
    in_flight: Mapping[str, int] | None = None,
    per_webhook: int = 2,
) -> list[Claimed]:
    """Take the lease of up to ``limit`` due deliveries, at most ``per_webhook`` in flight
    per webhook counting ``in_flight`` (what this worker is already sending). Only a read
    happens when nothing is due."""
    busy = dict(in_flight or {})
    saturated = [w for w, n in busy.items() if n >= per_webhook]
    now_ms = _ms(now)
    with storage.read() as uow:
        candidates = uow[DELIVERIES_REPO].due(now_ms, limit * 4, saturated)
    if not candidates:
        return []
    claimed: list[Claimed] = []
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        for delivery in candidates:
            if len(claimed) >= limit:
                break
            if busy.get(delivery.webhook_id, 0) >= per_webhook:
                continue
            owner = hex_id()
            if not repo.claim(delivery.id, owner, now_ms, now_ms + _ms(lease)):
                continue
            webhook = uow[WEBHOOKS_REPO].get(delivery.webhook_id)
            event = repo.event(delivery.event_id)
            if webhook is None or event is None:
                missing = Attempt(delivery.id, isoformat(now), 0, error="the event is gone")
                repo.add_attempt(missing)
                repo.finish(delivery.id, owner, FAILED, now_ms, missing)
                continue
            busy[delivery.webhook_id] = busy.get(delivery.webhook_id, 0) + 1
            claimed.append(
                Claimed(
                    replace(delivery, lease_owner=owner, lease_until=now_ms + _ms(lease)),
                    owner,
                    webhook.endpoint,
                    event,
                )
            )
    return claimed


def record_attempt(
    storage: Storage,
    claimed: Claimed,
    result: SendResult,
    attempted_at: float,
    policy: RetryPolicy,
    rng: random.Random,
) -> str | None:
    """Record one attempt and what follows from it: delivered on 2xx; otherwise pending
    again after the back-off, or failed when that would pass the retry deadline. Returns
    the new status, or None when the delivery is gone or no longer leased to this worker
    (the attempt is still recorded if the delivery exists)."""
    delivery = claimed.delivery
    attempt = Attempt(
        delivery_id=delivery.id,
        attempted_on=isoformat(attempted_at),
        latency_ms=result.latency_ms,
        status_code=result.status_code,
        error=result.error,
        response_excerpt=result.excerpt,
        response_truncated=result.truncated,
    )
    attempted_ms = _ms(attempted_at)
    if result.ok:
        status, next_at = DELIVERED, attempted_ms
    else:
        next_at = attempted_ms + _ms(policy.delay(delivery.attempts + 1, rng))
        status = FAILED if next_at > delivery.deadline_at else PENDING
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        if not repo.add_attempt(attempt):
            return None
        if not repo.finish(delivery.id, claimed.lease_owner, status, next_at, attempt):
            return None
    return status
