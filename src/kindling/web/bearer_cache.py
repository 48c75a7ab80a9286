"""The Management API's bearer check, with the tokens it verified remembered.

A Management API client sends the same access token on every call until it expires, and
checking it afresh each time (base64url, JSON, an RS256 signature, the claims: about
90 µs on this project's 2-core host) is most of what a small call costs. So
``BearerVerifier`` remembers each token it accepted, keyed by the SHA-256 of the
``Authorization`` header (the token itself is never kept), for as long as
``authenticate_bearer`` would accept it again with nothing changed:

* until ``exp`` + ``LEEWAY`` by the context's clock: the moment the full check starts
  refusing it as expired (RFC 7519 §4.1.4, with the Management API's 60 s of skew);
* while the keyring's view is the one it was verified under. ``Keyring.current()``
  hands out a new view whenever the stored key state moved (a revoked ``jti``, RFC 7009;
  an emergency key revoke; a rotation) and when a key stops being published by the
  clock, so every such change empties the cache and the token is checked in full on the
  very next request, in every worker;
* for the audience it was checked for.

What the token grants (``scope``, ``org_code``) is read from the cached principal, and
the scope is still checked per operation (``require_scope``). At most ``CACHE_SIZE``
tokens are kept, the oldest dropped first. A cache hit costs the keyring's freshness
check, one hash and a dict lookup: 5-10 µs here (``bench/users_inprocess.py bearer``).

The rate limiter (``kindling.web.ratelimit``) names a request's application from this
same cache, before the request reaches its route; what it found it leaves in the
request's ASGI scope (``hand_over``), and the route takes it from there (``handed_over``)
instead of paying for the same lookup twice in one request: with the rate limiter on, a
``GET /api/v1/users?page_size=1`` on SQLite costs 707,000 instructions without the hand-
over, 659,000 with it (cachegrind, in process, the users_inprocess driver).

``LiveApplications`` does the same for the other per-call check, "does the token's
application still exist" (``application_exists``): an application found is remembered
with ``client_state``'s version, which the triggers of
``platform/schema/v0023_client_state.py`` move in the transaction that deletes one, and
the version is read again only when the engine's change marker moved. Where the engine
cannot tell (``change_marker()`` is None) every call reads through, as before.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from typing import Any

from kindling.oauth.bearer import LEEWAY, Principal, authenticate_bearer
from kindling.platform.context import Context
from kindling.platform.signing import KeyringView
from kindling.platform.storage import Storage
from kindling.resources.applications.service import (
    application_exists,
    application_presence,
    client_state,
)

__all__ = ["CACHE_SIZE", "BearerVerifier", "LiveApplications", "hand_over", "handed_over"]

#: Verified tokens (and live applications) remembered per process.
CACHE_SIZE = 10_000
#: The ASGI scope key of the principal the rate limiter found for the request's
#: ``Authorization`` header (no HTTP request can set a scope key).
_HANDED_OVER = "kindling.verified_bearer"


def hand_over(scope: MutableMapping[str, Any], authorization: str, principal: Principal) -> None:
    """Leave the caller ``BearerVerifier`` found for ``authorization`` in the request's scope."""
    scope[_HANDED_OVER] = (authorization, principal)


def handed_over(scope: Mapping[str, Any], authorization: str | None) -> Principal | None:
    """The caller ``hand_over`` left for this very ``Authorization`` header, else None."""
    found = scope.get(_HANDED_OVER)
    if found is None or authorization is None or found[0] != authorization:
        return None
    principal: Principal = found[1]
    return principal


