"""Connections: the ``connections`` rows and their home realm domain index."""

from __future__ import annotations

from kindling.platform.engine import Session
from kindling.resources.connections.model import (
    Connection,
    connection_from_row,
    encode_options,
    home_realm_domains,
)

_COLUMNS = (
    "c.seq, c.id, c.name, c.display_name, c.strategy, c.organization_code, c.options, "
    "c.created_on, c.updated_on"
)


class SqlConnectionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, connection_id: str) -> Connection | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM connections c WHERE c.id = ?", (connection_id,))
        return None if row is None else connection_from_row(row)

    def position(self, connection_id: str) -> int | None:
        row = self._s.one("SELECT seq FROM connections WHERE id = ?", (connection_id,))
        return None if row is None else int(row["seq"])

    def add(self, connection: Connection, sealed_secrets: bytes | None) -> None:
        self._s.execute(
            "INSERT INTO connections (id, name, display_name, strategy, organization_code, "
            "options, sealed_secrets, created_on, updated_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                connection.id,
                connection.name,
                connection.display_name,
                connection.strategy,
                connection.organization_code,
                encode_options(connection.options),
                sealed_secrets,
                connection.created_on,
                connection.updated_on,
            ),
        )
        self._index_domains(connection)

    def update(self, connection: Connection, sealed_secrets: bytes | None) -> bool:
        changed = self._s.execute(
            "UPDATE connections SET name = ?, display_name = ?, options = ?, "
            "sealed_secrets = ?, updated_on = ? WHERE id = ?",
            (
                connection.name,
                connection.display_name,
                encode_options(connection.options),
                sealed_secrets,
                connection.updated_on,
                connection.id,
            ),
        )
        if changed:
            self._s.execute(
                "DELETE FROM connection_home_realm_domains WHERE connection_id = ?",
                (connection.id,),
            )
            self._index_domains(connection)
        return changed > 0

    def _index_domains(self, connection: Connection) -> None:
        self._s.bulk_insert(
            "connection_home_realm_domains",
            ("connection_id", "domain"),
            [(connection.id, domain) for domain in home_realm_domains(connection)],
        )

    def sealed_secrets(self, connection_id: str) -> bytes | None:
        row = self._s.one("SELECT sealed_secrets FROM connections WHERE id = ?", (connection_id,))
        if row is None or row["sealed_secrets"] is None:
            return None
        return bytes(row["sealed_secrets"])

    def delete(self, connection_id: str) -> bool:
        return self._s.execute("DELETE FROM connections WHERE id = ?", (connection_id,)) > 0

    def list_page(
        self, home_realm_domain: str | None, after: int | None, before: int | None, limit: int
    ) -> list[Connection]:
        where: list[str] = []
        params: list[object] = []
        if home_realm_domain is not None:
            where.append(
                "EXISTS (SELECT 1 FROM connection_home_realm_domains d "
                "WHERE d.connection_id = c.id AND d.domain = ?)"
            )
            params.append(home_realm_domain)
        if after is not None:
            where.append("c.seq > ?")
            params.append(after)
        backwards = before is not None and after is None
        if before is not None:
            where.append("c.seq < ?")
            params.append(before)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        order = "DESC" if backwards else "ASC"
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM connections c{clause} ORDER BY c.seq {order} LIMIT ?",
            (*params, limit),
        )
        found = [connection_from_row(row) for row in rows]
        return found[::-1] if backwards else found
