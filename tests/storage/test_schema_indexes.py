"""The ``org_code`` indexes of migration 0022, on both engines.

Deleting an organization finds its scoped applications and deletes its sessions and MFA
factors by ``org_code``: each of those statements must be able to use an index instead
of reading the whole table. The test asks each engine's planner, on the real schema.
"""

from __future__ import annotations

import pytest

from kindling.platform.storage import Storage

#: (table, index): the statements an organization's delete runs, by org_code.
INDEXES = [
    ("applications", "applications_org_code"),
    ("user_sessions", "user_sessions_org_code"),
    ("user_mfa_factors", "user_mfa_factors_org_code"),
]


@pytest.mark.parametrize(("table", "index"), INDEXES)
def test_an_org_code_lookup_uses_its_index(storage: Storage, table: str, index: str) -> None:
    with storage.engine.session(write=True) as session:
        if session.dialect == "sqlite":
            defined = session.one(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
            )
            assert defined is not None and defined["tbl_name"] == table
            for statement in ("SELECT id FROM", "DELETE FROM"):
                plan = session.all(
                    f"EXPLAIN QUERY PLAN {statement} {table} WHERE org_code = ?", ("org_x",)
                )
                details = " ".join(str(row["detail"]) for row in plan)
                assert f"USING INDEX {index}" in details or (
                    f"USING COVERING INDEX {index}" in details
                ), details
        else:
            defined = session.one(
                "SELECT tablename, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND indexname = ?",
                (index,),
            )
            assert defined is not None and defined["tablename"] == table
            assert "(org_code)" in str(defined["indexdef"])
            # An empty table is planned as a sequential scan whatever exists; with
            # sequential scans priced out, the planner picks the index if it can.
            session.execute("SET LOCAL enable_seqscan = off")
            for statement in ("SELECT id FROM", "DELETE FROM"):
                plan = session.all(f"EXPLAIN {statement} {table} WHERE org_code = ?", ("org_x",))
                text = " ".join(str(next(iter(row.values()))) for row in plan)
                assert index in text, text
