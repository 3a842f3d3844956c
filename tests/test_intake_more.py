"""Enrichment from a report page, a person's later decision, and a delta resync."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import docx

from automation.app import App
from automation.domain.record import TrackerRecord
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered
from automation.sandbox.routes.sites import expire_delta_tokens
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import graph_writes, make_settings
from tests.tenant_edits import as_user
from tests.test_followup import approve_in_tracker

PAGE = Path(__file__).resolve().parent / "fixtures" / "illustrative_landing_page.html"


def _records(app: App) -> list[TrackerRecord]:
    app.resolve()
    return app.tracker.all()


def test_report_page_enrichment_reaches_tracker_draft_and_checklist(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path / "state", fetch_report_pages=True)
    app = App(settings)
    provision(app)
    sandbox.set_page("/publications/ct-joint/", PAGE.read_bytes(), "text/html; charset=utf-8")
    item = feeds.Item(
        title=feeds.SEED_TITLE,
        link=f"{sandbox.url}/publications/ct-joint/",
        pub_date=feeds.SEED.pub_date,
        categories=feeds.SEED.categories,
    )
    sandbox.set_page("/feed/", feeds.rss([item]))
    assert run_pass(app, today=dt.date(2023, 8, 8), reminders=False).failures == []
    [record] = _records(app)
    assert record.recommendations == 4
    assert len(record.report["recommendations"]) == 4
    content = app.drive.download(app.resolve().drive_id, record.draft_item_id)
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)
    assert "Recommendation 1:" in text
    assert "Recommendation 4:" in text
    details = app.planner.get_details(record.tasks["draft"]["id"])
    titles = sorted(item["title"] for item in details["checklist"].values())
    assert len(titles) == 4
    assert titles[0].startswith("Recommendation 1:")


def test_person_decides_yes_then_draft_and_tasks_follow(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SUPER_COMPLAINT]))
    run_pass(app, today=dt.date(2023, 8, 8), reminders=False)
    [record] = _records(app)
    assert record.status == "Triage"
    assert record.draft_item_id == ""
    ws = app.resolve()
    as_user(
        sandbox,
        "PATCH",
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/fields",
        user_email("policy_officer"),
        json={"ResponseRequired": "Yes"},
    )
    assert run_pass(app, today=dt.date(2023, 8, 9), reminders=False).failures == []
    [after] = _records(app)
    # Status follows the open stage task (issue 11): the Chief Constable's comments first.
    assert after.status == "Chief Constable comments"
    assert after.setup == "complete"
    assert after.draft_item_id
    assert set(after.tasks) == {"triage"} | {stage.key for stage in settings.stages}


def test_expired_delta_link_resyncs_without_repeating_anything(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    run_pass(app, today=dt.date(2023, 8, 8), reminders=False)
    [record] = _records(app)
    approve_in_tracker(sandbox, app, record)
    run_pass(app, today=dt.date(2023, 9, 1), reminders=False)
    sent = len(delivered(sandbox.tenant))
    assert sent == 3  # the groups sent on approval (issue 11: HMICFRS on publication)
    expire_delta_tokens(sandbox.tenant, app.resolve().list_id)
    sandbox.clear_log()
    report = run_pass(app, today=dt.date(2023, 9, 1), reminders=False)
    assert report.failures == []
    assert any(e["status"] == 410 for e in sandbox.request_log())
    assert graph_writes(sandbox) == []
    assert len(delivered(sandbox.tenant)) == sent
