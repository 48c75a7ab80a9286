"""Organization membership: users in organizations, their roles, permissions and API scopes."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlMembershipRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
