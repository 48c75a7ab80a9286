"""A12 cases 1-22: ``POST /oauth2/token`` refuses bad input with RFC 6749 §5.2's error body
and issues nothing (RFC 6749 §2.3, §3.2, §4.4; Kinde's audience and scope rules).

"Nothing issued" is read from the audit log: every token the endpoint signs gets a
``token.issued`` row (``tests.a12.common.no_token_issued`` counts them around each case).
Requests meant to fail authentication come from private loopback addresses and name
applications made for the case, so they never spend the failure budgets of the shared
``sqlite_server`` (the engine does not matter here: the endpoint is the same code over
both). Case 22 spends them on purpose, against the defaults ``kindling serve`` ships.
"""

from __future__ import annotations

import base64
import hmac
import socket
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import pytest
from limits import parse_many

from kindling.config import DEFAULT_RATE_LIMIT_TOKEN_FAILURES, DEFAULT_RATE_LIMIT_TOKEN_FAILURES_IP
from kindling.crypto import client_secrets, masterkey
from kindling.crypto.client_secrets import SecretHasher
from kindling.oauth.client_auth import authenticate_client
from kindling.oauth.errors import InvalidClientError
from kindling.oauth.ports import ClientRecord
from kindling.oauth.requests import parse_token_request
from tests.a12.common import (
    FORM,
    TOKEN_PATH,
    admin,
    app_token,
    count,
    eventually,
    new_app,
    no_token_issued,
    oauth_error,
    sql,
    stranger,
    uid,
)
from tests.support import KindlingServer


def form(server: KindlingServer, **changes: str | None) -> list[tuple[str, str]]:
    """The bootstrap application's valid client_secret_post request, changed."""
    fields: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": server.audience,
    }
    fields.update(changes)
    return [(k, v) for k, v in fields.items() if v is not None]


