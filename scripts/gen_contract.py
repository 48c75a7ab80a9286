"""Generate kindling's prose-free Kinde Management API contract.

Reads Kinde's published OpenAPI 3.0 spec of the management API
(``kinde-mgmt-api-specs.yaml``, MIT-licensed) and writes two files that are
committed, so a fresh clone does not need the spec:

* ``tests/contract/kinde_contract.json`` -- every operation (method, path,
  first tag, required scope, parameters, request body, 2xx response schemas,
  error status codes) plus ``components.schemas``. All prose (descriptions,
  summaries, examples, titles, ...) is dropped; only machine-checkable schema
  keywords remain. Schema references are rewritten from
  ``#/components/schemas/X`` to ``#/schemas/X`` so that they resolve against
  the contract document itself.
* ``src/kindling/kinde_scopes.py`` -- ``MANAGEMENT_API_SCOPES``, the sorted
  scope strings the operations require.

An operation's scope is its ``x-scope`` value; roughly half of the
operations have none and name their scope only in the description
(``<code>read:applications</code>``), which is used as the fallback. The
output is deterministic: rerunning on the same spec gives identical bytes.

Usage::

    python scripts/gen_contract.py [path/to/kinde-mgmt-api-specs.yaml]

The default spec path is ``../shared/kinde/kinde-mgmt-api-specs.yaml``
relative to the repository root.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "kinde" / "kinde-mgmt-api-specs.yaml"
CONTRACT_PATH = Path("tests") / "contract" / "kinde_contract.json"
SCOPES_PATH = Path("src") / "kindling" / "kinde_scopes.py"

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Annotation keywords removed from every schema object.
PROSE_KEYS = frozenset(
    {
        "description",
        "summary",
        "example",
        "examples",
        "title",
        "externalDocs",
        "x-displayName",
    }
)

# Keywords whose value is a single schema / a list of schemas / a map of
# name -> schema. Everything else in a schema object is kept verbatim.
SCHEMA_VALUED = frozenset({"items", "additionalProperties", "not"})
SCHEMA_LIST_VALUED = frozenset({"allOf", "oneOf", "anyOf"})
SCHEMA_MAP_VALUED = frozenset({"properties"})

# Scopes required by operations that Kinde's official SDKs call but that are
# missing from the spec. They are added to MANAGEMENT_API_SCOPES (not to the
# contract, which mirrors the spec), each with the reason as a comment.
SDK_ONLY_SCOPES: Mapping[str, str] = {
    "create:user_billing_customers": "kinde-python-sdk 2.4.0 only, not in spec",
}

SCHEMA_REF_PREFIX = "#/components/schemas/"
CONTRACT_REF_PREFIX = "#/schemas/"
SCOPE_RE = re.compile(r"^[a-z]+:[a-z_]+$")
CODE_TAG_RE = re.compile(r"<code>\s*([^<\s]+)\s*</code>")


class SpecError(Exception):
    """The spec has a shape this generator does not understand."""


def strip_schema(schema: Any) -> Any:
    """Return a copy of an OpenAPI schema object without prose keywords.

    Property *names* (keys of ``properties``) are never dropped, so a property
    called ``description`` survives while the ``description`` annotation goes.
    ``$ref`` values are rewritten to point into the contract's ``schemas``.
    """
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        raise SpecError(f"schema must be an object, got {schema!r}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in PROSE_KEYS:
            continue
        if key == "$ref":
            out[key] = rewrite_ref(value)
        elif key in SCHEMA_VALUED:
            out[key] = strip_schema(value)
        elif key in SCHEMA_LIST_VALUED:
            out[key] = [strip_schema(item) for item in value]
        elif key in SCHEMA_MAP_VALUED:
            out[key] = {name: strip_schema(sub) for name, sub in value.items()}
        else:
            out[key] = value
    return out


def rewrite_ref(ref: Any) -> str:
    """Map ``#/components/schemas/X`` to ``#/schemas/X``."""
    if not isinstance(ref, str) or not ref.startswith(SCHEMA_REF_PREFIX):
        raise SpecError(f"unsupported schema $ref {ref!r}")
    return CONTRACT_REF_PREFIX + ref[len(SCHEMA_REF_PREFIX) :]


