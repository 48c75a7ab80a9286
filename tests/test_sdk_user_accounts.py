"""The official Kinde Python SDK calls every identities, sessions, MFA, password, claims,
search and invite operation over TLS and gets typed results (the SDK returns None
when the status differs from the spec's and raises on a type mismatch)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kinde_sdk.management import ManagementClient
from kinde_sdk.management.models import (
    CreateIdentityResponse,
    CreateOrganizationInviteRequest,
    CreateOrganizationInviteResponse,
    CreateUserIdentityRequest,
    CreateUserRequest,
    CreateUserRequestIdentitiesInner,
    CreateUserRequestIdentitiesInnerDetails,
    CreateUserRequestProfile,
    GetIdentitiesResponse,
    GetOrganizationInviteResponse,
    GetOrganizationInvitesResponse,
    GetUserMfaResponse,
    GetUserSessionsResponse,
    Identity,
    SearchUsersResponse,
    SetUserPasswordRequest,
    SuccessResponse,
    UpdateIdentityRequest,
    User,
    UsersResponse,
)

from tests.support import KindlingServer
from tests.test_user_accounts import BCRYPT, db, uid, unique_email


def _create_user(client: ManagementClient, email: str, org_code: str | None = None) -> str:
    request = CreateUserRequest(
        profile=CreateUserRequestProfile(given_name=f"Sdk{uid()}", family_name="Tester"),
        organization_code=org_code,
        identities=[
            CreateUserRequestIdentitiesInner(
                type="email", details=CreateUserRequestIdentitiesInnerDetails(email=email)
            )
        ],
    )
    created = client.users_api.create_user(create_user_request=request)
    assert created is not None and created.id
    return str(created.id)


def _post(server: KindlingServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    token = server.token()
    with server.client() as http:
        resp = http.post(f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code in (200, 201), resp.text
    data: dict[str, Any] = resp.json()
    return data


def test_identities_through_the_sdk(client: ManagementClient) -> None:
    email = unique_email("sdk-ident")
    user_id = _create_user(client, email)
    users = client.users_api
    listed = users.get_user_identities(user_id=user_id)
    assert isinstance(listed, GetIdentitiesResponse)
    assert listed.has_more is False and listed.identities is not None
    (first,) = listed.identities
    assert isinstance(first, Identity) and first.name == email and first.is_primary is True

    second = unique_email("sdk-second")
    created = users.create_user_identity(
        user_id=user_id,
        create_user_identity_request=CreateUserIdentityRequest(type="email", value=second),
    )
    assert isinstance(created, CreateIdentityResponse)
    assert created.identity is not None and created.identity.id
    new_id = created.identity.id

    got = client.identities_api.get_identity(identity_id=new_id)
    assert isinstance(got, Identity)
    assert got.id == new_id and got.name == second and got.is_primary is False
    assert got.total_logins == 0 and got.is_confirmed is False

    updated = client.identities_api.update_identity(
        identity_id=new_id, update_identity_request=UpdateIdentityRequest(is_primary=True)
    )
    assert isinstance(updated, SuccessResponse) and updated.code == "OK"
    user = users.get_user_data(id=user_id)
    assert isinstance(user, User) and user.preferred_email == second

    after = users.get_user_identities(user_id=user_id, starting_after=first.id)
    assert isinstance(after, GetIdentitiesResponse) and after.identities is not None
    assert [i.id for i in after.identities] == [new_id]
    before = users.get_user_identities(user_id=user_id, ending_before=new_id)
    assert isinstance(before, GetIdentitiesResponse) and before.identities is not None
    assert [i.id for i in before.identities] == [first.id]

    deleted = client.identities_api.delete_identity(identity_id=new_id)
    assert isinstance(deleted, SuccessResponse)
    user = users.get_user_data(id=user_id)
    assert isinstance(user, User) and user.preferred_email == email


def test_sessions_mfa_password_claims_through_the_sdk(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    user_id = _create_user(client, unique_email("sdk-acct"))
    users = client.users_api
    db(
        tls_server,
        "INSERT INTO user_sessions (id, user_id, client_id, user_agent, ip_address, created_on, "
        "expires_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            "session_" + uuid.uuid4().hex,
            user_id,
            "client_sdk",
            "sdk-agent",
            "198.51.100.7",
            "2024-05-01T10:00:00+00:00",
            "2024-05-08T10:00:00+00:00",
        ),
    )
    sessions = users.get_user_sessions(user_id=user_id)
    assert isinstance(sessions, GetUserSessionsResponse)
    assert sessions.has_more is False and sessions.sessions is not None
    (session,) = sessions.sessions
    assert session.user_id == user_id and session.client_id == "client_sdk"
    assert isinstance(session.started_on, datetime) and isinstance(session.expires_on, datetime)
    assert session.org_code is None
    assert isinstance(users.delete_user_sessions(user_id=user_id), SuccessResponse)
    empty = users.get_user_sessions(user_id=user_id)
    assert isinstance(empty, GetUserSessionsResponse) and empty.sessions == []

    factors = []
    for _ in range(2):
        factor_id = "mfa_" + uuid.uuid4().hex
        factors.append(factor_id)
        db(
            tls_server,
            "INSERT INTO user_mfa_factors (id, user_id, type, name, created_on) "
            "VALUES (?, ?, ?, ?, ?)",
            (factor_id, user_id, "authenticator_app", "Phone", "2024-05-01T10:00:00+00:00"),
        )
    mfa = users.get_users_mfa(user_id=user_id)
    assert isinstance(mfa, GetUserMfaResponse) and mfa.mfa is not None
    assert mfa.mfa.id == factors[0] and mfa.mfa.type == "authenticator_app"
    assert isinstance(mfa.mfa.created_on, datetime)
    reset_one = users.reset_users_mfa(user_id=user_id, factor_id=factors[0])
    assert isinstance(reset_one, SuccessResponse)
    mfa = users.get_users_mfa(user_id=user_id)
    assert isinstance(mfa, GetUserMfaResponse) and mfa.mfa is not None
    assert mfa.mfa.id == factors[1]
    assert isinstance(users.reset_users_mfa_all(user_id=user_id), SuccessResponse)
    mfa = users.get_users_mfa(user_id=user_id)
    assert isinstance(mfa, GetUserMfaResponse) and mfa.mfa is None

    password = users.set_user_password(
        user_id=user_id,
        set_user_password_request=SetUserPasswordRequest(
            hashed_password=BCRYPT, hashing_method="bcrypt", is_temporary_password=True
        ),
    )
    assert isinstance(password, SuccessResponse)
    rows = db(
        tls_server,
        "SELECT password_hash, is_temporary FROM user_passwords WHERE user_id = ?",
        (user_id,),
    )
    assert rows == [(BCRYPT, 1)]

    refreshed = users.refresh_user_claims(user_id=user_id)
    assert isinstance(refreshed, SuccessResponse) and refreshed.code == "OK"


def test_search_and_organizations_through_the_sdk(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    org = _post(tls_server, "/organization", {"name": f"sdk-org-{uid()}"})["organization"]["code"]
    email = unique_email("sdk-search")
    user_id = _create_user(client, email, org_code=org)
    user = client.users_api.get_user_data(id=user_id, expand="organizations")
    assert isinstance(user, User) and user.organizations == [org]
    listed = client.users_api.get_users(
        user_id=user_id, has_organization=True, expand="organizations"
    )
    assert isinstance(listed, UsersResponse) and listed.users is not None
    assert [u.organizations for u in listed.users] == [[org]]

    key = f"sdk_{uid()}"
    category, prop = "cat_" + uuid.uuid4().hex, "prop_" + uuid.uuid4().hex
    now = "2024-01-01T00:00:00+00:00"
    db(
        tls_server,
        "INSERT INTO property_categories (id, name, context, created_on) VALUES (?, ?, ?, ?)",
        (category, f"cat {key}", "usr", now),
    )
    db(
        tls_server,
        "INSERT INTO properties (id, key, name, type, context, is_private, is_kinde_property, "
        "category_id, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (prop, key, key, "single_line_text", "usr", False, False, category, now),
    )
    db(
        tls_server,
        "INSERT INTO user_property_values (user_id, property_id, value) VALUES (?, ?, ?)",
        (user_id, prop, "gold"),
    )

    found = client.search_api.search_users(
        query=email, expand="organizations,identities,properties"
    )
    assert isinstance(found, SearchUsersResponse) and found.results is not None
    (result,) = found.results
    assert result.id == user_id and result.email == email
    assert result.organizations == [org] and result.properties == {key: "gold"}
    assert result.identities is not None and result.identities[0].identity == email
    assert result.api_scopes == []

    by_property = client.search_api.search_users(
        properties={"properties": {key: ["gold"]}}, page_size=5
    )
    assert isinstance(by_property, SearchUsersResponse) and by_property.results is not None
    assert [r.id for r in by_property.results] == [user_id]
    paged = client.search_api.search_users(query="*", page_size=1, ending_before=user_id)
    assert isinstance(paged, SearchUsersResponse) and paged.results is not None
    assert len(paged.results) == 1 and paged.results[0].id != user_id
    nxt = client.search_api.search_users(query="*", starting_after=paged.results[0].id)
    assert isinstance(nxt, SearchUsersResponse) and nxt.results is not None
    assert nxt.results[0].id == user_id


def test_invites_through_the_sdk(client: ManagementClient, tls_server: KindlingServer) -> None:
    org = _post(tls_server, "/organization", {"name": f"sdk-org-{uid()}"})["organization"]["code"]
    role_key = f"sdk_role_{uid()}"
    _post(tls_server, "/roles", {"name": "SDK role", "key": role_key})
    orgs = client.organizations_api
    email = unique_email("sdk-invite")
    created = orgs.create_organization_invite(
        org_code=org,
        create_organization_invite_request=CreateOrganizationInviteRequest(
            email=email, first_name="Sdk", last_name="Invitee", roles=[role_key]
        ),
    )
    assert isinstance(created, CreateOrganizationInviteResponse)
    assert created.code == "INVITATION_CREATED" and created.invite is not None
    invite = created.invite
    assert invite.code and invite.email == email and invite.full_name == "Sdk Invitee"
    assert isinstance(invite.created_on, datetime) and invite.accepted_on is None
    assert invite.roles is not None and [(r.key, r.name) for r in invite.roles] == [
        (role_key, "SDK role")
    ]
    code = str(invite.code)

    listed = orgs.get_organization_invites(org_code=org, sort="email_desc", page_size=5)
    assert isinstance(listed, GetOrganizationInvitesResponse) and listed.invites is not None
    assert [i.code for i in listed.invites] == [code] and listed.next_token is None

    got = orgs.get_organization_invite(org_code=org, invite_code=code)
    assert isinstance(got, GetOrganizationInviteResponse)
    assert got.code == code and got.is_revoked is False and got.invite_link

    revoked = orgs.delete_organization_invite(org_code=org, invite_code=code)
    assert isinstance(revoked, SuccessResponse)
    pending = orgs.get_organization_invites(org_code=org)
    assert isinstance(pending, GetOrganizationInvitesResponse) and pending.invites == []
    everything = orgs.get_organization_invites(org_code=org, include_revoked=True)
    assert isinstance(everything, GetOrganizationInvitesResponse)
    assert everything.invites is not None and everything.invites[0].is_revoked is True
