"""Domain events of roles, permissions, properties, flags, the environment, applications,
APIs, API keys and the console's owner account, on both engines.

For every service function that changes state: the committed change has exactly its
events in the outbox (type, data and how many), a call that changes nothing records
nothing, and a failing call (validation error, unknown id, uniqueness violation)
leaves neither an event nor a change. Events are read through the real outbox table
after the service's transaction committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.platform.context import Context
from kindling.platform.errors import AlreadyExists, KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.admin import service as admin
from kindling.resources.admin.repository import ADMIN_REPO
from kindling.resources.api_keys import service as api_keys
from kindling.resources.api_keys.repository import API_KEYS_REPO
from kindling.resources.apis import service as apis
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications import service as applications
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.environment import service as environment
from kindling.resources.environment.repository import ENVIRONMENT_REPO
from kindling.resources.feature_flags import service as flags
from kindling.resources.feature_flags.repository import FEATURE_FLAGS_REPO
from kindling.resources.permissions import service as permissions
from kindling.resources.permissions.model import Permission
from kindling.resources.permissions.repository import PERMISSIONS_REPO
from kindling.resources.properties import service as properties
from kindling.resources.properties.model import Property, PropertyCategory
from kindling.resources.properties.repository import PROPERTIES_REPO
from kindling.resources.roles import service as roles
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO
from tests.services.support import NOW, Boom, Outbox, Recorded, uid
from tests.storage import factories_access as rows

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def ev(type_: EventType, data: dict[str, Any]) -> Recorded:
    return Recorded(type_, data)


def fails(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> None:
    """``call`` raises ``error`` with ``code`` and commits no event."""
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code
    assert outbox.recorded() == []


def dumped(outbox: Outbox) -> str:
    """Every committed event's data as JSON text, to look for leaked secrets."""
    return json.dumps([e.data for e in outbox.events()])


# --- roles --------------------------------------------------------------------------


def new_role(storage: Storage, clock: FrozenClock, **body: Any) -> Role:
    return roles.create_role(
        storage, clock, {"name": f"Role {uid()}", "key": f"role_{uid()}", **body}
    )


def new_permission(storage: Storage, clock: FrozenClock, **body: Any) -> Permission:
    return permissions.create_permission(
        storage, clock, {"name": f"Perm {uid()}", "key": f"perm:{uid()}", **body}
    )


def role_data(role: Role, **changes: Any) -> dict[str, Any]:
    data = {
        "id": role.id,
        "key": role.key,
        "name": role.name,
        "description": role.description,
        "is_default_role": role.is_default_role,
        "assignment_permission_id": role.assignment_permission_id,
    }
    return {**data, **changes}


def read_role(storage: Storage, role_id: str) -> Role | None:
    with storage.read() as uow:
        return uow[ROLES_REPO].get(role_id)


def test_create_role_records_role_created(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    permission = new_permission(storage, clock)
    outbox.mark()
    role = roles.create_role(
        storage,
        clock,
        {
            "name": "Editor",
            "key": f"editor_{uid()}",
            "description": "Edits things",
            "is_default_role": True,
            "assignment_permission_id": permission.id,
        },
    )
    assert outbox.recorded() == [
        ev(
            EventType.ROLE_CREATED,
            {
                "role": {
                    "id": role.id,
                    "key": role.key,
                    "name": "Editor",
                    "description": "Edits things",
                    "is_default_role": True,
                    "assignment_permission_id": permission.id,
                }
            },
        )
    ]
    assert read_role(storage, role.id) == role


def test_failed_role_creations_record_nothing_and_store_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    taken = new_role(storage, clock)
    key = f"role_{uid()}"
    fails(
        outbox,
        ValidationError,
        "NAME_REQUIRED",
        lambda: roles.create_role(storage, clock, {"key": key}),
    )
    fails(
        outbox,
        AlreadyExists,
        "ROLE_KEY_EXISTS",
        lambda: roles.create_role(storage, clock, {"name": "Twin", "key": taken.key}),
    )
    fails(
        outbox,
        NotFound,
        "PERMISSION_NOT_FOUND",
        lambda: roles.create_role(
            storage, clock, {"name": "R", "key": key, "assignment_permission_id": "perm_nope"}
        ),
    )
    fails(outbox, ValidationError, "INVALID_BODY", lambda: roles.create_role(storage, clock, []))
    with storage.read() as uow:
        assert uow[ROLES_REPO].get_by_key(key) is None


def test_update_role_records_the_changed_fields_only_when_something_changed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock, description="old")
    outbox.mark()
    roles.update_role(storage, role.id, {"name": "Renamed", "key": role.key, "description": None})
    assert outbox.take() == [
        ev(
            EventType.ROLE_UPDATED,
            {
                "role": role_data(role, name="Renamed", description=None),
                "updated_fields": ["name", "description"],
            },
        )
    ]
    # The same values again (an absent description stays as it is): nothing changed.
    roles.update_role(storage, role.id, {"name": "Renamed", "key": role.key})
    assert outbox.take() == []


def test_failed_role_updates_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock)
    other = new_role(storage, clock)
    fails(
        outbox,
        NotFound,
        "ROLE_NOT_FOUND",
        lambda: roles.update_role(storage, "role_nope", {"name": "X", "key": f"k_{uid()}"}),
    )
    fails(
        outbox,
        AlreadyExists,
        "ROLE_KEY_EXISTS",
        lambda: roles.update_role(storage, role.id, {"name": "X", "key": other.key}),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_IS_DEFAULT_ROLE",
        lambda: roles.update_role(
            storage, role.id, {"name": "X", "key": role.key, "is_default_role": "yes"}
        ),
    )
    assert read_role(storage, role.id) == role


def test_delete_role_records_role_deleted_once(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock)
    outbox.mark()
    roles.delete_role(storage, role.id)
    assert outbox.take() == [ev(EventType.ROLE_DELETED, {"role": {"id": role.id}})]
    fails(outbox, NotFound, "ROLE_NOT_FOUND", lambda: roles.delete_role(storage, role.id))


def test_bulk_role_permissions_record_one_event_per_link_changed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock)
    first, second, third = (new_permission(storage, clock) for _ in range(3))
    outbox.mark()
    roles.update_role_permissions(
        storage,
        role.id,
        [{"id": first.id}, {"id": second.id}, {"id": third.id, "operation": "delete"}],
    )
    link = {"role": {"id": role.id}}
    assert outbox.take() == [
        ev(EventType.ROLE_PERMISSION_ADDED, {**link, "permission": {"id": first.id}}),
        ev(EventType.ROLE_PERMISSION_ADDED, {**link, "permission": {"id": second.id}}),
    ]
    # Adding one it has and removing one it has: only the removal is a change.
    roles.update_role_permissions(
        storage, role.id, [{"id": first.id}, {"id": second.id, "operation": "delete"}]
    )
    assert outbox.take() == [
        ev(EventType.ROLE_PERMISSION_REMOVED, {**link, "permission": {"id": second.id}})
    ]
    roles.remove_role_permission(storage, role.id, first.id)
    assert outbox.take() == [
        ev(EventType.ROLE_PERMISSION_REMOVED, {**link, "permission": {"id": first.id}})
    ]


