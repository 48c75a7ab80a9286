"""Spec-driven conformance: every operation of Kinde's Management API contract, walked.

For each of the contract's operations (``tests/contract/contract.py``) Kindling implements
it when ``kindling.web.app.management_operations()`` has the same method and path.
Whatever is implemented at the moment the suite runs is checked; nothing here lists the
implemented operations by hand, so operations that land later are picked up automatically.

* declarations (no server): operationId, scope, exact 2xx, JSON body flag, whether the 2xx
  has a response body, query parameters (names and required) and tag equal the contract's;
* (a) route: with no ``Authorization`` header the answer is 401 ``error_response`` (not 404
  ``ROUTE_NOT_FOUND``, not 405), on both engines;
* (b) scope: a token holding every Management API scope except the operation's gets 403
  ``INSUFFICIENT_SCOPE``;
* (c) valid call, for the checked tags (``CHECKED_TAGS``): a request built by ``BUILDERS``
  (keyed by operationId; prerequisites are created over HTTP, and checked the same way)
  answers the spec's exact 2xx with a body that validates against the spec's schema (and
  no body, without a JSON content type, where the spec's 2xx declares none). An
  implemented operation without a builder fails, so gaps are visible.

The builders live one module per registered resource, ``tests/conformance/<name>.py``
(named like ``kindling/resources/<name>/``), and are loaded here from the resource
registry (``kindling.context.REGISTRY``); the shared machinery (``Req``, ``World``, the
``builder`` decorator, the summary plugin) is ``tests/conformance/framework.py``. A
resource that declares operations but has no module stops the walk at collection, naming
the missing module.

At the end of the session a summary (``implemented N/183`` and the per-check results) is
written to the terminal by a small plugin this module registers.

Servers are shared by the whole session: every name, key and email is unique (uuid).
MFA factors and sessions cannot be created through the API (no user sign-in), so they are
seeded straight into the server's database with portable SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kindling.context import REGISTRY
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.registry import Resource
from kindling.web.app import management_operations
from tests.conformance.framework import (
    BASE,
    CHECKED_TAGS,
    CONTRACT,
    IMPLEMENTED,
    KINDLING,
    ConformanceLayoutError,
    Req,
    World,
    assert_error_body,
    declared_operations,
    fail_text,
    load_builders,
    logo_files,
    module_path,
    uid,
)
from tests.contract.contract import Operation
from tests.support import KindlingServer

CHECKED: list[Operation] = [op for op in IMPLEMENTED if op.tag in CHECKED_TAGS]
SCOPED: list[Operation] = [op for op in IMPLEMENTED if op.scope is not None]

#: The valid-call builders of every registered resource, keyed by operationId.
BUILDERS = load_builders(REGISTRY.resources)
#: operationId -> the registered resource whose routers declare it.
OWNER = {op_id: r.name for r in REGISTRY.resources for op_id in declared_operations(r)}


def _op_id(op: Operation) -> str:
    return op.operation_id


def _builder_home(op_id: str) -> str:
    owner = OWNER.get(op_id)
    return module_path(owner) if owner else "no registered resource declares it"


@pytest.fixture(scope="session")
def world(server: KindlingServer) -> Iterator[World]:
    w = World(server)
    yield w
    w.close()


# --- dummy requests for the route and scope checks --------------------------------


def _dummy(op: Operation) -> Req:
    """A request that reaches ``op``'s route: path parameters and required query
    parameters filled with placeholders, a small JSON body (or a file) when it takes one."""
    path = op.path.removeprefix(BASE)
    params: dict[str, Any] = {}
    for p in op.parameters:
        name = str(p["name"])
        if p.get("in") == "path":
            enum = (p.get("schema") or {}).get("enum")
            value = enum[0] if enum else f"conf-{name}-0"
            path = path.replace("{" + name + "}", str(value))
        elif p.get("in") == "query" and p.get("required"):
            params[name] = "x"
    req = Req(path, params=params or None)
    body = op.request_body
    if body is not None:
        if str(body.get("content_type", "")).startswith("multipart/"):
            req.files = logo_files()
        else:
            req.json = {"name": f"conf-{uid()}"}
    return req


# --- the tests ---------------------------------------------------------------------


def test_every_kindling_operation_is_in_the_contract() -> None:
    """Every Management API route Kindling serves is one of the spec's operations."""
    known = {(op.method, op.path) for op in CONTRACT.operations}
    extra = sorted(f"{m} {p}" for (m, p) in KINDLING if (m, p) not in known)
    assert not extra, f"routes that are not in Kinde's spec: {extra}"
    assert len(KINDLING) == len(management_operations()), "a route is declared twice"


def test_builders_cover_every_operation_of_the_checked_tags() -> None:
    """The builder table has an entry for every operation of the checked tags, implemented
    or not, so an operation that lands later is exercised at once."""
    wanted = {op.operation_id for op in CONTRACT.operations if op.tag in CHECKED_TAGS}
    missing = sorted(wanted - set(BUILDERS))
    assert not missing, "operations without a request builder: " + ", ".join(
        f"{op_id} ({_builder_home(op_id)})" for op_id in missing
    )


