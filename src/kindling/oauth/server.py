"""The token endpoint: one entry point from a raw request to a response value.

RFC 6749 §5.1 and §5.2: success and error bodies are JSON, and every answer
carries ``Cache-Control: no-store`` and ``Pragma: no-cache``. Any OAuthError is
rendered here and nowhere else.

Every response also says what happened, for the audit log (``TokenOutcome``): the
client id the request named, the audiences, and either the granted scopes and the new
token's ``jti`` or the RFC 6749 §5.2 error code. It never holds the secret or the token.
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


@dataclass(frozen=True, slots=True)
class TokenOutcome:
    """What a token request came to, for the audit log (no secret, no token).

    ``client_id`` is the id the request named (None when it named none or could not be
    parsed); ``error`` is None for an issued token; ``narrowed`` says the request named
    its scopes (RFC 6749 §3.3) rather than taking every granted one.
    """

    client_id: str | None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    jti: str | None = None
    error: str | None = None
    narrowed: bool = False


@dataclass(frozen=True)
class TokenResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    outcome: TokenOutcome | None = None


def error_response(error: OAuthError, outcome: TokenOutcome | None = None) -> TokenResponse:
    body = _encode({"error": error.error, "error_description": error.description})
    extra = tuple((k.lower(), v) for k, v in error.headers.items())
    return TokenResponse(error.status_code, body, NO_STORE + extra, outcome)


def _named_client(request: TokenRequest | None) -> str | None:
    if request is None:
        return None
    if request.basic is not None:
        return request.basic.client_id
    return request.get("client_id")


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
        request: TokenRequest | None = None
        try:
            request = parse_token_request(body, content_type, authorization, self._realm)
            return self.issue(request, now)
        except OAuthError as error:
            outcome = TokenOutcome(
                client_id=_named_client(request),
                audiences=request.audiences if request is not None else (),
                error=error.error,
            )
            return error_response(error, outcome)

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
        outcome = TokenOutcome(
            client_id=grant.record.application.client_id,
            audiences=grant.audiences,
            scopes=grant.scopes,
            jti=issued.jti,
            narrowed=bool(grant.requested_scopes),
        )
        return TokenResponse(200, issued.body, NO_STORE, outcome)
