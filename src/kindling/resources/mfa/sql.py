"""The environment's MFA policy row (``id = 'default'``); factors as a JSON list."""

from __future__ import annotations

import json

from kindling.platform.engine import Session
from kindling.resources.mfa.model import MfaPolicy

_ID = "default"


class SqlMfaRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self) -> MfaPolicy | None:
        row = self._s.one(
            "SELECT policy, enabled_factors, is_recovery_codes_enabled, updated_on "
            "FROM mfa_policy WHERE id = ?",
            (_ID,),
        )
        if row is None:
            return None
        return MfaPolicy(
            policy=row["policy"],
            enabled_factors=tuple(json.loads(row["enabled_factors"])),
            is_recovery_codes_enabled=bool(row["is_recovery_codes_enabled"]),
            updated_on=row["updated_on"],
        )

    def put(self, policy: MfaPolicy) -> None:
        if policy.updated_on is None:
            raise ValueError("a stored MFA policy needs updated_on")
        self._s.execute(
            "INSERT INTO mfa_policy (id, policy, enabled_factors, is_recovery_codes_enabled, "
            "updated_on) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "policy = excluded.policy, enabled_factors = excluded.enabled_factors, "
            "is_recovery_codes_enabled = excluded.is_recovery_codes_enabled, "
            "updated_on = excluded.updated_on",
            (
                _ID,
                policy.policy,
                json.dumps(list(policy.enabled_factors)),
                policy.is_recovery_codes_enabled,
                policy.updated_on,
            ),
        )
