"""Conformance builders of the ``organizations`` resource: organizations, their logos,
sessions, MFA, passkey and connections, their members (roles, permissions, API scopes,
MFA factors), users by organization role, and invites.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conformance.framework import (
    Req,
    World,
    builder,
    has_item,
    logo_files,
    uid,
    unique_email,
)

ORG_CODE = re.compile(r"^org_[0-9a-f]{11}$")


def role_keys(w: World) -> list[str]:
    """One fresh role key when roles can be created, else none."""
    return [w.role()[1]] if w.has("CreateRole") else []


def invite(w: World, org: str) -> str:
    body = w.ok(
        "createOrganizationInvite",
        Req(
            f"/organization/{org}/invites",
            json={"email": unique_email("invite"), "roles": role_keys(w)},
        ),
        "create an invite",
    )
    return str(body["invite"]["code"])


@builder("getOrganization")
def _get_organization(w: World) -> Req:
    org = w.org()

    def check(body: Any) -> None:
        assert body["code"] == org, body

    return Req("/organization", params={"code": org}, check=check)


@builder("createOrganization")
def _create_organization(w: World) -> Req:
    def check(body: Any) -> None:
        assert ORG_CODE.match(body["organization"]["code"]), body

    return Req(
        "/organization",
        json={
            "name": f"Conf org {uid()}",
            "external_id": f"ext-{uid()}",
            "handle": f"conf{uid()}",
            "theme_code": "light",
            "is_auto_membership_enabled": True,
            "background_color": "#ffffff",
        },
        check=check,
    )


@builder("getOrganizations")
def _get_organizations(w: World) -> Req:
    w.org()
    return Req("/organizations", params={"page_size": 5, "sort": "name_asc"})


@builder("updateOrganization")
def _update_organization(w: World) -> Req:
    return Req(f"/organization/{w.org()}", json={"name": f"Renamed {uid()}", "theme_code": "dark"})


@builder("deleteOrganization")
def _delete_organization(w: World) -> Req:
    return Req(f"/organization/{w.org()}")


@builder("DeleteOrganizationHandle")
def _delete_organization_handle(w: World) -> Req:
    return Req(f"/organization/{w.org(handle=True)}/handle")


@builder("ReadOrganizationLogo")
def _read_organization_logo(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/logos")


@builder("AddOrganizationLogo")
def _add_organization_logo(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/logos/light", files=logo_files())


@builder("DeleteOrganizationLogo")
def _delete_organization_logo(w: World) -> Req:
    org = w.org()
    w.ok(
        "AddOrganizationLogo",
        Req(f"/organizations/{org}/logos/dark", files=logo_files()),
        "upload a logo to delete",
    )
    return Req(f"/organizations/{org}/logos/dark")


@builder("UpdateOrganizationSessions")
def _update_organization_sessions(w: World) -> Req:
    return Req(
        f"/organizations/{w.org()}/sessions",
        json={
            "is_use_org_sso_session_policy": True,
            "sso_session_persistence_mode": "persistent",
            "is_use_org_authenticated_session_lifetime": True,
            "authenticated_session_lifetime": 86400,
        },
    )


@builder("ReplaceOrganizationMFA")
def _replace_organization_mfa(w: World) -> Req:
    return Req(
        f"/organizations/{w.org()}/mfa",
        json={"enabled_factors": ["mfa:email", "mfa:authenticator_app"]},
    )


@builder("GetOrganizationPasskey")
def _get_organization_passkey(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/passkey")


@builder("UpdateOrganizationPasskey")
def _update_organization_passkey(w: World) -> Req:
    return Req(
        f"/organizations/{w.org()}/passkey",
        json={"policy": "optional", "is_override_environment_passkey_settings": True},
    )


@builder("GetOrganizationConnections")
def _get_organization_connections(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/connections")


@builder("EnableOrgConnection")
def _enable_org_connection(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/connections/{w.connection()}")


@builder("RemoveOrgConnection")
def _remove_org_connection(w: World) -> Req:
    path = f"/organizations/{w.org()}/connections/{w.connection()}"
    w.ok("EnableOrgConnection", Req(path), "enable a connection for an org")
    return Req(path)


@builder("GetOrganizationUsers")
def _get_organization_users(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    return Req(
        f"/organizations/{org}/users",
        params={"page_size": 10, "sort": "name_asc"},
        check=has_item("organization_users", user),
    )


@builder("AddOrganizationUsers")
def _add_organization_users(w: World) -> Req:
    user = w.user()

    def check(body: Any) -> None:
        assert body["users_added"] == [user], body

    return Req(f"/organizations/{w.org()}/users", json={"users": [{"id": user}]}, check=check)


@builder("UpdateOrganizationUsers")
def _update_organization_users(w: World) -> Req:
    org = w.org()
    user = w.member(org)

    def check(body: Any) -> None:
        assert body["users_removed"] == [user], body

    return Req(
        f"/organizations/{org}/users",
        json={"users": [{"id": user, "operation": "delete"}]},
        check=check,
    )


@builder("RemoveOrganizationUser")
def _remove_organization_user(w: World) -> Req:
    org = w.org()
    return Req(f"/organizations/{org}/users/{w.member(org)}")


def _grant_org_role(w: World, org: str, user: str) -> str:
    role_id, _ = w.role()
    w.ok(
        "CreateOrganizationUserRole",
        Req(f"/organizations/{org}/users/{user}/roles", json={"role_id": role_id}),
        "give an org user a role",
    )
    return role_id


@builder("GetOrganizationUserRoles")
def _get_org_user_roles(w: World) -> Req:
    org = w.org()
    if w.has("CreateOrganizationUserRole"):
        user = w.member(org)
        role_id = _grant_org_role(w, org, user)
    else:
        role_id, key = w.role()
        user = w.member(org, roles=[key])
    return Req(f"/organizations/{org}/users/{user}/roles", check=has_item("roles", role_id))


@builder("CreateOrganizationUserRole")
def _create_org_user_role(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    role_id, _ = w.role()
    return Req(f"/organizations/{org}/users/{user}/roles", json={"role_id": role_id})


@builder("DeleteOrganizationUserRole")
def _delete_org_user_role(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    return Req(f"/organizations/{org}/users/{user}/roles/{_grant_org_role(w, org, user)}")


def _grant_org_permission(w: World, org: str, user: str) -> str:
    permission_id, _ = w.permission()
    w.ok(
        "CreateOrganizationUserPermission",
        Req(
            f"/organizations/{org}/users/{user}/permissions",
            json={"permission_id": permission_id},
        ),
        "give an org user a permission",
    )
    return permission_id


@builder("GetOrganizationUserPermissions")
def _get_org_user_permissions(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    if w.has("CreateOrganizationUserPermission"):
        permission_id = _grant_org_permission(w, org, user)
        return Req(
            f"/organizations/{org}/users/{user}/permissions",
            check=has_item("permissions", permission_id),
        )
    return Req(f"/organizations/{org}/users/{user}/permissions")


@builder("CreateOrganizationUserPermission")
def _create_org_user_permission(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    permission_id, _ = w.permission()
    return Req(
        f"/organizations/{org}/users/{user}/permissions", json={"permission_id": permission_id}
    )


@builder("DeleteOrganizationUserPermission")
def _delete_org_user_permission(w: World) -> Req:
    org = w.org()
    user = w.member(org)
    permission_id = _grant_org_permission(w, org, user)
    return Req(f"/organizations/{org}/users/{user}/permissions/{permission_id}")


def _org_user_api_scope(w: World) -> str:
    org = w.org()
    user = w.member(org)
    api_id = w.api()
    scope_id = w.api_scope(api_id)
    return f"/organizations/{org}/users/{user}/apis/{api_id}/scopes/{scope_id}"


@builder("addOrganizationUserAPIScope")
def _add_org_user_api_scope(w: World) -> Req:
    return Req(_org_user_api_scope(w))


@builder("deleteOrganizationUserAPIScope")
def _delete_org_user_api_scope(w: World) -> Req:
    path = _org_user_api_scope(w)
    w.ok("addOrganizationUserAPIScope", Req(path), "grant an org user an API scope")
    return Req(path)


def _org_member_with_factor(w: World) -> tuple[str, str, str]:
    org = w.org()
    user = w.member(org)
    return org, user, w.mfa_factor(user, org)


@builder("GetOrgUserMFA")
def _get_org_user_mfa(w: World) -> Req:
    org, user, _ = _org_member_with_factor(w)

    def check(body: Any) -> None:
        assert body["mfa"], body

    return Req(f"/organizations/{org}/users/{user}/mfa", check=check)


@builder("ResetOrgUserMFAAll")
def _reset_org_user_mfa_all(w: World) -> Req:
    org, user, _ = _org_member_with_factor(w)
    return Req(f"/organizations/{org}/users/{user}/mfa")


@builder("ResetOrgUserMFA")
def _reset_org_user_mfa(w: World) -> Req:
    org, user, factor = _org_member_with_factor(w)
    return Req(f"/organizations/{org}/users/{user}/mfa/{factor}")


def _org_role_member(w: World) -> tuple[str, str, str]:
    """An org with a member holding a fresh role: (org, role id, user)."""
    org = w.org()
    role_id, key = w.role()
    user = w.member(org, roles=[key])
    return org, role_id, user


@builder("GetOrganizationRoleUsers")
def _org_role_users(w: World) -> Req:
    org, role_id, user = _org_role_member(w)
    return Req(f"/organizations/{org}/roles/{role_id}/users", check=has_item("users", user))


@builder("GetOrganizationRoleUsersCount")
def _org_role_users_count(w: World) -> Req:
    org, role_id, _ = _org_role_member(w)

    def check(body: Any) -> None:
        assert body["count"] == 1, body

    return Req(f"/organizations/{org}/roles/{role_id}/users/count", check=check)


@builder("GetOrganizationRoleActiveUsersCount")
def _org_role_active_users_count(w: World) -> Req:
    org, role_id, _ = _org_role_member(w)
    now = datetime.now(UTC).replace(microsecond=0)
    return Req(
        f"/organizations/{org}/roles/{role_id}/active_users/count",
        params={
            "date_time_from": (now - timedelta(days=1)).isoformat(),
            "date_time_to": now.isoformat(),
        },
    )


@builder("GetRoleUsers")
def _get_role_users(w: World) -> Req:
    _, role_id, user = _org_role_member(w)
    return Req(f"/roles/{role_id}/users", check=has_item("users", user))


@builder("getOrganizationInvites")
def _get_organization_invites(w: World) -> Req:
    org = w.org()
    if w.has("createOrganizationInvite"):
        code = invite(w, org)
        return Req(f"/organization/{org}/invites", check=has_item("invites", code, "code"))
    return Req(f"/organization/{org}/invites")


@builder("createOrganizationInvite")
def _create_organization_invite(w: World) -> Req:
    def check(body: Any) -> None:
        assert body["invite"]["code"], body

    return Req(
        f"/organization/{w.org()}/invites",
        json={
            "email": unique_email("invite"),
            "roles": role_keys(w),
            "first_name": "Ivy",
            "last_name": "Invitee",
        },
        check=check,
    )


@builder("getOrganizationInvite")
def _get_organization_invite(w: World) -> Req:
    org = w.org()
    code = invite(w, org)

    def check(body: Any) -> None:
        assert body["code"] == code, body

    return Req(f"/organization/{org}/invites/{code}", check=check)


@builder("deleteOrganizationInvite")
def _delete_organization_invite(w: World) -> Req:
    org = w.org()
    return Req(f"/organization/{org}/invites/{invite(w, org)}")
