"""A person's triage decision is honoured at once (issue 15, point 3).

Response required = No (or Status *Not required*) ends every reminder for the item,
completes its triage task and sets Status *Not required*; Yes sets it up as a response;
both say in the Triage reason column who decided and when.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from automation.app import App
from automation.domain.record import TrackerRecord
from automation.domain.relevance import Decision
from automation.domain.reminders import ReminderItem, ReminderPolicy, StageState, due_reminders
from automation.domain.workflow import decision_note, declined
from automation.jobs import reminders
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import graph_writes, make_settings
from tests.tenant_edits import edit_item

# The super-complaint is published 2 August 2023 (London): statutory deadline 26 September.
FILED_ON = dt.date(2023, 8, 8)
DEADLINE = dt.date(2023, 9, 26)


def _one(app: App) -> TrackerRecord:
    app.resolve()
    [record] = app.tracker.all()
    return record


def _triage_item(sandbox: Sandbox, tmp_path: Path) -> tuple[App, TrackerRecord]:
    app = App(make_settings(sandbox, tmp_path / "state"))
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SUPER_COMPLAINT]))
    assert run_pass(app, today=FILED_ON).failures == []
    record = _one(app)
    assert record.status == "Triage"
    assert record.deadline == DEADLINE
    assert "triage" in record.tasks
    return app, record


def _digests(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e for e in delivered(sandbox.tenant) if "digest" in str(e.get("key"))]


def _task_done(app: App, record: TrackerRecord, key: str) -> bool:
    return int(app.planner.get_task(record.tasks[key]["id"])["percentComplete"]) == 100


def test_no_ends_reminders_completes_triage_and_says_who(sandbox: Sandbox, tmp_path: Path) -> None:
    app, record = _triage_item(sandbox, tmp_path)
    # Filed on a working day, the triage item is in that day's digests ("Decide whether to
    # respond"); after the No there is none.
    before = len(_digests(sandbox))
    edit_item(
        sandbox, app, record.item_id, user_email("policy_officer"), {"ResponseRequired": "No"}
    )
    day = FILED_ON + dt.timedelta(days=1)
    assert run_pass(app, today=day).failures == []
    after = _one(app)
    assert after.status == "Not required"
    assert after.response_required == "No"
    assert after.triage_reason.endswith("Decided No by Priya Shah on 9 August 2023")
    assert after.triage_reason.startswith(record.triage_reason[:40])
    assert not after.lease
    assert _task_done(app, after, "triage")

    # Every day up to well past the deadline: not one digest about it, and nothing written.
    sandbox.clear_log()
    for offset in (14, 7, 3, 1, 0, -1, -4, -7):
        report = run_pass(app, today=DEADLINE - dt.timedelta(days=offset))
        assert report.failures == []
    assert _digests(sandbox)[before:] == []
    assert graph_writes(sandbox) == []


def test_the_decider_is_read_from_the_version_history(sandbox: Sandbox, tmp_path: Path) -> None:
    """A later write by the service (here a lease) does not make it the decider."""
    app, record = _triage_item(sandbox, tmp_path)
    officer = user_email("policy_officer")
    edit_item(sandbox, app, record.item_id, officer, {"ResponseRequired": "No"})
    app.tracker.patch(record.item_id, {"S55Lease": ""})
    assert run_pass(app, today=FILED_ON).failures == []
    assert "Decided No by Priya Shah on 8 August 2023" in _one(app).triage_reason


def test_status_not_required_on_a_triage_item_is_a_no(sandbox: Sandbox, tmp_path: Path) -> None:
    app, record = _triage_item(sandbox, tmp_path)
    edit_item(
        sandbox, app, record.item_id, user_email("policy_officer"), {"Status": "Not required"}
    )
    assert run_pass(app, today=FILED_ON).failures == []
    after = _one(app)
    assert after.response_required == "No"
    assert "Decided No by Priya Shah" in after.triage_reason
    assert _task_done(app, after, "triage")


def test_no_stops_reminders_even_before_follow_up_records_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Reminders read Response required themselves (follow-up may not have run yet)."""
    app, record = _triage_item(sandbox, tmp_path)
    before = len(_digests(sandbox))
    edit_item(
        sandbox, app, record.item_id, user_email("policy_officer"), {"ResponseRequired": "No"}
    )
    report = RunReport()
    reminders.run(app, report, today=DEADLINE - dt.timedelta(days=7))
    assert report.failures == []
    assert _digests(sandbox)[before:] == []


def test_yes_sets_up_the_response_and_says_who(sandbox: Sandbox, tmp_path: Path) -> None:
    app, record = _triage_item(sandbox, tmp_path)
    edit_item(
        sandbox, app, record.item_id, user_email("policy_officer"), {"ResponseRequired": "Yes"}
    )
    assert run_pass(app, today=dt.date(2023, 8, 10)).failures == []
    after = _one(app)
    # Status follows the stage tasks (issue 11): the first is the Chief Constable's comments.
    assert after.status == "Chief Constable comments"
    assert after.setup == "complete"
    assert after.triage_reason.endswith("Decided Yes by Priya Shah on 10 August 2023")
    assert _task_done(app, after, "triage")
    sandbox.clear_log()
    assert run_pass(app, today=dt.date(2023, 8, 10), reminders=False).failures == []
    assert graph_writes(sandbox) == []


def test_declined_is_a_decision_not_yet_carried_out() -> None:
    assert declined("No", "Triage")
    assert declined("No", "Drafting")
    assert declined("To be decided", "Not required")
    assert not declined("No", "Not required")
    assert not declined("No", "Circulated")
    assert not declined("Yes", "Not required")  # a contradiction for a person to resolve
    assert not declined("To be decided", "Triage")


def test_decision_note_is_written_once_and_fits_the_column() -> None:
    note = decision_note("x" * 300, Decision.NO, by="Priya Shah", on=dt.date(2024, 3, 5))
    assert len(note) <= 255
    assert note.endswith("Decided No by Priya Shah on 5 March 2024")
    assert decision_note(note, Decision.NO, by="Someone Else", on=dt.date(2024, 3, 6)) == note
    assert decision_note("", Decision.YES, by="", on=dt.date(2024, 3, 5)).startswith(
        "Decided Yes by a person"
    )


def test_no_reminder_of_any_kind_for_an_item_decided_no() -> None:
    stage = StageState(
        key="draft", title="Draft", assignee="a@x.test", due=dt.date(2024, 3, 1), completed=False
    )
    item = ReminderItem(
        key="k",
        marker="S55-1",
        title="t",
        status="Triage",
        owner="o@x.test",
        deadline=dt.date(2024, 3, 10),
        stages=(stage,),
        sent_ids=frozenset(),
        response_required="No",
    )
    policy = ReminderPolicy(manager="m@x.test")
    for day in range(1, 40):
        assert due_reminders([item], today=dt.date(2024, 2, day % 29 + 1), policy=policy) == []
