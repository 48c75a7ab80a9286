"""Storage contract: ``RoleRepository`` (roles with their permissions, API scopes and system
permissions) on both engines."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import api_scope_id, permission_id, role_id
from kindling.platform.storage import Storage
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.permissions.model import Permission
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from tests.storage.conftest import NOW, Boom, uid
from tests.storage.factories_identity import (
    add_api,
    add_org,
    add_permission,
    add_role,
    add_user,
    count,
    make_role,
)


def _give(storage: Storage, role: Role, *permissions: Permission) -> None:
    with storage.transaction() as uow:
        for permission in permissions:
            assert uow[ROLES_REPO].add_permission(role.id, permission.id) is True


# --- the role row -------------------------------------------------------------------


def test_get_and_get_by_key_for_missing_roles(storage: Storage) -> None:
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role_id()) is None
        assert uow[ROLES_REPO].get_by_key(f"missing{uid()}") is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    permission = add_permission(storage)
    role = make_role(
        description="Admins", is_default_role=True, assignment_permission_id=permission.id
    )
    plain = make_role()
    with storage.transaction() as uow:
        uow[ROLES_REPO].add(role)
        uow[ROLES_REPO].add(plain)
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id) == role
        assert uow[ROLES_REPO].get_by_key(role.key) == role
        got = uow[ROLES_REPO].get(plain.id)
    assert got == plain and got is not None and got.is_default_role is False


def test_get_by_key_is_case_sensitive(storage: Storage) -> None:
    tag = uid()
    lower = add_role(storage, key=f"role{tag}")
    upper = add_role(storage, key=f"ROLE{tag}")
    with storage.read() as uow:
        assert uow[ROLES_REPO].get_by_key(f"role{tag}") == lower
        assert uow[ROLES_REPO].get_by_key(f"ROLE{tag}") == upper
        assert uow[ROLES_REPO].get_by_key(f"Role{tag}") is None


def test_add_refuses_a_taken_key_or_id(storage: Storage) -> None:
    role = add_role(storage)
    for clash in (make_role(key=role.key), make_role(id=role.id)):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[ROLES_REPO].add(clash)
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id) == role
        assert uow[ROLES_REPO].get_by_key(role.key) == role


def test_update_overwrites_the_role(storage: Storage) -> None:
    permission = add_permission(storage)
    role = add_role(storage)
    changed = replace(
        role,
        key=f"new{uid()}",
        name="Renamed",
        description="Now described",
        is_default_role=True,
        assignment_permission_id=permission.id,
    )
    with storage.transaction() as uow:
        uow[ROLES_REPO].update(changed)
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id) == changed
        assert uow[ROLES_REPO].get_by_key(changed.key) == changed
        assert uow[ROLES_REPO].get_by_key(role.key) is None
    with storage.transaction() as uow:
        uow[ROLES_REPO].update(role)  # and back, clearing the optional fields
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id) == role


def test_update_of_a_missing_role_does_nothing(storage: Storage) -> None:
    ghost = make_role()
    with storage.transaction() as uow:
        uow[ROLES_REPO].update(ghost)
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(ghost.id) is None
        assert uow[ROLES_REPO].get_by_key(ghost.key) is None


def test_update_refuses_the_key_of_another_role(storage: Storage) -> None:
    holder, role = add_role(storage), add_role(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ROLES_REPO].update(replace(role, key=holder.key, name="x"))
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id) == role
        assert uow[ROLES_REPO].get_by_key(holder.key) == holder


def test_delete_cascades_to_grants_and_assignments(storage: Storage) -> None:
    role, keep = add_role(storage), add_role(storage)
    permission = add_permission(storage)
    _, (scope,) = add_api(storage, "read")
    org, user = add_org(storage), add_user(storage)
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        for which in (role, keep):
            roles.add_permission(which.id, permission.id)
            roles.add_scope(which.id, scope.id)
            roles.add_system_permission(which.id, "kinde:manage")
        uow[MEMBERSHIPS_REPO].add_member(org.code, user.id, NOW)
        uow[MEMBERSHIPS_REPO].add_member_role(org.code, user.id, role.id, NOW)
        uow[MEMBERSHIPS_REPO].add_member_role(org.code, user.id, keep.id, NOW)
    with storage.transaction() as uow:
        assert uow[ROLES_REPO].delete(role.id) is True
    with storage.read() as uow:
        roles = uow[ROLES_REPO]
        assert roles.get(role.id) is None and roles.get_by_key(role.key) is None
        assert roles.permission_ids(role.id) == set()
        assert roles.scopes(role.id) == []
        assert roles.system_permission_keys(role.id) == set()
        assert [r.id for r in uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id)] == [keep.id]
        # The other role, the permission and the scope are untouched.
        assert roles.permission_ids(keep.id) == {permission.id}
        assert roles.scopes(keep.id) == [scope]
        assert roles.system_permission_keys(keep.id) == {"kinde:manage"}
        assert roles.api_scope(scope.id) == scope
        assert uow[MEMBERSHIPS_REPO].is_member(org.code, user.id) is True
    for table in ("role_permissions", "role_scopes", "role_system_permissions"):
        sql = f"SELECT COUNT(*) AS n FROM {table} WHERE role_id = ?"
        assert count(storage, sql, [role.id]) == 0, table
    with storage.transaction() as uow:
        assert uow[ROLES_REPO].delete(role.id) is False
        assert uow[ROLES_REPO].delete(role_id()) is False


# --- listings ---------------------------------------------------------------------------


def test_list_page_oldest_first_with_keyset(storage: Storage) -> None:
    roles = [add_role(storage) for _ in range(4)]
    ids = [r.id for r in roles]
    with storage.read() as uow:
        everything = uow[ROLES_REPO].list_page(None, 1_000_000)
        mine = [(s, r) for s, r in everything if r.id in ids]
        assert [r for _, r in mine] == roles
        seqs = [s for s, _ in everything]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        first = uow[ROLES_REPO].list_page(mine[0][0] - 1, 2)
        assert [r for _, r in first] == roles[:2]
        second = uow[ROLES_REPO].list_page(first[-1][0], 2)
        assert [r for _, r in second] == roles[2:]
        tail = uow[ROLES_REPO].list_page(mine[-1][0], 1_000_000)
        assert all(s > mine[-1][0] for s, _ in tail)


@pytest.mark.parametrize("column", ["name", "key"])
def test_list_sorted_by_column_then_sequence(storage: Storage, column: str) -> None:
    tag = uid()
    if column == "name":
        specs = [("c", f"k{tag}1"), ("a", f"k{tag}2"), ("b", f"k{tag}3"), ("a", f"k{tag}4")]
        roles = [add_role(storage, name=f"n{tag}{n}", key=k) for n, k in specs]
        ascending = [roles[1], roles[3], roles[2], roles[0]]  # equal names keep creation order
        prefix = f"n{tag}"
    else:
        roles = [add_role(storage, key=f"k{tag}{k}", name="same") for k in "cab"]
        ascending = [roles[1], roles[2], roles[0]]
        prefix = f"k{tag}"
    start, end = (prefix, 0), (prefix + "z", 0)
    size = len(roles)
    with storage.read() as uow:
        repo = uow[ROLES_REPO]
        rows = repo.list_sorted(column, start, size, False)
        assert [r for _, r in rows] == ascending
        assert [p[0] for p, _ in rows] == [getattr(r, column) for r in ascending]
        first = repo.list_sorted(column, start, 2, False)
        rest = repo.list_sorted(column, first[-1][0], size - 2, False)
        assert [r for _, r in first + rest] == ascending
        down = repo.list_sorted(column, end, 2, True)
        down_rest = repo.list_sorted(column, down[-1][0], size - 2, True)
        assert [r for _, r in down + down_rest] == ascending[::-1]
        everything = repo.list_sorted(column, None, 1_000_000, False)
        positions = [p for p, _ in everything]
        # Equal sort keys keep sequence order (the collation decides the rest).
        assert all(a[1] < b[1] for a, b in pairwise(positions) if a[0] == b[0])
        assert repo.list_sorted(column, None, 1_000_000, True) == everything[::-1]


def test_list_sorted_refuses_other_columns(storage: Storage) -> None:
    with storage.read() as uow:
        for column in ("id", "description", "name; DROP TABLE roles"):
            with pytest.raises(ValueError):
                uow[ROLES_REPO].list_sorted(column, None, 10, False)


def test_clear_assignment_permission(storage: Storage) -> None:
    permission, other = add_permission(storage), add_permission(storage)
    a = add_role(storage, assignment_permission_id=permission.id)
    b = add_role(storage, assignment_permission_id=permission.id)
    c = add_role(storage, assignment_permission_id=other.id)
    with storage.transaction() as uow:
        uow[ROLES_REPO].clear_assignment_permission(permission.id)
        uow[ROLES_REPO].clear_assignment_permission(permission_id())
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(a.id) == replace(a, assignment_permission_id=None)
        assert uow[ROLES_REPO].get(b.id) == replace(b, assignment_permission_id=None)
        assert uow[ROLES_REPO].get(c.id) == c


# --- permissions of a role ------------------------------------------------------------------


def test_add_and_remove_permission(storage: Storage) -> None:
    role, other = add_role(storage), add_role(storage)
    read, write = add_permission(storage), add_permission(storage)
    with storage.read() as uow:
        assert uow[ROLES_REPO].permission_ids(role.id) == set()
        assert uow[ROLES_REPO].permission_ids(role_id()) == set()
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        assert roles.add_permission(role.id, read.id) is True
        assert roles.add_permission(role.id, read.id) is False
        assert roles.add_permission(role.id, write.id) is True
        assert roles.add_permission(other.id, read.id) is True
    with storage.read() as uow:
        assert uow[ROLES_REPO].permission_ids(role.id) == {read.id, write.id}
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        assert roles.remove_permission(role.id, read.id) is True
        assert roles.remove_permission(role.id, read.id) is False
        assert roles.remove_permission(role.id, permission_id()) is False
    with storage.read() as uow:
        assert uow[ROLES_REPO].permission_ids(role.id) == {write.id}
        assert uow[ROLES_REPO].permission_ids(other.id) == {read.id}


def test_add_permission_needs_the_role_and_the_permission(storage: Storage) -> None:
    role, permission = add_role(storage), add_permission(storage)
    for which_role, which_permission in ((role_id(), permission.id), (role.id, permission_id())):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[ROLES_REPO].add_permission(which_role, which_permission)
    with storage.read() as uow:
        assert uow[ROLES_REPO].permission_ids(role.id) == set()


def test_permissions_page_in_permission_creation_order(storage: Storage) -> None:
    role = add_role(storage)
    permissions = [add_permission(storage) for _ in range(5)]
    unrelated = add_permission(storage)
    _give(storage, role, permissions[3], permissions[0], permissions[4], permissions[1])
    given = [permissions[0], permissions[1], permissions[3], permissions[4]]
    with storage.read() as uow:
        roles = uow[ROLES_REPO]
        rows = roles.permissions_page(role.id, None, 10)
        assert [p for _, p in rows] == given
        seqs = [s for s, _ in rows]
        assert seqs == sorted(seqs)
        first = roles.permissions_page(role.id, None, 2)
        rest = roles.permissions_page(role.id, first[-1][0], 2)
        assert [p for _, p in first + rest] == given
        assert roles.permissions_page(role.id, rest[-1][0], 2) == []
        assert roles.permissions_page(role_id(), None, 10) == []
    assert unrelated not in [p for _, p in rows]


@pytest.mark.parametrize("column", ["name", "id"])
def test_permissions_sorted(storage: Storage, column: str) -> None:
    tag = uid()
    role = add_role(storage)
    if column == "name":
        permissions = [add_permission(storage, name=n) for n in ("b", "a", "c", "a")]
        ascending = [permissions[1], permissions[3], permissions[0], permissions[2]]
        start, end = ("", 0), ("z", 0)
    else:
        permissions = [add_permission(storage, id=f"{tag}-{n}") for n in ("b", "a", "c")]
        ascending = [permissions[1], permissions[0], permissions[2]]
        start, end = ("", 0), (f"{tag}-z", 0)
    _give(storage, role, *permissions)
    _give(storage, add_role(storage), add_permission(storage, name="a", id=f"{tag}-a0"))
    size = len(permissions)
    with storage.read() as uow:
        roles = uow[ROLES_REPO]
        rows = roles.permissions_sorted(role.id, column, None, 10, False)
        assert [p for _, p in rows] == ascending
        assert [pos[0] for pos, _ in rows] == [getattr(p, column) for p in ascending]
        assert [p for _, p in roles.permissions_sorted(role.id, column, start, 10, False)] == (
            ascending
        )
        first = roles.permissions_sorted(role.id, column, None, 2, False)
        rest = roles.permissions_sorted(role.id, column, first[-1][0], 10, False)
        assert [p for _, p in first + rest] == ascending
        down = roles.permissions_sorted(role.id, column, end, 2, True)
        down_rest = roles.permissions_sorted(role.id, column, down[-1][0], size, True)
        assert [p for _, p in down + down_rest] == ascending[::-1]
        assert [p for _, p in roles.permissions_sorted(role.id, column, None, 10, True)] == (
            ascending[::-1]
        )


def test_permissions_sorted_refuses_other_columns(storage: Storage) -> None:
    role = add_role(storage)
    with storage.read() as uow:
        for column in ("key", "seq", "created_on"):
            with pytest.raises(ValueError):
                uow[ROLES_REPO].permissions_sorted(role.id, column, None, 10, False)


# --- API scopes of a role ---------------------------------------------------------------


def test_api_scope_lookup(storage: Storage) -> None:
    _, (scope,) = add_api(storage, f"read:{uid()}")
    with storage.read() as uow:
        assert uow[ROLES_REPO].api_scope(scope.id) == scope
        assert uow[ROLES_REPO].api_scope(api_scope_id()) is None


def test_scopes_add_and_remove(storage: Storage) -> None:
    role, other = add_role(storage), add_role(storage)
    _, (a, b) = add_api(storage, "a", "b")
    _, (c,) = add_api(storage, "c")
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        assert roles.scopes(role.id) == []
        assert roles.add_scope(role.id, c.id) is True
        assert roles.add_scope(role.id, a.id) is True
        assert roles.add_scope(role.id, a.id) is False
        assert roles.add_scope(role.id, b.id) is True
        assert roles.add_scope(other.id, b.id) is True
    with storage.read() as uow:
        assert uow[ROLES_REPO].scopes(role.id) == [a, b, c]  # scope creation order
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        assert roles.remove_scope(role.id, b.id) is True
        assert roles.remove_scope(role.id, b.id) is False
        assert roles.remove_scope(role.id, api_scope_id()) is False
    with storage.read() as uow:
        assert uow[ROLES_REPO].scopes(role.id) == [a, c]
        assert uow[ROLES_REPO].scopes(other.id) == [b]
        assert uow[ROLES_REPO].scopes(role_id()) == []


def test_add_scope_needs_the_role_and_the_scope(storage: Storage) -> None:
    role = add_role(storage)
    _, (scope,) = add_api(storage, "x")
    for which_role, which_scope in ((role_id(), scope.id), (role.id, api_scope_id())):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[ROLES_REPO].add_scope(which_role, which_scope)
    with storage.read() as uow:
        assert uow[ROLES_REPO].scopes(role.id) == []


# --- system permissions -------------------------------------------------------------------


def test_system_permissions(storage: Storage) -> None:
    role, other = add_role(storage), add_role(storage)
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        assert roles.system_permission_keys(role.id) == set()
        assert roles.add_system_permission(role.id, "kinde:users:read") is True
        assert roles.add_system_permission(role.id, "kinde:users:read") is False
        assert roles.add_system_permission(role.id, "kinde:users:write") is True
        assert roles.add_system_permission(other.id, "kinde:users:read") is True
    with storage.read() as uow:
        assert uow[ROLES_REPO].system_permission_keys(role.id) == {
            "kinde:users:read",
            "kinde:users:write",
        }
    with storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        assert roles.remove_system_permission(role.id, "kinde:users:read") is True
        assert roles.remove_system_permission(role.id, "kinde:users:read") is False
        assert roles.remove_system_permission(role.id, "kinde:never") is False
    with storage.read() as uow:
        assert uow[ROLES_REPO].system_permission_keys(role.id) == {"kinde:users:write"}
        assert uow[ROLES_REPO].system_permission_keys(other.id) == {"kinde:users:read"}
        assert uow[ROLES_REPO].system_permission_keys(role_id()) == set()


def test_add_system_permission_needs_the_role(storage: Storage) -> None:
    ghost = role_id()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ROLES_REPO].add_system_permission(ghost, "kinde:users:read")
    with storage.read() as uow:
        assert uow[ROLES_REPO].system_permission_keys(ghost) == set()


# --- transactions -------------------------------------------------------------------------


def test_rollback_leaves_no_role_or_grant(storage: Storage) -> None:
    permission = add_permission(storage)
    _, (scope,) = add_api(storage, "read")
    role = make_role()
    with pytest.raises(Boom), storage.transaction() as uow:
        roles = uow[ROLES_REPO]
        roles.add(role)
        assert roles.add_permission(role.id, permission.id) is True
        assert roles.add_scope(role.id, scope.id) is True
        assert roles.add_system_permission(role.id, "kinde:x") is True
        assert roles.get(role.id) == role
        raise Boom
    with storage.read() as uow:
        roles = uow[ROLES_REPO]
        assert roles.get(role.id) is None and roles.get_by_key(role.key) is None
        assert roles.permission_ids(role.id) == set()
        assert roles.scopes(role.id) == []
        assert roles.system_permission_keys(role.id) == set()
    with storage.transaction() as uow:
        uow[ROLES_REPO].add(role)  # the key and id were never taken
