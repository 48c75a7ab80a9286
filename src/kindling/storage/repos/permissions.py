"""Permissions."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlPermissionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
