"""Storage contract: ``UserRepository`` (users and their identities) on both engines."""

from __future__ import annotations

import msgspec
import pytest
from msgspec.structs import replace

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import organization_code, user_id
from kindling.platform.storage import Storage
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.users.accounts.model import PasswordHash
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from kindling.resources.users.model import User, UserSummary, normalize_identity
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_identity import (
    add_api,
    add_connection,
    add_mfa_factor,
    add_org,
    add_property,
    add_role,
    add_session,
    add_user,
    count,
    email_address,
    make_identity,
    make_user,
    phone_number,
    set_user_property,
)


def _ids(rows: list[tuple[int, User]]) -> list[str]:
    return [u.id for _, u in rows]


# --- get / add ------------------------------------------------------------------


def test_get_missing_user_returns_none(storage: Storage) -> None:
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user_id()) is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    address, name, phone = email_address(), f"n{uid()}", phone_number()
    user = make_user(
        ("email", address),
        ("username", name),
        ("phone", phone),
        provided_id=f"ext-{uid()}",
        first_name="Ada",
        last_name="Lovelace",
        picture="https://example.com/a.png",
        is_suspended=True,
        is_password_reset_requested=True,
        total_sign_ins=3,
        failed_sign_ins=2,
        last_signed_in=LATER,
    )
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got == user
    assert got is not None and isinstance(got.is_suspended, bool)
    assert [(i.type, i.value, i.is_primary) for i in got.identities] == [
        ("email", address, True),
        ("username", name, True),
        ("phone", phone, True),
    ]


def test_add_keeps_every_identity_field(storage: Storage) -> None:
    """``add`` inserts the identities as given: login counters and connection included."""
    connection = add_connection(storage)
    user = make_user(("email", email_address()))
    social = replace(
        make_identity(user.id, "social", f"s{uid()}", connection=connection.id),
        total_logins=7,
        last_login_on=LATER,
    )
    user = replace(user, identities=(user.identities[0], social))
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got is not None
    assert [(i.id, i.connection_id, i.total_logins, i.last_login_on) for i in got.identities] == [
        (user.identities[0].id, None, 0, None),
        (social.id, connection.id, 7, LATER),
    ]


def _with_identity(kind: str, value: str, connection: str | None = None) -> User:
    user = make_user()
    return replace(user, identities=(make_identity(user.id, kind, value, connection=connection),))


def test_social_identities_are_unique_per_connection(storage: Storage) -> None:
    """``add``/``add_many`` key identities like the Identities resource does: the same
    social value may exist once per connection, and a clash is refused whichever of the
    two repositories wrote the first one."""
    google, github, apple = (add_connection(storage) for _ in range(3))
    value = f"S{uid()}"
    on_google = _with_identity("social", value, google.id)
    on_github = _with_identity("social", value.lower(), github.id)
    with storage.transaction() as uow:
        uow[USERS_REPO].add_many([on_google, on_github])
    with storage.read() as uow:
        grouped = uow[USERS_REPO].identities([on_google.id, on_github.id])
    assert grouped == {
        on_google.id: list(on_google.identities),
        on_github.id: list(on_github.identities),
    }
    # The same value (any case) on the same connection is taken, through either repository.
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add(_with_identity("social", value.upper(), google.id))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(
            make_identity(
                on_github.id, "social", value.upper(), primary=False, connection=google.id
            )
        )
    # An identity the Identities resource stored blocks the same one in ``add``.
    with storage.transaction() as uow:
        uow[ACCOUNTS_REPO].add_identity(
            make_identity(on_google.id, "social", value, primary=False, connection=apple.id)
        )
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add(_with_identity("social", value, apple.id))
    # Without a connection the value is keyed on its own, apart from every connection.
    loose = _with_identity("social", value)
    with storage.transaction() as uow:
        uow[USERS_REPO].add(loose)
    with storage.read() as uow:
        assert uow[USERS_REPO].get(loose.id) == loose


def test_add_user_without_identities(storage: Storage) -> None:
    user = make_user(first_name="Solo")
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
        assert uow[USERS_REPO].identities([user.id]) == {}
    assert got is not None and got.identities == () and got.first_name == "Solo"


