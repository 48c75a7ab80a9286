"""Bearer protection of /api/v1/* against real servers (RFC 6750, RFC 9068 §4, RFC 8725).

RELIABILITY-AND-USERS.md A2 and A12 rows 23–34. GET /api/v1/users needs ``read:users``.
Tokens signed with *our* key (expired, wrong issuer, ...) are made with the signing key
of the ``sqlite_server`` data directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto.jws import Signer
from kindling.platform.signing import Keyring
from tests.support import KindlingServer

USERS = "/api/v1/users"
LEEWAY = 60


# --- helpers ---------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def get_users(server: KindlingServer, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    with server.client() as http:
        return http.get(USERS, headers=headers)


def claims_for(server: KindlingServer, **changes: Any) -> dict[str, Any]:
    """Kinde M2M claims of the bootstrap app for the Management API, valid now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": [server.audience],
        "azp": server.client_id,
        "exp": now + 3600,
        "gty": ["client_credentials"],
        "iat": now,
        "iss": server.issuer,
        "jti": str(uuid.uuid4()),
        "scope": "read:users",
        "scp": ["read:users"],
        "v": "2",
    }
    claims.update(changes)
    return claims


def our_jwk(server: KindlingServer) -> dict[str, Any]:
    with server.client() as http:
        keys: list[dict[str, Any]] = http.get("/.well-known/jwks.json").json()["keys"]
    token = server.token()
    kid = jwt.get_unverified_header(token)["kid"]
    return next(k for k in keys if k["kid"] == kid)


def assert_json(response: httpx.Response) -> None:
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"


def assert_error_response(response: httpx.Response, status: int) -> dict[str, Any]:
    """Kinde's ``error_response``: ``{"errors": [{"code", "message"}]}``."""
    assert response.status_code == status, response.text
    assert_json(response)
    body: dict[str, Any] = response.json()
    assert set(body) == {"errors"}
    assert isinstance(body["errors"], list) and len(body["errors"]) == 1
    error = body["errors"][0]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def assert_invalid_token(response: httpx.Response) -> None:
    assert_error_response(response, 401)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert 'error="invalid_token"' in challenge


def assert_users_listed(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert_json(response)
    assert response.json()["code"] == "OK"


def create_second_api(server: KindlingServer) -> str:
    """An API of ours that the bootstrap app is authorized for; returns its audience."""
    audience = f"https://{uuid.uuid4().hex[:12]}.example.test/other"
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {server.token()}"
        created = http.post("/api/v1/apis", json={"name": "Other API", "audience": audience})
        assert created.status_code == 200, created.text
        api_id = created.json()["api"]["id"]
        patched = http.patch(
            f"/api/v1/apis/{api_id}/applications",
            json={"applications": [{"id": server.client_id}]},
        )
        assert patched.status_code == 200, patched.text
    return audience


@pytest.fixture(scope="module")
def signer(sqlite_server: KindlingServer) -> Iterator[Signer]:
    """The active signing key of ``sqlite_server``, loaded from its data directory."""
    ctx = build_context(Settings(data_dir=sqlite_server.data_dir))
    try:
        ctx.keyring.reload()
        yield ctx.keyring.signer()
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def foreign_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- valid tokens ------------------------------------------------------------


def test_token_from_token_endpoint_lists_users(server: KindlingServer) -> None:
    assert_users_listed(get_users(server, f"Bearer {server.token()}"))


def test_lowercase_bearer_scheme_is_accepted(server: KindlingServer) -> None:
    assert_users_listed(get_users(server, f"bearer {server.token()}"))


def test_token_with_exactly_read_users_lists_users(server: KindlingServer) -> None:
    assert_users_listed(get_users(server, f"Bearer {server.token(scopes=['read:users'])}"))


def test_token_for_two_audiences_including_management_api_lists_users(
    server: KindlingServer,
) -> None:
    other = create_second_api(server)
    data = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": [server.audience, other],
    }
    with server.client() as http:
        response = http.post("/oauth2/token", data=data)
    assert response.status_code == 200, response.text
    assert_users_listed(get_users(server, f"Bearer {response.json()['access_token']}"))


