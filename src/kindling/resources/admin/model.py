"""The admin console's accounts and sessions: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdminAccount:
    """An admin console account (the owner); ``password_hash`` is an argon2id hash."""

    id: str
    username: str
    password_hash: str
    created_on: str
    password_changed_on: str


@dataclass(frozen=True)
class AdminSession:
    """A server-side console session, stored under the SHA-256 of its cookie value."""

    account_id: str
    username: str
    csrf_token: str
    created_at: int
    expires_at: int
    last_seen_at: int
    flash: str | None = None
