"""Domain events of users, accounts, organizations, members and invites, on both engines.

For every service function that changes state: the committed change has exactly its
events in the outbox (type, data and how many), and a failing call (validation error,
unknown id, uniqueness violation) leaves neither an event nor a change. Events are
read through the real outbox table after the service's transaction committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.platform.errors import AlreadyExists, KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage, UnitOfWork
from kindling.resources.organizations import service as organizations
from kindling.resources.organizations.invites import service as invites
from kindling.resources.organizations.invites.repository import INVITES_REPO
from kindling.resources.organizations.members import service as members
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.organizations.model import Organization
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.users import service as users
from kindling.resources.users.accounts import service as accounts
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from kindling.resources.users.model import User
from kindling.resources.users.repository import USERS_REPO
from tests.services.support import Boom, Outbox, Recorded, uid
from tests.storage import factories_identity as rows

BCRYPT = "$2b$12$" + "a" * 53
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def ev(type_: EventType, data: dict[str, Any]) -> Recorded:
    return Recorded(type_, data)


def email() -> str:
    return f"ev-{uid()}@example.com"


def new_user(storage: Storage, clock: FrozenClock, **body: Any) -> User:
    payload = {"identities": [{"type": "email", "details": {"email": email()}}], **body}
    return users.create_user(storage, clock, payload)


def new_org(storage: Storage, clock: FrozenClock, **body: Any) -> Organization:
    return organizations.create_organization(storage, clock, {"name": f"Org {uid()}", **body})


def profile(user: User, **changes: Any) -> dict[str, Any]:
    """The ``data.user`` of a user event for this user."""
    data = {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "phone": user.phone,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "picture": user.picture,
        "provided_id": user.provided_id,
        "is_suspended": user.is_suspended,
        "is_password_reset_requested": user.is_password_reset_requested,
    }
    return {**data, **changes}


def org_data(org: Organization, **changes: Any) -> dict[str, Any]:
    data = {
        "code": org.code,
        "name": org.name,
        "handle": org.handle,
        "external_id": org.external_id,
        "is_suspended": org.is_suspended,
    }
    return {**data, **changes}


def fails(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> None:
    """``call`` raises ``error`` with ``code`` and commits no event."""
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code
    assert outbox.recorded() == []


def read_user(storage: Storage, id_: str) -> User | None:
    with storage.read() as uow:
        return uow[USERS_REPO].get(id_)


def read_org(storage: Storage, code: str) -> Organization | None:
    with storage.read() as uow:
        return uow[ORGANIZATIONS_REPO].get(code)


def is_member(storage: Storage, code: str, user_id: str) -> bool:
    with storage.read() as uow:
        return uow[MEMBERSHIPS_REPO].is_member(code, user_id)


def role_ids(storage: Storage, code: str, user_id: str) -> set[str]:
    with storage.read() as uow:
        return {r.id for r in uow[MEMBERSHIPS_REPO].member_roles(code, user_id)}


# --- users --------------------------------------------------------------------------


def test_create_user_records_user_created(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    address = email()
    user = users.create_user(
        storage,
        clock,
        {
            "profile": {"given_name": "Ada", "family_name": "Lovelace"},
            "identities": [
                {"type": "email", "details": {"email": address}},
                {"type": "username", "details": {"username": f"ada{uid()}"}},
            ],
            "provided_id": "ext-1",
        },
    )
    assert outbox.recorded() == [
        ev(
            EventType.USER_CREATED,
            {
                "user": {
                    **profile(user, email=address, first_name="Ada", last_name="Lovelace"),
                    "organizations": [],
                }
            },
        )
    ]
    assert outbox.events()[0].occurred_on == "2024-01-01T00:00:00+00:00"


def test_create_user_in_an_organization_also_records_the_membership(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    outbox.mark()
    user = new_user(storage, clock, organization_code=org.code)
    assert outbox.recorded() == [
        ev(
            EventType.USER_CREATED,
            {"user": {**profile(user), "organizations": [{"code": org.code}]}},
        ),
        ev(
            EventType.ORGANIZATION_USER_ADDED,
            {
                "organization": {"code": org.code},
                "user": {"id": user.id},
                "roles": [],
                "permissions": [],
            },
        ),
    ]


def test_failed_user_creations_record_nothing_and_store_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    taken = new_user(storage, clock)
    address = email()
    fresh = [{"type": "email", "details": {"email": address}}]
    fails(
        outbox,
        ValidationError,
        "INVALID_EMAIL",
        lambda: users.create_user(
            storage, clock, {"identities": [{"type": "email", "details": {"email": "nope"}}]}
        ),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: users.create_user(
            storage, clock, {"identities": fresh, "organization_code": "org_missing"}
        ),
    )
    fails(
        outbox,
        AlreadyExists,
        "USER_ALREADY_EXISTS",
        lambda: users.create_user(
            storage,
            clock,
            {
                "identities": [
                    {"type": "email", "details": {"email": address}},
                    {"type": "email", "details": {"email": str(taken.email).upper()}},
                ]
            },
        ),
    )
    found, _ = users.list_users(storage, None, 10, emails=address)
    assert found == []


def test_update_user_records_the_profile_after_and_the_changed_fields(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock, profile={"given_name": "Old", "picture": "https://p/x.png"})
    outbox.mark()
    users.update_user(
        storage,
        user.id,
        {"given_name": "New", "picture": None, "family_name": None, "is_suspended": True},
    )
    after = profile(user, first_name="New", picture=None, is_suspended=True)
    assert outbox.recorded() == [
        ev(
            EventType.USER_UPDATED,
            {"user": after, "updated_fields": ["first_name", "picture", "is_suspended"]},
        )
    ]


def test_update_user_with_the_current_values_records_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock, profile={"given_name": "Same"})
    outbox.mark()
    users.update_user(storage, user.id, {"given_name": "Same", "is_suspended": False})
    users.update_user(storage, user.id, {})
    assert outbox.recorded() == []


def test_failed_user_updates_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock, profile={"given_name": "Kept"})
    fails(
        outbox,
        NotFound,
        "USER_NOT_FOUND",
        lambda: users.update_user(storage, "kp_missing", {"given_name": "x"}),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_IS_SUSPENDED",
        lambda: users.update_user(storage, user.id, {"given_name": "x", "is_suspended": "yes"}),
    )
    assert read_user(storage, user.id) == user


def test_delete_user_records_user_deleted(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    outbox.mark()
    users.delete_user(storage, user.id)
    assert outbox.take() == [ev(EventType.USER_DELETED, {"user": {"id": user.id}})]
    fails(outbox, NotFound, "USER_NOT_FOUND", lambda: users.delete_user(storage, user.id))


# --- identities, password, MFA, sessions ----------------------------------------------


def test_create_identity_records_it_with_its_primary_flag(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    outbox.mark()
    name = f"u{uid()}"
    first = accounts.create_identity(storage, clock, user.id, {"type": "username", "value": name})
    second = accounts.create_identity(storage, clock, user.id, {"type": "email", "value": email()})
    assert outbox.recorded() == [
        ev(
            EventType.USER_IDENTITY_CREATED,
            {
                "user": {"id": user.id},
                "identity": {
                    "id": first.id,
                    "type": "username",
                    "name": name,
                    "is_primary": True,
                    "connection_id": None,
                },
            },
        ),
        ev(
            EventType.USER_IDENTITY_CREATED,
            {
                "user": {"id": user.id},
                "identity": {
                    "id": second.id,
                    "type": "email",
                    "name": second.value,
                    "is_primary": False,
                    "connection_id": None,
                },
            },
        ),
    ]


def test_failed_identity_creations_record_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    other = new_user(storage, clock)
    fails(
        outbox,
        AlreadyExists,
        "IDENTITY_ALREADY_EXISTS",
        lambda: accounts.create_identity(
            storage, clock, user.id, {"type": "email", "value": str(other.email)}
        ),
    )
    fails(
        outbox,
        NotFound,
        "USER_NOT_FOUND",
        lambda: accounts.create_identity(
            storage, clock, "kp_missing", {"type": "email", "value": email()}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_IDENTITY_TYPE",
        lambda: accounts.create_identity(storage, clock, user.id, {"type": "fax", "value": "1"}),
    )
    with storage.read() as uow:
        assert len(uow[ACCOUNTS_REPO].list_identities(user.id, None, None, 10)) == 1


def test_making_an_identity_primary_records_it_once(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    added = accounts.create_identity(storage, clock, user.id, {"type": "email", "value": email()})
    outbox.mark()
    accounts.update_identity(storage, added.id, {"is_primary": True})
    accounts.update_identity(storage, added.id, {"is_primary": True})
    assert outbox.take() == [
        ev(
            EventType.USER_IDENTITY_UPDATED,
            {
                "user": {"id": user.id},
                "identity": {
                    "id": added.id,
                    "type": "email",
                    "name": added.value,
                    "is_primary": True,
                    "connection_id": None,
                },
            },
        )
    ]
    assert read_user(storage, user.id).email == added.value  # type: ignore[union-attr]
    fails(
        outbox,
        ValidationError,
        "PRIMARY_IDENTITY_REQUIRED",
        lambda: accounts.update_identity(storage, added.id, {"is_primary": False}),
    )
    fails(
        outbox,
        NotFound,
        "IDENTITY_NOT_FOUND",
        lambda: accounts.update_identity(storage, "identity_missing", {"is_primary": True}),
    )


def test_deleting_the_primary_identity_records_its_successor(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    primary = user.identities[0]
    second = accounts.create_identity(storage, clock, user.id, {"type": "email", "value": email()})
    outbox.mark()
    accounts.delete_identity(storage, primary.id)
    accounts.delete_identity(storage, second.id)
    assert outbox.take() == [
        ev(
            EventType.USER_IDENTITY_DELETED,
            {
                "user": {"id": user.id},
                "identity": {"id": primary.id, "type": "email"},
                "promoted_identity_id": second.id,
            },
        ),
        ev(
            EventType.USER_IDENTITY_DELETED,
            {
                "user": {"id": user.id},
                "identity": {"id": second.id, "type": "email"},
                "promoted_identity_id": None,
            },
        ),
    ]
    fails(
        outbox,
        NotFound,
        "IDENTITY_NOT_FOUND",
        lambda: accounts.delete_identity(storage, second.id),
    )


def test_set_password_records_the_method_and_never_the_hash(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    outbox.mark()
    salt = f"salt{uid()}"
    accounts.set_password(
        storage,
        clock,
        user.id,
        {
            "hashed_password": "c2VjcmV0LWhhc2g=",
            "hashing_method": "pbkdf2",
            "salt": salt,
            "variant": "sha256",
            "is_temporary_password": True,
        },
    )
    recorded = outbox.recorded()
    assert recorded == [
        ev(
            EventType.USER_PASSWORD_UPDATED,
            {"user": {"id": user.id}, "hashing_method": "pbkdf2", "is_temporary_password": True},
        )
    ]
    text = json.dumps(recorded[0].data)
    assert "c2VjcmV0LWhhc2g=" not in text and salt not in text


def test_failed_password_imports_record_nothing_and_store_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    fails(
        outbox,
        ValidationError,
        "INVALID_HASHED_PASSWORD",
        lambda: accounts.set_password(storage, clock, user.id, {"hashed_password": "plaintext"}),
    )
    fails(
        outbox,
        NotFound,
        "USER_NOT_FOUND",
        lambda: accounts.set_password(storage, clock, "kp_missing", {"hashed_password": BCRYPT}),
    )
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_password(user.id) is None


def test_mfa_resets_record_one_event_per_factor(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    first = rows.add_mfa_factor(storage, user.id, kind="email")
    second = rows.add_mfa_factor(storage, user.id, kind="totp")
    third = rows.add_mfa_factor(storage, user.id, kind="sms")
    outbox.mark()
    accounts.reset_mfa_factor(storage, user.id, second)
    assert outbox.take() == [
        ev(
            EventType.USER_MFA_FACTOR_DELETED,
            {"user": {"id": user.id}, "factor": {"id": second, "type": "totp"}},
        )
    ]
    assert accounts.reset_mfa(storage, user.id) == 2
    assert outbox.take() == [
        ev(
            EventType.USER_MFA_FACTOR_DELETED,
            {"user": {"id": user.id}, "factor": {"id": first, "type": "email"}},
        ),
        ev(
            EventType.USER_MFA_FACTOR_DELETED,
            {"user": {"id": user.id}, "factor": {"id": third, "type": "sms"}},
        ),
    ]
    assert accounts.reset_mfa(storage, user.id) == 0
    assert outbox.recorded() == []
    fails(
        outbox,
        NotFound,
        "MFA_FACTOR_NOT_FOUND",
        lambda: accounts.reset_mfa_factor(storage, user.id, second),
    )


def test_delete_sessions_records_one_event_per_session(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    sessions = [rows.add_session(storage, user.id), rows.add_session(storage, user.id)]
    outbox.mark()
    assert accounts.delete_sessions(storage, user.id) == 2
    assert accounts.delete_sessions(storage, user.id) == 0
    assert outbox.take() == [
        ev(EventType.USER_SESSION_DELETED, {"user": {"id": user.id}, "session": {"id": s}})
        for s in sessions
    ]
    fails(
        outbox, NotFound, "USER_NOT_FOUND", lambda: accounts.delete_sessions(storage, "kp_missing")
    )


def test_refresh_claims_changes_nothing_and_records_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    user = new_user(storage, clock)
    outbox.mark()
    accounts.refresh_claims(storage, user.id)
    assert outbox.recorded() == []


# --- organizations ----------------------------------------------------------------------


def test_create_organization_records_organization_created(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    handle = f"h{uid()}"
    org = new_org(storage, clock, handle=handle, external_id="crm-7")
    assert outbox.recorded() == [
        ev(
            EventType.ORGANIZATION_CREATED,
            {
                "organization": {
                    "code": org.code,
                    "name": org.name,
                    "handle": handle,
                    "external_id": "crm-7",
                    "is_suspended": False,
                }
            },
        )
    ]


def test_failed_organization_creations_record_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    handle = f"h{uid()}"
    new_org(storage, clock, handle=handle)
    name = f"Org {uid()}"
    fails(
        outbox,
        AlreadyExists,
        "HANDLE_ALREADY_EXISTS",
        lambda: organizations.create_organization(storage, clock, {"name": name, "handle": handle}),
    )
    fails(
        outbox,
        ValidationError,
        "FEATURE_FLAG_NOT_FOUND",
        lambda: organizations.create_organization(
            storage, clock, {"name": name, "feature_flags": {f"flag{uid()}": "bool"}}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "NAME_REQUIRED",
        lambda: organizations.create_organization(storage, clock, {"name": " "}),
    )
    listed, _ = organizations.list_organizations_by_name(storage, None, 500, False)
    assert name not in {o.name for o in listed}


def test_update_organization_records_the_changed_fields_and_settings(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock, handle=f"h{uid()}")
    outbox.mark()
    organizations.update_organization(
        storage,
        clock,
        org.code,
        {"name": "Renamed", "handle": None, "button_color": "#abc", "is_suspended": True},
    )
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_UPDATED,
            {
                "organization": org_data(org, name="Renamed", handle=None, is_suspended=True),
                "updated_fields": [
                    "name",
                    "handle",
                    "is_suspended",
                    "button_color",
                    "suspended_on",
                ],
            },
        )
    ]
    organizations.update_organization(storage, clock, org.code, {"name": "Renamed"})
    organizations.update_organization(storage, clock, org.code, {})
    assert outbox.recorded() == []


def test_failed_organization_updates_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    taken = f"h{uid()}"
    new_org(storage, clock, handle=taken)
    org = new_org(storage, clock)
    default = rows.add_org(storage, is_default=True)
    fails(
        outbox,
        AlreadyExists,
        "HANDLE_ALREADY_EXISTS",
        lambda: organizations.update_organization(
            storage, clock, org.code, {"name": "Changed", "handle": taken}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "CANNOT_SUSPEND_DEFAULT_ORGANIZATION",
        lambda: organizations.update_organization(
            storage, clock, default.code, {"is_suspended": True}
        ),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: organizations.update_organization(storage, clock, "org_missing", {"name": "x"}),
    )
    assert read_org(storage, org.code) == org


def test_delete_organization_and_its_handle_record_their_events(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock, handle=f"h{uid()}")
    default = rows.add_org(storage, is_default=True)
    outbox.mark()
    organizations.delete_handle(storage, org.code)
    organizations.delete_handle(storage, org.code)
    organizations.delete_organization(storage, org.code)
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_UPDATED,
            {"organization": org_data(org, handle=None), "updated_fields": ["handle"]},
        ),
        ev(EventType.ORGANIZATION_DELETED, {"organization": {"code": org.code, "name": org.name}}),
    ]
    fails(
        outbox,
        ValidationError,
        "CANNOT_DELETE_DEFAULT_ORGANIZATION",
        lambda: organizations.delete_organization(storage, default.code),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: organizations.delete_organization(storage, org.code),
    )
    assert read_org(storage, default.code) == default


def test_policy_changes_record_organization_updated(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    outbox.mark()
    organizations.update_sessions(
        storage,
        org.code,
        {"is_use_org_sso_session_policy": True, "sso_session_persistence_mode": "persistent"},
    )
    organizations.replace_mfa(storage, org.code, {"enabled_factors": ["mfa:email"]})
    organizations.update_passkey(storage, org.code, {"policy": "optional"})
    organizations.replace_mfa(storage, org.code, {"enabled_factors": ["mfa:email"]})
    data = {"organization": org_data(org)}
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_UPDATED,
            {
                **data,
                "updated_fields": [
                    "is_use_org_sso_session_policy",
                    "sso_session_persistence_mode",
                ],
            },
        ),
        ev(EventType.ORGANIZATION_UPDATED, {**data, "updated_fields": ["mfa_enabled_factors"]}),
        ev(
            EventType.ORGANIZATION_UPDATED,
            {**data, "updated_fields": ["passkey_override", "passkey_policy"]},
        ),
    ]
    fails(
        outbox,
        ValidationError,
        "AUTHENTICATED_SESSION_LIFETIME_REQUIRED",
        lambda: organizations.update_sessions(
            storage, org.code, {"is_use_org_authenticated_session_lifetime": True}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "INVALID_MFA_FACTOR",
        lambda: organizations.replace_mfa(storage, org.code, {"enabled_factors": ["mfa:fax"]}),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: organizations.update_passkey(storage, "org_missing", {"policy": "off"}),
    )


def test_logos_record_their_type_and_never_their_bytes(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    outbox.mark()
    organizations.set_logo(storage, clock, org.code, "dark", PNG)
    assert organizations.delete_logo(storage, org.code, "dark") is True
    assert organizations.delete_logo(storage, org.code, "dark") is False
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_LOGO_UPDATED,
            {
                "organization": {"code": org.code},
                "logo": {"type": "dark", "content_type": "image/png"},
            },
        ),
        ev(
            EventType.ORGANIZATION_LOGO_DELETED,
            {"organization": {"code": org.code}, "logo": {"type": "dark"}},
        ),
    ]
    fails(
        outbox,
        ValidationError,
        "INVALID_LOGO_FORMAT",
        lambda: organizations.set_logo(storage, clock, org.code, "light", b"not an image"),
    )
    fails(
        outbox,
        NotFound,
        "ORGANIZATION_NOT_FOUND",
        lambda: organizations.set_logo(storage, clock, "org_missing", "light", PNG),
    )


def test_connections_record_enabling_and_disabling_once(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    connection = rows.add_connection(storage)
    outbox.mark()
    assert organizations.set_connection(storage, org.code, connection.id, True) is True
    assert organizations.set_connection(storage, org.code, connection.id, True) is False
    assert organizations.set_connection(storage, org.code, connection.id, False) is True
    assert organizations.set_connection(storage, org.code, connection.id, False) is False
    data = {"organization": {"code": org.code}, "connection": {"id": connection.id}}
    assert outbox.take() == [
        ev(EventType.ORGANIZATION_CONNECTION_ENABLED, data),
        ev(EventType.ORGANIZATION_CONNECTION_DISABLED, data),
    ]
    fails(
        outbox,
        NotFound,
        "CONNECTION_NOT_FOUND",
        lambda: organizations.set_connection(storage, org.code, "conn_missing", True),
    )


# --- members ------------------------------------------------------------------------------


def test_bulk_add_records_one_event_per_user_it_changes(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    role = rows.add_role(storage)
    permission = rows.add_permission(storage)
    joining, plain, member, unchanged = (new_user(storage, clock) for _ in range(4))
    members.add_users(
        storage, clock, org.code, {"users": [{"id": member.id}, {"id": unchanged.id}]}
    )
    outbox.mark()
    added = members.add_users(
        storage,
        clock,
        org.code,
        {
            "users": [
                {"id": joining.id, "roles": [role.key], "permissions": [permission.key]},
                {"id": plain.id},
                {"id": member.id, "roles": [role.key]},
                {"id": unchanged.id},
            ]
        },
    )
    assert added == [joining.id, plain.id]
    subject = {"organization": {"code": org.code}}
    assert outbox.recorded() == [
        ev(
            EventType.ORGANIZATION_USER_ADDED,
            {
                **subject,
                "user": {"id": joining.id},
                "roles": [{"id": role.id, "key": role.key}],
                "permissions": [{"id": permission.id, "key": permission.key}],
            },
        ),
        ev(
            EventType.ORGANIZATION_USER_ADDED,
            {**subject, "user": {"id": plain.id}, "roles": [], "permissions": []},
        ),
        ev(
            EventType.ORGANIZATION_USER_UPDATED,
            {
                **subject,
                "user": {"id": member.id},
                "roles_added": [{"id": role.id, "key": role.key}],
            },
        ),
    ]


def test_bulk_update_records_removals_additions_and_updates(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    permission = rows.add_permission(storage)
    leaving, staying, joining, stranger = (new_user(storage, clock) for _ in range(4))
    members.add_users(storage, clock, org.code, {"users": [{"id": leaving.id}, {"id": staying.id}]})
    outbox.mark()
    result = members.update_users(
        storage,
        clock,
        org.code,
        {
            "users": [
                {"id": leaving.id, "operation": "delete"},
                {"id": stranger.id, "operation": "delete"},
                {"id": staying.id, "permissions": [permission.key]},
                {"id": joining.id},
            ]
        },
    )
    assert (result.removed, result.updated, result.added) == (
        [leaving.id],
        [staying.id],
        [joining.id],
    )
    subject = {"organization": {"code": org.code}}
    assert outbox.recorded() == [
        ev(EventType.ORGANIZATION_USER_REMOVED, {**subject, "user": {"id": leaving.id}}),
        ev(
            EventType.ORGANIZATION_USER_UPDATED,
            {
                **subject,
                "user": {"id": staying.id},
                "permissions_added": [{"id": permission.id, "key": permission.key}],
            },
        ),
        ev(
            EventType.ORGANIZATION_USER_ADDED,
            {**subject, "user": {"id": joining.id}, "roles": [], "permissions": []},
        ),
    ]


def test_failed_bulk_requests_record_nothing_and_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    member, joining = new_user(storage, clock), new_user(storage, clock)
    members.add_users(storage, clock, org.code, {"users": [{"id": member.id}]})
    fails(
        outbox,
        NotFound,
        "ROLE_NOT_FOUND",
        lambda: members.update_users(
            storage,
            clock,
            org.code,
            {
                "users": [
                    {"id": member.id, "operation": "delete"},
                    {"id": joining.id, "roles": [f"role{uid()}"]},
                ]
            },
        ),
    )
    fails(
        outbox,
        NotFound,
        "USER_NOT_FOUND",
        lambda: members.add_users(
            storage, clock, org.code, {"users": [{"id": joining.id}, {"id": "kp_missing"}]}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "DUPLICATE_USER",
        lambda: members.add_users(
            storage, clock, org.code, {"users": [{"id": joining.id}, {"id": joining.id}]}
        ),
    )
    assert is_member(storage, org.code, member.id)
    assert not is_member(storage, org.code, joining.id)


def test_remove_user_records_organization_user_removed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    user = new_user(storage, clock, organization_code=org.code)
    outbox.mark()
    members.remove_user(storage, org.code, user.id)
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_USER_REMOVED,
            {"organization": {"code": org.code}, "user": {"id": user.id}},
        )
    ]
    fails(
        outbox,
        NotFound,
        "USER_NOT_IN_ORGANIZATION",
        lambda: members.remove_user(storage, org.code, user.id),
    )


def test_member_roles_and_permissions_record_organization_user_updated(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    user = new_user(storage, clock, organization_code=org.code)
    role = rows.add_role(storage)
    permission = rows.add_permission(storage)
    outbox.mark()
    members.add_user_role(storage, clock, org.code, user.id, role.id)
    members.remove_user_role(storage, org.code, user.id, role.id)
    members.add_user_permission(storage, org.code, user.id, permission.id)
    members.remove_user_permission(storage, org.code, user.id, permission.id)
    subject = {"organization": {"code": org.code}, "user": {"id": user.id}}
    role_ref = {"id": role.id, "key": role.key}
    permission_ref = {"id": permission.id, "key": permission.key}
    assert outbox.take() == [
        ev(EventType.ORGANIZATION_USER_UPDATED, {**subject, "roles_added": [role_ref]}),
        ev(EventType.ORGANIZATION_USER_UPDATED, {**subject, "roles_removed": [role_ref]}),
        ev(EventType.ORGANIZATION_USER_UPDATED, {**subject, "permissions_added": [permission_ref]}),
        ev(
            EventType.ORGANIZATION_USER_UPDATED,
            {**subject, "permissions_removed": [permission_ref]},
        ),
    ]
    members.add_user_role(storage, clock, org.code, user.id, role.id)
    outbox.mark()
    fails(
        outbox,
        AlreadyExists,
        "ROLE_ALREADY_ASSIGNED",
        lambda: members.add_user_role(storage, clock, org.code, user.id, role.id),
    )
    fails(
        outbox,
        NotFound,
        "PERMISSION_NOT_ASSIGNED",
        lambda: members.remove_user_permission(storage, org.code, user.id, permission.id),
    )
    fails(
        outbox,
        NotFound,
        "ROLE_NOT_FOUND",
        lambda: members.add_user_role(storage, clock, org.code, user.id, "role_missing"),
    )
    assert role_ids(storage, org.code, user.id) == {role.id}


def test_member_api_scopes_record_organization_user_updated(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    user = new_user(storage, clock, organization_code=org.code)
    api, (scope,) = rows.add_api(storage, f"read:{uid()}")
    outbox.mark()
    members.set_user_api_scope(storage, org.code, user.id, api.id, scope.id, True)
    members.set_user_api_scope(storage, org.code, user.id, api.id, scope.id, False)
    subject = {"organization": {"code": org.code}, "user": {"id": user.id}}
    ref = {"id": scope.id, "key": scope.key, "api_id": api.id}
    assert outbox.take() == [
        ev(EventType.ORGANIZATION_USER_UPDATED, {**subject, "api_scopes_added": [ref]}),
        ev(EventType.ORGANIZATION_USER_UPDATED, {**subject, "api_scopes_removed": [ref]}),
    ]
    fails(
        outbox,
        NotFound,
        "SCOPE_NOT_ASSIGNED",
        lambda: members.set_user_api_scope(storage, org.code, user.id, api.id, scope.id, False),
    )
    fails(
        outbox,
        NotFound,
        "SCOPE_NOT_FOUND",
        lambda: members.set_user_api_scope(storage, org.code, user.id, api.id, "scope_x", True),
    )


def test_member_mfa_resets_record_one_event_per_factor(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    user = new_user(storage, clock, organization_code=org.code)
    first = rows.add_mfa_factor(storage, user.id, org.code, kind="email")
    second = rows.add_mfa_factor(storage, user.id, org.code, kind="totp")
    elsewhere = rows.add_mfa_factor(storage, user.id)
    outbox.mark()
    members.reset_user_mfa(storage, org.code, user.id, second)
    members.reset_user_mfa(storage, org.code, user.id)
    subject = {"organization": {"code": org.code}, "user": {"id": user.id}}
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_USER_MFA_FACTOR_DELETED,
            {**subject, "factor": {"id": second, "type": "totp"}},
        ),
        ev(
            EventType.ORGANIZATION_USER_MFA_FACTOR_DELETED,
            {**subject, "factor": {"id": first, "type": "email"}},
        ),
    ]
    fails(
        outbox,
        NotFound,
        "MFA_FACTOR_NOT_FOUND",
        lambda: members.reset_user_mfa(storage, org.code, user.id, elsewhere),
    )
    assert accounts.user_mfa(storage, user.id) is not None


# --- invites ----------------------------------------------------------------------------


def test_invites_record_creation_and_first_revocation(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    role = rows.add_role(storage)
    outbox.mark()
    address = email()
    view = invites.create_invite(
        storage,
        clock,
        org.code,
        {"email": address, "first_name": "Ivy", "roles": [role.key, role.key]},
    )
    invites.revoke_invite(storage, org.code, view.invite.code)
    invites.revoke_invite(storage, org.code, view.invite.code)
    organization = {"code": org.code}
    assert outbox.take() == [
        ev(
            EventType.ORGANIZATION_INVITE_CREATED,
            {
                "organization": organization,
                "invite": {
                    "code": view.invite.code,
                    "email": address,
                    "first_name": "Ivy",
                    "last_name": None,
                    "roles": [role.key],
                },
            },
        ),
        ev(
            EventType.ORGANIZATION_INVITE_REVOKED,
            {"organization": organization, "invite": {"code": view.invite.code}},
        ),
    ]


def test_failed_invite_calls_record_nothing_and_store_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = new_org(storage, clock)
    fails(
        outbox,
        NotFound,
        "ROLE_NOT_FOUND",
        lambda: invites.create_invite(
            storage, clock, org.code, {"email": email(), "roles": [f"role{uid()}"]}
        ),
    )
    fails(
        outbox,
        ValidationError,
        "ROLES_REQUIRED",
        lambda: invites.create_invite(storage, clock, org.code, {"email": email()}),
    )
    fails(
        outbox,
        NotFound,
        "INVITE_NOT_FOUND",
        lambda: invites.revoke_invite(storage, org.code, "inv_missing"),
    )
    with storage.read() as uow:
        assert (
            uow[INVITES_REPO].list_page(org.code, "created_on", False, None, 10, True, True) == []
        )


# --- atomicity ----------------------------------------------------------------------------


def test_an_exception_after_recording_rolls_back_the_change_and_the_event(
    storage: Storage, clock: FrozenClock, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service records inside the transaction of its write: failing right after the
    event is recorded (before commit) leaves neither the user nor the event."""
    record = UnitOfWork.record

    def record_then_fail(self: UnitOfWork, type_: EventType, data: Any) -> Any:
        record(self, type_, data)
        raise Boom(type_)

    address = email()
    monkeypatch.setattr(UnitOfWork, "record", record_then_fail)
    with pytest.raises(Boom):
        users.create_user(
            storage, clock, {"identities": [{"type": "email", "details": {"email": address}}]}
        )
    monkeypatch.undo()
    assert outbox.recorded() == []
    found, _ = users.list_users(storage, None, 10, emails=address)
    assert found == []


def test_a_unit_of_work_that_raises_writes_neither_change_nor_event(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    org = rows.make_org()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add(org)
        uow.record(EventType.ORGANIZATION_CREATED, {"organization": {"code": org.code}})
        raise Boom
    assert outbox.recorded() == []
    assert read_org(storage, org.code) is None
