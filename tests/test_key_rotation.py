"""Signing-key rotation done safely, against real servers (RELIABILITY-AND-USERS.md A7, A12 #49).

* Under continuous token traffic on a ``--workers 2`` server (SQLite and PostgreSQL),
  two rotations with a short publish delay: every token's ``kid`` is in the JWKS served
  right after it (by either worker), every token verifies against that JWKS, against a
  verifier's JWKS cached for up to a second (shorter than the publish delay: that is
  what publish-before-sign buys), and at our own Management API; and no token is
  signed by a new key before its publish delay has passed.
* An emergency revoke takes the key out of every worker's JWKS and has every worker
  refuse its tokens at once, while a replacement signs.
* ``/kindling/v1/keys`` (list, rotate, revoke): scopes, validation (400 with a code,
  nothing written), the pending-rotation conflict, how long a replaced key stays
  published, and the events; ``kindling keys`` on the same data.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from tests.keys_support import app_token, bearer_get, new_app, running_server, server_context
from tests.support import KindlingServer
from tests.test_token_effects_workers import answering_worker

WORKERS = 2
KEYS = "/kindling/v1/keys"
#: How long the traffic runs, and the rotations' publish delay, in seconds.
TRAFFIC_SECONDS = 10.0
PUBLISH_DELAY = 3
#: A verifier elsewhere that refreshes its JWKS cache this often (< PUBLISH_DELAY).
VERIFIER_CACHE_SECONDS = 1.0


# --- plumbing ------------------------------------------------------------------------------


def fresh_request(
    server: KindlingServer,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, int]:
    """One request on a fresh TCP connection: (status, body, the worker that answered)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            method, path, body=body, headers={"Host": server.domain, **(headers or {})}
        )
        response = connection.getresponse()
        data = response.read()
        return response.status, data, answering_worker(server, connection)
    finally:
        connection.close()


