"""Applications and their secrets: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.applications.model import Application, ApplicationSecret


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

    def connection_applications(self, connection_id: str) -> list[str]:
        """The ids of the applications that have the connection enabled, oldest application
        first; [] if none do or the connection does not exist."""

    def property_values(self, application_id: str) -> dict[str, str]:
        """Public (non-private) property values of the application, by property key."""

    def org_exists(self, org_code: str) -> bool:
        """True when an organization with this code exists.

        On PostgreSQL the row is share-locked until the transaction ends, so an
        organization cannot be deleted between this check and the insert of an
        application scoped to it (the delete waits, then finds the application)."""

    def organization_applications(self, org_code: str) -> list[Application]:
        """The applications scoped to the organization (``org_code``), oldest first; [] if
        there are none or the organization does not exist."""

    def add_secret(self, secret: ApplicationSecret) -> None:
        """Attach a secret hash to an application."""

    def secrets(self, application_id: str) -> list[ApplicationSecret]:
        """Return the application's secret hashes, newest first (expired ones included)."""

    def expire_secrets(self, application_id: str, expires_at: int, except_id: str) -> None:
        """Give every other secret of the application an expiry no later than ``expires_at``."""

    def client_state(self) -> int:
        """The change counter of everything a client record is read from (``client_state``,
        moved by triggers: see ``platform/schema/v0023_client_state.py``); equal values
        mean no such change was committed in between."""


APPLICATIONS_REPO = RepositoryKey[ApplicationRepository]("applications")
