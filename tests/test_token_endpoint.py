"""POST /oauth2/token against real servers (SQLite and PostgreSQL).

RFC 6749 §2.3, §3.2, §3.3, §4.4, §5.1, §5.2 with Kinde's audience and scope rules
(REFERENCE.md §2–3, RELIABILITY-AND-USERS.md A1 and A12 rows 1–22).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from tests.support import KindlingServer

TOKEN_PATH = "/oauth2/token"
FORM = "application/x-www-form-urlencoded"
CLAIMS = {"aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"}
DEFAULT_LIFETIME = 86_400


# --- helpers ---------------------------------------------------------------


def post_pairs(
    server: KindlingServer,
    pairs: list[tuple[str, str]],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST an exact form body (pairs may repeat) with the form content type."""
    sent = {"Content-Type": FORM, **(headers or {})}
    with server.client() as http:
        return http.post(TOKEN_PATH, content=urlencode(pairs).encode(), headers=sent)


def credentials(server: KindlingServer) -> list[tuple[str, str]]:
    """A complete, valid client_secret_post request for the Management API."""
    return [
        ("grant_type", "client_credentials"),
        ("client_id", server.client_id),
        ("client_secret", server.client_secret),
        ("audience", server.audience),
    ]


def without(pairs: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in pairs if k not in names]


def basic(client_id: str, secret: str) -> str:
    raw = f"{client_id}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def management(server: KindlingServer) -> httpx.Client:
    http = server.client()
    http.headers["Authorization"] = f"Bearer {server.token()}"
    return http


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_api(
    server: KindlingServer, authorize: str | None = None, grant: bool = True
) -> dict[str, str]:
    """Create an API with one scope; optionally authorize an app and grant it the scope."""
    audience = f"https://{unique('api')}.example.test/v1"
    scope_key = f"read:{unique('widgets')}"
    with management(server) as http:
        created = http.post("/api/v1/apis", json={"name": unique("API"), "audience": audience})
        assert created.status_code == 200, created.text
        api_id = created.json()["api"]["id"]
        added = http.post(f"/api/v1/apis/{api_id}/scopes", json={"key": scope_key})
        assert added.status_code == 200, added.text
        scope_id = added.json()["scope"]["id"]
        if authorize:
            patched = http.patch(
                f"/api/v1/apis/{api_id}/applications", json={"applications": [{"id": authorize}]}
            )
            assert patched.status_code == 200, patched.text
            if grant:
                granted = http.post(
                    f"/api/v1/apis/{api_id}/applications/{authorize}/scopes/{scope_id}"
                )
                assert granted.status_code == 200, granted.text
    return {"id": api_id, "audience": audience, "scope": scope_key, "scope_id": scope_id}


def jwk_for(server: KindlingServer, token: str) -> jwt.PyJWK:
    kid = jwt.get_unverified_header(token)["kid"]
    with server.client() as http:
        keys = http.get("/.well-known/jwks.json").json()["keys"]
    matching = [k for k in keys if k["kid"] == kid]
    assert len(matching) == 1, f"kid {kid} not in JWKS"
    return jwt.PyJWK(matching[0])


def verified_claims(
    server: KindlingServer, token: str, audience: str | None = None
) -> dict[str, Any]:
    """Verify signature, alg, audience, issuer and expiry with PyJWT and our JWKS."""
    claims: dict[str, Any] = jwt.decode(
        token,
        jwk_for(server, token),
        algorithms=["RS256"],
        audience=audience or server.audience,
        issuer=server.issuer,
        options={"require": ["aud", "exp", "iat", "iss"]},
    )
    return claims


def assert_no_store_json(response: httpx.Response) -> None:
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert_no_store_json(response)
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert "access_token" not in body
    return body