def test_failed_role_permission_changes_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock)
    permission = new_permission(storage, clock)
    fails(
        outbox,
        NotFound,
        "PERMISSION_NOT_FOUND",
        lambda: roles.update_role_permissions(
            storage, role.id, [{"id": permission.id}, {"id": "perm_nope"}]
        ),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_PERMISSIONS",
        lambda: roles.update_role_permissions(storage, role.id, [None]),
    )
    fails(
        outbox,
        ValidationError,
        "DUPLICATE_PERMISSION",
        lambda: roles.update_role_permissions(
            storage, role.id, [{"id": permission.id}, {"id": permission.id}]
        ),
    )
    fails(
        outbox,
        NotFound,
        "ROLE_PERMISSION_NOT_FOUND",
        lambda: roles.remove_role_permission(storage, role.id, permission.id),
    )
    with storage.read() as uow:
        assert uow[ROLES_REPO].permission_ids(role.id) == set()


def test_role_scopes_record_adding_and_removing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock)
    api, (scope,) = rows.add_api(storage, f"read:{uid()}")
    outbox.mark()
    roles.add_role_scope(storage, role.id, {"scope_id": scope.id})
    data = {"role": {"id": role.id}, "scope": {"id": scope.id, "key": scope.key, "api_id": api.id}}
    assert outbox.take() == [ev(EventType.ROLE_SCOPE_ADDED, data)]
    fails(
        outbox,
        AlreadyExists,
        "ROLE_SCOPE_EXISTS",
        lambda: roles.add_role_scope(storage, role.id, {"scope_id": scope.id}),
    )
    fails(
        outbox,
        ValidationError,
        "SCOPE_ID_REQUIRED",
        lambda: roles.add_role_scope(storage, role.id, {}),
    )
    roles.delete_role_scope(storage, role.id, scope.id)
    assert outbox.take() == [ev(EventType.ROLE_SCOPE_REMOVED, data)]
    fails(
        outbox,
        NotFound,
        "ROLE_SCOPE_NOT_FOUND",
        lambda: roles.delete_role_scope(storage, role.id, scope.id),
    )


def test_role_system_permissions_record_one_event_per_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    role = new_role(storage, clock)
    billing, members = roles.SYSTEM_PERMISSIONS[2], roles.SYSTEM_PERMISSIONS[4]
    outbox.mark()
    roles.update_role_system_permissions(
        storage, role.id, [{"id": billing.id}, {"id": members.key}]
    )
    link = {"role": {"id": role.id}}
    assert outbox.take() == [
        ev(
            EventType.ROLE_SYSTEM_PERMISSION_ADDED,
            {**link, "system_permission": {"id": billing.id, "key": billing.key}},
        ),
        ev(
            EventType.ROLE_SYSTEM_PERMISSION_ADDED,
            {**link, "system_permission": {"id": members.id, "key": members.key}},
        ),
    ]
    roles.update_role_system_permissions(
        storage, role.id, [{"id": billing.id, "operation": "delete"}, {"id": members.id}]
    )
    assert outbox.take() == [
        ev(
            EventType.ROLE_SYSTEM_PERMISSION_REMOVED,
            {**link, "system_permission": {"id": billing.id, "key": billing.key}},
        )
    ]
    fails(
        outbox,
        NotFound,
        "SYSTEM_PERMISSION_NOT_FOUND",
        lambda: roles.update_role_system_permissions(
            storage, role.id, [{"id": billing.id}, {"id": "org:nope"}]
        ),
    )
    with storage.read() as uow:
        assert uow[ROLES_REPO].system_permission_keys(role.id) == {members.key}


# --- permissions --------------------------------------------------------------------


def read_permission(storage: Storage, permission_id: str) -> Permission | None:
    with storage.read() as uow:
        return uow[PERMISSIONS_REPO].get(permission_id)


