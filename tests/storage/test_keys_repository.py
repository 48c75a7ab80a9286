"""KeyRepository contract (``KEYS_REPO``): signing keys, publication and retirement."""

from __future__ import annotations

import pytest

from kindling.platform.ids import key_id
from kindling.platform.keys import KEYS_REPO, StoredKey
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
