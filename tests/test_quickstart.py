"""The first-run banner of ``kindling serve --tls``, followed literally.

The curl commands are cut out of what the server printed and run with ``bash``,
exactly as a user would paste them (they carry ``--cacert`` for the local CA).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import KindlingServer, free_port


def _indented_block(output: str, heading: str) -> str:
    """The indented lines under ``heading`` (up to the first blank line), dedented."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == heading]
    assert len(starts) == 1, f"expected one {heading!r} in:\n{output}"
    block: list[str] = []
    for line in lines[starts[0] + 1 :]:
        if not line.strip() or not line.startswith("  "):
            break
        block.append(line[2:])
    assert block, f"nothing under {heading!r} in:\n{output}"
    return "\n".join(block)


def _bash(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _token_script(token_command: str) -> str:
    """Shell that leaves the access token in ``$TOKEN``, whichever form the banner prints."""
    if re.match(r"^(export\s+)?TOKEN=", token_command):
        return token_command
    # The banner prints a command whose output is the token response JSON.
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    return f"TOKEN=$({token_command} | {extract})"


@pytest.fixture(scope="module")
def curl() -> str:
    found = shutil.which("curl")
    assert found, "curl is required for the quickstart test"
    return found


def test_banner_prints_ca_trust_lines(tls_server: KindlingServer) -> None:
    out = tls_server.output
    ca = tls_server.ca_path
    assert ca, out
    assert Path(ca).is_absolute()
    assert Path(ca).is_file()
    assert Path(ca) == (tls_server.data_dir / "tls" / "ca.pem").resolve()
    assert f"Local CA: {ca}" in out
    quoted = shlex.quote(ca)
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        pattern = rf"^\s*export {var}={re.escape(quoted)}(\s|$)"
        assert re.search(pattern, out, re.M), f"no `export {var}=<ca>` line in:\n{out}"
    assert f"Kindling is serving {tls_server.issuer}" in out
    assert tls_server.issuer.startswith("https://")


def test_banner_curl_commands_work_verbatim(tls_server: KindlingServer, curl: str) -> None:
    out = tls_server.output
    token_cmd = _indented_block(out, "Get a token:")
    api_cmd = _indented_block(out, "Call the Management API with it:")
    ca = tls_server.ca_path
    assert ca
    for cmd in (token_cmd, api_cmd):
        assert cmd.lstrip().startswith(("curl ", "TOKEN=", "export TOKEN="))
        assert f"--cacert {shlex.quote(ca)}" in cmd
        assert tls_server.issuer in cmd
    assert "$TOKEN" in api_cmd

    # An environment without any CA overrides: --cacert alone must suffice.
    env = {k: v for k, v in os.environ.items() if not k.endswith(("CA_BUNDLE", "CERT_FILE"))}
    env.pop("TOKEN", None)

    token_only = _bash(_token_script(token_cmd) + '\nprintf %s "$TOKEN"', env)
    assert token_only.returncode == 0, token_only.stderr
    token = token_only.stdout.strip()
    assert token.count(".") == 2, token_only.stdout

    script = (
        "set -e -o pipefail\n"
        + _token_script(token_cmd)
        + '\ntest -n "$TOKEN"\n'
        + api_cmd
        + ' -w "\\n%{http_code}\\n%{content_type}"'
    )
    result = _bash(script, env)
    assert result.returncode == 0, result.stderr
    body, status, content_type = result.stdout.rsplit("\n", 2)
    assert status == "200", result.stdout
    assert content_type.startswith("application/json"), content_type
    data = json.loads(body)
    assert isinstance(data.get("users"), list), data
    assert data.get("code") == "OK"

    # Without --cacert the same call must fail certificate verification.
    bare = _bash(api_cmd.replace(f" --cacert {shlex.quote(ca)}", "").replace("$TOKEN", "x"), env)
    assert bare.returncode == 60, (bare.returncode, bare.stdout, bare.stderr)


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[list[KindlingServer]]:
    servers: list[KindlingServer] = []
    yield servers
    for server in servers:
        server.stop()


def _jwks_kids(server: KindlingServer) -> list[str]:
    with server.client() as http:
        response = http.get("/.well-known/jwks")
    assert response.status_code == 200, response.text
    return sorted(str(key["kid"]) for key in response.json()["keys"])


def _kid(token: str) -> str:
    header = token.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return str(decoded["kid"])


def test_restart_keeps_credentials_keys_and_ca(
    tmp_path: Path, restartable: list[KindlingServer]
) -> None:
    port = free_port()
    first = KindlingServer(data_dir=tmp_path, port=port, tls=True)
    restartable.append(first)
    first.start()
    assert first.client_id and first.client_secret, first.output
    assert first.ca_path
    ca_bytes = Path(first.ca_path).read_bytes()
    kids = _jwks_kids(first)
    assert kids
    assert _kid(first.token()) in kids  # the printed credentials work
    first.stop()

    second = KindlingServer(data_dir=tmp_path, port=port, tls=True)
    restartable.append(second)
    second.start()
    out = second.output
    assert first.client_secret not in out
    assert "client secret" not in out
    assert "First run" not in out
    assert "Get a token:" not in out
    assert "issuer changed" not in out
    # The CA is announced again, at the same path, with the same bytes.
    assert second.ca_path == first.ca_path, out
    assert Path(second.ca_path).read_bytes() == ca_bytes
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert f"export {var}={shlex.quote(first.ca_path)}" in out
    # Old credentials still get a token, signed by a key that was kept.
    token = second.token(client_id=first.client_id, client_secret=first.client_secret)
    assert token.count(".") == 2
    assert _jwks_kids(second) == kids
    assert _kid(token) in kids
    with second.client() as http:
        users = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert users.status_code == 200, users.text
    assert isinstance(users.json()["users"], list)
