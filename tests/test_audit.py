"""The audit log end to end, on real server processes and both engines.

What a user of the audit log relies on: every Management API change names the
application that made it, its address and request id, in the change's transaction; a
refused change is recorded with its code and writes nothing else; tokens issued and
refused are recorded (refusals coalesced, so a brute-force run makes few rows); a
change whose audit row cannot be written is not made (503); the log can be searched
through ``GET /kindling/v1/audit``, ``kindling audit`` and the console's Audit page;
and no secret, key, password or token issued during a run reaches the server's log
lines, the audit table or the outbox. What auditing the token path costs is a
benchmark's question (``bench/token_instructions.py``), not a test's.

The module's servers run with rate limits off, so refusal counts are exact (the rate
limiter would answer 429 before the token endpoint); the secret scan runs servers with
their defaults.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import socket
import sqlite3
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import require_postgres
from tests.console_support import Console, owner_password
from tests.support import (
    KindlingServer,
    create_pg_schema,
    drop_pg_schema,
    error_code,
    free_port,
)

ENGINES = ["sqlite", "postgres"]


def uid() -> str:
    return secrets.token_hex(6)


def _start(tmp: Path, engine: str, **options: Any) -> tuple[KindlingServer, str | None]:
    schema = database_url = None
    if engine == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    server = KindlingServer(
        data_dir=tmp, port=free_port(), database_url=database_url, **options
    ).start()
    return server, schema


@pytest.fixture(scope="module", params=ENGINES)
def audited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    """A server per engine for this module, rate limits off (exact refusal counts)."""
    server, schema = _start(
        tmp_path_factory.mktemp(f"audit-{request.param}"),
        request.param,
        extra_env={"KINDLING_RATE_LIMITS": "off"},
    )
    yield server
    server.stop()
    if schema:
        drop_pg_schema(schema)


@pytest.fixture(scope="module")
def bearer(audited: KindlingServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {audited.token()}"}


@pytest.fixture
def http(audited: KindlingServer) -> Iterator[httpx.Client]:
    with audited.client() as client:
        yield client


def sql(
    server: KindlingServer, statement: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """Run SQL on the server's own database (another connection, as an operator would)."""
    if server.database_url:
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            cur = conn.execute(statement.replace("?", "%s"), params)
            return list(cur.fetchall()) if cur.description else []
    with sqlite3.connect(server.data_dir / "kindling.db", timeout=10) as conn:
        rows = conn.execute(statement, params).fetchall()
    conn.close()
    return rows