def _variant(kind: str, value: str) -> str:
    """Another spelling of ``value`` with the same normalized form."""
    return {"email": f"  {value.upper()} ", "username": value.upper(), "phone": f" {value} "}[kind]


@pytest.mark.parametrize("kind", ["email", "username", "phone"])
def test_add_rejects_a_taken_identity(storage: Storage, kind: str) -> None:
    value = {"email": email_address(), "username": f"u{uid()}", "phone": phone_number()}[kind]
    owner = add_user(storage, (kind, value))
    clash = make_user((kind, _variant(kind, value)))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add(clash)
    with storage.read() as uow:
        assert uow[USERS_REPO].get(clash.id) is None
        assert uow[USERS_REPO].get(owner.id) == owner


def test_same_value_under_another_identity_type_is_allowed(storage: Storage) -> None:
    value = f"x{uid()}"
    a = add_user(storage, ("username", value))
    b = add_user(storage, ("email", value))
    with storage.read() as uow:
        assert uow[USERS_REPO].get(a.id) is not None
        assert uow[USERS_REPO].get(b.id) is not None


def test_add_many_inserts_the_whole_batch(storage: Storage) -> None:
    users = [make_user(("email", email_address()), ("username", f"b{uid()}")) for _ in range(25)]
    with storage.transaction() as uow:
        uow[USERS_REPO].add_many(users)
        uow[USERS_REPO].add_many([])  # an empty batch is a no-op
    with storage.read() as uow:
        grouped = uow[USERS_REPO].identities([u.id for u in users])
        rows = uow[USERS_REPO].list_page(None, 100, user_ids=[u.id for u in users])
        last = uow[USERS_REPO].get(users[-1].id)
    assert _ids(rows) == [u.id for u in users]
    assert {k: [i.id for i in v] for k, v in grouped.items()} == {
        u.id: [i.id for i in u.identities] for u in users
    }
    assert last == users[-1]


def test_add_many_with_a_duplicate_inside_the_batch_writes_nothing(storage: Storage) -> None:
    shared = email_address()
    batch = [make_user(("email", email_address())) for _ in range(5)]
    batch += [make_user(("email", shared)), make_user(("email", shared.upper()))]
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add_many(batch)
    with storage.read() as uow:
        assert uow[USERS_REPO].list_page(None, 100, user_ids=[u.id for u in batch]) == []
        assert uow[USERS_REPO].identities([u.id for u in batch]) == {}
    add_user(storage, ("email", shared))  # the address was never taken


def test_add_many_colliding_with_stored_identity_writes_nothing(storage: Storage) -> None:
    owner = add_user(storage, ("username", f"t{uid()}"))
    batch = [make_user(("email", email_address())) for _ in range(5)]
    batch.append(make_user(("username", (owner.username or "").upper())))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add_many(batch)
    with storage.read() as uow:
        assert all(uow[USERS_REPO].get(u.id) is None for u in batch)


def test_rollback_leaves_no_user_identity_or_membership(storage: Storage) -> None:
    org = add_org(storage)
    user = make_user(("email", email_address()))
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[USERS_REPO].add(user)
        uow[USERS_REPO].add_to_organization(user.id, org.code, NOW)
        assert uow[USERS_REPO].organizations([user.id]) == {user.id: [org.code]}
        raise Boom
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user.id) is None
        assert uow[USERS_REPO].identities([user.id]) == {}
        assert uow[USERS_REPO].organizations([user.id]) == {}
        assert uow[USERS_REPO].seq_of(user.id) is None


# --- update / delete ------------------------------------------------------------


