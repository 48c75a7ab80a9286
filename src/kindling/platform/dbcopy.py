"""Copy every table of one database to another, SQLite or PostgreSQL, without loss.

``kindling db copy --from URL --to URL`` (``kindling.cli.db``) moves an environment between
engines: a laptop's SQLite file to PostgreSQL for production, or PostgreSQL back to SQLite
to look at a copy. What it guarantees:

* **Same schema.** The source must have exactly the migrations this Kindling has (else
  ``CopyRefused``: migrate it first, or use the Kindling that migrated it). The target is
  migrated to the same version before anything is copied.
* **Nothing overwritten by accident.** A target holding data (any row beyond those the
  migrations themselves insert) is refused unless ``force``, which replaces it.
* **All or nothing.** Every row goes in one transaction on the target: its tables are
  emptied, then filled in dependency order (a table after every table it references; the
  migrations' order breaks ties), and the transaction commits only after each table's row
  count and content digest equal the source's, read back inside the transaction. A
  failure or a mismatch rolls everything back and leaves the target as it was.
* **A consistent source.** The source is read in one read-only transaction (a
  ``REPEATABLE READ`` snapshot on PostgreSQL, SQLite's WAL snapshot), so a server still
  writing to it cannot leave the copy half old and half new.

Rows are read in batches in primary-key order (keyset, never ``OFFSET``) and written with
``Session.bulk_insert`` (``COPY`` on PostgreSQL). Values are taken as the driver returns
them; the two engines differ only in booleans (``INTEGER`` 0/1 on SQLite, ``BOOLEAN`` on
PostgreSQL), which the drivers convert on the way in. PostgreSQL's identity sequences are
moved past the copied keys, so new rows do not collide; SQLite's ``AUTOINCREMENT`` follows
the inserted keys by itself.

The **digest** of a table is order-independent: the sum, modulo 2^256, of the SHA-256 of
each row's canonical encoding (columns in name order; ``None``, integers (booleans as 0/1),
floats, text and bytes each tagged and length-prefixed), so the two engines' different
text collations do not matter. ``schema_migrations`` is not copied (the target's own records
when it was migrated); everything else is, sealed values included: they stay sealed under
the master key, which must travel with the data (``KINDLING_MASTER_KEY`` or the data dir's
``master.key``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kindling.platform.engine import Engine, Session
from kindling.platform.errors import KindlingError
from kindling.platform.migrations import MIGRATIONS, _render, migrate, schema_status

__all__ = [
    "BATCH",
    "CopyRefused",
    "TableCopy",
    "copy_database",
    "table_digest",
    "table_order",
]

#: Rows read and written at a time.
BATCH = 2000
#: Tables that are not copied: the target keeps its own migration records.
SKIPPED = frozenset({"schema_migrations"})
_MODULUS = 1 << 256


class CopyRefused(KindlingError):
    """The copy cannot be made safely (schema versions differ, the target holds data)."""


@dataclass(frozen=True)
class TableCopy:
    """One copied table: rows in the source and in the target, and their digests."""

    name: str
    source_rows: int
    target_rows: int
    source_digest: str
    target_digest: str

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows and self.source_digest == self.target_digest


# --- the catalogue ----------------------------------------------------------------------


def _created_order() -> list[str]:
    """Table names in the order the migrations create them."""
    order: list[str] = []
    for _, _, sql in MIGRATIONS:
        for statement in _render(sql, "sqlite"):
            words = statement.split()
            if len(words) >= 3 and [w.upper() for w in words[:2]] == ["CREATE", "TABLE"]:
                name = words[2]
                if name.upper() == "IF":
                    name = words[5]
                name = name.split("(")[0].strip('"')
                if name not in order:
                    order.append(name)
    return order


def _seeded_tables() -> set[str]:
    """Tables some migration inserts rows into (a one-row state table, say)."""
    seeded: set[str] = set()
    for _, _, sql in MIGRATIONS:
        for statement in _render(sql, "sqlite"):
            words = statement.split()
            if len(words) >= 3 and [w.upper() for w in words[:2]] == ["INSERT", "INTO"]:
                seeded.add(words[2].split("(")[0].strip('"'))
    return seeded


def _tables(session: Session) -> list[str]:
    if session.dialect == "postgres":
        rows = session.all(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    else:
        rows = session.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    return [str(row["name"]) for row in rows]


def _references(session: Session, tables: Sequence[str]) -> dict[str, set[str]]:
    """For each table, the other tables its foreign keys reference."""
    found: dict[str, set[str]] = {name: set() for name in tables}
    if session.dialect == "postgres":
        rows = session.all(
            "SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint c "
            "JOIN pg_class child ON child.oid = c.conrelid "
            "JOIN pg_class parent ON parent.oid = c.confrelid "
            "JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = current_schema()"
        )
        for row in rows:
            if row["child"] in found and row["child"] != row["parent"]:
                found[str(row["child"])].add(str(row["parent"]))
        return found
    for name in tables:
        for row in session.all(f"SELECT \"table\" FROM pragma_foreign_key_list('{name}')"):
            parent = str(row["table"])
            if parent != name:
                found[name].add(parent)
    return found


def table_order(session: Session) -> list[str]:
    """The tables to copy, each after every table it references (migration order else).

    Raises ``CopyRefused`` when a table the migrations create is missing.
    """
    present = [name for name in _tables(session) if name not in SKIPPED]
    created = [name for name in _created_order() if name not in SKIPPED]
    missing = sorted(set(created) - set(present))
    if missing:
        raise CopyRefused(f"the database lacks tables its migrations create: {', '.join(missing)}")
    rank = {name: i for i, name in enumerate(created)}
    tables = sorted(present, key=lambda name: (rank.get(name, len(rank)), name))
    copied = set(tables)
    references = {name: refs & copied for name, refs in _references(session, tables).items()}
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        progress = False
        for name in tables:
            if name not in placed and references[name] <= placed:
                ordered.append(name)
                placed.add(name)
                progress = True
                break
        if not progress:  # a cycle: keep migration order for the rest
            ordered += [name for name in tables if name not in placed]
            break
    return ordered


def _columns(session: Session, table: str) -> tuple[list[str], list[str]]:
    """The table's columns (in definition order) and its primary-key columns."""
    if session.dialect == "postgres":
        found = session.all(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        primary = session.all(
            "SELECT a.attname AS name FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indisprimary AND c.relname = ? AND n.nspname = current_schema() "
            "ORDER BY array_position(i.indkey, a.attnum)",
            (table,),
        )
        return [str(r["name"]) for r in found], [str(r["name"]) for r in primary]
    info = session.all(f"SELECT name, pk FROM pragma_table_info('{table}')")
    columns = [str(r["name"]) for r in info]
    keys = [str(r["name"]) for r in sorted(info, key=lambda r: int(r["pk"])) if int(r["pk"]) > 0]
    return columns, keys


def _identity_columns(session: Session, table: str) -> list[str]:
    if session.dialect != "postgres":
        return []
    rows = session.all(
        "SELECT column_name AS name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? AND is_identity = 'YES'",
        (table,),
    )
    return [str(r["name"]) for r in rows]


# --- reading and digests ----------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(
    session: Session, table: str, columns: Sequence[str], keys: Sequence[str], batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in batches, in primary-key order (keyset pagination)."""
    select = ", ".join(_quote(c) for c in columns)
    if not keys:
        rows = session.all(f"SELECT {select} FROM {_quote(table)}")
        yield [tuple(row[c] for c in columns) for row in rows]
        return
    order = ", ".join(_quote(k) for k in keys)
    key_tuple = f"({order})" if len(keys) > 1 else order
    marks = f"({', '.join('?' for _ in keys)})" if len(keys) > 1 else "?"
    positions = [columns.index(k) for k in keys]
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            sql = f"SELECT {select} FROM {_quote(table)} ORDER BY {order} LIMIT ?"
            found = session.all(sql, (batch,))
        else:
            sql = (
                f"SELECT {select} FROM {_quote(table)} WHERE {key_tuple} > {marks} "
                f"ORDER BY {order} LIMIT ?"
            )
            found = session.all(sql, (*last, batch))
        if not found:
            return
        values = [tuple(row[c] for c in columns) for row in found]
        yield values
        if len(values) < batch:
            return
        last = tuple(values[-1][p] for p in positions)


def _encode(value: Any) -> bytes:
    """One value, tagged and length-prefixed (booleans as the integers SQLite stores)."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        data, tag = str(value).encode("ascii"), b"I"
    elif isinstance(value, float):
        data, tag = repr(value).encode("ascii"), b"F"
    elif isinstance(value, str):
        data, tag = value.encode("utf-8"), b"S"
    elif isinstance(value, bytes | bytearray | memoryview):
        data, tag = bytes(value), b"B"
    else:
        data, tag = str(value).encode("utf-8"), b"O"
    return tag + struct.pack(">I", len(data)) + data


class _Digest:
    """An order-independent digest of rows (see the module docstring)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self._order = sorted(range(len(columns)), key=lambda i: columns[i])
        self.total = 0
        self.rows = 0

    def add(self, row: Sequence[Any]) -> None:
        encoded = b"".join(_encode(row[i]) for i in self._order)
        self.total = (self.total + int.from_bytes(hashlib.sha256(encoded).digest(), "big")) % (
            _MODULUS
        )
        self.rows += 1

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"


def table_digest(session: Session, table: str, batch: int = BATCH) -> tuple[int, str]:
    """A table's row count and content digest as this session sees it."""
    columns, keys = _columns(session, table)
    digest = _Digest(columns)
    for rows in _rows(session, table, columns, keys, batch):
        for row in rows:
            digest.add(row)
    return digest.rows, digest.hex


# --- the copy ----------------------------------------------------------------------------


def _snapshot(session: Session) -> None:
    """Make the source's read transaction one snapshot (PostgreSQL reads committed data
    per statement otherwise; SQLite's WAL read transaction is one already)."""
    if session.dialect == "postgres":
        session.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def holds_data(session: Session) -> list[str]:
    """The tables of a migrated database that hold rows the migrations did not put there."""
    seeded = _seeded_tables()
    found: list[str] = []
    for name in _tables(session):
        if name in SKIPPED or name in seeded:
            continue
        if session.one(f"SELECT 1 AS found FROM {_quote(name)} LIMIT 1") is not None:
            found.append(name)
    return found


def _check_source(source: Engine) -> None:
    status = schema_status(source)
    if not status.initialized:
        raise CopyRefused("the source database has no Kindling schema: there is nothing to copy")
    if not status.current:
        raise CopyRefused(
            f"the source database is not at this Kindling's schema: {status.describe()}; "
            "run `kindling migrate` on it (or use the Kindling that migrated it) first"
        )


def _prepare_target(target: Engine, force: bool, now: str) -> None:
    status = schema_status(target)
    if status.unknown:
        raise CopyRefused(f"the target database is newer than this Kindling: {status.describe()}")
    if status.initialized:
        with target.session(write=False) as session:
            filled = holds_data(session)
        if filled and not force:
            shown = ", ".join(filled[:5]) + (", ..." if len(filled) > 5 else "")
            raise CopyRefused(
                f"the target database holds data ({shown}): pass --force to replace it"
            )
    with target.maintenance():
        migrate(target, now)


def copy_database(
    source: Engine,
    target: Engine,
    now: str,
    force: bool = False,
    progress: Callable[[str, int], None] | None = None,
    batch: int = BATCH,
) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target`` (see the module docstring).

    ``progress(table, rows)`` is called after each batch written. Returns each table's
    counts and digests (all matching: otherwise ``CopyRefused`` was raised, and the
    target's transaction rolled back).
    """
    _check_source(source)
    _prepare_target(target, force, now)
    results: list[TableCopy] = []
    with (
        source.maintenance(),
        target.maintenance(),
        source.session(write=False) as read,
        target.session(write=True) as write,
    ):
        _snapshot(read)
        tables = table_order(read)
        if write.dialect == "sqlite":
            write.execute("PRAGMA defer_foreign_keys = ON")
        for name in reversed(tables):
            write.execute(f"DELETE FROM {_quote(name)}")
        for name in tables:
            columns, keys = _columns(read, name)
            digest = _Digest(columns)
            quoted = [_quote(c) for c in columns]
            for rows in _rows(read, name, columns, keys, batch):
                for row in rows:
                    digest.add(row)
                write.bulk_insert(_quote(name), quoted, rows)
                if progress is not None:
                    progress(name, len(rows))
            for column in _identity_columns(write, name):
                write.one(
                    f"SELECT setval(pg_get_serial_sequence(?, ?), "
                    f"COALESCE((SELECT MAX({_quote(column)}) FROM {_quote(name)}), 0) + 1, false) "
                    "AS value",
                    (name, column),
                )
            count, target_digest = table_digest(write, name, batch)
            copied = TableCopy(name, digest.rows, count, digest.hex, target_digest)
            if not copied.matches:
                raise CopyRefused(
                    f"the copy of {name} does not match its source ({digest.rows} rows, "
                    f"{count} copied); nothing was changed"
                )
            results.append(copied)
    return results


def digests(engine: Engine, batch: int = BATCH) -> Mapping[str, tuple[int, str]]:
    """Every copied table's row count and digest (``kindling db copy`` verification, tests)."""
    with engine.session(write=False) as session:
        _snapshot(session)
        return {name: table_digest(session, name, batch) for name in table_order(session)}
