"""Bearer token checks for the Management API (RFC 6750, RFC 9068 §4, RFC 8725).

A request is let through only with ``Authorization: Bearer <jwt>`` where the JWT
is RS256-signed by one of our keys, ``iss`` equals our issuer byte for byte,
``aud`` contains the Management API audience, and ``exp``/``nbf`` hold within a
small leeway. Failures are 401 ``invalid_token`` (or a bare challenge when no
credentials were sent, §3.1); a valid token without the operation's scope is
403 ``insufficient_scope``.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.crypto.jws import JWSError, verify

LEEWAY = 60
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


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
        challenge = f'Bearer realm="{realm}"'
        if error:
            challenge += f', error="{error}", error_description="{message}"'
        if scope:
            challenge += f', scope="{scope}"'
        self.challenge = challenge


def authenticate_bearer(
    authorization: str | None,
    key_for: Callable[[str], rsa.RSAPublicKey | None],
    issuer: str,
    audience: str,
    now: float,
    realm: str = "kindling",
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
    if not token or not _B64TOKEN.fullmatch(token):
        raise invalid("The bearer token is malformed")
    try:
        claims = verify(token, key_for)
    except JWSError as exc:
        raise invalid(f"The bearer token is invalid: {exc}") from None
    if claims.get("iss") != issuer:
        raise invalid("The bearer token was issued by someone else")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise invalid("The bearer token is not meant for this API")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise invalid("The bearer token has no expiry")
    if exp + LEEWAY < now:
        raise invalid("The bearer token has expired", code="TOKEN_EXPIRED")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf - LEEWAY > now:
        raise invalid("The bearer token is not valid yet")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat - LEEWAY > now:
        raise invalid("The bearer token was issued in the future")
    client_id = claims.get("azp")
    if not isinstance(client_id, str):
        raise invalid("The bearer token names no application")
    scope = claims.get("scope")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    org_code = claims.get("org_code")
    jti = claims.get("jti")
    return Principal(
        client_id=client_id,
        scopes=scopes,
        org_code=org_code if isinstance(org_code, str) else None,
        jti=jti if isinstance(jti, str) else None,
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