class BearerVerifier:
    """``authenticate_bearer`` for one audience, with a cache of accepted tokens.

    Thread-safe: on SQLite the check runs on the event loop, on PostgreSQL in worker
    threads. Refusals are never remembered; each raises ``BearerError`` as before.
    """

    def __init__(self, ctx: Context, audience: Callable[[], str], size: int = CACHE_SIZE) -> None:
        self._ctx = ctx
        self._issuer = ctx.issuer()
        self._audience = audience
        self._size = size
        self._lock = threading.Lock()
        #: The view the entries were verified under; a new view empties the cache.
        self._view: KeyringView | None = None
        #: SHA-256 of the header -> (principal, audience, moment it stops being valid).
        self._known: dict[bytes, tuple[Principal, str, float]] = {}

    def __len__(self) -> int:
        return len(self._known)

    def principal(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header; else ``BearerError``.

        May read the database (the keyring's freshness check): on PostgreSQL, call it
        from a worker thread.
        """
        return self.principal_at(authorization, self._ctx.storage.change_marker())

    def principal_at(self, authorization: str | None, marker: Hashable | None) -> Principal:
        """``principal`` for a change marker the caller has just read
        (``Storage.change_marker``): one read serves all of a request's checks."""
        view = self._ctx.keyring.current_at(marker)
        key, known = self._lookup(view, authorization)
        if known is not None:
            return known
        principal = authenticate_bearer(
            authorization,
            view.public_key,
            self._issuer,
            self._audience(),
            self._ctx.clock.now(),
            revoked=view.is_revoked,
        )
        if key is not None:
            self._remember(view, key, principal)
        return principal

    def cached(self, authorization: str | None) -> Principal | None:
        """The caller, if the token is remembered and the keyring's view is known to be
        current without a database read (``Keyring.current_if_known``); else None, and
        ``principal`` decides. Never reads the database: safe on the event loop."""
        return self.cached_at(authorization, self._ctx.storage.change_marker())

    def cached_at(self, authorization: str | None, marker: Hashable | None) -> Principal | None:
        """``cached`` for a change marker the caller has just read."""
        view = self._ctx.keyring.current_if_known_at(marker)
        if view is None:
            return None
        return self._lookup(view, authorization)[1]

    def _lookup(
        self, view: KeyringView, authorization: str | None
    ) -> tuple[bytes | None, Principal | None]:
        """The header's cache key and its remembered principal if still valid under ``view``."""
        if view is not self._view:
            with self._lock:
                if view is not self._view:
                    self._known = {}
                    self._view = view
        if not authorization:
            return None, None
        key = hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).digest()
        known = self._known.get(key)
        if known is not None and known[1] == self._audience() and self._ctx.clock.now() < known[2]:
            return key, known[0]
        return key, None

    def _remember(self, view: KeyringView, key: bytes, principal: Principal) -> None:
        # authenticate_bearer checked that exp is a number.
        until = float(principal.claims["exp"]) + LEEWAY
        audience = self._audience()
        with self._lock:
            if self._view is not view:
                return  # verified under a view that is no longer current
            known = self._known
            if len(known) >= self._size:
                del known[next(iter(known))]
            known[key] = (principal, audience, until)


class LiveApplications:
    """``application_exists``, remembered until ``client_state`` moves (module docstring)."""

    def __init__(self, storage: Storage, size: int = CACHE_SIZE) -> None:
        self._storage = storage
        self._size = size
        self._lock = threading.Lock()
        #: Application id -> the ``client_state`` version it was seen to exist at.
        self._seen: dict[str, int] = {}
        #: Per thread (the marker is per connection): the last marker and its version.
        self._local = threading.local()

    def exists(self, application_id: str) -> bool:
        return self.exists_at(application_id, self._storage.change_marker())

    def exists_at(self, application_id: str, marker: Hashable | None) -> bool:
        """``exists`` for a change marker the caller has just read (``BearerVerifier``'s
        ``principal_at``): the marker may have been read on another thread, as its
        value names the connection it came from (SQLite) or is the process's (PostgreSQL)."""
        if marker is None:
            return application_exists(self._storage, application_id)
        version = self._version(marker)
        if self._seen.get(application_id) == version:
            return True
        read_at, found = application_presence(self._storage, application_id)
        if found:
            with self._lock:
                seen = self._seen
                if len(seen) >= self._size:
                    del seen[next(iter(seen))]
                seen[application_id] = read_at
        return found

    def _version(self, marker: Hashable) -> int:
        local = self._local
        if getattr(local, "marker", None) == marker:
            version: int = local.version
            return version
        version = client_state(self._storage)
        local.marker, local.version = marker, version
        return version
