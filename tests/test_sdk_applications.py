"""Applications, APIs, Callbacks and API Keys through the official Kinde Python SDK over TLS.

Each of the 40 operations of these four tags is called as ``client.<tag>_api.<method>``
and must come back typed, not None, with the values we expect: the SDK returns None
when the status differs from the spec's and raises when a field has the wrong JSON
type. Where the spec's 2xx has no body the SDK returns None by design, so the
``*_with_http_info`` variant is used to check the status and the effect is read back.
The SDK-visible effects on tokens (lifetime, authorization, scopes, deletion) are
checked against the token endpoint.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException, NotFoundException
from kinde_sdk.management.models import (
    AddAPIScopeRequest,
    AddAPIsRequest,
    ApplicationAccessRole,
    Applications,
    AuthorizeAppApiResponse,
    Connection,
    CreateApiKeyRequest,
    CreateApiKeyResponse,
    CreateApiScopesResponse,
    CreateApisResponse,
    CreateApplicationRequest,
    CreateApplicationResponse,
    CreateCategoryRequest,
    CreateCategoryResponse,
    CreatePropertyRequest,
    CreatePropertyResponse,
    CreateRoleRequest,
    CreateRolesResponse,
    DeleteApiResponse,
    GetApiKeyResponse,
    GetApiKeysResponse,
    GetApiKeysResponseApiKeysInner,
    GetApiResponse,
    GetApiScopeResponse,
    GetApiScopesResponse,
    GetApisResponse,
    GetApisResponseApisInner,
    GetApplicationAccessRolesResponse,
    GetApplicationResponse,
    GetApplicationsResponse,
    GetConnectionsResponse,
    GetPropertyValuesResponse,
    LogoutRedirectUrls,
    PropertyValue,
    RedirectCallbackUrls,
    ReplaceLogoutRedirectURLsRequest,
    ReplaceRedirectCallbackURLsRequest,
    RotateApiKeyResponse,
    SuccessResponse,
    UpdateAPIApplicationsRequest,
    UpdateAPIApplicationsRequestApplicationsInner,
    UpdateAPIScopeRequest,
    UpdateApplicationRequest,
    UpdateApplicationsPropertyRequest,
    UpdateApplicationsPropertyRequestValue,
    UpdateApplicationTokensRequest,
    VerifyApiKeyRequest,
    VerifyApiKeyResponse,
)

from kindling.clock import isoformat
from kindling.context import open_storage
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage
from tests.support import KindlingServer

HEX32 = re.compile(r"[0-9a-f]{32}")
BOOL_SETTINGS = (
    "has_cancel_button",
    "is_access_control_enabled",
    "is_allow_faceless_auth",
    "is_ask_for_name",
    "has_marketing_consent",
    "has_sign_in_link_on_sign_up_page",
    "has_register_link_on_sign_in_page",
    "has_sign_in_with_sso_button",
    "use_gravatar_fallback",
)


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def store(tls_server: KindlingServer) -> Iterator[Storage]:
    opened = open_storage(tls_server.database_url, tls_server.data_dir, isoformat(0))
    yield opened
    opened.close()


def ok(result: Any, code: str) -> SuccessResponse:
    assert isinstance(result, SuccessResponse), result
    assert result.code == code and result.message
    return result


def bad_request(error: pytest.ExceptionInfo[BadRequestException], code: str) -> None:
    assert error.value.status == 400
    assert code in str(error.value.body), error.value.body


def new_app(client: ManagementClient, kind: str = "m2m", name: str | None = None) -> Any:
    created = client.applications_api.create_application(
        CreateApplicationRequest(name=name or f"sdk-app-{uid()}", type=kind)
    )
    assert isinstance(created, CreateApplicationResponse), created
    assert created.code == "APPLICATION_CREATED" and created.message
    app = created.application
    assert app is not None and app.id and app.client_id and app.client_secret
    assert HEX32.fullmatch(app.id) and app.client_id == app.id
    return app


def new_api(client: ManagementClient) -> tuple[str, str]:
    audience = f"https://sdk-{uid()}.example.com"
    created = client.apis_api.add_apis(AddAPIsRequest(name=f"SDK API {uid()}", audience=audience))
    assert isinstance(created, CreateApisResponse), created
    assert created.code == "API_CREATED" and created.api is not None and created.api.id
    return created.api.id, audience


def new_scope(client: ManagementClient, api_id: str, key: str, description: str | None) -> str:
    created = client.apis_api.add_api_scope(
        api_id, AddAPIScopeRequest(key=key, description=description)
    )
    assert isinstance(created, CreateApiScopesResponse), created
    assert created.code == "SCOPE_CREATED" and created.scope is not None and created.scope.id
    return created.scope.id


def authorize(client: ManagementClient, api_id: str, app_id: str, remove: bool = False) -> Any:
    inner = UpdateAPIApplicationsRequestApplicationsInner(
        id=app_id, operation="delete" if remove else None
    )
    result = client.apis_api.update_api_applications(
        api_id, UpdateAPIApplicationsRequest(applications=[inner])
    )
    assert isinstance(result, AuthorizeAppApiResponse), result
    assert result.code == "API_APPLICATIONS_UPDATED"
    return result


def token(server: KindlingServer, client_id: str, secret: str, audience: str) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "audience": audience,
            },
        )


def new_role(client: ManagementClient, name: str, description: str | None = None) -> str:
    created = client.roles_api.create_role(
        create_role_request=CreateRoleRequest(
            name=name, key=f"sdk-{uid()}", description=description
        )
    )
    assert isinstance(created, CreateRolesResponse) and created.role is not None
    assert created.role.id
    return str(created.role.id)


def insert_connection(store: Storage, name: str) -> str:
    """Connections cannot be created through this API: write the row through storage."""
    connection_id = "conn_" + hex_id()
    with store.engine.session(write=True) as session:
        session.execute(
            "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (connection_id, name, "SDK connection", "oauth2:github", "{}", isoformat(0)),
        )
    return connection_id


def access_roles(client: ManagementClient, app_id: str, **params: Any) -> tuple[list[str], bool]:
    listed = client.applications_api.get_application_access_roles(app_id, **params)
    assert isinstance(listed, GetApplicationAccessRolesResponse), listed
    assert listed.code == "OK" and listed.roles is not None and listed.has_more is not None
    assert all(isinstance(r, ApplicationAccessRole) for r in listed.roles)
    return [str(r.id) for r in listed.roles], listed.has_more


# --- Applications -----------------------------------------------------------------------


def test_create_get_list_update_and_delete_an_application(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    api = client.applications_api
    name = f"sdk-app-{uid()}"
    app = new_app(client, name=name)
    spa = new_app(client, kind="spa")

    got = api.get_application(app.id)
    assert isinstance(got, GetApplicationResponse) and got.code == "OK"
    detail = got.application
    assert detail is not None
    assert (detail.id, detail.name, detail.type, detail.client_id) == (app.id, name, "m2m", app.id)
    assert detail.client_secret is None, "the secret is shown only at creation"
    assert all(getattr(detail, key) is False for key in BOOL_SETTINGS)
    assert detail.login_uri is None and detail.homepage_uri is None
    spa_detail = api.get_application(spa.id)
    assert isinstance(spa_detail, GetApplicationResponse) and spa_detail.application is not None
    assert spa_detail.application.type == "spa"

    # Every application, by name, across pages of 7; no duplicates, order held.
    names: list[str] = []
    ids: list[str] = []
    next_token: str | None = None
    while True:
        page = api.get_applications(sort="name_asc", page_size=7, next_token=next_token)
        assert isinstance(page, GetApplicationsResponse) and page.code == "OK"
        assert page.applications is not None and len(page.applications) <= 7
        assert all(isinstance(a, Applications) for a in page.applications)
        names += [str(a.name) for a in page.applications]
        ids += [str(a.id) for a in page.applications]
        if not page.next_token:
            break
        next_token = page.next_token
    assert names == sorted(names) and len(ids) == len(set(ids))
    assert {app.id, spa.id} <= set(ids)
    first = api.get_applications(page_size=1)
    assert isinstance(first, GetApplicationsResponse) and first.next_token
    assert first.applications is not None and len(first.applications) == 1
    second = api.get_applications(page_size=1, next_token=first.next_token)
    assert isinstance(second, GetApplicationsResponse) and second.applications is not None
    assert second.applications[0].id != first.applications[0].id
    descending = api.get_applications(sort="name_desc", page_size=500)
    assert isinstance(descending, GetApplicationsResponse) and descending.applications
    assert [a.name for a in descending.applications] == sorted(
        (str(a.name) for a in descending.applications), reverse=True
    )
    with pytest.raises(BadRequestException) as invalid_sort:
        api.get_applications(sort="created_on_asc")
    bad_request(invalid_sort, "INVALID_SORT")

    # PATCH /applications/{id}: the spec's 200 has no body, so the SDK returns None.
    updated = api.update_application_with_http_info(
        app.id,
        UpdateApplicationRequest(
            name=name + "-v2",
            login_uri="https://sdk.example.com/login",
            homepage_uri="https://sdk.example.com",
            is_ask_for_name=True,
            use_gravatar_fallback=True,
            redirect_uris=["https://sdk.example.com/callback"],
            logout_uris=["https://sdk.example.com/bye"],
        ),
    )
    assert updated.status_code == 200 and updated.data is None
    got = api.get_application(app.id)
    assert isinstance(got, GetApplicationResponse) and got.application is not None
    detail = got.application
    assert detail.name == name + "-v2"
    assert detail.login_uri == "https://sdk.example.com/login"
    assert detail.homepage_uri == "https://sdk.example.com"
    assert detail.is_ask_for_name is True and detail.use_gravatar_fallback is True
    assert detail.has_cancel_button is False
    redirect = client.callbacks_api.get_callback_urls(app.id)
    assert isinstance(redirect, RedirectCallbackUrls)
    assert redirect.redirect_urls == ["https://sdk.example.com/callback"]
    logout = client.callbacks_api.get_logout_urls(app.id)
    assert isinstance(logout, LogoutRedirectUrls)
    assert logout.logout_urls == ["https://sdk.example.com/bye"]

    # The app works until it is deleted; then its credentials are refused.
    api_id, audience = new_api(client)
    authorize(client, api_id, app.id)
    assert token(tls_server, app.id, app.client_secret, audience).status_code == 200
    deleted = api.delete_application(app.id)
    ok(deleted, "APPLICATION_DELETED")
    refused = token(tls_server, app.id, app.client_secret, audience)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    with pytest.raises(BadRequestException) as gone:
        api.get_application(app.id)
    bad_request(gone, "APPLICATION_NOT_FOUND")
    with pytest.raises(BadRequestException) as again:
        api.delete_application(app.id)
    bad_request(again, "APPLICATION_NOT_FOUND")
    listed = api.get_applications(sort="name_asc", page_size=500)
    assert isinstance(listed, GetApplicationsResponse)
    assert app.id not in {a.id for a in listed.applications or []}


def test_update_application_tokens_sets_the_next_tokens_lifetime(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    app = new_app(client)
    api_id, audience = new_api(client)
    authorize(client, api_id, app.id)
    before = token(tls_server, app.id, app.client_secret, audience)
    assert before.status_code == 200 and before.json()["expires_in"] == 86400

    result = client.applications_api.update_application_tokens(
        app.id, UpdateApplicationTokensRequest(access_token_lifetime=900)
    )
    ok(result, "APPLICATION_TOKENS_UPDATED")
    after = token(tls_server, app.id, app.client_secret, audience)
    assert after.status_code == 200, after.text
    body = after.json()
    assert body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900

    # Other lifetimes leave the access token's alone; out of range is refused.
    ok(
        client.applications_api.update_application_tokens(
            app.id,
            UpdateApplicationTokensRequest(id_token_lifetime=3600, is_hasura_mapping_enabled=True),
        ),
        "APPLICATION_TOKENS_UPDATED",
    )
    assert token(tls_server, app.id, app.client_secret, audience).json()["expires_in"] == 900
    with pytest.raises(BadRequestException) as too_short:
        client.applications_api.update_application_tokens(
            app.id, UpdateApplicationTokensRequest(access_token_lifetime=59)
        )
    bad_request(too_short, "INVALID_ACCESS_TOKEN_LIFETIME")
    assert token(tls_server, app.id, app.client_secret, audience).json()["expires_in"] == 900
    with pytest.raises(BadRequestException) as unknown:
        client.applications_api.update_application_tokens(
            hex_id(), UpdateApplicationTokensRequest(access_token_lifetime=900)
        )
    bad_request(unknown, "APPLICATION_NOT_FOUND")


def test_application_access_roles_add_list_remove(client: ManagementClient) -> None:
    api = client.applications_api
    app = new_app(client, kind="reg")
    roles = [new_role(client, f"SDK access {i}") for i in range(3)]
    assert access_roles(client, app.id) == ([], False)
    for role_id in roles:
        ok(api.add_application_access_role(app.id, role_id), "ROLE_ADDED")
    # Adding twice is harmless.
    ok(api.add_application_access_role(app.id, roles[0]), "ROLE_ADDED")

    listed = api.get_application_access_roles(app.id)
    assert isinstance(listed, GetApplicationAccessRolesResponse) and listed.roles is not None
    assert [r.id for r in listed.roles] == roles and listed.has_more is False
    first = listed.roles[0]
    assert first.key and first.key.startswith("sdk-") and first.name == "SDK access 0"
    assert access_roles(client, app.id, page_size=2) == (roles[:2], True)
    assert access_roles(client, app.id, page_size=3) == (roles, False)

    ok(api.remove_application_access_role(app.id, roles[1]), "ROLE_REMOVED")
    assert access_roles(client, app.id) == ([roles[0], roles[2]], False)
    with pytest.raises(BadRequestException) as not_granted:
        api.remove_application_access_role(app.id, roles[1])
    bad_request(not_granted, "ROLE_NOT_FOUND")
    with pytest.raises(BadRequestException) as unknown_role:
        api.add_application_access_role(app.id, str(uuid.uuid4()))
    bad_request(unknown_role, "ROLE_NOT_FOUND")
    assert access_roles(client, app.id) == ([roles[0], roles[2]], False)
    with pytest.raises(BadRequestException) as unknown_app:
        api.get_application_access_roles(hex_id())
    bad_request(unknown_app, "APPLICATION_NOT_FOUND")


def test_application_access_roles_page_by_role_id(client: ManagementClient) -> None:
    """The spec's ``starting_after``/``ending_before`` are role ids ("The ID of the role to
    start after"): the response carries no cursor, so ids are all an SDK caller has."""
    app = new_app(client, kind="reg")
    roles = [new_role(client, f"SDK paged {i}") for i in range(3)]
    for role_id in roles:
        ok(client.applications_api.add_application_access_role(app.id, role_id), "ROLE_ADDED")
    assert access_roles(client, app.id, page_size=1) == (roles[:1], True)
    assert access_roles(client, app.id, page_size=1, starting_after=roles[0]) == (
        roles[1:2],
        True,
    )
    assert access_roles(client, app.id, page_size=5, starting_after=roles[1]) == (
        roles[2:],
        False,
    )
    assert access_roles(client, app.id, page_size=1, ending_before=roles[2]) == (
        roles[1:2],
        True,
    )


