"""MFA service on both engines, no HTTP: Kinde's ``PUT /mfa`` and its event.

The policy is replaced whole, validated against the contract's enums before anything is
written, and ``mfa_policy.updated`` is recorded only when something changed.
"""

from __future__ import annotations

from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.platform.errors import ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.mfa import service as mfa
from kindling.resources.mfa.model import DEFAULT_POLICY, MfaPolicy
from tests.services.support import NOW, Outbox, Recorded


def forget(storage: Storage) -> None:
    """Remove the stored policy (the PostgreSQL schema is shared by the session)."""
    with storage.engine.session(write=True) as session:
        session.execute("DELETE FROM mfa_policy")


def test_the_default_is_off_with_recovery_codes(storage: Storage) -> None:
    forget(storage)
    assert mfa.mfa_policy(storage) == DEFAULT_POLICY
    assert DEFAULT_POLICY == MfaPolicy("off", (), True, None)


def test_replace_stores_the_policy_and_records_what_changed(
    storage: Storage, clock: FrozenClock, outbox: Outbox
) -> None:
    forget(storage)
    policy = mfa.replace_mfa(
        storage,
        clock,
        {"policy": "required", "enabled_factors": ["mfa:sms", "mfa:email", "mfa:sms"]},
    )
    assert policy == MfaPolicy("required", ("mfa:sms", "mfa:email"), True, NOW)
    assert mfa.mfa_policy(storage) == policy
    assert outbox.take() == [
        Recorded(
            EventType.MFA_POLICY_UPDATED,
            {
                "mfa_policy": {
                    "policy": "required",
                    "enabled_factors": ["mfa:sms", "mfa:email"],
                    "is_recovery_codes_enabled": True,
                },
                "updated_fields": ["policy", "enabled_factors"],
            },
        )
    ]
    clock.advance(60)
    same = mfa.replace_mfa(
        storage,
        clock,
        {"policy": "required", "enabled_factors": ["mfa:sms", "mfa:email"]},
    )
    assert same == policy  # nothing changed: not even updated_on
    assert outbox.take() == []
    turned_off = mfa.replace_mfa(
        storage,
        clock,
        {"policy": "off", "enabled_factors": [], "is_recovery_codes_enabled": False},
    )
    assert turned_off.policy == "off" and turned_off.updated_on != NOW
    [event] = outbox.take()
    assert event.data["updated_fields"] == [
        "policy",
        "enabled_factors",
        "is_recovery_codes_enabled",
    ]


def test_off_may_keep_factors_for_later(storage: Storage, clock: FrozenClock) -> None:
    policy = mfa.replace_mfa(
        storage, clock, {"policy": "off", "enabled_factors": ["mfa:authenticator_app"]}
    )
    assert policy.enabled_factors == ("mfa:authenticator_app",)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"enabled_factors": ["mfa:email"]}, "POLICY_REQUIRED"),
        ({"policy": "mandatory", "enabled_factors": ["mfa:email"]}, "INVALID_POLICY"),
        ({"policy": "OFF", "enabled_factors": []}, "INVALID_POLICY"),
        ({"policy": "optional"}, "ENABLED_FACTORS_REQUIRED"),
        ({"policy": "optional", "enabled_factors": "mfa:email"}, "INVALID_ENABLED_FACTORS"),
        ({"policy": "optional", "enabled_factors": ["mfa:push"]}, "INVALID_MFA_FACTOR"),
        ({"policy": "optional", "enabled_factors": [None]}, "INVALID_MFA_FACTOR"),
        ({"policy": "required", "enabled_factors": []}, "ENABLED_FACTORS_REQUIRED"),
        (
            {"policy": "off", "enabled_factors": [], "is_recovery_codes_enabled": "no"},
            "INVALID_IS_RECOVERY_CODES_ENABLED",
        ),
    ],
)
def test_replace_refuses_bad_input_and_writes_nothing(
    storage: Storage, clock: FrozenClock, outbox: Outbox, body: dict[str, Any], code: str
) -> None:
    before = mfa.replace_mfa(
        storage, clock, {"policy": "optional", "enabled_factors": ["mfa:email"]}
    )
    outbox.mark()
    with pytest.raises(ValidationError) as raised:
        mfa.replace_mfa(storage, clock, body)
    assert raised.value.code == code, raised.value.message
    assert mfa.mfa_policy(storage) == before
    assert outbox.recorded() == []
