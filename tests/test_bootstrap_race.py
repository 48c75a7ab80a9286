"""Two instances started at the same moment on an empty PostgreSQL database.

A compose stack, a Kubernetes deployment or two hosts may start every instance at once
before anything exists. Both apply the migrations (each once: the migrations' advisory
lock) and both run the first-run set-up (``kindling.bootstrap``). Exactly one of them may
make the environment, its signing key and the bootstrap application, and print that
application's secret; the other must wait for it, find the environment, and start as a
later run does, serving the same keys and applications. Real ``kindling serve``
processes on a fresh schema, three times over (the race is one of timing).
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_postgres
from tests.support import KindlingServer, create_pg_schema, drop_pg_schema, free_port

ROUNDS = 3
SECRET_LINE = "client secret:"


def _start_at_once(servers: list[KindlingServer]) -> list[BaseException]:
    """Launch every server in the same instant; return the failures of those that did
    not come up (``KindlingServer.start`` raises when the process exits)."""
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(servers))

    def start(server: KindlingServer) -> None:
        barrier.wait()
        try:
            server.start(timeout=60)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _wait_ready(server: KindlingServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        while True:
            status = http.get("/readyz").status_code
            if status == 200:
                return
            assert time.monotonic() < deadline, f"/readyz is {status}:\n{server.output}"
            time.sleep(0.1)


def _token(server: KindlingServer, client_id: str, secret: str, audience: str) -> str:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        answer = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "audience": audience,
            },
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _applications(server: KindlingServer, token: str) -> list[str]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        answer = http.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return sorted(app["id"] for app in answer.json()["applications"])


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_instances_bootstrapping_an_empty_database_at_once(tmp_path: Path, round_: int) -> None:
    require_postgres()
    schema, url = create_pg_schema()
    # Instances of one deployment: one database, master key and issuer.
    issuer = f"http://localhost:{free_port()}"
    env = {"KINDLING_MASTER_KEY": secrets.token_urlsafe(32), "KINDLING_ISSUER": issuer}
    servers = [
        KindlingServer(
            data_dir=tmp_path / f"instance-{n}", port=free_port(), database_url=url, extra_env=env
        )
        for n in (1, 2)
    ]
    try:
        failures = _start_at_once(servers)
        assert not failures, "\n\n".join(str(f) for f in failures)
        for server in servers:
            _wait_ready(server)
        # Neither took the path for a database that does not answer: the loser waited.
        for server in servers:
            assert "The database is not answering" not in server.output, server.output

        printed = [s for s in servers if SECRET_LINE in s.output]
        assert len(printed) == 1, [s.output for s in servers]
        winner = printed[0]
        other = servers[1 - servers.index(winner)]
        assert winner.output.count(SECRET_LINE) == 1
        assert "admin password" not in other.output.lower(), other.output

        audience = f"{issuer}/api"
        # A token from either instance is accepted by the other: one key, one application.
        from_winner = _token(winner, winner.client_id, winner.client_secret, audience)
        from_other = _token(other, winner.client_id, winner.client_secret, audience)
        seen_by_other = _applications(other, from_winner)
        seen_by_winner = _applications(winner, from_other)
        # One bootstrap application in the environment, not one per instance.
        assert seen_by_other == seen_by_winner == [winner.client_id]
    finally:
        for server in servers:
            server.stop()
        drop_pg_schema(schema)