def test_update_overwrites_profile_fields_but_not_identities(storage: Storage) -> None:
    user = add_user(storage, ("email", email_address()), ("username", f"p{uid()}"))
    changed = replace(
        user,
        provided_id="ext-1",
        first_name="First",
        last_name="Last",
        picture="https://example.com/p.png",
        is_suspended=True,
        is_password_reset_requested=True,
        identities=(make_identity(user.id, "email", email_address()),),
    )
    with storage.transaction() as uow:
        uow[USERS_REPO].update(changed)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got is not None
    assert (got.provided_id, got.first_name, got.last_name, got.picture) == (
        "ext-1",
        "First",
        "Last",
        "https://example.com/p.png",
    )
    assert got.is_suspended is True and got.is_password_reset_requested is True
    assert got.identities == user.identities
    # And back again: false and None overwrite too.
    with storage.transaction() as uow:
        uow[USERS_REPO].update(replace(changed, first_name=None, is_suspended=False))
    with storage.read() as uow:
        again = uow[USERS_REPO].get(user.id)
    assert again is not None and again.first_name is None and again.is_suspended is False


def test_update_of_missing_user_creates_nothing(storage: Storage) -> None:
    ghost = make_user(first_name="Ghost")
    with storage.transaction() as uow:
        uow[USERS_REPO].update(ghost)
    with storage.read() as uow:
        assert uow[USERS_REPO].get(ghost.id) is None


def test_delete_removes_the_user_and_everything_hanging_off_it(storage: Storage) -> None:
    address, name = email_address(), f"d{uid()}"
    user = add_user(storage, ("email", address), ("username", name))
    keep = add_user(storage)
    org = add_org(storage)
    role = add_role(storage)
    api, (scope,) = add_api(storage, "read")
    prop = add_property(storage)
    with storage.transaction() as uow:
        for who in (user, keep):
            uow[USERS_REPO].add_to_organization(who.id, org.code, NOW)
            uow[MEMBERSHIPS_REPO].add_member_role(org.code, who.id, role.id, NOW)
        uow[MEMBERSHIPS_REPO].add_member_api_scope(org.code, user.id, api.id, scope.id)
        uow[ACCOUNTS_REPO].set_password(
            PasswordHash(user.id, "$2b$hash", "bcrypt", False, NOW, {"cost": 10})
        )
    set_user_property(storage, user.id, prop, "v")
    add_mfa_factor(storage, user.id)
    add_session(storage, user.id)

    with storage.transaction() as uow:
        assert uow[USERS_REPO].delete(user.id) is True
    with storage.read() as uow:
        users = uow[USERS_REPO]
        assert users.get(user.id) is None
        assert users.identities([user.id]) == {}
        assert users.organizations([user.id]) == {}
        assert users.property_values([user.id]) == {}
        assert users.api_scopes([user.id]) == {}
        assert uow[ACCOUNTS_REPO].get_password(user.id) is None
        assert uow[ACCOUNTS_REPO].mfa_factors(user.id) == []
        assert uow[ACCOUNTS_REPO].sessions(user.id, 10) == []
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id) == []
        # The other member is untouched.
        assert users.organizations([keep.id]) == {keep.id: [org.code]}
        assert [r.id for r in uow[MEMBERSHIPS_REPO].member_roles(org.code, keep.id)] == [role.id]
    assert 0 == count(
        storage, "SELECT COUNT(*) AS n FROM user_identities WHERE user_id = ?", [user.id]
    )
    with storage.transaction() as uow:
        assert uow[USERS_REPO].delete(user.id) is False
    add_user(storage, ("email", address), ("username", name))  # identities are free again


def test_delete_missing_user_returns_false(storage: Storage) -> None:
    with storage.transaction() as uow:
        assert uow[USERS_REPO].delete(user_id()) is False


# --- listing ----------------------------------------------------------------------


def test_list_page_is_oldest_first_with_keyset_after_and_limit(storage: Storage) -> None:
    users = [add_user(storage) for _ in range(5)]
    ids = [u.id for u in users]
    with storage.read() as uow:
        everything = uow[USERS_REPO].list_page(None, 1_000_000)
        assert [u.id for _, u in everything if u.id in ids] == ids
        seqs = [s for s, _ in everything]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        first = uow[USERS_REPO].list_page(None, 2, user_ids=ids)
        assert _ids(first) == ids[:2]
        second = uow[USERS_REPO].list_page(first[-1][0], 2, user_ids=ids)
        assert _ids(second) == ids[2:4]
        third = uow[USERS_REPO].list_page(second[-1][0], 2, user_ids=ids)
        assert _ids(third) == ids[4:]
        assert uow[USERS_REPO].list_page(third[-1][0], 2, user_ids=ids) == []
        # Rows carry their own sequence and come without identities.
        assert all(u.identities == () for _, u in first + second + third)
        assert [s for s, _ in first] == [uow[USERS_REPO].seq_of(i) for i in ids[:2]]


