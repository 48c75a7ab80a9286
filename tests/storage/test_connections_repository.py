"""Storage contract: ``ConnectionRepository`` on both engines.

Plus the one applications repository method that serves connections
(``connection_applications``, behind ``enabled_applications``), and the foreign keys
the connection record relies on: its managing organization must exist and takes the
connection with it, and deleting a connection takes its enablements and domains.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import connection_id, organization_code
from kindling.platform.storage import Storage
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.connections.model import Connection
from kindling.resources.connections.repository import CONNECTIONS_REPO
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_access import add_app, add_org
from tests.storage.factories_identity import count


def make_connection(**fields: Any) -> Connection:
    values: dict[str, Any] = {
        "id": connection_id(),
        "name": f"conn-{uid()}",
        "strategy": "oauth2:google",
        "created_on": NOW,
        "updated_on": NOW,
        **fields,
    }
    return Connection(**values)


def add(storage: Storage, sealed: bytes | None = None, **fields: Any) -> Connection:
    connection = make_connection(**fields)
    with storage.transaction() as uow:
        uow[CONNECTIONS_REPO].add(connection, sealed)
    return connection


def domains(storage: Storage, connection: Connection) -> list[str]:
    """The connection's rows in the home realm domain index."""
    with storage.engine.session(write=False) as session:
        rows = session.all(
            "SELECT domain FROM connection_home_realm_domains WHERE connection_id = ? "
            "ORDER BY domain",
            (connection.id,),
        )
    return [row["domain"] for row in rows]


def test_get_position_and_sealed_secrets_of_a_missing_connection(storage: Storage) -> None:
    with storage.read() as uow:
        repo = uow[CONNECTIONS_REPO]
        assert repo.get(connection_id()) is None
        assert repo.position(connection_id()) is None
        assert repo.sealed_secrets(connection_id()) is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    org = add_org(storage)
    saml = add(
        storage,
        b"\x00sealed\xffbytes",
        strategy="saml:okta",
        display_name="Okta",
        organization_code=org.code,
        options={
            "home_realm_domains": ["@Example.COM", "other.example"],
            "is_trusted": True,
            "upstream_params": {"prompt": {"value": "login"}},
        },
    )
    plain = add(storage)
    with storage.read() as uow:
        repo = uow[CONNECTIONS_REPO]
        assert repo.get(saml.id) == saml
        assert repo.get(plain.id) == plain
        assert plain.options == {} and plain.display_name is None
        assert repo.sealed_secrets(saml.id) == b"\x00sealed\xffbytes"
        assert repo.sealed_secrets(plain.id) is None
        first, second = repo.position(saml.id), repo.position(plain.id)
        assert first is not None and second is not None and first < second
    assert domains(storage, saml) == ["example.com", "other.example"]
    assert domains(storage, plain) == []


def test_add_refuses_a_taken_id_or_an_unknown_organization(storage: Storage) -> None:
    taken = add(storage)
    clashes = (
        make_connection(id=taken.id),
        make_connection(strategy="saml:custom", organization_code=organization_code()),
    )
    for clash in clashes:
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[CONNECTIONS_REPO].add(clash, b"x")
    with storage.read() as uow:
        assert uow[CONNECTIONS_REPO].get(taken.id) == taken
        assert uow[CONNECTIONS_REPO].get(clashes[1].id) is None
    assert (
        count(storage, "SELECT COUNT(*) AS n FROM connections WHERE id = ?", (clashes[1].id,)) == 0
    )


def test_update_overwrites_what_may_change_and_reindexes_domains(storage: Storage) -> None:
    org = add_org(storage)
    connection = add(
        storage,
        b"old",
        strategy="oauth2:azure_ad",
        organization_code=org.code,
        options={"home_realm_domains": ["a.example"], "client_id": "one"},
    )
    changed = replace(
        connection,
        name="Renamed",
        display_name="Entra",
        options={"home_realm_domains": ["b.example", "@c.example"]},
        updated_on=LATER,
        # These three never change: the repository keeps the stored values.
        strategy="oauth2:google",
        organization_code=None,
        created_on=LATER,
    )
    with storage.transaction() as uow:
        assert uow[CONNECTIONS_REPO].update(changed, b"new") is True
        assert uow[CONNECTIONS_REPO].update(make_connection(), None) is False
    with storage.read() as uow:
        assert uow[CONNECTIONS_REPO].get(connection.id) == replace(
            changed,
            strategy=connection.strategy,
            organization_code=org.code,
            created_on=connection.created_on,
        )
        assert uow[CONNECTIONS_REPO].sealed_secrets(connection.id) == b"new"
    assert domains(storage, connection) == ["b.example", "c.example"]
    with storage.transaction() as uow:
        assert uow[CONNECTIONS_REPO].update(replace(changed, options={}), None) is True
    with storage.read() as uow:
        assert uow[CONNECTIONS_REPO].sealed_secrets(connection.id) is None
    assert domains(storage, connection) == []


