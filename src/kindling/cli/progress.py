"""Progress bars (rich) for long listings, imports and exports, on a terminal only.

``track(items, "Listing users", enabled=show_progress(as_json))`` yields ``items``
unchanged; when enabled it draws a transient bar on standard error while they come
(a spinner and a count when the total is unknown, as with Kinde's cursor pages). It is
enabled only when both standard output and standard error are terminals and the output
is not ``--json``, so pipes, files, scripts and JSON never see it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def show_progress(as_json: bool = False) -> bool:
    """Whether a progress bar may be drawn: a terminal on stdout and stderr, no ``--json``."""
    if as_json:
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def track(items: Iterable[T], label: str, enabled: bool, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, drawing a progress bar while they come when ``enabled``."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns: list[ProgressColumn | str] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns.append(TextColumn("{task.completed}"))
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        for item in items:
            yield item
            progress.advance(task)
