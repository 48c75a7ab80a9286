"""The client credentials grant (RFC 6749 §4.4) with Kinde's audience and scope rules.

``audience`` is required and may be repeated; the client must be authorized for
each one. ``scope`` is optional: absent or empty means every scope granted to
the client for those audiences; otherwise each requested scope must be granted
(RFC 6749 §3.3), or the request fails with ``invalid_scope``. A token never
carries a scope that was not granted.
"""

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from kindling.oauth.errors import (
    InvalidRequestError,
    InvalidScopeError,
    ServerError,
    UnauthorizedClientError,
)
from kindling.oauth.ports import ClaimsContext, ClaimsHook, ClientRecord, TokenSigner
from kindling.oauth.requests import TokenRequest

GRANT_TYPE = "client_credentials"
log = logging.getLogger("kindling.token")
#: RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
MAX_SCOPES = 500


@dataclass(frozen=True)
class ValidatedGrant:
    """What the token will say: audiences, scopes and lifetime."""

    record: ClientRecord
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    requested_scopes: tuple[str, ...]
    lifetime: int


def parse_scope(value: str | None) -> tuple[str, ...]:
    """Split a space-delimited scope parameter, de-duplicated in order."""
    if not value:
        return ()
    tokens = [t for t in value.split(" ") if t]
    if len(tokens) > MAX_SCOPES:
        raise InvalidScopeError("too many scopes requested")
    for token in tokens:
        if not _SCOPE_TOKEN.fullmatch(token):
            raise InvalidScopeError("the scope parameter contains an invalid character")
    return tuple(dict.fromkeys(tokens))


def required_audiences(request: TokenRequest) -> tuple[str, ...]:
    if not request.audiences:
        raise InvalidRequestError("the audience parameter is required")
    return request.audiences


def validate(request: TokenRequest, record: ClientRecord) -> ValidatedGrant:
    """Check grant eligibility, audiences and scopes for an authenticated client."""
    if record.application.type != "m2m":
        raise UnauthorizedClientError("the client may not use the client_credentials grant")
    audiences = request.audiences
    by_audience = {auth.api.audience: auth for auth in record.authorizations}
    for audience in audiences:
        if audience not in by_audience:
            raise UnauthorizedClientError(
                f"the client is not authorized for the audience {audience}"
            )
    if len(audiences) == 1:
        granted_scopes = by_audience[audiences[0]].scopes
    else:
        merged: dict[str, None] = {}
        for audience in audiences:
            merged.update(dict.fromkeys(by_audience[audience].scopes))
        granted_scopes = tuple(merged)
    requested = parse_scope(request.get("scope"))
    if requested:
        granted = frozenset(granted_scopes)
        missing = [s for s in requested if s not in granted]
        if missing:
            raise InvalidScopeError(f"the scope {missing[0]} was not granted to the client")
        scopes = requested
    else:
        scopes = granted_scopes
    return ValidatedGrant(
        record=record,
        audiences=audiences,
        scopes=scopes,
        requested_scopes=requested,
        lifetime=record.application.access_token_lifetime,
    )


def build_claims(grant: ValidatedGrant, issuer: str, now: int) -> dict[str, Any]:
    """Kinde's M2M access-token claims (Kinde token structure for M2M applications).

    ``scp`` lists the scopes as an array; ``v`` is Kinde's token format version.
    Organization-scoped applications also get ``org_code``.
    """
    app = grant.record.application
    claims: dict[str, Any] = {
        "aud": list(grant.audiences),
        "azp": app.client_id,
        "exp": now + grant.lifetime,
        "gty": [GRANT_TYPE],
        "iat": now,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(grant.scopes),
        "scp": list(grant.scopes),
        "v": "2",
    }
    if app.org_code:
        claims["org_code"] = app.org_code
    return claims


#: Claims a hook may not set: Kinde's own and the registered JWT claims (RFC 7519 §4.1).
RESERVED_CLAIMS = frozenset(
    {
        "aud",
        "azp",
        "exp",
        "gty",
        "iat",
        "iss",
        "jti",
        "scope",
        "scp",
        "v",
        "org_code",
        "nbf",
        "sub",
        "client_id",
    }
)


def extend_claims(
    claims: dict[str, Any],
    grant: ValidatedGrant,
    request: TokenRequest,
    hook: ClaimsHook | None,
    properties_claim: str | None,
) -> dict[str, Any]:
    """Add application properties and a hook's claims; any failure is ``server_error``.

    A hook that raises, returns something other than a mapping of JSON values, or
    tries to set a reserved claim fails the request: the client gets no token rather
    than a partial one.
    """
    record = grant.record
    if properties_claim:
        claims[properties_claim] = dict(record.properties)
    if hook is None:
        return claims
    context = ClaimsContext(
        application=record.application,
        properties=dict(record.properties),
        audiences=grant.audiences,
        scopes=grant.scopes,
        params=dict(request.params),
    )
    try:
        extra = hook(context)
    except Exception as exc:
        log.exception("the custom claims hook failed")
        raise ServerError("the custom claims hook failed") from exc
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        log.error("the custom claims hook returned %s, not a mapping", type(extra).__name__)
        raise ServerError("the custom claims hook returned an invalid value")
    reserved = RESERVED_CLAIMS | ({properties_claim} if properties_claim else set())
    clash = sorted(set(extra) & reserved)
    if clash:
        log.error("the custom claims hook tried to set reserved claims %s", clash)
        raise ServerError("the custom claims hook tried to set a reserved claim")
    try:
        msgspec.json.encode(extra)
    except (TypeError, msgspec.EncodeError) as exc:
        log.error("the custom claims hook returned values that are not JSON")
        raise ServerError("the custom claims hook returned an invalid value") from exc
    claims.update(extra)
    return claims


def mint(
    grant: ValidatedGrant,
    request: TokenRequest,
    issuer: str,
    now: int,
    signer: TokenSigner,
    hook: ClaimsHook | None,
    properties_claim: str | None,
) -> dict[str, Any]:
    """Turn a validated grant into the RFC 6749 §5.1 success body: the one place tokens are made.

    Builds Kinde's M2M claims, adds the application properties claim and the
    custom-claims hook's claims (``extend_claims``), and signs them. The token
    endpoint and the secret-less test tokens (``kindling token``, the console's
    "Get token") both come here, so a token means the same whichever way it was
    asked for. ``expires_in`` is the lifetime in seconds (RFC 6749 §5.1).
    """
    claims = build_claims(grant, issuer, now)
    if hook is not None or properties_claim:
        claims = extend_claims(claims, grant, request, hook, properties_claim)
    return {
        "access_token": signer.sign(claims),
        "expires_in": claims["exp"] - claims["iat"],
        "scope": claims["scope"],
        "token_type": "Bearer",
    }