def assert_token(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert_no_store_json(response)
    body: dict[str, Any] = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    return body


def scopes_of(server: KindlingServer, token: str, audience: str | None = None) -> list[str]:
    claims = verified_claims(server, token, audience)
    assert claims["scope"].split() == claims["scp"]
    return list(claims["scp"])


# --- success ---------------------------------------------------------------


def test_client_secret_post_issues_bearer_token_with_no_store_headers(
    server: KindlingServer,
) -> None:
    body = assert_token(post_pairs(server, credentials(server)))
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2


def test_expires_in_is_an_integer_equal_to_exp_minus_iat_of_one_day(
    server: KindlingServer,
) -> None:
    body = assert_token(post_pairs(server, credentials(server)))
    claims = verified_claims(server, body["access_token"])
    assert type(body["expires_in"]) is int
    assert body["expires_in"] == claims["exp"] - claims["iat"] == DEFAULT_LIFETIME


def test_token_verifies_with_jwks_rs256_audience_and_issuer(server: KindlingServer) -> None:
    token = assert_token(post_pairs(server, credentials(server)))["access_token"]
    client = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks.json", cache_keys=False)
    signing_key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key,
        algorithms=["RS256"],
        audience=server.audience,
        issuer=server.issuer,
    )
    assert claims["azp"] == server.client_id


