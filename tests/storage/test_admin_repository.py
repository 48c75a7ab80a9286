"""AdminRepository contract: console accounts, sessions and failed sign-ins.

The expiry and pruning methods act on the whole table; on the shared PostgreSQL
schema the expected counts are read with SQL just before the call.
"""

from __future__ import annotations

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage
from kindling.resources.admin.model import AdminAccount, AdminSession
from kindling.resources.admin.repository import ADMIN_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid


def add_account(storage: Storage, username: str | None = None) -> AdminAccount:
    account = AdminAccount(
        id=hex_id(),
        username=username or f"admin-{uid()}",
        password_hash=f"$argon2id${uid()}",
        created_on=NOW,
        password_changed_on=NOW,
    )
    with storage.transaction() as uow:
        uow[ADMIN_REPO].add_account(
            account.id, account.username, account.password_hash, account.created_on
        )
    return account


def add_session(
    storage: Storage, account: AdminAccount, created_at: int = 1_000, expires_at: int = 2_000
) -> str:
    token = f"sha256-{hex_id(32)}"
    with storage.transaction() as uow:
        uow[ADMIN_REPO].add_session(token, account.id, f"csrf-{uid()}", created_at, expires_at)
    return token


def count(storage: Storage, sql: str, params: tuple[object, ...]) -> int:
    with storage.engine.session(write=False) as session:
        row = session.one(sql, params)
    assert row is not None
    return int(row["n"])


# --- accounts -----------------------------------------------------------------------


def test_account_round_trip_and_missing(storage: Storage) -> None:
    account = add_account(storage)
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_account(account.username) == account
        assert uow[ADMIN_REPO].get_account(account.username.upper()) is None
        assert uow[ADMIN_REPO].get_account(f"nobody-{uid()}") is None


def test_first_account_is_the_oldest(storage: Storage) -> None:
    with storage.read() as uow:
        before = uow[ADMIN_REPO].first_account()
    if storage.engine.dialect == "sqlite":
        assert before is None  # a fresh file: no account yet
    owner = add_account(storage, f"zz-{uid()}")
    add_account(storage, f"aa-{uid()}")
    with storage.read() as uow:
        assert uow[ADMIN_REPO].first_account() == (before or owner)


def test_add_account_with_taken_id_or_username_is_refused(storage: Storage) -> None:
    account = add_account(storage)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ADMIN_REPO].add_account(hex_id(), account.username, "h", LATER)
    fresh_name = f"admin-{uid()}"
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ADMIN_REPO].add_account(account.id, fresh_name, "h", LATER)
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_account(account.username) == account
        assert uow[ADMIN_REPO].get_account(fresh_name) is None


def test_set_password_hash(storage: Storage) -> None:
    account = add_account(storage)
    other = add_account(storage)
    with storage.transaction() as uow:
        assert uow[ADMIN_REPO].set_password_hash(account.id, "$argon2id$new", LATER) is True
        assert uow[ADMIN_REPO].set_password_hash(hex_id(), "$argon2id$x", LATER) is False
    with storage.read() as uow:
        got = uow[ADMIN_REPO].get_account(account.username)
        assert uow[ADMIN_REPO].get_account(other.username) == other
    assert got == AdminAccount(
        id=account.id,
        username=account.username,
        password_hash="$argon2id$new",
        created_on=NOW,
        password_changed_on=LATER,
    )


def test_rolled_back_account_leaves_nothing(storage: Storage) -> None:
    name = f"admin-{uid()}"
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[ADMIN_REPO].add_account(hex_id(), name, "h", NOW)
        assert uow[ADMIN_REPO].get_account(name) is not None
        raise Boom
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_account(name) is None
    add_account(storage, name)  # the username is free


# --- sessions -----------------------------------------------------------------------


def test_session_round_trip_with_username(storage: Storage) -> None:
    account = add_account(storage)
    token = f"sha256-{hex_id(32)}"
    with storage.transaction() as uow:
        uow[ADMIN_REPO].add_session(token, account.id, "csrf-1", 1_000, 2_000)
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_session(token) == AdminSession(
            account_id=account.id,
            username=account.username,
            csrf_token="csrf-1",
            created_at=1_000,
            expires_at=2_000,
            last_seen_at=1_000,
            flash=None,
        )
        assert uow[ADMIN_REPO].get_session(f"sha256-{hex_id(32)}") is None


