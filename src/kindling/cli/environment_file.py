"""``kindling apply FILE`` and ``kindling export``: configuration as code.

Both work on ``--data-dir`` (``KINDLING_DATA_DIR``) or, with ``--remote URL`` (here or
before the command, as for the data commands; credentials from ``--client-id`` and
``--client-secret`` or ``KINDE_MANAGEMENT_CLIENT_ID``/``_SECRET``), on a running server
through ``/kindling/v1/environment``, which runs the same code server-side. ``apply``
validates the whole file first and prints every problem with its line; nothing is
written then, and the exit status is 1. It prints the changes it made (``--dry-run``:
would make), or "No changes.". The format: ``docs/configuration-as-code.md``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from kindling.cli.datadir import opened_data_dir
from kindling.cli.errors import Exit
from kindling.cli.options import data_dir_option, json_option
from kindling.cli.output import emit_json
from kindling.cli.target import CLIENT_ID_ENV, CLIENT_SECRET_ENV, Remote, remote_target

# ``kindling.environment_file`` (PyYAML, the schema, the reconciler) is imported by the
# commands that use it, not by every command of the CLI: it was ~0.2 s of each start-up
# (``python -X importtime -m kindling serve --help``; bench/README.md, "lean start-up").
if TYPE_CHECKING:
    from kindling.environment_file import Plan, Source
    from kindling.environment_file.seeding import Seed
    from kindling.environment_file.source import Path as KeyPath

REMOTE_PATH = "/kindling/v1/environment"
#: A problem line as the server renders it: ``users[1].id: message``.
_PATH_LINE = re.compile(r"(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): ")
_PART = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_]*)")


class FileProblems(click.ClickException):
    """Problems with the file: one line each (``FILE:LINE: key: message``), then a
    summary; nothing was written."""

    exit_code = Exit.ERROR

    def __init__(self, lines: list[str], name: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.name = name

    def show(self, file: IO[Any] | None = None) -> None:
        for line in self.lines:
            click.echo(line, err=True)
        count = len(self.lines)
        click.echo(
            f"Error: {self.name}: {count} problem{'s' * (count != 1)}; nothing was written.",
            err=True,
        )


def _parse_path(text: str) -> KeyPath:
    parts: list[str | int] = []
    for match in _PART.finditer(text):
        index, name = match.groups()
        parts.append(int(index) if index is not None else name)
    return tuple(parts)


def _remote_lines(message: str, source: Source) -> list[str]:
    """A server's ``path: message`` lines with this file's name and line numbers."""
    from kindling.environment_file.source import Problem

    lines = []
    for line in message.splitlines():
        found = _PATH_LINE.match(line)
        if found is None:
            lines.append(f"{source.name}: {line}")
            continue
        path = _parse_path(found.group("path"))
        problem = Problem(path, line[found.end() :], source.line(path))
        lines.append(problem.render(source.name))
    return lines


def _read(file: str) -> tuple[Source, Any]:
    from kindling.environment_file import DocumentError, load_text

    name = "<stdin>" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileProblems([f"{name}: is not UTF-8 text"], name) from None
    try:
        return load_text(text, name)
    except DocumentError as exc:
        raise FileProblems([p.render(name) for p in exc.problems], name) from None


def _remote(
    url: str | None, client_id: str | None, client_secret: str | None, ca_file: str | None
) -> Remote | None:
    """This command's ``--remote``, else the one given before the command (or a profile)."""
    if url is None:
        if client_id or client_secret:
            raise click.UsageError("--client-id and --client-secret go with --remote URL")
        return remote_target()
    if not url.startswith(("https://", "http://")):
        raise click.UsageError(f"--remote must be an https:// or http:// URL, not {url!r}")
    client_id = client_id or os.environ.get(CLIENT_ID_ENV)
    client_secret = client_secret or os.environ.get(CLIENT_SECRET_ENV)
    if not client_id or not client_secret:
        raise click.UsageError(
            f"--remote needs --client-id and --client-secret (or {CLIENT_ID_ENV} and "
            f"{CLIENT_SECRET_ENV}) of an M2M application authorized for its Management API"
        )
    return Remote(url.rstrip("/"), client_id, client_secret, ca_file or True)


