"""Domain objects shared by services, storage and the protocol core.

Plain frozen dataclasses: no behaviour that needs I/O, no framework types.
Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from dataclasses import dataclass, field

APPLICATION_TYPES = ("m2m", "reg", "spa", "device")
DEFAULT_ACCESS_TOKEN_LIFETIME = 86_400


@dataclass(frozen=True)
class StoredKey:
    """A signing key row: the public JWK in clear, the private key sealed."""

    kid: str
    algorithm: str
    public_jwk: dict[str, object]
    sealed_private: bytes
    status: str
    created_on: str
    retired_on: str | None = None


@dataclass(frozen=True)
class Application:
    """An application; for M2M apps ``id`` is also the OAuth ``client_id``."""

    id: str
    name: str
    type: str
    created_on: str
    org_code: str | None = None
    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME
    settings: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def client_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class ApplicationSecret:
    """A keyed hash of one client secret; ``expires_at`` ends a rotation grace window."""

    id: str
    application_id: str
    secret_hash: str
    created_on: str
    expires_at: int | None = None


@dataclass(frozen=True)
class ApiScope:
    id: str
    api_id: str
    key: str
    description: str | None = None


@dataclass(frozen=True)
class Api:
    """A resource server (audience) that applications can be authorized for."""

    id: str
    name: str
    audience: str
    is_management_api: bool
    created_on: str


@dataclass(frozen=True)
class ApiKey:
    """An API key; only a keyed hash of the key itself is stored."""

    id: str
    name: str
    type: str
    key_hash: str
    key_prefix: str
    key_suffix: str
    status: str
    created_on: str
    user_id: str | None = None
    org_code: str | None = None
    created_by: str | None = None
    last_verified_on: str | None = None
    last_verified_ip: str | None = None
    verification_count: int = 0
    api_ids: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiAuthorization:
    """An application authorized for an API, with the scope keys it was granted."""

    api: Api
    application_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Identity:
    """An email, phone, username, social or enterprise identity of a user.

    ``connection_id`` is set for ``social`` and ``enterprise`` identities only.
    """

    id: str
    user_id: str
    type: str
    value: str
    is_verified: bool
    is_primary: bool
    created_on: str
    connection_id: str | None = None
    total_logins: int = 0
    last_login_on: str | None = None


@dataclass(frozen=True)
class User:
    id: str
    created_on: str
    email: str | None = None
    username: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None
    provided_id: str | None = None
    is_suspended: bool = False
    is_password_reset_requested: bool = False
    total_sign_ins: int = 0
    failed_sign_ins: int = 0
    last_signed_in: str | None = None
    identities: tuple[Identity, ...] = field(default=())


@dataclass(frozen=True)
class OrganizationSettings:
    """An organization's branding and policies (the ``settings`` JSON column).

    Colours keep the value as sent (``raw``); the API derives ``hex`` and ``hsl``.
    """

    background_color: str | None = None
    button_color: str | None = None
    button_text_color: str | None = None
    link_color: str | None = None
    background_color_dark: str | None = None
    button_color_dark: str | None = None
    button_text_color_dark: str | None = None
    link_color_dark: str | None = None
    theme_code: str = "light"
    is_auto_membership_enabled: bool = False
    is_auto_join_domain_list: bool = False
    allowed_domains: tuple[str, ...] = ()
    is_enable_advanced_orgs: bool = False
    is_enforce_mfa: bool = False
    sender_name: str | None = None
    sender_email: str | None = None
    suspended_on: str | None = None
    mfa_enabled_factors: tuple[str, ...] = ()
    mfa_recovery_codes_enabled: bool = True
    passkey_override: bool = False
    passkey_policy: str | None = None
    is_use_org_sso_session_policy: bool = False
    sso_session_persistence_mode: str | None = None
    is_use_org_authenticated_session_lifetime: bool = False
    authenticated_session_lifetime: int | None = None


@dataclass(frozen=True)
class Organization:
    """An organization (Kinde code ``org_<11 hex>``); ``handle`` is unique when set."""

    code: str
    name: str
    created_on: str
    handle: str | None = None
    external_id: str | None = None
    is_default: bool = False
    is_suspended: bool = False
    settings: OrganizationSettings = field(default_factory=OrganizationSettings)


@dataclass(frozen=True)
class OrganizationLogo:
    """A stored logo's metadata (``type`` is ``light`` or ``dark``); the bytes stay in storage."""

    org_code: str
    type: str
    content_type: str
    created_on: str


@dataclass(frozen=True)
class Connection:
    """An authentication connection (``conn_<32 hex>``)."""

    id: str
    name: str
    strategy: str
    created_on: str
    display_name: str | None = None


