"""A sandbox life that ends with the seed response Published (its report read: 19-21)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import docx

import automation
from automation.app import App
from automation.domain.record import TrackerRecord
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests import feeds
from tests.service_env import make_settings
from tests.tenant_edits import as_user
from tests.test_followup import approve_in_tracker, publish

DEMO = Path(automation.__file__).parent / "demo_data"
SLUG = "counter-terrorism-joint-inspection-national-security-division"
FILED = dt.date(2023, 8, 8)
APPROVED = dt.date(2023, 9, 1)
PUBLISHED = dt.date(2023, 9, 2)


def seed_settings(sandbox: Sandbox, state_dir: Path, **overrides: Any) -> Settings:
    """Settings that read the seed's report pages (served by the sandbox)."""
    html = "text/html; charset=utf-8"
    sandbox.set_page(
        f"/publications/{SLUG}/", (DEMO / "sample_report_page.html").read_bytes(), html
    )
    sandbox.set_page(
        f"/publication-html/{SLUG}/", (DEMO / "sample_report_html.html").read_bytes(), html
    )
    item = feeds.Item(
        title=feeds.SEED_TITLE,
        link=f"{sandbox.url}/publications/{SLUG}/",
        pub_date=feeds.SEED.pub_date,
        categories=feeds.SEED.categories,
    )
    sandbox.set_page("/feed/", feeds.rss([item]))
    return make_settings(sandbox, state_dir, fetch_report_pages=True, **overrides)


def clean(report: RunReport) -> RunReport:
    """The report, after checking the pass had no failures."""
    assert report.failures == [], report.failures
    return report


def seed_record(app: App) -> TrackerRecord:
    """The seed's tracker record."""
    [record] = [r for r in app.tracker.all() if r.title == feeds.SEED_TITLE]
    return record


def until_circulated(sandbox: Sandbox, app: App, *, same_day: bool = False) -> TrackerRecord:
    """Provision, file the seed, write and approve it, circulate it; then the website team
    publishes it (its address in the tracker, their task done) and the portal task is done.

    ``same_day``: a pass runs on the publishing day before the task is done (so that day's
    once-a-day sweep is behind, and the publishing pass must carry the rows itself).
    """
    provision(app)
    clean(run_pass(app, today=FILED, reminders=False))
    approve_in_tracker(sandbox, app, seed_record(app))
    clean(run_pass(app, today=APPROVED, reminders=False))
    if same_day:
        clean(run_pass(app, today=PUBLISHED, reminders=False))
    record = seed_record(app)
    publish(sandbox, app, record)
    return record


def replace_draft_text(
    sandbox: Sandbox, app: App, record: TrackerRecord, old: str, new: str
) -> None:
    """A person corrects the approved draft in Word (saved back to the library)."""
    drive_id = app.resolve().drive_id
    document = docx.Document(io.BytesIO(app.drive.download(drive_id, record.draft_item_id)))
    for paragraph in document.paragraphs:
        if old in paragraph.text:
            text = paragraph.text.replace(old, new)
            for run in paragraph.runs[1:]:
                run.text = ""
            paragraph.runs[0].text = text
    out = io.BytesIO()
    document.save(out)
    as_user(
        sandbox,
        "PUT",
        f"/drives/{drive_id}/items/{record.draft_item_id}/content",
        user_email("policy_officer"),
        data=out.getvalue(),
        headers={"Content-Type": "application/octet-stream"},
    )


def edit_row(sandbox: Sandbox, app: App, item_id: str, fields: dict[str, Any]) -> None:
    """A person edits a row of the recommendations list."""
    site = app.resolve().site_id
    list_id = app.state.section("recommendations_list")["id"]
    path = f"/sites/{site}/lists/{list_id}/items/{item_id}/fields"
    as_user(sandbox, "PATCH", path, user_email("policy_officer"), json=fields)
