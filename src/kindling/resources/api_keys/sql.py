"""API keys: hashed keys with their API and scopes, status and verification record."""

from __future__ import annotations

from collections.abc import Sequence

from kindling.platform.engine import Row, Session
from kindling.resources.api_keys.model import ApiKey

_COLUMNS = (
    "k.seq, k.id, k.name, k.type, k.key_hash, k.key_prefix, k.key_suffix, k.status, k.user_id, "
    "k.org_code, k.created_by, k.created_on, k.last_verified_on, k.last_verified_ip, "
    "k.verification_count"
)


class SqlApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _with_scopes(self, rows: Sequence[Row]) -> list[tuple[int, ApiKey]]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ", ".join("?" for _ in ids)
        apis: dict[str, list[str]] = {i: [] for i in ids}
        scopes: dict[str, list[str]] = {i: [] for i in ids}
        for row in self._s.all(
            "SELECT ks.api_key_id, ks.api_id, s.key FROM api_key_scopes ks "
            "LEFT JOIN api_scopes s ON s.id = ks.scope_id "
            f"WHERE ks.api_key_id IN ({marks}) ORDER BY s.seq",
            ids,
        ):
            if row["api_id"] not in apis[row["api_key_id"]]:
                apis[row["api_key_id"]].append(row["api_id"])
            if row["key"] is not None:
                scopes[row["api_key_id"]].append(row["key"])
        return [
            (
                int(row["seq"]),
                ApiKey(
                    id=row["id"],
                    name=row["name"],
                    type=row["type"],
                    key_hash=row["key_hash"],
                    key_prefix=row["key_prefix"],
                    key_suffix=row["key_suffix"],
                    status=row["status"],
                    user_id=row["user_id"],
                    org_code=row["org_code"],
                    created_by=row["created_by"],
                    created_on=row["created_on"],
                    last_verified_on=row["last_verified_on"],
                    last_verified_ip=row["last_verified_ip"],
                    verification_count=int(row["verification_count"]),
                    api_ids=tuple(apis[row["id"]]),
                    scopes=tuple(scopes[row["id"]]),
                ),
            )
            for row in rows
        ]

    def get(self, key_id: str) -> ApiKey | None:
        rows = self._s.all(f"SELECT {_COLUMNS} FROM api_keys k WHERE k.id = ?", (key_id,))
        found = self._with_scopes(rows)
        return found[0][1] if found else None

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = self._s.all(f"SELECT {_COLUMNS} FROM api_keys k WHERE k.key_hash = ?", (key_hash,))
        found = self._with_scopes(rows)
        return found[0][1] if found else None

    def seq_of(self, key_id: str) -> int | None:
        row = self._s.one("SELECT seq FROM api_keys WHERE id = ?", (key_id,))
        return None if row is None else int(row["seq"])

    def add(self, key: ApiKey, api_id: str, scope_ids: Sequence[str]) -> None:
        self._s.execute(
            "INSERT INTO api_keys (id, name, type, key_hash, key_prefix, key_suffix, status, "
            "user_id, org_code, created_by, created_on, verification_count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                key.id,
                key.name,
                key.type,
                key.key_hash,
                key.key_prefix,
                key.key_suffix,
                key.status,
                key.user_id,
                key.org_code,
                key.created_by,
                key.created_on,
            ),
        )
        rows: list[tuple[str, str, str | None, None]] = [
            (key.id, api_id, sid, None) for sid in scope_ids
        ] or [(key.id, api_id, None, None)]
        self._s.executemany(
            "INSERT INTO api_key_scopes (api_key_id, api_id, scope_id, scope_key) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )

    def list_page(
        self,
        after: int | None,
        limit: int,
        key_type: str | None,
        status: str | None,
        user_id: str | None,
        org_code: str | None,
    ) -> list[tuple[int, ApiKey]]:
        where, params = ["k.seq > ?"], [after or 0]
        for column, value in (
            ("type", key_type),
            ("status", status),
            ("user_id", user_id),
            ("org_code", org_code),
        ):
            if value is not None:
                where.append(f"k.{column} = ?")
                params.append(value)  # type: ignore[arg-type]
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM api_keys k WHERE {' AND '.join(where)} ORDER BY k.seq LIMIT ?",
            (*params, limit),
        )
        return self._with_scopes(rows)

    def set_key(self, key_id: str, key_hash: str, prefix: str, suffix: str) -> None:
        self._s.execute(
            "UPDATE api_keys SET key_hash = ?, key_prefix = ?, key_suffix = ?, status = 'active' "
            "WHERE id = ?",
            (key_hash, prefix, suffix, key_id),
        )

    def set_status(self, key_id: str, status: str) -> bool:
        return self._s.execute("UPDATE api_keys SET status = ? WHERE id = ?", (status, key_id)) > 0

    def record_verification(self, key_id: str, now: str, ip: str | None) -> None:
        self._s.execute(
            "UPDATE api_keys SET verification_count = verification_count + 1, "
            "last_verified_on = ?, last_verified_ip = ? WHERE id = ?",
            (now, ip, key_id),
        )

    def user_exists(self, user_id: str) -> bool:
        return self._s.one("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None

    def org_exists(self, org_code: str) -> bool:
        return self._s.one("SELECT 1 FROM organizations WHERE code = ?", (org_code,)) is not None
