"""Webhooks end to end: real ``kindling serve`` processes, real receivers on 127.0.0.1,
and Kinde's own decoder (``@kinde/webhooks``) verifying what arrives over the server's TLS.

* The six Webhooks operations over HTTP on both engines: Kinde's exact 2xx and
  schema-valid bodies, bad input answered 400 with its code and nothing written,
  Kindling's re-send extension and its scope.
* Delivery: the event of ``POST /api/v1/user`` arrives as a signed JWT that
  ``decodeWebhook`` verifies against ``/.well-known/jwks.json``, with the right type and
  data; a receiver that is down gets it once it is back; a server killed with SIGKILL
  mid-retry delivers it after a restart with the same ``event_id``; two workers on one
  database deliver each event once; a redirect is a failed attempt and is not followed;
  an oversized answer is cut off.
* A receiver that takes ten seconds per request does not slow the Management API: the
  p99 of 50 ``POST /api/v1/user`` with it subscribed stays within 2x + 50 ms of the p99
  without it.
* Visibility: ``kindling webhooks list|deliveries|resend``, the console's webhooks page
  and its Re-send button (CSRF-checked), ``POST /kindling/v1/events/{id}/resend``.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kindling.platform.engine import Engine, PostgresEngine, SqliteEngine
from kindling.platform.storage import SQLITE_FILE
from tests.console_support import Console, csrf_of, owner_password
from tests.contract.contract import load_contract
from tests.support import (
    KindlingServer,
    create_pg_schema,
    drop_pg_schema,
    error_code,
    free_port,
    token_for,
)
from tests.webhook_receiver import JS_DIR, Behaviour, Receiver, claims, decode_with_kinde

CONTRACT = load_contract()
BASE = "/api/v1"
#: Fast retries for the delivery tests: back-off base 0.3 s, window 2 min, 2 s attempts.
FAST_RETRIES = {
    "KINDLING_WEBHOOK_RETRY_BASE": "0.3",
    "KINDLING_WEBHOOK_RETRY_WINDOW": "120",
    "KINDLING_WEBHOOK_TIMEOUT": "2",
}


def uid() -> str:
    return uuid.uuid4().hex[:12]


class Api:
    """The Management API of one server with an all-scopes token."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.http.headers["Authorization"] = f"Bearer {token_for(server)}"
        self.made: list[str] = []

    def ok(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        """Call; assert the spec's exact 2xx and a schema-valid body; return the body."""
        response = self.http.request(method, BASE + (path or template), **kwargs)
        codes = CONTRACT.find(method, BASE + template).success_codes
        assert response.status_code == codes[0], (method, path, response.text)
        body = response.json()
        CONTRACT.validate_response(method, BASE + template, response.status_code, body)
        return body

    def webhook(self, endpoint: str, event_types: list[str], **extra: Any) -> str:
        body = self.ok(
            "POST",
            "/webhooks",
            json={"endpoint": endpoint, "event_types": event_types, "name": f"t-{uid()}", **extra},
        )
        self.made.append(body["webhook"]["id"])
        return str(body["webhook"]["id"])

    def webhooks(self) -> dict[str, dict[str, Any]]:
        return {w["id"]: w for w in self.ok("GET", "/webhooks")["webhooks"]}

    def user(self, email: str | None = None) -> str:
        body = self.ok(
            "POST",
            "/user",
            json={
                "profile": {"given_name": "Ada", "family_name": "Lovelace"},
                "identities": [
                    {"type": "email", "details": {"email": email or f"{uid()}@example.com"}}
                ],
            },
        )
        return str(body["id"])

    def close(self) -> None:
        for webhook_id in self.made:
            self.http.delete(f"{BASE}/webhooks/{webhook_id}")
        self.http.close()


def engine_of(server: KindlingServer) -> Engine:
    if server.database_url:
        return PostgresEngine(server.database_url, max_size=1)
    return SqliteEngine(Path(server.data_dir) / SQLITE_FILE)


def stored_deliveries(server: KindlingServer, webhook_id: str) -> list[dict[str, Any]]:
    """The webhook's deliveries with their attempts, read from the database (polling)."""
    engine = engine_of(server)
    try:
        with engine.session(write=False) as session:
            rows = session.all(
                "SELECT id, event_id, status, attempts FROM webhook_deliveries "
                "WHERE webhook_id = ? ORDER BY seq",
                (webhook_id,),
            )
            found = []
            for row in rows:
                attempts = session.all(
                    "SELECT status_code, error, response_truncated, latency_ms "
                    "FROM webhook_attempts WHERE delivery_id = ? ORDER BY seq",
                    (row["id"],),
                )
                found.append({**row, "attempt_log": [dict(a) for a in attempts]})
            return found
    finally:
        engine.close()


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


def cli_json(server: KindlingServer, *args: str) -> Any:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def for_user(user_id: str) -> Callable[[Any], bool]:
    return lambda r: claims(r.token)["data"].get("user", {}).get("id") == user_id


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def hooks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    """An HTTPS server (SQLite) that retries fast, for the delivery tests."""
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp("hooks"),
        port=free_port(),
        tls=True,
        extra_env=FAST_RETRIES,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hooks(hooks_server: KindlingServer) -> Iterator[Api]:
    client = Api(hooks_server)
    yield client
    client.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


# --- the operations over HTTP, both engines ---------------------------------------------


def test_webhooks_round_trip_with_kindes_shapes(api: Api) -> None:
    endpoint = f"http://127.0.0.1:9/closed/{uid()}?token=abc"
    created = api.ok(
        "POST",
        "/webhooks",
        json={
            "endpoint": endpoint,
            "event_types": ["webhook.deleted", "role.created"],
            "name": "Round trip",
            "description": "first",
        },
    )
    assert created["code"] == "WEBHOOK_CREATED" and created["webhook"]["endpoint"] == endpoint
    webhook_id = created["webhook"]["id"]
    api.made.append(webhook_id)
    item = api.webhooks()[webhook_id]
    assert item == {
        "id": webhook_id,
        "name": "Round trip",
        "endpoint": endpoint,
        "description": "first",
        "event_types": ["webhook.deleted", "role.created"],
        "created_on": item["created_on"],
    }
    updated = api.ok(
        "PATCH",
        "/webhooks/{webhook_id}",
        f"/webhooks/{webhook_id}",
        json={"event_types": ["user.deleted"], "description": None},
    )
    assert updated == {
        "code": "WEBHOOK_UPDATED",
        "message": "Webhook successfully updated",
        "webhook": {"id": webhook_id},
    }
    after = api.webhooks()[webhook_id]
    assert after["event_types"] == ["user.deleted"] and "description" not in after
    assert after["name"] == "Round trip" and after["endpoint"] == endpoint
    deleted = api.ok("DELETE", "/webhooks/{webhook_id}", f"/webhooks/{webhook_id}")
    assert deleted["code"] == "WEBHOOK_DELETED"
    assert webhook_id not in api.webhooks()


def test_event_types_list_the_whole_catalogue(api: Api) -> None:
    from kindling.platform.event_types import EventType

    body = api.ok("GET", "/event_types")
    assert [t["code"] for t in body["event_types"]] == [m.value for m in EventType]
    user_created = body["event_types"][0]
    assert (user_created["name"], user_created["origin"]) == ("User created", "kinde")
    assert user_created["schema"]["properties"]["type"] == {"const": "user.created"}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"endpoint": "http://hooks.example.com/kinde"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "http://192.168.1.10:8080/kinde"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "ftp://hooks.example.com/"}, "ENDPOINT_NOT_HTTPS"),
        ({"endpoint": "https://user:pw@hooks.example.com/"}, "INVALID_ENDPOINT"),
        ({"endpoint": "not a url"}, "INVALID_ENDPOINT"),
        ({"endpoint": None}, "ENDPOINT_REQUIRED"),
        ({"event_types": ["user.created", "user.teleported"]}, "UNKNOWN_EVENT_TYPE"),
        ({"event_types": []}, "EVENT_TYPES_REQUIRED"),
        ({"event_types": "user.created"}, "INVALID_EVENT_TYPES"),
        ({"name": ""}, "NAME_REQUIRED"),
    ],
)
def test_bad_webhooks_are_refused_with_400_and_nothing_is_written(
    api: Api, payload: dict[str, Any], code: str
) -> None:
    before = set(api.webhooks())
    request = {
        "endpoint": "https://hooks.example.com/kinde",
        "event_types": ["user.created"],
        "name": "bad",
        **payload,
    }
    response = api.http.post(f"{BASE}/webhooks", json=request)
    error_code(response, 400, code)
    assert set(api.webhooks()) == before