def test_list_page_filters_must_all_match(storage: Storage) -> None:
    a_mail, b_mail, c_mail = email_address(), email_address(), email_address()
    name, phone = f"F{uid()}", phone_number()
    a = add_user(storage, ("email", a_mail), ("username", name), ("phone", phone))
    b = add_user(storage, ("email", b_mail))
    c = add_user(storage, ("email", c_mail))
    mails = [normalize_identity("email", m) for m in (a_mail, b_mail, c_mail)]
    with storage.read() as uow:
        repo = uow[USERS_REPO]
        assert _ids(repo.list_page(None, 10, emails=mails)) == [a.id, b.id, c.id]
        assert _ids(repo.list_page(None, 10, emails=mails, user_ids=[c.id, b.id])) == [b.id, c.id]
        assert _ids(repo.list_page(None, 10, usernames=[name.casefold()])) == [a.id]
        assert _ids(repo.list_page(None, 10, phones=[phone])) == [a.id]
        assert _ids(repo.list_page(None, 10, emails=mails, phones=[phone])) == [a.id]
        assert repo.list_page(None, 10, emails=[mails[1]], usernames=[name.casefold()]) == []
        # An email value is not a username.
        assert repo.list_page(None, 10, usernames=[mails[0]]) == []
        assert repo.list_page(None, 10, user_ids=[user_id()]) == []


def test_identities_are_grouped_by_user_in_creation_order(storage: Storage) -> None:
    a = add_user(storage, ("email", email_address()), ("username", f"g{uid()}"))
    b = add_user(storage, ("phone", phone_number()))
    bare = add_user(storage, *())  # default: one email identity
    lonely = make_user()
    with storage.transaction() as uow:
        uow[USERS_REPO].add(lonely)
    with storage.read() as uow:
        grouped = uow[USERS_REPO].identities([a.id, b.id, lonely.id, user_id()])
        assert uow[USERS_REPO].identities([]) == {}
        assert list(uow[USERS_REPO].identities([bare.id])) == [bare.id]
    assert set(grouped) == {a.id, b.id}
    assert grouped[a.id] == list(a.identities)
    assert grouped[b.id] == list(b.identities)


def test_list_page_filtered_by_organization_membership(storage: Storage) -> None:
    org = add_org(storage)
    inside, outside = add_user(storage), add_user(storage)
    with storage.transaction() as uow:
        uow[USERS_REPO].add_to_organization(inside.id, org.code, NOW)
    ids = [inside.id, outside.id]
    with storage.read() as uow:
        repo = uow[USERS_REPO]
        assert _ids(repo.list_page_filtered(None, 10, ids, has_organization=True)) == [inside.id]
        assert _ids(repo.list_page_filtered(None, 10, ids, has_organization=False)) == [outside.id]
        assert _ids(repo.list_page_filtered(None, 10, ids, has_organization=None)) == ids
        after = repo.seq_of(inside.id)
        assert _ids(repo.list_page_filtered(after, 10, ids)) == [outside.id]
        assert _ids(repo.list_page_filtered(None, 1, ids)) == [inside.id]
        mail = normalize_identity("email", outside.email or "")
        assert _ids(repo.list_page_filtered(None, 10, emails=[mail])) == [outside.id]
        assert repo.list_page_filtered(None, 10, emails=[mail], has_organization=True) == []


