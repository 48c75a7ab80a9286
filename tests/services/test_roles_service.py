"""Roles and permissions services on both engines, no HTTP: what a caller relies on.

Key uniqueness (case-sensitive, as in Kinde), Kinde's PATCH semantics for the
assignment permission, all-or-nothing bulk updates, and what deleting a role or a
permission takes with it.
"""

from __future__ import annotations

from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.platform.errors import NotFound, ValidationError
from kindling.platform.storage import Storage
from kindling.resources.permissions import service as permissions
from kindling.resources.permissions.model import Permission
from kindling.resources.roles import service as roles
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from tests.services.support import uid
from tests.storage import factories_access as rows


def new_role(storage: Storage, clock: FrozenClock, **body: Any) -> Role:
    return roles.create_role(
        storage, clock, {"name": f"Role {uid()}", "key": f"role_{uid()}", **body}
    )


def new_permission(storage: Storage, clock: FrozenClock) -> Permission:
    return permissions.create_permission(
        storage, clock, {"name": f"Perm {uid()}", "key": f"perm:{uid()}"}
    )


def test_role_keys_are_unique_but_case_sensitive(storage: Storage, clock: FrozenClock) -> None:
    key = f"Admin_{uid()}"
    upper = new_role(storage, clock, key=key)
    lower = new_role(storage, clock, key=key.lower())
    assert {roles.get_role(storage, upper.id).key, roles.get_role(storage, lower.id).key} == {
        key,
        key.lower(),
    }


def test_create_role_trims_and_defaults(storage: Storage, clock: FrozenClock) -> None:
    key = f"viewer_{uid()}"
    role = roles.create_role(
        storage, clock, {"name": "  Viewer  ", "key": f" {key} ", "description": "   "}
    )
    assert (role.name, role.key, role.description, role.is_default_role) == (
        "Viewer",
        key,
        None,
        False,
    )
    assert role.assignment_permission_id is None


def test_assignment_permission_follows_kindes_patch_rules(
    storage: Storage, clock: FrozenClock
) -> None:
    permission = new_permission(storage, clock)
    role = new_role(storage, clock, assignment_permission_id=permission.id)
    body = {"name": role.name, "key": role.key}
    # null (or absent) keeps it ...
    kept = roles.update_role(storage, role.id, {**body, "assignment_permission_id": None})
    assert kept.assignment_permission_id == permission.id
    # ... NO_PERMISSION_REQUIRED removes it.
    cleared = roles.update_role(
        storage, role.id, {**body, "assignment_permission_id": roles.NO_PERMISSION_REQUIRED}
    )
    assert cleared.assignment_permission_id is None
    assert roles.get_role(storage, role.id).assignment_permission_id is None


def test_deleting_a_permission_unsets_it_as_assignment_permission(
    storage: Storage, clock: FrozenClock
) -> None:
    permission = new_permission(storage, clock)
    role = new_role(storage, clock, assignment_permission_id=permission.id)
    roles.update_role_permissions(storage, role.id, [{"id": permission.id}])
    permissions.delete_permission(storage, permission.id)
    assert roles.get_role(storage, role.id).assignment_permission_id is None
    listed, _ = roles.list_role_permissions(storage, role.id, None, 10)
    assert listed == []


def test_bulk_permission_updates_are_all_or_nothing(storage: Storage, clock: FrozenClock) -> None:
    role = new_role(storage, clock)
    kept, extra = new_permission(storage, clock), new_permission(storage, clock)
    roles.update_role_permissions(storage, role.id, [{"id": kept.id}])
    with pytest.raises(NotFound):
        roles.update_role_permissions(
            storage,
            role.id,
            [{"id": extra.id}, {"id": kept.id, "operation": "delete"}, {"id": "perm_nope"}],
        )
    listed, _ = roles.list_role_permissions(storage, role.id, None, 10)
    assert [p.id for p in listed] == [kept.id]
    changes = roles.update_role_permissions(
        storage, role.id, [{"id": extra.id}, {"id": kept.id, "operation": "delete"}]
    )
    assert (changes.added, changes.removed) == ([extra.id], [kept.id])


@pytest.mark.parametrize(
    ("items", "code"),
    [
        (None, "PERMISSIONS_REQUIRED"),
        ([], "INVALID_PERMISSIONS"),
        ([{"id": f"p{i}"} for i in range(roles.MAX_BULK + 1)], "TOO_MANY_PERMISSIONS"),
        (["perm_1"], "INVALID_PERMISSIONS"),
        ([{"id": "  "}], "PERMISSION_ID_REQUIRED"),
        ([{"id": "perm_1", "operation": "remove"}], "INVALID_OPERATION"),
    ],
)
def test_bulk_permission_bodies_are_validated_before_anything_is_read(
    storage: Storage, clock: FrozenClock, items: Any, code: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        roles.update_role_permissions(storage, "role_never_read", items)
    assert raised.value.code == code


def test_deleting_a_role_takes_its_links_but_not_what_they_point_at(
    storage: Storage, clock: FrozenClock
) -> None:
    role = new_role(storage, clock)
    permission = new_permission(storage, clock)
    _, (scope,) = rows.add_api(storage, f"read:{uid()}")
    roles.update_role_permissions(storage, role.id, [{"id": permission.id}])
    roles.add_role_scope(storage, role.id, {"scope_id": scope.id})
    roles.update_role_system_permissions(
        storage, role.id, [{"id": roles.SYSTEM_PERMISSIONS[0].key}]
    )
    roles.delete_role(storage, role.id)
    with pytest.raises(NotFound):
        roles.get_role(storage, role.id)
    with storage.read() as uow:
        assert uow[ROLES_REPO].permission_ids(role.id) == set()
        assert uow[ROLES_REPO].system_permission_keys(role.id) == set()
        assert uow[ROLES_REPO].api_scope(scope.id) == scope
    permissions.update_permission(storage, permission.id, {"name": "Still here"})


def test_system_permissions_are_named_by_id_or_key_and_listed_in_catalogue_order(
    storage: Storage, clock: FrozenClock
) -> None:
    role = new_role(storage, clock)
    last, first = roles.SYSTEM_PERMISSIONS[-1], roles.SYSTEM_PERMISSIONS[0]
    changes = roles.update_role_system_permissions(
        storage, role.id, [{"id": last.key}, {"id": first.id}]
    )
    assert changes.added == [last.id, first.id]
    held, _ = roles.list_role_system_permissions(storage, role.id, None, None, 10)
    assert [p.id for p in held] == [first.id, last.id]
    with pytest.raises(ValidationError) as raised:
        roles.update_role_system_permissions(
            storage, role.id, [{"id": first.id}, {"id": first.key, "operation": "delete"}]
        )
    assert raised.value.code == "DUPLICATE_SYSTEM_PERMISSION"


def test_roles_sort_by_name_and_page_by_keyset(storage: Storage, clock: FrozenClock) -> None:
    prefix = f"zz-{uid()}"
    made = [new_role(storage, clock, name=f"{prefix}-{letter}") for letter in "cab"]
    seen: list[str] = []
    after: tuple[str, int] | None = None
    while True:
        page, after = roles.list_roles_sorted(storage, "name", after, 2, False)
        seen += [r.name for r in page if r.name.startswith(prefix)]
        if after is None:
            break
    assert seen == sorted(r.name for r in made)
