"""Organizations: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.connections.model import Connection
from kindling.resources.organizations.model import (
    Organization,
    OrganizationFlagRef,
    OrganizationLogo,
)


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


ORGANIZATIONS_REPO = RepositoryKey[OrganizationRepository]("organizations")
