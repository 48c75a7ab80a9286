"""Several ``kindling serve`` instances on one PostgreSQL behave as one server (issue 12).

Two instances, A and B, share only configuration: ``KINDLING_DATABASE_URL`` (one fresh
schema), ``KINDLING_MASTER_KEY`` and ``KINDLING_ISSUER``; each has its own data dir. A
token from either is accepted by the other, and every change that the token path caches
(a revoked token, a removed authorization, narrowed scopes, a deleted application, a key
rotation, an emergency key revoke), made through A's HTTP API, is enforced by B within
one second: B is polled for at most 1 s and must show the change. Before each change B
has answered for the state it replaces, so what is checked is B's cache being dropped by
the push (``LISTEN kindling_changes``), not a cold read. With B's listening connection
killed (``pg_terminate_backend``), B says so in its log, listens again, and changes still
reach it. Webhook events made through both instances are delivered once each.

In process, on the same database: the engine's change marker moves on a commit by any
connection, at once on this process's own token-path commit, not on a commit that changed
nothing the token path reads (the audit writer's), and right after its listening
connection is killed it never returns the marker of before. Audit pruning by two
processes at once takes disjoint rows without waiting (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import jwt
import psycopg
import pytest

from kindling.platform.audit_sql import SqlAuditLog
from kindling.platform.engine import PostgresEngine
from kindling.platform.migrations import migrate
from tests.conftest import require_postgres
from tests.support import PG_ADMIN_URL, KindlingServer, create_pg_schema, drop_pg_schema, free_port
from tests.webhook_receiver import Receiver, claims

#: Run first (tests/conftest.py): about 3 s per test on a quiet machine.
pytestmark = pytest.mark.long(3)

T = TypeVar("T")

#: How long B may take to enforce a change made through A.
PUSH = 1.0
USERS = "/api/v1/users"
JWKS = "/.well-known/jwks.json"


# --- the two instances -------------------------------------------------------------------


@dataclass
class Instances:
    a: KindlingServer
    b: KindlingServer
    audience: str  # the Management API's, the same for both (one issuer)
    client_id: str  # the bootstrap application A's first run printed
    client_secret: str


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    require_postgres()
    schema, url = create_pg_schema()
    port_a, port_b = free_port(), free_port()
    issuer = f"http://localhost:{port_a}"
    shared = {
        "KINDLING_MASTER_KEY": secrets.token_urlsafe(32),
        "KINDLING_ISSUER": issuer,
        # The polls below send bursts of token requests the per-client limit would answer 429.
        "KINDLING_RATE_LIMITS": "off",
        "KINDLING_WEBHOOK_RETRY_BASE": "0.3",
        "KINDLING_WEBHOOK_TIMEOUT": "2",
    }
    a = KindlingServer(
        data_dir=tmp_path_factory.mktemp("instance-a"),
        port=port_a,
        database_url=url,
        extra_env=shared,
    )
    b = KindlingServer(
        data_dir=tmp_path_factory.mktemp("instance-b"),
        port=port_b,
        database_url=url,
        extra_env=shared,
    )
    try:
        a.start()
        b.start()  # the same database: no first run, so no credentials printed
        assert a.client_id and "client secret:" not in b.output
        yield Instances(a, b, f"{issuer}/api", a.client_id, a.client_secret)
    finally:
        b.stop()
        a.stop()
        drop_pg_schema(schema)


def within(seconds: float, check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` until it returns something true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {seconds:g} s")
        time.sleep(0.01)


def http(server: KindlingServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=10)


def token_response(
    server: KindlingServer, client_id: str, client_secret: str, audience: str, scope: str = ""
) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "audience": audience,
    }
    if scope:
        form["scope"] = scope
    with http(server) as client:
        return client.post("/oauth2/token", data=form)


def admin_token(pair: Instances, server: KindlingServer) -> str:
    """A fresh all-scopes Management API token of the bootstrap application from ``server``
    (fresh: a test below revokes the key that signed the earlier ones)."""
    response = token_response(server, pair.client_id, pair.client_secret, pair.audience)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def manage(
    pair: Instances, method: str, path: str, expect: int = 200, **kwargs: Any
) -> dict[str, Any]:
    """One Management API call through A."""
    headers = {"Authorization": f"Bearer {admin_token(pair, pair.a)}"}
    with http(pair.a) as client:
        response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == expect, (method, path, response.status_code, response.text)
    return response.json() if response.content else {}


def users_status(server: KindlingServer, token: str) -> int:
    with http(server) as client:
        return client.get(USERS, headers={"Authorization": f"Bearer {token}"}).status_code


def jwks_kids(server: KindlingServer) -> set[str]:
    with http(server) as client:
        response = client.get(JWKS)
    assert response.status_code == 200
    return {key["kid"] for key in response.json()["keys"]}


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


@dataclass
class App:
    id: str
    client_id: str
    client_secret: str
    api_id: str
    audience: str
    scopes: dict[str, str]  # key -> scope id


def authorized_app(pair: Instances, scope_keys: tuple[str, ...] = ()) -> App:
    """An API with ``scope_keys``, and an M2M application authorized for it, through A."""
    audience = f"https://instances-{uuid.uuid4().hex[:8]}.example.com"
    api_id = manage(pair, "POST", "/api/v1/apis", json={"name": "Shared", "audience": audience})[
        "api"
    ]["id"]
    scopes = {
        key: manage(pair, "POST", f"/api/v1/apis/{api_id}/scopes", json={"key": key})["scope"]["id"]
        for key in scope_keys
    }
    created = manage(
        pair,
        "POST",
        "/api/v1/applications",
        201,
        json={"name": f"instances-{uuid.uuid4().hex[:8]}", "type": "m2m"},
    )["application"]
    app = App(
        created["id"], created["client_id"], created["client_secret"], api_id, audience, scopes
    )
    set_authorized(pair, app, True)
    return app


def set_authorized(pair: Instances, app: App, authorized: bool) -> None:
    item = {"id": app.id} if authorized else {"id": app.id, "operation": "delete"}
    manage(pair, "PATCH", f"/api/v1/apis/{app.api_id}/applications", json={"applications": [item]})


def grant_path(app: App, key: str) -> str:
    return f"/api/v1/apis/{app.api_id}/applications/{app.id}/scopes/{app.scopes[key]}"


def ask(server: KindlingServer, app: App, scope: str = "") -> httpx.Response:
    return token_response(server, app.client_id, app.client_secret, app.audience, scope)


def granted(server: KindlingServer, app: App) -> list[str] | None:
    """The scopes ``server`` grants ``app`` now, or None when it refuses."""
    response = ask(server, app)
    if response.status_code != 200:
        return None
    scope = response.json().get("scope") or ""
    return sorted(scope.split())


def refused_with(server: KindlingServer, app: App, status: int, error: str) -> bool:
    response = ask(server, app)
    return response.status_code == status and response.json().get("error") == error


# --- one server, as far as a token is concerned ------------------------------------------


def test_a_token_from_either_instance_is_accepted_by_the_other(instances: Instances) -> None:
    from_a = admin_token(instances, instances.a)
    from_b = admin_token(instances, instances.b)
    assert users_status(instances.b, from_a) == 200
    assert users_status(instances.a, from_b) == 200
    # RFC 7662 at B about A's token: active, issued by the one issuer.
    with http(instances.b) as client:
        answer = client.post(
            "/oauth2/introspect",
            data={"token": from_a},
            auth=(instances.client_id, instances.client_secret),
        ).json()
    assert answer["active"] is True and answer["iss"] == instances.audience.removesuffix("/api")
    assert jwks_kids(instances.a) == jwks_kids(instances.b)


def test_a_token_revoked_through_a_is_refused_by_b_within_a_second(instances: Instances) -> None:
    token = admin_token(instances, instances.a)
    assert users_status(instances.b, token) == 200
    with http(instances.a) as client:
        revoked = client.post(
            "/oauth2/revoke",
            data={"token": token},
            auth=(instances.client_id, instances.client_secret),
        )
    assert revoked.status_code == 200, revoked.text
    within(PUSH, lambda: users_status(instances.b, token) == 401, "B refuses the revoked token")
    with http(instances.b) as client:
        answer = client.post(
            "/oauth2/introspect",
            data={"token": token},
            auth=(instances.client_id, instances.client_secret),
        )
    assert answer.json() == {"active": False}


def test_an_authorization_removed_through_a_is_refused_by_b_within_a_second(
    instances: Instances,
) -> None:
    app = authorized_app(instances)
    assert granted(instances.b, app) == []
    set_authorized(instances, app, False)
    within(
        PUSH,
        lambda: refused_with(instances.b, app, 400, "unauthorized_client"),
        "B refuses the application it is no longer authorized for",
    )


def test_scopes_narrowed_through_a_are_narrowed_by_b_within_a_second(
    instances: Instances,
) -> None:
    app = authorized_app(instances, ("items:read", "items:write"))
    for key in app.scopes:
        manage(instances, "POST", grant_path(app, key))
    assert granted(instances.b, app) == ["items:read", "items:write"]
    manage(instances, "DELETE", grant_path(app, "items:read"))
    within(
        PUSH,
        lambda: granted(instances.b, app) == ["items:write"],
        "B grants only the scope still granted",
    )
    refused = ask(instances.b, app, "items:read")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_scope")


def test_an_application_deleted_through_a_is_refused_by_b_within_a_second(
    instances: Instances,
) -> None:
    app = authorized_app(instances)
    assert granted(instances.b, app) == []
    manage(instances, "DELETE", f"/api/v1/applications/{app.id}")
    within(
        PUSH,
        lambda: refused_with(instances.b, app, 401, "invalid_client"),
        "B refuses the deleted application",
    )


# --- signing keys ------------------------------------------------------------------------


def test_b_publishes_a_key_rotated_through_a_before_a_signs_with_it(instances: Instances) -> None:
    old = kid_of(admin_token(instances, instances.a))
    assert old in jwks_kids(instances.b)
    rotated = manage(instances, "POST", "/kindling/v1/keys/rotate", json={"publish_delay": 3})
    new = rotated["key"]["kid"]
    within(PUSH, lambda: new in jwks_kids(instances.b), "B publishes the new key")
    # Until it signs: every token A signs carries a kid B published before it was signed.
    deadline = time.monotonic() + 8
    while True:
        published = jwks_kids(instances.b)
        token = admin_token(instances, instances.a)
        assert kid_of(token) in published, (kid_of(token), published)
        if kid_of(token) == new:
            break
        assert time.monotonic() < deadline, "A never signed with the rotated key"
        time.sleep(0.1)
    assert users_status(instances.b, token) == 200
    assert old in jwks_kids(instances.b)  # still verifies the tokens it signed


def test_a_rotation_without_delay_through_a_reaches_b_within_a_second(
    instances: Instances,
) -> None:
    before = admin_token(instances, instances.a)
    assert users_status(instances.b, before) == 200
    rotated = manage(instances, "POST", "/kindling/v1/keys/rotate", json={"publish_delay": 0})
    new = rotated["key"]["kid"]
    token = admin_token(instances, instances.a)
    assert kid_of(token) == new  # A signs with it from its very next request
    within(
        PUSH,
        lambda: new in jwks_kids(instances.b) and users_status(instances.b, token) == 200,
        "B publishes the new key and accepts what A signs with it",
    )
    assert users_status(instances.b, before) == 200


def test_a_key_revoked_through_a_is_refused_by_b_within_a_second(instances: Instances) -> None:
    token = admin_token(instances, instances.a)
    kid = kid_of(token)
    assert users_status(instances.b, token) == 200 and kid in jwks_kids(instances.b)
    revoked = manage(instances, "POST", f"/kindling/v1/keys/{kid}/revoke")
    replacement = revoked["replacement_key"]["kid"]
    within(
        PUSH,
        lambda: users_status(instances.b, token) == 401 and kid not in jwks_kids(instances.b),
        "B refuses tokens of the revoked key and stops publishing it",
    )
    fresh = admin_token(instances, instances.b)
    assert kid_of(fresh) == replacement and users_status(instances.a, fresh) == 200


# --- the push itself -----------------------------------------------------------------------


def listener_backends(pid: int) -> list[int]:
    """The PostgreSQL backends of process ``pid``'s change listener."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%%' "
            "AND application_name = %s",
            (f"kindling listener {pid}",),
        ).fetchall()
    return [int(row[0]) for row in rows]


