"""Storage contract: ``MembershipRepository`` (users in organizations, their roles,
permissions, API scopes and organization MFA factors) on both engines."""

from __future__ import annotations

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import api_id, api_scope_id, organization_code, permission_id, role_id
from kindling.platform.ids import user_id as new_user_id
from kindling.platform.storage import Storage
from kindling.resources.organizations.members.model import (
    MemberOrganization,
    MemberPermission,
    MemberRole,
)
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.permissions.model import Permission
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from kindling.resources.users.model import User
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_identity import (
    add_api,
    add_mfa_factor,
    add_org,
    add_permission,
    add_role,
    add_user,
    email_address,
    set_last_accessed,
)


def _member_role(role: Role) -> MemberRole:
    return MemberRole(id=role.id, key=role.key, name=role.name)


def _member_permission(permission: Permission, *roles: Role) -> MemberPermission:
    return MemberPermission(
        id=permission.id,
        key=permission.key,
        name=permission.name,
        description=permission.description,
        roles=tuple(_member_role(r) for r in roles),
    )


def _join(storage: Storage, org_code: str, *users: User, joined_on: str = NOW) -> None:
    with storage.transaction() as uow:
        for user in users:
            uow[MEMBERSHIPS_REPO].add_member(org_code, user.id, joined_on)


def _grant(storage: Storage, org_code: str, user: User, *roles: Role) -> None:
    with storage.transaction() as uow:
        for role in roles:
            uow[MEMBERSHIPS_REPO].add_member_role(org_code, user.id, role.id, NOW)


# --- reads of rows owned elsewhere ------------------------------------------------


def test_reads_of_organizations_roles_permissions_and_users(storage: Storage) -> None:
    org = add_org(storage)
    role, other_role = add_role(storage), add_role(storage)
    permission = add_permission(storage, description="Can read")
    user = add_user(storage)
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.get_organization(org.code) == MemberOrganization(org.code, org.name)
        assert members.get_organization(organization_code()) is None
        assert members.get_role(role.id) == _member_role(role)
        assert members.get_role(role_id()) is None
        assert members.roles_by_keys([role.key, other_role.key, f"missing{uid()}"]) == {
            role.key: _member_role(role),
            other_role.key: _member_role(other_role),
        }
        assert members.roles_by_keys([]) == {}
        assert members.get_permission(permission.id) == _member_permission(permission)
        assert members.get_permission(permission_id()) is None
        assert members.permissions_by_keys([permission.key, "nope"]) == {
            permission.key: _member_permission(permission)
        }
        assert members.permissions_by_keys([]) == {}
        assert members.existing_users([user.id, new_user_id()]) == {user.id}
        assert members.existing_users([]) == set()


# --- membership -----------------------------------------------------------------------