@dataclass(frozen=True)
class OrganizationFlagRef:
    """What creating an organization needs to know about a feature flag definition."""

    id: str
    key: str
    type: str
    default_value: str
    allow_override_level: str | None = None


# --- organizations models: add dataclasses above this line ---


@dataclass(frozen=True)
class MemberOrganization:
    """The organization row as membership needs it (code and name only)."""

    code: str
    name: str


@dataclass(frozen=True)
class MemberRole:
    """A role as membership shows it: public id, key, name."""

    id: str
    key: str
    name: str


@dataclass(frozen=True)
class MemberPermission:
    """A permission an organization user holds; ``roles`` are the roles granting it."""

    id: str
    key: str
    name: str
    description: str | None = None
    roles: tuple[MemberRole, ...] = ()


@dataclass(frozen=True)
class OrganizationMember:
    """A user in an organization, with the keys of the roles held there."""

    user_id: str
    joined_on: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None
    is_suspended: bool = False
    last_accessed_on: str | None = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrganizationUserMfaFactor:
    """An MFA factor a user enrolled in one organization."""

    id: str
    user_id: str
    org_code: str
    type: str
    created_on: str
    name: str | None = None


# --- memberships models: add dataclasses above this line ---


@dataclass(frozen=True)
class Role:
    """A role: a named bucket of permissions (and API scopes, system permissions).

    ``assignment_permission_id`` is the permission a user needs to assign the role
    to others (None: no permission required).
    """

    id: str
    key: str
    name: str
    created_on: str
    description: str | None = None
    is_default_role: bool = False
    assignment_permission_id: str | None = None


# --- roles models: add dataclasses above this line ---


@dataclass(frozen=True)
class Permission:
    """A permission defined for the business; its ``key`` is what tokens carry."""

    id: str
    key: str
    name: str
    created_on: str
    description: str | None = None


# --- permissions models: add dataclasses above this line ---


@dataclass(frozen=True)
class PropertyCategory:
    """A group of properties for one context (``usr``, ``org`` or ``app``)."""

    id: str
    name: str
    context: str
    created_on: str


@dataclass(frozen=True)
class Property:
    """A custom property definition; values are stored per user, organization or app."""

    id: str
    key: str
    name: str
    type: str
    context: str
    is_private: bool
    created_on: str
    category_id: str | None = None
    description: str | None = None
    is_kinde_property: bool = False


@dataclass(frozen=True)
class PropertyValue:
    """One property of a subject with its value (None when never set)."""

    property: Property
    value: str | None


# --- properties models: add dataclasses above this line ---


@dataclass(frozen=True)
class FeatureFlag:
    """A feature flag definition; values are strings that parse as ``type``.

    ``environment_value`` is the environment override (None: the default applies).
    ``allow_override_level`` is the lowest level that may override: ``env``, ``org``
    (environment and organizations) or ``usr`` (environment, organizations and users).
    """

    id: str
    key: str
    name: str
    type: str
    default_value: str
    allow_override_level: str
    created_on: str
    description: str | None = None
    environment_value: str | None = None


# --- feature_flags models: add dataclasses above this line ---


@dataclass(frozen=True)
class Invite:
    """An invitation to join an organization; ``role_keys`` are granted on acceptance."""

    code: str
    org_code: str
    email: str
    created_on: str
    first_name: str | None = None
    last_name: str | None = None
    role_keys: tuple[str, ...] = ()
    is_sent: bool = False
    is_revoked: bool = False
    accepted_on: str | None = None


# --- invites models: add dataclasses above this line ---


@dataclass(frozen=True)
class PasswordHash:
    """A user's imported password hash; never a plaintext password.

    ``params`` holds the method's extra inputs (salt, iterations, variant, ...).
    """

    user_id: str
    password_hash: str
    hashing_method: str
    is_temporary: bool
    updated_on: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class MfaFactor:
    """An enrolled MFA factor; ``org_code`` None means an environment-level factor."""

    id: str
    user_id: str
    type: str
    created_on: str
    org_code: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class UserSession:
    id: str
    user_id: str
    created_on: str
    org_code: str | None = None
    client_id: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    expires_on: str | None = None
    last_active_on: str | None = None


# --- accounts models: add dataclasses above this line ---


@dataclass(frozen=True)
class AdminAccount:
    """An admin console account (the owner); ``password_hash`` is an argon2id hash."""

    id: str
    username: str
    password_hash: str
    created_on: str
    password_changed_on: str


@dataclass(frozen=True)
class AdminSession:
    """A server-side console session, stored under the SHA-256 of its cookie value."""

    account_id: str
    username: str
    csrf_token: str
    created_at: int
    expires_at: int
    last_seen_at: int
    flash: str | None = None
