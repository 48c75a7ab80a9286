"""Generate the typed surface of ``kindling.sdk`` from the committed contract.

Reads ``tests/contract/kinde_contract.json`` and writes two committed modules:

* ``src/kindling/sdk/models.py``: a ``TypedDict`` per contract schema (``User``,
  ``UsersResponse``, ...), per request body (``CreateUserRequest``) and per nested
  inline object (``UsersResponseUsersItem``). Response keys are all optional (Kinde
  leaves out what a record does not have); request keys the contract requires are
  ``Required``.
* ``src/kindling/sdk/_operations.py``: a resource class per tag, sync and async
  (``UsersResource``, ``AsyncUsersResource``), with one method per operation named
  ``snake_case(operation_id)``: path parameters positional (in path order), then the
  JSON body (``body``) or the multipart file fields, then the query parameters as
  keyword-only arguments. List operations that page (``next_token`` or
  ``starting_after``) also get ``iterate_<name>`` (the resource's main listing also as
  ``iterate``). ``SyncResources`` / ``AsyncResources`` attach one instance per tag under
  ``snake_case(tag)``.

The output is formatted as ``ruff format`` would (lines of at most 100, magic trailing
commas) and deterministic, so ``tests/test_sdk_contract.py`` can check that rerunning
this script reproduces the committed files byte for byte::

    python scripts/gen_sdk.py [--check]

``--check`` exits 1 when a committed file is out of date.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT = REPO_ROOT / "tests" / "contract" / "kinde_contract.json"
MODELS_PATH = REPO_ROOT / "src" / "kindling" / "sdk" / "models.py"
OPERATIONS_PATH = REPO_ROOT / "src" / "kindling" / "sdk" / "_operations.py"

LINE = 100
CURSORS = ("next_token", "starting_after", "ending_before")
#: The functions of ``kindling.sdk._base`` the methods call (no parameter may shadow one).
HELPERS = ("file_fields", "path_segment", "query_pairs")

# A word of an identifier: an acronym in the plural ("APIs", "URLs"), a capitalised or
# lower-case word, an acronym (up to the next capitalised word), or digits.
_WORD = re.compile(r"[A-Z]+s(?=[A-Z]|$)|[A-Z]?[a-z]+|[A-Z]+(?=[A-Z][a-z]|[^A-Za-z]|$)|[0-9]+")


def snake_case(name: str) -> str:
    """``getAPIs`` -> ``get_apis``, ``GetUsersMFA`` -> ``get_users_mfa``, ``API Keys`` ->
    ``api_keys``."""
    words: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", name):
        words.extend(word.lower() for word in _WORD.findall(chunk))
    return "_".join(words)


def pascal_case(name: str) -> str:
    return "".join(word.capitalize() for word in snake_case(name).split("_"))


def literal(values: list[Any]) -> str:
    return "Literal[" + ", ".join(json.dumps(v) for v in values) + "]"


# --- models ---------------------------------------------------------------------------


@dataclass
class Typed:
    """A TypedDict to emit."""

    name: str
    doc: str
    fields: list[tuple[str, str, bool]] = field(default_factory=list)  # key, type, required
    request: bool = False


@dataclass
class Alias:
    name: str
    value: list[str]  # the members of a union or the values of a Literal
    kind: str  # "literal" | "union" | "plain"


class Models:
    """The named types of the contract, built on demand."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.typed: dict[str, Typed] = {}
        self.aliases: dict[str, Alias] = {}
        self.order: list[str] = []  # emission order of TypedDicts
        self._objects: dict[str, tuple[str, bool]] = {}
        for name in sorted(schemas):
            self.named(name)

    def _claim(self, name: str) -> str:
        if name in self.typed or name in self.aliases:
            raise SystemExit(f"gen_sdk: two types would be named {name}")
        return name

    def named(self, schema_name: str) -> str:
        """The type of ``#/schemas/<schema_name>``."""
        name = pascal_case(schema_name)
        if name in self.typed or name in self.aliases:
            return name
        schema = self.schemas[schema_name]
        if schema.get("type") == "object" and schema.get("properties"):
            self.object(schema, name, f"The ``{schema_name}`` schema.", request=False)
        else:
            self._claim(name)
            self.aliases[name] = Alias(name, [self.type_of(schema, name, False)], "plain")
        return name

    def object(self, schema: Mapping[str, Any], name: str, doc: str, request: bool) -> str:
        seen = self._objects.get(name)
        if seen is not None and seen == (json.dumps(schema, sort_keys=True), request):
            return name  # the same inline object, met again
        self._claim(name)
        self._objects[name] = (json.dumps(schema, sort_keys=True), request)
        typed = Typed(name, doc, request=request)
        self.typed[name] = typed
        required = set(schema.get("required", [])) if request else set()
        for key in sorted(schema.get("properties", {})):
            sub = schema["properties"][key]
            hint = name + pascal_case(key)
            typed.fields.append((key, self.type_of(sub, hint, request), key in required))
        self.order.append(name)
        return name

    def type_of(self, schema: Mapping[str, Any], hint: str, request: bool) -> str:
        """The annotation of ``schema``; nested objects become TypedDicts named ``hint``."""
        text = self._bare(schema, hint, request)
        if schema.get("nullable") is True and text != "Any":
            text += " | None"
        return text

    def _bare(self, schema: Mapping[str, Any], hint: str, request: bool) -> str:
        if "$ref" in schema:
            return self.named(schema["$ref"].rsplit("/", 1)[1])
        if "allOf" in schema:
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for part in schema["allOf"]:
                while "$ref" in part:
                    part = self.schemas[part["$ref"].rsplit("/", 1)[1]]
                merged["properties"].update(part.get("properties", {}))
                merged["required"].extend(part.get("required", []))
            return self.object(merged, hint, "The merged parts of an ``allOf``.", request)
        if "oneOf" in schema:
            members = [
                self.type_of(option, f"{hint}{index}", request)
                for index, option in enumerate(schema["oneOf"], start=1)
            ]
            return self.union(hint, members)
        if "enum" in schema:
            return self.enum(hint, schema["enum"])
        kind = schema.get("type")
        if kind == "string":
            return "str"
        if kind == "integer":
            return "int"
        if kind == "number":
            return "float"
        if kind == "boolean":
            return "bool"
        if kind == "array":
            items = schema.get("items")
            if not isinstance(items, Mapping):
                return "list[Any]"
            return f"list[{self.type_of(items, hint + 'Item', request)}]"
        if kind == "object":
            if schema.get("properties"):
                return self.object(schema, hint, "A nested object.", request)
            extra = schema.get("additionalProperties")
            if isinstance(extra, Mapping):
                return f"dict[str, {self.type_of(extra, hint + 'Value', request)}]"
            return "dict[str, Any]"
        return "Any"

    def enum(self, hint: str, values: list[Any]) -> str:
        text = literal(values)
        if len(text) <= 60:
            return text
        name = self._claim(hint)
        self.aliases[name] = Alias(name, [json.dumps(v) for v in values], "literal")
        return name

    def union(self, hint: str, members: list[str]) -> str:
        text = " | ".join(members)
        if len(text) <= 60:
            return text
        name = self._claim(hint)
        self.aliases[name] = Alias(name, members, "union")
        return name


