"""API keys: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.api_keys.model import ApiKey


class ApiKeyRepository(Protocol):
    """API keys. Keys are looked up by their keyed hash, never stored in clear."""

    def get(self, key_id: str) -> ApiKey | None:
        """Return the key, or None."""

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        """Return the key whose hash matches, or None."""

    def seq_of(self, key_id: str) -> int | None:
        """The sequence number of a key (for ``starting_after``), or None."""

    def add(self, key: ApiKey, api_id: str, scope_ids: Sequence[str]) -> None:
        """Insert a key for an API with granted scope ids."""

    def list_page(
        self,
        after: int | None,
        limit: int,
        key_type: str | None,
        status: str | None,
        user_id: str | None,
        org_code: str | None,
    ) -> list[tuple[int, ApiKey]]:
        """Keys after sequence ``after`` in creation order, matching the given filters."""

    def set_key(self, key_id: str, key_hash: str, prefix: str, suffix: str) -> None:
        """Replace the key (rotation); the key becomes active."""

    def set_status(self, key_id: str, status: str) -> bool:
        """Change the status; False if the key does not exist."""

    def record_verification(self, key_id: str, now: str, ip: str | None) -> None:
        """Count a successful verification."""

    def user_exists(self, user_id: str) -> bool:
        """True when the user exists."""

    def org_exists(self, org_code: str) -> bool:
        """True when the organization exists."""


API_KEYS_REPO = RepositoryKey[ApiKeyRepository]("api_keys")
