"""The official Python SDK drives all five SCIM directory operations over TLS.

The SDK parses ``created_on`` and the sync times as datetimes and checks ``status``
against its enum, so typed results here mean the JSON is what Kinde's clients read.
The bearer token is in the create's answer only; a missing directory raises the SDK's
``NotFoundException`` with a parsed ``error_response``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import (
    BadRequestException,
    ConflictException,
    NotFoundException,
)
from kinde_sdk.management.models import (
    CreateDirectoryRequest,
    CreateDirectoryResponse,
    CreateOrganizationRequest,
    DeleteDirectoryResponse,
    Directory,
    GetDirectoriesResponse,
    GetDirectoryResponse,
    UpdateDirectoryRequest,
    UpdateDirectoryResponse,
)

from kindling.clock import isoformat
from tests.support import KindlingServer
from tests.test_roles import database


def uid() -> str:
    return uuid.uuid4().hex[:10]


def enterprise_org(client: ManagementClient, server: KindlingServer) -> tuple[str, str]:
    """A new organization with one enabled SAML connection: (org code, connection id)."""
    created = client.organizations_api.create_organization(
        create_organization_request=CreateOrganizationRequest(name=f"SDK SCIM {uid()}")
    )
    assert created is not None and created.organization is not None
    code = str(created.organization.code)
    connection_id = "conn_" + uuid.uuid4().hex
    with database(server) as session:
        session.execute(
            "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (connection_id, f"sdk-{uid()}", "ACME SAML", "saml:custom", "{}", isoformat(0)),
        )
    client.organizations_api.enable_org_connection(code, connection_id)
    return code, connection_id


def test_directories_api_every_operation(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    api = client.directories_api
    code, connection_id = enterprise_org(client, tls_server)

    created = api.create_directory(
        CreateDirectoryRequest(
            org_code=code,
            directory_name="SDK directory",
            provider_code="google_workspace",
            enterprise_connection_id=connection_id,
        )
    )
    assert isinstance(created, CreateDirectoryResponse) and created.code == "DIRECTORY_CREATED"
    made = created.directory
    assert isinstance(made, Directory) and made.id
    assert made.secret_token and made.secret_token.startswith("kstkn_")
    assert (made.status, made.organization_code, made.enterprise_connection_id) == (
        "Pending",
        code,
        connection_id,
    )
    assert made.enterprise_connection_name == "ACME SAML"
    assert isinstance(made.created_on, datetime) and made.last_sync_started_at is None

    got = api.get_directory(made.id)
    assert isinstance(got, GetDirectoryResponse) and got.directory is not None
    assert got.directory.secret_token is None
    assert got.directory.model_dump(exclude={"secret_token"}) == made.model_dump(
        exclude={"secret_token"}
    )

    listing = api.get_directories(page_size=10, organization_code=code)
    assert isinstance(listing, GetDirectoriesResponse) and listing.has_more is False
    assert [d.id for d in listing.directories or []] == [made.id]
    assert all(d.secret_token is None for d in listing.directories or [])
    paged = api.get_directories(page_size=1, starting_after=made.id)
    assert isinstance(paged, GetDirectoriesResponse)
    assert made.id not in [d.id for d in paged.directories or []]

    updated = api.update_directory(made.id, UpdateDirectoryRequest(directory_name="Renamed"))
    assert isinstance(updated, UpdateDirectoryResponse) and updated.code == "DIRECTORY_UPDATED"
    assert updated.directory is not None and updated.directory.directory_name == "Renamed"
    assert updated.directory.secret_token is None

    with pytest.raises(ConflictException) as conflict:
        api.create_directory(
            CreateDirectoryRequest(org_code=code, directory_name="Second", provider_code="okta")
        )
    assert "DIRECTORY_EXISTS" in str(conflict.value.body)

    deleted = api.delete_directory(made.id)
    assert isinstance(deleted, DeleteDirectoryResponse) and deleted.code == "DIRECTORY_DELETED"
    assert deleted.directory_id == made.id
    with pytest.raises(NotFoundException) as missing:
        api.get_directory(made.id)
    data = missing.value.data
    assert data is not None and data.errors is not None
    assert data.errors[0].code == "DIRECTORY_NOT_FOUND"
    with pytest.raises(NotFoundException):
        api.delete_directory(made.id)


def test_sdk_validation_errors(client: ManagementClient, tls_server: KindlingServer) -> None:
    api = client.directories_api
    code, _ = enterprise_org(client, tls_server)
    with pytest.raises(BadRequestException) as caught:
        api.create_directory(
            CreateDirectoryRequest(
                org_code="org_00000000000", directory_name="D", provider_code="okta"
            )
        )
    assert "ORGANIZATION_NOT_FOUND" in str(caught.value.body)
    with pytest.raises(BadRequestException) as caught:
        api.create_directory(
            CreateDirectoryRequest(
                org_code=code,
                directory_name="D",
                provider_code="okta",
                enterprise_connection_id="conn_" + uuid.uuid4().hex,
            )
        )
    assert "INVALID_ENTERPRISE_CONNECTION" in str(caught.value.body)
    listing = api.get_directories(organization_code=code)
    assert isinstance(listing, GetDirectoriesResponse) and not listing.directories
