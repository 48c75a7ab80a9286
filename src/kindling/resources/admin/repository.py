"""The admin console's accounts and sessions: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.admin.model import AdminAccount, AdminSession


class AdminRepository(Protocol):
    """Admin console accounts, sessions and failed sign-ins (times are Unix seconds)."""

    def get_account(self, username: str) -> AdminAccount | None:
        """Return the account with this exact username, or None."""

    def first_account(self) -> AdminAccount | None:
        """Return the oldest account (the owner), or None before one was created."""

    def add_account(self, account_id: str, username: str, password_hash: str, now: str) -> None:
        """Insert an account. Raises IntegrityViolation if the id or username is taken."""

    def set_password_hash(self, account_id: str, password_hash: str, now: str) -> bool:
        """Replace the password hash; False if the account does not exist."""

    def add_session(
        self, token_hash: str, account_id: str, csrf_token: str, created_at: int, expires_at: int
    ) -> None:
        """Insert a session. Raises IntegrityViolation if the token hash exists (never in
        practice: tokens are 256 random bits) or the account does not."""

    def get_session(self, token_hash: str) -> AdminSession | None:
        """Return the session with its account's username (expired ones too), or None."""

    def touch_session(self, token_hash: str, now: int) -> None:
        """Record activity; a missing session is ignored."""

    def set_flash(self, token_hash: str, flash: str | None) -> None:
        """Set or clear the one-time message; a missing session is ignored."""

    def delete_session(self, token_hash: str) -> bool:
        """End one session; False if it did not exist."""

    def delete_account_sessions(self, account_id: str) -> int:
        """End every session of an account; return how many there were."""

    def delete_expired_sessions(self, now: int) -> int:
        """Delete sessions whose ``expires_at`` is not after ``now``; return how many."""

    def record_failure(self, username: str, client_ip: str, at: int) -> None:
        """Record a failed sign-in (the username need not exist)."""

    def count_failures(self, username: str, client_ip: str, since: int) -> int:
        """Count failed sign-ins of (username, address) after ``since``."""

    def oldest_failure(self, username: str, client_ip: str, since: int) -> int | None:
        """The time of the oldest failure counted by ``count_failures``, or None."""

    def clear_failures(self, username: str, client_ip: str) -> None:
        """Forget the failures of (username, address) (after a successful sign-in)."""

    def prune_failures(self, before: int) -> int:
        """Delete failures at or before ``before``; return how many."""


ADMIN_REPO = RepositoryKey[AdminRepository]("admin")
