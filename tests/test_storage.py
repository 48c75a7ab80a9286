"""The storage interface on both engines, used directly (no server).

Each test runs against SQLite (a fresh file under ``tmp_path``) and PostgreSQL
(the session's ``pg_url`` schema, shared across tests, so ids are unique).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindling.context import open_storage
from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import api_id, api_scope_id, client_id, identity_id, user_id
from kindling.platform.migrations import MIGRATIONS
from kindling.platform.storage import Storage
from kindling.resources.apis.model import Api, ApiScope
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.model import Application
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.users.model import Identity, User, normalize_identity
from kindling.resources.users.repository import USERS_REPO

NOW = "2024-01-01T00:00:00+00:00"


class Boom(Exception):
    """Raised on purpose inside a transaction."""


@pytest.fixture(params=["sqlite", "postgres"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None, Path]:
    """(engine name, database URL, data dir): SQLite under tmp_path, or the pg_url schema."""
    url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None
    return request.param, url, tmp_path


@pytest.fixture
def storage(engine_url: tuple[str, str | None, Path]) -> Iterator[Storage]:
    _, url, data_dir = engine_url
    opened = open_storage(url, data_dir, NOW)
    yield opened
    opened.close()


def uid() -> str:
    return uuid.uuid4().hex[:12]


def make_identity(uid_: str, kind: str, value: str, primary: bool = True) -> Identity:
    return Identity(
        id=identity_id(),
        user_id=uid_,
        type=kind,
        value=value,
        is_verified=False,
        is_primary=primary,
        created_on=NOW,
    )


def make_user(*identities: tuple[str, str], **fields: object) -> User:
    new_id = user_id()
    idents = tuple(make_identity(new_id, k, v, i == 0) for i, (k, v) in enumerate(identities))
    email = next((v for k, v in identities if k == "email"), None)
    return User(id=new_id, created_on=NOW, email=email, identities=idents, **fields)  # type: ignore[arg-type]


def email() -> str:
    return f"s-{uid()}@{uid()}.example.com"


def add_user(storage: Storage, *identities: tuple[str, str]) -> User:
    user = make_user(*identities)
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    return user


def make_app(name: str | None = None) -> Application:
    return Application(id=client_id(), name=name or f"app-{uid()}", type="m2m", created_on=NOW)


def make_api() -> Api:
    return Api(
        id=api_id(),
        name=f"api-{uid()}",
        audience=f"https://{uid()}.example.com",
        is_management_api=False,
        created_on=NOW,
    )


# --- migrations ---------------------------------------------------------------


def test_migrations_are_idempotent(engine_url: tuple[str, str | None, Path]) -> None:
    _, url, data_dir = engine_url
    first = open_storage(url, data_dir, NOW)
    marker = add_user(first, ("email", email()))
    second = open_storage(url, data_dir, "2030-01-01T00:00:00+00:00")
    third = open_storage(url, data_dir, "2031-01-01T00:00:00+00:00")
    try:
        for opened in (first, second, third):
            with opened.read() as uow:
                assert uow[USERS_REPO].get(marker.id) == marker
            with opened.engine.session(write=False) as session:
                rows = session.all("SELECT version, applied_on FROM schema_migrations")
            versions = [int(r["version"]) for r in rows]
            assert sorted(versions) == sorted(v for v, _, _ in MIGRATIONS)
            assert len(versions) == len(set(versions))
            # Re-opening did not re-apply anything.
            assert all(
                r["applied_on"] not in ("2030-01-01T00:00:00+00:00", "2031-01-01T00:00:00+00:00")
                for r in rows
            )
    finally:
        for opened in (first, second, third):
            opened.close()


def test_migrate_again_applies_nothing(storage: Storage) -> None:
    from kindling.platform.migrations import migrate

    assert migrate(storage.engine, NOW) == []
    assert migrate(storage.engine, NOW) == []


# --- users and identities -------------------------------------------------------


def test_user_round_trip(storage: Storage) -> None:
    address = email()
    name = f"n{uid()}"
    user = make_user(("email", address), ("username", name))
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got is not None
    assert got.email == address
    assert [(i.type, i.value) for i in got.identities] == [("email", address), ("username", name)]
    assert got.is_suspended is False and isinstance(got.is_suspended, bool)
    assert got.total_sign_ins == 0


def test_unique_identity_violation(storage: Storage) -> None:
    address = email()
    add_user(storage, ("email", address))
    other = make_user(("email", f"  {address.upper()} "))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add(other)
    with storage.read() as uow:
        assert uow[USERS_REPO].get(other.id) is None
    # Normalization: NFC, trimmed, case-folded (phones keep case).
    assert normalize_identity("email", " A\u0301@X.io ") == "\u00e1@x.io"
    assert normalize_identity("phone", " +61 2 ") == "+61 2"


def test_failed_transaction_leaves_nothing(storage: Storage) -> None:
    """The second identity collides: the user row and its first identity are absent."""
    taken = email()
    owner = add_user(storage, ("email", taken))
    fresh = email()
    user = make_user(("email", fresh), ("username", f"u{uid()}"))
    user = User(
        id=user.id,
        created_on=NOW,
        email=fresh,
        identities=(
            make_identity(user.id, "email", fresh),
            make_identity(user.id, "email", taken.upper(), primary=False),
        ),
    )
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user.id) is None
        assert uow[USERS_REPO].identities([user.id]) == {}
        assert (
            uow[USERS_REPO].list_page(None, 10, emails=[normalize_identity("email", fresh)]) == []
        )
        owners = uow[USERS_REPO].list_page(None, 10, emails=[normalize_identity("email", taken)])
        assert [u.id for _, u in owners] == [owner.id]
    # The fresh email was never taken, so it can be used now.
    add_user(storage, ("email", fresh))


def test_rolled_back_transaction_writes_nothing(storage: Storage) -> None:
    user = make_user(("email", email()))
    app = make_app()
    api = make_api()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[USERS_REPO].add(user)
        uow[APPLICATIONS_REPO].add(app)
        uow[APIS_REPO].add(api)
        assert uow[USERS_REPO].get(user.id) is not None  # visible inside the transaction
        raise Boom
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user.id) is None
        assert uow[USERS_REPO].identities([user.id]) == {}
        assert uow[APPLICATIONS_REPO].get(app.id) is None
        assert uow[APIS_REPO].get(api.id) is None
    # The next transaction on the same storage works normally.
    with storage.transaction() as uow:
        uow[USERS_REPO].add(user)
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user.id) is not None


def test_integrity_violation_inside_transaction_rolls_back_earlier_writes(
    storage: Storage,
) -> None:
    app = make_app()
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(app)
    other = make_app()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(other)
        uow[APPLICATIONS_REPO].add(app)  # same id: refused
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].get(other.id) is None
        assert uow[APPLICATIONS_REPO].get(app.id) == app


def test_delete_user_removes_identities(storage: Storage) -> None:
    address = email()
    name = f"d{uid()}"
    user = add_user(storage, ("email", address), ("username", name), ("phone", "+1555" + uid()[:6]))
    keep = add_user(storage, ("email", email()))
    with storage.read() as uow:
        assert len(uow[USERS_REPO].identities([user.id])[user.id]) == 3
    with storage.transaction() as uow:
        assert uow[USERS_REPO].delete(user.id) is True
    with storage.read() as uow:
        assert uow[USERS_REPO].get(user.id) is None
        assert uow[USERS_REPO].identities([user.id]) == {}
        assert uow[USERS_REPO].get(keep.id) is not None
        assert len(uow[USERS_REPO].identities([keep.id])[keep.id]) == 1
    with storage.engine.session(write=False) as session:
        row = session.one("SELECT COUNT(*) AS n FROM user_identities WHERE user_id = ?", (user.id,))
    assert row is not None and int(row["n"]) == 0
    with storage.transaction() as uow:
        assert uow[USERS_REPO].delete(user.id) is False
    # Every identity is free again.
    add_user(storage, ("email", address), ("username", name))


def test_update_user_keeps_identities(storage: Storage) -> None:
    user = add_user(storage, ("email", email()))
    from msgspec.structs import replace

    with storage.transaction() as uow:
        uow[USERS_REPO].update(replace(user, first_name="F", is_suspended=True))
    with storage.read() as uow:
        got = uow[USERS_REPO].get(user.id)
    assert got is not None
    assert got.first_name == "F" and got.is_suspended is True
    assert got.identities == user.identities


# --- keyset pagination -------------------------------------------------------------


def test_users_keyset_listing(storage: Storage) -> None:
    users = [add_user(storage, ("email", email())) for _ in range(7)]
    ids = [u.id for u in users]
    for size in (1, 2, 3, 7, 10):
        seen: list[str] = []
        seqs: list[int] = []
        after: int | None = None
        for _ in range(20):
            with storage.read() as uow:
                rows = uow[USERS_REPO].list_page(after, size, user_ids=ids)
            assert len(rows) <= size
            seen.extend(u.id for _, u in rows)
            seqs.extend(s for s, _ in rows)
            if len(rows) < size:
                break
            after = rows[-1][0]
        assert seen == ids, size
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_users_listing_filters(storage: Storage) -> None:
    a_mail, b_mail = email(), email()
    name = f"f{uid()}"
    a = add_user(storage, ("email", a_mail), ("username", name))
    b = add_user(storage, ("email", b_mail))
    norm = [normalize_identity("email", a_mail), normalize_identity("email", b_mail)]
    with storage.read() as uow:
        both = uow[USERS_REPO].list_page(None, 10, emails=norm)
        assert [u.id for _, u in both] == [a.id, b.id]
        only_a = uow[USERS_REPO].list_page(None, 10, emails=norm, usernames=[name.casefold()])
        assert [u.id for _, u in only_a] == [a.id]
        after_a = uow[USERS_REPO].list_page(both[0][0], 10, emails=norm)
        assert [u.id for _, u in after_a] == [b.id]
        assert uow[USERS_REPO].list_page(None, 10, user_ids=["kp_missing"]) == []


def test_whole_table_keyset_has_no_gaps(storage: Storage) -> None:
    """Paging all applications gives exactly the rows of one big read, in order."""
    for _ in range(5):
        with storage.transaction() as uow:
            uow[APPLICATIONS_REPO].add(make_app())
    with storage.read() as uow:
        everything = uow[APPLICATIONS_REPO].list_page(None, 1_000_000)
    paged: list[tuple[int, Application]] = []
    after: int | None = None
    while True:
        with storage.read() as uow:
            rows = uow[APPLICATIONS_REPO].list_page(after, 2)
        paged.extend(rows)
        if len(rows) < 2:
            break
        after = rows[-1][0]
    # Other tests may add rows concurrently (shared PostgreSQL schema): compare the prefix.
    assert paged[: len(everything)] == everything
    seqs = [s for s, _ in paged]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def test_apis_keyset_listing(storage: Storage) -> None:
    apis = [make_api() for _ in range(4)]
    with storage.transaction() as uow:
        for api in apis:
            uow[APIS_REPO].add(api)
    with storage.read() as uow:
        everything = uow[APIS_REPO].list_page(None, 1_000_000)
    mine = [a for _, a in everything if a.id in {x.id for x in apis}]
    assert mine == apis
    after: int | None = None
    paged: list[Api] = []
    while True:
        with storage.read() as uow:
            rows = uow[APIS_REPO].list_page(after, 3)
        paged.extend(a for _, a in rows)
        if len(rows) < 3:
            break
        after = rows[-1][0]
    assert [a for a in paged if a in apis] == apis


# --- APIs, scopes and authorizations ---------------------------------------------


def test_duplicate_audience_and_scope_key(storage: Storage) -> None:
    api = make_api()
    with storage.transaction() as uow:
        uow[APIS_REPO].add(api)
        uow[APIS_REPO].add_scopes([ApiScope(id=api_scope_id(), api_id=api.id, key="read")])
    clone = Api(
        id=api_id(), name="x", audience=api.audience, is_management_api=False, created_on=NOW
    )
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].add(clone)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([ApiScope(id=api_scope_id(), api_id=api.id, key="read")])
    with storage.read() as uow:
        assert uow[APIS_REPO].get(clone.id) is None
        assert [s.key for s in uow[APIS_REPO].scopes(api.id)] == ["read"]
        assert uow[APIS_REPO].get_by_audience(api.audience) == api


def test_authorizations_return_granted_keys_per_audience(storage: Storage) -> None:
    app = make_app()
    one, two, unrelated = make_api(), make_api(), make_api()
    scopes = {
        key: ApiScope(id=api_scope_id(), api_id=one.id, key=key)
        for key in ("a:read", "a:write", "a:admin")
    }
    two_scope = ApiScope(id=api_scope_id(), api_id=two.id, key="b:read")
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(app)
        for api in (one, two, unrelated):
            uow[APIS_REPO].add(api)
        uow[APIS_REPO].add_scopes(list(scopes.values()))
        uow[APIS_REPO].add_scopes([two_scope])
        assert uow[APIS_REPO].authorize(one.id, app.id, NOW) is True
        assert uow[APIS_REPO].authorize(one.id, app.id, NOW) is False
        assert uow[APIS_REPO].authorize(two.id, app.id, NOW) is True
        uow[APIS_REPO].grant_scopes(one.id, app.id, [scopes["a:admin"].id, scopes["a:read"].id])
        uow[APIS_REPO].grant_scopes(one.id, app.id, [scopes["a:read"].id])  # idempotent
    with storage.read() as uow:
        found = uow[APIS_REPO].authorizations(
            app.id, [one.audience, two.audience, unrelated.audience]
        )
        assert uow[APIS_REPO].authorizations(app.id, []) == []
        assert uow[APIS_REPO].authorizations(app.id, [unrelated.audience]) == []
        assert uow[APIS_REPO].authorizations(make_app().id, [one.audience]) == []
        assert [a.id for a in uow[APIS_REPO].applications(one.id)] == [app.id]
    by_audience = {a.api.audience: a for a in found}
    assert set(by_audience) == {one.audience, two.audience}
    # Keys come in scope creation order, whatever the grant order.
    assert by_audience[one.audience].scopes == ("a:read", "a:admin")
    assert by_audience[one.audience].api == one
    assert by_audience[one.audience].application_id == app.id
    assert by_audience[two.audience].scopes == ()

    with storage.transaction() as uow:
        assert uow[APIS_REPO].revoke_scope(one.id, app.id, scopes["a:read"].id) is True
        assert uow[APIS_REPO].revoke_scope(one.id, app.id, scopes["a:read"].id) is False
        uow[APIS_REPO].grant_scopes(two.id, app.id, [two_scope.id])
    with storage.read() as uow:
        found = uow[APIS_REPO].authorizations(app.id, [one.audience, two.audience])
    assert {a.api.audience: a.scopes for a in found} == {
        one.audience: ("a:admin",),
        two.audience: ("b:read",),
    }

    with storage.transaction() as uow:
        assert uow[APIS_REPO].deauthorize(one.id, app.id) is True
        assert uow[APIS_REPO].deauthorize(one.id, app.id) is False
    with storage.read() as uow:
        found = uow[APIS_REPO].authorizations(app.id, [one.audience, two.audience])
        assert uow[APIS_REPO].applications(one.id) == []
    assert [(a.api.audience, a.scopes) for a in found] == [(two.audience, ("b:read",))]
    # Re-authorizing starts without the old grants.
    with storage.transaction() as uow:
        uow[APIS_REPO].authorize(one.id, app.id, NOW)
    with storage.read() as uow:
        again = {
            a.api.audience: a.scopes for a in uow[APIS_REPO].authorizations(app.id, [one.audience])
        }
    assert again == {one.audience: ()}


def test_grant_needs_authorization(storage: Storage) -> None:
    """A grant row references its authorization: without one the write is refused."""
    app = make_app()
    api = make_api()
    scope = ApiScope(id=api_scope_id(), api_id=api.id, key="x")
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(app)
        uow[APIS_REPO].add(api)
        uow[APIS_REPO].add_scopes([scope])
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].grant_scopes(api.id, app.id, [scope.id])
    with storage.read() as uow:
        assert uow[APIS_REPO].authorizations(app.id, [api.audience]) == []


# --- bulk path ----------------------------------------------------------------


def test_bulk_insert_adds_users_with_identities(storage: Storage) -> None:
    users = [make_user(("email", email()), ("username", f"u{uid()}")) for _ in range(300)]
    with storage.transaction() as uow:
        uow[USERS_REPO].add_many(users)
    with storage.read() as uow:
        first = uow[USERS_REPO].get(users[0].id)
        found = uow[USERS_REPO].list_page(None, 1000, emails=[u.email or "" for u in users[:5]])
    assert first is not None and {i.type for i in first.identities} == {"email", "username"}
    assert first.identities[0].is_primary is True
    assert sorted(u.id for _, u in found) == sorted(u.id for u in users[:5])


def test_bulk_insert_is_all_or_nothing(storage: Storage) -> None:
    taken = add_user(storage, ("email", email()))
    batch = [make_user(("email", email())) for _ in range(50)]
    batch.append(make_user(("email", (taken.email or "").upper())))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add_many(batch)
    with storage.read() as uow:
        assert all(uow[USERS_REPO].get(u.id) is None for u in batch)