def test_add_member_and_membership_checks(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    a, b, outsider = add_user(storage), add_user(storage), add_user(storage)
    _join(storage, org.code, a, b)
    _join(storage, other_org.code, outsider)
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.is_member(org.code, a.id) is True
        assert members.is_member(org.code, outsider.id) is False
        assert members.is_member(organization_code(), a.id) is False
        assert members.members_among(org.code, [a.id, b.id, outsider.id, new_user_id()]) == {
            a.id,
            b.id,
        }
        assert members.members_among(org.code, []) == set()


def test_add_member_refuses_duplicates_and_missing_rows(storage: Storage) -> None:
    org, user = add_org(storage), add_user(storage)
    _join(storage, org.code, user)
    cases = ((org.code, user.id), (organization_code(), user.id), (org.code, new_user_id()))
    for code, who in cases:
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[MEMBERSHIPS_REPO].add_member(code, who, NOW)
    with storage.read() as uow:
        assert [m.user_id for _, m in uow[MEMBERSHIPS_REPO].list_members(org.code, None, 10)] == [
            user.id
        ]


def test_remove_member_takes_everything_held_there(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    user, peer = add_user(storage), add_user(storage)
    role, permission = add_role(storage), add_permission(storage)
    api, (scope,) = add_api(storage, "read")
    _join(storage, org.code, user, peer)
    _join(storage, other_org.code, user)
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        for code in (org.code, other_org.code):
            members.add_member_role(code, user.id, role.id, NOW)
            members.add_member_permission(code, user.id, permission.id)
            members.add_member_api_scope(code, user.id, api.id, scope.id)
        members.add_member_role(org.code, peer.id, role.id, NOW)
    org_factor = add_mfa_factor(storage, user.id, org_code=org.code)
    other_factor = add_mfa_factor(storage, user.id, org_code=other_org.code)
    env_factor = add_mfa_factor(storage, user.id)

    with storage.transaction() as uow:
        assert uow[MEMBERSHIPS_REPO].remove_member(org.code, user.id) is True
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.is_member(org.code, user.id) is False
        assert members.member_roles(org.code, user.id) == []
        assert members.direct_permission_ids(org.code, user.id) == set()
        assert members.member_permissions(org.code, user.id) == []
        assert members.has_member_api_scope(org.code, user.id, api.id, scope.id) is False
        assert members.mfa_factors(org.code, user.id) == []
        # What the user holds elsewhere, and the peer's membership, stay.
        assert members.is_member(other_org.code, user.id) is True
        assert members.member_roles(other_org.code, user.id) == [_member_role(role)]
        assert members.direct_permission_ids(other_org.code, user.id) == {permission.id}
        assert members.has_member_api_scope(other_org.code, user.id, api.id, scope.id) is True
        assert [f.id for f in members.mfa_factors(other_org.code, user.id)] == [other_factor]
        assert members.member_roles(org.code, peer.id) == [_member_role(role)]
        assert [f.id for f in uow[ACCOUNTS_REPO].mfa_factors(user.id)] == [env_factor]
        assert uow[USERS_REPO].get(user.id) is not None
    assert org_factor != other_factor
    with storage.transaction() as uow:
        assert uow[MEMBERSHIPS_REPO].remove_member(org.code, user.id) is False
        assert uow[MEMBERSHIPS_REPO].remove_member(organization_code(), user.id) is False
    _join(storage, org.code, user)  # can join again, starting empty
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id) == []


# --- listing members --------------------------------------------------------------------


def test_list_members_in_join_order_with_keyset(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    users = [
        add_user(storage, first_name=f"F{i}", last_name="L", picture=f"https://p/{i}")
        for i in range(4)
    ]
    suspended = add_user(storage, is_suspended=True)
    users.append(suspended)
    _join(storage, org.code, *users[:2])
    _join(storage, org.code, *users[2:], joined_on=LATER)
    _join(storage, other_org.code, users[0])
    set_last_accessed(storage, org.code, users[1].id, LATER)
    ids = [u.id for u in users]
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        rows = members.list_members(org.code, None, 10)
        assert [m.user_id for _, m in rows] == ids
        assert [m.joined_on for _, m in rows] == [NOW, NOW, LATER, LATER, LATER]
        first = rows[0][1]
        assert (first.email, first.first_name, first.last_name, first.picture) == (
            users[0].email,
            "F0",
            "L",
            "https://p/0",
        )
        assert rows[1][1].last_accessed_on == LATER and rows[0][1].last_accessed_on is None
        assert [m.is_suspended for _, m in rows] == [False, False, False, False, True]
        seqs = [p[1] for p, _ in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        page = members.list_members(org.code, None, 2)
        assert [m.user_id for _, m in page] == ids[:2]
        page = members.list_members(org.code, page[-1][0], 2)
        assert [m.user_id for _, m in page] == ids[2:4]
        page = members.list_members(org.code, page[-1][0], 2)
        assert [m.user_id for _, m in page] == ids[4:]
        assert members.list_members(org.code, page[-1][0], 2) == []
        down = members.list_members(org.code, None, 3, descending=True)
        assert [m.user_id for _, m in down] == ids[::-1][:3]
        rest = members.list_members(org.code, down[-1][0], 3, descending=True)
        assert [m.user_id for _, m in rest] == ids[::-1][3:]
        assert members.list_members(organization_code(), None, 10) == []
        assert [m.user_id for _, m in members.list_members(other_org.code, None, 10)] == [ids[0]]


def test_list_members_sorted_by_name_and_email(storage: Storage) -> None:
    org = add_org(storage)
    tag = uid()
    zed = add_user(storage, ("email", f"a{tag}@example.com"), first_name="Zed", last_name="Q")
    amy = add_user(storage, ("email", f"c{tag}@example.com"), first_name="Amy", last_name="R")
    anon = add_user(storage, ("username", f"u{tag}"))
    amy2 = add_user(storage, ("email", f"b{tag}@example.com"), first_name="Amy", last_name="R")
    _join(storage, org.code, zed, amy, anon, amy2)
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        by_name = members.list_members(org.code, None, 10, sort="name")
        assert [m.user_id for _, m in by_name] == [anon.id, amy.id, amy2.id, zed.id]
        assert [p[0] for p, _ in by_name] == ["", "Amy R", "Amy R", "Zed Q"]
        first = members.list_members(org.code, None, 2, sort="name")
        rest = members.list_members(org.code, first[-1][0], 10, sort="name")
        assert [m.user_id for _, m in first + rest] == [anon.id, amy.id, amy2.id, zed.id]
        down = members.list_members(org.code, None, 2, sort="name", descending=True)
        down_rest = members.list_members(org.code, down[-1][0], 10, sort="name", descending=True)
        assert [m.user_id for _, m in down + down_rest] == [zed.id, amy2.id, amy.id, anon.id]

        by_email = members.list_members(org.code, None, 10, sort="email")
        assert [m.user_id for _, m in by_email] == [anon.id, zed.id, amy2.id, amy.id]
        after_zed = members.list_members(org.code, by_email[1][0], 10, sort="email")
        assert [m.user_id for _, m in after_zed] == [amy2.id, amy.id]
        up_from_amy2 = members.list_members(
            org.code, by_email[2][0], 10, sort="email", descending=True
        )
        assert [m.user_id for _, m in up_from_amy2] == [zed.id, anon.id]


def test_list_members_filters_by_role_and_permission_keys(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    admin, editor = add_role(storage), add_role(storage)
    publish, delete = add_permission(storage), add_permission(storage)
    with storage.transaction() as uow:
        uow[ROLES_REPO].add_permission(editor.id, publish.id)
    both, only_editor, direct, none = (add_user(storage) for _ in range(4))
    _join(storage, org.code, both, only_editor, direct, none)
    _join(storage, other_org.code, none)
    _grant(storage, org.code, both, admin, editor)
    _grant(storage, org.code, only_editor, editor)
    _grant(storage, other_org.code, none, admin)  # held elsewhere: does not count here
    with storage.transaction() as uow:
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, direct.id, publish.id)
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, direct.id, delete.id)

    def listed(**filters: list[str]) -> list[str]:
        with storage.read() as uow:
            rows = uow[MEMBERSHIPS_REPO].list_members(org.code, None, 10, **filters)  # type: ignore[arg-type]
        return [m.user_id for _, m in rows]

    assert listed(role_keys=[admin.key]) == [both.id]
    assert listed(role_keys=[editor.key]) == [both.id, only_editor.id]
    assert listed(role_keys=[admin.key, editor.key]) == [both.id]
    assert listed(role_keys=[f"missing{uid()}"]) == []
    assert listed(permission_keys=[publish.key]) == [both.id, only_editor.id, direct.id]
    assert listed(permission_keys=[publish.key, delete.key]) == [direct.id]
    assert listed(role_keys=[editor.key], permission_keys=[delete.key]) == []
    with storage.read() as uow:
        rows = uow[MEMBERSHIPS_REPO].list_members(org.code, None, 10)
    roles = {m.user_id: set(m.roles) for _, m in rows}
    assert roles == {
        both.id: {admin.key, editor.key},
        only_editor.id: {editor.key},
        direct.id: set(),
        none.id: set(),
    }


def test_role_keys_of(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    a, b, c = add_role(storage), add_role(storage), add_role(storage)
    holder, bare = add_user(storage), add_user(storage)
    _join(storage, org.code, holder, bare)
    _join(storage, other_org.code, holder)
    _grant(storage, org.code, holder, b, a)
    _grant(storage, other_org.code, holder, c)
    with storage.read() as uow:
        keys = uow[MEMBERSHIPS_REPO].role_keys_of(org.code, [holder.id, bare.id])
        assert uow[MEMBERSHIPS_REPO].role_keys_of(org.code, []) == {}
    assert sorted(keys[holder.id]) == sorted([a.key, b.key])
    assert keys.get(bare.id, []) == []


# --- roles of a member ------------------------------------------------------------------


def test_member_roles_add_and_remove(storage: Storage) -> None:
    org = add_org(storage)
    a, b = add_role(storage), add_role(storage)
    user = add_user(storage)
    _join(storage, org.code, user)
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id) == []
    _grant(storage, org.code, user, b, a)
    with storage.read() as uow:
        held = uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id)
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, new_user_id()) == []
    assert sorted(held, key=lambda r: r.id) == sorted(
        [_member_role(a), _member_role(b)], key=lambda r: r.id
    )
    with storage.transaction() as uow:
        assert uow[MEMBERSHIPS_REPO].remove_member_role(org.code, user.id, a.id) is True
        assert uow[MEMBERSHIPS_REPO].remove_member_role(org.code, user.id, a.id) is False
        assert uow[MEMBERSHIPS_REPO].remove_member_role(org.code, user.id, role_id()) is False
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id) == [_member_role(b)]


