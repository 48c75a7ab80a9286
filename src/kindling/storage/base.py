"""The storage interface: repository contracts that services and the OAuth core rely on.

Each method states what happens when a row is missing and when a uniqueness rule
is hit. Both engines (SQLite, PostgreSQL) implement these contracts with the same
SQL repositories in ``kindling.storage.repos``; the storage tests run against both.
Lists use keyset pagination on an internal sequence number: ``after`` is the last
sequence number already returned and results are ordered by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kindling.models import (
    AdminAccount,
    AdminSession,
    Api,
    ApiAuthorization,
    ApiKey,
    ApiScope,
    Application,
    ApplicationSecret,
    Connection,
    FeatureFlag,
    Identity,
    Invite,
    MemberOrganization,
    MemberPermission,
    MemberRole,
    MfaFactor,
    Organization,
    OrganizationFlagRef,
    OrganizationLogo,
    OrganizationMember,
    OrganizationUserMfaFactor,
    PasswordHash,
    Permission,
    Property,
    PropertyCategory,
    PropertyValue,
    Role,
    StoredKey,
    User,
    UserSession,
)


class EnvironmentRepository(Protocol):
    def get_issuer(self) -> str | None:
        """Return the environment's issuer, or None before first run."""

    def set_issuer(self, issuer: str, now: str) -> None:
        """Create the environment or change its issuer."""

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


class KeyRepository(Protocol):
    def list_usable(self) -> list[StoredKey]:
        """Return keys whose public half must be published (active and retired), newest first."""

    def add(self, key: StoredKey) -> None:
        """Insert a key."""

    def retire_active(self, now: str) -> None:
        """Mark the active key retired (it stays published to verify live tokens)."""


class ApplicationRepository(Protocol):
    def get(self, application_id: str) -> Application | None:
        """Return the application, or None."""

    def add(self, application: Application) -> None:
        """Insert an application. Raises IntegrityViolation if the id is taken."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Application]]:
        """Return up to ``limit`` applications after sequence ``after``, oldest first."""

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Application]]:
        """Return up to ``limit`` applications ordered by (name, sequence) after ``after``."""

    def update(self, application: Application) -> None:
        """Overwrite name, access-token lifetime and settings of an existing application."""

    def delete(self, application_id: str) -> bool:
        """Delete the application with its secrets and authorizations; False if absent."""

    def urls(self, application_id: str, kind: str) -> list[str]:
        """Return the callback (``redirect``) or ``logout`` URLs in insertion order."""

    def set_urls(self, application_id: str, kind: str, urls: Sequence[str]) -> None:
        """Replace the URLs of one kind (URLs must be unique)."""

    def access_roles(
        self, application_id: str, after: int | None, before: int | None, limit: int
    ) -> list[tuple[int, dict[str, object]]]:
        """``(seq, {id, key, name, description})`` of the roles that may access the app."""

    def access_role_seq(self, application_id: str, role_id: str) -> int | None:
        """The ``seq`` of the role's access row for this application; None if it has none."""

    def role_exists(self, role_id: str) -> bool:
        """True when a role with this id exists."""

    def add_access_role(self, application_id: str, role_id: str) -> bool:
        """Allow a role; False if it already was."""

    def remove_access_role(self, application_id: str, role_id: str) -> bool:
        """Remove a role; False if it was not there."""

    def connections(self, application_id: str) -> list[dict[str, object]]:
        """Return the enabled connections ``{id, name, display_name, strategy}``."""

    def connection_exists(self, connection_id: str) -> bool:
        """True when a connection with this id exists."""

    def enable_connection(self, application_id: str, connection_id: str) -> None:
        """Enable a connection for the application (idempotent)."""

    def disable_connection(self, application_id: str, connection_id: str) -> bool:
        """Disable it; False if it was not enabled."""

    def property_values(self, application_id: str) -> dict[str, str]:
        """Public (non-private) property values of the application, by property key."""

    def org_exists(self, org_code: str) -> bool:
        """True when an organization with this code exists."""

    def add_secret(self, secret: ApplicationSecret) -> None:
        """Attach a secret hash to an application."""

    def secrets(self, application_id: str) -> list[ApplicationSecret]:
        """Return the application's secret hashes, newest first (expired ones included)."""

    def expire_secrets(self, application_id: str, expires_at: int, except_id: str) -> None:
        """Give every other secret of the application an expiry no later than ``expires_at``."""


