"""Organization invitations."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kindling.platform.engine import Row, Session
from kindling.resources.organizations.invites.model import Invite

_COLUMNS = (
    "seq, code, org_code, email, first_name, last_name, role_keys, is_sent, is_revoked, "
    "accepted_on, created_on"
)
#: Sort keys (SQL expressions) by Kinde's sort field; ``created_on`` follows insertion.
_NAME = "LOWER(COALESCE(first_name, '') || ' ' || COALESCE(last_name, ''))"
SORT_KEYS = {"email": "LOWER(email)", "name": _NAME}
_CHUNK = 500


def _invite(row: Row) -> Invite:
    keys = json.loads(row["role_keys"] or "[]")
    return Invite(
        code=row["code"],
        org_code=row["org_code"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        role_keys=tuple(str(k) for k in keys),
        is_sent=bool(row["is_sent"]),
        is_revoked=bool(row["is_revoked"]),
        accepted_on=row["accepted_on"],
        created_on=row["created_on"],
    )


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


class SqlInviteRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def organization_exists(self, org_code: str) -> bool:
        row = self._s.one("SELECT 1 FROM organizations WHERE code = ?", (org_code,))
        return row is not None

    def role_names(self, keys: Sequence[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            rows = self._s.all(f"SELECT key, name FROM roles WHERE key IN {_in(chunk)}", chunk)
            names.update({row["key"]: row["name"] for row in rows})
        return names

    def add(self, invite: Invite) -> None:
        self._s.execute(
            "INSERT INTO organization_invites (code, org_code, email, first_name, last_name, "
            "role_keys, is_sent, is_revoked, accepted_on, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                invite.code,
                invite.org_code,
                invite.email,
                invite.first_name,
                invite.last_name,
                json.dumps(list(invite.role_keys)),
                invite.is_sent,
                invite.is_revoked,
                invite.accepted_on,
                invite.created_on,
            ),
        )

    def get(self, org_code: str, code: str) -> Invite | None:
        row = self._s.one(
            f"SELECT {_COLUMNS} FROM organization_invites WHERE org_code = ? AND code = ?",
            (org_code, code),
        )
        return None if row is None else _invite(row)

    def revoke(self, org_code: str, code: str) -> bool:
        changed = self._s.execute(
            "UPDATE organization_invites SET is_revoked = ? WHERE org_code = ? AND code = ?",
            (True, org_code, code),
        )
        return changed > 0

    def list_page(
        self,
        org_code: str,
        sort: str,
        descending: bool,
        after: tuple[str, int] | None,
        limit: int,
        include_revoked: bool,
        include_accepted: bool,
    ) -> list[tuple[tuple[str, int], Invite]]:
        """Invites of one organization ordered by (sort key, seq); ``sort`` is a SORT_KEYS
        name or ``created_on`` (insertion order, the key is then empty)."""
        key = SORT_KEYS.get(sort, "''")
        op, order = ("<", "DESC") if descending else (">", "ASC")
        where = ["org_code = ?"]
        params: list[object] = [org_code]
        if not include_revoked:
            where.append("is_revoked = ?")
            params.append(False)
        if not include_accepted:
            where.append("accepted_on IS NULL")
        if after is not None:
            if sort in SORT_KEYS:
                where.append(f"({key}, seq) {op} (?, ?)")
                params.extend(after)
            else:
                where.append(f"seq {op} ?")
                params.append(after[1])
        params.append(limit)
        ordering = f"{key} {order}, seq {order}" if sort in SORT_KEYS else f"seq {order}"
        rows = self._s.all(
            f"SELECT {_COLUMNS}, {key} AS sort_key FROM organization_invites "
            f"WHERE {' AND '.join(where)} ORDER BY {ordering} LIMIT ?",
            params,
        )
        return [((str(row["sort_key"]), int(row["seq"])), _invite(row)) for row in rows]
