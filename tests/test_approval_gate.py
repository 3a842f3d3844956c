"""Issue 11 end to end on the sandbox: the approval gate, the hold, the statutory copies on
publication, the tracker moving with the work, reminders until Published."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import time
from pathlib import Path
from typing import Any

import docx
import pytest

from automation.app import App
from automation.documents import inspect_draft
from automation.domain.record import TrackerRecord
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered, message_mime
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests import feeds
from tests.service_env import graph_writes, make_settings
from tests.tenant_edits import as_user, complete_stage_task, edit_item, finish_draft
from tests.test_followup import PUBLISHED_URL, approve_in_tracker, publish

APPROVAL_DAY = dt.date(2023, 9, 1)
ON_APPROVAL = ("chief_constable", "panel", "website")
ON_PUBLICATION = ("hmicfrs", "home_secretary")
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"


def _setup(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> tuple[Settings, TrackerRecord]:
    settings = make_settings(sandbox, tmp_path / "state", **overrides)
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    assert run_pass(app, today=dt.date(2023, 8, 5), reminders=False).failures == []
    return settings, _record(app)


def _record(app: App) -> TrackerRecord:
    app.resolve()
    [record] = app.tracker.all()
    return record


@pytest.fixture
def filed(sandbox: Sandbox, tmp_path: Path) -> tuple[Settings, TrackerRecord]:
    return _setup(sandbox, tmp_path)


def _pass(settings: Settings, day: dt.date = APPROVAL_DAY, *, reminders: bool = False) -> Any:
    report = run_pass(App(settings), today=day, reminders=reminders)
    assert report.failures == []
    return report


def _sent(sandbox: Sandbox, marker: str) -> dict[str, list[dict[str, Any]]]:
    """Delivered messages whose key contains ``marker``, by the key's last part."""
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in delivered(sandbox.tenant):
        key = str(entry.get("key") or "")
        if marker in key:
            out.setdefault(key.rsplit("-", 1)[-1], []).append(entry)
    return out


def _notices(sandbox: Sandbox, kind: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in delivered(sandbox.tenant)
        if f"-{kind}-" in str(entry.get("key") or "") and "s55-notice" in str(entry["key"])
    ]


def _html(sandbox: Sandbox, entry: dict[str, Any]) -> str:
    mime = message_mime(sandbox.tenant, entry["mailbox"], entry["message_id"])
    message = email.message_from_bytes(mime, policy=email.policy.default)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def _complete_earlier_stages(sandbox: Sandbox, app: App, record: TrackerRecord) -> None:
    for key in ("cc_comments", "draft"):
        complete_stage_task(sandbox, app, record.tasks[key]["id"], user_email("policy_officer"))


