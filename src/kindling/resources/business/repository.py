"""Business: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.business.model import Business


class BusinessRepository(Protocol):
    """The environment's one business record."""

    def get(self) -> Business | None:
        """Return the business, or None before it is first written."""

    def add_if_absent(self, business: Business) -> bool:
        """Insert the business unless there is one already (then nothing changes, even
        when another transaction inserted it at the same moment); True if inserted."""

    def update(self, business: Business, changed: Sequence[str]) -> bool:
        """Write the ``changed`` fields of ``business`` (only those, so concurrent updates
        of different fields both last); False (nothing written) when there is no business
        yet. No names, or ``code``, ``created_on`` or an unknown name, raises ValueError."""


BUSINESS_REPO = RepositoryKey[BusinessRepository]("business")
