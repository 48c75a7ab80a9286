"""Organizations: the row, its settings, logos, connections."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlOrganizationRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
