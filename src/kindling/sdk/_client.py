"""``ManagementClient`` and ``AsyncManagementClient``: Kinde's Management API over httpx.

Each call gets a bearer token from the token source (fetched on first use, cached,
refreshed ``refresh_margin`` seconds before it expires), is sent, and its answer is
decoded JSON (or None for an empty body) or a typed error:

* 401 (RFC 6750 §3.1 ``invalid_token``): the token is dropped, a new one fetched, and the
  call sent once more, whatever its method, since it was refused before it ran (a token can
  be revoked, or signed by a key that was rotated out, before it expires).
* 429: retried after the wait the server names (see ``RetryPolicy``), safe methods only
  unless the caller opts in; otherwise ``RateLimited`` with ``reset_at``.
* a connection error on a safe method: retried with backoff; otherwise ``TransportError``.
"""

from __future__ import annotations

import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from kindling.sdk._auth import (
    AsyncTokenSource,
    TokenCache,
    TokenRequest,
    TokenSource,
    normalize_scopes,
)
from kindling.sdk._base import query_pairs
from kindling.sdk._config import Settings, resolve
from kindling.sdk._errors import TransportError, error_from_response, rate_limited_error
from kindling.sdk._operations import AsyncResources, SyncResources
from kindling.sdk._pagination import Cursor, Pager
from kindling.sdk._retry import (
    RetryPolicy,
    connection_delay,
    is_retryable_connection_error,
    rate_limit_delay,
    server_wait,
)
from kindling.sdk._version import __version__

__all__ = ["AsyncManagementClient", "ManagementClient"]

Verify = bool | str | os.PathLike[str] | ssl.SSLContext
Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None

USER_AGENT = f"kindling-sdk-python/{__version__}"


def _ssl(verify: Verify) -> bool | ssl.SSLContext:
    """httpx's ``verify``: a CA file path becomes a context trusting that CA."""
    if isinstance(verify, bool | ssl.SSLContext):
        return verify
    return ssl.create_default_context(cafile=os.fspath(verify))


def _target(path: str) -> str:
    """A request path on the configured domain; a URL elsewhere never gets the token."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"the path {path!r} must start with a single '/'")
    return path


def _pairs(params: Params) -> httpx.QueryParams | None:
    """The query: a mapping or pairs, encoded as ``query_pairs`` does (None left out)."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return httpx.QueryParams(tuple(query_pairs(params)))
    pairs: list[tuple[str, str]] = []
    for name, value in params:
        pairs.extend(query_pairs({str(name): value}))
    return httpx.QueryParams(tuple(pairs))


