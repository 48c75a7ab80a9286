"""The storage interface: repository contracts that services and the OAuth core rely on.

Each method states what happens when a row is missing and when a uniqueness rule
is hit. Both engines (SQLite, PostgreSQL) implement these contracts with the same
SQL repositories in ``kindling.storage.repos``; the storage tests run against both.
Lists use keyset pagination on an internal sequence number: ``after`` is the last
sequence number already returned and results are ordered by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.models import (
    Api,
    ApiAuthorization,
    ApiScope,
    Application,
    ApplicationSecret,
    Identity,
    StoredKey,
    User,
)


class EnvironmentRepository(Protocol):
    def get_issuer(self) -> str | None:
        """Return the environment's issuer, or None before first run."""

    def set_issuer(self, issuer: str, now: str) -> None:
        """Create the environment or change its issuer."""


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

    def scopes(self, api_id: str) -> list[ApiScope]:
        """Return the API's scopes in creation order."""

    def add_scopes(self, scopes: Sequence[ApiScope]) -> None:
        """Insert scopes. Raises IntegrityViolation if a key already exists for the API."""

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


class OrganizationRepository(Protocol):
    """Organizations: the row, its settings, logos, connections."""

    # --- organizations contract: add methods above this line ---


class MembershipRepository(Protocol):
    """Organization membership: users in organizations, their roles, permissions and API scopes."""

    # --- memberships contract: add methods above this line ---


class RoleRepository(Protocol):
    """Roles with their permissions, API scopes and system permissions."""

    # --- roles contract: add methods above this line ---


class PermissionRepository(Protocol):
    """Permissions."""

    # --- permissions contract: add methods above this line ---


class PropertyRepository(Protocol):
    """Property definitions and categories, and property values of users and organizations."""

    # --- properties contract: add methods above this line ---


class FeatureFlagRepository(Protocol):
    """Feature flag definitions and their environment, organization and user overrides."""

    # --- feature_flags contract: add methods above this line ---


class InviteRepository(Protocol):
    """Organization invitations."""

    # --- invites contract: add methods above this line ---


class AccountRepository(Protocol):
    """A user's password, MFA factors and sessions."""

    # --- accounts contract: add methods above this line ---


class UnitOfWork(Protocol):
    """The repositories bound to one transaction."""

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