def test_token_header_is_rs256_with_a_kid_published_in_jwks(server: KindlingServer) -> None:
    token = assert_token(post_pairs(server, credentials(server)))["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    with server.client() as http:
        kids = {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}
    assert header["kid"] in kids


def test_token_claims_are_exactly_kindes_m2m_claim_set(server: KindlingServer) -> None:
    token = assert_token(post_pairs(server, credentials(server)))["access_token"]
    claims = verified_claims(server, token)
    assert set(claims) == CLAIMS
    assert claims["aud"] == [server.audience]
    assert claims["azp"] == server.client_id
    assert claims["gty"] == ["client_credentials"]
    assert claims["iss"] == server.issuer
    assert claims["v"] == "2"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert isinstance(claims["scp"], list)


def test_token_jti_is_a_uuid_unique_per_token(server: KindlingServer) -> None:
    first = verified_claims(
        server, assert_token(post_pairs(server, credentials(server)))["access_token"]
    )
    second = verified_claims(
        server, assert_token(post_pairs(server, credentials(server)))["access_token"]
    )
    assert str(uuid.UUID(first["jti"])) == first["jti"]
    assert str(uuid.UUID(second["jti"])) == second["jti"]
    assert first["jti"] != second["jti"]


def test_response_scope_equals_token_scope_claim(server: KindlingServer) -> None:
    body = assert_token(post_pairs(server, credentials(server)))
    claims = verified_claims(server, body["access_token"])
    assert body["scope"] == claims["scope"]


def test_form_content_type_with_utf8_charset_is_accepted(server: KindlingServer) -> None:
    response = post_pairs(server, credentials(server), {"Content-Type": f"{FORM}; charset=UTF-8"})
    assert_token(response)


def test_unknown_parameters_are_ignored(server: KindlingServer) -> None:
    assert_token(post_pairs(server, [*credentials(server), ("foo", "bar")]))


# --- grant type --------------------------------------------------------------


def test_missing_grant_type_is_invalid_request(server: KindlingServer) -> None:
    response = post_pairs(server, without(credentials(server), "grant_type"))
    assert_oauth_error(response, 400, "invalid_request")


def test_empty_body_is_invalid_request(server: KindlingServer) -> None:
    assert_oauth_error(post_pairs(server, []), 400, "invalid_request")


def test_password_grant_type_is_unsupported_grant_type(server: KindlingServer) -> None:
    pairs = [("grant_type", "password"), *without(credentials(server), "grant_type")]
    assert_oauth_error(post_pairs(server, pairs), 400, "unsupported_grant_type")


def test_authorization_code_grant_type_is_unsupported_grant_type(
    server: KindlingServer,
) -> None:
    pairs = [("grant_type", "authorization_code"), *without(credentials(server), "grant_type")]
    assert_oauth_error(post_pairs(server, pairs), 400, "unsupported_grant_type")


def test_refresh_token_grant_type_is_unsupported_grant_type(server: KindlingServer) -> None:
    pairs = [("grant_type", "refresh_token"), *without(credentials(server), "grant_type")]
    assert_oauth_error(post_pairs(server, pairs), 400, "unsupported_grant_type")


# --- client authentication ------------------------------------------------


def test_client_secret_basic_issues_token(server: KindlingServer) -> None:
    pairs = without(credentials(server), "client_id", "client_secret")
    response = post_pairs(
        server, pairs, {"Authorization": basic(server.client_id, server.client_secret)}
    )
    claims = verified_claims(server, assert_token(response)["access_token"])
    assert claims["azp"] == server.client_id


def test_client_secret_basic_with_percent_encoded_id_and_secret_issues_token(
    server: KindlingServer,
) -> None:
    def encode_all(text: str) -> str:
        return "".join(f"%{b:02X}" for b in text.encode())

    header = basic(encode_all(server.client_id), encode_all(server.client_secret))
    pairs = without(credentials(server), "client_id", "client_secret")
    claims = verified_claims(
        server, assert_token(post_pairs(server, pairs, {"Authorization": header}))["access_token"]
    )
    assert claims["azp"] == server.client_id


def test_client_secret_basic_and_post_issue_the_same_kind_of_token(
    server: KindlingServer,
) -> None:
    by_body = assert_token(post_pairs(server, credentials(server)))
    by_basic = assert_token(
        post_pairs(
            server,
            without(credentials(server), "client_id", "client_secret"),
            {"Authorization": basic(server.client_id, server.client_secret)},
        )
    )
    body_claims = verified_claims(server, by_body["access_token"])
    basic_claims = verified_claims(server, by_basic["access_token"])
    assert set(basic_claims) == set(body_claims) == CLAIMS
    for name in ("aud", "azp", "gty", "iss", "scope", "scp", "v"):
        assert basic_claims[name] == body_claims[name]
    assert by_basic["expires_in"] == by_body["expires_in"]
    assert by_basic["scope"] == by_body["scope"]


def test_basic_header_together_with_body_secret_is_invalid_request(
    server: KindlingServer,
) -> None:
    response = post_pairs(
        server,
        credentials(server),
        {"Authorization": basic(server.client_id, server.client_secret)},
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_basic_with_wrong_secret_is_401_invalid_client_with_basic_challenge(
    server: KindlingServer,
) -> None:
    response = post_pairs(
        server,
        without(credentials(server), "client_id", "client_secret"),
        {"Authorization": basic(server.client_id, "wrong" + server.client_secret)},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "realm=" in response.headers["www-authenticate"]


def test_basic_with_unknown_client_is_401_invalid_client_with_basic_challenge(
    server: KindlingServer,
) -> None:
    response = post_pairs(
        server,
        without(credentials(server), "client_id", "client_secret"),
        {"Authorization": basic(uuid.uuid4().hex, server.client_secret)},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_basic_with_malformed_base64_is_401_invalid_client_with_basic_challenge(
    server: KindlingServer,
) -> None:
    response = post_pairs(
        server,
        without(credentials(server), "client_id", "client_secret"),
        {"Authorization": "Basic !!!not*base64!!!"},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_basic_without_colon_is_401_invalid_client_with_basic_challenge(
    server: KindlingServer,
) -> None:
    header = "Basic " + base64.b64encode(server.client_id.encode()).decode()
    response = post_pairs(
        server,
        without(credentials(server), "client_id", "client_secret"),
        {"Authorization": header},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_body_auth_with_wrong_secret_is_401_invalid_client(server: KindlingServer) -> None:
    pairs = [*without(credentials(server), "client_secret"), ("client_secret", "x" * 40)]
    assert_oauth_error(post_pairs(server, pairs), 401, "invalid_client")


def test_body_auth_with_unknown_client_id_is_401_invalid_client(server: KindlingServer) -> None:
    pairs = [*without(credentials(server), "client_id"), ("client_id", uuid.uuid4().hex)]
    assert_oauth_error(post_pairs(server, pairs), 401, "invalid_client")


def test_body_auth_with_missing_secret_is_401_invalid_client(server: KindlingServer) -> None:
    response = post_pairs(server, without(credentials(server), "client_secret"))
    assert_oauth_error(response, 401, "invalid_client")


def test_request_without_any_client_credentials_is_401_invalid_client(
    server: KindlingServer,
) -> None:
    response = post_pairs(server, without(credentials(server), "client_id", "client_secret"))
    assert_oauth_error(response, 401, "invalid_client")


def test_unknown_client_and_wrong_secret_get_identical_error_bodies(
    server: KindlingServer,
) -> None:
    wrong = post_pairs(
        server, [*without(credentials(server), "client_secret"), ("client_secret", "x" * 40)]
    )
    unknown = post_pairs(
        server, [*without(credentials(server), "client_id"), ("client_id", uuid.uuid4().hex)]
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


# --- audience ----------------------------------------------------------------


def test_missing_audience_is_invalid_request(server: KindlingServer) -> None:
    response = post_pairs(server, without(credentials(server), "audience"))
    assert_oauth_error(response, 400, "invalid_request")


def test_unknown_audience_is_unauthorized_client(server: KindlingServer) -> None:
    pairs = [*without(credentials(server), "audience"), ("audience", "https://nowhere.test/api")]
    assert_oauth_error(post_pairs(server, pairs), 400, "unauthorized_client")


def test_audience_of_an_api_the_app_is_not_authorized_for_is_unauthorized_client(
    server: KindlingServer,
) -> None:
    api = create_api(server)
    pairs = [*without(credentials(server), "audience"), ("audience", api["audience"])]
    assert_oauth_error(post_pairs(server, pairs), 400, "unauthorized_client")


def test_two_audiences_one_unauthorized_is_unauthorized_client(server: KindlingServer) -> None:
    api = create_api(server)
    pairs = [*credentials(server), ("audience", api["audience"])]
    assert_oauth_error(post_pairs(server, pairs), 400, "unauthorized_client")


def test_two_authorized_audiences_give_one_token_for_both_with_scopes_of_both(
    server: KindlingServer,
) -> None:
    api = create_api(server, authorize=server.client_id)
    response = post_pairs(server, [*credentials(server), ("audience", api["audience"])])
    body = assert_token(response)
    claims = verified_claims(server, body["access_token"], audience=api["audience"])
    assert sorted(claims["aud"]) == sorted([server.audience, api["audience"]])
    scopes = claims["scope"].split()
    assert api["scope"] in scopes
    assert "read:users" in scopes
    assert claims["scp"] == scopes
    assert body["scope"] == claims["scope"]


def test_two_audiences_with_scope_subset_across_both_gives_exactly_that_subset(
    server: KindlingServer,
) -> None:
    api = create_api(server, authorize=server.client_id)
    wanted = ["read:users", api["scope"]]
    pairs = [*credentials(server), ("audience", api["audience"]), ("scope", " ".join(wanted))]
    token = assert_token(post_pairs(server, pairs))["access_token"]
    assert sorted(scopes_of(server, token)) == sorted(wanted)


def test_authorized_audience_scope_not_granted_is_invalid_scope(
    server: KindlingServer,
) -> None:
    api = create_api(server, authorize=server.client_id, grant=False)
    pairs = [
        *without(credentials(server), "audience"),
        ("audience", api["audience"]),
        ("scope", api["scope"]),
    ]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_scope")


def test_scope_of_another_audience_is_invalid_scope(server: KindlingServer) -> None:
    api = create_api(server, authorize=server.client_id)
    assert_oauth_error(
        post_pairs(server, [*credentials(server), ("scope", api["scope"])]), 400, "invalid_scope"
    )


# --- which applications may use the grant -----------------------------------


def test_m2m_app_not_authorized_for_management_api_is_unauthorized_client(
    server: KindlingServer,
) -> None:
    app = server.create_app(unique("no-mgmt"), management=False)
    pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", app["client_id"]),
        ("client_secret", app["client_secret"]),
        ("audience", server.audience),
    ]
    assert_oauth_error(post_pairs(server, pairs), 400, "unauthorized_client")


def test_m2m_app_authorized_for_management_api_gets_its_own_token(
    server: KindlingServer,
) -> None:
    app = server.create_app(unique("with-mgmt"), management=True)
    pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", app["client_id"]),
        ("client_secret", app["client_secret"]),
        ("audience", server.audience),
    ]
    claims = verified_claims(server, assert_token(post_pairs(server, pairs))["access_token"])
    assert claims["azp"] == app["client_id"]
    assert "read:users" in claims["scp"]


def test_app_created_by_management_api_without_authorization_is_unauthorized_client(
    server: KindlingServer,
) -> None:
    with management(server) as http:
        created = http.post("/api/v1/applications", json={"name": unique("api-app"), "type": "m2m"})
    assert created.status_code == 201, created.text
    app = created.json()["application"]
    pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", app["client_id"]),
        ("client_secret", app["client_secret"]),
        ("audience", server.audience),
    ]
    assert_oauth_error(post_pairs(server, pairs), 400, "unauthorized_client")


def test_non_m2m_app_is_unauthorized_client(server: KindlingServer) -> None:
    with management(server) as http:
        created = http.post("/api/v1/applications", json={"name": unique("web-app"), "type": "reg"})
    assert created.status_code == 201, created.text
    app = created.json()["application"]
    pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", app["client_id"]),
        ("client_secret", app["client_secret"]),
        ("audience", server.audience),
    ]
    assert_oauth_error(post_pairs(server, pairs), 400, "unauthorized_client")


# --- scope -------------------------------------------------------------------


def test_absent_scope_gives_all_granted_scopes(server: KindlingServer) -> None:
    token = assert_token(post_pairs(server, credentials(server)))["access_token"]
    scopes = scopes_of(server, token)
    assert {"read:users", "create:users", "read:apis", "create:applications"} <= set(scopes)


def test_empty_scope_gives_the_same_scopes_as_absent_scope(server: KindlingServer) -> None:
    absent = assert_token(post_pairs(server, credentials(server)))["access_token"]
    empty = assert_token(post_pairs(server, [*credentials(server), ("scope", "")]))["access_token"]
    assert sorted(scopes_of(server, empty)) == sorted(scopes_of(server, absent))
    assert len(scopes_of(server, empty)) > 1


def test_scope_subset_gives_exactly_that_subset_in_scope_and_scp(server: KindlingServer) -> None:
    wanted = ["read:users", "create:users"]
    body = assert_token(post_pairs(server, [*credentials(server), ("scope", " ".join(wanted))]))
    claims = verified_claims(server, body["access_token"])
    assert sorted(claims["scope"].split(" ")) == sorted(wanted)
    assert sorted(claims["scp"]) == sorted(wanted)
    assert sorted(body["scope"].split(" ")) == sorted(wanted)


def test_single_scope_gives_only_that_scope(server: KindlingServer) -> None:
    body = assert_token(post_pairs(server, [*credentials(server), ("scope", "read:users")]))
    claims = verified_claims(server, body["access_token"])
    assert claims["scope"] == "read:users"
    assert claims["scp"] == ["read:users"]
    assert body["scope"] == "read:users"


def test_ungranted_scope_is_invalid_scope(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("scope", "read:users launch:rockets")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_scope")


def test_scope_with_double_quote_is_invalid_scope(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("scope", 'read:users"')]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_scope")


def test_scope_with_backslash_is_invalid_scope(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("scope", "read:users\\")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_scope")


def test_duplicated_scope_is_issued_once(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("scope", "read:users read:users")]
    token = assert_token(post_pairs(server, pairs))["access_token"]
    assert scopes_of(server, token) == ["read:users"]


# --- repeated parameters -----------------------------------------------------


def test_repeated_grant_type_is_invalid_request(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("grant_type", "client_credentials")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


def test_repeated_grant_type_with_different_values_is_invalid_request(
    server: KindlingServer,
) -> None:
    pairs = [*credentials(server), ("grant_type", "password")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


def test_repeated_client_id_is_invalid_request(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("client_id", server.client_id)]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


def test_repeated_client_secret_is_invalid_request(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("client_secret", server.client_secret)]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


def test_repeated_scope_is_invalid_request(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("scope", "read:users"), ("scope", "create:users")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


# --- transport: method and content type ---------------------------------------


def test_json_body_is_invalid_request(server: KindlingServer) -> None:
    with server.client() as http:
        response = http.post(TOKEN_PATH, json=dict(credentials(server)))
    assert_oauth_error(response, 400, "invalid_request")


def test_text_plain_body_is_invalid_request(server: KindlingServer) -> None:
    body = urlencode(credentials(server)).encode()
    with server.client() as http:
        response = http.post(TOKEN_PATH, content=body, headers={"Content-Type": "text/plain"})
    assert_oauth_error(response, 400, "invalid_request")


def test_body_without_content_type_is_invalid_request(server: KindlingServer) -> None:
    body = urlencode(credentials(server)).encode()
    with server.client() as http:
        request = http.build_request("POST", TOKEN_PATH, content=body)
        request.headers.pop("content-type", None)
        assert "content-type" not in request.headers
        response = http.send(request)
    assert_oauth_error(response, 400, "invalid_request")


def test_multipart_body_is_invalid_request(server: KindlingServer) -> None:
    with server.client() as http:
        response = http.post(
            TOKEN_PATH, data=dict(credentials(server)), files={"x": ("x.txt", b"x")}
        )
    assert_oauth_error(response, 400, "invalid_request")


def test_non_utf8_charset_is_invalid_request(server: KindlingServer) -> None:
    response = post_pairs(
        server, credentials(server), {"Content-Type": f"{FORM}; charset=ISO-8859-1"}
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_invalid_utf8_in_form_is_invalid_request(server: KindlingServer) -> None:
    body = urlencode(credentials(server)).encode() + b"&scope=%FF%FE"
    with server.client() as http:
        response = http.post(TOKEN_PATH, content=body, headers={"Content-Type": FORM})
    assert_oauth_error(response, 400, "invalid_request")


def test_get_on_token_endpoint_is_405_with_allow_post(server: KindlingServer) -> None:
    with server.client() as http:
        response = http.get(TOKEN_PATH, params=dict(credentials(server)))
    assert_oauth_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


def test_credentials_in_query_string_are_not_used(server: KindlingServer) -> None:
    query = urlencode([("client_id", server.client_id), ("client_secret", server.client_secret)])
    body = urlencode(without(credentials(server), "client_id", "client_secret")).encode()
    with server.client() as http:
        response = http.post(f"{TOKEN_PATH}?{query}", content=body, headers={"Content-Type": FORM})
    assert_oauth_error(response, 401, "invalid_client")


def test_oversized_body_is_413_invalid_request(server: KindlingServer) -> None:
    pairs = [*credentials(server), ("padding", "x" * 100_000)]
    assert_oauth_error(post_pairs(server, pairs), 413, "invalid_request")


# --- malformed form input (A12 row 4): never a 500, never a token -------------------


def test_nul_byte_in_client_id_is_invalid_request(server: KindlingServer) -> None:
    pairs = [*without(credentials(server), "client_id"), ("client_id", server.client_id + "\x00")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


def test_nul_byte_in_audience_is_invalid_request(server: KindlingServer) -> None:
    pairs = [*without(credentials(server), "audience"), ("audience", server.audience + "\x00")]
    assert_oauth_error(post_pairs(server, pairs), 400, "invalid_request")


def test_nul_byte_in_basic_client_id_is_401_invalid_client_with_basic_challenge(
    server: KindlingServer,
) -> None:
    response = post_pairs(
        server,
        without(credentials(server), "client_id", "client_secret"),
        {"Authorization": basic(server.client_id + "%00", server.client_secret)},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_malformed_percent_escape_is_invalid_request(server: KindlingServer) -> None:
    body = urlencode(without(credentials(server), "client_id")) + "&client_id=%ZZ"
    with server.client() as http:
        response = http.post(TOKEN_PATH, content=body.encode(), headers={"Content-Type": FORM})
    assert_oauth_error(response, 400, "invalid_request")
