"""The client credentials grant (RFC 6749 §4.4) with Kinde's audience and scope rules.

``audience`` is required and may be repeated; the client must be authorized for
each one. ``scope`` is optional: absent or empty means every scope granted to
the client for those audiences; otherwise each requested scope must be granted
(RFC 6749 §3.3), or the request fails with ``invalid_scope``. A token never
carries a scope that was not granted.
"""

import binascii
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
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
#: Grants (and their encoded claims) a client record keeps: one per audiences and
#: ``scope`` parameter asked for; a client asking for more variants than this recomputes.
MAX_MEMO = 16
_encode = msgspec.json.encode


@dataclass(frozen=True)
class ValidatedGrant:
    """What the token will say: audiences, scopes and lifetime."""

    record: ClientRecord
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    requested_scopes: tuple[str, ...]
    lifetime: int
    #: The claims' encoded pieces by (issuer, properties claim): see ``EncodedClaims``.
    encoded: dict[tuple[str, str | None], "EncodedClaims"] = field(
        default_factory=dict, compare=False, repr=False
    )


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
    """Check grant eligibility, audiences and scopes for an authenticated client.

    The answer depends only on the record, the audiences and the ``scope`` parameter, so
    a successful one is kept in the record's memo (``ClientRecord.memo``) and the next
    request of the same shape reuses it, with its encoded claims. A changed application
    or authorization is a new record (the client store reloads it), so a kept grant
    never outlives what it was computed from. Refusals are not kept.
    """
    key = (request.audiences, request.params.get("scope"))
    memo = record.memo
    grant: ValidatedGrant | None = memo.get(key)
    if grant is None:
        grant = _validate(request, record)
        if len(memo) >= MAX_MEMO:
            memo.clear()
        memo[key] = grant
    return grant


def _validate(request: TokenRequest, record: ClientRecord) -> ValidatedGrant:
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
    Organization-scoped applications also get ``org_code``. This is the definition of
    the claims; ``mint`` encodes the very same JSON bytes from cached pieces
    (``EncodedClaims``), and tests/unit/test_token_fragments.py holds the two together.
    """
    app = grant.record.application
    claims: dict[str, Any] = {
        "aud": list(grant.audiences),
        "azp": app.client_id,
        "exp": now + grant.lifetime,
        "gty": [GRANT_TYPE],
        "iat": now,
        "iss": issuer,
        "jti": new_jti(),
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

    The properties claim (``properties_claim``) holds the application's public property
    values; the hook's claims (``hook_claims``) come after it, in the hook's order.
    """
    record = grant.record
    if properties_claim:
        claims[properties_claim] = dict(record.properties)
    if hook is not None:
        extra, _ = hook_claims(grant, request, hook, properties_claim)
        claims.update(extra)
    return claims


