"""Service unit tier: service functions called directly on both engines, no HTTP, no server.

Each test that takes ``storage`` (or anything built on it) runs twice: on a fresh
SQLite file under ``tmp_path`` and on PostgreSQL (the session's ``pg_url`` schema,
shared across tests, so every test makes its own unique ids, keys and emails).

``clock`` is a ``FrozenClock``: timestamps the services write, and the
``occurred_on`` of every recorded event, are ``NOW`` unless a test advances it.
``outbox`` reads the domain events committed since the test started (the shared
PostgreSQL schema holds other tests' events too). ``context`` is a real ``Context``
built from the same pieces the composition root uses, for services that need more
than storage and a clock. Helpers (``Outbox``, ``Recorded``, ``Boom``, ``uid``) are in
``tests/services/support.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kindling.clock import FrozenClock
from kindling.config import Settings
from kindling.context import open_storage
from kindling.crypto.client_secrets import SecretHasher
from kindling.crypto.keys import KeySealer
from kindling.crypto.masterkey import MasterKey
from kindling.platform.context import Context
from kindling.platform.pagination import CursorCodec
from kindling.platform.signing import Keyring
from kindling.platform.storage import Storage
from kindling.resources.environment.service import recorded_issuer
from tests.services.support import MASTER_KEY, NOW, START, Outbox


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture(params=["sqlite", "postgres"])
def storage(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Storage]:
    """A migrated storage on one engine whose events are stamped by ``clock``."""
    url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None
    opened = open_storage(url, tmp_path, NOW, clock)
    yield opened
    opened.close()


@pytest.fixture
def context(storage: Storage, clock: FrozenClock, tmp_path: Path) -> Context:
    """A real ``Context`` over ``storage``, built like ``kindling.context.build_context``."""
    master = MasterKey(MASTER_KEY)
    settings = Settings(data_dir=tmp_path, master_key=MASTER_KEY)
    return Context(
        settings=settings,
        storage=storage,
        clock=clock,
        hasher=SecretHasher(master.derive("client-secret-pepper")),
        keyring=Keyring(storage, KeySealer(master.derive("signing-key-seal")), clock),
        cursors=CursorCodec(master.derive("pagination-cursor")),
        master=master,
        recorded_issuer=recorded_issuer,
    )


@pytest.fixture
def outbox(storage: Storage) -> Outbox:
    return Outbox(storage)
