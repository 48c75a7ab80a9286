"""The token endpoint's claims and success body, assembled from cached pieces, are the bytes
of encoding the claims dict (``oauth.client_credentials``); what the form parser remembers.

``mint`` builds the JWT payload from a grant's encoded pieces (``EncodedClaims``) and
base64url-encodes only what changes per token (``PayloadPart``); ``build_claims`` and
``extend_claims`` are the definition of the claims (Kinde's M2M token: ``aud``, ``azp``,
``exp``, ``gty``, ``iat``, ``iss``, ``jti``, ``scope``, ``scp``, ``v``, then ``org_code``,
the properties claim and a hook's claims). These tests decode the payload segment of real
signed tokens and compare it, byte for byte, with ``msgspec.json.encode`` of those dicts,
and the body with the encoding of RFC 6749 §5.1's dict, so any drift in key order, value
encoding or base64 splicing fails here.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from kindling.crypto import jws
from kindling.crypto.keys import SigningKey
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.oauth import client_credentials as cc
from kindling.oauth import requests
from kindling.oauth.errors import UnauthorizedClientError
from kindling.oauth.ports import ClaimsContext, ClaimsHook, ClientRecord
from kindling.oauth.requests import FORM_CONTENT_TYPE, TokenRequest, parse_token_request

NOW = 1_764_590_400
ISSUER = "http://localhost:8080"
AUDIENCE = "http://localhost:8080/api"


@dataclass(frozen=True)
class App:
    id: str = "app_1"
    client_id: str = "c0ffee0123456789"
    name: str = "orders"
    type: str = "m2m"
    org_code: str | None = None
    access_token_lifetime: int = 86_400


@dataclass(frozen=True)
class Api:
    audience: str


@dataclass(frozen=True)
class Authorization:
    api: Api
    scopes: tuple[str, ...]


@pytest.fixture(scope="module")
def signer() -> jws.Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jws.Signer(SigningKey("kid-fragments", key))


def record(
    grants: Mapping[str, tuple[str, ...]],
    app: App | None = None,
    properties: Mapping[str, str] | None = None,
) -> ClientRecord:
    return ClientRecord(
        application=app or App(),
        secrets=(),
        authorizations=[Authorization(Api(a), s) for a, s in grants.items()],
        properties=dict(properties or {}),
    )


def request(audiences: tuple[str, ...], scope: str | None = None) -> TokenRequest:
    params = {"grant_type": "client_credentials"}
    if scope:
        params["scope"] = scope
    return TokenRequest(params=params, audiences=audiences)


def payload_of(token: bytes) -> bytes:
    segment = token.split(b".")[1]
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def check(
    signer: jws.Signer,
    rec: ClientRecord,
    req: TokenRequest,
    issuer: str = ISSUER,
    now: int = NOW,
    hook: ClaimsHook | None = None,
    properties_claim: str | None = None,
) -> dict[str, Any]:
    """Mint once and compare payload and body with the dicts' encodings; the claims."""
    grant = cc.validate(req, rec)
    issued = cc.mint(grant, req, issuer, now, signer, hook, properties_claim)
    claims = cc.build_claims(grant, issuer, now)
    claims["jti"] = issued.jti
    if hook is not None or properties_claim:
        claims = cc.extend_claims(claims, grant, req, hook, properties_claim)
    assert payload_of(issued.access_token) == msgspec.json.encode(claims)
    token = issued.access_token.decode("ascii")
    assert issued.body == msgspec.json.encode(
        {
            "access_token": token,
            "expires_in": claims["exp"] - claims["iat"],
            "scope": claims["scope"],
            "token_type": "Bearer",
        }
    )
    assert msgspec.json.encode(issued.response()) == issued.body
    # The spliced base64url is a valid JWS payload under our own verifier.
    key = signer._key.public_key()
    assert jws.verify(token, lambda kid: key, typ="JWT") == msgspec.json.decode(
        msgspec.json.encode(claims)
    )
    return claims


def each_alignment(check_one: Any) -> None:
    """Run ``check_one(issuer)`` with issuers of three lengths: the per-token bytes before
    the cached tail then have every length modulo 3, so every base64 split is used."""
    for pad in ("", "x", "xy"):
        check_one(ISSUER + pad)