def test_add_member_role_refusals(storage: Storage) -> None:
    org, role = add_org(storage), add_role(storage)
    member, outsider = add_user(storage), add_user(storage)
    _join(storage, org.code, member)
    _grant(storage, org.code, member, role)
    cases = ((member.id, role.id), (outsider.id, role.id), (member.id, role_id()))
    for who, which in cases:
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[MEMBERSHIPS_REPO].add_member_role(org.code, who, which, NOW)
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, member.id) == [_member_role(role)]
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, outsider.id) == []


# --- permissions of a member ------------------------------------------------------------


def test_member_permissions_direct_and_through_roles(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    direct_only, via_role, via_both, elsewhere = (add_permission(storage) for _ in range(4))
    first, second = add_role(storage), add_role(storage)
    with storage.transaction() as uow:
        uow[ROLES_REPO].add_permission(first.id, via_role.id)
        uow[ROLES_REPO].add_permission(first.id, via_both.id)
        uow[ROLES_REPO].add_permission(second.id, via_both.id)
        uow[ROLES_REPO].add_permission(second.id, elsewhere.id)
    user = add_user(storage)
    _join(storage, org.code, user)
    _join(storage, other_org.code, user)
    _grant(storage, org.code, user, first)
    _grant(storage, other_org.code, user, second)
    with storage.transaction() as uow:
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, user.id, direct_only.id)
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, user.id, via_both.id)
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.direct_permission_ids(org.code, user.id) == {direct_only.id, via_both.id}
        assert members.direct_permission_ids(other_org.code, user.id) == set()
        held = {p.id: p for p in members.member_permissions(org.code, user.id)}
        assert members.member_permissions(org.code, new_user_id()) == []
    assert held == {
        direct_only.id: _member_permission(direct_only),
        via_role.id: _member_permission(via_role, first),
        via_both.id: _member_permission(via_both, first),
    }


