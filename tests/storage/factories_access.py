"""Row factories for the access-side storage contract tests (apps, APIs, keys, flags...).

Rows these repositories point at (users, organizations, roles, connections) are made
through their own repositories, so the foreign keys are satisfied the way the server
satisfies them. Every name, key and audience is unique: PostgreSQL is shared.
"""

from __future__ import annotations

from kindling.platform.ids import (
    api_id,
    api_scope_id,
    client_id,
    connection_id,
    feature_flag_id,
    organization_code,
    property_category_id,
    property_id,
    role_id,
    secret_id,
    user_id,
)
from kindling.platform.storage import Storage
from kindling.resources.apis.model import Api, ApiScope
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.model import Application, ApplicationSecret
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.feature_flags.model import FeatureFlag
from kindling.resources.organizations.model import Connection, Organization
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.properties.model import Property, PropertyCategory
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from kindling.resources.users.model import User
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import NOW, uid


def make_app(name: str | None = None, type_: str = "m2m", created_on: str = NOW) -> Application:
    return Application(
        id=client_id(), name=name or f"app-{uid()}", type=type_, created_on=created_on
    )


def make_api(name: str | None = None, management: bool = False) -> Api:
    return Api(
        id=api_id(),
        name=name or f"api-{uid()}",
        audience=f"https://{uid()}.example.com/api",
        is_management_api=management,
        created_on=NOW,
    )


def make_scope(api: Api, key: str | None = None, description: str | None = None) -> ApiScope:
    return ApiScope(
        id=api_scope_id(), api_id=api.id, key=key or f"s:{uid()}", description=description
    )


def make_secret(
    application_id: str, created_on: str = NOW, expires_at: int | None = None
) -> ApplicationSecret:
    return ApplicationSecret(
        id=secret_id(),
        application_id=application_id,
        secret_hash=f"hash-{uid()}",
        created_on=created_on,
        expires_at=expires_at,
    )


def make_flag(
    key: str | None = None, environment_value: str | None = None, level: str = "usr"
) -> FeatureFlag:
    return FeatureFlag(
        id=feature_flag_id(),
        key=key or f"flag_{uid()}",
        name=f"Flag {uid()}",
        type="str",
        default_value="off",
        allow_override_level=level,
        created_on=NOW,
        description="a flag",
        environment_value=environment_value,
    )


def make_category(context: str = "usr", name: str | None = None) -> PropertyCategory:
    return PropertyCategory(
        id=property_category_id(), name=name or f"cat-{uid()}", context=context, created_on=NOW
    )


def make_property(
    context: str = "usr",
    key: str | None = None,
    category_id: str | None = None,
    is_private: bool = False,
) -> Property:
    return Property(
        id=property_id(),
        key=key or f"prop_{uid()}",
        name=f"Prop {uid()}",
        type="single_line_text",
        context=context,
        is_private=is_private,
        created_on=NOW,
        category_id=category_id,
        description="a property",
    )


def add_user(storage: Storage) -> User:
    user = User(id=user_id(), created_on=NOW)
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    return user


def add_org(storage: Storage) -> Organization:
    org = Organization(code=organization_code(), name=f"org-{uid()}", created_on=NOW)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add(org)
    return org


def add_role(storage: Storage, description: str | None = None) -> Role:
    role = Role(
        id=role_id(),
        key=f"role_{uid()}",
        name=f"Role {uid()}",
        created_on=NOW,
        description=description,
    )
    with storage.transaction() as uow:
        uow[ROLES_REPO].add(role)
    return role


def add_connection(storage: Storage, display_name: str | None = None) -> Connection:
    connection = Connection(
        id=connection_id(),
        name=f"conn-{uid()}",
        strategy="oauth2:google",
        created_on=NOW,
        display_name=display_name,
    )
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(connection)
    return connection


def add_app(storage: Storage, name: str | None = None) -> Application:
    app = make_app(name)
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(app)
    return app


def add_api(storage: Storage, *scope_keys: str) -> tuple[Api, list[ApiScope]]:
    api = make_api()
    scopes = [make_scope(api, key) for key in scope_keys]
    with storage.transaction() as uow:
        uow[APIS_REPO].add(api)
        if scopes:
            uow[APIS_REPO].add_scopes(scopes)
    return api, scopes
