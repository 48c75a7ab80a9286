"""Connected apps: provider definitions and sessions, in portable SQL."""

from __future__ import annotations

import json

from kindling.platform.engine import Session
from kindling.resources.connected_apps.model import (
    AUTHORIZED,
    EXCHANGING,
    FAILED,
    PENDING,
    ConnectedAppSession,
    Provider,
    provider_from_row,
    session_from_row,
)

_PROVIDER_COLUMNS = (
    "id, key_code_ref, name, authorization_endpoint, token_endpoint, revocation_endpoint, "
    "client_id, client_secret_sealed, token_endpoint_auth_method, scopes, "
    "authorization_params, callback_url, timeout_seconds, created_on, updated_on"
)
_SESSION_COLUMNS = (
    "id, session_hash, provider_id, user_id, org_code, status, state_hash, redirect_uri, "
    "callback_url, code_verifier_sealed, access_token_sealed, refresh_token_sealed, "
    "access_token_expires_at, granted_scope, version, created_on, expires_at, "
    "authorized_on, refreshed_on"
)


def _provider_values(provider: Provider) -> tuple[object, ...]:
    """The columns after ``id`` and ``key_code_ref`` (as UPDATE sets them)."""
    return (
        provider.name,
        provider.authorization_endpoint,
        provider.token_endpoint,
        provider.revocation_endpoint,
        provider.client_id,
        provider.client_secret_sealed,
        provider.token_endpoint_auth_method,
        " ".join(provider.scopes),
        json.dumps(dict(provider.authorization_params)),
        provider.callback_url,
        provider.timeout_seconds,
    )


class SqlConnectedAppRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- providers

    def get_provider(self, provider_id: str) -> Provider | None:
        row = self._s.one(
            f"SELECT {_PROVIDER_COLUMNS} FROM connected_app_providers WHERE id = ?",
            (provider_id,),
        )
        return None if row is None else provider_from_row(row)

    def get_provider_by_ref(self, key_code_ref: str) -> Provider | None:
        row = self._s.one(
            f"SELECT {_PROVIDER_COLUMNS} FROM connected_app_providers WHERE key_code_ref = ?",
            (key_code_ref,),
        )
        return None if row is None else provider_from_row(row)

    def list_providers(self) -> list[Provider]:
        rows = self._s.all(f"SELECT {_PROVIDER_COLUMNS} FROM connected_app_providers ORDER BY seq")
        return [provider_from_row(row) for row in rows]

    def add_provider(self, provider: Provider) -> None:
        self._s.execute(
            f"INSERT INTO connected_app_providers ({_PROVIDER_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                provider.id,
                provider.key_code_ref,
                *_provider_values(provider),
                provider.created_on,
                provider.updated_on,
            ),
        )

    def update_provider(self, provider: Provider) -> None:
        self._s.execute(
            "UPDATE connected_app_providers SET name = ?, authorization_endpoint = ?, "
            "token_endpoint = ?, revocation_endpoint = ?, client_id = ?, "
            "client_secret_sealed = ?, token_endpoint_auth_method = ?, scopes = ?, "
            "authorization_params = ?, callback_url = ?, timeout_seconds = ?, updated_on = ? "
            "WHERE id = ?",
            (*_provider_values(provider), provider.updated_on, provider.id),
        )

    def delete_provider(self, provider_id: str) -> bool:
        return (
            self._s.execute("DELETE FROM connected_app_providers WHERE id = ?", (provider_id,)) > 0
        )

    def count_sessions(self, provider_id: str, status: str) -> int:
        row = self._s.one(
            "SELECT COUNT(*) AS n FROM connected_app_sessions WHERE provider_id = ? AND status = ?",
            (provider_id, status),
        )
        return 0 if row is None else int(row["n"])

    # --- sessions

    def add_session(self, session: ConnectedAppSession) -> None:
        self._s.execute(
            f"INSERT INTO connected_app_sessions ({_SESSION_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session.id,
                session.session_hash,
                session.provider_id,
                session.user_id,
                session.org_code,
                session.status,
                session.state_hash,
                session.redirect_uri,
                session.callback_url,
                session.code_verifier_sealed,
                session.access_token_sealed,
                session.refresh_token_sealed,
                session.access_token_expires_at,
                session.granted_scope,
                session.version,
                session.created_on,
                session.expires_at,
                session.authorized_on,
                session.refreshed_on,
            ),
        )

    def get_session(self, session_id: str) -> ConnectedAppSession | None:
        row = self._s.one(
            f"SELECT {_SESSION_COLUMNS} FROM connected_app_sessions WHERE id = ?", (session_id,)
        )
        return None if row is None else session_from_row(row)

    def get_session_by_hash(self, session_hash: str) -> ConnectedAppSession | None:
        row = self._s.one(
            f"SELECT {_SESSION_COLUMNS} FROM connected_app_sessions WHERE session_hash = ?",
            (session_hash,),
        )
        return None if row is None else session_from_row(row)

    def consume_state(self, state_hash: str, now: int) -> ConnectedAppSession | None:
        # One conditional UPDATE: of two callbacks racing with one state, the second
        # finds the state hash already cleared (PostgreSQL re-checks the WHERE clause
        # after the first commits; SQLite serializes writers).
        row = self._s.one(
            "SELECT id FROM connected_app_sessions WHERE state_hash = ?", (state_hash,)
        )
        if row is None:
            return None
        changed = self._s.execute(
            "UPDATE connected_app_sessions SET status = ?, state_hash = NULL "
            "WHERE id = ? AND state_hash = ? AND status = ? AND expires_at >= ?",
            (EXCHANGING, row["id"], state_hash, PENDING, now),
        )
        return self.get_session(row["id"]) if changed else None

    def finish_authorization(
        self,
        session_id: str,
        access_token_sealed: bytes,
        refresh_token_sealed: bytes | None,
        access_token_expires_at: int | None,
        granted_scope: str | None,
        authorized_on: str,
    ) -> bool:
        changed = self._s.execute(
            "UPDATE connected_app_sessions SET status = ?, access_token_sealed = ?, "
            "refresh_token_sealed = ?, access_token_expires_at = ?, granted_scope = ?, "
            "authorized_on = ?, code_verifier_sealed = NULL, version = version + 1 "
            "WHERE id = ? AND status = ?",
            (
                AUTHORIZED,
                access_token_sealed,
                refresh_token_sealed,
                access_token_expires_at,
                granted_scope,
                authorized_on,
                session_id,
                EXCHANGING,
            ),
        )
        return changed > 0

    def fail_authorization(self, session_id: str) -> bool:
        changed = self._s.execute(
            "UPDATE connected_app_sessions SET status = ?, code_verifier_sealed = NULL "
            "WHERE id = ? AND status = ?",
            (FAILED, session_id, EXCHANGING),
        )
        return changed > 0

    def replace_tokens(
        self,
        session_id: str,
        expected_version: int,
        access_token_sealed: bytes,
        refresh_token_sealed: bytes | None,
        access_token_expires_at: int | None,
        granted_scope: str | None,
        refreshed_on: str,
    ) -> bool:
        changed = self._s.execute(
            "UPDATE connected_app_sessions SET access_token_sealed = ?, "
            "refresh_token_sealed = ?, access_token_expires_at = ?, granted_scope = ?, "
            "refreshed_on = ?, version = version + 1 "
            "WHERE id = ? AND status = ? AND version = ?",
            (
                access_token_sealed,
                refresh_token_sealed,
                access_token_expires_at,
                granted_scope,
                refreshed_on,
                session_id,
                AUTHORIZED,
                expected_version,
            ),
        )
        return changed > 0

    def delete_session(self, session_id: str) -> bool:
        return self._s.execute("DELETE FROM connected_app_sessions WHERE id = ?", (session_id,)) > 0

    def prune_sessions(self, now: int) -> int:
        return self._s.execute(
            "DELETE FROM connected_app_sessions WHERE status <> ? AND expires_at < ?",
            (AUTHORIZED, now),
        )

    # --- the subjects a session is for

    def user_exists(self, user_id: str) -> bool:
        return self._s.one("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None

    def organization_exists(self, org_code: str) -> bool:
        return self._s.one("SELECT 1 FROM organizations WHERE code = ?", (org_code,)) is not None
