"""The environment row: issuer, created date, settings; and the environment's logos."""

from __future__ import annotations

import json
from typing import Any

from kindling.platform.engine import Session

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

    def created_on(self) -> str | None:
        row = self._s.one("SELECT created_on FROM environment WHERE id = ?", (_ID,))
        return None if row is None else str(row["created_on"])

    def settings(self) -> dict[str, Any]:
        row = self._s.one("SELECT settings FROM environment WHERE id = ?", (_ID,))
        value: dict[str, Any] = json.loads(row["settings"]) if row else {}
        return value

    def set_settings(self, settings: dict[str, Any]) -> None:
        self._s.execute(
            "UPDATE environment SET settings = ? WHERE id = ?",
            (json.dumps(settings, sort_keys=True), _ID),
        )

    def logos(self) -> list[tuple[str, str, str]]:
        rows = self._s.all(
            "SELECT type, content_type, created_on FROM environment_logos ORDER BY type"
        )
        return [(r["type"], r["content_type"], r["created_on"]) for r in rows]

    def set_logo(self, type_: str, content_type: str, data: bytes, now: str) -> None:
        self._s.execute("DELETE FROM environment_logos WHERE type = ?", (type_,))
        self._s.execute(
            "INSERT INTO environment_logos (type, content_type, data, created_on) "
            "VALUES (?, ?, ?, ?)",
            (type_, content_type, data, now),
        )

    def delete_logo(self, type_: str) -> bool:
        return self._s.execute("DELETE FROM environment_logos WHERE type = ?", (type_,)) > 0

    def logo_data(self, type_: str) -> tuple[str, bytes] | None:
        row = self._s.one(
            "SELECT content_type, data FROM environment_logos WHERE type = ?", (type_,)
        )
        return None if row is None else (str(row["content_type"]), bytes(row["data"]))
