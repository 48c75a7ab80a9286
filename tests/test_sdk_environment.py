"""The official Python SDK's Environments calls against ``kindling serve --tls``."""

from __future__ import annotations

from typing import Any

from kinde_sdk.management.models import UpdatePasskeyRequest

from tests.support import KindlingServer

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def test_environment_logos_and_passkey_through_the_sdk(
    client: Any, tls_server: KindlingServer
) -> None:
    api = client.environments_api
    environment = api.get_environment().environment
    assert environment.kinde_domain == tls_server.domain
    assert environment.is_live is True and environment.code == "production"

    assert api.add_logo(type="light", logo=("logo.png", PNG)).code == "LOGO_UPDATED"
    logos = api.read_logo().logos
    assert [(logo.type, logo.file_name) for logo in logos] == [("light", "kinde_light.png")]
    logo_url = api.get_environment().environment.logo
    assert logo_url.startswith(tls_server.issuer + "/logo?")
    with tls_server.client() as http:
        served = http.get(logo_url.removeprefix(tls_server.issuer))
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert http.get("/logo_dark").status_code == 404
    assert api.delete_logo(type="light").code == "LOGO_DELETED"
    assert api.read_logo().logos == []

    updated = api.update_passkey(UpdatePasskeyRequest(policy="optional"))
    assert updated.enabled is True and updated.policy == "optional"
    current = api.get_passkey()
    assert current.enabled is True and current.policy == "optional"
    api.update_passkey(UpdatePasskeyRequest(policy="off"))
    assert api.get_passkey().enabled is False
