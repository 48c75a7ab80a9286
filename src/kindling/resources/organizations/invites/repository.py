"""Organization invitations: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.organizations.invites.model import Invite


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


INVITES_REPO = RepositoryKey[InviteRepository]("invites")
