"""A12 cases 23-36: bearer tokens on the Management API (RFC 6750, RFC 8725, RFC 9068 §4).

Every refused token is presented on a write, ``POST /api/v1/user`` with a new email and a
request id of its own, so "nothing happened" is checked where it would show: no user with
that email, no outbox event and no audit success row for the request. A valid token
passes the same path (case 24's lowercase scheme creates its user), so the checks can
fail. Tokens signed with the server's own key (expired, wrong issuer, another type) are
made from the ``sqlite_server`` data directory; the engine plays no part in these checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.clock import FrozenClock
from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto.keys import SigningKey, generate_private_key
from kindling.oauth.bearer import LEEWAY
from kindling.platform.signing import Keyring
from tests.a12.common import (
    admin,
    app_token,
    assert_refused_change,
    check_bearer,
    new_app,
    request_id,
    uid,
    unit_token,
    users_with_email,
    written_by,
)
from tests.support import KindlingServer, error_code

WRITE_SCOPES = "create:users read:users"


@pytest.fixture(scope="module")
def keyring(sqlite_server: KindlingServer) -> Iterator[Keyring]:
    """The keyring of ``sqlite_server``, to sign tokens with its own key."""
    ctx = build_context(Settings(data_dir=sqlite_server.data_dir))
    try:
        ctx.keyring.reload()
        yield ctx.keyring
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def foreign_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_for(server: KindlingServer, **changes: Any) -> dict[str, Any]:
    """The claims our token endpoint would give the bootstrap app, valid now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": [server.audience],
        "azp": server.client_id,
        "exp": now + 3600,
        "gty": ["client_credentials"],
        "iat": now,
        "iss": server.issuer,
        "jti": str(uuid.uuid4()),
        "scope": WRITE_SCOPES,
        "scp": WRITE_SCOPES.split(),
        "v": "2",
    }
    claims.update(changes)
    return claims


def our_kid(keyring: Keyring) -> str:
    kid = keyring.current().signer_kid
    assert kid is not None
    return kid


class Attempt:
    """One ``POST /api/v1/user`` with a new email, under a request id of its own."""

    def __init__(self, server: KindlingServer, authorization: str | None) -> None:
        self.server = server
        self.email = f"a12-{uid()}@bearer.example.com"
        self.rid = request_id()
        headers = {"X-Request-ID": self.rid}
        if authorization is not None:
            headers["Authorization"] = authorization
        body = {"identities": [{"type": "email", "details": {"email": self.email}}]}
        with server.client() as http:
            self.response = http.post("/api/v1/user", json=body, headers=headers)

    def refused(self, status: int = 401, error: str | None = "invalid_token") -> str:
        """Kinde's error body and RFC 6750's challenge; nothing written. Returns the code."""
        code = error_code(self.response, status)
        challenge = self.response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="'), challenge
        if error is None:
            assert "error=" not in challenge, challenge
        else:
            assert f'error="{error}"' in challenge, challenge
        assert users_with_email(self.server, self.email) == []
        assert_refused_change(self.server, self.rid)
        return code

    def created(self) -> None:
        assert self.response.status_code == 200, self.response.text
        assert users_with_email(self.server, self.email) == [self.response.json()["id"]]
        assert written_by(self.server, self.rid)["events"] == ["user.created"]


def bearer(token: str) -> str:
    return f"Bearer {token}"


# --- 23-28: missing, malformed and forged tokens ------------------------------------------


def test_case_23_no_authorization_is_401_with_a_bare_challenge(
    sqlite_server: KindlingServer,
) -> None:
    """RFC 6750 §3.1: a request without credentials gets no error attribute."""
    Attempt(sqlite_server, None).refused(error=None)


def test_case_24_empty_and_foreign_schemes_are_invalid_token_lowercase_is_accepted(
    sqlite_server: KindlingServer,
) -> None:
    token = sqlite_server.token(scopes=WRITE_SCOPES.split())
    credentials = base64.b64encode(
        f"{sqlite_server.client_id}:{sqlite_server.client_secret}".encode()
    ).decode()
    for authorization in ("Bearer", "Bearer  x y", f"Basic {credentials}", f"Token {token}"):
        Attempt(sqlite_server, authorization).refused()
    # RFC 9110 §11.1: the scheme is case-insensitive.
    Attempt(sqlite_server, f"bearer {token}").created()
    Attempt(sqlite_server, f"BEARER {token}").created()