def test_list_summaries_are_the_filtered_page_as_the_listing_shows_it(storage: Storage) -> None:
    org = add_org(storage)
    full = add_user(
        storage,
        ("email", email_address()),
        ("username", f"s{uid()}"),
        ("phone", phone_number()),
        provided_id=f"ext-{uid()}",
        first_name="Ada",
        last_name="Lovelace",
        picture="https://example.com/a.png",
        is_suspended=True,
        total_sign_ins=3,
        failed_sign_ins=2,
        last_signed_in=LATER,
    )
    bare = make_user()  # no identities, nothing optional
    with storage.transaction() as uow:
        uow[USERS_REPO].add(bare)
        uow[USERS_REPO].add_to_organization(bare.id, org.code, NOW)
    ids = [full.id, bare.id]
    with storage.read() as uow:
        repo = uow[USERS_REPO]
        rows = repo.list_summaries(None, 10, ids)
        # The same users, positions and order as the page of whole users.
        assert [(seq, s.id) for seq, s in rows] == [
            (seq, u.id) for seq, u in repo.list_page_filtered(None, 10, ids)
        ]
        assert [s.id for _, s in repo.list_summaries(None, 10, ids, has_organization=True)] == [
            bare.id
        ]
        assert [s.id for _, s in repo.list_summaries(rows[0][0], 10, ids)] == [bare.id]
        mail = normalize_identity("email", full.email or "")
        assert [s.id for _, s in repo.list_summaries(None, 10, emails=[mail])] == [full.id]
    summary = rows[0][1]
    for name in UserSummary.__struct_fields__:
        if name not in ("organizations", "identities"):
            assert getattr(summary, name) == getattr(full, name), name
    assert summary.is_suspended is True and rows[1][1].is_suspended is False
    # As the listing writes them: absent where the user has nothing, except the fields
    # the contract declares nullable, which are always there.
    assert msgspec.json.decode(msgspec.json.encode(rows[1][1])) == {
        "id": bare.id,
        "is_suspended": False,
        "total_sign_ins": 0,
        "failed_sign_ins": 0,
        "last_signed_in": None,
        "created_on": bare.created_on,
    }


#: Text that JSON must escape or could misread: quotes, backslashes, control characters,
#: a line separator, non-ASCII, astral plane, and text that looks like JSON itself.
_AWKWARD = 'say "hi" \\ \x01\x1f\n\t\u2028 \u00e9\u4e2d\U0001f600 {"a": [null, 1]} [null]'


def test_list_summaries_return_every_optional_field_exactly(storage: Storage) -> None:
    """The listing's columns come back exactly as stored, whichever of the optional ones
    a user has (on SQLite five of them are read as one packed value, ``list_summaries``)."""
    awkward = add_user(
        storage,
        ("email", email_address()),
        ("username", f"u{uid()}"),
        ("phone", phone_number()),
        provided_id="ext-" + _AWKWARD,
        first_name=_AWKWARD,
        last_name="",
        picture="https://example.com/" + _AWKWARD,
        last_signed_in=LATER,
        total_sign_ins=7,
        failed_sign_ins=1,
    )
    only_phone = add_user(storage, ("phone", phone_number()))
    only_signed_in = add_user(storage, last_signed_in=LATER)
    users = [awkward, only_phone, only_signed_in]
    with storage.read(one_statement=True) as uow:
        rows = uow[USERS_REPO].list_summaries(None, 10, [u.id for u in users])
    assert [s.id for _, s in rows] == [u.id for u in users]
    for (_, summary), user in zip(rows, users, strict=True):
        for name in UserSummary.__struct_fields__:
            if name not in ("organizations", "identities"):
                assert getattr(summary, name) == getattr(user, name), name
                assert type(getattr(summary, name)) is type(getattr(user, name)), name


def test_a_one_statement_read_refuses_a_second_statement(storage: Storage) -> None:
    """``Storage.read(one_statement=True)`` opens no transaction, so a second statement
    would read another snapshot: it is refused instead."""
    user = add_user(storage)
    with storage.read(one_statement=True) as uow:
        repo = uow[USERS_REPO]
        assert repo.seq_of(user.id) is not None
        with pytest.raises(RuntimeError, match="second statement"):
            repo.seq_of(user.id)
    with storage.read(one_statement=True) as uow:  # the connection is usable again
        assert uow[USERS_REPO].get(user_id()) is None


# --- organizations -----------------------------------------------------------------


