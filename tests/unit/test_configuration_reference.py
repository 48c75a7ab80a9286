"""``docs/configuration.md`` lists every setting, so the reference cannot drift from the code.

It fails when a ``KINDLING_*`` name that appears anywhere in ``src/kindling`` (code,
docstrings, templates), an environment variable the source reads by name, a variable a CLI
option reads (click's ``envvar=``), or an option of ``kindling serve`` is missing from the
reference's tables, and when a default written there differs from the code's: ``serve``'s
click defaults and what ``Settings.from_env`` yields with no ``KINDLING_*`` variable set.
"""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import click
import pytest

from kindling.cli.main import cli, serve
from kindling.config import Settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"
SOURCE = ROOT / "src" / "kindling"
#: ``KINDLING_X``, and ``_KINDLING_X`` (click's completion variable) as a whole.
KINDLING_NAME = re.compile(r"(?<![A-Za-z0-9_])_?KINDLING_[A-Z0-9_]+")
#: ``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``, ``env.get("X")`` ...
ENV_READ = re.compile(
    r"""(?:environ|getenv|\benv)(?:\.get|\.pop|\.setdefault)?\s*[(\[]\s*["']([A-Z][A-Z0-9_]*)["']"""
)
CODE = re.compile(r"`([^`]+)`")


class Row:
    """One row of a reference table: options, variables and the default cell."""

    def __init__(self, cells: list[str]) -> None:
        self.options = {
            token.strip() for code in CODE.findall(cells[0]) for token in code.split("/")
        }
        self.variables = set(CODE.findall(cells[1]))
        self.default = cells[2]
        self.defaults = CODE.findall(cells[2])


def rows() -> list[Row]:
    found = []
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "Option" or (cells[0] and set(cells[0]) <= {"-", " "}):
            continue
        assert len(cells) == 4, f"a reference row needs 4 cells: {line}"
        found.append(Row(cells))
    assert found
    return found


def documented_variables() -> set[str]:
    return {name for row in rows() for name in row.variables}


def source_files() -> list[Path]:
    return [
        path
        for path in sorted(SOURCE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # images, fonts
        return ""


def kindling_names() -> set[str]:
    """Every whole ``KINDLING_*`` name in the source (``KINDLING_DB_*`` is a family, not a name)."""
    return {
        name
        for path in source_files()
        for name in KINDLING_NAME.findall(_text(path))
        if not name.endswith("_")
    }


def commands(group: click.Command) -> list[click.Command]:
    found = [group]
    if isinstance(group, click.Group):
        for command in group.commands.values():
            found.extend(commands(command))
    return found


def test_the_source_names_settings_the_check_can_see() -> None:
    """The scan works: it finds names the code surely reads."""
    names = kindling_names()
    assert {"KINDLING_DATA_DIR", "KINDLING_DATABASE_URL", "KINDLING_MASTER_KEY"} <= names
    assert "PGOPTIONS" in {m for p in source_files() for m in ENV_READ.findall(_text(p))}


def test_every_kindling_variable_in_the_source_is_documented() -> None:
    missing = sorted(kindling_names() - documented_variables())
    assert not missing, f"add these to docs/configuration.md: {missing}"


def test_every_environment_variable_read_by_name_is_documented() -> None:
    read = {
        name
        for path in source_files()
        if path.suffix == ".py"
        for name in ENV_READ.findall(_text(path))
    }
    missing = sorted(read - documented_variables())
    assert not missing, f"add these to docs/configuration.md: {missing}"


def test_every_cli_envvar_is_documented() -> None:
    documented = documented_variables()
    missing: set[str] = set()
    for command in commands(cli):
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names = [envvar] if isinstance(envvar, str) else list(envvar or [])
            missing.update(name for name in names if name not in documented)
    assert not missing, f"add these to docs/configuration.md: {sorted(missing)}"


def _serve_options() -> list[click.Option]:
    return [p for p in serve.params if isinstance(p, click.Option)]


@pytest.mark.parametrize("option", _serve_options(), ids=lambda o: o.opts[0])
def test_every_serve_option_is_documented_with_its_variable_and_default(
    option: click.Option,
) -> None:
    flags = [*option.opts, *option.secondary_opts]
    matching = [row for row in rows() if set(flags) & row.options]
    assert len(matching) == 1, f"docs/configuration.md needs one row for {flags}"
    row = matching[0]
    assert set(flags) <= row.options, f"the row of {flags[0]} names only {row.options}"
    if isinstance(option.envvar, str):
        assert option.envvar in row.variables, f"the row of {flags[0]} lacks {option.envvar}"
    # click 8.2+ answers an option without a default with a sentinel, not None.
    default = option.get_default(click.Context(serve), call=False)
    if isinstance(default, bool):
        assert ("on" if default else "off") in row.default.split(), (flags[0], row.default)
    elif isinstance(default, str | int | float):
        assert str(default) in row.defaults, (flags[0], row.default)


def _matches(value: object, tokens: list[str]) -> bool:
    for token in tokens:
        if isinstance(value, bool):
            if token == ("on" if value else "off"):
                return True
        elif isinstance(value, Path):
            if Path(token) == value:
                return True
        elif isinstance(value, int | float):
            try:
                if float(token) == float(value):
                    return True
            except ValueError:
                continue
        elif token == str(value):
            return True
    return False


def test_variable_defaults_match_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``KINDLING_X_Y`` row whose ``Settings`` field is ``x_y`` shows that field's default."""
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    settings = Settings.from_env()
    field_names = {f.name for f in fields(Settings)}
    checked = 0
    for row in rows():
        for name in row.variables:
            field = name.removeprefix("KINDLING_").lower()
            if not name.startswith("KINDLING_") or field not in field_names:
                continue
            value = getattr(settings, field)
            if value is None:
                continue
            assert _matches(value, row.defaults), (
                f"{name}: the code says {value!r}, the row {row.default!r}"
            )
            checked += 1
    assert checked >= 20


def test_the_readme_links_the_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/configuration.md)" in readme
