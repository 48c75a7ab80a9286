"""Users and their accounts at the service tier, on both engines: the rules a client
relies on, without HTTP (identities and their primary flags, PATCH semantics, the
error codes of malformed bodies, password import rules)."""

from __future__ import annotations

import unicodedata

import pytest

from kindling.clock import FrozenClock
from kindling.platform.errors import AlreadyExists, KindlingError, NotFound, ValidationError
from kindling.platform.storage import Storage
from kindling.resources.users import service as users
from kindling.resources.users.accounts import service as accounts
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from kindling.resources.users.model import User
from tests.services.support import uid
from tests.storage import factories_identity as rows

BCRYPT = "$2b$12$" + "b" * 53


def email() -> str:
    return f"svc-{uid()}@example.com"


def create(
    storage: Storage, clock: FrozenClock, *identities: tuple[str, str], **body: object
) -> User:
    entries = [{"type": kind, "details": {kind: value}} for kind, value in identities]
    return users.create_user(storage, clock, {"identities": entries, **body})


def code_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(KindlingError) as raised:
        call()
    return raised.value.code


def test_the_first_identity_of_each_type_is_primary_and_mirrored(
    storage: Storage, clock: FrozenClock
) -> None:
    first, second, name = email(), email(), f"n{uid()}"
    user = create(storage, clock, ("email", first), ("username", name), ("email", second))
    assert (user.email, user.username, user.phone) == (first, name, None)
    assert [(i.type, i.value, i.is_primary) for i in user.identities] == [
        ("email", first, True),
        ("username", name, True),
        ("email", second, False),
    ]
    stored = users.get_user(storage, user.id)
    assert stored.email == first and stored.created_on == "2024-01-01T00:00:00+00:00"


def test_emails_are_unique_across_case_and_unicode_forms(
    storage: Storage, clock: FrozenClock
) -> None:
    local = f"jos\u00e9{uid()}"
    create(storage, clock, ("email", f"{local}@example.com"))
    decomposed = unicodedata.normalize("NFD", local).upper()
    with pytest.raises(AlreadyExists) as raised:
        create(storage, clock, ("email", f"  {decomposed}@EXAMPLE.com "))
    assert raised.value.code == "USER_ALREADY_EXISTS"
    found, _ = users.list_users(storage, None, 10, emails=f"{local.upper()}@example.com")
    assert [u.email for u in found] == [f"{local}@example.com"]


def test_malformed_create_bodies_name_the_field_at_fault(
    storage: Storage, clock: FrozenClock
) -> None:
    good = [{"type": "email", "details": {"email": email()}}]

    def body(**fields: object) -> object:
        return lambda: users.create_user(storage, clock, fields)

    assert code_of(lambda: users.create_user(storage, clock, ["not", "an", "object"])) == (
        "INVALID_BODY"
    )
    assert code_of(body(profile="Ada")) == "INVALID_PROFILE"
    assert code_of(body(identities={"type": "email"})) == "INVALID_IDENTITIES"
    assert code_of(body(identities=["x"])) == "INVALID_IDENTITY"
    assert code_of(body(identities=[{"type": "email", "details": "a@b.c"}])) == "INVALID_DETAILS"
    assert code_of(body(identities=[{"type": "fax"}])) == "INVALID_IDENTITY_TYPE"
    assert code_of(body(identities=good, profile={"given_name": 7})) == "INVALID_FIRST_NAME"
    assert code_of(body(identities=good, profile={"family_name": "x" * 65})) == (
        "LAST_NAME_TOO_LONG"
    )
    assert code_of(body(identities=good * 2)) == "DUPLICATE_IDENTITY"
    assert code_of(body(identities=good, organization_code=["org"])) == "INVALID_ORG_CODE"


def test_a_user_without_identities_or_body_is_allowed(storage: Storage, clock: FrozenClock) -> None:
    user = users.create_user(storage, clock, None)
    assert (user.email, user.identities) == (None, ())
    assert users.get_user(storage, user.id).id == user.id


