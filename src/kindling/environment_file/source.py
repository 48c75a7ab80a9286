"""Reading an environment file: YAML (or JSON) to plain values, keeping each key's line.

PyYAML's composer gives the node tree with marks before any Python object exists; this
module walks it once, building plain ``dict``/``list``/scalar values and a map from each
path (``("applications", 0, "client_secret")``) to the 1-based line where it was written
(a mapping key's own line, a list item's first line). Validation then says
``seed.yaml:12: applications[0].client_secret: ...``. Scalars are resolved by PyYAML's
safe constructor (YAML 1.1 core: ``true``, ``12``, ``null``; no Python tags), repeated
mapping keys and merge keys (``<<``) are refused, and nesting is bounded.

A document that came as JSON over HTTP (``POST /kindling/v1/environment``) has no lines:
``Source.from_value`` wraps it, and problems name the path only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError

#: A key path into the document: mapping keys and list indexes.
Path = tuple[str | int, ...]
MAX_DEPTH = 32


def render_path(path: Sequence[str | int]) -> str:
    """``("applications", 0, "client_secret")`` as ``applications[0].client_secret``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where (path, line) and what."""

    path: Path
    message: str
    line: int | None = None

    def render(self, name: str | None) -> str:
        where = f"{name}:{self.line}: " if name and self.line else (f"{name}: " if name else "")
        key = render_path(self.path)
        return f"{where}{key}: {self.message}" if key else f"{where}{self.message}"


class DocumentError(ValidationError):
    """The file breaks rules of its format: every problem found, one per line in the
    order of the file; nothing was written. ``problems`` keeps them structured."""

    def __init__(self, problems: Sequence[Problem], name: str | None) -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        self.name = name
        super().__init__(
            "\n".join(p.render(name) for p in self.problems), Code.INVALID_ENVIRONMENT_FILE
        )


@dataclass
class Source:
    """A parsed document: its plain value and where each path was written."""

    data: Any
    name: str | None = None
    lines: dict[Path, int] = field(default_factory=dict)

    @classmethod
    def from_value(cls, data: Any, name: str | None = None) -> Source:
        return cls(data=data, name=name)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, else of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(path, message, self.line(path))


class _Walker:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []

    def value(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            self.problems.append(
                Problem(path, f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
            )
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(Problem(path, "merge keys (<<) are not supported", line))
                    continue
                key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    self.problems.append(Problem(path, "every key must be a string", line))
                    continue
                if key in result:
                    self.problems.append(Problem(path + (key,), "is given twice", line))
                    continue
                self.lines[path + (key,)] = line
                result[key] = self.value(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[path + (index,)] = item.start_mark.line + 1
                items.append(self.value(item, path + (index,), depth + 1))
            return items
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)


def parse_yaml(text: str, name: str | None = None) -> Source:
    """Parse one YAML document (JSON is YAML too); ``DocumentError`` with the line when it
    is not well-formed, or repeats a key."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            raise DocumentError([Problem((), f"not valid YAML: {message}", line)], name) from None
        except yaml.YAMLError as exc:
            raise DocumentError([Problem((), f"not valid YAML: {exc}", None)], name) from None
        if node is None:
            return Source(data={}, name=name)
        walker = _Walker(loader)
        lines: dict[Path, int] = {(): node.start_mark.line + 1}
        try:
            data = walker.value(node, ())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise DocumentError([Problem((), f"not valid YAML: {exc}", line)], name) from None
        if walker.problems:
            raise DocumentError(walker.problems, name)
        lines.update(walker.lines)
        return Source(data=data, name=name, lines=lines)
    finally:
        loader.dispose()
