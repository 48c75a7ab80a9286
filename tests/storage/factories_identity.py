"""Factories for the identity-side storage contract tests (users, accounts, organizations,
members, invites, roles, permissions).

Every helper writes through the repository that owns the row when that repository is part
of this tier; rows owned by no repository under test here (property definitions, feature
flag definitions, MFA factors, sessions, membership access times) are seeded with plain SQL
in their own committed transaction. Everything is unique (PostgreSQL is shared).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kindling.platform.ids import (
    api_id,
    api_scope_id,
    connection_id,
    feature_flag_id,
    hex_id,
    identity_id,
    organization_code,
    permission_id,
    property_id,
    role_id,
    user_id,
)
from kindling.platform.storage import Storage
from kindling.resources.apis.model import Api, ApiScope
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.organizations.model import Connection, Organization
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.permissions.model import Permission
from kindling.resources.permissions.repository import PERMISSIONS_REPO
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from kindling.resources.users.model import Identity, User
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import NOW, uid

# --- raw rows -------------------------------------------------------------------


def seed(storage: Storage, sql: str, params: Sequence[Any] = ()) -> None:
    """Run one write statement in its own committed transaction."""
    with storage.engine.session(write=True) as session:
        session.execute(sql, params)


def count(storage: Storage, sql: str, params: Sequence[Any] = ()) -> int:
    """Run ``SELECT COUNT(*) AS n ...`` and return n."""
    with storage.engine.session(write=False) as session:
        row = session.one(sql, params)
    assert row is not None
    return int(row["n"])


# --- users ----------------------------------------------------------------------


def email_address() -> str:
    return f"i-{uid()}@{uid()}.example.com"


def phone_number() -> str:
    return "+1555" + str(int(uid(), 16))[:9]


def make_identity(
    owner: str,
    kind: str,
    value: str,
    primary: bool = True,
    created_on: str = NOW,
    connection: str | None = None,
) -> Identity:
    return Identity(
        id=identity_id(),
        user_id=owner,
        type=kind,
        value=value,
        is_verified=False,
        is_primary=primary,
        created_on=created_on,
        connection_id=connection,
    )


def make_user(*identities: tuple[str, str], **fields: Any) -> User:
    """A user (not stored) with these (type, value) identities; the first of each type is
    primary and mirrored into the user's email/username/phone."""
    new_id = user_id()
    seen: set[str] = set()
    built: list[Identity] = []
    for kind, value in identities:
        built.append(make_identity(new_id, kind, value, primary=kind not in seen))
        seen.add(kind)
    mirrored = {
        column: next((v for k, v in identities if k == column), None)
        for column in ("email", "username", "phone")
    }
    return User(
        id=new_id,
        created_on=NOW,
        identities=tuple(built),
        **{**mirrored, **fields},
    )


def add_user(storage: Storage, *identities: tuple[str, str], **fields: Any) -> User:
    """Store a user; by default it has one fresh email identity."""
    user = make_user(*(identities or (("email", email_address()),)), **fields)
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    return user


# --- organizations and connections ----------------------------------------------


def make_org(**fields: Any) -> Organization:
    values: dict[str, Any] = {
        "code": organization_code(),
        "name": f"org {uid()}",
        "created_on": NOW,
        **fields,
    }
    return Organization(**values)


def add_org(storage: Storage, **fields: Any) -> Organization:
    org = make_org(**fields)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add(org)
    return org


def make_connection(**fields: Any) -> Connection:
    values: dict[str, Any] = {
        "id": connection_id(),
        "name": f"conn-{uid()}",
        "strategy": "oauth2:google",
        "created_on": NOW,
        **fields,
    }
    return Connection(**values)


def add_connection(storage: Storage, **fields: Any) -> Connection:
    connection = make_connection(**fields)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(connection)
    return connection


# --- roles, permissions, APIs -----------------------------------------------------


def make_role(**fields: Any) -> Role:
    tag = uid()
    values: dict[str, Any] = {
        "id": role_id(),
        "key": f"role{tag}",
        "name": f"Role {tag}",
        "created_on": NOW,
        **fields,
    }
    return Role(**values)