def test_one_scope(signer: jws.Signer) -> None:
    rec = record({AUDIENCE: ("read:users",)})
    each_alignment(lambda iss: check(signer, rec, request((AUDIENCE,)), iss))
    claims = check(signer, rec, request((AUDIENCE,)))
    assert list(claims) == ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"]


def test_all_149_management_scopes_and_a_narrowed_request(signer: jws.Signer) -> None:
    rec = record({AUDIENCE: MANAGEMENT_API_SCOPES})
    each_alignment(lambda iss: check(signer, rec, request((AUDIENCE,)), iss))
    narrowed = request((AUDIENCE,), "read:users read:applications")
    each_alignment(lambda iss: check(signer, rec, narrowed, iss))
    assert check(signer, rec, narrowed)["scp"] == ["read:users", "read:applications"]


def test_org_code_and_properties_claim(signer: jws.Signer) -> None:
    rec = record(
        {AUDIENCE: ("read:users", "write:users")},
        App(org_code="org_7a3"),
        {"tier": "gold", "region": 'eu "west" \\ \u00e9\n'},
    )
    each_alignment(lambda iss: check(signer, rec, request((AUDIENCE,)), iss, properties_claim="p"))
    claims = check(signer, rec, request((AUDIENCE,)), properties_claim="application_properties")
    assert list(claims)[-2:] == ["org_code", "application_properties"]
    # A properties claim with no properties is an empty object, as in the dict.
    empty = check(signer, record({AUDIENCE: ("a",)}), request((AUDIENCE,)), properties_claim="p")
    assert empty["p"] == {}


def test_hook_claims_come_last(signer: jws.Signer) -> None:
    def hook(context: ClaimsContext) -> Mapping[str, Any]:
        return {"tenant": context.application.name, "n": [1, 2.5, None, True], "z": {"k": "\u2028"}}

    rec = record({AUDIENCE: ("read:users",)}, App(org_code="org_1"), {"tier": "gold"})
    req = request((AUDIENCE,))
    each_alignment(lambda iss: check(signer, rec, req, iss, hook=hook, properties_claim="props"))
    claims = check(signer, rec, req, hook=hook, properties_claim="props")
    assert list(claims)[-5:] == ["org_code", "props", "tenant", "n", "z"]
    # A hook that adds nothing leaves the payload as without one.
    each_alignment(lambda iss: check(signer, rec, req, iss, hook=lambda c: {}))


def test_two_audiences(signer: jws.Signer) -> None:
    other = "https://orders.example.com"
    rec = record({AUDIENCE: ("read:users", "read:roles"), other: ("read:roles", "orders:write")})
    both = request((AUDIENCE, other))
    each_alignment(lambda iss: check(signer, rec, both, iss))
    assert check(signer, rec, both)["scp"] == ["read:users", "read:roles", "orders:write"]


def test_times_of_other_lengths(signer: jws.Signer) -> None:
    rec = record({AUDIENCE: MANAGEMENT_API_SCOPES[:7]}, App(access_token_lifetime=5))
    for now in (0, 7, 99, 123_456, NOW, 10**11 + 1):
        check(signer, rec, request((AUDIENCE,)), now=now)


def test_the_grant_and_its_pieces_are_kept_with_the_record(signer: jws.Signer) -> None:
    rec = record({AUDIENCE: MANAGEMENT_API_SCOPES})
    req = request((AUDIENCE,))
    grant = cc.validate(req, rec)
    assert cc.validate(request((AUDIENCE,)), rec) is grant
    first = cc.mint(grant, req, ISSUER, NOW, signer, None, None)
    second = cc.mint(grant, req, ISSUER, NOW, signer, None, None)
    assert first.jti != second.jti and payload_of(first.access_token) != payload_of(
        second.access_token
    )
    # Another record (what the client store loads after any change) starts afresh.
    fewer = record({AUDIENCE: ("read:users",)})
    assert cc.validate(req, fewer) is not grant
    assert check(signer, fewer, req)["scp"] == ["read:users"]
    # A refusal is not kept: the same request is refused again.
    bare = record({})
    for _ in range(2):
        with pytest.raises(UnauthorizedClientError):
            cc.validate(req, bare)
    assert bare.memo == {}


