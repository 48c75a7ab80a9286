"""Roles with their permissions, API scopes and system permissions."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlRoleRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
