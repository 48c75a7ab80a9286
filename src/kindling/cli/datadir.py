"""The data dir a command works on: settings, and refusing one that was never set up.

Only ``kindling serve`` creates a data dir (its database, master key and signing key,
``kindling.bootstrap``). Every other command first checks, without creating anything,
that the data dir holds what ``serve`` leaves there: the SQLite database (unless
``KINDLING_DATABASE_URL`` names PostgreSQL) and the master key (unless
``KINDLING_MASTER_KEY`` holds it); once storage is open, that the environment has an
issuer. A data dir that fails either check is refused with exit status 2 and a line
that says to run ``kindling serve`` there, so a mistyped ``--data-dir`` never becomes a
new, empty one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kindling.cli.errors import CliError, Exit, NotSetUp
from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto import masterkey
from kindling.platform.context import Context
from kindling.platform.storage import SQLITE_FILE
from kindling.resources.environment.repository import ENVIRONMENT_REPO


def settings_from_env(**overrides: object) -> Settings:
    """``Settings.from_env``; a malformed ``KINDLING_*`` variable is a usage error."""
    try:
        return Settings.from_env(**overrides)
    except ValueError as exc:
        raise CliError(str(exc), Exit.USAGE) from None


def _serve_hint(data_dir: Path) -> str:
    return (
        f"run `kindling serve --data-dir {data_dir}` once to set it up, "
        "or pass the right --data-dir"
    )


def require_files(settings: Settings) -> None:
    """Refuse (``NotSetUp``) a data dir without its database file or master key."""
    data_dir = settings.data_dir
    url = settings.database_url
    if not url or url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///")) if url else data_dir / SQLITE_FILE
        if not database.is_file():
            if url:
                problem = f"the database {database} does not exist"
            elif not data_dir.exists():
                problem = f"{data_dir} does not exist"
            else:
                problem = f"{data_dir} is not a Kindling data dir (it has no {SQLITE_FILE})"
            raise NotSetUp(f"{problem}: {_serve_hint(data_dir)}")
    if not settings.master_key and not (data_dir / masterkey.FILE_NAME).is_file():
        raise NotSetUp(
            f"{data_dir} has no master key ({masterkey.FILE_NAME}) and KINDLING_MASTER_KEY "
            f"is not set: {_serve_hint(data_dir)}"
        )


def require_issuer(ctx: Context) -> None:
    """Refuse (``NotSetUp``) storage that ``kindling serve`` never set up."""
    with ctx.storage.read() as uow:
        if uow[ENVIRONMENT_REPO].get_issuer() is None:
            raise NotSetUp(
                f"this data dir has not been set up yet: {_serve_hint(ctx.settings.data_dir)}"
            )


def open_context(settings: Settings) -> Context:
    """The context of a data dir ``kindling serve`` has set up (nothing is created)."""
    require_files(settings)
    ctx = build_context(settings)
    try:
        require_issuer(ctx)
    except BaseException:
        ctx.close()
        raise
    return ctx


@contextmanager
def opened_data_dir(data_dir: Path) -> Iterator[Context]:
    """``open_context`` for one command, closed at its end."""
    ctx = open_context(settings_from_env(data_dir=data_dir))
    try:
        yield ctx
    finally:
        ctx.close()
