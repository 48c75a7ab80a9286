"""The environment row: issuer, created date, settings; and the environment's logos."""

from __future__ import annotations

import json
from typing import Any

from kindling.platform.engine import Session

_ID = "default"
#: The first key of the set-up's PostgreSQL advisory lock; the second is the hash of the
#: schema, so instances of other schemas in the same database do not wait for each other.
#: (The migrations' lock, ``platform/migrations.py``, is 7244511.)
SET_UP_LOCK = 7244512


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

    def lock_set_up(self, wait: float) -> None:
        if self._s.dialect != "postgres":
            return  # BEGIN IMMEDIATE: the write transaction holds SQLite's write lock
        # The engine bounds every lock wait and statement (lock_timeout, statement_timeout:
        # seconds), far less than another instance's first run may hold this lock. Lift
        # both to ``wait`` for this one statement, then put them back for the rest.
        saved = self._s.one(
            "SELECT current_setting('lock_timeout') AS lock_timeout, "
            "current_setting('statement_timeout') AS statement_timeout"
        )
        assert saved is not None
        bound = f"{max(1, round(wait * 1000))}ms"
        self._set_timeouts(bound, bound)
        self._s.one(f"SELECT pg_advisory_xact_lock({SET_UP_LOCK}, hashtext(current_schema()))")
        self._set_timeouts(str(saved["lock_timeout"]), str(saved["statement_timeout"]))

    def _set_timeouts(self, lock_timeout: str, statement_timeout: str) -> None:
        """PostgreSQL's two bounds, for the rest of this transaction (``SET LOCAL``)."""
        self._s.one(
            "SELECT set_config('lock_timeout', ?, true) AS lock_timeout, "
            "set_config('statement_timeout', ?, true) AS statement_timeout",
            (lock_timeout, statement_timeout),
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
