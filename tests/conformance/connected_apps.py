"""Conformance builders of the ``connected_apps`` resource.

A valid call needs a connected app to exist, and ``token`` and ``revoke`` need a session
whose flow has completed. So the first builder starts a real OAuth 2.0 provider on
loopback (``tests/oauth_provider.py``, one per server for the session) and defines a
connected app pointing at it through Kindling's extension API; a completed session is
the whole flow, done here: the authorization URL, the provider's approval, its redirect to
our callback with a code, and the code exchange our callback makes.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid
from tests.oauth_provider import OAuthProvider

PROVIDERS = "/kindling/v1/connected_apps/providers"


def _connected_app(w: World) -> tuple[OAuthProvider, str]:
    """This server's test provider and the key_code_ref of a connected app using it."""

    def make() -> tuple[OAuthProvider, str]:
        provider = OAuthProvider(client_id=f"conf-{uid()}").start()
        key_code_ref = f"conf-{uid()}"
        resp = w.http.post(
            PROVIDERS,
            json=provider.definition(key_code_ref),
            headers={"Authorization": f"Bearer {w.token}"},
        )
        assert resp.status_code == 201, resp.text
        return provider, key_code_ref

    return w.once(("connected_apps", "provider"), make)


def _auth_url(w: World) -> dict[str, Any]:
    _, key_code_ref = _connected_app(w)
    body = w.ok(
        "GetConnectedAppAuthUrl",
        Req("/connected_apps/auth_url", params={"key_code_ref": key_code_ref, "user_id": w.user()}),
        "start a connected app authorization",
    )
    return dict(body)


def _connected_session(w: World) -> str:
    """A session whose user approved at the provider: its session_id."""
    started = _auth_url(w)
    resp = w.http.get(started["url"], follow_redirects=True)
    assert resp.status_code == 200, resp.text
    assert resp.json()["code"] == "CONNECTED_APP_AUTHORIZED", resp.text
    return str(started["session_id"])


@builder("GetConnectedAppAuthUrl")
def _get_auth_url(w: World) -> Req:
    provider, key_code_ref = _connected_app(w)

    def check(body: Any) -> None:
        assert body["url"].startswith(provider.base_url + "/authorize?"), body
        assert body["session_id"], body

    return Req(
        "/connected_apps/auth_url",
        params={"key_code_ref": key_code_ref, "org_code": w.org()},
        check=check,
    )


@builder("GetConnectedAppToken")
def _get_token(w: World) -> Req:
    provider, _ = _connected_app(w)

    def check(body: Any) -> None:
        assert provider.token_works(body["access_token"]), body
        assert body["access_token_expiry"], body

    return Req("/connected_apps/token", params={"session_id": _connected_session(w)}, check=check)


@builder("RevokeConnectedAppToken")
def _revoke(w: World) -> Req:
    return Req("/connected_apps/revoke", params={"session_id": _connected_session(w)})
