"""Applications and their client secret hashes."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kindling.platform import keyset
from kindling.platform.engine import Session
from kindling.resources.applications.model import (
    Application,
    ApplicationSecret,
    application_from_row,
)

_COLUMNS = "seq, id, name, type, org_code, access_token_lifetime, settings, created_on"


class SqlApplicationRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, application_id: str) -> Application | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM applications WHERE id = ?", (application_id,))
        return None if row is None else application_from_row(row)

    def add(self, application: Application) -> None:
        self._s.execute(
            "INSERT INTO applications (id, name, type, org_code, access_token_lifetime, "
            "settings, created_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                application.id,
                application.name,
                application.type,
                application.org_code,
                application.access_token_lifetime,
                json.dumps(application.settings, sort_keys=True),
                application.created_on,
            ),
        )

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Application]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM applications WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), application_from_row(row)) for row in rows]

    def update(self, application: Application) -> None:
        self._s.execute(
            "UPDATE applications SET name = ?, access_token_lifetime = ?, settings = ? "
            "WHERE id = ?",
            (
                application.name,
                application.access_token_lifetime,
                json.dumps(application.settings, sort_keys=True),
                application.id,
            ),
        )

    def delete(self, application_id: str) -> bool:
        return self._s.execute("DELETE FROM applications WHERE id = ?", (application_id,)) > 0

    def urls(self, application_id: str, kind: str) -> list[str]:
        rows = self._s.all(
            "SELECT url FROM application_urls WHERE application_id = ? AND kind = ? ORDER BY seq",
            (application_id, kind),
        )
        return [row["url"] for row in rows]

    def set_urls(self, application_id: str, kind: str, urls: Sequence[str]) -> None:
        self._s.execute(
            "DELETE FROM application_urls WHERE application_id = ? AND kind = ?",
            (application_id, kind),
        )
        self._s.executemany(
            "INSERT INTO application_urls (application_id, kind, url) VALUES (?, ?, ?)",
            [(application_id, kind, url) for url in urls],
        )

    def access_roles(
        self, application_id: str, after: int | None, before: int | None, limit: int
    ) -> list[tuple[int, dict[str, object]]]:
        where, params = ["ar.application_id = ?"], [application_id]
        if after is not None:
            where.append("ar.seq > ?")
            params.append(after)  # type: ignore[arg-type]
        if before is not None:
            where.append("ar.seq < ?")
            params.append(before)  # type: ignore[arg-type]
        order = "DESC" if before is not None and after is None else "ASC"
        rows = self._s.all(
            "SELECT ar.seq, r.id, r.key, r.name, r.description FROM application_access_roles ar "
            f"JOIN roles r ON r.id = ar.role_id WHERE {' AND '.join(where)} "
            f"ORDER BY ar.seq {order} LIMIT ?",
            (*params, limit),
        )
        found = [
            (
                int(r["seq"]),
                {
                    "id": r["id"],
                    "key": r["key"],
                    "name": r["name"],
                    "description": r["description"],
                },
            )
            for r in rows
        ]
        return sorted(found, key=lambda item: item[0])

    def access_role_seq(self, application_id: str, role_id: str) -> int | None:
        row = self._s.one(
            "SELECT seq FROM application_access_roles WHERE application_id = ? AND role_id = ?",
            (application_id, role_id),
        )
        return None if row is None else int(row["seq"])

    def role_exists(self, role_id: str) -> bool:
        return self._s.one("SELECT 1 FROM roles WHERE id = ?", (role_id,)) is not None

    def add_access_role(self, application_id: str, role_id: str) -> bool:
        if self._s.one(
            "SELECT 1 FROM application_access_roles WHERE application_id = ? AND role_id = ?",
            (application_id, role_id),
        ):
            return False
        self._s.execute(
            "INSERT INTO application_access_roles (application_id, role_id) VALUES (?, ?)",
            (application_id, role_id),
        )
        return True

    def remove_access_role(self, application_id: str, role_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM application_access_roles WHERE application_id = ? AND role_id = ?",
            (application_id, role_id),
        )
        return changed > 0

    def connections(self, application_id: str) -> list[dict[str, object]]:
        rows = self._s.all(
            "SELECT c.id, c.name, c.display_name, c.strategy FROM application_connections ac "
            "JOIN connections c ON c.id = ac.connection_id WHERE ac.application_id = ? "
            "ORDER BY c.seq",
            (application_id,),
        )
        return [dict(row) for row in rows]

    def connection_exists(self, connection_id: str) -> bool:
        return self._s.one("SELECT 1 FROM connections WHERE id = ?", (connection_id,)) is not None

    def enable_connection(self, application_id: str, connection_id: str) -> None:
        if not self._s.one(
            "SELECT 1 FROM application_connections WHERE application_id = ? AND connection_id = ?",
            (application_id, connection_id),
        ):
            self._s.execute(
                "INSERT INTO application_connections (application_id, connection_id) VALUES (?, ?)",
                (application_id, connection_id),
            )

    def disable_connection(self, application_id: str, connection_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM application_connections WHERE application_id = ? AND connection_id = ?",
            (application_id, connection_id),
        )
        return changed > 0

    def connection_applications(self, connection_id: str) -> list[str]:
        rows = self._s.all(
            "SELECT ac.application_id FROM application_connections ac "
            "JOIN applications a ON a.id = ac.application_id WHERE ac.connection_id = ? "
            "ORDER BY a.seq",
            (connection_id,),
        )
        return [row["application_id"] for row in rows]

    def property_values(self, application_id: str) -> dict[str, str]:
        rows = self._s.all(
            "SELECT p.key, v.value FROM application_property_values v "
            "JOIN properties p ON p.id = v.property_id "
            "WHERE v.application_id = ? AND p.is_private = ? AND v.value IS NOT NULL "
            "ORDER BY p.seq",
            (application_id, False),
        )
        return {row["key"]: row["value"] for row in rows}

    def org_exists(self, org_code: str) -> bool:
        # FOR SHARE (PostgreSQL): a concurrent DELETE of the organization waits for this
        # transaction. SQLite needs nothing: a write transaction holds the database lock.
        lock = " FOR SHARE" if self._s.dialect == "postgres" else ""
        sql = "SELECT 1 FROM organizations WHERE code = ?" + lock
        return self._s.one(sql, (org_code,)) is not None

    def organization_applications(self, org_code: str) -> list[Application]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM applications WHERE org_code = ? ORDER BY seq", (org_code,)
        )
        return [application_from_row(row) for row in rows]

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Application]]:
        rows = keyset.by_name(self._s, "applications", _COLUMNS, after, limit, descending)
        return [(position, application_from_row(row)) for position, row in rows]

    def add_secret(self, secret: ApplicationSecret) -> None:
        self._s.execute(
            "INSERT INTO application_secrets (id, application_id, secret_hash, created_on, "
            "expires_at) VALUES (?, ?, ?, ?, ?)",
            (
                secret.id,
                secret.application_id,
                secret.secret_hash,
                secret.created_on,
                secret.expires_at,
            ),
        )

    def secrets(self, application_id: str) -> list[ApplicationSecret]:
        rows = self._s.all(
            "SELECT id, application_id, secret_hash, created_on, expires_at "
            "FROM application_secrets WHERE application_id = ? ORDER BY created_on DESC",
            (application_id,),
        )
        return [
            ApplicationSecret(
                id=row["id"],
                application_id=row["application_id"],
                secret_hash=row["secret_hash"],
                created_on=row["created_on"],
                expires_at=row["expires_at"],
            )
            for row in rows
        ]

    def expire_secrets(self, application_id: str, expires_at: int, except_id: str) -> None:
        self._s.execute(
            "UPDATE application_secrets SET expires_at = ? WHERE application_id = ? AND id <> ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (expires_at, application_id, except_id, expires_at),
        )

    def client_state(self) -> int:
        row = self._s.one("SELECT version FROM client_state WHERE id = 'default'")
        return int(row["version"]) if row is not None else 0
