"""Storage contract: ``DirectoryRepository`` on both engines.

One directory per organization (a unique index, so concurrent creates cannot make
two); the organization's deletion takes its directory with it; deleting the enterprise
connection leaves the directory unlinked rather than deleting it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import connection_id, hex_id, organization_code
from kindling.platform.storage import Storage
from kindling.resources.directories.model import Directory
from kindling.resources.directories.repository import DIRECTORIES_REPO
from kindling.resources.organizations.model import Connection
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from tests.storage.conftest import LATER, NOW, uid
from tests.storage.factories_identity import add_connection, add_org, seed


def make_directory(org_code: str, connection: Connection | None = None, **fields: Any) -> Directory:
    values: dict[str, Any] = {
        "id": "directory_" + hex_id(),
        "directory_name": f"Directory {uid()}",
        "provider_code": "okta",
        "organization_code": org_code,
        "directory_endpoint_id": "ksde_" + hex_id(),
        "status": "Pending",
        "created_on": NOW,
        "token_hash": "hmac-sha256$v1$" + hex_id(32),
        "enterprise_connection_id": None if connection is None else connection.id,
        "enterprise_connection_name": (
            None if connection is None else connection.display_name or connection.name
        ),
        **fields,
    }
    return Directory(**values)


def add_directory(storage: Storage, **fields: Any) -> Directory:
    org = add_org(storage)
    connection = add_connection(storage, strategy="saml:custom", display_name="ACME SAML")
    directory = make_directory(org.code, connection, **fields)
    with storage.transaction() as uow:
        uow[DIRECTORIES_REPO].add(directory)
    return directory


def test_lookups_of_missing_directories(storage: Storage) -> None:
    with storage.read() as uow:
        repo = uow[DIRECTORIES_REPO]
        assert repo.get("directory_" + hex_id()) is None
        assert repo.get_by_organization(organization_code()) is None
        assert repo.get_by_endpoint("ksde_" + hex_id()) is None
        assert repo.seq_of("directory_" + hex_id()) is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    directory = add_directory(
        storage,
        status="Error",
        last_sync_started_at=NOW,
        last_sync_completed_at=LATER,
        last_sync_error="Connection timeout",
    )
    with storage.read() as uow:
        repo = uow[DIRECTORIES_REPO]
        assert repo.get(directory.id) == directory
        assert repo.get_by_organization(directory.organization_code) == directory
        assert repo.get_by_endpoint(directory.directory_endpoint_id) == directory
        assert repo.seq_of(directory.id) is not None
    assert directory.enterprise_connection_name == "ACME SAML"


def test_the_connection_name_falls_back_to_its_name(storage: Storage) -> None:
    org = add_org(storage)
    connection = add_connection(storage, strategy="wsfed:azure_ad")
    directory = make_directory(org.code, connection)
    with storage.transaction() as uow:
        uow[DIRECTORIES_REPO].add(replace(directory, enterprise_connection_name="not stored"))
    with storage.read() as uow:
        found = uow[DIRECTORIES_REPO].get(directory.id)
    assert found is not None and found.enterprise_connection_name == connection.name


def test_one_directory_per_organization(storage: Storage) -> None:
    directory = add_directory(storage)
    second = make_directory(directory.organization_code)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[DIRECTORIES_REPO].add(second)
    with storage.read() as uow:
        assert uow[DIRECTORIES_REPO].get(second.id) is None
        assert uow[DIRECTORIES_REPO].get_by_organization(directory.organization_code) == directory


@pytest.mark.parametrize("field", ["id", "directory_endpoint_id", "token_hash"])
def test_add_refuses_a_taken_id_endpoint_or_token_hash(storage: Storage, field: str) -> None:
    directory = add_directory(storage)
    org = add_org(storage)
    clash = make_directory(org.code, **{field: getattr(directory, field)})
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[DIRECTORIES_REPO].add(clash)
    with storage.read() as uow:
        assert uow[DIRECTORIES_REPO].get_by_organization(org.code) is None


def test_add_refuses_an_unknown_organization_or_connection(storage: Storage) -> None:
    ghost_org = make_directory(organization_code())
    org = add_org(storage)
    ghost_connection = make_directory(org.code, enterprise_connection_id=connection_id())
    for bad in (ghost_org, ghost_connection):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[DIRECTORIES_REPO].add(bad)
        with storage.read() as uow:
            assert uow[DIRECTORIES_REPO].get(bad.id) is None


def test_rename(storage: Storage) -> None:
    directory = add_directory(storage)
    with storage.transaction() as uow:
        assert uow[DIRECTORIES_REPO].rename(directory.id, "Renamed") is True
        assert uow[DIRECTORIES_REPO].rename("directory_" + hex_id(), "Nobody") is False
    with storage.read() as uow:
        assert uow[DIRECTORIES_REPO].get(directory.id) == replace(
            directory, directory_name="Renamed"
        )


def test_delete(storage: Storage) -> None:
    directory = add_directory(storage)
    with storage.transaction() as uow:
        assert uow[DIRECTORIES_REPO].delete(directory.id) is True
    with storage.transaction() as uow:
        assert uow[DIRECTORIES_REPO].delete(directory.id) is False
    with storage.read() as uow:
        assert uow[DIRECTORIES_REPO].get(directory.id) is None
        assert uow[DIRECTORIES_REPO].get_by_endpoint(directory.directory_endpoint_id) is None
    # The organization may have a directory again.
    with storage.transaction() as uow:
        uow[DIRECTORIES_REPO].add(make_directory(directory.organization_code))


def test_list_page_is_keyset_paged_in_creation_order(storage: Storage) -> None:
    made = [add_directory(storage) for _ in range(5)]
    with storage.read() as uow:
        repo = uow[DIRECTORIES_REPO]
        start = repo.seq_of(made[0].id)
        assert start is not None
        first = repo.list_page(start - 1, 3, None)
        assert [d for _, d in first] == made[:3]
        seqs = [seq for seq, _ in first]
        assert seqs == sorted(seqs)
        rest = repo.list_page(seqs[-1], 100, None)
        assert [d for _, d in rest][:2] == made[3:]


def test_list_page_filters_by_organization(storage: Storage) -> None:
    wanted, other = add_directory(storage), add_directory(storage)
    with storage.read() as uow:
        repo = uow[DIRECTORIES_REPO]
        assert [d for _, d in repo.list_page(None, 10, wanted.organization_code)] == [wanted]
        assert [d for _, d in repo.list_page(None, 10, other.organization_code)] == [other]
        assert repo.list_page(None, 10, organization_code()) == []
        after = repo.seq_of(wanted.id)
        assert repo.list_page(after, 10, wanted.organization_code) == []


def test_organization_exists_and_enabled_connections(storage: Storage) -> None:
    org = add_org(storage)
    saml = add_connection(storage, strategy="saml:okta")
    social = add_connection(storage, strategy="oauth2:google")
    add_connection(storage, strategy="saml:custom")  # never enabled for the org
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].enable_connection(org.code, saml.id)
        uow[ORGANIZATIONS_REPO].enable_connection(org.code, social.id)
    with storage.read() as uow:
        repo = uow[DIRECTORIES_REPO]
        assert repo.organization_exists(org.code) is True
        assert repo.organization_exists(organization_code()) is False
        assert repo.enabled_connections(org.code) == [saml, social]
        assert repo.enabled_connections(organization_code()) == []


def test_deleting_the_organization_deletes_its_directory(storage: Storage) -> None:
    directory = add_directory(storage)
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(directory.organization_code) is True
    with storage.read() as uow:
        assert uow[DIRECTORIES_REPO].get(directory.id) is None


def test_deleting_the_connection_unlinks_the_directory(storage: Storage) -> None:
    directory = add_directory(storage)
    assert directory.enterprise_connection_id is not None
    seed(storage, "DELETE FROM connections WHERE id = ?", (directory.enterprise_connection_id,))
    with storage.read() as uow:
        assert uow[DIRECTORIES_REPO].get(directory.id) == replace(
            directory, enterprise_connection_id=None, enterprise_connection_name=None
        )


def test_the_repr_shows_no_token_hash() -> None:
    directory = make_directory(organization_code(), token_hash="hmac-sha256$v1$abcdef")
    assert "abcdef" not in repr(directory)
