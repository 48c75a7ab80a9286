"""The server's environment as an environment file sees it: read in one unit of work.

``read_document`` is what ``kindling export`` writes and what a diff compares against:
every API but the built-in Management API, every application with the hash of its
newest working secret, every user with its email, phone and username identities, every
organization with its members (their roles and direct permissions), feature flag
overrides and property values, and the roles, permissions, feature flags, properties and
webhooks. Lists are in a canonical order (by key, id or code; identities primary first),
so two servers holding the same things export the same bytes.

Reads go through the resources' repositories, in the caller's unit of work (a consistent
snapshot); every change goes through their services (``reconcile``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from kindling.crypto.client_secrets import SecretHasher
from kindling.platform.storage import UnitOfWork
from kindling.resources.apis.model import Api, ApiScope
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.model import Application
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.applications.service import active_secrets
from kindling.resources.feature_flags.model import FeatureFlag
from kindling.resources.feature_flags.repository import FEATURE_FLAGS_REPO
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.organizations.model import Organization
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.permissions.model import Permission
from kindling.resources.permissions.repository import PERMISSIONS_REPO
from kindling.resources.properties.model import Property, PropertyCategory
from kindling.resources.properties.repository import PROPERTIES_REPO
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from kindling.resources.users.model import User
from kindling.resources.users.repository import USERS_REPO
from kindling.resources.webhooks.model import Webhook
from kindling.resources.webhooks.repository import WEBHOOKS_REPO

from .model import (
    MANAGEMENT,
    SECTIONS,
    ApiSpec,
    ApplicationSpec,
    Document,
    FlagSpec,
    GrantSpec,
    IdentitySpec,
    MemberSpec,
    OrganizationSpec,
    PermissionSpec,
    PropertySpec,
    RoleSpec,
    ScopeSpec,
    UserSpec,
    WebhookSpec,
)

T = TypeVar("T")
BATCH = 500
IDENTITY_ORDER = ("email", "phone", "username")
_FINGERPRINT_INPUT = "kindling environment file: secret_hash_key v1"


def secret_hash_key(hasher: SecretHasher) -> str:
    """Names the pepper secret hashes are made with, without revealing it: 16 hex digits
    of the keyed hash of a fixed text. Equal on two servers exactly when they share the
    master key, i.e. when an exported ``client_secret_hash`` verifies on both."""
    return hasher.hash(_FINGERPRINT_INPUT).rsplit("$", 1)[-1][:16]


def _paged(fetch: Callable[[int | None, int], list[tuple[int, T]]]) -> Iterator[T]:
    after: int | None = None
    while True:
        rows = fetch(after, BATCH)
        for _, item in rows:
            yield item
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def all_apis(uow: UnitOfWork) -> list[Api]:
    return list(_paged(uow[APIS_REPO].list_page))


def all_applications(uow: UnitOfWork) -> list[Application]:
    return list(_paged(uow[APPLICATIONS_REPO].list_page))


def all_users(uow: UnitOfWork) -> list[User]:
    return list(_paged(lambda after, limit: uow[USERS_REPO].list_page(after, limit)))


def all_organizations(uow: UnitOfWork) -> list[Organization]:
    return list(_paged(uow[ORGANIZATIONS_REPO].list_page))


def all_roles(uow: UnitOfWork) -> list[Role]:
    return list(_paged(uow[ROLES_REPO].list_page))


def all_permissions(uow: UnitOfWork) -> list[Permission]:
    return list(_paged(uow[PERMISSIONS_REPO].list_page))


def all_flags(uow: UnitOfWork) -> list[FeatureFlag]:
    return uow[FEATURE_FLAGS_REPO].all()


def all_webhooks(uow: UnitOfWork) -> list[Webhook]:
    return uow[WEBHOOKS_REPO].list_all()


def all_properties(uow: UnitOfWork) -> list[Property]:
    """Every custom property (Kinde's own, if any, are not the file's to manage)."""
    repo = uow[PROPERTIES_REPO]
    found: list[Property] = []
    after: int | None = None
    while True:
        rows = repo.list_page(None, after, None, BATCH)
        found.extend(rows)
        if len(rows) < BATCH:
            break
        after = repo.position(rows[-1].id)
    return [p for p in found if not p.is_kinde_property]


def all_categories(uow: UnitOfWork) -> list[PropertyCategory]:
    repo = uow[PROPERTIES_REPO]
    found: list[PropertyCategory] = []
    after: int | None = None
    while True:
        rows = repo.list_categories(None, after, None, BATCH)
        found.extend(rows)
        if len(rows) < BATCH:
            return found
        after = repo.category_position(rows[-1].id)


def property_values(uow: UnitOfWork, context: str, subject: str) -> tuple[tuple[str, str], ...]:
    """The subject's set values (``usr``, ``org``, ``app``), by property key."""
    values = uow[PROPERTIES_REPO].values(context, subject)
    return tuple(sorted((v.property.key, v.value) for v in values if v.value is not None))