def test_bad_requests_name_their_code(api: Api) -> None:
    webhook_id = api.webhook(f"http://127.0.0.1:9/{uid()}", ["webhook.deleted"])
    post, patch = api.http.post, api.http.patch
    error_code(post(f"{BASE}/webhooks"), 400, "BODY_REQUIRED")
    error_code(
        post(f"{BASE}/webhooks", content=b"{", headers={"content-type": "application/json"}),
        400,
        "INVALID_JSON",
    )
    error_code(patch(f"{BASE}/webhooks/{webhook_id}", json={}), 400, "NO_FIELDS_TO_UPDATE")
    error_code(
        patch(f"{BASE}/webhooks/{webhook_id}", json={"endpoint": "https://elsewhere.example/"}),
        400,
        "ENDPOINT_NOT_ALLOWED",
    )
    # The spec declares no 404 for these operations: a missing webhook or event is a 400.
    missing = f"webhook_{uuid.uuid4().hex}"
    error_code(patch(f"{BASE}/webhooks/{missing}", json={"name": "x"}), 400, "WEBHOOK_NOT_FOUND")
    error_code(api.http.delete(f"{BASE}/webhooks/{missing}"), 400, "WEBHOOK_NOT_FOUND")
    error_code(api.http.get(f"{BASE}/events/event_{uuid.uuid4().hex}"), 400, "EVENT_NOT_FOUND")
    assert api.webhooks()[webhook_id]["event_types"] == ["webhook.deleted"]


