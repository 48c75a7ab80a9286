"""Feature flag definitions and their environment, organization and user overrides."""

from __future__ import annotations

from kindling.platform.engine import Row, Session
from kindling.resources.feature_flags.model import FeatureFlag

_COLUMNS = (
    "id, key, name, description, type, allow_override_level, default_value, "
    "environment_value, created_on"
)


def _flag(row: Row) -> FeatureFlag:
    return FeatureFlag(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        type=row["type"],
        allow_override_level=row["allow_override_level"] or "env",
        default_value=row["default_value"],
        environment_value=row["environment_value"],
        created_on=row["created_on"],
    )


class SqlFeatureFlagRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get_by_key(self, key: str) -> FeatureFlag | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM feature_flags WHERE key = ?", (key,))
        return None if row is None else _flag(row)

    def all(self) -> list[FeatureFlag]:
        return [
            _flag(row) for row in self._s.all(f"SELECT {_COLUMNS} FROM feature_flags ORDER BY seq")
        ]

    def add(self, flag: FeatureFlag) -> None:
        self._s.execute(
            "INSERT INTO feature_flags (id, key, name, description, type, allow_override_level, "
            "default_value, environment_value, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                flag.id,
                flag.key,
                flag.name,
                flag.description,
                flag.type,
                flag.allow_override_level,
                flag.default_value,
                flag.environment_value,
                flag.created_on,
            ),
        )

    def update(self, flag: FeatureFlag) -> bool:
        changed = self._s.execute(
            "UPDATE feature_flags SET name = ?, description = ?, type = ?, "
            "allow_override_level = ?, default_value = ?, environment_value = ? WHERE id = ?",
            (
                flag.name,
                flag.description,
                flag.type,
                flag.allow_override_level,
                flag.default_value,
                flag.environment_value,
                flag.id,
            ),
        )
        return changed > 0

    def delete(self, flag_id: str) -> bool:
        return self._s.execute("DELETE FROM feature_flags WHERE id = ?", (flag_id,)) > 0

    def clear_environment_values(self) -> int:
        return self._s.execute(
            "UPDATE feature_flags SET environment_value = NULL WHERE environment_value IS NOT NULL"
        )

    def clear_overrides(self, flag_id: str, organizations: bool, users: bool) -> None:
        if organizations:
            self._s.execute("DELETE FROM organization_feature_flags WHERE flag_id = ?", (flag_id,))
        if users:
            self._s.execute("DELETE FROM user_feature_flags WHERE flag_id = ?", (flag_id,))

    def organization_exists(self, org_code: str) -> bool:
        return self._s.one("SELECT 1 FROM organizations WHERE code = ?", (org_code,)) is not None

    def user_exists(self, user_id: str) -> bool:
        return self._s.one("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None

    def organization_values(self, org_code: str) -> dict[str, str]:
        rows = self._s.all(
            "SELECT flag_id, value FROM organization_feature_flags WHERE org_code = ?", (org_code,)
        )
        return {row["flag_id"]: row["value"] for row in rows}

    def set_organization_value(self, org_code: str, flag_id: str, value: str) -> None:
        self._s.execute(
            "INSERT INTO organization_feature_flags (org_code, flag_id, value) VALUES (?, ?, ?) "
            "ON CONFLICT (org_code, flag_id) DO UPDATE SET value = excluded.value",
            (org_code, flag_id, value),
        )

    def delete_organization_value(self, org_code: str, flag_id: str) -> bool:
        return (
            self._s.execute(
                "DELETE FROM organization_feature_flags WHERE org_code = ? AND flag_id = ?",
                (org_code, flag_id),
            )
            > 0
        )

    def clear_organization_values(self, org_code: str) -> int:
        return self._s.execute(
            "DELETE FROM organization_feature_flags WHERE org_code = ?", (org_code,)
        )

    def user_values(self, user_id: str) -> dict[str, str]:
        rows = self._s.all(
            "SELECT flag_id, value FROM user_feature_flags WHERE user_id = ?", (user_id,)
        )
        return {row["flag_id"]: row["value"] for row in rows}

    def set_user_value(self, user_id: str, flag_id: str, value: str) -> None:
        self._s.execute(
            "INSERT INTO user_feature_flags (user_id, flag_id, value) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, flag_id) DO UPDATE SET value = excluded.value",
            (user_id, flag_id, value),
        )
