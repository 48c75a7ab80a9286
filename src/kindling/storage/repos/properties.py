"""Property definitions and categories, and property values of users and organizations."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlPropertyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