def test_expired_sessions_are_still_returned(storage: Storage) -> None:
    account = add_account(storage)
    token = add_session(storage, account, created_at=10, expires_at=20)
    with storage.read() as uow:
        found = uow[ADMIN_REPO].get_session(token)
    assert found is not None and found.expires_at == 20


def test_add_session_needs_account_and_fresh_token(storage: Storage) -> None:
    account = add_account(storage)
    token = add_session(storage, account)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ADMIN_REPO].add_session(token, account.id, "other", 5, 6)
    ghost = f"sha256-{hex_id(32)}"
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ADMIN_REPO].add_session(ghost, hex_id(), "csrf", 5, 6)
    with storage.read() as uow:
        kept = uow[ADMIN_REPO].get_session(token)
        assert uow[ADMIN_REPO].get_session(ghost) is None
    assert kept is not None and kept.created_at == 1_000 and kept.csrf_token != "other"


def test_touch_session_records_activity(storage: Storage) -> None:
    account = add_account(storage)
    token = add_session(storage, account)
    other = add_session(storage, account)
    with storage.transaction() as uow:
        uow[ADMIN_REPO].touch_session(token, 1_500)
        uow[ADMIN_REPO].touch_session(f"sha256-{hex_id(32)}", 1_500)  # missing: ignored
    with storage.read() as uow:
        touched = uow[ADMIN_REPO].get_session(token)
        untouched = uow[ADMIN_REPO].get_session(other)
    assert touched is not None and untouched is not None
    assert (touched.last_seen_at, touched.created_at, touched.expires_at) == (1_500, 1_000, 2_000)
    assert untouched.last_seen_at == 1_000


def test_set_flash_sets_and_clears(storage: Storage) -> None:
    account = add_account(storage)
    token = add_session(storage, account)
    with storage.transaction() as uow:
        uow[ADMIN_REPO].set_flash(token, "Password changed")
        uow[ADMIN_REPO].set_flash(f"sha256-{hex_id(32)}", "x")  # missing: ignored
    with storage.read() as uow:
        found = uow[ADMIN_REPO].get_session(token)
    assert found is not None and found.flash == "Password changed"
    with storage.transaction() as uow:
        uow[ADMIN_REPO].set_flash(token, None)
    with storage.read() as uow:
        found = uow[ADMIN_REPO].get_session(token)
    assert found is not None and found.flash is None


def test_delete_session(storage: Storage) -> None:
    account = add_account(storage)
    token, other = add_session(storage, account), add_session(storage, account)
    with storage.transaction() as uow:
        assert uow[ADMIN_REPO].delete_session(token) is True
        assert uow[ADMIN_REPO].delete_session(token) is False
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_session(token) is None
        assert uow[ADMIN_REPO].get_session(other) is not None


def test_delete_account_sessions_counts(storage: Storage) -> None:
    account, other = add_account(storage), add_account(storage)
    mine = [add_session(storage, account) for _ in range(3)]
    theirs = add_session(storage, other)
    with storage.transaction() as uow:
        assert uow[ADMIN_REPO].delete_account_sessions(account.id) == 3
        assert uow[ADMIN_REPO].delete_account_sessions(account.id) == 0
        assert uow[ADMIN_REPO].delete_account_sessions(hex_id()) == 0
    with storage.read() as uow:
        assert all(uow[ADMIN_REPO].get_session(t) is None for t in mine)
        assert uow[ADMIN_REPO].get_session(theirs) is not None
        # The account itself stays.
        assert uow[ADMIN_REPO].get_account(account.username) == account


def test_delete_expired_sessions_is_not_after_now(storage: Storage) -> None:
    account = add_account(storage)
    base = 10_000_000 + int(hex_id(2), 16)  # tokens of other tests expire at 2_000 or 20
    expired = add_session(storage, account, created_at=1, expires_at=base - 1)
    boundary = add_session(storage, account, created_at=1, expires_at=base)
    live = add_session(storage, account, created_at=1, expires_at=base + 1)
    expected = count(
        storage, "SELECT COUNT(*) AS n FROM admin_sessions WHERE expires_at <= ?", (base,)
    )
    assert expected >= 2
    with storage.transaction() as uow:
        assert uow[ADMIN_REPO].delete_expired_sessions(base) == expected
        assert uow[ADMIN_REPO].delete_expired_sessions(base) == 0
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_session(expired) is None
        assert uow[ADMIN_REPO].get_session(boundary) is None
        assert uow[ADMIN_REPO].get_session(live) is not None


