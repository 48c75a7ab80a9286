"""APIs (audiences) and their scopes: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.apis.model import Api, ApiAuthorization, ApiScope
from kindling.resources.applications.model import Application


class ApiRepository(Protocol):
    def get(self, api_id: str) -> Api | None:
        """Return the API, or None."""

    def get_by_audience(self, audience: str) -> Api | None:
        """Return the API with this exact audience, or None."""

    def get_management_api(self) -> Api | None:
        """Return the built-in Kinde Management API, or None before first run."""

    def add(self, api: Api) -> None:
        """Insert an API. Raises IntegrityViolation if the audience is taken."""

    def set_audience(self, api_id: str, audience: str) -> None:
        """Change an API's audience (the Management API follows the issuer)."""

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Api]]:
        """Return up to ``limit`` APIs after sequence ``after``, oldest first."""

    def list_by_name(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[tuple[str, int], Api]]:
        """Return up to ``limit`` APIs ordered by (name, sequence) after ``after``."""

    def scopes(self, api_id: str) -> list[ApiScope]:
        """Return the API's scopes in creation order."""

    def add_scopes(self, scopes: Sequence[ApiScope]) -> None:
        """Insert scopes. Raises IntegrityViolation if a key already exists for the API."""

    def delete(self, api_id: str) -> bool:
        """Delete the API, its scopes and authorizations; False if absent."""

    def update_scope(self, scope_id: str, description: str | None) -> None:
        """Change a scope's description."""

    def delete_scope(self, scope_id: str) -> bool:
        """Delete a scope and its grants; False if absent."""

    def applications(self, api_id: str) -> list[Application]:
        """Return the applications authorized for the API, by authorization time.

        Applications authorized at the same instant (one batch request) come in the
        order the applications were created.
        """

    def authorize(self, api_id: str, application_id: str, now: str) -> bool:
        """Authorize an application; return False if it already was."""

    def deauthorize(self, api_id: str, application_id: str) -> bool:
        """Remove an authorization and its granted scopes; return False if there was none."""

    def grant_scopes(self, api_id: str, application_id: str, scope_ids: Sequence[str]) -> None:
        """Grant scopes to an authorized application (idempotent)."""

    def revoke_scope(self, api_id: str, application_id: str, scope_id: str) -> bool:
        """Revoke one granted scope; return False if it was not granted."""

    def authorizations(
        self, application_id: str, audiences: Sequence[str]
    ) -> list[ApiAuthorization]:
        """Return the application's authorizations for those audiences, with granted keys."""


APIS_REPO = RepositoryKey[ApiRepository]("apis")
