"""The official Kinde Python SDK (``kinde-python-sdk``) against ``kindling serve --tls``.

The SDK hard-codes ``https://{domain}``; the only thing changed is the domain, and
the local CA is trusted through the two variables the banner prints:
``REQUESTS_CA_BUNDLE`` (token request, via ``requests``) and ``SSL_CERT_FILE``
(API calls, via ``urllib3``). Both are set before the client is constructed.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import ApiException, BadRequestException
from kinde_sdk.management.models import (
    Applications,
    CreateUserRequest,
    CreateUserRequestIdentitiesInner,
    CreateUserRequestIdentitiesInnerDetails,
    CreateUserRequestProfile,
    CreateUserResponse,
    ErrorResponse,
    GetApplicationsResponse,
    SuccessResponse,
    UpdateUserRequest,
    UpdateUserResponse,
    User,
    UsersResponse,
    UsersResponseUsersInner,
)

from tests.support import KindlingServer


def _unique_email() -> str:
    return f"sdk-{uuid.uuid4().hex}@example.com"


def _create_user(client: ManagementClient, email: str, given: str, family: str) -> Any:
    request = CreateUserRequest(
        profile=CreateUserRequestProfile(given_name=given, family_name=family),
        identities=[
            CreateUserRequestIdentitiesInner(
                type="email",
                is_verified=True,
                details=CreateUserRequestIdentitiesInnerDetails(email=email),
            )
        ],
    )
    return client.users_api.create_user(create_user_request=request)


def test_client_talks_https_to_the_given_domain(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    assert client.base_url == f"https://{tls_server.domain}"
    assert client.configuration.host == f"https://{tls_server.domain}"
    assert client.token_manager.token_url == f"https://{tls_server.domain}/oauth2/token"


def test_get_users_returns_typed_listing(client: ManagementClient) -> None:
    email = _unique_email()
    created = _create_user(client, email, "List", "Me")

    listing = client.users_api.get_users(email=email)
    assert isinstance(listing, UsersResponse)
    assert listing.users is not None
    assert len(listing.users) == 1
    item = listing.users[0]
    assert isinstance(item, UsersResponseUsersInner)
    assert item.id == created.id
    assert item.email == email
    assert item.first_name == "List"
    assert item.last_name == "Me"

    unfiltered = client.users_api.get_users(page_size=100)
    assert isinstance(unfiltered, UsersResponse)
    assert unfiltered.users is not None
    assert all(u.id and u.id.startswith("kp_") for u in unfiltered.users)


def test_user_lifecycle_through_the_sdk(client: ManagementClient) -> None:
    email = _unique_email()
    given, family = f"Ada-{uuid.uuid4().hex[:6]}", "Lovelace"

    created = _create_user(client, email, given, family)
    assert isinstance(created, CreateUserResponse)
    assert created.created is True
    assert created.id is not None and created.id.startswith("kp_")
    assert created.identities is not None and len(created.identities) == 1
    assert created.identities[0].type == "email"
    assert created.identities[0].result is not None
    assert created.identities[0].result.created is True
    user_id = created.id

    fetched = client.users_api.get_user_data(id=user_id)
    assert isinstance(fetched, User)
    assert fetched.id == user_id
    assert fetched.preferred_email == email
    assert fetched.first_name == given
    assert fetched.last_name == family
    assert fetched.is_suspended is False

    new_given = f"Grace-{uuid.uuid4().hex[:6]}"
    updated = client.users_api.update_user(
        id=user_id, update_user_request=UpdateUserRequest(given_name=new_given)
    )
    assert isinstance(updated, UpdateUserResponse)
    assert updated.id == user_id
    assert updated.given_name == new_given
    assert updated.family_name == family  # untouched field kept
    assert updated.email == email

    refetched = client.users_api.get_user_data(id=user_id)
    assert isinstance(refetched, User)
    assert refetched.first_name == new_given
    assert refetched.last_name == family

    deleted = client.users_api.delete_user(id=user_id)
    assert isinstance(deleted, SuccessResponse)
    assert deleted.code == "USER_DELETED"
    assert deleted.message

    with pytest.raises(ApiException) as gone:
        client.users_api.get_user_data(id=user_id)
    # getUserData declares no 404 in Kinde's contract, so Kindling answers 400
    # USER_NOT_FOUND as an error_response, which the SDK parses.
    assert isinstance(gone.value, BadRequestException)
    assert gone.value.status == 400
    assert isinstance(gone.value.data, ErrorResponse)
    assert gone.value.data.errors is not None
    assert [e.code for e in gone.value.data.errors] == ["USER_NOT_FOUND"]

    with pytest.raises(BadRequestException) as again:
        client.users_api.delete_user(id=user_id)
    assert again.value.status == 400

    after = client.users_api.get_users(email=email)
    assert isinstance(after, UsersResponse)
    assert not after.users


def test_deprecated_shortcut_methods(client: ManagementClient) -> None:
    """The client's backwards-compatible shortcuts delegate to the same operations."""
    email = _unique_email()
    request = CreateUserRequest(
        profile=CreateUserRequestProfile(given_name="Short", family_name="Cut"),
        identities=[
            CreateUserRequestIdentitiesInner(
                type="email", details=CreateUserRequestIdentitiesInnerDetails(email=email)
            )
        ],
    )
    with pytest.warns(DeprecationWarning):
        created = client.create_user(create_user_request=request)
    assert isinstance(created, CreateUserResponse)
    assert created.created is True
    assert created.id is not None and created.id.startswith("kp_")

    with pytest.warns(DeprecationWarning):
        users = client.get_users(email=email)
    assert isinstance(users, UsersResponse)
    assert users.users is not None and [u.id for u in users.users] == [created.id]

    with pytest.warns(DeprecationWarning):
        fetched = client.get_user_data(created.id)
    assert isinstance(fetched, User) and fetched.preferred_email == email

    with pytest.warns(DeprecationWarning):
        updated = client.update_user(created.id, UpdateUserRequest(given_name="Long"))
    assert isinstance(updated, UpdateUserResponse) and updated.given_name == "Long"

    with pytest.warns(DeprecationWarning):
        apps = client.get_api_applications()
    assert isinstance(apps, GetApplicationsResponse)

    with pytest.warns(DeprecationWarning):
        deleted = client.delete_user(created.id)
    assert isinstance(deleted, SuccessResponse)

    with pytest.raises(BadRequestException) as gone:
        client.users_api.get_user_data(id=created.id)
    assert gone.value.status == 400