def test_the_resend_extension_needs_update_webhooks_and_a_known_event(
    api: Api, server: KindlingServer
) -> None:
    url = f"/kindling/v1/events/event_{uuid.uuid4().hex}/resend"
    weak = token_for(server, ["read:webhooks", "create:webhooks", "read:events"])
    error_code(api.http.post(url, headers={"Authorization": f"Bearer {weak}"}), 403)
    error_code(api.http.post(url), 404, "EVENT_NOT_FOUND")
    with server.client() as anonymous:
        assert anonymous.post(url).status_code == 401


# --- delivery ------------------------------------------------------------------------------


def test_pinned_webhook_decoder_is_installed() -> None:
    """``@kinde/webhooks`` is pinned exactly, the lock agrees, and npm installed it."""
    manifest = json.loads((JS_DIR / "package.json").read_text(encoding="utf-8"))
    version = manifest["dependencies"]["@kinde/webhooks"]
    lock = json.loads((JS_DIR / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/@kinde/webhooks"]["version"] == version == "1.0.0"
    installed = JS_DIR / "node_modules/@kinde/webhooks/package.json"
    assert json.loads(installed.read_text(encoding="utf-8"))["version"] == version


def test_a_new_user_arrives_as_a_jwt_kindes_decoder_verifies(
    hooks: Api, hooks_server: KindlingServer, receiver: Receiver
) -> None:
    webhook_id = hooks.webhook(receiver.url, ["user.created"])
    email = f"ada-{uid()}@example.com"
    user_id = hooks.user(email)
    (arrived,) = receiver.wait_for(for_user(user_id))
    assert arrived.headers["content-type"] == "application/jwt"
    tampered = arrived.token[:-4] + ("AAAA" if not arrived.token.endswith("AAAA") else "BBBB")
    verified, refused = decode_with_kinde(hooks_server, [arrived.token, tampered])
    assert refused is None
    assert verified is not None
    assert verified["type"] == "user.created" and verified["source"] == "api"
    user = verified["data"]["user"]
    assert (user["id"], user["email"], user["first_name"], user["last_name"]) == (
        user_id,
        email,
        "Ada",
        "Lovelace",
    )
    assert user["is_suspended"] is False and user["organizations"] == []
    assert verified["event_id"].startswith("event_") and verified["timestamp"].endswith("Z")
    (delivery,) = [d for d in stored_deliveries(hooks_server, webhook_id)]
    assert arrived.headers["webhook-id"] == delivery["id"]
    assert delivery["event_id"] == verified["event_id"]
    # Signed with the same keys, but typed ``webhook+jwt``: never accepted as an access token.
    with hooks_server.client() as replayed:
        bearer = {"Authorization": f"Bearer {arrived.token}"}
        assert replayed.get(f"{BASE}/webhooks", headers=bearer).status_code == 401
    event = hooks.ok("GET", "/events/{event_id}", f"/events/{verified['event_id']}")["event"]
    assert (event["type"], event["source"], event["data"]) == (
        "user.created",
        "api",
        verified["data"],
    )


def test_a_receiver_that_is_down_gets_the_event_when_it_is_back(
    hooks: Api, hooks_server: KindlingServer
) -> None:
    receiver = Receiver()  # its port is reserved, nothing listens yet
    webhook_id = hooks.webhook(receiver.url, ["user.created"])
    user_id = hooks.user()

    def refused_twice() -> bool:
        found = stored_deliveries(hooks_server, webhook_id)
        return bool(found) and len(found[0]["attempt_log"]) >= 2

    eventually(refused_twice, what="two refused attempts")
    receiver.start()
    try:
        (arrived,) = receiver.wait_for(for_user(user_id))
    finally:
        receiver.stop()
    (delivery,) = eventually(
        lambda: [
            d for d in stored_deliveries(hooks_server, webhook_id) if d["status"] == "delivered"
        ]
    )
    log = delivery["attempt_log"]
    assert [a["error"] for a in log[:2]] == ["connection refused", "connection refused"]
    assert log[-1]["status_code"] == 200 and log[-1]["error"] is None
    assert claims(arrived.token)["event_id"] == delivery["event_id"]
    listed = cli_json(hooks_server, "webhooks", "deliveries", "--webhook", webhook_id)
    assert [d["id"] for d in listed] == [delivery["id"]]
    assert listed[0]["status"] == "delivered" and listed[0]["attempts"] == len(log)
    assert listed[0]["attempt_log"][0]["error"] == "connection refused"


def test_a_redirect_is_a_failed_attempt_and_is_never_followed(
    hooks: Api, hooks_server: KindlingServer, receiver: Receiver
) -> None:
    moved = Receiver(behaviour=Behaviour(status=302, headers={"Location": receiver.url})).start()
    try:
        webhook_id = hooks.webhook(moved.url, ["user.created"])
        user_id = hooks.user()
        moved.wait_for(for_user(user_id), count=2)
        time.sleep(0.5)
        attempts = stored_deliveries(hooks_server, webhook_id)[0]["attempt_log"]
    finally:
        moved.stop()
    assert receiver.received == []  # the Location was never requested
    assert attempts and all(a["status_code"] == 302 for a in attempts)
    assert "redirect" in attempts[0]["error"] and receiver.url in attempts[0]["error"]
    (delivery,) = stored_deliveries(hooks_server, webhook_id)
    assert delivery["status"] == "pending"  # still retried, until the window closes


def test_an_oversized_answer_is_cut_off(hooks: Api, hooks_server: KindlingServer) -> None:
    huge = Receiver(behaviour=Behaviour(stream=512 * 1024 * 1024)).start()
    try:
        webhook_id = hooks.webhook(huge.url, ["user.created"])
        hooks.user()
        assert huge.cut_off.wait(20), "the answer was read to the end"
        (delivery,) = eventually(
            lambda: [
                d for d in stored_deliveries(hooks_server, webhook_id) if d["status"] != "pending"
            ]
        )
    finally:
        huge.stop()
    assert delivery["status"] == "delivered"
    (attempt,) = delivery["attempt_log"]
    assert attempt["status_code"] == 200 and bool(attempt["response_truncated"]) is True
    assert attempt["latency_ms"] < 2000
    assert huge.streamed < 64 * 1024 * 1024  # of the 512 MiB it meant to send


def test_resend_through_the_extension_the_cli_and_the_console(
    hooks: Api, hooks_server: KindlingServer, receiver: Receiver
) -> None:
    webhook_id = hooks.webhook(receiver.url, ["user.created"])
    user_id = hooks.user()
    (first,) = receiver.wait_for(for_user(user_id))
    event_id = claims(first.token)["event_id"]

    answer = hooks.http.post(f"/kindling/v1/events/{event_id}/resend")
    assert answer.status_code == 200, answer.text
    assert answer.json()["deliveries"] == [
        {"id": first.headers["webhook-id"], "webhook_id": webhook_id}
    ]
    receiver.wait_for(for_user(user_id), count=2)

    queued = cli_json(hooks_server, "webhooks", "resend", event_id)
    assert queued == {
        "event_id": event_id,
        "deliveries": [{"id": first.headers["webhook-id"], "webhook_id": webhook_id}],
    }
    receiver.wait_for(for_user(user_id), count=3)

    console = Console(hooks_server).login(owner_password(hooks_server))
    try:
        page = console.get("/admin/webhooks").text
        assert webhook_id in page and event_id in page and "Re-send" in page
        refused = console.http.post(
            "/admin/webhooks/resend",
            data={"event_id": event_id, "csrf_token": "forged"},
            headers={"Origin": console.origin},
        )
        assert refused.status_code == 403
        sent = console.http.post(
            "/admin/webhooks/resend",
            data={"event_id": event_id, "csrf_token": csrf_of(page)},
            headers={"Origin": console.origin},
        )
        assert sent.status_code == 303 and sent.headers["location"] == "/admin/webhooks"
        assert "Queued" in console.follow(sent).text
    finally:
        console.close()
    arrived = receiver.wait_for(for_user(user_id), count=4)
    # Every copy is the same event and the same webhook-id, at least once.
    assert len(arrived) == 4
    assert {claims(r.token)["event_id"] for r in arrived} == {event_id}
    assert {r.headers["webhook-id"] for r in arrived} == {first.headers["webhook-id"]}

    eventually(
        lambda: stored_deliveries(hooks_server, webhook_id)[0]["status"] == "delivered",
        what="the last copy recorded as delivered",
    )
    listed = cli_json(hooks_server, "webhooks", "list")
    mine = next(w for w in listed if w["id"] == webhook_id)
    assert mine["deliveries"] == {"pending": 0, "delivered": 1, "failed": 0}
    assert mine["endpoint"] == receiver.url


# --- SIGKILL mid-retry, and two workers --------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def engine_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    from tests.conftest import require_postgres

    require_postgres()
    schema, url = create_pg_schema()
    yield url
    drop_pg_schema(schema)


def test_a_server_killed_mid_retry_delivers_after_a_restart(
    tmp_path: Path, engine_url: str | None
) -> None:
    slow_retries = {**FAST_RETRIES, "KINDLING_WEBHOOK_RETRY_BASE": "1.0"}
    server = KindlingServer(
        data_dir=tmp_path, port=free_port(), database_url=engine_url, extra_env=slow_retries
    ).start()
    receiver = Receiver()
    try:
        api = Api(server)
        webhook_id = api.webhook(receiver.url, ["user.created"])
        user_id = api.user()
        eventually(
            lambda: any(d["attempt_log"] for d in stored_deliveries(server, webhook_id)),
            what="a refused attempt",
        )
        api.http.close()
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        (before,) = stored_deliveries(server, webhook_id)
        assert before["status"] == "pending" and before["attempts"] >= 1
        receiver.start()
        server.start()  # the same data and database, a new process
        (arrived,) = receiver.wait_for(for_user(user_id), timeout=40)
    finally:
        receiver.stop()
        server.stop()
    payload = claims(arrived.token)
    assert payload["event_id"] == before["event_id"]
    assert arrived.headers["webhook-id"] == before["id"]
    (after,) = stored_deliveries(server, webhook_id)
    assert after["status"] == "delivered" and after["attempts"] > before["attempts"]


def test_two_workers_deliver_every_event_once(tmp_path: Path, engine_url: str | None) -> None:
    server = KindlingServer(
        data_dir=tmp_path,
        port=free_port(),
        database_url=engine_url,
        extra_args=["--workers", "2"],
        extra_env=FAST_RETRIES,
    ).start()
    receiver = Receiver().start()
    try:
        # ``Uvicorn running on`` comes from the supervisor, before the workers serve.
        eventually(lambda: server.output.count("Application startup complete.") >= 2, 60)
        api = Api(server)
        api.webhook(receiver.url, ["user.created"])
        users = [api.user() for _ in range(20)]
        arrived = receiver.wait_for(lambda r: True, count=20, timeout=40)
        time.sleep(2)  # anything sent twice would have arrived by now
        api.http.close()
    finally:
        receiver.stop()
        server.stop()
    got = [claims(r.token)["data"]["user"]["id"] for r in receiver.received]
    assert sorted(got) == sorted(users), (len(got), len(arrived))
    assert len({claims(r.token)["event_id"] for r in receiver.received}) == 20


# --- a slow receiver does not slow the API ----------------------------------------------------


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(round(0.99 * len(ordered))) - 1)]


