"""Configuration as code end to end: ``kindling serve --seed``, ``kindling apply``,
``kindling export``, on real server processes (SQLite) and their data dirs, and through
``--remote`` against a running server.

The seeded server pins an application's client id and secret, which must get a token
from its first request on; applying the same file again writes no audit row; a changed
file converges; an invalid file names its lines, exits 1 and writes nothing; an export
applied (``--prune``) to an empty server reproduces the same bytes, and the pinned secret
works there too. Both servers share one master key (``KINDLING_MASTER_KEY``), which is
what lets exported secret hashes verify on the second.
"""

from __future__ import annotations

import sqlite3
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support import KindlingServer, free_port

MASTER_KEY = "environment-file-cli-master-key-0123456789abcdef"
SECRET = "ci-backend-secret-at-least-32-characters"
ORDERS = "https://orders.example.com"

SEED = textwrap.dedent(
    f"""\
    apis:
      - name: Orders API
        audience: {ORDERS}
        scopes: [read:orders, write:orders]
    permissions:
      - key: read:reports
        name: Read reports
    roles:
      - key: admin
        name: Administrator
        permissions: [read:reports]
    users:
      - id: kp_alice
        first_name: Alice
        identities:
          - email: alice@example.com
    organizations:
      - code: org_acme
        name: Acme
        members:
          - user: kp_alice
            roles: [admin]
    applications:
      - name: ci-backend
        client_id: ci_backend
        client_secret: {SECRET}
        authorize:
          - api: management
            scopes: [read:users, create:users]
          - api: {ORDERS}
    """
)


def _server(tmp: Path, *args: str) -> KindlingServer:
    return KindlingServer(
        data_dir=tmp,
        port=free_port(),
        extra_args=list(args),
        extra_env={"KINDLING_MASTER_KEY": MASTER_KEY},
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envfile")


@pytest.fixture(scope="module")
def seeded(workdir: Path) -> Iterator[KindlingServer]:
    seed = workdir / "seed.yaml"
    seed.write_text(SEED, encoding="utf-8")
    server = _server(workdir / "seeded", "--seed", str(seed))
    server.start()
    yield server
    server.stop()


def changes_audited(server: KindlingServer) -> int:
    """Audit rows of changes (token issuance is audited in batches, at its own pace)."""
    with sqlite3.connect(server.data_dir / "kindling.db") as db:
        (n,) = db.execute("SELECT COUNT(*) FROM audit WHERE action NOT LIKE 'token.%'").fetchone()
    return int(n)


def claims(token: str) -> dict[str, Any]:
    found: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return found


def write(workdir: Path, name: str, text: str) -> str:
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_serve_seed_pins_credentials_that_get_a_token_at_once(seeded: KindlingServer) -> None:
    token = seeded.token(client_id="ci_backend", client_secret=SECRET, audience=ORDERS)
    assert claims(token)["azp"] == "ci_backend"
    assert set(claims(token)["scp"]) == {"read:orders", "write:orders"}
    assert "Seeded from" in seeded.output and "ci_backend" in seeded.output
    assert SECRET not in seeded.output


def test_apply_twice_changes_nothing_and_a_changed_file_converges(
    seeded: KindlingServer, workdir: Path
) -> None:
    seed = write(workdir, "again.yaml", SEED)
    before = changes_audited(seeded)
    result = seeded.cli("apply", seed)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No changes.\n"
    assert changes_audited(seeded) == before

    changed = write(
        workdir,
        "changed.yaml",
        SEED.replace("name: Administrator", "name: Admins").replace(
            "scopes: [read:orders, write:orders]", "scopes: [read:orders]"
        ),
    )
    result = seeded.cli("apply", changed)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "~ role admin (name)",
        f"~ api {ORDERS} (-scope write:orders)",
        "Applied 2 changes: 2 to update.",
    ]
    assert changes_audited(seeded) > before
    # The narrowed API reaches the pinned application's very next token.
    token = seeded.token(client_id="ci_backend", client_secret=SECRET, audience=ORDERS)
    assert claims(token)["scp"] == ["read:orders"]
    assert seeded.cli("apply", changed).stdout == "No changes.\n"


def test_an_invalid_file_names_its_lines_exits_1_and_writes_nothing(
    seeded: KindlingServer, workdir: Path
) -> None:
    bad = write(
        workdir,
        "bad.yaml",
        textwrap.dedent(
            """\
            users:
              - id: kp_carol
                identities:
                  - email: carol@example.com
            applications:
              - name: broken
                client_id: broken
                client_secret: too-short
            roles:
              - key: admin
            """
        ),
    )
    before = seeded.cli("export").stdout
    result = seeded.cli("apply", bad)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{bad}:8: applications[0].client_secret: must be at least 32 characters",
        f"{bad}:10: roles[0]: name is required",
        f"Error: {bad}: 2 problems; nothing was written.",
    ]
    assert "too-short" not in result.stderr
    assert seeded.cli("export").stdout == before


def test_export_then_apply_into_an_empty_server_reproduces_it(
    seeded: KindlingServer, workdir: Path
) -> None:
    exported = workdir / "exported.yaml"
    result = seeded.cli("export", "--output", str(exported))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    text = exported.read_text(encoding="utf-8")
    assert "client_secret_hash: hmac-sha256$v1$" in text and SECRET not in text

    empty = _server(workdir / "empty")
    empty.start()
    try:
        result = empty.cli("apply", str(exported), "--prune")
        assert result.returncode == 0, result.stderr
        assert f"- application {empty.client_id}" in result.stdout
        assert empty.cli("export").stdout == text
        # The exported hash stands for the same secret, which works on the new server.
        token = empty.token(client_id="ci_backend", client_secret=SECRET, audience=ORDERS)
        assert claims(token)["azp"] == "ci_backend"
    finally:
        empty.stop()


def test_remote_apply_and_export_through_a_running_server(
    seeded: KindlingServer, workdir: Path
) -> None:
    extra = write(
        workdir,
        "remote.yaml",
        "users:\n  - id: kp_dave\n    identities:\n      - email: dave@example.com\n",
    )
    credentials = ["--client-id", seeded.client_id, "--client-secret", seeded.client_secret]
    remote = ["--remote", seeded.base_url, *credentials]
    result = seeded.cli("apply", extra, *remote)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["+ user kp_dave", "Applied 1 change: 1 to create."]
    assert seeded.cli("apply", extra, *remote).stdout == "No changes.\n"
    # The remote export (the root command's --remote form) is the local one.
    exported = seeded.cli("--remote", seeded.base_url, *credentials, "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == seeded.cli("export").stdout
    # A change the server refuses names the line of the local file.
    taken = write(
        workdir,
        "taken.yaml",
        "users:\n  - id: kp_eve\n    identities:\n      - email: dave@example.com\n",
    )
    refused = seeded.cli("apply", taken, *remote)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == (
        f"{taken}:2: users[0]: A user with this email, phone or username already exists"
    )
    # A token without the document's write scopes changes nothing (403, exit 4).
    ci = ["--client-id", "ci_backend", "--client-secret", SECRET]
    denied = seeded.cli("apply", extra, "--remote", seeded.base_url, *ci)
    assert denied.returncode == 4
    assert "update:users" in denied.stderr