def test_application_access_roles_carry_the_role_description(client: ManagementClient) -> None:
    """The spec's ``application_access_role`` has ``description`` (null when the role has none)."""
    app = new_app(client, kind="reg")
    described = new_role(client, "SDK described", "Can reach the app")
    bare = new_role(client, "SDK bare")
    for role_id in (described, bare):
        ok(client.applications_api.add_application_access_role(app.id, role_id), "ROLE_ADDED")
    listed = client.applications_api.get_application_access_roles(app.id)
    assert isinstance(listed, GetApplicationAccessRolesResponse) and listed.roles is not None
    assert [(r.id, r.name, r.description) for r in listed.roles] == [
        (described, "SDK described", "Can reach the app"),
        (bare, "SDK bare", None),
    ]


def test_application_connections_enable_list_remove(
    client: ManagementClient, store: Storage
) -> None:
    api = client.applications_api
    app = new_app(client, kind="reg")
    connection_id = insert_connection(store, f"sdk-{uid()}")
    empty = api.get_application_connections(app.id)
    assert isinstance(empty, GetConnectionsResponse) and empty.connections == []

    # The spec's 200 has no body: the SDK returns None, the status says it worked.
    enabled = api.enable_connection_with_http_info(app.id, connection_id)
    assert enabled.status_code == 200 and enabled.data is None
    again = api.enable_connection_with_http_info(app.id, connection_id)
    assert again.status_code == 200
    listed = api.get_application_connections(app.id)
    assert isinstance(listed, GetConnectionsResponse) and listed.code == "OK"
    assert listed.has_more is False and listed.connections is not None
    assert len(listed.connections) == 1 and isinstance(listed.connections[0], Connection)

    ok(api.remove_connection(app.id, connection_id), "CONNECTION_REMOVED")
    after = api.get_application_connections(app.id)
    assert isinstance(after, GetConnectionsResponse) and after.connections == []
    with pytest.raises(BadRequestException) as not_enabled:
        api.remove_connection(app.id, connection_id)
    bad_request(not_enabled, "CONNECTION_NOT_FOUND")
    with pytest.raises(BadRequestException) as unknown:
        api.enable_connection(app.id, "conn_" + "0" * 32)
    bad_request(unknown, "CONNECTION_NOT_FOUND")


