"""EnvironmentRepository contract: the single environment row and the environment logos.

The environment is one row per database. On the shared PostgreSQL schema another
test may already have created it, so each test sets what it reads back; only the
fresh SQLite file is known to start before first run.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kindling.context import open_storage
from kindling.platform.engine import EngineLimits, StorageUnavailable
from kindling.platform.storage import Storage
from kindling.resources.environment.repository import ENVIRONMENT_REPO
from kindling.resources.environment.sql import SqlEnvironmentRepository
from tests.storage.conftest import LATER, NOW, Boom, uid


def issuer() -> str:
    return f"https://{uid()}.kinde.example.com"


def test_before_first_run_everything_is_empty(tmp_path: Path) -> None:
    """Only a fresh database is known to be before first run: a new SQLite file."""
    fresh = open_storage(None, tmp_path, NOW)
    try:
        with fresh.read() as uow:
            repo = uow[ENVIRONMENT_REPO]
            assert repo.get_issuer() is None
            assert repo.created_on() is None
            assert repo.settings() == {}
            assert repo.logos() == []
    finally:
        fresh.close()


def test_set_issuer_creates_then_changes_the_environment(storage: Storage) -> None:
    fresh = storage.engine.dialect == "sqlite"
    first, second = issuer(), issuer()
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(first, NOW)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].get_issuer() == first
        created = uow[ENVIRONMENT_REPO].created_on()
    assert created is not None
    if fresh:
        assert created == NOW
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(second, LATER)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].get_issuer() == second
        # Changing the issuer keeps the creation date: it is still one environment.
        assert uow[ENVIRONMENT_REPO].created_on() == created


def test_set_issuer_keeps_the_settings(storage: Storage) -> None:
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(issuer(), NOW)
        uow[ENVIRONMENT_REPO].set_settings({"name": f"env-{uid()}"})
        expected = uow[ENVIRONMENT_REPO].settings()
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(issuer(), LATER)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].settings() == expected


def test_settings_are_overwritten_whole(storage: Storage) -> None:
    name = f"env-{uid()}"
    settings: dict[str, object] = {
        "name": name,
        "passkeys": {"policy": "optional", "allowed": ["a", "b"]},
        "count": 3,
        "enabled": True,
        "nothing": None,
    }
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(issuer(), NOW)
        uow[ENVIRONMENT_REPO].set_settings(settings)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].settings() == settings
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_settings({"name": "only"})
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].settings() == {"name": "only"}
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_settings({})
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].settings() == {}


def test_rolled_back_changes_leave_the_environment_as_it_was(storage: Storage) -> None:
    kept = issuer()
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(kept, NOW)
        uow[ENVIRONMENT_REPO].set_settings({"name": "kept"})
    logo_type = f"light-{uid()}"
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(issuer(), LATER)
        uow[ENVIRONMENT_REPO].set_settings({"name": "lost"})
        uow[ENVIRONMENT_REPO].set_logo(logo_type, "image/png", b"png", NOW)
        assert uow[ENVIRONMENT_REPO].settings() == {"name": "lost"}
        raise Boom
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].get_issuer() == kept
        assert uow[ENVIRONMENT_REPO].settings() == {"name": "kept"}
        assert uow[ENVIRONMENT_REPO].logo_data(logo_type) is None


def test_logos_store_replace_and_delete(storage: Storage) -> None:
    light, dark = f"light-{uid()}", f"dark-{uid()}"
    png = bytes(range(256))  # every byte value survives the round trip
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].logo_data(light) is None
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_logo(light, "image/png", png, NOW)
        uow[ENVIRONMENT_REPO].set_logo(dark, "image/svg+xml", b"<svg/>", NOW)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].logo_data(light) == ("image/png", png)
        assert uow[ENVIRONMENT_REPO].logo_data(dark) == ("image/svg+xml", b"<svg/>")
        listed = {t: (ct, on) for t, ct, on in uow[ENVIRONMENT_REPO].logos()}
    assert listed[light] == ("image/png", NOW)
    assert listed[dark] == ("image/svg+xml", NOW)
    # Replacing a logo keeps one row of that type, with the new content and date.
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_logo(light, "image/jpeg", b"jpeg", LATER)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].logo_data(light) == ("image/jpeg", b"jpeg")
        rows = [row for row in uow[ENVIRONMENT_REPO].logos() if row[0] == light]
    assert rows == [(light, "image/jpeg", LATER)]
    with storage.transaction() as uow:
        assert uow[ENVIRONMENT_REPO].delete_logo(light) is True
        assert uow[ENVIRONMENT_REPO].delete_logo(light) is False
        assert uow[ENVIRONMENT_REPO].delete_logo(f"none-{uid()}") is False
    with storage.read() as uow:
        assert uow[ENVIRONMENT_REPO].logo_data(light) is None
        assert uow[ENVIRONMENT_REPO].logo_data(dark) == ("image/svg+xml", b"<svg/>")
        types = [t for t, _, _ in uow[ENVIRONMENT_REPO].logos()]
    assert light not in types and dark in types


def _hold_set_up_lock(
    storage: Storage, locked: threading.Event, release: threading.Event, logo_type: str
) -> threading.Thread:
    """A thread whose transaction takes the set-up lock, waits for ``release``, then
    writes a logo of ``logo_type`` and commits."""

    def hold() -> None:
        with storage.transaction() as uow:
            uow[ENVIRONMENT_REPO].lock_set_up(10)
            locked.set()
            release.wait(10)
            uow[ENVIRONMENT_REPO].set_logo(logo_type, "image/png", b"png", NOW)

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread


def test_the_set_up_lock_makes_a_second_transaction_wait_for_the_first(
    storage: Storage,
) -> None:
    """Two first runs at once (``kindling.bootstrap``): the second sees the first's commit."""
    logo_type = f"set-up-{uid()}"
    locked, release = threading.Event(), threading.Event()
    holder = _hold_set_up_lock(storage, locked, release, logo_type)
    # Let the holder go only after this transaction has started waiting for the lock.
    threading.Timer(0.3, release.set).start()
    try:
        with storage.transaction() as uow:
            uow[ENVIRONMENT_REPO].lock_set_up(10)
            assert uow[ENVIRONMENT_REPO].logo_data(logo_type) == ("image/png", b"png")
    finally:
        release.set()
        holder.join()