def test_get_applications_lists_the_bootstrap_app(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    apps: list[Applications] = []
    next_token = None
    for _ in range(50):  # other tests share this server; walk every page
        result = client.applications_api.get_applications(page_size=2, next_token=next_token)
        assert isinstance(result, GetApplicationsResponse)
        assert result.code == "OK"
        assert result.applications is not None
        assert all(isinstance(a, Applications) for a in result.applications)
        apps += result.applications
        next_token = result.next_token
        if not next_token:
            break
    by_id = {a.id: a for a in apps}
    assert len(by_id) == len(apps)  # no app listed twice across pages
    assert tls_server.client_id in by_id
    bootstrap = by_id[tls_server.client_id]
    assert bootstrap.type == "m2m"
    assert bootstrap.name


def test_wrong_client_secret_makes_the_token_request_fail(
    tls_server: KindlingServer, trust_ca: str
) -> None:
    bad = ManagementClient(
        domain=tls_server.domain,
        client_id=tls_server.client_id,
        client_secret="not-the-secret-" + uuid.uuid4().hex,
    )
    with pytest.raises(Exception, match="Token request failed") as failure:
        bad.users_api.get_users()
    # The SDK wraps requests' HTTPError; Kindling answers invalid_client with 401.
    assert "401" in str(failure.value)
    assert not bad.token_manager.tokens


def test_unknown_client_id_makes_the_token_request_fail(
    tls_server: KindlingServer, trust_ca: str
) -> None:
    bad = ManagementClient(
        domain=tls_server.domain,
        client_id=uuid.uuid4().hex,
        client_secret=tls_server.client_secret,
    )
    with pytest.raises(Exception, match="Token request failed") as failure:
        bad.applications_api.get_applications()
    assert "401" in str(failure.value)


def test_one_token_is_reused_for_several_calls(client: ManagementClient) -> None:
    manager = client.token_manager
    assert not manager.tokens

    fetches: list[str] = []
    original = manager.request_new_token

    def counting() -> str:
        token = str(original())
        fetches.append(token)
        return token

    manager.request_new_token = counting

    first = client.users_api.get_users(page_size=1)
    assert isinstance(first, UsersResponse)
    token = manager.tokens.get("access_token")
    assert isinstance(token, str) and token.count(".") == 2  # a compact JWS
    assert manager.tokens["token_type"] == "Bearer"
    # expires_in was a number well above the SDK's 60 s refresh margin.
    assert manager.tokens["expires_at"] > time.time() + 300

    second = client.applications_api.get_applications()
    assert isinstance(second, GetApplicationsResponse)
    assert manager.tokens.get("access_token") == token
    assert fetches == [token]


def test_reference_lists_through_the_sdk(client: ManagementClient) -> None:
    """Timezones and industries, typed by the official SDK's own models."""
    zones = client.timezones_api.get_timezones().timezones
    assert zones and len({zone.key for zone in zones}) == len(zones)
    london = next(zone for zone in zones if zone.key == "europe_london")
    assert london.name.startswith("Europe/London (")
    industries = client.industries_api.get_industries().industries
    assert "administration_office_support" in {industry.key for industry in industries}
