"""A user's password, MFA factors and sessions."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlAccountRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