def hook_claims(
    grant: ValidatedGrant,
    request: TokenRequest,
    hook: ClaimsHook,
    properties_claim: str | None,
) -> tuple[Mapping[str, Any], bytes]:
    """The custom-claims hook's claims, checked, and their JSON object; else ``server_error``.

    A hook that raises, returns something other than a mapping of JSON values, or
    tries to set a reserved claim fails the request: the client gets no token rather
    than a partial one.
    """
    record = grant.record
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
        encoded = _encode(extra)
    except (TypeError, msgspec.EncodeError) as exc:
        log.error("the custom claims hook returned values that are not JSON")
        raise ServerError("the custom claims hook returned an invalid value") from exc
    return extra, encoded


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64url(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2): ``base64.urlsafe_b64encode``'s two steps
    called directly, without its two Python frames (3 per token: 3.3 k instructions per
    token less, bench/token_instructions.py under cachegrind)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class PayloadPart:
    """A fixed run of bytes inside JWS payloads whose base64url is computed once.

    base64 maps every 3 input bytes to 4 output characters independently of the rest
    (RFC 4648 §4), so ``base64url(before + data + after)`` is ``base64url(before +
    data[:k]) + base64url(data[k:m]) + base64url(data[m:] + after)`` whenever
    ``len(before) + k`` and ``m - k`` are multiples of 3. The middle piece depends only on
    ``k = -len(before) % 3``, so it is kept for each of the three values: a token then
    encodes only the bytes that change per token (``exp``, ``iat``, ``jti``, a hook's
    claims) and at most two bytes on each side of them. Why split by hand rather than
    ``base64.urlsafe_b64encode`` the whole payload each time: for the 149-scope
    Management API token (7.5 kB of JSON, 10 kB encoded) encoding it all costs 220 k
    instructions more per token (``b2a_base64``, the ``+/`` to ``-_`` translation and
    their copies; bench/token_instructions.py, cachegrind, 7.04 M against 7.26 M per
    token); the bytes are the same (tests/unit/test_token_fragments.py).
    """

    __slots__ = ("data", "_pieces")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._pieces: list[tuple[bytes, bytes, bytes] | None] = [None, None, None]

    def encode(self, before: bytes, after: bytes) -> tuple[bytes, ...]:
        """``base64url(before + self.data + after)`` without padding (RFC 7515 §2), in
        pieces to be joined (by the signer, into the signing input: one copy)."""
        shift = -len(before) % 3
        pieces = self._pieces[shift]
        if pieces is None:
            data = self.data
            if len(data) < shift:
                return (_b64url(before + data + after),)
            end = shift + (len(data) - shift) // 3 * 3
            pieces = (data[:shift], _b64url(data[shift:end]), data[end:])
            self._pieces[shift] = pieces
        lead, middle, rest = pieces
        return _b64url(before + lead), middle, _b64url(rest + after)


_MS48 = (1 << 48) - 1


