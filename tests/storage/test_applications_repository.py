"""ApplicationRepository contract: rows, keyset listings, URLs, access roles, connections,
public property values and client secrets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import client_id, connection_id, organization_code, role_id
from kindling.platform.storage import Storage
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.model import Application
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.properties.repository import PROPERTIES_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_access import (
    add_api,
    add_connection,
    add_org,
    add_role,
    make_app,
    make_property,
    make_secret,
)


def add_apps(storage: Storage, *apps: Application) -> list[Application]:
    with storage.transaction() as uow:
        for app in apps:
            uow[APPLICATIONS_REPO].add(app)
    return list(apps)


# --- rows ---------------------------------------------------------------------------


def test_round_trip_and_missing(storage: Storage) -> None:
    org = add_org(storage)
    app = Application(
        id=client_id(),
        name=f"app-{uid()}",
        type="reg",
        created_on=NOW,
        org_code=org.code,
        access_token_lifetime=3600,
        settings={"login_uri": "https://x.example.com/login", "nested": {"n": [1, 2]}},
    )
    add_apps(storage, app)
    with storage.read() as uow:
        got = uow[APPLICATIONS_REPO].get(app.id)
        assert uow[APPLICATIONS_REPO].get(client_id()) is None
    assert got == app
    assert got is not None
    # ``settings`` is left out of equality: compare it explicitly.
    assert got.settings == app.settings
    assert got.org_code == org.code and got.access_token_lifetime == 3600


def test_defaults_round_trip(storage: Storage) -> None:
    (app,) = add_apps(storage, make_app())
    with storage.read() as uow:
        got = uow[APPLICATIONS_REPO].get(app.id)
    assert got is not None
    assert got.settings == {} and got.org_code is None
    assert got.access_token_lifetime == app.access_token_lifetime


def test_add_with_taken_id_is_refused(storage: Storage) -> None:
    (app,) = add_apps(storage, make_app())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(replace(make_app(), id=app.id))
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].get(app.id) == app


def test_update_overwrites_name_lifetime_and_settings_only(storage: Storage) -> None:
    org = add_org(storage)
    (app,) = add_apps(storage, replace(make_app(type_="spa"), settings={"old": 1}))
    changed = replace(
        app,
        name="renamed",
        access_token_lifetime=120,
        settings={"new": True},
        type="m2m",
        org_code=org.code,
        created_on=LATER,
    )
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].update(changed)
    with storage.read() as uow:
        got = uow[APPLICATIONS_REPO].get(app.id)
    assert got == replace(app, name="renamed", access_token_lifetime=120)
    assert got is not None and got.settings == {"new": True}
    assert got.type == "spa" and got.org_code is None and got.created_on == NOW


def test_list_page_keyset(storage: Storage) -> None:
    apps = add_apps(storage, *(make_app() for _ in range(5)))
    with storage.read() as uow:
        everything = uow[APPLICATIONS_REPO].list_page(None, 1_000_000)
    seqs = [seq for seq, _ in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    by_id = {a.id: seq for seq, a in everything}
    mine = [seq for seq, a in everything if a.id in {x.id for x in apps}]
    assert mine == [by_id[a.id] for a in apps]
    with storage.read() as uow:
        page = uow[APPLICATIONS_REPO].list_page(by_id[apps[0].id], 2)
        assert uow[APPLICATIONS_REPO].list_page(by_id[apps[0].id], 0) == []
        assert uow[APPLICATIONS_REPO].list_page(None, 1) == everything[:1]
    assert page == [(by_id[apps[1].id], apps[1]), (by_id[apps[2].id], apps[2])]


def test_list_by_name_keyset_both_directions(storage: Storage) -> None:
    stem = f"n{uid()}"
    # Inserted out of name order; two share a name (the sequence breaks the tie).
    b1, a, c, b2 = add_apps(
        storage,
        make_app(f"{stem}-b"),
        make_app(f"{stem}-a"),
        make_app(f"{stem}-c"),
        make_app(f"{stem}-b"),
    )
    with storage.read() as uow:
        ascending = uow[APPLICATIONS_REPO].list_by_name((stem, 0), 4, False)
    assert [x for _, x in ascending] == [a, b1, b2, c]
    positions = [pos for pos, _ in ascending]
    assert [name for name, _ in positions] == [a.name, b1.name, b2.name, c.name]
    assert positions[1][1] < positions[2][1]
    with storage.read() as uow:
        repo = uow[APPLICATIONS_REPO]
        # Page by page, resuming after the last position: no row skipped or repeated.
        first = repo.list_by_name((stem, 0), 2, False)
        second = repo.list_by_name(first[-1][0], 2, False)
        assert [x for _, x in first + second] == [a, b1, b2, c]
        # Descending from the last one: the earlier ones, newest name first.
        down = repo.list_by_name(positions[3], 3, True)
        assert [x for _, x in down] == [b2, b1, a]
        assert [x for _, x in repo.list_by_name(positions[2], 1, True)] == [b1]
        assert repo.list_by_name(positions[0], 0, False) == []


def test_list_by_name_from_the_start(storage: Storage) -> None:
    add_apps(storage, make_app(f"m{uid()}"), make_app(f"k{uid()}"))
    with storage.read() as uow:
        up = uow[APPLICATIONS_REPO].list_by_name(None, 1_000_000, False)
        down = uow[APPLICATIONS_REPO].list_by_name(None, 1_000_000, True)
    assert [pos for pos, _ in up] == sorted(pos for pos, _ in up)
    assert [pos for pos, _ in down] == [pos for pos, _ in reversed(up)]
    assert [pos for pos, _ in up] == [(x.name, pos[1]) for pos, x in up]


def test_delete_cascades_secrets_authorizations_and_the_rest(storage: Storage) -> None:
    app, bystander = add_apps(storage, make_app(), make_app())
    api, (scope,) = add_api(storage, "read")
    role = add_role(storage)
    connection = add_connection(storage)
    secret = make_secret(app.id)
    with storage.transaction() as uow:
        repo = uow[APPLICATIONS_REPO]
        repo.add_secret(secret)
        repo.add_secret(make_secret(bystander.id))
        repo.set_urls(app.id, "redirect", ["https://a.example.com/cb"])
        repo.add_access_role(app.id, role.id)
        repo.enable_connection(app.id, connection.id)
        for target in (app, bystander):
            uow[APIS_REPO].authorize(api.id, target.id, NOW)
        uow[APIS_REPO].grant_scopes(api.id, app.id, [scope.id])
    with storage.transaction() as uow:
        assert uow[APPLICATIONS_REPO].delete(app.id) is True
        assert uow[APPLICATIONS_REPO].delete(app.id) is False
        assert uow[APPLICATIONS_REPO].delete(client_id()) is False
    with storage.read() as uow:
        repo = uow[APPLICATIONS_REPO]
        assert repo.get(app.id) is None
        assert repo.secrets(app.id) == []
        assert repo.urls(app.id, "redirect") == []
        assert repo.access_roles(app.id, None, None, 10) == []
        assert repo.connections(app.id) == []
        assert uow[APIS_REPO].authorizations(app.id, [api.audience]) == []
        assert [x.id for x in uow[APIS_REPO].applications(api.id)] == [bystander.id]
        assert len(repo.secrets(bystander.id)) == 1
        # Shared rows survive: the role, the connection, the API and its scope.
        assert repo.role_exists(role.id) and repo.connection_exists(connection.id)
        assert [s.id for s in uow[APIS_REPO].scopes(api.id)] == [scope.id]
    # The id can be used again, starting clean.
    add_apps(storage, app)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].secrets(app.id) == []


def test_rolled_back_application_leaves_nothing(storage: Storage) -> None:
    app = make_app()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add(app)
        uow[APPLICATIONS_REPO].add_secret(make_secret(app.id))
        uow[APPLICATIONS_REPO].set_urls(app.id, "redirect", ["https://x.example.com"])
        raise Boom
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].get(app.id) is None
        assert uow[APPLICATIONS_REPO].secrets(app.id) == []
        assert uow[APPLICATIONS_REPO].urls(app.id, "redirect") == []


# --- URLs ---------------------------------------------------------------------------


def test_urls_replace_per_kind_in_insertion_order(storage: Storage) -> None:
    app, other = add_apps(storage, make_app(), make_app())
    redirects = ["https://z.example.com/cb", "https://a.example.com/cb", "http://localhost/cb"]
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].urls(app.id, "redirect") == []
    with storage.transaction() as uow:
        repo = uow[APPLICATIONS_REPO]
        repo.set_urls(app.id, "redirect", redirects)
        repo.set_urls(app.id, "logout", ["https://a.example.com/bye"])
        repo.set_urls(other.id, "redirect", ["https://other.example.com/cb"])
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].urls(app.id, "redirect") == redirects
        assert uow[APPLICATIONS_REPO].urls(app.id, "logout") == ["https://a.example.com/bye"]
    # Replacing one kind leaves the other kind and the other application alone.
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].set_urls(app.id, "redirect", [redirects[2], redirects[0]])
    with storage.read() as uow:
        repo = uow[APPLICATIONS_REPO]
        assert repo.urls(app.id, "redirect") == [redirects[2], redirects[0]]
        assert repo.urls(app.id, "logout") == ["https://a.example.com/bye"]
        assert repo.urls(other.id, "redirect") == ["https://other.example.com/cb"]
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].set_urls(app.id, "logout", [])
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].urls(app.id, "logout") == []


def test_duplicate_urls_are_refused(storage: Storage) -> None:
    (app,) = add_apps(storage, make_app())
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].set_urls(app.id, "redirect", ["https://keep.example.com"])
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].set_urls(
            app.id, "redirect", ["https://x.example.com", "https://x.example.com"]
        )
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].urls(app.id, "redirect") == ["https://keep.example.com"]


# --- access roles -------------------------------------------------------------------


def test_access_roles_add_remove_and_seq(storage: Storage) -> None:
    (app,) = add_apps(storage, make_app())
    role = add_role(storage, description="described")
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].role_exists(role.id) is True
        assert uow[APPLICATIONS_REPO].role_exists(role_id()) is False
        assert uow[APPLICATIONS_REPO].access_role_seq(app.id, role.id) is None
    with storage.transaction() as uow:
        assert uow[APPLICATIONS_REPO].add_access_role(app.id, role.id) is True
        assert uow[APPLICATIONS_REPO].add_access_role(app.id, role.id) is False
    with storage.read() as uow:
        seq = uow[APPLICATIONS_REPO].access_role_seq(app.id, role.id)
        rows = uow[APPLICATIONS_REPO].access_roles(app.id, None, None, 10)
    assert seq is not None
    assert rows == [
        (
            seq,
            {"id": role.id, "key": role.key, "name": role.name, "description": "described"},
        )
    ]
    with storage.transaction() as uow:
        assert uow[APPLICATIONS_REPO].remove_access_role(app.id, role.id) is True
        assert uow[APPLICATIONS_REPO].remove_access_role(app.id, role.id) is False
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].access_roles(app.id, None, None, 10) == []
        assert uow[APPLICATIONS_REPO].access_role_seq(app.id, role.id) is None
        assert uow[APPLICATIONS_REPO].role_exists(role.id) is True


def test_access_roles_keyset_pages(storage: Storage) -> None:
    app, other = add_apps(storage, make_app(), make_app())
    roles = [add_role(storage) for _ in range(5)]
    with storage.transaction() as uow:
        for role in roles:
            uow[APPLICATIONS_REPO].add_access_role(app.id, role.id)
        uow[APPLICATIONS_REPO].add_access_role(other.id, roles[0].id)
    with storage.read() as uow:
        repo = uow[APPLICATIONS_REPO]
        found_seqs = [repo.access_role_seq(app.id, r.id) for r in roles]
        seqs = [s for s in found_seqs if s is not None]
        assert len(seqs) == len(roles) and seqs == sorted(seqs)

        def ids(rows: list[tuple[int, dict[str, object]]]) -> list[object]:
            return [row["id"] for _, row in rows]

        everything = repo.access_roles(app.id, None, None, 10)
        assert ids(everything) == [r.id for r in roles]
        assert [s for s, _ in everything] == seqs
        assert ids(repo.access_roles(app.id, None, None, 2)) == [roles[0].id, roles[1].id]
        assert ids(repo.access_roles(app.id, seqs[1], None, 2)) == [roles[2].id, roles[3].id]
        # ``before``: the last ones before it, in ascending order.
        assert ids(repo.access_roles(app.id, None, seqs[4], 2)) == [roles[2].id, roles[3].id]
        assert ids(repo.access_roles(app.id, seqs[0], seqs[3], 10)) == [roles[1].id, roles[2].id]
        assert repo.access_roles(app.id, seqs[4], None, 10) == []
        assert ids(repo.access_roles(other.id, None, None, 10)) == [roles[0].id]


def test_access_role_needs_application_and_role(storage: Storage) -> None:
    (app,) = add_apps(storage, make_app())
    role = add_role(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add_access_role(app.id, role_id())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add_access_role(client_id(), role.id)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].access_roles(app.id, None, None, 10) == []


# --- connections --------------------------------------------------------------------


def test_connections_enable_idempotent_and_disable(storage: Storage) -> None:
    app, other = add_apps(storage, make_app(), make_app())
    first = add_connection(storage, display_name="First")
    second = add_connection(storage)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].connection_exists(first.id) is True
        assert uow[APPLICATIONS_REPO].connection_exists(connection_id()) is False
        assert uow[APPLICATIONS_REPO].connections(app.id) == []
    with storage.transaction() as uow:
        repo = uow[APPLICATIONS_REPO]
        repo.enable_connection(app.id, second.id)
        repo.enable_connection(app.id, first.id)
        repo.enable_connection(app.id, first.id)  # idempotent
        repo.enable_connection(other.id, second.id)
    with storage.read() as uow:
        found = uow[APPLICATIONS_REPO].connections(app.id)
    # Every enabled connection once, with its public fields.
    assert len(found) == 2
    assert {str(c["id"]): c for c in found} == {
        first.id: {
            "id": first.id,
            "name": first.name,
            "display_name": "First",
            "strategy": first.strategy,
        },
        second.id: {
            "id": second.id,
            "name": second.name,
            "display_name": None,
            "strategy": second.strategy,
        },
    }
    with storage.transaction() as uow:
        assert uow[APPLICATIONS_REPO].disable_connection(app.id, second.id) is True
        assert uow[APPLICATIONS_REPO].disable_connection(app.id, second.id) is False
    with storage.read() as uow:
        assert [c["id"] for c in uow[APPLICATIONS_REPO].connections(app.id)] == [first.id]
        assert [c["id"] for c in uow[APPLICATIONS_REPO].connections(other.id)] == [second.id]
        assert uow[APPLICATIONS_REPO].connection_exists(second.id) is True


def test_enable_unknown_connection_is_refused(storage: Storage) -> None:
    (app,) = add_apps(storage, make_app())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].enable_connection(app.id, connection_id())
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].connections(app.id) == []


# --- properties and organizations -----------------------------------------------------


def test_property_values_are_public_set_values_by_key(storage: Storage) -> None:
    app, other = add_apps(storage, make_app(), make_app())
    public, private, unset = (
        make_property("app"),
        make_property("app", is_private=True),
        make_property("app"),
    )
    with storage.transaction() as uow:
        for prop in (public, private, unset):
            uow[PROPERTIES_REPO].add(prop)
        uow[PROPERTIES_REPO].set_values("app", app.id, [(public.id, "v1"), (private.id, "secret")])
        uow[PROPERTIES_REPO].set_values("app", other.id, [(unset.id, "theirs")])
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].property_values(app.id) == {public.key: "v1"}
        assert uow[APPLICATIONS_REPO].property_values(other.id) == {unset.key: "theirs"}
        assert uow[APPLICATIONS_REPO].property_values(client_id()) == {}


def test_org_exists(storage: Storage) -> None:
    org = add_org(storage)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].org_exists(org.code) is True
        assert uow[APPLICATIONS_REPO].org_exists(organization_code()) is False


def test_organization_applications_lists_only_that_organizations_apps(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    first, unscoped, elsewhere, second = add_apps(
        storage,
        replace(make_app(), org_code=org.code),
        make_app(),
        replace(make_app(), org_code=other.code),
        replace(make_app(type_="reg"), org_code=org.code),
    )
    with storage.read() as uow:
        repo = uow[APPLICATIONS_REPO]
        assert [a.id for a in repo.organization_applications(org.code)] == [first.id, second.id]
        assert [a.id for a in repo.organization_applications(other.code)] == [elsewhere.id]
        assert repo.organization_applications(organization_code()) == []
        assert unscoped.org_code is None


# --- secrets ------------------------------------------------------------------------


def test_secrets_newest_first_including_expired(storage: Storage) -> None:
    app, other = add_apps(storage, make_app(), make_app())
    newer = make_secret(app.id, created_on=LATER)
    older = make_secret(app.id, created_on=NOW, expires_at=1)  # long expired
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].secrets(app.id) == []
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add_secret(older)
        uow[APPLICATIONS_REPO].add_secret(newer)
        uow[APPLICATIONS_REPO].add_secret(make_secret(other.id))
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].secrets(app.id) == [newer, older]
    # Inserted newest first: still newest first.
    third = make_secret(app.id, created_on="2025-01-01T00:00:00+00:00")
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add_secret(third)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].secrets(app.id) == [third, newer, older]


def test_add_secret_needs_the_application(storage: Storage) -> None:
    secret = make_secret(client_id())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[APPLICATIONS_REPO].add_secret(secret)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].secrets(secret.application_id) == []


def test_expire_secrets_caps_every_other_secret(storage: Storage) -> None:
    app, other = add_apps(storage, make_app(), make_app())
    keep = make_secret(app.id, created_on="2024-09-01T00:00:00+00:00")
    open_ended = make_secret(app.id, created_on="2024-08-01T00:00:00+00:00")
    later = make_secret(app.id, created_on="2024-07-01T00:00:00+00:00", expires_at=5_000)
    sooner = make_secret(app.id, created_on="2024-06-01T00:00:00+00:00", expires_at=500)
    theirs = make_secret(other.id)
    with storage.transaction() as uow:
        for secret in (keep, open_ended, later, sooner, theirs):
            uow[APPLICATIONS_REPO].add_secret(secret)
    with storage.transaction() as uow:
        uow[APPLICATIONS_REPO].expire_secrets(app.id, 1_000, keep.id)
    with storage.read() as uow:
        got = {s.id: s.expires_at for s in uow[APPLICATIONS_REPO].secrets(app.id)}
        assert uow[APPLICATIONS_REPO].secrets(other.id) == [theirs]
    assert got == {keep.id: None, open_ended.id: 1_000, later.id: 1_000, sooner.id: 500}