def terminate(backends: list[int]) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for backend in backends:
            # Waits (up to 5 s) until the backend is gone.
            conn.execute("SELECT pg_terminate_backend(%s, 5000)", (backend,))


def test_with_bs_listener_killed_changes_still_reach_b(instances: Instances) -> None:
    b = instances.b
    assert b.process is not None
    pid = b.process.pid
    gone, later = authorized_app(instances), authorized_app(instances)
    assert granted(b, gone) == [] and granted(b, later) == []
    (backend,) = within(2, lambda: listener_backends(pid), "B listens")

    terminate([backend])
    manage(instances, "DELETE", f"/api/v1/applications/{gone.id}")
    within(3, lambda: refused_with(b, gone, 401, "invalid_client"), "B sees the deletion")
    assert b.wait_for_output("not listening for changes", timeout=3), b.output
    again = within(3, lambda: listener_backends(pid), "B listens again")
    assert again != [backend]
    assert b.wait_for_output("listening for changes again", timeout=3), b.output

    # Listening again: changes are pushed as before.
    assert granted(b, later) == []
    set_authorized(instances, later, False)
    within(
        PUSH,
        lambda: refused_with(b, later, 400, "unauthorized_client"),
        "B sees a change after listening again",
    )


# --- background work is done once ------------------------------------------------------


