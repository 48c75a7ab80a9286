"""Organizations, their members and invites at the service tier, on both engines: the
rules a client relies on, without HTTP (PATCH semantics of the typed body, policies,
all-or-nothing bulk membership, invite revocation, and deleting an organization with its
organization-scoped applications)."""

from __future__ import annotations

import re
import threading

import pytest

from kindling.clock import FrozenClock
from kindling.platform.context import Context
from kindling.platform.errors import KindlingError, NotFound
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.apis import service as apis
from kindling.resources.applications import service as applications
from kindling.resources.applications.model import Application
from kindling.resources.organizations import service as organizations
from kindling.resources.organizations.invites import service as invites
from kindling.resources.organizations.members import service as members
from kindling.resources.organizations.model import Organization
from kindling.resources.users import service as users
from kindling.resources.users.model import User
from tests.services.support import Outbox, Recorded, uid
from tests.storage import factories_identity as rows


def code_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(KindlingError) as raised:
        call()
    return raised.value.code


def new_org(storage: Storage, clock: FrozenClock, **body: object) -> Organization:
    return organizations.create_organization(storage, clock, {"name": f"Org {uid()}", **body})


def new_user(storage: Storage, clock: FrozenClock) -> User:
    address = f"org-svc-{uid()}@example.com"
    return users.create_user(
        storage, clock, {"identities": [{"type": "email", "details": {"email": address}}]}
    )


def stored(storage: Storage, code: str) -> Organization:
    return organizations.get_organization(storage, code).organization


def test_create_gives_a_kinde_code_and_the_defaults(storage: Storage, clock: FrozenClock) -> None:
    org = new_org(storage, clock, handle=f"  acme-{uid()} ", is_allow_registrations=True)
    assert re.fullmatch(r"org_[0-9a-f]{11}", org.code)
    assert org.handle is not None and org.handle == org.handle.strip()
    assert org.settings.theme_code == "light"
    assert org.settings.is_auto_membership_enabled is True
    assert stored(storage, org.code) == org


def test_create_checks_feature_flags_against_their_definitions(
    storage: Storage, clock: FrozenClock
) -> None:
    key = f"flag{uid()}"
    rows.add_flag(storage, key, type="str", default_value="blue")
    locked = f"flag{uid()}"
    rows.add_flag(storage, locked, allow_override_level=None)

    def create(flags: object) -> object:
        return lambda: new_org(storage, clock, feature_flags=flags)

    assert code_of(create({key: "int"})) == "FEATURE_FLAG_TYPE_MISMATCH"
    assert code_of(create({key: "float"})) == "INVALID_FEATURE_FLAG_TYPE"
    assert code_of(create({locked: "bool"})) == "OVERRIDE_NOT_ALLOWED"
    assert code_of(create(["x"])) == "INVALID_FEATURE_FLAGS"
    assert new_org(storage, clock, feature_flags={key: "str"}).name.startswith("Org ")


def test_patch_clears_null_fields_and_keeps_absent_ones(
    storage: Storage, clock: FrozenClock
) -> None:
    org = new_org(
        storage,
        clock,
        external_id="crm-1",
        link_color="#123",
        button_color="#456",
        sender_name="Acme",
    )
    updated = organizations.update_organization(
        storage,
        clock,
        org.code,
        {"link_color": None, "sender_name": None, "theme_code": None, "name": None},
    )
    assert updated.settings.link_color is None and updated.settings.sender_name is None
    assert updated.settings.button_color == "#456" and updated.external_id == "crm-1"
    assert (updated.name, updated.settings.theme_code) == (org.name, "light")
    assert stored(storage, org.code) == updated
    assert (
        code_of(
            lambda: organizations.update_organization(
                storage, clock, org.code, {"link_color": "red"}
            )
        )
        == "INVALID_LINK_COLOR"
    )
    assert (
        code_of(
            lambda: organizations.update_organization(
                storage, clock, org.code, {"allowed_domains": "a.com"}
            )
        )
        == "INVALID_ALLOWED_DOMAINS"
    )


def test_suspending_stamps_the_time_and_resuming_clears_it(
    storage: Storage, clock: FrozenClock
) -> None:
    org = new_org(storage, clock)
    clock.advance(60)
    suspended = organizations.update_organization(storage, clock, org.code, {"is_suspended": True})
    assert suspended.is_suspended is True
    assert suspended.settings.suspended_on == "2024-01-01T00:01:00+00:00"
    resumed = organizations.update_organization(storage, clock, org.code, {"is_suspended": False})
    assert (resumed.is_suspended, resumed.settings.suspended_on) == (False, None)


