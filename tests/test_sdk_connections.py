"""The official Python SDK drives all six Connections operations over TLS.

``kinde_sdk.management.ManagementClient`` with only the domain changed: each call is
checked for a typed, non-None result (the SDK returns None when the status is not the
spec's, e.g. 201 for ``create_connection``), the write-only ``client_secret`` is never
in any answer, and a connection made through ``connections_api`` is enabled and
removed through ``applications_api`` and ``organizations_api``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException, NotFoundException
from kinde_sdk.management.models import (
    Connection,
    CreateApplicationRequest,
    CreateApplicationResponse,
    CreateConnectionRequest,
    CreateConnectionRequestOptions,
    CreateConnectionRequestOptionsOneOf,
    CreateConnectionRequestOptionsOneOf2,
    CreateConnectionResponse,
    CreateOrganizationRequest,
    GetConnectionsResponse,
    ReplaceConnectionRequest,
    ReplaceConnectionRequestOptions,
    SuccessResponse,
    UpdateConnectionRequest,
    UpdateConnectionRequestOptions,
)

SECRET = "sdk-client-secret-" + uuid.uuid4().hex


def uid() -> str:
    return uuid.uuid4().hex[:10]


def raw(client: ManagementClient, method: str, path: str) -> str:
    """The body text of one call through the SDK's own HTTP stack (no model parsing)."""
    api = client.connections_api.api_client
    response = api.call_api(
        *api.param_serialize(method=method, resource_path=path, auth_settings=["kindeBearerAuth"])
    )
    response.read()
    text: str = response.data.decode("utf-8")
    return text


def create(client: ManagementClient, **fields: Any) -> str:
    created = client.connections_api.create_connection(CreateConnectionRequest(**fields))
    assert isinstance(created, CreateConnectionResponse), created
    assert created.code == "CONNECTION_CREATED"
    assert created.connection is not None and created.connection.id
    assert SECRET not in created.to_json()
    return str(created.connection.id)


def test_connections_api_every_operation(client: ManagementClient) -> None:
    domain = f"{uid()}.example.com"
    app = client.applications_api.create_application(
        CreateApplicationRequest(name=f"SDK web {uid()}", type="reg")
    )
    assert isinstance(app, CreateApplicationResponse) and app.application is not None
    app_id = str(app.application.id)

    google = create(
        client,
        name=f"sdk-google-{uid()}",
        display_name="SDK Google",
        strategy="oauth2:google",
        enabled_applications=[app_id],
        options=CreateConnectionRequestOptions(
            CreateConnectionRequestOptionsOneOf(
                client_id="sdk-client", client_secret=SECRET, is_trusted=True
            )
        ),
    )
    saml = create(
        client,
        name=f"sdk-saml-{uid()}",
        display_name="SDK SAML",
        strategy="saml:okta",
        options=CreateConnectionRequestOptions(
            CreateConnectionRequestOptionsOneOf2(
                home_realm_domains=[f"@{domain}"],
                saml_entity_id="https://idp.example.com",
                name_id_format="Email address",
            )
        ),
    )

    got = client.connections_api.get_connection(google)
    assert isinstance(got, Connection) and got.connection is not None
    assert (got.code, got.connection.id, got.connection.display_name) == (
        "OK",
        google,
        "SDK Google",
    )
    assert got.connection.strategy == "oauth2:google"
    assert SECRET not in raw(client, "GET", f"/api/v1/connections/{google}")

    listed = client.connections_api.get_connections(home_realm_domain=domain, page_size=5)
    assert isinstance(listed, GetConnectionsResponse) and listed.has_more is False
    assert [c.connection.id for c in listed.connections or [] if c.connection] == [saml]
    page = client.connections_api.get_connections(page_size=1, ending_before=saml)
    assert isinstance(page, GetConnectionsResponse) and page.connections is not None
    assert [c.connection.id for c in page.connections if c.connection] == [google]
    assert SECRET not in raw(client, "GET", "/api/v1/connections?page_size=500")

    enabled = client.applications_api.get_application_connections(app_id)
    assert enabled is not None
    assert [c.connection.id for c in enabled.connections or [] if c.connection] == [google]

    updated = client.connections_api.update_connection(
        google,
        UpdateConnectionRequest(
            display_name="SDK Google v2",
            enabled_applications=[],
            options=UpdateConnectionRequestOptions(
                CreateConnectionRequestOptionsOneOf(is_use_custom_domain=True)
            ),
        ),
    )
    assert isinstance(updated, SuccessResponse) and updated.code == "CONNECTION_UPDATED"
    again = client.connections_api.get_connection(google)
    assert again.connection is not None and again.connection.display_name == "SDK Google v2"
    assert not client.applications_api.get_application_connections(app_id).connections

    replaced = client.connections_api.replace_connection(
        google,
        ReplaceConnectionRequest(
            name="sdk-replaced",
            display_name="Replaced",
            enabled_applications=[app_id],
            options=ReplaceConnectionRequestOptions(
                CreateConnectionRequestOptionsOneOf(client_id="other", client_secret=SECRET)
            ),
        ),
    )
    assert isinstance(replaced, SuccessResponse) and replaced.code == "CONNECTION_UPDATED"
    after = client.connections_api.get_connection(google)
    assert after.connection is not None
    assert (after.connection.name, after.connection.display_name) == ("sdk-replaced", "Replaced")
    assert SECRET not in raw(client, "GET", f"/api/v1/connections/{google}")

    # Enabled and removed on an organization through the organizations API.
    org = client.organizations_api.create_organization(
        CreateOrganizationRequest(name=f"SDK org {uid()}")
    )
    assert org is not None and org.organization is not None
    code = str(org.organization.code)
    client.organizations_api.enable_org_connection(code, google)
    on_org = client.organizations_api.get_organization_connections(code)
    assert [c.connection.id for c in on_org.connections or [] if c.connection] == [google]

    deleted = client.connections_api.delete_connection(google)
    assert isinstance(deleted, SuccessResponse) and deleted.code == "CONNECTION_DELETED"
    assert not client.organizations_api.get_organization_connections(code).connections
    assert not client.applications_api.get_application_connections(app_id).connections
    with pytest.raises(BadRequestException) as caught:
        client.connections_api.get_connection(google)
    assert "CONNECTION_NOT_FOUND" in str(caught.value.body)
    with pytest.raises(NotFoundException) as missing:
        client.connections_api.delete_connection(google)
    assert "CONNECTION_NOT_FOUND" in str(missing.value.body)
    assert client.connections_api.delete_connection(saml).code == "CONNECTION_DELETED"


def test_bad_input_raises_bad_request_with_its_code(client: ManagementClient) -> None:
    with pytest.raises(BadRequestException) as caught:
        client.connections_api.create_connection(
            CreateConnectionRequest(
                name=f"sdk-bad-{uid()}",
                strategy="oauth2:github",
                organization_code="org_00000000000",
            )
        )
    assert "ORGANIZATION_CODE_NOT_ALLOWED" in str(caught.value.body)
    with pytest.raises(BadRequestException) as caught:
        client.connections_api.get_connections(starting_after="conn_" + "0" * 32)
    assert "INVALID_STARTING_AFTER" in str(caught.value.body)
