"""In-transaction reactions to domain events, on both engines.

A resource registers a reaction for another resource's event (roles react to
``permission.deleted``); the unit of work runs it inside the recording transaction,
so the reaction's writes and the change commit or roll back together.
"""

from __future__ import annotations

import pytest

from kindling.clock import FrozenClock
from kindling.platform.event_types import EventType
from kindling.platform.outbox import OUTBOX_REPO
from kindling.platform.storage import Storage
from kindling.resources.permissions import service as permissions
from kindling.resources.roles import service as roles
from kindling.resources.roles.repository import ROLES_REPO
from tests.storage.conftest import Boom, uid


def test_deleting_a_permission_releases_it_as_a_roles_assignment_permission(
    storage: Storage,
) -> None:
    clock = FrozenClock(1_700_000_000)
    permission = permissions.create_permission(
        storage, clock, {"key": f"perm_{uid()}", "name": "P"}
    )
    role = roles.create_role(
        storage,
        clock,
        {"key": f"role_{uid()}", "name": "R", "assignment_permission_id": permission.id},
    )
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id).assignment_permission_id == permission.id  # type: ignore[union-attr]
    permissions.delete_permission(storage, permission.id)
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id).assignment_permission_id is None  # type: ignore[union-attr]


def test_a_reaction_runs_in_the_recording_transaction(storage: Storage) -> None:
    """If the transaction fails after the reaction ran, neither the reaction's writes nor
    the event survive."""
    clock = FrozenClock(1_700_000_000)
    permission = permissions.create_permission(
        storage, clock, {"key": f"perm_{uid()}", "name": "P"}
    )
    role = roles.create_role(
        storage,
        clock,
        {"key": f"role_{uid()}", "name": "R", "assignment_permission_id": permission.id},
    )
    with storage.read() as uow:
        before = uow[OUTBOX_REPO].after(None, 1_000_000)
    with pytest.raises(Boom), storage.transaction() as uow:
        uow.record(EventType.PERMISSION_DELETED, {"permission": {"id": permission.id}})
        assert uow[ROLES_REPO].get(role.id).assignment_permission_id is None  # type: ignore[union-attr]
        raise Boom
    with storage.read() as uow:
        assert uow[ROLES_REPO].get(role.id).assignment_permission_id == permission.id  # type: ignore[union-attr]
        assert uow[OUTBOX_REPO].after(None, 1_000_000) == before