def _field_line(key: str, annotation: str, required: bool, request: bool) -> str:
    if request and required:
        annotation = f"Required[{annotation}]"
    line = f"    {key}: {annotation}"
    if len(line) > LINE:
        raise SystemExit(f"gen_sdk: field line too long: {line}")
    return line


def _alias_lines(alias: Alias) -> list[str]:
    if alias.kind == "plain":
        line = f"{alias.name} = {alias.value[0]}"
        if len(line) > LINE:
            raise SystemExit(f"gen_sdk: alias too long: {line}")
        return [line]
    if alias.kind == "literal":
        one = f"{alias.name} = Literal[{', '.join(alias.value)}]"
        if len(one) <= LINE:
            return [one]
        return [f"{alias.name} = Literal[", *[f"    {v}," for v in alias.value], "]"]
    one = f"{alias.name} = {' | '.join(alias.value)}"
    if len(one) <= LINE:
        return [one]
    return [
        f"{alias.name} = (",
        f"    {alias.value[0]}",
        *[f"    | {v}" for v in alias.value[1:]],
        ")",
    ]


MODELS_HEADER = '''"""Typed shapes of the Management API's bodies, generated from the contract.

Generated by ``scripts/gen_sdk.py`` from ``tests/contract/kinde_contract.json``; do not
edit by hand. Responses are ``TypedDict`` classes whose keys are all optional (a record
leaves out what it does not have); request bodies mark the keys Kinde requires.
"""

from __future__ import annotations
'''


