"""Bearer token checks for the Management API (RFC 6750, RFC 9068 §4, RFC 8725).

A request is let through only with ``Authorization: Bearer <jwt>`` where the JWT
is one of *our access tokens*: RS256-signed by one of our published keys, with the
JOSE header ``typ`` exactly ``JWT`` (what we issue, as Kinde does; RFC 8725 §3.11
explicit typing, so a webhook JWT, an ID token or an ``at+jwt`` token signed with the
same keys never passes), ``iss`` equal to our issuer byte for byte, the claim shape of
a client-credentials token (``gty`` containing ``client_credentials``, ``azp``,
``scope`` and ``jti`` strings), ``exp``/``nbf``/``iat`` within a small leeway, a
``jti`` nobody revoked (RFC 7009), and ``aud`` containing the Management API audience.
Failures are 401 ``invalid_token`` (or a bare challenge when no credentials were sent,
§3.1); a valid token without the operation's scope is 403 ``insufficient_scope``.

``access_token_claims`` is the same check without the audience, shared with token
introspection (RFC 7662), which answers for tokens of every audience.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.crypto.jws import ACCESS_TOKEN_TYP, JWSError, verify

LEEWAY = 60
#: The grant every access token we issue names in ``gty`` (Kinde's M2M claim).
GRANT_TYPE = "client_credentials"
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

#: Looks a verification key up by ``kid`` among our published keys.
KeyLookup = Callable[[str], rsa.RSAPublicKey | None]
#: Whether a token id (``jti``) was revoked.
RevokedCheck = Callable[[str], bool]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the M2M application and the scopes its token carries."""

    client_id: str
    scopes: frozenset[str]
    org_code: str | None
    jti: str | None
    claims: Mapping[str, Any]


class BearerError(Exception):
    """A refused bearer request: status, Kinde-style code, message and challenge."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        error: str | None,
        realm: str,
        scope: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error = error
        challenge = f'Bearer realm="{realm}"'
        if error:
            challenge += f', error="{error}", error_description="{message}"'
        if scope:
            challenge += f', scope="{scope}"'
        self.challenge = challenge


class InvalidAccessToken(Exception):
    """The token is not one of our live access tokens; ``code`` is the Kinde-style code."""

    def __init__(self, message: str, code: str = "INVALID_TOKEN") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def audiences_of(claims: Mapping[str, Any]) -> list[str]:
    """``aud`` as a list: RFC 7519 §4.1.3 allows one string or an array of strings."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []


def access_token_claims(
    token: str,
    key_for: KeyLookup,
    issuer: str,
    now: float,
    *,
    leeway: float = LEEWAY,
    revoked: RevokedCheck | None = None,
) -> dict[str, Any]:
    """The claims of one of our live access tokens, any audience; else InvalidAccessToken.

    ``leeway`` tolerates clock skew on ``exp`` and ``nbf`` (the Management API allows
    60 s; introspection, judging on our own clock, allows none: RFC 7519 §4.1.4, a token
    is expired from ``exp`` on). An ``iat`` more than 60 s ahead is refused either way.
    ``revoked`` refuses a token whose ``jti`` was revoked.
    """
    if not token or not _B64TOKEN.fullmatch(token):
        raise InvalidAccessToken("The bearer token is malformed")
    try:
        claims = verify(token, key_for, typ=ACCESS_TOKEN_TYP)
    except JWSError as exc:
        raise InvalidAccessToken(f"The bearer token is invalid: {exc}") from None
    if claims.get("iss") != issuer:
        raise InvalidAccessToken("The bearer token was issued by someone else")
    gty = claims.get("gty")
    if not isinstance(gty, list) or GRANT_TYPE not in gty:
        raise InvalidAccessToken("The bearer token is not an access token")
    client_id, scope, jti = claims.get("azp"), claims.get("scope"), claims.get("jti")
    if not isinstance(client_id, str) or not client_id:
        raise InvalidAccessToken("The bearer token names no application")
    if not isinstance(scope, str) or not isinstance(jti, str) or not jti:
        raise InvalidAccessToken("The bearer token is not an access token")
    if not audiences_of(claims):
        raise InvalidAccessToken("The bearer token names no audience")
    exp = claims.get("exp")
    if not _number(exp):
        raise InvalidAccessToken("The bearer token has no expiry")
    if now >= exp + leeway:
        raise InvalidAccessToken("The bearer token has expired", code="TOKEN_EXPIRED")
    nbf = claims.get("nbf")
    if nbf is not None and (not _number(nbf) or nbf - leeway > now):
        raise InvalidAccessToken("The bearer token is not valid yet")
    iat = claims.get("iat")
    if iat is not None and (not _number(iat) or iat - LEEWAY > now):
        raise InvalidAccessToken("The bearer token was issued in the future")
    if revoked is not None and revoked(jti):
        raise InvalidAccessToken("The bearer token has been revoked")
    return claims


def authenticate_bearer(
    authorization: str | None,
    key_for: KeyLookup,
    issuer: str,
    audience: str,
    now: float,
    realm: str = "kindling",
    revoked: RevokedCheck | None = None,
) -> Principal:
    """Verify the bearer token and return the principal, or raise BearerError (401)."""

    def invalid(message: str, code: str = "INVALID_TOKEN") -> BearerError:
        return BearerError(401, code, message, "invalid_token", realm)

    if authorization is None or not authorization.strip():
        raise BearerError(401, "UNAUTHORIZED", "A bearer token is required", None, realm)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise invalid("The authorization scheme must be Bearer")
    try:
        claims = access_token_claims(token, key_for, issuer, now, revoked=revoked)
    except InvalidAccessToken as exc:
        raise invalid(exc.message, exc.code) from None
    if audience not in audiences_of(claims):
        raise invalid("The bearer token is not meant for this API")
    scope = claims["scope"]
    org_code = claims.get("org_code")
    return Principal(
        client_id=claims["azp"],
        scopes=frozenset(scope.split()),
        org_code=org_code if isinstance(org_code, str) else None,
        jti=claims["jti"],
        claims=claims,
    )


def require_scope(principal: Principal, scope: str | None, realm: str = "kindling") -> None:
    """Raise 403 ``insufficient_scope`` unless the token carries ``scope``."""
    if scope is not None and scope not in principal.scopes:
        raise BearerError(
            403,
            "INSUFFICIENT_SCOPE",
            f"The token lacks the scope {scope}",
            "insufficient_scope",
            realm,
            scope=scope,
        )
