"""The token endpoint: one entry point from a raw request to a response value.

RFC 6749 §5.1 and §5.2: success and error bodies are JSON, and every answer
carries ``Cache-Control: no-store`` and ``Pragma: no-cache``. Any OAuthError is
rendered here and nowhere else.
"""

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from kindling.oauth import client_credentials
from kindling.oauth.client_auth import authenticate_client
from kindling.oauth.errors import InvalidRequestError, OAuthError, UnsupportedGrantTypeError
from kindling.oauth.ports import ClaimsHook, ClientStore, SecretVerifier, TokenSigner
from kindling.oauth.requests import TokenRequest, parse_token_request

_encode = msgspec.json.encode
NO_STORE = (("cache-control", "no-store"), ("pragma", "no-cache"))


@dataclass(frozen=True)
class TokenResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


def error_response(error: OAuthError) -> TokenResponse:
    body = _encode({"error": error.error, "error_description": error.description})
    extra = tuple((k.lower(), v) for k, v in error.headers.items())
    return TokenResponse(error.status_code, body, NO_STORE + extra)


class TokenEndpoint:
    """Issues access tokens for ``client_credentials``; storage and signing are injected."""

    def __init__(
        self,
        store: ClientStore,
        verifier: SecretVerifier,
        signer: Callable[[], TokenSigner],
        issuer: Callable[[], str],
        realm: str = "kindling",
        claims_hook: ClaimsHook | None = None,
        properties_claim: str | None = None,
    ) -> None:
        self._store = store
        self._verifier = verifier
        self._signer = signer
        self._issuer = issuer
        self._realm = realm
        self._hook = claims_hook
        self._properties_claim = properties_claim

    def handle(
        self, body: bytes, content_type: str | None, authorization: str | None, now: float
    ) -> TokenResponse:
        """Parse, authenticate, validate and issue; never raises an OAuthError."""
        try:
            request = parse_token_request(body, content_type, authorization, self._realm)
            return self.issue(request, now)
        except OAuthError as error:
            return error_response(error)

    def issue(self, request: TokenRequest, now: float) -> TokenResponse:
        grant_type = request.get("grant_type")
        if grant_type is None:
            raise InvalidRequestError("the grant_type parameter is required")
        if grant_type != client_credentials.GRANT_TYPE:
            raise UnsupportedGrantTypeError(f"the grant type {grant_type} is not supported")
        audiences = client_credentials.required_audiences(request)
        record = authenticate_client(request, self._store, self._verifier, audiences, now)
        grant = client_credentials.validate(request, record)
        issued = client_credentials.mint(
            grant,
            request,
            self._issuer(),
            int(now),
            self._signer(),
            self._hook,
            self._properties_claim,
        )
        return TokenResponse(200, _encode(issued), NO_STORE)
