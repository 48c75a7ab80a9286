"""Organizations (core) through the official Kinde Python SDK over TLS.

Every operation is called through ``client.organizations_api`` (and the client's
deprecated shortcuts) and must come back typed and not None: the SDK silently
returns None when the status differs from the spec's and raises on type errors.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException, NotFoundException
from kinde_sdk.management.models import (
    Connection,
    CreateOrganizationRequest,
    CreateOrganizationResponse,
    GetConnectionsResponse,
    GetOrganizationPasskey200Response,
    GetOrganizationResponse,
    GetOrganizationsResponse,
    OrganizationItemSchema,
    ReadLogoResponse,
    ReplaceOrganizationMFARequest,
    SuccessResponse,
    UpdateOrganizationPasskey200Response,
    UpdateOrganizationPasskeyRequest,
    UpdateOrganizationRequest,
    UpdateOrganizationSessionsRequest,
)

from kindling.context import open_storage
from kindling.platform.ids import connection_id
from kindling.platform.storage import Storage
from kindling.resources.organizations.model import Connection as StoredConnection
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from tests.support import KindlingServer

NOW = "2024-01-01T00:00:00+00:00"
ORG_CODE = re.compile(r"org_[0-9a-f]{11}")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


def uid() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def store(tls_server: KindlingServer) -> Iterator[Storage]:
    opened = open_storage(tls_server.database_url, tls_server.data_dir, NOW)
    yield opened
    opened.close()


def _create(client: ManagementClient, **fields: Any) -> str:
    request = CreateOrganizationRequest(name=fields.pop("name", f"sdk-{uid()}"), **fields)
    created = client.organizations_api.create_organization(create_organization_request=request)
    assert isinstance(created, CreateOrganizationResponse)
    assert created.organization is not None and created.organization.code is not None
    assert ORG_CODE.fullmatch(created.organization.code)
    return created.organization.code


def test_organization_lifecycle(client: ManagementClient) -> None:
    api = client.organizations_api
    handle = f"sdk_{uid()}"
    name = f"SDK Org {uid()}"
    code = _create(
        client,
        name=name,
        handle=handle,
        external_id="ext-1",
        background_color="#0056F1",
        theme_code="user_preference",
        is_auto_membership_enabled=True,
        sender_name="SDK",
        sender_email="sdk@example.com",
    )

    org = api.get_organization(code=code, expand="billing")
    assert isinstance(org, GetOrganizationResponse)
    assert org.code == code and org.name == name and org.handle == handle
    assert org.external_id == "ext-1" and org.is_default is False
    assert org.theme_code == "user_preference" and org.color_scheme == "light dark"
    assert org.background_color is not None
    assert org.background_color.raw == "#0056F1" and org.background_color.hex == "#0056f1"
    assert org.background_color.hsl is not None and org.background_color.hsl.startswith("hsl(")
    assert org.is_auto_membership_enabled is True and org.is_suspended is False
    assert org.allowed_domains == [] and org.billing is not None
    assert org.created_on is not None

    updated = api.update_organization(
        org_code=code,
        update_organization_request=UpdateOrganizationRequest(
            name="SDK Renamed",
            theme_code="dark",
            allowed_domains=["sdk.example.com"],
            is_suspended=True,
            is_enforce_mfa=True,
        ),
    )
    assert isinstance(updated, SuccessResponse) and updated.code == "ORGANIZATION_UPDATED"
    org = api.get_organization(code=code)
    assert isinstance(org, GetOrganizationResponse)
    assert org.name == "SDK Renamed" and org.theme_code == "dark" and org.color_scheme == "dark"
    assert org.allowed_domains == ["sdk.example.com"]
    assert org.is_suspended is True and org.suspended_on is not None

    # An update with only the expand parameter (no body) is accepted.
    assert isinstance(api.update_organization(org_code=code, expand="billing"), SuccessResponse)

    gone = api.delete_organization_handle(org_code=code)
    assert isinstance(gone, SuccessResponse) and gone.code == "HANDLE_DELETED"
    org = api.get_organization(code=code)
    assert isinstance(org, GetOrganizationResponse) and org.handle is None

    deleted = api.delete_organization(org_code=code)
    assert isinstance(deleted, SuccessResponse) and deleted.code == "ORGANIZATION_DELETED"
    with pytest.raises(BadRequestException) as missing:
        api.get_organization(code=code)
    assert missing.value.status == 400
    with pytest.raises(NotFoundException) as again:
        api.delete_organization(org_code=code)
    assert again.value.status == 404


def test_get_organizations_pages_and_sorts(client: ManagementClient) -> None:
    prefix = f"sdk-list-{uid()}"
    codes = [_create(client, name=f"{prefix}-{c}") for c in ("b", "a", "c")]
    for sort, expected in (
        (None, codes),
        ("name_asc", [codes[1], codes[0], codes[2]]),
        ("name_desc", [codes[2], codes[0], codes[1]]),
        ("email_asc", [codes[1], codes[0], codes[2]]),
    ):
        seen: list[str] = []
        next_token = None
        for _ in range(1000):
            page = client.organizations_api.get_organizations(
                sort=sort, page_size=50, next_token=next_token
            )
            assert isinstance(page, GetOrganizationsResponse) and page.code == "OK"
            assert page.organizations is not None
            assert all(isinstance(o, OrganizationItemSchema) for o in page.organizations)
            seen += [o.code for o in page.organizations if o.name and o.name.startswith(prefix)]
            next_token = page.next_token
            if next_token is None:
                break
        assert seen == expected, sort
    with pytest.raises(BadRequestException) as bad:
        client.organizations_api.get_organizations(sort="created_asc")
    assert bad.value.status == 400


def test_logos(client: ManagementClient, tls_server: KindlingServer) -> None:
    api = client.organizations_api
    code = _create(client)
    added = api.add_organization_logo(org_code=code, type="light", logo=PNG)
    assert isinstance(added, SuccessResponse) and added.code == "LOGO_UPDATED"
    added = api.add_organization_logo(org_code=code, type="dark", logo=("dark.png", PNG))
    assert isinstance(added, SuccessResponse)
    logos = api.read_organization_logo(org_code=code)
    assert isinstance(logos, ReadLogoResponse) and logos.logos is not None
    assert [(logo.type, logo.file_name) for logo in logos.logos] == [
        ("light", "logo.png"),
        ("dark", "logo_dark.png"),
    ]
    org = api.get_organization(code=code)
    assert isinstance(org, GetOrganizationResponse)
    assert org.logo is not None and org.logo.startswith(f"{tls_server.issuer}/logo?org_code=")
    removed = api.delete_organization_logo(org_code=code, type="dark")
    assert isinstance(removed, SuccessResponse) and removed.code == "LOGO_DELETED"
    logos = api.read_organization_logo(org_code=code)
    assert isinstance(logos, ReadLogoResponse) and logos.logos is not None
    assert [logo.type for logo in logos.logos] == ["light"]
    with pytest.raises(BadRequestException) as bad:
        api.add_organization_logo(org_code=code, type="light", logo=b"not an image")
    assert bad.value.status == 400


def test_policies(client: ManagementClient) -> None:
    api = client.organizations_api
    code = _create(client)
    sessions = api.update_organization_sessions(
        org_code=code,
        update_organization_sessions_request=UpdateOrganizationSessionsRequest(
            is_use_org_sso_session_policy=True,
            sso_session_persistence_mode="persistent",
            is_use_org_authenticated_session_lifetime=True,
            authenticated_session_lifetime=3600,
        ),
    )
    assert isinstance(sessions, SuccessResponse) and sessions.code == "SESSIONS_UPDATED"

    mfa = api.replace_organization_mfa(
        org_code=code,
        replace_organization_mfa_request=ReplaceOrganizationMFARequest(
            enabled_factors=["mfa:email", "mfa:authenticator_app"],
            is_recovery_codes_enabled=False,
        ),
    )
    assert isinstance(mfa, SuccessResponse) and mfa.code == "MFA_UPDATED"

    passkey = api.get_organization_passkey(org_code=code)
    assert isinstance(passkey, GetOrganizationPasskey200Response)
    assert passkey.policy == "off" and passkey.enabled is False
    assert passkey.environment_policy == "off"
    assert passkey.is_override_environment_passkey_settings is False
    changed = api.update_organization_passkey(
        org_code=code,
        update_organization_passkey_request=UpdateOrganizationPasskeyRequest(
            policy="optional", is_override_environment_passkey_settings=True
        ),
    )
    assert isinstance(changed, UpdateOrganizationPasskey200Response)
    assert changed.policy == "optional" and changed.enabled is True
    assert changed.is_override_environment_passkey_settings is True
    passkey = api.get_organization_passkey(org_code=code)
    assert isinstance(passkey, GetOrganizationPasskey200Response)
    assert passkey.policy == "optional"


def test_connections(client: ManagementClient, store: Storage) -> None:
    api = client.organizations_api
    code = _create(client)
    conn = StoredConnection(
        id=connection_id(),
        name=f"sdk-{uid()}",
        display_name="SDK connection",
        strategy="oauth2:github",
        created_on=NOW,
    )
    with store.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(conn)

    # The spec declares no body for this 200, so the SDK returns None by design;
    # the status is checked through the *_with_http_info variant.
    enabled = api.enable_org_connection_with_http_info(
        organization_code=code, connection_id=conn.id
    )
    assert enabled.status_code == 200
    listed = api.get_organization_connections(organization_code=code)
    assert isinstance(listed, GetConnectionsResponse) and listed.has_more is False
    assert listed.connections is not None and len(listed.connections) == 1
    item = listed.connections[0]
    assert isinstance(item, Connection) and item.connection is not None
    assert item.connection.id == conn.id and item.connection.name == conn.name
    assert item.connection.display_name == "SDK connection"
    assert item.connection.strategy == "oauth2:github"

    removed = api.remove_org_connection(organization_code=code, connection_id=conn.id)
    assert isinstance(removed, SuccessResponse) and removed.code == "CONNECTION_REMOVED"
    listed = api.get_organization_connections(organization_code=code)
    assert isinstance(listed, GetConnectionsResponse) and listed.connections == []
    with pytest.raises(BadRequestException) as bad:
        api.enable_org_connection(organization_code=code, connection_id="conn_" + "0" * 32)
    assert bad.value.status == 400


def test_deprecated_shortcuts(client: ManagementClient) -> None:
    name = f"sdk-short-{uid()}"
    with pytest.warns(DeprecationWarning):
        created = client.create_organization(CreateOrganizationRequest(name=name))
    assert isinstance(created, CreateOrganizationResponse)
    assert created.organization is not None and created.organization.code is not None
    code = created.organization.code

    with pytest.warns(DeprecationWarning):
        org = client.get_organization(code)
    assert isinstance(org, GetOrganizationResponse) and org.name == name

    with pytest.warns(DeprecationWarning):
        orgs = client.get_organizations(page_size=500)
    assert isinstance(orgs, GetOrganizationsResponse) and orgs.organizations is not None

    with pytest.warns(DeprecationWarning):
        updated = client.update_organization(
            code, update_organization_request=UpdateOrganizationRequest(name=name + "-2")
        )
    assert isinstance(updated, SuccessResponse)
    fetched = client.organizations_api.get_organization(code=code)
    assert isinstance(fetched, GetOrganizationResponse) and fetched.name == name + "-2"

    with pytest.warns(DeprecationWarning):
        deleted = client.delete_organization(code)
    assert isinstance(deleted, SuccessResponse)
    with pytest.raises(BadRequestException):
        client.organizations_api.get_organization(code=code)
