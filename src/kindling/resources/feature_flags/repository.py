"""Feature flags: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.feature_flags.model import FeatureFlag


class FeatureFlagRepository(Protocol):
    """Feature flag definitions and their environment, organization and user overrides."""

    def get_by_key(self, key: str) -> FeatureFlag | None:
        """Return the flag with this exact key (with its environment override), or None."""

    def all(self) -> list[FeatureFlag]:
        """Return every flag in creation order."""

    def add(self, flag: FeatureFlag) -> None:
        """Insert a flag. Raises IntegrityViolation if the id or the key is taken."""

    def update(self, flag: FeatureFlag) -> bool:
        """Overwrite a flag's definition and environment override (found by id; the key
        does not change); False if absent."""

    def delete(self, flag_id: str) -> bool:
        """Delete the flag and all its overrides; False if absent."""

    def clear_environment_values(self) -> int:
        """Remove every environment override; return how many flags had one."""

    def clear_overrides(self, flag_id: str, organizations: bool, users: bool) -> None:
        """Remove the flag's organization and/or user overrides (no-op when none)."""

    def organization_exists(self, org_code: str) -> bool:
        """True when an organization has this code."""

    def user_exists(self, user_id: str) -> bool:
        """True when a user has this id."""

    def organization_values(self, org_code: str) -> dict[str, str]:
        """Return the organization's overrides by flag id."""

    def user_values(self, user_id: str) -> dict[str, str]:
        """Return the user's overrides by flag id."""

    def set_organization_value(self, org_code: str, flag_id: str, value: str) -> None:
        """Create or replace an organization override.

        Raises IntegrityViolation if the organization or the flag does not exist."""

    def delete_organization_value(self, org_code: str, flag_id: str) -> bool:
        """Remove one organization override; False if there was none."""

    def clear_organization_values(self, org_code: str) -> int:
        """Remove every override of the organization; return how many there were."""

    def set_user_value(self, user_id: str, flag_id: str, value: str) -> None:
        """Create or replace a user override.

        Raises IntegrityViolation if the user or the flag does not exist."""


FEATURE_FLAGS_REPO = RepositoryKey[FeatureFlagRepository]("feature_flags")
