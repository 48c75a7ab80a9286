"""Storage contract: ``PermissionRepository`` on both engines."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import permission_id
from kindling.platform.storage import Storage
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.permissions.repository import PERMISSIONS_REPO
from kindling.resources.roles.repository import ROLES_REPO
from tests.storage.conftest import NOW, Boom, uid
from tests.storage.factories_identity import (
    add_org,
    add_permission,
    add_role,
    add_user,
    count,
    make_permission,
)


def test_get_and_get_by_key_for_missing_permissions(storage: Storage) -> None:
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(permission_id()) is None
        assert uow[PERMISSIONS_REPO].get_by_key(f"missing{uid()}") is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    described = make_permission(description="Read the things")
    plain = make_permission()
    with storage.transaction() as uow:
        uow[PERMISSIONS_REPO].add(described)
        uow[PERMISSIONS_REPO].add(plain)
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(described.id) == described
        assert uow[PERMISSIONS_REPO].get_by_key(described.key) == described
        assert uow[PERMISSIONS_REPO].get(plain.id) == plain


def test_get_by_key_is_case_sensitive(storage: Storage) -> None:
    tag = uid()
    lower = add_permission(storage, key=f"read:{tag}")
    upper = add_permission(storage, key=f"READ:{tag}")
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get_by_key(f"read:{tag}") == lower
        assert uow[PERMISSIONS_REPO].get_by_key(f"READ:{tag}") == upper
        assert uow[PERMISSIONS_REPO].get_by_key(f"Read:{tag}") is None


def test_existing(storage: Storage) -> None:
    a, b = add_permission(storage), add_permission(storage)
    missing = permission_id()
    with storage.read() as uow:
        repo = uow[PERMISSIONS_REPO]
        assert repo.existing([a.id, missing, b.id, a.id]) == {a.id, b.id}
        assert repo.existing([missing]) == set()
        assert repo.existing([]) == set()


def test_add_refuses_a_taken_key_or_id(storage: Storage) -> None:
    permission = add_permission(storage)
    for clash in (make_permission(key=permission.key), make_permission(id=permission.id)):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[PERMISSIONS_REPO].add(clash)
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(permission.id) == permission
        assert uow[PERMISSIONS_REPO].get_by_key(permission.key) == permission


def test_update_overwrites_key_name_and_description(storage: Storage) -> None:
    permission = add_permission(storage)
    changed = replace(
        permission, key=f"new{uid()}", name="Renamed", description="Now described", created_on="x"
    )
    with storage.transaction() as uow:
        uow[PERMISSIONS_REPO].update(changed)
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(permission.id) == replace(changed, created_on=NOW)
        assert uow[PERMISSIONS_REPO].get_by_key(permission.key) is None
    with storage.transaction() as uow:
        uow[PERMISSIONS_REPO].update(permission)  # and back, clearing the description
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(permission.id) == permission


def test_update_of_a_missing_permission_does_nothing(storage: Storage) -> None:
    ghost = make_permission()
    with storage.transaction() as uow:
        uow[PERMISSIONS_REPO].update(ghost)
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(ghost.id) is None
        assert uow[PERMISSIONS_REPO].existing([ghost.id]) == set()


def test_update_refuses_the_key_of_another_permission(storage: Storage) -> None:
    holder, permission = add_permission(storage), add_permission(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[PERMISSIONS_REPO].update(replace(permission, key=holder.key, name="x"))
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(permission.id) == permission
        assert uow[PERMISSIONS_REPO].get_by_key(holder.key) == holder


def test_delete_cascades_to_role_and_member_assignments(storage: Storage) -> None:
    permission, keep = add_permission(storage), add_permission(storage)
    role = add_role(storage)
    org, user = add_org(storage), add_user(storage)
    with storage.transaction() as uow:
        uow[ROLES_REPO].add_permission(role.id, permission.id)
        uow[ROLES_REPO].add_permission(role.id, keep.id)
        uow[MEMBERSHIPS_REPO].add_member(org.code, user.id, NOW)
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, user.id, permission.id)
        uow[MEMBERSHIPS_REPO].add_member_permission(org.code, user.id, keep.id)
    with storage.transaction() as uow:
        assert uow[PERMISSIONS_REPO].delete(permission.id) is True
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(permission.id) is None
        assert uow[PERMISSIONS_REPO].get_by_key(permission.key) is None
        assert uow[ROLES_REPO].permission_ids(role.id) == {keep.id}
        assert uow[MEMBERSHIPS_REPO].direct_permission_ids(org.code, user.id) == {keep.id}
        assert uow[ROLES_REPO].get(role.id) == role
    for table in ("role_permissions", "organization_user_permissions"):
        sql = f"SELECT COUNT(*) AS n FROM {table} WHERE permission_id = ?"
        assert count(storage, sql, [permission.id]) == 0, table
    with storage.transaction() as uow:
        assert uow[PERMISSIONS_REPO].delete(permission.id) is False
        assert uow[PERMISSIONS_REPO].delete(permission_id()) is False
    add_permission(storage, key=permission.key)  # the key is free again


def test_list_page_oldest_first_with_keyset(storage: Storage) -> None:
    permissions = [add_permission(storage) for _ in range(5)]
    ids = [p.id for p in permissions]
    with storage.read() as uow:
        repo = uow[PERMISSIONS_REPO]
        everything = repo.list_page(None, 1_000_000)
        mine = [(s, p) for s, p in everything if p.id in ids]
        assert [p for _, p in mine] == permissions
        seqs = [s for s, _ in everything]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        first = repo.list_page(mine[0][0] - 1, 2)
        second = repo.list_page(first[-1][0], 2)
        third = repo.list_page(second[-1][0], 1)
        assert [p for _, p in first + second + third] == permissions
        assert all(s > mine[-1][0] for s, _ in repo.list_page(mine[-1][0], 1_000_000))


@pytest.mark.parametrize("column", ["name", "id"])
def test_list_sorted_by_column_then_sequence(storage: Storage, column: str) -> None:
    tag = uid()
    if column == "name":
        permissions = [add_permission(storage, name=f"n{tag}{n}") for n in ("c", "a", "b", "a")]
        ascending = [permissions[1], permissions[3], permissions[2], permissions[0]]
        prefix = f"n{tag}"
    else:
        permissions = [add_permission(storage, id=f"{tag}{n}", name="same") for n in "cab"]
        ascending = [permissions[1], permissions[2], permissions[0]]
        prefix = tag
    start, end = (prefix, 0), (prefix + "z", 0)
    size = len(permissions)
    with storage.read() as uow:
        repo = uow[PERMISSIONS_REPO]
        rows = repo.list_sorted(column, start, size, False)
        assert [p for _, p in rows] == ascending
        assert [pos[0] for pos, _ in rows] == [getattr(p, column) for p in ascending]
        first = repo.list_sorted(column, start, 2, False)
        rest = repo.list_sorted(column, first[-1][0], size - 2, False)
        assert [p for _, p in first + rest] == ascending
        down = repo.list_sorted(column, end, 1, True)
        down_rest = repo.list_sorted(column, down[-1][0], size - 1, True)
        assert [p for _, p in down + down_rest] == ascending[::-1]
        everything = repo.list_sorted(column, None, 1_000_000, False)
        positions = [pos for pos, _ in everything]
        # Equal sort keys keep sequence order (the collation decides the rest).
        assert all(a[1] < b[1] for a, b in pairwise(positions) if a[0] == b[0])
        assert repo.list_sorted(column, None, 1_000_000, True) == everything[::-1]


def test_list_sorted_refuses_other_columns(storage: Storage) -> None:
    with storage.read() as uow:
        for column in ("key", "seq", "name DESC"):
            with pytest.raises(ValueError):
                uow[PERMISSIONS_REPO].list_sorted(column, None, 10, False)


def test_rollback_leaves_no_permission(storage: Storage) -> None:
    kept = add_permission(storage)
    fresh = make_permission()
    with pytest.raises(Boom), storage.transaction() as uow:
        repo = uow[PERMISSIONS_REPO]
        repo.add(fresh)
        repo.update(replace(kept, name="changed"))
        assert repo.delete(kept.id) is True
        assert repo.get(fresh.id) == fresh
        raise Boom
    with storage.read() as uow:
        assert uow[PERMISSIONS_REPO].get(fresh.id) is None
        assert uow[PERMISSIONS_REPO].get_by_key(fresh.key) is None
        assert uow[PERMISSIONS_REPO].get(kept.id) == kept
    with storage.transaction() as uow:
        uow[PERMISSIONS_REPO].add(fresh)
