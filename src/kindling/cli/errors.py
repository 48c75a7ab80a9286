"""One place where the CLI's expected failures become one line and an exit status.

``KindlingGroup`` is the root command's class: every command runs inside its ``invoke``,
which turns the failures a user can meet (a data dir that was never set up, a file it
may not write, an address in use, a database or server that does not answer, an id
that does not exist, credentials the server refuses) into ``Error: <one line>`` on
standard error and the exit status below. Anything else is a bug: it is reported in
one line too, with the hint to rerun with ``--debug`` (or ``KINDLING_DEBUG=1``), which
shows the traceback.
"""

from __future__ import annotations

import errno
import logging
import os
from enum import IntEnum
from typing import Any, NoReturn

import click

from kindling.platform.engine import StorageUnavailable
from kindling.platform.errors import ConfigurationError, KindlingError


class Exit(IntEnum):
    """The CLI's exit statuses (listed in ``kindling --help`` and docs/cli.md)."""

    OK = 0
    #: The command failed: what it names does not exist (an unknown id, key or audience),
    #: the server refused it (invalid input, conflict), a file cannot be written, the
    #: address is in use, the server failed.
    ERROR = 1
    #: Bad usage: unknown option, missing argument, a data dir that was never set up,
    #: an unknown profile, a profiles file readable by others.
    USAGE = 2
    #: ``kindling serve`` only: the server could not start (uvicorn's status).
    STARTUP_FAILURE = 3
    #: The server refused the credentials (401) or the token lacks a scope (403).
    UNAUTHORIZED = 4
    #: The database or the server does not answer; trying again later may work.
    UNAVAILABLE = 5


#: The ``--help`` epilog of the root command.
EXIT_STATUS_HELP = (
    "\b\nExit status:\n"
    "  0  success\n"
    "  1  error: unknown id, refused, conflict, file or address problem\n"
    "  2  usage: bad options, data dir not set up, unknown profile\n"
    "  3  kindling serve could not start\n"
    "  4  not authorized: credentials refused, scope missing\n"
    "  5  unavailable: database or server not answering\n"
    "\b\n"
    "Unexpected errors print one line; --debug (or KINDLING_DEBUG=1) shows the traceback."
)


class CliError(click.ClickException):
    """An expected failure: ``message`` on one line and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = Exit.ERROR) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)
        # click declares ``exit_code`` a ClassVar; this instance's status overrides it.
        setattr(self, "exit_code", int(exit_code))  # noqa: B010


class NotSetUp(CliError):
    """The data dir was never set up by ``kindling serve``; nothing was created."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Exit.USAGE)


def debugging(context: click.Context | None = None) -> bool:
    """True with ``--debug`` or ``KINDLING_DEBUG=1``: unexpected errors show a traceback."""
    if os.environ.get("KINDLING_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    context = context or click.get_current_context(silent=True)
    root = context.find_root() if context else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))


def route_logs(debug: bool) -> None:
    """Where the log lines of a command other than ``serve`` go: nowhere, so that a
    failure stays the one line of its error (the storage engine logs a warning when the
    database does not answer, say); to stderr with ``--debug``/``KINDLING_DEBUG=1``."""
    root = logging.getLogger()
    if debug or debugging():
        if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    elif not root.handlers:
        # A handler, even a silent one, keeps logging's last-resort stderr handler away.
        root.addHandler(logging.NullHandler())


def _sdk_error(exc: BaseException) -> CliError | None:
    """The Management API client's errors (``kindling.sdk``), when it is installed."""
    try:
        from kindling import sdk
    except ImportError:  # pragma: no cover - the SDK ships with the package
        return None
    if isinstance(exc, sdk.TransportError):
        cause = str(exc.__cause__ or "")
        detail = f" ({cause})" if cause and cause not in str(exc) else ""
        return CliError(f"cannot reach the server: {exc}{detail}", Exit.UNAVAILABLE)
    if not isinstance(exc, sdk.KindeAPIError):
        if isinstance(exc, sdk.KindeError):
            return CliError(str(exc), Exit.USAGE)
        return None
    text = exc.message or exc.code or f"HTTP {exc.status}"
    if exc.code and exc.message:
        text = f"{exc.message} ({exc.code})"
    if isinstance(exc, sdk.NotFound):
        return CliError(text, Exit.ERROR)
    if isinstance(exc, sdk.Unauthorized | sdk.Forbidden):
        return CliError(f"not authorized: {text}", Exit.UNAUTHORIZED)
    if isinstance(exc, sdk.RateLimited):
        wait = f"; retry in {exc.retry_after:g} s" if exc.retry_after is not None else ""
        return CliError(f"rate limited: {text}{wait}", Exit.ERROR)
    if exc.status == 503:
        return CliError(f"the server is unavailable: {text}", Exit.UNAVAILABLE)
    if isinstance(exc, sdk.ServerError):
        return CliError(f"the server failed: {text}", Exit.ERROR)
    return CliError(text, Exit.ERROR)


def expected(exc: BaseException) -> CliError | None:
    """The one-line error of an expected failure; None for a bug."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, StorageUnavailable):
        return CliError(f"the database is unavailable: {exc.message}", Exit.UNAVAILABLE)
    if isinstance(exc, ConfigurationError):
        return CliError(exc.message, Exit.ERROR)
    if isinstance(exc, KindlingError):
        return CliError(exc.message, Exit.ERROR)
    if isinstance(exc, PermissionError):
        where = f": {exc.filename}" if exc.filename else ""
        return CliError(f"permission denied{where}", Exit.ERROR)
    if isinstance(exc, OSError) and exc.errno in (
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EROFS,
        errno.ENOSPC,
        errno.EEXIST,
        errno.EADDRINUSE,
    ):
        where = f": {exc.filename}" if exc.filename else ""
        return CliError(f"{(exc.strerror or str(exc)).lower()}{where}", Exit.ERROR)
    return _sdk_error(exc)


def fail(exc: BaseException) -> NoReturn:
    """Raise the one-line ``CliError`` for ``exc``; an unexpected one only says so,
    unless debugging, where it propagates with its traceback."""
    found = expected(exc)
    if found is not None:
        raise found from None
    if debugging():
        raise exc
    raise CliError(
        f"unexpected error: {type(exc).__name__}: {exc} "
        "(rerun with --debug or KINDLING_DEBUG=1 for the traceback)",
        Exit.ERROR,
    ) from None


class KindlingGroup(click.Group):
    """The root group: its ``invoke`` is the CLI's one catch point (see module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except Exception as exc:
            fail(exc)
