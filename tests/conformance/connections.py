"""Conformance builders of the ``connections`` resource (Kinde's Connections tag)."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid

SECRET = "conformance-client-secret"


def _no_secret(body: Any) -> None:
    assert SECRET not in str(body), body


def _saml(w: World, domain: str) -> str:
    """A fresh SAML connection whose home realm domain is ``domain``."""
    body = w.ok(
        "CreateConnection",
        Req(
            "/connections",
            json={
                "name": f"conf-saml-{uid()}",
                "display_name": "Conformance SAML",
                "strategy": "saml:custom",
                "options": {
                    "home_realm_domains": [f"@{domain}"],
                    "saml_entity_id": "https://idp.example.com",
                    "saml_signing_private_key": SECRET,
                },
            },
        ),
        "create a connection",
    )
    return str(body["connection"]["id"])


@builder("GetConnections")
def _get_connections(w: World) -> Req:
    domain = f"{uid()}.example.com"
    connection_id = _saml(w, domain)

    def check(body: Any) -> None:
        _no_secret(body)
        assert body["has_more"] is False, body
        assert [c["connection"]["id"] for c in body["connections"]] == [connection_id], body

    return Req("/connections", params={"page_size": 5, "home_realm_domain": domain}, check=check)


@builder("CreateConnection")
def _create_connection(w: World) -> Req:
    def check(body: Any) -> None:
        _no_secret(body)
        assert body["connection"]["id"].startswith("conn_"), body

    return Req(
        "/connections",
        json={
            "name": f"conf-google-{uid()}",
            "display_name": "Conformance Google",
            "strategy": "oauth2:google",
            "enabled_applications": [w.app()],
            "options": {"client_id": "conf-client", "client_secret": SECRET, "is_trusted": True},
        },
        check=check,
    )


@builder("GetConnection")
def _get_connection(w: World) -> Req:
    connection_id = _saml(w, f"{uid()}.example.com")

    def check(body: Any) -> None:
        _no_secret(body)
        assert body["connection"]["id"] == connection_id, body
        assert body["connection"]["strategy"] == "saml:custom", body

    return Req(f"/connections/{connection_id}", check=check)


@builder("UpdateConnection")
def _update_connection(w: World) -> Req:
    return Req(
        f"/connections/{w.connection()}",
        json={
            "display_name": f"Renamed {uid()}",
            "enabled_applications": [w.app()],
            "options": {"client_secret": SECRET, "is_use_custom_domain": True},
        },
        check=_no_secret,
    )


@builder("ReplaceConnection")
def _replace_connection(w: World) -> Req:
    return Req(
        f"/connections/{w.connection()}",
        json={
            "name": f"conf-replaced-{uid()}",
            "display_name": "Replaced",
            "enabled_applications": [],
            "options": {"client_id": "replaced", "client_secret": SECRET},
        },
        check=_no_secret,
    )


@builder("deleteConnection")
def _delete_connection(w: World) -> Req:
    return Req(f"/connections/{w.connection()}")
