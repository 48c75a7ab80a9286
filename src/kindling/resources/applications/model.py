"""Applications and their secrets: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

APPLICATION_TYPES = ("m2m", "reg", "spa", "device")


DEFAULT_ACCESS_TOKEN_LIFETIME = 86_400


@dataclass(frozen=True)
class Application:
    """An application; for M2M apps ``id`` is also the OAuth ``client_id``."""

    id: str
    name: str
    type: str
    created_on: str
    org_code: str | None = None
    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME
    settings: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def client_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class ApplicationSecret:
    """A keyed hash of one client secret; ``expires_at`` ends a rotation grace window."""

    id: str
    application_id: str
    secret_hash: str
    created_on: str
    expires_at: int | None = None


def application_from_row(row: Mapping[str, Any]) -> Application:
    """An application from a database row (its columns by name)."""
    return Application(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        org_code=row["org_code"],
        access_token_lifetime=int(row["access_token_lifetime"]),
        created_on=row["created_on"],
        settings=json.loads(row["settings"] or "{}"),
    )
