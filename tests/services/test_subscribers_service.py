"""Subscribers service on both engines, no HTTP: create, get, list, and its events.

One subscriber per email address (case-insensitively, even under concurrent sign-ups),
Kinde's ``subscriber.created`` for every committed creation and none for a refused one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kindling.clock import FrozenClock
from kindling.platform.errors import AlreadyExists, KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.subscribers import service as subscribers
from kindling.resources.subscribers.model import Subscriber
from tests.services.support import NOW, Outbox, Recorded, uid


def email() -> str:
    return f"sub-{uid()}@example.com"


def refused(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> None:
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code, raised.value.message
    assert outbox.recorded() == []


def test_create_subscriber_stores_it_and_records_kindes_event(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    address = email()
    subscriber = subscribers.create_subscriber(storage, clock, " Ann ", " Lee ", f" {address} ")
    assert subscriber.id.startswith("sub_")
    assert (subscriber.first_name, subscriber.last_name, subscriber.email) == (
        "Ann",
        "Lee",
        address,
    )
    assert (subscriber.full_name, subscriber.created_on) == ("Ann Lee", NOW)
    assert subscribers.get_subscriber(storage, subscriber.id) == subscriber
    assert outbox.take() == [
        Recorded(
            EventType.SUBSCRIBER_CREATED,
            {
                "subscriber": {
                    "id": subscriber.id,
                    "email": address,
                    "first_name": "Ann",
                    "last_name": "Lee",
                }
            },
        )
    ]


def test_a_blank_last_name_is_none(storage: Storage, clock: FrozenClock) -> None:
    subscriber = subscribers.create_subscriber(storage, clock, "Cher", "  ", email())
    assert (subscriber.last_name, subscriber.full_name) == (None, "Cher")


def test_an_address_subscribes_once_whatever_its_case(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    address = email()
    first = subscribers.create_subscriber(storage, clock, "Ann", "Lee", address)
    refused(
        outbox,
        AlreadyExists,
        "SUBSCRIBER_ALREADY_EXISTS",
        lambda: subscribers.create_subscriber(storage, clock, "Other", "", address.upper()),
    )
    assert subscribers.get_subscriber(storage, first.id) == first


def test_concurrent_sign_ups_of_one_address_make_one_subscriber(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    address = email()
    outbox.mark()
    made: list[Subscriber] = []
    taken: list[AlreadyExists] = []

    def sign_up() -> None:
        try:
            made.append(subscribers.create_subscriber(storage, clock, "Ann", "Lee", address))
        except AlreadyExists as exc:
            taken.append(exc)

    threads = [threading.Thread(target=sign_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(taken) == 3
    assert [e.type for e in outbox.recorded()] == [EventType.SUBSCRIBER_CREATED]


@pytest.mark.parametrize(
    ("first", "last", "mail", "code"),
    [
        ("", "Lee", "EMAIL", "FIRST_NAME_REQUIRED"),
        ("   ", "Lee", "EMAIL", "FIRST_NAME_REQUIRED"),
        ("A" * 65, "Lee", "EMAIL", "FIRST_NAME_TOO_LONG"),
        ("Ann", "L" * 65, "EMAIL", "LAST_NAME_TOO_LONG"),
        ("Ann\x07", "Lee", "EMAIL", "INVALID_FIRST_NAME"),
        ("Ann", "Lee", "", "EMAIL_REQUIRED"),
        ("Ann", "Lee", "not-an-email", "INVALID_EMAIL"),
        ("Ann", "Lee", "a" * 250 + "@example.com", "EMAIL_TOO_LONG"),
    ],
)
def test_create_subscriber_refuses_bad_input_and_writes_nothing(
    storage: Storage,
    clock: FrozenClock,
    outbox: Outbox,
    first: str,
    last: str,
    mail: str,
    code: str,
) -> None:
    address = email() if mail == "EMAIL" else mail
    refused(
        outbox,
        ValidationError,
        code,
        lambda: subscribers.create_subscriber(storage, clock, first, last, address),
    )
    if mail == "EMAIL":
        # The address is still free: nothing was written.
        assert subscribers.create_subscriber(storage, clock, "Ann", "", address).email == address


def test_get_subscriber_of_an_unknown_id(storage: Storage) -> None:
    with pytest.raises(NotFound) as raised:
        subscribers.get_subscriber(storage, "sub_missing")
    assert raised.value.code == "SUBSCRIBER_NOT_FOUND"


def test_listings_page_in_creation_and_sort_order(storage: Storage, clock: FrozenClock) -> None:
    tag = uid()
    made = [
        subscribers.create_subscriber(storage, clock, f"{tag}{first}", "Z", f"{tag}{mail}@x.io")
        for first, mail in (("b", "c"), ("c", "a"), ("a", "b"))
    ]
    ours = {s.id for s in made}

    def walk_sorted(column: str, descending: bool) -> list[str]:
        seen, after = [], None
        while True:
            page, after = subscribers.list_subscribers_sorted(storage, column, after, 2, descending)
            seen.extend(s.id for s in page if s.id in ours)
            if after is None:
                return seen

    by_name = sorted(made, key=lambda s: s.full_name)
    by_email = sorted(made, key=lambda s: s.email)
    assert walk_sorted("name", False) == [s.id for s in by_name]
    assert walk_sorted("name", True) == [s.id for s in reversed(by_name)]
    assert walk_sorted("email", False) == [s.id for s in by_email]
    assert walk_sorted("email", True) == [s.id for s in reversed(by_email)]
    seen, position = [], None
    while True:
        page, position = subscribers.list_subscribers(storage, position, 2)
        seen.extend(s.id for s in page if s.id in ours)
        if position is None:
            break
    assert seen == [s.id for s in made]
