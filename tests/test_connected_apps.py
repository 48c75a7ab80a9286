"""Connected apps over HTTP, on both engines, against a real OAuth 2.0 provider on loopback.

A real ``kindling serve`` process; a real provider (``tests/oauth_provider.py``) in this
process; the browser's part played by an HTTP client that follows the provider's redirect
to our callback. The full flow (definition, authorization URL, the provider's approval,
our callback's code exchange, the token, its refresh, the revocation the provider sees)
and the errors a caller relies on: each a 400 with its code that writes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kindling.crypto.masterkey import MasterKey
from kindling.platform.errors import ConfigurationError
from kindling.platform.operations import Redirect
from kindling.resources.connected_apps import routes as connected_routes
from kindling.resources.connected_apps.sealing import keys_for, unseal
from kindling.web.management import success_response
from tests.oauth_provider import OAuthProvider, closed_port_url
from tests.support import KindlingServer, error_code, token_for
from tests.test_roles import BASE, CONTRACT, Api, count, database, uid

PROVIDERS = "/kindling/v1/connected_apps/providers"
CALLBACK = "/kindling/v1/connected_apps/callback"


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


@pytest.fixture
def provider() -> Iterator[OAuthProvider]:
    started = OAuthProvider(client_id=f"client-{uid()}", client_secret=f"secret-{uid()}").start()
    yield started
    started.stop()


def define(api: Api, provider: OAuthProvider, **extra: Any) -> dict[str, Any]:
    ref = f"app-{uid()}"
    resp = api.http.post(PROVIDERS, json=provider.definition(ref, **extra))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    assert body["code"] == "CONNECTED_APP_CREATED"
    return dict(body["connected_app"])


def new_user(api: Api) -> str:
    email = f"ca-{uid()}@example.com"
    created = api.ok(
        "POST", "/user", json={"identities": [{"type": "email", "details": {"email": email}}]}
    )
    return str(created["id"])


def auth_url(api: Api, ref: str, **params: Any) -> dict[str, Any]:
    params.setdefault("user_id", new_user(api))
    body: dict[str, Any] = api.ok(
        "GET", "/connected_apps/auth_url", params={"key_code_ref": ref, **params}
    )
    return body


def approve(api: Api, url: str) -> httpx.Response:
    """The user opens the URL; the provider approves and sends the browser to our callback.
    Our callback's answer is returned as it is (a redirect to the app is not followed)."""
    at_provider = api.http.get(url, follow_redirects=False, headers={"Authorization": ""})
    assert at_provider.status_code == 302, at_provider.text
    location = at_provider.headers["location"]
    assert urlsplit(location).path == CALLBACK
    return api.http.get(location, follow_redirects=False, headers={"Authorization": ""})


def sent_to(resp: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """Our callback's 302 to the app: where it sends the browser (without the query) and
    the query; the outcome is for this one navigation, so it is not cacheable."""
    assert resp.status_code == 302, resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert resp.content == b""
    parts = urlsplit(resp.headers["location"])
    return parts._replace(query="").geturl(), parse_qs(parts.query, keep_blank_values=True)


def connect(api: Api, ref: str, **params: Any) -> str:
    started = auth_url(api, ref, **params)
    resp = approve(api, started["url"])
    assert resp.status_code == 200, resp.text
    return str(started["session_id"])


def sessions(server: KindlingServer) -> int:
    with database(server) as session:
        return count(session, "SELECT COUNT(*) AS n FROM connected_app_sessions")


# --- the routes versus the contract ---------------------------------------------------

EXPECTED = {
    ("GET", "/connected_apps/auth_url"),
    ("GET", "/connected_apps/token"),
    ("POST", "/connected_apps/revoke"),
}


def test_routes_match_the_contract() -> None:
    ops = connected_routes.router.operations
    assert {(op.method, op.path) for op in ops} == EXPECTED
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Connected Apps"
    }
    assert spec == EXPECTED
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == found.scope, op
        assert (op.status,) == found.success_codes, op
        assert op.operation_id == found.operation_id, op
        assert not op.body
        declared = {str(p["name"]): bool(p.get("required")) for p in found.parameters}
        assert {p.name: p.required for p in op.query} == declared, op


# --- the flow ---------------------------------------------------------------------------


