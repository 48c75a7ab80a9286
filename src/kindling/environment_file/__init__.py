"""Configuration as code: one YAML file describes an environment.

APIs and scopes, applications with pinned client ids and secrets and their
authorizations, users with identities, organizations with members, roles, permissions,
feature flags, properties and webhooks. ``kindling apply FILE`` (a data dir, or a running
server with ``--remote``) and ``kindling serve --seed FILE`` make the server hold what the
file says, in one transaction through the resources' services; ``kindling export`` writes
the same format. The format and its rules: ``docs/configuration-as-code.md``.

* ``source``: YAML to plain values, with the line of every key.
* ``schema``: the whole file validated into a typed ``Document`` (every problem reported).
* ``state``: the server's environment read as a ``Document``.
* ``reconcile``: the diff, applied (or dry-run) in one unit of work, as a ``Plan``.
* ``export``: a ``Document`` back to the file's text.
* ``routes``: ``GET``/``POST /kindling/v1/environment`` for the remote mode.

This package sits beside the composition root (``kindling.bootstrap``): it orchestrates
several resources' services and is used by the CLI, ``serve`` and the web layer.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .export import document_data, dump_yaml, export_data
    from .model import Document
    from .reconcile import ApplyError, Change, Plan, apply_document
    from .schema import validate
    from .source import DocumentError, Problem, Source, parse_yaml

#: Where each name of ``__all__`` is defined. They are imported on first use (PEP 562
#: ``__getattr__``): the server imports ``routes`` at start-up and this package with it,
#: but needs the rest (PyYAML, the schema, the reconciler) only when a file is applied or
#: exported (bench/README.md, "lean start-up").
_HOMES = {
    "document_data": "export",
    "dump_yaml": "export",
    "export_data": "export",
    "Document": "model",
    "ApplyError": "reconcile",
    "Change": "reconcile",
    "Plan": "reconcile",
    "apply_document": "reconcile",
    "validate": "schema",
    "DocumentError": "source",
    "Problem": "source",
    "Source": "source",
    "parse_yaml": "source",
}

__all__ = [
    "ApplyError",
    "Change",
    "Document",
    "DocumentError",
    "Plan",
    "Problem",
    "Source",
    "apply_document",
    "document_data",
    "dump_yaml",
    "export_data",
    "load_file",
    "load_text",
    "parse_yaml",
    "validate",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def load_text(text: str, name: str | None = None) -> tuple[Source, Document]:
    """Parse and validate a file's text; ``DocumentError`` lists every problem."""
    from .schema import validate
    from .source import parse_yaml

    source = parse_yaml(text, name)
    return source, validate(source)


def load_file(path: Path) -> tuple[Source, Document]:
    """Read, parse and validate the file at ``path`` (problems name it as given)."""
    from .source import DocumentError, Problem

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DocumentError([Problem((), "is not UTF-8 text")], str(path)) from None
    return load_text(text, str(path))