def resolve_component(spec: Mapping[str, Any], obj: Any, kind: str) -> Any:
    """Follow a ``$ref`` to ``#/components/<kind>/<name>`` (one level)."""
    if isinstance(obj, Mapping) and "$ref" in obj:
        prefix = f"#/components/{kind}/"
        ref = obj["$ref"]
        if not isinstance(ref, str) or not ref.startswith(prefix):
            raise SpecError(f"unsupported {kind} $ref {ref!r}")
        try:
            return spec["components"][kind][ref[len(prefix) :]]
        except KeyError:
            raise SpecError(f"dangling $ref {ref!r}") from None
    return obj


def operation_scope(method: str, path: str, op: Mapping[str, Any]) -> str | None:
    """The scope an operation requires: ``x-scope``, else the ``<code>`` tag."""
    raw = op.get("x-scope")
    if raw is not None and not isinstance(raw, str):
        raise SpecError(f"{method} {path}: x-scope is not a string: {raw!r}")
    x_scope: str | None = raw
    described: list[str] = CODE_TAG_RE.findall(str(op.get("description", "")))
    if len(described) > 1:
        raise SpecError(f"{method} {path}: several scopes {described}")
    if x_scope is not None and described and described != [x_scope]:
        raise SpecError(f"{method} {path}: x-scope {x_scope!r} vs {described}")
    scope = x_scope if x_scope is not None else (described[0] if described else None)
    if scope is not None and not SCOPE_RE.match(scope):
        raise SpecError(f"{method} {path}: odd scope {scope!r}")
    return scope


def build_parameters(
    spec: Mapping[str, Any],
    path_level: Sequence[Any],
    op_level: Sequence[Any],
) -> list[dict[str, Any]]:
    """Merge path- and operation-level parameters (operation wins)."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [*path_level, *op_level]:
        param = resolve_component(spec, raw, "parameters")
        merged[(param["name"], param["in"])] = param
    out: list[dict[str, Any]] = []
    for param in merged.values():
        if "schema" not in param:
            raise SpecError(f"parameter {param['name']!r} has no schema")
        entry: dict[str, Any] = {
            "name": param["name"],
            "in": param["in"],
            "required": bool(param.get("required", param["in"] == "path")),
            "schema": strip_schema(param["schema"]),
        }
        for extra in ("style", "explode"):
            if extra in param:
                entry[extra] = param[extra]
        out.append(entry)
    return out


def json_schema_of(content: Mapping[str, Any], where: str) -> Any:
    """The (stripped) schema of the JSON media type(s) of a content map."""
    json_types = [ct for ct in content if ct.split(";")[0].strip() == "application/json"]
    if not json_types:
        raise SpecError(f"{where}: no JSON content type in {list(content)}")
    schemas = [strip_schema(content[ct].get("schema", {})) for ct in json_types]
    if any(s != schemas[0] for s in schemas[1:]):
        raise SpecError(f"{where}: JSON content types disagree on the schema")
    return schemas[0]


def build_request_body(spec: Mapping[str, Any], raw: Any, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    body = resolve_component(spec, raw, "requestBodies")
    content: Mapping[str, Any] = body.get("content", {})
    if len(content) != 1:
        raise SpecError(f"{where}: expected one request content type")
    ((content_type, media),) = content.items()
    schema = media.get("schema")
    return {
        "content_type": content_type,
        "required": bool(body.get("required", False)),
        "schema": None if schema is None else strip_schema(schema),
    }


def build_operation(
    spec: Mapping[str, Any],
    path: str,
    method: str,
    op: Mapping[str, Any],
    path_params: Sequence[Any],
) -> dict[str, Any]:
    where = f"{method.upper()} {path}"
    success: dict[str, Any] = {}
    error_codes: list[int] = []
    for code, raw in op["responses"].items():
        status = int(str(code))
        if 200 <= status < 300:
            response = resolve_component(spec, raw, "responses")
            content = response.get("content")
            success[str(status)] = json_schema_of(content, f"{where} {status}") if content else None
        else:
            error_codes.append(status)
    if not success:
        raise SpecError(f"{where}: no 2xx response")
    tags = op.get("tags") or [None]
    return {
        "operation_id": op["operationId"],
        "method": method.upper(),
        "path": path,
        "tag": tags[0],
        "scope": operation_scope(method.upper(), path, op),
        "parameters": build_parameters(spec, path_params, op.get("parameters", [])),
        "request_body": build_request_body(spec, op.get("requestBody"), where),
        "success": success,
        "error_codes": sorted(error_codes),
    }


def collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            collect_refs(value, found)
    elif isinstance(node, list):
        for item in node:
            collect_refs(item, found)


def build_contract(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Build the contract document (a JSON-able dict) from a parsed spec."""
    method_rank = {m: i for i, m in enumerate(HTTP_METHODS)}
    operations: list[dict[str, Any]] = []
    for path, item in spec["paths"].items():
        path_params = item.get("parameters", [])
        for method, op in item.items():
            if method in method_rank:
                operations.append(build_operation(spec, path, method, op, path_params))
    operations.sort(key=lambda o: (o["path"], method_rank[o["method"].lower()]))
    ids = [o["operation_id"] for o in operations]
    if len(set(ids)) != len(ids):
        raise SpecError("duplicate operationId")

    schemas = {name: strip_schema(schema) for name, schema in spec["components"]["schemas"].items()}
    contract = {
        "source": {
            "title": spec["info"]["title"],
            "version": str(spec["info"]["version"]),
            "operations": len(operations),
        },
        "operations": operations,
        "schemas": schemas,
    }
    refs: set[str] = set()
    collect_refs(contract, refs)
    dangling = sorted(r for r in refs if r[len(CONTRACT_REF_PREFIX) :] not in schemas)
    if dangling:
        raise SpecError(f"dangling schema refs: {dangling}")
    return contract


