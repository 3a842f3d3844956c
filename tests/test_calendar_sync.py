"""Deadlines in the office calendar, end to end: once per due date, moved, removed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from automation.app import App
from automation.graph.calendar import EventSpec, OfficeCalendar
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.faults import OneOff
from automation.sandbox.routes.mail import restrict_mailboxes
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests import feeds
from tests.recommendations_env import clean
from tests.service_env import graph_writes, make_settings
from tests.tenant_edits import as_user, edit_item

FILED = dt.date(2023, 8, 8)
STAGES = ("cc_comments", "draft", "approval", "publish", "portal")
EVENTS = 1 + len(STAGES)  # the statutory deadline and each stage


def _settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    settings = make_settings(sandbox, tmp_path / "state", calendar={"enabled": True})
    # The app may reach the office mailbox only (RBAC for Applications / access policy).
    restrict_mailboxes(sandbox.tenant, [settings.mailbox])
    return settings


def _events(sandbox: Sandbox, mailbox: str) -> list[dict[str, Any]]:
    store = sandbox.tenant.table("calendars").get(mailbox, {})
    return list(store.get("events", {}).values())


def _by_key(app: App, key: str) -> dict[str, list[dt.date | None]]:
    calendar = app.calendar
    assert isinstance(calendar, OfficeCalendar)
    keys = [f"{key}#deadline", *(f"{key}#{s}" for s in STAGES)]
    return {k.rsplit("#", 1)[1]: [e.day for e in v] for k, v in calendar.find(keys).items()}


def test_deadline_and_stage_dates_are_events_once_and_follow_changes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path)
    app = App(settings)
    provision(app)
    report = clean(run_pass(app, today=FILED, reminders=False))
    assert any("calendar:" in line for line in report.actions)
    [record] = app.tracker.all()
    events = _by_key(app, record.key)
    assert events["deadline"] == [dt.date(2023, 9, 13)]
    for stage in STAGES:
        task = app.planner.get_task(record.tasks[stage]["id"])
        assert len(events[stage]) == 1
        assert events[stage][0] == dt.date.fromisoformat(task["dueDateTime"][:10]) or events[stage][
            0
        ] == dt.date.fromisoformat(task["dueDateTime"][:10]) + dt.timedelta(days=1)
    raw = _events(sandbox, settings.mailbox)
    assert len(raw) == EVENTS
    assert all(e["isAllDay"] for e in raw)
    # Passes the same day (idle) touch no event; the next day's check changes nothing.
    sandbox.clear_log()
    clean(run_pass(app, today=FILED, reminders=False))
    assert not [e for e in sandbox.request_log() if "/events" in str(e.get("path", ""))]
    clean(run_pass(app, today=FILED + dt.timedelta(days=1), reminders=False))
    assert len(_events(sandbox, settings.mailbox)) == EVENTS
    # Staff move the draft task and the deadline: the events follow (within a day).
    task = app.planner.get_task(record.tasks["draft"]["id"])
    as_user(
        sandbox,
        "PATCH",
        f"/planner/tasks/{task['id']}",
        user_email("policy_officer"),
        json={"dueDateTime": "2023-08-30T16:00:00Z"},
        headers={"If-Match": task["@odata.etag"]},
    )
    edit_item(
        sandbox,
        app,
        record.item_id,
        user_email("policy_officer"),
        {"ResponseDeadline": "2023-09-14T23:00:00Z"},
    )
    clean(run_pass(app, today=FILED + dt.timedelta(days=2), reminders=False))
    events = _by_key(app, record.key)
    assert events["draft"] == [dt.date(2023, 8, 30)]
    assert events["deadline"] == [dt.date(2023, 9, 15)]
    assert len(_events(sandbox, settings.mailbox)) == EVENTS
    # A person decides no response is needed: the events go in that pass.
    edit_item(
        sandbox, app, record.item_id, user_email("policy_officer"), {"ResponseRequired": "No"}
    )
    report = clean(run_pass(app, today=FILED + dt.timedelta(days=2), reminders=False))
    assert _events(sandbox, settings.mailbox) == []
    assert any("removed" in line for line in report.actions)


def test_a_duplicate_event_is_deleted(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = _settings(sandbox, tmp_path)
    app = App(settings)
    provision(app)
    sandbox.faults.configure({"event_transaction_window": 0})
    clean(run_pass(app, today=FILED, reminders=False))
    [record] = app.tracker.all()
    calendar = app.calendar
    assert isinstance(calendar, OfficeCalendar)
    [event] = calendar.find([f"{record.key}#deadline"])[f"{record.key}#deadline"]
    # A second event with the same key (another instance's lost answer, say).
    calendar.create([EventSpec(key=event.key, subject=event.subject, day=event.day or FILED)])
    assert len(_events(sandbox, settings.mailbox)) == EVENTS + 1
    sandbox.clear_log()
    clean(run_pass(app, today=FILED + dt.timedelta(days=1), reminders=False))
    assert len(_events(sandbox, settings.mailbox)) == EVENTS
    assert [w["method"] for w in graph_writes(sandbox)] == ["DELETE"]


def test_a_create_whose_answer_is_lost_is_looked_up_not_repeated(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path)
    app = App(settings)
    provision(app)
    # Outlook makes the event, the answer is lost, and no transactionId saves the day.
    sandbox.faults.configure({"event_transaction_window": 0})
    sandbox.faults.add_one_off(OneOff(method="POST", path=r"/events$", status=500, when="after"))
    calendar = app.calendar
    assert isinstance(calendar, OfficeCalendar)
    spec = EventSpec(key="k#deadline", subject="Section 55 deadline: K", day=FILED)
    [(key, made)] = calendar.create([spec]).items()
    assert key == "k#deadline"
    assert not isinstance(made, Exception)
    assert made.day == FILED
    assert len(_events(sandbox, settings.mailbox)) == 1


def test_status_not_required_set_by_hand_removes_the_events_in_the_daily_check(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path)
    app = App(settings)
    provision(app)
    clean(run_pass(app, today=FILED, reminders=False))
    [record] = app.tracker.all()
    assert len(_events(sandbox, settings.mailbox)) == EVENTS
    edit_item(
        sandbox, app, record.item_id, user_email("policy_officer"), {"Status": "Not required"}
    )
    run_pass(app, today=FILED, reminders=False)  # the same day: left for the daily check
    run_pass(app, today=FILED + dt.timedelta(days=1), reminders=False)
    assert _events(sandbox, settings.mailbox) == []
