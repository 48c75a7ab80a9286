"""Organization invitations."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlInviteRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
