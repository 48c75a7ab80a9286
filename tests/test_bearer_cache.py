"""The Management API remembers verified tokens (``kindling.web.bearer_cache``), and what
ends a token still ends it on the very next request: a revoked ``jti`` (RFC 7009), an
expired token (RFC 7519 §4.1.4 with the API's 60 s leeway), a deleted application, an
emergency key revoke.

In process, on both engines, with a frozen clock: the whole application (``create_app``)
answers ``GET /api/v1/users`` through httpx's ASGI transport, so every request takes the
same path as under ``kindling serve``, and the clock moves only when a test moves it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from kindling.bootstrap import bootstrap
from kindling.clock import FrozenClock
from kindling.config import Settings
from kindling.context import build_context
from kindling.oauth.bearer import LEEWAY, BearerError, authenticate_bearer
from kindling.platform.context import Context
from kindling.resources.apis.service import authorize_application, management_audience
from kindling.resources.applications.service import add_application, delete_application
from kindling.resources.applications.tokens import mint_token
from kindling.resources.signing_keys.service import list_keys, revoke_key
from kindling.web.app import create_app
from kindling.web.bearer_cache import BearerVerifier
from tests.conftest import require_postgres
from tests.support import create_pg_schema, drop_pg_schema

ISSUER = "http://localhost:9"
AUDIENCE = management_audience(ISSUER)


@dataclass
class World:
    ctx: Context
    clock: FrozenClock
    app: Any

    def new_application(self) -> str:
        """A fresh M2M application authorized for the Management API (all scopes)."""
        with self.ctx.storage.transaction() as uow:
            created = add_application(uow, self.ctx.hasher, self.clock, "cache test", "m2m")
            authorize_application(uow, self.clock, created.application.id, AUDIENCE, None)
        return created.application.id

    def token(self, application_id: str | None = None) -> str:
        client_id = application_id or self.new_application()
        body = mint_token(self.ctx, client_id, [AUDIENCE], ["read:users"])
        return str(body["access_token"])

    def get_users(self, token: str) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
                return await http.get(
                    "/api/v1/users?page_size=1", headers={"Authorization": f"Bearer {token}"}
                )

        return asyncio.run(call())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    schema = None
    database_url = None
    if request.param == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    clock = FrozenClock(float(int(time.time())))
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp(f"bearer-cache-{request.param}")),
        database_url=database_url,
        issuer=ISSUER,
    )
    ctx = build_context(settings, clock=clock)
    try:
        bootstrap(ctx, ISSUER)
        # On PostgreSQL the change marker comes from a listener that connects in a thread
        # of its own; until it listens the engine "cannot tell" and everything reads
        # through (correct, but nothing would be answered from memory to test).
        deadline = time.monotonic() + 10
        while ctx.storage.change_marker() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ctx.storage.change_marker() is not None
        yield World(ctx, clock, create_app(ctx))
    finally:
        ctx.close()
        if schema:
            drop_pg_schema(schema)


def _refused(response: httpx.Response, code: str = "INVALID_TOKEN") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["code"] == code
    assert response.headers["www-authenticate"].startswith('Bearer realm="kindling"')


def test_a_remembered_token_is_answered_without_a_second_verification(world: World) -> None:
    verifier = BearerVerifier(world.ctx, lambda: AUDIENCE)
    header = f"Bearer {world.token()}"
    first = verifier.principal(header)
    assert verifier.principal(header) is first  # the remembered principal, not a new check
    cached = verifier.cached(header)
    # On PostgreSQL the keyring "cannot tell" while a change notification is on its way.
    assert (
        cached is first if world.ctx.storage.engine.dialect == "sqlite" else cached in (None, first)
    )
    assert first.scopes == frozenset({"read:users"})


def test_a_revoked_token_is_refused_on_the_next_request_though_remembered(world: World) -> None:
    token = world.token()
    assert world.get_users(token).status_code == 200
    assert world.get_users(token).status_code == 200  # now answered from the cache
    claims = jwt.decode(token, options={"verify_signature": False})
    assert world.ctx.keyring.revoke_token(claims["jti"], claims["azp"], claims["exp"])
    _refused(world.get_users(token))
    # Only that token: another one of the same application is still accepted.
    assert world.get_users(world.token(claims["azp"])).status_code == 200


def test_a_remembered_token_expires_with_its_exp_plus_the_leeway(world: World) -> None:
    token = world.token()
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert world.get_users(token).status_code == 200
    start = world.clock.now()
    try:
        world.clock.advance(exp + LEEWAY - 1 - start)
        assert world.get_users(token).status_code == 200  # within the leeway
        world.clock.advance(1)
        _refused(world.get_users(token), "TOKEN_EXPIRED")
    finally:
        world.clock.advance(start - world.clock.now())


def test_a_deleted_applications_remembered_token_is_refused_next(world: World) -> None:
    application_id = world.new_application()
    token = world.token(application_id)
    assert world.get_users(token).status_code == 200
    assert world.get_users(token).status_code == 200
    delete_application(world.ctx.storage, application_id)
    refused = world.get_users(token)
    _refused(refused)
    assert "no longer exists" in refused.json()["errors"][0]["message"]


def test_an_emergency_key_revoke_refuses_remembered_tokens_next(world: World) -> None:
    token = world.token()
    assert world.get_users(token).status_code == 200
    signing = next(state for state in list_keys(world.ctx) if state.signing)
    assert revoke_key(world.ctx, signing.key.kid) is not None
    _refused(world.get_users(token))
    # Tokens of the key that signs now are accepted.
    assert world.get_users(world.token()).status_code == 200


def test_a_tampered_token_is_refused_while_the_genuine_one_is_remembered(world: World) -> None:
    verifier = BearerVerifier(world.ctx, lambda: AUDIENCE)
    token = world.token()
    verifier.principal(f"Bearer {token}")
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(BearerError) as refused:
        verifier.principal(f"Bearer {head}.{body}.{flipped}")
    assert refused.value.status == 401
    assert verifier.cached(f"Bearer {head}.{body}.{flipped}") is None


def test_the_cache_is_bounded_and_a_dropped_token_is_checked_again(world: World) -> None:
    verifier = BearerVerifier(world.ctx, lambda: AUDIENCE, size=2)
    headers = [f"Bearer {world.token()}" for _ in range(3)]
    principals = [verifier.principal(header) for header in headers]
    assert len(verifier) == 2
    assert verifier.cached(headers[0]) is None  # the oldest was dropped
    again = verifier.principal(headers[0])
    assert again is not principals[0] and again.jti == principals[0].jti
    assert len(verifier) == 2


def test_the_event_loop_trusts_the_keyring_only_until_the_next_change(world: World) -> None:
    keyring = world.ctx.keyring
    sqlite = world.ctx.storage.engine.dialect == "sqlite"
    view = keyring.current()
    if sqlite:  # on PostgreSQL a notification still on its way may make it None
        assert keyring.current_if_known() is view
    token = world.token()
    claims = jwt.decode(token, options={"verify_signature": False})
    keyring.revoke_token(claims["jti"], claims["azp"], claims["exp"])
    # Committed since the view was confirmed: never the old view, only a read can say.
    assert keyring.current_if_known() is None
    fresh = keyring.current()
    assert fresh is not view and fresh.is_revoked(claims["jti"])
    known = keyring.current_if_known()
    assert known is fresh if sqlite else known in (None, fresh)


def _rate_limited(world: World, api: str = "1000/minute") -> World:
    """``world`` served by an application with the rate limiter on."""
    settings = dataclasses.replace(
        world.ctx.settings,
        rate_limits=True,
        rate_limit_api=api,
        rate_limit_api_anonymous="1000/minute",
    )
    app = create_app(dataclasses.replace(world.ctx, settings=settings))
    return World(world.ctx, world.clock, app)


def test_the_rate_limiter_and_the_api_share_one_verification_per_token(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kindling.web.bearer_cache
    import kindling.web.ratelimit

    checks: list[str] = []

    def counted(authorization: str | None, *args: Any, **kwargs: Any) -> Any:
        checks.append(str(authorization))
        return authenticate_bearer(authorization, *args, **kwargs)

    for module in (kindling.web.bearer_cache, kindling.web.ratelimit):
        monkeypatch.setattr(module, "authenticate_bearer", counted, raising=False)
    limited = _rate_limited(world)
    token = limited.token()
    assert [limited.get_users(token).status_code for _ in range(3)] == [200] * 3
    assert checks == [f"Bearer {token}"]


def test_the_rate_limiter_counts_an_expired_or_revoked_token_as_anonymous(world: World) -> None:
    """The rate limiter names a token's application from this same cache (one set of
    rules): once the API refuses a remembered token, expired by the context's clock or
    revoked, it spends the peer address's budget, not its application's."""
    limited = _rate_limited(world, "3/minute")
    application_id = world.new_application()
    expiring, revoked = limited.token(application_id), limited.token(application_id)
    assert limited.get_users(expiring).status_code == 200  # 1 of the application's 3
    assert limited.get_users(revoked).status_code == 200  # 2 of 3
    claims = jwt.decode(revoked, options={"verify_signature": False})
    assert world.ctx.keyring.revoke_token(claims["jti"], claims["azp"], claims["exp"])
    for _ in range(3):
        _refused(limited.get_users(revoked))
    start = world.clock.now()
    try:
        world.clock.advance(claims["exp"] + LEEWAY - start)
        for _ in range(3):
            _refused(limited.get_users(expiring), "TOKEN_EXPIRED")
    finally:
        world.clock.advance(start - world.clock.now())
    fresh = limited.token(application_id)
    assert limited.get_users(fresh).status_code == 200  # 3 of 3
    over = limited.get_users(fresh)
    assert over.status_code == 429, over.text
    assert over.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
