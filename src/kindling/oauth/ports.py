"""What the OAuth core needs from the outside world, as Protocols.

The core names no storage model: a client record carries any objects with the
attributes below (the applications and APIs resources' models have them), so the
core stays below every resource in the layering.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class ClientApplication(Protocol):
    """The application behind a client id (RFC 6749 §2): what the grant and claims read."""

    @property
    def id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def org_code(self) -> str | None: ...
    @property
    def access_token_lifetime(self) -> int: ...


class ClientSecret(Protocol):
    """A stored secret hash; ``expires_at`` (Unix seconds) ends a rotation grace window."""

    @property
    def secret_hash(self) -> str: ...
    @property
    def expires_at(self) -> int | None: ...


class AuthorizedApi(Protocol):
    @property
    def audience(self) -> str: ...


class Authorization(Protocol):
    """The client's authorization for one API (audience) with its granted scope keys."""

    @property
    def api(self) -> AuthorizedApi: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ClientRecord:
    """An application with its secret hashes and its authorizations for the asked audiences."""

    application: ClientApplication
    secrets: Sequence[ClientSecret]
    authorizations: Sequence[Authorization]
    #: Public (non-private) application property values, by property key.
    properties: Mapping[str, str] = field(default_factory=dict)
    #: What the token endpoint derives from this record alone and keeps for its next
    #: requests (``client_credentials``: validated grants, their encoded claims). It lives
    #: and dies with the record: a reloaded record (an authorization, secret or property
    #: changed) starts empty, so nothing derived from an older one is ever served.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ClaimsContext:
    """What a custom-claims hook is given: the application, its properties, the request."""

    application: ClientApplication
    properties: Mapping[str, str]
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    params: Mapping[str, str]


#: A custom-claims hook: returns claims to add to an M2M access token.
ClaimsHook = Callable[[ClaimsContext], Mapping[str, Any]]


class ClientStore(Protocol):
    def load_client(self, client_id: str, audiences: Sequence[str]) -> ClientRecord | None:
        """Return the client and its authorizations for ``audiences``, or None if unknown."""


class SecretVerifier(Protocol):
    def verify(self, secret: str, stored: str) -> bool:
        """Constant-time check of a presented secret against a stored hash."""

    def hash(self, secret: str) -> str:
        """Hash a secret (used to spend equal time on unknown clients)."""


class TokenSigner(Protocol):
    kid: str

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Return a compact JWS of the claims."""

    def sign_payload(self, *payload: bytes) -> tuple[bytes, bytes]:
        """Sign a base64url-encoded payload given in pieces: the signing input
        (``header.payload``) and the base64url signature, ASCII bytes (RFC 7515 §7.1)."""
