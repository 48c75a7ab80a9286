"""Users and their identities (email, username, phone)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from kindling.models import Identity, User
from kindling.storage.engine import Row, Session

_COLUMNS = (
    "seq, id, provided_id, email, username, phone, first_name, last_name, picture, "
    "is_suspended, is_password_reset_requested, total_sign_ins, failed_sign_ins, "
    "last_signed_in, created_on"
)


def _user(row: Row, identities: Sequence[Identity] = ()) -> User:
    return User(
        id=row["id"],
        provided_id=row["provided_id"],
        email=row["email"],
        username=row["username"],
        phone=row["phone"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        picture=row["picture"],
        is_suspended=bool(row["is_suspended"]),
        is_password_reset_requested=bool(row["is_password_reset_requested"]),
        total_sign_ins=int(row["total_sign_ins"]),
        failed_sign_ins=int(row["failed_sign_ins"]),
        last_signed_in=row["last_signed_in"],
        created_on=row["created_on"],
        identities=tuple(identities),
    )


def _identity(row: Row) -> Identity:
    return Identity(
        id=row["id"],
        user_id=row["user_id"],
        type=row["type"],
        value=row["value"],
        is_verified=bool(row["is_verified"]),
        is_primary=bool(row["is_primary"]),
        created_on=row["created_on"],
    )


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, user_id: str) -> User | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        if row is None:
            return None
        return _user(row, self.identities([user_id]).get(user_id, []))

    def add(self, user: User) -> None:
        self._s.execute(
            "INSERT INTO users (id, provided_id, email, username, phone, first_name, last_name, "
            "picture, is_suspended, is_password_reset_requested, total_sign_ins, "
            "failed_sign_ins, last_signed_in, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user.id,
                user.provided_id,
                user.email,
                user.username,
                user.phone,
                user.first_name,
                user.last_name,
                user.picture,
                user.is_suspended,
                user.is_password_reset_requested,
                user.total_sign_ins,
                user.failed_sign_ins,
                user.last_signed_in,
                user.created_on,
            ),
        )
        self._s.executemany(
            "INSERT INTO user_identities (id, user_id, type, value, normalized, is_verified, "
            "is_primary, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i.id,
                    user.id,
                    i.type,
                    i.value,
                    normalize_identity(i.type, i.value),
                    i.is_verified,
                    i.is_primary,
                    i.created_on,
                )
                for i in user.identities
            ],
        )

    def update(self, user: User) -> None:
        self._s.execute(
            "UPDATE users SET provided_id = ?, first_name = ?, last_name = ?, picture = ?, "
            "is_suspended = ?, is_password_reset_requested = ? WHERE id = ?",
            (
                user.provided_id,
                user.first_name,
                user.last_name,
                user.picture,
                user.is_suspended,
                user.is_password_reset_requested,
                user.id,
            ),
        )

    def delete(self, user_id: str) -> bool:
        self._s.execute("DELETE FROM user_identities WHERE user_id = ?", (user_id,))
        return self._s.execute("DELETE FROM users WHERE id = ?", (user_id,)) > 0

    def list_page(
        self,
        after: int | None,
        limit: int,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        phones: Sequence[str] = (),
    ) -> list[tuple[int, User]]:
        where = ["u.seq > ?"]
        params: list[object] = [after or 0]
        if user_ids:
            where.append(f"u.id IN {_in(user_ids)}")
            params.extend(user_ids)
        for kind, values in (("email", emails), ("username", usernames), ("phone", phones)):
            if values:
                where.append(
                    "u.id IN (SELECT user_id FROM user_identities WHERE type = ? "
                    f"AND normalized IN {_in(values)})"
                )
                params.append(kind)
                params.extend(values)
        params.append(limit)
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM users u WHERE {' AND '.join(where)} ORDER BY u.seq LIMIT ?",
            params,
        )
        return [(int(row["seq"]), _user(row)) for row in rows]

    def identities(self, user_ids: Sequence[str]) -> dict[str, list[Identity]]:
        if not user_ids:
            return {}
        rows = self._s.all(
            "SELECT id, user_id, type, value, is_verified, is_primary, created_on "
            f"FROM user_identities WHERE user_id IN {_in(user_ids)} ORDER BY seq",
            list(user_ids),
        )
        grouped: dict[str, list[Identity]] = {}
        for row in rows:
            grouped.setdefault(row["user_id"], []).append(_identity(row))
        return grouped


def normalize_identity(kind: str, value: str) -> str:
    """The form on which identities are unique: NFC, trimmed, case-folded (not phones)."""
    text = unicodedata.normalize("NFC", value).strip()
    return text if kind == "phone" else text.casefold()
