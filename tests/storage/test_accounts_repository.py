"""Storage contract: ``AccountRepository`` (identities by id, password hash, MFA factors,
sessions) on both engines."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import connection_id, identity_id, user_id
from kindling.platform.storage import Storage
from kindling.resources.users.accounts.model import PasswordHash
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from kindling.resources.users.model import Identity
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_identity import (
    add_connection,
    add_mfa_factor,
    add_org,
    add_session,
    add_user,
    email_address,
    make_identity,
    phone_number,
)


def _add(storage: Storage, identity: Identity) -> Identity:
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(identity)
    return identity


def _password(owner: str, hash_: str = "$2b$10$abc", **fields: object) -> PasswordHash:
    values: dict[str, object] = {
        "user_id": owner,
        "password_hash": hash_,
        "hashing_method": "bcrypt",
        "is_temporary": False,
        "updated_on": NOW,
        **fields,
    }
    return PasswordHash(**values)  # type: ignore[arg-type]


# --- identities -------------------------------------------------------------------


def test_get_identity_round_trip_and_missing(storage: Storage) -> None:
    user = add_user(storage)
    connection = add_connection(storage)
    social = Identity(
        id=identity_id(),
        user_id=user.id,
        type="social",
        value=f"Social-{uid()}",
        is_verified=True,
        is_primary=False,
        created_on=LATER,
        connection_id=connection.id,
        total_logins=4,
        last_login_on=LATER,
    )
    _add(storage, social)
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_identity(social.id) == social
        assert uow[ACCOUNTS_REPO].get_identity(user.identities[0].id) == user.identities[0]
        assert uow[ACCOUNTS_REPO].get_identity(identity_id()) is None


def test_identity_seq_belongs_to_the_user(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    second = _add(storage, make_identity(user.id, "username", f"s{uid()}"))
    with storage.read() as uow:
        accounts = uow[ACCOUNTS_REPO]
        first_seq = accounts.identity_seq(user.id, user.identities[0].id)
        second_seq = accounts.identity_seq(user.id, second.id)
        assert first_seq is not None and second_seq is not None and first_seq < second_seq
        assert accounts.identity_seq(other.id, second.id) is None
        assert accounts.identity_seq(user.id, other.identities[0].id) is None
        assert accounts.identity_seq(user.id, identity_id()) is None


def test_list_identities_pages_after_and_before(storage: Storage) -> None:
    user = add_user(storage)
    other = add_user(storage)
    extra = [
        _add(storage, make_identity(user.id, "email", email_address(), primary=False))
        for _ in range(4)
    ]
    mine = [user.identities[0], *extra]
    with storage.read() as uow:
        accounts = uow[ACCOUNTS_REPO]
        seqs = [accounts.identity_seq(user.id, i.id) for i in mine]
        assert all(s is not None for s in seqs)
        assert accounts.list_identities(user.id, None, None, 10) == mine
        assert accounts.list_identities(user.id, None, None, 2) == mine[:2]
        assert accounts.list_identities(user.id, seqs[1], None, 2) == mine[2:4]
        assert accounts.list_identities(user.id, seqs[4], None, 2) == []
        # ``before``: the last ones before it, in creation order.
        assert accounts.list_identities(user.id, None, seqs[4], 2) == mine[2:4]
        assert accounts.list_identities(user.id, None, seqs[1], 10) == mine[:1]
        assert accounts.list_identities(user.id, None, seqs[0], 10) == []
        assert accounts.list_identities(other.id, None, None, 10) == list(other.identities)
        assert accounts.list_identities(user_id(), None, None, 10) == []


def test_add_identity_refuses_the_same_normalized_value_per_type(storage: Storage) -> None:
    address = email_address()
    owner = add_user(storage, ("email", address))
    other = add_user(storage)
    clash = make_identity(other.id, "email", f" {address.upper()}", primary=False)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(clash)
    # Another type may carry the same text.
    as_username = _add(storage, make_identity(other.id, "username", address))
    name = f"N{uid()}"
    _add(storage, make_identity(other.id, "username", name, primary=False))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(make_identity(owner.id, "username", name.lower()))
    phone = phone_number()
    _add(storage, make_identity(other.id, "phone", phone))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(make_identity(owner.id, "phone", f"{phone} "))
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_identity(clash.id) is None
        assert uow[ACCOUNTS_REPO].get_identity(as_username.id) == as_username


@pytest.mark.parametrize("kind", ["social", "enterprise"])
def test_add_identity_connection_values_are_unique_per_connection(
    storage: Storage, kind: str
) -> None:
    google, github = add_connection(storage), add_connection(storage)
    a, b = add_user(storage), add_user(storage)
    value = f"Person-{uid()}"
    first = _add(storage, make_identity(a.id, kind, value, connection=google.id))
    # The same value through another connection is another identity.
    other = _add(storage, make_identity(b.id, kind, value, connection=github.id))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(
            make_identity(b.id, kind, value.upper(), primary=False, connection=google.id)
        )
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].list_identities(a.id, None, None, 10)[-1] == first
        assert uow[ACCOUNTS_REPO].list_identities(b.id, None, None, 10)[-1] == other


def test_add_identity_for_a_missing_user_is_refused(storage: Storage) -> None:
    ghost = make_identity(user_id(), "email", email_address())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(ghost)
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_identity(ghost.id) is None


def test_lock_user(storage: Storage) -> None:
    user = add_user(storage)
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].lock_user(user.id) is True
        assert uow[ACCOUNTS_REPO].lock_user(user_id()) is False
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user.id) == user  # locking changes nothing


def test_primary_identity_prefers_the_primary_then_the_oldest(storage: Storage) -> None:
    user = add_user(storage, ("username", f"p{uid()}"))
    older = _add(storage, make_identity(user.id, "email", email_address(), primary=False))
    newer = _add(storage, make_identity(user.id, "email", email_address(), primary=True))
    with storage.read() as uow:
        accounts = uow[ACCOUNTS_REPO]
        assert accounts.primary_identity(user.id, "email") == newer
        assert accounts.primary_identity(user.id, "username") == user.identities[0]
        assert accounts.primary_identity(user.id, "phone") is None
        assert accounts.primary_identity(user_id(), "email") is None
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_primary(user.id, "email", None)
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].primary_identity(user.id, "email") == older


def test_set_primary_moves_the_flag_and_mirrors_the_value(storage: Storage) -> None:
    first_mail = email_address()
    user = add_user(storage, ("email", first_mail), ("username", f"m{uid()}"))
    other = add_user(storage)
    second = _add(storage, make_identity(user.id, "email", email_address(), primary=False))
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_primary(user.id, "email", second.id)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
        assert uow[USERS_REPO].get(other.id) == other
    assert got is not None
    assert got.email == second.value
    assert got.username == user.username  # other types are untouched
    flags = {i.id: i.is_primary for i in got.identities}
    assert flags == {user.identities[0].id: False, user.identities[1].id: True, second.id: True}

    # Setting the same primary again keeps exactly one primary.
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_primary(user.id, "email", second.id)
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_primary(user.id, "email", None)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got is not None and got.email is None
    assert [i.is_primary for i in got.identities if i.type == "email"] == [False, False]


def test_set_primary_mirrors_username_and_phone(storage: Storage) -> None:
    user = add_user(storage)
    name = f"Mirror{uid()}"
    phone = phone_number()
    named = _add(storage, make_identity(user.id, "username", name, primary=False))
    dialled = _add(storage, make_identity(user.id, "phone", phone, primary=False))
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_primary(user.id, "username", named.id)
        uow[ACCOUNTS_REPO].set_primary(user.id, "phone", dialled.id)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got is not None
    assert (got.username, got.phone, got.email) == (name, phone, user.email)


def test_set_primary_of_a_social_identity_mirrors_nothing(storage: Storage) -> None:
    connection = add_connection(storage)
    user = add_user(storage)
    a = _add(storage, make_identity(user.id, "social", f"a{uid()}", connection=connection.id))
    b = _add(
        storage, make_identity(user.id, "social", f"b{uid()}", False, connection=connection.id)
    )
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_primary(user.id, "social", b.id)
    with storage.read() as uow:
        accounts = uow[ACCOUNTS_REPO]
        assert accounts.get_identity(a.id) == replace(a, is_primary=False)
        assert accounts.get_identity(b.id) == replace(b, is_primary=True)
        got = uow[USERS_REPO].get(user.id)
    assert got is not None and (got.email, got.username, got.phone) == (user.email, None, None)


def test_delete_identity(storage: Storage) -> None:
    address = email_address()
    user = add_user(storage, ("email", address), ("username", f"x{uid()}"))
    doomed = user.identities[0]
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].delete_identity(doomed.id) is True
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].delete_identity(doomed.id) is False
        assert uow[ACCOUNTS_REPO].delete_identity(identity_id()) is False
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_identity(doomed.id) is None
        assert uow[ACCOUNTS_REPO].list_identities(user.id, None, None, 10) == [user.identities[1]]
        assert uow[USERS_REPO].get(user.id) is not None
    # The value is free again.
    newcomer = add_user(storage, ("username", f"y{uid()}"))
    _add(storage, make_identity(newcomer.id, "email", address))


def test_connection_exists(storage: Storage) -> None:
    connection = add_connection(storage)
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].connection_exists(connection.id) is True
        assert uow[ACCOUNTS_REPO].connection_exists(connection_id()) is False


# --- password ---------------------------------------------------------------------


def test_set_and_get_password(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    first = _password(user.id, params={"salt": "c2FsdA==", "iterations": 10000, "nested": [1]})
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_password(user.id) is None
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_password(first)
    with storage.read() as uow:
        got = uow[ACCOUNTS_REPO].get_password(user.id)
        assert uow[ACCOUNTS_REPO].get_password(other.id) is None
    assert got == first and isinstance(got.is_temporary, bool)
    # Setting again replaces the hash (one per user).
    second = _password(user.id, "$argon2id$new", hashing_method="argon2", is_temporary=True)
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_password(second)
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_password(user.id) == second


def test_set_password_for_a_missing_user_is_refused(storage: Storage) -> None:
    ghost = user_id()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].set_password(_password(ghost))
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_password(ghost) is None


# --- MFA ----------------------------------------------------------------------------


def test_mfa_factors_are_environment_level_oldest_first(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    org = add_org(storage)
    first = add_mfa_factor(storage, user.id, kind="totp")
    add_mfa_factor(storage, user.id, org_code=org.code)
    second = add_mfa_factor(storage, user.id, kind="sms")
    add_mfa_factor(storage, other.id)
    with storage.read() as uow:
        factors = uow[ACCOUNTS_REPO].mfa_factors(user.id)
        assert uow[ACCOUNTS_REPO].mfa_factors(user_id()) == []
    assert [(f.id, f.type, f.org_code, f.user_id) for f in factors] == [
        (first, "totp", None, user.id),
        (second, "sms", None, user.id),
    ]


def test_delete_mfa_factors_counts_and_keeps_organization_factors(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    org = add_org(storage)
    add_mfa_factor(storage, user.id)
    add_mfa_factor(storage, user.id)
    org_factor = add_mfa_factor(storage, user.id, org_code=org.code)
    kept = add_mfa_factor(storage, other.id)
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].delete_mfa_factors(user.id) == 2
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].delete_mfa_factors(user.id) == 0
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].mfa_factors(user.id) == []
        assert [f.id for f in uow[ACCOUNTS_REPO].mfa_factors(other.id)] == [kept]
    with storage.transaction() as uow:
        # The organization-level factor was not deleted (and is not this repository's).
        assert uow[ACCOUNTS_REPO].delete_mfa_factor(user.id, org_factor) is False


def test_delete_one_mfa_factor(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    doomed, kept = add_mfa_factor(storage, user.id), add_mfa_factor(storage, user.id)
    foreign = add_mfa_factor(storage, other.id)
    with storage.transaction() as uow:
        accounts = uow[ACCOUNTS_REPO]
        assert accounts.delete_mfa_factor(user.id, foreign) is False  # not this user's
        assert accounts.delete_mfa_factor(user.id, doomed) is True
        assert accounts.delete_mfa_factor(user.id, doomed) is False
        assert accounts.delete_mfa_factor(user.id, "mfa_missing") is False
    with storage.read() as uow:
        assert [f.id for f in uow[ACCOUNTS_REPO].mfa_factors(user.id)] == [kept]
        assert [f.id for f in uow[ACCOUNTS_REPO].mfa_factors(other.id)] == [foreign]


# --- sessions ---------------------------------------------------------------------


def test_sessions_oldest_first_up_to_limit(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    org = add_org(storage)
    made = [add_session(storage, user.id, org.code if i == 1 else None) for i in range(3)]
    add_session(storage, other.id)
    with storage.read() as uow:
        accounts = uow[ACCOUNTS_REPO]
        every = accounts.sessions(user.id, 10)
        assert [s.id for s in accounts.sessions(user.id, 2)] == made[:2]
        assert accounts.sessions(user_id(), 10) == []
    assert [s.id for s in every] == made
    assert every[1].org_code == org.code and every[0].org_code is None
    assert {(s.user_id, s.user_agent, s.ip_address) for s in every} == {
        (user.id, "pytest", "127.0.0.1")
    }


def test_delete_sessions(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    add_session(storage, user.id)
    add_session(storage, user.id)
    kept = add_session(storage, other.id)
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].delete_sessions(user.id) == 2
    with storage.transaction() as uow:
        assert uow[ACCOUNTS_REPO].delete_sessions(user.id) == 0
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].sessions(user.id, 10) == []
        assert [s.id for s in uow[ACCOUNTS_REPO].sessions(other.id, 10)] == [kept]


# --- transactions -----------------------------------------------------------------


def test_rollback_leaves_no_identity_password_or_primary_change(storage: Storage) -> None:
    user = add_user(storage)
    extra = make_identity(user.id, "email", email_address(), primary=False)
    with pytest.raises(Boom), storage.transaction() as uow:
        accounts = uow[ACCOUNTS_REPO]
        accounts.add_identity(extra)
        accounts.set_primary(user.id, "email", extra.id)
        accounts.set_password(_password(user.id))
        assert accounts.delete_identity(user.identities[0].id) is True
        assert accounts.get_password(user.id) is not None
        raise Boom
    with storage.read() as uow:
        assert uow[ACCOUNTS_REPO].get_identity(extra.id) is None
        assert uow[ACCOUNTS_REPO].get_password(user.id) is None
        assert uow[USERS_REPO].get(user.id) == user
