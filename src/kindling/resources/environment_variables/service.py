"""Environment variables: create, read, list, update, delete; secrets are write-only.

Kinde's environment variables are key/value pairs of one environment, which its
workflows read at run time. A variable marked ``is_secret`` ("sensitive" in Kinde's
"Store environment variables" page) can no longer be read by anyone through the
Management API once it is set: reads show its ``value`` as null (the one field the
spec's ``environment_variable`` schema marks nullable). Kindling keeps such a value
only sealed, with AES-256-GCM under a key derived from the master key for this one
purpose (``environment-variable-seal``) and bound to the variable's id; a value that
is not a secret is stored in clear. Turning a readable variable into a secret seals
its current value (Kinde: it "converts it to a non-readable format"). The other way
is refused unless the request also sends a new value (``VALUE_REQUIRED``): a secret's
old value is never made readable again.

Keys are unique in the environment (the database has one), case-sensitive like
POSIX environment variable names, at most 128 characters of letters, digits and
underscores, not starting with a digit (POSIX.1-2017 §8.1 names, lower case allowed).
Values are at most 2048 characters, not empty, kept exactly as sent (no trimming:
spaces and line breaks may matter in a secret), without NUL characters. The spec
declares only 400 for these operations, so a taken key and an unknown id are 400s
(``ENVIRONMENT_VARIABLE_KEY_EXISTS``, ``ENVIRONMENT_VARIABLE_NOT_FOUND``).

Each change records ``environment_variable.created``, ``.updated`` or ``.deleted``
in its transaction; no event holds a value, secret or not. An update that changes
nothing records nothing.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.masterkey import MasterKey
from kindling.crypto.sealing import ValueSealer
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, ConfigurationError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_bool, required_text
from kindling.resources.environment_variables.model import EnvironmentVariable
from kindling.resources.environment_variables.repository import ENVIRONMENT_VARIABLES_REPO

KEY_MAX = 128
VALUE_MAX = 2048
#: The master-key purpose of the sub-key that seals secret values.
SEAL_PURPOSE = "environment-variable-seal"
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sealer_for(master: MasterKey) -> ValueSealer:
    """The sealer of secret values: AES-256-GCM under the master key's sub-key for them."""
    return ValueSealer(master.derive(SEAL_PURPOSE))


def variable_id() -> str:
    """A variable id in Kinde's shape: ``env_var_<32 hex>``."""
    return "env_var_" + hex_id()


class EnvironmentVariableBody(Body, frozen=True):
    """``POST /environment_variables`` and ``PATCH /environment_variables/{id}``: a null
    or absent field means "not given"."""

    key: object = None
    value: object = None
    is_secret: object = None


def validate_key(value: Any) -> str:
    """A variable's key: trimmed, 1..128 characters ``[A-Za-z_][A-Za-z0-9_]*``."""
    key = required_text(value, "key", KEY_MAX, "KEY")
    if not _KEY.fullmatch(key):
        raise ValidationError(
            "key may contain only letters, digits and underscores, and may not start with a digit",
            Code.INVALID_KEY,
        )
    return key


def validate_value(value: Any) -> str:
    """A variable's value: a non-empty string of at most 2048 characters, kept as sent."""
    if value is None or value == "":
        raise ValidationError("value is required", Code.VALUE_REQUIRED)
    if not isinstance(value, str):
        raise ValidationError("value must be a string", Code.INVALID_VALUE)
    if len(value) > VALUE_MAX:
        raise ValidationError(f"value must be at most {VALUE_MAX} characters", Code.VALUE_TOO_LONG)
    if "\x00" in value:
        raise ValidationError("value contains a NUL character", Code.INVALID_VALUE)
    return value


def _is_secret(value: Any) -> bool | None:
    return optional_bool(value, "is_secret")


def variable_data(variable: EnvironmentVariable) -> dict[str, Any]:
    """A variable as its events show it: never its value."""
    return {"id": variable.id, "key": variable.key, "is_secret": variable.is_secret}


def _key_taken() -> AlreadyExists:
    return AlreadyExists(
        "An environment variable with this key already exists",
        Code.ENVIRONMENT_VARIABLE_KEY_EXISTS,
    )


def _not_found() -> NotFound:
    return NotFound("Environment variable not found", Code.ENVIRONMENT_VARIABLE_NOT_FOUND)


def _holding(
    variable: EnvironmentVariable, sealer: ValueSealer, value: str, secret: bool
) -> EnvironmentVariable:
    """``variable`` holding ``value``: sealed (bound to its id) if ``secret``, else in clear."""
    if secret:
        return replace(
            variable, is_secret=True, value=None, sealed_value=sealer.seal(variable.id, value)
        )
    return replace(variable, is_secret=False, value=value, sealed_value=None)