def add_role(storage: Storage, **fields: Any) -> Role:
    role = make_role(**fields)
    with storage.transaction() as uow:
        uow[ROLES_REPO].add(role)
    return role


def make_permission(**fields: Any) -> Permission:
    tag = uid()
    values: dict[str, Any] = {
        "id": permission_id(),
        "key": f"perm{tag}",
        "name": f"Permission {tag}",
        "created_on": NOW,
        **fields,
    }
    return Permission(**values)


def add_permission(storage: Storage, **fields: Any) -> Permission:
    permission = make_permission(**fields)
    with storage.transaction() as uow:
        uow[PERMISSIONS_REPO].add(permission)
    return permission


def add_api(storage: Storage, *scope_keys: str) -> tuple[Api, list[ApiScope]]:
    """Store an API with scopes of these keys (created in the given order)."""
    api = Api(
        id=api_id(),
        name=f"api-{uid()}",
        audience=f"https://{uid()}.example.com",
        is_management_api=False,
        created_on=NOW,
    )
    scopes = [ApiScope(id=api_scope_id(), api_id=api.id, key=key) for key in scope_keys]
    with storage.transaction() as uow:
        uow[APIS_REPO].add(api)
        if scopes:
            uow[APIS_REPO].add_scopes(scopes)
    return api, scopes


# --- rows no repository under test writes -------------------------------------------


def add_property(storage: Storage, key: str | None = None, context: str = "usr") -> str:
    """A property definition; returns its id."""
    new_id = property_id()
    seed(
        storage,
        "INSERT INTO properties (id, key, name, description, type, context, is_private, "
        "is_kinde_property, category_id, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id,
            key or f"prop{uid()}",
            "Prop",
            None,
            "single_line_text",
            context,
            False,
            False,
            None,
            NOW,
        ),
    )
    return new_id


def set_user_property(storage: Storage, owner: str, prop: str, value: str | None) -> None:
    seed(
        storage,
        "INSERT INTO user_property_values (user_id, property_id, value) VALUES (?, ?, ?)",
        (owner, prop, value),
    )


def add_flag(storage: Storage, key: str | None = None, **fields: Any) -> str:
    """A feature flag definition; returns its id."""
    new_id = feature_flag_id()
    values: dict[str, Any] = {
        "type": "bool",
        "default_value": "false",
        "allow_override_level": "org",
        **fields,
    }
    seed(
        storage,
        "INSERT INTO feature_flags (id, key, name, description, type, allow_override_level, "
        "default_value, environment_value, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id,
            key or f"flag{uid()}",
            "Flag",
            None,
            values["type"],
            values["allow_override_level"],
            values["default_value"],
            None,
            NOW,
        ),
    )
    return new_id


def add_mfa_factor(
    storage: Storage, owner: str, org_code: str | None = None, kind: str = "totp"
) -> str:
    """An MFA factor (environment-level when ``org_code`` is None); returns its id."""
    new_id = "mfa_" + hex_id()
    seed(
        storage,
        "INSERT INTO user_mfa_factors (id, user_id, org_code, type, name, created_on) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (new_id, owner, org_code, kind, f"factor {new_id[-4:]}", NOW),
    )
    return new_id


def add_session(storage: Storage, owner: str, org_code: str | None = None) -> str:
    new_id = "sess_" + hex_id()
    seed(
        storage,
        "INSERT INTO user_sessions (id, user_id, org_code, client_id, user_agent, ip_address, "
        "created_on, expires_on, last_active_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new_id, owner, org_code, None, "pytest", "127.0.0.1", NOW, None, None),
    )
    return new_id


def set_last_accessed(storage: Storage, org_code: str, owner: str, when: str | None) -> None:
    seed(
        storage,
        "UPDATE organization_users SET last_accessed_on = ? WHERE org_code = ? AND user_id = ?",
        (when, org_code, owner),
    )
