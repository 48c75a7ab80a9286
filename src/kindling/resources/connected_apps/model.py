"""Connected apps: the domain objects.

A *provider* is an external OAuth 2.0 authorization server (Google, Slack, ...) that
Kindling connects to on a user's or an organization's behalf; Kinde calls it a connected
app and names it by its ``key_code_ref``. A *session* is one connection attempt and, once
the user has approved it at the provider, the provider's tokens for that user or
organization (Kinde's ``session_id`` names it).

Plain frozen dataclasses: no I/O, no framework types. Secrets (the provider's client
secret, its access and refresh tokens, the PKCE verifier) are held only sealed; the
session id and the ``state`` value are held only as keyed hashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kindling.platform.render import compact

#: The token endpoint client authentication methods a provider may use (RFC 6749 §2.3.1
#: and the names of RFC 7591 §2): HTTP Basic, the form body, or none (a public client
#: that relies on PKCE alone).
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")

#: A session's life: ``pending`` (the authorization URL was handed out), ``exchanging``
#: (the provider sent the user back with a code; the code is being exchanged),
#: ``authorized`` (the provider's tokens are stored) or ``failed`` (the user refused, or
#: the exchange failed; a new authorization URL is needed).
PENDING = "pending"
EXCHANGING = "exchanging"
AUTHORIZED = "authorized"
FAILED = "failed"


@dataclass(frozen=True)
class Provider:
    """A connected app's definition: where its OAuth 2.0 endpoints are and how we log in."""

    id: str
    key_code_ref: str
    name: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    client_id: str
    #: The client secret, sealed (None for ``token_endpoint_auth_method`` ``none``).
    client_secret_sealed: bytes | None
    token_endpoint_auth_method: str
    scopes: tuple[str, ...]
    #: Extra parameters of the authorization request (``access_type=offline`` for Google).
    authorization_params: tuple[tuple[str, str], ...]
    #: Where the user is sent back in the app once the provider is connected.
    callback_url: str | None
    #: How long one request to the provider may take, in seconds.
    timeout_seconds: int
    created_on: str
    updated_on: str


@dataclass(frozen=True)
class ConnectedAppSession:
    """One connection of a user or an organization to a provider."""

    id: str
    #: The keyed hash of the ``session_id`` handed to the caller (never the id itself).
    session_hash: str
    provider_id: str
    user_id: str | None
    org_code: str | None
    status: str
    #: The keyed hash of the authorization request's ``state``; cleared once it is used.
    state_hash: str | None
    #: Our callback, sent as ``redirect_uri`` (RFC 6749 §4.1.1) and again in the exchange.
    redirect_uri: str
    #: The app's callback the user goes back to (``override_callback_url`` or the provider's).
    callback_url: str | None
    code_verifier_sealed: bytes | None
    access_token_sealed: bytes | None
    refresh_token_sealed: bytes | None
    #: When the access token expires (Unix seconds), None when the provider did not say.
    access_token_expires_at: int | None
    granted_scope: str | None
    #: Bumped by every token change, so concurrent refreshes cannot overwrite each other.
    version: int
    created_on: str
    #: Until when a pending authorization may be completed (Unix seconds).
    expires_at: int
    authorized_on: str | None = None
    refreshed_on: str | None = None


def _blob(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def provider_from_row(row: Mapping[str, Any]) -> Provider:
    """A provider from a database row (its columns by name)."""
    params: dict[str, str] = json.loads(row["authorization_params"])
    return Provider(
        id=row["id"],
        key_code_ref=row["key_code_ref"],
        name=row["name"],
        authorization_endpoint=row["authorization_endpoint"],
        token_endpoint=row["token_endpoint"],
        revocation_endpoint=row["revocation_endpoint"],
        client_id=row["client_id"],
        client_secret_sealed=_blob(row["client_secret_sealed"]),
        token_endpoint_auth_method=row["token_endpoint_auth_method"],
        scopes=tuple(row["scopes"].split()),
        authorization_params=tuple(params.items()),
        callback_url=row["callback_url"],
        timeout_seconds=int(row["timeout_seconds"]),
        created_on=row["created_on"],
        updated_on=row["updated_on"],
    )


def session_from_row(row: Mapping[str, Any]) -> ConnectedAppSession:
    """A session from a database row (its columns by name)."""
    expires = row["access_token_expires_at"]
    return ConnectedAppSession(
        id=row["id"],
        session_hash=row["session_hash"],
        provider_id=row["provider_id"],
        user_id=row["user_id"],
        org_code=row["org_code"],
        status=row["status"],
        state_hash=row["state_hash"],
        redirect_uri=row["redirect_uri"],
        callback_url=row["callback_url"],
        code_verifier_sealed=_blob(row["code_verifier_sealed"]),
        access_token_sealed=_blob(row["access_token_sealed"]),
        refresh_token_sealed=_blob(row["refresh_token_sealed"]),
        access_token_expires_at=None if expires is None else int(expires),
        granted_scope=row["granted_scope"],
        version=int(row["version"]),
        created_on=row["created_on"],
        expires_at=int(row["expires_at"]),
        authorized_on=row["authorized_on"],
        refreshed_on=row["refreshed_on"],
    )


def provider_item(provider: Provider, redirect_uri: str) -> dict[str, Any]:
    """Kindling's JSON of a provider definition: never the client secret, only whether one
    is set. ``redirect_uri`` is our callback, to register at the provider."""
    return compact(
        {
            "key_code_ref": provider.key_code_ref,
            "name": provider.name,
            "authorization_endpoint": provider.authorization_endpoint,
            "token_endpoint": provider.token_endpoint,
            "revocation_endpoint": provider.revocation_endpoint,
            "client_id": provider.client_id,
            "has_client_secret": provider.client_secret_sealed is not None,
            "token_endpoint_auth_method": provider.token_endpoint_auth_method,
            "scopes": list(provider.scopes),
            "authorization_params": dict(provider.authorization_params),
            "callback_url": provider.callback_url,
            "timeout_seconds": provider.timeout_seconds,
            "redirect_uri": redirect_uri,
            "created_on": provider.created_on,
            "updated_on": provider.updated_on,
        }
    )