def test_organization_exists(storage: Storage) -> None:
    org = add_org(storage)
    with storage.read() as uow:
        assert uow[USERS_REPO].organization_exists(org.code) is True
        assert uow[USERS_REPO].organization_exists(organization_code()) is False


def test_add_to_organization_and_organizations_in_joining_order(storage: Storage) -> None:
    first, second = add_org(storage), add_org(storage)
    user, other, loner = add_user(storage), add_user(storage), add_user(storage)
    with storage.transaction() as uow:
        uow[USERS_REPO].add_to_organization(user.id, second.code, NOW)
        uow[USERS_REPO].add_to_organization(user.id, first.code, LATER)
        uow[USERS_REPO].add_to_organization(other.id, first.code, NOW)
    with storage.read() as uow:
        found = uow[USERS_REPO].organizations([user.id, other.id, loner.id])
        assert uow[USERS_REPO].organizations([]) == {}
    assert found == {user.id: [second.code, first.code], other.id: [first.code]}


def test_add_to_organization_refuses_duplicates_and_missing_rows(storage: Storage) -> None:
    org, user = add_org(storage), add_user(storage)
    with storage.transaction() as uow:
        uow[USERS_REPO].add_to_organization(user.id, org.code, NOW)
    for who, code in ((user.id, org.code), (user_id(), org.code), (user.id, organization_code())):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[USERS_REPO].add_to_organization(who, code, NOW)
    with storage.read() as uow:
        assert uow[USERS_REPO].organizations([user.id]) == {user.id: [org.code]}


def test_seq_of(storage: Storage) -> None:
    a, b = add_user(storage), add_user(storage)
    with storage.read() as uow:
        seq_a, seq_b = uow[USERS_REPO].seq_of(a.id), uow[USERS_REPO].seq_of(b.id)
        assert uow[USERS_REPO].seq_of(user_id()) is None
        listed = uow[USERS_REPO].list_page(None, 10, user_ids=[a.id, b.id])
    assert seq_a is not None and seq_b is not None and seq_a < seq_b
    assert [s for s, _ in listed] == [seq_a, seq_b]


# --- search ------------------------------------------------------------------------


def _search_ids(storage: Storage, *args: object, **kwargs: object) -> list[str]:
    with storage.read() as uow:
        found = uow[USERS_REPO].search(*args, **kwargs)  # type: ignore[arg-type]
    assert all(u.identities == () for u in found)  # search returns no identities
    return [u.id for u in found]


def test_search_terms_match_id_names_and_identities(storage: Storage) -> None:
    tag = uid()
    alice = add_user(
        storage,
        ("email", f"Alice.{tag}@Example.com"),
        first_name="Alice",
        last_name=f"Tag{tag}",
    )
    bob = add_user(storage, ("username", f"bob_{tag}"), first_name="Bob", last_name=f"Tag{tag}")
    carol = add_user(storage, ("phone", phone_number()), first_name=f"Carol{tag}")
    assert _search_ids(storage, None, None, 10, terms=[tag]) == [alice.id, bob.id, carol.id]
    assert _search_ids(storage, None, None, 10, terms=[f"TAG{tag.upper()}"]) == [alice.id, bob.id]
    assert _search_ids(storage, None, None, 10, terms=[tag, "alice"]) == [alice.id]
    assert _search_ids(storage, None, None, 10, terms=[tag, "EXAMPLE.COM"]) == [alice.id]
    assert _search_ids(storage, None, None, 10, terms=[f"B_{tag}"]) == [bob.id]
    # The id matches exactly, not as a substring.
    assert _search_ids(storage, None, None, 10, terms=[carol.id]) == [carol.id]
    assert _search_ids(storage, None, None, 10, terms=[carol.id[:-1]]) == []
    assert _search_ids(storage, None, None, 10, terms=[tag, "nobody"]) == []


