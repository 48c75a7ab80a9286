"""The environment's MFA policy over HTTP on both engines: ``PUT /mfa``.

Kinde has no operation that reads the policy back, so what the server stored is read
from its database through the MFA service (the way the rest of Kindling reads it).
Bad input is a 400 with a specific code and leaves the stored policy as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kindling.clock import isoformat
from kindling.context import open_storage
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.mfa import routes
from kindling.resources.mfa.model import MfaPolicy
from kindling.resources.mfa.service import mfa_policy
from tests.support import KindlingServer, error_code, token_for
from tests.test_roles import BASE, CONTRACT, Api


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def stored(server: KindlingServer) -> MfaPolicy:
    storage = open_storage(server.database_url, server.data_dir, isoformat(0))
    try:
        return mfa_policy(storage)
    finally:
        storage.close()


def put(api: Api, **body: Any) -> None:
    answer = api.ok("PUT", "/mfa", json=body)
    assert answer == {"code": "MFA_UPDATED", "message": "MFA configuration successfully updated"}


def test_route_matches_the_contract() -> None:
    [op] = routes.router.operations
    found = CONTRACT.find("PUT", BASE + "/mfa")
    assert (op.method, op.path, op.scope, op.operation_id, (op.status,), op.body, op.tag) == (
        "PUT",
        "/mfa",
        found.scope,
        found.operation_id,
        found.success_codes,
        True,
        found.tag,
    )


def test_it_needs_its_scope(server: KindlingServer, api: Api) -> None:
    put(api, policy="optional", enabled_factors=["mfa:email"])
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != "update:mfa"])
    resp = api.http.put(
        BASE + "/mfa",
        json={"policy": "off", "enabled_factors": []},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    error_code(resp, 403, "INSUFFICIENT_SCOPE")
    assert stored(server).policy == "optional"


def test_the_policy_is_replaced_whole(server: KindlingServer, api: Api) -> None:
    put(
        api,
        policy="required",
        enabled_factors=["mfa:authenticator_app", "mfa:email"],
        is_recovery_codes_enabled=False,
    )
    first = stored(server)
    assert (first.policy, first.enabled_factors, first.is_recovery_codes_enabled) == (
        "required",
        ("mfa:authenticator_app", "mfa:email"),
        False,
    )
    # Omitting is_recovery_codes_enabled is Kinde's default, true.
    put(api, policy="optional", enabled_factors=["mfa:sms"])
    second = stored(server)
    assert (second.policy, second.enabled_factors, second.is_recovery_codes_enabled) == (
        "optional",
        ("mfa:sms",),
        True,
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"enabled_factors": ["mfa:email"]}, "POLICY_REQUIRED"),
        ({"policy": "always", "enabled_factors": ["mfa:email"]}, "INVALID_POLICY"),
        ({"policy": "optional"}, "ENABLED_FACTORS_REQUIRED"),
        ({"policy": "required", "enabled_factors": []}, "ENABLED_FACTORS_REQUIRED"),
        ({"policy": "optional", "enabled_factors": ["mfa:push"]}, "INVALID_MFA_FACTOR"),
        ({"policy": "optional", "enabled_factors": "mfa:sms"}, "INVALID_ENABLED_FACTORS"),
        (
            {"policy": "off", "enabled_factors": [], "is_recovery_codes_enabled": "yes"},
            "INVALID_IS_RECOVERY_CODES_ENABLED",
        ),
    ],
)
def test_bad_input_is_refused_and_keeps_the_policy(
    server: KindlingServer, api: Api, body: dict[str, Any], code: str
) -> None:
    put(api, policy="optional", enabled_factors=["mfa:email", "mfa:sms"])
    before = stored(server)
    error_code(api.request("PUT", "/mfa", json=body), 400, code)
    assert stored(server) == before


def test_a_body_is_required(api: Api) -> None:
    error_code(api.request("PUT", "/mfa"), 400, "BODY_REQUIRED")
