"""What the A12 case modules share: reading a server's own database, the token ledger,
clients from private loopback addresses, applications made through the Management API,
and the bearer check run in process at a frozen time.

Side effects are read where they would land: ``token.issued`` audit rows (every token the
endpoint signs gets one, written in order by one background writer), the users and
identities tables, the outbox and the audit rows a request id ties to a request.
"""

from __future__ import annotations

import base64
import itertools
import json
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.clock import FrozenClock
from kindling.crypto.jws import Signer
from kindling.crypto.keys import SigningKey
from kindling.oauth.bearer import BearerError, authenticate_bearer
from tests.support import KindlingServer, token_for

FORM = "application/x-www-form-urlencoded"
TOKEN_PATH = "/oauth2/token"


def uid() -> str:
    return uuid.uuid4().hex[:12]


def sql(
    server: KindlingServer, statement: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """Run one statement on the server's own database (another connection, committed)."""
    if server.database_url:
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            cur = conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []
    conn = sqlite3.connect(server.data_dir / "kindling.db", timeout=10)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return list(rows)
    finally:
        conn.close()


def count(server: KindlingServer, statement: str, params: tuple[Any, ...] = ()) -> int:
    return int(sql(server, statement, params)[0][0])


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def eventually(probe: Any, timeout: float = 10.0, what: str = "the condition") -> Any:
    """``probe()`` once it is truthy; fails after ``timeout`` seconds (not a timing claim)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.02)


# --- the token ledger --------------------------------------------------------------------


def settled_issued(server: KindlingServer) -> int:
    """How many tokens the server has issued, once every earlier one is recorded.

    A control token is minted and its ``token.issued`` row awaited: the audit writer
    writes its queue in order, so every token issued before the control is counted.
    """
    token = server.token()
    target = jti_of(token)
    eventually(
        lambda: count(
            server,
            "SELECT count(*) FROM audit WHERE action = 'token.issued' AND target_id = ?",
            (target,),
        ),
        what="the control token's audit row",
    )
    return count(server, "SELECT count(*) FROM audit WHERE action = 'token.issued'")


@contextmanager
def no_token_issued(server: KindlingServer, expected: int = 0) -> Iterator[None]:
    """Assert the block made the server issue ``expected`` tokens (none by default)."""
    before = settled_issued(server)
    yield
    after = settled_issued(server)
    assert after - before - 1 == expected, f"{after - before - 1} tokens issued, not {expected}"


# --- clients -------------------------------------------------------------------------------

_ADDRESSES = itertools.count(2)


def stranger(server: KindlingServer) -> httpx.Client:
    """A client from a loopback address of its own (127.0.1.N; all of 127/8 is loopback).

    The servers count failed client authentications per peer address (rate limits);
    requests meant to fail come from here, so they never spend the budget of 127.0.0.1
    that every other test shares.
    """
    n = next(_ADDRESSES)
    address = f"127.0.{1 + n // 250}.{n % 250 + 2}"
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=30)


def admin(server: KindlingServer) -> httpx.Client:
    """The Management API with the bootstrap application's all-scopes token."""
    http = server.client()
    http.headers["Authorization"] = f"Bearer {token_for(server)}"
    return http


def token_form(client_id: str, secret: str, audience: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": audience,
        **extra,
    }


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 §5.2's error body, ``no-store``, and no token."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert set(body) == {"error", "error_description"}, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


_MANAGEMENT: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}


def management_api(server: KindlingServer) -> tuple[str, dict[str, str]]:
    """The Management API's id and its scope ids by key (cached per server and data)."""
    key = (server.base_url, str(server.data_dir))
    if key not in _MANAGEMENT:
        with admin(server) as http:
            apis = http.get("/api/v1/apis").json()["apis"]
            api_id = next(a["id"] for a in apis if a["is_management_api"])
            detail = http.get(f"/api/v1/apis/{api_id}").json()["api"]
        _MANAGEMENT[key] = (api_id, {s["key"]: s["id"] for s in detail["scopes"]})
    return _MANAGEMENT[key]


def new_app(
    server: KindlingServer,
    scopes: tuple[str, ...] = (),
    type_: str = "m2m",
    authorize: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """An application made through the Management API, authorized for the Management API
    with ``scopes`` granted (no scope: its tokens carry none)."""
    with admin(server) as http:
        created = http.post(
            "/api/v1/applications", json={"name": f"a12-{uid()}", "type": type_, **extra}
        )
        assert created.status_code == 201, created.text
        app: dict[str, Any] = created.json()["application"]
        if authorize:
            api_id, scope_ids = management_api(server)
            linked = http.patch(
                f"/api/v1/apis/{api_id}/applications", json={"applications": [{"id": app["id"]}]}
            )
            assert linked.status_code == 200, linked.text
            for scope in scopes:
                path = f"/api/v1/apis/{api_id}/applications/{app['id']}/scopes/{scope_ids[scope]}"
                granted = http.post(path)
                assert granted.status_code == 200, granted.text
    return app


def app_token(server: KindlingServer, app: dict[str, Any]) -> str:
    with server.client() as http:
        response = http.post(
            TOKEN_PATH, data=token_form(app["client_id"], app["client_secret"], server.audience)
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


# --- what a request wrote ----------------------------------------------------------------


def normalized(email: str) -> str:
    """Identities are unique on NFC, trimmed, case-folded text (users.model)."""
    return unicodedata.normalize("NFC", email).strip().casefold()


def users_with_email(server: KindlingServer, email: str) -> list[str]:
    """Ids of the users holding ``email`` as an identity, read from the database."""
    rows = sql(
        server,
        "SELECT user_id FROM user_identities WHERE type = 'email' AND normalized = ?",
        (normalized(email),),
    )
    return [str(r[0]) for r in rows]


def request_id() -> str:
    return f"a12-{uid()}"


def written_by(server: KindlingServer, rid: str) -> dict[str, list[str]]:
    """The outbox events and audit results a request (by its ``X-Request-ID``) left."""
    events = sql(server, "SELECT type FROM outbox WHERE request_id = ?", (rid,))
    audit = sql(server, "SELECT result FROM audit WHERE request_id = ?", (rid,))
    return {"events": [str(r[0]) for r in events], "audit": [str(r[0]) for r in audit]}


def assert_refused_change(server: KindlingServer, rid: str) -> None:
    """A refused change: no event, and no audit row saying it succeeded."""
    left = written_by(server, rid)
    assert left["events"] == [], left
    assert "success" not in left["audit"], left


# --- the bearer check in process, at a frozen time -----------------------------------

ISSUER = "https://kindling.example.test"
AUDIENCE = f"{ISSUER}/api"


def unit_token(clock: FrozenClock, key: SigningKey, **times: float) -> str:
    claims: dict[str, Any] = {
        "aud": [AUDIENCE],
        "azp": "client",
        "gty": ["client_credentials"],
        "iss": ISSUER,
        "jti": str(uuid.uuid4()),
        "scope": "read:users",
        "iat": clock.now() - 3600,
        "exp": clock.now() + 3600,
    }
    claims.update(times)
    return Signer(key).sign(claims)


def check_bearer(token: str, key: SigningKey, clock: FrozenClock) -> str:
    """The bearer check at the frozen clock's time: ``accepted`` or the refusal's code."""

    def lookup(kid: str) -> rsa.RSAPublicKey | None:
        return key.private_key.public_key() if kid == key.kid else None

    try:
        authenticate_bearer(f"Bearer {token}", lookup, ISSUER, AUDIENCE, clock.now())
    except BearerError as refused:
        assert refused.status == 401
        return refused.code
    return "accepted"
