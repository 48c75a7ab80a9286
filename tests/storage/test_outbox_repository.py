"""The outbox (``OUTBOX_REPO``, SqlOutbox): append, read after a sequence, get by id.

Every test reads from the last sequence it saw before appending, so other events in
the shared PostgreSQL schema do not get in the way.
"""

from __future__ import annotations

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.events import DomainEvent
from kindling.platform.ids import event_id
from kindling.platform.outbox import OUTBOX_REPO
from kindling.platform.storage import Storage
from tests.storage.conftest import LATER, NOW, Boom, uid


def make_event(type_: str = "user.created", occurred_on: str = NOW) -> DomainEvent:
    return DomainEvent(
        event_id=event_id(),
        type=type_,
        data={"user": {"id": f"kp_{uid()}"}, "n": 1, "flags": [True, None], "s": "é"},
        occurred_on=occurred_on,
    )


def last_seq(storage: Storage) -> int | None:
    with storage.read() as uow:
        rows = uow[OUTBOX_REPO].after(None, 1_000_000)
    return rows[-1][0] if rows else None


def append(storage: Storage, *events: DomainEvent, request_id: str | None = None) -> None:
    with storage.transaction() as uow:
        uow[OUTBOX_REPO].append(list(events), request_id)


def test_append_then_get_round_trips(storage: Storage) -> None:
    event = make_event("organization.updated")
    append(storage, event, request_id=f"req-{uid()}")
    with storage.read() as uow:
        assert uow[OUTBOX_REPO].get(event.event_id) == event
        assert uow[OUTBOX_REPO].get(event_id()) is None


def test_after_reads_in_append_order(storage: Storage) -> None:
    start = last_seq(storage)
    first = [make_event("user.created"), make_event("role.deleted", LATER)]
    second = [make_event("user.updated", NOW)]
    append(storage, *first)
    append(storage, *second, request_id="req-2")
    with storage.read() as uow:
        rows = uow[OUTBOX_REPO].after(start, 10)
    assert [e for _, e in rows] == first + second
    seqs = [s for s, _ in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert start is None or seqs[0] > start


def test_after_with_limit_sees_every_event_once(storage: Storage) -> None:
    start = last_seq(storage)
    events = [make_event() for _ in range(5)]
    append(storage, *events)
    seen: list[tuple[int, DomainEvent]] = []
    after = start
    while True:
        with storage.read() as uow:
            page = uow[OUTBOX_REPO].after(after, 2)
        assert len(page) <= 2
        seen.extend(page)
        if len(page) < 2:
            break
        after = page[-1][0]
    assert [e for _, e in seen] == events
    with storage.read() as uow:
        assert uow[OUTBOX_REPO].after(seen[-1][0], 10) == []
        assert uow[OUTBOX_REPO].after(start, 0) == []


def test_after_none_starts_at_the_oldest(storage: Storage) -> None:
    append(storage, make_event())
    with storage.read() as uow:
        everything = uow[OUTBOX_REPO].after(None, 1_000_000)
        first = uow[OUTBOX_REPO].after(None, 1)
    assert first == everything[:1]
    seqs = [s for s, _ in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_append_nothing_is_a_no_op(storage: Storage) -> None:
    start = last_seq(storage)
    append(storage)
    assert last_seq(storage) == start


def test_duplicate_event_id_is_refused_and_rolls_back(storage: Storage) -> None:
    start = last_seq(storage)
    event = make_event()
    append(storage, event)
    fresh = make_event()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[OUTBOX_REPO].append([fresh, event], None)
    with storage.read() as uow:
        assert [e for _, e in uow[OUTBOX_REPO].after(start, 10)] == [event]
        assert uow[OUTBOX_REPO].get(fresh.event_id) is None


def test_rolled_back_append_leaves_nothing(storage: Storage) -> None:
    start = last_seq(storage)
    event = make_event()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[OUTBOX_REPO].append([event], None)
        assert uow[OUTBOX_REPO].get(event.event_id) == event
        raise Boom
    with storage.read() as uow:
        assert uow[OUTBOX_REPO].get(event.event_id) is None
        assert uow[OUTBOX_REPO].after(start, 10) == []


def test_recorded_events_reach_the_outbox_only_on_commit(storage: Storage) -> None:
    start = last_seq(storage)
    with pytest.raises(Boom), storage.transaction() as uow:
        lost = uow.record("user.created", {"user": {"id": "kp_lost"}})
        raise Boom
    with storage.transaction() as uow:
        kept = uow.record("user.deleted", {"user": {"id": "kp_kept"}})
    with storage.read() as uow:
        assert uow[OUTBOX_REPO].get(lost.event_id) is None
        assert uow[OUTBOX_REPO].get(kept.event_id) == kept
        assert [e for _, e in uow[OUTBOX_REPO].after(start, 10)] == [kept]
