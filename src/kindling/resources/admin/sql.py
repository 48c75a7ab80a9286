"""Admin console accounts, sessions and failed sign-in attempts."""

from __future__ import annotations

from kindling.platform.engine import Row, Session
from kindling.resources.admin.model import AdminAccount, AdminSession

_ACCOUNT = "id, username, password_hash, created_on, password_changed_on"


def _account(row: Row) -> AdminAccount:
    return AdminAccount(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        created_on=row["created_on"],
        password_changed_on=row["password_changed_on"],
    )


class SqlAdminRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- accounts -----------------------------------------------------------------

    def get_account(self, username: str) -> AdminAccount | None:
        row = self._s.one(f"SELECT {_ACCOUNT} FROM admin_accounts WHERE username = ?", (username,))
        return None if row is None else _account(row)

    def first_account(self) -> AdminAccount | None:
        row = self._s.one(f"SELECT {_ACCOUNT} FROM admin_accounts ORDER BY seq LIMIT 1")
        return None if row is None else _account(row)

    def add_account(self, account_id: str, username: str, password_hash: str, now: str) -> None:
        self._s.execute(
            f"INSERT INTO admin_accounts ({_ACCOUNT}) VALUES (?, ?, ?, ?, ?)",
            (account_id, username, password_hash, now, now),
        )

    def set_password_hash(self, account_id: str, password_hash: str, now: str) -> bool:
        changed = self._s.execute(
            "UPDATE admin_accounts SET password_hash = ?, password_changed_on = ? WHERE id = ?",
            (password_hash, now, account_id),
        )
        return changed > 0

    # --- sessions -----------------------------------------------------------------

    def add_session(
        self,
        token_hash: str,
        account_id: str,
        csrf_token: str,
        created_at: int,
        expires_at: int,
    ) -> None:
        self._s.execute(
            "INSERT INTO admin_sessions (token_hash, account_id, csrf_token, created_at, "
            "expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            (token_hash, account_id, csrf_token, created_at, expires_at, created_at),
        )

    def get_session(self, token_hash: str) -> AdminSession | None:
        row = self._s.one(
            "SELECT s.account_id, a.username, s.csrf_token, s.created_at, s.expires_at, "
            "s.last_seen_at, s.flash FROM admin_sessions s "
            "JOIN admin_accounts a ON a.id = s.account_id WHERE s.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        return AdminSession(
            account_id=row["account_id"],
            username=row["username"],
            csrf_token=row["csrf_token"],
            created_at=int(row["created_at"]),
            expires_at=int(row["expires_at"]),
            last_seen_at=int(row["last_seen_at"]),
            flash=row["flash"],
        )

    def touch_session(self, token_hash: str, now: int) -> None:
        self._s.execute(
            "UPDATE admin_sessions SET last_seen_at = ? WHERE token_hash = ?", (now, token_hash)
        )

    def set_flash(self, token_hash: str, flash: str | None) -> None:
        self._s.execute(
            "UPDATE admin_sessions SET flash = ? WHERE token_hash = ?", (flash, token_hash)
        )

    def delete_session(self, token_hash: str) -> bool:
        return self._s.execute("DELETE FROM admin_sessions WHERE token_hash = ?", (token_hash,)) > 0

    def delete_account_sessions(self, account_id: str) -> int:
        return self._s.execute("DELETE FROM admin_sessions WHERE account_id = ?", (account_id,))

    def delete_expired_sessions(self, now: int) -> int:
        return self._s.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", (now,))

    # --- failed sign-ins ----------------------------------------------------------

    def record_failure(self, username: str, client_ip: str, at: int) -> None:
        self._s.execute(
            "INSERT INTO admin_login_failures (username, client_ip, failed_at) VALUES (?, ?, ?)",
            (username, client_ip, at),
        )

    def count_failures(self, username: str, client_ip: str, since: int) -> int:
        row = self._s.one(
            "SELECT COUNT(*) AS n FROM admin_login_failures "
            "WHERE username = ? AND client_ip = ? AND failed_at > ?",
            (username, client_ip, since),
        )
        return 0 if row is None else int(row["n"])

    def oldest_failure(self, username: str, client_ip: str, since: int) -> int | None:
        row = self._s.one(
            "SELECT MIN(failed_at) AS t FROM admin_login_failures "
            "WHERE username = ? AND client_ip = ? AND failed_at > ?",
            (username, client_ip, since),
        )
        return None if row is None or row["t"] is None else int(row["t"])

    def clear_failures(self, username: str, client_ip: str) -> None:
        self._s.execute(
            "DELETE FROM admin_login_failures WHERE username = ? AND client_ip = ?",
            (username, client_ip),
        )

    def prune_failures(self, before: int) -> int:
        return self._s.execute("DELETE FROM admin_login_failures WHERE failed_at <= ?", (before,))
