"""Users and their identities: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.users.model import Identity, User, UserSummary


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

    def list_summaries(
        self,
        after: int | None,
        limit: int,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        phones: Sequence[str] = (),
        has_organization: bool | None = None,
    ) -> list[tuple[int, UserSummary]]:
        """``list_page_filtered``'s users, each as ``GET /users`` shows it (a
        ``UserSummary``, without organizations or identities), with its sequence number."""

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


USERS_REPO = RepositoryKey[UserRepository]("users")
