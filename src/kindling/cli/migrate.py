"""``kindling migrate``: apply the schema migrations now, or show where the schema stands.

``kindling serve`` migrates by itself at start (unless ``--no-migrate`` /
``KINDLING_MIGRATE=off``), so this command is for deployments that migrate as a step of
their own (a release job before the new servers start with ``--no-migrate``) and for
looking: ``--status`` lists every migration this Kindling has, applied (when) or pending,
and the versions the database has that it does not know (a newer Kindling migrated it).

It works on the database alone: ``KINDLING_DATABASE_URL``, or the data dir's SQLite file;
no master key is read. Migrations take a lock (PostgreSQL's advisory lock, SQLite's write
lock), so two instances or jobs migrating at once apply each migration once between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kindling.cli.datadir import settings_from_env
from kindling.cli.errors import NotSetUp
from kindling.cli.options import data_dir_option, json_option
from kindling.cli.output import emit_json, table
from kindling.cli.target import require_local
from kindling.clock import SystemClock, isoformat
from kindling.config import Settings
from kindling.platform.engine import Engine, limits_from
from kindling.platform.migrations import (
    LATEST,
    MIGRATIONS,
    SchemaStatus,
    migrate,
    schema_status,
)
from kindling.platform.storage import SQLITE_FILE, open_engine

__all__ = ["migrate_command", "open_database"]


def open_database(settings: Settings, create: bool) -> Engine | None:
    """The engine of ``settings``' database, not migrated. A SQLite file that does not
    exist is created only when ``create`` and its directory exists (None otherwise)."""
    url = settings.database_url
    if not url or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")) if url else settings.data_dir / SQLITE_FILE
        if not path.is_file():
            if not create:
                return None
            if not path.parent.is_dir():
                raise NotSetUp(
                    f"{path.parent} does not exist: pass the right --data-dir, or run "
                    "`kindling serve` there once"
                )
    try:
        return open_engine(url, settings.data_dir, limits_from(settings))
    except ValueError as exc:
        raise NotSetUp(str(exc)) from None


def _status_data(status: SchemaStatus) -> dict[str, Any]:
    return {
        "version": status.version,
        "latest": LATEST,
        "current": status.current and status.initialized,
        "initialized": status.initialized,
        "migrations": [
            {
                "version": version,
                "name": name,
                "applied_on": status.applied[version][1] if version in status.applied else None,
            }
            for version, name, _ in MIGRATIONS
        ],
        "pending": [version for version, _ in status.pending],
        "unknown": list(status.unknown),
        "summary": status.describe(),
    }


def _show_status(status: SchemaStatus, as_json: bool) -> None:
    data = _status_data(status)
    if as_json:
        emit_json(data)
        return
    rows = [
        [f"{m['version']:04d}", m["name"], m["applied_on"] or "pending"] for m in data["migrations"]
    ]
    rows += [
        [f"{v:04d}", status.applied[v][0], f"{status.applied[v][1]} (unknown)"]
        for v in status.unknown
    ]
    table(["VERSION", "NAME", "APPLIED ON"], rows)
    click.echo(status.describe()[0].upper() + status.describe()[1:] + ".")


@click.command("migrate")
@data_dir_option
@click.option("--status", "show_status", is_flag=True, help="Show the migrations; apply none.")
@json_option
def migrate_command(data_dir: Path, show_status: bool, as_json: bool) -> None:
    """Apply pending schema migrations (kindling serve does at start unless --no-migrate)."""
    require_local()
    settings = settings_from_env(data_dir=data_dir)
    engine = open_database(settings, create=not show_status)
    if engine is None:
        # --status of a SQLite database that does not exist yet: everything is pending.
        _show_status(SchemaStatus({}, [(v, n) for v, n, _ in MIGRATIONS], [], False), as_json)
        return
    try:
        if show_status:
            _show_status(schema_status(engine), as_json)
            return
        # A database a newer Kindling migrated is refused by ``migrate`` itself.
        with engine.maintenance():
            applied = migrate(engine, isoformat(SystemClock().now()))
        after = schema_status(engine)
    finally:
        engine.close()
    names = {version: name for version, name, _ in MIGRATIONS}
    if as_json:
        emit_json(
            {
                "applied": [{"version": v, "name": names[v]} for v in applied],
                "version": after.version,
                "current": after.current,
            }
        )
        return
    for version in applied:
        click.echo(f"applied {version:04d} {names[version]}")
    if applied:
        plural = "s" if len(applied) != 1 else ""
        click.echo(
            f"Applied {len(applied)} migration{plural}: the schema is at version {after.version}."
        )
    else:
        click.echo(f"The schema is current (version {after.version}): nothing to apply.")