def test_patch_clears_a_field_sent_as_null_and_keeps_an_absent_one(
    storage: Storage, clock: FrozenClock
) -> None:
    user = create(
        storage,
        clock,
        ("email", email()),
        profile={"given_name": "Grace", "family_name": "Hopper", "picture": "https://p/g.png"},
    )
    updated = users.update_user(
        storage, user.id, {"picture": None, "family_name": "  ", "is_suspended": None}
    )
    assert (updated.first_name, updated.last_name, updated.picture) == ("Grace", None, None)
    assert updated.is_suspended is False
    assert users.get_user(storage, user.id) == updated
    assert code_of(lambda: users.update_user(storage, None, {})) == "USER_ID_REQUIRED"
    assert code_of(lambda: users.update_user(storage, user.id, "x")) == "INVALID_BODY"


def test_deleting_the_primary_identity_promotes_the_oldest_remaining_one(
    storage: Storage, clock: FrozenClock
) -> None:
    first, second, third = email(), email(), email()
    user = create(storage, clock, ("email", first))
    accounts.create_identity(storage, clock, user.id, {"type": "email", "value": second})
    accounts.create_identity(storage, clock, user.id, {"type": "email", "value": third})
    accounts.delete_identity(storage, user.identities[0].id)
    assert users.get_user(storage, user.id).email == second
    page = accounts.list_identities(storage, user.id, None, None)
    assert [(i.value, i.is_primary) for i in page.identities] == [(second, True), (third, False)]


def test_social_identities_need_an_existing_connection(
    storage: Storage, clock: FrozenClock
) -> None:
    user = create(storage, clock, ("email", email()))
    social = {"type": "social", "value": f"g-{uid()}"}
    assert (
        code_of(lambda: accounts.create_identity(storage, clock, user.id, social))
        == "CONNECTION_ID_REQUIRED"
    )
    assert (
        code_of(
            lambda: accounts.create_identity(
                storage, clock, user.id, {**social, "connection_id": "conn_missing"}
            )
        )
        == "CONNECTION_NOT_FOUND"
    )
    connection = rows.add_connection(storage)
    made = accounts.create_identity(
        storage, clock, user.id, {**social, "connection_id": connection.id}
    )
    assert (made.connection_id, made.is_primary) == (connection.id, True)
    assert (
        code_of(
            lambda: accounts.create_identity(
                storage, clock, user.id, {"type": "email", "value": email(), "connection_id": "c"}
            )
        )
        == "CONNECTION_ID_NOT_ALLOWED"
    )


def test_password_import_checks_each_method_inputs(storage: Storage, clock: FrozenClock) -> None:
    user = create(storage, clock, ("email", email()))

    def put(**body: object) -> object:
        return lambda: accounts.set_password(storage, clock, user.id, body)

    assert code_of(put()) == "HASHED_PASSWORD_REQUIRED"
    assert code_of(put(hashed_password="not a hash")) == "INVALID_HASHED_PASSWORD"
    assert code_of(put(hashed_password="abc", hashing_method="pbkdf2")) == "SALT_REQUIRED"
    assert (
        code_of(put(hashed_password="abc", hashing_method="aspnet-identity-v2", salt="s"))
        == "SALT_NOT_ALLOWED"
    )
    assert code_of(put(hashed_password="abc", hashing_method="crypt", rounds=4)) == (
        "ROUNDS_NOT_ALLOWED"
    )
    assert code_of(put(hashed_password="abc", hashing_method="crypt", iterations=0)) == (
        "INVALID_ITERATIONS"
    )
    accounts.set_password(
        storage,
        clock,
        user.id,
        {"hashed_password": "abc", "hashing_method": "pbkdf2", "salt": "s1", "variant": "sha1"},
    )
    accounts.set_password(storage, clock, user.id, {"hashed_password": BCRYPT})
    with storage.read() as uow:
        stored = uow[ACCOUNTS_REPO].get_password(user.id)
    assert stored is not None
    assert (stored.password_hash, stored.hashing_method, stored.params) == (BCRYPT, "bcrypt", {})
    with pytest.raises(NotFound):
        accounts.set_password(storage, clock, "kp_missing", {"hashed_password": BCRYPT})


def test_identity_patch_needs_a_boolean_is_primary(storage: Storage, clock: FrozenClock) -> None:
    user = create(storage, clock, ("email", email()))
    identity = user.identities[0].id
    assert code_of(lambda: accounts.update_identity(storage, identity, {})) == (
        "NO_FIELDS_TO_UPDATE"
    )
    assert code_of(lambda: accounts.update_identity(storage, identity, {"is_primary": None})) == (
        "INVALID_IS_PRIMARY"
    )
    with pytest.raises(ValidationError):
        accounts.update_identity(storage, identity, {"is_primary": "true"})
