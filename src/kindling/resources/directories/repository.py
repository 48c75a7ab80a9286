"""SCIM directories: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.connections.model import Connection
from kindling.resources.directories.model import Directory


class DirectoryRepository(Protocol):
    """SCIM directories, at most one per organization; tokens only as keyed hashes."""

    def get(self, directory_id: str) -> Directory | None:
        """Return the directory (with its connection's name), or None."""

    def get_by_organization(self, org_code: str) -> Directory | None:
        """Return the organization's directory, or None."""

    def get_by_endpoint(self, endpoint_id: str) -> Directory | None:
        """Return the directory with this SCIM endpoint id, or None."""

    def seq_of(self, directory_id: str) -> int | None:
        """The sequence number of a directory (for ``starting_after``), or None."""

    def add(self, directory: Directory) -> None:
        """Insert a directory (``enterprise_connection_name`` is not stored: it is read
        from the connection). Raises IntegrityViolation if the organization already has
        a directory, if its id, endpoint id or token hash is taken, or if the
        organization or connection does not exist."""

    def rename(self, directory_id: str, directory_name: str) -> bool:
        """Set the directory's name; False (nothing written) if it is absent."""

    def delete(self, directory_id: str) -> bool:
        """Delete the directory; False if absent."""

    def list_page(
        self, after: int | None, limit: int, org_code: str | None
    ) -> list[tuple[int, Directory]]:
        """Up to ``limit`` directories after sequence ``after``, oldest first; only the
        organization's when ``org_code`` is given."""

    def organization_exists(self, org_code: str) -> bool:
        """True when the organization exists."""

    def enabled_connections(self, org_code: str) -> list[Connection]:
        """The connections enabled for the organization, oldest first (empty if none or
        if the organization does not exist)."""


DIRECTORIES_REPO = RepositoryKey[DirectoryRepository]("directories")