def _client(remote: Remote) -> Any:
    from kindling.sdk import ManagementClient

    return ManagementClient(
        domain=remote.url,
        client_id=remote.client_id,
        client_secret=remote.client_secret,
        verify=remote.verify,
        timeout=120.0,
    )


def remote_options(func: Any) -> Any:
    for option in (
        click.option(
            "--ca-file",
            type=click.Path(dir_okay=False, exists=True),
            help="CA certificate to trust for --remote.",
        ),
        click.option(
            "--client-secret", help="With --remote [default: $" + CLIENT_SECRET_ENV + "]."
        ),
        click.option("--client-id", help="With --remote [default: $" + CLIENT_ID_ENV + "]."),
        click.option("--remote", metavar="URL", help="Work on the running server at URL."),
    ):
        func = option(func)
    return func


@click.command("apply")
@click.argument("file", metavar="FILE")
@data_dir_option
@click.option("--prune", is_flag=True, help="Delete what the file's sections do not name.")
@click.option("--dry-run", is_flag=True, help="Print the changes; make none.")
@remote_options
@json_option
def apply_command(
    file: str,
    data_dir: Path,
    prune: bool,
    dry_run: bool,
    remote: str | None,
    client_id: str | None,
    client_secret: str | None,
    ca_file: str | None,
    as_json: bool,
) -> None:
    """Make the environment what FILE (YAML; - for stdin) says, all or nothing.

    Idempotent: applying the same file again changes nothing. Entities the file does not
    name are kept unless --prune is given (then only in the sections the file has).
    """
    from kindling.environment_file import ApplyError, DocumentError, apply_document

    source, document = _read(file)
    name = source.name or file
    target = _remote(remote, client_id, client_secret, ca_file)
    if target is not None:
        plan = _apply_remote(target, source, prune, dry_run)
    else:
        with opened_data_dir(data_dir) as ctx:
            try:
                plan = apply_document(ctx, document, source, prune=prune, dry_run=dry_run)
            except (ApplyError, DocumentError) as exc:
                raise FileProblems(exc.message.splitlines(), name) from None
    if as_json:
        emit_json(plan.as_json())
    else:
        click.echo(plan.render())


def _apply_remote(target: Remote, source: Source, prune: bool, dry_run: bool) -> Plan:
    from kindling.environment_file import Change, Plan
    from kindling.sdk import KindeAPIError

    params = {"prune": "true" if prune else None, "dry_run": "true" if dry_run else None}
    with _client(target) as client:
        try:
            answer = client.request("POST", REMOTE_PATH, params=params, json=source.data)
        except KindeAPIError as exc:
            if exc.status in (400, 404, 409) and exc.message:
                raise FileProblems(
                    _remote_lines(exc.message, source), source.name or "FILE"
                ) from None
            raise
    changes = tuple(
        Change(c["action"], c["kind"], c["key"], tuple(c.get("fields", ())))
        for c in answer.get("changes", [])
    )
    return Plan(changes, applied=bool(answer.get("applied")))


@click.command("export")
@data_dir_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (mode 0600) instead of standard output.",
)
@remote_options
@json_option
def export_command(
    data_dir: Path,
    output: Path | None,
    remote: str | None,
    client_id: str | None,
    client_secret: str | None,
    ca_file: str | None,
    as_json: bool,
) -> None:
    """Write the environment as a file that kindling apply reads back.

    Secrets are exported as the hashes the server stores (client_secret_hash), which
    apply accepts under the same master key. Signing keys, the audit log and webhook
    deliveries are not exported.
    """
    from kindling.environment_file import dump_yaml, export_data

    target = _remote(remote, client_id, client_secret, ca_file)
    if target is not None:
        with _client(target) as client:
            data = client.request("GET", REMOTE_PATH)
    else:
        with opened_data_dir(data_dir) as ctx:
            data = export_data(ctx)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n" if as_json else dump_yaml(data)
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(output, 0o600)
    click.echo(f"Wrote {output}.", err=True)


def read_seed(path: Path) -> Seed:
    """``serve --seed FILE``: the file read and validated before anything starts (an
    invalid one prints its problems and stops ``serve`` with status 1)."""
    from kindling.environment_file.seeding import Seed

    source, document = _read(str(path))
    return Seed(source.name or str(path), source, document)
