"""Connected apps' service on both engines, against a real OAuth 2.0 provider on loopback.

The provider (``tests/oauth_provider.py``) is a real HTTP server in this process; the
services talk to it over real sockets. The browser's part is played by following the
provider's redirect by hand: its ``Location`` carries the ``code`` and ``state`` our
callback would receive. Every change is checked with its outbox events, and every refusal
with no event and nothing written.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kindling.clock import FrozenClock
from kindling.crypto.masterkey import MasterKey
from kindling.platform.errors import (
    AlreadyExists,
    Conflict,
    KindlingError,
    NotFound,
    ValidationError,
)
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.connected_apps import service
from kindling.resources.connected_apps.model import AUTHORIZED, FAILED, PENDING
from kindling.resources.connected_apps.repository import CONNECTED_APPS_REPO
from kindling.resources.connected_apps.sealing import ConnectedAppKeys, keys_for
from tests.oauth_provider import OAuthProvider, closed_port_url
from tests.services.support import MASTER_KEY, Outbox, Recorded, uid
from tests.storage.factories_access import add_org, add_user

REDIRECT_URI = "https://kindling.test/kindling/v1/connected_apps/callback"
KEYS: ConnectedAppKeys = keys_for(MasterKey(MASTER_KEY))


@pytest.fixture
def provider() -> Iterator[OAuthProvider]:
    started = OAuthProvider(client_id=f"client-{uid()}", client_secret=f"secret-{uid()}").start()
    yield started
    started.stop()


def define(storage: Storage, clock: FrozenClock, provider: OAuthProvider, **extra: Any) -> str:
    ref = f"app-{uid()}"
    service.create_provider(storage, clock, KEYS, provider.definition(ref, **extra))
    return ref


def start(
    storage: Storage, clock: FrozenClock, ref: str, **subject: Any
) -> service.AuthorizationStart:
    if not subject:
        subject = {"user_id": add_user(storage).id}
    return service.start_authorization(storage, clock, KEYS, REDIRECT_URI, ref, **subject)


def visit(url: str) -> dict[str, str]:
    """The user at the provider: its redirect's query (``code``/``error`` and ``state``)."""
    resp = httpx.get(url, follow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def connect(
    storage: Storage, clock: FrozenClock, ref: str, **subject: Any
) -> tuple[str, service.Completion]:
    """The whole flow: (session_id, completion)."""
    started = start(storage, clock, ref, **subject)
    back = visit(started.url)
    done = service.complete_authorization(storage, clock, KEYS, back["state"], code=back["code"])
    return started.session_id, done


def fails(
    outbox: Outbox, error: type[KindlingError], code: str, call: Callable[[], object]
) -> KindlingError:
    """``call`` raises ``error`` with ``code`` and commits no event."""
    outbox.mark()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code, raised.value.message
    assert outbox.recorded() == []
    return raised.value


def session_of(storage: Storage, session_id: str) -> Any:
    with storage.read() as uow:
        return uow[CONNECTED_APPS_REPO].get_session_by_hash(KEYS.hasher.hash(session_id))


def sessions(storage: Storage, ref: str, status: str) -> int:
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        found = repo.get_provider_by_ref(ref)
        assert found is not None
        return repo.count_sessions(found.id, status)


def raw_rows(storage: Storage) -> bytes:
    """Every stored provider and session row, as bytes, to look for leaked secrets."""
    with storage.engine.session(write=False) as session:
        rows = session.all("SELECT * FROM connected_app_providers")
        rows += session.all("SELECT * FROM connected_app_sessions")
    return b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for row in rows
        for v in (row[k] for k in row.keys())
    )


# --- the flow ---------------------------------------------------------------------------


