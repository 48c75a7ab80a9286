"""APIs (audiences), their scopes, and which applications are authorized for them."""

from __future__ import annotations

from collections.abc import Sequence

from kindling.platform import keyset
from kindling.platform.engine import Row, Session
from kindling.resources.apis.model import Api, ApiAuthorization, ApiScope
from kindling.resources.applications.model import Application, application_from_row

_COLUMNS = "seq, id, name, audience, is_management_api, created_on"


def _api(row: Row) -> Api:
    return Api(
        id=row["id"],
        name=row["name"],
        audience=row["audience"],
        is_management_api=bool(row["is_management_api"]),
        created_on=row["created_on"],
    )


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


class SqlApiRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, api_id: str) -> Api | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM apis WHERE id = ?", (api_id,))
        return None if row is None else _api(row)

    def get_by_audience(self, audience: str) -> Api | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM apis WHERE audience = ?", (audience,))
        return None if row is None else _api(row)

    def get_management_api(self) -> Api | None:
        row = self._s.one(
            f"SELECT {_COLUMNS} FROM apis WHERE is_management_api = ? ORDER BY seq LIMIT 1",
            (True,),
        )
        return None if row is None else _api(row)

    def add(self, api: Api) -> None:
        self._s.execute(
            "INSERT INTO apis (id, name, audience, is_management_api, created_on) "
            "VALUES (?, ?, ?, ?, ?)",
            (api.id, api.name, api.audience, api.is_management_api, api.created_on),
        )

    def set_audience(self, api_id: str, audience: str) -> None:
        self._s.execute("UPDATE apis SET audience = ? WHERE id = ?", (audience, api_id))

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Api]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM apis WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), _api(row)) for row in rows]

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[tuple[str, int], Api]]:
        rows = keyset.by_name(self._s, "apis", _COLUMNS, after, limit)
        return [(position, _api(row)) for position, row in rows]

    def scopes(self, api_id: str) -> list[ApiScope]:
        rows = self._s.all(
            "SELECT id, api_id, key, description FROM api_scopes WHERE api_id = ? ORDER BY seq",
            (api_id,),
        )
        return [
            ApiScope(id=r["id"], api_id=r["api_id"], key=r["key"], description=r["description"])
            for r in rows
        ]

    def add_scopes(self, scopes: Sequence[ApiScope]) -> None:
        self._s.executemany(
            "INSERT INTO api_scopes (id, api_id, key, description) VALUES (?, ?, ?, ?)",
            [(s.id, s.api_id, s.key, s.description) for s in scopes],
        )

    def delete(self, api_id: str) -> bool:
        return self._s.execute("DELETE FROM apis WHERE id = ?", (api_id,)) > 0

    def update_scope(self, scope_id: str, description: str | None) -> None:
        self._s.execute(
            "UPDATE api_scopes SET description = ? WHERE id = ?", (description, scope_id)
        )

    def delete_scope(self, scope_id: str) -> bool:
        return self._s.execute("DELETE FROM api_scopes WHERE id = ?", (scope_id,)) > 0

    def applications(self, api_id: str) -> list[Application]:
        rows = self._s.all(
            "SELECT a.seq, a.id, a.name, a.type, a.org_code, a.access_token_lifetime, "
            "a.settings, a.created_on FROM api_applications aa "
            "JOIN applications a ON a.id = aa.application_id "
            "WHERE aa.api_id = ? ORDER BY aa.created_on, a.seq",
            (api_id,),
        )
        return [application_from_row(row) for row in rows]

    def authorize(self, api_id: str, application_id: str, now: str) -> bool:
        if self._s.one(
            "SELECT 1 FROM api_applications WHERE api_id = ? AND application_id = ?",
            (api_id, application_id),
        ):
            return False
        self._s.execute(
            "INSERT INTO api_applications (api_id, application_id, created_on) VALUES (?, ?, ?)",
            (api_id, application_id, now),
        )
        return True

    def deauthorize(self, api_id: str, application_id: str) -> bool:
        self._s.execute(
            "DELETE FROM api_application_scopes WHERE api_id = ? AND application_id = ?",
            (api_id, application_id),
        )
        changed = self._s.execute(
            "DELETE FROM api_applications WHERE api_id = ? AND application_id = ?",
            (api_id, application_id),
        )
        return changed > 0

    def grant_scopes(self, api_id: str, application_id: str, scope_ids: Sequence[str]) -> None:
        existing = {
            row["scope_id"]
            for row in self._s.all(
                "SELECT scope_id FROM api_application_scopes WHERE api_id = ? "
                "AND application_id = ?",
                (api_id, application_id),
            )
        }
        self._s.executemany(
            "INSERT INTO api_application_scopes (api_id, application_id, scope_id) "
            "VALUES (?, ?, ?)",
            [(api_id, application_id, s) for s in dict.fromkeys(scope_ids) if s not in existing],
        )

    def revoke_scope(self, api_id: str, application_id: str, scope_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM api_application_scopes WHERE api_id = ? AND application_id = ? "
            "AND scope_id = ?",
            (api_id, application_id, scope_id),
        )
        return changed > 0

    def authorizations(
        self, application_id: str, audiences: Sequence[str]
    ) -> list[ApiAuthorization]:
        if not audiences:
            return []
        apis = self._s.all(
            "SELECT p.seq, p.id, p.name, p.audience, p.is_management_api, p.created_on "
            "FROM api_applications aa JOIN apis p ON p.id = aa.api_id "
            f"WHERE aa.application_id = ? AND p.audience IN ({_placeholders(audiences)}) "
            "ORDER BY p.seq",
            (application_id, *audiences),
        )
        if not apis:
            return []
        api_ids = [row["id"] for row in apis]
        granted: dict[str, list[str]] = {api_id: [] for api_id in api_ids}
        for row in self._s.all(
            "SELECT g.api_id, s.key FROM api_application_scopes g "
            "JOIN api_scopes s ON s.id = g.scope_id "
            f"WHERE g.application_id = ? AND g.api_id IN ({_placeholders(api_ids)}) "
            "ORDER BY s.seq",
            (application_id, *api_ids),
        ):
            granted[row["api_id"]].append(row["key"])
        return [
            ApiAuthorization(
                api=_api(row), application_id=application_id, scopes=tuple(granted[row["id"]])
            )
            for row in apis
        ]
