"""Environment variables: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL. The repository stores what it
is given: sealing a secret is the service's work, and the table refuses (through a
CHECK, as IntegrityViolation) a secret with a clear value or a clear variable without one.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.environment_variables.model import EnvironmentVariable


class EnvironmentVariableRepository(Protocol):
    """The environment's variables."""

    def get(self, variable_id: str) -> EnvironmentVariable | None:
        """Return the variable, or None."""

    def get_by_key(self, key: str) -> EnvironmentVariable | None:
        """Return the variable with this exact (case-sensitive) key, or None."""

    def add(self, variable: EnvironmentVariable) -> None:
        """Insert a variable. Raises IntegrityViolation if its key or id is taken, or if
        it holds the wrong one of clear and sealed value for ``is_secret``."""

    def update(self, variable: EnvironmentVariable) -> bool:
        """Overwrite key, secrecy and both value columns of the variable with
        ``variable.id``; False (nothing written) if it is absent. Raises IntegrityViolation
        if the new key belongs to another variable (or the values break the CHECK)."""

    def delete(self, variable_id: str) -> bool:
        """Delete the variable; False if absent."""

    def list_all(self) -> list[EnvironmentVariable]:
        """Every variable, oldest first."""


ENVIRONMENT_VARIABLES_REPO = RepositoryKey[EnvironmentVariableRepository]("environment_variables")