def test_the_set_up_lock_waits_past_the_engine_bounds_and_no_longer_than_asked(
    tmp_path: Path, pg_url: str
) -> None:
    """The engine's lock and statement bounds (here 0.1 s and 0.2 s) do not cut the wait
    short, and hold again for the rest of the transaction; ``wait`` does cut it short, as
    a database that does not answer."""
    limits = EngineLimits(lock_timeout=0.1, statement_timeout=0.2)
    storage = open_storage(pg_url, tmp_path, NOW, limits=limits)
    try:
        logo_type = f"set-up-{uid()}"
        locked, release = threading.Event(), threading.Event()
        holder = _hold_set_up_lock(storage, locked, release, logo_type)
        try:
            with pytest.raises(StorageUnavailable), storage.transaction() as uow:
                uow[ENVIRONMENT_REPO].lock_set_up(0.3)
            # Released after 0.5 s, longer than either bound.
            threading.Timer(0.5, release.set).start()
            seen = None
            with pytest.raises(StorageUnavailable), storage.engine.session(write=True) as session:
                repo = SqlEnvironmentRepository(session)
                repo.lock_set_up(10)
                seen = repo.logo_data(logo_type)
                session.one("SELECT pg_sleep(1)")  # the statement bound is back: cut short
            assert seen == ("image/png", b"png")  # got the lock once the holder committed
        finally:
            release.set()
            holder.join()
    finally:
        storage.close()