def _registered(name: str) -> Resource:
    return next(r for r in REGISTRY.resources if r.name == name)


def test_a_resource_with_operations_but_no_module_fails_the_walk() -> None:
    """A registered resource that declares operations needs tests/conformance/<name>.py:
    without it the walk refuses to load (naming it) instead of skipping its operations."""
    widgets = replace(_registered("permissions"), name="widgets")
    with pytest.raises(ConformanceLayoutError) as raised:
        load_builders([widgets])
    assert "resource 'widgets'" in str(raised.value), raised.value
    assert "tests/conformance/widgets.py" in str(raised.value), raised.value
    assert "GetPermissions" in str(raised.value), raised.value


def test_a_resource_without_operations_needs_no_module() -> None:
    """A resource with no Management API operations (like ``admin``) needs no module."""
    assert load_builders([Resource(name="gadgets")]) == {}
    assert load_builders([_registered("admin")]) == {}


def test_a_module_builds_only_its_resources_operations() -> None:
    """A builder must live in the module of the resource that declares its operation:
    ``users`` registered with the permissions routers finds users.py building others'."""
    users = replace(_registered("users"), routers=_registered("permissions").routers)
    with pytest.raises(ConformanceLayoutError) as raised:
        load_builders([users])
    assert "tests/conformance/users.py builds getUsers," in str(raised.value), raised.value


@pytest.mark.parametrize("op", IMPLEMENTED, ids=_op_id)
def test_declaration_matches_contract(op: Operation) -> None:
    """operationId, scope, exact 2xx, JSON body, response body, query parameters and tag are
    the spec's."""
    ours = KINDLING[(op.method, op.path)]
    problems = []
    if ours.operation_id != op.operation_id:
        problems.append(f"operation_id {ours.operation_id!r} != {op.operation_id!r}")
    if ours.scope != op.scope:
        problems.append(f"scope {ours.scope!r} != {op.scope!r}")
    if ours.status not in op.success_codes:
        problems.append(f"status {ours.status} not in {op.success_codes}")
    if ours.body != (op.request_body is not None):
        problems.append(
            f"body={ours.body} but the spec {'has' if op.request_body else 'has no'} body"
        )
    answers_nothing = op.success.get(str(ours.status)) is None
    if ours.no_body != answers_nothing:
        problems.append(
            f"no_body={ours.no_body} but the spec's {ours.status} "
            f"{'has no' if answers_nothing else 'has a'} response body"
        )
    spec_query = {
        str(p["name"]): bool(p.get("required")) for p in op.parameters if p["in"] == "query"
    }
    our_query = {p.name: p.required for p in ours.query}
    # Every spec parameter is declared with the spec's required flag; extra (Kindling)
    # parameters are tolerated when optional.
    wrong = [k for k, required in spec_query.items() if our_query.get(k) != required]
    wrong += [k for k, required in our_query.items() if k not in spec_query and required]
    if wrong:
        problems.append(f"query params {our_query} do not match the spec's {spec_query}")
    if ours.tag != op.tag:
        problems.append(f"tag {ours.tag!r} != {op.tag!r}")
    assert not problems, f"{op}: " + "; ".join(problems)


@pytest.mark.parametrize("op", IMPLEMENTED, ids=_op_id)
def test_route_requires_authentication(world: World, op: Operation) -> None:
    """(a) The route exists: without a token the answer is 401, not 404/405.

    An operation without a scope in the spec (``verifyApiKey``) takes no bearer token; for
    it only the route is checked."""
    req = _dummy(op)
    resp = world.send(op, req, token=None)
    assert resp.status_code not in (404, 405), fail_text(op, req.path, resp)
    if op.scope is None:
        return
    assert_error_body(resp, 401)
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), resp.headers


@pytest.mark.parametrize("op", SCOPED, ids=_op_id)
def test_scope_is_enforced(world: World, op: Operation) -> None:
    """(b) A token with every Management API scope except the operation's gets 403."""
    assert op.scope in MANAGEMENT_API_SCOPES, op.scope
    req = _dummy(op)
    resp = world.send(op, req, token=world.token_without(str(op.scope)))
    assert resp.status_code == 403, fail_text(op, req.path, resp)
    assert_error_body(resp, 403, "INSUFFICIENT_SCOPE")
    assert f'scope="{op.scope}"' in resp.headers.get("www-authenticate", ""), resp.headers


@pytest.mark.parametrize("op", CHECKED, ids=_op_id)
def test_valid_call_matches_contract(world: World, op: Operation) -> None:
    """(c) A valid call answers the spec's exact 2xx with a contract-valid body."""
    build = BUILDERS.get(op.operation_id)
    if build is None:
        pytest.fail(
            f"{op} is implemented but has no request builder in {_builder_home(op.operation_id)}"
        )
    req = build(world)
    world.expect_success(op, req, world.send(op, req))
