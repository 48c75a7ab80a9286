"""Keyset pagination on ``(column, seq)``, shared by listings Kinde sorts by a column."""

from __future__ import annotations

from collections.abc import Mapping

from kindling.platform.engine import Row, Session


def by_name(
    session: Session,
    table: str,
    columns: str,
    after: tuple[str, int] | None,
    limit: int,
    descending: bool = False,
) -> list[tuple[tuple[str, int], Row]]:
    """Rows after position ``(name, seq)`` in name order; each with its own position.

    The comparison and the ORDER BY use the same collation, so pages never skip or
    repeat a row, and no OFFSET is scanned however deep the page.
    """
    op, order = ("<", "DESC") if descending else (">", "ASC")
    where, params = "", []
    if after is not None:
        where = f"WHERE (name, seq) {op} (?, ?)"
        params = [after[0], after[1]]
    rows = session.all(
        f"SELECT {columns} FROM {table} {where} ORDER BY name {order}, seq {order} LIMIT ?",
        (*params, limit),
    )
    return [((row["name"], int(row["seq"])), row) for row in rows]


def keyset(
    columns: Mapping[str, str],
    column: str,
    after: tuple[str, int] | None,
    descending: bool,
    alias: str = "",
) -> tuple[str, str, list[object]]:
    """Build the ``(sort column, sequence)`` keyset condition and ORDER BY for a sort.

    Returns ``(condition or "", order by, params)``; ``column`` must be one of ``columns``
    (the SQL names come only from that whitelist).
    """
    if column not in columns:
        raise ValueError(f"cannot sort by {column!r}")
    sql_column = f"{alias}{columns[column]}"
    op, order = ("<", "DESC") if descending else (">", "ASC")
    order_by = f"ORDER BY {sql_column} {order}, {alias}seq {order}"
    if after is None:
        return "", order_by, []
    return f"({sql_column}, {alias}seq) {op} (?, ?)", order_by, [after[0], after[1]]
