"""``kindling serve``'s operations options: ``--log-level``, ``--trusted-proxies``,
``--no-migrate``.

Each also comes from its variable (``KINDLING_LOG_LEVEL``, ``KINDLING_TRUSTED_PROXIES``,
``KINDLING_MIGRATE``), read by ``Settings.from_env``; an option given on the command line
wins. ``operations_options`` adds them to a command, which receives them as keyword
arguments and passes ``operations_overrides(...)`` on to ``settings_from_env``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from kindling.cli.errors import CliError, Exit
from kindling.config import LOG_LEVELS, parse_proxies

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["operations_options", "operations_overrides"]


def operations_options(func: F) -> F:
    decorators = [
        click.option(
            "--log-level",
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            help="Level of the server's log lines; the access log has its own switch "
            "[env: KINDLING_LOG_LEVEL; default: info].",
        ),
        click.option(
            "--trusted-proxies",
            metavar="ADDRESSES",
            help="Believe X-Forwarded-For/-Proto/-Host only from these addresses or CIDR "
            "networks, comma separated [env: KINDLING_TRUSTED_PROXIES; default: none].",
        ),
        click.option(
            "--migrate/--no-migrate",
            "migrate",
            default=None,
            help="Apply pending schema migrations at start; with --no-migrate a schema "
            "that is not current stops the server [env: KINDLING_MIGRATE; default: on].",
        ),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


def operations_overrides(
    log_level: str | None = None,
    trusted_proxies: str | None = None,
    migrate: bool | None = None,
) -> dict[str, Any]:
    """The settings overrides of the options given (None: from the environment)."""
    overrides: dict[str, Any] = {"log_level": log_level.lower() if log_level else None}
    if trusted_proxies is not None:
        try:
            overrides["proxies"] = parse_proxies(trusted_proxies, "--trusted-proxies")
        except ValueError as exc:
            raise CliError(str(exc), Exit.USAGE) from None
    overrides["migrate"] = migrate
    return overrides