class ApiRepository(Protocol):
    def get(self, api_id: str) -> Api | None:
        """Return the API, or None."""

    def get_by_audience(self, audience: str) -> Api | None:
        """Return the API with this exact audience, or None."""

    def get_management_api(self) -> Api | None:
        """Return the built-in Kinde Management API, or None before first run."""

    def add(self, api: Api) -> None:
        """Insert an API. Raises IntegrityViolation if the audience is taken."""

    def set_audience(self, api_id: str, audience: str) -> None:
        """Change an API's audience (the Management API follows the issuer)."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Api]]:
        """Return up to ``limit`` APIs after sequence ``after``, oldest first."""

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[tuple[str, int], Api]]:
        """Return up to ``limit`` APIs ordered by (name, sequence) after ``after``."""

    def scopes(self, api_id: str) -> list[ApiScope]:
        """Return the API's scopes in creation order."""

    def add_scopes(self, scopes: Sequence[ApiScope]) -> None:
        """Insert scopes. Raises IntegrityViolation if a key already exists for the API."""

    def delete(self, api_id: str) -> bool:
        """Delete the API, its scopes and authorizations; False if absent."""

    def update_scope(self, scope_id: str, description: str | None) -> None:
        """Change a scope's description."""

    def delete_scope(self, scope_id: str) -> bool:
        """Delete a scope and its grants; False if absent."""

    def applications(self, api_id: str) -> list[Application]:
        """Return the applications authorized for the API, in authorization order."""

    def authorize(self, api_id: str, application_id: str, now: str) -> bool:
        """Authorize an application; return False if it already was."""

    def deauthorize(self, api_id: str, application_id: str) -> bool:
        """Remove an authorization and its granted scopes; return False if there was none."""

    def grant_scopes(self, api_id: str, application_id: str, scope_ids: Sequence[str]) -> None:
        """Grant scopes to an authorized application (idempotent)."""

    def revoke_scope(self, api_id: str, application_id: str, scope_id: str) -> bool:
        """Revoke one granted scope; return False if it was not granted."""

    def authorizations(
        self, application_id: str, audiences: Sequence[str]
    ) -> list[ApiAuthorization]:
        """Return the application's authorizations for those audiences, with granted keys."""


