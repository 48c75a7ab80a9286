"""Crash safety: SIGKILL during writes, token issuance and key rotations (issue 10).

A real ``kindling serve`` process, on one data directory, is killed 20 times in all
(SQLite: 16 kills; PostgreSQL, a fresh schema: 4), each with SIGKILL at a random moment
0.2-1.5 s into a load of three kinds at once:

* multi-row writes through the Management API: ``POST /api/v1/user`` with an email and a
  username identity and ``organization_code`` (a user, two identities, a membership,
  two events, two audit rows in one transaction), then ``POST
  /api/v1/organizations/{org_code}/users`` giving that user two roles and a permission
  in a second organization (a membership, two role rows, a permission row, one event
  and its audit row). Each request carries its own ``X-Request-ID``, which the audit
  rows it writes keep. A 2xx is an acknowledgement; a prompt 503 with ``Retry-After``
  (a write lock held past the busy timeout on a loaded machine) is not, and any other
  answer fails the test;
* ``POST /oauth2/token`` in a loop, recording each token's ``kid``;
* ``POST /kindling/v1/keys/rotate`` with a 0 or 1 s publish delay, so new keys sign
  within the test (a 409 while a rotation is pending is expected).

After every restart on the same data:

* the database is sound: ``PRAGMA integrity_check`` is ``ok`` and
  ``PRAGMA foreign_key_check`` empty on SQLite, and on both engines no orphan rows in
  the tables written (identities, memberships, member roles and permissions without
  their parent; an outbox event without its audit row or the reverse);
* every acknowledged (2xx) write is there, read back through the Management API, and
  its audit rows carry its request id (the unit of work writes them in the change's
  transaction, ``platform/audit.py``);
* nothing is half-written, acknowledged or not: a user that exists has both identities
  and its first membership, a member of the second organization has both roles and the
  permission, and each has its ``user.created`` / ``organization.user_added`` event;
* every ``kid`` of every token issued so far, and of every acknowledged rotation, is in
  ``/.well-known/jwks`` (with default lifetimes no replaced key is due to leave it
  within the test, so this is asserted strictly).

``KINDLING_CRASH_SEED`` replays the kill moments of a failed run (the seed is in every
assertion message).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from tests.conftest import require_postgres
from tests.support import (
    KindlingServer,
    create_pg_schema,
    descendants,
    drop_pg_schema,
    free_port,
)

#: Run first (tests/conftest.py): about 30 s per test on a quiet machine.
pytestmark = pytest.mark.long(30)

#: Kills per engine: the issue's 20 in all, split so the suite pays for 20 restarts once.
KILLS = {"sqlite": 16, "postgres": 4}
#: The kill comes this many seconds into the load (uniformly at random).
KILL_WINDOW = (0.2, 1.5)
WRITERS = 2
#: Pause between rotation requests (each makes an RSA key: ~0.1-0.5 s of server CPU).
ROTATE_EVERY = 0.25
PREFIX = "crash-"


# --- the run's record ----------------------------------------------------------------------


@dataclass
class Ledger:
    """What the server acknowledged, across every round of one engine."""

    #: user id -> (request id, email, username) of each acknowledged ``POST /user``.
    users: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: user id -> request id of each acknowledged addition to the second organization.
    members: dict[str, str] = field(default_factory=dict)
    token_kids: set[str] = field(default_factory=set)
    rotated_kids: set[str] = field(default_factory=set)
    tokens: int = 0
    rotations: int = 0
    #: Prompt 503s with ``Retry-After`` (a write lock held past the busy timeout on a
    #: loaded machine): not acknowledged, so they must have left nothing.
    unavailable: int = 0
    #: Answers other than the expected ones, received before the kill.
    unexpected: list[str] = field(default_factory=list)

    def refused(self, what: str, answer: httpx.Response) -> None:
        """Note an answer that is not a success (call with ``lock`` held)."""
        if answer.status_code == 503 and "retry-after" in answer.headers:
            self.unavailable += 1
        else:
            self.unexpected.append(f"{what} {answer.status_code} {answer.text[:200]}")

    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Fixtures:
    """The organizations, roles and permission every write refers to."""

    org_a: str
    org_b: str
    role_keys: tuple[str, str]
    role_ids: frozenset[str]
    permission_key: str
    permission_id: str


# --- load ----------------------------------------------------------------------------------


def _client(server: KindlingServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.base_url, timeout=15, headers=headers)


def _writer(
    server: KindlingServer,
    token: str,
    fx: Fixtures,
    ledger: Ledger,
    stop: threading.Event,
    name: str,
) -> None:
    """Create users and add them to the second organization until stopped or killed."""
    with _client(server, token) as http:
        number = 0
        while not stop.is_set():
            number += 1
            tag = f"{PREFIX}{name}-{number}"
            email, username = f"{tag}@example.com", tag.replace("-", "_")
            body = {
                "profile": {"given_name": "Crash", "family_name": tag},
                "organization_code": fx.org_a,
                "identities": [
                    {"type": "email", "details": {"email": email}},
                    {"type": "username", "details": {"username": username}},
                ],
            }
            try:
                made = http.post("/api/v1/user", json=body, headers={"X-Request-ID": f"{tag}-u"})
            except httpx.TransportError:
                return
            if made.status_code != 200:
                with ledger.lock:
                    ledger.refused("POST /user", made)
                continue
            user_id = str(made.json()["id"])
            with ledger.lock:
                ledger.users[user_id] = (f"{tag}-u", email, username)
            entry = {"id": user_id, "roles": list(fx.role_keys), "permissions": [fx.permission_key]}
            try:
                added = http.post(
                    f"/api/v1/organizations/{fx.org_b}/users",
                    json={"users": [entry]},
                    headers={"X-Request-ID": f"{tag}-m"},
                )
            except httpx.TransportError:
                return
            with ledger.lock:
                if added.status_code == 200:
                    ledger.members[user_id] = f"{tag}-m"
                else:
                    ledger.refused("add member", added)


def _minter(server: KindlingServer, ledger: Ledger, stop: threading.Event) -> None:
    """Ask for tokens until stopped or killed; keep each one's ``kid``."""
    form = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": server.audience,
        "scope": "read:users",
    }
    with _client(server) as http:
        while not stop.is_set():
            try:
                answer = http.post("/oauth2/token", data=form)
            except httpx.TransportError:
                return
            with ledger.lock:
                if answer.status_code == 200:
                    kid = jwt.get_unverified_header(answer.json()["access_token"])["kid"]
                    ledger.token_kids.add(str(kid))
                    ledger.tokens += 1
                else:
                    ledger.refused("token", answer)