def test_application_connections_list_what_each_connection_is(
    client: ManagementClient, store: Storage
) -> None:
    """The spec's ``connections[]`` items are ``connection`` objects whose fields sit under a
    nested ``connection`` (as ``GET /organizations/{code}/connections`` already answers);
    the SDK reads only that nested object."""
    app = new_app(client, kind="reg")
    name = f"sdk-{uid()}"
    connection_id = insert_connection(store, name)
    enabled = client.applications_api.enable_connection_with_http_info(app.id, connection_id)
    assert enabled.status_code == 200
    listed = client.applications_api.get_application_connections(app.id)
    assert isinstance(listed, GetConnectionsResponse) and listed.connections is not None
    item = listed.connections[0]
    assert isinstance(item, Connection)
    assert item.connection is not None, "the SDK sees no connection fields"
    assert (item.connection.id, item.connection.name) == (connection_id, name)
    assert item.connection.display_name == "SDK connection"
    assert item.connection.strategy == "oauth2:github"


def test_application_property_values(client: ManagementClient) -> None:
    category = client.property_categories_api.create_category(
        CreateCategoryRequest(name=f"SDK apps {uid()}", context="app")
    )
    assert isinstance(category, CreateCategoryResponse) and category.category is not None
    keys = []
    for kind in ("text", "flag"):
        key = f"sdk_{kind}_{uid()}"
        created = client.properties_api.create_property(
            CreatePropertyRequest(
                name=f"SDK {kind}",
                key=key,
                type="single_line_text",
                context="app",
                is_private=False,
                category_id=str(category.category.id),
            )
        )
        assert isinstance(created, CreatePropertyResponse) and created.code == "PROPERTY_CREATED"
        keys.append(key)
    app = new_app(client)

    def values() -> dict[str, PropertyValue]:
        got = client.applications_api.get_application_property_values(app.id)
        assert isinstance(got, GetPropertyValuesResponse) and got.code == "OK"
        assert got.properties is not None
        assert all(isinstance(v, PropertyValue) for v in got.properties)
        return {str(v.key): v for v in got.properties}

    assert all(values()[key].value is None for key in keys)
    ok(
        client.applications_api.update_applications_property(
            app.id,
            keys[0],
            UpdateApplicationsPropertyRequest(value=UpdateApplicationsPropertyRequestValue("red")),
        ),
        "PROPERTY_UPDATED",
    )
    ok(
        client.applications_api.update_applications_property(
            app.id,
            keys[1],
            UpdateApplicationsPropertyRequest(value=UpdateApplicationsPropertyRequestValue(True)),
        ),
        "PROPERTY_UPDATED",
    )
    now = values()
    assert (now[keys[0]].value, now[keys[1]].value) == ("red", "true")
    assert now[keys[0]].name == "SDK text"
    with pytest.raises(BadRequestException) as unknown:
        client.applications_api.update_applications_property(
            app.id,
            f"sdk_missing_{uid()}",
            UpdateApplicationsPropertyRequest(value=UpdateApplicationsPropertyRequestValue("x")),
        )
    assert unknown.value.status == 400


