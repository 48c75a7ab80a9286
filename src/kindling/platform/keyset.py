"""Keyset pagination on ``(name, seq)``, shared by listings Kinde sorts by name."""

from __future__ import annotations

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
