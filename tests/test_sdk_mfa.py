"""The official Python SDK drives ``mfa_api.replace_mfa`` over TLS.

Kinde has no operation that reads the policy back, so the stored policy is read from the
server's database through the MFA service.
"""

from __future__ import annotations

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import ReplaceMFARequest, SuccessResponse

from kindling.clock import isoformat
from kindling.context import open_storage
from kindling.resources.mfa.service import mfa_policy
from tests.support import KindlingServer


def test_mfa_api_replace_mfa(client: ManagementClient, tls_server: KindlingServer) -> None:
    replaced = client.mfa_api.replace_mfa(
        replace_mfa_request=ReplaceMFARequest(
            policy="optional", enabled_factors=["mfa:email", "mfa:authenticator_app"]
        )
    )
    assert isinstance(replaced, SuccessResponse) and replaced.code == "MFA_UPDATED"
    storage = open_storage(tls_server.database_url, tls_server.data_dir, isoformat(0))
    try:
        policy = mfa_policy(storage)
    finally:
        storage.close()
    assert (policy.policy, policy.enabled_factors, policy.is_recovery_codes_enabled) == (
        "optional",
        ("mfa:email", "mfa:authenticator_app"),
        True,
    )
    with pytest.raises(BadRequestException) as caught:
        client.mfa_api.replace_mfa(
            replace_mfa_request=ReplaceMFARequest(policy="required", enabled_factors=[])
        )
    assert "ENABLED_FACTORS_REQUIRED" in str(caught.value.body)
