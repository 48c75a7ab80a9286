"""Signing keys and revoked tokens in process, on both engines, with a frozen clock.

The keyring's timeline (publish-before-sign, retirement, expiry from the JWKS), its
emergency revoke, revoked tokens, the events each change commits (and that a refused
change commits nothing), and that a second process over the same database sees every
change on its next check. Each test gets a database of its own (a fresh SQLite file or
PostgreSQL schema), since keys and the change counter are environment-wide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kindling.clock import FrozenClock, isoformat
from kindling.config import Settings
from kindling.context import open_storage
from kindling.crypto.client_secrets import SecretHasher
from kindling.crypto.keys import KeySealer
from kindling.crypto.masterkey import MasterKey
from kindling.platform.context import Context
from kindling.platform.errors import Conflict, NotFound, ValidationError
from kindling.platform.keys import KEYS_REPO
from kindling.platform.pagination import CursorCodec
from kindling.platform.signing import DEFAULT_PUBLISH_DELAY, LEEWAY, Keyring
from kindling.resources.applications.service import add_application, update_tokens
from kindling.resources.environment.service import recorded_issuer
from kindling.resources.signing_keys import service
from tests.conftest import require_postgres
from tests.services.support import MASTER_KEY, NOW, START, Outbox
from tests.support import create_pg_schema, drop_pg_schema

DAY = 86_400


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """A database URL of this test's own (None: SQLite in ``tmp_path``)."""
    if request.param == "sqlite":
        yield None
        return
    require_postgres()
    schema, url = create_pg_schema()
    yield url
    drop_pg_schema(schema)


