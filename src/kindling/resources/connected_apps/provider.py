"""The OAuth 2.0 client side of connected apps: our requests to a provider's endpoints.

Three requests, all ``POST application/x-www-form-urlencoded`` with the client
authenticated as the provider definition says (RFC 6749 §2.3.1: HTTP Basic over the
form-encoded id and secret, or both in the body; a public client sends its id only):

* the authorization code exchange (RFC 6749 §4.1.3, with the PKCE verifier, RFC 7636 §4.5);
* a refresh (RFC 6749 §6);
* a revocation (RFC 7009 §2.1).

Every request is bounded: one overall deadline (the provider's ``timeout_seconds``,
connect included), redirects are never followed (RFC 6749 §3.2 names the token endpoint
itself; a redirect would carry the client secret elsewhere), and at most
``MAX_RESPONSE_BYTES`` of answer are read. Plain ``http`` is accepted only for a loopback
host (the service refuses any other); ``https`` verifies the certificate and host name
against the system's trust store.

Only the standard library is used (``http.client``), so the server needs no extra
dependency. Anything that is not a usable answer raises ``ProviderUnavailable``; a
provider's own refusal (an RFC 6749 §5.2 error body) raises ``ProviderRefused``.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

#: The largest answer read from a provider (token responses are a few kilobytes).
MAX_RESPONSE_BYTES = 64 * 1024
_CHUNK = 8192
_USER_AGENT = "Kindling connected apps"


class ProviderUnavailable(Exception):
    """No usable answer: refused, timed out, TLS failure, redirected, 5xx, too large, or
    not the JSON the RFC requires."""


class ProviderRefused(Exception):
    """The provider answered with an OAuth error (RFC 6749 §5.2, RFC 7009 §2.2.1)."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Client:
    """How we authenticate at a provider, and how long we wait for it."""

    client_id: str
    client_secret: str | None
    auth_method: str
    timeout: float


@dataclass(frozen=True)
class TokenSet:
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int | None
    refresh_token: str | None
    scope: str | None


@dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    body: bytes


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _post(url: str, form: Mapping[str, str], client: Client) -> _Answer:
    """POST ``form`` to ``url`` as ``client``, within the client's deadline."""
    fields = dict(form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "User-Agent": _USER_AGENT,
    }
    if client.auth_method == "client_secret_basic":
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode()
    elif client.auth_method == "client_secret_post":
        fields["client_id"] = client.client_id
        fields["client_secret"] = client.client_secret or ""
    else:
        fields["client_id"] = client.client_id
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host = parts.hostname or ""
    deadline = time.monotonic() + client.timeout
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=client.timeout, context=_tls_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=client.timeout)
    try:
        connection.request("POST", target, body=urlencode(fields), headers=headers)
        response = connection.getresponse()
        length = response.getheader("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
            raise ProviderUnavailable(f"the provider's answer is larger than {MAX_RESPONSE_BYTES}")
        body = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProviderUnavailable(f"the provider did not answer within {client.timeout}s")
            if connection.sock is not None:
                connection.sock.settimeout(left)
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise ProviderUnavailable(
                    f"the provider's answer is larger than {MAX_RESPONSE_BYTES} bytes"
                )
        content_type = (response.getheader("content-type") or "").partition(";")[0]
        return _Answer(response.status, content_type.strip().lower(), bytes(body))
    except TimeoutError:
        raise ProviderUnavailable(f"the provider did not answer within {client.timeout}s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise ProviderUnavailable(
            f"the provider cannot be reached ({type(exc).__name__})"
        ) from None
    finally:
        connection.close()


def _fields(answer: _Answer) -> dict[str, Any]:
    """The answer's JSON object; form-encoded bodies (some providers' legacy default)
    are read too. Anything else is ``ProviderUnavailable``."""
    if answer.content_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(answer.body.decode("utf-8"), strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise ProviderUnavailable("the provider's answer is not valid form data") from None
    try:
        value = json.loads(answer.body)
    except (UnicodeDecodeError, ValueError):
        raise ProviderUnavailable("the provider's answer is not JSON") from None
    if not isinstance(value, dict):
        raise ProviderUnavailable("the provider's answer is not a JSON object")
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _refusal(fields: Mapping[str, Any]) -> ProviderRefused | None:
    error = _text(fields.get("error"))
    if error is None:
        return None
    return ProviderRefused(
        error[:128], (_text(fields.get("error_description")) or "")[:512] or None
    )


def _expires_in(value: object) -> int | None:
    """``expires_in`` in seconds: a JSON number (RFC 6749 §5.1), or a numeric string as some
    providers send it; anything else, or not positive, counts as "not said"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    else:
        return None
    return seconds if seconds > 0 else None


def _token_request(url: str, client: Client, form: Mapping[str, str]) -> TokenSet:
    answer = _post(url, form, client)
    if 300 <= answer.status < 400:
        raise ProviderUnavailable(f"the provider redirected ({answer.status}); it is not followed")
    if answer.status >= 500:
        raise ProviderUnavailable(f"the provider failed ({answer.status})")
    fields = _fields(answer)
    refusal = _refusal(fields)
    if refusal is not None:
        raise refusal
    if answer.status != 200:
        raise ProviderUnavailable(f"the provider answered {answer.status} without an error")
    access_token = _text(fields.get("access_token"))
    if access_token is None:
        raise ProviderUnavailable("the provider's answer has no access_token")
    return TokenSet(
        access_token=access_token,
        token_type=_text(fields.get("token_type")) or "Bearer",
        expires_in=_expires_in(fields.get("expires_in")),
        refresh_token=_text(fields.get("refresh_token")),
        scope=_text(fields.get("scope")),
    )


def exchange_code(
    token_endpoint: str, client: Client, code: str, redirect_uri: str, code_verifier: str
) -> TokenSet:
    """Exchange an authorization code (RFC 6749 §4.1.3; PKCE, RFC 7636 §4.5)."""
    return _token_request(
        token_endpoint,
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
    )


def refresh(token_endpoint: str, client: Client, refresh_token: str) -> TokenSet:
    """Use a refresh token (RFC 6749 §6); the scope stays what was granted."""
    return _token_request(
        token_endpoint, client, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def revoke(revocation_endpoint: str, client: Client, token: str, hint: str) -> None:
    """Revoke a token (RFC 7009 §2.1). A 200 is success, whatever the token was (§2.2);
    503 and other failures are ``ProviderUnavailable``, an error body ``ProviderRefused``."""
    answer = _post(revocation_endpoint, {"token": token, "token_type_hint": hint}, client)
    if answer.status == 200:
        return
    if answer.status in (400, 401):
        try:
            refusal = _refusal(_fields(answer))
        except ProviderUnavailable:
            refusal = None
        if refusal is not None:
            raise refusal
    raise ProviderUnavailable(f"the provider's revocation endpoint answered {answer.status}")
