"""Storage contract tier: every repository used directly on both engines, no HTTP.

Each test that takes ``storage`` runs twice: on a fresh SQLite file under
``tmp_path`` and on PostgreSQL (the session's ``pg_url`` schema, shared across
tests, so every test makes its own unique ids and keys).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindling.context import open_storage
from kindling.platform.storage import Storage

NOW = "2024-01-01T00:00:00+00:00"
LATER = "2024-06-01T00:00:00+00:00"


class Boom(Exception):
    """Raised on purpose inside a transaction to make it roll back."""


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A migrated storage on one engine (the test runs once per engine)."""
    url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None
    opened = open_storage(url, tmp_path, NOW)
    yield opened
    opened.close()


def uid() -> str:
    """A short unique suffix for names, keys and emails (PostgreSQL is shared)."""
    return uuid.uuid4().hex[:12]
