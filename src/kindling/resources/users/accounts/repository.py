"""A user's identities, password hash, MFA factors and sessions: their repository contract.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.users.accounts.model import MfaFactor, PasswordHash, UserSession
from kindling.resources.users.model import Identity


class AccountRepository(Protocol):
    """A user's identities (by id), password, MFA factors and sessions."""

    def get_identity(self, identity_id: str) -> Identity | None:
        """Return the identity, or None."""

    def identity_seq(self, user_id: str, identity_id: str) -> int | None:
        """Return the sequence number of the user's identity, or None if the user has no
        identity with this id."""

    def list_identities(
        self, user_id: str, after: int | None, before: int | None, limit: int
    ) -> list[Identity]:
        """Return up to ``limit`` of the user's identities in creation order: those after
        sequence ``after``, or (if ``before`` is set) the last ones before ``before``."""

    def add_identity(self, identity: Identity) -> None:
        """Insert an identity. Raises IntegrityViolation if another identity of the same
        type has the same normalized value (per connection for social and enterprise
        identities) or the user does not exist."""

    def lock_user(self, user_id: str) -> bool:
        """Lock the user's row until the transaction ends (serializes changes to its
        identities); False if the user does not exist."""

    def primary_identity(self, user_id: str, kind: str) -> Identity | None:
        """Return the user's primary identity of this type (else its oldest), or None."""

    def set_primary(self, user_id: str, kind: str, identity_id: str | None) -> None:
        """Make ``identity_id`` the user's only primary identity of this type (None: no
        primary) and mirror its value into the user's email, username or phone."""

    def delete_identity(self, identity_id: str) -> bool:
        """Delete the identity; False if absent."""

    def connection_exists(self, connection_id: str) -> bool:
        """True when a connection with this id exists."""

    def set_password(self, password: PasswordHash) -> None:
        """Set (replace) the user's password hash. Raises IntegrityViolation if the user
        does not exist."""

    def get_password(self, user_id: str) -> PasswordHash | None:
        """Return the user's password hash, or None."""

    def mfa_factors(self, user_id: str) -> list[MfaFactor]:
        """Return the user's environment-level MFA factors, oldest first."""

    def delete_mfa_factors(self, user_id: str) -> int:
        """Delete the user's environment-level MFA factors; return how many."""

    def delete_mfa_factor(self, user_id: str, factor_id: str) -> bool:
        """Delete one environment-level factor of the user; False if there is none."""

    def sessions(self, user_id: str, limit: int) -> list[UserSession]:
        """Return up to ``limit`` of the user's sessions, oldest first."""

    def delete_sessions(self, user_id: str) -> int:
        """Delete every session of the user; return how many."""


ACCOUNTS_REPO = RepositoryKey[AccountRepository]("accounts")
