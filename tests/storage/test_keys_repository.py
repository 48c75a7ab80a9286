"""KeyRepository contract (``KEYS_REPO``): signing keys, their states, the change counter
and revoked tokens."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import key_id
from kindling.platform.keys import KEYS_REPO, NEXT, RETIRED, REVOKED, RevokedToken, StoredKey
from kindling.platform.storage import Storage
from tests.storage.conftest import LATER, NOW, Boom


def make_key(status: str = "active", retired_on: str | None = None) -> StoredKey:
    kid = key_id()
    return StoredKey(
        kid=kid,
        algorithm="RS256",
        public_jwk={"kty": "RSA", "kid": kid, "n": "AQAB" * 8, "e": "AQAB", "use": "sig"},
        sealed_private=b"\x00sealed\xff" + kid.encode(),
        status=status,
        created_on=NOW,
        retired_on=retired_on,
    )


def usable(storage: Storage, *keys: StoredKey) -> list[StoredKey]:
    """The usable keys among ``keys``, in the order ``list_usable`` gives them."""
    kids = {k.kid for k in keys}
    with storage.read() as uow:
        return [k for k in uow[KEYS_REPO].list_usable() if k.kid in kids]


def add_keys(storage: Storage, *keys: StoredKey) -> None:
    with storage.transaction() as uow:
        for key in keys:
            uow[KEYS_REPO].add(key)


def test_added_key_round_trips(storage: Storage) -> None:
    key = make_key()
    add_keys(storage, key)
    assert usable(storage, key) == [key]
    (got,) = usable(storage, key)
    assert isinstance(got.sealed_private, bytes) and got.public_jwk["kid"] == key.kid


def test_list_usable_is_active_and_retired_newest_first(storage: Storage) -> None:
    oldest = make_key("retired", retired_on=NOW)
    middle = make_key("active")
    hidden = make_key("revoked")
    newest = make_key("retired", retired_on=LATER)
    add_keys(storage, oldest, middle)
    add_keys(storage, hidden, newest)
    assert usable(storage, oldest, middle, hidden, newest) == [newest, middle, oldest]


def test_retire_active_keeps_the_key_published(storage: Storage) -> None:
    already = make_key("retired", retired_on=NOW)
    active = make_key("active")
    hidden = make_key("revoked")
    add_keys(storage, already, active, hidden)
    with storage.transaction() as uow:
        uow[KEYS_REPO].retire_active(LATER)
    with storage.read() as uow:
        everything = uow[KEYS_REPO].list_usable()
    assert all(k.status != "active" for k in everything)
    assert usable(storage, already, active, hidden) == [
        StoredKey(
            kid=active.kid,
            algorithm=active.algorithm,
            public_jwk=active.public_jwk,
            sealed_private=active.sealed_private,
            status="retired",
            created_on=NOW,
            retired_on=LATER,
        ),
        already,  # an already retired key keeps its retirement date
    ]
    # Nothing active left: retiring again changes nothing.
    with storage.transaction() as uow:
        uow[KEYS_REPO].retire_active("2030-01-01T00:00:00+00:00")
    assert [k.retired_on for k in usable(storage, already, active)] == [LATER, NOW]


def test_rolled_back_key_leaves_nothing(storage: Storage) -> None:
    key = make_key()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[KEYS_REPO].add(key)
        assert [k.kid for k in uow[KEYS_REPO].list_usable() if k.kid == key.kid] == [key.kid]
        raise Boom
    assert usable(storage, key) == []


def test_rolled_back_retirement_leaves_the_key_active(storage: Storage) -> None:
    key = make_key()
    add_keys(storage, key)
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[KEYS_REPO].retire_active(LATER)
        raise Boom
    assert usable(storage, key) == [key]


# --- key states ----------------------------------------------------------------------------


def test_list_usable_includes_next_keys_and_list_all_the_revoked(storage: Storage) -> None:
    waiting = replace(make_key(NEXT), activates_at=1_900_000_000)
    hidden = make_key(REVOKED)
    add_keys(storage, waiting, hidden)
    assert usable(storage, waiting, hidden) == [waiting]
    with storage.read() as uow:
        everything = [k for k in uow[KEYS_REPO].list_all() if k.kid in {waiting.kid, hidden.kid}]
    assert everything == [hidden, waiting]


def test_get_returns_the_key_or_none(storage: Storage) -> None:
    key = replace(make_key(), activates_at=1_700_000_000, publish_until=1_800_000_000)
    add_keys(storage, key)
    with storage.read() as uow:
        assert uow[KEYS_REPO].get(key.kid) == key
        assert uow[KEYS_REPO].get(key_id()) is None


def test_a_kid_cannot_be_stored_twice(storage: Storage) -> None:
    key = make_key()
    add_keys(storage, key)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[KEYS_REPO].add(replace(key, status=NEXT))
    assert usable(storage, key) == [key]


def test_update_state_writes_the_state_columns_only(storage: Storage) -> None:
    key = make_key(NEXT)
    add_keys(storage, key)
    changed = replace(
        key,
        status=REVOKED,
        retired_on=LATER,
        activates_at=1_700_000_100,
        publish_until=1_700_000_200,
        revoked_on=LATER,
        public_jwk={"kid": "ignored"},
        sealed_private=b"ignored",
    )
    with storage.transaction() as uow:
        uow[KEYS_REPO].update_state(changed)
        uow[KEYS_REPO].update_state(replace(make_key(), status=RETIRED))  # missing: ignored
    with storage.read() as uow:
        got = uow[KEYS_REPO].get(key.kid)
    assert got == replace(changed, public_jwk=key.public_jwk, sealed_private=key.sealed_private)


def test_the_version_goes_up_by_one_per_bump_and_rolls_back(storage: Storage) -> None:
    with storage.read() as uow:
        start = uow[KEYS_REPO].version()
    with storage.transaction() as uow:
        assert uow[KEYS_REPO].bump_version() == start + 1
        assert uow[KEYS_REPO].bump_version() == start + 2
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[KEYS_REPO].bump_version()
        raise Boom
    with storage.read() as uow:
        assert uow[KEYS_REPO].version() == start + 2


def test_the_seal_check_value_is_kept(storage: Storage) -> None:
    value = "check-" + key_id()
    with storage.transaction() as uow:
        uow[KEYS_REPO].set_seal_check(value)
    with storage.read() as uow:
        assert uow[KEYS_REPO].seal_check() == value


# --- revoked tokens ------------------------------------------------------------------------


def revoked(expires_at: int) -> RevokedToken:
    return RevokedToken(str(uuid.uuid4()), "client-" + key_id(), expires_at, NOW)


def test_a_revoked_token_is_recorded_once(storage: Storage) -> None:
    token = revoked(2_000_000_000)
    with storage.transaction() as uow:
        assert uow[KEYS_REPO].is_token_revoked(token.jti) is False
        assert uow[KEYS_REPO].revoke_token(token, 7) is True
        assert uow[KEYS_REPO].revoke_token(replace(token, client_id="other"), 8) is False
    with storage.read() as uow:
        assert uow[KEYS_REPO].is_token_revoked(token.jti) is True
        found = [t for t in uow[KEYS_REPO].revoked_since(6, 0) if t.jti == token.jti]
    assert found == [token]


def test_revoked_since_takes_later_versions_of_unexpired_tokens(storage: Storage) -> None:
    with storage.transaction() as uow:
        base = uow[KEYS_REPO].bump_version()
    old, new, expired = revoked(2_000_000_000), revoked(2_000_000_000), revoked(1_000)
    with storage.transaction() as uow:
        uow[KEYS_REPO].revoke_token(old, base)
        uow[KEYS_REPO].revoke_token(new, base + 1)
        uow[KEYS_REPO].revoke_token(expired, base + 1)
    mine = {old.jti, new.jti, expired.jti}
    with storage.read() as uow:
        later = {t.jti for t in uow[KEYS_REPO].revoked_since(base, 1_500) if t.jti in mine}
        every = {t.jti for t in uow[KEYS_REPO].revoked_since(-1, 0) if t.jti in mine}
    assert later == {new.jti}
    assert every == mine


def test_prune_forgets_only_expired_tokens(storage: Storage) -> None:
    live, dead = revoked(2_000_000_000), revoked(1_000)
    with storage.transaction() as uow:
        uow[KEYS_REPO].revoke_token(live, 1)
        uow[KEYS_REPO].revoke_token(dead, 1)
        assert uow[KEYS_REPO].prune_revoked(1_001) >= 1
    with storage.read() as uow:
        assert uow[KEYS_REPO].is_token_revoked(live.jti) is True
        assert uow[KEYS_REPO].is_token_revoked(dead.jti) is False


def test_a_rolled_back_revocation_leaves_nothing(storage: Storage) -> None:
    token = revoked(2_000_000_000)
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[KEYS_REPO].revoke_token(token, 1)
        raise Boom
    with storage.read() as uow:
        assert uow[KEYS_REPO].is_token_revoked(token.jti) is False
