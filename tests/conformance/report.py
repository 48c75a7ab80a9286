"""The session summary of the conformance walk: coverage per check, printed at the end.

A plugin registered by ``tests/conftest.py`` for every run. It reads each report's node id
(``tests/test_conformance.py::<check>[<engine>-<operationId>]``), so it works the same in
one process and under pytest-xdist, whose controller gets the workers' reports but collects
nothing itself. It imports the conformance framework (the contract, the routes) only when
a conformance check has reported, so a run of other tests pays nothing for it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

REPORT_PLUGIN = "kindling-conformance-report"
MODULE = "tests/test_conformance.py"
CHECKS = {
    "test_route_requires_authentication": "route (a)",
    "test_scope_is_enforced": "scope (b)",
    "test_valid_call_matches_contract": "valid call (c)",
    "test_declaration_matches_contract": "declaration",
}


def report_key(nodeid: str) -> tuple[str, str, str] | None:
    """(check, operationId, engine) of a conformance check's node id; None for others."""
    prefix = MODULE + "::"
    if not nodeid.startswith(prefix) or not nodeid.endswith("]"):
        return None
    name, _, params = nodeid[len(prefix) : -1].partition("[")
    check = CHECKS.get(name)
    if check is None or not params:
        return None
    engine, _, op_id = params.rpartition("-")
    return check, op_id, engine or "-"


class ConformanceReport:
    """Collects the walk's per-operation outcomes and prints the coverage at the end."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = report_key(report.nodeid)
        if key is None:
            return
        if report.when != "call" and report.passed:
            return
        check, op_id, engine = key
        seen = self.outcomes[(check, op_id)]
        if seen.get(engine) != "failed":
            seen[engine] = "failed" if report.failed else report.outcome

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes:
            return
        from tests.conformance.framework import (
            CHECKED_TAGS,
            CONTRACT,
            IMPLEMENTED,
            IMPLEMENTED_IDS,
            TOTAL,
        )

        tr = terminalreporter
        verbose = tr.config.option.verbose > 0
        tr.write_sep("=", "Kinde Management API conformance")
        tr.write_line(
            f"implemented {len(IMPLEMENTED)}/{TOTAL} operations of the contract "
            f"(Kindling routes with the spec's method and path)"
        )
        per_tag_total = Counter(op.tag for op in CONTRACT.operations)
        per_tag_done = Counter(op.tag for op in IMPLEMENTED)
        tags = sorted(per_tag_total, key=lambda t: (t not in CHECKED_TAGS, str(t)))
        tr.write_line(
            "  by tag: " + ", ".join(f"{t} {per_tag_done[t]}/{per_tag_total[t]}" for t in tags if t)
        )
        for check in CHECKS.values():
            results = {op: r for (c, op), r in self.outcomes.items() if c == check}
            if not results:
                continue
            failed = sorted(op for op, r in results.items() if "failed" in r.values())
            passed = [op for op, r in results.items() if set(r.values()) == {"passed"}]
            line = f"  {check}: {len(passed)}/{len(results)} operations passed"
            if failed:
                detail = ", ".join(
                    f"{op}[{'+'.join(sorted(e for e, o in results[op].items() if o == 'failed'))}]"
                    for op in failed
                )
                line += f"; failed: {detail}"
            tr.write_line(line)
        unchecked = sorted(op.operation_id for op in IMPLEMENTED if op.tag not in CHECKED_TAGS)
        if unchecked:
            tr.write_line(
                "  implemented outside the checked tags (route and scope only): "
                + ", ".join(unchecked)
            )
        missing = [op for op in CONTRACT.operations if op.operation_id not in IMPLEMENTED_IDS]
        missing_checked = [op for op in missing if op.tag in CHECKED_TAGS]
        if verbose:
            tr.write_line(
                "  not implemented in the checked tags: "
                + ", ".join(op.operation_id for op in missing_checked)
            )
        else:
            tr.write_line(
                f"  not implemented: {len(missing)} ({len(missing_checked)} in the checked "
                "tags; -v lists them)"
            )


def register(config: pytest.Config) -> None:
    """Register the plugin once; an xdist worker prints no summary (its controller does)."""
    manager = config.pluginmanager
    if manager.get_plugin(REPORT_PLUGIN) is None and not hasattr(config, "workerinput"):
        manager.register(ConformanceReport(), REPORT_PLUGIN)
