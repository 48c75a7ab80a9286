"""Organization membership: users in organizations, their roles, permissions and API scopes.

Membership rows hang off ``organization_users``; roles, permissions and API scopes of a
member reference it with ON DELETE CASCADE, so removing a member (or deleting the user or
the organization) removes everything the member held there. Organizations, roles and
permissions are only read here (plain SELECTs); their own repositories write them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kindling.platform.engine import Row, Session
from kindling.resources.organizations.members.model import (
    MemberOrganization,
    MemberPermission,
    MemberRole,
    OrganizationMember,
    OrganizationUserMfaFactor,
)

#: Sort keys of ``list_members``; ``""`` keeps join order (membership sequence).
SORT_EXPRESSIONS = {
    "": "''",
    "name": "TRIM(COALESCE(u.first_name, '') || ' ' || COALESCE(u.last_name, ''))",
    "email": "COALESCE(u.email, '')",
}


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


def _role(row: Row) -> MemberRole:
    return MemberRole(id=row["id"], key=row["key"], name=row["name"])


def _permission(row: Row) -> MemberPermission:
    return MemberPermission(
        id=row["id"], key=row["key"], name=row["name"], description=row["description"]
    )


def _factor(row: Row) -> OrganizationUserMfaFactor:
    return OrganizationUserMfaFactor(
        id=row["id"],
        user_id=row["user_id"],
        org_code=row["org_code"],
        type=row["type"],
        name=row["name"],
        created_on=row["created_on"],
    )


class SqlMembershipRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- reads of rows owned by other resources -------------------------------

    def get_organization(self, org_code: str) -> MemberOrganization | None:
        row = self._s.one("SELECT code, name FROM organizations WHERE code = ?", (org_code,))
        return None if row is None else MemberOrganization(code=row["code"], name=row["name"])

    def get_role(self, role_id: str) -> MemberRole | None:
        row = self._s.one("SELECT id, key, name FROM roles WHERE id = ?", (role_id,))
        return None if row is None else _role(row)

    def roles_by_keys(self, keys: Sequence[str]) -> dict[str, MemberRole]:
        if not keys:
            return {}
        rows = self._s.all(f"SELECT id, key, name FROM roles WHERE key IN {_in(keys)}", keys)
        return {row["key"]: _role(row) for row in rows}

    def get_permission(self, permission_id: str) -> MemberPermission | None:
        row = self._s.one(
            "SELECT id, key, name, description FROM permissions WHERE id = ?", (permission_id,)
        )
        return None if row is None else _permission(row)

    def permissions_by_keys(self, keys: Sequence[str]) -> dict[str, MemberPermission]:
        if not keys:
            return {}
        rows = self._s.all(
            f"SELECT id, key, name, description FROM permissions WHERE key IN {_in(keys)}", keys
        )
        return {row["key"]: _permission(row) for row in rows}

    def existing_users(self, user_ids: Sequence[str]) -> set[str]:
        if not user_ids:
            return set()
        rows = self._s.all(f"SELECT id FROM users WHERE id IN {_in(user_ids)}", user_ids)
        return {row["id"] for row in rows}

    # --- members --------------------------------------------------------------

    def members_among(self, org_code: str, user_ids: Sequence[str]) -> set[str]:
        if not user_ids:
            return set()
        rows = self._s.all(
            "SELECT user_id FROM organization_users WHERE org_code = ? "
            f"AND user_id IN {_in(user_ids)}",
            (org_code, *user_ids),
        )
        return {row["user_id"] for row in rows}

    def is_member(self, org_code: str, user_id: str) -> bool:
        return bool(self.members_among(org_code, [user_id]))

    def add_member(self, org_code: str, user_id: str, joined_on: str) -> None:
        self._s.execute(
            "INSERT INTO organization_users (org_code, user_id, joined_on) VALUES (?, ?, ?)",
            (org_code, user_id, joined_on),
        )

    def remove_member(self, org_code: str, user_id: str) -> bool:
        # MFA factors name the organization without a foreign key: remove them explicitly.
        self._s.execute(
            "DELETE FROM user_mfa_factors WHERE org_code = ? AND user_id = ?", (org_code, user_id)
        )
        changed = self._s.execute(
            "DELETE FROM organization_users WHERE org_code = ? AND user_id = ?",
            (org_code, user_id),
        )
        return changed > 0

    def list_members(
        self,
        org_code: str,
        after: tuple[str, int] | None,
        limit: int,
        sort: str = "",
        descending: bool = False,
        role_keys: Sequence[str] = (),
        permission_keys: Sequence[str] = (),
    ) -> list[tuple[tuple[str, int], OrganizationMember]]:
        expression = SORT_EXPRESSIONS[sort]
        op, order = ("<", "DESC") if descending else (">", "ASC")
        where = ["ou.org_code = ?"]
        params: list[object] = [org_code]
        if after is not None:
            if sort:
                where.append(f"({expression}, ou.seq) {op} (?, ?)")
                params.extend(after)
            else:
                where.append(f"ou.seq {op} ?")
                params.append(after[1])
        for key in role_keys:
            where.append(
                "EXISTS (SELECT 1 FROM organization_user_roles ur "
                "JOIN roles r ON r.id = ur.role_id WHERE ur.org_code = ou.org_code "
                "AND ur.user_id = ou.user_id AND r.key = ?)"
            )
            params.append(key)
        for key in permission_keys:
            where.append(
                "(EXISTS (SELECT 1 FROM organization_user_permissions up "
                "JOIN permissions p ON p.id = up.permission_id WHERE up.org_code = ou.org_code "
                "AND up.user_id = ou.user_id AND p.key = ?) "
                "OR EXISTS (SELECT 1 FROM organization_user_roles ur "
                "JOIN role_permissions rp ON rp.role_id = ur.role_id "
                "JOIN permissions p ON p.id = rp.permission_id WHERE ur.org_code = ou.org_code "
                "AND ur.user_id = ou.user_id AND p.key = ?))"
            )
            params.extend((key, key))
        params.append(limit)
        order_by = f"sort_key {order}, ou.seq {order}" if sort else f"ou.seq {order}"
        rows = self._s.all(
            "SELECT ou.seq, ou.user_id, ou.joined_on, ou.last_accessed_on, u.email, "
            f"u.first_name, u.last_name, u.picture, u.is_suspended, {expression} AS sort_key "
            "FROM organization_users ou JOIN users u ON u.id = ou.user_id "
            f"WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT ?",
            params,
        )
        members = [
            (
                (str(row["sort_key"]), int(row["seq"])),
                OrganizationMember(
                    user_id=row["user_id"],
                    joined_on=row["joined_on"],
                    email=row["email"],
                    first_name=row["first_name"],
                    last_name=row["last_name"],
                    picture=row["picture"],
                    is_suspended=bool(row["is_suspended"]),
                    last_accessed_on=row["last_accessed_on"],
                ),
            )
            for row in rows
        ]
        keys = self.role_keys_of(org_code, [m.user_id for _, m in members])
        return [
            (position, replace(member, roles=tuple(keys.get(member.user_id, []))))
            for position, member in members
        ]

    def role_keys_of(self, org_code: str, user_ids: Sequence[str]) -> dict[str, list[str]]:
        if not user_ids:
            return {}
        rows = self._s.all(
            "SELECT ur.user_id, r.key FROM organization_user_roles ur "
            "JOIN roles r ON r.id = ur.role_id "
            f"WHERE ur.org_code = ? AND ur.user_id IN {_in(user_ids)} ORDER BY r.seq",
            (org_code, *user_ids),
        )
        grouped: dict[str, list[str]] = {}
        for row in rows:
            grouped.setdefault(row["user_id"], []).append(row["key"])
        return grouped

    # --- roles of a member ----------------------------------------------------

    def member_roles(self, org_code: str, user_id: str) -> list[MemberRole]:
        rows = self._s.all(
            "SELECT r.id, r.key, r.name FROM organization_user_roles ur "
            "JOIN roles r ON r.id = ur.role_id WHERE ur.org_code = ? AND ur.user_id = ? "
            "ORDER BY r.seq",
            (org_code, user_id),
        )
        return [_role(row) for row in rows]

    def add_member_role(self, org_code: str, user_id: str, role_id: str, now: str) -> None:
        self._s.execute(
            "INSERT INTO organization_user_roles (org_code, user_id, role_id, created_on) "
            "VALUES (?, ?, ?, ?)",
            (org_code, user_id, role_id, now),
        )

    def remove_member_role(self, org_code: str, user_id: str, role_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM organization_user_roles WHERE org_code = ? AND user_id = ? "
            "AND role_id = ?",
            (org_code, user_id, role_id),
        )
        return changed > 0

    # --- permissions of a member ----------------------------------------------

    def direct_permission_ids(self, org_code: str, user_id: str) -> set[str]:
        rows = self._s.all(
            "SELECT permission_id FROM organization_user_permissions "
            "WHERE org_code = ? AND user_id = ?",
            (org_code, user_id),
        )
        return {row["permission_id"] for row in rows}

    def member_permissions(self, org_code: str, user_id: str) -> list[MemberPermission]:
        rows = self._s.all(
            "SELECT p.id, p.key, p.name, p.description FROM permissions p "
            "WHERE p.id IN (SELECT permission_id FROM organization_user_permissions "
            "WHERE org_code = ? AND user_id = ?) "
            "OR p.id IN (SELECT rp.permission_id FROM role_permissions rp "
            "JOIN organization_user_roles ur ON ur.role_id = rp.role_id "
            "WHERE ur.org_code = ? AND ur.user_id = ?) ORDER BY p.seq",
            (org_code, user_id, org_code, user_id),
        )
        granting: dict[str, list[MemberRole]] = {}
        for row in self._s.all(
            "SELECT rp.permission_id, r.id, r.key, r.name FROM organization_user_roles ur "
            "JOIN role_permissions rp ON rp.role_id = ur.role_id "
            "JOIN roles r ON r.id = ur.role_id WHERE ur.org_code = ? AND ur.user_id = ? "
            "ORDER BY r.seq",
            (org_code, user_id),
        ):
            granting.setdefault(row["permission_id"], []).append(_role(row))
        return [
            MemberPermission(
                id=row["id"],
                key=row["key"],
                name=row["name"],
                description=row["description"],
                roles=tuple(granting.get(row["id"], [])),
            )
            for row in rows
        ]

    def add_member_permission(self, org_code: str, user_id: str, permission_id: str) -> None:
        self._s.execute(
            "INSERT INTO organization_user_permissions (org_code, user_id, permission_id) "
            "VALUES (?, ?, ?)",
            (org_code, user_id, permission_id),
        )

    def remove_member_permission(self, org_code: str, user_id: str, permission_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM organization_user_permissions WHERE org_code = ? AND user_id = ? "
            "AND permission_id = ?",
            (org_code, user_id, permission_id),
        )
        return changed > 0

    # --- API scopes of a member -----------------------------------------------

    def has_member_api_scope(self, org_code: str, user_id: str, api_id: str, scope_id: str) -> bool:
        row = self._s.one(
            "SELECT 1 FROM organization_user_api_scopes WHERE org_code = ? AND user_id = ? "
            "AND api_id = ? AND scope_id = ?",
            (org_code, user_id, api_id, scope_id),
        )
        return row is not None

    def add_member_api_scope(self, org_code: str, user_id: str, api_id: str, scope_id: str) -> None:
        self._s.execute(
            "INSERT INTO organization_user_api_scopes (org_code, user_id, api_id, scope_id) "
            "VALUES (?, ?, ?, ?)",
            (org_code, user_id, api_id, scope_id),
        )

    def remove_member_api_scope(
        self, org_code: str, user_id: str, api_id: str, scope_id: str
    ) -> bool:
        changed = self._s.execute(
            "DELETE FROM organization_user_api_scopes WHERE org_code = ? AND user_id = ? "
            "AND api_id = ? AND scope_id = ?",
            (org_code, user_id, api_id, scope_id),
        )
        return changed > 0

    # --- MFA factors of a member ----------------------------------------------

    def mfa_factors(self, org_code: str, user_id: str) -> list[OrganizationUserMfaFactor]:
        rows = self._s.all(
            "SELECT id, user_id, org_code, type, name, created_on FROM user_mfa_factors "
            "WHERE org_code = ? AND user_id = ? ORDER BY seq",
            (org_code, user_id),
        )
        return [_factor(row) for row in rows]

    def delete_mfa_factors(self, org_code: str, user_id: str, factor_id: str | None = None) -> int:
        sql = "DELETE FROM user_mfa_factors WHERE org_code = ? AND user_id = ?"
        params: list[object] = [org_code, user_id]
        if factor_id is not None:
            sql += " AND id = ?"
            params.append(factor_id)
        return self._s.execute(sql, params)

    # --- users of a role ------------------------------------------------------

    def role_members(
        self, org_code: str, role_id: str, after: int | None, limit: int
    ) -> list[tuple[int, str]]:
        rows = self._s.all(
            "SELECT ou.seq, ou.user_id FROM organization_user_roles ur "
            "JOIN organization_users ou ON ou.org_code = ur.org_code AND ou.user_id = ur.user_id "
            "WHERE ur.org_code = ? AND ur.role_id = ? AND ou.seq > ? ORDER BY ou.seq LIMIT ?",
            (org_code, role_id, after or 0, limit),
        )
        return [(int(row["seq"]), row["user_id"]) for row in rows]

    def count_role_members(self, org_code: str, role_id: str) -> int:
        row = self._s.one(
            "SELECT COUNT(*) AS n FROM organization_user_roles WHERE org_code = ? AND role_id = ?",
            (org_code, role_id),
        )
        return 0 if row is None else int(row["n"])

    def count_active_role_members(self, org_code: str, role_id: str, since: str, until: str) -> int:
        row = self._s.one(
            "SELECT COUNT(*) AS n FROM organization_user_roles ur "
            "JOIN organization_users ou ON ou.org_code = ur.org_code AND ou.user_id = ur.user_id "
            "WHERE ur.org_code = ? AND ur.role_id = ? AND ou.last_accessed_on IS NOT NULL "
            "AND ou.last_accessed_on >= ? AND ou.last_accessed_on < ?",
            (org_code, role_id, since, until),
        )
        return 0 if row is None else int(row["n"])

    def role_users(
        self, role_id: str, after: int | None, limit: int
    ) -> list[tuple[int, tuple[str, list[str]]]]:
        rows = self._s.all(
            "SELECT u.seq, u.id FROM users u WHERE u.seq > ? AND EXISTS (SELECT 1 "
            "FROM organization_user_roles ur WHERE ur.user_id = u.id AND ur.role_id = ?) "
            "ORDER BY u.seq LIMIT ?",
            (after or 0, role_id, limit),
        )
        ids = [row["id"] for row in rows]
        codes: dict[str, list[str]] = {}
        if ids:
            for row in self._s.all(
                "SELECT ur.user_id, ur.org_code FROM organization_user_roles ur "
                "JOIN organization_users ou ON ou.org_code = ur.org_code "
                "AND ou.user_id = ur.user_id "
                f"WHERE ur.role_id = ? AND ur.user_id IN {_in(ids)} ORDER BY ou.seq",
                (role_id, *ids),
            ):
                codes.setdefault(row["user_id"], []).append(row["org_code"])
        return [(int(row["seq"]), (row["id"], codes.get(row["id"], []))) for row in rows]