def test_full_flow_auth_url_consent_token_revoke(
    server: KindlingServer, api: Api, provider: OAuthProvider
) -> None:
    app = define(api, provider, callback_url="https://app.example.com/connected")
    assert app["redirect_uri"] == server.base_url + CALLBACK
    assert app["has_client_secret"] is True and "client_secret" not in app
    started = auth_url(api, app["key_code_ref"])
    query = parse_qs(urlsplit(started["url"]).query)
    assert query["redirect_uri"] == [server.base_url + CALLBACK]

    # The definition has a callback_url: the browser is sent on to the app (RFC 6749
    # §4.1.2 style), with which connected app succeeded and no error.
    back = approve(api, started["url"])
    assert sent_to(back) == (
        "https://app.example.com/connected",
        {"key_code_ref": [app["key_code_ref"]]},
    )

    token = api.ok("GET", "/connected_apps/token", params={"session_id": started["session_id"]})
    assert set(token) == {"access_token", "access_token_expiry"}
    me = httpx.get(
        provider.api_endpoint, headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 200, me.text  # the token works at the provider
    # Asked again, the same (still valid) token.
    again = api.ok("GET", "/connected_apps/token", params={"session_id": started["session_id"]})
    assert again == token

    revoked = api.ok("POST", "/connected_apps/revoke", params={"session_id": started["session_id"]})
    assert revoked["code"] == "CONNECTED_APP_TOKEN_REVOKED"
    assert {hint for _, hint in provider.revocations} == {"refresh_token", "access_token"}
    me = httpx.get(
        provider.api_endpoint, headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 401  # the provider saw the revocation
    api.error(
        "GET",
        "/connected_apps/token",
        "CONNECTED_APP_SESSION_NOT_FOUND",
        params={"session_id": started["session_id"]},
    )
    api.error(
        "POST",
        "/connected_apps/revoke",
        "CONNECTED_APP_SESSION_NOT_FOUND",
        params={"session_id": started["session_id"]},
    )


def test_an_expiring_token_is_refreshed(api: Api, provider: OAuthProvider) -> None:
    provider.expires_in = 30  # always inside the refresh margin
    app = define(api, provider)
    session_id = connect(api, app["key_code_ref"])
    first = api.ok("GET", "/connected_apps/token", params={"session_id": session_id})
    second = api.ok("GET", "/connected_apps/token", params={"session_id": session_id})
    assert first["access_token"] != second["access_token"]
    assert provider.token_works(second["access_token"])
    grants = [r.form["grant_type"] for r in provider.served("/token")]
    assert grants == ["authorization_code", "refresh_token", "refresh_token"]


def test_an_organization_with_an_override_callback(api: Api, provider: OAuthProvider) -> None:
    app = define(api, provider)
    org = api.ok("POST", "/organization", json={"name": f"ca org {uid()}"})["organization"]["code"]
    started = api.ok(
        "GET",
        "/connected_apps/auth_url",
        params={
            "key_code_ref": app["key_code_ref"],
            "org_code": org,
            "override_callback_url": "https://app.example.com/after",
        },
    )
    back = approve(api, started["url"])
    assert sent_to(back) == (
        "https://app.example.com/after",
        {"key_code_ref": [app["key_code_ref"]]},
    )


def test_without_a_callback_url_the_callback_answers_json(
    api: Api, provider: OAuthProvider
) -> None:
    app = define(api, provider)
    back = approve(api, auth_url(api, app["key_code_ref"])["url"])
    assert back.status_code == 200, back.text
    assert back.headers["content-type"].startswith("application/json")
    assert back.json() == {
        "code": "CONNECTED_APP_AUTHORIZED",
        "message": back.json()["message"],
        "key_code_ref": app["key_code_ref"],
    }


def test_a_failure_is_sent_to_the_callback_url_as_an_error(
    api: Api, provider: OAuthProvider
) -> None:
    """A refusal at the provider, or a provider that is down, after the state was used:
    the app's URL gets ``error`` (RFC 6749 §4.1.2.1), the message and our code, its own
    query kept (a stale outcome parameter it had is replaced); the session is not usable."""
    app = define(api, provider, callback_url="https://app.example.com/done?tab=apps&error=old")
    provider.deny = True
    started = auth_url(api, app["key_code_ref"])
    where, query = sent_to(approve(api, started["url"]))
    assert where == "https://app.example.com/done"
    assert query.pop("error_description")[0]
    assert query == {
        "tab": ["apps"],
        "key_code_ref": [app["key_code_ref"]],
        "error": ["access_denied"],
        "error_code": ["CONNECTED_APP_ACCESS_DENIED"],
    }
    api.error(
        "GET",
        "/connected_apps/token",
        "CONNECTED_APP_SESSION_NOT_AUTHORIZED",
        params={"session_id": started["session_id"]},
    )
    provider.deny = False
    api.http.patch(
        f"{PROVIDERS}/{app['key_code_ref']}", json={"token_endpoint": closed_port_url() + "/token"}
    ).raise_for_status()
    _, query = sent_to(approve(api, auth_url(api, app["key_code_ref"])["url"]))
    assert query["error"] == ["temporarily_unavailable"]
    assert query["error_code"] == ["CONNECTED_APP_PROVIDER_UNAVAILABLE"]
    assert "access_token" not in str(query) and "state" not in query


def test_a_used_state_is_a_json_400_even_with_a_callback_url(
    api: Api, provider: OAuthProvider
) -> None:
    """A state that names no session says nothing about where to go: no redirect."""
    app = define(api, provider, callback_url="https://app.example.com/done")
    started = auth_url(api, app["key_code_ref"])
    location = api.http.get(started["url"], follow_redirects=False).headers["location"]
    assert api.http.get(location).status_code == 302
    error_code(api.http.get(location), 400, "INVALID_STATE")


# --- errors --------------------------------------------------------------------------------


def test_an_unknown_key_code_ref_is_a_404_and_writes_nothing(
    server: KindlingServer, api: Api
) -> None:
    """The spec declares a 404 with an ``error_response`` body (a list) for this one."""
    before = sessions(server)
    api.error(
        "GET",
        "/connected_apps/auth_url",
        "CONNECTED_APP_NOT_FOUND",
        status=404,
        params={"key_code_ref": f"nope-{uid()}", "user_id": new_user(api)},
    )
    error_code(api.request("GET", "/connected_apps/auth_url"), 400, "KEY_CODE_REF_REQUIRED")
    assert sessions(server) == before


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "USER_ID_OR_ORG_CODE_REQUIRED"),
        ({"user_id": "kp_" + "0" * 32}, 404, "USER_NOT_FOUND"),
        ({"org_code": "org_00000000000"}, 404, "ORGANIZATION_NOT_FOUND"),
        ({"user_id": "kp_1", "org_code": "org_1"}, 400, "TOO_MANY_PARAMETERS"),
        (
            {"user_id": "kp_1", "override_callback_url": "http://app.example.com/"},
            400,
            "INVALID_OVERRIDE_CALLBACK_URL",
        ),
        (
            {"user_id": "kp_1", "override_callback_url": "x" * 2049},
            400,
            "OVERRIDE_CALLBACK_URL_TOO_LONG",
        ),
    ],
)
def test_bad_auth_url_requests_write_nothing(
    server: KindlingServer,
    api: Api,
    provider: OAuthProvider,
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    """Bad input is a 400; an unknown user or organization the declared 404, in the
    ``error_response`` body (a list) the spec gives this operation."""
    app = define(api, provider)
    before = sessions(server)
    api.error(
        "GET",
        "/connected_apps/auth_url",
        code,
        status=status,
        params={"key_code_ref": app["key_code_ref"], **params},
    )
    assert sessions(server) == before


def test_a_state_is_used_once(api: Api, provider: OAuthProvider) -> None:
    app = define(api, provider)
    started = auth_url(api, app["key_code_ref"])
    # Catch the provider's redirect instead of following it, to replay it.
    redirect = api.http.get(started["url"], follow_redirects=False)
    location = redirect.headers["location"]
    assert api.http.get(location).status_code == 200
    error_code(api.http.get(location), 400, "INVALID_STATE")
    assert len(provider.served("/token")) == 1
    error_code(api.http.get(CALLBACK, params={"code": "x"}), 400, "STATE_REQUIRED")
    error_code(
        api.http.get(CALLBACK, params={"state": "forged", "code": "x"}), 400, "INVALID_STATE"
    )


def test_a_refusal_at_the_provider(api: Api, provider: OAuthProvider) -> None:
    app = define(api, provider)
    provider.deny = True
    started = auth_url(api, app["key_code_ref"])
    error_code(approve(api, started["url"]), 400, "CONNECTED_APP_ACCESS_DENIED")
    api.error(
        "GET",
        "/connected_apps/token",
        "CONNECTED_APP_SESSION_NOT_AUTHORIZED",
        params={"session_id": started["session_id"]},
    )


def test_a_provider_that_is_down_answers_fast(api: Api, provider: OAuthProvider) -> None:
    app = define(api, provider, token_endpoint=closed_port_url() + "/token")
    started = auth_url(api, app["key_code_ref"])
    began = time.monotonic()
    resp = approve(api, started["url"])
    assert time.monotonic() - began < 3
    error_code(resp, 400, "CONNECTED_APP_PROVIDER_UNAVAILABLE")


def test_a_failed_revocation_keeps_the_tokens(api: Api, provider: OAuthProvider) -> None:
    app = define(api, provider)
    session_id = connect(api, app["key_code_ref"])
    token = api.ok("GET", "/connected_apps/token", params={"session_id": session_id})
    provider.revoke_status = 503
    api.error(
        "POST",
        "/connected_apps/revoke",
        "CONNECTED_APP_PROVIDER_UNAVAILABLE",
        params={"session_id": session_id},
    )
    assert api.ok("GET", "/connected_apps/token", params={"session_id": session_id}) == token
    provider.revoke_status = None
    api.ok("POST", "/connected_apps/revoke", params={"session_id": session_id})
    assert not provider.token_works(token["access_token"])


def test_scopes_are_enforced(server: KindlingServer, provider: OAuthProvider) -> None:
    read_only = token_for(server, ["read:connected_apps"])
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {read_only}"
        resp = http.post(BASE + "/connected_apps/revoke", params={"session_id": "x"})
        error_code(resp, 403, "INSUFFICIENT_SCOPE")
        resp = http.post(PROVIDERS, json=provider.definition(f"app-{uid()}"))
        error_code(resp, 403, "INSUFFICIENT_SCOPE")
        assert http.get(PROVIDERS).status_code == 200
        error_code(http.get(PROVIDERS, headers={"Authorization": ""}), 401)


# --- Kindling's provider definitions -----------------------------------------------------------


def test_definitions_can_be_read_changed_and_deleted(api: Api, provider: OAuthProvider) -> None:
    app = define(api, provider)
    ref = app["key_code_ref"]
    listed = api.http.get(PROVIDERS).json()["connected_apps"]
    assert app in listed
    assert api.http.get(f"{PROVIDERS}/{ref}").json()["connected_app"] == app
    changed = api.http.patch(f"{PROVIDERS}/{ref}", json={"name": "Renamed", "scopes": ["one"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["connected_app"]["name"] == "Renamed"
    assert changed.json()["connected_app"]["scopes"] == ["one"]

    session_id = connect(api, ref)
    resp = api.http.delete(f"{PROVIDERS}/{ref}")
    assert resp.status_code == 409 and resp.json()["errors"][0]["code"] == "CONNECTED_APP_IN_USE"
    api.ok("POST", "/connected_apps/revoke", params={"session_id": session_id})
    assert api.http.delete(f"{PROVIDERS}/{ref}").status_code == 200
    gone = api.http.get(f"{PROVIDERS}/{ref}")
    assert gone.status_code == 404
    assert gone.json()["errors"]["code"] == "CONNECTED_APP_NOT_FOUND"


def test_a_bad_definition_is_a_400_and_writes_nothing(api: Api, provider: OAuthProvider) -> None:
    ref = f"app-{uid()}"
    body = provider.definition(ref, token_endpoint="http://provider.example.com/token")
    resp = api.http.post(PROVIDERS, json=body)
    error_code(resp, 400, "INVALID_TOKEN_ENDPOINT")
    assert api.http.get(f"{PROVIDERS}/{ref}").status_code == 404
    define_twice = provider.definition(ref)
    assert api.http.post(PROVIDERS, json=define_twice).status_code == 201
    resp = api.http.post(PROVIDERS, json=define_twice)
    assert resp.status_code == 409
    assert resp.json()["errors"][0]["code"] == "CONNECTED_APP_EXISTS"


# --- the callback's redirect, and sealing -----------------------------------------------------


def test_a_redirect_result_is_a_302_with_location_and_no_store() -> None:
    """``Redirect`` is the one non-JSON handler result: the web layer renders it whatever
    the operation's declared status, and refuses a location that would bend the header."""
    op = next(o for o in connected_routes.extensions.operations if o.path.endswith("/callback"))
    response = success_response(op, Redirect("https://app.example.com/done?key_code_ref=a"))
    assert response.status_code == 302
    assert response.headers["location"] == "https://app.example.com/done?key_code_ref=a"
    assert response.headers["cache-control"] == "no-store"
    assert bytes(response.body) == b"" and "content-type" not in response.headers
    for bad in (
        "/relative",
        "javascript:alert(1)",
        "https://app.example.com/a b",
        "https://app.example.com/\r\nSet-Cookie: x=1",
    ):
        with pytest.raises(ValueError):
            Redirect(bad)


def test_values_sealed_before_value_sealer_still_open() -> None:
    """The sealing helper became ``ValueSealer``; the framing it had (a ``KeySealer``
    subclass: ``nonce || AES-256-GCM(value, aad=label)`` under the same derived sub-keys)
    is the same, so a client secret or token sealed by it still opens, and a blob moved
    to another row still does not."""
    master = MasterKey("connected-apps-sealing-test-master-key-0123456789")
    keys = keys_for(master)
    label = "connected_app_providers:connected_app_1:client_secret"
    nonce = os.urandom(12)
    legacy = nonce + AESGCM(master.derive("connected-app-secret-seal")).encrypt(
        nonce, b"s3cret", label.encode()
    )
    assert unseal(keys.secrets, label, legacy) == "s3cret"
    assert unseal(keys.secrets, label, keys.secrets.seal(label, "new")) == "new"
    with pytest.raises(ConfigurationError):
        unseal(keys.secrets, "connected_app_providers:connected_app_2:client_secret", legacy)
    with pytest.raises(ConfigurationError):
        unseal(keys.tokens, label, legacy)  # the token sub-key is another key
