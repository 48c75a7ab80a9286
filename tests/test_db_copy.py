"""``kindling db copy``: an environment moved from SQLite to PostgreSQL and back loses nothing.

Seeded through the Management API of a real server, copied by the real command, checked
the way a user would: every table's row count and content digest are equal in all three
databases, and a server on the PostgreSQL copy (same master key and issuer) accepts the
tokens the original issued, signs with the same keys and accepts the same secrets.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from kindling.platform.dbcopy import digests
from kindling.platform.storage import open_engine
from tests.conftest import require_postgres
from tests.support import KindlingServer, create_pg_schema, drop_pg_schema, free_port

#: Run first (tests/conftest.py): about 5 s per test on a quiet machine.
pytestmark = pytest.mark.long(5)


def kindling(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kindling", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def table_digests(url: str, tmp_path: Path) -> dict[str, tuple[int, str]]:
    engine = open_engine(url, tmp_path)
    try:
        return dict(digests(engine))
    finally:
        engine.close()


def seed(server: KindlingServer, token: str) -> dict[str, Any]:
    """A little of everything, through the API: users, an organization, a role."""
    auth = {"Authorization": f"Bearer {token}"}
    with server.client() as http:
        for n in range(3):
            body = {
                "profile": {"given_name": f"Copy{n}", "family_name": "Test"},
                "identities": [{"type": "email", "details": {"email": f"copy{n}@example.com"}}],
            }
            assert http.post("/api/v1/user", json=body, headers=auth).status_code == 200
        org = http.post("/api/v1/organization", json={"name": "Copied Org"}, headers=auth)
        assert org.status_code == 200, org.text
        role = {"name": "Copier", "key": f"copier_{uuid.uuid4().hex[:6]}"}
        assert http.post("/api/v1/roles", json=role, headers=auth).status_code in (200, 201)
        users = http.get("/api/v1/users", headers=auth).json()
        jwks = http.get("/.well-known/jwks").json()
    return {"users": users, "jwks": jwks}


@pytest.fixture
def pg_copy_url() -> Any:
    require_postgres()
    schema, url = create_pg_schema()
    yield url
    drop_pg_schema(schema)


def test_sqlite_to_postgres_to_sqlite_round_trip_keeps_every_row_and_key(
    tmp_path: Path, pg_copy_url: str
) -> None:
    original = KindlingServer(data_dir=tmp_path / "laptop", port=free_port()).start()
    try:
        token = original.token()
        app = original.create_app("copied-app", management=True)
        seeded = seed(original, token)
    finally:
        original.stop()
    sqlite_url = f"sqlite:///{original.data_dir / 'kindling.db'}"
    back_url = f"sqlite:///{tmp_path / 'back.db'}"

    to_pg = kindling("db", "copy", "--from", sqlite_url, "--to", pg_copy_url, "--json")
    assert to_pg.returncode == 0, to_pg.stderr
    report = json.loads(to_pg.stdout)
    copied = {t["name"]: t["rows"] for t in report["tables"]}
    assert copied["users"] >= 3 and copied["signing_keys"] >= 1 and copied["applications"] >= 2
    to_sqlite = kindling("db", "copy", "--from", pg_copy_url, "--to", back_url)
    assert to_sqlite.returncode == 0, to_sqlite.stderr
    assert "every table's row count and digest match" in to_sqlite.stdout

    source = table_digests(sqlite_url, tmp_path)
    assert source == table_digests(pg_copy_url, tmp_path) == table_digests(back_url, tmp_path)
    assert sum(rows for rows, _ in source.values()) == report["rows"]

    # A target that holds data is refused, and left as it was.
    again = kindling("db", "copy", "--from", back_url, "--to", pg_copy_url)
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1 and "--force" in again.stderr
    assert table_digests(pg_copy_url, tmp_path) == source

    master_key = (original.data_dir / "master.key").read_text().strip()
    moved = KindlingServer(
        data_dir=tmp_path / "production",
        port=free_port(),
        database_url=pg_copy_url,
        extra_args=["--issuer", original.issuer],
        extra_env={"KINDLING_MASTER_KEY": master_key},
    ).start()
    try:
        with moved.client() as http:
            # The original's token is accepted: same signing keys, same issuer and audience.
            auth = {"Authorization": f"Bearer {token}"}
            users = http.get("/api/v1/users", headers=auth)
            assert users.status_code == 200 and users.json() == seeded["users"]
            assert http.get("/.well-known/jwks").json() == seeded["jwks"]
            # The copied secret still authenticates (the secret pepper comes from the key).
            issued = http.post(
                "/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "audience": original.audience,
                },
            )
            assert issued.status_code == 200, issued.text
            fresh = issued.json()["access_token"]
            # New rows get new keys: the identity sequences moved past the copied ones.
            body = {"profile": {"given_name": "After", "family_name": "Copy"}}
            fresh_auth = {"Authorization": f"Bearer {fresh}"}
            made = http.post("/api/v1/user", json=body, headers=fresh_auth)
            assert made.status_code == 200, made.text
        # A token of the copy verifies with the original's published keys.
        kid = jwt.get_unverified_header(fresh)["kid"]
        jwk = next(k for k in seeded["jwks"]["keys"] if k["kid"] == kid)
        claims = jwt.decode(
            fresh,
            jwt.PyJWK(jwk).key,
            algorithms=["RS256"],
            audience=original.audience,
            issuer=original.issuer,
        )
        assert claims["azp"] == app["client_id"]
    finally:
        moved.stop()


def test_copy_refuses_bad_urls_and_the_same_database(tmp_path: Path) -> None:
    wrong = kindling("db", "copy", "--from", "mysql://x", "--to", "sqlite:///x.db")
    assert wrong.returncode == 2 and "--from must be a sqlite:///path" in wrong.stderr
    same = f"sqlite:///{tmp_path / 'a.db'}"
    assert kindling("db", "copy", "--from", same, "--to", same).returncode == 2
    target = tmp_path / "b.db"
    missing = kindling("db", "copy", "--from", same, "--to", f"sqlite:///{target}")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert not (tmp_path / "a.db").exists() and not target.exists()
