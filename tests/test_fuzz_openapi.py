"""Schemathesis fuzzing of every Management API operation against our own OpenAPI document.

The target is a real ``kindling serve`` subprocess on a fresh SQLite data directory
(uvicorn with its real HTTP parser, the request pipeline with its default rate limits,
worker threads), the document is the one it serves at ``GET /api/openapi.json``
(generated from the operation declarations, so a resource that registers is fuzzed from
then on), and every request carries a real Management API token with all scopes from
the bootstrap application. Measured on the 2-core machine, the subprocess answers
about as many cases a second as the application called in process through
Starlette's test client (≈122/s against ≈131/s), and it is the server users run, so the
subprocess it is.

Each operation gets three seeded Hypothesis runs, the same cases on every run:

* positive data: parameters and bodies valid against the declared schemas;
* positive data near a valid call: the path parameters, the required query parameters
  naming a resource (``DELETE /user?id=``) and the JSON body of the conformance walk's
  valid call (``tests/conformance/<resource>.py``), with a drawn subset of the body's
  fields generated, so bodies and filters are fuzzed against a role, an organization or
  a user that exists, past the first validation, instead of answering 404 or 400 first;
* negative data: each case breaks the schema somewhere (a wrong type, a missing required
  field, a value outside an enum or a bound).

Every response must be no 5xx, have a status the operation declares, the declared
content type, and a body valid against the declared schema for that status (Kinde's
``error_response`` or ``not_found_response`` for errors). Failures are collected, not
shrunk, so one run reports all of them with a ``curl`` line that reproduces each; the
server's own log must hold no traceback. ``KINDLING_FUZZ_SCALE`` (default 1) multiplies
the examples per operation for a longer local run.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kindling.context import REGISTRY
from tests.conformance.framework import World, load_builders
from tests.support import KindlingServer, free_port

#: The Hypothesis seed of every run: the same cases on every CI run.
SEED = 20_251_201
SCALE = max(1, int(os.environ.get("KINDLING_FUZZ_SCALE", "1")))
#: Examples per operation and kind of data. An operation without a valid call to start
#: from gets that share as more plain positive data.
POSITIVE = 25 * SCALE
FROM_VALID_CALL = 25 * SCALE
NEGATIVE = 25 * SCALE
#: The least number of cases one run must send (all operations together).
MIN_CASES = 10_000
#: The operations are fuzzed in this many tests (every SHARDS-th operation each), so that
#: the suite's processes share the work; each shard sends its share of MIN_CASES.
SHARDS = 3
KINDS = ("positive", "near a valid call", "negative")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Query parameters a valid call uses to name the resource it acts on.
_NAMING_QUERY = re.compile(r"^(id|code|user_id|org_code|organization_code|key)$")


@dataclass
class Finding:
    """One distinct failure: an operation, a check and a status; the first case that hit it."""

    operation: str
    title: str
    status: int | str
    detail: str
    reproduce: str
    count: int = 1


@dataclass
class Tally:
    """What the run sent and saw."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    by_kind: Counter[tuple[str, int]] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    findings: dict[tuple[str, str, int | str], Finding] = field(default_factory=dict)
    no_valid_call: dict[str, str] = field(default_factory=dict)
    nothing_invalid: list[str] = field(default_factory=list)

    def record(self, label: str, kind: str, status: int) -> None:
        self.cases[label] += 1
        self.statuses[label][status] += 1
        self.by_kind[(kind, status)] += 1

    def fail(self, finding: Finding) -> None:
        key = (finding.operation, finding.title, finding.status)
        if key in self.findings:
            self.findings[key].count += 1
        else:
            self.findings[key] = finding


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    """A fresh ``kindling serve`` on SQLite, only for the fuzzer (it writes a lot)."""
    server = KindlingServer(data_dir=tmp_path_factory.mktemp("fuzz"), port=free_port())
    server.start()
    yield server
    server.stop()