def test_add_and_remove_member_permission(storage: Storage) -> None:
    org, permission = add_org(storage), add_permission(storage)
    member, outsider = add_user(storage), add_user(storage)
    _join(storage, org.code, member)
    with storage.transaction() as uow:
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, member.id, permission.id)
    cases = ((member.id, permission.id), (outsider.id, permission.id), (member.id, permission_id()))
    for who, which in cases:
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[MEMBERSHIPS_REPO].add_member_permission(org.code, who, which)
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.remove_member_permission(org.code, member.id, permission.id) is True
        assert members.remove_member_permission(org.code, member.id, permission.id) is False
        assert members.remove_member_permission(org.code, outsider.id, permission.id) is False
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].direct_permission_ids(org.code, member.id) == set()


def test_removing_a_direct_permission_keeps_the_one_through_a_role(storage: Storage) -> None:
    org, permission, role = add_org(storage), add_permission(storage), add_role(storage)
    with storage.transaction() as uow:
        uow[ROLES_REPO].add_permission(role.id, permission.id)
    user = add_user(storage)
    _join(storage, org.code, user)
    _grant(storage, org.code, user, role)
    with storage.transaction() as uow:
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, user.id, permission.id)
        assert uow[MEMBERSHIPS_REPO].remove_member_permission(org.code, user.id, permission.id)
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].member_permissions(org.code, user.id) == [
            _member_permission(permission, role)
        ]


# --- API scopes of a member -------------------------------------------------------------


