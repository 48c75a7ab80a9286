"""APIs (audiences) and their scopes: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiScope:
    id: str
    api_id: str
    key: str
    description: str | None = None


@dataclass(frozen=True)
class Api:
    """A resource server (audience) that applications can be authorized for."""

    id: str
    name: str
    audience: str
    is_management_api: bool
    created_on: str


@dataclass(frozen=True)
class ApiAuthorization:
    """An application authorized for an API, with the scope keys it was granted."""

    api: Api
    application_id: str
    scopes: tuple[str, ...]
