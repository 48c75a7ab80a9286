"""FeatureFlagRepository contract: definitions, environment override, org and user overrides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import feature_flag_id, organization_code, user_id
from kindling.platform.storage import Storage
from kindling.resources.feature_flags.model import FeatureFlag
from kindling.resources.feature_flags.repository import FEATURE_FLAGS_REPO
from tests.storage.conftest import Boom, uid
from tests.storage.factories_access import add_org, add_user, make_flag


def add_flags(storage: Storage, *flags: FeatureFlag) -> list[FeatureFlag]:
    with storage.transaction() as uow:
        for flag in flags:
            uow[FEATURE_FLAGS_REPO].add(flag)
    return list(flags)


def test_flag_round_trip_and_missing(storage: Storage) -> None:
    (flag,) = add_flags(storage, make_flag(environment_value="on", level="org"))
    with storage.read() as uow:
        repo = uow[FEATURE_FLAGS_REPO]
        assert repo.get_by_key(flag.key) == flag
        assert repo.get_by_key(flag.key.upper()) is None
        assert repo.get_by_key(f"missing_{uid()}") is None


def test_flag_without_optional_fields(storage: Storage) -> None:
    flag = replace(make_flag(level="env"), description=None, environment_value=None)
    add_flags(storage, flag)
    with storage.read() as uow:
        got = uow[FEATURE_FLAGS_REPO].get_by_key(flag.key)
    assert got == flag
    assert got is not None and got.environment_value is None and got.description is None


def test_all_in_creation_order(storage: Storage) -> None:
    flags = add_flags(storage, make_flag(key=f"z_{uid()}"), make_flag(key=f"a_{uid()}"))
    flags += add_flags(storage, make_flag(key=f"m_{uid()}"))
    with storage.read() as uow:
        everything = uow[FEATURE_FLAGS_REPO].all()
    mine = [f for f in everything if f.id in {x.id for x in flags}]
    assert mine == flags
    assert len({f.id for f in everything}) == len(everything)


def test_add_with_taken_id_or_key_is_refused(storage: Storage) -> None:
    (flag,) = add_flags(storage, make_flag())
    for clash in (make_flag(key=flag.key), replace(make_flag(), id=flag.id)):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[FEATURE_FLAGS_REPO].add(clash)
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].get_by_key(flag.key) == flag
        assert [f for f in uow[FEATURE_FLAGS_REPO].all() if f.id == flag.id] == [flag]


def test_update_overwrites_definition_but_not_key(storage: Storage) -> None:
    (flag,) = add_flags(storage, make_flag())
    changed = replace(
        flag,
        key=f"ignored_{uid()}",
        name="Renamed",
        description=None,
        type="bool",
        default_value="true",
        allow_override_level="env",
        environment_value="false",
    )
    with storage.transaction() as uow:
        assert uow[FEATURE_FLAGS_REPO].update(changed) is True
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].get_by_key(changed.key) is None
        got = uow[FEATURE_FLAGS_REPO].get_by_key(flag.key)
    assert got == replace(changed, key=flag.key)
    with storage.transaction() as uow:
        assert uow[FEATURE_FLAGS_REPO].update(replace(make_flag(), key=flag.key)) is False
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].get_by_key(flag.key) == got


def test_delete_removes_flag_and_overrides(storage: Storage) -> None:
    org, user = add_org(storage), add_user(storage)
    gone, keep = add_flags(storage, make_flag(), make_flag())
    with storage.transaction() as uow:
        repo = uow[FEATURE_FLAGS_REPO]
        for flag in (gone, keep):
            repo.set_organization_value(org.code, flag.id, "org")
            repo.set_user_value(user.id, flag.id, "usr")
    with storage.transaction() as uow:
        assert uow[FEATURE_FLAGS_REPO].delete(gone.id) is True
        assert uow[FEATURE_FLAGS_REPO].delete(gone.id) is False
        assert uow[FEATURE_FLAGS_REPO].delete(feature_flag_id()) is False
    with storage.read() as uow:
        repo = uow[FEATURE_FLAGS_REPO]
        assert repo.get_by_key(gone.key) is None
        assert gone.id not in {f.id for f in repo.all()}
        assert repo.organization_values(org.code) == {keep.id: "org"}
        assert repo.user_values(user.id) == {keep.id: "usr"}
    # The key is free again.
    add_flags(storage, make_flag(key=gone.key))


def test_clear_environment_values_counts_flags_that_had_one(storage: Storage) -> None:
    with_value, without, other = add_flags(
        storage, make_flag(environment_value="on"), make_flag(), make_flag(environment_value="x")
    )
    with storage.transaction() as uow:
        expected = sum(1 for f in uow[FEATURE_FLAGS_REPO].all() if f.environment_value is not None)
        assert expected >= 2
        assert uow[FEATURE_FLAGS_REPO].clear_environment_values() == expected
        assert uow[FEATURE_FLAGS_REPO].clear_environment_values() == 0
    with storage.read() as uow:
        everything = uow[FEATURE_FLAGS_REPO].all()
    assert all(f.environment_value is None for f in everything)
    mine = {f.id: f for f in everything}
    # Only the override went: the definitions are intact.
    assert mine[with_value.id] == replace(with_value, environment_value=None)
    assert mine[other.id] == replace(other, environment_value=None)
    assert mine[without.id] == without


def test_clear_overrides_by_level(storage: Storage) -> None:
    org, user = add_org(storage), add_user(storage)
    flag, bystander = add_flags(storage, make_flag(), make_flag())

    def seed() -> None:
        with storage.transaction() as uow:
            for f in (flag, bystander):
                uow[FEATURE_FLAGS_REPO].set_organization_value(org.code, f.id, "o")
                uow[FEATURE_FLAGS_REPO].set_user_value(user.id, f.id, "u")

    def state() -> tuple[dict[str, str], dict[str, str]]:
        with storage.read() as uow:
            return (
                uow[FEATURE_FLAGS_REPO].organization_values(org.code),
                uow[FEATURE_FLAGS_REPO].user_values(user.id),
            )

    both = {flag.id: "o", bystander.id: "o"}, {flag.id: "u", bystander.id: "u"}
    seed()
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].clear_overrides(flag.id, organizations=False, users=False)
    assert state() == both
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].clear_overrides(flag.id, organizations=True, users=False)
    assert state() == ({bystander.id: "o"}, both[1])
    seed()
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].clear_overrides(flag.id, organizations=False, users=True)
    assert state() == (both[0], {bystander.id: "u"})
    seed()
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].clear_overrides(flag.id, organizations=True, users=True)
        # No overrides left: a no-op, not an error.
        uow[FEATURE_FLAGS_REPO].clear_overrides(flag.id, organizations=True, users=True)
        uow[FEATURE_FLAGS_REPO].clear_overrides(feature_flag_id(), organizations=True, users=True)
    assert state() == ({bystander.id: "o"}, {bystander.id: "u"})


def test_subject_existence(storage: Storage) -> None:
    org, user = add_org(storage), add_user(storage)
    with storage.read() as uow:
        repo = uow[FEATURE_FLAGS_REPO]
        assert repo.organization_exists(org.code) is True
        assert repo.organization_exists(organization_code()) is False
        assert repo.user_exists(user.id) is True
        assert repo.user_exists(user_id()) is False
        assert repo.organization_exists(user.id) is False
        assert repo.user_exists(org.code) is False


def test_organization_values_create_replace_delete(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    one, two = add_flags(storage, make_flag(), make_flag())
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].organization_values(org.code) == {}
        assert uow[FEATURE_FLAGS_REPO].organization_values(organization_code()) == {}
    with storage.transaction() as uow:
        repo = uow[FEATURE_FLAGS_REPO]
        repo.set_organization_value(org.code, one.id, "a")
        repo.set_organization_value(org.code, two.id, "b")
        repo.set_organization_value(other.code, one.id, "theirs")
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_organization_value(org.code, one.id, "a2")
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].organization_values(org.code) == {one.id: "a2", two.id: "b"}
    with storage.transaction() as uow:
        repo = uow[FEATURE_FLAGS_REPO]
        assert repo.delete_organization_value(org.code, two.id) is True
        assert repo.delete_organization_value(org.code, two.id) is False
        assert repo.delete_organization_value(organization_code(), one.id) is False
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].organization_values(org.code) == {one.id: "a2"}
        assert uow[FEATURE_FLAGS_REPO].organization_values(other.code) == {one.id: "theirs"}


def test_clear_organization_values_counts(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    flags = add_flags(storage, make_flag(), make_flag(), make_flag())
    with storage.transaction() as uow:
        for flag in flags:
            uow[FEATURE_FLAGS_REPO].set_organization_value(org.code, flag.id, "v")
        uow[FEATURE_FLAGS_REPO].set_organization_value(other.code, flags[0].id, "w")
    with storage.transaction() as uow:
        assert uow[FEATURE_FLAGS_REPO].clear_organization_values(org.code) == 3
        assert uow[FEATURE_FLAGS_REPO].clear_organization_values(org.code) == 0
        assert uow[FEATURE_FLAGS_REPO].clear_organization_values(organization_code()) == 0
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].organization_values(org.code) == {}
        assert uow[FEATURE_FLAGS_REPO].organization_values(other.code) == {flags[0].id: "w"}


def test_set_organization_value_needs_organization_and_flag(storage: Storage) -> None:
    org = add_org(storage)
    (flag,) = add_flags(storage, make_flag())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_organization_value(organization_code(), flag.id, "x")
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_organization_value(org.code, feature_flag_id(), "x")
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].organization_values(org.code) == {}


def test_user_values_create_and_replace(storage: Storage) -> None:
    user, other = add_user(storage), add_user(storage)
    one, two = add_flags(storage, make_flag(), make_flag())
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].user_values(user.id) == {}
        assert uow[FEATURE_FLAGS_REPO].user_values(user_id()) == {}
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_user_value(user.id, one.id, "a")
        uow[FEATURE_FLAGS_REPO].set_user_value(user.id, two.id, "b")
        uow[FEATURE_FLAGS_REPO].set_user_value(other.id, one.id, "theirs")
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_user_value(user.id, two.id, "b2")
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].user_values(user.id) == {one.id: "a", two.id: "b2"}
        assert uow[FEATURE_FLAGS_REPO].user_values(other.id) == {one.id: "theirs"}


def test_set_user_value_needs_user_and_flag(storage: Storage) -> None:
    user = add_user(storage)
    (flag,) = add_flags(storage, make_flag())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_user_value(user_id(), flag.id, "x")
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].set_user_value(user.id, feature_flag_id(), "x")
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].user_values(user.id) == {}


def test_rolled_back_flag_and_overrides_leave_nothing(storage: Storage) -> None:
    org, user = add_org(storage), add_user(storage)
    flag = make_flag()
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].add(flag)
        uow[FEATURE_FLAGS_REPO].set_organization_value(org.code, flag.id, "o")
        uow[FEATURE_FLAGS_REPO].set_user_value(user.id, flag.id, "u")
        assert uow[FEATURE_FLAGS_REPO].get_by_key(flag.key) == flag
        raise Boom
    with storage.read() as uow:
        assert uow[FEATURE_FLAGS_REPO].get_by_key(flag.key) is None
        assert uow[FEATURE_FLAGS_REPO].organization_values(org.code) == {}
        assert uow[FEATURE_FLAGS_REPO].user_values(user.id) == {}