def test_member_api_scopes(storage: Storage) -> None:
    org = add_org(storage)
    api, (read, write) = add_api(storage, "read", "write")
    member, outsider = add_user(storage), add_user(storage)
    _join(storage, org.code, member)
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.has_member_api_scope(org.code, member.id, api.id, read.id) is False
        members.add_member_api_scope(org.code, member.id, api.id, read.id)
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.has_member_api_scope(org.code, member.id, api.id, read.id) is True
        assert members.has_member_api_scope(org.code, member.id, api.id, write.id) is False
        assert members.has_member_api_scope(org.code, outsider.id, api.id, read.id) is False
    cases = (
        (member.id, api.id, read.id),  # already given
        (outsider.id, api.id, write.id),  # not a member
        (member.id, api_id(), write.id),  # no such API
        (member.id, api.id, api_scope_id()),  # no such scope
    )
    for who, which_api, which_scope in cases:
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[MEMBERSHIPS_REPO].add_member_api_scope(org.code, who, which_api, which_scope)
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.remove_member_api_scope(org.code, member.id, api.id, write.id) is False
        assert members.remove_member_api_scope(org.code, member.id, api.id, read.id) is True
        assert members.remove_member_api_scope(org.code, member.id, api.id, read.id) is False
    with storage.read() as uow:
        assert (
            uow[MEMBERSHIPS_REPO].has_member_api_scope(org.code, member.id, api.id, read.id)
            is False
        )


# --- MFA factors of a member ------------------------------------------------------------


