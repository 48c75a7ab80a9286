"""A tiny "orders API": a plain WSGI application that accepts Kinde (or Kindling) M2M tokens.

It is the kind of resource server the ``kindling`` pytest fixture is for. Every request
needs ``Authorization: Bearer <access token>`` (RFC 6750 §2.1); the token must be an RS256
JWT of type ``JWT`` signed by a key in the issuer's JWKS, unexpired, from the expected
issuer, for this API's audience, and carry the scope the route asks for (``scp``).
Otherwise the answer is 401 ``invalid_token`` or 403 ``insufficient_scope`` with a
``WWW-Authenticate`` header (RFC 6750 §3.1).

    GET  /orders   scope read:orders   the orders
    POST /orders   scope write:orders  add one (JSON body {"item": "..."})
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Refused(Exception):
    def __init__(self, status: str, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class TokenVerifier:
    """Checks access tokens against the issuer's JWKS (fetched once, then cached)."""

    issuer: str
    audience: str
    jwks_url: str
    ssl_context: ssl.SSLContext | None = None
    _jwks: jwt.PyJWKClient | None = field(default=None, repr=False)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``Refused`` with 401 ``invalid_token``."""
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self.jwks_url, ssl_context=self.ssl_context)
        try:
            if jwt.get_unverified_header(token).get("typ") != "JWT":
                raise jwt.InvalidTokenError("not an access token")
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Refused("401 Unauthorized", "invalid_token", str(exc)) from None
        return claims


@dataclass
class OrdersApp:
    verifier: TokenVerifier
    orders: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, body = self._route(environ)
        except Refused as refused:
            challenge = f'Bearer error="{refused.error}"'
            start_response(refused.status, [("WWW-Authenticate", challenge)] + _JSON)
            return [json.dumps({"error": refused.error}).encode()]
        start_response(status, _JSON)
        return [json.dumps(body).encode()]

    def _authorize(self, environ: dict[str, Any], scope: str) -> dict[str, Any]:
        scheme, _, token = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Refused("401 Unauthorized", "invalid_token", "no bearer token")
        claims = self.verifier.verify(token.strip())
        if scope not in (claims.get("scp") or []):
            raise Refused("403 Forbidden", "insufficient_scope", f"needs {scope}")
        return claims

    def _route(self, environ: dict[str, Any]) -> tuple[str, Any]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path != "/orders":
            return "404 Not Found", {"error": "not_found"}
        if method == "GET":
            self._authorize(environ, "read:orders")
            return "200 OK", {"orders": self.orders}
        if method == "POST":
            claims = self._authorize(environ, "write:orders")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = json.loads(environ["wsgi.input"].read(length) or b"{}")
            order = {"id": len(self.orders) + 1, "item": data.get("item"), "by": claims["azp"]}
            self.orders.append(order)
            return "201 Created", order
        return "405 Method Not Allowed", {"error": "method_not_allowed"}


_JSON = [("Content-Type", "application/json")]