def render_models(models: Models) -> str:
    lines = MODELS_HEADER.split("\n")
    body_text = "\n".join(
        _field_line(k, a, r, typed.request)
        for typed in models.typed.values()
        for k, a, r in typed.fields
    ) + "\n".join(line for alias in models.aliases.values() for line in _alias_lines(alias))
    names = ["TypedDict"] + [
        name for name in ("Any", "Literal", "Required") if re.search(rf"\b{name}\b", body_text)
    ]
    lines += ["from typing import " + ", ".join(sorted(names)), ""]
    public = sorted([*models.typed, *models.aliases])
    lines += ["__all__ = ["] + [f'    "{name}",' for name in public] + ["]", ""]
    for name in models.order:
        typed = models.typed[name]
        lines += [
            "",
            f"class {name}(TypedDict, total=False):",
            f'    """{typed.doc}"""',
            "",
        ]
        lines += [_field_line(k, a, r, typed.request) for k, a, r in typed.fields]
        lines.append("")
    lines.append("")
    for name in sorted(models.aliases):
        lines += _alias_lines(models.aliases[name])
    return "\n".join(lines).rstrip("\n") + "\n"


# --- operations -------------------------------------------------------------------------


@dataclass
class Param:
    name: str
    annotation: str
    required: bool


@dataclass
class Op:
    raw: Mapping[str, Any]
    method_name: str
    path_params: list[Param]
    query_params: list[Param]
    body: str | None  # the body's TypedDict
    body_required: bool
    files: list[Param]
    returns: str
    item_key: str | None = None
    item_type: str | None = None
    cursor: str | None = None
    iterate_name: str | None = None


def _param_annotation(models: Models, op_hint: str, param: Mapping[str, Any]) -> str:
    schema = param["schema"]
    name = param["name"]
    if schema.get("type") == "object":
        return "Mapping[str, Sequence[str]]"
    if schema.get("format") == "date-time":
        return "str | datetime"
    if schema.get("type") == "array":
        return "Sequence[str]"
    return models._bare(schema, op_hint + pascal_case(name), False)


def _returns(models: Models, op: Mapping[str, Any]) -> str:
    kinds: list[str] = []
    for code in sorted(op["success"]):
        schema = op["success"][code]
        if schema is None:
            kinds.append("None")
        else:
            kinds.append(
                models.type_of(schema, pascal_case(op["operation_id"]) + "Response", False)
            )
    unique = list(dict.fromkeys(kinds))
    unique.sort(key=lambda t: t == "None")
    return " | ".join(unique)


def _list_key(models: Models, op: Mapping[str, Any], method_name: str) -> tuple[str, str] | None:
    """The array a paging listing's answer holds its items in, and the item type."""
    schema = next((s for s in op["success"].values() if s), None)
    if schema is None:
        return None
    while "$ref" in schema:
        schema = models.schemas[schema["$ref"].rsplit("/", 1)[1]]
    props = schema.get("properties", {})
    arrays = [key for key, sub in sorted(props.items()) if sub.get("type") == "array"]
    if not arrays:
        return None
    if len(arrays) > 1:
        ending = [key for key in arrays if method_name.endswith(key)]
        if len(ending) != 1:
            raise SystemExit(f"gen_sdk: cannot tell the items of {op['operation_id']}")
        arrays = ending
    key = arrays[0]
    owner = schema_name_of(models, op)
    prefix = pascal_case(owner) if owner else pascal_case(op["operation_id"]) + "Response"
    annotation = models.type_of(props[key], prefix + pascal_case(key), False)
    match = re.fullmatch(r"list\[(.+)\]", annotation)
    if not match:
        raise SystemExit(f"gen_sdk: {op['operation_id']}.{key} is not a list")
    return key, match.group(1)


def schema_name_of(models: Models, op: Mapping[str, Any]) -> str | None:
    schema = next((s for s in op["success"].values() if s), None)
    if schema is None or "$ref" not in schema:
        return None
    return str(schema["$ref"].rsplit("/", 1)[1])


