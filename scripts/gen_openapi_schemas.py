"""Generate ``src/kindling/web/openapi_schemas.json`` from the committed contract.

The server builds its OpenAPI document (``kindling.web.openapi``) from the
operation registry; request and response schemas come from this file, which
holds schemas only (no prose): every component schema, and per operation
(keyed ``"METHOD /path"`` relative to ``/api/v1``) its parameter schemas, its
request body and its 2xx response schemas. References are rewritten from the
contract's ``#/schemas/X`` to ``#/components/schemas/X``. The server never
reads ``tests/`` at run time; rerun this script when the contract changes::

    python scripts/gen_openapi_schemas.py [--check]

``--check`` exits 1 when the committed file is out of date. Output is
deterministic (sorted keys).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT = REPO_ROOT / "tests" / "contract" / "kinde_contract.json"
OUTPUT = REPO_ROOT / "src" / "kindling" / "web" / "openapi_schemas.json"
API_PREFIX = "/api/v1"
# Annotation keywords never copied (the contract is already prose-free; this keeps it so).
PROSE_KEYS = frozenset({"description", "summary", "example", "examples", "title", "externalDocs"})


def rewrite(node: Any, in_properties: bool = False) -> Any:
    """Copy a schema, pointing ``$ref`` at ``#/components/schemas`` and dropping prose."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not in_properties and key in PROSE_KEYS:
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith("#/schemas/"):
                out[key] = "#/components/schemas/" + value.removeprefix("#/schemas/")
            else:
                out[key] = rewrite(value, in_properties=(key == "properties" and not in_properties))
        return out
    if isinstance(node, list):
        return [rewrite(item) for item in node]
    return node


def build(contract: dict[str, Any]) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for op in contract["operations"]:
        path = op["path"]
        if not path.startswith(API_PREFIX):
            continue
        key = f"{op['method']} {path.removeprefix(API_PREFIX)}"
        entry: dict[str, Any] = {
            "parameters": [
                {
                    "in": p["in"],
                    "name": p["name"],
                    "required": bool(p.get("required", False)),
                    "schema": rewrite(p.get("schema", {"type": "string"})),
                }
                for p in op["parameters"]
            ],
            "responses": {code: rewrite(schema) for code, schema in op["success"].items()},
            "error_codes": sorted(op.get("error_codes", [])),
        }
        body = op.get("request_body")
        if body:
            entry["request_body"] = {
                "content_type": body["content_type"],
                "required": bool(body.get("required", False)),
                "schema": rewrite(body.get("schema", {"type": "object"})),
            }
        operations[key] = entry
    return {
        "schemas": {name: rewrite(schema) for name, schema in contract["schemas"].items()},
        "operations": operations,
    }


def render() -> str:
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    return json.dumps(build(contract), sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO_ROOT)} is out of date: run {Path(__file__).name}")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO_ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
