"""Applications and their client secret hashes."""

from __future__ import annotations

from kindling.models import Application, ApplicationSecret
from kindling.storage.engine import Row, Session

_COLUMNS = "seq, id, name, type, org_code, access_token_lifetime, created_on"


def application_from_row(row: Row) -> Application:
    return Application(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        org_code=row["org_code"],
        access_token_lifetime=int(row["access_token_lifetime"]),
        created_on=row["created_on"],
    )


class SqlApplicationRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, application_id: str) -> Application | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM applications WHERE id = ?", (application_id,))
        return None if row is None else application_from_row(row)

    def add(self, application: Application) -> None:
        self._s.execute(
            "INSERT INTO applications (id, name, type, org_code, access_token_lifetime, "
            "created_on) VALUES (?, ?, ?, ?, ?, ?)",
            (
                application.id,
                application.name,
                application.type,
                application.org_code,
                application.access_token_lifetime,
                application.created_on,
            ),
        )

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Application]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM applications WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), application_from_row(row)) for row in rows]

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Application]]:
        op, order = ("<", "DESC") if descending else (">", "ASC")
        where, params = "", []
        if after is not None:
            where = f"WHERE (name, seq) {op} (?, ?)"
            params = [after[0], after[1]]
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM applications {where} "
            f"ORDER BY name {order}, seq {order} LIMIT ?",
            (*params, limit),
        )
        return [((row["name"], int(row["seq"])), application_from_row(row)) for row in rows]

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
