"""``kindling.sdk`` against the committed contract: every operation has its typed method.

For each of the contract's operations, on both clients: the resource is
``snake_case(tag)``, the method ``snake_case(operation_id)``; path parameters come first,
positional, in path order; query parameters are keyword-only, required exactly when the
contract requires them; and calling the method (through httpx's ``MockTransport``) sends
the operation's HTTP method to its path, with every query parameter and the body as the
contract declares them. ``scripts/gen_sdk.py`` must reproduce the committed modules byte
for byte, and the package must import nothing else from ``kindling``.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import json
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kindling.sdk import AsyncManagementClient, ManagementClient
from tests.contract.contract import load_contract

ROOT = Path(__file__).resolve().parent.parent
SDK_DIR = ROOT / "src" / "kindling" / "sdk"
CONTRACT = load_contract()
OPERATIONS = CONTRACT.operations


def expected_method(operation_id: str) -> str:
    """``getAPIs`` -> ``get_apis``, ``ResetOrgUserMFAAll`` -> ``reset_org_user_mfa_all``."""
    name = re.sub(r"([A-Z]+)s(?=[A-Z]|$)", lambda m: m.group(1).capitalize() + "s", operation_id)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.lower()


def expected_resource(tag: str) -> str:
    return tag.lower().replace(" ", "_")


def test_the_names_follow_kindes_operations() -> None:
    assert expected_method("getAPIs") == "get_apis"
    assert expected_method("getLogoutURLs") == "get_logout_urls"
    assert expected_method("GetUsersMFA") == "get_users_mfa"
    assert expected_method("addAPIApplicationScope") == "add_api_application_scope"
    sdk = ManagementClient("x.example", "c", "s")
    assert callable(sdk.users.get_users) and callable(sdk.apis.get_apis)
    assert callable(sdk.callbacks.get_logout_urls) and callable(sdk.api_keys.get_api_keys)
    assert callable(sdk.users.iterate) and callable(sdk.organizations.iterate)


def _dummy(schema: dict[str, Any], name: str) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return 7
    if kind == "boolean":
        return True
    if kind == "object":
        return {"k": ["v"]}
    if kind == "array":
        return ["a", "b"]
    return f"v-{name}"


def _wire(value: Any) -> str:
    return "true" if value is True else str(value)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        request.read()
        self.requests.append(request)
        return httpx.Response(200, json={})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handle(request)


def _call(op: Any, method: Callable[..., Any]) -> tuple[Any, dict[str, str], Any]:
    """Call ``method`` with a value for every parameter; return what the request must be."""
    path_args = []
    path = op.path
    params = {p["name"]: p for p in op.parameters}
    for name in re.findall(r"\{([^}]+)\}", op.path):
        value = _dummy(params[name]["schema"], name)
        path_args.append(value)
        path = path.replace("{" + name + "}", str(value))
    body: Any = None
    if op.request_body and op.request_body["content_type"] == "application/json":
        body = {"marker": op.operation_id}
        path_args.append(body)
    elif op.request_body:
        path_args.append(b"\x89PNG-bytes")
    kwargs = {}
    query: dict[str, str] = {}
    for p in op.parameters:
        if p["in"] != "query":
            continue
        value = _dummy(p["schema"], p["name"])
        kwargs[p["name"]] = value
        if isinstance(value, dict):
            query[f"{p['name']}[k]"] = "v"
        elif isinstance(value, list):
            query[p["name"]] = ",".join(value)
        else:
            query[p["name"]] = _wire(value)
    return method(*path_args, **kwargs), {"path": path, **query}, body


def _check(op: Any, request: httpx.Request, expected: dict[str, str], body: Any) -> None:
    assert request.method == op.method, op
    assert request.url.path == expected.pop("path"), op
    got: dict[str, list[str]] = {}
    for key, value in request.url.params.multi_items():
        got.setdefault(key, []).append(value)
    assert {k: ",".join(v) for k, v in got.items()} == expected, op
    if body is not None:
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == body
    elif op.request_body:
        assert request.headers["content-type"].startswith("multipart/form-data")
        assert b"\x89PNG-bytes" in request.content
    else:
        assert request.content == b""


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_every_operation_has_a_method_with_its_name_parameters_method_and_path(op: Any) -> None:
    recorder = Recorder()
    sdk = ManagementClient(
        "kinde.example", "c", "s", transport=httpx.MockTransport(recorder.handle)
    )
    resource = getattr(sdk, expected_resource(op.tag))
    method = getattr(resource, expected_method(op.operation_id))

    signature = inspect.signature(method)
    positional = [
        p.name
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    path_names = re.findall(r"\{([^}]+)\}", op.path)
    body_names: list[str] = []
    if op.request_body:
        body_names = (
            ["body"]
            if op.request_body["content_type"] == "application/json"
            else sorted(op.request_body["schema"]["properties"])
        )
    assert positional == path_names + body_names
    keyword = {
        p.name: p.default is inspect.Parameter.empty
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert keyword == {p["name"]: bool(p["required"]) for p in op.parameters if p["in"] == "query"}

    hints = typing.get_type_hints(method)
    no_body = all(schema is None for schema in op.success.values())
    assert (hints["return"] is type(None)) == no_body, hints["return"]

    _, expected, body = _call(op, method)
    assert len(recorder.requests) == 1
    _check(op, recorder.requests[0], expected, body)


def test_the_async_client_has_the_same_operations() -> None:
    recorder = Recorder()

    async def main() -> None:
        async with AsyncManagementClient(
            "kinde.example", "c", "s", transport=httpx.MockTransport(recorder.ahandle)
        ) as sdk:
            for op in OPERATIONS:
                resource = getattr(sdk, expected_resource(op.tag))
                method = getattr(resource, expected_method(op.operation_id))
                assert inspect.iscoroutinefunction(method), op
                awaitable, expected, body = _call(op, method)
                await awaitable
                _check(op, recorder.requests[-1], expected, body)

    asyncio.run(main())
    assert len(recorder.requests) == len(OPERATIONS)


def test_every_paging_listing_has_an_iterator() -> None:
    sdk = ManagementClient("kinde.example", "c", "s")
    asdk = AsyncManagementClient("kinde.example", "c", "s")
    paging = [
        op
        for op in OPERATIONS
        if op.method == "GET"
        and {p["name"] for p in op.parameters} & {"next_token", "starting_after"}
    ]
    assert len(paging) >= 20
    for op in paging:
        name = "iterate_" + re.sub(r"^get_", "", expected_method(op.operation_id))
        for client in (sdk, asdk):
            iterate = getattr(getattr(client, expected_resource(op.tag)), name)
            parameters = inspect.signature(iterate).parameters
            assert not {"next_token", "starting_after", "ending_before"} & set(parameters), op
            has_size = any(p["name"] == "page_size" for p in op.parameters)
            assert ("page_size" in parameters) == has_size, op


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_sdk", ROOT / "scripts" / "gen_sdk.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_rerunning_the_generator_reproduces_the_committed_modules() -> None:
    rendered = _generator().render()
    assert sorted(p.name for p in rendered) == ["_operations.py", "models.py"]
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run python scripts/gen_sdk.py"
        )


def test_the_sdk_imports_nothing_else_from_kindling() -> None:
    """What the import-linter contract checks, and also for modules added later."""
    for path in sorted(SDK_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name == "kindling" or name.startswith("kindling."):
                    assert name.startswith("kindling.sdk"), f"{path.name} imports {name}"