def test_case_25_garbage_and_malformed_jws_are_invalid_token(
    sqlite_server: KindlingServer,
) -> None:
    header, payload, signature = sqlite_server.token(scopes=WRITE_SCOPES.split()).split(".")
    for token in (
        "garbage",
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.AAAA",
        "!!!.@@@.###",
        "aaaa.bbbb.cccc",
        f"{b64json([1, 2])}.{payload}.{signature}",
        f"{b64json('JWT')}.{payload}.{signature}",
    ):
        Attempt(sqlite_server, bearer(token)).refused()


def test_case_26_alg_none_is_refused_with_or_without_the_trailing_dot(
    sqlite_server: KindlingServer, keyring: Keyring
) -> None:
    header = b64json({"alg": "none", "typ": "JWT", "kid": our_kid(keyring)})
    unsigned = f"{header}.{b64json(claims_for(sqlite_server))}"
    for token in (unsigned, unsigned + "."):
        Attempt(sqlite_server, bearer(token)).refused()


def test_case_27_hs256_keyed_with_our_public_key_is_refused(
    sqlite_server: KindlingServer, keyring: Keyring
) -> None:
    """Algorithm confusion: the HMAC key is our RSA public key, as PEM and as JWK text."""
    kid = our_kid(keyring)
    public = keyring.current().public_key(kid)
    assert public is not None
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with sqlite_server.client() as http:
        jwk = next(k for k in http.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
    signing_input = (
        f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}."
        f"{b64json(claims_for(sqlite_server))}"
    )
    for secret in (pem, json.dumps(jwk).encode(), str(jwk["n"]).encode()):
        mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        Attempt(sqlite_server, bearer(f"{signing_input}.{b64url(mac)}")).refused()


