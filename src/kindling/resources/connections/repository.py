"""Connections: the repository contract services rely on.

Each method states what happens when a row is missing and when a constraint is hit;
the SQL implementation beside it serves both engines, and the storage contract tests
run every method against SQLite and PostgreSQL.

The write-only options travel only as ``sealed_secrets``: bytes the service sealed
(``kindling.crypto.sealing``) and the repository stores and returns untouched. A
``Connection`` never carries them.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.connections.model import Connection


class ConnectionRepository(Protocol):
    """Connections and the index of their home realm domains."""

    def get(self, connection_id: str) -> Connection | None:
        """Return the connection, or None."""

    def position(self, connection_id: str) -> int | None:
        """The connection's sequence number (its place in the listing), or None if absent."""

    def add(self, connection: Connection, sealed_secrets: bytes | None) -> None:
        """Insert a connection and index its home realm domains.

        Raises IntegrityViolation if the id is taken or ``organization_code`` names no
        organization (foreign key).
        """

    def update(self, connection: Connection, sealed_secrets: bytes | None) -> bool:
        """Overwrite name, display name, options, ``updated_on`` and the sealed secrets of
        the connection with ``connection.id`` and re-index its home realm domains; the
        strategy, managing organization and creation time stay. False if it is absent."""

    def sealed_secrets(self, connection_id: str) -> bytes | None:
        """The sealed write-only options as stored; None if there are none or it is absent."""

    def delete(self, connection_id: str) -> bool:
        """Delete the connection; its domains and its organization and application
        enablements go with it (ON DELETE CASCADE). False if absent."""

    def list_page(
        self, home_realm_domain: str | None, after: int | None, before: int | None, limit: int
    ) -> list[Connection]:
        """Up to ``limit`` connections in creation order: those after sequence ``after``,
        or else the last ``limit`` before sequence ``before``; with ``home_realm_domain``
        (normalized) only connections whose domains include it."""


CONNECTIONS_REPO = RepositoryKey[ConnectionRepository]("connections")