def _decode(response: httpx.Response) -> Any:
    """A success's body: decoded JSON, None when empty, or bytes for other content."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.content


class _Settings:
    """What both clients resolve from their arguments and the environment."""

    def __init__(
        self,
        domain: str | None,
        client_id: str | None,
        client_secret: str | None,
        audience: str | None,
        scopes: str | Sequence[str] | None,
        retry: RetryPolicy | None,
        environ: Mapping[str, str] | None,
    ) -> None:
        settings: Settings = resolve(domain, client_id, client_secret, environ)
        self.base_url = settings.base_url
        self.audience = audience or settings.default_audience
        self.retry = retry or RetryPolicy()
        self.token_request = TokenRequest(
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            audience=self.audience,
            scopes=normalize_scopes(scopes),
        )

    def headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(extra or {})
        return headers


class ManagementClient(SyncResources):
    """A client of Kinde's Management API, on Kinde or on Kindling.

    ``domain`` is a bare ``host[:port]`` (HTTPS) or a URL (``http://localhost:8000``);
    it and the credentials default to ``KINDE_DOMAIN``, ``KINDE_MANAGEMENT_CLIENT_ID`` and
    ``KINDE_MANAGEMENT_CLIENT_SECRET``. ``audience`` defaults to ``<domain>/api``,
    ``scopes`` to all the application was granted. ``verify`` is ``True``, ``False``, a CA
    file or an ``ssl.SSLContext``; ``transport`` an ``httpx.BaseTransport`` to send through.
    ``token_cache`` (default: in memory) can share tokens between processes.

    Every operation is a method of its resource: ``client.users.get_users()``,
    ``client.organizations.create_organization({...})``; list operations also have
    iterators that follow the pages (``for user in client.users.iterate(page_size=500)``).
    """

    def __init__(
        self,
        domain: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        audience: str | None = None,
        scopes: str | Sequence[str] | None = None,
        verify: Verify = True,
        transport: httpx.BaseTransport | None = None,
        token_cache: TokenCache | None = None,
        timeout: float | httpx.Timeout = 10.0,
        refresh_margin: float = 60.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        config = _Settings(domain, client_id, client_secret, audience, scopes, retry, environ)
        self.base_url = config.base_url
        self.audience = config.audience
        self.retry = config.retry
        self._sleep = sleep
        self._clock = clock
        self._rand = random.random
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            verify=_ssl(verify),
            timeout=timeout,
            headers=config.headers(headers),
        )
        self._tokens = TokenSource(
            config.token_request,
            token_cache,
            refresh_margin=refresh_margin,
            policy=self.retry,
            clock=clock,
            sleep=sleep,
        )
        SyncResources.__init__(self, self)

    def __repr__(self) -> str:
        return f"ManagementClient(base_url={self.base_url!r})"

    @property
    def token_requests(self) -> int:
        """How many token requests this client has sent."""
        return self._tokens.requests_sent

    def access_token(self) -> str:
        """The current access token (fetched if the cache holds no fresh one)."""
        return self._tokens.token(self._http)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_unsafe: bool | None = None,
    ) -> Any:
        """Send one Management API call; return its decoded JSON body (None if empty).

        ``path`` is relative to the domain (``/api/v1/users``); ``params`` a mapping (None
        values are left out) or pairs. Raises a ``KindeAPIError`` subclass for an error
        answer and ``TransportError`` when there is no answer.
        """
        method = method.upper()
        target = _target(path)
        pairs = _pairs(params)
        retryable = self.retry.allows(method, retry_unsafe)
        refreshed = False
        limited = failed = 0
        while True:
            token = self._tokens.token(self._http)
            send_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = self._http.request(
                    method, target, params=pairs, json=json, files=files, headers=send_headers
                )
            except httpx.TransportError as exc:
                delay = (
                    connection_delay(failed, self.retry, self._rand)
                    if retryable and is_retryable_connection_error(exc)
                    else None
                )
                if delay is None:
                    raise TransportError(f"{method} {target} failed: {exc}") from exc
                failed += 1
                self._sleep(delay)
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                self._tokens.invalidate(token)
                continue
            if status == 429:
                now = self._clock()
                hinted = server_wait(response.headers, now)
                delay = rate_limit_delay(hinted, limited, self.retry, self._rand)
                if delay is None or not retryable:
                    raise rate_limited_error(response, hinted, now)
                limited += 1
                self._sleep(delay)
                continue
            if status >= 400:
                raise error_from_response(response)
            return _decode(response)

    def paginate(
        self,
        path: str,
        *,
        item_key: str,
        params: Params = None,
        page_size: int | None = None,
        cursor: Cursor | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a listing, page after page (``cursor`` None: as the answers say)."""
        pager = Pager(item_key, dict(params or {}), page_size, cursor)
        while not pager.done:
            yield from pager.read(self.request("GET", path, params=pager.query()))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncManagementClient(AsyncResources):
    """The asyncio twin of ``ManagementClient``: the same arguments (``transport`` is an
    ``httpx.AsyncBaseTransport``, ``sleep`` a coroutine function), every method awaitable,
    and the iterators asynchronous (``async for user in client.users.iterate()``)."""

    def __init__(
        self,
        domain: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        audience: str | None = None,
        scopes: str | Sequence[str] | None = None,
        verify: Verify = True,
        transport: httpx.AsyncBaseTransport | None = None,
        token_cache: TokenCache | None = None,
        timeout: float | httpx.Timeout = 10.0,
        refresh_margin: float = 60.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        import asyncio

        config = _Settings(domain, client_id, client_secret, audience, scopes, retry, environ)
        self.base_url = config.base_url
        self.audience = config.audience
        self.retry = config.retry
        self._sleep = sleep or asyncio.sleep
        self._clock = clock
        self._rand = random.random
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            verify=_ssl(verify),
            timeout=timeout,
            headers=config.headers(headers),
        )
        self._tokens = AsyncTokenSource(
            config.token_request,
            token_cache,
            refresh_margin=refresh_margin,
            policy=self.retry,
            clock=clock,
            sleep=self._sleep,
        )
        AsyncResources.__init__(self, self)

    def __repr__(self) -> str:
        return f"AsyncManagementClient(base_url={self.base_url!r})"

    @property
    def token_requests(self) -> int:
        """How many token requests this client has sent."""
        return self._tokens.requests_sent

    async def access_token(self) -> str:
        """The current access token (fetched if the cache holds no fresh one)."""
        return await self._tokens.token(self._http)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_unsafe: bool | None = None,
    ) -> Any:
        """Send one Management API call; see ``ManagementClient.request``."""
        method = method.upper()
        target = _target(path)
        pairs = _pairs(params)
        retryable = self.retry.allows(method, retry_unsafe)
        refreshed = False
        limited = failed = 0
        while True:
            token = await self._tokens.token(self._http)
            send_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = await self._http.request(
                    method, target, params=pairs, json=json, files=files, headers=send_headers
                )
            except httpx.TransportError as exc:
                delay = (
                    connection_delay(failed, self.retry, self._rand)
                    if retryable and is_retryable_connection_error(exc)
                    else None
                )
                if delay is None:
                    raise TransportError(f"{method} {target} failed: {exc}") from exc
                failed += 1
                await self._sleep(delay)
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                await self._tokens.invalidate(token)
                continue
            if status == 429:
                now = self._clock()
                hinted = server_wait(response.headers, now)
                delay = rate_limit_delay(hinted, limited, self.retry, self._rand)
                if delay is None or not retryable:
                    raise rate_limited_error(response, hinted, now)
                limited += 1
                await self._sleep(delay)
                continue
            if status >= 400:
                raise error_from_response(response)
            return _decode(response)

    async def paginate(
        self,
        path: str,
        *,
        item_key: str,
        params: Params = None,
        page_size: int | None = None,
        cursor: Cursor | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a listing, page after page (``cursor`` None: as the answers say)."""
        pager = Pager(item_key, dict(params or {}), page_size, cursor)
        while not pager.done:
            for item in pager.read(await self.request("GET", path, params=pager.query())):
                yield item

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
