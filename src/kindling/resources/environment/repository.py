"""The environment: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any, Protocol

from kindling.platform.repository import RepositoryKey


class EnvironmentRepository(Protocol):
    def get_issuer(self) -> str | None:
        """Return the environment's issuer, or None before first run."""

    def set_issuer(self, issuer: str, now: str) -> None:
        """Create the environment or change its issuer."""

    def lock_set_up(self, wait: float) -> None:
        """Wait (at most ``wait`` seconds) until no other transaction holds the set-up
        lock, then hold it until this transaction ends, so that two first runs on one
        database (two instances starting at once) happen one after the other and the
        second sees the environment the first made. Raises ``StorageUnavailable`` when
        the wait runs out. On SQLite a write transaction holds the database's write lock
        already, so this does nothing there.
        """

    def created_on(self) -> str | None:
        """When the environment was created, or None before first run."""

    def settings(self) -> dict[str, Any]:
        """The environment's settings (empty before first run)."""

    def set_settings(self, settings: dict[str, Any]) -> None:
        """Overwrite the environment's settings."""

    def logos(self) -> list[tuple[str, str, str]]:
        """``(type, content type, created on)`` of each environment logo."""

    def set_logo(self, type_: str, content_type: str, data: bytes, now: str) -> None:
        """Store or replace the logo of one type."""

    def delete_logo(self, type_: str) -> bool:
        """Delete the logo of one type; False if there was none."""

    def logo_data(self, type_: str) -> tuple[str, bytes] | None:
        """``(content type, bytes)`` of the logo of one type, or None."""


ENVIRONMENT_REPO = RepositoryKey[EnvironmentRepository]("environment")
