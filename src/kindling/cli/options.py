"""Options shared by the CLI's commands: ``--data-dir`` and ``--json``."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kindling.config import DEFAULT_DATA_DIR

F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(func: F) -> F:
    decorated = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KINDLING_DATA_DIR",
        default=DEFAULT_DATA_DIR,
        show_default=True,
        help="Where the SQLite database, master key and TLS files live.",
    )(func)
    return decorated


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def yes_option(func: F) -> F:
    return click.option("--yes", is_flag=True, help="Do not ask for confirmation.")(func)
