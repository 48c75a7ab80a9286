"""Test support: real server processes, PostgreSQL schemas, token helpers."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

PG_ADMIN_URL = os.environ.get("KINDLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def create_pg_schema() -> tuple[str, str]:
    """Create an empty schema; return (schema, database URL that uses it)."""
    schema = "kt_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema, f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"


def drop_pg_schema(schema: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@dataclass
class KindlingServer:
    """A ``kindling serve`` subprocess and what its first run printed."""

    data_dir: Path
    port: int
    tls: bool = False
    database_url: str | None = None
    extra_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    output: str = ""
    client_id: str = ""
    client_secret: str = ""
    ca_path: str | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://localhost:{self.port}"

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def audience(self) -> str:
        return f"{self.base_url}/api"

    @property
    def domain(self) -> str:
        return f"localhost:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KINDLING_ISSUER", None)
        env["KINDLING_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["KINDLING_DATABASE_URL"] = self.database_url
        else:
            env.pop("KINDLING_DATABASE_URL", None)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> KindlingServer:
        args = [
            sys.executable,
            "-m",
            "kindling",
            "serve",
            "--port",
            str(self.port),
            "--no-access-log",
            *self.extra_args,
        ]
        if self.tls:
            args.append("--tls")
        self.process = subprocess.Popen(
            args,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("server exited:\n" + "".join(lines))
            lines.append(line)
            if "Uvicorn running on" in line:
                break
        else:
            raise RuntimeError("server did not start:\n" + "".join(lines))
        self.output = "".join(lines)
        found = re.search(r"client id:\s+(\S+)", self.output)
        if found and not self.client_id:
            self.client_id = found.group(1)
            self.client_secret = re.search(r"client secret:\s+(\S+)", self.output).group(1)  # type: ignore[union-attr]
        ca = re.search(r"Local CA: (\S+)", self.output)
        if ca:
            self.ca_path = ca.group(1)
        # Drain further output so the pipe never fills.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def wait_for_output(self, text: str, timeout: float = 5.0) -> bool:
        """True once ``text`` appears in the server's output (read by a background thread)."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output += line

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                # Clients that keep TLS connections open can hold a graceful shutdown.
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = True
        if self.ca_path:
            verify = ssl.create_default_context(cafile=self.ca_path)
        return httpx.Client(base_url=self.base_url, verify=verify, timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kindling", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def token(
        self,
        scopes: list[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        audience: str | None = None,
    ) -> str:
        data: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": client_id or self.client_id,
            "client_secret": client_secret or self.client_secret,
            "audience": audience or self.audience,
        }
        if scopes is not None:
            data["scope"] = " ".join(scopes)
        with self.client() as http:
            response = http.post("/oauth2/token", data=data)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def create_app(self, name: str, management: bool = False) -> dict[str, Any]:
        args = ["apps", "create", "--name", name, "--json"]
        if management:
            args.append("--authorize-management-api")
        result = self.cli(*args)
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


def not_found_code(resp: httpx.Response, code: str | None = None) -> str:
    """Assert Kinde's ``not_found_response`` (``errors`` is an object); return its code."""
    assert resp.status_code == 404, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"errors"} and isinstance(body["errors"], dict), body
    assert set(body["errors"]) == {"code", "message"}, body
    found = body["errors"]["code"]
    assert isinstance(found, str) and found and isinstance(body["errors"]["message"], str)
    if code is not None:
        assert found == code, body
    return found


_TOKENS: dict[tuple[str, tuple[str, ...] | None], str] = {}


def token_for(server: KindlingServer, scopes: list[str] | None = None) -> str:
    """A bootstrap-app token (all scopes by default), cached per server and scope set."""
    key = (server.base_url, None if scopes is None else tuple(sorted(scopes)))
    if key not in _TOKENS:
        _TOKENS[key] = server.token(scopes=scopes)
    return _TOKENS[key]


def _error_validator() -> Any:
    from openapi_schema_validator import OAS30Validator, oas30_format_checker
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    from tests.contract.contract import load_contract

    uri = "urn:test:kinde-errors"
    return OAS30Validator(
        {"$ref": f"{uri}#/schemas/error_response"},
        registry=Registry().with_resource(uri, DRAFT4.create_resource(load_contract().document)),
        format_checker=oas30_format_checker,
    )


_ERROR_VALIDATOR: list[Any] = []


def error_code(resp: httpx.Response, status: int | None = None, code: str | None = None) -> str:
    """Assert Kinde's error body for the status and return its code.

    A 404 is ``not_found_response`` (``errors`` is an object); anything else is an
    ``error_response`` that validates against the contract, with exactly one
    ``{code, message}`` item. ``status`` None means any 4xx.
    """
    if status is None:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    else:
        assert resp.status_code == status, (resp.status_code, resp.text)
    if resp.status_code == 404 and status == 404:
        return not_found_code(resp, code)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    if not _ERROR_VALIDATOR:
        _ERROR_VALIDATOR.append(_error_validator())
    errors = sorted(_ERROR_VALIDATOR[0].iter_errors(body), key=str)
    assert not errors, (errors, body)
    assert set(body) == {"errors"} and isinstance(body["errors"], list), body
    assert len(body["errors"]) == 1, body
    item = body["errors"][0]
    assert set(item) == {"code", "message"}, body
    assert isinstance(item["code"], str) and item["code"], body
    assert isinstance(item["message"], str) and item["message"], body
    if code is not None:
        assert item["code"] == code, body
    return str(item["code"])


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (a server's worker processes), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot), or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]
