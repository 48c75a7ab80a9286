"""The environment file's content, typed: what ``schema`` validates a file into, what
``state`` reads a server into, and what ``reconcile`` compares.

Every entity is named by what a person writes and a round trip keeps: an API by its
audience, an application by its client id, a user by its ``kp_`` id, an organization by
its code, a role, permission, feature flag or property by its key, a webhook by its name.
Server-made ids (API, scope, role, permission ids) never appear. Values are normalized
the way the services store them (trimmed text, flag values as their stored strings), so
"equal" means "applying would change nothing".
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The built-in Kinde Management API, as ``authorize[].api`` names it.
MANAGEMENT = "management"
#: The format version this code reads and writes.
VERSION = 1


@dataclass(frozen=True)
class ScopeSpec:
    key: str
    description: str | None = None


@dataclass(frozen=True)
class ApiSpec:
    name: str
    audience: str
    scopes: tuple[ScopeSpec, ...] = ()


@dataclass(frozen=True)
class GrantSpec:
    """An application's authorization for one API; ``scopes`` None means every scope."""

    api: str
    scopes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ApplicationSpec:
    client_id: str
    name: str
    type: str = "m2m"
    org_code: str | None = None
    #: Exactly one of the two, or neither (then the secrets are left as they are). The
    #: secret never appears in a repr, a log line or an error message.
    client_secret: str | None = field(default=None, repr=False)
    client_secret_hash: str | None = field(default=None, repr=False)
    access_token_lifetime: int = 86_400
    authorize: tuple[GrantSpec, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PermissionSpec:
    key: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class RoleSpec:
    key: str
    name: str
    description: str | None = None
    is_default_role: bool = False
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentitySpec:
    type: str
    value: str


@dataclass(frozen=True)
class UserSpec:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None
    provided_id: str | None = None
    is_suspended: bool = False
    identities: tuple[IdentitySpec, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MemberSpec:
    user: str
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrganizationSpec:
    code: str
    name: str
    handle: str | None = None
    external_id: str | None = None
    members: tuple[MemberSpec, ...] = ()
    feature_flags: tuple[tuple[str, str], ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FlagSpec:
    key: str
    name: str
    type: str
    default: str
    description: str | None = None
    allow_override_level: str = "env"
    environment_value: str | None = None


@dataclass(frozen=True)
class PropertySpec:
    key: str
    name: str
    context: str
    category: str
    type: str = "single_line_text"
    description: str | None = None
    is_private: bool = False


@dataclass(frozen=True)
class WebhookSpec:
    name: str
    endpoint: str
    event_types: tuple[str, ...]
    description: str | None = None


#: The sections in the order export writes them (and ``docs/configuration-as-code.md``).
SECTIONS = (
    "apis",
    "permissions",
    "roles",
    "feature_flags",
    "properties",
    "users",
    "organizations",
    "applications",
    "webhooks",
)


@dataclass(frozen=True)
class Document:
    """A whole environment file. ``present`` lists the sections the file has (even
    empty): only those are pruned, and only their scopes are required remotely."""

    apis: tuple[ApiSpec, ...] = ()
    permissions: tuple[PermissionSpec, ...] = ()
    roles: tuple[RoleSpec, ...] = ()
    feature_flags: tuple[FlagSpec, ...] = ()
    properties: tuple[PropertySpec, ...] = ()
    users: tuple[UserSpec, ...] = ()
    organizations: tuple[OrganizationSpec, ...] = ()
    applications: tuple[ApplicationSpec, ...] = ()
    webhooks: tuple[WebhookSpec, ...] = ()
    present: frozenset[str] = frozenset()
    secret_hash_key: str | None = None
