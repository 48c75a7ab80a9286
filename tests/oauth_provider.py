"""A small, real OAuth 2.0 authorization server on loopback, for the connected-apps tests.

It plays the external provider (Google, Slack, ...) a connected app points at, over real
HTTP on ``127.0.0.1`` in a thread of the test process:

* ``GET /authorize`` (RFC 6749 §4.1.1): checks the request (client, ``redirect_uri``,
  ``state``, an S256 PKCE challenge), approves at once (no login page) and redirects to
  the ``redirect_uri`` with a single-use ``code`` and the ``state``, or with
  ``error=access_denied`` when ``deny`` is set;
* ``POST /token`` (RFC 6749 §4.1.3, §6): authenticates the client (HTTP Basic or the form
  body), checks the code's ``redirect_uri`` and PKCE verifier, and issues tokens;
  refresh tokens rotate;
* ``POST /revoke`` (RFC 7009): records what it was asked to revoke; revoking a refresh
  token revokes the access tokens issued with it;
* ``GET /api/me``: a protected resource, to show an access token works (or no longer does).

Knobs (``expires_in``, ``deny``, ``token_status``, ``revoke_status``, ``delay``) make it
answer what a test needs; ``requests`` logs every request it served.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from tests.support import free_port


@dataclass
class Grant:
    """What one approval granted: for whom, which scope, and the tokens issued with it."""

    subject: str
    scope: str
    refresh_token: str | None = None
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class Served:
    method: str
    path: str
    form: dict[str, str]
    authorization: str | None


class OAuthProvider:
    """The provider; ``start()`` it, point a connected app at its endpoints, ``stop()`` it."""

    def __init__(
        self,
        client_id: str = "provider-client",
        client_secret: str = "provider-secret",
        expires_in: int | None = 3600,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.issue_refresh_tokens = True
        self.deny = False
        #: Answer ``/token`` with this status and an empty JSON body (e.g. 503).
        self.token_status: int | None = None
        #: Answer ``/revoke`` with this status (e.g. 503).
        self.revoke_status: int | None = None
        #: Seconds ``/token`` waits before answering.
        self.delay = 0.0
        self.requests: list[Served] = []
        self.revocations: list[tuple[str, str | None]] = []
        self._codes: dict[str, dict[str, str]] = {}
        self._grants: list[Grant] = []
        self._by_access: dict[str, Grant] = {}
        self._by_refresh: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- lifecycle

    def start(self) -> OAuthProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                provider._handle(self, "GET")

            def do_POST(self) -> None:
                provider._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- addresses

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.base_url}/authorize?prompt=consent"

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/token"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.base_url}/revoke"

    @property
    def api_endpoint(self) -> str:
        return f"{self.base_url}/api/me"

    def definition(self, key_code_ref: str, **extra: Any) -> dict[str, Any]:
        """A ``POST /kindling/v1/connected_apps/providers`` body pointing at this provider."""
        return {
            "key_code_ref": key_code_ref,
            "name": f"Test provider {key_code_ref}",
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scopes": ["files.read", "profile"],
            **extra,
        }

    # --- what a test asks

    def token_works(self, access_token: str) -> bool:
        """Whether the protected resource accepts ``access_token`` right now."""
        with self._lock:
            grant = self._by_access.get(access_token)
            return grant is not None and not grant.revoked and access_token in grant.access_tokens

    def served(self, path: str) -> list[Served]:
        return [r for r in self.requests if r.path == path]

    # --- the endpoints

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        form: dict[str, str] = dict(parse_qsl(parts.query))
        if method == "POST":
            length = int(handler.headers.get("content-length") or 0)
            form = dict(parse_qsl(handler.rfile.read(length).decode("utf-8")))
        authorization = handler.headers.get("authorization")
        with self._lock:
            self.requests.append(Served(method, parts.path, form, authorization))
        route = (method, parts.path)
        if route == ("GET", "/authorize"):
            self._authorize(handler, form)
        elif route == ("POST", "/token"):
            self._token(handler, form, authorization)
        elif route == ("POST", "/revoke"):
            self._revoke(handler, form, authorization)
        elif route == ("GET", "/api/me"):
            token = (authorization or "").removeprefix("Bearer ").strip()
            if self.token_works(token):
                self._json(handler, 200, {"sub": self._by_access[token].subject})
            else:
                self._json(handler, 401, {"error": "invalid_token"})
        else:
            self._json(handler, 404, {"error": "not_found"})

    def _json(self, handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(data)

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        redirect_uri = query.get("redirect_uri", "")
        ok = (
            query.get("response_type") == "code"
            and query.get("client_id") == self.client_id
            and redirect_uri.startswith(("http://", "https://"))
            and query.get("state")
            and query.get("code_challenge")
            and query.get("code_challenge_method") == "S256"
        )
        if not ok:
            self._json(handler, 400, {"error": "invalid_request", "query": query})
            return
        if self.deny:
            answer = {"error": "access_denied", "state": query["state"]}
        else:
            code = "code_" + secrets.token_hex(16)
            with self._lock:
                self._codes[code] = {
                    "redirect_uri": redirect_uri,
                    "challenge": query["code_challenge"],
                    "scope": query.get("scope", ""),
                }
            answer = {"code": code, "state": query["state"]}
        joiner = "&" if "?" in redirect_uri else "?"
        handler.send_response(302)
        handler.send_header("Location", redirect_uri + joiner + urlencode(answer))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _client_ok(self, form: dict[str, str], authorization: str | None) -> bool:
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode("utf-8")
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and secret == self.client_secret

    def _issue(self, grant: Grant) -> dict[str, Any]:
        access = "at_" + secrets.token_hex(16)
        grant.access_tokens.add(access)
        self._by_access[access] = grant
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": grant.scope,
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if self.issue_refresh_tokens:
            if grant.refresh_token is not None:
                self._by_refresh.pop(grant.refresh_token, None)
            grant.refresh_token = "rt_" + secrets.token_hex(16)
            self._by_refresh[grant.refresh_token] = grant
            body["refresh_token"] = grant.refresh_token
        return body

    def _token(
        self, handler: BaseHTTPRequestHandler, form: dict[str, str], authorization: str | None
    ) -> None:
        if self.delay:
            time.sleep(self.delay)
        if self.token_status is not None:
            self._json(handler, self.token_status, {})
            return
        if not self._client_ok(form, authorization):
            self._json(handler, 401, {"error": "invalid_client"})
            return
        with self._lock:
            if form.get("grant_type") == "authorization_code":
                issued = self._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode("ascii")).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
                if (
                    issued is None
                    or issued["redirect_uri"] != form.get("redirect_uri")
                    or issued["challenge"] != challenge
                ):
                    self._json(handler, 400, {"error": "invalid_grant"})
                    return
                grant = Grant(subject="user-" + secrets.token_hex(4), scope=issued["scope"])
                self._grants.append(grant)
                self._json(handler, 200, self._issue(grant))
            elif form.get("grant_type") == "refresh_token":
                found = self._by_refresh.get(form.get("refresh_token", ""))
                if found is None or found.revoked:
                    self._json(handler, 400, {"error": "invalid_grant"})
                    return
                self._json(handler, 200, self._issue(found))
            else:
                self._json(handler, 400, {"error": "unsupported_grant_type"})

    def _revoke(
        self, handler: BaseHTTPRequestHandler, form: dict[str, str], authorization: str | None
    ) -> None:
        if self.revoke_status is not None:
            self._json(handler, self.revoke_status, {})
            return
        if not self._client_ok(form, authorization):
            self._json(handler, 401, {"error": "invalid_client"})
            return
        token = form.get("token", "")
        with self._lock:
            self.revocations.append((token, form.get("token_type_hint")))
            grant = self._by_refresh.get(token)
            if grant is not None:
                grant.revoked = True  # RFC 7009 §2.1: the grant's access tokens go too
            found = self._by_access.get(token)
            if found is not None:
                found.access_tokens.discard(token)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a provider that is down."""
    return f"http://127.0.0.1:{free_port()}"
