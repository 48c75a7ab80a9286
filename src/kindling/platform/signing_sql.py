"""Signing keys, revoked tokens and their change counter, in portable SQL."""

from __future__ import annotations

import json
from typing import Any

from kindling.platform.engine import Row, Session
from kindling.platform.keys import RevokedToken, StoredKey

_STATE = "default"


def _key(row: Row) -> StoredKey:
    jwk: dict[str, Any] = json.loads(row["public_jwk"])
    activates_at, publish_until = row["activates_at"], row["publish_until"]
    return StoredKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        public_jwk=jwk,
        sealed_private=bytes(row["sealed_private"]),
        status=row["status"],
        created_on=row["created_on"],
        retired_on=row["retired_on"],
        activates_at=None if activates_at is None else int(activates_at),
        publish_until=None if publish_until is None else int(publish_until),
        revoked_on=row["revoked_on"],
    )


class SqlKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list_usable(self) -> list[StoredKey]:
        rows = self._s.all(
            "SELECT * FROM signing_keys WHERE status IN ('next', 'active', 'retired') "
            "ORDER BY seq DESC"
        )
        return [_key(row) for row in rows]

    def list_all(self) -> list[StoredKey]:
        return [_key(row) for row in self._s.all("SELECT * FROM signing_keys ORDER BY seq DESC")]

    def get(self, kid: str) -> StoredKey | None:
        row = self._s.one("SELECT * FROM signing_keys WHERE kid = ?", (kid,))
        return None if row is None else _key(row)

    def add(self, key: StoredKey) -> None:
        self._s.execute(
            "INSERT INTO signing_keys (kid, algorithm, public_jwk, sealed_private, status, "
            "created_on, retired_on, activates_at, publish_until, revoked_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.kid,
                key.algorithm,
                json.dumps(key.public_jwk, sort_keys=True),
                key.sealed_private,
                key.status,
                key.created_on,
                key.retired_on,
                key.activates_at,
                key.publish_until,
                key.revoked_on,
            ),
        )

    def retire_active(self, now: str) -> None:
        self._s.execute(
            "UPDATE signing_keys SET status = 'retired', retired_on = ? WHERE status = 'active'",
            (now,),
        )

    def update_state(self, key: StoredKey) -> None:
        self._s.execute(
            "UPDATE signing_keys SET status = ?, retired_on = ?, activates_at = ?, "
            "publish_until = ?, revoked_on = ? WHERE kid = ?",
            (
                key.status,
                key.retired_on,
                key.activates_at,
                key.publish_until,
                key.revoked_on,
                key.kid,
            ),
        )

    def version(self) -> int:
        row = self._s.one("SELECT version FROM token_state WHERE id = ?", (_STATE,))
        return 0 if row is None else int(row["version"])

    def bump_version(self) -> int:
        self._s.execute("UPDATE token_state SET version = version + 1 WHERE id = ?", (_STATE,))
        return self.version()

    def seal_check(self) -> str | None:
        row = self._s.one("SELECT seal_check FROM token_state WHERE id = ?", (_STATE,))
        return None if row is None else row["seal_check"]

    def set_seal_check(self, value: str) -> None:
        self._s.execute("UPDATE token_state SET seal_check = ? WHERE id = ?", (value, _STATE))

    def revoke_token(self, token: RevokedToken, version: int) -> bool:
        changed = self._s.execute(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_on, version) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING",
            (token.jti, token.client_id, token.expires_at, token.revoked_on, version),
        )
        return changed > 0

    def is_token_revoked(self, jti: str) -> bool:
        return self._s.one("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)) is not None

    def revoked_since(self, version: int, unexpired_at: int) -> list[RevokedToken]:
        rows = self._s.all(
            "SELECT jti, client_id, expires_at, revoked_on FROM revoked_tokens "
            "WHERE version > ? AND expires_at > ?",
            (version, unexpired_at),
        )
        return [
            RevokedToken(
                jti=row["jti"],
                client_id=row["client_id"],
                expires_at=int(row["expires_at"]),
                revoked_on=row["revoked_on"],
            )
            for row in rows
        ]

    def prune_revoked(self, expired_before: int) -> int:
        return self._s.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (expired_before,))
