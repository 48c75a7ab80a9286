"""Token introspection, ``POST /oauth2/introspect`` (RFC 7662), sans-I/O.

**Who may ask (RFC 7662 §2.1: the endpoint MUST require authorization).** Either

* an application, authenticated exactly as at the token endpoint (``client_secret_basic``
  or ``client_secret_post``, ``oauth.client_auth``): it learns about *its own* tokens
  only; any other token is ``{"active": false}``, as if unknown (§2.2 lets the server
  answer so for a token the caller may not see), so introspection is no oracle for
  other applications' tokens; or
* a Management API access token (``Authorization: Bearer``), which is what Kinde's
  Python SDK sends (``validate_and_set_via_introspection``). It must pass the Management
  API's own bearer check (our issuer, ``typ: JWT``, the Management API audience, not
  revoked, its application still there) and carry ``read:applications``: what a token
  says is its application's grant, which that scope already reads. It may introspect
  any token we issued.

No credentials at all is 401 ``invalid_client``; a bad bearer token is 401
``invalid_token`` and one without the scope 403 ``insufficient_scope`` (RFC 6750 §3.1),
each with its ``WWW-Authenticate`` challenge.

**What it says.** ``{"active": false}`` and nothing more (§2.2) for every token that is
not a live access token of ours: malformed, signed by someone else or by a revoked or
unpublished key, of another ``typ`` (a webhook JWT), another issuer, expired (no leeway:
we judge on our own clock, RFC 7519 §4.1.4), not yet valid, revoked (RFC 7009), or of
an application that was deleted. For a live one: ``active``, ``scope``, ``client_id``
(Kinde's ``azp``), ``token_type`` (``Bearer``), ``exp``, ``iat``, ``nbf`` and ``sub``
when the token has them, ``aud`` (always an array, as Kinde's SDK models it), ``iss``,
``jti``, and ``org_code`` for an organization-scoped application's token (§2.2 allows
further members; a resource server must know the token is confined). ``token_type_hint``
is accepted and ignored (§2.1): we issue one kind of token. Every answer is
``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.oauth.bearer import (
    BearerError,
    InvalidAccessToken,
    access_token_claims,
    audiences_of,
    authenticate_bearer,
    require_scope,
)
from kindling.oauth.client_auth import authenticate_client
from kindling.oauth.errors import InvalidRequestError, OAuthError
from kindling.oauth.ports import ClientStore, SecretVerifier
from kindling.oauth.requests import TokenRequest, parse_token_request
from kindling.oauth.server import NO_STORE, TokenResponse, error_response

#: The scope a Management API token needs to introspect any token.
INTROSPECTION_SCOPE = "read:applications"
_INACTIVE = msgspec.json.encode({"active": False})


class TokenKeys(Protocol):
    """One consistent view of our verification keys and revoked tokens."""

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None: ...

    def is_revoked(self, jti: str) -> bool: ...


def live_claims(
    token: str,
    keys: TokenKeys,
    issuer: str,
    now: float,
    application_exists: Callable[[str], bool] | None,
    leeway: float = 0,
) -> dict[str, Any] | None:
    """The claims of a live access token of ours, or None (see the module docstring)."""
    try:
        claims = access_token_claims(
            token, keys.public_key, issuer, now, leeway=leeway, revoked=keys.is_revoked
        )
    except InvalidAccessToken:
        return None
    if application_exists is not None and not application_exists(claims["azp"]):
        return None
    return claims


def introspection_body(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 7662 §2.2 members for an active token."""
    body: dict[str, Any] = {
        "active": True,
        "scope": claims["scope"],
        "client_id": claims["azp"],
        "token_type": "Bearer",
        "exp": claims["exp"],
    }
    for name in ("iat", "nbf", "sub"):
        if name in claims:
            body[name] = claims[name]
    body["aud"] = audiences_of(claims)
    body["iss"] = claims["iss"]
    body["jti"] = claims["jti"]
    if isinstance(claims.get("org_code"), str):
        body["org_code"] = claims["org_code"]
    return body


def bearer_error_response(error: BearerError) -> TokenResponse:
    """A refused bearer token in the OAuth error shape, with its challenge."""
    wire = OAuthError(error.message)
    body = msgspec.json.encode(
        {"error": error.error or "invalid_token", "error_description": wire.description}
    )
    return TokenResponse(error.status, body, NO_STORE + (("www-authenticate", error.challenge),))


def is_bearer(authorization: str | None) -> bool:
    """Whether the ``Authorization`` header uses the Bearer scheme (case-insensitive)."""
    if authorization is None:
        return False
    scheme, _, _ = authorization.strip().partition(" ")
    return scheme.lower() == "bearer"


def required_token(request: TokenRequest) -> str:
    token = request.get("token")
    if token is None:
        raise InvalidRequestError("the token parameter is required")
    return token


class IntrospectionEndpoint:
    """Answers ``POST /oauth2/introspect``; storage, keys and time are injected."""

    def __init__(
        self,
        store: ClientStore,
        verifier: SecretVerifier,
        keys: Callable[[], TokenKeys],
        issuer: Callable[[], str],
        management_audience: Callable[[], str],
        application_exists: Callable[[str], bool],
        realm: str = "kindling",
    ) -> None:
        self._store = store
        self._verifier = verifier
        self._keys = keys
        self._issuer = issuer
        self._audience = management_audience
        self._exists = application_exists
        self._realm = realm

    def handle(
        self, body: bytes, content_type: str | None, authorization: str | None, now: float
    ) -> TokenResponse:
        """Authenticate the caller, then say whether the token is active; never raises."""
        bearer = is_bearer(authorization)
        try:
            request = parse_token_request(
                body, content_type, None if bearer else authorization, self._realm
            )
            keys = self._keys()
            issuer = self._issuer()
            caller: str | None
            if bearer:
                if request.get("client_secret") is not None:
                    raise InvalidRequestError("the client used more than one authentication method")
                caller = None
                self._authenticate_bearer(authorization, keys, issuer, now)
            else:
                record = authenticate_client(request, self._store, self._verifier, (), now)
                caller = record.application.client_id
            token = required_token(request)
        except OAuthError as error:
            return error_response(error)
        except BearerError as error:
            return bearer_error_response(error)
        claims = live_claims(token, keys, issuer, now, self._exists)
        if claims is None or (caller is not None and claims["azp"] != caller):
            return TokenResponse(200, _INACTIVE, NO_STORE)
        return TokenResponse(200, msgspec.json.encode(introspection_body(claims)), NO_STORE)

    def _authenticate_bearer(
        self, authorization: str | None, keys: TokenKeys, issuer: str, now: float
    ) -> None:
        principal = authenticate_bearer(
            authorization,
            keys.public_key,
            issuer,
            self._audience(),
            now,
            self._realm,
            revoked=keys.is_revoked,
        )
        require_scope(principal, INTROSPECTION_SCOPE, self._realm)
        if not self._exists(principal.client_id):
            raise BearerError(
                401,
                "INVALID_TOKEN",
                "The application of this token no longer exists",
                "invalid_token",
                self._realm,
            )


__all__ = [
    "INTROSPECTION_SCOPE",
    "IntrospectionEndpoint",
    "TokenKeys",
    "introspection_body",
    "live_claims",
]
