"""Where a data command's Management API calls go: a data dir here, or a remote server.

The data commands (``users``, ``orgs``, ``roles``, ``permissions``, ``apps``, ``apis``,
``flags``, ``webhooks``) have one implementation: calls of ``kindling.sdk``'s
``ManagementClient``. ``management_client`` gives them a client for the current
invocation:

* **remote**, with ``kindling --profile NAME …`` (``kindling.cli.profiles``) or
  ``kindling --remote URL --client-id ID --client-secret SECRET …`` (the credentials
  also from ``KINDE_MANAGEMENT_CLIENT_ID`` / ``KINDE_MANAGEMENT_CLIENT_SECRET``, the
  official SDKs' variables): the client gets its tokens from the server's
  ``/oauth2/token`` like any M2M application, and the server's audit log names that
  application;
* **local**, on ``--data-dir`` (``KINDLING_DATA_DIR``): the same client over
  ``kindling.web.local_transport.LocalTransport``, which runs the data dir's own
  application in process, with a token minted here, and makes the audit log name the
  CLI and the operating-system user (as ``kindling token`` and the other direct
  commands do). A data dir that ``kindling serve`` never set up is refused (exit 2)
  before anything is created.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from kindling.cli import profiles
from kindling.cli.datadir import require_files, require_issuer, settings_from_env
from kindling.platform.context import Context

#: The official SDKs' credential variables, used with ``--remote`` when no option is given.
CLIENT_ID_ENV = "KINDE_MANAGEMENT_CLIENT_ID"
CLIENT_SECRET_ENV = "KINDE_MANAGEMENT_CLIENT_SECRET"


@dataclass(frozen=True)
class Remote:
    """A server to call over HTTP(S), and the M2M credentials to call it with."""

    url: str
    client_id: str
    client_secret: str
    verify: bool | str = True
    #: The profile name, for messages (None with ``--remote``).
    profile: str | None = None


@dataclass
class Session:
    """A data command's client; ``ctx`` is the data dir's context when local."""

    client: Any
    ctx: Context | None = None

    @property
    def local(self) -> bool:
        return self.ctx is not None


def os_user() -> str | None:
    """The operating-system user the audit log names for the CLI."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _root_options() -> dict[str, Any]:
    context = click.get_current_context(silent=True)
    root = context.find_root() if context else None
    return root.obj if root is not None and isinstance(root.obj, dict) else {}


def remote_target() -> Remote | None:
    """The remote server of this invocation (``--profile`` or ``--remote``), or None."""
    options = _root_options()
    profile_name = options.get("profile")
    url = options.get("remote")
    if profile_name and url:
        raise click.UsageError("--profile and --remote exclude each other")
    ca_file = options.get("ca_file")
    if profile_name:
        found = profiles.get(profile_name)
        if options.get("client_id") or options.get("client_secret"):
            raise click.UsageError(
                "--client-id and --client-secret go with --remote, not --profile"
            )
        verify: bool | str = ca_file or found.ca_file or True
        return Remote(found.url, found.client_id, found.client_secret, verify, found.name)
    if not url:
        if options.get("client_id") or options.get("client_secret"):
            raise click.UsageError("--client-id and --client-secret go with --remote URL")
        return None
    if not url.startswith(("https://", "http://")):
        raise click.UsageError(f"--remote must be an https:// or http:// URL, not {url!r}")
    client_id = options.get("client_id") or os.environ.get(CLIENT_ID_ENV)
    client_secret = options.get("client_secret") or os.environ.get(CLIENT_SECRET_ENV)
    if not client_id or not client_secret:
        raise click.UsageError(
            f"--remote needs --client-id and --client-secret (or {CLIENT_ID_ENV} and "
            f"{CLIENT_SECRET_ENV}) of an M2M application authorized for its Management API"
        )
    return Remote(url.rstrip("/"), client_id, client_secret, ca_file or True)


def require_local() -> None:
    """Refuse ``--remote``/``--profile`` for a command that works on a data dir only."""
    options = _root_options()
    if options.get("profile") or options.get("remote"):
        context = click.get_current_context(silent=True)
        name = context.command_path if context else "this command"
        raise click.UsageError(
            f"`{name}` works on a data dir only (--data-dir); drop --remote/--profile"
        )


@contextmanager
def management_client(data_dir: Path) -> Iterator[Session]:
    """A ``kindling.sdk.ManagementClient`` for this invocation (see the module docstring)."""
    from kindling.sdk import ManagementClient

    remote = remote_target()
    if remote is not None:
        context = click.get_current_context(silent=True)
        if context is not None and context.get_parameter_source("data_dir") == (
            ParameterSource.COMMANDLINE
        ):
            raise click.UsageError("--data-dir and --remote/--profile exclude each other")
        client = ManagementClient(
            domain=remote.url,
            client_id=remote.client_id,
            client_secret=remote.client_secret,
            verify=remote.verify,
        )
        try:
            yield Session(client)
        finally:
            client.close()
        return
    from kindling.web.local_transport import CLI_CLIENT_ID, LocalTransport

    settings = settings_from_env(data_dir=data_dir)
    require_files(settings)
    transport = LocalTransport.open(settings, os_user(), check=require_issuer)
    try:
        client = ManagementClient(
            domain=transport.issuer,
            client_id=CLI_CLIENT_ID,
            # Never sent anywhere: the transport answers the token request itself.
            client_secret="in-process",
            transport=transport,
        )
    except BaseException:
        transport.close()
        raise
    try:
        yield Session(client, transport.ctx)
    finally:
        client.close()
        transport.close()