def build_ops(models: Models, operations: list[Mapping[str, Any]]) -> dict[str, list[Op]]:
    by_tag: dict[str, list[Op]] = {}
    for raw in operations:
        op_id = raw["operation_id"]
        hint = pascal_case(op_id)
        method_name = snake_case(op_id)
        params = {p["name"]: p for p in raw["parameters"]}
        order = re.findall(r"\{([^}]+)\}", raw["path"])
        path_params = [Param(n, _param_annotation(models, hint, params[n]), True) for n in order]
        query_params = [
            Param(p["name"], _param_annotation(models, hint, p), bool(p["required"]))
            for p in raw["parameters"]
            if p["in"] == "query"
        ]
        for p in [*path_params, *query_params]:
            reserved = ("self", "body", "cast", *HELPERS)
            if not p.name.isidentifier() or keyword.iskeyword(p.name) or p.name in reserved:
                raise SystemExit(f"gen_sdk: {op_id} has a parameter named {p.name!r}")
        body = None
        files: list[Param] = []
        request = raw["request_body"]
        body_required = bool(request and request["required"])
        if request and request["content_type"] == "multipart/form-data":
            schema = request["schema"]
            for key in sorted(schema["properties"]):
                files.append(Param(key, "FileContent", key in schema.get("required", [])))
        elif request:
            body = models.object(
                request["schema"], hint + "Request", f"The body of ``{op_id}``.", request=True
            )
        op = Op(
            raw=raw,
            method_name=method_name,
            path_params=path_params,
            query_params=query_params,
            body=body,
            body_required=body_required,
            files=files,
            returns=_returns(models, raw),
        )
        names = {p.name for p in query_params}
        if raw["method"] == "GET" and names & {"next_token", "starting_after"}:
            found = _list_key(models, raw, method_name)
            if found is not None:
                op.item_key, op.item_type = found
                op.cursor = "next_token" if "next_token" in names else "starting_after"
                op.iterate_name = "iterate_" + re.sub(r"^get_", "", method_name)
        by_tag.setdefault(raw["tag"], []).append(op)
    return by_tag


def _doc(indent: str, first: str, rest: list[str]) -> list[str]:
    """A docstring: one line if it fits, else a summary line, a blank line and the rest."""
    one = f'{indent}"""{first}"""'
    if not rest and len(one) <= LINE:
        return [one]
    head = f'{indent}"""{first}'
    lines = [head, ""]
    if len(head) > LINE:  # a very long path: the docstring starts on the next line
        lines = [f'{indent}"""', f"{indent}{first}", ""]
    lines += [f"{indent}{r}" if r else "" for r in rest]
    lines.append(f'{indent}"""')
    for line in lines:
        if len(line) > LINE:
            raise SystemExit(f"gen_sdk: docstring line too long: {line}")
    return lines


def _op_doc(op: Op) -> list[str]:
    raw = op.raw
    where = f"``{raw['method']} {raw['path']}``"
    kinde = f"Kinde's ``{raw['operation_id']}``"
    scope = f"scope ``{raw['scope']}``" if raw["scope"] else "no scope"
    indent = "        "
    one = f"{where}: {kinde}, {scope}."
    if len(f'{indent}"""{one}"""') <= LINE:
        return _doc(indent, one, [])
    summary = f"{where}: {kinde}."
    if len(f'{indent}"""{summary}') <= LINE:
        return _doc(indent, summary, [scope.capitalize() + "."])
    if len(f"{indent}{kinde}, {scope}.") <= LINE:
        return _doc(indent, where, [f"{kinde}, {scope}."])
    return _doc(indent, where, [f"{kinde}.", f"{scope.capitalize()}."])


def _signature(
    name: str, params: list[str], kwonly: list[str], returns: str, asyn: bool
) -> list[str]:
    head = f"    {'async ' if asyn else ''}def {name}("
    parts = ["self", *params]
    if kwonly:
        parts += ["*", *kwonly]
    one = head + ", ".join(parts) + f") -> {returns}:"
    if len(one) <= LINE and not kwonly:
        return [one]
    lines = [head] + [f"        {p}," for p in parts] + [f"    ) -> {returns}:"]
    for line in lines:
        if len(line) > LINE:
            raise SystemExit(f"gen_sdk: signature line too long: {line}")
    return lines


def _path_expr(path: str) -> str:
    if "{" not in path:
        return json.dumps(path)
    return "f" + json.dumps(re.sub(r"\{([^}]+)\}", r"{path_segment(\1)}", path))


