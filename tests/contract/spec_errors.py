"""The error body each operation of Kinde's spec declares for an error status.

The committed contract (``kinde_contract.json``) keeps every operation's error *statuses*
(``Operation.error_codes``) but not their schemas, and the spec's 404 body differs between
operations: most use the shared ``not_found`` response (``not_found_response``, where
``errors`` is an object), a few declare ``error_response`` (``errors`` is a list). This
reads the schema names straight from the spec YAML, the file ``scripts/gen_contract.py``
reads (absent in a fresh clone: callers skip then, like ``tests/test_contract_file.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where ``scripts/gen_contract.py`` reads the spec from by default.
SPEC_FILE = REPO_ROOT.parent / "shared" / "kinde" / "kinde-mgmt-api-specs.yaml"
_METHODS = ("get", "put", "post", "delete", "patch")


def _resolve(document: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to the object it names."""
    while "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _schema_name(document: Mapping[str, Any], response: Mapping[str, Any]) -> str | None:
    """The ``components.schemas`` name of a response's JSON body, or None if it has none."""
    content = _resolve(document, response).get("content") or {}
    for media, body in content.items():
        if str(media).startswith("application/json"):
            ref = (body.get("schema") or {}).get("$ref")
            if isinstance(ref, str):
                return ref.rpartition("/")[2]
    return None


@functools.cache
def _load(spec: Path) -> Mapping[str, Any]:
    with spec.open(encoding="utf-8") as fh:
        document: Mapping[str, Any] = yaml.safe_load(fh)
    return document


def error_bodies(status: int, spec: Path = SPEC_FILE) -> dict[tuple[str, str], str | None]:
    """``(METHOD, /api/v1/path) -> schema name`` of every operation declaring ``status``
    (None when that response has no JSON schema)."""
    document = _load(spec)
    found: dict[tuple[str, str], str | None] = {}
    for path, item in document["paths"].items():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping):
                continue
            responses = operation.get("responses") or {}
            response = responses.get(str(status), responses.get(status))
            if response is not None:
                found[(method.upper(), str(path))] = _schema_name(document, response)
    return found
