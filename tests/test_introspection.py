"""``POST /oauth2/introspect`` against real servers (RFC 7662; RELIABILITY-AND-USERS.md A4).

Who may ask: an application with its client credentials (Basic or form, as at the
token endpoint), which learns only about its own tokens, or a Management API token
with ``read:applications`` (what Kinde's Python SDK sends), which may ask about any.
An inactive token is ``{"active": false}`` and nothing else; an active one carries
the RFC's members. Runs on SQLite and PostgreSQL, plus the official SDK over TLS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.platform.context import Context
from tests.keys_support import (
    INTROSPECT,
    REVOKE,
    app_token,
    bearer_get,
    claims_for,
    credentials,
    new_app,
    post_as_client,
    post_form,
    running_server,
    server_context,
)
from tests.support import KindlingServer

ACTIVE_MEMBERS = {"active", "scope", "client_id", "token_type", "exp", "iat", "aud", "iss", "jti"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    with running_server(tmp_path_factory.mktemp(f"introspect-{request.param}"), request.param) as s:
        yield s


@pytest.fixture(scope="module")
def ours(server: KindlingServer) -> Iterator[Context]:
    with server_context(server) as ctx:
        yield ctx


@pytest.fixture(scope="module")
def app(server: KindlingServer) -> dict[str, Any]:
    return new_app(server)


@pytest.fixture(scope="module")
def other_app(server: KindlingServer) -> dict[str, Any]:
    return new_app(server)


def introspect_as(
    server: KindlingServer, app: dict[str, Any], token: str, basic: bool = True, **extra: str
) -> httpx.Response:
    return post_as_client(server, INTROSPECT, app, token, basic, **extra)


def introspect_with_bearer(server: KindlingServer, bearer: str, token: str) -> httpx.Response:
    header = f"Bearer {bearer}" if bearer else "Bearer"
    return post_form(server, INTROSPECT, {"token": token}, headers={"Authorization": header})


def assert_inactive(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"active": False}


def assert_active_for(response: httpx.Response, token: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(body) == ACTIVE_MEMBERS, body
    assert body["active"] is True
    assert body["client_id"] == claims["azp"]
    assert body["scope"] == claims["scope"]
    assert body["token_type"] == "Bearer"
    assert (body["exp"], body["iat"], body["iss"], body["jti"]) == (
        claims["exp"],
        claims["iat"],
        claims["iss"],
        claims["jti"],
    )
    assert body["aud"] == claims["aud"]
    return body


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert isinstance(body.get("error_description"), str)
    return body


# --- who may ask -----------------------------------------------------------------------


def test_a_client_introspects_its_own_token_with_basic_credentials(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app, ["read:users", "read:roles"])
    body = assert_active_for(introspect_as(server, app, token), token)
    assert body["scope"] == "read:users read:roles"
    assert body["aud"] == [server.audience]


def test_a_client_introspects_its_own_token_with_form_credentials(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    assert_active_for(introspect_as(server, app, token, basic=False), token)


def test_token_type_hint_is_accepted_and_ignored(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    for hint in ("access_token", "refresh_token", "something_else"):
        assert_active_for(introspect_as(server, app, token, token_type_hint=hint), token)


def test_a_client_learns_nothing_about_another_clients_token(
    server: KindlingServer, app: dict[str, Any], other_app: dict[str, Any]
) -> None:
    foreign = app_token(server, other_app)
    assert_inactive(introspect_as(server, app, foreign))
    assert_inactive(introspect_as(server, app, foreign, basic=False))
    # ... though the token is live, and its own client sees it.
    assert_active_for(introspect_as(server, other_app, foreign), foreign)


def test_a_management_api_token_introspects_any_token(
    server: KindlingServer, app: dict[str, Any], other_app: dict[str, Any]
) -> None:
    bearer = app_token(server, app, ["read:applications"])
    token = app_token(server, other_app, ["read:users"])
    assert_active_for(introspect_with_bearer(server, bearer, token), token)
    # Lowercase scheme, as RFC 7235 allows.
    lower = post_form(
        server, INTROSPECT, {"token": token}, headers={"Authorization": f"bearer {bearer}"}
    )
    assert_active_for(lower, token)


def test_a_management_api_token_without_read_applications_is_403(
    server: KindlingServer, app: dict[str, Any], other_app: dict[str, Any]
) -> None:
    bearer = app_token(server, app, ["read:users"])
    response = introspect_with_bearer(server, bearer, app_token(server, other_app))
    oauth_error(response, 403, "insufficient_scope")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=") and 'scope="read:applications"' in challenge


@pytest.mark.parametrize(
    "bearer",
    [
        pytest.param(lambda s, c: "garbage", id="garbage"),
        pytest.param(lambda s, c: "", id="empty"),
        pytest.param(
            lambda s, c: c.keyring.signer().sign(
                claims_for(s, "x", scope="read:applications", exp=int(time.time()) - 3600)
            ),
            id="expired",
        ),
        pytest.param(
            lambda s, c: c.keyring.signer().sign(
                claims_for(s, "x", scope="read:applications", aud=["https://other.example"])
            ),
            id="other-audience",
        ),
    ],
)
def test_a_bad_bearer_token_is_401_invalid_token(
    server: KindlingServer, ours: Context, app: dict[str, Any], bearer: Any
) -> None:
    response = introspect_with_bearer(server, bearer(server, ours), app_token(server, app))
    oauth_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_the_bearer_of_a_deleted_application_is_401(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    doomed = new_app(server)
    bearer = app_token(server, doomed, ["read:applications"])
    token = app_token(server, app)
    assert_active_for(introspect_with_bearer(server, bearer, token), token)
    with server.client() as http:
        gone = http.delete(
            f"/api/v1/applications/{doomed['client_id']}",
            headers={"Authorization": f"Bearer {app_token(server, app)}"},
        )
    assert gone.status_code == 200, gone.text
    oauth_error(introspect_with_bearer(server, bearer, token), 401, "invalid_token")


def test_no_credentials_is_401_invalid_client(server: KindlingServer, app: dict[str, Any]) -> None:
    oauth_error(
        post_form(server, INTROSPECT, {"token": app_token(server, app)}), 401, "invalid_client"
    )


def test_a_wrong_secret_is_401_invalid_client_with_a_basic_challenge(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    response = post_form(server, INTROSPECT, {"token": token}, auth=(app["client_id"], "wrong"))
    oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    body = {"token": token, "client_id": app["client_id"], "client_secret": "wrong"}
    oauth_error(post_form(server, INTROSPECT, body), 401, "invalid_client")
    unknown = post_form(server, INTROSPECT, {"token": token}, auth=("0" * 32, "wrong"))
    assert unknown.json() == response.json()


def test_bearer_and_a_client_secret_together_are_400_invalid_request(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    bearer = app_token(server, app, ["read:applications"])
    response = post_form(
        server,
        INTROSPECT,
        {"token": bearer, "client_id": app["client_id"], "client_secret": app["client_secret"]},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    oauth_error(response, 400, "invalid_request")


# --- malformed requests ----------------------------------------------------------------


def test_a_missing_token_is_400_invalid_request(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    oauth_error(post_form(server, INTROSPECT, {}, auth=credentials(app)), 400, "invalid_request")
    oauth_error(
        post_form(server, INTROSPECT, {"token": ""}, auth=credentials(app)), 400, "invalid_request"
    )


def test_a_repeated_token_is_400_invalid_request(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    response = post_form(
        server,
        INTROSPECT,
        content=f"token={token}&token={token}".encode(),
        auth=credentials(app),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    oauth_error(response, 400, "invalid_request")


def test_a_json_body_is_400_invalid_request(server: KindlingServer, app: dict[str, Any]) -> None:
    with server.client() as http:
        response = http.post(INTROSPECT, json={"token": "x"}, auth=credentials(app))
    oauth_error(response, 400, "invalid_request")


def test_get_is_405_with_allow_post(server: KindlingServer) -> None:
    with server.client() as http:
        response = http.get(INTROSPECT)
    oauth_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


def test_an_oversized_body_is_413(server: KindlingServer, app: dict[str, Any]) -> None:
    response = post_form(server, INTROSPECT, {"token": "x" * 70_000}, auth=credentials(app))
    oauth_error(response, 413, "invalid_request")


# --- inactive tokens -------------------------------------------------------------------


def _signed(ctx: Context, claims: dict[str, Any], typ: str = "JWT") -> str:
    return ctx.keyring.signer_for(typ).sign(claims)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s, c, cid: "garbage", id="garbage"),
        pytest.param(lambda s, c, cid: "a.b.c", id="three-junk-segments"),
        pytest.param(
            lambda s, c, cid: _signed(c, claims_for(s, cid, exp=int(time.time()) - 1)),
            id="expired-one-second-ago",
        ),
        pytest.param(
            lambda s, c, cid: _signed(c, claims_for(s, cid, nbf=int(time.time()) + 600)),
            id="not-yet-valid",
        ),
        pytest.param(
            lambda s, c, cid: _signed(c, claims_for(s, cid, iss=s.issuer + "/")), id="other-issuer"
        ),
        pytest.param(
            lambda s, c, cid: _signed(c, claims_for(s, cid), "webhook+jwt"), id="webhook-typ"
        ),
        pytest.param(lambda s, c, cid: _signed(c, claims_for(s, cid), "at+jwt"), id="at+jwt-typ"),
        pytest.param(
            lambda s, c, cid: _signed(
                c, {k: v for k, v in claims_for(s, cid).items() if k != "gty"}
            ),
            id="no-gty",
        ),
        pytest.param(
            lambda s, c, cid: jwt.encode(
                claims_for(s, cid),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                algorithm="RS256",
                headers={"kid": c.keyring.signer().kid},
            ),
            id="foreign-key-our-kid",
        ),
    ],
)
def test_tokens_that_are_not_live_access_tokens_of_ours_are_inactive(
    server: KindlingServer, ours: Context, app: dict[str, Any], make: Any
) -> None:
    token = make(server, ours, app["client_id"])
    assert_inactive(introspect_as(server, app, token))
    assert_inactive(introspect_with_bearer(server, app_token(server, app), token))


def test_a_token_signed_with_our_key_and_valid_claims_is_active(
    server: KindlingServer, ours: Context, app: dict[str, Any]
) -> None:
    # The positive control for the crafted tokens above.
    token = _signed(ours, claims_for(server, app["client_id"]))
    assert_active_for(introspect_as(server, app, token), token)


def test_a_revoked_token_is_inactive(server: KindlingServer, app: dict[str, Any]) -> None:
    token = app_token(server, app)
    assert_active_for(introspect_as(server, app, token), token)
    revoked = post_form(server, REVOKE, {"token": token}, auth=credentials(app))
    assert revoked.status_code == 200, revoked.text
    assert_inactive(introspect_as(server, app, token))
    assert_inactive(introspect_with_bearer(server, app_token(server, app), token))


def test_the_token_of_a_deleted_application_is_inactive(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    doomed = new_app(server)
    token = app_token(server, doomed)
    bearer = app_token(server, app)
    assert_active_for(introspect_with_bearer(server, bearer, token), token)
    with server.client() as http:
        http.delete(
            f"/api/v1/applications/{doomed['client_id']}",
            headers={"Authorization": f"Bearer {bearer}"},
        ).raise_for_status()
    assert_inactive(introspect_with_bearer(server, bearer, token))
    assert bearer_get(server, token).status_code == 401


def test_an_org_scoped_token_says_its_organization(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    bearer = app_token(server, app)
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {bearer}"
        org = http.post("/api/v1/organization", json={"name": "Introspected"})
        assert org.status_code == 200, org.text
        code = org.json()["organization"]["code"]
        created = http.post(
            "/api/v1/applications", json={"name": "org app", "type": "m2m", "org_code": code}
        )
    assert created.status_code == 201, created.text
    scoped = created.json()["application"]
    authorized = server.cli("apps", "authorize", scoped["id"], "--api", server.audience)
    assert authorized.returncode == 0, authorized.stderr
    token = app_token(server, scoped)
    body = introspect_with_bearer(server, bearer, token).json()
    assert body["active"] is True and body["org_code"] == code
    assert set(body) == ACTIVE_MEMBERS | {"org_code"}


# --- discovery and the official SDK ------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_discovery_advertises_introspection(server: KindlingServer, path: str) -> None:
    with server.client() as http:
        document = http.get(path).json()
    assert document["introspection_endpoint"] == f"{server.issuer}{INTROSPECT}"
    assert document["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "Bearer",
    ]


def test_the_python_sdk_validates_a_token_by_introspection(
    tls_server: KindlingServer, trust_ca: str
) -> None:
    """``ManagementTokenManager.validate_and_set_via_introspection`` (kinde-python-sdk):
    it posts ``token`` with its own Management API token as the bearer, and reads
    ``active`` and ``exp``."""
    from kinde_sdk.management.management_token_manager import ManagementTokenManager

    manager = ManagementTokenManager(
        tls_server.domain, tls_server.client_id, tls_server.client_secret
    )
    with pytest.raises(ValueError, match="inactive"):
        manager.validate_and_set_via_introspection("not-a-token")
    # The SDK then keeps the validated token as its own Management API token.
    token = tls_server.token()
    result = manager.validate_and_set_via_introspection(token)
    assert result["active"] is True
    assert result["exp"] == jwt.decode(token, options={"verify_signature": False})["exp"]
    assert manager.get_access_token() == token
