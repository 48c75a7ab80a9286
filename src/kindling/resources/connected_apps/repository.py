"""Connected apps: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL. The conditional updates
(``consume_state``, ``finish_authorization``, ``replace_tokens``, ...) change a row
only in the state they name, so two requests racing on one session cannot both win.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.connected_apps.model import ConnectedAppSession, Provider


class ConnectedAppRepository(Protocol):
    """Provider definitions and the sessions connected through them."""

    # --- providers

    def get_provider(self, provider_id: str) -> Provider | None:
        """Return the provider, or None."""

    def get_provider_by_ref(self, key_code_ref: str) -> Provider | None:
        """Return the provider with this exact (case-sensitive) ``key_code_ref``, or None."""

    def list_providers(self) -> list[Provider]:
        """Every provider, oldest first."""

    def add_provider(self, provider: Provider) -> None:
        """Insert a provider. Raises IntegrityViolation if its key_code_ref (or id) is taken."""

    def update_provider(self, provider: Provider) -> None:
        """Overwrite every field but ``id``, ``key_code_ref`` and ``created_on`` of the
        provider with ``provider.id`` (nothing happens if it is absent)."""

    def delete_provider(self, provider_id: str) -> bool:
        """Delete the provider; its sessions go with it (ON DELETE CASCADE). False if absent."""

    def count_sessions(self, provider_id: str, status: str) -> int:
        """How many of the provider's sessions are in ``status`` (0 for an unknown provider)."""

    # --- sessions

    def add_session(self, session: ConnectedAppSession) -> None:
        """Insert a session. Raises IntegrityViolation if its id, session hash or state hash
        is taken, or its provider, user or organization does not exist."""

    def get_session(self, session_id: str) -> ConnectedAppSession | None:
        """Return the session with this (internal) id, or None."""

    def get_session_by_hash(self, session_hash: str) -> ConnectedAppSession | None:
        """Return the session whose ``session_id`` hashes to ``session_hash``, or None."""

    def consume_state(self, state_hash: str, now: int) -> ConnectedAppSession | None:
        """Use a ``state`` once: move the ``pending`` session holding this state hash and
        expiring at or after ``now`` to ``exchanging``, clear its state hash and return it
        as changed. None (and nothing changes) when no such session exists: the state is
        unknown, used already or expired."""

    def finish_authorization(
        self,
        session_id: str,
        access_token_sealed: bytes,
        refresh_token_sealed: bytes | None,
        access_token_expires_at: int | None,
        granted_scope: str | None,
        authorized_on: str,
    ) -> bool:
        """Store the first tokens of an ``exchanging`` session and make it ``authorized``
        (its PKCE verifier is dropped, its version bumped). False, changing nothing, when
        the session is absent or not ``exchanging`` (it was revoked meanwhile)."""

    def fail_authorization(self, session_id: str) -> bool:
        """Move an ``exchanging`` session to ``failed`` (its PKCE verifier is dropped).
        False, changing nothing, when the session is absent or not ``exchanging``."""

    def replace_tokens(
        self,
        session_id: str,
        expected_version: int,
        access_token_sealed: bytes,
        refresh_token_sealed: bytes | None,
        access_token_expires_at: int | None,
        granted_scope: str | None,
        refreshed_on: str,
    ) -> bool:
        """Store refreshed tokens of an ``authorized`` session still at
        ``expected_version`` and bump the version. False, changing nothing, when the
        session is absent, not authorized, or another change came first."""

    def delete_session(self, session_id: str) -> bool:
        """Delete the session and everything it holds. False if absent."""

    def prune_sessions(self, now: int) -> int:
        """Delete the sessions that never became ``authorized`` and expired before ``now``;
        return how many."""

    # --- the subjects a session is for

    def user_exists(self, user_id: str) -> bool:
        """True when a user has this id."""

    def organization_exists(self, org_code: str) -> bool:
        """True when an organization has this code."""


CONNECTED_APPS_REPO = RepositoryKey[ConnectedAppRepository]("connected_apps")