def _path_values(template: str, path: str) -> dict[str, str] | None:
    """The path parameters of ``path`` (under ``/api/v1``) for ``template``."""
    parts = re.split(r"\{([^}]+)\}", template)
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    found = re.fullmatch(pattern, path)
    if found is None:
        return None
    return {name: unquote(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class ValidCall:
    """What the conformance walk's valid call of one operation sends."""

    path: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] | None


def _valid_calls(world: World, operations: list[Any], tally: Tally) -> dict[str, ValidCall]:
    """Per operation label: the identifiers and JSON body of its conformance valid call.

    The builder (``tests/conformance/<resource>.py``) creates what the call needs, so its
    path parameters and the required query parameters naming a resource exist. A builder
    that cannot set up its resource is noted in the summary (the conformance walk is where
    that fails); that operation is still fuzzed with generated data.
    """
    builders = load_builders(REGISTRY.resources)
    calls: dict[str, ValidCall] = {}
    for op in operations:
        op_id = str(op.definition.raw.get("operationId", ""))
        build = builders.get(op_id)
        if build is None:
            tally.no_valid_call[op.label] = "no conformance builder"
            continue
        try:
            req = build(world)
        except (AssertionError, pytest.fail.Exception, requests.RequestException) as exc:
            tally.no_valid_call[op.label] = f"builder failed: {str(exc).splitlines()[0][:160]}"
            continue
        path = _path_values(op.path.removeprefix("/api/v1"), req.path.split("?")[0])
        if path is None:
            tally.no_valid_call[op.label] = f"builder path {req.path} does not match"
            continue
        required = {p.name for p in op.query if p.is_required}
        query = {
            name: str(value)
            for name, value in (req.params or {}).items()
            if name in required and _NAMING_QUERY.match(name)
        }
        body = req.json if isinstance(req.json, dict) and req.json else None
        if path or query or body:
            calls[op.label] = ValidCall(path, query, body)
    return calls


def _negatable(op: Any) -> bool:
    """Whether schemathesis can make a request of ``op`` that breaks its schema: a body, a
    query parameter, or a path parameter that is more than any string. (The token is
    always the real one, so an operation with only plain string path parameters has
    nothing to break; asking for it anyway costs seconds before Hypothesis gives up.)"""
    raw = op.definition.raw
    if "requestBody" in raw:
        return True
    for param in raw.get("parameters", []):
        if param.get("in") == "query":
            return True
        schema = param.get("schema", {})
        if set(schema) - {"type", "nullable"} or schema.get("type") != "string":
            return True
    return False


def _fuzz(
    op: Any,
    strategy: Any,
    examples: int,
    kind: str,
    session: requests.Session,
    tally: Tally,
    valid_body: dict[str, Any] | None = None,
) -> None:
    """Send ``examples`` seeded cases of ``strategy`` and check each response.

    With ``valid_body``, each case's JSON body is that valid body with a drawn subset of
    its fields replaced by the generated ones: mostly valid input that gets past the
    first check and reaches the deeper ones.
    """
    started = time.monotonic()
    auth = {"Authorization": str(session.headers["Authorization"])}

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.seed(SEED)
    @hypothesis.given(case=strategy, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if valid_body is not None and isinstance(case.body, dict):
            fuzzed = data.draw(
                st.sets(st.sampled_from(sorted(case.body))) if case.body else st.just(set())
            )
            case.body = {**valid_body, **{name: case.body[name] for name in fuzzed}}
        try:
            response = case.call(session=session, headers=auth, timeout=30)
        except requests.RequestException as exc:
            tally.fail(
                Finding(
                    op.label,
                    "no response",
                    type(exc).__name__,
                    str(exc)[:300],
                    case.as_curl_command(),
                )
            )
            return
        tally.record(op.label, kind, response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
            for failure in failures:
                tally.fail(
                    Finding(
                        operation=op.label,
                        title=f"{failure.code} {failure.title}",
                        status=response.status_code,
                        detail=f"{failure.message[:600]}\n  body: {response.text[:400]}",
                        reproduce=case.as_curl_command(),
                    )
                )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # ``_negatable`` was wrong: nothing of the operation can be made invalid.
        tally.nothing_invalid.append(op.label)
    tally.seconds[kind] += time.monotonic() - started


def _summary(tally: Tally, seconds: float, operations: int) -> str:
    total = sum(tally.cases.values())
    lines = [
        "",
        f"OpenAPI fuzzing (schemathesis {schemathesis.__version__}, seed {SEED}): "
        f"{total} cases over {operations} operations in {seconds:.0f}s "
        f"({total / max(seconds, 0.001):.0f}/s)",
    ]
    statuses: Counter[int] = Counter()
    for seen in tally.statuses.values():
        statuses.update(seen)
    lines.append("  statuses: " + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items())))
    for kind in KINDS:
        of_kind = {s: n for (k, s), n in tally.by_kind.items() if k == kind}
        lines.append(
            f"  {kind}: {sum(of_kind.values())} cases in {tally.seconds[kind]:.0f}s; "
            + ", ".join(f"{s}×{n}" for s, n in sorted(of_kind.items()))
        )
    lines.append("  per operation (cases: statuses):")
    for label in sorted(tally.cases, key=lambda lb: (lb.split(" ", 1)[1], lb)):
        seen_op = ", ".join(f"{s}×{n}" for s, n in sorted(tally.statuses[label].items()))
        lines.append(f"    {label}  {tally.cases[label]}: {seen_op}")
    for label, why in sorted(tally.no_valid_call.items()):
        lines.append(f"  no valid call to start from: {label}: {why}")
    if tally.nothing_invalid:
        lines.append(
            f"  nothing to make invalid ({len(tally.nothing_invalid)} operations; their share"
            " is positive data): " + ", ".join(tally.nothing_invalid)
        )
    return "\n".join(lines)


def _report(findings: list[Finding]) -> str:
    parts = [f"{len(findings)} distinct failures:"]
    for f in findings:
        parts.append(
            f"- {f.operation}: {f.title} (status {f.status}, {f.count} cases)\n"
            f"  {f.detail}\n  reproduce: {f.reproduce}"
        )
    return "\n".join(parts)


@pytest.mark.long(40)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_survives_fuzzing(
    shard: int, fuzz_server: KindlingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """≥ 10,000 positive and negative cases over all shards: no 5xx, and every response
    as documented. Each shard checks every operation is in the document, then fuzzes
    every ``SHARDS``-th one (in the document's order)."""
    token = fuzz_server.token()
    schema = schemathesis.openapi.from_url(fuzz_server.base_url + "/api/openapi.json")
    # Every case carries the real token (below), not generated Authorization values.
    schema.config.generation.update(with_security_parameters=False)
    operations = []
    for result in schema.get_all_operations():
        # An operation schemathesis cannot read is an error of our document.
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    registered = {f"{op.method} /api/v1{op.path}" for op in REGISTRY.operations()}
    assert {op.label for op in operations} == registered

    everything = len(operations)
    operations = operations[shard::SHARDS]
    tally = Tally()
    world = World(fuzz_server)
    try:
        valid = _valid_calls(world, operations, tally)
    finally:
        world.close()

    started = time.monotonic()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for op in operations:
            call = valid.get(op.label)
            invalid = NEGATIVE if _negatable(op) else 0
            positive = POSITIVE + (NEGATIVE - invalid) + (0 if call else FROM_VALID_CALL)
            _fuzz(op, op.as_strategy(GenerationMode.POSITIVE), positive, KINDS[0], session, tally)
            if call:
                near = op.as_strategy(
                    GenerationMode.POSITIVE,
                    path_parameters=call.path or None,
                    query=call.query or None,
                )
                _fuzz(op, near, FROM_VALID_CALL, KINDS[1], session, tally, call.body)
            if invalid:
                negative = op.as_strategy(GenerationMode.NEGATIVE)
                _fuzz(op, negative, invalid, KINDS[2], session, tally)
            else:
                tally.nothing_invalid.append(op.label)
    seconds = time.monotonic() - started

    with capsys.disabled():
        print(_summary(tally, seconds, len(operations)))
    findings = sorted(tally.findings.values(), key=lambda f: (f.operation, f.title))
    assert not findings, _report(findings)
    assert fuzz_server.process is not None and fuzz_server.process.poll() is None
    assert "Traceback" not in fuzz_server.output, fuzz_server.output[-4000:]
    # This shard's share of MIN_CASES, so that all shards together send at least that.
    assert sum(tally.cases.values()) * everything >= MIN_CASES * len(operations)


def test_path_values_reads_a_builders_path() -> None:
    """The helper that lifts a valid call's identifiers out of its path."""
    assert _path_values(
        "/roles/{role_id}/permissions/{permission_id}", "/roles/r1/permissions/p%2F2"
    ) == {
        "role_id": "r1",
        "permission_id": "p/2",
    }
    assert _path_values("/roles/{role_id}", "/roles/r1/permissions") is None
    assert _path_values("/users", "/users") == {}
