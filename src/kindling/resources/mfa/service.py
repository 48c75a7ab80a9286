"""MFA: Kinde's ``PUT /mfa``, the environment's multi-factor policy, replaced whole.

The body names the ``policy`` (``required``, ``optional`` or ``off``) and the
``enabled_factors`` (each ``mfa:email``, ``mfa:sms`` or ``mfa:authenticator_app``, the
same catalogue as an organization's ``PUT /organizations/{org_code}/mfa``; repeats are
kept once); both are required. ``is_recovery_codes_enabled`` defaults to true, as in
Kinde's contract. A policy that asks users for a second factor (``required`` or
``optional``) must enable at least one; ``off`` may keep factors listed for later.

Kinde has no operation that reads the policy back; other resources read it through
``mfa_policy`` (the default, MFA off, until the first ``PUT``). A change records
``mfa_policy.updated`` (Kindling's) with the policy and the names of the fields that
changed; replacing the policy with itself records nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_bool
from kindling.resources.mfa.model import DEFAULT_POLICY, MfaPolicy
from kindling.resources.mfa.repository import MFA_REPO
from kindling.resources.organizations.service import MFA_FACTORS

#: Kinde's ``policy`` values, in the contract's order.
POLICIES = ("required", "off", "optional")
_FIELDS = ("policy", "enabled_factors", "is_recovery_codes_enabled")


class MfaBody(Body, frozen=True):
    policy: object = None
    enabled_factors: object = None
    is_recovery_codes_enabled: object = None


def _factors(value: object) -> tuple[str, ...]:
    if value is None:
        raise ValidationError("enabled_factors is required", Code.ENABLED_FACTORS_REQUIRED)
    if not isinstance(value, list):
        raise ValidationError("enabled_factors must be a list", Code.INVALID_ENABLED_FACTORS)
    enabled: list[str] = []
    for factor in value:
        if factor not in MFA_FACTORS:
            raise ValidationError(
                "enabled_factors accepts mfa:email, mfa:sms and mfa:authenticator_app",
                Code.INVALID_MFA_FACTOR,
            )
        if factor not in enabled:
            enabled.append(factor)
    return tuple(enabled)


def policy_data(policy: MfaPolicy) -> dict[str, Any]:
    """The policy as its ``mfa_policy.updated`` event shows it (``data.mfa_policy``)."""
    return {
        "policy": policy.policy,
        "enabled_factors": list(policy.enabled_factors),
        "is_recovery_codes_enabled": policy.is_recovery_codes_enabled,
    }


def validate(body: Any) -> MfaPolicy:
    """The policy a ``PUT /mfa`` body asks for (without ``updated_on``)."""
    data = decode_body(body, MfaBody)
    if data.policy is None:
        raise ValidationError("policy is required", Code.POLICY_REQUIRED)
    if data.policy not in POLICIES:
        raise ValidationError("policy must be required, off or optional", Code.INVALID_POLICY)
    factors = _factors(data.enabled_factors)
    if data.policy != "off" and not factors:
        raise ValidationError(
            f"a {data.policy} MFA policy needs at least one enabled factor",
            Code.ENABLED_FACTORS_REQUIRED,
        )
    recovery = optional_bool(data.is_recovery_codes_enabled, "is_recovery_codes_enabled")
    return MfaPolicy(
        policy=str(data.policy),
        enabled_factors=factors,
        is_recovery_codes_enabled=True if recovery is None else recovery,
    )


def replace_mfa(storage: Storage, clock: Clock, body: Any) -> MfaPolicy:
    """Kinde's ``PUT /mfa``: validate, then replace the stored policy."""
    wanted = validate(body)
    with storage.transaction() as uow:
        current = uow[MFA_REPO].get() or DEFAULT_POLICY
        changed = [f for f in _FIELDS if getattr(wanted, f) != getattr(current, f)]
        if not changed:
            return current
        stored = replace(wanted, updated_on=isoformat(clock.now()))
        uow[MFA_REPO].put(stored)
        uow.record(
            EventType.MFA_POLICY_UPDATED,
            {"mfa_policy": policy_data(stored), "updated_fields": changed},
        )
    return stored


def mfa_policy(storage: Storage) -> MfaPolicy:
    """The environment's MFA policy (``DEFAULT_POLICY`` until the first ``PUT /mfa``)."""
    with storage.read() as uow:
        return uow[MFA_REPO].get() or DEFAULT_POLICY
