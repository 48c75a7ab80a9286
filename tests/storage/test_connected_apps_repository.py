"""Storage contract: ``ConnectedAppRepository`` on both engines."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import hex_id, organization_code, user_id
from kindling.platform.storage import Storage
from kindling.resources.connected_apps.model import (
    AUTHORIZED,
    EXCHANGING,
    FAILED,
    PENDING,
    ConnectedAppSession,
    Provider,
)
from kindling.resources.connected_apps.repository import CONNECTED_APPS_REPO
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_access import add_org, add_user

T0 = 1_704_067_200


def make_provider(**fields: Any) -> Provider:
    values: dict[str, Any] = {
        "id": "connected_app_" + hex_id(),
        "key_code_ref": f"ref-{uid()}",
        "name": "Drive",
        "authorization_endpoint": "https://accounts.example.com/o/auth?prompt=consent",
        "token_endpoint": "https://oauth.example.com/token",
        "revocation_endpoint": "https://oauth.example.com/revoke",
        "client_id": f"client-{uid()}",
        "client_secret_sealed": b"\x00sealed\xffsecret",
        "token_endpoint_auth_method": "client_secret_basic",
        "scopes": ("drive.read", "profile"),
        "authorization_params": (("access_type", "offline"), ("include_granted_scopes", "true")),
        "callback_url": "https://app.example.com/connected",
        "timeout_seconds": 7,
        "created_on": NOW,
        "updated_on": NOW,
    }
    values.update(fields)
    return Provider(**values)


def add_provider(storage: Storage, **fields: Any) -> Provider:
    provider = make_provider(**fields)
    with storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].add_provider(provider)
    return provider


def make_session(provider: Provider, **fields: Any) -> ConnectedAppSession:
    values: dict[str, Any] = {
        "id": "cas_" + hex_id(),
        "session_hash": "hmac-sha256$v1$" + hex_id(32),
        "provider_id": provider.id,
        "user_id": None,
        "org_code": None,
        "status": PENDING,
        "state_hash": "hmac-sha256$v1$" + hex_id(32),
        "redirect_uri": "https://kindling.example.com/kindling/v1/connected_apps/callback",
        "callback_url": None,
        "code_verifier_sealed": b"verifier",
        "access_token_sealed": None,
        "refresh_token_sealed": None,
        "access_token_expires_at": None,
        "granted_scope": None,
        "version": 0,
        "created_on": NOW,
        "expires_at": T0 + 600,
    }
    values.update(fields)
    return ConnectedAppSession(**values)


def add_session(storage: Storage, provider: Provider, **fields: Any) -> ConnectedAppSession:
    if "user_id" not in fields and "org_code" not in fields:
        fields["user_id"] = add_user(storage).id
    session = make_session(provider, **fields)
    with storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].add_session(session)
    return session


def authorized(storage: Storage, provider: Provider, **fields: Any) -> ConnectedAppSession:
    """A session moved through the real transitions to ``authorized``."""
    session = add_session(storage, provider, **fields)
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert session.state_hash is not None
        assert repo.consume_state(session.state_hash, session.expires_at) is not None
        assert repo.finish_authorization(session.id, b"at", b"rt", T0 + 3600, "files", LATER)
        found = repo.get_session(session.id)
    assert found is not None
    return found


# --- providers --------------------------------------------------------------------------


def test_missing_providers_are_none(storage: Storage) -> None:
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.get_provider("connected_app_" + hex_id()) is None
        assert repo.get_provider_by_ref(f"missing-{uid()}") is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    full = make_provider()
    bare = make_provider(
        revocation_endpoint=None,
        client_secret_sealed=None,
        token_endpoint_auth_method="none",
        scopes=(),
        authorization_params=(),
        callback_url=None,
    )
    with storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].add_provider(full)
        uow[CONNECTED_APPS_REPO].add_provider(bare)
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.get_provider(full.id) == full
        assert repo.get_provider_by_ref(full.key_code_ref) == full
        assert repo.get_provider(bare.id) == bare


def test_key_code_ref_is_unique_and_case_sensitive(storage: Storage) -> None:
    ref = f"Drive-{uid()}"
    first = add_provider(storage, key_code_ref=ref)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].add_provider(make_provider(key_code_ref=ref))
    other = add_provider(storage, key_code_ref=ref.lower())
    with storage.read() as uow:
        assert uow[CONNECTED_APPS_REPO].get_provider_by_ref(ref) == first
        assert uow[CONNECTED_APPS_REPO].get_provider_by_ref(ref.lower()) == other


def test_list_providers_oldest_first(storage: Storage) -> None:
    a, b = add_provider(storage), add_provider(storage)
    with storage.read() as uow:
        ids = [p.id for p in uow[CONNECTED_APPS_REPO].list_providers()]
    assert ids.index(a.id) < ids.index(b.id)


def test_update_provider_overwrites_all_but_identity(storage: Storage) -> None:
    provider = add_provider(storage)
    changed = replace(
        provider,
        key_code_ref="ignored",
        name="Renamed",
        authorization_endpoint="https://new.example.com/auth",
        token_endpoint="https://new.example.com/token",
        revocation_endpoint=None,
        client_id="new-client",
        client_secret_sealed=b"new",
        token_endpoint_auth_method="client_secret_post",
        scopes=("one",),
        authorization_params=(),
        callback_url=None,
        timeout_seconds=30,
        created_on=LATER,
        updated_on=LATER,
    )
    with storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].update_provider(changed)
        uow[CONNECTED_APPS_REPO].update_provider(make_provider())  # absent: nothing happens
    with storage.read() as uow:
        found = uow[CONNECTED_APPS_REPO].get_provider(provider.id)
    assert found == replace(changed, key_code_ref=provider.key_code_ref, created_on=NOW)


def test_delete_provider_takes_its_sessions(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider)
    with storage.transaction() as uow:
        assert uow[CONNECTED_APPS_REPO].delete_provider(provider.id) is True
        assert uow[CONNECTED_APPS_REPO].delete_provider(provider.id) is False
    with storage.read() as uow:
        assert uow[CONNECTED_APPS_REPO].get_provider(provider.id) is None
        assert uow[CONNECTED_APPS_REPO].get_session(session.id) is None


def test_count_sessions_by_status(storage: Storage) -> None:
    provider = add_provider(storage)
    add_session(storage, provider)
    add_session(storage, provider)
    authorized(storage, provider)
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.count_sessions(provider.id, PENDING) == 2
        assert repo.count_sessions(provider.id, AUTHORIZED) == 1
        assert repo.count_sessions(provider.id, FAILED) == 0
        assert repo.count_sessions("connected_app_" + hex_id(), PENDING) == 0


# --- sessions ---------------------------------------------------------------------------


def test_add_then_get_session_round_trips_every_field(storage: Storage) -> None:
    provider = add_provider(storage)
    org = add_org(storage)
    session = make_session(
        provider,
        org_code=org.code,
        status=AUTHORIZED,
        state_hash=None,
        callback_url="https://app.example.com/back",
        code_verifier_sealed=None,
        access_token_sealed=b"\x01at",
        refresh_token_sealed=b"\x02rt",
        access_token_expires_at=T0 + 3600,
        granted_scope="a b",
        version=3,
        authorized_on=NOW,
        refreshed_on=LATER,
    )
    with storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].add_session(session)
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.get_session(session.id) == session
        assert repo.get_session_by_hash(session.session_hash) == session
        assert repo.get_session("cas_" + hex_id()) is None
        assert repo.get_session_by_hash("hmac-sha256$v1$" + hex_id(32)) is None


def test_add_session_refuses_duplicates_and_unknown_subjects(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider)
    taken = [
        make_session(provider, user_id=session.user_id, session_hash=session.session_hash),
        make_session(provider, user_id=session.user_id, state_hash=session.state_hash),
        make_session(provider, user_id=user_id()),
        make_session(provider, org_code=organization_code()),
        make_session(make_provider(), user_id=session.user_id),
    ]
    for bad in taken:
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[CONNECTED_APPS_REPO].add_session(bad)
        with storage.read() as uow:
            assert uow[CONNECTED_APPS_REPO].get_session(bad.id) is None


def test_consume_state_is_single_use(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider)
    assert session.state_hash is not None
    with storage.transaction() as uow:
        used = uow[CONNECTED_APPS_REPO].consume_state(session.state_hash, T0)
        again = uow[CONNECTED_APPS_REPO].consume_state(session.state_hash, T0)
    assert used == replace(session, status=EXCHANGING, state_hash=None)
    assert again is None


def test_consume_state_refuses_expired_unknown_and_settled(storage: Storage) -> None:
    provider = add_provider(storage)
    expired = add_session(storage, provider, expires_at=T0 - 1)
    settled = add_session(storage, provider, status=FAILED)
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert expired.state_hash is not None and settled.state_hash is not None
        assert repo.consume_state(expired.state_hash, T0) is None
        assert repo.consume_state(settled.state_hash, T0) is None
        assert repo.consume_state("hmac-sha256$v1$" + hex_id(32), T0) is None
    with storage.read() as uow:
        assert uow[CONNECTED_APPS_REPO].get_session(expired.id) == expired
        assert uow[CONNECTED_APPS_REPO].get_session(settled.id) == settled


def test_consume_state_at_the_deadline_still_counts(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider, expires_at=T0)
    assert session.state_hash is not None
    with storage.transaction() as uow:
        assert uow[CONNECTED_APPS_REPO].consume_state(session.state_hash, T0) is not None


def test_finish_authorization_only_from_exchanging(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider)
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert not repo.finish_authorization(session.id, b"at", None, None, None, LATER)
        assert session.state_hash is not None
        repo.consume_state(session.state_hash, T0)
        assert repo.finish_authorization(session.id, b"at", b"rt", T0 + 60, "s", LATER)
        assert not repo.finish_authorization(session.id, b"at2", b"rt2", T0, "s", LATER)
        assert not repo.finish_authorization("cas_" + hex_id(), b"at", None, None, None, LATER)
        found = repo.get_session(session.id)
    assert found == replace(
        session,
        status=AUTHORIZED,
        state_hash=None,
        code_verifier_sealed=None,
        access_token_sealed=b"at",
        refresh_token_sealed=b"rt",
        access_token_expires_at=T0 + 60,
        granted_scope="s",
        authorized_on=LATER,
        version=1,
    )


def test_fail_authorization_only_from_exchanging(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider)
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert not repo.fail_authorization(session.id)
        assert session.state_hash is not None
        repo.consume_state(session.state_hash, T0)
        assert repo.fail_authorization(session.id)
        assert not repo.fail_authorization(session.id)
        found = repo.get_session(session.id)
    assert found == replace(session, status=FAILED, state_hash=None, code_verifier_sealed=None)


def test_replace_tokens_checks_the_version(storage: Storage) -> None:
    provider = add_provider(storage)
    session = authorized(storage, provider)
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.replace_tokens(session.id, session.version, b"at2", b"rt2", None, "x", LATER)
        # A second writer still holding the old version loses.
        assert not repo.replace_tokens(session.id, session.version, b"at3", b"rt3", 1, "y", NOW)
        found = repo.get_session(session.id)
    assert found == replace(
        session,
        access_token_sealed=b"at2",
        refresh_token_sealed=b"rt2",
        access_token_expires_at=None,
        granted_scope="x",
        refreshed_on=LATER,
        version=session.version + 1,
    )


def test_replace_tokens_needs_an_authorized_session(storage: Storage) -> None:
    provider = add_provider(storage)
    session = add_session(storage, provider)
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert not repo.replace_tokens(session.id, 0, b"at", None, None, None, LATER)
        assert not repo.replace_tokens("cas_" + hex_id(), 0, b"at", None, None, None, LATER)
        assert repo.get_session(session.id) == session


def test_delete_session(storage: Storage) -> None:
    provider = add_provider(storage)
    session = authorized(storage, provider)
    with storage.transaction() as uow:
        assert uow[CONNECTED_APPS_REPO].delete_session(session.id) is True
        assert uow[CONNECTED_APPS_REPO].delete_session(session.id) is False
    with storage.read() as uow:
        assert uow[CONNECTED_APPS_REPO].get_session_by_hash(session.session_hash) is None


def test_prune_removes_only_expired_unfinished_sessions(storage: Storage) -> None:
    provider = add_provider(storage)
    stale_pending = add_session(storage, provider, expires_at=T0 - 10)
    stale_failed = add_session(storage, provider, status=FAILED, expires_at=T0 - 10)
    live = add_session(storage, provider, expires_at=T0 + 10)
    kept = authorized(storage, provider, expires_at=T0 - 10)
    with storage.transaction() as uow:
        removed = uow[CONNECTED_APPS_REPO].prune_sessions(T0)
    assert removed >= 2  # PostgreSQL is shared: other tests' stale rows may go too
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.get_session(stale_pending.id) is None
        assert repo.get_session(stale_failed.id) is None
        assert repo.get_session(live.id) == live
        assert repo.get_session(kept.id) == kept


def test_sessions_go_with_their_user_or_organization(storage: Storage) -> None:
    provider = add_provider(storage)
    user = add_user(storage)
    org = add_org(storage)
    mine = authorized(storage, provider, user_id=user.id)
    theirs = authorized(storage, provider, org_code=org.code)
    with storage.transaction() as uow:
        assert uow[USERS_REPO].delete(user.id)
        assert uow[ORGANIZATIONS_REPO].delete(org.code)
    with storage.read() as uow:
        assert uow[CONNECTED_APPS_REPO].get_session(mine.id) is None
        assert uow[CONNECTED_APPS_REPO].get_session(theirs.id) is None


def test_subjects_exist(storage: Storage) -> None:
    user, org = add_user(storage), add_org(storage)
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        assert repo.user_exists(user.id) and not repo.user_exists(user_id())
        assert repo.organization_exists(org.code)
        assert not repo.organization_exists(organization_code())


def test_a_rolled_back_transaction_writes_nothing(storage: Storage) -> None:
    provider = make_provider()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[CONNECTED_APPS_REPO].add_provider(provider)
        raise Boom
    with storage.read() as uow:
        assert uow[CONNECTED_APPS_REPO].get_provider(provider.id) is None