def make_context(database: str | None, tmp_path: Path, clock: FrozenClock) -> Context:
    storage = open_storage(database, tmp_path, NOW, clock)
    master = MasterKey(MASTER_KEY)
    return Context(
        settings=Settings(data_dir=tmp_path, master_key=MASTER_KEY),
        storage=storage,
        clock=clock,
        hasher=SecretHasher(master.derive("client-secret-pepper")),
        keyring=Keyring(storage, KeySealer(master.derive("signing-key-seal")), clock),
        cursors=CursorCodec(master.derive("pagination-cursor")),
        master=master,
        recorded_issuer=recorded_issuer,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def ctx(database: str | None, tmp_path: Path, clock: FrozenClock) -> Iterator[Context]:
    """A context whose database holds one signing key, made at ``START``."""
    made = make_context(database, tmp_path, clock)
    with made.storage.transaction() as uow:
        made.keyring.install_first_key(uow, made.keyring.new_key())
    made.keyring.reload()
    yield made
    made.close()


@pytest.fixture
def outbox(ctx: Context) -> Outbox:
    return Outbox(ctx.storage)


def published(ctx: Context) -> list[str]:
    return [str(k["kid"]) for k in ctx.keyring.jwks()["keys"]]


def signer_kid(ctx: Context) -> str:
    return ctx.keyring.signer().kid


# --- the timeline --------------------------------------------------------------------------


def test_a_rotation_publishes_at_once_signs_after_the_delay_and_retires_the_old_key(
    ctx: Context, clock: FrozenClock
) -> None:
    old = signer_kid(ctx)
    rotation = service.rotate_keys(ctx, 300)
    new = rotation.key.key.kid
    assert rotation.key.state == "next" and rotation.key.activates_at == START + 300
    assert published(ctx) == [old, new]  # the signer first
    assert ctx.keyring.public_key(new) is not None  # verifies already
    clock.advance(299)
    assert signer_kid(ctx) == old
    clock.advance(1)
    assert signer_kid(ctx) == new  # by the clock alone: nothing was written
    assert published(ctx) == [new, old]
    # The old key stays published until its last token (one day, Kinde's default) expired.
    until = START + 300 + DAY + LEEWAY
    assert rotation.previous is not None and rotation.previous.key.publish_until == until
    clock.advance(DAY + LEEWAY - 1)
    assert old in published(ctx) and ctx.keyring.public_key(old) is not None
    clock.advance(1)
    assert published(ctx) == [new]
    assert ctx.keyring.public_key(old) is None
    states = {s.key.kid: s.state for s in service.list_keys(ctx)}
    assert states == {new: "active", old: "expired"}


def test_the_default_publish_delay_is_the_jwks_max_age_plus_a_margin(ctx: Context) -> None:
    assert DEFAULT_PUBLISH_DELAY == 310
    rotation = service.rotate_keys(ctx)
    assert rotation.key.activates_at == START + DEFAULT_PUBLISH_DELAY


def test_the_old_key_is_kept_for_the_longest_application_token_lifetime(
    ctx: Context, clock: FrozenClock
) -> None:
    with ctx.storage.transaction() as uow:
        app = add_application(uow, ctx.hasher, clock, "long-lived", "m2m").application
    update_tokens(ctx.storage, app.id, {"access_token_lifetime": 3 * DAY})
    rotation = service.rotate_keys(ctx, 10)
    assert rotation.previous is not None
    assert rotation.previous.key.publish_until == START + 10 + 3 * DAY + LEEWAY


def test_a_second_rotation_waits_for_the_first(
    ctx: Context, clock: FrozenClock, outbox: Outbox
) -> None:
    first = service.rotate_keys(ctx, 60)
    outbox.mark()
    before = service.list_keys(ctx)
    with pytest.raises(Conflict) as refused:
        service.rotate_keys(ctx, 60)
    assert refused.value.code == "SIGNING_KEY_ROTATION_PENDING"
    assert service.list_keys(ctx) == before and outbox.recorded() == []
    clock.advance(60)
    second = service.rotate_keys(ctx, 60)
    assert second.previous is not None and second.previous.key.kid == first.key.key.kid


@pytest.mark.parametrize("delay", ["10", -1, True, 7 * DAY + 1, 2.5])
def test_a_bad_delay_is_refused_before_anything_is_written(
    ctx: Context, outbox: Outbox, delay: object
) -> None:
    before = service.list_keys(ctx)
    with pytest.raises(ValidationError) as refused:
        service.rotate_keys(ctx, delay)
    assert refused.value.code == "INVALID_PUBLISH_DELAY"
    assert service.list_keys(ctx) == before and outbox.recorded() == []


# --- emergency revoke ------------------------------------------------------------------------


def test_revoking_the_signer_makes_a_new_key_sign_at_once(ctx: Context, outbox: Outbox) -> None:
    old = signer_kid(ctx)
    revocation = service.revoke_key(ctx, old)
    assert revocation is not None and revocation.replacement is not None
    new = revocation.replacement.key.kid
    assert signer_kid(ctx) == new and published(ctx) == [new]
    assert ctx.keyring.public_key(old) is None
    (event,) = outbox.recorded()
    assert event.type == "signing_key.revoked"
    assert event.data["signing_key"]["kid"] == old
    assert event.data["signing_key"]["previous_state"] == "active"
    assert event.data["replacement_signing_key"]["kid"] == new
    assert service.revoke_key(ctx, old) is None  # already revoked: nothing more
    assert len(outbox.recorded()) == 1


def test_revoking_the_signer_promotes_the_waiting_key(ctx: Context) -> None:
    old = signer_kid(ctx)
    waiting = service.rotate_keys(ctx, 3600).key.key.kid
    revocation = service.revoke_key(ctx, old)
    assert revocation is not None and revocation.replacement is not None
    assert revocation.replacement.key.kid == waiting
    assert signer_kid(ctx) == waiting and published(ctx) == [waiting]


def test_revoking_the_waiting_key_calls_the_rotation_off(ctx: Context, clock: FrozenClock) -> None:
    old = signer_kid(ctx)
    waiting = service.rotate_keys(ctx, 60).key.key.kid
    revocation = service.revoke_key(ctx, waiting)
    assert revocation is not None and revocation.replacement is None
    clock.advance(3600 * 24 * 30)
    assert signer_kid(ctx) == old and published(ctx) == [old]


def test_an_unknown_kid_is_not_found_and_records_nothing(ctx: Context, outbox: Outbox) -> None:
    with pytest.raises(NotFound) as missing:
        service.revoke_key(ctx, "0" * 32)
    assert missing.value.code == "SIGNING_KEY_NOT_FOUND"
    assert outbox.recorded() == []


def test_the_rotation_event_names_both_keys_and_no_key_material(
    ctx: Context, outbox: Outbox
) -> None:
    old = signer_kid(ctx)
    rotation = service.rotate_keys(ctx, 120)
    (event,) = outbox.recorded()
    assert event.type == "signing_key.rotated"
    assert event.data == {
        "signing_key": {
            "kid": rotation.key.key.kid,
            "state": "next",
            "activates_on": isoformat(START + 120),
            "published_until": None,
        },
        "previous_signing_key": {
            "kid": old,
            "state": "active",
            "activates_on": isoformat(START),
            "published_until": isoformat(START + 120 + DAY + LEEWAY),
        },
    }


# --- revoked tokens, and a second process --------------------------------------------------------


def test_a_revoked_token_is_recorded_once_with_its_event(ctx: Context, outbox: Outbox) -> None:
    assert ctx.keyring.revoke_token("jti-1", "client-1", int(START) + 600) is True
    assert ctx.keyring.is_revoked("jti-1") and not ctx.keyring.is_revoked("jti-2")
    assert ctx.keyring.revoke_token("jti-1", "client-1", int(START) + 600) is False
    (event,) = outbox.recorded()
    assert event.type == "token.revoked"
    assert event.data == {
        "token": {
            "jti": "jti-1",
            "client_id": "client-1",
            "expires_on": isoformat(START + 600),
        }
    }


def test_revoked_tokens_are_pruned_once_expired(ctx: Context, clock: FrozenClock) -> None:
    ctx.keyring.revoke_token("short", "c", int(START) + 10)
    clock.advance(10 + LEEWAY + 1)
    ctx.keyring.revoke_token("later", "c", int(clock.now()) + 10)
    with ctx.storage.read() as uow:
        assert uow[KEYS_REPO].is_token_revoked("short") is False
        assert uow[KEYS_REPO].is_token_revoked("later") is True


def _soon(check: Callable[[], bool], within: float = 1.0) -> bool:
    """``check`` true now or within ``within`` seconds (wall clock: the push travels)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_another_process_sees_every_change_on_its_next_check(
    ctx: Context, database: str | None, tmp_path: Path, clock: FrozenClock
) -> None:
    """A second storage and keyring on the same database: a worker process. SQLite's
    marker moves with the commit, so the very next check sees it; PostgreSQL's moves
    when the commit's NOTIFY reaches the other process (docs/architecture.md, "Several
    instances"): milliseconds, bounded here by a second."""
    other = make_context(database, tmp_path, clock)
    wait = 1.0 if database else 0.0
    try:
        other.keyring.reload()
        old = signer_kid(other)
        ctx.keyring.revoke_token("seen-elsewhere", "c", int(START) + 600)
        assert _soon(lambda: other.keyring.is_revoked("seen-elsewhere"), wait)
        waiting = service.rotate_keys(ctx, 30).key.key.kid
        assert _soon(lambda: waiting in published(other), wait)
        assert signer_kid(other) == old
        clock.advance(30)
        assert signer_kid(other) == waiting
        revocation = service.revoke_key(ctx, waiting)
        assert revocation is not None and revocation.replacement is not None
        assert _soon(lambda: other.keyring.public_key(waiting) is None, wait)
        assert signer_kid(other) == revocation.replacement.key.kid
    finally:
        other.close()


def test_a_refused_reload_names_the_missing_key(
    database: str | None, tmp_path: Path, clock: FrozenClock
) -> None:
    empty = make_context(database, tmp_path, clock)
    try:
        with pytest.raises(Exception, match="holds no usable signing key"):
            empty.keyring.reload()
    finally:
        empty.close()


def test_without_a_key_a_rotation_makes_one_that_signs_at_once(
    database: str | None, tmp_path: Path, clock: FrozenClock
) -> None:
    empty = make_context(database, tmp_path, clock)
    try:
        rotation = service.rotate_keys(empty, 300)
        assert rotation.previous is None and rotation.key.state == "active"
        empty.keyring.reload()
        assert signer_kid(empty) == rotation.key.key.kid
    finally:
        empty.close()
