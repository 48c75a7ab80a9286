"""A user's identities (the Identities resource), password hash, MFA factors and sessions."""

from __future__ import annotations

import json
from typing import Any

from kindling.platform.engine import Row, Session
from kindling.resources.users.accounts.model import MfaFactor, PasswordHash, UserSession
from kindling.resources.users.model import Identity, identity_key
from kindling.resources.users.sql import IDENTITY_COLUMNS, identity_from_row

_IDENTITY_COLUMNS = "seq, " + IDENTITY_COLUMNS
#: Identity types mirrored into a column of ``users`` (the user's primary one).
USER_COLUMNS = {"email": "email", "username": "username", "phone": "phone"}


def _factor(row: Row) -> MfaFactor:
    return MfaFactor(
        id=row["id"],
        user_id=row["user_id"],
        type=row["type"],
        created_on=row["created_on"],
        org_code=row["org_code"],
        name=row["name"],
    )


def _session(row: Row) -> UserSession:
    return UserSession(
        id=row["id"],
        user_id=row["user_id"],
        created_on=row["created_on"],
        org_code=row["org_code"],
        client_id=row["client_id"],
        user_agent=row["user_agent"],
        ip_address=row["ip_address"],
        expires_on=row["expires_on"],
        last_active_on=row["last_active_on"],
    )


class SqlAccountRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- identities ---------------------------------------------------------

    def get_identity(self, identity_id: str) -> Identity | None:
        row = self._s.one(
            f"SELECT {_IDENTITY_COLUMNS} FROM user_identities WHERE id = ?", (identity_id,)
        )
        return None if row is None else identity_from_row(row)

    def identity_seq(self, user_id: str, identity_id: str) -> int | None:
        row = self._s.one(
            "SELECT seq FROM user_identities WHERE id = ? AND user_id = ?",
            (identity_id, user_id),
        )
        return None if row is None else int(row["seq"])

    def list_identities(
        self, user_id: str, after: int | None, before: int | None, limit: int
    ) -> list[Identity]:
        if before is not None:
            rows = self._s.all(
                f"SELECT {_IDENTITY_COLUMNS} FROM user_identities "
                "WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                (user_id, before, limit),
            )
            rows = list(reversed(rows))
        else:
            rows = self._s.all(
                f"SELECT {_IDENTITY_COLUMNS} FROM user_identities "
                "WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (user_id, after or 0, limit),
            )
        return [identity_from_row(row) for row in rows]

    def add_identity(self, identity: Identity) -> None:
        self._s.execute(
            "INSERT INTO user_identities (id, user_id, type, value, normalized, is_verified, "
            "is_primary, created_on, connection_id, total_logins, last_login_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                identity.id,
                identity.user_id,
                identity.type,
                identity.value,
                identity_key(identity.type, identity.value, identity.connection_id),
                identity.is_verified,
                identity.is_primary,
                identity.created_on,
                identity.connection_id,
                identity.total_logins,
                identity.last_login_on,
            ),
        )

    def primary_identity(self, user_id: str, kind: str) -> Identity | None:
        row = self._s.one(
            f"SELECT {_IDENTITY_COLUMNS} FROM user_identities "
            "WHERE user_id = ? AND type = ? ORDER BY is_primary DESC, seq LIMIT 1",
            (user_id, kind),
        )
        return None if row is None else identity_from_row(row)

    def lock_user(self, user_id: str) -> bool:
        # A no-op update takes the row lock on PostgreSQL (SQLite writers are serialized).
        changed = self._s.execute("UPDATE users SET id = id WHERE id = ?", (user_id,))
        return changed > 0

    def set_primary(self, user_id: str, kind: str, identity_id: str | None) -> None:
        # Demote first: the partial unique index allows one primary per user and type.
        self._s.execute(
            "UPDATE user_identities SET is_primary = ? "
            "WHERE user_id = ? AND type = ? AND is_primary AND id <> ?",
            (False, user_id, kind, identity_id or ""),
        )
        if identity_id is not None:
            self._s.execute(
                "UPDATE user_identities SET is_primary = ? WHERE id = ? AND user_id = ?",
                (True, identity_id, user_id),
            )
        column = USER_COLUMNS.get(kind)
        if column is not None:
            value = self._s.one(
                "SELECT value FROM user_identities WHERE id = ? AND user_id = ?",
                (identity_id, user_id),
            )
            self._s.execute(
                f"UPDATE users SET {column} = ? WHERE id = ?",
                (None if value is None else value["value"], user_id),
            )

    def delete_identity(self, identity_id: str) -> bool:
        return self._s.execute("DELETE FROM user_identities WHERE id = ?", (identity_id,)) > 0

    def connection_exists(self, connection_id: str) -> bool:
        return self._s.one("SELECT 1 FROM connections WHERE id = ?", (connection_id,)) is not None

    # --- password -----------------------------------------------------------

    def set_password(self, password: PasswordHash) -> None:
        self._s.execute("DELETE FROM user_passwords WHERE user_id = ?", (password.user_id,))
        self._s.execute(
            "INSERT INTO user_passwords (user_id, password_hash, hashing_method, is_temporary, "
            "updated_on, hash_params) VALUES (?, ?, ?, ?, ?, ?)",
            (
                password.user_id,
                password.password_hash,
                password.hashing_method,
                password.is_temporary,
                password.updated_on,
                json.dumps(password.params, sort_keys=True),
            ),
        )

    def get_password(self, user_id: str) -> PasswordHash | None:
        row = self._s.one(
            "SELECT user_id, password_hash, hashing_method, is_temporary, updated_on, "
            "hash_params FROM user_passwords WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return None
        params: dict[str, Any] = json.loads(row["hash_params"] or "{}")
        return PasswordHash(
            user_id=row["user_id"],
            password_hash=row["password_hash"],
            hashing_method=row["hashing_method"],
            is_temporary=bool(row["is_temporary"]),
            updated_on=row["updated_on"],
            params=params,
        )

    # --- MFA ----------------------------------------------------------------

    def mfa_factors(self, user_id: str) -> list[MfaFactor]:
        rows = self._s.all(
            "SELECT id, user_id, type, created_on, org_code, name FROM user_mfa_factors "
            "WHERE user_id = ? AND org_code IS NULL ORDER BY seq",
            (user_id,),
        )
        return [_factor(row) for row in rows]

    def delete_mfa_factors(self, user_id: str) -> int:
        return self._s.execute(
            "DELETE FROM user_mfa_factors WHERE user_id = ? AND org_code IS NULL", (user_id,)
        )

    def delete_mfa_factor(self, user_id: str, factor_id: str) -> bool:
        deleted = self._s.execute(
            "DELETE FROM user_mfa_factors WHERE id = ? AND user_id = ? AND org_code IS NULL",
            (factor_id, user_id),
        )
        return deleted > 0

    # --- sessions -----------------------------------------------------------

    def sessions(self, user_id: str, limit: int) -> list[UserSession]:
        rows = self._s.all(
            "SELECT id, user_id, created_on, org_code, client_id, user_agent, ip_address, "
            "expires_on, last_active_on FROM user_sessions WHERE user_id = ? "
            "ORDER BY seq LIMIT ?",
            (user_id, limit),
        )
        return [_session(row) for row in rows]

    def delete_sessions(self, user_id: str) -> int:
        return self._s.execute("DELETE FROM user_sessions WHERE user_id = ?", (user_id,))