def test_mfa_factors_for_the_organization(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    user, other = add_user(storage), add_user(storage)
    first = add_mfa_factor(storage, user.id, org_code=org.code, kind="email")
    add_mfa_factor(storage, user.id)  # environment-level
    add_mfa_factor(storage, user.id, org_code=other_org.code)
    second = add_mfa_factor(storage, user.id, org_code=org.code, kind="totp")
    add_mfa_factor(storage, other.id, org_code=org.code)
    with storage.read() as uow:
        factors = uow[MEMBERSHIPS_REPO].mfa_factors(org.code, user.id)
        assert uow[MEMBERSHIPS_REPO].mfa_factors(organization_code(), user.id) == []
    assert [(f.id, f.type, f.org_code, f.user_id) for f in factors] == [
        (first, "email", org.code, user.id),
        (second, "totp", org.code, user.id),
    ]


def test_delete_mfa_factors(storage: Storage) -> None:
    org = add_org(storage)
    user, other = add_user(storage), add_user(storage)
    one, two, three = (add_mfa_factor(storage, user.id, org_code=org.code) for _ in range(3))
    env = add_mfa_factor(storage, user.id)
    theirs = add_mfa_factor(storage, other.id, org_code=org.code)
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.delete_mfa_factors(org.code, user.id, two) == 1
        assert members.delete_mfa_factors(org.code, user.id, two) == 0
        assert members.delete_mfa_factors(org.code, user.id, theirs) == 0
        assert members.delete_mfa_factors(org.code, user.id, env) == 0
    with storage.read() as uow:
        assert [f.id for f in uow[MEMBERSHIPS_REPO].mfa_factors(org.code, user.id)] == [one, three]
    with storage.transaction() as uow:
        assert uow[MEMBERSHIPS_REPO].delete_mfa_factors(org.code, user.id) == 2
        assert uow[MEMBERSHIPS_REPO].delete_mfa_factors(org.code, user.id) == 0
    with storage.read() as uow:
        assert uow[MEMBERSHIPS_REPO].mfa_factors(org.code, user.id) == []
        assert [f.id for f in uow[MEMBERSHIPS_REPO].mfa_factors(org.code, other.id)] == [theirs]
        assert [f.id for f in uow[ACCOUNTS_REPO].mfa_factors(user.id)] == [env]


# --- users of a role ----------------------------------------------------------------------


def test_role_members_and_counts(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    role, other_role = add_role(storage), add_role(storage)
    users = [add_user(storage) for _ in range(5)]
    _join(storage, org.code, *users)
    _join(storage, other_org.code, users[0])
    for user in (users[0], users[2], users[3], users[4]):
        _grant(storage, org.code, user, role)
    _grant(storage, org.code, users[1], other_role)
    _grant(storage, other_org.code, users[0], role)
    holders = [users[0].id, users[2].id, users[3].id, users[4].id]
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        rows = members.role_members(org.code, role.id, None, 10)
        assert [u for _, u in rows] == holders
        listed = members.list_members(org.code, None, 10)
        seq_of = {m.user_id: p[1] for p, m in listed}
        assert [s for s, _ in rows] == [seq_of[u] for u in holders]
        first = members.role_members(org.code, role.id, None, 2)
        assert [u for _, u in first] == holders[:2]
        rest = members.role_members(org.code, role.id, first[-1][0], 10)
        assert [u for _, u in rest] == holders[2:]
        assert members.role_members(org.code, role_id(), None, 10) == []
        assert members.role_members(organization_code(), role.id, None, 10) == []
        assert members.count_role_members(org.code, role.id) == 4
        assert members.count_role_members(other_org.code, role.id) == 1
        assert members.count_role_members(org.code, other_role.id) == 1
        assert members.count_role_members(org.code, role_id()) == 0
        assert members.count_role_members(organization_code(), role.id) == 0


def test_count_active_role_members_window(storage: Storage) -> None:
    org, role = add_org(storage), add_role(storage)
    since, until = "2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00"
    accessed = {
        "at_since": since,
        "inside": "2024-03-15T12:00:00+00:00",
        "at_until": until,
        "before": "2024-02-28T23:59:59+00:00",
        "never": None,
    }
    users = {name: add_user(storage) for name in accessed}
    _join(storage, org.code, *users.values())
    for name, user in users.items():
        _grant(storage, org.code, user, role)
        set_last_accessed(storage, org.code, user.id, accessed[name])
    outsider = add_user(storage)  # active, but without the role
    _join(storage, org.code, outsider)
    set_last_accessed(storage, org.code, outsider.id, accessed["inside"])
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.count_active_role_members(org.code, role.id, since, until) == 2
        assert members.count_active_role_members(org.code, role.id, "2000", "2100") == 4
        assert members.count_active_role_members(org.code, role.id, until, "2100") == 1
        assert members.count_active_role_members(org.code, role_id(), since, until) == 0


def test_role_users_across_organizations(storage: Storage) -> None:
    first_org, second_org, third_org = add_org(storage), add_org(storage), add_org(storage)
    role, other_role = add_role(storage), add_role(storage)
    early, middle, late = add_user(storage), add_user(storage), add_user(storage)
    _join(storage, second_org.code, late, early)
    _join(storage, first_org.code, early)
    _join(storage, third_org.code, middle, early)
    _grant(storage, second_org.code, late, role)
    _grant(storage, second_org.code, early, role)
    _grant(storage, first_org.code, early, role)
    _grant(storage, third_org.code, middle, other_role)
    _grant(storage, third_org.code, early, other_role)
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        rows = members.role_users(role.id, None, 10)
        assert [(u, codes) for _, (u, codes) in rows] == [
            (early.id, [second_org.code, first_org.code]),  # in joining order
            (late.id, [second_org.code]),
        ]
        seqs = [s for s, _ in rows]
        assert seqs == sorted(seqs)
        assert seqs == [uow[USERS_REPO].seq_of(early.id), uow[USERS_REPO].seq_of(late.id)]
        assert [u for _, (u, _) in members.role_users(role.id, None, 1)] == [early.id]
        assert [u for _, (u, _) in members.role_users(role.id, seqs[0], 10)] == [late.id]
        assert members.role_users(role.id, seqs[1], 10) == []
        assert [u for _, (u, _) in members.role_users(other_role.id, None, 10)] == [
            early.id,
            middle.id,
        ]
        assert members.role_users(role_id(), None, 10) == []


# --- transactions ---------------------------------------------------------------------


def test_rollback_leaves_no_membership_or_grant(storage: Storage) -> None:
    org, role, permission = add_org(storage), add_role(storage), add_permission(storage)
    api, (scope,) = add_api(storage, "read")
    user = add_user(storage, ("email", email_address()))
    with pytest.raises(Boom), storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        members.add_member(org.code, user.id, NOW)
        members.add_member_role(org.code, user.id, role.id, NOW)
        members.add_member_permission(org.code, user.id, permission.id)
        members.add_member_api_scope(org.code, user.id, api.id, scope.id)
        assert members.is_member(org.code, user.id) is True
        raise Boom
    with storage.read() as uow:
        members = uow[MEMBERSHIPS_REPO]
        assert members.is_member(org.code, user.id) is False
        assert members.member_roles(org.code, user.id) == []
        assert members.direct_permission_ids(org.code, user.id) == set()
        assert members.has_member_api_scope(org.code, user.id, api.id, scope.id) is False
        assert members.count_role_members(org.code, role.id) == 0
    _join(storage, org.code, user)  # nothing was left behind to collide with