def test_token_signed_with_our_key_and_valid_claims_lists_users(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    # The positive control for every crafted token below.
    token = signer.sign(claims_for(sqlite_server))
    assert_users_listed(get_users(sqlite_server, f"Bearer {token}"))


def test_token_expired_within_leeway_is_accepted(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    now = int(time.time())
    token = signer.sign(claims_for(sqlite_server, iat=now - 3600, exp=now - 20))
    assert_users_listed(get_users(sqlite_server, f"Bearer {token}"))


def test_audience_as_plain_string_is_accepted(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    token = signer.sign(claims_for(sqlite_server, aud=sqlite_server.audience))
    assert_users_listed(get_users(sqlite_server, f"Bearer {token}"))


# --- missing or unusable credentials -------------------------------------------


def test_no_authorization_header_is_401_with_bare_bearer_challenge(
    server: KindlingServer,
) -> None:
    response = get_users(server, None)
    assert_error_response(response, 401)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert "error=" not in challenge


def test_bearer_scheme_without_token_is_401_invalid_token(server: KindlingServer) -> None:
    assert_invalid_token(get_users(server, "Bearer"))


def test_basic_scheme_is_401_invalid_token(server: KindlingServer) -> None:
    credentials = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode())
    assert_invalid_token(get_users(server, "Basic " + credentials.decode()))


def test_token_scheme_with_a_valid_token_is_401_invalid_token(server: KindlingServer) -> None:
    assert_invalid_token(get_users(server, f"Token {server.token()}"))


def test_garbage_token_is_401_invalid_token(server: KindlingServer) -> None:
    assert_invalid_token(get_users(server, "Bearer garbage"))


def test_token_with_two_segments_is_401_invalid_token(server: KindlingServer) -> None:
    header, payload, _ = server.token().split(".")
    assert_invalid_token(get_users(server, f"Bearer {header}.{payload}"))


def test_token_with_four_segments_is_401_invalid_token(server: KindlingServer) -> None:
    assert_invalid_token(get_users(server, f"Bearer {server.token()}.AAAA"))


def test_token_with_characters_outside_base64url_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    assert_invalid_token(get_users(server, "Bearer !!!.@@@.###"))


def test_token_whose_segments_are_not_base64url_json_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    assert_invalid_token(get_users(server, "Bearer aaaa.bbbb.cccc"))


def test_token_whose_header_is_not_a_json_object_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    _, payload, signature = server.token().split(".")
    assert_invalid_token(get_users(server, f"Bearer {b64url_json([1, 2])}.{payload}.{signature}"))


def test_token_with_tampered_payload_is_401_invalid_token(server: KindlingServer) -> None:
    header, _, signature = server.token(scopes=["read:users"]).split(".")
    payload = b64url_json(claims_for(server, scope="read:users create:users"))
    assert_invalid_token(get_users(server, f"Bearer {header}.{payload}.{signature}"))


# --- forged signatures and algorithm confusion ---------------------------------


def test_token_signed_by_foreign_key_reusing_our_kid_is_401_invalid_token(
    server: KindlingServer, foreign_key: rsa.RSAPrivateKey
) -> None:
    kid = our_jwk(server)["kid"]
    token = jwt.encode(claims_for(server), foreign_key, algorithm="RS256", headers={"kid": kid})
    assert_invalid_token(get_users(server, f"Bearer {token}"))


def test_token_signed_by_foreign_key_with_unknown_kid_is_401_invalid_token(
    server: KindlingServer, foreign_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(
        claims_for(server), foreign_key, algorithm="RS256", headers={"kid": uuid.uuid4().hex}
    )
    assert_invalid_token(get_users(server, f"Bearer {token}"))


def test_token_signed_by_foreign_key_it_embeds_as_jwk_is_401_invalid_token(
    server: KindlingServer, foreign_key: rsa.RSAPrivateKey
) -> None:
    embedded = jwt.algorithms.RSAAlgorithm.to_jwk(foreign_key.public_key(), as_dict=True)
    headers = {"kid": our_jwk(server)["kid"], "jwk": embedded}
    token = jwt.encode(claims_for(server), foreign_key, algorithm="RS256", headers=headers)
    assert_invalid_token(get_users(server, f"Bearer {token}"))


@pytest.mark.parametrize("trailing_dot", [True, False], ids=["with-dot", "without-dot"])
def test_alg_none_token_is_401_invalid_token(server: KindlingServer, trailing_dot: bool) -> None:
    header = b64url_json({"alg": "none", "typ": "JWT", "kid": our_jwk(server)["kid"]})
    token = f"{header}.{b64url_json(claims_for(server))}" + ("." if trailing_dot else "")
    assert_invalid_token(get_users(server, f"Bearer {token}"))


def _hs256(server: KindlingServer, secret: bytes) -> str:
    header = b64url_json({"alg": "HS256", "typ": "JWT", "kid": our_jwk(server)["kid"]})
    signing_input = f"{header}.{b64url_json(claims_for(server))}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def _public_pem(server: KindlingServer) -> bytes:
    key = jwt.PyJWK(our_jwk(server)).key
    assert isinstance(key, rsa.RSAPublicKey)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_hs256_token_hmaced_with_our_public_key_pem_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    token = _hs256(server, _public_pem(server))
    assert_invalid_token(get_users(server, f"Bearer {token}"))


def test_hs256_token_hmaced_with_our_jwk_modulus_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    token = _hs256(server, str(our_jwk(server)["n"]).encode("ascii"))
    assert_invalid_token(get_users(server, f"Bearer {token}"))


def test_hs256_token_hmaced_with_our_jwk_json_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    token = _hs256(server, json.dumps(our_jwk(server)).encode())
    assert_invalid_token(get_users(server, f"Bearer {token}"))


# --- claims checks on tokens signed with our key ----------------------------------


def test_expired_token_beyond_leeway_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    now = int(time.time())
    token = signer.sign(claims_for(sqlite_server, iat=now - 7200, exp=now - LEEWAY - 120))
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))


def test_token_without_exp_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    claims = claims_for(sqlite_server)
    del claims["exp"]
    assert_invalid_token(get_users(sqlite_server, f"Bearer {signer.sign(claims)}"))


def test_token_not_yet_valid_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    nbf = int(time.time()) + LEEWAY + 600
    token = signer.sign(claims_for(sqlite_server, nbf=nbf, exp=nbf + 3600))
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))


