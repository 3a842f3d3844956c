"""``automation report panel``: the Word paper and the CSV, written locally or uploaded."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import docx
import pytest

from automation.app import App
from automation.cli.main import main
from automation.documents.panel_report import chart_png, panel_csv
from automation.domain.panel import panel_data
from automation.domain.recommendations import RecommendationRow
from automation.passes import run_pass
from automation.sandbox.server import Sandbox
from tests.recommendations_env import PUBLISHED, clean, edit_row, seed_settings, until_circulated

AS_OF = dt.date(2023, 10, 20)


def _published(sandbox: Sandbox, tmp_path: Path) -> tuple[App, Path]:
    state = tmp_path / "state"
    app = App(seed_settings(sandbox, state))
    until_circulated(sandbox, app)
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    rows = sorted(app.recommendations.all(), key=lambda r: r.number)
    edit_row(sandbox, app, rows[0].item_id, {"Status": "In progress", "RAG": "Amber"})
    edit_row(
        sandbox,
        app,
        rows[1].item_id,
        {"Status": "Closed by HMICFRS", "RAG": "Green", "LastUpdate": "Closed at inspection."},
    )
    edit_row(
        sandbox,
        app,
        rows[2].item_id,
        {"RAG": "Red", "LastUpdate": '=HYPERLINK("x")', "LastUpdateOn": "2023-10-01"},
    )
    return app, state.parent / f"{state.name}.toml"


def test_the_panel_paper_lists_open_findings_with_the_right_counts(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = _published(sandbox, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code = main(
        [
            "report",
            "panel",
            "--config",
            str(config),
            "--as-of",
            AS_OF.isoformat(),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    assert "2 open of 3 findings" in capsys.readouterr().out
    document = docx.Document(str(out / "Panel report 2023-10-20.docx"))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "position as of 20 October 2023" in text
    assert "2 of the 3 findings tracked are open" in text
    assert "{{" not in text
    summary, findings = document.tables
    counts = {row.cells[0].text: row.cells[1].text for row in summary.rows[1:]}
    assert counts["Open"] == "1"
    assert counts["In progress"] == "1"
    assert counts["Closed by HMICFRS"] == "1"
    assert counts["Not applicable"] == "0"
    lines = [[cell.text for cell in row.cells] for row in findings.rows[1:]]
    assert [line[0].split(":")[0] for line in lines] == ["Recommendation 19", "Recommendation 21"]
    assert [line[3] for line in lines] == ["Amber", "Red"]
    assert [line[4] for line in lines] == ["92", "92"]  # days since 20 July 2023
    assert lines[1][6].startswith("1 October 2023")
    assert document.inline_shapes  # the chart


def test_the_csv_is_uploaded_to_panel_reports_and_replaced_on_a_rerun(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    app, config = _published(sandbox, tmp_path)
    args = ["report", "panel", "--config", str(config), "--as-of", AS_OF.isoformat()]
    assert main([*args, "--format", "csv"]) == 0
    assert main([*args, "--format", "csv"]) == 0
    assert main(args) == 0
    drive_id = app.resolve().drive_id
    folder = app.drive.get_by_path(drive_id, "Panel reports")
    assert folder is not None
    item = app.drive.get_by_path(drive_id, "Panel reports/Panel report 2023-10-20.csv")
    assert item is not None
    assert app.drive.get_by_path(drive_id, "Panel reports/Panel report 2023-10-20.docx")
    content = app.drive.download(drive_id, str(item["id"])).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [r["Number"] for r in rows] == ["19", "21"]
    assert rows[1]["Last update"] == '\'=HYPERLINK("x")'  # no formula for a spreadsheet


def test_hand_made_rows_and_an_empty_list_render() -> None:
    rows = [
        RecommendationRow(item_id="1", title="Own action", status="Open", rag="Red"),
        RecommendationRow(item_id="2", status="Complete \u2013 awaiting HMICFRS"),
    ]
    data = panel_data(rows, as_of=AS_OF)
    assert data.open_count == 1
    assert [g.report for g in data.groups] == ["(no report named)"]
    assert dict(data.rag_counts)["Red"] == 1
    assert b"Own action" in panel_csv(data)
    assert chart_png(data.status_counts, title="t").startswith(b"\x89PNG")
    empty = panel_data([], as_of=AS_OF)
    assert empty.groups == ()
    assert chart_png(empty.status_counts, title="t").startswith(b"\x89PNG")
