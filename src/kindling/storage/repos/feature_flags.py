"""Feature flag definitions and their environment, organization and user overrides."""

from __future__ import annotations

from kindling.storage.engine import Session


class SqlFeatureFlagRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