def test_case_28_foreign_keys_are_refused_and_key_urls_are_never_fetched(
    sqlite_server: KindlingServer, keyring: Keyring, foreign_key: rsa.RSAPrivateKey
) -> None:
    """A listener stands where ``jku`` and ``x5u`` point; the kernel would queue any
    connection to it, and the queue stays empty. Kindling verifies only against the
    keys in its own database and never fetches a key from anywhere."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        claims = claims_for(sqlite_server)
        embedded = jwt.algorithms.RSAAlgorithm.to_jwk(foreign_key.public_key(), as_dict=True)
        for headers in (
            {"kid": our_kid(keyring)},
            {"kid": uuid.uuid4().hex},
            {"kid": uuid.uuid4().hex, "jku": f"http://127.0.0.1:{port}/jwks.json"},
            {"kid": our_kid(keyring), "jku": f"http://127.0.0.1:{port}/jwks.json"},
            {"kid": uuid.uuid4().hex, "x5u": f"http://127.0.0.1:{port}/cert.pem"},
            {"kid": our_kid(keyring), "jwk": embedded},
        ):
            token = jwt.encode(claims, foreign_key, algorithm="RS256", headers=headers)
            Attempt(sqlite_server, bearer(token)).refused()
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        listener.setblocking(True)
        listener.settimeout(5)
        listener.accept()[0].close()  # the control: a connection would have been seen
    finally:
        listener.close()


# --- 29-33: claims of tokens signed with our key --------------------------------------------


def test_case_29_expired_not_yet_valid_and_future_issued_tokens_are_refused(
    sqlite_server: KindlingServer, keyring: Keyring
) -> None:
    now = int(time.time())
    signer = keyring.signer()
    for changes in (
        {"iat": now - 7200, "exp": now - LEEWAY - 120},
        {"nbf": now + LEEWAY + 600, "exp": now + 7200},
        {"iat": now + LEEWAY + 600, "exp": now + 7200},
    ):
        Attempt(sqlite_server, bearer(signer.sign(claims_for(sqlite_server, **changes)))).refused()
    # The control: the same signer's token with valid times is accepted.
    Attempt(sqlite_server, bearer(signer.sign(claims_for(sqlite_server)))).created()


@pytest.fixture(scope="module")
def unit_key() -> SigningKey:
    return SigningKey(kid="a12-unit", private_key=generate_private_key())


def test_case_30_exp_thirty_seconds_ago_passes_the_leeway_and_two_minutes_ago_does_not(
    unit_key: SigningKey,
) -> None:
    """The bearer check at a frozen time: 60 s leeway on ``exp`` (clock skew)."""
    clock = FrozenClock(1_800_000_000.0)
    now = clock.now()
    assert LEEWAY == 60
    assert check_bearer(unit_token(clock, unit_key, exp=now - 30), unit_key, clock) == "accepted"
    assert (
        check_bearer(unit_token(clock, unit_key, exp=now - 120), unit_key, clock) == "TOKEN_EXPIRED"
    )
    # The edge: refused from exp + 60 s on.
    token = unit_token(clock, unit_key, exp=now)
    clock.advance(59)
    assert check_bearer(token, unit_key, clock) == "accepted"
    clock.advance(1)
    assert check_bearer(token, unit_key, clock) == "TOKEN_EXPIRED"


def test_case_31_a_token_for_another_audience_is_refused(
    sqlite_server: KindlingServer, keyring: Keyring
) -> None:
    other = f"{sqlite_server.issuer}/api/v1"
    for aud in (other, [other], [f"https://{uid()}.example.test"]):
        token = keyring.signer().sign(claims_for(sqlite_server, aud=aud))
        Attempt(sqlite_server, bearer(token)).refused()
    # And one our endpoint issued, for another API of ours.
    audience = f"https://a12-{uid()}.example.test/api"
    with admin(sqlite_server) as http:
        api = http.post("/api/v1/apis", json={"name": f"A12 {uid()}", "audience": audience})
        assert api.status_code == 200, api.text
        linked = http.patch(
            f"/api/v1/apis/{api.json()['api']['id']}/applications",
            json={"applications": [{"id": sqlite_server.client_id}]},
        )
        assert linked.status_code == 200, linked.text
    Attempt(sqlite_server, bearer(sqlite_server.token(audience=audience))).refused()


def test_case_32_a_wrong_issuer_is_refused(sqlite_server: KindlingServer, keyring: Keyring) -> None:
    issuer = sqlite_server.issuer
    for wrong in (
        issuer + "/",
        issuer.replace("http://", "https://"),
        issuer.replace("localhost", "127.0.0.1"),
        "https://tenant.kinde.com",
    ):
        token = keyring.signer().sign(claims_for(sqlite_server, iss=wrong))
        Attempt(sqlite_server, bearer(token)).refused()


def test_case_33_a_webhook_or_id_token_typ_is_refused(
    sqlite_server: KindlingServer, keyring: Keyring
) -> None:
    """RFC 8725 §3.11 explicit typing: same key, same claims, only ``typ`` differs."""
    for typ in ("webhook+jwt", "id_token+jwt", "at+jwt", "jwt"):
        token = keyring.signer_for(typ).sign(claims_for(sqlite_server))
        assert jwt.get_unverified_header(token)["typ"] == typ
        Attempt(sqlite_server, bearer(token)).refused()


# --- 34-36: scope, revocation, size ---------------------------------------------------------


def test_case_34_a_token_without_the_scope_is_403_naming_it(sqlite_server: KindlingServer) -> None:
    attempt = Attempt(sqlite_server, bearer(sqlite_server.token(scopes=["read:users"])))
    assert attempt.refused(403, "insufficient_scope") == "INSUFFICIENT_SCOPE"
    assert 'scope="create:users"' in attempt.response.headers["www-authenticate"]
    # The caller is known, so the refused change is in the audit log (issue 10, item 7).
    assert written_by(sqlite_server, attempt.rid)["audit"] == ["failure"]


def test_case_35_a_revoked_token_and_a_deleted_applications_token_are_refused(
    sqlite_server: KindlingServer,
) -> None:
    app = new_app(sqlite_server, scopes=("create:users",))
    revoked, kept = app_token(sqlite_server, app), app_token(sqlite_server, app)
    with sqlite_server.client() as http:
        answer = http.post(
            "/oauth2/revoke",
            data={"token": revoked},
            auth=(app["client_id"], app["client_secret"]),
        )
    assert answer.status_code == 200, answer.text
    Attempt(sqlite_server, bearer(revoked)).refused()
    Attempt(sqlite_server, bearer(kept)).created()  # only that jti was revoked

    with admin(sqlite_server) as http:
        assert http.delete(f"/api/v1/applications/{app['id']}").status_code == 200
    Attempt(sqlite_server, bearer(kept)).refused()


def test_case_36_a_64_kb_authorization_header_is_431_and_nothing_happens(
    sqlite_server: KindlingServer,
) -> None:
    email = f"a12-{uid()}@bearer.example.com"
    body = json.dumps({"identities": [{"type": "email", "details": {"email": email}}]}).encode()
    head = (
        "POST /api/v1/user HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nAuthorization: Bearer {'a' * 64 * 1024}\r\n\r\n"
    ).encode()
    raw = b""
    with socket.create_connection(("127.0.0.1", sqlite_server.port), timeout=10) as sock:
        try:
            sock.sendall(head + body)
            while not raw.endswith(b"}]}") and (chunk := sock.recv(65536)):
                raw += chunk
        except ConnectionResetError:
            pass  # the connection closes after the answer
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.split()[1] == b"431", raw[:200]
    answer = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert answer["errors"][0]["code"] == "REQUEST_HEADERS_TOO_LARGE"
    assert users_with_email(sqlite_server, email) == []
    with sqlite_server.client() as http:
        assert http.get("/healthz").status_code == 200