# --- Callbacks --------------------------------------------------------------------------


def test_callback_and_logout_urls_every_operation(client: ManagementClient) -> None:
    api = client.callbacks_api
    app = new_app(client, kind="reg")

    assert api.get_callback_urls(app.id) == RedirectCallbackUrls(redirect_urls=[])
    added = api.add_redirect_callback_urls(
        app.id,
        ReplaceRedirectCallbackURLsRequest(urls=["https://a.example/cb", "myapp://callback"]),
    )
    ok(added, "URLS_ADDED")
    ok(
        api.add_redirect_callback_urls(
            app.id, ReplaceRedirectCallbackURLsRequest(urls=["https://a.example/cb"])
        ),
        "URLS_ADDED",
    )
    got = api.get_callback_urls(app.id)
    assert isinstance(got, RedirectCallbackUrls)
    assert got.redirect_urls == ["https://a.example/cb", "myapp://callback"]
    ok(
        api.replace_redirect_callback_urls(
            app.id,
            ReplaceRedirectCallbackURLsRequest(
                urls=["https://b.example/cb", "https://c.example/cb", "https://d.example/cb"]
            ),
        ),
        "URLS_REPLACED",
    )
    # ``urls`` is one comma-separated query value.
    ok(
        api.delete_callback_urls(app.id, "https://b.example/cb,https://d.example/cb"),
        "URLS_DELETED",
    )
    got = api.get_callback_urls(app.id)
    assert isinstance(got, RedirectCallbackUrls) and got.redirect_urls == ["https://c.example/cb"]
    with pytest.raises(BadRequestException) as invalid:
        api.add_redirect_callback_urls(
            app.id, ReplaceRedirectCallbackURLsRequest(urls=["not a url"])
        )
    bad_request(invalid, "INVALID_URL")
    with pytest.raises(BadRequestException) as missing:
        api.delete_callback_urls(app.id, "https://never.example/cb")
    assert missing.value.status == 400
    assert api.get_callback_urls(app.id) == RedirectCallbackUrls(
        redirect_urls=["https://c.example/cb"]
    )

    empty = api.get_logout_urls(app.id)
    assert isinstance(empty, LogoutRedirectUrls) and empty.logout_urls == []
    assert empty.code == "OK"
    ok(
        api.add_logout_redirect_urls(
            app.id, ReplaceLogoutRedirectURLsRequest(urls=["https://a.example/bye"])
        ),
        "URLS_ADDED",
    )
    ok(
        api.add_logout_redirect_urls(
            app.id, ReplaceLogoutRedirectURLsRequest(urls=["https://b.example/bye"])
        ),
        "URLS_ADDED",
    )
    got_logout = api.get_logout_urls(app.id)
    assert isinstance(got_logout, LogoutRedirectUrls)
    assert got_logout.logout_urls == ["https://a.example/bye", "https://b.example/bye"]
    ok(
        api.replace_logout_redirect_urls(
            app.id,
            ReplaceLogoutRedirectURLsRequest(urls=["https://x.example/bye", "https://y.example"]),
        ),
        "URLS_REPLACED",
    )
    ok(api.delete_logout_urls(app.id, "https://x.example/bye"), "URLS_DELETED")
    got_logout = api.get_logout_urls(app.id)
    assert isinstance(got_logout, LogoutRedirectUrls)
    assert got_logout.logout_urls == ["https://y.example"]
    # The two lists are independent.
    assert api.get_callback_urls(app.id) == RedirectCallbackUrls(
        redirect_urls=["https://c.example/cb"]
    )
    with pytest.raises(BadRequestException) as unknown_app:
        api.get_logout_urls(hex_id())
    bad_request(unknown_app, "APPLICATION_NOT_FOUND")


