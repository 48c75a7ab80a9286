"""The exported Postman collection run headless by ``newman`` against a real server.

Only what a user would have is given: the collection and environment from ``kindling
postman export`` and the client secret on the command line (``--env-var client_secret=…``).
The collection's pre-request script gets the token (client credentials, audience in the
body) and caches it, so one token request serves the whole run; every request of the
``Smoke`` folder (users, organizations, roles, applications, APIs: create, read, list,
delete) passes its tests, and no request of the whole collection is answered 401. With a
wrong secret the same folder gets 401 throughout, so the token does come from the script.

``newman`` is pinned in ``tests/js/package.json`` (``npm ci`` in ``tests/js``); a missing
``node`` or ``newman`` is a failure, never a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import KindlingServer, free_port

#: Run first (tests/conftest.py): about 5 s per test on a quiet machine.
pytestmark = pytest.mark.long(5)

JS_DIR = Path(__file__).with_name("js")
NEWMAN = JS_DIR / "node_modules" / ".bin" / "newman"
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def newman_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    """A server of its own: the whole collection changes settings other tests read."""
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp("newman"),
        port=free_port(),
        # The wrong-secret run must not lock the client out of the other run.
        extra_env={"KINDLING_RATE_LIMITS": "off"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def exported(
    newman_server: KindlingServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("newman-export")
    collection = directory / "kindling.postman_collection.json"
    result = newman_server.cli(
        "postman", "export", "--output", str(collection), "--client-id", newman_server.client_id
    )
    assert result.returncode == 0, result.stderr
    return collection, directory / "kindling.postman_environment.json"


def _newman(exported: tuple[Path, Path], secret: str, report: Path, *extra: str) -> dict[str, Any]:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; newman needs Node.js 20+")
    if not NEWMAN.exists():
        pytest.fail(f"newman is not installed in {JS_DIR}; run: (cd tests/js && npm ci)")
    collection, environment = exported
    result = subprocess.run(
        [
            str(NEWMAN),
            "run",
            str(collection),
            "--environment",
            str(environment),
            "--env-var",
            f"client_secret={secret}",
            "--reporters",
            "json",
            "--reporter-json-export",
            str(report),
            "--timeout-request",
            "30000",
            "--color",
            "off",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,  # newman exits 1 when any test fails; the report says which
    )
    if not report.exists():
        pytest.fail(f"newman wrote no report ({result.returncode}): {result.stderr[-2000:]}")
    try:
        run: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))["run"]
    finally:
        report.unlink(missing_ok=True)  # it holds the environment, secret included
    return run


def _items(node: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in node["item"]:
        found.extend(_items(item) if "item" in item else [item])
    return found


def _by_item(run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each executed item's executions (newman's JSON report may list one twice)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for execution in run["executions"]:
        found.setdefault(execution["item"]["id"], []).append(execution)
    return found


def test_the_whole_collection_runs_headless(
    exported: tuple[Path, Path], newman_server: KindlingServer, tmp_path: Path
) -> None:
    collection = json.loads(exported[0].read_text(encoding="utf-8"))
    smoke_folder = next(f for f in collection["item"] if f["name"] == "Smoke")
    smoke = {item["id"]: item["name"] for item in _items(smoke_folder)}
    every = {item["id"]: item["name"] for item in _items(collection)}
    assert len(smoke) == 20

    run = _newman(exported, newman_server.client_secret, tmp_path / "all.json")
    executed = _by_item(run)
    assert set(executed) == set(every), "newman skipped requests"
    # One token request (the pre-request script's) served every request of the run.
    assert run["stats"]["requests"]["total"] == len(every) + 1, run["stats"]["requests"]

    unauthorized = sorted(
        every[item]
        for item, executions in executed.items()
        if any(e.get("response", {}).get("code") == 401 for e in executions)
    )
    assert unauthorized == [], unauthorized

    smoke_failures: list[str] = []
    for item, name in smoke.items():
        for execution in executed[item]:
            code = execution.get("response", {}).get("code")
            assertions = execution.get("assertions", [])
            failed = [a["assertion"] for a in assertions if a.get("error")]
            if failed or not assertions:
                smoke_failures.append(f"{name}: {code} {failed or 'no test ran'}")
    assert smoke_failures == [], smoke_failures
    failed_sources = {f.get("source", {}).get("id") for f in run["failures"]}
    assert not failed_sources & set(smoke), [smoke[i] for i in failed_sources & set(smoke)]


def test_a_wrong_secret_gets_no_token_and_every_request_401(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    run = _newman(exported, "not-the-secret", tmp_path / "wrong.json", "--folder", "Smoke")
    codes = {e["item"]["name"]: e["response"]["code"] for e in run["executions"]}
    assert len(codes) == 20 and set(codes.values()) == {401}, codes
    assert run["stats"]["assertions"]["failed"] >= 20
