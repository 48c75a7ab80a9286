"""Webhooks on both engines: subscriptions and their events, validation that writes
nothing, the event-type catalogue, events by id, re-sending, and the deliverer's steps
(fan-out, claim, attempt, back-off, deadline) in process with a frozen clock.

Every test starts from no webhooks (the PostgreSQL schema is shared by the session) and
fans out through a cursor of its own.
"""

from __future__ import annotations

import http.server
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest

from kindling.clock import FrozenClock
from kindling.platform.context import Context
from kindling.platform.errors import KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage, current_request_id
from kindling.resources.permissions import service as permissions
from kindling.resources.webhooks import catalogue, service
from kindling.resources.webhooks.deliverer import Deliverer
from kindling.resources.webhooks.delivery import RetryPolicy, SendResult
from kindling.resources.webhooks.model import DELIVERED, FAILED, PENDING, Delivery, Webhook
from kindling.resources.webhooks.repository import DELIVERIES_REPO, WEBHOOKS_REPO
from tests.services.support import START, Outbox, Recorded, uid

EVENT_TYPES_SOURCE = Path(__file__).parents[2] / "src/kindling/platform/event_types.py"
POLICY = RetryPolicy(base=2.0, window=60.0)
RNG = random.Random(1)


@pytest.fixture(autouse=True)
def no_webhooks(storage: Storage) -> None:
    with storage.engine.session(write=True) as session:
        session.execute("DELETE FROM webhooks")


@pytest.fixture
def cursor() -> str:
    return f"test-{uid()}"


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "endpoint": "https://hooks.example.com/kinde?token=s3cret",
        "event_types": ["user.created", "permission.created"],
        "name": f"Sync {uid()}",
    }
    values.update(overrides)
    return values


def new_webhook(storage: Storage, clock: FrozenClock, **overrides: Any) -> Webhook:
    return service.create_webhook(storage, clock, body(**overrides))


def stored(storage: Storage, webhook_id: str) -> Webhook | None:
    with storage.read() as uow:
        return uow[WEBHOOKS_REPO].get(webhook_id)


def webhook_count(storage: Storage) -> int:
    with storage.read() as uow:
        return len(uow[WEBHOOKS_REPO].list_all())


def fails(outbox: Outbox, code: str, call: Callable[[], object]) -> KindlingError:
    outbox.mark()
    with pytest.raises(KindlingError) as raised:
        call()
    assert raised.value.code == code, raised.value.message
    assert outbox.recorded() == []
    return raised.value


def permission_event(storage: Storage, clock: FrozenClock) -> str:
    """Make a change (a permission) and return its event id."""
    permission = permissions.create_permission(
        storage, clock, {"name": f"P {uid()}", "key": f"p:{uid()}"}
    )
    with storage.read() as uow:
        events = uow[DELIVERIES_REPO].events_after(uow[DELIVERIES_REPO].outbox_position() - 1, 1)
    assert events[0].data["permission"]["id"] == permission.id
    return events[0].event_id


def deliveries_of(storage: Storage, event_id: str) -> list[Delivery]:
    with storage.read() as uow:
        return uow[DELIVERIES_REPO].for_event(event_id)


def fan(storage: Storage, clock: FrozenClock, cursor: str, gap_ok: bool = True) -> service.FanOut:
    return service.fan_out(storage, clock, POLICY.window, lambda _: gap_ok, cursor=cursor)


def start_cursor(storage: Storage, clock: FrozenClock, cursor: str) -> None:
    """Create the test's cursor at the end of the outbox (nothing older is fanned out)."""
    assert fan(storage, clock, cursor) == service.FanOut(0, 0)


# --- subscriptions and their events -----------------------------------------------------


def test_create_stores_the_webhook_and_records_webhook_created(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    with storage.read() as uow:
        position = uow[DELIVERIES_REPO].outbox_position()
    webhook = service.create_webhook(
        storage,
        clock,
        body(
            endpoint="  http://127.0.0.1:8080/hook  ",
            event_types=["user.created", "user.deleted", "user.created"],
            name=" Sync ",
            description="to the CRM",
        ),
    )
    assert re.fullmatch(r"webhook_[0-9a-f]{32}", webhook.id)
    assert (webhook.endpoint, webhook.name, webhook.description) == (
        "http://127.0.0.1:8080/hook",
        "Sync",
        "to the CRM",
    )
    assert webhook.event_types == ("user.created", "user.deleted")
    assert webhook.created_on == "2024-01-01T00:00:00+00:00"
    assert webhook.start_seq == position
    assert stored(storage, webhook.id) == webhook
    # The endpoint (it may carry the receiver's secret) is never in the event.
    assert outbox.recorded() == [
        Recorded(
            EventType.WEBHOOK_CREATED,
            {
                "webhook": {
                    "id": webhook.id,
                    "name": "Sync",
                    "event_types": ["user.created", "user.deleted"],
                }
            },
        )
    ]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://hooks.example.com/kinde",
        "HTTPS://Hooks.Example.com:8443/a/b?x=1&y=2",
        "http://127.0.0.1:9000/hook",
        "http://localhost:3000/",
        "http://[::1]:8080/x",
        "http://localhost",
    ],
)
def test_https_and_loopback_http_endpoints_are_accepted(
    storage: Storage, clock: FrozenClock, endpoint: str
) -> None:
    assert new_webhook(storage, clock, endpoint=endpoint).endpoint == endpoint


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"endpoint": None}, "ENDPOINT_REQUIRED"),
        ({"endpoint": "   "}, "ENDPOINT_REQUIRED"),
        ({"endpoint": 42}, "INVALID_ENDPOINT"),
        ({"endpoint": "http://hooks.example.com/kinde"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "http://127.0.0.2:8080/"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "http://localhost.example.com/"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "http://10.0.0.1/"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "ftp://hooks.example.com/"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "javascript:alert(1)"}, "INVALID_ENDPOINT"),
        ({"endpoint": "hooks.example.com/kinde"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://user:pw@hooks.example.com/"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://hooks.example.com/#frag"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://hooks.example.com:0/"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://hooks.example.com:99999/"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://hooks example.com/"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://hooks.example.com/\nx"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://hööks.example.com/"}, "INVALID_ENDPOINT"),
        ({"endpoint": "https://h.example.com/" + "a" * 2048}, "ENDPOINT_TOO_LONG"),
        ({"event_types": None}, "EVENT_TYPES_REQUIRED"),
        ({"event_types": []}, "EVENT_TYPES_REQUIRED"),
        ({"event_types": "user.created"}, "INVALID_EVENT_TYPES"),
        ({"event_types": ["user.created", 7]}, "INVALID_EVENT_TYPES"),
        ({"event_types": ["user.created", "user.exploded"]}, "UNKNOWN_EVENT_TYPE"),
        ({"event_types": ["*"]}, "UNKNOWN_EVENT_TYPE"),
        ({"name": None}, "NAME_REQUIRED"),
        ({"name": " "}, "NAME_REQUIRED"),
        ({"name": "n" * 129}, "NAME_TOO_LONG"),
        ({"name": ["x"]}, "INVALID_NAME"),
        ({"description": "d" * 1001}, "DESCRIPTION_TOO_LONG"),
    ],
)
def test_bad_creations_are_refused_and_write_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox, changes: dict[str, Any], code: str
) -> None:
    request = body(**changes)
    request = {k: v for k, v in request.items() if v is not None}
    error = fails(outbox, code, lambda: service.create_webhook(storage, clock, request))
    assert isinstance(error, ValidationError)
    assert webhook_count(storage) == 0


