"""MFA: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.mfa.model import MfaPolicy


class MfaRepository(Protocol):
    """The environment's one MFA policy."""

    def get(self) -> MfaPolicy | None:
        """Return the stored policy, or None before one is first stored."""

    def put(self, policy: MfaPolicy) -> None:
        """Store the policy, replacing the stored one (an upsert: two first writes at once
        leave one row, the later write's). ``policy.updated_on`` must be set."""


MFA_REPO = RepositoryKey[MfaRepository]("mfa")