def test_rolled_back_session_leaves_nothing(storage: Storage) -> None:
    account = add_account(storage)
    token = f"sha256-{hex_id(32)}"
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[ADMIN_REPO].add_session(token, account.id, "csrf", 1, 2)
        raise Boom
    with storage.read() as uow:
        assert uow[ADMIN_REPO].get_session(token) is None


# --- failed sign-ins ------------------------------------------------------------------


def test_failures_are_counted_per_username_and_address_after_since(storage: Storage) -> None:
    name, ip = f"user-{uid()}", "192.0.2.10"
    with storage.transaction() as uow:
        repo = uow[ADMIN_REPO]
        for at in (100, 200, 300):
            repo.record_failure(name, ip, at)
        repo.record_failure(name, "192.0.2.99", 250)  # other address
        repo.record_failure(f"{name}-other", ip, 250)  # other username
    with storage.read() as uow:
        repo = uow[ADMIN_REPO]
        assert repo.count_failures(name, ip, 0) == 3
        assert repo.count_failures(name, ip, 100) == 2  # strictly after ``since``
        assert repo.count_failures(name, ip, 299) == 1
        assert repo.count_failures(name, ip, 300) == 0
        assert repo.count_failures(name, "192.0.2.99", 0) == 1
        assert repo.count_failures(f"nobody-{uid()}", ip, 0) == 0
        assert repo.oldest_failure(name, ip, 0) == 100
        assert repo.oldest_failure(name, ip, 100) == 200
        assert repo.oldest_failure(name, ip, 300) is None
        assert repo.oldest_failure(f"nobody-{uid()}", ip, 0) is None


def test_clear_failures_forgets_one_pair(storage: Storage) -> None:
    name, ip, other_ip = f"user-{uid()}", "198.51.100.1", "198.51.100.2"
    with storage.transaction() as uow:
        uow[ADMIN_REPO].record_failure(name, ip, 10)
        uow[ADMIN_REPO].record_failure(name, ip, 20)
        uow[ADMIN_REPO].record_failure(name, other_ip, 10)
    with storage.transaction() as uow:
        uow[ADMIN_REPO].clear_failures(name, ip)
        uow[ADMIN_REPO].clear_failures(f"nobody-{uid()}", ip)  # nothing to clear
    with storage.read() as uow:
        assert uow[ADMIN_REPO].count_failures(name, ip, 0) == 0
        assert uow[ADMIN_REPO].oldest_failure(name, ip, 0) is None
        assert uow[ADMIN_REPO].count_failures(name, other_ip, 0) == 1


def test_prune_failures_at_or_before(storage: Storage) -> None:
    name, ip = f"user-{uid()}", "203.0.113.5"
    base = 50_000_000 + int(hex_id(2), 16)
    with storage.transaction() as uow:
        for at in (base - 1, base, base + 1):
            uow[ADMIN_REPO].record_failure(name, ip, at)
    expected = count(
        storage, "SELECT COUNT(*) AS n FROM admin_login_failures WHERE failed_at <= ?", (base,)
    )
    assert expected >= 2
    with storage.transaction() as uow:
        assert uow[ADMIN_REPO].prune_failures(base) == expected
        assert uow[ADMIN_REPO].prune_failures(base) == 0
    with storage.read() as uow:
        assert uow[ADMIN_REPO].count_failures(name, ip, 0) == 1
        assert uow[ADMIN_REPO].oldest_failure(name, ip, 0) == base + 1


def test_rolled_back_failure_leaves_nothing(storage: Storage) -> None:
    name, ip = f"user-{uid()}", "203.0.113.9"
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[ADMIN_REPO].record_failure(name, ip, 5)
        assert uow[ADMIN_REPO].count_failures(name, ip, 0) == 1
        raise Boom
    with storage.read() as uow:
        assert uow[ADMIN_REPO].count_failures(name, ip, 0) == 0