def _create_users(http: httpx.Client, n: int) -> list[float]:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        response = http.post(
            f"{BASE}/user",
            json={"identities": [{"type": "email", "details": {"email": f"{uid()}@example.com"}}]},
        )
        took.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return took


def test_a_slow_receiver_does_not_slow_the_management_api(tmp_path: Path) -> None:
    server = KindlingServer(data_dir=tmp_path, port=free_port()).start()  # default settings
    slow = Receiver(behaviour=Behaviour(delay=10.0)).start()
    try:
        api = Api(server)
        _create_users(api.http, 10)  # warm up
        without = _p99(_create_users(api.http, 50))
        api.webhook(slow.url, ["user.created"])
        _create_users(api.http, 3)
        slow.wait_for(lambda r: True, count=2, timeout=10)  # two requests are being held
        with_slow = _p99(_create_users(api.http, 50))
        print(
            f"\np99 of 50 POST /api/v1/user: {without * 1000:.1f} ms without the slow "
            f"receiver, {with_slow * 1000:.1f} ms with it subscribed"
        )
        assert with_slow < 2 * without + 0.050, (without, with_slow)
        # The receiver was held meanwhile, never more than two requests at a time.
        assert slow.peak == 2, slow.peak
        api.close()
    finally:
        slow.stop()
        server.stop()
