"""MFA: the environment's policy.

A plain frozen dataclass: no I/O, no framework types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MfaPolicy:
    """Whether users of the environment must (``required``), may (``optional``) or do not
    (``off``) use a second factor, which factors they may use (``mfa:email``, ``mfa:sms``,
    ``mfa:authenticator_app``), and whether recovery codes are shown during MFA setup.

    ``updated_on`` is None for the default policy, before any ``PUT /mfa``.
    """

    policy: str
    enabled_factors: tuple[str, ...]
    is_recovery_codes_enabled: bool
    updated_on: str | None = None


#: The policy of an environment nobody configured: MFA off, recovery codes on (Kinde's
#: default for ``is_recovery_codes_enabled``).
DEFAULT_POLICY = MfaPolicy(policy="off", enabled_factors=(), is_recovery_codes_enabled=True)
