"""Typed errors of the Management API client.

Kinde answers a failed Management API call with an ``error_response``
(``{"errors": [{"code": ..., "message": ...}]}``), a 404 with ``{"errors": {...}}``
(one object, not a list), and the token endpoint with an RFC 6749 §5.2 error
(``{"error": ..., "error_description": ...}``). ``error_from_response`` reads all three
into one exception carrying the HTTP status and Kinde's error code, typed by status.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "KindeAPIError",
    "KindeError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "error_from_response",
    "rate_limited_error",
]


class KindeError(Exception):
    """Base of every error the client raises."""


class ConfigurationError(KindeError, ValueError):
    """The client was given (or found in the environment) no usable domain or credentials."""


class TransportError(KindeError):
    """The request did not get an HTTP answer: connection refused or reset, TLS failure,
    timeout. The underlying ``httpx`` exception is the ``__cause__``."""


class KindeAPIError(KindeError):
    """An HTTP error answer (4xx or 5xx).

    ``code`` is Kinde's error code (``USER_NOT_FOUND``, ``INVALID_TOKEN``, or an RFC 6749
    code such as ``invalid_client`` from the token endpoint), ``message`` its message,
    ``errors`` every ``{"code", "message"}`` item of the body, and ``response`` the
    ``httpx.Response`` itself.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str | None,
        errors: list[dict[str, Any]] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.errors: list[dict[str, Any]] = list(errors or [])
        self.response = response
        super().__init__(status, code, message)

    def __str__(self) -> str:
        text = f"HTTP {self.status}"
        if self.code:
            text += f" {self.code}"
        if self.message:
            text += f": {self.message}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


class BadRequest(KindeAPIError):
    """400: the request was refused as invalid (``INVALID_PAGE_SIZE``, ``NAME_REQUIRED``, ...)."""


class Unauthorized(KindeAPIError):
    """401: no valid token (``INVALID_TOKEN``), or the token endpoint refused the credentials
    (``invalid_client``). The client has already refreshed its token and retried once."""


class Forbidden(KindeAPIError):
    """403: the token lacks the operation's scope, or an org-scoped token left its org."""


class NotFound(KindeAPIError):
    """404: the resource does not exist (``USER_NOT_FOUND``, ``ROUTE_NOT_FOUND``, ...)."""


class Conflict(KindeAPIError):
    """409: the change conflicts with existing data (a duplicate key, say)."""


class RateLimited(KindeAPIError):
    """429: over a rate limit, after the retries the client's policy allowed.

    ``retry_after`` is the wait in seconds the server asked for (``RateLimit-Reset`` or
    ``Retry-After``), ``reset_at`` the same as a Unix time; both None when it gave none.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str | None,
        errors: list[dict[str, Any]] | None = None,
        response: httpx.Response | None = None,
        *,
        retry_after: float | None = None,
        reset_at: float | None = None,
    ) -> None:
        super().__init__(status, code, message, errors, response)
        self.retry_after = retry_after
        self.reset_at = reset_at


class ServerError(KindeAPIError):
    """5xx: the server failed (503 ``SERVICE_UNAVAILABLE`` while its database is down)."""


_BY_STATUS: dict[int, type[KindeAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def _items(body: Any) -> list[dict[str, Any]]:
    """The ``{"code", "message"}`` items of any of Kinde's error shapes."""
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if isinstance(errors, dict):
        errors = [errors]
    if isinstance(errors, list):
        return [dict(item) for item in errors if isinstance(item, dict)]
    if isinstance(body.get("error"), str):  # RFC 6749 §5.2
        return [{"code": body["error"], "message": body.get("error_description")}]
    if isinstance(body.get("code"), str):
        return [{"code": body["code"], "message": body.get("message")}]
    return []


def error_from_response(
    response: httpx.Response,
    *,
    retry_after: float | None = None,
    reset_at: float | None = None,
) -> KindeAPIError:
    """The typed error for an error answer (the caller raises it)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    items = _items(body)
    code = items[0].get("code") if items else None
    message = items[0].get("message") if items else None
    if message is None and body is None and response.content:
        message = response.text[:200]
    status = response.status_code
    code = code if isinstance(code, str) else None
    message = message if isinstance(message, str) else None
    if status == 429:
        return RateLimited(
            status, code, message, items, response, retry_after=retry_after, reset_at=reset_at
        )
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else KindeAPIError)
    return kind(status, code, message, items, response)


def rate_limited_error(response: httpx.Response, hinted: float | None, now: float) -> KindeAPIError:
    """The ``RateLimited`` of a 429 whose wait (``hinted`` seconds, if any) is not taken."""
    return error_from_response(
        response, retry_after=hinted, reset_at=None if hinted is None else now + hinted
    )