def _rotator(
    server: KindlingServer, token: str, ledger: Ledger, stop: threading.Event, rng: random.Random
) -> None:
    """Rotate the signing key until stopped or killed: at once first, then with a publish
    delay of 0 or 1 s."""
    delay = 0
    with _client(server, token) as http:
        while not stop.is_set():
            try:
                answer = http.post("/kindling/v1/keys/rotate", json={"publish_delay": delay})
            except httpx.TransportError:
                return
            with ledger.lock:
                if answer.status_code == 200:
                    ledger.rotated_kids.add(str(answer.json()["key"]["kid"]))
                    ledger.rotations += 1
                elif answer.status_code != 409:  # 409: the previous rotation is pending
                    ledger.refused("rotate", answer)
            delay = rng.choice((0, 1))
            stop.wait(ROTATE_EVERY)


def _sigkill(server: KindlingServer) -> None:
    """SIGKILL the server and every process under it, at once."""
    assert server.process is not None
    pids = [server.process.pid, *descendants(server.process.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=10)


def _load_then_kill(
    server: KindlingServer,
    token: str,
    fx: Fixtures,
    ledger: Ledger,
    rng: random.Random,
    round_tag: str,
) -> float:
    """Run the three kinds of load, SIGKILL the server mid-way; return the kill moment."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=_rotator, args=(server, token, ledger, stop, rng)),
        threading.Thread(target=_minter, args=(server, ledger, stop)),
        *(
            threading.Thread(
                target=_writer, args=(server, token, fx, ledger, stop, f"{round_tag}-w{i}")
            )
            for i in range(WRITERS)
        ),
    ]
    after = rng.uniform(*KILL_WINDOW)
    for thread in threads:
        thread.start()
    time.sleep(after)
    _sigkill(server)
    stop.set()
    for thread in threads:
        thread.join(timeout=20)
        assert not thread.is_alive(), "a load thread hung after the kill"
    return after


# --- checks --------------------------------------------------------------------------------


def _rows(server: KindlingServer, query: str) -> list[tuple[Any, ...]]:
    """Run one read-only query on the server's database (a connection of our own)."""
    if server.database_url:
        with psycopg.connect(server.database_url) as conn:
            return [tuple(row) for row in conn.execute(query).fetchall()]
    lite = sqlite3.connect(server.data_dir / "kindling.db")
    try:
        return lite.execute(query).fetchall()
    finally:
        lite.close()


#: Rows of the tables the load writes that lost their parent (each count must be 0).
ORPHANS = {
    "identities without a user": "SELECT count(*) FROM user_identities i "
    "LEFT JOIN users u ON u.id = i.user_id WHERE u.id IS NULL",
    "memberships without a user": "SELECT count(*) FROM organization_users m "
    "LEFT JOIN users u ON u.id = m.user_id WHERE u.id IS NULL",
    "memberships without an organization": "SELECT count(*) FROM organization_users m "
    "LEFT JOIN organizations o ON o.code = m.org_code WHERE o.code IS NULL",
    "member roles without a membership": "SELECT count(*) FROM organization_user_roles r "
    "LEFT JOIN organization_users m ON m.org_code = r.org_code AND m.user_id = r.user_id "
    "WHERE m.user_id IS NULL",
    "member permissions without a membership": "SELECT count(*) "
    "FROM organization_user_permissions p LEFT JOIN organization_users m "
    "ON m.org_code = p.org_code AND m.user_id = p.user_id WHERE m.user_id IS NULL",
    "events without an audit row": "SELECT count(*) FROM outbox o "
    "LEFT JOIN audit a ON a.event_id = o.event_id WHERE a.event_id IS NULL",
    "audit rows of events not in the outbox": "SELECT count(*) FROM audit a "
    "LEFT JOIN outbox o ON o.event_id = a.event_id "
    "WHERE a.event_id IS NOT NULL AND o.event_id IS NULL",
}


def _check_database(server: KindlingServer, where: str) -> None:
    if not server.database_url:
        assert _rows(server, "PRAGMA integrity_check") == [("ok",)], where
        assert _rows(server, "PRAGMA foreign_key_check") == [], where
    found = {name: _rows(server, query)[0][0] for name, query in ORPHANS.items()}
    assert found == dict.fromkeys(ORPHANS, 0), (where, found)


def _check_whole(server: KindlingServer, fx: Fixtures, where: str) -> None:
    """Every change the load made, acknowledged or not, is there whole or not at all."""
    users = {r[0] for r in _rows(server, f"SELECT id FROM users WHERE email LIKE '{PREFIX}%'")}
    identities: dict[str, set[str]] = {}
    for user_id, kind in _rows(server, "SELECT user_id, type FROM user_identities"):
        identities.setdefault(user_id, set()).add(kind)
    memberships: dict[str, set[str]] = {}
    for org_code, user_id in _rows(server, "SELECT org_code, user_id FROM organization_users"):
        memberships.setdefault(user_id, set()).add(org_code)
    roles: dict[str, set[str]] = {}
    for user_id, role_id in _rows(
        server,
        f"SELECT user_id, role_id FROM organization_user_roles WHERE org_code = '{fx.org_b}'",
    ):
        roles.setdefault(user_id, set()).add(role_id)
    permissions: dict[str, set[str]] = {}
    for user_id, permission_id in _rows(
        server,
        "SELECT user_id, permission_id FROM organization_user_permissions "
        f"WHERE org_code = '{fx.org_b}'",
    ):
        permissions.setdefault(user_id, set()).add(permission_id)
    created = {
        r[0] for r in _rows(server, "SELECT target_id FROM audit WHERE action = 'user.created'")
    }
    added: set[tuple[str, str]] = set()
    for (data,) in _rows(server, "SELECT data FROM outbox WHERE type = 'organization.user_added'"):
        event = json.loads(data)
        added.add((event["organization"]["code"], event["user"]["id"]))

    for user_id in users:
        assert identities.get(user_id) == {"email", "username"}, (where, user_id)
        assert fx.org_a in memberships.get(user_id, set()), (where, user_id)
        assert user_id in created, (where, "no user.created audit row", user_id)
        assert (fx.org_a, user_id) in added, (where, user_id)
    in_b = {u for u, orgs in memberships.items() if fx.org_b in orgs}
    assert in_b <= users, where
    for user_id in in_b:
        assert roles.get(user_id) == set(fx.role_ids), (where, user_id)
        assert permissions.get(user_id) == {fx.permission_id}, (where, user_id)
        assert (fx.org_b, user_id) in added, (where, user_id)
    assert set(roles) <= in_b and set(permissions) <= in_b, where


def _pages(http: httpx.Client, path: str, key: str, params: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    token: str | None = None
    while True:
        answer = http.get(path, params={**params, **({"next_token": token} if token else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items.extend(body.get(key) or [])
        token = body.get("next_token")
        if not token:
            return items


def _check_acknowledged(
    server: KindlingServer, token: str, fx: Fixtures, ledger: Ledger, where: str
) -> None:
    """Every acknowledged write reads back through the API, with its audit rows."""
    with _client(server, token) as http:
        listed = _pages(
            http,
            "/api/v1/users",
            "users",
            {"page_size": 500, "expand": "organizations,identities"},
        )
        members = _pages(
            http,
            f"/api/v1/organizations/{fx.org_b}/users",
            "organization_users",
            {"page_size": 500},
        )
    users = {u["id"]: u for u in listed}
    for user_id, (_, email, username) in ledger.users.items():
        user = users.get(user_id)
        assert user is not None, (where, "acknowledged user lost", user_id)
        assert {(i["type"], i["identity"]) for i in user["identities"]} == {
            ("email", email),
            ("username", username),
        }, (where, user)
        assert fx.org_a in user["organizations"], (where, user)
    roles = {m["id"]: set(m["roles"]) for m in members}
    for user_id in ledger.members:
        assert roles.get(user_id) == set(fx.role_keys), (where, "acknowledged member", user_id)

    audited: dict[str, set[str]] = {}
    for request_id, action in _rows(
        server, f"SELECT request_id, action FROM audit WHERE request_id LIKE '{PREFIX}%'"
    ):
        audited.setdefault(request_id, set()).add(action)
    for user_id, (request_id, _, _) in ledger.users.items():
        expected = {"user.created", "organization.user_added"}
        assert audited.get(request_id) == expected, (where, request_id, user_id)
    for request_id in ledger.members.values():
        assert audited.get(request_id) == {"organization.user_added"}, (where, request_id)


def _check_jwks(server: KindlingServer, ledger: Ledger, where: str) -> None:
    with _client(server) as http:
        answer = http.get("/.well-known/jwks")
    assert answer.status_code == 200, answer.text
    published = {k["kid"] for k in answer.json()["keys"]}
    assert ledger.token_kids <= published, (where, ledger.token_kids - published)
    assert ledger.rotated_kids <= published, (where, ledger.rotated_kids - published)


# --- setup ---------------------------------------------------------------------------------


def _fixtures(server: KindlingServer, token: str, tag: str) -> Fixtures:
    def made(answer: httpx.Response) -> dict[str, Any]:
        assert answer.status_code in (200, 201), answer.text
        body: dict[str, Any] = answer.json()
        return body

    with _client(server, token) as http:
        orgs = [
            made(http.post("/api/v1/organization", json={"name": f"{PREFIX}{tag}-{n}"}))
            for n in ("a", "b")
        ]
        role_keys = (f"crash_{tag}_r1", f"crash_{tag}_r2")
        role_ids = [
            made(http.post("/api/v1/roles", json={"name": key, "key": key}))["role"]["id"]
            for key in role_keys
        ]
        permission_key = f"crash_{tag}_p"
        made(http.post("/api/v1/permissions", json={"name": permission_key, "key": permission_key}))
        permissions = _pages(http, "/api/v1/permissions", "permissions", {"page_size": 500})
    return Fixtures(
        org_a=orgs[0]["organization"]["code"],
        org_b=orgs[1]["organization"]["code"],
        role_keys=role_keys,
        role_ids=frozenset(role_ids),
        permission_key=permission_key,
        permission_id=next(p["id"] for p in permissions if p["key"] == permission_key),
    )


@pytest.fixture(params=list(KILLS))
def crash_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KindlingServer]:
    """A server of our own (never the shared one: it is killed again and again), rate limits off."""
    schema = database_url = None
    if request.param == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    server = KindlingServer(
        data_dir=tmp_path / "data",
        port=free_port(),
        database_url=database_url,
        extra_env={"KINDLING_RATE_LIMITS": "off"},
    )
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            _sigkill(server)
        if schema:
            drop_pg_schema(schema)


def test_sigkill_during_writes_and_rotations(crash_server: KindlingServer) -> None:
    server = crash_server
    engine = "postgres" if server.database_url else "sqlite"
    seed = int(os.environ.get("KINDLING_CRASH_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    ledger = Ledger()
    began = time.monotonic()
    server.start()
    assert server.client_id, server.output
    token = server.token()
    ledger.token_kids.add(jwt.get_unverified_header(token)["kid"])
    fx = _fixtures(server, token, f"{engine}-{seed}")
    moments: list[float] = []
    for kill in range(1, KILLS[engine] + 1):
        round_tag = f"{engine}-{seed}-{kill}"
        moments.append(_load_then_kill(server, token, fx, ledger, rng, round_tag))
        server.start()
        where = f"{engine}, seed {seed}, after kill {kill} at {moments[-1]:.2f} s"
        _check_database(server, where)
        _check_whole(server, fx, where)
        _check_acknowledged(server, token, fx, ledger, where)
        _check_jwks(server, ledger, where)
        assert ledger.unexpected == [], (where, ledger.unexpected[:5])
    elapsed = time.monotonic() - began
    stored = _rows(server, f"SELECT count(*) FROM users WHERE email LIKE '{PREFIX}%'")[0][0]
    # The load did what it is for: writes of both kinds, and tokens from rotated keys.
    assert ledger.members and len(ledger.users) >= KILLS[engine], (seed, len(ledger.users))
    assert ledger.rotations >= 1 and len(ledger.token_kids) >= 2, (
        seed,
        ledger.rotations,
        ledger.token_kids,
    )
    print(
        f"\ncrash safety ({engine}, seed {seed}): {KILLS[engine]} kills in {elapsed:.1f} s; "
        f"{len(ledger.users)} users and {len(ledger.members)} memberships acknowledged "
        f"({stored - len(ledger.users)} more users committed, unanswered), "
        f"{ledger.tokens} tokens from {len(ledger.token_kids)} keys, "
        f"{ledger.rotations} rotations, {ledger.unavailable} prompt 503s"
    )
