"""Organization members: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.organizations.members.model import (
    MemberOrganization,
    MemberPermission,
    MemberRole,
    OrganizationMember,
    OrganizationUserMfaFactor,
)


class MembershipRepository(Protocol):
    """Organization membership: users in organizations, their roles, permissions and API scopes."""

    def get_organization(self, org_code: str) -> MemberOrganization | None:
        """Return the organization's code and name, or None (read only; never writes it)."""

    def get_role(self, role_id: str) -> MemberRole | None:
        """Return the role with this public id, or None (read only)."""

    def roles_by_keys(self, keys: Sequence[str]) -> dict[str, MemberRole]:
        """Return the roles with these keys, by key; unknown keys are simply absent."""

    def get_permission(self, permission_id: str) -> MemberPermission | None:
        """Return the permission with this id (``roles`` empty), or None (read only)."""

    def permissions_by_keys(self, keys: Sequence[str]) -> dict[str, MemberPermission]:
        """Return the permissions with these keys, by key; unknown keys are simply absent."""

    def existing_users(self, user_ids: Sequence[str]) -> set[str]:
        """Return which of these user ids exist."""

    def members_among(self, org_code: str, user_ids: Sequence[str]) -> set[str]:
        """Return which of these users are members of the organization."""

    def is_member(self, org_code: str, user_id: str) -> bool:
        """True when the user is a member of the organization."""

    def add_member(self, org_code: str, user_id: str, joined_on: str) -> None:
        """Add a user to an organization.

        Raises IntegrityViolation if the user already is a member (unique (org, user)) or
        the organization or user does not exist (foreign keys).
        """

    def remove_member(self, org_code: str, user_id: str) -> bool:
        """Remove a member with its roles, permissions and API scopes (cascade) and its MFA
        factors for the organization; False if the user was not a member."""

    def list_members(
        self,
        org_code: str,
        after: tuple[str, int] | None,
        limit: int,
        sort: str = "",
        descending: bool = False,
        role_keys: Sequence[str] = (),
        permission_keys: Sequence[str] = (),
    ) -> list[tuple[tuple[str, int], OrganizationMember]]:
        """Return up to ``limit`` members (with their role keys) after position ``after``.

        ``sort`` is ``""`` (join order), ``"name"`` or ``"email"``; positions are
        ``(sort key, membership sequence)``. Every role key must be held and every
        permission key held directly or through a role. An unknown organization lists nothing.
        """

    def role_keys_of(self, org_code: str, user_ids: Sequence[str]) -> dict[str, list[str]]:
        """Return the keys of the roles each member holds in the organization."""

    def member_roles(self, org_code: str, user_id: str) -> list[MemberRole]:
        """Return the roles the member holds in the organization (empty if not a member)."""

    def add_member_role(self, org_code: str, user_id: str, role_id: str, now: str) -> None:
        """Give a member a role. Raises IntegrityViolation if already held, or if the user is
        not a member or the role does not exist (foreign keys)."""

    def remove_member_role(self, org_code: str, user_id: str, role_id: str) -> bool:
        """Take a role from a member; False if it was not held."""

    def direct_permission_ids(self, org_code: str, user_id: str) -> set[str]:
        """Return the ids of permissions given to the member directly (not through roles)."""

    def member_permissions(self, org_code: str, user_id: str) -> list[MemberPermission]:
        """Return the member's permissions, direct or through roles, each with the roles
        granting it (empty if not a member)."""

    def add_member_permission(self, org_code: str, user_id: str, permission_id: str) -> None:
        """Give a member a permission directly. Raises IntegrityViolation if already given,
        or if the user is not a member or the permission does not exist."""

    def remove_member_permission(self, org_code: str, user_id: str, permission_id: str) -> bool:
        """Take a directly given permission from a member; False if it was not given."""

    def has_member_api_scope(self, org_code: str, user_id: str, api_id: str, scope_id: str) -> bool:
        """True when the member was given this scope of this API."""

    def add_member_api_scope(self, org_code: str, user_id: str, api_id: str, scope_id: str) -> None:
        """Give a member an API scope. Raises IntegrityViolation if already given, or if the
        user is not a member or the API or scope does not exist."""

    def remove_member_api_scope(
        self, org_code: str, user_id: str, api_id: str, scope_id: str
    ) -> bool:
        """Take an API scope from a member; False if it was not given."""

    def mfa_factors(self, org_code: str, user_id: str) -> list[OrganizationUserMfaFactor]:
        """Return the user's MFA factors for the organization, oldest first (may be empty)."""

    def delete_mfa_factors(self, org_code: str, user_id: str, factor_id: str | None = None) -> int:
        """Delete the user's factors for the organization (only ``factor_id`` when given);
        return how many were deleted (0 when none matched)."""

    def role_members(
        self, org_code: str, role_id: str, after: int | None, limit: int
    ) -> list[tuple[int, str]]:
        """Return ``(membership sequence, user id)`` of members holding the role, after
        sequence ``after``, in join order (empty for an unknown organization or role)."""

    def count_role_members(self, org_code: str, role_id: str) -> int:
        """Return how many members of the organization hold the role (0 if unknown)."""

    def count_active_role_members(self, org_code: str, role_id: str, since: str, until: str) -> int:
        """Return how many members holding the role last accessed the organization at or
        after ``since`` and strictly before ``until`` (ISO 8601 UTC strings)."""

    def role_users(
        self, role_id: str, after: int | None, limit: int
    ) -> list[tuple[int, tuple[str, list[str]]]]:
        """Return ``(user sequence, (user id, org codes))`` of users holding the role in any
        organization, after user sequence ``after``, oldest user first."""


MEMBERSHIPS_REPO = RepositoryKey[MembershipRepository]("memberships")
