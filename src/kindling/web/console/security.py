"""Cookies, CSRF and origin checks, and the security headers of console pages.

* The session cookie is ``HttpOnly``, ``SameSite=Strict``, limited to ``/admin`` and
  ``Secure`` whenever the console is reached over HTTPS (or the issuer is HTTPS).
* Every form carries a CSRF token: the session's (synchronizer token) once signed in,
  and a double-submit cookie on the sign-in form. Every POST must also come from our
  own origin: ``Origin`` (or, failing that, ``Referer``) must name this server, and a
  ``Sec-Fetch-Site`` of ``cross-site`` or ``same-site`` is refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "kindling_admin"
LOGIN_CSRF_COOKIE = "kindling_admin_login"
COOKIE_PATH = "/admin"
CSRF_FIELD = "csrf_token"
MAX_FORM_BODY = 262_144

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
#: Swagger UI sets inline style attributes, so the docs page allows inline styles (not scripts).
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def page_headers(csp: str = CONSOLE_CSP) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def is_secure(request: Request, issuer: str) -> bool:
    return request.url.scheme == "https" or issuer.startswith("https://")


def set_cookie(
    response: Response, request: Request, issuer: str, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, issuer),
    )


def clear_cookie(response: Response, request: Request, issuer: str, name: str) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, issuer),
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: Request, issuer: str) -> set[str]:
    """This server's origins: as the request addressed it, and the configured issuer."""
    origins = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    issuer_origin = _origin(issuer)
    if issuer_origin:
        origins.add(issuer_origin)
    return origins


def same_origin(request: Request, issuer: str) -> bool:
    """True unless the request shows it came from another site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() in ("cross-site", "same-site"):
        return False
    allowed = own_origins(request, issuer)
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() in allowed
    referer = request.headers.get("referer")
    if referer is not None:
        return _origin(referer) in allowed
    return True


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class FormError(Exception):
    """The request body is not a form we accept."""


def parse_form(content_type: str | None, body: bytes) -> dict[str, list[str]]:
    """Decode an ``application/x-www-form-urlencoded`` UTF-8 body."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise FormError("forms must be sent as application/x-www-form-urlencoded")
    if len(body) > MAX_FORM_BODY:
        raise FormError("the form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("the form is not valid UTF-8") from None
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise FormError("the form is not valid UTF-8") from None
    if any("\x00" in v for values in parsed.values() for v in values):
        raise FormError("the form contains a NUL character")
    return parsed


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirects)."""
    if not value or not value.startswith("/admin") or value.startswith("//"):
        return "/admin/"
    if "\\" in value or any(ord(c) < 0x20 for c in value):
        return "/admin/"
    return value


def back_path(headers: Mapping[str, str], request: Request, issuer: str, default: str) -> str:
    """The console page a form was posted from (same-origin ``Referer``), else ``default``."""
    referer = headers.get("referer")
    if referer and _origin(referer) in own_origins(request, issuer):
        parts = urlsplit(referer)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith("/admin/") and not path.startswith("/admin/login"):
            return path
    return default