def test_search_names_are_case_insensitive_beyond_ascii(storage: Storage) -> None:
    """Names match case-insensitively for every letter, not only ASCII ones."""
    tag = uid()
    upper = add_user(storage, first_name="ÉMILE", last_name=f"Zoë{tag}")
    lower = add_user(storage, first_name="émile", last_name=f"ZOË{tag}")
    assert _search_ids(storage, None, None, 10, terms=[tag, "émile"]) == [upper.id, lower.id]
    assert _search_ids(storage, None, None, 10, terms=[tag, "ÉMILE"]) == [upper.id, lower.id]
    assert _search_ids(storage, None, None, 10, terms=[f"zoë{tag}"]) == [upper.id, lower.id]


def test_search_treats_like_wildcards_literally(storage: Storage) -> None:
    tag = uid()
    plain = add_user(storage, ("username", f"ab{tag}"), first_name=f"W{tag}")
    percent = add_user(storage, ("username", f"a%b{tag}"), first_name=f"W{tag}")
    underscore = add_user(storage, ("username", f"a_b{tag}"), first_name=f"W{tag}")
    bang = add_user(storage, ("username", f"a!b{tag}"), first_name=f"W{tag}")
    assert _search_ids(storage, None, None, 10, terms=[f"W{tag}"]) == [
        plain.id,
        percent.id,
        underscore.id,
        bang.id,
    ]
    assert _search_ids(storage, None, None, 10, terms=[f"a%b{tag}"]) == [percent.id]
    assert _search_ids(storage, None, None, 10, terms=[f"a_b{tag}"]) == [underscore.id]
    assert _search_ids(storage, None, None, 10, terms=[f"a!b{tag}"]) == [bang.id]
    assert _search_ids(storage, None, None, 10, terms=[f"W{tag}", "%"]) == [percent.id]


def test_search_exact_email(storage: Storage) -> None:
    tag = uid()
    target = add_user(storage, ("email", f"exact-{tag}@example.com"), last_name=f"T{tag}")
    add_user(storage, ("email", f"exact-{tag}@example.com.au"), last_name=f"T{tag}")
    add_user(storage, ("username", f"exact-{tag}@example.com"), last_name=f"T{tag}")
    found = _search_ids(storage, None, None, 10, exact_email=f"exact-{tag}@example.com")
    assert found == [target.id]
    assert _search_ids(storage, None, None, 10, exact_email=f"exact-{tag}@example") == []
    assert _search_ids(storage, None, None, 10, terms=["nomatch"], exact_email=target.email) == []


def test_search_by_property_values(storage: Storage) -> None:
    tag = uid()
    colour, size = add_property(storage, f"colour{tag}"), add_property(storage, f"size{tag}")
    red = add_user(storage, last_name=f"P{tag}")
    blue = add_user(storage, last_name=f"P{tag}")
    red_big = add_user(storage, last_name=f"P{tag}")
    set_user_property(storage, red.id, colour, "red")
    set_user_property(storage, blue.id, colour, "blue")
    set_user_property(storage, red_big.id, colour, "red")
    set_user_property(storage, red_big.id, size, "big")
    search = _search_ids
    assert search(storage, None, None, 10, properties={f"colour{tag}": ["red"]}) == [
        red.id,
        red_big.id,
    ]
    assert search(storage, None, None, 10, properties={f"colour{tag}": ["red", "blue"]}) == [
        red.id,
        blue.id,
        red_big.id,
    ]
    both = {f"colour{tag}": ["red"], f"size{tag}": ["big"]}
    assert search(storage, None, None, 10, properties=both) == [red_big.id]
    assert search(storage, None, None, 10, properties={f"colour{tag}": ["green"]}) == []


def test_search_by_api_scopes(storage: Storage) -> None:
    tag = uid()
    read_key, write_key = f"read:{tag}", f"write:{tag}"
    api, (read, write) = add_api(storage, read_key, write_key)
    org_a, org_b = add_org(storage), add_org(storage)
    reader, writer, both = (add_user(storage, last_name=f"S{tag}") for _ in range(3))
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        for who in (reader, writer, both):
            members.add_member(org_a.code, who.id, NOW)
        members.add_member(org_b.code, both.id, NOW)
        members.add_member_api_scope(org_a.code, reader.id, api.id, read.id)
        members.add_member_api_scope(org_a.code, writer.id, api.id, write.id)
        members.add_member_api_scope(org_a.code, both.id, api.id, read.id)
        members.add_member_api_scope(org_b.code, both.id, api.id, write.id)
    assert _search_ids(storage, None, None, 10, api_scopes=[read_key]) == [reader.id, both.id]
    assert _search_ids(storage, None, None, 10, api_scopes=[write_key]) == [writer.id, both.id]
    assert _search_ids(storage, None, None, 10, api_scopes=[read_key, write_key]) == [both.id]
    assert _search_ids(storage, None, None, 10, api_scopes=[f"none:{tag}"]) == []


