"""docs/tracker-columns.md is the tracker's column contract: it names every column provisioned."""

from __future__ import annotations

from pathlib import Path

from automation.domain.workflow import Status
from automation.graph.tracker_list import COLUMNS

DOC = Path(__file__).resolve().parents[1] / "docs" / "tracker-columns.md"


def test_the_contract_names_every_column_with_its_display_name() -> None:
    rows = {
        line.split("|")[1].strip(): line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
    }
    for column in COLUMNS:
        assert column["name"] in rows, column["name"]
        assert f"| {column['displayName']} |" in rows[column["name"]], column["name"]
    assert set(rows) - {"column"} == {"Title", *(c["name"] for c in COLUMNS)}


def test_the_contract_lists_every_status_choice() -> None:
    line = next(
        line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| Status")
    )
    assert ", ".join(status.value for status in Status) in line
