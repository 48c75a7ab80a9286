"""``kindling db copy --from URL --to URL [--force]``: move an environment between databases.

SQLite to PostgreSQL, PostgreSQL to SQLite (or either to its own kind), every table, in one
transaction on the target, verified by row counts and content digests before it commits
(``kindling.platform.dbcopy``). The source is only read; stop the servers that write to it
first if the copy must include their last changes, and start the target's servers only
after the copy. The master key is not in the database: give the servers of the copy the
same one (``KINDLING_MASTER_KEY``, or the data dir's ``master.key``), or the signing keys
and client secrets in it cannot be used.

URLs are ``sqlite:///path/to/kindling.db`` and ``postgresql://user@host:5432/db`` (a
``?options=-csearch_path%3Dschema`` selects a schema). A progress line is drawn on a
terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from kindling.cli.datadir import settings_from_env
from kindling.cli.errors import CliError, Exit
from kindling.cli.options import json_option
from kindling.cli.output import emit_json, table
from kindling.cli.progress import show_progress
from kindling.cli.target import require_local
from kindling.clock import SystemClock, isoformat
from kindling.platform.dbcopy import TableCopy, copy_database
from kindling.platform.engine import Engine, limits_from
from kindling.platform.storage import open_engine

__all__ = ["db_group", "shown_url"]


def shown_url(url: str) -> str:
    """``url`` without its password, for output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _url(url: str, option: str) -> str:
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise CliError(
            f"{option} must be a sqlite:///path or postgresql:// URL, not {shown_url(url)!r}",
            Exit.USAGE,
        )
    return url


@click.group("db")
def db_group() -> None:
    """The database itself: copy an environment between SQLite and PostgreSQL."""


def _open(url: str, source: bool) -> Engine:
    """The engine of ``url``; a SQLite source must exist (a target file is created)."""
    settings = settings_from_env()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if source and not path.is_file():
            raise CliError(f"the source database {path} does not exist", Exit.ERROR)
        if not path.parent.is_dir():
            raise CliError(f"{path.parent} does not exist", Exit.USAGE)
    return open_engine(url, settings.data_dir, limits_from(settings))


class _Progress:
    """A transient progress line on standard error (a terminal only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._rows = 0

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed} rows"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("Copying", total=None)
        return self

    def __call__(self, name: str, rows: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=f"Copying {name}", advance=rows)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


@db_group.command("copy")
@click.option("--from", "source_url", required=True, metavar="URL", help="The database to read.")
@click.option("--to", "target_url", required=True, metavar="URL", help="The database to fill.")
@click.option("--force", is_flag=True, help="Replace the data the target holds.")
@json_option
def db_copy(source_url: str, target_url: str, force: bool, as_json: bool) -> None:
    """Copy every table from --from to --to in one verified transaction."""
    require_local()
    source_url = _url(source_url, "--from")
    target_url = _url(target_url, "--to")
    if source_url == target_url:
        raise CliError("--from and --to name the same database", Exit.USAGE)
    source = _open(source_url, source=True)
    try:
        target = _open(target_url, source=False)
        try:
            with _Progress(show_progress(as_json)) as progress:
                copied = copy_database(
                    source, target, isoformat(SystemClock().now()), force, progress
                )
        finally:
            target.close()
    finally:
        source.close()
    _report(copied, source_url, target_url, as_json)


def _report(copied: list[TableCopy], source_url: str, target_url: str, as_json: bool) -> None:
    total = sum(t.target_rows for t in copied)
    if as_json:
        emit_json(
            {
                "from": shown_url(source_url),
                "to": shown_url(target_url),
                "rows": total,
                "tables": [
                    {"name": t.name, "rows": t.target_rows, "digest": t.target_digest}
                    for t in copied
                ],
            }
        )
        return
    table(
        ["TABLE", "ROWS", "DIGEST"],
        [[t.name, t.target_rows, t.target_digest[:16]] for t in copied if t.target_rows],
    )
    click.echo(
        f"Copied {total} rows in {len(copied)} tables from {shown_url(source_url)} to "
        f"{shown_url(target_url)}; every table's row count and digest match its source."
    )