def test_events_made_through_both_instances_are_delivered_once_each(
    instances: Instances,
) -> None:
    receiver = Receiver().start()
    try:
        webhook = manage(
            instances,
            "POST",
            "/api/v1/webhooks",
            json={
                "endpoint": receiver.url,
                "event_types": ["user.created"],
                "name": f"both-{uuid.uuid4().hex[:6]}",
            },
        )["webhook"]["id"]
        made: list[str] = []
        for server in (instances.a, instances.b) * 5:
            headers = {"Authorization": f"Bearer {admin_token(instances, server)}"}
            with http(server) as client:
                response = client.post(
                    "/api/v1/user",
                    headers=headers,
                    json={"profile": {"given_name": "Ada", "family_name": "Lovelace"}},
                )
            assert response.status_code == 200, response.text
            made.append(response.json()["id"])
        receiver.wait_for(lambda r: True, count=len(made), timeout=30)
        time.sleep(2)  # anything sent twice (by both instances) would have arrived by now
    finally:
        receiver.stop()
        manage(instances, "DELETE", f"/api/v1/webhooks/{webhook}")
    got = [claims(r.token)["data"]["user"]["id"] for r in receiver.received]
    assert sorted(got) == sorted(made)
    assert len({claims(r.token)["event_id"] for r in receiver.received}) == len(made)