def test_session_and_passkey_policies_need_their_values(
    storage: Storage, clock: FrozenClock
) -> None:
    org = new_org(storage, clock)
    assert code_of(lambda: organizations.update_sessions(storage, org.code, {})) == (
        "NO_FIELDS_TO_UPDATE"
    )
    assert (
        code_of(
            lambda: organizations.update_sessions(
                storage, org.code, {"is_use_org_sso_session_policy": True}
            )
        )
        == "SSO_SESSION_PERSISTENCE_MODE_REQUIRED"
    )
    updated = organizations.update_sessions(
        storage,
        org.code,
        {"is_use_org_authenticated_session_lifetime": True, "authenticated_session_lifetime": 90},
    )
    assert updated.settings.authenticated_session_lifetime == 90
    passkey = organizations.update_passkey(storage, org.code, {"policy": "mandatory"})
    assert (passkey.policy, passkey.is_override, passkey.enabled) == ("mandatory", True, True)
    reverted = organizations.update_passkey(
        storage,
        org.code,
        {"is_override_environment_passkey_settings": False, "policy": "optional"},
    )
    assert (reverted.policy, reverted.is_override) == ("off", False)
    assert (
        code_of(
            lambda: organizations.update_passkey(
                storage, org.code, {"is_override_environment_passkey_settings": True}
            )
        )
        == "POLICY_REQUIRED"
    )


def test_bulk_membership_is_all_or_nothing_and_grants_only_what_is_missing(
    storage: Storage, clock: FrozenClock
) -> None:
    org = new_org(storage, clock)
    role, other = rows.add_role(storage), rows.add_role(storage)
    alice, bob = new_user(storage, clock), new_user(storage, clock)
    assert members.add_users(
        storage, clock, org.code, {"users": [{"id": alice.id, "roles": [role.key]}]}
    ) == [alice.id]
    assert (
        code_of(
            lambda: members.add_users(
                storage,
                clock,
                org.code,
                {"users": [{"id": bob.id}, {"id": alice.id, "roles": [f"role{uid()}"]}]},
            )
        )
        == "ROLE_NOT_FOUND"
    )
    listed, _ = members.list_members(storage, org.code, None, 10, "", False, [], [])
    assert [m.user_id for m in listed] == [alice.id]
    added = members.add_users(
        storage,
        clock,
        org.code,
        {"users": [{"id": alice.id, "roles": [role.key, other.key]}, {"id": bob.id}]},
    )
    assert added == [bob.id]
    assert {r.key for r in members.user_roles(storage, org.code, alice.id)} == {
        role.key,
        other.key,
    }


def test_bulk_bodies_name_the_field_at_fault(storage: Storage, clock: FrozenClock) -> None:
    org = new_org(storage, clock)

    def add(body: object) -> object:
        return lambda: members.add_users(storage, clock, org.code, body)

    assert code_of(add(None)) == "INVALID_BODY"
    assert code_of(add({})) == "USERS_REQUIRED"
    assert code_of(add({"users": []})) == "USERS_REQUIRED"
    assert code_of(add({"users": "kp_1"})) == "INVALID_USERS"
    assert code_of(add({"users": ["kp_1"]})) == "INVALID_USERS"
    assert code_of(add({"users": [{"id": 7}]})) == "INVALID_USER_ID"
    assert code_of(add({"users": [{"id": "kp_1", "roles": "admin"}]})) == "INVALID_ROLES"
    assert (
        code_of(
            lambda: members.update_users(
                storage, clock, org.code, {"users": [{"id": "kp_1", "operation": "remove"}]}
            )
        )
        == "INVALID_OPERATION"
    )


def test_removing_a_member_takes_its_roles_with_it(storage: Storage, clock: FrozenClock) -> None:
    org = new_org(storage, clock)
    role = rows.add_role(storage)
    user = new_user(storage, clock)
    members.add_users(storage, clock, org.code, {"users": [{"id": user.id, "roles": [role.key]}]})
    members.remove_user(storage, org.code, user.id)
    members.add_users(storage, clock, org.code, {"users": [{"id": user.id}]})
    assert members.user_roles(storage, org.code, user.id) == []


def test_a_revoked_invite_stays_readable_and_leaves_the_default_listing(
    storage: Storage, clock: FrozenClock
) -> None:
    org = new_org(storage, clock)
    role = rows.add_role(storage)
    view = invites.create_invite(
        storage, clock, org.code, {"email": f" inv-{uid()}@example.com ", "roles": [role.key]}
    )
    assert view.invite.email == view.invite.email.strip()
    assert view.role_names == {role.key: role.name}
    invites.revoke_invite(storage, org.code, view.invite.code)
    again = invites.get_invite(storage, org.code, view.invite.code)
    assert again.invite.is_revoked is True
    pending, _ = invites.list_invites(storage, org.code, "created_on_asc", None, 10, False, False)
    everything, _ = invites.list_invites(storage, org.code, "created_on_asc", None, 10, True, True)
    assert pending == [] and [v.invite.code for v in everything] == [view.invite.code]
    assert (
        code_of(lambda: invites.create_invite(storage, clock, org.code, ["not", "an", "object"]))
        == "INVALID_BODY"
    )


