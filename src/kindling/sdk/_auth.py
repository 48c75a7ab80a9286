"""The access token: fetched with ``client_credentials``, cached, refreshed before expiry.

The token request is RFC 6749 §4.4 with the client authenticating in the body
(``client_secret_post``) and, as Kinde requires, the ``audience`` of the Management API
(``<domain>/api``); ``scope`` is sent only when the caller narrows the scopes. It creates
nothing on the server, so it is retried like a safe method (429s and connection errors).

A token is reused until ``refresh_margin`` seconds before it expires. Concurrent callers
on a cold (or stale) cache share one token request: the sync source holds a
``threading.Lock`` around the fetch, the async source an ``asyncio.Lock``, and whoever
waited finds the fresh token when the lock is theirs. A cache that is shared between
processes (``FileTokenCache``, ``RedisTokenCache``) also offers a cross-process lock,
held for the fetch, so that cooperating processes fetch one token between them.

A token the API refused (401) is dropped with ``invalidate(token)``; only that exact
token is dropped, so a burst of 401s for one token causes a single refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from kindling.sdk._errors import (
    KindeAPIError,
    TransportError,
    error_from_response,
    rate_limited_error,
)
from kindling.sdk._retry import (
    RetryPolicy,
    connection_delay,
    is_retryable_connection_error,
    rate_limit_delay,
    server_wait,
)

if TYPE_CHECKING:
    import redis

__all__ = [
    "AsyncTokenSource",
    "CachedToken",
    "FileTokenCache",
    "MemoryTokenCache",
    "RedisTokenCache",
    "TokenCache",
    "TokenRequest",
    "TokenSource",
]

log = logging.getLogger("kindling.sdk")

#: Used when a token response has no ``expires_in`` (RFC 6749 §5.1 makes it optional).
DEFAULT_LIFETIME = 3600.0


@dataclass(frozen=True)
class CachedToken:
    """An access token and the Unix time it expires at."""

    access_token: str
    expires_at: float

    def __repr__(self) -> str:  # the token is a secret: never in a log line
        return f"CachedToken(expires_at={self.expires_at})"

    def to_json(self) -> str:
        return json.dumps({"access_token": self.access_token, "expires_at": self.expires_at})

    @classmethod
    def from_json(cls, text: str | bytes) -> CachedToken | None:
        """The token in ``text``, or None when it is not one."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not isinstance(data, dict):
            return None
        token, expires_at = data.get("access_token"), data.get("expires_at")
        if not isinstance(token, str) or not token:
            return None
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
            return None
        return cls(token, float(expires_at))


class TokenCache:
    """Where tokens are kept between calls; keys are opaque hashes (never a secret).

    Subclasses implement ``get``, ``set`` and ``delete``; a cache that several processes
    share also overrides ``lock`` so that they fetch one token between them.
    """

    def get(self, key: str) -> CachedToken | None:
        raise NotImplementedError

    def set(self, key: str, token: CachedToken) -> None:
        raise NotImplementedError

    def delete(self, key: str, token: CachedToken | None = None) -> None:
        """Drop the entry (only if it still holds ``token``, when one is given)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Held while a token for ``key`` is fetched; no-op unless the cache is shared."""
        yield

    #: Whether calls may block on I/O (the async client then runs them in a thread).
    blocking = True


class MemoryTokenCache(TokenCache):
    """The default: a dict in this process."""

    blocking = False

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, token: CachedToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str, token: CachedToken | None = None) -> None:
        with self._lock:
            if token is None or self._tokens.get(key) == token:
                self._tokens.pop(key, None)


