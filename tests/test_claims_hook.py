"""The custom-claims extension point: a configured callable adds claims to M2M tokens."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from tests.support import KindlingServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def _server(tmp: Path, hook: str) -> KindlingServer:
    return KindlingServer(
        data_dir=tmp,
        port=free_port(),
        extra_env={
            "KINDLING_TOKEN_CLAIMS_HOOK": f"tests.claim_hooks:{hook}",
            "PYTHONPATH": str(ROOT),
        },
    )


@pytest.fixture
def hooked(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[KindlingServer]:
    server = _server(tmp_path, request.param).start()
    yield server
    server.stop()


def _token_request(server: KindlingServer) -> tuple[int, dict[str, object]]:
    with server.client() as http:
        response = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": server.client_id,
                "client_secret": server.client_secret,
                "audience": server.audience,
                "scope": "read:users",
            },
        )
    return response.status_code, response.json()


@pytest.mark.parametrize("hooked", ["tenant_claims"], indirect=True)
def test_hook_claims_are_added_to_the_token(hooked: KindlingServer) -> None:
    status, body = _token_request(hooked)
    assert status == 200
    claims = jwt.decode(str(body["access_token"]), options={"verify_signature": False})
    assert claims["tenant"] == "Kindling bootstrap M2M application"
    assert claims["requested_audiences"] == [hooked.audience]
    assert claims["granted"] == 1
    assert claims["iss"] == hooked.issuer and claims["scope"] == "read:users"
    minted = hooked.cli("token", "--app", hooked.client_id, "--audience", hooked.audience, "--json")
    assert minted.returncode == 0, minted.stderr
    assert '"access_token"' in minted.stdout


@pytest.mark.parametrize("hooked", ["failing", "overrides_issuer", "not_a_mapping"], indirect=True)
def test_a_failing_hook_fails_the_request_with_server_error_and_no_token(
    hooked: KindlingServer,
) -> None:
    status, body = _token_request(hooked)
    assert status == 500
    assert body["error"] == "server_error" and "access_token" not in body
    assert hooked.wait_for_output("claims hook"), hooked.output


def test_an_unloadable_hook_stops_the_server_at_startup(tmp_path: Path) -> None:
    server = _server(tmp_path, "does_not_exist")
    result = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", "--port", str(server.port)],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot load the claims hook" in result.stderr


def test_application_properties_are_mapped_into_a_claim_without_code(tmp_path: Path) -> None:
    server = KindlingServer(
        data_dir=tmp_path,
        port=free_port(),
        extra_env={"KINDLING_APP_PROPERTIES_CLAIM": "application_properties"},
    ).start()
    try:
        with server.client() as http:
            http.headers["Authorization"] = f"Bearer {server.token()}"
            category = http.post(
                "/api/v1/property_categories", json={"name": "Billing", "context": "app"}
            ).json()
            for key, private in (("plan", False), ("internal_note", True)):
                created = http.post(
                    "/api/v1/properties",
                    json={
                        "name": key,
                        "key": key,
                        "type": "single_line_text",
                        "context": "app",
                        "is_private": private,
                        "category_id": category["category"]["id"],
                    },
                )
                assert created.status_code == 201, created.text
                put = http.put(
                    f"/api/v1/applications/{server.client_id}/properties/{key}",
                    json={"value": f"{key}-value"},
                )
                assert put.status_code == 200, put.text
        claims = jwt.decode(server.token(), options={"verify_signature": False})
        assert claims["application_properties"] == {"plan": "plan-value"}
    finally:
        server.stop()


def test_kindling_token_and_the_token_endpoint_mint_the_same_claims(tmp_path: Path) -> None:
    """``kindling token`` is the token endpoint minus client authentication: same claims,
    same hook claims, same properties claim, same signing key; only iat, exp and jti differ."""
    server = KindlingServer(
        data_dir=tmp_path,
        port=free_port(),
        extra_env={
            "KINDLING_TOKEN_CLAIMS_HOOK": "tests.claim_hooks:tenant_claims",
            "KINDLING_APP_PROPERTIES_CLAIM": "application_properties",
            "PYTHONPATH": str(ROOT),
        },
    ).start()
    try:
        with server.client() as http:
            http.headers["Authorization"] = f"Bearer {server.token()}"
            category = http.post(
                "/api/v1/property_categories", json={"name": "Billing", "context": "app"}
            ).json()
            created = http.post(
                "/api/v1/properties",
                json={
                    "name": "plan",
                    "key": "plan",
                    "type": "single_line_text",
                    "context": "app",
                    "is_private": False,
                    "category_id": category["category"]["id"],
                },
            )
            assert created.status_code == 201, created.text
            put = http.put(
                f"/api/v1/applications/{server.client_id}/properties/plan",
                json={"value": "gold"},
            )
            assert put.status_code == 200, put.text
        status, served = _token_request(server)
        assert status == 200, served
        minted = server.cli(
            "token",
            "--app",
            server.client_id,
            "--audience",
            server.audience,
            "--scope",
            "read:users",
            "--json",
        )
        assert minted.returncode == 0, minted.stderr
        cli_body = json.loads(minted.stdout)
    finally:
        server.stop()

    def claims(token: object) -> dict[str, object]:
        decoded: dict[str, object] = jwt.decode(str(token), options={"verify_signature": False})
        for varying in ("iat", "exp", "jti"):
            assert varying in decoded
            del decoded[varying]
        return decoded

    from_endpoint = claims(served["access_token"])
    from_cli = claims(cli_body["access_token"])
    assert from_cli == from_endpoint
    assert from_endpoint["tenant"] == "Kindling bootstrap M2M application"
    assert from_endpoint["application_properties"] == {"plan": "gold"}
    assert from_endpoint["scope"] == "read:users"
    header = jwt.get_unverified_header(str(served["access_token"]))
    assert jwt.get_unverified_header(str(cli_body["access_token"])) == header
    assert {k: v for k, v in cli_body.items() if k != "access_token"} == {
        k: v for k, v in served.items() if k != "access_token"
    }