# --- deleting an organization with its organization-scoped applications --------------


def scoped_app(context: Context, org_code: str | None) -> Application:
    created = applications.create_application(
        context.storage, context.hasher, context.clock, f"Bot {uid()}", "m2m", org_code
    )
    return created.application


def access_rows(storage: Storage, app_id: str) -> dict[str, int]:
    """How many secret, API authorization and scope grant rows the application has."""
    return {
        table: rows.count(
            storage, f"SELECT COUNT(*) AS n FROM {table} WHERE application_id = ?", (app_id,)
        )
        for table in ("application_secrets", "api_applications", "api_application_scopes")
    }


def test_deleting_an_organization_deletes_its_scoped_applications_in_the_same_change(
    context: Context, outbox: Outbox
) -> None:
    storage, clock = context.storage, context.clock
    assert isinstance(clock, FrozenClock)
    org, other = new_org(storage, clock), new_org(storage, clock)
    first, second = scoped_app(context, org.code), scoped_app(context, org.code)
    unscoped, elsewhere = scoped_app(context, None), scoped_app(context, other.code)
    api, (scope,) = rows.add_api(storage, f"read:{uid()}")
    apps = (first, second, unscoped, elsewhere)
    apis.update_api_applications(storage, clock, api.id, [{"id": a.id} for a in apps])
    for app in apps:
        apis.set_application_scope(storage, api.id, app.id, scope.id, granted=True)
    granted = {"application_secrets": 1, "api_applications": 1, "api_application_scopes": 1}
    assert access_rows(storage, first.id) == granted
    outbox.mark()

    organizations.delete_organization(storage, org.code)

    assert outbox.recorded() == [
        Recorded(EventType.APPLICATION_DELETED, {"application": {"id": first.id}}),
        Recorded(EventType.APPLICATION_DELETED, {"application": {"id": second.id}}),
        Recorded(
            EventType.ORGANIZATION_DELETED, {"organization": {"code": org.code, "name": org.name}}
        ),
    ]
    for gone in (first, second):
        with pytest.raises(NotFound):
            applications.get_application(storage, gone.id)
        assert not applications.application_exists(storage, gone.id)
        assert access_rows(storage, gone.id) == dict.fromkeys(granted, 0)
    for kept in (unscoped, elsewhere):
        assert applications.get_application(storage, kept.id) == kept
        assert access_rows(storage, kept.id) == granted


def test_a_refused_organization_delete_keeps_its_scoped_applications(
    context: Context, outbox: Outbox
) -> None:
    storage, clock = context.storage, context.clock
    assert isinstance(clock, FrozenClock)
    org = new_org(storage, clock)
    app = scoped_app(context, org.code)
    rows.seed(storage, "UPDATE organizations SET is_default = ? WHERE code = ?", (True, org.code))
    outbox.mark()
    assert (
        code_of(lambda: organizations.delete_organization(storage, org.code))
        == "CANNOT_DELETE_DEFAULT_ORGANIZATION"
    )
    assert outbox.recorded() == []
    assert applications.get_application(storage, app.id) == app
    assert access_rows(storage, app.id)["application_secrets"] == 1


def test_an_application_created_while_its_organization_is_deleted_goes_with_it(
    context: Context,
) -> None:
    """A scoped application whose creation is still uncommitted when the organization is
    deleted is not left behind: the delete waits for it and deletes it too."""
    storage, clock = context.storage, context.clock
    assert isinstance(clock, FrozenClock)
    org = new_org(storage, clock)
    checked, release = threading.Event(), threading.Event()
    created: list[Application] = []

    def create_and_hold() -> None:
        with storage.transaction() as uow:
            made = applications.add_application(
                uow, context.hasher, clock, f"Racer {uid()}", "m2m", org.code
            )
            created.append(made.application)
            checked.set()
            release.wait(10)

    creator = threading.Thread(target=create_and_hold)
    creator.start()
    assert checked.wait(10)
    failures: list[BaseException] = []

    def delete() -> None:
        try:
            organizations.delete_organization(storage, org.code)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    deleter = threading.Thread(target=delete)
    deleter.start()
    deleter.join(0.5)
    assert deleter.is_alive(), "the delete did not wait for the uncommitted application"
    release.set()
    creator.join(10)
    deleter.join(10)
    assert not deleter.is_alive() and failures == []
    (app,) = created
    with pytest.raises(NotFound):
        applications.get_application(storage, app.id)
