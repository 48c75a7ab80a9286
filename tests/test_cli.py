"""The ``kindling`` CLI works on the same data as a running server, on both engines."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import uuid

import jwt

from tests.support import KindlingServer


def _json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_apps_create_prints_credentials_that_work_at_the_running_server(
    server: KindlingServer,
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = server.create_app(name, management=True)
    assert created["name"] == name and created["type"] == "m2m"
    assert len(created["client_id"]) == 32 and len(created["client_secret"]) == 50
    assert created["authorized_audiences"] == [server.audience]
    token = server.token(client_id=created["client_id"], client_secret=created["client_secret"])
    with server.client() as http:
        response = http.get(
            "/api/v1/applications/" + created["id"], headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200
    assert response.json()["application"]["name"] == name


def test_apps_list_shows_apps_created_through_the_api(server: KindlingServer) -> None:
    name = f"api-made-{uuid.uuid4().hex[:8]}"
    token = server.token(scopes=["create:applications"])
    with server.client() as http:
        response = http.post(
            "/api/v1/applications",
            json={"name": name, "type": "m2m"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201
    listed = _json(server.cli("apps", "list", "--json"))
    assert isinstance(listed, list)
    assert name in {item["name"] for item in listed}
    table = server.cli("apps", "list")
    assert table.returncode == 0 and name in table.stdout and "CLIENT" in table.stdout.upper()


def test_apps_authorize_grants_only_the_named_scopes(server: KindlingServer) -> None:
    created = server.create_app(f"narrow-{uuid.uuid4().hex[:8]}")
    result = _json(
        server.cli(
            "apps",
            "authorize",
            created["id"],
            "--api",
            server.audience,
            "--scope",
            "read:users",
            "--scope",
            "read:applications",
            "--json",
        )
    )
    assert isinstance(result, dict)
    assert sorted(result["granted_scopes"]) == ["read:applications", "read:users"]
    token = server.token(client_id=created["client_id"], client_secret=created["client_secret"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert sorted(claims["scp"]) == ["read:applications", "read:users"]


def test_apps_authorize_rejects_an_unknown_scope(server: KindlingServer) -> None:
    created = server.create_app(f"bad-scope-{uuid.uuid4().hex[:8]}")
    result = server.cli(
        "apps", "authorize", created["id"], "--api", server.audience, "--scope", "fly:away"
    )
    assert result.returncode != 0
    assert "fly:away" in result.stderr


def test_token_command_mints_a_token_the_server_accepts(server: KindlingServer) -> None:
    minted = _json(
        server.cli(
            "token",
            "--app",
            server.client_id,
            "--audience",
            server.audience,
            "--scope",
            "read:users",
            "--json",
        )
    )
    assert isinstance(minted, dict)
    assert minted["token_type"] == "Bearer" and minted["scope"] == "read:users"
    with server.client() as http:
        ok = http.get(
            "/api/v1/users", headers={"Authorization": f"Bearer {minted['access_token']}"}
        )
        denied = http.get(
            "/api/v1/applications", headers={"Authorization": f"Bearer {minted['access_token']}"}
        )
    assert ok.status_code == 200
    assert denied.status_code == 403
    plain = server.cli("token", "--app", server.client_id, "--audience", server.audience)
    assert plain.returncode == 0 and plain.stdout.count(".") == 2


def test_token_command_refuses_an_audience_the_app_is_not_authorized_for(
    server: KindlingServer,
) -> None:
    created = server.create_app(f"no-auth-{uuid.uuid4().hex[:8]}")
    result = server.cli("token", "--app", created["id"], "--audience", server.audience)
    assert result.returncode != 0
    assert "unauthorized_client" in result.stderr


def test_users_list_shows_users_created_through_the_api(server: KindlingServer) -> None:
    email = f"cli-{uuid.uuid4().hex[:10]}@example.com"
    token = server.token(scopes=["create:users"])
    with server.client() as http:
        response = http.post(
            "/api/v1/user",
            json={
                "profile": {"given_name": "Cli", "family_name": "User"},
                "identities": [{"type": "email", "details": {"email": email}}],
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    listed = _json(server.cli("users", "list", "--email", email, "--json"))
    assert listed == [
        {
            "id": response.json()["id"],
            "email": email,
            "first_name": "Cli",
            "last_name": "User",
            "created_on": listed[0]["created_on"],
        }  # type: ignore[index]
    ]


def test_commands_on_an_empty_data_dir_say_to_run_serve_first(tmp_path: object) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kindling",
            "apps",
            "create",
            "--name",
            "x",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "kindling serve" in result.stderr


def test_the_data_dir_database_and_master_key_are_private(sqlite_server: KindlingServer) -> None:
    """What ``kindling serve`` writes into a data dir holds sealed signing keys and secret
    hashes: the SQLite file, its WAL and shared-memory files (there while it serves) and
    the master key are readable by their owner only, whatever the umask."""
    for name in ("kindling.db", "kindling.db-wal", "kindling.db-shm", "master.key"):
        mode = stat.S_IMODE((sqlite_server.data_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
