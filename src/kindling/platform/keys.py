"""Signing keys and revoked tokens: the stored records and their repository contract.

Everything a verifier of our tokens must know lives behind one repository: the
signing keys (public half in clear, private half sealed), the ids of revoked tokens
(RFC 7009), and one version counter that every change to either bumps in its own
transaction, so each process can tell with one small read whether its cached view is
still current (``kindling.platform.signing``).

A key's stored ``status`` is one of ``STATUSES``; what it means *now* also depends on
the clock (a ``next`` key signs from ``activates_at``; a retired key is published
until ``publish_until``), which ``signing.key_states`` works out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kindling.platform.repository import RepositoryKey

#: Published, not signing yet: signs from ``activates_at`` (publish-before-sign).
NEXT = "next"
#: Signing (the newest activated key), published.
ACTIVE = "active"
#: Superseded: verifies, published until ``publish_until`` (None: until revoked).
RETIRED = "retired"
#: Emergency-revoked: never published, its tokens refused.
REVOKED = "revoked"
STATUSES = (NEXT, ACTIVE, RETIRED, REVOKED)


@dataclass(frozen=True)
class StoredKey:
    """A signing key row: the public JWK in clear, the private key sealed.

    ``activates_at`` and ``publish_until`` are Unix seconds; ``activates_at`` None (keys
    made before key states existed) means active since it was created.
    """

    kid: str
    algorithm: str
    public_jwk: dict[str, object]
    sealed_private: bytes
    status: str
    created_on: str
    retired_on: str | None = None
    activates_at: int | None = None
    publish_until: int | None = None
    revoked_on: str | None = None


@dataclass(frozen=True)
class RevokedToken:
    """A revoked access token's id, whose application it was, and when it expires."""

    jti: str
    client_id: str
    expires_at: int
    revoked_on: str


class KeyRepository(Protocol):
    def list_usable(self) -> list[StoredKey]:
        """Keys that are not revoked (next, active and retired), newest first."""

    def list_all(self) -> list[StoredKey]:
        """Every key, revoked ones included, newest first."""

    def get(self, kid: str) -> StoredKey | None:
        """The key with ``kid``, or None if there is none."""

    def add(self, key: StoredKey) -> None:
        """Insert a key; a ``kid`` already stored raises IntegrityViolation."""

    def retire_active(self, now: str) -> None:
        """Mark the active key retired (it stays published to verify live tokens)."""

    def update_state(self, key: StoredKey) -> None:
        """Write ``key``'s status, ``retired_on``, ``activates_at``, ``publish_until`` and
        ``revoked_on`` onto its row; a missing ``kid`` changes nothing."""

    def version(self) -> int:
        """The change counter of keys and revocations (0 before any change)."""

    def bump_version(self) -> int:
        """Add one to the change counter and return the new value.

        Call it first in a transaction that changes keys or revocations: on PostgreSQL
        the row lock it takes orders such transactions by commit, so the value stamped
        on a revoked token is never older than a reader has already seen.
        """

    def seal_check(self) -> str | None:
        """The stored check value of the sealing key, or None before one was recorded."""

    def set_seal_check(self, value: str) -> None:
        """Record the check value of the sealing key (overwrites)."""

    def revoke_token(self, token: RevokedToken, version: int) -> bool:
        """Record a revoked token stamped with ``version``; False if its ``jti`` already was."""

    def is_token_revoked(self, jti: str) -> bool:
        """Whether ``jti`` is recorded as revoked."""

    def revoked_since(self, version: int, unexpired_at: int) -> list[RevokedToken]:
        """Revoked tokens stamped after ``version`` that expire after ``unexpired_at``."""

    def prune_revoked(self, expired_before: int) -> int:
        """Forget revoked tokens that expired before ``expired_before``; return how many."""


KEYS_REPO = RepositoryKey[KeyRepository]("keys")
