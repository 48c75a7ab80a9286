"""Conformance builders of the ``mfa`` resource."""

from __future__ import annotations

from tests.conformance.framework import Req, World, builder


@builder("ReplaceMFA")
def _replace_mfa(w: World) -> Req:
    return Req(
        "/mfa",
        json={
            "policy": "optional",
            "enabled_factors": ["mfa:email", "mfa:authenticator_app"],
            "is_recovery_codes_enabled": True,
        },
    )
