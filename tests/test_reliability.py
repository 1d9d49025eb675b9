"""docs/reliability.md's bad-input table is true: every row names a test that exists and asserts the row's
message, and the message is text gspmc's source really raises."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
AREAS = {"readers", "extraction", "describe", "embed", "fit", "predict", "export", "enroll", "studio"}


def bad_input_rows() -> list[dict[str, str]]:
    """The rows of the first table (``| area | bad input | message (excerpt) | test |``)."""
    rows, in_table = [], False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| area | bad input |"):
            in_table = True
            continue
        if in_table and line.startswith("|---"):
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 4, line
            message, test = (re.fullmatch(r"`(.+)`", c) for c in cells[2:])
            assert message and test, line
            rows.append({"area": cells[0], "input": cells[1], "message": message.group(1), "test": test.group(1)})
    return rows


def _test_source(test: str) -> str:
    path, _, name = test.partition("::")
    file = ROOT / path
    assert file.is_file(), f"{test}: no such test file"
    src = file.read_text(encoding="utf-8")
    for node in ast.parse(src).body:
        if isinstance(node, ast.FunctionDef) and node.name == name.split("[")[0]:
            return ast.get_source_segment(src, node) or ""
    raise AssertionError(f"{test}: no such test function")


def _source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "src" / "gspmc").rglob("*.py")))


def problems(rows: list[dict[str, str]]) -> list[str]:
    """What is wrong with the table's rows (empty: every row is handled and tested)."""
    out = []
    if len(rows) < 25:
        out.append(f"only {len(rows)} rows (at least 25 expected)")
    if len({r["input"] for r in rows}) != len(rows):
        out.append("a bad input is listed twice")
    if not {r["area"] for r in rows} <= AREAS:
        out.append(f"unknown area(s) {sorted({r['area'] for r in rows} - AREAS)}")
    source = _source_text()
    for row in rows:
        try:
            test = _test_source(row["test"])
        except AssertionError as err:
            out.append(str(err))
            continue
        asserted = re.sub(r"\\([^A-Za-z0-9])", r"\1", test)  # match=r"a\(s\)" asserts "a(s)"
        if row["message"] not in asserted:
            out.append(f"{row['test']} does not check {row['message']!r}")
        if row["message"] not in source:
            out.append(f"{row['message']!r} is not raised anywhere in src/gspmc")
    return out


def test_every_row_is_handled_and_tested() -> None:
    rows = bad_input_rows()
    assert len({r["area"] for r in rows}) >= 6
    assert problems(rows) == []


def test_the_check_catches_a_false_row() -> None:
    """A row whose test does not check its message, or whose message gspmc never raises, is caught."""
    rows = bad_input_rows()
    wrong_test = dict(rows[0], input="x", test=rows[-1]["test"])  # a readers message, an export test
    made_up = dict(rows[0], input="y", message="a message gspmc never prints", test="tests/test_reliability.py::nope")
    found = problems([*rows, wrong_test, made_up])
    assert any("does not check" in p for p in found)
    assert "tests/test_reliability.py::nope: no such test function" in found
