"""The official Python SDK drives the three Connected Apps operations over TLS.

The SDK returns ``None`` when the status differs from the spec's and raises when a field
has the wrong JSON type, so each call is checked for a typed, non-None result. The
provider is a real OAuth 2.0 server on loopback (``tests/oauth_provider.py``); the user's
consent is an HTTP client following its redirect to our callback, over TLS.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException, NotFoundException
from kinde_sdk.management.models import (
    ConnectedAppsAccessToken,
    ConnectedAppsAuthUrl,
    ErrorResponse,
    SuccessResponse,
)

from tests.oauth_provider import OAuthProvider
from tests.support import KindlingServer


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def provider() -> Iterator[OAuthProvider]:
    started = OAuthProvider(client_id=f"sdk-{uid()}", client_secret=f"secret-{uid()}").start()
    yield started
    started.stop()


def management(server: KindlingServer) -> httpx.Client:
    """Kindling's own API (the provider definition) and a user, with a full-scope token."""
    http = server.client()
    http.headers["Authorization"] = f"Bearer {server.token()}"
    return http


def test_connected_apps_api_every_operation(
    client: ManagementClient, tls_server: KindlingServer, trust_ca: str, provider: OAuthProvider
) -> None:
    ref = f"sdk-{uid()}"
    with management(tls_server) as http:
        assert (
            http.post(
                "/kindling/v1/connected_apps/providers", json=provider.definition(ref)
            ).status_code
            == 201
        )
        created = http.post(
            "/api/v1/user",
            json={"identities": [{"type": "email", "details": {"email": f"{uid()}@example.com"}}]},
        )
        user_id = created.json()["id"]

    started = client.connected_apps_api.get_connected_app_auth_url(
        key_code_ref=ref, user_id=user_id
    )
    assert isinstance(started, ConnectedAppsAuthUrl)
    assert started.url and started.url.startswith(provider.base_url + "/authorize?")
    assert started.session_id

    # The user consents; the provider redirects to our callback over TLS.
    with httpx.Client(verify=ssl.create_default_context(cafile=trust_ca)) as browser:
        back = browser.get(started.url, follow_redirects=True)
    assert back.status_code == 200, back.text
    assert str(back.url).startswith(tls_server.base_url + "/kindling/v1/connected_apps/callback")

    token = client.connected_apps_api.get_connected_app_token(session_id=started.session_id)
    assert isinstance(token, ConnectedAppsAccessToken)
    assert token.access_token and provider.token_works(token.access_token)
    assert token.access_token_expiry and datetime.fromisoformat(token.access_token_expiry)

    revoked = client.connected_apps_api.revoke_connected_app_token(session_id=started.session_id)
    assert isinstance(revoked, SuccessResponse)
    assert revoked.code == "CONNECTED_APP_TOKEN_REVOKED"
    assert not provider.token_works(token.access_token)

    with pytest.raises(BadRequestException) as caught:
        client.connected_apps_api.get_connected_app_token(session_id=started.session_id)
    assert isinstance(caught.value.data, ErrorResponse)
    assert caught.value.data.errors and caught.value.data.errors[0].code == (
        "CONNECTED_APP_SESSION_NOT_FOUND"
    )


def test_an_unknown_connected_app_is_a_typed_not_found(client: ManagementClient) -> None:
    """The spec's 404 for this operation is an ``error_response``: the SDK decodes it."""
    with pytest.raises(NotFoundException) as caught:
        client.connected_apps_api.get_connected_app_auth_url(
            key_code_ref=f"missing-{uid()}", user_id="kp_" + "0" * 32
        )
    assert isinstance(caught.value.data, ErrorResponse)
    assert caught.value.data.errors and caught.value.data.errors[0].code == (
        "CONNECTED_APP_NOT_FOUND"
    )