class UserRepository(Protocol):
    def get(self, user_id: str) -> User | None:
        """Return the user with identities, or None."""

    def add(self, user: User) -> None:
        """Insert a user and its identities.

        Raises IntegrityViolation if an identity (email, username, phone) is taken.
        """

    def add_many(self, users: Sequence[User]) -> None:
        """Insert many users with their identities in one go (bulk import, seeding).

        Raises IntegrityViolation if any identity is taken; the unit of work then
        rolls back, so nothing of the batch is written.
        """

    def update(self, user: User) -> None:
        """Overwrite the user's profile fields (not identities)."""

    def delete(self, user_id: str) -> bool:
        """Delete the user and everything hanging off it; False if absent."""

    def list_page(
        self,
        after: int | None,
        limit: int,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        phones: Sequence[str] = (),
    ) -> list[tuple[int, User]]:
        """Return users after sequence ``after``, oldest first, matching every given filter.

        ``emails`` and ``usernames`` must already be normalized.
        """

    def identities(self, user_ids: Sequence[str]) -> dict[str, list[Identity]]:
        """Return identities grouped by user id."""

    def list_page_filtered(
        self,
        after: int | None,
        limit: int,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        phones: Sequence[str] = (),
        has_organization: bool | None = None,
    ) -> list[tuple[int, User]]:
        """``list_page`` plus ``has_organization``: True keeps users in at least one
        organization, False users in none, None does not filter."""

    def organization_exists(self, org_code: str) -> bool:
        """True when an organization with this code exists."""

    def add_to_organization(self, user_id: str, org_code: str, now: str) -> None:
        """Make the user a member of the organization.

        Raises IntegrityViolation if the user or organization is missing or the user
        already is a member.
        """

    def organizations(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        """Return the codes of the organizations each user belongs to, in joining order
        (users without any are absent)."""

    def seq_of(self, user_id: str) -> int | None:
        """Return the user's sequence number (its keyset position), or None if absent."""

    def search(
        self,
        after: int | None,
        before: int | None,
        limit: int,
        terms: Sequence[str] = (),
        exact_email: str | None = None,
        properties: dict[str, list[str]] | None = None,
        api_scopes: Sequence[str] = (),
    ) -> list[User]:
        """Return up to ``limit`` users matching every filter, oldest first, after
        sequence ``after`` or (if ``before`` is set) the last ones before ``before``.

        Each of ``terms`` must match the user id exactly or be a case-insensitive
        substring of the first name, last name or any identity; ``exact_email`` (already
        normalized) is looked up on the identities' unique index; ``properties`` keeps
        users whose value for each key is one of the given values; ``api_scopes`` keeps
        users granted every given scope key in some organization. Users are returned
        without identities.
        """

    def properties_exist(self, keys: Sequence[str]) -> set[str]:
        """Return which of these property keys are defined."""

    def property_values(self, user_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Return each user's non-null property values by property key."""

    def api_scopes(self, user_ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """Return each user's organization API scope grants as (org code, scope key, API id)."""


class OrganizationRepository(Protocol):
    """Organizations: the row, its settings, logos, connections."""

    def get(self, code: str) -> Organization | None:
        """Return the organization with this code, or None."""

    def exists(self, code: str) -> bool:
        """True when an organization with this code exists."""

    def handle_owner(self, handle: str) -> str | None:
        """Return the code of the organization holding ``handle``, or None."""

    def add(self, organization: Organization) -> None:
        """Insert an organization. Raises IntegrityViolation if the code or handle is taken."""

    def update(self, organization: Organization) -> bool:
        """Overwrite name, handle, external id, suspension and settings; False if absent.

        Raises IntegrityViolation if the handle is taken by another organization.
        """

    def delete(self, code: str) -> bool:
        """Delete the organization and everything hanging off it; False if absent."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Organization]]:
        """Return up to ``limit`` organizations after sequence ``after``, oldest first."""

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Organization]]:
        """Return up to ``limit`` organizations ordered by (name, sequence) after ``after``."""

    def logos(self, code: str) -> list[OrganizationLogo]:
        """Return the organization's logos (light before dark); empty if none or absent."""

    def logo_data(self, code: str, type_: str) -> bytes | None:
        """Return the bytes of one logo, or None."""

    def set_logo(self, logo: OrganizationLogo, data: bytes) -> None:
        """Insert or replace the logo of that type. The organization must exist (FK)."""

    def delete_logo(self, code: str, type_: str) -> bool:
        """Delete one logo; False if there was none."""

    def add_connection(self, connection: Connection) -> None:
        """Insert a connection. Raises IntegrityViolation if the id is taken."""

    def get_connection(self, connection_id: str) -> Connection | None:
        """Return the connection, or None."""

    def connections(self, code: str) -> list[Connection]:
        """Return the connections enabled for the organization, oldest connection first."""

    def enable_connection(self, code: str, connection_id: str) -> bool:
        """Enable a connection for the organization; False if it already was.

        Both must exist (FK: IntegrityViolation otherwise).
        """

    def disable_connection(self, code: str, connection_id: str) -> bool:
        """Disable a connection for the organization; False if it was not enabled."""

    def feature_flags_by_key(self, keys: Sequence[str]) -> dict[str, OrganizationFlagRef]:
        """Return the flag definitions with these keys, by key (unknown keys are absent)."""

    def set_feature_flag_values(self, code: str, values: Sequence[tuple[str, str]]) -> None:
        """Insert organization overrides ``(flag id, value)``.

        Raises IntegrityViolation if an override for that flag already exists.
        """

    # --- organizations contract: add methods above this line ---


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

    # --- memberships contract: add methods above this line ---


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

    # --- roles contract: add methods above this line ---


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

    # --- permissions contract: add methods above this line ---


class PropertyRepository(Protocol):
    """Property definitions and categories, and property values of users and organizations."""

    def get_category(self, category_id: str) -> PropertyCategory | None:
        """Return the category, or None."""

    def category_position(self, category_id: str) -> int | None:
        """Return the category's sequence number (its keyset position), or None if absent."""

    def add_category(self, category: PropertyCategory) -> None:
        """Insert a category. Raises IntegrityViolation if the id is taken."""

    def rename_category(self, category_id: str, name: str) -> bool:
        """Change a category's name; False if the category is absent."""

    def list_categories(
        self, context: str | None, after: int | None, before: int | None, limit: int
    ) -> list[PropertyCategory]:
        """Return up to ``limit`` categories (of ``context`` when given) in sequence order.

        ``after``: only categories after that sequence number (the first ones after it);
        ``before``: only those before it (the last ones before it, still in ascending order).
        """

    def get(self, property_id: str) -> Property | None:
        """Return the property, or None."""

    def get_by_key(self, key: str) -> Property | None:
        """Return the property with this exact key, or None."""

    def by_keys(self, keys: Sequence[str]) -> dict[str, Property]:
        """Return the properties with these keys, by key (missing keys are left out)."""

    def position(self, property_id: str) -> int | None:
        """Return the property's sequence number (its keyset position), or None if absent."""

    def add(self, prop: Property) -> None:
        """Insert a property. Raises IntegrityViolation if the id or the key is taken, or
        if ``category_id`` names no category."""

    def update(self, prop: Property) -> bool:
        """Overwrite name, description, is_private and category; False if absent.

        Raises IntegrityViolation if ``category_id`` names no category."""

    def delete(self, property_id: str) -> bool:
        """Delete the property and every value of it; False if absent."""

    def list_page(
        self, context: str | None, after: int | None, before: int | None, limit: int
    ) -> list[Property]:
        """Return up to ``limit`` properties, like ``list_categories``."""

    def subject_exists(self, context: str, subject_id: str) -> bool:
        """True when the user (``usr``), organization code (``org``) or application
        (``app``) exists."""

    def values(self, context: str, subject_id: str) -> list[PropertyValue]:
        """Every property of ``context`` with the subject's value (None when unset), in
        property order. The subject is not checked."""

    def set_values(
        self, context: str, subject_id: str, values: Sequence[tuple[str, str | None]]
    ) -> None:
        """Set ``(property id, value)`` pairs for the subject; a None value removes it.

        Raises IntegrityViolation if the subject or a property does not exist."""

    # --- properties contract: add methods above this line ---


class FeatureFlagRepository(Protocol):
    """Feature flag definitions and their environment, organization and user overrides."""

    def get_by_key(self, key: str) -> FeatureFlag | None:
        """Return the flag with this exact key (with its environment override), or None."""

    def all(self) -> list[FeatureFlag]:
        """Return every flag in creation order."""

    def add(self, flag: FeatureFlag) -> None:
        """Insert a flag. Raises IntegrityViolation if the id or the key is taken."""

    def update(self, flag: FeatureFlag) -> bool:
        """Overwrite a flag's definition and environment override (found by id; the key
        does not change); False if absent."""

    def delete(self, flag_id: str) -> bool:
        """Delete the flag and all its overrides; False if absent."""

    def clear_environment_values(self) -> int:
        """Remove every environment override; return how many flags had one."""

    def clear_overrides(self, flag_id: str, organizations: bool, users: bool) -> None:
        """Remove the flag's organization and/or user overrides (no-op when none)."""

    def organization_exists(self, org_code: str) -> bool:
        """True when an organization has this code."""

    def user_exists(self, user_id: str) -> bool:
        """True when a user has this id."""

    def organization_values(self, org_code: str) -> dict[str, str]:
        """Return the organization's overrides by flag id."""

    def user_values(self, user_id: str) -> dict[str, str]:
        """Return the user's overrides by flag id."""

    def set_organization_value(self, org_code: str, flag_id: str, value: str) -> None:
        """Create or replace an organization override.

        Raises IntegrityViolation if the organization or the flag does not exist."""

    def delete_organization_value(self, org_code: str, flag_id: str) -> bool:
        """Remove one organization override; False if there was none."""

    def clear_organization_values(self, org_code: str) -> int:
        """Remove every override of the organization; return how many there were."""

    def set_user_value(self, user_id: str, flag_id: str, value: str) -> None:
        """Create or replace a user override.

        Raises IntegrityViolation if the user or the flag does not exist."""

    # --- feature_flags contract: add methods above this line ---


class InviteRepository(Protocol):
    """Organization invitations."""

    def organization_exists(self, org_code: str) -> bool:
        """True when an organization with this code exists."""

    def role_names(self, keys: Sequence[str]) -> dict[str, str]:
        """Return the names of the roles with these keys (unknown keys are absent)."""

    def add(self, invite: Invite) -> None:
        """Insert an invite. Raises IntegrityViolation if the code is taken or the
        organization does not exist."""

    def get(self, org_code: str, code: str) -> Invite | None:
        """Return the organization's invite with this code (revoked ones too), or None."""

    def revoke(self, org_code: str, code: str) -> bool:
        """Mark the invite revoked (idempotent); False if the organization has no such
        invite."""

    def list_page(
        self,
        org_code: str,
        sort: str,
        descending: bool,
        after: tuple[str, int] | None,
        limit: int,
        include_revoked: bool,
        include_accepted: bool,
    ) -> list[tuple[tuple[str, int], Invite]]:
        """Return up to ``limit`` invites of the organization after the keyset position
        ``after``, ordered by ``sort`` (``email``, ``name`` or ``created_on``) then
        sequence; revoked and accepted invites only when asked for."""

    # --- invites contract: add methods above this line ---


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

    # --- accounts contract: add methods above this line ---


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


class UnitOfWork(Protocol):
    """The repositories bound to one transaction."""

    admin: AdminRepository

    environment: EnvironmentRepository
    keys: KeyRepository
    applications: ApplicationRepository
    apis: ApiRepository
    users: UserRepository
    organizations: OrganizationRepository
    memberships: MembershipRepository
    roles: RoleRepository
    permissions: PermissionRepository
    properties: PropertyRepository
    feature_flags: FeatureFlagRepository
    invites: InviteRepository
    accounts: AccountRepository
    api_keys: ApiKeyRepository
