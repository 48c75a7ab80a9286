"""The orders API wired to the session's Kindling server, called through WSGI in process."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from orders_api import OrdersApp, TokenVerifier

AUDIENCE = "https://orders.example.com"
SCOPES = ["read:orders", "write:orders"]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class OrdersClient:
    """Calls the WSGI app directly, the way a server would."""

    app: OrdersApp
    audience: str

    def call(self, method: str, token: str | None, body: Any = None) -> Response:
        environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": "/orders"}
        if token is not None:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        raw = json.dumps(body).encode() if body is not None else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        setup_testing_defaults(environ)
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            started["status"], started["headers"] = int(status.split()[0]), dict(headers)

        answer = b"".join(self.app(environ, start_response))
        return Response(started["status"], started["headers"], json.loads(answer))

    def get(self, token: str | None = None) -> Response:
        return self.call("GET", token)

    def post(self, token: str | None, body: Any) -> Response:
        return self.call("POST", token, body)


@pytest.fixture
def orders(kindling) -> OrdersClient:
    """The app as it would run in production, only pointed at Kindling instead of Kinde."""
    # The seed file made the API; this authorizes the fixture's own application for it.
    kindling.add_api(AUDIENCE, SCOPES, name="Orders API")
    verifier = TokenVerifier(
        issuer=kindling.issuer,
        audience=AUDIENCE,
        jwks_url=kindling.jwks_url,
        ssl_context=kindling.ssl_context() if kindling.ca_file else None,
    )
    return OrdersClient(OrdersApp(verifier), AUDIENCE)
