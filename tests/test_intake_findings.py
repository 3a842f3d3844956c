"""Intake keeps the report's own numbering: tracker details, the draft and the Planner checklist."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import docx

import automation
from automation.app import App
from automation.domain.publications import Finding, Publication, findings_from_json
from automation.jobs.intake import REPORT_JSON_MAX, report_json
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.server import Sandbox
from tests.recommendations_env import seed_settings

DEMO = Path(automation.__file__).parent / "demo_data"
SLUG = "counter-terrorism-joint-inspection-national-security-division"


def test_report_json_keeps_numbers_addressees_and_what_was_left_out() -> None:
    pub = Publication(
        key="k",
        title="T",
        link="https://hmicfrs.justiceinspectorates.gov.uk/publications/t/",
        published_on=dt.date(2023, 7, 20),
        recommendations=(Finding(number="19", text="Review.", addressee="CT Policing"),),
        recommendations_left_out=18,
        areas_for_improvement=(Finding(number="", text="Improve."),),
        causes_of_concern=(Finding(number="1", text="Concern."),),
    )
    details = json.loads(report_json(pub))
    assert details["recommendations"] == [{"number": "19", "text": "Review.", "for": "CT Policing"}]
    assert details["recommendations_left_out"] == 18
    assert findings_from_json(details["recommendations"]) == pub.recommendations
    assert findings_from_json(details["areas_for_improvement"]) == pub.areas_for_improvement
    assert findings_from_json(details["causes_of_concern"]) == pub.causes_of_concern


def test_report_json_drops_the_last_findings_when_too_long() -> None:
    many = tuple(Finding(number=str(n), text="x" * 2000) for n in range(1, 40))
    pub = Publication(
        key="k",
        title="T",
        link="https://hmicfrs.justiceinspectorates.gov.uk/publications/t/",
        published_on=dt.date(2023, 7, 20),
        recommendations=many,
    )
    text = report_json(pub)
    assert len(text) <= REPORT_JSON_MAX
    kept = findings_from_json(json.loads(text)["recommendations"])
    assert kept == many[: len(kept)]
    assert kept


def test_seed_report_pages_give_numbers_19_to_21_in_draft_and_checklist(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")  # the report's pages, served
    app = App(settings)
    provision(app)
    assert run_pass(app, today=dt.date(2023, 8, 8), reminders=False).failures == []
    app.resolve()
    [record] = app.tracker.all()
    assert record.recommendations == 21
    assert [r["number"] for r in record.report["recommendations"]] == ["19", "20", "21"]
    content = app.drive.download(app.resolve().drive_id, record.draft_item_id)
    text = [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]
    assert any(t.startswith("Recommendation 19: The senior national coordinator") for t in text)
    assert any(
        t.startswith("The report makes 21 recommendations; 3 are for policing") for t in text
    )
    details = app.planner.get_details(record.tasks["draft"]["id"])
    titles = sorted(entry["title"] for entry in details["checklist"].values())
    assert [t.split(":")[0] for t in titles] == [
        "Recommendation 19",
        "Recommendation 20",
        "Recommendation 21",
    ]
