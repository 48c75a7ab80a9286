"""Conformance builders of the ``directories`` resource (SCIM directories).

A directory needs an organization with an enabled enterprise connection. Connections
are created through ``CreateConnection`` when Kindling serves it, else seeded (as the
shared ``World.connection`` does) with a SAML strategy, then enabled for a fresh
organization through ``EnableOrgConnection``.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.conformance.framework import Req, World, builder, has_item, now_iso, uid


def enterprise_org(w: World) -> tuple[str, str]:
    """A fresh organization with one enabled SAML connection: (org code, connection id)."""
    org = w.org()
    connection = "conn_" + uuid.uuid4().hex
    w.seed(
        "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (connection, f"conf-saml-{uid()}", "Conformance SAML", "saml:custom", "{}", now_iso()),
    )
    w.ok(
        "EnableOrgConnection",
        Req(f"/organizations/{org}/connections/{connection}"),
        "enable an enterprise connection for an organization",
    )
    return org, connection


def directory(w: World) -> str:
    org, _ = enterprise_org(w)
    body = w.ok(
        "createDirectory",
        Req(
            "/directories",
            json={"org_code": org, "directory_name": f"Dir {uid()}", "provider_code": "okta"},
        ),
        "create a SCIM directory",
    )
    return str(body["directory"]["id"])


@builder("getDirectories")
def _get_directories(w: World) -> Req:
    made = directory(w)
    return Req("/directories", params={"page_size": 500}, check=has_item("directories", made))


@builder("createDirectory")
def _create_directory(w: World) -> Req:
    org, connection = enterprise_org(w)

    def check(body: Any) -> None:
        made = body["directory"]
        assert made["organization_code"] == org, body
        assert made["enterprise_connection_id"] == connection, body
        assert made["secret_token"].startswith("kstkn_"), body

    return Req(
        "/directories",
        json={
            "org_code": org,
            "directory_name": f"Conformance {uid()}",
            "provider_code": "entra_id_azure_ad",
            "enterprise_connection_id": connection,
        },
        check=check,
    )


@builder("getDirectory")
def _get_directory(w: World) -> Req:
    made = directory(w)

    def check(body: Any) -> None:
        assert body["directory"]["id"] == made, body
        assert "secret_token" not in body["directory"], body

    return Req(f"/directories/{made}", check=check)


@builder("updateDirectory")
def _update_directory(w: World) -> Req:
    return Req(f"/directories/{directory(w)}", json={"directory_name": f"Renamed {uid()}"})


@builder("deleteDirectory")
def _delete_directory(w: World) -> Req:
    made = directory(w)

    def check(body: Any) -> None:
        assert body["directory_id"] == made, body

    return Req(f"/directories/{made}", check=check)
