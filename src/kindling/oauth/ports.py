"""What the OAuth core needs from the outside world, as Protocols."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kindling.resources.apis.model import ApiAuthorization
from kindling.resources.applications.model import Application, ApplicationSecret


@dataclass(frozen=True)
class ClientRecord:
    """An application with its secret hashes and its authorizations for the asked audiences."""

    application: Application
    secrets: Sequence[ApplicationSecret]
    authorizations: Sequence[ApiAuthorization]
    #: Public (non-private) application property values, by property key.
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimsContext:
    """What a custom-claims hook is given: the application, its properties, the request."""

    application: Application
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
