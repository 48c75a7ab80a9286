"""Storage contract: ``BusinessRepository`` (the environment's one business row).

Each SQLite test has a fresh database; the PostgreSQL schema is shared by the session,
so there the row may already exist and tests compare with what they read first.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kindling.platform.storage import Storage
from kindling.resources.business.model import Business
from kindling.resources.business.repository import BUSINESS_REPO
from kindling.resources.business.service import business_code
from tests.storage.conftest import LATER, NOW, Boom, uid


def ensure(storage: Storage) -> Business:
    with storage.transaction() as uow:
        uow[BUSINESS_REPO].add_if_absent(Business(business_code(), "Kindling", NOW))
        found = uow[BUSINESS_REPO].get()
    assert found is not None
    return found


def test_add_if_absent_inserts_once(storage: Storage) -> None:
    with storage.read() as uow:
        before = uow[BUSINESS_REPO].get()
    first = Business(business_code(), f"First {uid()}", NOW, email="a@example.com")
    second = Business(business_code(), f"Second {uid()}", LATER)
    with storage.transaction() as uow:
        assert uow[BUSINESS_REPO].add_if_absent(first) is (before is None)
        assert uow[BUSINESS_REPO].add_if_absent(second) is False
    with storage.read() as uow:
        assert uow[BUSINESS_REPO].get() == (before or first)


def test_update_writes_only_the_named_fields(storage: Storage) -> None:
    current = ensure(storage)
    changed = replace(
        current,
        name=f"Renamed {uid()}",
        email=f"o-{uid()}@example.com",
        phone="+61 2 9999 9999",
        industry_key="construction",
        timezone_key="europe_london",
        privacy_url="https://example.com/privacy",
        terms_url="https://example.com/terms",
        is_click_wrap=True,
        is_show_kinde_branding=True,
        kinde_perk_code="PERK",
        code="bus_other",
        created_on=LATER,
    )
    names = [
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
    ]
    with storage.transaction() as uow:
        assert uow[BUSINESS_REPO].update(changed, names) is True
    with storage.read() as uow:
        # Every field round-trips; code and created_on never change.
        assert uow[BUSINESS_REPO].get() == replace(
            changed, code=current.code, created_on=current.created_on
        )
    partial = replace(changed, name="Not written", email=None)
    with storage.transaction() as uow:
        assert uow[BUSINESS_REPO].update(partial, ["email"]) is True
    with storage.read() as uow:
        found = uow[BUSINESS_REPO].get()
    assert found is not None and (found.name, found.email) == (changed.name, None)
    cleared = replace(found, is_click_wrap=False, phone=None)
    with storage.transaction() as uow:
        uow[BUSINESS_REPO].update(cleared, ["is_click_wrap", "phone"])
    with storage.read() as uow:
        assert uow[BUSINESS_REPO].get() == cleared


def test_update_refuses_fixed_or_unknown_fields(storage: Storage) -> None:
    current = ensure(storage)
    for names in (["code"], ["created_on"], ["colour"], []):
        with pytest.raises(ValueError), storage.transaction() as uow:
            uow[BUSINESS_REPO].update(current, names)
    with storage.read() as uow:
        assert uow[BUSINESS_REPO].get() == current


def test_a_rolled_back_update_leaves_the_business_as_it_was(storage: Storage) -> None:
    current = ensure(storage)
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[BUSINESS_REPO].update(replace(current, name="Never"), ["name"])
        raise Boom
    with storage.read() as uow:
        assert uow[BUSINESS_REPO].get() == current


def test_without_a_business_get_is_none_and_update_writes_nothing(storage: Storage) -> None:
    with storage.engine.session(write=True) as session:  # the shared PostgreSQL row too
        session.execute("DELETE FROM business")
    with storage.transaction() as uow:
        assert uow[BUSINESS_REPO].get() is None
        assert uow[BUSINESS_REPO].update(Business("bus_x", "X", NOW), ["name"]) is False
        assert uow[BUSINESS_REPO].get() is None