def scopes_of(uow: UnitOfWork, api: Api) -> list[ApiScope]:
    return uow[APIS_REPO].scopes(api.id)


def api_spec(uow: UnitOfWork, api: Api) -> ApiSpec:
    scopes = sorted(scopes_of(uow, api), key=lambda s: s.key)
    return ApiSpec(api.name, api.audience, tuple(ScopeSpec(s.key, s.description) for s in scopes))


def grants(uow: UnitOfWork, application_id: str, apis: list[Api]) -> tuple[GrantSpec, ...]:
    """The application's authorizations; ``scopes`` None where it holds every scope."""
    found = uow[APIS_REPO].authorizations(application_id, [a.audience for a in apis])
    result: list[GrantSpec] = []
    for authorization in found:
        api = authorization.api
        every = {s.key for s in scopes_of(uow, api)}
        held = set(authorization.scopes)
        name = MANAGEMENT if api.is_management_api else api.audience
        result.append(GrantSpec(name, None if held == every else tuple(sorted(held))))
    return tuple(sorted(result, key=lambda g: (g.api != MANAGEMENT, g.api)))


def application_spec(
    uow: UnitOfWork, application: Application, apis: list[Api], now: float
) -> ApplicationSpec:
    secrets = active_secrets(uow, application.id, now)
    return ApplicationSpec(
        client_id=application.id,
        name=application.name,
        type=application.type,
        org_code=application.org_code,
        client_secret_hash=secrets[0].secret_hash if secrets else None,
        access_token_lifetime=application.access_token_lifetime,
        authorize=grants(uow, application.id, apis),
        properties=property_values(uow, "app", application.id),
    )


def identities_of(uow: UnitOfWork, user_id: str) -> tuple[IdentitySpec, ...]:
    """Email, phone and username identities: by type, the primary one first, then in the
    order they were added (social and enterprise identities are not the file's)."""
    found = uow[USERS_REPO].identities([user_id]).get(user_id, [])
    ordered = sorted(
        (i for i in found if i.type in IDENTITY_ORDER),
        key=lambda i: (IDENTITY_ORDER.index(i.type), not i.is_primary),
    )
    return tuple(IdentitySpec(i.type, i.value) for i in ordered)


def user_spec(uow: UnitOfWork, user: User) -> UserSpec:
    return UserSpec(
        id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        picture=user.picture,
        provided_id=user.provided_id,
        is_suspended=user.is_suspended,
        identities=identities_of(uow, user.id),
        properties=property_values(uow, "usr", user.id),
    )


def members_of(uow: UnitOfWork, code: str) -> tuple[MemberSpec, ...]:
    repo = uow[MEMBERSHIPS_REPO]
    user_ids: list[str] = []
    after: tuple[str, int] | None = None
    while True:
        rows = repo.list_members(code, after, BATCH)
        user_ids.extend(member.user_id for _, member in rows)
        if len(rows) < BATCH:
            break
        after = rows[-1][0]
    members = []
    for user_id in sorted(user_ids):
        roles = sorted(r.key for r in repo.member_roles(code, user_id))
        direct = repo.direct_permission_ids(code, user_id)
        keys = sorted(p.key for p in repo.member_permissions(code, user_id) if p.id in direct)
        members.append(MemberSpec(user_id, tuple(roles), tuple(keys)))
    return tuple(members)


