"""Users and their identities (email, username, phone)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from kindling.platform.engine import SQLITE_FOLD, Row, Session, fold_case
from kindling.resources.users.model import (
    Identity,
    User,
    UserSummary,
    identity_key,
    normalize_identity,
)

_COLUMNS = (
    "seq, id, provided_id, email, username, phone, first_name, last_name, picture, "
    "is_suspended, is_password_reset_requested, total_sign_ins, failed_sign_ins, "
    "last_signed_in, created_on"
)
#: What ``GET /users`` shows of a user, in ``UserSummary``'s order, after the keyset position.
_SUMMARY_COLUMNS = (
    "u.seq, u.id, u.provided_id, u.phone, u.username, u.first_name, u.last_name, "
    "u.is_suspended, u.picture, u.total_sign_ins, u.failed_sign_ins, u.last_signed_in, "
    "u.created_on, u.email"
)
#: ``_SUMMARY_COLUMNS`` on SQLite: the five columns most users leave empty (provided id,
#: phone, username, picture, last sign-in) come as one value, NULL when all five are, else
#: a JSON array of the five. sqlite3 pays ~550 instructions per value it hands over (each
#: column read locks the connection's mutex), so a page of 100 users with an email only
#: costs 1.35 M instructions instead of 1.58 M to fetch; with all five set, 2 % more than
#: fetching them one by one (the array's decoding). Measured with cachegrind, 101 rows.
_SQLITE_SUMMARY_COLUMNS = (
    "u.seq, u.id, u.first_name, u.last_name, u.is_suspended, u.total_sign_ins, "
    "u.failed_sign_ins, u.created_on, u.email, "
    "CASE WHEN u.provided_id IS NULL AND u.phone IS NULL AND u.username IS NULL "
    "AND u.picture IS NULL AND u.last_signed_in IS NULL THEN NULL "
    "ELSE json_array(u.provided_id, u.phone, u.username, u.picture, u.last_signed_in) END"
)
_SPARSE = msgspec.json.Decoder(tuple[str | None, str | None, str | None, str | None, str | None])


_USER_INSERT_COLUMNS = (
    "id",
    "provided_id",
    "email",
    "username",
    "phone",
    "first_name",
    "last_name",
    "picture",
    "is_suspended",
    "is_password_reset_requested",
    "total_sign_ins",
    "failed_sign_ins",
    "last_signed_in",
    "created_on",
)
_IDENTITY_INSERT_COLUMNS = (
    "id",
    "user_id",
    "type",
    "value",
    "normalized",
    "is_verified",
    "is_primary",
    "created_on",
    "connection_id",
    "total_logins",
    "last_login_on",
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


IDENTITY_COLUMNS = (
    "id, user_id, type, value, is_verified, is_primary, created_on, connection_id, "
    "total_logins, last_login_on"
)


def identity_from_row(row: Row) -> Identity:
    """Map a ``user_identities`` row selected with ``IDENTITY_COLUMNS``."""
    return Identity(
        id=row["id"],
        user_id=row["user_id"],
        type=row["type"],
        value=row["value"],
        is_verified=bool(row["is_verified"]),
        is_primary=bool(row["is_primary"]),
        created_on=row["created_on"],
        connection_id=row["connection_id"],
        total_logins=int(row["total_logins"] or 0),
        last_login_on=row["last_login_on"],
    )


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


def _listing_filter(
    after: int | None,
    limit: int,
    user_ids: Sequence[str],
    emails: Sequence[str],
    usernames: Sequence[str],
    phones: Sequence[str],
    has_organization: bool | None,
) -> tuple[str, list[object]]:
    """The ``WHERE`` clause of ``GET /users`` over ``users u`` and its parameters, the
    ``LIMIT``'s last: keyset position, ids, identities, organization membership."""
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
    if has_organization is not None:
        negate = "" if has_organization else "NOT "
        where.append(f"{negate}EXISTS (SELECT 1 FROM organization_users m WHERE m.user_id = u.id)")
    params.append(limit)
    return " AND ".join(where), params


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, user_id: str) -> User | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        if row is None:
            return None
        return _user(row, self.identities([user_id]).get(user_id, []))

    def add(self, user: User) -> None:
        self.add_many([user])

    def add_many(self, users: Sequence[User]) -> None:
        """Insert users and their identities with the engine's bulk path (COPY on PostgreSQL).

        Identities are stored whole (connection and login counters included) and keyed
        with ``identity_key``, the same uniqueness rule as ``AccountRepository.add_identity``.
        """
        self._s.bulk_insert(
            "users",
            _USER_INSERT_COLUMNS,
            [
                (
                    u.id,
                    u.provided_id,
                    u.email,
                    u.username,
                    u.phone,
                    u.first_name,
                    u.last_name,
                    u.picture,
                    u.is_suspended,
                    u.is_password_reset_requested,
                    u.total_sign_ins,
                    u.failed_sign_ins,
                    u.last_signed_in,
                    u.created_on,
                )
                for u in users
            ],
        )
        self._s.bulk_insert(
            "user_identities",
            _IDENTITY_INSERT_COLUMNS,
            [
                (
                    i.id,
                    u.id,
                    i.type,
                    i.value,
                    identity_key(i.type, i.value, i.connection_id),
                    i.is_verified,
                    i.is_primary,
                    i.created_on,
                    i.connection_id,
                    i.total_logins,
                    i.last_login_on,
                )
                for u in users
                for i in u.identities
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
        return self.list_page_filtered(after, limit, user_ids, emails, usernames, phones)

    def list_page_filtered(
        self,
        after: int | None,
        limit: int,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        phones: Sequence[str] = (),
        has_organization: bool | None = None,
    ) -> list[tuple[int, User]]:
        where, params = _listing_filter(
            after, limit, user_ids, emails, usernames, phones, has_organization
        )
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM users u WHERE {where} ORDER BY u.seq LIMIT ?", params
        )
        return [(int(row["seq"]), _user(row)) for row in rows]

    def list_summaries(
        self,
        after: int | None,
        limit: int,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        phones: Sequence[str] = (),
        has_organization: bool | None = None,
    ) -> list[tuple[int, UserSummary]]:
        where, params = _listing_filter(
            after, limit, user_ids, emails, usernames, phones, has_organization
        )
        if self._s.dialect == "sqlite":
            return self._sqlite_summaries(where, params)
        rows = self._s.values(
            f"SELECT {_SUMMARY_COLUMNS} FROM users u WHERE {where} ORDER BY u.seq LIMIT ?", params
        )
        # Tuples unpacked by position, in _SUMMARY_COLUMNS' order, and the summary built
        # positionally in the same order: a lookup by name (``dict_row``) or keyword
        # arguments cost more than building the summary does.
        return [
            (
                seq,
                UserSummary(
                    id_,
                    provided_id,
                    phone,
                    username,
                    first_name,
                    last_name,
                    bool(is_suspended),
                    picture,
                    total_sign_ins,
                    failed_sign_ins,
                    last_signed_in,
                    created_on,
                    email,
                ),
            )
            for (
                seq,
                id_,
                provided_id,
                phone,
                username,
                first_name,
                last_name,
                is_suspended,
                picture,
                total_sign_ins,
                failed_sign_ins,
                last_signed_in,
                created_on,
                email,
            ) in rows
        ]

    def _sqlite_summaries(self, where: str, params: list[object]) -> list[tuple[int, UserSummary]]:
        """``list_summaries`` on SQLite, with ``_SQLITE_SUMMARY_COLUMNS``."""
        rows = self._s.values(
            f"SELECT {_SQLITE_SUMMARY_COLUMNS} FROM users u WHERE {where} ORDER BY u.seq LIMIT ?",
            params,
        )
        found = []
        for (
            seq,
            id_,
            first_name,
            last_name,
            is_suspended,
            total_sign_ins,
            failed_sign_ins,
            created_on,
            email,
            sparse,
        ) in rows:
            if sparse is None:
                provided_id = phone = username = picture = last_signed_in = None
            else:
                provided_id, phone, username, picture, last_signed_in = _SPARSE.decode(sparse)
            found.append(
                (
                    seq,
                    UserSummary(
                        id_,
                        provided_id,
                        phone,
                        username,
                        first_name,
                        last_name,
                        bool(is_suspended),
                        picture,
                        total_sign_ins,
                        failed_sign_ins,
                        last_signed_in,
                        created_on,
                        email,
                    ),
                )
            )
        return found

    def identities(self, user_ids: Sequence[str]) -> dict[str, list[Identity]]:
        if not user_ids:
            return {}
        rows = self._s.all(
            f"SELECT {IDENTITY_COLUMNS} "
            f"FROM user_identities WHERE user_id IN {_in(user_ids)} ORDER BY seq",
            list(user_ids),
        )
        grouped: dict[str, list[Identity]] = {}
        for row in rows:
            grouped.setdefault(row["user_id"], []).append(identity_from_row(row))
        return grouped

    def organization_exists(self, org_code: str) -> bool:
        return self._s.one("SELECT 1 FROM organizations WHERE code = ?", (org_code,)) is not None

    def add_to_organization(self, user_id: str, org_code: str, now: str) -> None:
        self._s.execute(
            "INSERT INTO organization_users (org_code, user_id, joined_on) VALUES (?, ?, ?)",
            (org_code, user_id, now),
        )

    def organizations(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        if not user_ids:
            return {}
        rows = self._s.all(
            "SELECT user_id, org_code FROM organization_users "
            f"WHERE user_id IN {_in(user_ids)} ORDER BY seq",
            list(user_ids),
        )
        grouped: dict[str, list[str]] = {}
        for row in rows:
            grouped.setdefault(row["user_id"], []).append(row["org_code"])
        return grouped

    def seq_of(self, user_id: str) -> int | None:
        row = self._s.one("SELECT seq FROM users WHERE id = ?", (user_id,))
        return None if row is None else int(row["seq"])

    def search(
        self,
        after: int | None,
        before: int | None,
        limit: int,
        terms: Sequence[str] = (),
        exact_email: str | None = None,
        properties: Mapping[str, Sequence[str]] | None = None,
        api_scopes: Sequence[str] = (),
    ) -> list[User]:
        where: list[str] = []
        params: list[object] = []
        if exact_email is not None:
            where.append(
                "u.id IN (SELECT user_id FROM user_identities "
                "WHERE type = 'email' AND normalized = ?)"
            )
            params.append(exact_email)
        # Names match case-insensitively for every letter: PostgreSQL's lower() folds
        # Unicode, SQLite's folds ASCII only, so on SQLite both the column and the term
        # go through the engine's Unicode case fold (``fold_case``, registered as a
        # SQL function on every connection).
        sqlite = self._s.dialect == "sqlite"
        fold_sql = SQLITE_FOLD if sqlite else "LOWER"
        for term in terms:
            lowered = "%" + _like_escape(fold_case(term) if sqlite else term.lower()) + "%"
            folded = "%" + _like_escape(normalize_identity("email", term)) + "%"
            where.append(
                f"(u.id = ? OR {fold_sql}(u.first_name) LIKE ? ESCAPE '!' "
                f"OR {fold_sql}(u.last_name) LIKE ? ESCAPE '!' "
                "OR u.id IN (SELECT user_id FROM user_identities "
                "WHERE normalized LIKE ? ESCAPE '!'))"
            )
            params.extend([term, lowered, lowered, folded])
        for key, values in (properties or {}).items():
            where.append(
                "u.id IN (SELECT v.user_id FROM user_property_values v "
                "JOIN properties p ON p.id = v.property_id "
                f"WHERE p.key = ? AND v.value IN {_in(values)})"
            )
            params.append(key)
            params.extend(values)
        for scope in api_scopes:
            where.append(
                "u.id IN (SELECT g.user_id FROM organization_user_api_scopes g "
                "JOIN api_scopes s ON s.id = g.scope_id WHERE s.key = ?)"
            )
            params.append(scope)
        if before is not None:
            where.append("u.seq < ?")
            params.append(before)
            order = "DESC"
        else:
            where.append("u.seq > ?")
            params.append(after or 0)
            order = "ASC"
        params.append(limit)
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM users u WHERE {' AND '.join(where)} "
            f"ORDER BY u.seq {order} LIMIT ?",
            params,
        )
        users = [_user(row) for row in rows]
        return list(reversed(users)) if before is not None else users

    def properties_exist(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = self._s.all(f"SELECT key FROM properties WHERE key IN {_in(keys)}", list(keys))
        return {row["key"] for row in rows}

    def property_values(self, user_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        if not user_ids:
            return {}
        rows = self._s.all(
            "SELECT v.user_id, p.key, v.value FROM user_property_values v "
            "JOIN properties p ON p.id = v.property_id "
            f"WHERE v.user_id IN {_in(user_ids)} AND v.value IS NOT NULL ORDER BY p.seq",
            list(user_ids),
        )
        grouped: dict[str, dict[str, str]] = {}
        for row in rows:
            grouped.setdefault(row["user_id"], {})[row["key"]] = row["value"]
        return grouped

    def api_scopes(self, user_ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        if not user_ids:
            return {}
        rows = self._s.all(
            "SELECT g.user_id, g.org_code, s.key, g.api_id "
            "FROM organization_user_api_scopes g JOIN api_scopes s ON s.id = g.scope_id "
            f"WHERE g.user_id IN {_in(user_ids)} ORDER BY g.org_code, s.seq",
            list(user_ids),
        )
        grouped: dict[str, list[tuple[str, str, str]]] = {}
        for row in rows:
            grouped.setdefault(row["user_id"], []).append(
                (row["org_code"], row["key"], row["api_id"])
            )
        return grouped


def _like_escape(text: str) -> str:
    """Escape LIKE wildcards with ``!`` (used with ``ESCAPE '!'``)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