class FileTokenCache(TokenCache):
    """Tokens in files that several processes (and clients) share.

    Each cache key has its own file, ``<directory>/<key>.json``, created 0600 (it holds a
    bearer token; the directory is created 0700) and always replaced atomically: written
    to a temporary file in the same directory and moved over the old one with
    ``os.replace``, so a reader never sees half a token. ``lock(key)`` holds an exclusive
    ``flock`` on ``<key>.lock`` for the duration of a token fetch, so processes on a cold
    cache fetch one token between them.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _file(self, key: str, suffix: str) -> Path:
        if not key or not all(ch.isalnum() or ch in "-_" for ch in key):
            raise ValueError("a cache key is letters, digits, '-' and '_'")
        return self.directory / f"{key}{suffix}"

    def _ensure_directory(self) -> None:
        if not self.directory.is_dir():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def get(self, key: str) -> CachedToken | None:
        try:
            return CachedToken.from_json(self._file(key, ".json").read_bytes())
        except OSError:
            return None

    def set(self, key: str, token: CachedToken) -> None:
        self._ensure_directory()
        target = self._file(key, ".json")
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)  # mkstemp already creates 0600; keep it explicit
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(token.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, key: str, token: CachedToken | None = None) -> None:
        if token is not None and self.get(key) != token:
            return
        with contextlib.suppress(FileNotFoundError):
            self._file(key, ".json").unlink()

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        import fcntl

        self._ensure_directory()
        # flock belongs to the open file, not to a thread: the async client may take it
        # in one worker thread and release it in another.
        fd = os.open(self._file(key, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class RedisTokenCache(TokenCache):
    """Tokens in Redis, shared by every process that uses the same server and prefix.

    Each token is stored under ``<prefix><key>`` with a TTL of its remaining lifetime;
    ``lock(key)`` is a Redis lock (redis-py's ``Lock``) held for the fetch. Give it a
    ``redis.Redis`` client or a URL; redis-py is imported only when this cache is built.
    """

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "kindling-sdk:token:",
        lock_timeout: float = 30.0,
    ) -> None:
        if client is None:
            import redis as redis_module

            client = redis_module.Redis.from_url(url)
        self.redis = client
        self.prefix = prefix
        self.lock_timeout = lock_timeout

    def get(self, key: str) -> CachedToken | None:
        raw = self.redis.get(self.prefix + key)
        if not isinstance(raw, bytes | str):
            return None
        return CachedToken.from_json(raw)

    def set(self, key: str, token: CachedToken) -> None:
        ttl_ms = int((token.expires_at - time.time()) * 1000)
        if ttl_ms > 0:
            self.redis.set(self.prefix + key, token.to_json(), px=ttl_ms)

    def delete(self, key: str, token: CachedToken | None = None) -> None:
        if token is None or self.get(key) == token:
            self.redis.delete(self.prefix + key)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        # Not thread-local: the async client may release it from another worker thread.
        with self.redis.lock(
            self.prefix + "lock:" + key,
            timeout=self.lock_timeout,
            blocking_timeout=self.lock_timeout,
            thread_local=False,
        ):
            yield


class _Guarded(TokenCache):
    """A shared cache whose failures (Redis down, a full disk) cost only the sharing.

    A failing ``get`` is a miss, a failing ``set``/``delete`` is skipped and a lock that
    cannot be taken is not held: the client goes on fetching its own tokens, and logs a
    warning (never the token) each time the cache lets it down.
    """

    def __init__(self, inner: TokenCache) -> None:
        self.inner = inner
        self.blocking = inner.blocking

    def _warn(self, what: str, exc: Exception) -> None:
        log.warning("token cache %s failed (%s: %s)", what, type(exc).__name__, exc)

    def get(self, key: str) -> CachedToken | None:
        try:
            return self.inner.get(key)
        except Exception as exc:
            self._warn("read", exc)
            return None

    def set(self, key: str, token: CachedToken) -> None:
        try:
            self.inner.set(key, token)
        except Exception as exc:
            self._warn("write", exc)

    def delete(self, key: str, token: CachedToken | None = None) -> None:
        try:
            self.inner.delete(key, token)
        except Exception as exc:
            self._warn("delete", exc)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        held = self.inner.lock(key)
        try:
            held.__enter__()
        except Exception as exc:
            self._warn("lock", exc)
            yield
            return
        try:
            yield
        except BaseException as exc:
            if not held.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            try:
                held.__exit__(None, None, None)
            except Exception as exc:
                self._warn("unlock", exc)


@dataclass(frozen=True)
class TokenRequest:
    """What the client asks the token endpoint for."""

    token_url: str
    client_id: str
    client_secret: str
    audience: str
    scopes: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return f"TokenRequest(token_url={self.token_url!r}, client_id={self.client_id!r})"

    @property
    def cache_key(self) -> str:
        """A hash of where, as whom and for what (the secret is not part of it)."""
        scope = " ".join(sorted(self.scopes)) if self.scopes is not None else "\0all"
        material = "\n".join((self.token_url, self.client_id, self.audience, scope))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def form(self) -> dict[str, str]:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "audience": self.audience,
        }
        if self.scopes is not None:
            data["scope"] = " ".join(self.scopes)
        return data


def parse_token_response(response: httpx.Response, now: float) -> CachedToken:
    """The token of a 200 answer (RFC 6749 §5.1), or the typed error of any other."""
    if response.status_code != 200:
        raise error_from_response(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise KindeAPIError(
            response.status_code, None, "the token response has no access_token", [], response
        )
    expires_in = body.get("expires_in") if isinstance(body, dict) else None
    lifetime = (
        float(expires_in)
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
        else DEFAULT_LIFETIME
    )
    return CachedToken(token, now + lifetime)


class _Base:
    def __init__(
        self,
        request: TokenRequest,
        cache: TokenCache | None,
        refresh_margin: float,
        policy: RetryPolicy,
        clock: Callable[[], float],
        rand: Callable[[], float],
    ) -> None:
        if refresh_margin < 0:
            raise ValueError("refresh_margin must be >= 0")
        self.request = request
        self.cache: TokenCache = (
            MemoryTokenCache()
            if cache is None
            else cache
            if isinstance(cache, MemoryTokenCache)
            else _Guarded(cache)
        )
        self.key = request.cache_key
        self.refresh_margin = refresh_margin
        self.policy = policy
        self.clock = clock
        self.rand = rand
        #: Bumped by every fetch; a waiter that sees it move accepts the new token.
        self.generation = 0
        self._current: CachedToken | None = None

    def _fresh(self, token: CachedToken | None) -> bool:
        return token is not None and self.clock() < token.expires_at - self.refresh_margin

    def _alive(self, token: CachedToken | None) -> bool:
        return token is not None and self.clock() < token.expires_at

    def _usable(self, token: CachedToken | None, seen_generation: int) -> bool:
        """Fresh, or fetched by someone else while we waited (and not yet expired)."""
        if self._fresh(token):
            return True
        return self.generation != seen_generation and self._alive(token)

    def _transport_error(self, exc: httpx.TransportError) -> TransportError:
        return TransportError(f"token request to {self.request.token_url} failed: {exc}")


class TokenSource(_Base):
    """The sync token source of ``ManagementClient``."""

    def __init__(
        self,
        request: TokenRequest,
        cache: TokenCache | None = None,
        *,
        refresh_margin: float = 60.0,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import random

        super().__init__(
            request, cache, refresh_margin, policy or RetryPolicy(), clock, rand or random.random
        )
        self.sleep = sleep
        self._lock = threading.Lock()
        #: How many token requests this source has sent (for monitoring and tests).
        self.requests_sent = 0

    def token(self, http: httpx.Client) -> str:
        """A valid access token, fetching one if the cache holds none that is fresh."""
        current = self._current
        if self._fresh(current):
            assert current is not None
            return current.access_token
        seen = self.generation
        with self._lock:
            if self._usable(self._current, seen):
                assert self._current is not None
                return self._current.access_token
            cached = self.cache.get(self.key)
            if self._fresh(cached):
                assert cached is not None
                self._current = cached
                return cached.access_token
            with self.cache.lock(self.key):
                cached = self.cache.get(self.key)  # another process may have fetched it
                if self._fresh(cached):
                    assert cached is not None
                    token = cached
                else:
                    token = self._fetch(http)
                    self.cache.set(self.key, token)
            self._current = token
            self.generation += 1
            return token.access_token

    def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` (the API refused it); a newer token is kept."""
        with self._lock:
            current = self._current
            if current is not None and current.access_token == access_token:
                self._current = None
                self.cache.delete(self.key, current)
            else:
                cached = self.cache.get(self.key)
                if cached is not None and cached.access_token == access_token:
                    self.cache.delete(self.key, cached)

    def _fetch(self, http: httpx.Client) -> CachedToken:
        limited = failed = 0
        while True:
            self.requests_sent += 1
            try:
                response = http.post(
                    self.request.token_url,
                    data=self.request.form(),
                    headers={"Accept": "application/json"},
                )
            except httpx.TransportError as exc:
                delay = (
                    connection_delay(failed, self.policy, self.rand)
                    if is_retryable_connection_error(exc)
                    else None
                )
                if delay is None:
                    raise self._transport_error(exc) from exc
                failed += 1
                self.sleep(delay)
                continue
            if response.status_code == 429:
                now = self.clock()
                hinted = server_wait(response.headers, now)
                delay = rate_limit_delay(hinted, limited, self.policy, self.rand)
                if delay is None:
                    raise rate_limited_error(response, hinted, now)
                limited += 1
                self.sleep(delay)
                continue
            return parse_token_response(response, self.clock())


class AsyncTokenSource(_Base):
    """The async token source of ``AsyncManagementClient``."""

    def __init__(
        self,
        request: TokenRequest,
        cache: TokenCache | None = None,
        *,
        refresh_margin: float = 60.0,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        import random

        super().__init__(
            request, cache, refresh_margin, policy or RetryPolicy(), clock, rand or random.random
        )
        self.sleep = sleep
        self._locks: dict[int, asyncio.Lock] = {}
        self.requests_sent = 0

    def _lock(self) -> asyncio.Lock:
        """One lock per event loop (an asyncio.Lock belongs to the loop it first ran on)."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(id(loop))
        if lock is None:
            self._locks = {id(loop): (lock := asyncio.Lock())}
        return lock

    async def _cache_call(self, function: Callable[..., Any], *args: Any) -> Any:
        if self.cache.blocking:
            return await asyncio.to_thread(function, *args)
        return function(*args)

    async def token(self, http: httpx.AsyncClient) -> str:
        """A valid access token, fetching one if the cache holds none that is fresh."""
        current = self._current
        if self._fresh(current):
            assert current is not None
            return current.access_token
        seen = self.generation
        async with self._lock():
            if self._usable(self._current, seen):
                assert self._current is not None
                return self._current.access_token
            cached: CachedToken | None = await self._cache_call(self.cache.get, self.key)
            if not self._fresh(cached):
                cached = await self._shared_fetch(http)
            assert cached is not None
            self._current = cached
            self.generation += 1
            return cached.access_token

    async def _shared_fetch(self, http: httpx.AsyncClient) -> CachedToken:
        if not self.cache.blocking:
            token = await self._fetch(http)
            self.cache.set(self.key, token)
            return token
        # A cross-process lock is a blocking one: enter and leave it in a worker thread.
        stack = contextlib.ExitStack()
        entering = asyncio.ensure_future(
            asyncio.to_thread(stack.enter_context, self.cache.lock(self.key))
        )
        try:
            await asyncio.shield(entering)
        except asyncio.CancelledError:
            # The thread goes on and takes the lock: let it go as soon as it has it.
            entering.add_done_callback(lambda done: stack.close())
            raise
        try:
            cached: CachedToken | None = await asyncio.to_thread(self.cache.get, self.key)
            if self._fresh(cached):
                assert cached is not None
                return cached
            token = await self._fetch(http)
            await asyncio.to_thread(self.cache.set, self.key, token)
            return token
        finally:
            await asyncio.to_thread(stack.close)

    async def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` (the API refused it); a newer token is kept."""
        async with self._lock():
            current = self._current
            if current is not None and current.access_token == access_token:
                self._current = None
                await self._cache_call(self.cache.delete, self.key, current)
            else:
                cached = await self._cache_call(self.cache.get, self.key)
                if cached is not None and cached.access_token == access_token:
                    await self._cache_call(self.cache.delete, self.key, cached)

    async def _fetch(self, http: httpx.AsyncClient) -> CachedToken:
        limited = failed = 0
        while True:
            self.requests_sent += 1
            try:
                response = await http.post(
                    self.request.token_url,
                    data=self.request.form(),
                    headers={"Accept": "application/json"},
                )
            except httpx.TransportError as exc:
                delay = (
                    connection_delay(failed, self.policy, self.rand)
                    if is_retryable_connection_error(exc)
                    else None
                )
                if delay is None:
                    raise self._transport_error(exc) from exc
                failed += 1
                await self.sleep(delay)
                continue
            if response.status_code == 429:
                now = self.clock()
                hinted = server_wait(response.headers, now)
                delay = rate_limit_delay(hinted, limited, self.policy, self.rand)
                if delay is None:
                    raise rate_limited_error(response, hinted, now)
                limited += 1
                await self.sleep(delay)
                continue
            return parse_token_response(response, self.clock())


def normalize_scopes(scopes: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``None`` (all granted), a space-separated string, or a sequence of scopes."""
    if scopes is None:
        return None
    items = scopes.split() if isinstance(scopes, str) else [str(s) for s in scopes]
    return tuple(items)
