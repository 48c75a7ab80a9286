"""Environment variables, service tier on both engines: behaviour, sealing and events.

What a user relies on: a secret's value is stored only sealed (the raw row has no
clear value and its bytes do not contain the value), opens again only with the same
master key and only on its own row, and is in no event; a readable variable made
secret is sealed from then on; a secret is never made readable without a new value;
every committed change has exactly its event, and a refused one has neither.
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
from kindling.platform.errors import (
    AlreadyExists,
    ConfigurationError,
    KindlingError,
    NotFound,
    ValidationError,
)
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.environment_variables import service
from kindling.resources.environment_variables.model import EnvironmentVariable
from kindling.resources.environment_variables.repository import ENVIRONMENT_VARIABLES_REPO
from tests.services.support import MASTER_KEY, NOW, Outbox, Recorded, uid

SEALER = service.sealer_for(MasterKey(MASTER_KEY))


def key() -> str:
    return f"SVC_{uid().upper()}"


def raw_row(storage: Storage, variable_id: str) -> dict[str, Any]:
    with storage.engine.session(write=False) as session:
        row = session.one("SELECT * FROM environment_variables WHERE id = ?", (variable_id,))
    assert row is not None
    return dict(row)


def stored(storage: Storage, variable_id: str) -> EnvironmentVariable | None:
    with storage.read() as uow:
        return uow[ENVIRONMENT_VARIABLES_REPO].get(variable_id)


def create(storage: Storage, clock: FrozenClock, **body: Any) -> EnvironmentVariable:
    return service.create_environment_variable(
        storage, clock, SEALER, {"key": key(), "value": f"value-{uid()}", **body}
    )


def fails(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> None:
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code
    assert outbox.recorded() == []


def assert_no_value_anywhere(storage: Storage, outbox: Outbox, value: str) -> None:
    """``value`` is in no event and in no column of any environment variable row."""
    assert value not in json.dumps([e.data for e in outbox.events()])
    with storage.engine.session(write=False) as session:
        rows = session.all("SELECT * FROM environment_variables")
    for row in rows:
        for column in dict(row).values():
            if isinstance(column, (bytes, bytearray, memoryview)):
                assert value.encode() not in bytes(column)
            else:
                assert value not in str(column)


def test_a_readable_variable_is_stored_in_clear(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    name = key()
    variable = service.create_environment_variable(
        storage, clock, SEALER, {"key": name, "value": "en-AU"}
    )
    assert variable.id.startswith("env_var_") and len(variable.id) == len("env_var_") + 32
    assert (variable.key, variable.value, variable.is_secret, variable.created_on) == (
        name,
        "en-AU",
        False,
        NOW,
    )
    row = raw_row(storage, variable.id)
    assert (row["value"], row["sealed_value"], bool(row["is_secret"])) == ("en-AU", None, False)
    assert outbox.take() == [
        Recorded(
            EventType.ENVIRONMENT_VARIABLE_CREATED,
            {"environment_variable": {"id": variable.id, "key": name, "is_secret": False}},
        )
    ]
    assert service.get_environment_variable(storage, variable.id) == variable
    assert service.resolve_value(storage, SEALER, name) == "en-AU"


def test_a_secret_is_stored_sealed_and_opens_only_with_its_key_on_its_row(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    secret = f"s3cr3t-{uid()}"
    variable = create(storage, clock, value=secret, is_secret=True)
    row = raw_row(storage, variable.id)
    assert row["value"] is None and bool(row["is_secret"]) is True
    sealed = bytes(row["sealed_value"])
    assert secret.encode() not in sealed and len(sealed) >= 12 + 16 + len(secret)
    assert_no_value_anywhere(storage, outbox, secret)
    assert outbox.recorded() == [
        Recorded(
            EventType.ENVIRONMENT_VARIABLE_CREATED,
            {"environment_variable": {"id": variable.id, "key": variable.key, "is_secret": True}},
        )
    ]
    assert service.resolve_value(storage, SEALER, variable.key) == secret
    # Another master key cannot open it ...
    other = service.sealer_for(MasterKey("another-master-key-0123456789abcdef!"))
    with pytest.raises(KeyMaterialError):
        other.unseal(variable.id, sealed)
    with pytest.raises(ConfigurationError):
        service.resolve_value(storage, other, variable.key)
    # ... nor the same key once the blob is moved onto another variable's row.
    decoy = create(storage, clock, is_secret=True)
    with pytest.raises(KeyMaterialError):
        SEALER.unseal(decoy.id, sealed)
    # Sealing twice never gives the same bytes (a fresh nonce each time).
    assert SEALER.seal(variable.id, secret) != SEALER.seal(variable.id, secret)


def test_the_sealing_key_is_derived_for_this_purpose_only() -> None:
    master = MasterKey(MASTER_KEY)
    sealed = SEALER.seal("env_var_x", "value")
    for purpose in ("signing-key-seal", "client-secret-pepper", "pagination-cursor"):
        with pytest.raises(KeyMaterialError):
            ValueSealer(master.derive(purpose)).unseal("env_var_x", sealed)
    assert ValueSealer(master.derive("environment-variable-seal")).unseal("env_var_x", sealed) == (
        "value"
    )
    assert repr(SEALER) == "<ValueSealer>"
    with pytest.raises(KeyMaterialError):
        SEALER.unseal("env_var_x", sealed[:-1])
    with pytest.raises(KeyMaterialError):
        SEALER.unseal("env_var_x", b"short")


def test_values_are_kept_exactly_as_sent(storage: Storage, clock: FrozenClock) -> None:
    value = "  -----BEGIN KEY-----\nline two\t\n"
    clear = create(storage, clock, value=value)
    secret = create(storage, clock, value=value, is_secret=True)
    assert service.resolve_value(storage, SEALER, clear.key) == value
    assert service.resolve_value(storage, SEALER, secret.key) == value
    longest = create(storage, clock, value="é" * service.VALUE_MAX)
    assert service.resolve_value(storage, SEALER, longest.key) == "é" * service.VALUE_MAX
    spaced = service.create_environment_variable(
        storage, clock, SEALER, {"key": "  TRIMMED_" + uid().upper() + " ", "value": "x"}
    )
    assert spaced.key == spaced.key.strip()


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"value": "v"}, ValidationError, "KEY_REQUIRED"),
        ({"key": "   ", "value": "v"}, ValidationError, "KEY_REQUIRED"),
        ({"key": 12, "value": "v"}, ValidationError, "INVALID_KEY"),
        ({"key": "HAS SPACE", "value": "v"}, ValidationError, "INVALID_KEY"),
        ({"key": "1STARTS_WITH_DIGIT", "value": "v"}, ValidationError, "INVALID_KEY"),
        ({"key": "DASH-ED", "value": "v"}, ValidationError, "INVALID_KEY"),
        ({"key": "K" * 129, "value": "v"}, ValidationError, "KEY_TOO_LONG"),
        ({"key": "OK_KEY"}, ValidationError, "VALUE_REQUIRED"),
        ({"key": "OK_KEY", "value": ""}, ValidationError, "VALUE_REQUIRED"),
        ({"key": "OK_KEY", "value": 5}, ValidationError, "INVALID_VALUE"),
        ({"key": "OK_KEY", "value": ["a"]}, ValidationError, "INVALID_VALUE"),
        ({"key": "OK_KEY", "value": "a\x00b"}, ValidationError, "INVALID_VALUE"),
        ({"key": "OK_KEY", "value": "v" * 2049}, ValidationError, "VALUE_TOO_LONG"),
        (
            {"key": "OK_KEY", "value": "v", "is_secret": "true"},
            ValidationError,
            "INVALID_IS_SECRET",
        ),
    ],
)
def test_invalid_creates_write_nothing(
    storage: Storage,
    clock: FrozenClock,
    outbox: Outbox,
    body: dict[str, Any],
    error: type[KindlingError],
    code: str,
) -> None:
    before = service.list_environment_variables(storage)
    fails(
        outbox,
        error,
        code,
        lambda: service.create_environment_variable(storage, clock, SEALER, body),
    )
    assert service.list_environment_variables(storage) == before


def test_keys_are_unique(storage: Storage, clock: FrozenClock, outbox: Outbox) -> None:
    taken = create(storage, clock)
    before = service.list_environment_variables(storage)
    fails(
        outbox,
        AlreadyExists,
        "ENVIRONMENT_VARIABLE_KEY_EXISTS",
        lambda: create(storage, clock, key=taken.key, is_secret=True),
    )
    assert service.list_environment_variables(storage) == before
    # Case-sensitive, like POSIX environment variable names.
    create(storage, clock, key=taken.key.lower())


def test_unknown_ids(storage: Storage, outbox: Outbox) -> None:
    ghost = service.variable_id()
    for call in (
        lambda: service.get_environment_variable(storage, ghost),
        lambda: service.update_environment_variable(storage, SEALER, ghost, {"value": "x"}),
        lambda: service.delete_environment_variable(storage, ghost),
    ):
        fails(outbox, NotFound, "ENVIRONMENT_VARIABLE_NOT_FOUND", call)


def test_update_key_and_value(storage: Storage, clock: FrozenClock, outbox: Outbox) -> None:
    variable = create(storage, clock)
    outbox.mark()
    new_key = key()
    updated = service.update_environment_variable(
        storage, SEALER, variable.id, {"key": new_key, "value": "new value"}
    )
    assert stored(storage, variable.id) == updated
    assert (updated.key, updated.value, updated.is_secret) == (new_key, "new value", False)
    assert outbox.take() == [
        Recorded(
            EventType.ENVIRONMENT_VARIABLE_UPDATED,
            {
                "environment_variable": {"id": variable.id, "key": new_key, "is_secret": False},
                "updated_fields": ["key", "value"],
            },
        )
    ]
    # The same values again change nothing and record nothing.
    service.update_environment_variable(
        storage, SEALER, variable.id, {"key": new_key, "value": "new value", "is_secret": False}
    )
    assert outbox.take() == []
    assert stored(storage, variable.id) == updated


def test_making_a_variable_secret_seals_its_current_value(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    value = f"was-readable-{uid()}"
    variable = create(storage, clock, value=value)
    outbox.mark()
    service.update_environment_variable(storage, SEALER, variable.id, {"is_secret": True})
    row = raw_row(storage, variable.id)
    assert row["value"] is None and bool(row["is_secret"]) is True
    assert value.encode() not in bytes(row["sealed_value"])
    assert service.resolve_value(storage, SEALER, variable.key) == value
    assert outbox.take() == [
        Recorded(
            EventType.ENVIRONMENT_VARIABLE_UPDATED,
            {
                "environment_variable": {"id": variable.id, "key": variable.key, "is_secret": True},
                "updated_fields": ["is_secret"],
            },
        )
    ]
    assert_no_value_anywhere(storage, outbox, value)


def test_a_secret_is_never_made_readable_without_a_new_value(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    secret = f"keep-hidden-{uid()}"
    variable = create(storage, clock, value=secret, is_secret=True)
    before = raw_row(storage, variable.id)
    fails(
        outbox,
        ValidationError,
        "VALUE_REQUIRED",
        lambda: service.update_environment_variable(
            storage, SEALER, variable.id, {"is_secret": False, "key": key()}
        ),
    )
    assert raw_row(storage, variable.id) == before
    # With a new value it becomes readable, holding only that value.
    service.update_environment_variable(
        storage, SEALER, variable.id, {"is_secret": False, "value": "now public"}
    )
    row = raw_row(storage, variable.id)
    assert (row["value"], row["sealed_value"], bool(row["is_secret"])) == (
        "now public",
        None,
        False,
    )
    assert outbox.recorded()[-1] == Recorded(
        EventType.ENVIRONMENT_VARIABLE_UPDATED,
        {
            "environment_variable": {"id": variable.id, "key": variable.key, "is_secret": False},
            "updated_fields": ["value", "is_secret"],
        },
    )
    assert_no_value_anywhere(storage, outbox, secret)


def test_a_secrets_value_is_replaced_sealed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    variable = create(storage, clock, value="first", is_secret=True)
    sealed_before = bytes(raw_row(storage, variable.id)["sealed_value"])
    outbox.mark()
    second = f"second-{uid()}"
    service.update_environment_variable(storage, SEALER, variable.id, {"value": second})
    assert service.resolve_value(storage, SEALER, variable.key) == second
    assert bytes(raw_row(storage, variable.id)["sealed_value"]) != sealed_before
    assert [r.data["updated_fields"] for r in outbox.take()] == [["value"]]
    assert_no_value_anywhere(storage, outbox, second)
    # Sending the value it already holds records nothing and keeps the sealed bytes.
    sealed_now = bytes(raw_row(storage, variable.id)["sealed_value"])
    service.update_environment_variable(
        storage, SEALER, variable.id, {"value": second, "is_secret": True}
    )
    assert outbox.take() == []
    assert bytes(raw_row(storage, variable.id)["sealed_value"]) == sealed_now


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"key": None, "value": None, "is_secret": None}, "NO_FIELDS_TO_UPDATE"),
        ({"key": "bad key"}, "INVALID_KEY"),
        ({"key": ""}, "KEY_REQUIRED"),
        ({"value": ""}, "VALUE_REQUIRED"),
        ({"value": "v" * 2049}, "VALUE_TOO_LONG"),
        ({"is_secret": 1}, "INVALID_IS_SECRET"),
    ],
)
def test_invalid_updates_change_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox, body: dict[str, Any], code: str
) -> None:
    variable = create(storage, clock)
    before = raw_row(storage, variable.id)
    fails(
        outbox,
        ValidationError,
        code,
        lambda: service.update_environment_variable(storage, SEALER, variable.id, body),
    )
    assert raw_row(storage, variable.id) == before


def test_renaming_onto_a_taken_key_changes_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    first, second = create(storage, clock), create(storage, clock, is_secret=True)
    before = raw_row(storage, second.id)
    fails(
        outbox,
        AlreadyExists,
        "ENVIRONMENT_VARIABLE_KEY_EXISTS",
        lambda: service.update_environment_variable(
            storage, SEALER, second.id, {"key": first.key, "value": "changed"}
        ),
    )
    assert raw_row(storage, second.id) == before


def test_delete(storage: Storage, clock: FrozenClock, outbox: Outbox) -> None:
    variable = create(storage, clock, is_secret=True)
    outbox.mark()
    service.delete_environment_variable(storage, variable.id)
    assert stored(storage, variable.id) is None
    assert service.resolve_value(storage, SEALER, variable.key) is None
    assert outbox.take() == [
        Recorded(
            EventType.ENVIRONMENT_VARIABLE_DELETED,
            {"environment_variable": {"id": variable.id, "key": variable.key}},
        )
    ]


def test_listing_is_oldest_first(storage: Storage, clock: FrozenClock) -> None:
    made = [create(storage, clock, is_secret=bool(i % 2)) for i in range(3)]
    ids = {v.id for v in made}
    assert [v for v in service.list_environment_variables(storage) if v.id in ids] == made
