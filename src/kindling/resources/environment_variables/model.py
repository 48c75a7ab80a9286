"""Environment variables: the domain objects.

Plain frozen dataclasses: no I/O, no framework types. A variable holds its value in
clear (``value``) or, when it is a secret, only sealed (``sealed_value``, AES-256-GCM
bound to the variable's id): never both. Neither shows in the ``repr``, so a variable
that reaches a log line or a traceback carries no value with it.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvironmentVariable:
    """One variable of the environment (``env_var_<32 hex>``); ``key`` is unique."""

    id: str
    key: str
    is_secret: bool
    created_on: str
    #: The clear value of a variable that is not a secret (None for a secret).
    value: str | None = field(default=None, repr=False)
    #: The sealed value of a secret (None otherwise).
    sealed_value: bytes | None = field(default=None, repr=False)


def environment_variable_from_row(row: Mapping[str, Any]) -> EnvironmentVariable:
    """A variable from a database row (its columns by name)."""
    sealed = row["sealed_value"]
    return EnvironmentVariable(
        id=row["id"],
        key=row["key"],
        is_secret=bool(row["is_secret"]),
        created_on=row["created_on"],
        value=row["value"],
        sealed_value=None if sealed is None else bytes(sealed),
    )