def test_a_rolled_back_add_or_update_leaves_nothing(storage: Storage) -> None:
    kept = add(storage, options={"home_realm_domains": ["kept.example"]})
    fresh = make_connection(options={"home_realm_domains": ["fresh.example"]})
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[CONNECTIONS_REPO].add(fresh, b"s")
        uow[CONNECTIONS_REPO].update(replace(kept, name="never", options={}), None)
        raise Boom
    with storage.read() as uow:
        assert uow[CONNECTIONS_REPO].get(fresh.id) is None
        assert uow[CONNECTIONS_REPO].get(kept.id) == kept
    assert domains(storage, fresh) == [] and domains(storage, kept) == ["kept.example"]


def test_delete_takes_enablements_and_domains_with_it(storage: Storage) -> None:
    org, app = add_org(storage), add_app(storage)
    gone = add(storage, b"s", options={"home_realm_domains": ["gone.example"]})
    stays = add(storage)
    with storage.transaction() as uow:
        for connection in (gone, stays):
            uow[ORGANIZATIONS_REPO].enable_connection(org.code, connection.id)
            uow[APPLICATIONS_REPO].enable_connection(app.id, connection.id)
    with storage.transaction() as uow:
        assert uow[CONNECTIONS_REPO].delete(gone.id) is True
        assert uow[CONNECTIONS_REPO].delete(gone.id) is False
    with storage.read() as uow:
        assert uow[CONNECTIONS_REPO].get(gone.id) is None
        assert uow[CONNECTIONS_REPO].sealed_secrets(gone.id) is None
        assert [c.id for c in uow[ORGANIZATIONS_REPO].connections(org.code)] == [stays.id]
        assert uow[APPLICATIONS_REPO].connection_applications(gone.id) == []
        assert uow[APPLICATIONS_REPO].connection_applications(stays.id) == [app.id]
    assert domains(storage, gone) == []


def test_deleting_the_managing_organization_deletes_its_connections(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    managed = add(storage, strategy="saml:custom", organization_code=org.code)
    elsewhere = add(storage, strategy="saml:custom", organization_code=other.code)
    unmanaged = add(storage)
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(org.code) is True
    with storage.read() as uow:
        assert uow[CONNECTIONS_REPO].get(managed.id) is None
        assert uow[CONNECTIONS_REPO].get(elsewhere.id) == elsewhere
        assert uow[CONNECTIONS_REPO].get(unmanaged.id) == unmanaged


def test_list_page_pages_forwards_and_backwards_in_creation_order(storage: Storage) -> None:
    made = [add(storage) for _ in range(5)]
    ids = [c.id for c in made]
    with storage.read() as uow:
        repo = uow[CONNECTIONS_REPO]
        found = [repo.position(i) for i in ids]
        positions = [p for p in found if p is not None]
        assert len(positions) == len(ids) and positions == sorted(positions)
        first, last = positions[0], positions[-1]
        assert [c.id for c in repo.list_page(None, first - 1, None, 1000)] == ids
        assert [c.id for c in repo.list_page(None, first, None, 2)] == ids[1:3]
        assert repo.list_page(None, last, None, 10) == []
        # Backwards: the last ``limit`` rows before ``before``, still oldest first.
        assert [c.id for c in repo.list_page(None, None, last, 2)] == ids[2:4]
        assert not {c.id for c in repo.list_page(None, None, first, 1000)} & set(ids)
        assert len(repo.list_page(None, None, None, 3)) == 3


def test_list_page_filters_by_normalized_home_realm_domain(storage: Storage) -> None:
    tag = uid()
    both = add(storage, strategy="saml:custom", options={"home_realm_domains": [f"@{tag}.example"]})
    azure = add(
        storage,
        strategy="wsfed:azure_ad",
        options={"home_realm_domains": [f"{tag}.EXAMPLE", f"x{tag}.example"]},
    )
    add(storage, options={})
    with storage.read() as uow:
        repo = uow[CONNECTIONS_REPO]
        assert [c.id for c in repo.list_page(f"{tag}.example", None, None, 10)] == [
            both.id,
            azure.id,
        ]
        assert [c.id for c in repo.list_page(f"x{tag}.example", None, None, 10)] == [azure.id]
        position = repo.position(both.id)
        assert [c.id for c in repo.list_page(f"{tag}.example", position, None, 10)] == [azure.id]
        assert repo.list_page(f"none{tag}.example", None, None, 10) == []


def test_connection_applications_lists_the_enabling_applications(storage: Storage) -> None:
    older, newer, unrelated = add_app(storage), add_app(storage), add_app(storage)
    connection, other = add(storage), add(storage)
    with storage.transaction() as uow:
        apps = uow[APPLICATIONS_REPO]
        apps.enable_connection(newer.id, connection.id)
        apps.enable_connection(older.id, connection.id)
        apps.enable_connection(unrelated.id, other.id)
    with storage.read() as uow:
        apps = uow[APPLICATIONS_REPO]
        assert apps.connection_applications(connection.id) == [older.id, newer.id]
        assert apps.connection_applications(other.id) == [unrelated.id]
        assert apps.connection_applications(connection_id()) == []
