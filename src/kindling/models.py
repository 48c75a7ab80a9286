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
class ApiAuthorization:
    """An application authorized for an API, with the scope keys it was granted."""

    api: Api
    application_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Identity:
    id: str
    user_id: str
    type: str
    value: str
    is_verified: bool
    is_primary: bool
    created_on: str


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


# --- organizations models: add dataclasses above this line ---


# --- memberships models: add dataclasses above this line ---


# --- roles models: add dataclasses above this line ---


# --- permissions models: add dataclasses above this line ---


# --- properties models: add dataclasses above this line ---


# --- feature_flags models: add dataclasses above this line ---


# --- invites models: add dataclasses above this line ---


# --- accounts models: add dataclasses above this line ---
