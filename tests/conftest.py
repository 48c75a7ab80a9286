"""Shared fixtures: real server processes over SQLite and PostgreSQL, with and without TLS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import report
from tests.support import (
    KindlingServer,
    create_pg_schema,
    drop_pg_schema,
    free_port,
    postgres_available,
)

ENGINES = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    """The conformance walk's coverage summary (``tests/conformance/report.py``)."""
    report.register(config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked ``long(seconds)`` first, longest first, the rest in their
    order: ``scripts/test`` hands tests to its processes one by one, so the long ones
    start on different processes at once instead of ending the run on one of them."""

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("long")
        return float(marker.args[0]) if marker is not None and marker.args else 0.0

    items.sort(key=lambda item: -seconds(item))


def require_postgres() -> None:
    """Skip (visibly) only when no server is reachable and we are not in CI."""
    if postgres_available():
        return
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required in CI (.ci/run starts it)")
    pytest.skip("no PostgreSQL reachable at 127.0.0.1:5432 (runs in CI)")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    require_postgres()
    schema, url = create_pg_schema()
    yield url
    drop_pg_schema(schema)


def _server(
    tmp: Path, engine: str, tls: bool, request: pytest.FixtureRequest
) -> Iterator[KindlingServer]:
    database_url = None
    schema = None
    if engine == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    server = KindlingServer(data_dir=tmp, port=free_port(), tls=tls, database_url=database_url)
    server.start()
    yield server
    server.stop()
    if schema:
        drop_pg_schema(schema)


@pytest.fixture(scope="session", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    """A plain-HTTP server per engine (session-wide; tests use unique names)."""
    yield from _server(
        tmp_path_factory.mktemp(f"srv-{request.param}"), request.param, False, request
    )


@pytest.fixture(scope="session")
def sqlite_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[KindlingServer]:
    yield from _server(tmp_path_factory.mktemp("srv-sqlite-only"), "sqlite", False, request)


@pytest.fixture(scope="session")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[KindlingServer]:
    """An HTTPS server with its auto-generated local CA (SQLite)."""
    yield from _server(tmp_path_factory.mktemp("srv-tls"), "sqlite", True, request)


@pytest.fixture
def trust_ca(tls_server: KindlingServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point both of the Python SDK's HTTP stacks at the server's CA; isolate token singletons."""
    from kinde_sdk.management.management_token_manager import ManagementTokenManager

    assert tls_server.ca_path, tls_server.output
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_server.ca_path)
    monkeypatch.setenv("SSL_CERT_FILE", tls_server.ca_path)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ManagementTokenManager.reset_instances()
    yield tls_server.ca_path
    ManagementTokenManager.reset_instances()


@pytest.fixture
def client(tls_server: KindlingServer, trust_ca: str) -> Any:
    """The official ``kinde_sdk.management.ManagementClient``, only the domain changed."""
    from kinde_sdk.management import ManagementClient

    return ManagementClient(
        domain=tls_server.domain,
        client_id=tls_server.client_id,
        client_secret=tls_server.client_secret,
    )
