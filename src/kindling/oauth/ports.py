"""What the OAuth core needs from the outside world, as Protocols."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kindling.models import ApiAuthorization, Application, ApplicationSecret


@dataclass(frozen=True)
class ClientRecord:
    """An application with its secret hashes and its authorizations for the asked audiences."""

    application: Application
    secrets: Sequence[ApplicationSecret]
    authorizations: Sequence[ApiAuthorization]


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
