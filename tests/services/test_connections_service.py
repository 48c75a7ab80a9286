"""The connections service on both engines: behaviour, sealed secrets, and outbox events.

Every change commits exactly its events (``connection.*``, and the applications' own
``application.connection_*`` for ``enabled_applications``); a call that changes nothing
records nothing; a refused call (bad input, unknown ids) writes nothing and records
nothing. Secrets are checked where they could leak: the stored row, the returned
model, the events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.masterkey import MasterKey
from kindling.crypto.sealing import ValueSealer
from kindling.platform.context import Context
from kindling.platform.errors import KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import connection_id
from kindling.platform.storage import Storage
from kindling.resources.applications import service as applications
from kindling.resources.connections import service as connections
from kindling.resources.connections.model import Connection
from kindling.resources.connections.repository import CONNECTIONS_REPO
from kindling.resources.organizations import service as organizations
from tests.services.support import MASTER_KEY, NOW, Outbox, Recorded, uid

SECRET = "s3cr3t-value-that-must-never-show"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


@pytest.fixture
def sealer() -> ValueSealer:
    return connections.connection_sealer(MasterKey(MASTER_KEY))


def ev(type_: EventType, data: dict[str, Any]) -> Recorded:
    return Recorded(type_, data)


def data(connection: Connection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "name": connection.name,
        "display_name": connection.display_name,
        "strategy": connection.strategy,
        "organization_code": connection.organization_code,
    }


def stored(storage: Storage, connection_id_: str) -> Connection | None:
    with storage.read() as uow:
        return uow[CONNECTIONS_REPO].get(connection_id_)


def row_count(storage: Storage) -> int:
    with storage.engine.session(write=False) as session:
        row = session.one("SELECT COUNT(*) AS n FROM connections")
    assert row is not None
    return int(row["n"])


def raw_row(storage: Storage, connection_id_: str) -> str:
    """Every column of the stored row as text (bytes decoded leniently)."""
    with storage.engine.session(write=False) as session:
        row = session.one("SELECT * FROM connections WHERE id = ?", (connection_id_,))
    assert row is not None
    parts = []
    for value in dict(row).values():
        if isinstance(value, bytes | bytearray | memoryview):
            parts.append(bytes(value).decode("latin-1"))
        else:
            parts.append(str(value))
    return " ".join(parts)


def refused(
    storage: Storage,
    outbox: Outbox,
    error: type[KindlingError],
    code: str,
    call: Callable[[], object],
) -> None:
    """``call`` raises ``error`` with ``code``, writes no connection and records nothing."""
    outbox.mark()
    before = row_count(storage)
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code, raised.value.message
    assert SECRET not in raised.value.message
    assert row_count(storage) == before
    assert outbox.recorded() == []


def new_app(context: Context) -> str:
    made = applications.create_application(
        context.storage, context.hasher, context.clock, f"App {uid()}", "reg"
    )
    return made.application.id


def google(storage: Storage, clock: FrozenClock, sealer: ValueSealer, **body: Any) -> Connection:
    return connections.create_connection(
        storage,
        clock,
        sealer,
        {
            "name": f"google-{uid()}",
            "display_name": "Google",
            "strategy": "oauth2:google",
            "options": {"client_id": "cid", "client_secret": SECRET, "is_trusted": True},
            **body,
        },
    )


# --- create ---------------------------------------------------------------------------


def test_create_stores_options_seals_the_secret_and_records_connection_created(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer, outbox: Outbox
) -> None:
    connection = google(storage, clock, sealer)
    assert connection.id.startswith("conn_") and len(connection.id) == 37
    assert connection.options == {"client_id": "cid", "is_trusted": True}
    assert connection.created_on == NOW == connection.updated_on
    assert stored(storage, connection.id) == connection
    assert connections.connection_secrets(storage, sealer, connection.id) == {
        "client_secret": SECRET
    }
    assert SECRET not in raw_row(storage, connection.id)
    assert outbox.recorded() == [ev(EventType.CONNECTION_CREATED, {"connection": data(connection)})]
    assert SECRET not in json.dumps([e.data for e in outbox.events()])


def test_secrets_open_only_with_their_key_and_on_their_own_row(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer
) -> None:
    first, second = google(storage, clock, sealer), google(storage, clock, sealer)
    other_key = connections.connection_sealer(MasterKey("another-master-key-" + "x" * 20))
    with pytest.raises(KeyMaterialError):
        connections.connection_secrets(storage, other_key, first.id)
    # The sub-key is the connections' own: the signing-key seal cannot open it either.
    signing = ValueSealer(MasterKey(MASTER_KEY).derive("signing-key-seal"))
    with pytest.raises(KeyMaterialError):
        connections.connection_secrets(storage, signing, first.id)
    with storage.engine.session(write=True) as session:
        session.execute(
            "UPDATE connections SET sealed_secrets = "
            "(SELECT sealed_secrets FROM connections WHERE id = ?) WHERE id = ?",
            (first.id, second.id),
        )
    with pytest.raises(KeyMaterialError):
        connections.connection_secrets(storage, sealer, second.id)


def test_create_every_strategy_family_with_its_typed_options(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer, context: Context
) -> None:
    org = organizations.create_organization(storage, clock, {"name": f"Org {uid()}"})
    saml = connections.create_connection(
        storage,
        clock,
        sealer,
        {
            "name": f"saml-{uid()}",
            "strategy": "saml:okta",
            "organization_code": org.code,
            "options": {
                "home_realm_domains": ["@kinde.com", "kinde.io", "@kinde.com"],
                "saml_entity_id": "https://kinde.com",
                "saml_idp_metadata_xml": "<EntityDescriptor>\n</EntityDescriptor>",
                "sign_request_algorithm": "RSA-SHA256",
                "protocol_binding": "HTTP-POST",
                "name_id_format": "Email address",
                "saml_signing_private_key": KEY_PEM,
                "upstream_params": {"prompt": {"value": "login"}},
                "is_auto_join_organization_enabled": True,
                "saml_sign_in_url": None,
            },
        },
    )
    assert saml.organization_code == org.code
    assert saml.options["home_realm_domains"] == ["@kinde.com", "kinde.io"]
    assert "saml_signing_private_key" not in saml.options
    assert "saml_sign_in_url" not in saml.options  # null is "not given"
    assert connections.connection_secrets(storage, sealer, saml.id) == {
        "saml_signing_private_key": KEY_PEM
    }
    azure = connections.create_connection(
        storage,
        clock,
        sealer,
        {
            "name": f"entra-{uid()}",
            "strategy": "wsfed:azure_ad",
            "options": {"entra_id_domain": "kinde.com", "is_use_common_endpoint": True},
        },
    )
    assert azure.options == {"entra_id_domain": "kinde.com", "is_use_common_endpoint": True}
    assert connections.connection_secrets(storage, sealer, azure.id) == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"strategy": "oauth2:google"}, "NAME_REQUIRED"),
        ({"name": "  ", "strategy": "oauth2:google"}, "NAME_REQUIRED"),
        ({"name": 7, "strategy": "oauth2:google"}, "INVALID_NAME"),
        ({"name": "x" * 129, "strategy": "oauth2:google"}, "NAME_TOO_LONG"),
        (
            {"name": "n", "display_name": "x" * 129, "strategy": "oauth2:google"},
            "DISPLAY_NAME_TOO_LONG",
        ),
        ({"name": "n"}, "STRATEGY_REQUIRED"),
        ({"name": "n", "strategy": "oauth2:myspace"}, "INVALID_STRATEGY"),
        ({"name": "n", "strategy": ["oauth2:google"]}, "INVALID_STRATEGY"),
        ({"name": "n", "strategy": "oauth2:google", "options": []}, "INVALID_OPTIONS"),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"client_secret": 12}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"is_trusted": "true"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"saml_entity_id": "x"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "options": {"name_id_format": "Email"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "options": {"home_realm_domains": "a.com"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "options": {"home_realm_domains": ["a b"]}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "options": {"upstream_params": "x"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"client_id": "a\x00b"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"client_id": "x" * 2049}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "organization_code": "org_00000000000"},
            "ORGANIZATION_CODE_NOT_ALLOWED",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "organization_code": 5},
            "INVALID_ORGANIZATION_CODE",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "organization_code": "org_00000000000"},
            "ORGANIZATION_NOT_FOUND",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "enabled_applications": "abc"},
            "INVALID_ENABLED_APPLICATIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "enabled_applications": [1]},
            "INVALID_ENABLED_APPLICATIONS",
        ),
        (
            {
                "name": "n",
                "strategy": "oauth2:google",
                "enabled_applications": [f"app{i}" for i in range(101)],
            },
            "TOO_MANY_ENABLED_APPLICATIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "enabled_applications": ["nope"]},
            "APPLICATION_NOT_FOUND",
        ),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(
    storage: Storage,
    clock: FrozenClock,
    sealer: ValueSealer,
    outbox: Outbox,
    body: dict[str, Any],
    code: str,
) -> None:
    with_secret = {**body}
    if isinstance(body.get("options"), dict) and body["strategy"] == "oauth2:google":
        with_secret["options"] = {"client_secret": SECRET, **body["options"]}
    refused(
        storage,
        outbox,
        ValidationError,
        code,
        lambda: connections.create_connection(storage, clock, sealer, with_secret),
    )


def test_create_enables_the_connection_in_its_applications(
    context: Context, sealer: ValueSealer, outbox: Outbox
) -> None:
    first, second = new_app(context), new_app(context)
    outbox.mark()
    connection = google(
        context.storage, context.clock, sealer, enabled_applications=[second, first, second]
    )
    assert outbox.recorded() == [
        ev(EventType.CONNECTION_CREATED, {"connection": data(connection)}),
        ev(
            EventType.APPLICATION_CONNECTION_ENABLED,
            {"application": {"id": second}, "connection": {"id": connection.id}},
        ),
        ev(
            EventType.APPLICATION_CONNECTION_ENABLED,
            {"application": {"id": first}, "connection": {"id": connection.id}},
        ),
    ]
    for app in (first, second):
        listed = applications.list_connections(context.storage, app)
        assert [c["id"] for c in listed] == [connection.id]


def test_an_unknown_application_among_known_ones_writes_nothing(
    context: Context, sealer: ValueSealer, outbox: Outbox
) -> None:
    known = new_app(context)
    refused(
        context.storage,
        outbox,
        ValidationError,
        "APPLICATION_NOT_FOUND",
        lambda: google(
            context.storage, context.clock, sealer, enabled_applications=[known, "missing"]
        ),
    )
    assert applications.list_connections(context.storage, known) == []


# --- read and list ----------------------------------------------------------------------


def test_get_connection_and_its_not_found(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer
) -> None:
    connection = google(storage, clock, sealer)
    assert connections.get_connection(storage, connection.id) == connection
    with pytest.raises(NotFound) as raised:
        connections.get_connection(storage, connection_id())
    assert raised.value.code == "CONNECTION_NOT_FOUND"


def test_list_pages_with_id_cursors_and_filters_by_home_realm_domain(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer
) -> None:
    tag = uid()
    made = [
        connections.create_connection(
            storage,
            clock,
            sealer,
            {
                "name": f"c{i}-{tag}",
                "strategy": "saml:custom",
                "options": {"home_realm_domains": [f"@{tag}.example"]},
            },
        )
        for i in range(5)
    ]
    ids = [c.id for c in made]
    domain = f"{tag.upper()}.example"
    page, more = connections.list_connections(storage, domain, None, None, 2)
    assert ([c.id for c in page], more) == (ids[:2], True)
    page, more = connections.list_connections(storage, domain, ids[1], None, 2)
    assert ([c.id for c in page], more) == (ids[2:4], True)
    page, more = connections.list_connections(storage, domain, ids[3], None, 2)
    assert ([c.id for c in page], more) == (ids[4:], False)
    page, more = connections.list_connections(storage, domain, None, ids[4], 2)
    assert ([c.id for c in page], more) == (ids[2:4], True)
    page, more = connections.list_connections(storage, domain, None, ids[1], 2)
    assert ([c.id for c in page], more) == (ids[:1], False)
    assert connections.list_connections(storage, f"@{tag}.other", None, None, 10) == ([], False)
    for after, before, code in (
        (ids[0], ids[1], "TOO_MANY_PARAMETERS"),
        (connection_id(), None, "INVALID_STARTING_AFTER"),
        (None, connection_id(), "INVALID_ENDING_BEFORE"),
    ):
        with pytest.raises(ValidationError) as raised:
            connections.list_connections(storage, None, after, before, 10)
        assert raised.value.code == code


# --- PATCH merges ------------------------------------------------------------------------


def test_patch_merges_options_and_keeps_the_secret_unless_given(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer, outbox: Outbox
) -> None:
    connection = google(storage, clock, sealer)
    clock.advance(60)
    outbox.mark()
    updated = connections.update_connection(
        storage, clock, sealer, connection.id, {"options": {"is_use_custom_domain": True}}
    )
    assert updated.options == {"client_id": "cid", "is_trusted": True, "is_use_custom_domain": True}
    assert updated.updated_on != connection.updated_on
    assert stored(storage, connection.id) == updated
    assert connections.connection_secrets(storage, sealer, connection.id) == {
        "client_secret": SECRET
    }
    assert outbox.take() == [
        ev(
            EventType.CONNECTION_UPDATED,
            {"connection": data(updated), "updated_fields": ["options"]},
        )
    ]
    # A new secret is a change of the options; the event still holds no secret.
    connections.update_connection(
        storage, clock, sealer, connection.id, {"options": {"client_secret": "rotated"}}
    )
    assert connections.connection_secrets(storage, sealer, connection.id) == {
        "client_secret": "rotated"
    }
    events = outbox.take()
    assert [(e.type, e.data["updated_fields"]) for e in events] == [
        (EventType.CONNECTION_UPDATED, ["options"])
    ]
    assert "rotated" not in json.dumps([e.data for e in events])
    # RFC 7396: null removes an option (and a secret); names change on their own.
    renamed = connections.update_connection(
        storage,
        clock,
        sealer,
        connection.id,
        {
            "name": "Renamed",
            "display_name": None,
            "options": {"client_secret": None, "is_trusted": None},
        },
    )
    assert (renamed.name, renamed.display_name) == ("Renamed", None)
    assert renamed.options == {"client_id": "cid", "is_use_custom_domain": True}
    assert connections.connection_secrets(storage, sealer, connection.id) == {}
    assert outbox.take() == [
        ev(
            EventType.CONNECTION_UPDATED,
            {
                "connection": data(renamed),
                "updated_fields": ["name", "display_name", "options"],
            },
        )
    ]


def test_patch_merges_upstream_params_recursively(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer
) -> None:
    connection = connections.create_connection(
        storage,
        clock,
        sealer,
        {
            "name": f"saml-{uid()}",
            "strategy": "saml:google",
            "options": {"upstream_params": {"prompt": {"value": "login"}, "hd": {"value": "a"}}},
        },
    )
    updated = connections.update_connection(
        storage,
        clock,
        sealer,
        connection.id,
        {"options": {"upstream_params": {"prompt": None, "login_hint": {"value": "b"}}}},
    )
    assert updated.options == {
        "upstream_params": {"hd": {"value": "a"}, "login_hint": {"value": "b"}}
    }


def test_a_patch_that_changes_nothing_records_nothing(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer, outbox: Outbox
) -> None:
    connection = google(storage, clock, sealer)
    outbox.mark()
    same = connections.update_connection(
        storage,
        clock,
        sealer,
        connection.id,
        {
            "name": connection.name,
            "options": {"client_id": "cid", "client_secret": SECRET},
            "enabled_applications": [],
        },
    )
    assert same == connection == stored(storage, connection.id)
    assert outbox.recorded() == []


def test_patch_sets_exactly_the_enabled_applications(
    context: Context, sealer: ValueSealer, outbox: Outbox
) -> None:
    storage, clock = context.storage, context.clock
    first, second, third = new_app(context), new_app(context), new_app(context)
    connection = google(storage, clock, sealer, enabled_applications=[first, second])
    outbox.mark()
    connections.update_connection(
        storage, clock, sealer, connection.id, {"enabled_applications": [second, third]}
    )
    ref = {"connection": {"id": connection.id}}
    assert outbox.recorded() == [
        ev(EventType.APPLICATION_CONNECTION_ENABLED, {"application": {"id": third}, **ref}),
        ev(EventType.APPLICATION_CONNECTION_DISABLED, {"application": {"id": first}, **ref}),
    ]
    assert applications.list_connections(storage, first) == []
    assert [c["id"] for c in applications.list_connections(storage, third)] == [connection.id]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"name": None, "options": None}, "NO_FIELDS_TO_UPDATE"),
        ({"name": ""}, "NAME_REQUIRED"),
        ({"options": "x"}, "INVALID_OPTIONS"),
        ({"options": {"client_secret": 5}}, "INVALID_OPTIONS"),
        ({"options": {"home_realm_domains": ["a.example"]}}, "INVALID_OPTIONS"),
        ({"enabled_applications": ["missing"]}, "APPLICATION_NOT_FOUND"),
    ],
)
def test_patch_refuses_bad_input_and_changes_nothing(
    storage: Storage,
    clock: FrozenClock,
    sealer: ValueSealer,
    outbox: Outbox,
    body: dict[str, Any],
    code: str,
) -> None:
    connection = google(storage, clock, sealer)
    refused(
        storage,
        outbox,
        ValidationError,
        code,
        lambda: connections.update_connection(storage, clock, sealer, connection.id, body),
    )
    assert stored(storage, connection.id) == connection
    assert connections.connection_secrets(storage, sealer, connection.id) == {
        "client_secret": SECRET
    }


def test_patch_put_and_delete_of_an_unknown_connection(
    storage: Storage, clock: FrozenClock, sealer: ValueSealer, outbox: Outbox
) -> None:
    missing = connection_id()
    for call in (
        lambda: connections.update_connection(storage, clock, sealer, missing, {"name": "x"}),
        lambda: connections.replace_connection(storage, clock, sealer, missing, {"name": "x"}),
        lambda: connections.delete_connection(storage, missing),
    ):
        refused(storage, outbox, NotFound, "CONNECTION_NOT_FOUND", call)


# --- PUT replaces -----------------------------------------------------------------------


def test_put_replaces_the_configuration_and_clears_what_it_leaves_out(
    context: Context, sealer: ValueSealer, outbox: Outbox
) -> None:
    storage, clock = context.storage, context.clock
    app = new_app(context)
    connection = google(storage, clock, sealer, enabled_applications=[app])
    outbox.mark()
    replaced = connections.replace_connection(
        storage,
        clock,
        sealer,
        connection.id,
        {"name": "Replaced", "options": {"is_trusted": False}},
    )
    assert (replaced.name, replaced.display_name) == ("Replaced", None)
    assert replaced.options == {"is_trusted": False}
    assert replaced.strategy == connection.strategy
    assert stored(storage, connection.id) == replaced
    assert connections.connection_secrets(storage, sealer, connection.id) == {}
    assert applications.list_connections(storage, app) == []
    assert outbox.recorded() == [
        ev(
            EventType.CONNECTION_UPDATED,
            {
                "connection": data(replaced),
                "updated_fields": ["name", "display_name", "options"],
            },
        ),
        ev(
            EventType.APPLICATION_CONNECTION_DISABLED,
            {"application": {"id": app}, "connection": {"id": connection.id}},
        ),
    ]
    # The same configuration again changes nothing and records nothing.
    outbox.mark()
    connections.replace_connection(
        storage,
        clock,
        sealer,
        connection.id,
        {"name": "Replaced", "options": {"is_trusted": False}},
    )
    assert outbox.recorded() == []
    refused(
        storage,
        outbox,
        ValidationError,
        "NAME_REQUIRED",
        lambda: connections.replace_connection(
            storage, clock, sealer, connection.id, {"options": {}}
        ),
    )
    assert stored(storage, connection.id) == replaced


# --- delete, and the organizations and applications that enable connections ---------------


def test_delete_records_connection_deleted_and_takes_the_enablements(
    context: Context, sealer: ValueSealer, outbox: Outbox
) -> None:
    storage, clock = context.storage, context.clock
    app = new_app(context)
    org = organizations.create_organization(storage, clock, {"name": f"Org {uid()}"})
    connection = google(storage, clock, sealer, enabled_applications=[app])
    assert organizations.set_connection(storage, org.code, connection.id, True) is True
    outbox.mark()
    connections.delete_connection(storage, connection.id)
    assert outbox.recorded() == [
        ev(
            EventType.CONNECTION_DELETED,
            {
                "connection": {
                    "id": connection.id,
                    "name": connection.name,
                    "strategy": "oauth2:google",
                }
            },
        )
    ]
    assert stored(storage, connection.id) is None
    assert applications.list_connections(storage, app) == []
    assert organizations.list_connections(storage, org.code) == []


def test_organizations_and_applications_enable_api_created_connections(
    context: Context, sealer: ValueSealer, outbox: Outbox
) -> None:
    storage, clock = context.storage, context.clock
    app = new_app(context)
    org = organizations.create_organization(storage, clock, {"name": f"Org {uid()}"})
    connection = google(storage, clock, sealer)
    outbox.mark()
    organizations.set_connection(storage, org.code, connection.id, True)
    applications.set_connection(storage, app, connection.id, True)
    assert [c.id for c in organizations.list_connections(storage, org.code)] == [connection.id]
    assert [c["id"] for c in applications.list_connections(storage, app)] == [connection.id]
    assert [e.type for e in outbox.take()] == [
        EventType.ORGANIZATION_CONNECTION_ENABLED,
        EventType.APPLICATION_CONNECTION_ENABLED,
    ]
    missing = connection_id()
    for call in (
        lambda: organizations.set_connection(storage, org.code, missing, True),
        lambda: organizations.set_connection(storage, org.code, missing, False),
        lambda: applications.set_connection(storage, app, missing, True),
        lambda: applications.set_connection(storage, app, missing, False),
    ):
        outbox.mark()
        with pytest.raises(NotFound) as raised:
            call()
        assert raised.value.code == "CONNECTION_NOT_FOUND"
        assert outbox.recorded() == []
    assert [c.id for c in organizations.list_connections(storage, org.code)] == [connection.id]
