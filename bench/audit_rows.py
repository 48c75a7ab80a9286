"""Benchmark (not a test): SQLite CPU per audit row, by index and by ``jti`` kind.

The audit writer commits the token endpoint's rows in batches (``platform/audit.py``,
``platform/audit_sql.py``). This builds the ``audit`` table from its migration
(``v0021_audit``) in a temporary WAL database with the engine's pragmas, optionally fills
it with ``--prefill`` rows first, then times ``--batches`` batches of ``--batch`` rows of
the ``token.issued`` shape (``executemany`` in ``BEGIN IMMEDIATE`` … ``COMMIT``, as the
writer does) and prints CPU and wall microseconds per row for each variant:

* ``v4``: the table as migrated, random (version 4) ``jti`` as ``target_id``;
* ``v7``: the same, time-ordered (version 7) ``jti``, what ``new_jti`` makes;
* ``v4-no-target-index``, ``no-indexes``: what the indexes cost;
* ``v4-multirow``: multi-row ``INSERT``s (200 rows each) instead of ``executemany``.

    python bench/audit_rows.py [--prefill 500000] [--batch 150] [--batches 300] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kindling.oauth.client_credentials import new_jti
from kindling.platform.schema import v0021_audit

COLUMNS = (
    "occurred_at", "actor_type", "actor_id", "ip", "request_id", "action", "target_type",
    "target_id", "result", "error_code", "count", "event_id", "details",
)  # fmt: skip
INSERT = f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
DETAILS = (
    '{"audiences":["http://localhost:8000/api"],"scope_count":2,"scope_sha256":"'
    + "ab" * 32
    + '","scopes":["read:users","read:applications"]}'
)
DDL = v0021_audit.SQL.format(pk="INTEGER PRIMARY KEY", bigint="INTEGER")


def v4() -> str:
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def row(i: int, jti: Callable[[], str]) -> tuple[object, ...]:
    return (
        1_764_620_000_000 + i, "application", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "127.0.0.1",
        os.urandom(16).hex(), "token.issued", "token", jti(), "success", None, 1, None, DETAILS,
    )  # fmt: skip


def schema(variant: str) -> str:
    if variant == "no-indexes":
        return DDL.split(";\nCREATE INDEX")[0]
    if variant == "v4-no-target-index":
        return DDL.replace(";\nCREATE INDEX audit_target ON audit (target_id, seq)", "")
    return DDL


def multirow(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    head = f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES "
    one = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    for start in range(0, len(rows), 200):
        chunk = rows[start : start + 200]
        conn.execute(head + ", ".join([one] * len(chunk)), list(itertools.chain(*chunk)))


def measure(variant: str, prefill: int, batch: int, batches: int) -> tuple[float, float]:
    jti = new_jti if variant == "v7" else v4
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "audit.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(schema(variant))
        if prefill:
            conn.execute("BEGIN")
            conn.executemany(INSERT, (row(i, jti) for i in range(prefill)))
            conn.execute("COMMIT")
        work = [[row(i, jti) for i in range(batch)] for _ in range(batches)]
        cpu, wall = time.process_time(), time.perf_counter()
        for rows in work:
            conn.execute("BEGIN IMMEDIATE")
            if variant == "v4-multirow":
                multirow(conn, rows)
            else:
                conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        conn.close()
    n = batch * batches
    return cpu / n * 1e6, wall / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefill", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=150)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    variants = ("v4", "v7", "v4-no-target-index", "no-indexes", "v4-multirow")
    print(f"prefill {options.prefill:,} rows, {options.batches} batches of {options.batch}")
    for _ in range(options.rounds):
        for variant in variants:
            cpu, wall = measure(variant, options.prefill, options.batch, options.batches)
            print(f"  {variant:20s} {cpu:7.2f} µs CPU per row  {wall:7.2f} µs wall per row")


if __name__ == "__main__":
    main()
