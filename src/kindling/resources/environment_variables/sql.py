"""Environment variables."""

from __future__ import annotations

from kindling.platform.engine import Session
from kindling.resources.environment_variables.model import (
    EnvironmentVariable,
    environment_variable_from_row,
)

_COLUMNS = "seq, id, key, is_secret, value, sealed_value, created_on"


class SqlEnvironmentVariableRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, variable_id: str) -> EnvironmentVariable | None:
        row = self._s.one(
            f"SELECT {_COLUMNS} FROM environment_variables WHERE id = ?", (variable_id,)
        )
        return None if row is None else environment_variable_from_row(row)

    def get_by_key(self, key: str) -> EnvironmentVariable | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM environment_variables WHERE key = ?", (key,))
        return None if row is None else environment_variable_from_row(row)

    def add(self, variable: EnvironmentVariable) -> None:
        self._s.execute(
            "INSERT INTO environment_variables "
            "(id, key, is_secret, value, sealed_value, created_on) VALUES (?, ?, ?, ?, ?, ?)",
            (
                variable.id,
                variable.key,
                variable.is_secret,
                variable.value,
                variable.sealed_value,
                variable.created_on,
            ),
        )

    def update(self, variable: EnvironmentVariable) -> bool:
        changed = self._s.execute(
            "UPDATE environment_variables SET key = ?, is_secret = ?, value = ?, "
            "sealed_value = ? WHERE id = ?",
            (
                variable.key,
                variable.is_secret,
                variable.value,
                variable.sealed_value,
                variable.id,
            ),
        )
        return changed > 0

    def delete(self, variable_id: str) -> bool:
        return self._s.execute("DELETE FROM environment_variables WHERE id = ?", (variable_id,)) > 0

    def list_all(self) -> list[EnvironmentVariable]:
        rows = self._s.all(f"SELECT {_COLUMNS} FROM environment_variables ORDER BY seq")
        return [environment_variable_from_row(row) for row in rows]
