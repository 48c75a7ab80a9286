"""Storage contract: ``SubscriberRepository`` on both engines."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.storage import Storage
from kindling.resources.subscribers.model import Subscriber
from kindling.resources.subscribers.repository import SUBSCRIBERS_REPO
from kindling.resources.subscribers.service import subscriber_id
from tests.storage.conftest import NOW, uid


def make_subscriber(
    first_name: str = "Ann", last_name: str | None = "Lee", email: str | None = None
) -> Subscriber:
    return Subscriber(
        id=subscriber_id(),
        email=email or f"s-{uid()}@example.com",
        first_name=first_name,
        last_name=last_name,
        created_on=NOW,
    )


def add(storage: Storage, **fields: str | None) -> Subscriber:
    subscriber = make_subscriber(**fields)  # type: ignore[arg-type]
    with storage.transaction() as uow:
        uow[SUBSCRIBERS_REPO].add(subscriber)
    return subscriber


def test_missing_subscribers_are_none(storage: Storage) -> None:
    with storage.read() as uow:
        assert uow[SUBSCRIBERS_REPO].get(subscriber_id()) is None
        assert uow[SUBSCRIBERS_REPO].get_by_email(f"nobody-{uid()}@example.com") is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    named = add(storage)
    single = add(storage, first_name="Cher", last_name=None)
    with storage.read() as uow:
        assert uow[SUBSCRIBERS_REPO].get(named.id) == named
        assert uow[SUBSCRIBERS_REPO].get(single.id) == single
        assert uow[SUBSCRIBERS_REPO].get_by_email(named.email) == named


def test_emails_are_compared_case_insensitively(storage: Storage) -> None:
    tag = uid()
    subscriber = add(storage, email=f"Émile-{tag}@Example.com")
    with storage.read() as uow:
        assert uow[SUBSCRIBERS_REPO].get_by_email(f"émile-{tag}@example.COM") == subscriber
    clash = make_subscriber(email=f"ÉMILE-{tag}@EXAMPLE.COM")
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[SUBSCRIBERS_REPO].add(clash)
    with storage.read() as uow:
        assert uow[SUBSCRIBERS_REPO].get(clash.id) is None


def test_add_refuses_a_taken_id(storage: Storage) -> None:
    subscriber = add(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[SUBSCRIBERS_REPO].add(replace(make_subscriber(), id=subscriber.id))
    with storage.read() as uow:
        assert uow[SUBSCRIBERS_REPO].get(subscriber.id) == subscriber


def test_list_page_is_in_creation_order(storage: Storage) -> None:
    with storage.read() as uow:
        before = uow[SUBSCRIBERS_REPO].list_page(None, 1_000_000)
    last = before[-1][0] if before else None
    made = [add(storage) for _ in range(3)]
    with storage.read() as uow:
        first = uow[SUBSCRIBERS_REPO].list_page(last, 2)
        rest = uow[SUBSCRIBERS_REPO].list_page(first[-1][0], 10)
    assert [s for _, s in first] + [s for _, s in rest] == made


@pytest.mark.parametrize("descending", [False, True])
def test_list_sorted_by_full_name_and_email_pages_without_gaps(
    storage: Storage, descending: bool
) -> None:
    tag = uid()
    made = [
        add(storage, first_name=f"zz{tag}", last_name=last, email=f"{tag}-{mail}@example.com")
        for last, mail in (("b", "c"), ("a", "a"), (None, "b"), ("a", "d"))
    ]
    ours = {s.id for s in made}
    for column, key in (("name", lambda s: s.full_name), ("email", lambda s: s.email)):
        seen: list[tuple[tuple[str, int], Subscriber]] = []
        after = None
        with storage.read() as uow:
            while True:
                rows = uow[SUBSCRIBERS_REPO].list_sorted(column, after, 2, descending)
                seen.extend(rows)
                if len(rows) < 2:
                    break
                after = rows[-1][0]
        positions = [position for position, _ in seen]
        assert positions == sorted(positions, reverse=descending)
        assert all(a != b for a, b in pairwise(positions))
        mine = [s for _, s in seen if s.id in ours]
        expected = sorted(made, key=lambda s: (key(s), made.index(s)), reverse=descending)
        assert [s.id for s in mine] == [s.id for s in expected]
        assert {position[0] for position, s in seen if s.id in ours} == {key(s) for s in made}


def test_list_sorted_refuses_other_columns(storage: Storage) -> None:
    with storage.read() as uow, pytest.raises(ValueError):
        uow[SUBSCRIBERS_REPO].list_sorted("first_name", None, 10, False)