# --- in process: the engine's marker, and pruning ---------------------------------------


@pytest.fixture
def migrated() -> Iterator[str]:
    require_postgres()
    schema, url = create_pg_schema()
    engine = PostgresEngine(url, max_size=2)
    try:
        with engine.maintenance():
            migrate(engine, "2026-01-01T00:00:00Z")
    finally:
        engine.close()
    yield url
    drop_pg_schema(schema)


def steady_marker(engine: PostgresEngine) -> object:
    return within(3, engine.change_marker, "the engine listens")


def test_the_marker_moves_on_token_path_commits_only_and_never_outlives_its_listener(
    migrated: str,
) -> None:
    engine = PostgresEngine(migrated, max_size=2)
    try:
        first = steady_marker(engine)
        # A commit the token path does not read (an audit row) leaves every cache warm.
        with engine.session(write=True) as session:
            session.execute(
                "INSERT INTO audit (occurred_at, actor_type, action, result) "
                "VALUES (1, 'system', 'test.noop', 'success')"
            )
        assert engine.change_marker() == first

        # Another connection (another instance) changes a client: pushed.
        with psycopg.connect(migrated, autocommit=True) as other:
            other.execute("UPDATE client_state SET version = version + 1")
        second = within(
            PUSH, lambda: (m := engine.change_marker()) not in (None, first) and m, "pushed"
        )

        # This process's own change: moved before the commit returns.
        with engine.session(write=True) as session:
            session.execute("UPDATE token_state SET version = version + 1 WHERE id = 'default'")
        assert engine.change_marker() != second
        third = within(
            PUSH, lambda: (m := engine.change_marker()) not in (None, second) and m, "settled"
        )

        # The listening connection dies: from then on never the marker of before.
        backends = listener_backends(os.getpid())
        assert backends
        terminate(backends)
        assert engine.change_marker() != third
        # ... and once it listens again, a new one: what was missed meanwhile is re-read.
        within(
            3, lambda: (m := engine.change_marker()) not in (None, third) and m, "listening again"
        )
        assert not set(backends) & set(listener_backends(os.getpid()))
    finally:
        engine.close()


def test_two_processes_pruning_the_audit_log_take_disjoint_rows_without_waiting(
    migrated: str,
) -> None:
    one, two = PostgresEngine(migrated, max_size=1), PostgresEngine(migrated, max_size=1)
    try:
        with one.session(write=True) as session:
            session.executemany(
                "INSERT INTO audit (occurred_at, actor_type, action, result) "
                "VALUES (?, 'system', 'test.old', 'success')",
                [(n,) for n in range(1, 11)],
            )
        with one.session(write=True) as first:
            assert SqlAuditLog(first).prune(100, 6) == 6  # its rows stay locked meanwhile
            # Without SKIP LOCKED the second would wait for the first's row locks until its
            # lock_timeout and fail (StorageUnavailable).
            with two.session(write=True) as second:
                assert SqlAuditLog(second).prune(100, 10) == 4
        with one.session(write=False) as session:
            left = session.one("SELECT count(*) AS n FROM audit WHERE action = 'test.old'")
        assert left is not None and left["n"] == 0
    finally:
        one.close()
        two.close()