def spec_scopes(contract: Mapping[str, Any]) -> set[str]:
    return {op["scope"] for op in contract["operations"] if op["scope"] is not None}


def render_contract(contract: Mapping[str, Any]) -> str:
    return json.dumps(contract, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_scopes_module(scopes: set[str]) -> str:
    lines = [
        '"""Scopes of the Kinde Management API.',
        "",
        "Generated by scripts/gen_contract.py from the x-scope values of Kinde's",
        "management API spec (kinde-mgmt-api-specs.yaml; where an operation has",
        "no x-scope, the scope its description names). Do not edit by hand; rerun",
        "the script instead.",
        '"""',
        "",
        "MANAGEMENT_API_SCOPES: tuple[str, ...] = (",
    ]
    for scope in sorted(scopes | set(SDK_ONLY_SCOPES)):
        note = SDK_ONLY_SCOPES.get(scope)
        lines.append(f'    "{scope}",' + (f"  # {note}" if note else ""))
    lines.append(")")
    return "\n".join(lines) + "\n"


def load_spec(spec_path: Path) -> dict[str, Any]:
    with spec_path.open(encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3.0"):
        raise SpecError(f"{spec_path} is not an OpenAPI 3.0 document")
    return spec


def generate(spec_path: Path) -> dict[Path, str]:
    """Return ``{path relative to the repo root: file text}`` for all outputs."""
    contract = build_contract(load_spec(spec_path))
    return {
        CONTRACT_PATH: render_contract(contract),
        SCOPES_PATH: render_scopes_module(spec_scopes(contract)),
    }


def main(argv: Sequence[str]) -> int:
    if len(argv) > 2:
        print(f"usage: {argv[0]} [SPEC.yaml]", file=sys.stderr)
        return 2
    spec_path = Path(argv[1]) if len(argv) == 2 else DEFAULT_SPEC
    if not spec_path.is_file():
        print(f"spec not found: {spec_path}", file=sys.stderr)
        return 1
    for rel, text in generate(spec_path).items():
        target = REPO_ROOT / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
