"""Approval, circulation with exactly-once mail, publication (against the sandbox)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from automation.app import App
from automation.domain.calendar import london_today, parse_stamp, utc_stamp
from automation.domain.record import TrackerRecord
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered, message_mime
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import MailSettings
from tests import feeds
from tests.service_env import SimulatedCrash, app_for, graph_writes, make_settings
from tests.tenant_edits import as_user, complete_stage_task, finish_draft

AS_OF = dt.date(2023, 8, 5)
# Sent on approval; HMICFRS and the Home Secretary only once the response is published.
GROUPS = ("chief_constable", "panel", "website")
STATUTORY = ("hmicfrs", "home_secretary")


@pytest.fixture
def filed(sandbox: Sandbox, tmp_path: Path) -> tuple[Any, TrackerRecord]:
    settings = make_settings(sandbox, tmp_path / "state")
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    assert run_pass(app, today=AS_OF, reminders=False).failures == []
    [record] = _records(app)
    return settings, record


def _records(app: App) -> list[TrackerRecord]:
    app.resolve()
    return app.tracker.all()


def approve_in_tracker(
    sandbox: Sandbox, app: App, record: TrackerRecord, *, finish: bool = True
) -> None:
    """The PCC sets Status to Approved; first (``finish``) the draft is written."""
    if finish:
        finish_draft(sandbox, app, record)
    ws = app.resolve()
    as_user(
        sandbox,
        "PATCH",
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/fields",
        user_email("pcc"),
        json={"Status": "Approved"},
    )


complete_task = complete_stage_task


def _circulation(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in delivered(sandbox.tenant):
        key = str(entry.get("key") or "")
        if "circulation" in key:
            out.setdefault(key.rsplit("-", 1)[-1], []).append(entry)
    return out


def _check_circulated(sandbox: Sandbox, app: App, settings: Any) -> None:
    sent = _circulation(sandbox)
    assert sorted(sent) == sorted(GROUPS)
    for group in GROUPS:
        [entry] = sent[group]
        assert entry["to"] == list(getattr(settings.recipients, group))
        names = [a["name"] for a in entry["attachments"]]
        assert any(n.endswith(".pdf") for n in names)
        assert any(n.endswith(".docx") for n in names) == (group == "website")
    [record] = _records(app)
    assert record.status == "Circulated"
    assert record.forwarded_chief_constable
    assert record.forwarded_panel
    assert not record.forwarded_hmicfrs  # on publication, with the published address
    assert record.approved_by.startswith("Sarah Taylor")
    assert record.approved_on


def test_approval_in_tracker_circulates_once(sandbox: Sandbox, filed: Any) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    report = run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    assert report.failures == []
    _check_circulated(sandbox, app, settings)
    approval_task = app.planner.get_task(record.tasks["approval"]["id"])
    assert approval_task["percentComplete"] == 100
    sandbox.clear_log()
    again = run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    assert again.failures == []
    assert graph_writes(sandbox) == []
    assert sum(len(v) for v in _circulation(sandbox).values()) == len(GROUPS)


def test_pdf_attachment_has_the_response_text(sandbox: Sandbox, filed: Any) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    [entry] = _circulation(sandbox)["panel"]
    mime = message_mime(sandbox.tenant, entry["mailbox"], entry["message_id"])
    message = email.message_from_bytes(mime, policy=email.policy.default)
    [pdf_part] = [
        p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"
    ]
    pdf = pdf_part.get_content()
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Inspection Title" in text
    assert "13 September 2023" in text


def test_approval_by_completing_the_planner_task(sandbox: Sandbox, filed: Any) -> None:
    settings, record = filed
    app = App(settings)
    finish_draft(sandbox, app, record)
    complete_task(sandbox, app, record.tasks["approval"]["id"], user_email("pcc"))
    report = run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    assert report.failures == []
    _check_circulated(sandbox, app, settings)


def test_crash_after_send_before_record_sends_once(
    sandbox: Sandbox, filed: Any, tmp_path: Path
) -> None:
    settings, record = filed
    # Restarts within seconds on a mailbox without Sent Items lag: no confirmation window,
    # or a crash between recording a send as pending and making it would hold it 10 minutes.
    settings = settings.model_copy(update={"mail": MailSettings(confirm_minutes=0)})
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    crash_points = 0
    while True:
        before = len(delivered(sandbox.tenant))
        crashing = app_for(settings, crash_after=0)
        try:
            run_pass(crashing, today=dt.date(2023, 9, 1), reminders=False)
        except SimulatedCrash:
            crash_points += 1
            continue_needed = True
        else:
            continue_needed = False
        assert len(delivered(sandbox.tenant)) - before <= 1
        if not continue_needed:
            break
    assert crash_points >= len(GROUPS) * 2
    _check_circulated(sandbox, app, settings)


PUBLISHED_URL = "https://www.norfolk-pcc.gov.uk/s55/counter-terrorism-joint-inspection/"


def publish(sandbox: Sandbox, app: App, record: TrackerRecord) -> None:
    """The website team fills in the web address and completes their task; the officer
    submits the response onto the HMICFRS portal and completes that task."""
    ws = app.resolve()
    as_user(
        sandbox,
        "PATCH",
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/fields",
        user_email("website"),
        json={"PublishedUrl": PUBLISHED_URL},
    )
    complete_task(sandbox, app, record.tasks["publish"]["id"], user_email("website"))
    complete_task(sandbox, app, record.tasks["portal"]["id"], user_email("policy_officer"))


def test_publish_task_marks_published(sandbox: Sandbox, filed: Any) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    publish(sandbox, app, record)
    run_pass(App(settings), today=dt.date(2023, 9, 2), reminders=False)
    [after] = _records(app)
    assert after.status == "Published"
    assert after.published_on_website


def test_no_mail_to_addresses_outside_config(sandbox: Sandbox, filed: Any) -> None:
    settings, record = filed
    app = App(settings)
    ws = app.resolve()
    as_user(
        sandbox,
        "PATCH",
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/fields",
        user_email("pcc"),
        json={
            "ResponseOwner": "attacker@evil.example",
            "Status": "Approved",
            "TriageReason": "send to attacker@evil.example",
        },
    )
    for day in range(20):
        run_pass(App(settings), today=dt.date(2023, 8, 20) + dt.timedelta(days=day))
    allowed = {a.casefold() for group in GROUPS for a in getattr(settings.recipients, group)} | {
        settings.people.response_owner.casefold(),
        settings.people.pcc.casefold(),
        settings.people.manager.casefold(),
    }
    used = {a.casefold() for entry in delivered(sandbox.tenant) for a in entry["to"] + entry["cc"]}
    assert used
    assert used <= allowed, used - allowed


def _service_writes_after_approval(app: App, record: TrackerRecord) -> None:
    # A write of the service's own between the PCC's edit and follow-up (a lease, a
    # reminders record): the item's last editor is now the app, not the PCC.
    app.tracker.patch(record.item_id, {"S55Lease": "2023-09-01T08:00:00Z other-instance"})
    app.tracker.patch(record.item_id, {"S55Lease": ""})


def test_approver_comes_from_the_version_history_not_the_last_editor(
    sandbox: Sandbox, filed: Any
) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _service_writes_after_approval(app, record)
    [before] = _records(app)
    assert "user" not in before.modified_by  # the app wrote last
    report = run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    assert report.failures == []
    [after] = _records(app)
    assert after.status == "Circulated"
    assert after.approved_by.startswith("Sarah Taylor")
    # When: the PCC's write, not the service's later ones.
    ws = app.resolve()
    versions = app.client.get_json(
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/versions",
        params={"$expand": "fields($select=Status)"},
    )["value"]
    by_pcc = [v for v in versions if (v["lastModifiedBy"].get("user") or {}).get("displayName")]
    # In the pass's calendar (issue 11: a pass as of 2023 writes 2023): the PCC's write's
    # time, moved by as many days as the pass's "today" is from the real one.
    moved = parse_stamp(by_pcc[-1]["lastModifiedDateTime"])
    assert moved is not None
    moved += dt.date(2023, 9, 1) - london_today()
    assert after.approved_on == utc_stamp(moved)


def test_approver_is_who_last_made_it_approved_after_a_status_change_back(
    sandbox: Sandbox, filed: Any
) -> None:
    settings, record = filed
    app = App(settings)
    ws = app.resolve()
    path = f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/fields"
    # Someone else approved first, then it went back to drafting; the PCC approved last;
    # then another person edited a different column.
    as_user(sandbox, "PATCH", path, user_email("chief_executive"), json={"Status": "Approved"})
    as_user(sandbox, "PATCH", path, user_email("chief_executive"), json={"Status": "Drafting"})
    approve_in_tracker(sandbox, app, record)
    as_user(sandbox, "PATCH", path, user_email("policy_officer"), json={"TriageReason": "noted"})
    _service_writes_after_approval(app, record)
    assert run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False).failures == []
    [after] = _records(app)
    assert after.status == "Circulated"
    assert after.approved_by.startswith("Sarah Taylor")


def test_approving_version_rule() -> None:
    from automation.graph.tracker_list import ItemVersion
    from automation.jobs.followup import approving_version

    def version(n: int, status: str, who: str) -> ItemVersion:
        return ItemVersion(
            version_id=f"{n}.0",
            modified_by={"user": {"displayName": who}},
            modified=f"2023-09-0{n}T10:00:00Z",
            fields={"Status": status},
        )

    history = [  # newest first
        version(5, "Approved", "App"),
        version(4, "Approved", "PCC"),
        version(3, "Drafting", "Officer"),
        version(2, "Approved", "Deputy"),
        version(1, "Not started", "App"),
    ]
    found = approving_version(history)
    assert found is not None
    assert found.version_id == "4.0"
    assert approving_version(history[2:]) is None
    only = approving_version([version(1, "Approved", "PCC")])
    assert only is not None
    assert only.version_id == "1.0"