def test_token_issued_far_in_the_future_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    iat = int(time.time()) + LEEWAY + 600
    token = signer.sign(claims_for(sqlite_server, iat=iat, exp=iat + 3600))
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param(lambda s: s.issuer + "/", id="trailing-slash"),
        pytest.param(lambda s: s.issuer.replace("http://", "https://"), id="https"),
        pytest.param(lambda s: s.issuer.replace("localhost", "127.0.0.1"), id="other-host"),
        pytest.param(lambda s: "https://tenant.kinde.com", id="other-tenant"),
    ],
)
def test_token_with_wrong_issuer_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer, issuer: Any
) -> None:
    wrong = issuer(sqlite_server)
    assert wrong != sqlite_server.issuer
    token = signer.sign(claims_for(sqlite_server, iss=wrong))
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))


def test_token_without_issuer_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    claims = claims_for(sqlite_server)
    del claims["iss"]
    assert_invalid_token(get_users(sqlite_server, f"Bearer {signer.sign(claims)}"))


@pytest.mark.parametrize("as_list", [True, False], ids=["array", "string"])
def test_token_signed_by_us_for_another_audience_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer, as_list: bool
) -> None:
    other = f"{sqlite_server.issuer}/api/v1"
    token = signer.sign(claims_for(sqlite_server, aud=[other] if as_list else other))
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))


def test_token_from_our_endpoint_for_another_api_is_401_invalid_token(
    server: KindlingServer,
) -> None:
    other = create_second_api(server)
    token = server.token(audience=other)
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == [other]
    assert_invalid_token(get_users(server, f"Bearer {token}"))


# --- explicit typing (RFC 8725 §3.11; A12 row 33) --------------------------------


@pytest.fixture(scope="module")
def keyring(sqlite_server: KindlingServer) -> Iterator[Keyring]:
    """The keyring of ``sqlite_server``, to sign tokens of other types with our key."""
    ctx = build_context(Settings(data_dir=sqlite_server.data_dir))
    try:
        ctx.keyring.reload()
        yield ctx.keyring
    finally:
        ctx.close()