def test_approving_a_draft_with_a_prompt_sends_nothing_and_says_why(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    _complete_earlier_stages(sandbox, app, record)  # only the draft itself is unfinished
    approve_in_tracker(sandbox, app, record, finish=False)
    _pass(settings)
    assert _sent(sandbox, "circulation") == {}
    after = _record(app)
    assert after.approval_problem.startswith(
        "Not circulated: approval by Sarah Taylor on 1 September 2023 refused: "
    )
    assert "template prompts left" in after.approval_problem
    assert len(after.approval_problem) <= 255
    assert after.status == "PCC approval"  # the approval is undone
    assert not after.approved_by
    [notice] = _notices(sandbox, "refused")
    assert notice["to"] == [settings.people.response_owner]
    assert "not been circulated" in _html(sandbox, notice)
    # Nothing more on later passes: one message per refused attempt.
    _pass(settings)
    assert len(_notices(sandbox, "refused")) == 1
    assert _sent(sandbox, "circulation") == {}


def test_an_earlier_stage_still_open_refuses_and_a_deleted_one_is_skipped(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    finish_draft(sandbox, app, record)
    # The office does not invite the Chief Constable's comments for this one: reopen it
    # (open: refused), then delete the task (skipped: approved).
    task = app.planner.get_task(record.tasks["cc_comments"]["id"])
    as_user(
        sandbox,
        "PATCH",
        f"/planner/tasks/{task['id']}",
        user_email("policy_officer"),
        json={"percentComplete": 0},
        headers={"If-Match": task["@odata.etag"]},
    )
    approve_in_tracker(sandbox, app, record, finish=False)
    _pass(settings)
    after = _record(app)
    assert "Invite the Chief Constable's comments' is not complete" in after.approval_problem
    assert after.status == "Chief Constable comments"
    task = app.planner.get_task(record.tasks["cc_comments"]["id"])
    as_user(
        sandbox,
        "DELETE",
        f"/planner/tasks/{task['id']}",
        user_email("policy_officer"),
        headers={"If-Match": task["@odata.etag"]},
    )
    approve_in_tracker(sandbox, app, record, finish=False)
    _pass(settings)
    after = _record(app)
    assert after.status == "Circulated"
    assert after.approval_problem == ""
    assert sorted(_sent(sandbox, "circulation")) == sorted(ON_APPROVAL)


def test_finished_and_approved_each_group_once_at_its_trigger(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _pass(settings)
    _pass(settings)
    sent = _sent(sandbox, "circulation")
    assert sorted(sent) == sorted(ON_APPROVAL)
    assert all(len(entries) == 1 for entries in sent.values())
    after = _record(app)
    assert after.status == "Circulated"
    assert not after.forwarded_hmicfrs
    assert not after.forwarded_home_secretary
    # The website team completes their task but forgets the address: nothing goes, the
    # item says why.
    complete_stage_task(sandbox, app, record.tasks["publish"]["id"], user_email("website"))
    _pass(settings, dt.date(2023, 9, 4))
    assert sorted(_sent(sandbox, "circulation")) == sorted(ON_APPROVAL)
    assert "Published web page' is empty" in _record(app).approval_problem
    # With the address (and the portal submission), the statutory copies go, once each.
    publish_rest(sandbox, app, record)
    _pass(settings, dt.date(2023, 9, 5))
    _pass(settings, dt.date(2023, 9, 5))
    sent = _sent(sandbox, "circulation")
    assert sorted(sent) == sorted(ON_APPROVAL + ON_PUBLICATION)
    for group in ON_PUBLICATION:
        [entry] = sent[group]
        assert entry["to"] == settings.recipients.addresses(group)
        assert PUBLISHED_URL in _html(sandbox, entry)
        [attachment] = entry["attachments"]
        assert attachment["name"].startswith("Norfolk PCC response - ")
    final = _record(app)
    assert final.status == "Published"
    assert final.approval_problem == ""


def publish_rest(sandbox: Sandbox, app: App, record: TrackerRecord) -> None:
    """The web address filled in and the portal task done (the publish task already is)."""
    edit_item(sandbox, app, record.item_id, user_email("website"), {"PublishedUrl": PUBLISHED_URL})
    complete_stage_task(sandbox, app, record.tasks["portal"]["id"], user_email("policy_officer"))


def test_office_use_checklist_complete_in_tracker_and_draft(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _pass(settings)
    publish(sandbox, app, record)
    _pass(settings, dt.date(2023, 9, 5))
    final = _record(app)
    assert final.status == "Published"
    assert all(
        (
            final.forwarded_chief_constable,
            final.forwarded_panel,
            final.forwarded_hmicfrs,
            final.submitted_portal,
            final.published_on_website,
            final.forwarded_home_secretary,
        )
    )
    content = app.drive.download(app.resolve().drive_id, final.draft_item_id)
    document = docx.Document(io.BytesIO(content))
    boxes = [element.get(f"{W14}val") for element in document.element.body.iter(f"{W14}checked")]
    assert boxes == ["1"] * 4
    assert inspect_draft(content).finished  # the response text is still there


def test_planner_completion_by_a_non_approver_sends_nothing_and_reopens_the_task(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    finish_draft(sandbox, app, record)
    complete_stage_task(sandbox, app, record.tasks["approval"]["id"], user_email("policy_officer"))
    _pass(settings)
    assert _sent(sandbox, "circulation") == {}
    task = app.planner.get_task(record.tasks["approval"]["id"])
    assert task["percentComplete"] == 0
    after = _record(app)
    assert "Priya Shah is not an approver (only Sarah Taylor may approve)" in (
        after.approval_problem
    )
    assert after.status == "PCC approval"
    [notice] = _notices(sandbox, "refused")
    assert "reopened" in _html(sandbox, notice)
    _pass(settings)
    assert len(_notices(sandbox, "refused")) == 1
    # The PCC then completes it: circulated.
    complete_stage_task(sandbox, app, record.tasks["approval"]["id"], user_email("pcc"))
    _pass(settings)
    assert sorted(_sent(sandbox, "circulation")) == sorted(ON_APPROVAL)
    assert _record(app).approved_by.startswith("Sarah Taylor")


def test_a_deputy_in_people_approvers_may_approve(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deputy = user_email("chief_executive")  # standing in for a deputy PCC
    monkeypatch.setenv("AUTOMATION_PEOPLE__APPROVERS", f'["{user_email("pcc")}", "{deputy}"]')
    settings, record = _setup(sandbox, tmp_path)
    assert settings.approvers == [user_email("pcc"), deputy]
    app = App(settings)
    finish_draft(sandbox, app, record)
    edit_item(sandbox, app, record.item_id, deputy, {"Status": "Approved"})
    _pass(settings)
    after = _record(app)
    assert after.status == "Circulated"
    assert after.approved_by.startswith("Mark Stokes")


def test_setting_status_back_within_the_hold_sends_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, record = _setup(sandbox, tmp_path, approval={"hold_minutes": 30})
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    report = _pass(settings)
    assert any("will be circulated at" in line for line in report.unfinished)
    assert _sent(sandbox, "circulation") == {}
    [preview] = _notices(sandbox, "preview")
    assert preview["to"] == [user_email("pcc")]
    assert preview["subject"].startswith("Will be circulated at ")
    assert [a["name"][-4:] for a in preview["attachments"]] == [".pdf"]
    held = _record(app)
    assert held.status == "Approved"
    assert held.approved_by.startswith("Sarah Taylor")
    _pass(settings)  # still within the hold: nothing new
    assert len(_notices(sandbox, "preview")) == 1
    edit_item(sandbox, app, record.item_id, user_email("pcc"), {"Status": "PCC approval"})
    _pass(settings)
    _pass(settings)
    assert _sent(sandbox, "circulation") == {}
    cancelled = _record(app)
    assert cancelled.status == "PCC approval"
    assert cancelled.approval == {}
    assert cancelled.approved_by == ""


def test_an_approval_is_circulated_when_the_hold_ends(sandbox: Sandbox, tmp_path: Path) -> None:
    settings, record = _setup(sandbox, tmp_path, approval={"hold_minutes": 0.03})
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _pass(settings)
    assert _sent(sandbox, "circulation") == {}
    time.sleep(2.0)  # the hold runs on the real clock, whatever day the pass is as of
    _pass(settings)
    assert sorted(_sent(sandbox, "circulation")) == sorted(ON_APPROVAL)
    assert len(_notices(sandbox, "preview")) == 1
    assert _record(app).status == "Circulated"


def test_status_follows_the_stage_tasks(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    _pass(settings, dt.date(2023, 8, 6))
    assert _record(app).status == "Chief Constable comments"
    officer = user_email("policy_officer")
    complete_stage_task(sandbox, app, record.tasks["cc_comments"]["id"], officer)
    _pass(settings, dt.date(2023, 8, 7))
    assert _record(app).status == "Drafting"
    complete_stage_task(sandbox, app, record.tasks["draft"]["id"], officer)
    _pass(settings, dt.date(2023, 8, 8))
    assert _record(app).status == "PCC approval"


def test_reminders_continue_for_a_circulated_unpublished_response(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _pass(settings)
    assert _record(app).status == "Circulated"
    before = len(delivered(sandbox.tenant))
    deadline = record.deadline
    assert deadline is not None
    for day in (deadline - dt.timedelta(days=3), deadline - dt.timedelta(days=1), deadline):
        _pass(settings, day, reminders=True)
    digests = [e for e in delivered(sandbox.tenant)[before:] if "digest" in str(e.get("key"))]
    assert digests
    sent = {str(entry) for entry in _record(app).reminders.get("sent", [])}
    assert any(entry.startswith(f"deadline:{deadline.isoformat()}") for entry in sent)
    assert any(entry.startswith("stage:publish:") for entry in sent)
    assert any(entry.startswith("stage:portal:") for entry in sent)


def test_circulation_emails_read_as_the_office_wrote_them(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    assert record.police_forces == "N/A"  # the seed is a national report
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _pass(settings)
    sent = _sent(sandbox, "circulation")
    for group in ("chief_constable", "panel"):
        [entry] = sent[group]
        html = _html(sandbox, entry)
        assert "Police force" not in html  # a national report names no force
        assert "sent by the Section 55 response service" not in html
        assert "Sarah Taylor, Police and Crime Commissioner" in html
        assert user_email("pcc") not in html  # a person by name and role, not mailbox
        assert settings.people.contact_name in html
        assert settings.people.contact_phone in html
        [attachment] = entry["attachments"]
        assert attachment["name"] == (
            "Norfolk PCC response - Counter Terrorism Joint Inspection - National security"
            " - 1 September 2023.pdf"
        )


def test_a_dry_run_names_each_email_and_its_addresses_and_sends_nothing(
    sandbox: Sandbox, filed: tuple[Settings, TrackerRecord]
) -> None:
    settings, record = filed
    app = App(settings)
    approve_in_tracker(sandbox, app, record, finish=False)

    def dry(day: dt.date) -> list[str]:
        sandbox.clear_log()
        report = run_pass(App(settings), today=day, reminders=False, dry_run=True)
        assert report.failures == []
        assert delivered_since == len(delivered(sandbox.tenant))
        return report.actions

    delivered_since = len(delivered(sandbox.tenant))
    [line] = dry(APPROVAL_DAY)
    assert "would refuse the approval of S55-1 by " in line
    assert "prompt" in line
    finish_draft(sandbox, app, record)
    lines = dry(APPROVAL_DAY)
    for group in ON_APPROVAL:
        to = ", ".join(settings.recipients.addresses(group))
        assert any(
            line.endswith(f"would email the response to {group} ({to})") for line in lines
        ), lines
    _pass(settings)
    publish(sandbox, app, record)
    delivered_since = len(delivered(sandbox.tenant))
    lines = dry(dt.date(2023, 9, 4))
    for group in ON_PUBLICATION:
        to = ", ".join(settings.recipients.addresses(group))
        assert any(
            line.endswith(f"would email the published response to {group} ({to})") for line in lines
        ), lines
    assert _record(app).status == "Circulated"


def test_an_empty_statutory_group_keeps_the_response_short_of_published_and_says_so(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    base = make_settings(sandbox, tmp_path / "base")
    without = {**base.recipients.model_dump(), "home_secretary": []}
    settings, record = _setup(sandbox, tmp_path, recipients=without)
    app = App(settings)
    approve_in_tracker(sandbox, app, record)
    _pass(settings)
    publish(sandbox, app, record)
    for _ in range(2):  # loud every pass, the item's line written once
        sandbox.clear_log()
        report = run_pass(App(settings), today=dt.date(2023, 9, 4), reminders=False)
        [failure] = report.failures
        assert "recipients.home_secretary empty in the settings" in failure
        assert "allow_missing_statutory_recipients" in failure
    assert graph_writes(sandbox) == []  # the second pass: nothing new to write
    stuck = _record(app)
    assert stuck.status == "Circulated"  # reminders go on
    assert "Not sent to the Home Secretary" in stuck.approval_problem
    assert sorted(_sent(sandbox, "circulation")) == sorted((*ON_APPROVAL, "hmicfrs"))
    # The address set: the copy goes at the next pass, and the response is Published.
    fixed = make_settings(sandbox, tmp_path / "state")
    _pass(fixed, dt.date(2023, 9, 5))
    final = _record(app)
    assert final.status == "Published"
    assert final.approval_problem == ""
    assert final.forwarded_home_secretary
    assert sorted(_sent(sandbox, "circulation")) == sorted(ON_APPROVAL + ON_PUBLICATION)
