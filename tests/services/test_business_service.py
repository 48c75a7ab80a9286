"""Business service on both engines, no HTTP: the one business record and its events.

The record is written on first use; a PATCH changes only what it sends (null clears the
nullable details, never the name or the flags), checks industry and timezone keys
against the industries and timezones services, and refuses bad input before anything
is written. A change records ``business.updated`` with the changed fields; a PATCH that
changes nothing records nothing.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.platform.errors import ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.business import service as business
from kindling.resources.business.model import Business
from kindling.resources.business.repository import BUSINESS_REPO
from kindling.resources.industries.service import INDUSTRIES
from kindling.resources.timezones.service import list_timezones
from tests.services.support import NOW, Outbox, uid


def stored(storage: Storage) -> Business | None:
    with storage.read() as uow:
        return uow[BUSINESS_REPO].get()


def forget(storage: Storage) -> None:
    """Remove the business row (the PostgreSQL schema is shared by the session)."""
    with storage.engine.session(write=True) as session:
        session.execute("DELETE FROM business")


def test_the_first_read_writes_the_default_business_once(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    forget(storage)
    first = business.get_business(storage, clock)
    assert first.code.startswith("bus_") and len(first.code) == len("bus_") + 11
    assert first == Business(code=first.code, name="Kindling", created_on=NOW)
    clock.advance(3600)
    assert business.get_business(storage, clock) == first == stored(storage)
    assert outbox.recorded() == []  # writing the defaults is not a change anyone made


def test_concurrent_first_reads_keep_one_business(storage: Storage, clock: FrozenClock) -> None:
    forget(storage)
    seen: list[Business] = []
    threads = [
        threading.Thread(target=lambda: seen.append(business.get_business(storage, clock)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and len({b.code for b in seen}) == 1
    assert stored(storage) == seen[0]


def test_update_changes_what_it_sends_and_records_the_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    before = business.get_business(storage, clock)
    name = f"Tailsforce {uid()}"
    zone = list_timezones(clock.now())[0].key
    outbox.mark()
    updated = business.update_business(
        storage,
        clock,
        {
            "business_name": f" {name} ",
            "email": "sally@example.com",
            "phone": "123-456-7890",
            "industry_key": "construction",
            "timezone_key": zone,
            "privacy_url": "https://example.com/privacy",
            "terms_url": "http://example.com/terms",
            "is_click_wrap": True,
            "is_show_kinde_branding": True,
            "kinde_perk_code": "PERK42",
        },
    )
    assert updated == replace(
        before,
        name=name,
        email="sally@example.com",
        phone="123-456-7890",
        industry_key="construction",
        timezone_key=zone,
        privacy_url="https://example.com/privacy",
        terms_url="http://example.com/terms",
        is_click_wrap=True,
        is_show_kinde_branding=True,
        kinde_perk_code="PERK42",
    )
    assert stored(storage) == updated
    [event] = outbox.take()
    assert event.type == EventType.BUSINESS_UPDATED
    assert event.data["business"] == business.business_data(updated)
    assert set(event.data["updated_fields"]) <= {
        "name",
        "email",
        "phone",
        "industry_key",
        "timezone_key",
        "privacy_url",
        "terms_url",
        "is_click_wrap",
        "is_show_kinde_branding",
        "kinde_perk_code",
    }
    assert "name" in event.data["updated_fields"]

    # Null clears the nullable details; a null name or flag leaves them as they are.
    cleared = business.update_business(
        storage,
        clock,
        {
            "business_name": None,
            "email": None,
            "phone": "",
            "industry_key": None,
            "timezone_key": None,
            "privacy_url": None,
            "terms_url": "  ",
            "kinde_perk_code": None,
            "is_click_wrap": None,
        },
    )
    assert cleared == replace(
        updated,
        email=None,
        phone=None,
        industry_key=None,
        timezone_key=None,
        privacy_url=None,
        terms_url=None,
        kinde_perk_code=None,
    )
    [event] = outbox.take()
    assert event.data["updated_fields"] == [
        "email",
        "phone",
        "industry_key",
        "timezone_key",
        "privacy_url",
        "terms_url",
        "kinde_perk_code",
    ]

    # The same values again change nothing and record nothing.
    assert business.update_business(storage, clock, {"business_name": name}) == cleared
    assert outbox.take() == []


def test_every_listed_industry_is_accepted(storage: Storage, clock: FrozenClock) -> None:
    for industry in INDUSTRIES[:3] + INDUSTRIES[-2:]:
        updated = business.update_business(storage, clock, {"industry_key": industry.key})
        assert updated.industry_key == industry.key
        assert business.industry_name(updated.industry_key) == industry.name


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"business_name": None}, "NO_FIELDS_TO_UPDATE"),
        ({"business_name": "  "}, "BUSINESS_NAME_REQUIRED"),
        ({"business_name": "B" * 129}, "BUSINESS_NAME_TOO_LONG"),
        ({"business_name": 7}, "INVALID_BUSINESS_NAME"),
        ({"email": "not-an-email"}, "INVALID_EMAIL"),
        ({"industry_key": "space_travel"}, "INVALID_INDUSTRY_KEY"),
        ({"industry_key": "Construction"}, "INVALID_INDUSTRY_KEY"),
        ({"industry_key": 3}, "INVALID_INDUSTRY_KEY"),
        ({"is_click_wrap": "yes"}, "INVALID_IS_CLICK_WRAP"),
        ({"is_show_kinde_branding": 1}, "INVALID_IS_SHOW_KINDE_BRANDING"),
        ({"kinde_perk_code": "P" * 65}, "KINDE_PERK_CODE_TOO_LONG"),
        ({"phone": "call me"}, "INVALID_PHONE"),
        ({"privacy_url": "example.com/privacy"}, "INVALID_PRIVACY_URL"),
        ({"privacy_url": "javascript:alert(1)"}, "INVALID_PRIVACY_URL"),
        ({"terms_url": "ftp://example.com/terms"}, "INVALID_TERMS_URL"),
        ({"timezone_key": "los_angeles_pacific_standard_time"}, "INVALID_TIMEZONE_KEY"),
        ({"timezone_key": "Europe/London"}, "INVALID_TIMEZONE_KEY"),
        # A valid field does not save an invalid one: nothing is written.
        ({"business_name": "Fine", "timezone_key": "mars_olympus"}, "INVALID_TIMEZONE_KEY"),
    ],
)
def test_update_refuses_bad_input_and_writes_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox, body: dict[str, Any], code: str
) -> None:
    before = business.get_business(storage, clock)
    outbox.mark()
    with pytest.raises(ValidationError) as raised:
        business.update_business(storage, clock, body)
    assert raised.value.code == code, raised.value.message
    assert stored(storage) == before
    assert outbox.recorded() == []


def test_the_first_update_writes_the_business_with_the_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    forget(storage)
    outbox.mark()
    updated = business.update_business(storage, clock, {"email": "first@example.com"})
    assert updated == replace(updated, name="Kindling", created_on=NOW)
    assert stored(storage) == updated
    [event] = outbox.recorded()
    assert event.data["updated_fields"] == ["email"]
