"""ApiKeyRepository contract: hashed keys with their API and scopes, filters, rotation,
status and verification record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import api_id, api_scope_id, key_id, organization_code, user_id
from kindling.platform.storage import Storage
from kindling.resources.api_keys.model import ApiKey
from kindling.resources.api_keys.repository import API_KEYS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_access import add_api, add_org, add_user


def make_key(
    type_: str = "organization",
    status: str = "active",
    user: str | None = None,
    org: str | None = None,
) -> ApiKey:
    return ApiKey(
        id=key_id(),
        name=f"key-{uid()}",
        type=type_,
        key_hash=f"hash-{uid()}{uid()}",
        key_prefix=f"k_{uid()[:4]}",
        key_suffix=uid()[:4],
        status=status,
        created_on=NOW,
        user_id=user,
        org_code=org,
        created_by="tester",
    )


def add_key(storage: Storage, key: ApiKey, api: str, scope_ids: Sequence[str] = ()) -> ApiKey:
    with storage.transaction() as uow:
        uow[API_KEYS_REPO].add(key, api, scope_ids)
    return key


def page_ids(
    storage: Storage,
    after: int | None = None,
    limit: int = 1000,
    key_type: str | None = None,
    status: str | None = None,
    user: str | None = None,
    org: str | None = None,
) -> list[str]:
    with storage.read() as uow:
        rows = uow[API_KEYS_REPO].list_page(after, limit, key_type, status, user, org)
    return [k.id for _, k in rows]


def test_add_and_get_with_api_and_scopes(storage: Storage) -> None:
    org = add_org(storage)
    api, (read, write) = add_api(storage, "read", "write")
    # Granted out of creation order: listed in scope creation order.
    key = add_key(storage, make_key(org=org.code), api.id, [write.id, read.id])
    with storage.read() as uow:
        got = uow[API_KEYS_REPO].get(key.id)
        assert uow[API_KEYS_REPO].get(key_id()) is None
    assert got == replace(key, api_ids=(api.id,), scopes=("read", "write"))


def test_add_without_scopes_keeps_the_api(storage: Storage) -> None:
    api, _ = add_api(storage, "unused")
    key = add_key(storage, make_key(), api.id, [])
    with storage.read() as uow:
        got = uow[API_KEYS_REPO].get(key.id)
    assert got is not None
    assert got.api_ids == (api.id,) and got.scopes == ()


def test_add_needs_the_api_and_scopes_and_rolls_back(storage: Storage) -> None:
    api, _ = add_api(storage)
    for bad_api, scopes in ((api_id(), []), (api.id, [api_scope_id()])):
        key = make_key()
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[API_KEYS_REPO].add(key, bad_api, scopes)
        with storage.read() as uow:
            assert uow[API_KEYS_REPO].get(key.id) is None
            assert uow[API_KEYS_REPO].get_by_hash(key.key_hash) is None


def test_add_with_taken_hash_is_refused(storage: Storage) -> None:
    api, _ = add_api(storage)
    key = add_key(storage, make_key(), api.id)
    clash = replace(make_key(), key_hash=key.key_hash)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[API_KEYS_REPO].add(clash, api.id, [])
    with storage.read() as uow:
        assert uow[API_KEYS_REPO].get(clash.id) is None
        found = uow[API_KEYS_REPO].get_by_hash(key.key_hash)
    assert found is not None and found.id == key.id


def test_rolled_back_key_leaves_nothing(storage: Storage) -> None:
    api, (scope,) = add_api(storage, "read")
    key = make_key()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[API_KEYS_REPO].add(key, api.id, [scope.id])
        assert uow[API_KEYS_REPO].get(key.id) is not None
        raise Boom
    with storage.read() as uow:
        assert uow[API_KEYS_REPO].get(key.id) is None
        assert uow[API_KEYS_REPO].seq_of(key.id) is None


def test_get_by_hash(storage: Storage) -> None:
    api, (scope,) = add_api(storage, "read")
    key = add_key(storage, make_key(), api.id, [scope.id])
    with storage.read() as uow:
        assert uow[API_KEYS_REPO].get_by_hash(key.key_hash) == uow[API_KEYS_REPO].get(key.id)
        assert uow[API_KEYS_REPO].get_by_hash(f"hash-{uid()}") is None
        assert uow[API_KEYS_REPO].get_by_hash(key.key_hash.upper()) is None


def test_seq_of_follows_creation(storage: Storage) -> None:
    api, _ = add_api(storage)
    first = add_key(storage, make_key(), api.id)
    second = add_key(storage, make_key(), api.id)
    with storage.read() as uow:
        one, two = uow[API_KEYS_REPO].seq_of(first.id), uow[API_KEYS_REPO].seq_of(second.id)
        assert uow[API_KEYS_REPO].seq_of(key_id()) is None
    assert one is not None and two is not None and one < two


def test_list_page_keyset_in_creation_order(storage: Storage) -> None:
    org = add_org(storage)
    api, (scope,) = add_api(storage, "read")
    keys = [add_key(storage, make_key(org=org.code), api.id, [scope.id]) for _ in range(5)]
    ids = [k.id for k in keys]
    with storage.read() as uow:
        rows = uow[API_KEYS_REPO].list_page(None, 10, None, None, None, org.code)
        seqs = [uow[API_KEYS_REPO].seq_of(k) for k in ids]
    assert [k.id for _, k in rows] == ids
    assert [s for s, _ in rows] == seqs
    # Listed keys carry their API and scopes like ``get``.
    assert all(k.api_ids == (api.id,) and k.scopes == ("read",) for _, k in rows)
    assert page_ids(storage, rows[1][0], 2, org=org.code) == ids[2:4]
    assert page_ids(storage, rows[4][0], 2, org=org.code) == []
    assert page_ids(storage, None, 0, org=org.code) == []
    # Walking the pages sees each key once.
    seen: list[str] = []
    after: int | None = None
    while True:
        with storage.read() as uow:
            page = uow[API_KEYS_REPO].list_page(after, 2, None, None, None, org.code)
        seen.extend(k.id for _, k in page)
        if len(page) < 2:
            break
        after = page[-1][0]
    assert seen == ids


def test_list_page_filters_combine(storage: Storage) -> None:
    org, other_org = add_org(storage), add_org(storage)
    user = add_user(storage)
    api, _ = add_api(storage)
    org_active = add_key(storage, make_key(org=org.code), api.id)
    org_revoked = add_key(storage, make_key(status="revoked", org=org.code), api.id)
    user_key = add_key(storage, make_key("user", user=user.id, org=org.code), api.id)
    elsewhere = add_key(storage, make_key(org=other_org.code), api.id)
    assert page_ids(storage, org=org.code) == [org_active.id, org_revoked.id, user_key.id]
    assert page_ids(storage, org=org.code, status="active") == [org_active.id, user_key.id]
    assert page_ids(storage, org=org.code, status="revoked") == [org_revoked.id]
    assert page_ids(storage, org=org.code, key_type="organization") == [
        org_active.id,
        org_revoked.id,
    ]
    assert page_ids(storage, user=user.id) == [user_key.id]
    assert page_ids(storage, user=user.id, key_type="organization") == []
    assert page_ids(storage, org=other_org.code) == [elsewhere.id]
    assert page_ids(storage, org=organization_code()) == []
    assert page_ids(storage, user=user_id()) == []
    everything = page_ids(storage)
    assert {org_active.id, org_revoked.id, user_key.id, elsewhere.id} <= set(everything)


def test_set_key_rotates_and_reactivates(storage: Storage) -> None:
    api, (scope,) = add_api(storage, "read")
    key = add_key(storage, make_key(status="inactive"), api.id, [scope.id])
    new_hash = f"hash-{uid()}{uid()}"
    with storage.transaction() as uow:
        uow[API_KEYS_REPO].set_key(key.id, new_hash, "k_new", "wxyz")
        uow[API_KEYS_REPO].set_key(key_id(), f"hash-{uid()}", "k_x", "x")  # missing: ignored
    with storage.read() as uow:
        assert uow[API_KEYS_REPO].get_by_hash(key.key_hash) is None
        rotated = uow[API_KEYS_REPO].get_by_hash(new_hash)
    assert rotated == replace(
        key,
        key_hash=new_hash,
        key_prefix="k_new",
        key_suffix="wxyz",
        status="active",
        api_ids=(api.id,),
        scopes=("read",),
    )


def test_set_status(storage: Storage) -> None:
    api, _ = add_api(storage)
    key = add_key(storage, make_key(), api.id)
    with storage.transaction() as uow:
        assert uow[API_KEYS_REPO].set_status(key.id, "revoked") is True
        assert uow[API_KEYS_REPO].set_status(key_id(), "revoked") is False
    with storage.read() as uow:
        got = uow[API_KEYS_REPO].get(key.id)
    assert got is not None and got.status == "revoked"
    assert got.key_hash == key.key_hash


def test_record_verification_counts(storage: Storage) -> None:
    api, _ = add_api(storage)
    key = add_key(storage, make_key(), api.id)
    other = add_key(storage, make_key(), api.id)
    with storage.transaction() as uow:
        uow[API_KEYS_REPO].record_verification(key.id, NOW, "192.0.2.1")
    with storage.transaction() as uow:
        uow[API_KEYS_REPO].record_verification(key.id, LATER, None)
        uow[API_KEYS_REPO].record_verification(key_id(), LATER, "x")  # missing: ignored
    with storage.read() as uow:
        got = uow[API_KEYS_REPO].get(key.id)
        untouched = uow[API_KEYS_REPO].get(other.id)
    assert got is not None and untouched is not None
    assert (got.verification_count, got.last_verified_on, got.last_verified_ip) == (2, LATER, None)
    assert untouched.verification_count == 0 and untouched.last_verified_on is None


def test_subject_existence(storage: Storage) -> None:
    user, org = add_user(storage), add_org(storage)
    with storage.read() as uow:
        repo = uow[API_KEYS_REPO]
        assert repo.user_exists(user.id) is True
        assert repo.user_exists(user_id()) is False
        assert repo.org_exists(org.code) is True
        assert repo.org_exists(organization_code()) is False
