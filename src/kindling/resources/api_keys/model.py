"""API keys: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKey:
    """An API key; only a keyed hash of the key itself is stored."""

    id: str
    name: str
    type: str
    key_hash: str
    key_prefix: str
    key_suffix: str
    status: str
    created_on: str
    user_id: str | None = None
    org_code: str | None = None
    created_by: str | None = None
    last_verified_on: str | None = None
    last_verified_ip: str | None = None
    verification_count: int = 0
    api_ids: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