def post(
    http: httpx.Client, body: bytes | str, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return http.post(TOKEN_PATH, content=content, headers={"Content-Type": FORM, **(headers or {})})


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


def set_secret(server: KindlingServer, app: dict[str, Any], secret: str) -> None:
    """Give ``app`` a chosen secret: its stored keyed hash, as the server computes it."""
    hasher = SecretHasher(
        masterkey.load_or_create(server.data_dir, None).derive("client-secret-pepper")
    )
    sql(
        server,
        "UPDATE application_secrets SET secret_hash = ? WHERE application_id = ?",
        (hasher.hash(secret), app["id"]),
    )


def scope_of(token: str) -> list[str]:
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["scope"].split() == claims["scp"]
    return list(claims["scp"])


# --- 1-8: transport, framing and grant type ------------------------------------------------


def test_case_01_get_is_405_with_allow_post(sqlite_server: KindlingServer) -> None:
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        response = http.get(TOKEN_PATH, params=dict(form(sqlite_server)))
        oauth_error(response, 405, "invalid_request")
        assert response.headers["allow"] == "POST"


def test_case_02_json_body_is_invalid_request(sqlite_server: KindlingServer) -> None:
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        response = http.post(TOKEN_PATH, json=dict(form(sqlite_server)))
        oauth_error(response, 400, "invalid_request")


def test_case_03_missing_multipart_or_text_content_type_is_invalid_request(
    sqlite_server: KindlingServer,
) -> None:
    body = urlencode(form(sqlite_server)).encode()
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        request = http.build_request("POST", TOKEN_PATH, content=body)
        request.headers.pop("content-type", None)
        oauth_error(http.send(request), 400, "invalid_request")
        multipart = http.post(
            TOKEN_PATH, data=dict(form(sqlite_server)), files={"f": ("f.txt", b"x")}
        )
        oauth_error(multipart, 400, "invalid_request")
        text = http.post(TOKEN_PATH, content=body, headers={"Content-Type": "text/plain"})
        oauth_error(text, 400, "invalid_request")


MALFORMED = {
    "bad-escape": b"&scope=%ZZ",
    "escaped-invalid-utf8": b"&scope=%FF%FE",
    "raw-invalid-utf8": b"&scope=\xff\xfe",
    "escaped-nul": b"&scope=read%00users",
    "raw-nul": b"&x=\x00",
}


def test_case_04_malformed_form_is_invalid_request(sqlite_server: KindlingServer) -> None:
    valid = urlencode(form(sqlite_server)).encode()
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        for name, tail in MALFORMED.items():
            response = post(http, valid + tail)
            assert response.status_code == 400, name
            oauth_error(response, 400, "invalid_request")


def test_case_05_empty_body_is_invalid_request_naming_grant_type(
    sqlite_server: KindlingServer,
) -> None:
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        body = oauth_error(post(http, b""), 400, "invalid_request")
    assert "grant_type" in body["error_description"]


def test_case_06_a_10_mb_body_is_413_before_it_is_read(sqlite_server: KindlingServer) -> None:
    """Content-Length says 10 MiB but only 65 KiB are sent: the 413 arrives anyway, so the
    endpoint answered without waiting for (or parsing) the rest."""
    sent = b"grant_type=client_credentials&padding=" + b"x" * 66_000
    head = (
        "POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with no_token_issued(sqlite_server):
        with socket.create_connection(("127.0.0.1", sqlite_server.port), timeout=10) as sock:
            sock.sendall(head + sent)
            raw = b""
            while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
        status_line, _, rest = raw.partition(b"\r\n")
        assert status_line.split()[1] == b"413", raw
        assert b'"error":"invalid_request"' in rest and b"access_token" not in rest
        with sqlite_server.client() as http:
            one_field = post(http, urlencode(form(sqlite_server, scope="s" * 1_048_576)))
            oauth_error(one_field, 413, "invalid_request")
            assert http.get("/healthz").status_code == 200  # the worker is free


def test_case_07_a_repeated_parameter_is_invalid_request(sqlite_server: KindlingServer) -> None:
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        for name in ("grant_type", "client_id", "scope"):
            pairs = form(sqlite_server, scope="read:users")
            pairs.append((name, dict(pairs)[name]))
            response = post(http, urlencode(pairs))
            assert response.status_code == 400, name
            oauth_error(response, 400, "invalid_request")


def test_case_08_another_grant_type_is_unsupported_grant_type(
    sqlite_server: KindlingServer,
) -> None:
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        for grant in ("password", "implicit", "foo", "authorization_code"):
            response = post(http, urlencode(form(sqlite_server, grant_type=grant)))
            assert response.status_code == 400, grant
            oauth_error(response, 400, "unsupported_grant_type")


# --- 9-17: client authentication ---------------------------------------------------------


def test_case_09_a_non_m2m_application_is_unauthorized_client(
    sqlite_server: KindlingServer,
) -> None:
    web = new_app(sqlite_server, type_="reg", authorize=False)
    pairs = form(sqlite_server, client_id=web["client_id"], client_secret=web["client_secret"])
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        oauth_error(post(http, urlencode(pairs)), 400, "unauthorized_client")


def test_case_10_no_client_credentials_is_401_invalid_client(
    sqlite_server: KindlingServer,
) -> None:
    pairs = form(sqlite_server, client_id=None, client_secret=None)
    with no_token_issued(sqlite_server), stranger(sqlite_server) as http:
        oauth_error(post(http, urlencode(pairs)), 401, "invalid_client")


def _refused_basic(server: KindlingServer, client_id: str, secret: str) -> httpx.Response:
    pairs = form(server, client_id=None, client_secret=None)
    with stranger(server) as http:
        response = post(http, urlencode(pairs), {"Authorization": basic(client_id, secret)})
    oauth_error(response, 401, "invalid_client")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Basic realm="') and "charset" in challenge
    return response


def test_case_11_a_wrong_basic_secret_is_401_with_a_basic_challenge(
    sqlite_server: KindlingServer,
) -> None:
    app = new_app(sqlite_server)
    with no_token_issued(sqlite_server):
        _refused_basic(sqlite_server, app["client_id"], "wrong-" + app["client_secret"])


class CountingHasher:
    """The real ``SecretHasher``, counting the comparisons it is asked for."""

    def __init__(self) -> None:
        self.real = SecretHasher(b"p" * 32)
        self.calls = 0

    def hash(self, secret: str) -> str:
        return self.real.hash(secret)

    def verify(self, secret: str, stored: str) -> bool:
        self.calls += 1
        return self.real.verify(secret, stored)


@dataclass(frozen=True)
class StoredSecret:
    secret_hash: str
    expires_at: int | None = None


class OneClient:
    """A client store that knows the client id ``known``, with one secret."""

    def __init__(self, record: ClientRecord) -> None:
        self.record = record

    def load_client(self, client_id: str, audiences: Any) -> ClientRecord | None:
        return self.record if client_id == "known" else None


def test_case_11_secrets_are_compared_in_constant_time_and_unknown_clients_cost_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timing claim: the comparison is ``hmac.compare_digest`` of equal-length keyed
    hashes, and an unknown client id is answered after the same one comparison."""
    compared: list[tuple[str, str]] = []
    real_compare = hmac.compare_digest

    def recording(a: str, b: str) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(client_secrets.hmac, "compare_digest", recording)
    hasher = CountingHasher()
    stored = hasher.hash("the-right-secret")
    record = ClientRecord(application=None, secrets=(StoredSecret(stored),), authorizations=())  # type: ignore[arg-type]
    answers = []
    for client_id in ("known", "unknown"):
        hasher.calls, compared[:] = 0, []
        body = urlencode(
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
        ).encode()
        with pytest.raises(InvalidClientError) as refused:
            authenticate_client(
                parse_token_request(body, FORM, None), OneClient(record), hasher, (), 0.0
            )
        answers.append((hasher.calls, len(compared), refused.value.description))
        assert all(len(a) == len(b) == len(stored) for a, b in compared)
    assert answers[0] == answers[1] == (1, 1, "client authentication failed")


def test_case_12_an_unknown_client_gets_the_same_answer_as_a_wrong_secret(
    sqlite_server: KindlingServer,
) -> None:
    app = new_app(sqlite_server)
    with no_token_issued(sqlite_server):
        wrong = _refused_basic(sqlite_server, app["client_id"], "wrong-secret")
        unknown = _refused_basic(sqlite_server, uuid.uuid4().hex, "wrong-secret")
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


def test_case_13_basic_and_a_body_secret_together_is_invalid_request(
    sqlite_server: KindlingServer,
) -> None:
    header = {"Authorization": basic(sqlite_server.client_id, sqlite_server.client_secret)}
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        oauth_error(post(http, urlencode(form(sqlite_server)), header), 400, "invalid_request")


MALFORMED_BASIC = {
    "not-base64": "Basic !!!not*base64!!!",
    "no-colon": "Basic " + base64.b64encode(b"no-colon").decode(),
    "empty": "Basic",
    "empty-id-and-secret": "Basic Og==",
}


def test_case_14_malformed_basic_is_401_with_a_basic_challenge(
    sqlite_server: KindlingServer,
) -> None:
    pairs = form(sqlite_server, client_id=None, client_secret=None)
    with no_token_issued(sqlite_server), stranger(sqlite_server) as http:
        for name, header in MALFORMED_BASIC.items():
            response = post(http, urlencode(pairs), {"Authorization": header})
            assert response.status_code == 401, name
            oauth_error(response, 401, "invalid_client")
            assert response.headers["www-authenticate"].startswith('Basic realm="'), name


def test_case_15_a_secret_with_plus_percent_colon_slash_works_in_basic(
    sqlite_server: KindlingServer,
) -> None:
    """RFC 6749 §2.3.1: id and secret are form-encoded before base64; the header splits
    on the first colon only, so a secret may hold colons."""
    app = new_app(sqlite_server)
    secret = f"p+q%r:s/t {uid()}"
    set_secret(sqlite_server, app, secret)
    pairs = form(sqlite_server, client_id=None, client_secret=None)
    encoded = basic(quote(app["client_id"], safe=""), quote(secret, safe="").replace("%20", "+"))
    with no_token_issued(sqlite_server, expected=2), sqlite_server.client() as http:
        issued = post(http, urlencode(pairs), {"Authorization": encoded})
        assert issued.status_code == 200, issued.text
        assert (
            jwt.decode(issued.json()["access_token"], options={"verify_signature": False})["azp"]
            == app["client_id"]
        )
        colons = f"a:b/c:{uid()}"  # needs no escaping: only the first colon splits
        set_secret(sqlite_server, app, colons)
        raw = post(http, urlencode(pairs), {"Authorization": basic(app["client_id"], colons)})
        assert raw.status_code == 200, raw.text


def test_case_16_the_first_72_characters_of_a_100_character_secret_are_refused(
    sqlite_server: KindlingServer,
) -> None:
    """No bcrypt-style truncation: the whole secret is hashed (HMAC-SHA256)."""
    app = new_app(sqlite_server)
    secret = uuid.uuid4().hex * 3 + "x" * 4
    assert len(secret) == 100
    set_secret(sqlite_server, app, secret)
    with no_token_issued(sqlite_server, expected=1):
        with stranger(sqlite_server) as http:
            short = form(sqlite_server, client_id=app["client_id"], client_secret=secret[:72])
            oauth_error(post(http, urlencode(short)), 401, "invalid_client")
        with sqlite_server.client() as http:
            whole = form(sqlite_server, client_id=app["client_id"], client_secret=secret)
            assert post(http, urlencode(whole)).status_code == 200


def test_case_17_a_deleted_application_gets_no_token_and_its_tokens_are_refused(
    sqlite_server: KindlingServer,
) -> None:
    """Policy: deleting an application revokes its tokens at once (Kinde: deleted app =
    ``invalid_client``); Kinde has no "disabled" state for M2M applications."""
    app = new_app(sqlite_server, scopes=("read:users",))
    token = app_token(sqlite_server, app)
    with sqlite_server.client() as http:
        users = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert users.status_code == 200, users.text
    with admin(sqlite_server) as http:
        assert http.delete(f"/api/v1/applications/{app['id']}").status_code == 200
    pairs = form(sqlite_server, client_id=app["client_id"], client_secret=app["client_secret"])
    with no_token_issued(sqlite_server), stranger(sqlite_server) as http:
        oauth_error(post(http, urlencode(pairs)), 401, "invalid_client")
        refused = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401, refused.text
    assert refused.json()["errors"][0]["code"] == "INVALID_TOKEN"


def test_case_17_a_secret_rotated_out_is_refused_and_its_tokens_live_to_exp(
    sqlite_server: KindlingServer,
) -> None:
    """Policy: a secret past its grace window authenticates nothing; tokens it got before
    stay valid until their ``exp`` (revoke them, or delete the application, to end them)."""
    app = new_app(sqlite_server, scopes=("read:users",))
    token = app_token(sqlite_server, app)
    with admin(sqlite_server) as http:
        rotated = http.post(
            f"/kindling/v1/applications/{app['id']}/rotate_secret", json={"grace_seconds": 0}
        )
    assert rotated.status_code == 200, rotated.text
    pairs = form(sqlite_server, client_id=app["client_id"], client_secret=app["client_secret"])
    with no_token_issued(sqlite_server), stranger(sqlite_server) as http:
        oauth_error(post(http, urlencode(pairs)), 401, "invalid_client")
    with sqlite_server.client() as http:
        still = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert still.status_code == 200, still.text
        fresh = dict(pairs, client_secret=rotated.json()["client_secret"])
        assert post(http, urlencode(fresh)).status_code == 200


# --- 18-21: audience and scope ------------------------------------------------------------


def test_case_18_a_missing_audience_is_invalid_request(sqlite_server: KindlingServer) -> None:
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        body = oauth_error(
            post(http, urlencode(form(sqlite_server, audience=None))), 400, "invalid_request"
        )
    assert "audience" in body["error_description"]


def _api(server: KindlingServer) -> dict[str, str]:
    """A new API with one scope, not connected to any application."""
    audience = f"https://a12-{uid()}.example.test/api"
    with admin(server) as http:
        created = http.post("/api/v1/apis", json={"name": f"A12 {uid()}", "audience": audience})
        assert created.status_code == 200, created.text
        api_id = created.json()["api"]["id"]
        scope = f"read:{uid()}"
        added = http.post(f"/api/v1/apis/{api_id}/scopes", json={"key": scope})
        assert added.status_code == 200, added.text
    return {
        "id": api_id,
        "audience": audience,
        "scope": scope,
        "scope_id": added.json()["scope"]["id"],
    }


def test_case_19_an_audience_the_app_is_not_authorized_for_is_unauthorized_client(
    sqlite_server: KindlingServer,
) -> None:
    api = _api(sqlite_server)
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        alone = post(http, urlencode(form(sqlite_server, audience=api["audience"])))
        oauth_error(alone, 400, "unauthorized_client")
        both = form(sqlite_server)
        both.append(("audience", api["audience"]))
        oauth_error(post(http, urlencode(both)), 400, "unauthorized_client")


def test_case_20_an_ungranted_scope_is_invalid_scope_and_never_in_a_token(
    sqlite_server: KindlingServer,
) -> None:
    api = _api(sqlite_server)
    app = new_app(sqlite_server, scopes=("read:users",))
    with admin(sqlite_server) as http:  # authorized for the API, its scope not granted
        linked = http.patch(
            f"/api/v1/apis/{api['id']}/applications", json={"applications": [{"id": app["id"]}]}
        )
        assert linked.status_code == 200, linked.text
    own = form(sqlite_server, client_id=app["client_id"], client_secret=app["client_secret"])
    with no_token_issued(sqlite_server, expected=1), sqlite_server.client() as http:
        for scope, audience in (
            ("read:users create:users", sqlite_server.audience),
            (api["scope"], api["audience"]),
        ):
            asked = dict(own, scope=scope, audience=audience)
            oauth_error(post(http, urlencode(asked)), 400, "invalid_scope")
        everything = post(http, urlencode(dict(own, audience=api["audience"])))
        assert everything.status_code == 200, everything.text
    assert api["scope"] not in scope_of(everything.json()["access_token"])


def test_case_21_duplicate_scopes_are_issued_once(sqlite_server: KindlingServer) -> None:
    with no_token_issued(sqlite_server, expected=1), sqlite_server.client() as http:
        response = post(
            http, urlencode(form(sqlite_server, scope="read:users read:users  read:users"))
        )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read:users"
    assert scope_of(response.json()["access_token"]) == ["read:users"]


OUTSIDE_THE_RULES = {
    "tab": "read:users\tread:roles",
    "unicode": "read:üsers",
    "quote": 'read:users"',
    "backslash": "read:users\\",
    "10k-entries": "a " * 10_000,
}


def test_case_21_scopes_outside_the_rfc_charset_or_the_cap_are_invalid_scope(
    sqlite_server: KindlingServer,
) -> None:
    """RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); at most 500 entries."""
    with no_token_issued(sqlite_server), sqlite_server.client() as http:
        for name, scope in OUTSIDE_THE_RULES.items():
            response = post(http, urlencode(form(sqlite_server, scope=scope)))
            assert response.status_code == 400, name
            oauth_error(response, 400, "invalid_scope")


# --- 22: brute force ------------------------------------------------------------------------


def budget(server: KindlingServer, variable: str, default: str) -> int:
    """The server's budget of failed authentications (its setting, else the default)."""
    items = parse_many(server.env().get(variable) or default)
    assert items and all(item.get_expiry() >= 60 for item in items), items
    return min(item.amount for item in items)


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "too_many_requests"
    assert "access_token" not in response.json()
    assert response.headers["cache-control"] == "no-store"
    retry = int(response.headers["retry-after"])
    assert response.headers["ratelimit-reset"] == str(retry) and 1 <= retry <= 60


def test_case_22_guessing_one_clients_secret_is_throttled_and_audited(
    sqlite_server: KindlingServer,
) -> None:
    """The shipped defaults: the client is locked out after its budget of failures, from
    every address and even with the right secret; other clients are not."""
    failures = budget(
        sqlite_server, "KINDLING_RATE_LIMIT_TOKEN_FAILURES", DEFAULT_RATE_LIMIT_TOKEN_FAILURES
    )
    app = new_app(sqlite_server)
    guess = form(sqlite_server, client_id=app["client_id"], client_secret="guess")
    right = form(sqlite_server, client_id=app["client_id"], client_secret=app["client_secret"])
    with no_token_issued(sqlite_server):
        with stranger(sqlite_server) as http:
            for _ in range(failures):
                oauth_error(post(http, urlencode(guess)), 401, "invalid_client")
            assert_throttled(post(http, urlencode(guess)))
        with stranger(sqlite_server) as elsewhere:
            assert_throttled(post(elsewhere, urlencode(right)))
    with sqlite_server.client() as http:  # another client is unaffected
        assert post(http, urlencode(form(sqlite_server))).status_code == 200

    def refusals() -> int:
        return count(
            sqlite_server,
            "SELECT coalesce(sum(count), 0) FROM audit WHERE action = 'token.refused' "
            "AND actor_id = ? AND error_code = 'invalid_client'",
            (app["client_id"],),
        )

    # Every failure is in the audit log, coalesced per second.
    assert eventually(refusals, what="the refusals' audit rows") == failures


def test_case_22_spraying_client_ids_from_one_address_is_throttled(
    sqlite_server: KindlingServer,
) -> None:
    failures = budget(
        sqlite_server,
        "KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP",
        DEFAULT_RATE_LIMIT_TOKEN_FAILURES_IP,
    )
    with no_token_issued(sqlite_server), stranger(sqlite_server) as http:
        for _ in range(failures):
            unknown = form(sqlite_server, client_id=uuid.uuid4().hex, client_secret="guess")
            oauth_error(post(http, urlencode(unknown)), 401, "invalid_client")
        assert_throttled(post(http, urlencode(form(sqlite_server))))
    with stranger(sqlite_server) as other:  # another address is unaffected
        assert post(other, urlencode(form(sqlite_server))).status_code == 200