# --- APIs -------------------------------------------------------------------------------


def test_apis_every_operation_and_the_token_effects(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    api = client.apis_api
    api_id, audience = new_api(client)
    read_id = new_scope(client, api_id, "orders:read", "Read orders")
    write_id = new_scope(client, api_id, "orders:write", None)

    listed = api.get_apis(expand="scopes")
    assert isinstance(listed, GetApisResponse) and listed.code == "OK" and listed.apis
    assert all(isinstance(a, GetApisResponseApisInner) for a in listed.apis)
    management = next(a for a in listed.apis if a.is_management_api)
    assert management.audience == tls_server.audience and management.scopes
    assert "read:applications" in {s.key for s in management.scopes}
    plain = api.get_apis()
    assert isinstance(plain, GetApisResponse) and plain.apis
    assert all(a.scopes is None for a in plain.apis)
    with pytest.raises(BadRequestException) as bad_expand:
        api.get_apis(expand="applications")
    bad_request(bad_expand, "INVALID_EXPAND")

    scopes = api.get_api_scopes(api_id)
    assert isinstance(scopes, GetApiScopesResponse) and scopes.code == "OK"
    assert scopes.scopes is not None
    assert [(s.id, s.key, s.description) for s in scopes.scopes] == [
        (read_id, "orders:read", "Read orders"),
        (write_id, "orders:write", ""),
    ]
    one = api.get_api_scope(api_id, write_id)
    assert isinstance(one, GetApiScopeResponse) and one.scope is not None
    assert (one.scope.id, one.scope.key) == (write_id, "orders:write")
    # PATCH scope: the spec's 200 has no body.
    updated = api.update_api_scope_with_http_info(
        api_id, write_id, UpdateAPIScopeRequest(description="Write orders")
    )
    assert updated.status_code == 200 and updated.data is None
    one = api.get_api_scope(api_id, write_id)
    assert isinstance(one, GetApiScopeResponse) and one.scope is not None
    assert one.scope.description == "Write orders"
    with pytest.raises(BadRequestException) as duplicate:
        api.add_api_scope(api_id, AddAPIScopeRequest(key="orders:read"))
    assert duplicate.value.status == 400

    app = new_app(client)
    other = new_app(client)
    refused = token(tls_server, app.id, app.client_secret, audience)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    connected = authorize(client, api_id, app.id)
    assert connected.applications_connected == [app.id]
    assert connected.applications_disconnected == []
    detail = api.get_api(api_id)
    assert isinstance(detail, GetApiResponse) and detail.api is not None
    assert (detail.api.id, detail.api.audience, detail.api.is_management_api) == (
        api_id,
        audience,
        False,
    )
    assert [(s.id, s.key) for s in detail.api.scopes or []] == [
        (read_id, "orders:read"),
        (write_id, "orders:write"),
    ]
    assert [(a.id, a.type, a.is_active) for a in detail.api.applications or []] == [
        (app.id, "Machine to machine (M2M)", True)
    ]
    granted = token(tls_server, app.id, app.client_secret, audience)
    assert granted.status_code == 200 and granted.json()["scope"] == ""

    # Grant and revoke one scope (the spec's 200s have no body).
    added = api.add_api_application_scope_with_http_info(api_id, app.id, read_id)
    assert added.status_code == 200 and added.data is None
    added = api.add_api_application_scope_with_http_info(api_id, app.id, write_id)
    assert added.status_code == 200
    body = token(tls_server, app.id, app.client_secret, audience).json()
    assert body["scope"] == "orders:read orders:write"
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["scp"] == [
        "orders:read",
        "orders:write",
    ]
    removed = api.delete_api_application_scope_with_http_info(api_id, app.id, read_id)
    assert removed.status_code == 200 and removed.data is None
    assert token(tls_server, app.id, app.client_secret, audience).json()["scope"] == (
        "orders:write"
    )
    with pytest.raises(BadRequestException) as not_authorized:
        api.add_api_application_scope(api_id, other.id, read_id)
    bad_request(not_authorized, "APPLICATION_NOT_AUTHORIZED")

    # Deleting a scope takes it out of the next token.
    deleted_scope = api.delete_api_scope_with_http_info(api_id, write_id)
    assert deleted_scope.status_code == 200 and deleted_scope.data is None
    assert token(tls_server, app.id, app.client_secret, audience).json()["scope"] == ""
    with pytest.raises(BadRequestException) as gone_scope:
        api.get_api_scope(api_id, write_id)
    bad_request(gone_scope, "SCOPE_NOT_FOUND")

    # Connect another app, disconnect the first in one request.
    both = api.update_api_applications(
        api_id,
        UpdateAPIApplicationsRequest(
            applications=[
                UpdateAPIApplicationsRequestApplicationsInner(id=other.id),
                UpdateAPIApplicationsRequestApplicationsInner(id=app.id, operation="delete"),
            ]
        ),
    )
    assert isinstance(both, AuthorizeAppApiResponse)
    assert both.applications_connected == [other.id]
    assert both.applications_disconnected == [app.id]
    refused = token(tls_server, app.id, app.client_secret, audience)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert token(tls_server, other.id, other.client_secret, audience).status_code == 200
    with pytest.raises(BadRequestException) as unknown_app:
        authorize(client, api_id, hex_id())
    bad_request(unknown_app, "APPLICATION_NOT_FOUND")

    deleted = api.delete_api(api_id)
    assert isinstance(deleted, DeleteApiResponse) and deleted.code == "API_DELETED"
    refused = token(tls_server, other.id, other.client_secret, audience)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    with pytest.raises(BadRequestException) as gone:
        api.get_api(api_id)
    bad_request(gone, "API_NOT_FOUND")
    with pytest.raises(BadRequestException) as management_api:
        api.delete_api(str(management.id))
    bad_request(management_api, "MANAGEMENT_API_NOT_DELETABLE")


# --- API keys ---------------------------------------------------------------------------


def all_api_keys(client: ManagementClient, **filters: Any) -> list[GetApiKeysResponseApiKeysInner]:
    found: list[GetApiKeysResponseApiKeysInner] = []
    after: str | None = None
    while True:
        page = client.api_keys_api.get_api_keys(page_size=3, starting_after=after, **filters)
        assert isinstance(page, GetApiKeysResponse) and page.code == "OK"
        assert page.api_keys is not None and len(page.api_keys) <= 3
        assert all(isinstance(k, GetApiKeysResponseApiKeysInner) for k in page.api_keys)
        found += page.api_keys
        if not page.has_more:
            return found
        after = page.api_keys[-1].id


def verify(client: ManagementClient, key: str) -> VerifyApiKeyResponse:
    result = client.api_keys_api.verify_api_key(VerifyApiKeyRequest(api_key=key))
    assert isinstance(result, VerifyApiKeyResponse), result
    return result


def test_api_keys_every_operation(client: ManagementClient, tls_server: KindlingServer) -> None:
    api = client.api_keys_api
    api_id, _ = new_api(client)
    read_id = new_scope(client, api_id, "things:read", None)
    new_scope(client, api_id, "things:write", None)
    name = f"SDK key {uid()}"

    created = api.create_api_key(
        CreateApiKeyRequest(name=name, type="environment", api_id=api_id, scope_ids=[read_id])
    )
    assert isinstance(created, CreateApiKeyResponse) and created.code == "API_KEY_CREATED"
    assert created.api_key is not None and created.api_key.id and created.api_key.key
    key_id, key = created.api_key.id, created.api_key.key
    assert key.startswith("kinde_") and len(key) == 49

    got = api.get_api_key(key_id)
    assert isinstance(got, GetApiKeyResponse) and got.code == "OK" and got.api_key is not None
    detail = got.api_key
    assert (detail.id, detail.name, detail.type, detail.status) == (
        key_id,
        name,
        "environment",
        "active",
    )
    assert (detail.key_prefix, detail.key_suffix) == ("kinde_", key[-4:])
    assert detail.api_ids == [api_id] and detail.scopes == ["things:read"]
    assert detail.verification_count == 0 and detail.last_verified_on is None
    assert detail.created_by == tls_server.client_id
    assert isinstance(detail.created_on, datetime) and detail.created_on.tzinfo is not None

    # verify_api_key is public; the SDK sends its bearer token anyway.
    for count in (1, 2):
        checked = verify(client, key)
        assert checked.is_valid is True and checked.code == "API_KEY_VERIFIED"
        assert checked.key_id == key_id and checked.status == "active"
        assert checked.scopes == ["things:read"] and checked.verification_count == count
        assert isinstance(checked.last_verified_on, datetime)
        assert checked.last_verified_on.tzinfo is not None
    got = api.get_api_key(key_id)
    assert isinstance(got, GetApiKeyResponse) and got.api_key is not None
    assert got.api_key.verification_count == 2 and got.api_key.last_verified_on is not None
    assert got.api_key.last_verified_ip
    unknown = verify(client, "kinde_" + "x" * 43)
    assert unknown.is_valid is False and unknown.scopes is None

    second = api.create_api_key(
        CreateApiKeyRequest(name=name + " b", type="environment", api_id=api_id)
    )
    assert isinstance(second, CreateApiKeyResponse) and second.api_key is not None
    listed = all_api_keys(client)
    ids = [k.id for k in listed]
    assert len(ids) == len(set(ids)) and ids.index(key_id) < ids.index(second.api_key.id)
    mine = next(k for k in listed if k.id == key_id)
    assert (mine.name, mine.status, mine.key_suffix) == (name, "active", key[-4:])
    assert isinstance(mine.created_on, datetime) and isinstance(mine.last_verified_on, datetime)
    first = api.get_api_keys(page_size=1)
    assert isinstance(first, GetApiKeysResponse) and first.has_more is True and first.api_keys
    with pytest.raises(BadRequestException) as bad_status:
        api.get_api_keys(status="lost")
    bad_request(bad_status, "INVALID_STATUS")

    rotated = api.rotate_api_key(key_id)
    assert isinstance(rotated, RotateApiKeyResponse) and rotated.code == "API_KEY_ROTATED"
    assert rotated.api_key is not None and rotated.api_key.id == key_id
    new_key = rotated.api_key.key
    assert new_key and new_key != key and new_key.startswith("kinde_")
    assert verify(client, key).is_valid is False
    assert verify(client, new_key).is_valid is True
    got = api.get_api_key(key_id)
    assert isinstance(got, GetApiKeyResponse) and got.api_key is not None
    assert got.api_key.key_suffix == new_key[-4:]

    ok(api.delete_api_key(key_id), "API_KEY_DELETED")
    got = api.get_api_key(key_id)
    assert isinstance(got, GetApiKeyResponse) and got.api_key is not None
    assert got.api_key.status == "revoked"
    revoked = verify(client, new_key)
    assert revoked.is_valid is False and revoked.status == "revoked"
    assert key_id in {k.id for k in all_api_keys(client, status="revoked")}
    assert key_id not in {k.id for k in all_api_keys(client, status="active")}
    with pytest.raises(BadRequestException) as rotate_revoked:
        api.rotate_api_key(key_id)
    bad_request(rotate_revoked, "API_KEY_REVOKED")
    with pytest.raises(NotFoundException):
        api.get_api_key("api_key_" + hex_id())
    with pytest.raises(NotFoundException):
        api.delete_api_key("api_key_" + hex_id())
    with pytest.raises(BadRequestException) as no_api:
        api.create_api_key(CreateApiKeyRequest(name=name, type="environment", api_id=hex_id()))
    bad_request(no_api, "API_NOT_FOUND")
