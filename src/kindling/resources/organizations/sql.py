"""Organizations: the row, its settings, logos, connections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import msgspec

from kindling.platform import keyset
from kindling.platform.engine import Row, Session
from kindling.resources.connections.model import Connection
from kindling.resources.organizations.model import (
    Organization,
    OrganizationFlagRef,
    OrganizationLogo,
    OrganizationSettings,
)

_COLUMNS = "seq, code, name, handle, external_id, is_default, is_suspended, settings, created_on"
#: Logos are listed light first, then dark (Kinde's order in the admin area).
_LOGO_ORDER = {"light": 0, "dark": 1}


def encode_settings(settings: OrganizationSettings) -> str:
    return msgspec.json.encode(asdict(settings)).decode("utf-8")


def decode_settings(raw: str | bytes | None) -> OrganizationSettings:
    """Read the JSON column; unknown keys (from newer versions) are ignored."""
    if not raw:
        return OrganizationSettings()
    return msgspec.json.decode(raw, type=OrganizationSettings)


def _organization(row: Row) -> Organization:
    return Organization(
        code=row["code"],
        name=row["name"],
        created_on=row["created_on"],
        handle=row["handle"],
        external_id=row["external_id"],
        is_default=bool(row["is_default"]),
        is_suspended=bool(row["is_suspended"]),
        settings=decode_settings(row["settings"]),
    )


def _connection(row: Row) -> Connection:
    return Connection(
        id=row["id"],
        name=row["name"],
        strategy=row["strategy"],
        created_on=row["created_on"],
        display_name=row["display_name"],
    )


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


class SqlOrganizationRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- the organization row ---------------------------------------------

    def get(self, code: str) -> Organization | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM organizations WHERE code = ?", (code,))
        return None if row is None else _organization(row)

    def exists(self, code: str) -> bool:
        return self._s.one("SELECT 1 AS x FROM organizations WHERE code = ?", (code,)) is not None

    def handle_owner(self, handle: str) -> str | None:
        row = self._s.one("SELECT code FROM organizations WHERE handle = ?", (handle,))
        return None if row is None else str(row["code"])

    def add(self, organization: Organization) -> None:
        self._s.execute(
            "INSERT INTO organizations (code, name, handle, external_id, is_default, "
            "is_suspended, settings, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                organization.code,
                organization.name,
                organization.handle,
                organization.external_id,
                organization.is_default,
                organization.is_suspended,
                encode_settings(organization.settings),
                organization.created_on,
            ),
        )

    def update(self, organization: Organization) -> bool:
        changed = self._s.execute(
            "UPDATE organizations SET name = ?, handle = ?, external_id = ?, is_suspended = ?, "
            "settings = ? WHERE code = ?",
            (
                organization.name,
                organization.handle,
                organization.external_id,
                organization.is_suspended,
                encode_settings(organization.settings),
                organization.code,
            ),
        )
        return changed > 0

    def delete(self, code: str) -> bool:
        """Delete the organization and everything hanging off it.

        Tables that reference ``organizations`` go ON DELETE CASCADE (memberships and
        their roles, permissions and API scopes, invites, logos, connections, property
        and flag values). Two name the organization without a foreign key and are
        removed here, in the same transaction: members' organization-level MFA factors
        (``remove_member`` deletes them too) and user sessions signed in to the
        organization (Kinde's session ``org_code``): a session cannot outlive the
        organization it was authenticated for. Environment-level factors and sessions
        (``org_code`` NULL) and those of other organizations stay.
        """
        if not self.exists(code):
            return False
        self._s.execute("DELETE FROM user_mfa_factors WHERE org_code = ?", (code,))
        self._s.execute("DELETE FROM user_sessions WHERE org_code = ?", (code,))
        return self._s.execute("DELETE FROM organizations WHERE code = ?", (code,)) > 0

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Organization]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM organizations WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), _organization(row)) for row in rows]

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Organization]]:
        rows = keyset.by_name(self._s, "organizations", _COLUMNS, after, limit, descending)
        return [(position, _organization(row)) for position, row in rows]

    # --- logos ------------------------------------------------------------

    def logos(self, code: str) -> list[OrganizationLogo]:
        rows = self._s.all(
            "SELECT org_code, type, content_type, created_on FROM organization_logos "
            "WHERE org_code = ?",
            (code,),
        )
        logos = [
            OrganizationLogo(
                org_code=row["org_code"],
                type=row["type"],
                content_type=row["content_type"],
                created_on=row["created_on"],
            )
            for row in rows
        ]
        return sorted(logos, key=lambda logo: _LOGO_ORDER.get(logo.type, 9))

    def logo_data(self, code: str, type_: str) -> bytes | None:
        row = self._s.one(
            "SELECT data FROM organization_logos WHERE org_code = ? AND type = ?", (code, type_)
        )
        return None if row is None else bytes(row["data"])

    def set_logo(self, logo: OrganizationLogo, data: bytes) -> None:
        self._s.execute(
            "DELETE FROM organization_logos WHERE org_code = ? AND type = ?",
            (logo.org_code, logo.type),
        )
        self._s.execute(
            "INSERT INTO organization_logos (org_code, type, content_type, data, created_on) "
            "VALUES (?, ?, ?, ?, ?)",
            (logo.org_code, logo.type, logo.content_type, data, logo.created_on),
        )

    def delete_logo(self, code: str, type_: str) -> bool:
        return (
            self._s.execute(
                "DELETE FROM organization_logos WHERE org_code = ? AND type = ?", (code, type_)
            )
            > 0
        )

    # --- connections ------------------------------------------------------

    def add_connection(self, connection: Connection) -> None:
        self._s.execute(
            "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                connection.id,
                connection.name,
                connection.display_name,
                connection.strategy,
                "{}",
                connection.created_on,
            ),
        )

    def get_connection(self, connection_id: str) -> Connection | None:
        row = self._s.one(
            "SELECT id, name, display_name, strategy, created_on FROM connections WHERE id = ?",
            (connection_id,),
        )
        return None if row is None else _connection(row)

    def connections(self, code: str) -> list[Connection]:
        rows = self._s.all(
            "SELECT c.id, c.name, c.display_name, c.strategy, c.created_on "
            "FROM organization_connections oc JOIN connections c ON c.id = oc.connection_id "
            "WHERE oc.org_code = ? ORDER BY c.seq",
            (code,),
        )
        return [_connection(row) for row in rows]

    def enable_connection(self, code: str, connection_id: str) -> bool:
        found = self._s.one(
            "SELECT 1 AS x FROM organization_connections WHERE org_code = ? AND connection_id = ?",
            (code, connection_id),
        )
        if found is not None:
            return False
        self._s.execute(
            "INSERT INTO organization_connections (org_code, connection_id) VALUES (?, ?)",
            (code, connection_id),
        )
        return True

    def disable_connection(self, code: str, connection_id: str) -> bool:
        return (
            self._s.execute(
                "DELETE FROM organization_connections WHERE org_code = ? AND connection_id = ?",
                (code, connection_id),
            )
            > 0
        )

    # --- feature flag overrides set at creation -----------------------------

    def feature_flags_by_key(self, keys: Sequence[str]) -> dict[str, OrganizationFlagRef]:
        if not keys:
            return {}
        rows = self._s.all(
            "SELECT id, key, type, default_value, allow_override_level FROM feature_flags "
            f"WHERE key IN {_in(keys)}",
            list(keys),
        )
        return {
            row["key"]: OrganizationFlagRef(
                id=row["id"],
                key=row["key"],
                type=row["type"],
                default_value=row["default_value"],
                allow_override_level=row["allow_override_level"],
            )
            for row in rows
        }

    def set_feature_flag_values(self, code: str, values: Sequence[tuple[str, str]]) -> None:
        if not values:
            return
        self._s.executemany(
            "INSERT INTO organization_feature_flags (org_code, flag_id, value) VALUES (?, ?, ?)",
            [(code, flag_id, value) for flag_id, value in values],
        )
