"""SCIM directories, service tier on both engines: behaviour, the token, and events.

What a user relies on: the bearer token is returned once, only its keyed hash is
stored and it authenticates its own directory only (and not after the directory is
deleted); an organization gets one directory, linked to one of its enabled enterprise
connections; every committed change has exactly its event (never the token or its
hash), and a refused one has neither an event nor a row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.platform.context import Context
from kindling.platform.errors import AlreadyExists, KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import connection_id, organization_code
from kindling.platform.storage import Storage
from kindling.resources.directories import service
from kindling.resources.directories.model import Directory
from kindling.resources.organizations import service as organizations
from kindling.resources.organizations.model import Connection, Organization
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from tests.services.support import NOW, Outbox, Recorded, uid


def org(storage: Storage, clock: FrozenClock, *strategies: str) -> tuple[str, list[Connection]]:
    """A new organization with one enabled connection per strategy given."""
    made: Organization = organizations.create_organization(storage, clock, {"name": f"Org {uid()}"})
    connections = []
    for strategy in strategies:
        connection = Connection(
            id=connection_id(),
            name=f"conn-{uid()}",
            strategy=strategy,
            created_on=NOW,
            display_name=f"Display {strategy}",
        )
        with storage.transaction() as uow:
            uow[ORGANIZATIONS_REPO].add_connection(connection)
            uow[ORGANIZATIONS_REPO].enable_connection(made.code, connection.id)
        connections.append(connection)
    return made.code, connections


def create(context: Context, org_code: str, **body: Any) -> service.IssuedDirectory:
    return service.create_directory(
        context.storage,
        context.hasher,
        context.clock,
        {"org_code": org_code, "directory_name": "Production", "provider_code": "okta", **body},
    )


def directory_count(storage: Storage) -> int:
    with storage.engine.session(write=False) as session:
        row = session.one("SELECT COUNT(*) AS n FROM directories")
    assert row is not None
    return int(row["n"])


def fails(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> None:
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code
    assert outbox.recorded() == []


def event_data(directory: Directory) -> dict[str, Any]:
    return {
        "id": directory.id,
        "directory_name": directory.directory_name,
        "provider_code": directory.provider_code,
        "status": directory.status,
        "organization_code": directory.organization_code,
        "enterprise_connection_id": directory.enterprise_connection_id,
        "directory_endpoint_id": directory.directory_endpoint_id,
    }


def test_create_issues_a_token_once_and_stores_only_its_hash(
    context: Context, clock: FrozenClock, outbox: Outbox
) -> None:
    storage = context.storage
    code, (saml,) = org(storage, clock, "saml:okta")
    outbox.mark()
    issued = create(context, code, provider_code="entra_id_azure_ad")
    made = issued.directory
    assert made.id.startswith("directory_") and len(made.id) == len("directory_") + 32
    assert made.directory_endpoint_id.startswith("ksde_")
    assert issued.secret_token.startswith("kstkn_") and len(issued.secret_token) == 6 + 64
    assert (made.status, made.organization_code, made.provider_code) == (
        "Pending",
        code,
        "entra_id_azure_ad",
    )
    assert (made.enterprise_connection_id, made.enterprise_connection_name) == (
        saml.id,
        "Display saml:okta",
    )
    assert made.created_on == NOW
    assert service.get_directory(storage, made.id) == made
    with storage.engine.session(write=False) as session:
        row = session.one("SELECT * FROM directories WHERE id = ?", (made.id,))
    assert row is not None
    assert row["token_hash"] == context.hasher.hash(issued.secret_token)
    assert all(issued.secret_token not in str(v) for v in dict(row).values())
    recorded = outbox.recorded()
    assert recorded == [Recorded(EventType.DIRECTORY_CREATED, {"directory": event_data(made)})]
    dumped = json.dumps([r.data for r in recorded])
    assert issued.secret_token not in dumped and made.token_hash not in dumped


def test_the_token_authenticates_its_directory_only(context: Context, clock: FrozenClock) -> None:
    storage, hasher = context.storage, context.hasher
    first = create(context, org(storage, clock, "saml:custom")[0])
    second = create(context, org(storage, clock, "wsfed:azure_ad")[0])
    endpoint = first.directory.directory_endpoint_id
    assert service.authenticate(storage, hasher, endpoint, first.secret_token) == first.directory
    assert service.authenticate(storage, hasher, endpoint, second.secret_token) is None
    assert service.authenticate(storage, hasher, endpoint, first.secret_token + "x") is None
    assert service.authenticate(storage, hasher, "ksde_nothing", first.secret_token) is None
    service.delete_directory(storage, first.directory.id)
    assert service.authenticate(storage, hasher, endpoint, first.secret_token) is None


def test_the_only_enterprise_connection_is_chosen_and_social_ones_do_not_count(
    context: Context, clock: FrozenClock
) -> None:
    code, (_, entra) = org(context.storage, clock, "oauth2:google", "oauth2:azure_ad")
    made = create(context, code).directory
    assert made.enterprise_connection_id == entra.id


def test_several_enterprise_connections_need_a_choice(
    context: Context, clock: FrozenClock, outbox: Outbox
) -> None:
    storage = context.storage
    code, (social, first, second) = org(storage, clock, "oauth2:github", "saml:okta", "saml:google")
    before = directory_count(storage)
    fails(outbox, ValidationError, "ENTERPRISE_CONNECTION_REQUIRED", lambda: create(context, code))
    for wrong in (social.id, connection_id(), 7):
        fails(
            outbox,
            ValidationError,
            "INVALID_ENTERPRISE_CONNECTION",
            lambda wrong=wrong: create(context, code, enterprise_connection_id=wrong),
        )
    assert directory_count(storage) == before
    made = create(context, code, enterprise_connection_id=second.id).directory
    assert made.enterprise_connection_id == second.id != first.id


def test_an_enabled_enterprise_connection_is_required(
    context: Context, clock: FrozenClock, outbox: Outbox
) -> None:
    storage = context.storage
    for strategies in ((), ("oauth2:google", "oauth2:microsoft")):
        code, _ = org(storage, clock, *strategies)
        fails(
            outbox, ValidationError, "NO_ENTERPRISE_CONNECTIONS", lambda c=code: create(context, c)
        )
    # A SAML connection that exists but is not enabled for the organization does not count.
    code, _ = org(storage, clock)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(
            Connection(id=connection_id(), name="off", strategy="saml:custom", created_on=NOW)
        )
    fails(outbox, ValidationError, "NO_ENTERPRISE_CONNECTIONS", lambda: create(context, code))


def test_one_directory_per_organization(
    context: Context, clock: FrozenClock, outbox: Outbox
) -> None:
    code, _ = org(context.storage, clock, "saml:custom")
    first = create(context, code).directory
    before = directory_count(context.storage)
    fails(outbox, AlreadyExists, "DIRECTORY_EXISTS", lambda: create(context, code))
    assert directory_count(context.storage) == before
    service.delete_directory(context.storage, first.id)
    assert create(context, code).directory.id != first.id


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"org_code": None}, ValidationError, "ORGANIZATION_REQUIRED"),
        ({"org_code": "  "}, ValidationError, "ORGANIZATION_REQUIRED"),
        ({"org_code": 12}, ValidationError, "INVALID_ORG_CODE"),
        ({"org_code": "org_nothing"}, NotFound, "ORGANIZATION_NOT_FOUND"),
        ({"directory_name": None}, ValidationError, "DIRECTORY_NAME_REQUIRED"),
        ({"directory_name": " "}, ValidationError, "DIRECTORY_NAME_REQUIRED"),
        ({"directory_name": 3}, ValidationError, "INVALID_DIRECTORY_NAME"),
        ({"directory_name": "n" * 129}, ValidationError, "DIRECTORY_NAME_TOO_LONG"),
        ({"provider_code": None}, ValidationError, "PROVIDER_CODE_REQUIRED"),
        ({"provider_code": "ldap"}, ValidationError, "INVALID_PROVIDER"),
        ({"provider_code": "OKTA"}, ValidationError, "INVALID_PROVIDER"),
        ({"provider_code": ["okta"]}, ValidationError, "INVALID_PROVIDER"),
        ({"enterprise_connection_id": {}}, ValidationError, "INVALID_ENTERPRISE_CONNECTION"),
    ],
)
def test_invalid_creates_write_nothing(
    context: Context,
    clock: FrozenClock,
    outbox: Outbox,
    body: dict[str, Any],
    error: type[KindlingError],
    code: str,
) -> None:
    org_code, _ = org(context.storage, clock, "saml:custom")
    before = directory_count(context.storage)
    payload = {"org_code": org_code, "directory_name": "Prod", "provider_code": "okta", **body}
    fails(
        outbox,
        error,
        code,
        lambda: service.create_directory(context.storage, context.hasher, context.clock, payload),
    )
    assert directory_count(context.storage) == before


def test_rename(context: Context, clock: FrozenClock, outbox: Outbox) -> None:
    made = create(context, org(context.storage, clock, "saml:custom")[0]).directory
    outbox.mark()
    renamed = service.update_directory(
        context.storage, made.id, {"directory_name": "  Staging  ", "status": "Active"}
    )
    assert renamed.directory_name == "Staging" and renamed.status == "Pending"
    assert service.get_directory(context.storage, made.id) == renamed
    assert outbox.take() == [
        Recorded(
            EventType.DIRECTORY_UPDATED,
            {"directory": event_data(renamed), "updated_fields": ["directory_name"]},
        )
    ]
    service.update_directory(context.storage, made.id, {"directory_name": "Staging"})
    assert outbox.take() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"directory_name": None}, "NO_FIELDS_TO_UPDATE"),
        ({"directory_name": ""}, "DIRECTORY_NAME_REQUIRED"),
        ({"directory_name": "x" * 129}, "DIRECTORY_NAME_TOO_LONG"),
        ({"directory_name": "tab\there"}, "INVALID_DIRECTORY_NAME"),
    ],
)
def test_invalid_updates_change_nothing(
    context: Context, clock: FrozenClock, outbox: Outbox, body: dict[str, Any], code: str
) -> None:
    made = create(context, org(context.storage, clock, "saml:custom")[0]).directory
    fails(
        outbox,
        ValidationError,
        code,
        lambda: service.update_directory(context.storage, made.id, body),
    )
    assert service.get_directory(context.storage, made.id) == made


def test_unknown_and_blank_ids(storage: Storage, outbox: Outbox) -> None:
    ghost = "directory_" + uid()
    for call in (
        lambda: service.get_directory(storage, ghost),
        lambda: service.update_directory(storage, ghost, {"directory_name": "x"}),
        lambda: service.delete_directory(storage, ghost),
    ):
        fails(outbox, NotFound, "DIRECTORY_NOT_FOUND", call)
    for call in (
        lambda: service.get_directory(storage, " "),
        lambda: service.update_directory(storage, " ", {"directory_name": "x"}),
        lambda: service.delete_directory(storage, " "),
    ):
        fails(outbox, ValidationError, "DIRECTORY_ID_REQUIRED", call)


def test_delete(context: Context, clock: FrozenClock, outbox: Outbox) -> None:
    code, _ = org(context.storage, clock, "saml:custom")
    made = create(context, code).directory
    outbox.mark()
    service.delete_directory(context.storage, made.id)
    assert outbox.take() == [
        Recorded(
            EventType.DIRECTORY_DELETED, {"directory": {"id": made.id, "organization_code": code}}
        )
    ]
    fails(
        outbox,
        NotFound,
        "DIRECTORY_NOT_FOUND",
        lambda: service.get_directory(context.storage, made.id),
    )


def test_deleting_the_organization_takes_its_directory_and_records_only_that(
    context: Context, clock: FrozenClock, outbox: Outbox
) -> None:
    code, _ = org(context.storage, clock, "saml:custom")
    made = create(context, code).directory
    outbox.mark()
    organizations.delete_organization(context.storage, code)
    assert [r.type for r in outbox.take()] == [EventType.ORGANIZATION_DELETED]
    with pytest.raises(NotFound):
        service.get_directory(context.storage, made.id)


def test_listing_pages_with_starting_after_and_filters(
    context: Context, clock: FrozenClock
) -> None:
    made = [
        create(context, org(context.storage, clock, "saml:custom")[0]).directory for _ in range(5)
    ]
    storage = context.storage
    page, more = service.list_directories(storage, made[0].id, 2, None)
    assert page == made[1:3] and more is True
    page, more = service.list_directories(storage, made[2].id, 2, None)
    assert page == made[3:5]
    page, more = service.list_directories(storage, made[4].id, 2, None)
    assert page == [] and more is False
    only, more = service.list_directories(storage, None, 50, made[3].organization_code)
    assert only == [made[3]] and more is False
    assert service.list_directories(storage, None, 50, organization_code()) == ([], False)
    # A blank filter is no filter.
    everything, _ = service.list_directories(storage, made[0].id, 500, "")
    assert everything[:4] == made[1:]
    with pytest.raises(ValidationError) as raised:
        service.list_directories(storage, "directory_nothing", 10, None)
    assert raised.value.code == "INVALID_STARTING_AFTER"
