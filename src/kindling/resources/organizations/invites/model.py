"""Organization invitations: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Invite:
    """An invitation to join an organization; ``role_keys`` are granted on acceptance."""

    code: str
    org_code: str
    email: str
    created_on: str
    first_name: str | None = None
    last_name: str | None = None
    role_keys: tuple[str, ...] = ()
    is_sent: bool = False
    is_revoked: bool = False
    accepted_on: str | None = None
