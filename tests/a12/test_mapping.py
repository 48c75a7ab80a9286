"""Every A12 case has a test, in its group's module, and docs/security.md names it.

The case modules are introspected, not parsed: a test counts when the module holds a
function named ``test_case_NN_...`` (its own or a re-exported one), which is what pytest
collects. The "A12 cases" table of docs/security.md must have a row per case whose test
names are exactly such functions of that case.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

CASES = range(1, 55)
#: A12's groups and the module each one's tests live in.
GROUPS = {
    "test_cases_token_endpoint": range(1, 23),
    "test_cases_bearer": range(23, 37),
    "test_cases_management_input": range(37, 45),
    "test_cases_faults": range(45, 55),
}
NAME = re.compile(r"test_case_(\d{2})_\w+")
DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def case_tests() -> dict[int, dict[str, str]]:
    """Case number → {test name: module} over the four case modules."""
    found: dict[int, dict[str, str]] = {}
    for module_name in GROUPS:
        module = importlib.import_module(f"tests.a12.{module_name}")
        for name, value in vars(module).items():
            match = NAME.fullmatch(name)
            if match and callable(value):
                found.setdefault(int(match.group(1)), {})[name] = module_name
    return found


def test_every_case_from_1_to_54_has_a_test() -> None:
    found = case_tests()
    missing = [n for n in CASES if n not in found]
    assert not missing, f"A12 cases without a test_case_NN_ test: {missing}"
    assert set(found) <= set(CASES), sorted(set(found) - set(CASES))


def test_each_cases_tests_are_in_its_groups_module() -> None:
    for number, tests in case_tests().items():
        (module,) = [m for m, cases in GROUPS.items() if number in cases]
        assert set(tests.values()) == {module}, (number, tests)


def _doc_rows() -> dict[int, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## A12 cases\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[int, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].isdigit():
            assert int(cells[0]) not in rows, f"case {cells[0]} has two rows"
            rows[int(cells[0])] = re.findall(r"`(test_case_\d{2}_\w+)`", cells[-1])
    return rows


def test_docs_security_maps_every_case_to_its_tests() -> None:
    rows, found = _doc_rows(), case_tests()
    assert sorted(rows) == list(CASES), sorted(set(CASES) ^ set(rows))
    for number, named in rows.items():
        assert named, f"case {number}: the table names no test"
        assert set(named) == set(found[number]), (number, named, sorted(found[number]))