def mint(server: KindlingServer, app: dict[str, Any]) -> tuple[str, int]:
    form = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "audience": server.audience,
    }
    status, body, worker = fresh_request(
        server,
        "POST",
        "/oauth2/token",
        urlencode(form),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
    return str(json.loads(body)["access_token"]), worker


def jwks(server: KindlingServer) -> tuple[dict[str, Any], int]:
    status, body, worker = fresh_request(server, "GET", "/.well-known/jwks")
    assert status == 200, body
    return json.loads(body), worker


def verify_with(keys: dict[str, Any], token: str, server: KindlingServer) -> None:
    """Verify as a third-party resource server would: PyJWT, the JWKS, RS256 pinned."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys["keys"] if k["kid"] == kid)
    jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience=server.audience,
        issuer=server.issuer,
    )


def api(
    server: KindlingServer,
    method: str,
    path: str,
    token: str,
    **kwargs: Any,
) -> httpx.Response:
    with server.client() as client:
        return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def key_states(server: KindlingServer, token: str) -> dict[str, dict[str, Any]]:
    response = api(server, "GET", KEYS, token)
    assert response.status_code == 200, response.text
    return {k["kid"]: k for k in response.json()["keys"]}


def signing_kid(server: KindlingServer, token: str) -> str:
    return next(kid for kid, k in key_states(server, token).items() if k["state"] == "active")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    with running_server(
        tmp_path_factory.mktemp(f"rotation-workers-{request.param}"),
        request.param,
        ["--workers", str(WORKERS)],
    ) as server:
        yield server


# --- rotation under traffic (A12 #49) ---------------------------------------------------------


@dataclass
class Traffic:
    """What the traffic threads saw; every failure list must stay empty."""

    tokens: int = 0
    kid_missing: list[str] = field(default_factory=list)
    failed_fresh: list[str] = field(default_factory=list)
    failed_cached: list[str] = field(default_factory=list)
    failed_api: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_use: dict[str, float] = field(default_factory=dict)
    token_workers: Counter[int] = field(default_factory=Counter)
    jwks_workers: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class CachedVerifier:
    """A resource server elsewhere: refetches our JWKS every ``VERIFIER_CACHE_SECONDS``
    and never on an unknown kid, the case publish-before-sign exists for."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.keys, _ = jwks(server)
        self.lock = threading.Lock()

    def refresh_until(self, stop: threading.Event) -> None:
        while not stop.wait(VERIFIER_CACHE_SECONDS):
            keys, _ = jwks(self.server)
            with self.lock:
                self.keys = keys

    def cached(self) -> dict[str, Any]:
        with self.lock:
            return self.keys


def run_traffic(
    server: KindlingServer,
    app: dict[str, Any],
    verifier: CachedVerifier,
    traffic: Traffic,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            cached = verifier.cached()
            token, token_worker = mint(server, app)
            kid = jwt.get_unverified_header(token)["kid"]
            served, jwks_worker = jwks(server)
            with traffic.lock:
                traffic.tokens += 1
                number = traffic.tokens
                traffic.token_workers[token_worker] += 1
                traffic.jwks_workers[jwks_worker] += 1
                traffic.first_use.setdefault(kid, time.time())
            if kid not in {k["kid"] for k in served["keys"]}:
                traffic.kid_missing.append(f"token {number}: {kid} not in JWKS of {jwks_worker}")
                continue
            try:
                verify_with(served, token, server)
            except Exception as exc:
                traffic.failed_fresh.append(f"token {number} ({kid}): {exc!r}")
            try:
                verify_with(cached, token, server)
            except Exception as exc:
                traffic.failed_cached.append(f"token {number} ({kid}): {exc!r}")
            if number % 5 == 0:
                status, body, worker = fresh_request(
                    server, "GET", "/api/v1/users", headers={"Authorization": f"Bearer {token}"}
                )
                if status != 200:
                    traffic.failed_api.append(f"token {number} ({kid}) at {worker}: {status}")
        except Exception as exc:  # a transport failure is a failure too
            traffic.errors.append(repr(exc))


@pytest.mark.long(14)
def test_rotation_under_traffic_never_signs_with_an_unpublished_key(
    workers: KindlingServer,
) -> None:
    app = new_app(workers)
    admin = app_token(workers, app)
    original = signing_kid(workers, admin)
    verifier = CachedVerifier(workers)
    traffic = Traffic()
    stop = threading.Event()
    threads = [
        threading.Thread(target=verifier.refresh_until, args=(stop,), daemon=True),
        *(
            threading.Thread(
                target=run_traffic, args=(workers, app, verifier, traffic, stop), daemon=True
            )
            for _ in range(2)
        ),
    ]
    start = time.time()
    for thread in threads:
        thread.start()
    rotations: dict[str, float] = {}
    try:
        # Rotate once traffic flows, and again once the first new key signs; keep the
        # traffic going until the second new key has signed for a while.
        at = start + 1.5
        activation = 0.0
        for _ in range(2):
            time.sleep(max(0.0, at - time.time()))
            asked = time.time()
            response = api(
                workers, "POST", f"{KEYS}/rotate", admin, json={"publish_delay": PUBLISH_DELAY}
            )
            assert response.status_code == 200, response.text
            key = response.json()["key"]
            rotations[key["kid"]] = asked
            activation = datetime.fromisoformat(key["activates_on"]).timestamp()
            assert activation >= asked + PUBLISH_DELAY
            at = activation + 1.0
        time.sleep(max(0.0, max(start + TRAFFIC_SECONDS, activation + 2.0) - time.time()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert traffic.errors == []
    assert traffic.kid_missing == []
    assert traffic.failed_fresh == []
    assert traffic.failed_cached == []
    assert traffic.failed_api == []
    # Real traffic through both workers, and both rotations took effect under it (each
    # key's first use is checked below; the count is what a starved host still manages).
    assert traffic.tokens >= 20, traffic.tokens
    assert len(traffic.token_workers) == WORKERS and len(traffic.jwks_workers) == WORKERS
    assert set(traffic.first_use) == {original, *rotations}, (traffic.first_use, rotations)
    # Publish-before-sign: no token carried a new kid before its delay had passed.
    for kid, asked_at in rotations.items():
        assert traffic.first_use[kid] >= asked_at + PUBLISH_DELAY, kid
    states = key_states(workers, admin)
    assert states[original]["state"] == "retired" and states[original]["is_published"]


# --- emergency revoke, every worker -------------------------------------------------------------


def until_both_workers(
    server: KindlingServer, call: Any, check: Any, what: str, minimum: int = 20
) -> None:
    seen: Counter[int] = Counter()
    total = 0
    while total < minimum or len(seen) < WORKERS or min(seen.values()) < 3:
        assert total < 400, f"{what}: the workers did not both answer: {dict(seen)}"
        result, worker = call()
        assert check(result), f"{what}: request {total + 1} at worker {worker}: {result}"
        seen[worker] += 1
        total += 1


def test_an_emergency_revoke_is_refused_by_every_worker_at_once(workers: KindlingServer) -> None:
    app = new_app(workers)
    admin = app_token(workers, app)
    old_token = app_token(workers, app)
    doomed = jwt.get_unverified_header(old_token)["kid"]

    def users(token: str) -> Any:
        return lambda: fresh_request(
            workers, "GET", "/api/v1/users", headers={"Authorization": f"Bearer {token}"}
        )[::2]

    until_both_workers(workers, users(old_token), lambda status: status == 200, "before")
    revoked = api(workers, "POST", f"{KEYS}/{doomed}/revoke", admin)
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["code"] == "SIGNING_KEY_REVOKED" and body["key"]["state"] == "revoked"
    replacement = body["replacement_key"]["kid"]
    assert replacement != doomed and body["replacement_key"]["state"] == "active"

    def served_kids() -> Any:
        keys, worker = jwks(workers)
        return {k["kid"] for k in keys["keys"]}, worker

    until_both_workers(
        workers, served_kids, lambda kids: doomed not in kids and replacement in kids, "JWKS"
    )
    until_both_workers(workers, users(old_token), lambda status: status == 401, "old token")
    until_both_workers(workers, users(admin), lambda status: status == 401, "admin token")

    def fresh_token() -> Any:
        token, worker = mint(workers, app)
        return (
            jwt.get_unverified_header(token)["kid"],
            bearer_get(workers, token).status_code,
        ), worker

    until_both_workers(
        workers, fresh_token, lambda got: got == (replacement, 200), "tokens after the revoke"
    )


# --- the API, the CLI --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    with running_server(tmp_path_factory.mktemp(f"keys-api-{request.param}"), request.param) as s:
        yield s


def kinde_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"errors": [{"code": code, "message": body["errors"][0]["message"]}]}


def events(server: KindlingServer, type_: str) -> list[dict[str, Any]]:
    with server_context(server) as ctx, ctx.storage.engine.session(write=False) as session:
        rows = session.all("SELECT data FROM outbox WHERE type = ? ORDER BY seq", (type_,))
    return [json.loads(row["data"]) for row in rows]


def test_keys_need_read_and_update_environments(server: KindlingServer) -> None:
    app = new_app(server)
    reader = app_token(server, app, ["read:environments"])
    assert api(server, "GET", KEYS, reader).status_code == 200
    for method, path in (("POST", f"{KEYS}/rotate"), ("POST", f"{KEYS}/{'0' * 32}/revoke")):
        response = api(server, method, path, reader)
        assert response.status_code == 403, response.text
        assert 'scope="update:environments"' in response.headers["www-authenticate"]
    writer = app_token(server, app, ["update:environments"])
    assert api(server, "GET", KEYS, writer).status_code == 403


@pytest.mark.parametrize("delay", ["5", -1, True, 604_801, 1.5, [3]])
def test_a_bad_publish_delay_is_400_and_writes_nothing(server: KindlingServer, delay: Any) -> None:
    admin = app_token(server, new_app(server))
    before = key_states(server, admin)
    response = api(server, "POST", f"{KEYS}/rotate", admin, json={"publish_delay": delay})
    kinde_error(response, 400, "INVALID_PUBLISH_DELAY")
    assert key_states(server, admin) == before


def test_an_unknown_kid_is_404(server: KindlingServer) -> None:
    admin = app_token(server, new_app(server))
    response = api(server, "POST", f"{KEYS}/{uuid.uuid4().hex}/revoke", admin)
    kinde_error(response, 404, "SIGNING_KEY_NOT_FOUND")


def test_a_rotation_publishes_first_and_keeps_the_old_key_for_the_longest_lifetime(
    server: KindlingServer,
) -> None:
    app = new_app(server)
    admin = app_token(server, app)
    lifetime = 200_000  # longer than any other application's
    patched = api(
        server,
        "PATCH",
        f"/api/v1/applications/{app['client_id']}/tokens",
        admin,
        json={"access_token_lifetime": lifetime},
    )
    assert patched.status_code == 200, patched.text
    old = signing_kid(server, admin)
    rotated = api(server, "POST", f"{KEYS}/rotate", admin, json={"publish_delay": 120})
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["code"] == "SIGNING_KEY_ROTATED"
    new = body["key"]
    assert new["state"] == "next" and new["is_published"] and not new["is_signing"]
    assert body["previous_key"]["kid"] == old and body["previous_key"]["state"] == "active"
    with server.client() as http:
        served = [k["kid"] for k in http.get("/.well-known/jwks").json()["keys"]]
    assert served[0] == old and new["kid"] in served  # the signer first
    # Still signed with the old key, which stays published until its last token expired.
    assert jwt.get_unverified_header(app_token(server, app))["kid"] == old
    activates = datetime.fromisoformat(new["activates_on"]).timestamp()
    until = datetime.fromisoformat(body["previous_key"]["published_until"]).timestamp()
    assert until == activates + lifetime + 60
    # Only one rotation at a time.
    again = api(server, "POST", f"{KEYS}/rotate", admin, json={"publish_delay": 1})
    kinde_error(again, 409, "SIGNING_KEY_ROTATION_PENDING")
    # Calling the rotation off: revoke the waiting key.
    off = api(server, "POST", f"{KEYS}/{new['kid']}/revoke", admin)
    assert off.status_code == 200, off.text
    assert off.json()["replacement_key"] is None
    states = key_states(server, admin)
    assert states[new["kid"]]["state"] == "revoked" and states[old]["state"] == "active"
    assert states[old]["published_until"] is None
    repeat = api(server, "POST", f"{KEYS}/{new['kid']}/revoke", admin)
    assert repeat.status_code == 200 and repeat.json()["code"] == "OK"
    rotated_events = [
        e for e in events(server, "signing_key.rotated") if e["signing_key"]["kid"] == new["kid"]
    ]
    revoked_events = [
        e for e in events(server, "signing_key.revoked") if e["signing_key"]["kid"] == new["kid"]
    ]
    assert len(rotated_events) == 1 and rotated_events[0]["previous_signing_key"]["kid"] == old
    assert len(revoked_events) == 1 and revoked_events[0]["signing_key"]["previous_state"] == "next"
    assert "sealed" not in json.dumps(rotated_events + revoked_events)


def test_the_cli_lists_rotates_and_revokes_keys_of_a_running_server(server: KindlingServer) -> None:
    app = new_app(server)
    before = server.cli("keys", "list", "--json")
    assert before.returncode == 0, before.stderr
    old = next(k["kid"] for k in json.loads(before.stdout) if k["state"] == "active")
    rotated = server.cli("keys", "rotate", "--publish-delay", "0", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)["key"]["kid"]
    # The running server signs with it from its next token on, and still verifies the old.
    token = app_token(server, app)
    assert jwt.get_unverified_header(token)["kid"] == new
    assert bearer_get(server, token).status_code == 200
    revoked = server.cli("keys", "revoke", old, "--yes", "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["key"]["state"] == "revoked"
    with server.client() as http:
        assert old not in {k["kid"] for k in http.get("/.well-known/jwks").json()["keys"]}
    text = server.cli("keys", "list")
    assert text.returncode == 0 and new in text.stdout and "revoked" in text.stdout
    unknown = server.cli("keys", "revoke", "f" * 32, "--yes")
    assert unknown.returncode == 1 and "There is no signing key" in unknown.stderr
    bad = server.cli("keys", "rotate", "--publish-delay", "-5")
    assert bad.returncode == 1 and "publish_delay must be between" in bad.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr
