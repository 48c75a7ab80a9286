"""The official Kinde JavaScript SDK (``@kinde/management-api-js``) against ``kindling serve``.

The package is pinned in ``tests/js/package.json`` / ``package-lock.json`` and installed by
``.ci/run`` (``npm ci`` in ``tests/js``). Each flow is a small ES module in ``tests/js`` that
configures the SDK exactly as its README says (``init()`` reading ``KINDE_DOMAIN`` and
``KINDE_MANAGEMENT_CLIENT_ID``/``_SECRET``; only the domain differs from Kinde) and trusts
the server's local CA through ``NODE_EXTRA_CA_CERTS``. The harness (``tests/js/harness.mjs``)
wraps the global ``fetch`` the SDK uses, so it reports every request's status and the number
of token requests, then prints one JSON document that these tests check: values round-trip,
ids have Kinde's shapes, each 2xx is the spec's exact code with a contract-valid body, a single
token serves the whole flow, and the SDK's own ``validateToken`` accepts it.

A missing ``node`` or ``node_modules`` is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from kindling.clock import isoformat
from kindling.context import open_storage
from tests.contract.contract import load_contract
from tests.support import KindlingServer

JS_DIR = Path(__file__).with_name("js")
PACKAGE = "@kinde/management-api-js"
INSTALL_HINT = "install it with: (cd tests/js && npm ci --no-audit --no-fund)"
CONTRACT = load_contract()
USER_ID = re.compile(r"^kp_[0-9a-f]{32}$")
ORG_CODE = re.compile(r"^org_[0-9a-f]{11}$")
FLOW_TIMEOUT = 120


def _pinned_version() -> str:
    manifest = json.loads((JS_DIR / "package.json").read_text(encoding="utf-8"))
    version: str = manifest["dependencies"][PACKAGE]
    return version


def _require_installed() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; the JS SDK tests need Node.js 20+")
    installed = JS_DIR / "node_modules" / PACKAGE / "package.json"
    if not installed.is_file():
        pytest.fail(f"{PACKAGE} is not installed in {JS_DIR}/node_modules; {INSTALL_HINT}")
    version = json.loads(installed.read_text(encoding="utf-8"))["version"]
    if version != _pinned_version():
        pytest.fail(f"{PACKAGE} {version} is installed, {_pinned_version()} pinned; {INSTALL_HINT}")


def run_flow(
    server: KindlingServer, flow: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``tests/js/<flow>.mjs`` against the server; return its JSON report, with the
    script's stderr under ``"stderr"`` (where the SDK prints what it failed to parse)."""
    _require_installed()
    assert server.ca_path, server.output
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KINDE_", "NODE_")) and k != "SSL_CERT_FILE"
    }
    env.update(
        KINDE_DOMAIN=server.domain,
        KINDE_MANAGEMENT_CLIENT_ID=server.client_id,
        KINDE_MANAGEMENT_CLIENT_SECRET=server.client_secret,
        NODE_EXTRA_CA_CERTS=server.ca_path,
    )
    env.update(extra_env or {})
    proc = subprocess.run(
        ["node", f"{flow}.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=FLOW_TIMEOUT,
    )
    assert proc.returncode == 0, f"node {flow}.mjs exited {proc.returncode}:\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"node {flow}.mjs printed no report:\n{proc.stdout}\n{proc.stderr}"
    report: dict[str, Any] = json.loads(lines[-1])
    report["stderr"] = proc.stderr
    return report


def _summary(report: dict[str, Any]) -> str:
    parts = []
    for step in report["steps"]:
        statuses = ",".join(str(r["status"]) for r in step["requests"])
        parts.append(f"{step['name']}:{'ok' if step['ok'] else 'FAILED'}[{statuses}]")
    return " ".join(parts)


def check_report(report: dict[str, Any], server: KindlingServer, expected_steps: list[str]) -> None:
    """Flow-independent checks: every step ran and passed, statuses and bodies per the spec,
    one token for the whole flow, and the SDK's validateToken accepts it."""
    flow = report["flow"]
    failed = [s for s in report["steps"] if not s["ok"]]
    if failed:
        step = failed[0]
        pytest.fail(
            f"{flow}: step {step['name']} failed: {json.dumps(step.get('error'))}\n"
            f"requests: {step['requests']}\nsteps: {_summary(report)}"
        )
    assert report["fatal"] is None, (flow, report["fatal"])
    # The SDK catches a failed response.json() and prints it instead of raising: an empty
    # body labelled application/json shows up only here.
    assert "SyntaxError" not in report["stderr"], (flow, report["stderr"])
    assert report["completed"] is True, _summary(report)
    assert [s["name"] for s in report["steps"]] == expected_steps, _summary(report)
    for step in report["steps"]:
        if step["name"].endswith("AfterDelete"):
            continue
        for request in step["requests"]:
            op = CONTRACT.match(request["method"], request["path"])
            assert op is not None, (step["name"], request)
            assert request["status"] in op.success_codes, (
                f"{flow}/{step['name']}: {request['method']} {request['path']} answered "
                f"{request['status']}, the spec says {op.success_codes}"
            )
        if len(step["requests"]) == 1:
            request = step["requests"][0]
            CONTRACT.validate_response(
                request["method"], request["path"], request["status"], step["value"]
            )
            if request["status"] == 201:
                assert isinstance(step["value"], dict) and step["value"], step
    # One token served the whole flow (the SDK reuses it while aud and exp are fine).
    assert report["token_requests"] == 1, (flow, report["token_requests"])
    claims = report["token_claims"]
    assert claims is not None
    assert f"https://{server.domain}/api" in claims["aud"], claims
    assert claims["iss"] == f"https://{server.domain}", claims
    assert claims["azp"] == server.client_id, claims
    assert report["validate_token"] is True, report


def steps_of(report: dict[str, Any]) -> dict[str, Any]:
    return {s["name"]: s.get("value") for s in report["steps"]}


def assert_gone(value: dict[str, Any]) -> None:
    """A read after delete: the SDK raised ApiError 400/404 with an error body."""
    assert value["kind"] == "ApiError", value
    assert value["status"] in (400, 404), value
    body = value["body"]
    assert isinstance(body, dict) and body.get("errors"), value


# --- the tests ----------------------------------------------------------------


def test_pinned_sdk_is_installed() -> None:
    """package.json pins an exact version, the lock file agrees, and npm installed it."""
    version = _pinned_version()
    assert re.fullmatch(r"0\.\d+\.\d+", version), version
    lock = json.loads((JS_DIR / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"][f"node_modules/{PACKAGE}"]
    assert locked["version"] == version, locked
    assert locked["integrity"].startswith("sha512-"), locked
    _require_installed()
    proc = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    major = int(proc.stdout.strip().lstrip("v").split(".")[0])
    assert major >= 20, proc.stdout


def test_users_flow(tls_server: KindlingServer) -> None:
    report = run_flow(tls_server, "users")
    check_report(
        report,
        tls_server,
        [
            "getUsers",
            "createUser",
            "getUserData",
            "getUsersById",
            "getUsersByEmail",
            "updateUser",
            "getUserDataAfterUpdate",
            "deleteUser",
            "getUserDataAfterDelete",
        ],
    )
    v = steps_of(report)
    email = report["inputs"]["email"]
    assert isinstance(v["getUsers"]["users"], list)
    created = v["createUser"]
    assert USER_ID.match(created["id"]), created
    assert created["created"] is True
    assert created["identities"] == [{"type": "email", "result": {"created": True}}]
    user_id = created["id"]
    got = v["getUserData"]
    assert got["id"] == user_id
    assert got["preferred_email"] == email
    assert (got["first_name"], got["last_name"]) == ("Ada", "Lovelace")
    assert {"type": "email", "identity": email} in got["identities"]
    assert [u["id"] for u in v["getUsersById"]["users"]] == [user_id]
    by_email = v["getUsersByEmail"]["users"]
    assert [(u["id"], u["email"]) for u in by_email] == [(user_id, email)]
    updated = v["updateUser"]
    assert (updated["id"], updated["given_name"], updated["family_name"]) == (
        user_id,
        "Augusta",
        "King",
    )
    after = v["getUserDataAfterUpdate"]
    assert (after["first_name"], after["last_name"]) == ("Augusta", "King")
    assert v["deleteUser"]["code"] and v["deleteUser"]["message"]
    assert_gone(v["getUserDataAfterDelete"])


def test_organizations_flow(tls_server: KindlingServer) -> None:
    report = run_flow(tls_server, "organizations")
    check_report(
        report,
        tls_server,
        [
            "createOrganization",
            "getOrganization",
            "getOrganizations",
            "updateOrganization",
            "getOrganizationAfterUpdate",
            "createUser",
            "addOrganizationUsers",
            "getOrganizationUsers",
            "deleteOrganization",
            "getOrganizationAfterDelete",
            "deleteUser",
        ],
    )
    v = steps_of(report)
    name = report["inputs"]["name"]
    created = v["createOrganization"]
    code = created["organization"]["code"]
    assert ORG_CODE.match(code), created
    assert created["code"] and created["message"], created
    got = v["getOrganization"]
    assert (got["code"], got["name"]) == (code, name)
    listed = v["getOrganizations"]
    assert isinstance(listed["first_page"]["organizations"], list)
    assert listed["found"] is not None, "the new organization is not listed"
    assert (listed["found"]["code"], listed["found"]["name"]) == (code, name)
    assert v["updateOrganization"]["code"], v["updateOrganization"]
    assert v["getOrganizationAfterUpdate"]["name"] == f"{name}-renamed"
    user_id = v["createUser"]["id"]
    assert USER_ID.match(user_id)
    assert user_id in v["addOrganizationUsers"]["users_added"], v["addOrganizationUsers"]
    members = v["getOrganizationUsers"]["organization_users"]
    assert user_id in [m["id"] for m in members], members
    assert v["deleteOrganization"]["code"], v["deleteOrganization"]
    assert_gone(v["getOrganizationAfterDelete"])


def test_roles_flow(tls_server: KindlingServer) -> None:
    report = run_flow(tls_server, "roles")
    check_report(
        report,
        tls_server,
        [
            "createPermission",
            "findPermission",
            "createRole",
            "getRoles",
            "getRole",
            "updateRoles",
            "getRoleAfterUpdate",
            "updateRolePermissions",
            "getRolePermissions",
            "deleteRole",
            "getRoleAfterDelete",
            "deletePermission",
        ],
    )
    v = steps_of(report)
    inputs = report["inputs"]
    suffix, permission_key, role_key = (
        inputs["suffix"],
        inputs["permission_key"],
        inputs["role_key"],
    )
    assert v["createPermission"]["code"] and v["createPermission"]["message"]
    permission = v["findPermission"]
    assert permission is not None, "the new permission is not listed by getPermissions"
    assert (permission["key"], permission["name"]) == (permission_key, f"Read {suffix}")
    assert isinstance(permission["id"], str) and permission["id"]
    created = v["createRole"]
    role_id = created["role"]["id"]
    assert isinstance(role_id, str) and role_id, created
    listed = v["getRoles"]
    assert isinstance(listed["first_page"]["roles"], list)
    assert listed["found"] is not None, "the new role is not listed by getRoles"
    assert (listed["found"]["key"], listed["found"]["name"]) == (role_key, f"Role {suffix}")
    role = v["getRole"]["role"]
    assert (role["id"], role["key"], role["name"]) == (role_id, role_key, f"Role {suffix}")
    assert role["is_default_role"] is False
    assert v["updateRoles"]["code"], v["updateRoles"]
    renamed = v["getRoleAfterUpdate"]["role"]
    assert (renamed["key"], renamed["name"]) == (role_key, f"Role {suffix} renamed")
    assert renamed["description"] == "renamed"
    assert permission["id"] in v["updateRolePermissions"]["permissions_added"]
    in_role = v["getRolePermissions"]["permissions"]
    assert [(p["id"], p["key"]) for p in in_role] == [(permission["id"], permission_key)]
    assert v["deleteRole"]["code"], v["deleteRole"]
    assert_gone(v["getRoleAfterDelete"])
    assert v["deletePermission"]["code"], v["deletePermission"]


def _seed_connection(server: KindlingServer) -> str:
    """A connection row (the Management API cannot create one here)."""
    connection_id = "conn_" + uuid.uuid4().hex
    storage = open_storage(server.database_url, server.data_dir, isoformat(0))
    try:
        with storage.engine.session(write=True) as session:
            session.execute(
                "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (connection_id, "js-conn", "JS connection", "oauth2:google", "{}", isoformat(0)),
            )
    finally:
        storage.close()
    return connection_id


def test_operations_without_a_response_body_flow(tls_server: KindlingServer) -> None:
    """The spec's 200s without a body (API scope update/delete, application scope grants,
    application update, enabling connections, organization-user API scopes) answer no body
    and no JSON content type: the SDK resolves each call without printing a SyntaxError,
    and the change is there when read back."""
    connection_id = _seed_connection(tls_server)
    report = run_flow(tls_server, "no_content", {"KINDLING_CONNECTION_ID": connection_id})
    check_report(
        report,
        tls_server,
        [
            "createApplication",
            "addApis",
            "addApiScope",
            "updateApiApplications",
            "addApiApplicationScope",
            "deleteApiApplicationScope",
            "updateApiScope",
            "getApiScope",
            "updateApplication",
            "getApplication",
            "enableConnection",
            "createOrganization",
            "createUser",
            "addOrganizationUsers",
            "addOrganizationUserApiScope",
            "deleteOrganizationUserApiScope",
            "enableOrgConnection",
            "getOrganizationConnections",
            "deleteApiScope",
            "getApiScopes",
            "deleteOrganization",
            "deleteUser",
            "deleteApplication",
            "deleteApi",
        ],
    )
    v = steps_of(report)
    for name in (
        "addApiApplicationScope",
        "deleteApiApplicationScope",
        "updateApiScope",
        "updateApplication",
        "enableConnection",
        "addOrganizationUserApiScope",
        "deleteOrganizationUserApiScope",
        "enableOrgConnection",
        "deleteApiScope",
    ):
        assert v[name] is None, (name, v[name])
    scope_id = v["addApiScope"]["scope"]["id"]
    assert v["getApiScope"]["scope"] == {
        "id": scope_id,
        "key": report["inputs"]["scope_key"],
        "description": "after",
    }
    assert v["getApplication"]["application"]["name"] == "js-renamed"
    connections = v["getOrganizationConnections"]["connections"]
    assert [c["id"] for c in connections] == [connection_id], connections
    assert scope_id not in [s["id"] for s in v["getApiScopes"]["scopes"]]


def test_webhooks_flow(tls_server: KindlingServer) -> None:
    report = run_flow(tls_server, "webhooks")
    check_report(
        report,
        tls_server,
        [
            "createWebHook",
            "getWebHooks",
            "updateWebHook",
            "getWebHooksAfterUpdate",
            "getEventTypes",
            "deleteWebHook",
            "getWebHooksAfterDelete",
        ],
    )
    v = steps_of(report)
    name, endpoint = report["inputs"]["name"], report["inputs"]["endpoint"]
    created = v["createWebHook"]
    webhook_id = created["webhook"]["id"]
    assert re.fullmatch(r"webhook_[0-9a-f]{32}", webhook_id), created
    assert created["webhook"]["endpoint"] == endpoint
    listed = {w["id"]: w for w in v["getWebHooks"]["webhooks"]}
    assert listed[webhook_id]["name"] == name
    assert listed[webhook_id]["endpoint"] == endpoint
    assert listed[webhook_id]["description"] == "JS SDK flow"
    assert listed[webhook_id]["event_types"] == ["user.created", "organization.created"]
    assert v["updateWebHook"]["webhook"] == {"id": webhook_id}
    renamed = {w["id"]: w for w in v["getWebHooksAfterUpdate"]["webhooks"]}[webhook_id]
    assert (renamed["name"], renamed["event_types"]) == (f"{name}-renamed", ["user.deleted"])
    assert "description" not in renamed  # cleared by null
    codes = [t["code"] for t in v["getEventTypes"]["event_types"]]
    assert "user.created" in codes and "webhook.created" in codes
    assert v["deleteWebHook"]["code"] == "WEBHOOK_DELETED"
    assert webhook_id not in [w["id"] for w in v["getWebHooksAfterDelete"]["webhooks"]]
