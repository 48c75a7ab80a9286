"""Permissions: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.permissions.model import Permission


class PermissionRepository(Protocol):
    """Permissions."""

    def get(self, permission_id: str) -> Permission | None:
        """Return the permission, or None."""

    def get_by_key(self, key: str) -> Permission | None:
        """Return the permission with this exact (case-sensitive) key, or None."""

    def existing(self, permission_ids: Sequence[str]) -> set[str]:
        """Return those of ``permission_ids`` that exist."""

    def add(self, permission: Permission) -> None:
        """Insert a permission. Raises IntegrityViolation if its key (or id) is taken."""

    def update(self, permission: Permission) -> None:
        """Overwrite key, name and description of the permission with ``permission.id``
        (nothing happens if it is absent). Raises IntegrityViolation if the new key belongs
        to another permission."""

    def delete(self, permission_id: str) -> bool:
        """Delete the permission; role and organization-user assignments go with it
        (ON DELETE CASCADE). False if absent."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Permission]]:
        """Return up to ``limit`` permissions after sequence ``after``, oldest first."""

    def list_sorted(
        self, column: str, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Permission]]:
        """Return up to ``limit`` permissions ordered by (``column``, sequence) after
        ``after``; ``column`` is ``name`` or ``id`` (anything else raises ValueError)."""


PERMISSIONS_REPO = RepositoryKey[PermissionRepository]("permissions")
