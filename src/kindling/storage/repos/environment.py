"""Environment row: the issuer."""

from __future__ import annotations

from kindling.storage.engine import Session

_ID = "default"


class SqlEnvironmentRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get_issuer(self) -> str | None:
        row = self._s.one("SELECT issuer FROM environment WHERE id = ?", (_ID,))
        return None if row is None else str(row["issuer"])

    def set_issuer(self, issuer: str, now: str) -> None:
        if self._s.execute("UPDATE environment SET issuer = ? WHERE id = ?", (issuer, _ID)) == 0:
            self._s.execute(
                "INSERT INTO environment (id, issuer, created_on) VALUES (?, ?, ?)",
                (_ID, issuer, now),
            )