def test_the_authorization_url_is_the_providers_with_our_request(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider
) -> None:
    ref = define(storage, clock, provider, authorization_params={"access_type": "offline"})
    started = start(storage, clock, ref)
    parts = urlsplit(started.url)
    query = {k: v for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == provider.base_url + "/authorize"
    assert query["prompt"] == ["consent"]  # the endpoint's own query is kept (RFC 6749 §3.1)
    assert query["access_type"] == ["offline"]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [provider.client_id]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["files.read profile"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 43 and len(query["code_challenge"][0]) == 43
    assert started.session_id != query["state"][0]
    # Only keyed hashes of the session id and the state are stored.
    stored = raw_rows(storage)
    assert started.session_id.encode() not in stored
    assert query["state"][0].encode() not in stored


def test_full_flow_stores_sealed_tokens_and_records_events(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider, callback_url="https://app.example.com/done")
    user = add_user(storage)
    outbox.mark()
    session_id, done = connect(storage, clock, ref, user_id=user.id)
    assert done == service.Completion(key_code_ref=ref, callback_url="https://app.example.com/done")
    issued = service.access_token(storage, clock, KEYS, session_id)
    assert provider.token_works(issued.access_token)
    assert issued.expires_at == int(clock.now()) + 3600
    stored = session_of(storage, session_id)
    assert stored.status == AUTHORIZED and stored.code_verifier_sealed is None
    events = outbox.recorded()
    subject = {"connected_app": {"key_code_ref": ref}, "session": {"id": stored.id}}
    subject["user"] = {"id": user.id}
    assert events == [
        Recorded(EventType.CONNECTED_APP_AUTHORIZATION_STARTED, subject),
        Recorded(
            EventType.CONNECTED_APP_AUTHORIZED, {**subject, "scopes": ["files.read", "profile"]}
        ),
    ]
    rows = raw_rows(storage)
    dumped = json.dumps([e.data for e in outbox.events()])
    for secret in (issued.access_token, provider.client_secret, session_id):
        assert secret.encode() not in rows
        assert secret not in dumped
    # The exchange sent the PKCE verifier and our redirect_uri, with HTTP Basic (default).
    (exchange,) = provider.served("/token")
    assert exchange.form["grant_type"] == "authorization_code"
    assert exchange.form["redirect_uri"] == REDIRECT_URI and exchange.form["code_verifier"]
    assert exchange.authorization and exchange.authorization.startswith("Basic ")
    assert "client_secret" not in exchange.form


def test_an_organization_can_be_connected_and_the_override_wins(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider, callback_url="https://app.example.com/default")
    org = add_org(storage)
    started = service.start_authorization(
        storage,
        clock,
        KEYS,
        REDIRECT_URI,
        ref,
        org_code=org.code,
        override_callback_url="https://app.example.com/override?x=1",
    )
    back = visit(started.url)
    done = service.complete_authorization(storage, clock, KEYS, back["state"], code=back["code"])
    assert done.callback_url == "https://app.example.com/override?x=1"
    assert outbox.recorded()[-1].data["organization"] == {"code": org.code}


def test_a_state_is_used_once(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    started = start(storage, clock, ref)
    back = visit(started.url)
    service.complete_authorization(storage, clock, KEYS, back["state"], code=back["code"])
    fails(
        outbox,
        ValidationError,
        "INVALID_STATE",
        lambda: service.complete_authorization(storage, clock, KEYS, back["state"], code="x"),
    )
    assert len(provider.served("/token")) == 1
    assert session_of(storage, started.session_id).status == AUTHORIZED


def test_an_unknown_or_expired_state_changes_nothing(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    started = start(storage, clock, ref)
    back = visit(started.url)
    for bad in ("nope", back["state"] + "x"):
        fails(
            outbox,
            ValidationError,
            "INVALID_STATE",
            lambda bad=bad: service.complete_authorization(storage, clock, KEYS, bad, code="c"),
        )
    fails(
        outbox,
        ValidationError,
        "STATE_REQUIRED",
        lambda: service.complete_authorization(storage, clock, KEYS, " ", code="c"),
    )
    clock.advance(service.AUTHORIZATION_TTL + 1)
    fails(
        outbox,
        ValidationError,
        "INVALID_STATE",
        lambda: service.complete_authorization(
            storage, clock, KEYS, back["state"], code=back["code"]
        ),
    )
    assert session_of(storage, started.session_id).status == PENDING
    assert provider.served("/token") == []


def test_a_refusal_at_the_provider_fails_the_session(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    provider.deny = True
    started = start(storage, clock, ref)
    back = visit(started.url)
    assert back["error"] == "access_denied"
    outbox.mark()
    with pytest.raises(ValidationError) as raised:
        service.complete_authorization(storage, clock, KEYS, back["state"], error=back["error"])
    assert raised.value.code == "CONNECTED_APP_ACCESS_DENIED"
    stored = session_of(storage, started.session_id)
    assert stored.status == FAILED
    assert outbox.recorded() == [
        Recorded(
            EventType.CONNECTED_APP_AUTHORIZATION_FAILED,
            {
                "connected_app": {"key_code_ref": ref},
                "session": {"id": stored.id},
                "user": {"id": stored.user_id},
                "error": "access_denied",
            },
        )
    ]
    fails(
        outbox,
        ValidationError,
        "CONNECTED_APP_SESSION_NOT_AUTHORIZED",
        lambda: service.access_token(storage, clock, KEYS, started.session_id),
    )


def test_a_pending_session_has_no_token(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    started = start(storage, clock, define(storage, clock, provider))
    fails(
        outbox,
        ValidationError,
        "CONNECTED_APP_SESSION_NOT_AUTHORIZED",
        lambda: service.access_token(storage, clock, KEYS, started.session_id),
    )
    for unknown, code in (
        ("no-such-session", "CONNECTED_APP_SESSION_NOT_FOUND"),
        ("", "SESSION_ID_REQUIRED"),
    ):
        fails(
            outbox,
            ValidationError,
            code,
            lambda unknown=unknown: service.access_token(storage, clock, KEYS, unknown),
        )


def test_an_unreachable_token_endpoint_fails_fast(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider, token_endpoint=closed_port_url() + "/token")
    started = start(storage, clock, ref)
    back = visit(started.url)
    began = time.monotonic()
    with pytest.raises(service.ProviderUnavailableError) as raised:
        service.complete_authorization(storage, clock, KEYS, back["state"], code=back["code"])
    assert time.monotonic() - began < 2
    assert raised.value.code == "CONNECTED_APP_PROVIDER_UNAVAILABLE"
    assert raised.value.status_code == 400
    assert session_of(storage, started.session_id).status == FAILED


def test_a_slow_provider_is_cut_off_at_its_timeout(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider
) -> None:
    ref = define(storage, clock, provider, timeout_seconds=1)
    provider.delay = 3
    started = start(storage, clock, ref)
    back = visit(started.url)
    began = time.monotonic()
    with pytest.raises(service.ProviderUnavailableError):
        service.complete_authorization(storage, clock, KEYS, back["state"], code=back["code"])
    assert time.monotonic() - began < 2.5


def test_a_refused_code_is_a_provider_error(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider
) -> None:
    ref = define(storage, clock, provider)
    started = start(storage, clock, ref)
    back = visit(started.url)
    with pytest.raises(ValidationError) as raised:
        service.complete_authorization(storage, clock, KEYS, back["state"], code="forged")
    assert raised.value.code == "CONNECTED_APP_PROVIDER_ERROR"
    assert "invalid_grant" in raised.value.message


# --- tokens and refresh -------------------------------------------------------------------


def test_an_expiring_token_is_refreshed(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    first = service.access_token(storage, clock, KEYS, session_id)
    assert service.access_token(storage, clock, KEYS, session_id) == first
    clock.advance(3600 - service.REFRESH_MARGIN + 1)
    outbox.mark()
    second = service.access_token(storage, clock, KEYS, session_id)
    assert second.access_token != first.access_token and provider.token_works(second.access_token)
    assert second.expires_at == int(clock.now()) + 3600
    (refresh,) = [r for r in provider.served("/token") if r.form["grant_type"] == "refresh_token"]
    assert refresh.form["refresh_token"].startswith("rt_")
    stored = session_of(storage, session_id)
    assert [e.type for e in outbox.recorded()] == [EventType.CONNECTED_APP_TOKEN_REFRESHED]
    assert outbox.recorded()[0].data["session"] == {"id": stored.id}
    # The rotated refresh token is the one used next time.
    clock.advance(3600)
    third = service.access_token(storage, clock, KEYS, session_id)
    assert provider.token_works(third.access_token)


def test_concurrent_refreshes_spend_the_refresh_token_once(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider
) -> None:
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    clock.advance(3600)
    provider.delay = 0.3
    answers: list[str] = []

    def call() -> None:
        answers.append(service.access_token(storage, clock, KEYS, session_id).access_token)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refreshes = [r for r in provider.served("/token") if r.form["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    assert len(set(answers)) == 1 and len(answers) == 4


def test_a_valid_token_survives_a_provider_outage(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    first = service.access_token(storage, clock, KEYS, session_id)
    provider.token_status = 503
    clock.advance(3600 - 10)  # inside the refresh margin, not yet expired
    assert service.access_token(storage, clock, KEYS, session_id) == first
    clock.advance(20)  # expired now
    fails(
        outbox,
        service.ProviderUnavailableError,
        "CONNECTED_APP_PROVIDER_UNAVAILABLE",
        lambda: service.access_token(storage, clock, KEYS, session_id),
    )


def test_an_expired_token_without_refresh_token_needs_a_new_authorization(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    provider.issue_refresh_tokens = False
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    clock.advance(3601)
    fails(
        outbox,
        ValidationError,
        "CONNECTED_APP_TOKEN_EXPIRED",
        lambda: service.access_token(storage, clock, KEYS, session_id),
    )


def test_a_token_without_expiry_is_answered_as_is(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider
) -> None:
    provider.expires_in = None
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    clock.advance(10 * 86400)
    issued = service.access_token(storage, clock, KEYS, session_id)
    assert issued.expires_at is None and provider.token_works(issued.access_token)
    assert [r.form["grant_type"] for r in provider.served("/token")] == ["authorization_code"]


@pytest.mark.parametrize("method", ["client_secret_post", "none"])
def test_other_client_authentication_methods(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, method: str
) -> None:
    extra: dict[str, Any] = {"token_endpoint_auth_method": method}
    if method == "none":
        extra["client_secret"] = None
        provider.client_secret = ""
    ref = define(storage, clock, provider, **extra)
    session_id, _ = connect(storage, clock, ref)
    (exchange,) = provider.served("/token")
    assert exchange.authorization is None
    assert exchange.form["client_id"] == provider.client_id
    assert ("client_secret" in exchange.form) == (method == "client_secret_post")
    assert provider.token_works(service.access_token(storage, clock, KEYS, session_id).access_token)


# --- revocation -------------------------------------------------------------------------


def test_revoke_revokes_at_the_provider_and_forgets(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    token = service.access_token(storage, clock, KEYS, session_id).access_token
    stored = session_of(storage, session_id)
    outbox.mark()
    service.revoke(storage, clock, KEYS, session_id)
    assert [hint for _, hint in provider.revocations] == ["refresh_token", "access_token"]
    assert provider.revocations[1][0] == token
    assert not provider.token_works(token)
    assert session_of(storage, session_id) is None
    assert outbox.recorded() == [
        Recorded(
            EventType.CONNECTED_APP_REVOKED,
            {
                "connected_app": {"key_code_ref": ref},
                "session": {"id": stored.id},
                "user": {"id": stored.user_id},
                "revoked_at_provider": True,
            },
        )
    ]
    for again in (service.access_token, service.revoke):
        fails(
            outbox,
            ValidationError,
            "CONNECTED_APP_SESSION_NOT_FOUND",
            lambda again=again: again(storage, clock, KEYS, session_id),
        )


def test_a_failed_revocation_keeps_the_tokens_for_a_retry(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    token = service.access_token(storage, clock, KEYS, session_id).access_token
    provider.revoke_status = 503
    fails(
        outbox,
        service.ProviderUnavailableError,
        "CONNECTED_APP_PROVIDER_UNAVAILABLE",
        lambda: service.revoke(storage, clock, KEYS, session_id),
    )
    assert service.access_token(storage, clock, KEYS, session_id).access_token == token
    provider.revoke_status = None
    service.revoke(storage, clock, KEYS, session_id)
    assert not provider.token_works(token)


def test_without_a_revocation_endpoint_tokens_are_forgotten(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider, revocation_endpoint=None)
    session_id, _ = connect(storage, clock, ref)
    outbox.mark()
    service.revoke(storage, clock, KEYS, session_id)
    assert provider.revocations == []
    assert outbox.recorded()[0].data["revoked_at_provider"] is False


def test_a_pending_session_can_be_revoked(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider
) -> None:
    ref = define(storage, clock, provider)
    started = start(storage, clock, ref)
    back = visit(started.url)
    service.revoke(storage, clock, KEYS, started.session_id)
    assert provider.revocations == []
    with pytest.raises(ValidationError) as raised:
        service.complete_authorization(storage, clock, KEYS, back["state"], code=back["code"])
    assert raised.value.code == "INVALID_STATE"


# --- starting: refusals ---------------------------------------------------------------------


def test_start_refusals_write_nothing(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    user, org = add_user(storage), add_org(storage)
    cases: list[tuple[type[KindlingError], str, dict[str, Any]]] = [
        (NotFound, "CONNECTED_APP_NOT_FOUND", {"key_code_ref": "nope", "user_id": user.id}),
        (ValidationError, "KEY_CODE_REF_REQUIRED", {"key_code_ref": " ", "user_id": user.id}),
        (ValidationError, "USER_ID_OR_ORG_CODE_REQUIRED", {"key_code_ref": ref}),
        (
            ValidationError,
            "TOO_MANY_PARAMETERS",
            {"key_code_ref": ref, "user_id": user.id, "org_code": org.code},
        ),
        (NotFound, "USER_NOT_FOUND", {"key_code_ref": ref, "user_id": "kp_" + "0" * 32}),
        (NotFound, "ORGANIZATION_NOT_FOUND", {"key_code_ref": ref, "org_code": "org_00000000000"}),
        (
            ValidationError,
            "INVALID_OVERRIDE_CALLBACK_URL",
            {
                "key_code_ref": ref,
                "user_id": user.id,
                "override_callback_url": "http://evil.example",
            },
        ),
    ]
    for error, code, args in cases:
        fails(
            outbox,
            error,
            code,
            lambda args=args: service.start_authorization(
                storage, clock, KEYS, REDIRECT_URI, **args
            ),
        )
    assert sessions(storage, ref, PENDING) == 0


# --- provider definitions ----------------------------------------------------------------


def test_create_provider_seals_the_secret_and_records_no_secret(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = f"app-{uid()}"
    created = service.create_provider(storage, clock, KEYS, provider.definition(ref))
    assert created.client_secret_sealed is not None
    assert provider.client_secret.encode() not in raw_rows(storage)
    (event,) = outbox.recorded()
    assert event.type == EventType.CONNECTED_APP_PROVIDER_CREATED
    assert event.data["connected_app"]["key_code_ref"] == ref
    assert provider.client_secret not in json.dumps(event.data)
    assert service.get_provider(storage, ref) == created
    assert created in service.list_providers(storage)
    fails(
        outbox,
        AlreadyExists,
        "CONNECTED_APP_EXISTS",
        lambda: service.create_provider(storage, clock, KEYS, provider.definition(ref)),
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"key_code_ref": None}, "KEY_CODE_REF_REQUIRED"),
        ({"key_code_ref": "has space"}, "INVALID_KEY_CODE_REF"),
        ({"key_code_ref": "x" * 129}, "KEY_CODE_REF_TOO_LONG"),
        ({"authorization_endpoint": None}, "AUTHORIZATION_ENDPOINT_REQUIRED"),
        (
            {"authorization_endpoint": "http://provider.example/auth"},
            "INVALID_AUTHORIZATION_ENDPOINT",
        ),
        ({"token_endpoint": "ftp://provider.example/token"}, "INVALID_TOKEN_ENDPOINT"),
        ({"token_endpoint": "https://user:pw@provider.example/t"}, "INVALID_TOKEN_ENDPOINT"),
        ({"revocation_endpoint": "https://provider.example/r#frag"}, "INVALID_REVOCATION_ENDPOINT"),
        ({"client_id": None}, "CLIENT_ID_REQUIRED"),
        ({"client_secret": None}, "CLIENT_SECRET_REQUIRED"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "INVALID_TOKEN_ENDPOINT_AUTH_METHOD"),
        ({"token_endpoint_auth_method": "none"}, "CLIENT_SECRET_NOT_ALLOWED"),
        ({"scopes": ["ok", "not ok"]}, "INVALID_SCOPES"),
        ({"scopes": [f"s{i}" for i in range(51)]}, "TOO_MANY_SCOPES"),
        ({"scopes": 7}, "INVALID_SCOPES"),
        ({"authorization_params": {"state": "mine"}}, "INVALID_AUTHORIZATION_PARAMS"),
        ({"authorization_params": {"a": 1}}, "INVALID_AUTHORIZATION_PARAMS"),
        ({"timeout_seconds": 0}, "INVALID_TIMEOUT_SECONDS"),
        ({"timeout_seconds": True}, "INVALID_TIMEOUT_SECONDS"),
        ({"callback_url": "javascript:alert(1)"}, "INVALID_CALLBACK_URL"),
    ],
)
def test_create_provider_refusals_write_nothing(
    storage: Storage,
    clock: FrozenClock,
    provider: OAuthProvider,
    outbox: Outbox,
    change: dict[str, Any],
    code: str,
) -> None:
    body = {**provider.definition(f"app-{uid()}"), **change}
    fails(
        outbox, ValidationError, code, lambda: service.create_provider(storage, clock, KEYS, body)
    )
    assert not any(p.client_id == provider.client_id for p in service.list_providers(storage))


def test_update_provider_changes_fields_and_rotates_the_secret(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider, callback_url="https://app.example.com/done")
    session_id, _ = connect(storage, clock, ref)
    outbox.mark()
    clock.advance(5)
    provider.client_secret = "rotated-" + uid()
    updated = service.update_provider(
        storage,
        clock,
        KEYS,
        ref,
        {"name": "Renamed", "client_secret": provider.client_secret, "callback_url": None},
    )
    assert updated.name == "Renamed" and updated.callback_url is None
    (event,) = outbox.recorded()
    assert event.type == EventType.CONNECTED_APP_PROVIDER_UPDATED
    assert event.data["updated_fields"] == ["name", "callback_url", "client_secret"]
    assert provider.client_secret not in json.dumps(event.data)
    # The new secret is used from the next provider request on.
    clock.advance(3600)
    assert provider.token_works(service.access_token(storage, clock, KEYS, session_id).access_token)
    # The same values again change nothing and record nothing.
    outbox.mark()
    assert service.update_provider(storage, clock, KEYS, ref, {"name": "Renamed"}) == updated
    assert outbox.recorded() == []
    fails(
        outbox,
        ValidationError,
        "KEY_CODE_REF_NOT_ALLOWED",
        lambda: service.update_provider(storage, clock, KEYS, ref, {"key_code_ref": "other"}),
    )
    fails(
        outbox,
        ValidationError,
        "NO_FIELDS_TO_UPDATE",
        lambda: service.update_provider(storage, clock, KEYS, ref, {}),
    )
    fails(
        outbox,
        NotFound,
        "CONNECTED_APP_NOT_FOUND",
        lambda: service.update_provider(storage, clock, KEYS, "nope-" + uid(), {"name": "x"}),
    )


def test_delete_provider_is_refused_while_tokens_are_held(
    storage: Storage, clock: FrozenClock, provider: OAuthProvider, outbox: Outbox
) -> None:
    ref = define(storage, clock, provider)
    session_id, _ = connect(storage, clock, ref)
    start(storage, clock, ref)  # a pending session goes with the definition
    fails(outbox, Conflict, "CONNECTED_APP_IN_USE", lambda: service.delete_provider(storage, ref))
    service.revoke(storage, clock, KEYS, session_id)
    outbox.mark()
    service.delete_provider(storage, ref)
    assert outbox.recorded() == [
        Recorded(EventType.CONNECTED_APP_PROVIDER_DELETED, {"connected_app": {"key_code_ref": ref}})
    ]
    fails(outbox, NotFound, "CONNECTED_APP_NOT_FOUND", lambda: service.get_provider(storage, ref))