def test_a_body_that_is_not_an_object_is_refused(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    fails(outbox, "INVALID_BODY", lambda: service.create_webhook(storage, clock, ["x"]))
    assert webhook_count(storage) == 0


def test_update_changes_fields_and_records_only_real_changes(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    webhook = new_webhook(storage, clock, description="old")
    outbox.mark()
    updated = service.update_webhook(
        storage,
        webhook.id,
        {"name": "Renamed", "event_types": ["role.created"], "description": None},
    )
    assert updated == replace(
        webhook, name="Renamed", event_types=("role.created",), description=None
    )
    assert stored(storage, webhook.id) == updated
    assert outbox.take() == [
        Recorded(
            EventType.WEBHOOK_UPDATED,
            {
                "webhook": {"id": webhook.id, "name": "Renamed", "event_types": ["role.created"]},
                "updated_fields": ["name", "description", "event_types"],
            },
        )
    ]
    service.update_webhook(storage, webhook.id, {"name": "Renamed"})
    assert outbox.take() == []


def test_bad_updates_are_refused_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    webhook = new_webhook(storage, clock)
    update = service.update_webhook
    fails(outbox, "NO_FIELDS_TO_UPDATE", lambda: update(storage, webhook.id, {}))
    fails(
        outbox,
        "ENDPOINT_NOT_ALLOWED",
        lambda: update(storage, webhook.id, {"name": "X", "endpoint": "https://else.example/"}),
    )
    fails(outbox, "EVENT_TYPES_REQUIRED", lambda: update(storage, webhook.id, {"event_types": []}))
    fails(
        outbox,
        "UNKNOWN_EVENT_TYPE",
        lambda: update(storage, webhook.id, {"event_types": ["nope.nope"]}),
    )
    fails(outbox, "NAME_TOO_LONG", lambda: update(storage, webhook.id, {"name": "n" * 200}))
    missing = fails(
        outbox, "WEBHOOK_NOT_FOUND", lambda: update(storage, "webhook_x", {"name": "X"})
    )
    assert isinstance(missing, NotFound)
    assert stored(storage, webhook.id) == webhook


def test_delete_records_webhook_deleted_and_takes_its_deliveries(
    storage: Storage, clock: FrozenClock, outbox: Outbox, cursor: str
) -> None:
    webhook = new_webhook(storage, clock)
    start_cursor(storage, clock, cursor)
    event_id = permission_event(storage, clock)
    fan(storage, clock, cursor)
    assert len(deliveries_of(storage, event_id)) == 1
    outbox.mark()
    service.delete_webhook(storage, webhook.id)
    assert outbox.take() == [Recorded(EventType.WEBHOOK_DELETED, {"webhook": {"id": webhook.id}})]
    assert stored(storage, webhook.id) is None
    assert deliveries_of(storage, event_id) == []
    fails(outbox, "WEBHOOK_NOT_FOUND", lambda: service.delete_webhook(storage, webhook.id))


# --- the catalogue and events ---------------------------------------------------------


def test_the_catalogue_lists_every_event_type_once_with_its_origin() -> None:
    items = service.event_types()
    assert [item["code"] for item in items] == [member.value for member in EventType]
    assert len({item["id"] for item in items}) == len(items)
    by_code = {item["code"]: item for item in items}
    assert by_code["user.created"]["name"] == "User created"
    assert by_code["api_key.rotated"]["name"] == "API key rotated"
    assert by_code["webhook.created"]["origin"] == "kindling"
    for item in items:
        assert set(item) == {"id", "code", "name", "origin", "schema"}
        assert item["origin"] == (
            "kinde" if item["code"] in catalogue.KINDE_EVENT_TYPES else "kindling"
        )
        assert item["schema"]["properties"]["type"] == {"const": item["code"]}
    assert service.event_types()[0]["id"] == items[0]["id"]  # stable


def test_kindes_origin_is_exactly_the_types_event_types_marks_kindes() -> None:
    """The catalogue's ``origin`` agrees with the "Kinde's" marks in event_types.py."""
    marked: set[str] = set()
    pending = False
    for line in EVENT_TYPES_SOURCE.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("#: Kinde's"):
            pending = True
        elif text.startswith("#: Kindling's"):
            pending = False
        elif "=" in text and not text.startswith("#") and pending:
            marked.add(text.split("=", 1)[1].strip().strip('"'))
            pending = False
    recorded = {member.value for member in EventType}
    assert marked == catalogue.KINDE_EVENT_TYPES & recorded


def test_get_event_reads_the_outbox_row(storage: Storage, clock: FrozenClock) -> None:
    reset = current_request_id.set(f"req-{uid()}")
    try:
        event_id = permission_event(storage, clock)
    finally:
        current_request_id.reset(reset)
    event = service.get_event(storage, event_id)
    assert service.event_item(event) == {
        "type": "permission.created",
        "source": "api",
        "event_id": event_id,
        "timestamp": int(START),
        "data": event.data,
    }
    assert (
        service.event_item(service.get_event(storage, permission_event(storage, clock)))["source"]
        == "admin"
    )
    with pytest.raises(NotFound) as raised:
        service.get_event(storage, "event_" + "0" * 32)
    assert raised.value.code == "EVENT_NOT_FOUND"


# --- fan-out --------------------------------------------------------------------------------


def test_fan_out_queues_each_event_once_for_its_subscribers(
    storage: Storage, clock: FrozenClock, outbox: Outbox, cursor: str
) -> None:
    start_cursor(storage, clock, cursor)
    wants = new_webhook(storage, clock, event_types=["permission.created"])
    also = new_webhook(storage, clock, event_types=["user.created", "permission.created"])
    other = new_webhook(storage, clock, event_types=["role.created"])
    event_id = permission_event(storage, clock)
    outbox.mark()
    result = fan(storage, clock, cursor)
    assert result.events == 4  # three webhook.created and the permission.created
    queued = deliveries_of(storage, event_id)
    assert sorted(d.webhook_id for d in queued) == sorted([wants.id, also.id])
    assert other.id not in {d.webhook_id for d in queued}
    for delivery in queued:
        assert re.fullmatch(r"delivery_[0-9a-f]{32}", delivery.id)
        assert (delivery.status, delivery.attempts) == (PENDING, 0)
        assert delivery.next_attempt_at == int(START * 1000)
        assert delivery.deadline_at == int((START + POLICY.window) * 1000)
    assert fan(storage, clock, cursor) == service.FanOut(0, 0)
    assert len(deliveries_of(storage, event_id)) == 2
    # Fanning out records nothing: no delivery can cause another one.
    assert outbox.recorded() == []


def test_a_webhook_gets_only_events_recorded_after_it_was_created(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    start_cursor(storage, clock, cursor)
    before = permission_event(storage, clock)  # the deliverer has not run yet
    webhook = new_webhook(storage, clock, event_types=["permission.created", "webhook.created"])
    after = permission_event(storage, clock)
    fan(storage, clock, cursor)
    assert deliveries_of(storage, before) == []
    assert [d.webhook_id for d in deliveries_of(storage, after)] == [webhook.id]
    with storage.read() as uow:
        own = [d for d in uow[DELIVERIES_REPO].recent(10, webhook.id)]
    # Its own creation is after its start position too: one delivery, not a storm.
    assert len(own) == 2


def test_a_two_way_webhook_subscription_does_not_storm(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    start_cursor(storage, clock, cursor)
    watcher = new_webhook(
        storage, clock, event_types=["webhook.created", "webhook.updated", "webhook.deleted"]
    )
    new_webhook(storage, clock, event_types=["webhook.updated"])
    fan(storage, clock, cursor)
    for job in service.claim_due(storage, clock.now(), 30.0, 10):
        service.record_attempt(
            storage, job, SendResult(3, 200), clock.now(), POLICY, random.Random(1)
        )
    assert fan(storage, clock, cursor) == service.FanOut(0, 0)
    with storage.read() as uow:
        counts = uow[DELIVERIES_REPO].status_counts(watcher.id)
    assert counts == {"pending": 0, "delivered": 2, "failed": 0}


def test_fan_out_waits_at_a_gap_until_told_it_is_permanent(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    start_cursor(storage, clock, cursor)
    webhook = new_webhook(storage, clock, event_types=["permission.created"])
    fan(storage, clock, cursor)
    vanished = permission_event(storage, clock)
    with storage.engine.session(write=True) as session:  # leaves a hole in the seq
        session.execute("DELETE FROM outbox WHERE event_id = ?", (vanished,))
    after = permission_event(storage, clock)
    assert fan(storage, clock, cursor, gap_ok=False) == service.FanOut(0, 0)
    assert deliveries_of(storage, after) == []
    assert fan(storage, clock, cursor, gap_ok=True) == service.FanOut(1, 1)
    assert [d.webhook_id for d in deliveries_of(storage, after)] == [webhook.id]


def test_two_fan_outs_racing_queue_each_delivery_once(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    start_cursor(storage, clock, cursor)
    webhook = new_webhook(storage, clock, event_types=["permission.created"])
    events = [permission_event(storage, clock) for _ in range(5)]
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(5)
            fan(storage, clock, cursor)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors, errors
    for event_id in events:
        assert [d.webhook_id for d in deliveries_of(storage, event_id)] == [webhook.id]


# --- claims, attempts, back-off ---------------------------------------------------------


def queued_delivery(storage: Storage, clock: FrozenClock, cursor: str, **hook: Any) -> Delivery:
    start_cursor(storage, clock, cursor)
    new_webhook(storage, clock, event_types=["permission.created"], **hook)
    event_id = permission_event(storage, clock)
    fan(storage, clock, cursor)
    (delivery,) = deliveries_of(storage, event_id)
    return delivery


def test_a_2xx_marks_the_delivery_delivered_with_its_attempt(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    delivery = queued_delivery(storage, clock, cursor)
    (job,) = service.claim_due(storage, clock.now(), 30.0, 10)
    assert job.delivery.id == delivery.id and job.endpoint.startswith("https://hooks.example.com")
    assert job.event.event_id == delivery.event_id
    assert service.claim_due(storage, clock.now(), 30.0, 10) == []  # leased
    result = SendResult(latency_ms=42, status_code=204, excerpt="thanks")
    status = service.record_attempt(storage, job, result, clock.now(), POLICY, RNG)
    assert status == DELIVERED
    (view,) = service.list_deliveries(storage, 10, delivery.webhook_id)
    assert (view.delivery.status, view.delivery.attempts) == (DELIVERED, 1)
    assert view.delivery.delivered_on == "2024-01-01T00:00:00+00:00"
    assert view.delivery.lease_owner is None
    assert [(a.status_code, a.latency_ms, a.error, a.response_excerpt) for a in view.attempts] == [
        (204, 42, None, "thanks")
    ]


def test_failures_back_off_with_full_jitter_until_the_window_closes(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    delivery = queued_delivery(storage, clock, cursor)
    rng = random.Random(7)
    statuses = []
    for n in range(1, 100):
        jobs = service.claim_due(storage, clock.now(), 30.0, 10)
        if not jobs:
            (view,) = service.list_deliveries(storage, 10, delivery.webhook_id)
            wait = view.delivery.next_attempt_at / 1000 - clock.now()
            assert 0 <= wait <= min(POLICY.window, POLICY.base * 2 ** (n - 2)) + 0.001
            clock.advance(wait)
            jobs = service.claim_due(storage, clock.now(), 30.0, 10)
        (job,) = jobs
        failed = SendResult(latency_ms=5, status_code=None, error="connection refused")
        statuses.append(service.record_attempt(storage, job, failed, clock.now(), POLICY, rng))
        if statuses[-1] == FAILED:
            break
    assert statuses[-1] == FAILED and set(statuses[:-1]) == {PENDING}
    (view,) = service.list_deliveries(storage, 10, delivery.webhook_id)
    assert view.delivery.status == FAILED
    assert view.delivery.attempts == len(statuses) == len(view.attempts)
    assert clock.now() - START <= POLICY.window
    assert all(a.error == "connection refused" for a in view.attempts)
    assert service.claim_due(storage, clock.now() + 10_000, 30.0, 10) == []


def test_the_retry_delay_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(base=5.0, window=86_400.0)
    rng = random.Random(3)
    for attempt in (1, 2, 5, 12, 30):
        ceiling = min(policy.cap, 5.0 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, rng) for _ in range(400)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.9 * ceiling and min(delays) < 0.1 * ceiling
    assert RetryPolicy(base=1.0, window=10.0).delay(40, rng) <= 10.0
    assert policy.delay(10_000, rng) <= policy.cap


def test_an_expired_lease_lets_another_worker_send_it_again(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    delivery = queued_delivery(storage, clock, cursor)
    (first,) = service.claim_due(storage, clock.now(), 30.0, 10)  # then the worker dies
    clock.advance(29)
    assert service.claim_due(storage, clock.now(), 30.0, 10) == []
    clock.advance(2)
    (second,) = service.claim_due(storage, clock.now(), 30.0, 10)
    assert second.delivery.id == first.delivery.id == delivery.id
    assert second.lease_owner != first.lease_owner
    assert second.event.event_id == first.event.event_id
    late = service.record_attempt(
        storage, first, SendResult(9, 200), clock.now(), POLICY, random.Random(1)
    )
    assert late is None  # the dead worker's lease is void; its attempt is still recorded
    ok = service.record_attempt(
        storage, second, SendResult(9, 200), clock.now(), POLICY, random.Random(1)
    )
    assert ok == DELIVERED
    (view,) = service.list_deliveries(storage, 10, delivery.webhook_id)
    assert view.delivery.attempts == 2 and view.delivery.status == DELIVERED


def test_claims_keep_to_the_per_webhook_limit(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    start_cursor(storage, clock, cursor)
    slow = new_webhook(storage, clock, event_types=["permission.created"])
    for _ in range(5):
        permission_event(storage, clock)
    fan(storage, clock, cursor)
    jobs = service.claim_due(storage, clock.now(), 30.0, 10, per_webhook=2)
    assert [j.delivery.webhook_id for j in jobs] == [slow.id, slow.id]
    assert service.claim_due(storage, clock.now(), 30.0, 10, {slow.id: 2}, per_webhook=2) == []
    (one,) = service.claim_due(storage, clock.now(), 30.0, 10, {slow.id: 1}, per_webhook=2)
    assert one.delivery.webhook_id == slow.id


def test_a_delivery_of_a_deleted_webhook_records_nothing(
    storage: Storage, clock: FrozenClock, cursor: str
) -> None:
    delivery = queued_delivery(storage, clock, cursor)
    (job,) = service.claim_due(storage, clock.now(), 30.0, 10)
    service.delete_webhook(storage, delivery.webhook_id)
    assert (
        service.record_attempt(
            storage, job, SendResult(1, 200), clock.now(), POLICY, random.Random()
        )
        is None
    )


# --- re-sending -----------------------------------------------------------------------


def test_resend_requeues_the_event_for_its_subscribed_webhooks(
    storage: Storage, clock: FrozenClock, outbox: Outbox, cursor: str
) -> None:
    delivery = queued_delivery(storage, clock, cursor)
    (job,) = service.claim_due(storage, clock.now(), 30.0, 10)
    service.record_attempt(storage, job, SendResult(1, 200), clock.now(), POLICY, RNG)
    late = new_webhook(storage, clock, event_types=["permission.created"])
    unsubscribed = new_webhook(storage, clock, event_types=["user.created"])
    clock.advance(100)
    outbox.mark()
    queued = service.resend_event(storage, clock, delivery.event_id, 30.0)
    assert outbox.recorded() == []  # re-sending records no event
    by_hook = {d.webhook_id: d for d in queued}
    assert set(by_hook) == {delivery.webhook_id, late.id}
    again = by_hook[delivery.webhook_id]
    assert again.id == delivery.id  # same webhook-id header
    assert (again.status, again.attempts) == (PENDING, 1)
    assert again.next_attempt_at == int((START + 100) * 1000)
    assert again.deadline_at == int((START + 130) * 1000)
    assert unsubscribed.id not in by_hook
    assert {j.delivery.id for j in service.claim_due(storage, clock.now(), 30.0, 10)} == {
        d.id for d in queued
    }
    with pytest.raises(NotFound) as raised:
        service.resend_event(storage, clock, "event_" + "f" * 32, 30.0)
    assert raised.value.code == "EVENT_NOT_FOUND"


def test_listing_deliveries_checks_its_filters(storage: Storage, clock: FrozenClock) -> None:
    with pytest.raises(ValidationError) as raised:
        service.list_deliveries(storage, 10, status="lost")
    assert raised.value.code == "INVALID_STATUS"
    with pytest.raises(NotFound):
        service.list_deliveries(storage, 10, webhook_id="webhook_nope")


# --- the deliverer, in process, against a real receiver --------------------------------


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hook"


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["content-length"]))
        self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, data))
        self.send_response(200)
        self.end_headers()
        self.server.got.set()

    def log_message(self, *args: Any) -> None:
        pass


def install_signing_key(context: Context) -> None:
    """The environment's first signing key, as ``kindling serve``'s first run makes it."""
    keyring: Any = context.keyring
    with context.storage.transaction() as uow:
        keyring.install_first_key(uow, keyring.new_key())
    keyring.reload()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_deliverer_posts_a_jwt_signed_with_the_environment_key(
    context: Context, clock: FrozenClock, receiver: Receiver, cursor: str
) -> None:
    storage = context.storage
    install_signing_key(context)
    deliverer = Deliverer(context, cursor=cursor, workers=1)
    deliverer.run_once()  # creates the cursor
    webhook = new_webhook(storage, clock, endpoint=receiver.url, event_types=["permission.created"])
    event_id = permission_event(storage, clock)
    deliverer.start()
    try:
        assert receiver.got.wait(10), "nothing was delivered"
    finally:
        deliverer.stop()
    ((headers, token),) = receiver.requests
    assert headers["content-type"] == "application/jwt"
    (delivery,) = deliveries_of(storage, event_id)
    assert headers["webhook-id"] == delivery.id
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": context.keyring.signer().kid, "typ": "webhook+jwt"}
    key = context.keyring.public_key(header["kid"])
    claims = jwt.decode(token, key=key, algorithms=["RS256"])  # type: ignore[arg-type]
    event = service.get_event(storage, event_id)
    assert claims["event_id"] == event_id and claims["type"] == "permission.created"
    assert claims["data"] == event.data and claims["source"] == "admin"
    assert claims["timestamp"] == claims["event_timestamp"] == "2024-01-01T00:00:00.000Z"
    assert claims["iss"] == context.issuer()
    for _ in range(100):
        if deliveries_of(storage, event_id)[0].status == DELIVERED:
            break
        threading.Event().wait(0.05)
    assert deliveries_of(storage, event_id)[0].status == DELIVERED
    assert webhook.id == delivery.webhook_id