def create_environment_variable(
    storage: Storage, clock: Clock, sealer: ValueSealer, body: Any
) -> EnvironmentVariable:
    data = decode_body(body, EnvironmentVariableBody)
    key = validate_key(data.key)
    value = validate_value(data.value)
    secret = bool(_is_secret(data.is_secret))
    blank = EnvironmentVariable(
        id=variable_id(), key=key, is_secret=secret, created_on=isoformat(clock.now())
    )
    variable = _holding(blank, sealer, value, secret)
    try:
        with storage.transaction() as uow:
            if uow[ENVIRONMENT_VARIABLES_REPO].get_by_key(key) is not None:
                raise _key_taken()
            uow[ENVIRONMENT_VARIABLES_REPO].add(variable)
            uow.record(
                EventType.ENVIRONMENT_VARIABLE_CREATED,
                {"environment_variable": variable_data(variable)},
            )
    except IntegrityViolation:
        raise _key_taken() from None
    return variable


def get_environment_variable(storage: Storage, variable_id_: str) -> EnvironmentVariable:
    with storage.read() as uow:
        variable = uow[ENVIRONMENT_VARIABLES_REPO].get(variable_id_)
    if variable is None:
        raise _not_found()
    return variable


def list_environment_variables(storage: Storage) -> list[EnvironmentVariable]:
    """Every variable of the environment, oldest first (the operation takes no paging)."""
    with storage.read() as uow:
        return uow[ENVIRONMENT_VARIABLES_REPO].list_all()


def _same_value(current: EnvironmentVariable, sealer: ValueSealer, value: str) -> bool:
    """Whether ``current`` already holds ``value`` (a secret is opened to compare; one that
    cannot be opened, sealed under another master key, counts as different)."""
    if current.sealed_value is not None:
        try:
            held = sealer.unseal(current.id, current.sealed_value)
        except KeyMaterialError:
            return False
        return hmac.compare_digest(held.encode("utf-8"), value.encode("utf-8"))
    return current.value == value


def update_environment_variable(
    storage: Storage, sealer: ValueSealer, variable_id_: str, body: Any
) -> EnvironmentVariable:
    """Change key, value and/or secrecy; absent (or null) fields stay as they are.

    Making a variable a secret seals its value (the new one, if sent); making a secret
    readable needs a new value (``VALUE_REQUIRED``), so its old value never shows again.
    """
    data = decode_body(body, EnvironmentVariableBody)
    key = None if data.key is None else validate_key(data.key)
    value = None if data.value is None else validate_value(data.value)
    secret = _is_secret(data.is_secret)
    if key is None and value is None and secret is None:
        raise ValidationError(
            "give at least one of key, value, is_secret", Code.NO_FIELDS_TO_UPDATE
        )
    try:
        with storage.transaction() as uow:
            current = uow[ENVIRONMENT_VARIABLES_REPO].get(variable_id_)
            if current is None:
                raise _not_found()
            becomes_secret = current.is_secret if secret is None else secret
            if current.is_secret and not becomes_secret and value is None:
                raise ValidationError(
                    "a secret's value cannot be made readable: send a new value with "
                    "is_secret false",
                    Code.VALUE_REQUIRED,
                )
            fields: list[str] = []
            updated = current
            if key is not None and key != current.key:
                other = uow[ENVIRONMENT_VARIABLES_REPO].get_by_key(key)
                if other is not None and other.id != current.id:
                    raise _key_taken()
                updated = replace(updated, key=key)
                fields.append("key")
            if value is not None and not _same_value(current, sealer, value):
                fields.append("value")
            if becomes_secret != current.is_secret:
                fields.append("is_secret")
            if "value" in fields or "is_secret" in fields:
                # Without a new value only a readable variable becoming a secret gets
                # here, and it holds its value in clear (the table's CHECK says so).
                held = value if value is not None else current.value or ""
                updated = _holding(updated, sealer, held, becomes_secret)
            if not fields:
                return current
            uow[ENVIRONMENT_VARIABLES_REPO].update(updated)
            uow.record(
                EventType.ENVIRONMENT_VARIABLE_UPDATED,
                {"environment_variable": variable_data(updated), "updated_fields": fields},
            )
    except IntegrityViolation:
        raise _key_taken() from None
    return updated


def delete_environment_variable(storage: Storage, variable_id_: str) -> None:
    with storage.transaction() as uow:
        current = uow[ENVIRONMENT_VARIABLES_REPO].get(variable_id_)
        if current is None:
            raise _not_found()
        uow[ENVIRONMENT_VARIABLES_REPO].delete(variable_id_)
        uow.record(
            EventType.ENVIRONMENT_VARIABLE_DELETED,
            {"environment_variable": {"id": current.id, "key": current.key}},
        )


# --- for the server itself ---------------------------------------------------------------


def resolve_value(storage: Storage, sealer: ValueSealer, key: str) -> str | None:
    """The value of the variable ``key`` (a secret opened), or None if there is none.

    This is what a runtime that consumes the variables (Kinde's workflows read them
    through ``kinde.env``) would call; no Management API operation returns it for a
    secret. A secret sealed under another master key is a ``ConfigurationError``.
    """
    with storage.read() as uow:
        variable = uow[ENVIRONMENT_VARIABLES_REPO].get_by_key(key)
    if variable is None:
        return None
    if variable.sealed_value is not None:
        try:
            return sealer.unseal(variable.id, variable.sealed_value)
        except KeyMaterialError as exc:
            raise ConfigurationError(str(exc)) from None
    return variable.value
