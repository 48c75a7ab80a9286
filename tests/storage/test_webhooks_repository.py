"""Storage contract: ``WebhookRepository`` and ``DeliveryRepository`` on both engines.

The PostgreSQL schema is shared by the session, so every test makes its own webhooks,
events and cursor names, and reads ``due`` results only for its own deliveries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage, current_request_id
from kindling.resources.webhooks.model import (
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    Delivery,
    StoredEvent,
    Webhook,
)
from kindling.resources.webhooks.repository import DELIVERIES_REPO, WEBHOOKS_REPO
from tests.storage.conftest import NOW, Boom, uid
from tests.storage.factories_identity import count

T0 = 1_700_000_000_000  # a Unix time in ms


def make_webhook(**overrides: Any) -> Webhook:
    values: dict[str, Any] = {
        "id": f"webhook_{hex_id()}",
        "name": f"Hook {uid()}",
        "endpoint": f"https://hooks.example.com/{uid()}?token=abc",
        "event_types": ("user.created", "user.deleted"),
        "created_on": NOW,
        "start_seq": 0,
        "description": None,
    }
    values.update(overrides)
    return Webhook(**values)


def add_webhook(storage: Storage, **overrides: Any) -> Webhook:
    webhook = make_webhook(**overrides)
    with storage.transaction() as uow:
        uow[WEBHOOKS_REPO].add(webhook)
    return webhook


def add_event(
    storage: Storage, type_: EventType = EventType.USER_CREATED, request_id: str | None = None
) -> StoredEvent:
    reset = current_request_id.set(request_id)
    try:
        with storage.transaction() as uow:
            recorded = uow.record(type_, {"user": {"id": f"kp_{uid()}"}, "s": "é"})
    finally:
        current_request_id.reset(reset)
    with storage.read() as uow:
        found = uow[DELIVERIES_REPO].event(recorded.event_id)
    assert found is not None
    return found


def make_delivery(webhook: Webhook, event: StoredEvent, **overrides: Any) -> Delivery:
    values: dict[str, Any] = {
        "id": f"delivery_{hex_id()}",
        "webhook_id": webhook.id,
        "event_id": event.event_id,
        "event_seq": event.seq,
        "status": PENDING,
        "attempts": 0,
        "created_on": NOW,
        "next_attempt_at": T0,
        "deadline_at": T0 + 86_400_000,
    }
    values.update(overrides)
    return Delivery(**values)


def add_delivery(storage: Storage, webhook: Webhook, event: StoredEvent, **kw: Any) -> Delivery:
    delivery = make_delivery(webhook, event, **kw)
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].add(delivery) is True
    return delivery


def get_delivery(storage: Storage, delivery_id: str) -> Delivery | None:
    with storage.read() as uow:
        return uow[DELIVERIES_REPO].get(delivery_id)


def attempt(delivery: Delivery, **overrides: Any) -> Attempt:
    values: dict[str, Any] = {
        "delivery_id": delivery.id,
        "attempted_on": NOW,
        "latency_ms": 12,
        "status_code": 503,
        "error": "HTTP 503",
        "response_excerpt": "busy",
        "response_truncated": False,
    }
    values.update(overrides)
    return Attempt(**values)


@pytest.fixture
def hook_and_event(storage: Storage) -> Iterator[tuple[Webhook, StoredEvent]]:
    webhook = add_webhook(storage)
    yield webhook, add_event(storage)
    with storage.transaction() as uow:
        uow[WEBHOOKS_REPO].delete(webhook.id)


# --- webhooks -----------------------------------------------------------------------


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    described = make_webhook(description="Sync users", start_seq=41, event_types=("role.created",))
    plain = make_webhook()
    with storage.transaction() as uow:
        uow[WEBHOOKS_REPO].add(described)
        uow[WEBHOOKS_REPO].add(plain)
    with storage.read() as uow:
        assert uow[WEBHOOKS_REPO].get(described.id) == described
        assert uow[WEBHOOKS_REPO].get(plain.id) == plain
        assert uow[WEBHOOKS_REPO].get(f"webhook_{hex_id()}") is None


def test_add_with_a_taken_id_raises_and_rolls_back(storage: Storage) -> None:
    taken = add_webhook(storage)
    other = make_webhook()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[WEBHOOKS_REPO].add(other)
        uow[WEBHOOKS_REPO].add(make_webhook(id=taken.id))
    with storage.read() as uow:
        assert uow[WEBHOOKS_REPO].get(other.id) is None
        assert uow[WEBHOOKS_REPO].get(taken.id) == taken


def test_update_changes_name_description_and_event_types_only(storage: Storage) -> None:
    webhook = add_webhook(storage, start_seq=7)
    changed = replace(
        webhook,
        name="Renamed",
        description="now described",
        event_types=("organization.created",),
        endpoint="https://elsewhere.example.com/",
        start_seq=99,
        created_on="2030-01-01T00:00:00+00:00",
    )
    with storage.transaction() as uow:
        uow[WEBHOOKS_REPO].update(changed)
        uow[WEBHOOKS_REPO].update(make_webhook())  # absent: nothing happens
    with storage.read() as uow:
        assert uow[WEBHOOKS_REPO].get(webhook.id) == replace(
            webhook,
            name="Renamed",
            description="now described",
            event_types=("organization.created",),
        )


def test_list_all_is_oldest_first(storage: Storage) -> None:
    first, second = add_webhook(storage), add_webhook(storage)
    with storage.read() as uow:
        ids = [w.id for w in uow[WEBHOOKS_REPO].list_all()]
    assert ids.index(first.id) < ids.index(second.id)


def test_delete_takes_deliveries_and_attempts_with_it(storage: Storage) -> None:
    webhook = add_webhook(storage)
    delivery = add_delivery(storage, webhook, add_event(storage))
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].add_attempt(attempt(delivery)) is True
    with storage.transaction() as uow:
        assert uow[WEBHOOKS_REPO].delete(webhook.id) is True
        assert uow[WEBHOOKS_REPO].delete(webhook.id) is False
    assert get_delivery(storage, delivery.id) is None
    n = count(
        storage, "SELECT COUNT(*) AS n FROM webhook_attempts WHERE delivery_id = ?", (delivery.id,)
    )
    assert n == 0


# --- the outbox as webhooks read it --------------------------------------------------


def test_event_reads_seq_type_data_time_and_request(storage: Storage) -> None:
    request_id = f"req-{uid()}"
    from_request = add_event(storage, EventType.ROLE_CREATED, request_id)
    from_cli = add_event(storage)
    assert from_request.type == "role.created"
    assert from_request.data["s"] == "é"
    assert from_request.request_id == request_id and from_request.source == "api"
    assert from_cli.request_id is None and from_cli.source == "admin"
    assert from_cli.seq > from_request.seq
    with storage.read() as uow:
        repo = uow[DELIVERIES_REPO]
        assert repo.event(f"event_{hex_id()}") is None
        assert repo.outbox_position() >= from_cli.seq
        assert [e.event_id for e in repo.events_after(from_request.seq - 1, 2)] == [
            from_request.event_id,
            from_cli.event_id,
        ]
        assert repo.events_after(from_request.seq - 1, 1) == [from_request]
        assert repo.events_after(repo.outbox_position(), 10) == []


def test_outbox_position_is_the_highest_seq(
    storage: Storage,
) -> None:
    event = add_event(storage)
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].outbox_position() >= event.seq > 0


# --- the cursor ----------------------------------------------------------------------


def test_a_new_cursor_starts_at_the_end_of_the_outbox(storage: Storage) -> None:
    name = f"cursor-{uid()}"
    add_event(storage)
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].peek_cursor(name) is None
        end = uow[DELIVERIES_REPO].outbox_position()
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].cursor(name) == end
    later = add_event(storage)
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].cursor(name) == end  # it stays where it was made
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].peek_cursor(name) == end < later.seq


def test_advance_cursor_only_from_the_expected_position(storage: Storage) -> None:
    name = f"cursor-{uid()}"
    with storage.transaction() as uow:
        start = uow[DELIVERIES_REPO].cursor(name)
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].advance_cursor(name, start, start + 5) is True
        assert uow[DELIVERIES_REPO].advance_cursor(name, start, start + 9) is False
        assert uow[DELIVERIES_REPO].advance_cursor(f"missing-{uid()}", 0, 1) is False
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].peek_cursor(name) == start + 5


def test_two_threads_creating_one_cursor_both_succeed(storage: Storage) -> None:
    name = f"cursor-{uid()}"
    seen: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def create() -> None:
        try:
            barrier.wait(5)
            with storage.transaction() as uow:
                seen.append(uow[DELIVERIES_REPO].cursor(name))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors and len(seen) == 2 and seen[0] == seen[1]
    assert count(storage, "SELECT COUNT(*) AS n FROM webhook_cursors WHERE name = ?", (name,)) == 1


# --- deliveries ------------------------------------------------------------------------


def test_add_get_and_for_event(storage: Storage, hook_and_event: Any) -> None:
    webhook, event = hook_and_event
    other = add_webhook(storage)
    first = add_delivery(storage, webhook, event)
    second = add_delivery(storage, other, event, next_attempt_at=T0 + 5)
    assert get_delivery(storage, first.id) == first
    assert get_delivery(storage, f"delivery_{hex_id()}") is None
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].for_event(event.event_id) == [first, second]
        assert uow[DELIVERIES_REPO].for_event(f"event_{hex_id()}") == []


def test_a_second_delivery_of_one_event_to_one_webhook_is_not_added(
    storage: Storage, hook_and_event: Any
) -> None:
    webhook, event = hook_and_event
    first = add_delivery(storage, webhook, event)
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].add(make_delivery(webhook, event, status=FAILED)) is False
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].for_event(event.event_id) == [first]


def test_add_for_a_missing_webhook_or_a_taken_id_raises(
    storage: Storage, hook_and_event: Any
) -> None:
    webhook, event = hook_and_event
    ghost = make_webhook()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[DELIVERIES_REPO].add(make_delivery(ghost, event))
    taken = add_delivery(storage, webhook, event)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[DELIVERIES_REPO].add(make_delivery(add_webhook(storage), event, id=taken.id))


def test_due_lists_pending_unleased_deliveries_whose_time_has_come(
    storage: Storage, hook_and_event: Any
) -> None:
    webhook, event = hook_and_event
    late = add_delivery(storage, webhook, event, next_attempt_at=T0 - 10)
    early = add_delivery(storage, webhook, add_event(storage), next_attempt_at=T0 - 20)
    later = add_delivery(storage, webhook, add_event(storage), next_attempt_at=T0 + 1)
    done = add_delivery(storage, webhook, add_event(storage), status=DELIVERED)
    leased = add_delivery(storage, webhook, add_event(storage))
    expired = add_delivery(storage, webhook, add_event(storage))
    with storage.transaction() as uow:
        assert uow[DELIVERIES_REPO].claim(leased.id, "a", T0, T0 + 100)
        assert uow[DELIVERIES_REPO].claim(expired.id, "b", T0, T0)
    with storage.read() as uow:
        due = [d.id for d in uow[DELIVERIES_REPO].due(T0 + 1, 10_000)]
    mine = [i for i in due if i in {late.id, early.id, later.id, done.id, leased.id, expired.id}]
    assert mine == [early.id, late.id, expired.id, later.id]


def test_due_skips_excluded_webhooks_and_keeps_to_the_limit(
    storage: Storage, hook_and_event: Any
) -> None:
    webhook, event = hook_and_event
    other = add_webhook(storage)
    a = add_delivery(storage, webhook, event, next_attempt_at=1)
    b = add_delivery(storage, other, event, next_attempt_at=1)
    with storage.read() as uow:
        repo = uow[DELIVERIES_REPO]
        without = {d.id for d in repo.due(T0, 10_000, [webhook.id, webhook.id])}
        assert b.id in without and a.id not in without
        assert len(repo.due(T0, 1)) == 1


def test_claim_takes_the_lease_once(storage: Storage, hook_and_event: Any) -> None:
    webhook, event = hook_and_event
    delivery = add_delivery(storage, webhook, event)
    not_yet = add_delivery(storage, webhook, add_event(storage), next_attempt_at=T0 + 50)
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        assert repo.claim(delivery.id, "owner-1", T0, T0 + 1000) is True
        assert repo.claim(delivery.id, "owner-2", T0 + 999, T0 + 2000) is False
        assert repo.claim(not_yet.id, "owner-3", T0, T0 + 1000) is False
        assert repo.claim(f"delivery_{hex_id()}", "owner-4", T0, T0 + 1000) is False
    held = get_delivery(storage, delivery.id)
    assert held is not None and (held.lease_owner, held.lease_until) == ("owner-1", T0 + 1000)
    with storage.transaction() as uow:  # the lease expired: someone else may take it
        assert uow[DELIVERIES_REPO].claim(delivery.id, "owner-5", T0 + 1001, T0 + 3000) is True


def test_of_many_racing_claimers_exactly_one_wins(storage: Storage, hook_and_event: Any) -> None:
    webhook, event = hook_and_event
    delivery = add_delivery(storage, webhook, event)
    wins: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def race(owner: str) -> None:
        try:
            barrier.wait(5)
            with storage.transaction() as uow:
                if uow[DELIVERIES_REPO].claim(delivery.id, owner, T0, T0 + 60_000):
                    wins.append(owner)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"o{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors, errors
    assert len(wins) == 1
    held = get_delivery(storage, delivery.id)
    assert held is not None and held.lease_owner == wins[0]


def test_finish_under_the_lease_records_the_outcome_and_releases_it(
    storage: Storage, hook_and_event: Any
) -> None:
    webhook, event = hook_and_event
    delivery = add_delivery(storage, webhook, event)
    failed = attempt(delivery, attempted_on="2024-01-01T00:00:01+00:00")
    ok = attempt(delivery, attempted_on="2024-01-01T00:00:09+00:00", status_code=204, error=None)
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        assert repo.claim(delivery.id, "me", T0, T0 + 1000)
        assert repo.finish(delivery.id, "someone-else", DELIVERED, T0, ok) is False
        assert repo.finish(delivery.id, "me", PENDING, T0 + 500, failed) is True
        assert repo.finish(delivery.id, "me", DELIVERED, T0, ok) is False  # lease released
    after = get_delivery(storage, delivery.id)
    assert after == replace(
        delivery,
        next_attempt_at=T0 + 500,
        last_attempt_on=failed.attempted_on,
        last_status_code=503,
        last_error="HTTP 503",
    )
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        assert repo.claim(delivery.id, "me-again", T0 + 500, T0 + 1500)
        assert repo.finish(delivery.id, "me-again", DELIVERED, T0 + 600, ok)
    done = get_delivery(storage, delivery.id)
    assert done is not None
    assert (done.status, done.delivered_on, done.last_error, done.last_status_code) == (
        DELIVERED,
        ok.attempted_on,
        None,
        204,
    )
    assert done.lease_owner is None and done.lease_until is None


def test_add_attempt_appends_and_counts(storage: Storage, hook_and_event: Any) -> None:
    webhook, event = hook_and_event
    delivery = add_delivery(storage, webhook, event)
    first = attempt(delivery, response_truncated=True)
    second = attempt(delivery, status_code=None, error="connection refused", response_excerpt=None)
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        assert repo.add_attempt(first) and repo.add_attempt(second)
        gone = make_delivery(webhook, event, id=f"delivery_{hex_id()}")
        assert repo.add_attempt(attempt(gone)) is False
    with storage.read() as uow:
        assert uow[DELIVERIES_REPO].attempts(delivery.id) == [first, second]
        assert uow[DELIVERIES_REPO].attempts(f"delivery_{hex_id()}") == []
    counted = get_delivery(storage, delivery.id)
    assert counted is not None and counted.attempts == 2


def test_requeue_makes_it_due_again_and_voids_the_old_lease(
    storage: Storage, hook_and_event: Any
) -> None:
    webhook, event = hook_and_event
    delivery = add_delivery(storage, webhook, event, status=FAILED, attempts=3)
    pending = add_delivery(storage, webhook, add_event(storage))
    with storage.transaction() as uow:
        repo = uow[DELIVERIES_REPO]
        assert repo.claim(pending.id, "old", T0, T0 + 10_000)
        assert repo.requeue(delivery.id, T0 + 7, T0 + 99) is True
        assert repo.requeue(pending.id, T0 + 7, T0 + 99) is True
        assert repo.requeue(f"delivery_{hex_id()}", T0, T0) is False
        assert repo.finish(pending.id, "old", DELIVERED, T0, attempt(pending, error=None)) is False
    again = get_delivery(storage, delivery.id)
    assert again == replace(delivery, status=PENDING, next_attempt_at=T0 + 7, deadline_at=T0 + 99)
    requeued = get_delivery(storage, pending.id)
    assert requeued is not None and requeued.lease_owner is None and requeued.status == PENDING


def test_recent_and_status_counts(storage: Storage, hook_and_event: Any) -> None:
    webhook, event = hook_and_event
    a = add_delivery(storage, webhook, event)
    b = add_delivery(storage, webhook, add_event(storage), status=DELIVERED)
    c = add_delivery(storage, webhook, add_event(storage), status=FAILED)
    other = add_delivery(storage, add_webhook(storage), event)
    with storage.read() as uow:
        repo = uow[DELIVERIES_REPO]
        assert [d.id for d in repo.recent(10, webhook.id)] == [c.id, b.id, a.id]
        assert [d.id for d in repo.recent(2, webhook.id)] == [c.id, b.id]
        assert [d.id for d in repo.recent(10, webhook.id, DELIVERED)] == [b.id]
        everything = [d.id for d in repo.recent(10_000)]
        assert everything.index(other.id) < everything.index(a.id)
        assert repo.status_counts(webhook.id) == {"pending": 1, "delivered": 1, "failed": 1}
        assert repo.status_counts(f"webhook_{hex_id()}") == {
            "pending": 0,
            "delivered": 0,
            "failed": 0,
        }


def test_a_failed_transaction_writes_no_delivery(storage: Storage, hook_and_event: Any) -> None:
    webhook, event = hook_and_event
    delivery = make_delivery(webhook, event)
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[DELIVERIES_REPO].add(delivery)
        raise Boom
    assert get_delivery(storage, delivery.id) is None