def _sign_with_header(keyring: Keyring, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWS with exactly ``header`` (``kid`` added), signed RS256 by our active key."""
    view = keyring.current()
    assert view.signer_kid is not None
    private = view.private[view.signer_kid]
    signing_input = f"{b64url_json({**header, 'kid': view.signer_kid})}.{b64url_json(claims)}"
    signature = private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def test_our_access_tokens_are_typed_jwt(server: KindlingServer) -> None:
    assert jwt.get_unverified_header(server.token())["typ"] == "JWT"


@pytest.mark.parametrize("typ", ["webhook+jwt", "id_token+jwt", "at+jwt", "JWS", "jwt"])
def test_a_token_of_another_type_signed_by_our_key_is_401_invalid_token(
    sqlite_server: KindlingServer, keyring: Keyring, typ: str
) -> None:
    """Same key, same valid access-token claims: only the header's ``typ`` differs."""
    token = keyring.signer_for(typ).sign(claims_for(sqlite_server))
    assert jwt.get_unverified_header(token)["typ"] == typ
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))


def test_a_token_without_typ_signed_by_our_key_is_401_invalid_token(
    sqlite_server: KindlingServer, keyring: Keyring
) -> None:
    token = _sign_with_header(keyring, {"alg": "RS256"}, claims_for(sqlite_server))
    assert "typ" not in jwt.get_unverified_header(token)
    assert_invalid_token(get_users(sqlite_server, f"Bearer {token}"))
    # The positive control: the same hand-made token with typ JWT is accepted.
    typed = _sign_with_header(keyring, {"alg": "RS256", "typ": "JWT"}, claims_for(sqlite_server))
    assert_users_listed(get_users(sqlite_server, f"Bearer {typed}"))


def test_a_webhook_shaped_jwt_typed_jwt_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer
) -> None:
    """A webhook payload signed as Kinde's (``typ: JWT``) lacks the access-token claims."""
    now = int(time.time())
    webhook = {
        "type": "user.created",
        "event_id": "event_" + uuid.uuid4().hex,
        "source": "api",
        "data": {"user": {"id": "kp_" + uuid.uuid4().hex}},
        "timestamp": "2024-01-01T00:00:00.000Z",
        "event_timestamp": "2024-01-01T00:00:00.000Z",
        "iss": sqlite_server.issuer,
        "iat": now,
        "aud": [sqlite_server.audience],
        "exp": now + 3600,
    }
    assert_invalid_token(get_users(sqlite_server, f"Bearer {signer.sign(webhook)}"))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"gty": None}, id="no-gty"),
        pytest.param({"gty": ["authorization_code"]}, id="other-gty"),
        pytest.param({"gty": "client_credentials"}, id="gty-not-a-list"),
        pytest.param({"scope": None}, id="no-scope"),
        pytest.param({"scope": ["read:users"]}, id="scope-not-a-string"),
        pytest.param({"azp": None}, id="no-azp"),
        pytest.param({"jti": None}, id="no-jti"),
    ],
)
def test_a_token_without_the_access_token_claims_is_401_invalid_token(
    sqlite_server: KindlingServer, signer: Signer, change: dict[str, Any]
) -> None:
    claims = claims_for(sqlite_server)
    for name, value in change.items():
        if value is None:
            del claims[name]
        else:
            claims[name] = value
    assert_invalid_token(get_users(sqlite_server, f"Bearer {signer.sign(claims)}"))


# --- scope ---------------------------------------------------------------------


def test_valid_token_without_read_users_is_403_insufficient_scope(
    server: KindlingServer,
) -> None:
    response = get_users(server, f"Bearer {server.token(scopes=['create:users'])}")
    assert_error_response(response, 403)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="read:users"' in challenge


# --- routes --------------------------------------------------------------------


def test_unknown_api_route_with_valid_token_is_404_route_not_found(
    server: KindlingServer,
) -> None:
    with server.client() as http:
        response = http.get(
            "/api/v1/does-not-exist", headers={"Authorization": f"Bearer {server.token()}"}
        )
    assert response.status_code == 404
    assert_json(response)
    body = response.json()
    assert set(body) == {"errors"}
    assert isinstance(body["errors"], dict)
    assert body["errors"]["code"] == "ROUTE_NOT_FOUND"
    assert isinstance(body["errors"]["message"], str) and body["errors"]["message"]