def _arg_annotation(param: Param, default_none: bool) -> str:
    if default_none:
        return f"{param.name}: {param.annotation} | None = None"
    return f"{param.name}: {param.annotation}"


def _query_block(indent: str, params: list[Param], wrap: str | None) -> list[str]:
    """``params=query({...})`` (or a plain dict when ``wrap`` is None)."""
    inner = indent + "    "
    entries = [f'{inner}    "{p.name}": {p.name},' for p in params]
    if wrap is None:
        return [f"{indent}params={{", *[e[4:] for e in entries], f"{indent}}},"]
    return [f"{indent}params={wrap}(", f"{inner}{{", *entries, f"{inner}}}", f"{indent}),"]


def render_method(op: Op, asyn: bool) -> list[str]:
    raw = op.raw
    params = [_arg_annotation(p, False) for p in op.path_params]
    if op.body is not None:
        params.append(f"body: {op.body}" if op.body_required else f"body: {op.body} | None = None")
    for f in op.files:
        params.append(_arg_annotation(f, not f.required))
    kwonly = [_arg_annotation(p, not p.required) for p in op.query_params]
    kwonly.sort(key=lambda text: "=" in text)  # required keywords first, for readability
    lines = _signature(op.method_name, params, kwonly, op.returns, asyn)
    lines += _op_doc(op)
    call: list[str] = [
        f'                "{raw["method"]}",',
        f"                {_path_expr(raw['path'])},",
    ]
    if op.query_params:
        call += _query_block("                ", op.query_params, "query_pairs")
    if op.body is not None:
        call.append("                json=body,")
    if op.files:
        entries = ", ".join(f'"{f.name}": {f.name}' for f in op.files)
        call.append(f"                files=file_fields({{{entries}}}),")
    awaited = "await " if asyn else ""
    if op.returns == "None":
        lines.append(f"        {awaited}self._client.request(")
        lines += [c[4:] for c in call]
        lines.append("        )")
    else:
        lines += [
            "        return cast(",
            f'            "{op.returns}",',
            f"            {awaited}self._client.request(",
            *call,
            "            ),",
            "        )",
        ]
    return lines


def render_iterate(op: Op, asyn: bool) -> list[str]:
    assert op.iterate_name and op.item_type and op.item_key and op.cursor
    iterator = "AsyncIterator" if asyn else "Iterator"
    rest = [p for p in op.query_params if p.name not in (*CURSORS, "page_size")]
    has_size = any(p.name == "page_size" for p in op.query_params)
    params = [_arg_annotation(p, False) for p in op.path_params]
    kwonly = [_arg_annotation(p, not p.required) for p in rest]
    kwonly.sort(key=lambda text: "=" in text)
    if has_size:
        kwonly.append("page_size: int | None = None")
    returns = f"{iterator}[{op.item_type}]"
    lines = _signature(op.iterate_name, params, kwonly, returns, False)
    lines += _doc("        ", f"Every item of ``{op.method_name}``, page after page.", [])
    call = [
        f"                {_path_expr(op.raw['path'])},",
        f'                item_key="{op.item_key}",',
    ]
    if rest:
        call += _query_block("                ", rest, None)
    if has_size:
        call.append("                page_size=page_size,")
    call.append(f'                cursor="{op.cursor}",')
    lines += [
        "        return cast(",
        f'            "{returns}",',
        "            self._client.paginate(",
        *call,
        "            ),",
        "        )",
    ]
    return lines


def _main_listing(attr: str, ops: list[Op]) -> Op | None:
    """The listing that ``iterate`` stands for: the tag's own collection."""
    roots = [op for op in ops if op.iterate_name and not op.path_params]
    named = [op for op in roots if op.item_key == attr]
    if len(named) == 1:
        return named[0]
    return roots[0] if len(roots) == 1 else None


OPS_HEADER = '''"""The Management API's operations as typed methods, one class per tag.

Generated by ``scripts/gen_sdk.py`` from ``tests/contract/kinde_contract.json``; do not
edit by hand. Every method sends one request through the client (``request`` or
``paginate``) and returns its body typed after the contract.
"""

from __future__ import annotations
'''


