"""Named remote servers: ``kindling profile add/list/remove`` and ``--profile NAME``.

A profile is a Kindling (or Kinde) base URL and the client id and secret of an M2M
application authorized for its Management API, kept in one TOML file, by default
``$XDG_CONFIG_HOME/kindling/profiles.toml`` (``~/.config/kindling/profiles.toml``), or
wherever ``KINDLING_CONFIG`` points::

    [profiles.staging]
    url = "https://id.staging.example.com"
    client_id = "..."
    client_secret = "..."
    ca_file = "/etc/ssl/staging-ca.pem"   # optional: the CA that signed its certificate

The file holds secrets, so it is written with mode 0600 (replaced atomically, in a
directory of mode 0700), and a file that others can read (any group or other bit) is
refused, as the data dir's master key is, rather than used.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kindling.cli.errors import CliError, Exit
from kindling.cli.output import emit_json, table

#: Overrides the profiles file's path.
CONFIG_ENV = "KINDLING_CONFIG"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FIELDS = ("url", "client_id", "client_secret", "ca_file")


@dataclass(frozen=True)
class Profile:
    """One remote server: where it is and the M2M credentials for its Management API."""

    name: str
    url: str
    client_id: str
    client_secret: str
    ca_file: str | None = None

    def public(self) -> dict[str, Any]:
        """The profile without its secret (``profile list``)."""
        return {
            "name": self.name,
            "url": self.url,
            "client_id": self.client_id,
            "ca_file": self.ca_file,
        }


def config_path() -> Path:
    """The profiles file: ``KINDLING_CONFIG``, else the XDG config directory's."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kindling" / "profiles.toml"


def _usage(message: str) -> CliError:
    return CliError(message, Exit.USAGE)


def load(path: Path | None = None) -> dict[str, Profile]:
    """Every profile in the file (none when it does not exist yet).

    Refuses (usage error) a file that group or others may read, or that is not valid.
    """
    path = path or config_path()
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return {}
    if mode & 0o077:
        raise _usage(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _usage(f"{path} is not valid TOML: {exc}") from None
    section = document.get("profiles", {})
    if not isinstance(section, dict):
        raise _usage(f"{path}: [profiles] must be a table")
    found: dict[str, Profile] = {}
    for name, values in section.items():
        if not isinstance(values, dict):
            raise _usage(f"{path}: profiles.{name} must be a table")
        text = {k: v for k, v in values.items() if k in _FIELDS and isinstance(v, str)}
        missing = [k for k in ("url", "client_id", "client_secret") if not text.get(k)]
        if missing:
            raise _usage(f"{path}: profile {name} has no {missing[0]}")
        found[name] = Profile(
            name=name,
            url=text["url"],
            client_id=text["client_id"],
            client_secret=text["client_secret"],
            ca_file=text.get("ca_file") or None,
        )
    return found


def get(name: str, path: Path | None = None) -> Profile:
    """The profile called ``name``; a usage error naming the known ones if there is none."""
    path = path or config_path()
    profiles = load(path)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise _usage(f"no profile {name} in {path} (known: {known}); add it: kindling profile add")
    return profiles[name]


def _toml_string(value: str) -> str:
    # A JSON string (ASCII, with \" \\ \n \t \uXXXX escapes) is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def _render(profiles: dict[str, Profile]) -> str:
    lines = ["# Kindling CLI profiles (kindling profile add/list/remove). Holds secrets: 0600."]
    for name in sorted(profiles):
        profile = profiles[name]
        lines += ["", f"[profiles.{_toml_string(name)}]"]
        for field in _FIELDS:
            value = getattr(profile, field)
            if value:
                lines.append(f"{field} = {_toml_string(value)}")
    return "\n".join(lines) + "\n"


def save(profiles: dict[str, Profile], path: Path | None = None) -> Path:
    """Replace the file atomically with ``profiles``: mode 0600, directory 0700."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_render(profiles))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


# --- commands ----------------------------------------------------------------------------


@click.group("profile")
def profile_group() -> None:
    """Remote servers for --profile NAME (kept in a 0600 file; KINDLING_CONFIG overrides
    where)."""


@profile_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The server's base URL (https://…, or http://).")
@click.option("--client-id", required=True, help="An M2M application's client id.")
@click.option(
    "--client-secret-stdin",
    is_flag=True,
    help="Read the client secret from stdin [default: prompt for it].",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The CA certificate that signed the server's (a local CA, say).",
)
@click.option("--replace", is_flag=True, help="Replace a profile of the same name.")
def profile_add(
    name: str,
    url: str,
    client_id: str,
    client_secret_stdin: bool,
    ca_file: Path | None,
    replace: bool,
) -> None:
    """Add the profile NAME: a server URL and the M2M credentials to use there."""
    if not _NAME.fullmatch(name):
        raise click.BadParameter("letters, digits, '.', '_' and '-' only", param_hint="NAME")
    if not url.startswith(("https://", "http://")):
        raise click.BadParameter("must start with https:// or http://", param_hint="--url")
    path = config_path()
    profiles = load(path)
    if name in profiles and not replace:
        raise _usage(f"the profile {name} exists already; add --replace to replace it")
    if client_secret_stdin:
        secret = sys.stdin.readline().strip()
    else:
        secret = str(click.prompt("Client secret", hide_input=True)).strip()
    if not secret:
        raise _usage("the client secret is empty")
    profiles[name] = Profile(
        name=name,
        url=url.rstrip("/"),
        client_id=client_id,
        client_secret=secret,
        ca_file=str(ca_file.resolve()) if ca_file else None,
    )
    written = save(profiles, path)
    click.echo(f"Saved the profile {name} in {written}; use it with: kindling --profile {name} …")


@profile_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def profile_list(as_json: bool) -> None:
    """List the profiles (never their secrets)."""
    items = [p.public() for _, p in sorted(load().items())]
    if as_json:
        emit_json(items)
        return
    table(
        ["NAME", "URL", "CLIENT ID", "CA FILE"],
        [[i["name"], i["url"], i["client_id"], i["ca_file"] or ""] for i in items],
    )


@profile_group.command("remove")
@click.argument("name")
def profile_remove(name: str) -> None:
    """Remove the profile NAME."""
    path = config_path()
    profiles = load(path)
    if name not in profiles:
        raise CliError(f"no profile {name} in {path}", Exit.ERROR)
    del profiles[name]
    save(profiles, path)
    click.echo(f"Removed the profile {name}.")
