"""ApiRepository contract: APIs, keyset listings, scopes, authorizations and grants.

``tests/test_storage.py`` already covers duplicate audiences and scope keys, grants
per audience and grants without authorization; this module covers the rest of the
contract method by method.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import api_id, api_scope_id, client_id
from kindling.platform.storage import Storage
from kindling.resources.apis.model import Api
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.repository import APPLICATIONS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_access import add_api, add_app, make_api, make_scope


def add_apis(storage: Storage, *apis: Api) -> list[Api]:
    with storage.transaction() as uow:
        for api in apis:
            uow[APIS_REPO].add(api)
    return list(apis)


def granted(storage: Storage, application_id: str, api: Api) -> tuple[str, ...] | None:
    """The scope keys granted to the application for the API; None if not authorized."""
    with storage.read() as uow:
        found = uow[APIS_REPO].authorizations(application_id, [api.audience])
    assert len(found) <= 1
    return found[0].scopes if found else None


# --- APIs ---------------------------------------------------------------------------


def test_round_trip_by_id_and_audience(storage: Storage) -> None:
    (api,) = add_apis(storage, make_api())
    with storage.read() as uow:
        repo = uow[APIS_REPO]
        assert repo.get(api.id) == api
        assert repo.get_by_audience(api.audience) == api
        assert repo.get(api_id()) is None
        assert repo.get_by_audience(api.audience + "/") is None
        assert repo.get_by_audience(api.audience.upper()) is None
        got = repo.get(api.id)
    assert got is not None and got.is_management_api is False
    assert isinstance(got.is_management_api, bool)


def test_add_with_taken_audience_is_refused(storage: Storage) -> None:
    (api,) = add_apis(storage, make_api())
    clone = replace(make_api(), audience=api.audience)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].add(clone)
    with storage.read() as uow:
        assert uow[APIS_REPO].get(clone.id) is None
        assert uow[APIS_REPO].get_by_audience(api.audience) == api


def test_get_management_api_returns_the_first_one(storage: Storage) -> None:
    with storage.read() as uow:
        existing = uow[APIS_REPO].get_management_api()
    if storage.engine.dialect == "sqlite":
        assert existing is None  # a fresh file is before first run
    plain = make_api()
    management = make_api(management=True)
    second = make_api(management=True)
    add_apis(storage, plain, management, second)
    with storage.read() as uow:
        found = uow[APIS_REPO].get_management_api()
    assert found == (existing or management)
    assert found is not None and found.is_management_api is True


def test_set_audience_moves_the_lookup(storage: Storage) -> None:
    api, other = add_apis(storage, make_api(), make_api())
    new_audience = f"https://{uid()}.example.com/moved"
    with storage.transaction() as uow:
        uow[APIS_REPO].set_audience(api.id, new_audience)
    with storage.read() as uow:
        repo = uow[APIS_REPO]
        assert repo.get(api.id) == replace(api, audience=new_audience)
        assert repo.get_by_audience(new_audience) == replace(api, audience=new_audience)
        assert repo.get_by_audience(api.audience) is None
        assert repo.get(other.id) == other
    # The old audience is free again.
    add_apis(storage, replace(make_api(), audience=api.audience))


def test_list_page_keyset(storage: Storage) -> None:
    apis = add_apis(storage, *(make_api() for _ in range(4)))
    with storage.read() as uow:
        everything = uow[APIS_REPO].list_page(None, 1_000_000)
    by_id = {a.id: seq for seq, a in everything}
    seqs = [by_id[a.id] for a in apis]
    assert seqs == sorted(seqs)
    with storage.read() as uow:
        repo = uow[APIS_REPO]
        assert repo.list_page(seqs[0], 2) == [(seqs[1], apis[1]), (seqs[2], apis[2])]
        assert repo.list_page(None, 1) == everything[:1]
        assert repo.list_page(seqs[0], 0) == []
        assert repo.list_page(max(by_id.values()), 10) == []


def test_list_by_name_keyset(storage: Storage) -> None:
    stem = f"n{uid()}"
    b1, a, b2 = add_apis(
        storage, make_api(f"{stem}-b"), make_api(f"{stem}-a"), make_api(f"{stem}-b")
    )
    with storage.read() as uow:
        repo = uow[APIS_REPO]
        rows = repo.list_by_name((stem, 0), 3)
        assert [x for _, x in rows] == [a, b1, b2]
        assert [name for (name, _), _ in rows] == [a.name, b1.name, b2.name]
        first = repo.list_by_name((stem, 0), 2)
        rest = repo.list_by_name(first[-1][0], 1)
        assert [x for _, x in first + rest] == [a, b1, b2]
        assert [x for _, x in repo.list_by_name(rows[1][0], 1)] == [b2]
        everything = repo.list_by_name(None, 1_000_000)
    positions = [pos for pos, _ in everything]
    assert positions == sorted(positions)


def test_delete_cascades_scopes_and_authorizations(storage: Storage) -> None:
    app = add_app(storage)
    api, (scope,) = add_api(storage, "read")
    keep, (kept_scope,) = add_api(storage, "read")
    with storage.transaction() as uow:
        for target in (api, keep):
            uow[APIS_REPO].authorize(target.id, app.id, NOW)
        uow[APIS_REPO].grant_scopes(api.id, app.id, [scope.id])
        uow[APIS_REPO].grant_scopes(keep.id, app.id, [kept_scope.id])
    with storage.transaction() as uow:
        assert uow[APIS_REPO].delete(api.id) is True
        assert uow[APIS_REPO].delete(api.id) is False
        assert uow[APIS_REPO].delete(api_id()) is False
    with storage.read() as uow:
        repo = uow[APIS_REPO]
        assert repo.get(api.id) is None
        assert repo.get_by_audience(api.audience) is None
        assert repo.scopes(api.id) == []
        assert repo.applications(api.id) == []
        assert uow[APPLICATIONS_REPO].get(app.id) == app
    assert granted(storage, app.id, api) is None
    assert granted(storage, app.id, keep) == ("read",)
    # The scope ids are gone too: a new API may reuse them.
    again = add_apis(storage, replace(api, audience=f"https://{uid()}.example.com"))[0]
    with storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([replace(scope, api_id=again.id)])
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(again.id) == [replace(scope, api_id=again.id)]


def test_rolled_back_api_leaves_nothing(storage: Storage) -> None:
    app = add_app(storage)
    api = make_api()
    scope = make_scope(api, "x")
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[APIS_REPO].add(api)
        uow[APIS_REPO].add_scopes([scope])
        uow[APIS_REPO].authorize(api.id, app.id, NOW)
        uow[APIS_REPO].grant_scopes(api.id, app.id, [scope.id])
        raise Boom
    with storage.read() as uow:
        assert uow[APIS_REPO].get(api.id) is None
        assert uow[APIS_REPO].scopes(api.id) == []
        assert uow[APIS_REPO].applications(api.id) == []
    add_apis(storage, api)  # audience free


# --- scopes -------------------------------------------------------------------------


def test_scopes_in_creation_order(storage: Storage) -> None:
    api, other = add_apis(storage, make_api(), make_api())
    z, a = make_scope(api, "z:write", "Write"), make_scope(api, "a:read")
    m = make_scope(api, "m:admin")
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(api.id) == []
    with storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([z, a])
        uow[APIS_REPO].add_scopes([make_scope(other, "a:read")])
    with storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([m])
        uow[APIS_REPO].add_scopes([])
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(api.id) == [z, a, m]
        assert [s.key for s in uow[APIS_REPO].scopes(other.id)] == ["a:read"]
        assert uow[APIS_REPO].scopes(api_id()) == []


def test_add_scopes_with_taken_key_adds_none_of_them(storage: Storage) -> None:
    api, (taken,) = add_api(storage, "read")
    fresh = make_scope(api, "write")
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([fresh, make_scope(api, "read")])
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([make_scope(api, "dup"), make_scope(api, "dup")])
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(api.id) == [taken]


def test_update_scope_description(storage: Storage) -> None:
    api, (scope, other) = add_api(storage, "read", "write")
    with storage.transaction() as uow:
        uow[APIS_REPO].update_scope(scope.id, "Read things")
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(api.id) == [replace(scope, description="Read things"), other]
    with storage.transaction() as uow:
        uow[APIS_REPO].update_scope(scope.id, None)
        uow[APIS_REPO].update_scope(api_scope_id(), "ignored")  # missing: nothing happens
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(api.id) == [scope, other]


def test_delete_scope_removes_its_grants(storage: Storage) -> None:
    app = add_app(storage)
    api, (read, write) = add_api(storage, "read", "write")
    with storage.transaction() as uow:
        uow[APIS_REPO].authorize(api.id, app.id, NOW)
        uow[APIS_REPO].grant_scopes(api.id, app.id, [read.id, write.id])
    with storage.transaction() as uow:
        assert uow[APIS_REPO].delete_scope(read.id) is True
        assert uow[APIS_REPO].delete_scope(read.id) is False
        assert uow[APIS_REPO].delete_scope(api_scope_id()) is False
    with storage.read() as uow:
        assert uow[APIS_REPO].scopes(api.id) == [write]
    assert granted(storage, app.id, api) == ("write",)
    # The key is free for a new scope, which is not granted.
    with storage.transaction() as uow:
        uow[APIS_REPO].add_scopes([make_scope(api, "read")])
    assert granted(storage, app.id, api) == ("write",)


# --- authorizations -------------------------------------------------------------------


def test_applications_in_authorization_order(storage: Storage) -> None:
    api, other = add_apis(storage, make_api(), make_api())
    older, newer, outsider = add_app(storage), add_app(storage), add_app(storage)
    with storage.read() as uow:
        assert uow[APIS_REPO].applications(api.id) == []
    with storage.transaction() as uow:
        # The application created last is authorized first.
        assert uow[APIS_REPO].authorize(api.id, newer.id, NOW) is True
        assert uow[APIS_REPO].authorize(api.id, older.id, LATER) is True
        assert uow[APIS_REPO].authorize(other.id, outsider.id, NOW) is True
    with storage.read() as uow:
        assert uow[APIS_REPO].applications(api.id) == [newer, older]
        assert uow[APIS_REPO].applications(other.id) == [outsider]


def test_applications_come_by_authorization_time_then_creation(storage: Storage) -> None:
    """A batch authorizes several applications with one timestamp (``apis.service``):
    those come in application creation order, after the ones authorized earlier."""
    (api,) = add_apis(storage, make_api())
    older, newer, latest = add_app(storage), add_app(storage), add_app(storage)
    with storage.transaction() as uow:
        assert uow[APIS_REPO].authorize(api.id, latest.id, NOW) is True
        assert uow[APIS_REPO].authorize(api.id, newer.id, LATER) is True
        assert uow[APIS_REPO].authorize(api.id, older.id, LATER) is True
    with storage.read() as uow:
        assert uow[APIS_REPO].applications(api.id) == [latest, older, newer]


def test_authorize_is_idempotent_and_needs_both_rows(storage: Storage) -> None:
    app = add_app(storage)
    (api,) = add_apis(storage, make_api())
    with storage.transaction() as uow:
        assert uow[APIS_REPO].authorize(api.id, app.id, NOW) is True
        assert uow[APIS_REPO].authorize(api.id, app.id, LATER) is False
    with storage.read() as uow:
        assert uow[APIS_REPO].applications(api.id) == [app]
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].authorize(api.id, client_id(), NOW)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].authorize(api_id(), app.id, NOW)


def test_deauthorize_removes_grants(storage: Storage) -> None:
    app, other = add_app(storage), add_app(storage)
    api, (read,) = add_api(storage, "read")
    with storage.transaction() as uow:
        for target in (app, other):
            uow[APIS_REPO].authorize(api.id, target.id, NOW)
            uow[APIS_REPO].grant_scopes(api.id, target.id, [read.id])
    with storage.transaction() as uow:
        assert uow[APIS_REPO].deauthorize(api.id, app.id) is True
        assert uow[APIS_REPO].deauthorize(api.id, app.id) is False
        assert uow[APIS_REPO].deauthorize(api_id(), app.id) is False
    assert granted(storage, app.id, api) is None
    assert granted(storage, other.id, api) == ("read",)
    with storage.read() as uow:
        assert uow[APIS_REPO].applications(api.id) == [other]


def test_grant_is_idempotent_and_revoke_is_per_scope(storage: Storage) -> None:
    app = add_app(storage)
    api, (read, write, admin) = add_api(storage, "read", "write", "admin")
    with storage.transaction() as uow:
        uow[APIS_REPO].authorize(api.id, app.id, NOW)
        uow[APIS_REPO].grant_scopes(api.id, app.id, [])
    assert granted(storage, app.id, api) == ()
    with storage.transaction() as uow:
        uow[APIS_REPO].grant_scopes(api.id, app.id, [admin.id, read.id])
    with storage.transaction() as uow:
        uow[APIS_REPO].grant_scopes(api.id, app.id, [read.id, write.id])  # read again: no-op
    assert granted(storage, app.id, api) == ("read", "write", "admin")
    with storage.transaction() as uow:
        assert uow[APIS_REPO].revoke_scope(api.id, app.id, write.id) is True
        assert uow[APIS_REPO].revoke_scope(api.id, app.id, write.id) is False
        assert uow[APIS_REPO].revoke_scope(api.id, client_id(), read.id) is False
    assert granted(storage, app.id, api) == ("read", "admin")
    with storage.transaction() as uow:
        # The same new scope twice in one call is granted once, not refused.
        uow[APIS_REPO].grant_scopes(api.id, app.id, [write.id, write.id, admin.id])
    assert granted(storage, app.id, api) == ("read", "write", "admin")


def test_grant_of_unknown_scope_is_refused(storage: Storage) -> None:
    app = add_app(storage)
    api, (read,) = add_api(storage, "read")
    with storage.transaction() as uow:
        uow[APIS_REPO].authorize(api.id, app.id, NOW)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APIS_REPO].grant_scopes(api.id, app.id, [read.id, api_scope_id()])
    assert granted(storage, app.id, api) == ()


def test_authorizations_only_for_requested_audiences(storage: Storage) -> None:
    app, other = add_app(storage), add_app(storage)
    one, (one_read,) = add_api(storage, "one:read")
    two, _ = add_api(storage, "two:read")
    not_authorized, _ = add_api(storage, "x")
    with storage.transaction() as uow:
        uow[APIS_REPO].authorize(one.id, app.id, NOW)
        uow[APIS_REPO].authorize(two.id, app.id, NOW)
        uow[APIS_REPO].authorize(one.id, other.id, NOW)
        uow[APIS_REPO].grant_scopes(one.id, app.id, [one_read.id])
    with storage.read() as uow:
        repo = uow[APIS_REPO]
        found = repo.authorizations(app.id, [two.audience, one.audience, not_authorized.audience])
        assert repo.authorizations(app.id, ["https://unknown.example.com"]) == []
        assert repo.authorizations(app.id, []) == []
        theirs = repo.authorizations(other.id, [one.audience, two.audience])
    assert {(a.api, a.application_id, a.scopes) for a in found} == {
        (one, app.id, ("one:read",)),
        (two, app.id, ()),
    }
    assert [(a.api, a.application_id, a.scopes) for a in theirs] == [(one, other.id, ())]