def test_the_memo_is_bounded(signer: jws.Signer) -> None:
    rec = record({AUDIENCE: MANAGEMENT_API_SCOPES})
    for name in MANAGEMENT_API_SCOPES[: cc.MAX_MEMO * 3]:
        check(signer, rec, request((AUDIENCE,), name))
        assert len(rec.memo) <= cc.MAX_MEMO


#: Text as stored values may hold it: quotes, backslashes, control and non-ASCII
#: characters, which JSON escapes (or not) and which make the encoded lengths uneven.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=24)
SCOPE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
HOOK_CLAIM = TEXT.filter(lambda name: name not in cc.RESERVED_CLAIMS)


@seed(7519)
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    issuer=TEXT,
    client_id=TEXT.filter(bool),
    audiences=st.lists(TEXT.filter(bool), min_size=1, max_size=3, unique=True),
    scopes=st.lists(SCOPE.filter(bool), max_size=12, unique=True),
    org_code=st.none() | TEXT,
    properties=st.dictionaries(TEXT, TEXT, max_size=3),
    properties_claim=st.none() | st.sampled_from(["props", "application_properties"]),
    extra=st.none() | st.dictionaries(HOOK_CLAIM, JSON_VALUES, max_size=3),
    now=st.integers(0, 2**40),
    lifetime=st.integers(1, 10**8),
)
def test_any_grant_encodes_as_its_dict(
    signer: jws.Signer,
    issuer: str,
    client_id: str,
    audiences: list[str],
    scopes: list[str],
    org_code: str | None,
    properties: dict[str, str],
    properties_claim: str | None,
    extra: dict[str, Any] | None,
    now: int,
    lifetime: int,
) -> None:
    app = App(client_id=client_id, org_code=org_code, access_token_lifetime=lifetime)
    rec = record({a: tuple(scopes) for a in audiences}, app, properties)
    if extra is not None and properties_claim in extra:
        del extra[properties_claim]
    hook = None if extra is None else (lambda context: extra)
    check(signer, rec, request(tuple(audiences)), issuer, now, hook, properties_claim)


def test_jti_is_a_time_ordered_version_7_uuid() -> None:
    """RFC 9562 §5.7: the version and variant bits, the minting time in its first 48 bits,
    unique, and in minting order once the millisecond moves (the audit index relies on it)."""
    seen = []
    before = time.time_ns() // 1_000_000
    for _ in range(2000):
        jti = cc.new_jti()
        parsed = uuid.UUID(jti)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == jti
        seen.append(jti)
    after = time.time_ns() // 1_000_000
    assert len(set(seen)) == len(seen)
    stamps = [uuid.UUID(j).int >> 80 for j in seen]
    assert before <= min(stamps) and max(stamps) <= after
    assert stamps == sorted(stamps)
    time.sleep(0.002)
    assert cc.new_jti() > seen[-1]


def test_remembered_form_values_are_public_parameters_only() -> None:
    """The form parser keeps the decodings of escaped public values (``audience``,
    ``scope``, …) for the next request, never a secret, and decodes them the same."""
    secret = "s3cr%2Bt%2F" + uuid.uuid4().hex
    audience = "https%3A%2F%2Fapi.example.com%2F" + uuid.uuid4().hex
    body = (
        f"grant_type=client_credentials&client_id=c1&client_secret={secret}"
        f"&audience={audience}&scope=read%3Ausers+read%3Aroles"
    ).encode()
    for _ in range(2):
        parsed = parse_token_request(body, FORM_CONTENT_TYPE, None)
        assert parsed.params["client_secret"] == unquote_plus(secret)
        assert parsed.audiences == (unquote_plus(audience),)
        assert parsed.params["scope"] == "read:users read:roles"
    remembered = requests._decoded
    assert audience in remembered and "read%3Ausers+read%3Aroles" in remembered
    assert secret not in remembered
    assert unquote_plus(secret) not in remembered.values()
    # Basic credentials are not remembered either.
    basic = base64.b64encode(f"c1:{secret}".encode()).decode()
    parse_token_request(b"grant_type=client_credentials", FORM_CONTENT_TYPE, f"Basic {basic}")
    assert secret not in requests._decoded