def test_permission_lifecycle_records_kindes_permission_events(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    key = f"read:{uid()}"
    permission = permissions.create_permission(
        storage, clock, {"name": "Read", "key": key, "description": "Reads"}
    )
    data = {"id": permission.id, "key": key, "name": "Read", "description": "Reads"}
    assert outbox.take() == [ev(EventType.PERMISSION_CREATED, {"permission": data})]

    permissions.update_permission(storage, permission.id, {"description": "Reads more"})
    assert outbox.take() == [
        ev(
            EventType.PERMISSION_UPDATED,
            {
                "permission": {**data, "description": "Reads more"},
                "updated_fields": ["description"],
            },
        )
    ]
    permissions.update_permission(storage, permission.id, {"name": "Read"})
    assert outbox.take() == []

    permissions.delete_permission(storage, permission.id)
    assert outbox.take() == [
        ev(EventType.PERMISSION_DELETED, {"permission": {"id": permission.id}})
    ]
    assert read_permission(storage, permission.id) is None


def test_failed_permission_calls_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    permission = new_permission(storage, clock)
    other = new_permission(storage, clock)
    fails(
        outbox,
        AlreadyExists,
        "PERMISSION_KEY_EXISTS",
        lambda: permissions.create_permission(storage, clock, {"name": "X", "key": other.key}),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_KEY",
        lambda: permissions.create_permission(storage, clock, {"name": "X", "key": "a b"}),
    )
    fails(
        outbox,
        AlreadyExists,
        "PERMISSION_KEY_EXISTS",
        lambda: permissions.update_permission(storage, permission.id, {"key": other.key}),
    )
    fails(
        outbox,
        ValidationError,
        "NO_FIELDS_TO_UPDATE",
        lambda: permissions.update_permission(storage, permission.id, {"name": None}),
    )
    fails(
        outbox,
        NotFound,
        "PERMISSION_NOT_FOUND",
        lambda: permissions.delete_permission(storage, "perm_nope"),
    )
    assert read_permission(storage, permission.id) == permission


# --- properties ---------------------------------------------------------------------


def new_category(storage: Storage, clock: FrozenClock, context: str = "usr") -> PropertyCategory:
    return properties.create_category(storage, clock, {"name": f"Cat {uid()}", "context": context})


def new_property(
    storage: Storage, clock: FrozenClock, context: str = "usr", **body: Any
) -> Property:
    category = new_category(storage, clock, context)
    return properties.create_property(
        storage,
        clock,
        {
            "name": f"Prop {uid()}",
            "key": f"prop_{uid()}",
            "type": "single_line_text",
            "context": context,
            "is_private": False,
            "category_id": category.id,
            **body,
        },
    )


def test_categories_record_creation_and_renaming(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    category = properties.create_category(storage, clock, {"name": "Billing", "context": "org"})
    data = {"id": category.id, "name": "Billing", "context": "org"}
    assert outbox.take() == [ev(EventType.PROPERTY_CATEGORY_CREATED, {"property_category": data})]
    properties.update_category(storage, category.id, {"name": "Invoices"})
    assert outbox.take() == [
        ev(
            EventType.PROPERTY_CATEGORY_UPDATED,
            {"property_category": {**data, "name": "Invoices"}, "updated_fields": ["name"]},
        )
    ]
    properties.update_category(storage, category.id, {"name": "Invoices"})
    properties.update_category(storage, category.id, {})
    assert outbox.take() == []
    fails(
        outbox,
        NotFound,
        "CATEGORY_NOT_FOUND",
        lambda: properties.update_category(storage, "cat_nope", {"name": "X"}),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_CONTEXT",
        lambda: properties.create_category(storage, clock, {"name": "X", "context": "env"}),
    )


def test_property_definitions_record_their_events(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    category = new_category(storage, clock)
    key = f"prop_{uid()}"
    outbox.mark()
    prop = properties.create_property(
        storage,
        clock,
        {
            "name": "Plan",
            "key": key,
            "type": "single_line_text",
            "context": "usr",
            "is_private": False,
            "category_id": category.id,
        },
    )
    data = {
        "id": prop.id,
        "key": key,
        "context": "usr",
        "name": "Plan",
        "type": "single_line_text",
        "is_private": False,
        "category_id": category.id,
        "description": None,
    }
    assert outbox.take() == [ev(EventType.PROPERTY_CREATED, {"property": data})]
    body = {"name": "Plan", "is_private": True, "category_id": category.id, "description": "Tier"}
    properties.update_property(storage, prop.id, body)
    assert outbox.take() == [
        ev(
            EventType.PROPERTY_UPDATED,
            {
                "property": {**data, "is_private": True, "description": "Tier"},
                "updated_fields": ["is_private", "description"],
            },
        )
    ]
    properties.update_property(storage, prop.id, body)
    assert outbox.take() == []
    properties.delete_property(storage, prop.id)
    assert outbox.take() == [
        ev(EventType.PROPERTY_DELETED, {"property": {"id": prop.id, "key": key}})
    ]


def test_failed_property_definitions_record_nothing_and_store_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    taken = new_property(storage, clock)
    org_category = new_category(storage, clock, "org")
    key = f"prop_{uid()}"
    body = {
        "name": "P",
        "key": key,
        "type": "single_line_text",
        "context": "usr",
        "is_private": False,
        "category_id": org_category.id,
    }
    fails(
        outbox,
        ValidationError,
        "CATEGORY_CONTEXT_MISMATCH",
        lambda: properties.create_property(storage, clock, body),
    )
    fails(
        outbox,
        AlreadyExists,
        "PROPERTY_KEY_EXISTS",
        lambda: properties.create_property(
            storage, clock, {**body, "key": taken.key, "category_id": taken.category_id}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "IS_PRIVATE_REQUIRED",
        lambda: properties.update_property(
            storage, taken.id, {"name": "P", "category_id": taken.category_id}
        ),
    )
    fails(outbox, NotFound, "PROPERTY_NOT_FOUND", lambda: properties.delete_property(storage, "p"))
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get_by_key(key) is None
        assert uow[PROPERTIES_REPO].get(taken.id) == taken


def test_property_values_record_one_event_per_value_that_changed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    plan, seat = new_property(storage, clock), new_property(storage, clock)
    user = rows.add_user(storage)
    outbox.mark()
    properties.update_values(
        storage, "usr", user.id, {"properties": {plan.key: "pro", seat.key: 3}}
    )
    subject = {"user": {"id": user.id}}
    assert outbox.take() == [
        ev(
            EventType.PROPERTY_VALUE_UPDATED,
            {"property": {"id": plan.id, "key": plan.key}, **subject, "value": "pro"},
        ),
        ev(
            EventType.PROPERTY_VALUE_UPDATED,
            {"property": {"id": seat.id, "key": seat.key}, **subject, "value": "3"},
        ),
    ]
    # The same plan again and a new seat count: only the seat changed.
    properties.update_values(
        storage, "usr", user.id, {"properties": {plan.key: "pro", seat.key: "4"}}
    )
    assert outbox.take() == [
        ev(
            EventType.PROPERTY_VALUE_UPDATED,
            {"property": {"id": seat.id, "key": seat.key}, **subject, "value": "4"},
        )
    ]
    properties.update_values(storage, "usr", user.id, {"properties": {plan.key: None}})
    assert outbox.take() == [
        ev(
            EventType.PROPERTY_VALUE_DELETED,
            {"property": {"id": plan.id, "key": plan.key}, **subject},
        )
    ]
    properties.update_values(storage, "usr", user.id, {"properties": {plan.key: None}})
    assert outbox.take() == []


def test_property_values_name_organizations_and_applications_as_kinde_does(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org_prop, app_prop = new_property(storage, clock, "org"), new_property(storage, clock, "app")
    org, app = rows.add_org(storage), rows.add_app(storage)
    outbox.mark()
    properties.update_values(storage, "org", org.code, {"properties": {org_prop.key: "eu"}})
    properties.update_value(storage, "app", app.id, app_prop.key, True)
    assert outbox.take() == [
        ev(
            EventType.PROPERTY_VALUE_UPDATED,
            {
                "property": {"id": org_prop.id, "key": org_prop.key},
                "organization": {"code": org.code},
                "value": "eu",
            },
        ),
        ev(
            EventType.PROPERTY_VALUE_UPDATED,
            {
                "property": {"id": app_prop.id, "key": app_prop.key},
                "application": {"id": app.id},
                "value": "true",
            },
        ),
    ]


def test_failed_value_updates_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    plan = new_property(storage, clock)
    org_prop = new_property(storage, clock, "org")
    user = rows.add_user(storage)
    properties.update_values(storage, "usr", user.id, {"properties": {plan.key: "free"}})
    fails(
        outbox,
        ValidationError,
        "PROPERTY_NOT_FOUND",
        lambda: properties.update_values(
            storage, "usr", user.id, {"properties": {plan.key: "pro", "nope_key": "x"}}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "PROPERTY_CONTEXT_MISMATCH",
        lambda: properties.update_values(
            storage, "usr", user.id, {"properties": {plan.key: "pro", org_prop.key: "x"}}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "PROPERTY_VALUE_TOO_LONG",
        lambda: properties.update_value(storage, "usr", user.id, plan.key, "x" * 300),
    )
    fails(
        outbox,
        NotFound,
        "USER_NOT_FOUND",
        lambda: properties.update_values(
            storage, "usr", "kp_nope", {"properties": {plan.key: "a"}}
        ),
    )
    values = {v.property.id: v.value for v in properties.get_values(storage, "usr", user.id)}
    assert values[plan.id] == "free"


# --- feature flags ------------------------------------------------------------------


def new_flag(storage: Storage, clock: FrozenClock, level: str = "usr") -> str:
    key = f"flag_{uid()}"
    flags.create_flag(
        storage,
        clock,
        {
            "name": "Theme",
            "key": key,
            "type": "str",
            "default_value": "light",
            "allow_override_level": level,
        },
    )
    return key


def flag_ref(storage: Storage, key: str) -> dict[str, str]:
    with storage.read() as uow:
        flag = uow[FEATURE_FLAGS_REPO].get_by_key(key)
    assert flag is not None
    return {"id": flag.id, "key": key}


def test_flag_definitions_record_their_events(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    key = f"flag_{uid()}"
    flag = flags.create_flag(
        storage,
        clock,
        {"name": "Dark mode", "key": key, "type": "bool", "default_value": "false"},
    )
    data = {
        "id": flag.id,
        "key": key,
        "name": "Dark mode",
        "type": "bool",
        "default_value": "false",
        "allow_override_level": "env",
        "description": None,
    }
    assert outbox.take() == [ev(EventType.FEATURE_FLAG_CREATED, {"feature_flag": data})]
    query = {
        "name": "Dark mode",
        "type": "bool",
        "allow_override_level": "org",
        "default_value": "true",
    }
    flags.update_flag(storage, key, query)
    assert outbox.take() == [
        ev(
            EventType.FEATURE_FLAG_UPDATED,
            {
                "feature_flag": {**data, "default_value": "true", "allow_override_level": "org"},
                "updated_fields": ["default_value", "allow_override_level"],
            },
        )
    ]
    flags.update_flag(storage, key, query)
    assert outbox.take() == []
    flags.delete_flag(storage, key)
    assert outbox.take() == [
        ev(EventType.FEATURE_FLAG_DELETED, {"feature_flag": {"id": flag.id, "key": key}})
    ]
    fails(outbox, NotFound, "FEATURE_FLAG_NOT_FOUND", lambda: flags.delete_flag(storage, key))


def test_failed_flag_definitions_record_nothing_and_store_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    taken = new_flag(storage, clock)
    body = {"name": "F", "key": taken, "type": "str", "default_value": "x"}
    fails(
        outbox,
        AlreadyExists,
        "FEATURE_FLAG_EXISTS",
        lambda: flags.create_flag(storage, clock, body),
    )
    fresh = f"flag_{uid()}"
    fails(
        outbox,
        ValidationError,
        "INVALID_DEFAULT_VALUE",
        lambda: flags.create_flag(
            storage, clock, {**body, "key": fresh, "type": "int", "default_value": "ten"}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_ALLOW_OVERRIDE_LEVEL",
        lambda: flags.update_flag(
            storage,
            taken,
            {"name": "F", "type": "str", "allow_override_level": "all", "default_value": "x"},
        ),
    )
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].get_by_key(fresh) is None


def test_environment_overrides_record_each_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    first, second = new_flag(storage, clock), new_flag(storage, clock)
    ref1, ref2 = flag_ref(storage, first), flag_ref(storage, second)
    outbox.mark()
    flags.set_environment_value(storage, first, "dark")
    flags.set_environment_value(storage, first, "dark")
    flags.set_environment_value(storage, second, "blue")
    env = {"level": "env"}
    assert outbox.take() == [
        ev(EventType.FEATURE_FLAG_OVERRIDE_UPDATED, {"feature_flag": ref1, **env, "value": "dark"}),
        ev(EventType.FEATURE_FLAG_OVERRIDE_UPDATED, {"feature_flag": ref2, **env, "value": "blue"}),
    ]
    flags.delete_environment_value(storage, first)
    flags.delete_environment_value(storage, first)
    assert outbox.take() == [
        ev(EventType.FEATURE_FLAG_OVERRIDE_DELETED, {"feature_flag": ref1, **env})
    ]
    flags.set_environment_value(storage, first, "dim")
    outbox.mark()
    flags.clear_environment_values(storage)
    cleared = outbox.take()
    # One event per flag that had an override (the shared PostgreSQL schema may hold more).
    assert ev(EventType.FEATURE_FLAG_OVERRIDE_DELETED, {"feature_flag": ref1, **env}) in cleared
    assert ev(EventType.FEATURE_FLAG_OVERRIDE_DELETED, {"feature_flag": ref2, **env}) in cleared
    assert all(e.type == EventType.FEATURE_FLAG_OVERRIDE_DELETED for e in cleared)
    assert len(cleared) == len({json.dumps(e.data, sort_keys=True) for e in cleared})
    flags.clear_environment_values(storage)
    assert outbox.take() == []
    fails(
        outbox,
        ValidationError,
        "INVALID_VALUE",
        lambda: flags.set_environment_value(storage, first, 7),
    )


def test_organization_overrides_record_each_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    first, second = new_flag(storage, clock, "org"), new_flag(storage, clock, "org")
    env_only = new_flag(storage, clock, "env")
    ref1, ref2 = flag_ref(storage, first), flag_ref(storage, second)
    org = rows.add_org(storage)
    outbox.mark()
    flags.set_organization_value(storage, org.code, first, "dark")
    flags.set_organization_value(storage, org.code, first, "dark")
    flags.set_organization_value(storage, org.code, second, "blue")
    scope = {"level": "org", "organization": {"code": org.code}}
    assert outbox.take() == [
        ev(
            EventType.FEATURE_FLAG_OVERRIDE_UPDATED,
            {"feature_flag": ref1, **scope, "value": "dark"},
        ),
        ev(
            EventType.FEATURE_FLAG_OVERRIDE_UPDATED,
            {"feature_flag": ref2, **scope, "value": "blue"},
        ),
    ]
    flags.delete_organization_value(storage, org.code, first)
    flags.delete_organization_value(storage, org.code, first)
    assert outbox.take() == [
        ev(EventType.FEATURE_FLAG_OVERRIDE_DELETED, {"feature_flag": ref1, **scope})
    ]
    flags.set_organization_value(storage, org.code, first, "dim")
    outbox.mark()
    flags.clear_organization_values(storage, org.code)
    assert sorted(outbox.take(), key=lambda e: e.data["feature_flag"]["key"]) == sorted(
        [
            ev(EventType.FEATURE_FLAG_OVERRIDE_DELETED, {"feature_flag": ref1, **scope}),
            ev(EventType.FEATURE_FLAG_OVERRIDE_DELETED, {"feature_flag": ref2, **scope}),
        ],
        key=lambda e: e.data["feature_flag"]["key"],
    )
    fails(
        outbox,
        ValidationError,
        "OVERRIDE_NOT_ALLOWED",
        lambda: flags.set_organization_value(storage, org.code, env_only, "x"),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: flags.clear_organization_values(storage, "org_nope"),
    )
    assert {v.key: v.value for v in flags.organization_values(storage, org.code)}[first] == "light"


def test_user_overrides_record_each_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    key, org_level = new_flag(storage, clock, "usr"), new_flag(storage, clock, "org")
    user = rows.add_user(storage)
    outbox.mark()
    flags.set_user_value(storage, user.id, key, "dark")
    flags.set_user_value(storage, user.id, key, "dark")
    assert outbox.take() == [
        ev(
            EventType.FEATURE_FLAG_OVERRIDE_UPDATED,
            {
                "feature_flag": flag_ref(storage, key),
                "level": "usr",
                "user": {"id": user.id},
                "value": "dark",
            },
        )
    ]
    fails(
        outbox,
        ValidationError,
        "OVERRIDE_NOT_ALLOWED",
        lambda: flags.set_user_value(storage, user.id, org_level, "x"),
    )
    fails(
        outbox,
        NotFound,
        "USER_NOT_FOUND",
        lambda: flags.set_user_value(storage, "kp_nope", key, "x"),
    )


# --- environment --------------------------------------------------------------------


def test_passkey_policy_records_environment_updated_when_it_changes(
    storage: Storage, outbox: Outbox
) -> None:
    with storage.transaction() as uow:  # the environment row, as the first run makes it
        if uow[ENVIRONMENT_REPO].get_issuer() is None:
            uow[ENVIRONMENT_REPO].set_issuer("https://kindling.test", NOW)
    environment.set_passkey_policy(storage, "optional")
    outbox.mark()
    environment.set_passkey_policy(storage, "mandatory")
    environment.set_passkey_policy(storage, "mandatory")
    assert outbox.take() == [
        ev(
            EventType.ENVIRONMENT_UPDATED,
            {"environment": {"passkey_policy": "mandatory"}, "updated_fields": ["passkey_policy"]},
        )
    ]
    fails(
        outbox,
        ValidationError,
        "INVALID_POLICY",
        lambda: environment.set_passkey_policy(storage, "sometimes"),
    )
    assert environment.passkey_policy(storage) == "mandatory"


def test_environment_logos_record_their_type_and_never_their_bytes(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    environment.delete_logo(storage, "dark")
    outbox.mark()
    environment.set_logo(storage, clock, "dark", PNG)
    assert outbox.take() == [
        ev(
            EventType.ENVIRONMENT_LOGO_UPDATED,
            {"logo": {"type": "dark", "content_type": "image/png"}},
        )
    ]
    assert environment.delete_logo(storage, "dark") is True
    assert environment.delete_logo(storage, "dark") is False
    assert outbox.take() == [ev(EventType.ENVIRONMENT_LOGO_DELETED, {"logo": {"type": "dark"}})]
    fails(
        outbox,
        ValidationError,
        "INVALID_LOGO_FORMAT",
        lambda: environment.set_logo(storage, clock, "dark", b"not an image"),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_LOGO_TYPE",
        lambda: environment.delete_logo(storage, "purple"),
    )


# --- applications -------------------------------------------------------------------


def new_app(context: Context, **fields: Any) -> applications.CreatedApplication:
    return applications.create_application(
        context.storage,
        context.hasher,
        context.clock,
        fields.pop("name", f"App {uid()}"),
        "m2m",
        **fields,
    )


def app_ref(app_id: str) -> dict[str, Any]:
    return {"application": {"id": app_id}}


def test_create_application_records_application_created_without_the_secret(
    context: Context, outbox: Outbox
) -> None:
    org = rows.add_org(context.storage)
    outbox.mark()
    created = new_app(context, name="Billing worker", org_code=org.code)
    app = created.application
    assert outbox.recorded() == [
        ev(
            EventType.APPLICATION_CREATED,
            {
                "application": {
                    "id": app.id,
                    "name": "Billing worker",
                    "type": "m2m",
                    "org_code": org.code,
                }
            },
        )
    ]
    assert created.client_secret not in dumped(outbox)
    fails(
        outbox,
        ValidationError,
        "INVALID_APPLICATION_TYPE",
        lambda: applications.create_application(
            context.storage, context.hasher, context.clock, "X", "desktop"
        ),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: new_app(context, org_code="org_nope"),
    )


def test_update_application_records_the_fields_that_changed(
    context: Context, outbox: Outbox
) -> None:
    storage = context.storage
    app = new_app(context, name="Before").application
    outbox.mark()
    body = {
        "name": "After",
        "has_cancel_button": True,
        "login_uri": "https://app.example.com/login",
        "redirect_uris": ["https://app.example.com/cb"],
    }
    applications.update_application(storage, app.id, body)
    summary = {"id": app.id, "name": "After", "type": "m2m", "org_code": None}
    assert outbox.take() == [
        ev(
            EventType.APPLICATION_UPDATED,
            {
                "application": summary,
                "updated_fields": ["name", "has_cancel_button", "login_uri", "redirect_uris"],
            },
        )
    ]
    applications.update_application(storage, app.id, body)
    assert outbox.take() == []
    applications.update_tokens(
        storage, app.id, {"access_token_lifetime": 600, "id_token_lifetime": 900}
    )
    applications.update_tokens(storage, app.id, {"access_token_lifetime": 600})
    assert outbox.take() == [
        ev(
            EventType.APPLICATION_UPDATED,
            {
                "application": summary,
                "updated_fields": ["access_token_lifetime", "id_token_lifetime"],
            },
        )
    ]
    applications.change_urls(storage, app.id, "logout", ["https://app.example.com/bye"], "add")
    applications.change_urls(storage, app.id, "logout", ["https://app.example.com/bye"], "add")
    assert outbox.take() == [
        ev(
            EventType.APPLICATION_UPDATED,
            {"application": summary, "updated_fields": ["logout_uris"]},
        )
    ]


def test_failed_application_updates_record_nothing_and_change_nothing(
    context: Context, outbox: Outbox
) -> None:
    storage = context.storage
    app = new_app(context).application
    fails(
        outbox,
        ValidationError,
        "INVALID_HAS_CANCEL_BUTTON",
        lambda: applications.update_application(
            storage, app.id, {"name": "X", "has_cancel_button": "yes"}
        ),
    )
    fails(
        outbox,
        NotFound,
        "APPLICATION_NOT_FOUND",
        lambda: applications.update_application(storage, "nope", {"name": "X"}),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_ACCESS_TOKEN_LIFETIME",
        lambda: applications.update_tokens(storage, app.id, {"access_token_lifetime": 5}),
    )
    fails(
        outbox,
        NotFound,
        "URL_NOT_FOUND",
        lambda: applications.change_urls(
            storage, app.id, "redirect", ["https://nowhere.example.com"], "remove"
        ),
    )
    assert applications.get_application(storage, app.id) == app
    assert applications.get_urls(storage, app.id, "redirect") == []


def test_access_control_refusals_record_nothing_and_change_nothing(
    context: Context, outbox: Outbox
) -> None:
    """Kinde's access-control rules: an M2M application takes no access role and cannot
    enable access control; another application enables it only with a role allowed."""
    storage = context.storage
    m2m = new_app(context).application
    web = applications.create_application(
        storage, context.hasher, context.clock, f"Web {uid()}", "reg"
    ).application
    role = rows.add_role(storage)
    enable = {"name": "Renamed", "is_access_control_enabled": True}
    fails(
        outbox,
        ValidationError,
        "APPLICATION_TYPE_NOT_SUPPORTED",
        lambda: applications.set_access_role(storage, m2m.id, role.id, True),
    )
    fails(
        outbox,
        ValidationError,
        "ACCESS_CONTROL_NOT_SUPPORTED",
        lambda: applications.update_application(storage, m2m.id, enable),
    )
    fails(
        outbox,
        ValidationError,
        "ACCESS_ROLES_REQUIRED",
        lambda: applications.update_application(storage, web.id, enable),
    )
    assert applications.list_access_roles(storage, m2m.id, None, None, 10) == ([], False)
    for app in (m2m, web):
        assert applications.get_application(storage, app.id) == app
        assert "is_access_control_enabled" not in app.settings
    # Switching it off is always fine, and with a role allowed it can be switched on.
    applications.update_application(storage, m2m.id, {"is_access_control_enabled": False})
    applications.set_access_role(storage, web.id, role.id, True)
    outbox.mark()
    applications.update_application(storage, web.id, {"is_access_control_enabled": True})
    assert outbox.take() == [
        ev(
            EventType.APPLICATION_UPDATED,
            {
                "application": applications.application_data(web),
                "updated_fields": ["is_access_control_enabled"],
            },
        )
    ]
    found = applications.get_application(storage, web.id)
    assert found.settings["is_access_control_enabled"] is True


def test_delete_application_records_application_deleted(context: Context, outbox: Outbox) -> None:
    app = new_app(context).application
    outbox.mark()
    applications.delete_application(context.storage, app.id)
    assert outbox.take() == [ev(EventType.APPLICATION_DELETED, app_ref(app.id))]
    fails(
        outbox,
        NotFound,
        "APPLICATION_NOT_FOUND",
        lambda: applications.delete_application(context.storage, app.id),
    )


def test_access_roles_and_connections_record_each_change_once(
    context: Context, outbox: Outbox
) -> None:
    storage = context.storage
    # Access roles are for applications people sign in to (an M2M app takes none).
    app = applications.create_application(
        storage, context.hasher, context.clock, f"App {uid()}", "reg"
    ).application
    role = rows.add_role(storage)
    connection = rows.add_connection(storage)
    outbox.mark()
    applications.set_access_role(storage, app.id, role.id, True)
    applications.set_access_role(storage, app.id, role.id, True)
    applications.set_access_role(storage, app.id, role.id, False)
    with_role = {**app_ref(app.id), "role": {"id": role.id}}
    assert outbox.take() == [
        ev(EventType.APPLICATION_ACCESS_ROLE_ADDED, with_role),
        ev(EventType.APPLICATION_ACCESS_ROLE_REMOVED, with_role),
    ]
    applications.set_connection(storage, app.id, connection.id, True)
    applications.set_connection(storage, app.id, connection.id, True)
    applications.set_connection(storage, app.id, connection.id, False)
    with_connection = {**app_ref(app.id), "connection": {"id": connection.id}}
    assert outbox.take() == [
        ev(EventType.APPLICATION_CONNECTION_ENABLED, with_connection),
        ev(EventType.APPLICATION_CONNECTION_DISABLED, with_connection),
    ]
    fails(
        outbox,
        NotFound,
        "ROLE_NOT_FOUND",
        lambda: applications.set_access_role(storage, app.id, role.id, False),
    )
    fails(
        outbox,
        NotFound,
        "CONNECTION_NOT_FOUND",
        lambda: applications.set_connection(storage, app.id, connection.id, False),
    )
    fails(
        outbox,
        NotFound,
        "ROLE_NOT_FOUND",
        lambda: applications.set_access_role(storage, app.id, "role_nope", True),
    )


def test_rotate_secret_records_the_rotation_without_any_secret(
    context: Context, outbox: Outbox
) -> None:
    app = new_app(context).application
    outbox.mark()
    secret, expires_at = applications.rotate_secret(
        context.storage, context.hasher, context.clock, app.id, 60
    )
    (event,) = outbox.events()
    assert event.type == EventType.APPLICATION_SECRET_ROTATED
    assert event.data["application"] == {"id": app.id}
    assert event.data["previous_secrets_expire_at"] == expires_at
    assert set(event.data["secret"]) == {"id"}
    assert secret not in dumped(outbox)
    fails(
        outbox,
        ValidationError,
        "INVALID_GRACE_SECONDS",
        lambda: applications.rotate_secret(
            context.storage, context.hasher, context.clock, app.id, -1
        ),
    )
    fails(
        outbox,
        NotFound,
        "APPLICATION_NOT_FOUND",
        lambda: applications.rotate_secret(
            context.storage, context.hasher, context.clock, "nope", 60
        ),
    )


# --- apis ---------------------------------------------------------------------------


def test_api_and_scope_lifecycle_records_their_events(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    audience = f"https://{uid()}.example.com"
    api = apis.create_api(storage, clock, "Orders", audience)
    assert outbox.take() == [
        ev(
            EventType.API_CREATED,
            {
                "api": {
                    "id": api.id,
                    "name": "Orders",
                    "audience": audience,
                    "is_management_api": False,
                }
            },
        )
    ]
    scope = apis.add_scope(storage, api.id, "read:orders", "Read orders")
    data = {"id": scope.id, "key": "read:orders", "description": "Read orders"}
    assert outbox.take() == [
        ev(EventType.API_SCOPE_CREATED, {"api": {"id": api.id}, "scope": data})
    ]
    apis.update_scope(storage, api.id, scope.id, "Read every order")
    apis.update_scope(storage, api.id, scope.id, "Read every order")
    assert outbox.take() == [
        ev(
            EventType.API_SCOPE_UPDATED,
            {
                "api": {"id": api.id},
                "scope": {**data, "description": "Read every order"},
                "updated_fields": ["description"],
            },
        )
    ]
    apis.delete_scope(storage, api.id, scope.id)
    assert outbox.take() == [
        ev(
            EventType.API_SCOPE_DELETED,
            {"api": {"id": api.id}, "scope": {"id": scope.id, "key": "read:orders"}},
        )
    ]
    apis.delete_api(storage, api.id)
    assert outbox.take() == [ev(EventType.API_DELETED, {"api": {"id": api.id}})]


def test_failed_api_calls_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    api, (scope,) = rows.add_api(storage, "read:things")
    management = rows.make_api(management=True)
    fails(
        outbox,
        AlreadyExists,
        "AUDIENCE_EXISTS",
        lambda: apis.create_api(storage, clock, "Twin", api.audience),
    )
    fails(
        outbox,
        AlreadyExists,
        "SCOPE_EXISTS",
        lambda: apis.add_scope(storage, api.id, "read:things", None),
    )
    fails(
        outbox,
        NotFound,
        "SCOPE_NOT_FOUND",
        lambda: apis.update_scope(storage, api.id, "scope_nope", "x"),
    )
    fails(outbox, NotFound, "API_NOT_FOUND", lambda: apis.delete_api(storage, management.id))
    assert apis.list_scopes(storage, api.id) == [scope]


def test_management_api_creation_and_move_record_api_events(
    storage: Storage, outbox: Outbox
) -> None:
    first, second = f"https://{uid()}.example.com", f"https://{uid()}.example.com"
    with storage.transaction() as uow:
        api = apis.ensure_management_api(uow, first, "2024-01-01T00:00:00+00:00")
    (event,) = outbox.take()
    # A fresh SQLite file creates it; the shared PostgreSQL schema may already hold it.
    assert event.type in (EventType.API_CREATED, EventType.API_UPDATED)
    with storage.transaction() as uow:
        apis.ensure_management_api(uow, second, "2024-01-01T00:00:00+00:00")
    with storage.transaction() as uow:
        apis.ensure_management_api(uow, second, "2024-01-01T00:00:00+00:00")
    assert outbox.take() == [
        ev(
            EventType.API_UPDATED,
            {
                "api": {
                    "id": api.id,
                    "name": "Kinde Management API",
                    "audience": f"{second}/api",
                    "is_management_api": True,
                },
                "updated_fields": ["audience"],
            },
        )
    ]
    fails(
        outbox,
        ValidationError,
        "MANAGEMENT_API_NOT_DELETABLE",
        lambda: apis.delete_api(storage, api.id),
    )


def test_bulk_application_changes_record_one_event_per_application_changed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    api, _ = rows.add_api(storage)
    one, two = rows.add_app(storage), rows.add_app(storage)
    outbox.mark()
    apis.update_api_applications(
        storage, clock, api.id, [{"id": one.id}, {"id": two.id}, {"id": one.id}]
    )
    ref = {"id": api.id, "audience": api.audience}
    assert outbox.take() == [
        ev(EventType.API_APPLICATION_AUTHORIZED, {"api": ref, **app_ref(one.id), "scopes": []}),
        ev(EventType.API_APPLICATION_AUTHORIZED, {"api": ref, **app_ref(two.id), "scopes": []}),
    ]
    apis.update_api_applications(
        storage, clock, api.id, [{"id": one.id, "operation": "delete"}, {"id": two.id}]
    )
    assert outbox.take() == [
        ev(EventType.API_APPLICATION_DEAUTHORIZED, {"api": ref, **app_ref(one.id)})
    ]
    fails(
        outbox,
        NotFound,
        "APPLICATION_NOT_FOUND",
        lambda: apis.update_api_applications(
            storage, clock, api.id, [{"id": one.id}, {"id": "nope"}]
        ),
    )
    fails(
        outbox,
        ValidationError,
        "APPLICATION_ID_REQUIRED",
        lambda: apis.update_api_applications(storage, clock, api.id, [{"operation": "delete"}]),
    )
    assert [a.id for a in apis.get_api(storage, api.id).applications] == [two.id]


def test_authorizing_and_granting_scopes_record_each_change(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    api, (read, write) = rows.add_api(storage, "read:x", "write:x")
    app = rows.add_app(storage)
    outbox.mark()
    with storage.transaction() as uow:
        apis.authorize_application(uow, clock, app.id, api.audience, ["read:x"])
    ref = {"id": api.id, "audience": api.audience}
    assert outbox.take() == [
        ev(
            EventType.API_APPLICATION_AUTHORIZED,
            {"api": ref, **app_ref(app.id), "scopes": ["read:x"]},
        )
    ]
    with storage.transaction() as uow:
        apis.authorize_application(uow, clock, app.id, api.audience, None)
    grant = {"api": {"id": api.id}, **app_ref(app.id)}
    assert outbox.take() == [
        ev(
            EventType.API_APPLICATION_SCOPE_GRANTED,
            {**grant, "scope": {"id": write.id, "key": "write:x"}},
        )
    ]
    apis.set_application_scope(storage, api.id, app.id, read.id, granted=False)
    apis.set_application_scope(storage, api.id, app.id, read.id, granted=False)
    apis.set_application_scope(storage, api.id, app.id, read.id, granted=True)
    assert outbox.take() == [
        ev(
            EventType.API_APPLICATION_SCOPE_REVOKED,
            {**grant, "scope": {"id": read.id, "key": "read:x"}},
        ),
        ev(
            EventType.API_APPLICATION_SCOPE_GRANTED,
            {**grant, "scope": {"id": read.id, "key": "read:x"}},
        ),
    ]
    stranger = rows.add_app(storage)
    fails(
        outbox,
        ValidationError,
        "APPLICATION_NOT_AUTHORIZED",
        lambda: apis.set_application_scope(storage, api.id, stranger.id, read.id, granted=True),
    )


def test_console_access_changes_record_authorization_and_scope_events(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    api, (read, write) = rows.add_api(storage, "read:y", "write:y")
    app = rows.add_app(storage)
    outbox.mark()
    admin.set_application_api_access(storage, clock, app.id, api.id, True, ["write:y"])
    ref = {"id": api.id, "audience": api.audience}
    assert outbox.take() == [
        ev(
            EventType.API_APPLICATION_AUTHORIZED,
            {"api": ref, **app_ref(app.id), "scopes": ["write:y"]},
        )
    ]
    admin.set_application_api_access(storage, clock, app.id, api.id, True, ["read:y"])
    grant = {"api": {"id": api.id}, **app_ref(app.id)}
    assert outbox.take() == [
        ev(
            EventType.API_APPLICATION_SCOPE_GRANTED,
            {**grant, "scope": {"id": read.id, "key": "read:y"}},
        ),
        ev(
            EventType.API_APPLICATION_SCOPE_REVOKED,
            {**grant, "scope": {"id": write.id, "key": "write:y"}},
        ),
    ]
    fails(
        outbox,
        ValidationError,
        "SCOPE_NOT_FOUND",
        lambda: admin.set_application_api_access(storage, clock, app.id, api.id, True, ["nope"]),
    )
    admin.set_application_api_access(storage, clock, app.id, api.id, False, [])
    admin.set_application_api_access(storage, clock, app.id, api.id, False, [])
    assert outbox.take() == [
        ev(EventType.API_APPLICATION_DEAUTHORIZED, {"api": ref, **app_ref(app.id)})
    ]


# --- api keys -----------------------------------------------------------------------


def test_api_key_lifecycle_records_its_events_and_never_the_key(
    context: Context, outbox: Outbox
) -> None:
    storage, hasher, clock = context.storage, context.hasher, context.clock
    api, (scope,) = rows.add_api(storage, "read:keys")
    user = rows.add_user(storage)
    outbox.mark()
    issued = api_keys.create_api_key(
        storage,
        hasher,
        clock,
        {
            "name": "CI",
            "type": "user",
            "api_id": api.id,
            "scope_ids": [scope.id],
            "user_id": user.id,
        },
        created_by="client-1",
    )
    assert outbox.recorded() == [
        ev(
            EventType.API_KEY_CREATED,
            {
                "api_key": {
                    "id": issued.id,
                    "name": "CI",
                    "type": "user",
                    "status": "active",
                    "user_id": user.id,
                    "org_code": None,
                    "created_by": "client-1",
                    "api_id": api.id,
                    "scope_ids": [scope.id],
                }
            },
        )
    ]
    rotated = api_keys.rotate_api_key(storage, hasher, issued.id)
    assert api_keys.verify_api_key(storage, hasher, clock, rotated.key, "10.0.0.1").is_valid
    assert not api_keys.verify_api_key(storage, hasher, clock, issued.key, "10.0.0.1").is_valid
    api_keys.revoke_api_key(storage, issued.id)
    api_keys.revoke_api_key(storage, issued.id)
    assert not api_keys.verify_api_key(storage, hasher, clock, rotated.key, None).is_valid
    ref = {"api_key": {"id": issued.id}}
    assert outbox.recorded()[1:] == [
        # A verification is counted on the key but is no change to announce: no event.
        ev(EventType.API_KEY_ROTATED, ref),
        ev(EventType.API_KEY_REVOKED, ref),
    ]
    text = dumped(outbox)
    stored = api_keys.get_api_key(storage, issued.id)
    for secret in (issued.key, rotated.key, stored.key_hash):
        assert secret not in text


def test_failed_api_key_calls_record_nothing_and_store_nothing(
    context: Context, outbox: Outbox
) -> None:
    storage, hasher, clock = context.storage, context.hasher, context.clock
    api, _ = rows.add_api(storage)
    name = f"key-{uid()}"
    fails(
        outbox,
        NotFound,
        "API_NOT_FOUND",
        lambda: api_keys.create_api_key(
            storage, hasher, clock, {"name": name, "type": "environment", "api_id": "nope"}, None
        ),
    )
    fails(
        outbox,
        ValidationError,
        "SCOPE_NOT_FOUND",
        lambda: api_keys.create_api_key(
            storage,
            hasher,
            clock,
            {"name": name, "type": "environment", "api_id": api.id, "scope_ids": ["nope"]},
            None,
        ),
    )
    fails(
        outbox,
        ValidationError,
        "USER_ID_REQUIRED",
        lambda: api_keys.create_api_key(
            storage, hasher, clock, {"name": name, "type": "user", "api_id": api.id}, None
        ),
    )
    keys, _ = api_keys.list_api_keys(storage, None, 100, None, None, None, None)
    assert name not in {k.name for k in keys}
    issued = api_keys.create_api_key(
        storage, hasher, clock, {"name": name, "type": "environment", "api_id": api.id}, None
    )
    api_keys.revoke_api_key(storage, issued.id)
    fails(
        outbox,
        ValidationError,
        "API_KEY_REVOKED",
        lambda: api_keys.rotate_api_key(storage, hasher, issued.id),
    )
    fails(
        outbox,
        NotFound,
        "API_KEY_NOT_FOUND",
        lambda: api_keys.revoke_api_key(storage, "api_key_nope"),
    )
    outbox.mark()
    assert not api_keys.verify_api_key(storage, hasher, clock, "kinde_wrong", None).is_valid
    assert outbox.recorded() == []
    with storage.read() as uow:
        found = uow[API_KEYS_REPO].get(issued.id)
    assert found is not None and found.verification_count == 0


# --- admin console account ----------------------------------------------------------


def test_setting_the_owner_password_records_it_without_the_password(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    username = f"owner-{uid()}"
    first, second = "correct horse battery", "staple and more words"
    assert admin.set_password(storage, clock, first, username) is True
    with storage.read() as uow:
        account = uow[ADMIN_REPO].get_account(username)
    assert account is not None
    assert admin.set_password(storage, clock, second, username) is False
    ref = {"admin_account": {"id": account.id, "username": username}}
    assert outbox.recorded() == [
        ev(EventType.ADMIN_ACCOUNT_PASSWORD_CHANGED, {**ref, "account_created": True}),
        ev(EventType.ADMIN_ACCOUNT_PASSWORD_CHANGED, {**ref, "account_created": False}),
    ]
    text = dumped(outbox)
    with storage.read() as uow:
        stored = uow[ADMIN_REPO].get_account(username)
    assert stored is not None
    for secret in (first, second, account.password_hash, stored.password_hash):
        assert secret not in text
    fails(
        outbox,
        ValidationError,
        "PASSWORD_TOO_SHORT",
        lambda: admin.set_password(storage, clock, "short", username),
    )
    # Signing in (sessions, failure counters) is bookkeeping, not an event.
    outbox.mark()
    admin.sign_in(storage, clock, username, second, "10.0.0.1")
    with pytest.raises(admin.SignInFailed):
        admin.sign_in(storage, clock, username, first, "10.0.0.1")
    assert outbox.recorded() == []


# --- atomicity ----------------------------------------------------------------------


def test_an_exception_after_recording_rolls_back_the_change_and_the_event(
    context: Context, outbox: Outbox
) -> None:
    storage = context.storage
    api, _ = rows.add_api(storage, "read:z")
    outbox.mark()
    name = f"Doomed {uid()}"
    with pytest.raises(Boom), storage.transaction() as uow:
        created = applications.add_application(uow, context.hasher, context.clock, name, "m2m")
        apis.authorize_application(uow, context.clock, created.application.id, api.audience, None)
        assert [e.type for e in uow.events] == [
            EventType.APPLICATION_CREATED,
            EventType.API_APPLICATION_AUTHORIZED,
        ]
        raise Boom
    assert outbox.recorded() == []
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].get(created.application.id) is None
        assert uow[APIS_REPO].applications(api.id) == []