def search(http: httpx.Client, bearer: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = http.get("/kindling/v1/audit", params={"page_size": 500, **params}, headers=bearer)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def wait_for(probe: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``probe()`` once it is truthy (token rows are written in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def request_id() -> str:
    return f"audit-test-{uid()}"


# --- changes: one row per event, with the caller ----------------------------------------


def test_a_change_names_its_application_address_and_request(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    rid = request_id()
    email = f"audit-{uid()}@example.com"
    created = http.post(
        "/api/v1/user",
        json={"identities": [{"type": "email", "details": {"email": email}}]},
        headers={**bearer, "X-Request-ID": rid},
    )
    assert created.status_code == 200, created.text
    user_id = created.json()["id"]
    (row,) = search(http, bearer, target=f"user:{user_id}")
    assert row["action"] == "user.created" and row["result"] == "success"
    assert row["actor"] == {"type": "application", "id": audited.client_id}
    assert row["ip"] == "127.0.0.1" and row["request_id"] == rid
    assert row["target"] == {"type": "user", "id": user_id}
    assert row["details"] == {"operation": "createUser"}
    # The row joins the outbox event of the same change.
    event = http.get(f"/api/v1/events/{row['event_id']}", headers=bearer)
    assert event.status_code == 200, event.text
    assert event.json()["event"]["type"] == "user.created"


def test_a_refused_change_is_recorded_with_its_code_and_writes_nothing(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    rid = request_id()
    refused = http.post(
        "/api/v1/user",
        json={"identities": [{"type": "email", "details": {"email": "not-an-email"}}]},
        headers={**bearer, "X-Request-ID": rid},
    )
    error_code(refused, 400, "INVALID_EMAIL")
    rows = [
        r for r in search(http, bearer, action="api.*", result="failure") if r["request_id"] == rid
    ]
    assert len(rows) == 1
    (row,) = rows
    assert row["action"] == "api.createUser" and row["error_code"] == "INVALID_EMAIL"
    assert row["actor"] == {"type": "application", "id": audited.client_id}
    assert row["details"] == {"status": 400, "method": "POST", "path": "/user"}
    assert row["event_id"] is None
    assert not [r for r in search(http, bearer, action="user.*") if r["request_id"] == rid]
    # A refusal that names its target: the path parameter.
    missing = f"kp_{uid()}"
    gone = http.delete(f"/api/v1/roles/{missing}", headers=bearer)
    assert gone.status_code in (400, 404), gone.text
    (row,) = search(http, bearer, target=f"role:{missing}")
    assert row["action"] == "api.DeleteRole" and row["result"] == "failure"
    assert row["error_code"] == "ROLE_NOT_FOUND"


def test_reads_are_not_recorded(http: httpx.Client, bearer: dict[str, str]) -> None:
    rid = request_id()
    assert http.get("/api/v1/roles", headers={**bearer, "X-Request-ID": rid}).status_code == 200
    assert not [r for r in search(http, bearer) if r["request_id"] == rid]


# --- searching: filters, pages, scope, bad input ----------------------------------------


def test_the_audit_api_filters_pages_and_refuses_bad_input(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    since = time.time() - 1
    keys = []
    for _ in range(5):
        key = f"audit_{uid()}"
        keys.append(key)
        made = http.post("/api/v1/roles", json={"name": key, "key": key}, headers=bearer)
        assert made.status_code == 201, made.text
    params = {"action": "role.created", "actor": audited.client_id, "since": str(int(since))}
    first = http.get("/kindling/v1/audit", params={**params, "page_size": 3}, headers=bearer)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["code"] == "OK" and len(body["entries"]) == 3 and body["next_token"]
    second = http.get(
        "/kindling/v1/audit",
        params={**params, "page_size": 3, "next_token": body["next_token"]},
        headers=bearer,
    )
    rest = second.json()
    assert len(rest["entries"]) == 2 and "next_token" not in rest
    seen = body["entries"] + rest["entries"]
    assert len({e["id"] for e in seen}) == 5
    times = [e["occurred_on"] for e in seen]
    assert [int(e["id"]) for e in seen] == sorted((int(e["id"]) for e in seen), reverse=True)
    assert times == sorted(times, reverse=True)
    # A token pages only the search it came from.
    other = http.get(
        "/kindling/v1/audit",
        params={"action": "user.created", "next_token": body["next_token"]},
        headers=bearer,
    )
    error_code(other, 400, "INVALID_NEXT_TOKEN")
    for name, value, code in [
        ("since", "yesterday-ish", "INVALID_SINCE"),
        ("until", "2024-13-45", "INVALID_UNTIL"),
        ("result", "maybe", "INVALID_RESULT"),
        ("action", "user created", "INVALID_ACTION"),
        ("page_size", "501", "PAGE_SIZE_LIMIT_EXCEEDED"),
    ]:
        error_code(http.get("/kindling/v1/audit", params={name: value}, headers=bearer), 400, code)
    # until is exclusive, an age works, a target type alone matches every row of it.
    assert search(http, bearer, **params, until=str(int(since))) == []
    assert (
        len(search(http, bearer, action="role.created", actor=audited.client_id, since="1h")) >= 5
    )
    assert {e["target"]["type"] for e in search(http, bearer, target="role:")} == {"role"}
    # read:events is the scope.
    without = audited.token(scopes=["read:users"])
    denied = http.get("/kindling/v1/audit", headers={"Authorization": f"Bearer {without}"})
    error_code(denied, 403)
    allowed = audited.token(scopes=["read:events"])
    assert (
        http.get("/kindling/v1/audit", headers={"Authorization": f"Bearer {allowed}"}).status_code
        == 200
    )


# --- tokens ------------------------------------------------------------------------------


def test_an_issued_token_is_recorded_with_its_jti_scopes_and_audience(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    rid = request_id()
    response = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": audited.client_id,
            "client_secret": audited.client_secret,
            "audience": audited.audience,
            "scope": "read:users read:roles",
        },
        headers={"X-Request-ID": rid},
    )
    assert response.status_code == 200, response.text
    jti = jti_of(response.json()["access_token"])
    rows = wait_for(lambda: search(http, bearer, target=f"token:{jti}"), 2.0)
    (row,) = rows
    assert row["action"] == "token.issued" and row["result"] == "success"
    assert row["actor"] == {"type": "application", "id": audited.client_id}
    # Narrowed to two scopes: the row names them, with the summary every row has.
    assert row["details"] == {
        "audiences": [audited.audience],
        "scope_count": 2,
        "scope_sha256": hashlib.sha256(b"read:roles read:users").hexdigest(),
        "scopes": ["read:users", "read:roles"],
    }
    assert row["request_id"] == rid and row["ip"] == "127.0.0.1"


def test_a_token_with_every_granted_scope_is_recorded_by_count_and_digest(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    """Without ``scope`` the token carries all 149 Management API scopes: the row counts
    them and holds the digest an auditor recomputes from the token's own claim."""
    response = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": audited.client_id,
            "client_secret": audited.client_secret,
            "audience": audited.audience,
        },
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    jti = jti_of(token)
    payload = token.split(".")[1]
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["scope"]
    (row,) = wait_for(lambda: search(http, bearer, target=f"token:{jti}"), 2.0)
    granted = claim.split()
    assert len(granted) == 149
    assert row["details"] == {
        "audiences": [audited.audience],
        "scope_count": 149,
        "scope_sha256": hashlib.sha256(" ".join(sorted(granted)).encode()).hexdigest(),
    }


def test_refused_tokens_are_recorded_coalesced_per_second(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    """200 wrong secrets for one client and 200 unknown client ids, as fast as the server
    answers: every refusal is counted, in a handful of rows."""
    start = time.time()
    for _ in range(200):
        refused = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": audited.client_id,
                "client_secret": "wrong-" + uid(),
                "audience": audited.audience,
            },
        )
        assert refused.status_code == 401
    prefix = f"probe{uid()}"
    for i in range(200):
        refused = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": f"{prefix}{i}",
                "client_secret": "x",
                "audience": audited.audience,
            },
        )
        assert refused.status_code == 401
    seconds = int(time.time() - start) + 2

    def split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        wrong = [r for r in rows if r["actor"]["id"] == audited.client_id]
        probes = [
            r
            for r in rows
            if (r["actor"]["id"] or "").startswith(prefix) or r["actor"]["id"] == "*"
        ]
        return wrong, probes

    def refusals() -> list[dict[str, Any]]:
        rows = search(http, bearer, action="token.refused", since=str(int(start)))
        wrong, probes = split(rows)
        done = sum(r["count"] for r in wrong) >= 200 and sum(r["count"] for r in probes) >= 200
        return rows if done else []

    rows = wait_for(refusals, 5.0)
    wrong, probes = split(rows)
    assert sum(r["count"] for r in wrong) == 200
    assert len(wrong) <= seconds
    assert {r["error_code"] for r in wrong} == {"invalid_client"}
    assert sum(r["count"] for r in probes) == 200
    # Past 100 distinct client ids in a second they fold into "*": rows stay bounded.
    assert len(probes) <= seconds * 101


def _oversized_token_request(server: KindlingServer, credentials: str) -> bytes:
    """``POST /oauth2/token`` whose Basic header takes the head past the 32 KiB bound;
    the raw answer."""
    body = b"grant_type=client_credentials"
    head = (
        "POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nAuthorization: Basic {credentials}\r\n\r\n"
    ).encode()
    raw = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            sock.sendall(head + body)
            while chunk := sock.recv(65536):
                raw += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the connection closes after the answer
    return raw


def test_a_token_request_refused_431_for_its_headers_is_recorded_without_them(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    """Refused by the HTTP server's bound before any application code runs, and still a
    ``token.refused`` row like the endpoint's own refusals (coalesced per second); the
    head, including the client id it names, is nowhere in the audit log."""
    client_id = f"oversized-{uid()}"
    credentials = base64.b64encode(f"{client_id}:{'s' * 48 * 1024}".encode()).decode()
    start = time.time()
    for _ in range(3):
        raw = _oversized_token_request(audited, credentials)
        status_line, _, rest = raw.partition(b"\r\n")
        assert status_line.split()[1] == b"431", raw[:200]
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"] == "invalid_request"
    seconds = int(time.time() - start) + 2

    def refusals() -> list[dict[str, Any]]:
        rows = search(http, bearer, action="token.refused", since=str(int(start)))
        found = [r for r in rows if r["details"].get("status") == 431]
        return found if sum(r["count"] for r in found) >= 3 else []

    rows = wait_for(refusals, 5.0)
    assert sum(r["count"] for r in rows) == 3, rows
    assert len(rows) <= seconds
    for row in rows:
        assert row["error_code"] == "invalid_request" and row["result"] == "failure"
        assert row["actor"]["id"] is None and row["ip"] == "127.0.0.1"
    dump = repr(sql(audited, "SELECT * FROM audit"))
    assert client_id not in dump and credentials[:64] not in dump


def test_the_pipelines_431_on_the_token_endpoint_is_recorded(tmp_path: Path) -> None:
    """Under any ASGI server the request pipeline bounds the headers itself; its 431 on
    the token endpoint leaves the same row (and one elsewhere leaves none)."""
    from kindling.config import Settings
    from kindling.context import build_context
    from kindling.platform.audit import AUDIT_REPO, AuditFilter
    from kindling.web.app import create_app

    ctx = build_context(Settings(data_dir=tmp_path, master_key="audit-431-" + "k" * 32))
    try:
        app = create_app(ctx)
        client_id = f"oversized-{uid()}"
        header = base64.b64encode(f"{client_id}:{'s' * 48 * 1024}".encode())
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def run() -> None:
            for path in ("/oauth2/token", "/oauth2/token", "/api/v1/users"):
                scope = {
                    "type": "http",
                    "method": "POST",
                    "path": path,
                    "query_string": b"",
                    "headers": [(b"authorization", b"Basic " + header)],
                    "client": ("10.20.30.40", 50000),
                }
                await app(scope, receive, send)

        asyncio.run(run())
        assert statuses == [431, 431, 431]
        ctx.storage.audit.flush()
        with ctx.storage.read() as uow:
            rows = uow[AUDIT_REPO].search(AuditFilter(action="token.refused"), None, 100)
        assert sum(row.count for row in rows) == 2
        for row in rows:
            assert row.error_code == "invalid_request" and row.ip == "10.20.30.40"
            assert row.actor_id is None and dict(row.details)["status"] == 431
            assert client_id not in repr(row)
    finally:
        ctx.close()


# --- fail closed -------------------------------------------------------------------------


def _break_audit(server: KindlingServer) -> None:
    if server.database_url:
        sql(
            server,
            "CREATE OR REPLACE FUNCTION audit_fails() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'no space left on device'; END $$ LANGUAGE plpgsql",
        )
        sql(
            server,
            "CREATE TRIGGER audit_fails BEFORE INSERT ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_fails()",
        )
    else:
        sql(
            server,
            "CREATE TRIGGER audit_fails BEFORE INSERT ON audit "
            "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END",
        )


def _repair_audit(server: KindlingServer) -> None:
    sql(server, "DROP TRIGGER audit_fails" + (" ON audit" if server.database_url else ""))


def test_a_change_whose_audit_row_cannot_be_written_is_not_made(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    """A12 row 51: with audit inserts failing, creating a user answers 503 and leaves no
    user and no outbox event; the console refuses the same way; afterwards all works."""
    email = f"closed-{uid()}@example.com"
    console = Console(audited).login(owner_password(audited))
    _break_audit(audited)
    try:
        refused = http.post(
            "/api/v1/user",
            json={"identities": [{"type": "email", "details": {"email": email}}]},
            headers=bearer,
        )
        error_code(refused, 503, "AUDIT_LOG_UNAVAILABLE")
        page = console.post("/admin/users", {"email": email}, expect=503, form_page="/admin/users")
        assert "audit log could not be written" in page.text
    finally:
        _repair_audit(audited)
        console.close()
    listed = http.get("/api/v1/users", params={"email": email}, headers=bearer)
    assert listed.status_code == 200 and not listed.json().get("users"), listed.text
    assert sql(audited, "SELECT COUNT(*) FROM outbox WHERE data LIKE ?", (f"%{email}%",)) == [(0,)]
    created = http.post(
        "/api/v1/user",
        json={"identities": [{"type": "email", "details": {"email": email}}]},
        headers=bearer,
    )
    assert created.status_code == 200, created.text


# --- the console and the CLI -------------------------------------------------------------


def test_console_sign_ins_and_actions_are_recorded_and_shown(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    start = str(int(time.time()))
    console = Console(audited)
    try:
        for _ in range(2):
            wrong = console.login_response("not-the-password-" + uid())
            assert wrong.status_code == 401
        console.login(owner_password(audited))
        key = f"console_{uid()}"
        console.post("/admin/roles", {"name": key, "key": key}, form_page="/admin/roles")
        console.post("/admin/roles", {"name": key, "key": key}, form_page="/admin/roles")
        test = console.post(
            "/admin/test",
            {"app": audited.client_id, "audience": audited.audience},
            expect=200,
            form_page="/admin/test",
        )
        assert "eyJ" in test.text
        signed_in = search(http, bearer, action="console.signed_in", since=start)
        assert signed_in and signed_in[0]["actor"] == {"type": "console_user", "id": "admin"}
        assert signed_in[0]["ip"] == "127.0.0.1"

        def failed_sign_ins() -> list[dict[str, Any]]:
            rows = search(http, bearer, action="console.sign_in_failed", since=start)
            return rows if sum(r["count"] for r in rows) >= 2 else []

        failed = wait_for(failed_sign_ins, 3.0)
        assert sum(r["count"] for r in failed) == 2
        assert {r["error_code"] for r in failed} == {"SIGN_IN_FAILED"}
        created = [
            r
            for r in search(http, bearer, action="role.created", since=start)
            if r["actor"]["type"] == "console_user"
        ]
        assert len(created) == 1 and created[0]["actor"]["id"] == "admin"
        assert created[0]["details"] == {"operation": "role_create"}
        (duplicate,) = search(http, bearer, action="console.role_create", since=start)
        assert duplicate["result"] == "failure" and duplicate["error_code"] == "ROLE_KEY_EXISTS"
        (minted,) = search(http, bearer, action="console.test_get_token", since=start)
        assert minted["result"] == "success" and minted["actor"]["id"] == "admin"
        # The Audit page: filters, a row per entry, and pages.
        page = console.get(f"/admin/audit?action=role.created&since={start}")
        assert created[0]["target"]["id"] in page.text and "console_user" in page.text
        assert console.get("/admin/audit?since=garbage", expect=400)
        for _ in range(51):
            audited.token(scopes=["read:users"])

        def full_page() -> httpx.Response | None:
            shown = console.get("/admin/audit?action=token.issued")
            return shown if shown.text.count("<tr>") > 50 else None

        first = wait_for(full_page, 3.0)
        assert first, "the Audit page shows 50 rows and a next page"
        link = re.search(r'href="(/admin/audit\?[^"]*next_token=[^"]+)"', first.text)
        assert link, first.text[-2000:]
        second = console.get(link.group(1).replace("&amp;", "&"))
        assert "First page" in second.text and "token.issued" in second.text
        console.post("/admin/logout", {}, form_page="/admin/applications")
        assert search(http, bearer, action="console.signed_out", since=start)
    finally:
        console.close()


def test_kindling_audit_searches_and_names_the_cli_actor(
    audited: KindlingServer, http: httpx.Client, bearer: dict[str, str]
) -> None:
    made = audited.create_app(f"audit-cli-{uid()}")
    app_id = made["id"] if "id" in made else made["client_id"]
    found = audited.cli("audit", "--json", "--target", f"application:{app_id}")
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert [r["action"] for r in rows] == ["application.created"]
    assert rows[0]["actor"]["type"] == "cli" and rows[0]["actor"]["id"]
    table = audited.cli("audit", "--action", "application.*", "--limit", "5")
    assert table.returncode == 0 and "TIME (UTC)" in table.stdout and app_id in table.stdout
    bad = audited.cli("audit", "--since", "not-a-time")
    assert bad.returncode != 0 and "since" in bad.stderr
    assert audited.cli("audit", "--result", "maybe").returncode != 0


# --- no secret anywhere ------------------------------------------------------------------

_BCRYPT = "./" + string.ascii_letters + string.digits


@pytest.mark.parametrize("engine", ENGINES)
def test_no_secret_reaches_log_lines_audit_rows_or_outbox(engine: str, tmp_path: Path) -> None:
    """Representative flows with every kind of secret Kindling hands out or is handed, then
    a search of the server's whole output (access log on), every audit row and every
    outbox row for each of them. The first run's banner shows the bootstrap secret and the
    owner's password once, by design; the server is restarted so that the output searched
    is the log of a running server."""
    first, schema = _start(tmp_path, engine)
    first.stop()
    server = KindlingServer(
        data_dir=tmp_path,
        port=first.port,
        database_url=first.database_url,
        extra_args=["--access-log", "--log-format", "json"],
        client_id=first.client_id,
        client_secret=first.client_secret,
    ).start()
    found: list[str] = [first.client_secret, owner_password(first)]
    try:
        with server.client() as http:
            token = server.token()
            found.append(token)
            auth = {"Authorization": f"Bearer {token}"}

            def ok(response: httpx.Response) -> Any:
                assert response.status_code < 300, (response.status_code, response.text)
                return response.json() if response.content else None

            # users, with an imported password hash
            user = ok(
                http.post("/api/v1/user", json={"profile": {"given_name": "S"}}, headers=auth)
            )
            ok(
                http.patch(
                    "/api/v1/user",
                    params={"id": user["id"]},
                    json={"family_name": "T"},
                    headers=auth,
                )
            )
            hashed = "$2b$10$" + "".join(secrets.choice(_BCRYPT) for _ in range(53))
            found.append(hashed)
            ok(
                http.put(
                    f"/api/v1/users/{user['id']}/password",
                    json={"hashed_password": hashed, "hashing_method": "bcrypt"},
                    headers=auth,
                )
            )
            ok(http.delete("/api/v1/user", params={"id": user["id"]}, headers=auth))
            # organizations and roles
            org = ok(http.post("/api/v1/organization", json={"name": f"s-{uid()}"}, headers=auth))
            code = org["organization"]["code"]
            ok(
                http.patch(
                    f"/api/v1/organization/{code}", json={"name": f"t-{uid()}"}, headers=auth
                )
            )
            ok(http.delete(f"/api/v1/organization/{code}", headers=auth))
            key = f"s_{uid()}"
            role = ok(http.post("/api/v1/roles", json={"name": key, "key": key}, headers=auth))
            ok(
                http.patch(
                    f"/api/v1/roles/{role['role']['id']}",
                    json={"name": "n", "key": key},
                    headers=auth,
                )
            )
            ok(http.delete(f"/api/v1/roles/{role['role']['id']}", headers=auth))
            # an API, an M2M app, its secret, a rotation, tokens with both secrets
            audience = f"urn:scan:{uid()}"
            api = ok(
                http.post("/api/v1/apis", json={"name": "scan", "audience": audience}, headers=auth)
            )
            api_id = api["api"]["id"]
            scope = ok(
                http.post(
                    f"/api/v1/apis/{api_id}/scopes",
                    json={"key": "read:scan", "description": "d"},
                    headers=auth,
                )
            )
            app = ok(
                http.post(
                    "/api/v1/applications", json={"name": "scan", "type": "m2m"}, headers=auth
                )
            )
            app_id, secret = app["application"]["id"], app["application"]["client_secret"]
            found.append(secret)
            ok(
                http.patch(
                    f"/api/v1/apis/{api_id}/applications",
                    json={"applications": [{"id": app_id}]},
                    headers=auth,
                )
            )
            found.append(server.token(client_id=app_id, client_secret=secret, audience=audience))
            rotated = ok(
                http.post(
                    f"/kindling/v1/applications/{app_id}/rotate_secret", json={}, headers=auth
                )
            )
            found.append(rotated["client_secret"])
            found.append(
                server.token(
                    client_id=app_id, client_secret=rotated["client_secret"], audience=audience
                )
            )
            # API keys: create, rotate, verify, delete
            made = ok(
                http.post(
                    "/api/v1/api_keys",
                    json={
                        "name": "scan",
                        "api_id": api_id,
                        "type": "environment",
                        "scope_ids": [scope["scope"]["id"]],
                    },
                    headers=auth,
                )
            )
            found.append(made["api_key"]["key"])
            turned = ok(http.put(f"/api/v1/api_keys/{made['api_key']['id']}", headers=auth))
            found.append(turned["api_key"]["key"])
            http.post("/api/v1/api_keys/verify", json={"api_key": turned["api_key"]["key"]})
            ok(http.delete(f"/api/v1/api_keys/{made['api_key']['id']}", headers=auth))
            # a secret environment variable
            value = "env-secret-" + uid()
            found.append(value)
            ok(
                http.post(
                    "/api/v1/environment_variables",
                    json={"key": f"S_{uid().upper()}", "value": value, "is_secret": True},
                    headers=auth,
                )
            )
            # failed authentication of every kind
            for wrong in ("wrong-secret-" + uid(), "another-wrong-" + uid()):
                found.append(wrong)
                http.post(
                    "/oauth2/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": app_id,
                        "client_secret": wrong,
                        "audience": audience,
                    },
                )
            basic = base64.b64encode(f"{app_id}:basic-wrong-{uid()}".encode()).decode()
            found.append(basic)
            http.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials", "audience": audience},
                headers={"Authorization": f"Basic {basic}"},
            )
            forged = "eyJhbGciOiJIUzI1NiJ9." + uid() + "." + uid()
            found.append(forged)
            assert (
                http.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"}).status_code
                == 401
            )
            ok(http.delete(f"/api/v1/applications/{app_id}", headers=auth))
        # the console: a wrong password, a sign-in, an action, a test token, sign-out
        console = Console(server)
        try:
            wrong_password = "console-wrong-" + uid()
            found.append(wrong_password)
            assert console.login_response(wrong_password).status_code == 401
            console.login(owner_password(first))
            found.extend(c.value for c in console.http.cookies.jar if c.value)
            console.post(
                "/admin/users", {"email": f"scan-{uid()}@example.com"}, form_page="/admin/users"
            )
            page = console.post(
                "/admin/test",
                {"app": server.client_id, "audience": server.audience},
                expect=200,
                form_page="/admin/test",
            )
            minted = re.search(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", page.text)
            assert minted
            found.append(minted.group(0))
            console.post("/admin/logout", {}, form_page="/admin/applications")
        finally:
            console.close()
        # the CLI's own secrets and tokens
        rotated_cli = server.cli("apps", "rotate-secret", server.client_id, "--json")
        assert rotated_cli.returncode == 0, rotated_cli.stderr
        found.append(json.loads(rotated_cli.stdout)["client_secret"])
    finally:
        server.stop()
    try:
        audit_rows = sql(server, "SELECT * FROM audit")
        outbox_rows = sql(server, "SELECT * FROM outbox")
    finally:
        if schema:
            drop_pg_schema(schema)
    actions = {str(row[6]) for row in audit_rows}
    assert {
        "token.issued",
        "token.refused",
        "user.created",
        "user.password_updated",
        "application.secret_rotated",
        "api_key.created",
        "api_key.rotated",
        "console.signed_in",
        "console.sign_in_failed",
        "console.test_get_token",
        "environment_variable.created",
    } <= actions, actions
    assert '"path": "/api/v1/users"' in server.output or "/api/v1/users" in server.output
    haystacks = {
        "server output": server.output,
        "audit rows": "\n".join(repr(row) for row in audit_rows),
        "outbox rows": "\n".join(repr(row) for row in outbox_rows),
    }
    secrets_found = [s for s in found if s and len(s) >= 12]
    print(
        f"\nsearched for {len(secrets_found)} secrets in {len(server.output)} characters of "
        f"output, {len(audit_rows)} audit rows and {len(outbox_rows)} outbox rows"
    )
    assert len(secrets_found) == len(found), found
    for where, text in haystacks.items():
        for value in secrets_found:
            assert value not in text, f"a secret ({value[:6]}...) is in the {where}"
            if value.startswith("eyJ"):  # a token's signature alone
                assert value.rsplit(".", 1)[-1] not in text, f"a token signature is in the {where}"


# --- every issued token has its row -------------------------------------------------------


def test_every_token_issued_through_the_endpoint_has_its_row(tmp_path: Path) -> None:
    """300 tokens through the token endpoint's ASGI callable with the audit writer: once
    the writer has flushed, each has its ``token.issued`` row. (What this costs per token
    is a benchmark's question, not a test's.)"""
    from kindling.bootstrap import bootstrap
    from kindling.config import Settings
    from kindling.context import build_context
    from kindling.oauth.server import TokenEndpoint
    from kindling.platform.audit import AUDIT_REPO, AuditFilter
    from kindling.resources.applications.clients import StorageClientStore
    from kindling.web.token import TokenASGI

    ctx = build_context(Settings(data_dir=tmp_path, master_key="audit-rows-" + "k" * 32))
    try:
        issuer = "http://localhost:9"
        result = bootstrap(ctx, issuer)
        ctx.keyring.reload()
        endpoint = TokenEndpoint(
            store=StorageClientStore(ctx.storage),
            verifier=ctx.hasher,
            signer=ctx.keyring.signer,
            issuer=lambda: issuer,
        )
        writer = ctx.storage.audit
        audited = TokenASGI(endpoint, ctx.clock, inline=True, audit=writer)
        body = (
            f"grant_type=client_credentials&client_id={result.client_id}"
            f"&client_secret={result.client_secret}&audience={result.audience}"
            "&scope=read:users%20read:roles"
        ).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/oauth2/token",
            "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
            "client": ("127.0.0.1", 50000),
        }
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def run() -> None:
            for _ in range(300):
                await audited(dict(scope), receive, send)

        asyncio.run(run())
        assert statuses == [200] * 300
        writer.flush()
        with ctx.storage.read() as uow:
            rows = uow[AUDIT_REPO].search(AuditFilter(action="token.issued"), None, 10_000)
        assert len(rows) == 300
    finally:
        ctx.close()


def test_retention_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from kindling.config import Settings

    assert Settings.from_env().audit_retention_days == 365
    monkeypatch.setenv("KINDLING_AUDIT_RETENTION_DAYS", "30")
    assert Settings.from_env().audit_retention_days == 30
    monkeypatch.setenv("KINDLING_AUDIT_RETENTION_DAYS", "0")
    assert Settings.from_env().audit_retention_days == 0
    monkeypatch.setenv("KINDLING_AUDIT_RETENTION_DAYS", "a year")
    with pytest.raises(ValueError, match="KINDLING_AUDIT_RETENTION_DAYS"):
        Settings.from_env()