def test_search_pages_after_and_before(storage: Storage) -> None:
    tag = uid()
    users = [add_user(storage, last_name=f"K{tag}") for _ in range(5)]
    ids = [u.id for u in users]
    with storage.read() as uow:
        seqs = [uow[USERS_REPO].seq_of(i) for i in ids]
    assert all(s is not None for s in seqs)
    terms = [f"K{tag}"]
    assert _search_ids(storage, None, None, 2, terms=terms) == ids[:2]
    assert _search_ids(storage, seqs[1], None, 2, terms=terms) == ids[2:4]
    assert _search_ids(storage, seqs[3], None, 2, terms=terms) == ids[4:]
    assert _search_ids(storage, seqs[4], None, 2, terms=terms) == []
    # ``before``: the last ones before it, still oldest first.
    assert _search_ids(storage, None, seqs[4], 2, terms=terms) == ids[2:4]
    assert _search_ids(storage, None, seqs[2], 5, terms=terms) == ids[:2]
    assert _search_ids(storage, None, seqs[0], 5, terms=terms) == []


# --- properties and API scopes ------------------------------------------------------


def test_properties_exist(storage: Storage) -> None:
    tag = uid()
    add_property(storage, f"here{tag}")
    add_property(storage, f"also{tag}", context="org")
    with storage.read() as uow:
        repo = uow[USERS_REPO]
        assert repo.properties_exist([f"here{tag}", f"gone{tag}", f"also{tag}"]) == {
            f"here{tag}",
            f"also{tag}",
        }
        assert repo.properties_exist([f"gone{tag}"]) == set()
        assert repo.properties_exist([]) == set()


def test_property_values_skip_nulls_and_group_by_user(storage: Storage) -> None:
    tag = uid()
    city, empty = add_property(storage, f"city{tag}"), add_property(storage, f"empty{tag}")
    a, b, none = add_user(storage), add_user(storage), add_user(storage)
    set_user_property(storage, a.id, city, "Sydney")
    set_user_property(storage, a.id, empty, None)
    set_user_property(storage, b.id, city, "")
    set_user_property(storage, none.id, empty, None)
    with storage.read() as uow:
        found = uow[USERS_REPO].property_values([a.id, b.id, none.id])
        assert uow[USERS_REPO].property_values([]) == {}
    assert found.get(a.id) == {f"city{tag}": "Sydney"}
    assert found.get(b.id) == {f"city{tag}": ""}
    assert found.get(none.id, {}) == {}


def test_api_scopes_per_user(storage: Storage) -> None:
    api, (read, write) = add_api(storage, "read", "write")
    org_a, org_b = add_org(storage), add_org(storage)
    user, other = add_user(storage), add_user(storage)
    with storage.transaction() as uow:
        members = uow[MEMBERSHIPS_REPO]
        members.add_member(org_a.code, user.id, NOW)
        members.add_member(org_b.code, user.id, NOW)
        members.add_member(org_a.code, other.id, NOW)
        members.add_member_api_scope(org_b.code, user.id, api.id, write.id)
        members.add_member_api_scope(org_a.code, user.id, api.id, write.id)
        members.add_member_api_scope(org_a.code, user.id, api.id, read.id)
    with storage.read() as uow:
        found = uow[USERS_REPO].api_scopes([user.id, other.id])
        assert uow[USERS_REPO].api_scopes([]) == {}
    assert sorted(found[user.id]) == sorted(
        [
            (org_a.code, "read", api.id),
            (org_a.code, "write", api.id),
            (org_b.code, "write", api.id),
        ]
    )
    assert found.get(other.id, []) == []