def new_jti() -> str:
    """A time-ordered (version 7) UUID string for ``jti`` (RFC 7519 §4.1.7, RFC 9562
    §5.7): the Unix time in milliseconds (48 bits, the system clock at minting), the
    version, 74 random bits and the variant, in the usual 8-4-4-4-12 hex form.

    Why version 7 and not 4: every issued token's ``jti`` is the ``target_id`` of its
    audit row, which is indexed (``audit_target``, so a token can be traced by its id).
    Random ids land all over that B-tree, so each insert touches cold pages, and more of
    them as the log grows; time-ordered ids append to its right edge like ``seq`` does.
    Measured with the audit table's schema in SQLite (``bench/audit_rows.py``: WAL,
    batches of 150 rows after 500,000): 22.9-27.2 µs of CPU per row with version 4 ids,
    8.4-8.9 µs with version 7. 74 random bits per millisecond keep ids unique across instances; the
    timestamp says nothing ``iat`` does not.

    By hand because ``uuid`` builds a 128-bit integer and a ``UUID`` object only to
    format it (11 k instructions more per token under cachegrind for ``uuid.uuid4()``).
    """
    raw = bytearray((time.time_ns() // 1_000_000 & _MS48).to_bytes(6, "big") + os.urandom(10))
    raw[6] = raw[6] & 0x0F | 0x70  # version 7 in the high nibble of octet 6
    raw[8] = raw[8] & 0x3F | 0x80  # the variant (binary 10) in octet 8
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_GTY_IAT = b',"gty":' + _encode([GRANT_TYPE]) + b',"iat":'


class EncodedClaims:
    """A grant's claims (``build_claims`` + the properties claim) as JSON pieces.

    Per token only ``exp``, ``iat`` and ``jti`` (and a hook's claims) change; everything
    else, above all the ``scope`` string and the ``scp`` array of a 149-scope grant, is
    encoded once per grant and issuer (``ValidatedGrant.encoded``). The payload is
    ``head exp _GTY_IAT iat iss_jti jti tail [hook claims] }``, in ``build_claims``' key
    order, each value encoded by msgspec as it would be inside the whole object.
    """

    __slots__ = ("head", "iss_jti", "tail", "scope_text", "scope", "expires_in")

    def __init__(self, grant: ValidatedGrant, issuer: str, properties_claim: str | None) -> None:
        app = grant.record.application
        self.head = b'{"aud":%s,"azp":%s,"exp":' % (
            _encode(list(grant.audiences)),
            _encode(app.client_id),
        )
        self.iss_jti = b',"iss":%s,"jti":"' % _encode(issuer)
        self.scope_text = " ".join(grant.scopes)
        #: The ``scope`` string, JSON-encoded: also the success body's ``scope``.
        self.scope = _encode(self.scope_text)
        tail = [b'","scope":', self.scope, b',"scp":', _encode(list(grant.scopes)), b',"v":"2"']
        if app.org_code:
            tail += [b',"org_code":', _encode(app.org_code)]
        if properties_claim:
            tail += [b",", _encode(properties_claim), b":", _encode(dict(grant.record.properties))]
        self.tail = PayloadPart(b"".join(tail))
        self.expires_in = b"%d" % grant.lifetime

    @staticmethod
    def of(grant: ValidatedGrant, issuer: str, properties_claim: str | None) -> "EncodedClaims":
        """The grant's pieces for this issuer, made on first use and kept with the grant."""
        key = (issuer, properties_claim)
        found = grant.encoded.get(key)
        if found is None:
            if len(grant.encoded) >= MAX_MEMO:
                grant.encoded.clear()
            found = grant.encoded[key] = EncodedClaims(grant, issuer, properties_claim)
        return found


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token, its ``jti`` and its RFC 6749 §5.1 success body (JSON bytes).

    The token is kept as the signer gave it (signing input, signature): the endpoint
    only needs ``body``, which holds it already."""

    signing_input: bytes
    signature: bytes
    jti: str
    body: bytes
    expires_in: int
    scope: str

    @property
    def access_token(self) -> bytes:
        """The compact JWS (RFC 7515 §7.1), ASCII."""
        return self.signing_input + b"." + self.signature

    def response(self) -> dict[str, Any]:
        """The success body as a dict (``body`` is its JSON encoding, byte for byte)."""
        return {
            "access_token": self.access_token.decode("ascii"),
            "expires_in": self.expires_in,
            "scope": self.scope,
            "token_type": "Bearer",
        }


def mint(
    grant: ValidatedGrant,
    request: TokenRequest,
    issuer: str,
    now: int,
    signer: TokenSigner,
    hook: ClaimsHook | None,
    properties_claim: str | None,
) -> IssuedToken:
    """Turn a validated grant into a token and its RFC 6749 §5.1 body: the one place tokens
    are made.

    Kinde's M2M claims (``build_claims``), the application properties claim and the
    custom-claims hook's claims (``extend_claims``), signed. The token endpoint and the
    secret-less test tokens (``kindling token``, the console's "Get token",
    ``IssuedToken.response``) both come here, so a token means the same whichever way it
    was asked for. ``expires_in`` is the lifetime in seconds (RFC 6749 §5.1). The JSON is
    assembled from the grant's cached pieces (``EncodedClaims``) rather than encoded from
    a dict: the same bytes, without re-encoding the scope list of every token.
    """
    pieces = EncodedClaims.of(grant, issuer, properties_claim)
    jti = new_jti()
    before = b"%s%d%s%d%s%s" % (
        pieces.head,
        now + grant.lifetime,
        _GTY_IAT,
        now,
        pieces.iss_jti,
        jti.encode("ascii"),
    )
    after = b"}"
    if hook is not None:
        extra, encoded = hook_claims(grant, request, hook, properties_claim)
        if extra:
            after = b"," + encoded[1:-1] + b"}"
    signing_input, signature = signer.sign_payload(*pieces.tail.encode(before, after))
    body = b"".join(
        (
            b'{"access_token":"',
            signing_input,
            b".",
            signature,
            b'","expires_in":',
            pieces.expires_in,
            b',"scope":',
            pieces.scope,
            b',"token_type":"Bearer"}',
        )
    )
    return IssuedToken(signing_input, signature, jti, body, grant.lifetime, pieces.scope_text)
