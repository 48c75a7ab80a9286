"""Roles: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.apis.model import ApiScope
from kindling.resources.permissions.model import Permission
from kindling.resources.roles.model import Role


class RoleRepository(Protocol):
    """Roles with their permissions, API scopes and system permissions."""

    def get(self, role_id: str) -> Role | None:
        """Return the role, or None."""

    def get_by_key(self, key: str) -> Role | None:
        """Return the role with this exact (case-sensitive) key, or None."""

    def add(self, role: Role) -> None:
        """Insert a role. Raises IntegrityViolation if its key (or id) is taken."""

    def update(self, role: Role) -> None:
        """Overwrite key, name, description, default flag and assignment permission of the
        role with ``role.id`` (nothing happens if it is absent). Raises IntegrityViolation
        if the new key belongs to another role."""

    def delete(self, role_id: str) -> bool:
        """Delete the role; its permissions, scopes, system permissions and user assignments
        go with it (ON DELETE CASCADE). False if absent."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Role]]:
        """Return up to ``limit`` roles after sequence ``after``, oldest first."""

    def list_sorted(
        self, column: str, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Role]]:
        """Return up to ``limit`` roles ordered by (``column``, sequence) after ``after``;
        ``column`` is ``name`` or ``key`` (anything else raises ValueError)."""

    def clear_assignment_permission(self, permission_id: str) -> None:
        """Unset ``assignment_permission_id`` on every role that points at the permission."""

    def permission_ids(self, role_id: str) -> set[str]:
        """Return the ids of the role's permissions (empty for an unknown role)."""

    def permissions_page(
        self, role_id: str, after: int | None, limit: int
    ) -> list[tuple[int, Permission]]:
        """Return up to ``limit`` of the role's permissions after permission sequence
        ``after``, in permission creation order."""

    def permissions_sorted(
        self,
        role_id: str,
        column: str,
        after: tuple[str, int] | None,
        limit: int,
        descending: bool,
    ) -> list[tuple[tuple[str, int], Permission]]:
        """Like ``permissions_page`` ordered by (``column``, sequence); ``column`` is ``name``
        or ``id`` (anything else raises ValueError)."""

    def add_permission(self, role_id: str, permission_id: str) -> bool:
        """Give the role a permission; False if it already had it. Raises IntegrityViolation
        if the role or permission does not exist."""

    def remove_permission(self, role_id: str, permission_id: str) -> bool:
        """Take a permission from the role; False if it did not have it."""

    def api_scope(self, scope_id: str) -> ApiScope | None:
        """Return the API scope (of any API) with this id, or None."""

    def scopes(self, role_id: str) -> list[ApiScope]:
        """Return the role's API scopes in scope creation order."""

    def add_scope(self, role_id: str, scope_id: str) -> bool:
        """Give the role an API scope; False if it already had it. Raises IntegrityViolation
        if the role or scope does not exist."""

    def remove_scope(self, role_id: str, scope_id: str) -> bool:
        """Take an API scope from the role; False if it did not have it."""

    def system_permission_keys(self, role_id: str) -> set[str]:
        """Return the keys of the role's system permissions."""

    def add_system_permission(self, role_id: str, key: str) -> bool:
        """Give the role a system permission (by key); False if it already had it. Raises
        IntegrityViolation if the role does not exist."""

    def remove_system_permission(self, role_id: str, key: str) -> bool:
        """Take a system permission from the role; False if it did not have it."""


ROLES_REPO = RepositoryKey[RoleRepository]("roles")
