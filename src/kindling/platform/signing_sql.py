"""Signing keys."""

from __future__ import annotations

import json
from typing import Any

from kindling.platform.engine import Row, Session
from kindling.platform.keys import StoredKey


def _key(row: Row) -> StoredKey:
    jwk: dict[str, Any] = json.loads(row["public_jwk"])
    return StoredKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        public_jwk=jwk,
        sealed_private=bytes(row["sealed_private"]),
        status=row["status"],
        created_on=row["created_on"],
        retired_on=row["retired_on"],
    )


class SqlKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list_usable(self) -> list[StoredKey]:
        rows = self._s.all(
            "SELECT * FROM signing_keys WHERE status IN ('active', 'retired') ORDER BY seq DESC"
        )
        return [_key(row) for row in rows]

    def add(self, key: StoredKey) -> None:
        self._s.execute(
            "INSERT INTO signing_keys (kid, algorithm, public_jwk, sealed_private, status, "
            "created_on, retired_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key.kid,
                key.algorithm,
                json.dumps(key.public_jwk, sort_keys=True),
                key.sealed_private,
                key.status,
                key.created_on,
                key.retired_on,
            ),
        )

    def retire_active(self, now: str) -> None:
        self._s.execute(
            "UPDATE signing_keys SET status = 'retired', retired_on = ? WHERE status = 'active'",
            (now,),
        )