def flag_overrides(uow: UnitOfWork, code: str) -> tuple[tuple[str, str], ...]:
    """The organization's own feature flag values (not the ones it inherits), by key."""
    keys = {f.id: f.key for f in all_flags(uow)}
    raw = uow[FEATURE_FLAGS_REPO].organization_values(code)
    return tuple(sorted((keys[i], v) for i, v in raw.items() if i in keys))


def organization_spec(uow: UnitOfWork, org: Organization) -> OrganizationSpec:
    return OrganizationSpec(
        code=org.code,
        name=org.name,
        handle=org.handle,
        external_id=org.external_id,
        members=members_of(uow, org.code),
        feature_flags=flag_overrides(uow, org.code),
        properties=property_values(uow, "org", org.code),
    )


def role_spec(uow: UnitOfWork, role: Role, permission_keys: dict[str, str]) -> RoleSpec:
    held = uow[ROLES_REPO].permission_ids(role.id)
    return RoleSpec(
        key=role.key,
        name=role.name,
        description=role.description,
        is_default_role=role.is_default_role,
        permissions=tuple(sorted(permission_keys[i] for i in held if i in permission_keys)),
    )


def flag_spec(flag: FeatureFlag) -> FlagSpec:
    return FlagSpec(
        key=flag.key,
        name=flag.name,
        type=flag.type,
        default=flag.default_value,
        description=flag.description,
        allow_override_level=flag.allow_override_level,
        environment_value=flag.environment_value,
    )


def property_spec(prop: Property, categories: dict[str, PropertyCategory]) -> PropertySpec:
    category = categories.get(prop.category_id or "")
    return PropertySpec(
        key=prop.key,
        name=prop.name,
        context=prop.context,
        category=category.name if category else "",
        type=prop.type,
        description=prop.description,
        is_private=prop.is_private,
    )


def webhook_spec(webhook: Webhook) -> WebhookSpec:
    return WebhookSpec(
        name=webhook.name,
        endpoint=webhook.endpoint,
        event_types=webhook.event_types,
        description=webhook.description,
    )


def read_document(uow: UnitOfWork, hasher: SecretHasher, now: float) -> Document:
    """Everything the file format covers, as the server holds it now."""
    apis = all_apis(uow)
    permissions = all_permissions(uow)
    permission_keys = {p.id: p.key for p in permissions}
    categories = {c.id: c for c in all_categories(uow)}
    return Document(
        apis=tuple(
            api_spec(uow, a)
            for a in sorted(apis, key=lambda a: a.audience)
            if not a.is_management_api
        ),
        permissions=tuple(
            PermissionSpec(p.key, p.name, p.description)
            for p in sorted(permissions, key=lambda p: p.key)
        ),
        roles=tuple(
            role_spec(uow, r, permission_keys) for r in sorted(all_roles(uow), key=lambda r: r.key)
        ),
        feature_flags=tuple(flag_spec(f) for f in sorted(all_flags(uow), key=lambda f: f.key)),
        properties=tuple(
            property_spec(p, categories) for p in sorted(all_properties(uow), key=lambda p: p.key)
        ),
        users=tuple(user_spec(uow, u) for u in sorted(all_users(uow), key=lambda u: u.id)),
        organizations=tuple(
            organization_spec(uow, o) for o in sorted(all_organizations(uow), key=lambda o: o.code)
        ),
        applications=tuple(
            application_spec(uow, a, apis, now)
            for a in sorted(all_applications(uow), key=lambda a: a.id)
        ),
        webhooks=tuple(
            webhook_spec(w) for w in sorted(all_webhooks(uow), key=lambda w: (w.name, w.id))
        ),
        present=frozenset(SECTIONS),
        secret_hash_key=secret_hash_key(hasher),
    )
