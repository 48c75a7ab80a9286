"""Storage contract: ``MfaRepository`` (the environment's one MFA policy row)."""

from __future__ import annotations

import pytest

from kindling.platform.storage import Storage
from kindling.resources.mfa.model import MfaPolicy
from kindling.resources.mfa.repository import MFA_REPO
from tests.storage.conftest import LATER, NOW, Boom


def test_put_then_get_round_trips_and_replaces(storage: Storage) -> None:
    first = MfaPolicy("required", ("mfa:email", "mfa:sms"), False, NOW)
    second = MfaPolicy("off", (), True, LATER)
    with storage.transaction() as uow:
        uow[MFA_REPO].put(first)
    with storage.read() as uow:
        assert uow[MFA_REPO].get() == first
    with storage.transaction() as uow:
        uow[MFA_REPO].put(second)
    with storage.read() as uow:
        assert uow[MFA_REPO].get() == second


def test_factor_order_is_kept(storage: Storage) -> None:
    policy = MfaPolicy("optional", ("mfa:authenticator_app", "mfa:email"), True, NOW)
    with storage.transaction() as uow:
        uow[MFA_REPO].put(policy)
    with storage.read() as uow:
        assert uow[MFA_REPO].get() == policy


def test_put_needs_updated_on_and_a_rollback_keeps_the_old_policy(storage: Storage) -> None:
    kept = MfaPolicy("optional", ("mfa:sms",), True, NOW)
    with storage.transaction() as uow:
        uow[MFA_REPO].put(kept)
    with pytest.raises(ValueError), storage.transaction() as uow:
        uow[MFA_REPO].put(MfaPolicy("off", (), True))
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[MFA_REPO].put(MfaPolicy("required", ("mfa:email",), False, LATER))
        raise Boom
    with storage.read() as uow:
        assert uow[MFA_REPO].get() == kept


def test_without_a_stored_policy_get_is_none(storage: Storage) -> None:
    with storage.engine.session(write=True) as session:  # the shared PostgreSQL row too
        session.execute("DELETE FROM mfa_policy")
    with storage.read() as uow:
        assert uow[MFA_REPO].get() is None