def render_operations(models: Models, by_tag: dict[str, list[Op]]) -> str:
    resources = sorted((snake_case(tag), tag) for tag in by_tag)
    used: set[str] = set()
    text_blocks: list[str] = []
    attributes: list[tuple[str, str]] = []
    for asyn in (False, True):
        for attr, tag in resources:
            ops = by_tag[tag]
            cls = ("Async" if asyn else "") + pascal_case(tag) + "Resource"
            if not asyn:
                attributes.append((attr, pascal_case(tag) + "Resource"))
            kind = "awaitable " if asyn else ""
            caller = "AsyncCaller" if asyn else "SyncCaller"
            block = [
                "",
                "",
                "",
                f"class {cls}:",
                *_doc("    ", f'Kinde\'s "{tag}" operations as {kind}methods.', [])[:1],
                "",
                f"    def __init__(self, client: {caller}) -> None:",
                "        self._client = client",
            ]
            names: set[str] = set()
            for op in ops:
                block.append("")
                block += render_method(op, asyn)
                names.add(op.method_name)
                if op.iterate_name:
                    block.append("")
                    block += render_iterate(op, asyn)
                    if op.iterate_name in names:
                        raise SystemExit(f"gen_sdk: {cls}.{op.iterate_name} defined twice")
                    names.add(op.iterate_name)
            main = _main_listing(attr, ops)
            if main is not None:
                block += ["", f"    iterate = {main.iterate_name}"]
            text_blocks.append("\n".join(block))
    joined = "".join(text_blocks)
    annotations = "\n".join(
        text
        for ops in by_tag.values()
        for op in ops
        for text in (
            op.returns,
            op.body or "",
            op.item_type or "",
            *(p.annotation for p in [*op.path_params, *op.query_params]),
        )
    )
    for name in [*models.typed, *models.aliases]:
        if re.search(rf"\b{name}\b", annotations):
            used.add(name)

    lines = OPS_HEADER.split("\n")
    std = []
    if "AsyncIterator[" in joined:
        std.append("AsyncIterator")
    if "Iterator[" in joined.replace("AsyncIterator[", ""):
        std.append("Iterator")
    if "Mapping[" in joined:
        std.append("Mapping")
    if "Sequence[" in joined:
        std.append("Sequence")
    lines.append(f"from collections.abc import {', '.join(std)}")
    if "datetime" in joined:
        lines.append("from datetime import datetime")
    typing_names = ["cast"]
    if "Literal[" in joined:
        typing_names.insert(0, "Literal")
    lines += [f"from typing import {', '.join(typing_names)}", ""]
    base = ["AsyncCaller", "FileContent", "SyncCaller", *HELPERS]
    base = [b for b in base if re.search(rf"\b{b}\b", joined)]
    one = "from kindling.sdk._base import " + ", ".join(base)
    if len(one) <= LINE:
        lines.append(one)
    else:
        lines += ["from kindling.sdk._base import ("] + [f"    {b}," for b in base] + [")"]
    lines.append("from kindling.sdk.models import (")
    lines += [f"    {name}," for name in sorted(used, key=lambda n: (n.lower(), n))]
    lines.append(")")
    exported = [
        *(pascal_case(tag) + "Resource" for _, tag in resources),
        *("Async" + pascal_case(tag) + "Resource" for _, tag in resources),
        "AsyncResources",
        "SyncResources",
    ]
    lines += ["", "__all__ = ["] + [f'    "{n}",' for n in sorted(exported)] + ["]"]
    out = "\n".join(lines) + joined
    for asyn in (False, True):
        prefix = "Async" if asyn else ""
        caller = "AsyncCaller" if asyn else "SyncCaller"
        kind = "async " if asyn else ""
        out = out.rstrip("\n") + "\n\n\nclass " + (prefix or "Sync") + "Resources:\n"
        out += f'    """The resources of the {kind}client, one attribute per tag."""\n\n'
        for attr, cls in attributes:
            out += f"    {attr}: {prefix}{cls}\n"
        out += f"\n    def __init__(self, client: {caller}) -> None:\n"
        for attr, cls in attributes:
            out += f"        self.{attr} = {prefix}{cls}(client)\n"
    return out


def render() -> dict[Path, str]:
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    models = Models(contract["schemas"])
    by_tag = build_ops(models, contract["operations"])
    operations = render_operations(models, by_tag)
    return {MODELS_PATH: render_models(models), OPERATIONS_PATH: operations}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in render().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    if stale:
        for path in stale:
            print(f"{path.relative_to(REPO_ROOT)} is out of date: run scripts/gen_sdk.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
