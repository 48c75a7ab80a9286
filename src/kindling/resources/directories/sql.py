"""SCIM directories, with their enterprise connection's name joined in."""

from __future__ import annotations

from kindling.platform.engine import Session
from kindling.resources.connections.model import Connection
from kindling.resources.directories.model import Directory, directory_from_row

_SELECT = (
    "SELECT d.seq, d.id, d.org_code, d.directory_name, d.provider_code, d.endpoint_id, "
    "d.token_hash, d.status, d.connection_id, d.last_sync_started_at, "
    "d.last_sync_completed_at, d.last_sync_error, d.created_on, "
    "c.name AS connection_name, c.display_name AS connection_display_name "
    "FROM directories d LEFT JOIN connections c ON c.id = d.connection_id"
)


class SqlDirectoryRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _one(self, where: str, value: str) -> Directory | None:
        row = self._s.one(f"{_SELECT} WHERE {where} = ?", (value,))
        return None if row is None else directory_from_row(row)

    def get(self, directory_id: str) -> Directory | None:
        return self._one("d.id", directory_id)

    def get_by_organization(self, org_code: str) -> Directory | None:
        return self._one("d.org_code", org_code)

    def get_by_endpoint(self, endpoint_id: str) -> Directory | None:
        return self._one("d.endpoint_id", endpoint_id)

    def seq_of(self, directory_id: str) -> int | None:
        row = self._s.one("SELECT seq FROM directories WHERE id = ?", (directory_id,))
        return None if row is None else int(row["seq"])

    def add(self, directory: Directory) -> None:
        self._s.execute(
            "INSERT INTO directories (id, org_code, directory_name, provider_code, "
            "endpoint_id, token_hash, status, connection_id, last_sync_started_at, "
            "last_sync_completed_at, last_sync_error, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                directory.id,
                directory.organization_code,
                directory.directory_name,
                directory.provider_code,
                directory.directory_endpoint_id,
                directory.token_hash,
                directory.status,
                directory.enterprise_connection_id,
                directory.last_sync_started_at,
                directory.last_sync_completed_at,
                directory.last_sync_error,
                directory.created_on,
            ),
        )

    def rename(self, directory_id: str, directory_name: str) -> bool:
        changed = self._s.execute(
            "UPDATE directories SET directory_name = ? WHERE id = ?",
            (directory_name, directory_id),
        )
        return changed > 0

    def delete(self, directory_id: str) -> bool:
        return self._s.execute("DELETE FROM directories WHERE id = ?", (directory_id,)) > 0

    def list_page(
        self, after: int | None, limit: int, org_code: str | None
    ) -> list[tuple[int, Directory]]:
        where = "d.seq > ?"
        args: list[object] = [after or 0]
        if org_code is not None:
            where += " AND d.org_code = ?"
            args.append(org_code)
        rows = self._s.all(f"{_SELECT} WHERE {where} ORDER BY d.seq LIMIT ?", (*args, limit))
        return [(int(row["seq"]), directory_from_row(row)) for row in rows]

    def organization_exists(self, org_code: str) -> bool:
        return (
            self._s.one("SELECT 1 AS x FROM organizations WHERE code = ?", (org_code,)) is not None
        )

    def enabled_connections(self, org_code: str) -> list[Connection]:
        rows = self._s.all(
            "SELECT c.id, c.name, c.display_name, c.strategy, c.created_on "
            "FROM organization_connections oc JOIN connections c ON c.id = oc.connection_id "
            "WHERE oc.org_code = ? ORDER BY c.seq",
            (org_code,),
        )
        return [
            Connection(
                id=row["id"],
                name=row["name"],
                strategy=row["strategy"],
                created_on=row["created_on"],
                display_name=row["display_name"],
            )
            for row in rows
        ]
