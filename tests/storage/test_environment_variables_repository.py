"""Storage contract: ``EnvironmentVariableRepository`` on both engines.

The repository stores what the service gives it; the table itself refuses a secret
held in clear and a readable variable without its value (the CHECK of migration 13),
so no code path can leave a secret readable in the database.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.storage import Storage
from kindling.resources.environment_variables.model import EnvironmentVariable
from kindling.resources.environment_variables.repository import ENVIRONMENT_VARIABLES_REPO
from kindling.resources.environment_variables.service import variable_id
from tests.storage.conftest import NOW, Boom, uid
from tests.storage.factories_identity import count


def make_variable(secret: bool = False, **fields: Any) -> EnvironmentVariable:
    values: dict[str, Any] = {
        "id": variable_id(),
        "key": f"VAR_{uid().upper()}",
        "is_secret": secret,
        "created_on": NOW,
        "value": None if secret else f"value {uid()}",
        # The repository never opens a sealed value: any bytes stand for one here.
        "sealed_value": os.urandom(40) if secret else None,
        **fields,
    }
    return EnvironmentVariable(**values)


def add_variable(storage: Storage, secret: bool = False, **fields: Any) -> EnvironmentVariable:
    variable = make_variable(secret, **fields)
    with storage.transaction() as uow:
        uow[ENVIRONMENT_VARIABLES_REPO].add(variable)
    return variable


def test_get_and_get_by_key_of_missing_variables(storage: Storage) -> None:
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(variable_id()) is None
        assert uow[ENVIRONMENT_VARIABLES_REPO].get_by_key(f"MISSING_{uid()}") is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    clear = add_variable(storage, value="  spaced\nmulti-line value\t")
    secret = add_variable(storage, secret=True, sealed_value=bytes(range(256)))
    with storage.read() as uow:
        repo = uow[ENVIRONMENT_VARIABLES_REPO]
        assert repo.get(clear.id) == clear
        assert repo.get_by_key(clear.key) == clear
        found = repo.get(secret.id)
        assert found == secret
        assert found is not None and isinstance(found.sealed_value, bytes)
        assert found.value is None and found.is_secret is True
        assert repo.get_by_key(secret.key) == secret


def test_keys_are_case_sensitive(storage: Storage) -> None:
    tag = uid().upper()
    upper = add_variable(storage, key=f"KEY_{tag}")
    lower = add_variable(storage, key=f"key_{tag.lower()}")
    with storage.read() as uow:
        repo = uow[ENVIRONMENT_VARIABLES_REPO]
        assert repo.get_by_key(f"KEY_{tag}") == upper
        assert repo.get_by_key(f"key_{tag.lower()}") == lower
        assert repo.get_by_key(f"Key_{tag}") is None


def test_add_refuses_a_taken_key_or_id(storage: Storage) -> None:
    variable = add_variable(storage)
    for clash in (make_variable(key=variable.key), make_variable(id=variable.id)):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[ENVIRONMENT_VARIABLES_REPO].add(clash)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(variable.id) == variable


@pytest.mark.parametrize(
    "fields",
    [
        {"is_secret": True, "value": "in clear", "sealed_value": None},
        {"is_secret": True, "value": "in clear", "sealed_value": b"sealed"},
        {"is_secret": True, "value": None, "sealed_value": None},
        {"is_secret": False, "value": None, "sealed_value": None},
        {"is_secret": False, "value": "clear", "sealed_value": b"sealed"},
    ],
    ids=["secret-in-clear", "secret-both", "secret-empty", "clear-empty", "clear-both"],
)
def test_the_table_refuses_a_secret_in_clear_or_a_variable_without_its_value(
    storage: Storage, fields: dict[str, Any]
) -> None:
    bad = make_variable(**fields)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ENVIRONMENT_VARIABLES_REPO].add(bad)
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(bad.id) is None
    good = add_variable(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ENVIRONMENT_VARIABLES_REPO].update(replace(bad, id=good.id, key=good.key))
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(good.id) == good


def test_update_overwrites_key_secrecy_and_values(storage: Storage) -> None:
    variable = add_variable(storage)
    sealed = replace(
        variable,
        key=f"RENAMED_{uid().upper()}",
        is_secret=True,
        value=None,
        sealed_value=b"\x00sealed\xff",
        created_on="ignored",
    )
    with storage.transaction() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].update(sealed) is True
    with storage.read() as uow:
        repo = uow[ENVIRONMENT_VARIABLES_REPO]
        assert repo.get(variable.id) == replace(sealed, created_on=variable.created_on)
        assert repo.get_by_key(variable.key) is None
    readable = replace(sealed, is_secret=False, value="clear again", sealed_value=None)
    with storage.transaction() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].update(readable) is True
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(variable.id) == replace(
            readable, created_on=variable.created_on
        )


def test_update_of_a_missing_variable_writes_nothing(storage: Storage) -> None:
    ghost = make_variable()
    with storage.transaction() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].update(ghost) is False
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(ghost.id) is None
        assert uow[ENVIRONMENT_VARIABLES_REPO].get_by_key(ghost.key) is None


def test_update_refuses_another_variables_key(storage: Storage) -> None:
    first, second = add_variable(storage), add_variable(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ENVIRONMENT_VARIABLES_REPO].update(replace(second, key=first.key))
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(second.id) == second


def test_delete(storage: Storage) -> None:
    variable = add_variable(storage, secret=True)
    with storage.transaction() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].delete(variable.id) is True
    with storage.transaction() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].delete(variable.id) is False
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(variable.id) is None
        assert uow[ENVIRONMENT_VARIABLES_REPO].get_by_key(variable.key) is None
    add_variable(storage, key=variable.key)  # the key is free again


def test_list_all_is_oldest_first(storage: Storage) -> None:
    made = [add_variable(storage, secret=bool(i % 2)) for i in range(4)]
    with storage.read() as uow:
        listed = uow[ENVIRONMENT_VARIABLES_REPO].list_all()
    mine = [v for v in listed if v.id in {m.id for m in made}]
    assert mine == made


def test_a_rolled_back_add_leaves_nothing(storage: Storage) -> None:
    variable = make_variable(secret=True)
    before = count(storage, "SELECT COUNT(*) AS n FROM environment_variables")
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[ENVIRONMENT_VARIABLES_REPO].add(variable)
        raise Boom
    with storage.read() as uow:
        assert uow[ENVIRONMENT_VARIABLES_REPO].get(variable.id) is None
    assert count(storage, "SELECT COUNT(*) AS n FROM environment_variables") == before


def test_the_repr_shows_no_value() -> None:
    variable = make_variable(value="hunter2-visible?")
    secret = make_variable(secret=True, sealed_value=b"sealed-bytes")
    assert "hunter2" not in repr(variable)
    assert "sealed-bytes" not in repr(secret)
