"""Progress requests end to end: one digest per owner per cycle, one escalation, exactly once."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from automation.app import App
from automation.jobs import progress
from automation.passes import run_pass
from automation.sandbox.faults import OneOff
from automation.sandbox.routes.mail import delivered
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests.recommendations_env import PUBLISHED, clean, edit_row, seed_settings, until_circulated
from tests.service_env import CrashingTransport, SimulatedCrash

OWNER = user_email("policy_officer")
MANAGER = user_email("chief_executive")
CYCLE_START = dt.date(2023, 10, 2)  # first working day of October: the quarterly request
CYCLE_DUE = dt.date(2023, 10, 16)  # ten working days later


def _progress_mail(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        m for m in delivered(sandbox.tenant) if str(m.get("key") or "").startswith("s55-progress")
    ]


def _published(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> App:
    app = App(seed_settings(sandbox, tmp_path / "state", **overrides))
    until_circulated(sandbox, app)
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    assert len(app.recommendations.all()) == 3
    return app


def test_a_cycle_sends_one_digest_per_owner_and_escalates_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    app = _published(sandbox, tmp_path)
    # No request before the cycle: the rows' first update is due in October.
    clean(run_pass(app, today=dt.date(2023, 9, 20), reminders=False))
    assert _progress_mail(sandbox) == []
    report = clean(run_pass(app, today=CYCLE_START, reminders=False))
    [digest] = _progress_mail(sandbox)
    assert digest["to"] == [OWNER]
    assert digest["key"].startswith("s55-progress-2023-10-")
    assert "3 HMICFRS findings" in digest["subject"]
    assert any("progress digest sent" in line for line in report.actions)
    for row in app.recommendations.all():
        assert row.progress["requested"] == {"2023-10": "2023-10-02"}
        assert row.next_update_due == CYCLE_DUE
    # Later passes in the cycle send nothing more.
    clean(run_pass(app, today=CYCLE_START, reminders=False))
    clean(run_pass(app, today=CYCLE_START + dt.timedelta(days=3), reminders=False))
    assert len(_progress_mail(sandbox)) == 1
    # The owner updates Recommendation 20; the other two are overdue after the due date.
    [row20] = [r for r in app.recommendations.all() if r.number == "20"]
    edit_row(sandbox, app, row20.item_id, {"LastUpdate": "Done.", "LastUpdateOn": "2023-10-10"})
    clean(run_pass(app, today=CYCLE_DUE, reminders=False))
    assert len(_progress_mail(sandbox)) == 1
    clean(run_pass(app, today=CYCLE_DUE + dt.timedelta(days=1), reminders=False))
    clean(run_pass(app, today=CYCLE_DUE + dt.timedelta(days=2), reminders=False))
    mails = _progress_mail(sandbox)
    assert len(mails) == 2
    escalation = mails[1]
    assert escalation["to"] == [MANAGER]
    assert escalation["key"].startswith("s55-progress-escalation-2023-10-")
    assert "2 HMICFRS findings" in escalation["subject"]
    escalated = {r.number for r in app.recommendations.all() if "escalated" in r.progress}
    assert escalated == {"19", "21"}


def test_an_owner_not_in_the_settings_is_never_written_to(sandbox: Sandbox, tmp_path: Path) -> None:
    force_lead = user_email("chief_constable_office")
    app = _published(sandbox, tmp_path, recommendations={"owners": [force_lead]})
    rows = sorted(app.recommendations.all(), key=lambda r: r.number)
    edit_row(sandbox, app, rows[0].item_id, {"Owner": force_lead})
    edit_row(sandbox, app, rows[1].item_id, {"Owner": "someone@elsewhere.example"})
    clean(run_pass(app, today=CYCLE_START, reminders=False))
    by_recipient = {tuple(m["to"]): m for m in _progress_mail(sandbox)}
    assert sorted(by_recipient) == sorted([(force_lead,), (MANAGER,), (OWNER,)])
    assert all("elsewhere.example" not in str(m) for m in delivered(sandbox.tenant))
    assert "1 HMICFRS finding" in by_recipient[(MANAGER,)]["subject"]


def test_a_crash_after_any_write_of_the_cycle_sends_each_digest_once(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The restart comes after the crashed pass's lease ran out (10 minutes in service), and,
    # as in the other crash loops, without a confirmation window (the sandbox's Sent Items
    # does not lag unless told to).
    monkeypatch.setattr(progress, "LEASE", dt.timedelta(0))
    no_window = {"confirm_minutes": 0}
    app = _published(sandbox, tmp_path / "count", mail=no_window)
    counting = CrashingTransport(verify=app.settings.verify, crash_after=None)
    clean(run_pass(App(app.settings, transport=counting), today=CYCLE_START, reminders=False))
    assert len(_progress_mail(sandbox)) == 1
    assert counting.writes >= 3  # claim, send, record
    for crash_after in range(counting.writes):
        sandbox.reset()
        app = _published(sandbox, tmp_path / f"crash{crash_after}", mail=no_window)
        crashing = CrashingTransport(verify=app.settings.verify, crash_after=crash_after)
        with contextlib.suppress(SimulatedCrash):
            run_pass(App(app.settings, transport=crashing), today=CYCLE_START, reminders=False)
        clean(
            run_pass(App(app.settings), today=CYCLE_START + dt.timedelta(days=1), reminders=False)
        )
        clean(
            run_pass(App(app.settings), today=CYCLE_START + dt.timedelta(days=2), reminders=False)
        )
        assert len(_progress_mail(sandbox)) == 1, crash_after
        assert all("2023-10" in r.progress.get("requested", {}) for r in app.recommendations.all())


def test_rows_another_instance_holds_are_left_to_it(sandbox: Sandbox, tmp_path: Path) -> None:
    app = _published(sandbox, tmp_path)
    rows = sorted(app.recommendations.all(), key=lambda r: r.number)
    lease = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    edit_row(sandbox, app, rows[0].item_id, {"S55Progress": f'{{"lease": "{lease}"}}'})
    report = run_pass(app, today=CYCLE_START, reminders=False)
    assert report.failures == []
    assert any(line.startswith("progress:") for line in report.unfinished)
    [digest] = _progress_mail(sandbox)
    assert "2 HMICFRS findings" in digest["subject"]
    # The day is not marked done: the next pass comes back for the leased row.
    assert app.state.section("recommendations").get("day") != CYCLE_START.isoformat()


def test_a_send_whose_answer_is_lost_is_found_in_the_mailbox_and_recorded(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    app = _published(sandbox, tmp_path)
    sandbox.faults.add_one_off(OneOff(method="POST", path=r"/sendMail$", status=500, when="after"))
    clean(run_pass(app, today=CYCLE_START, reminders=False))
    assert len(_progress_mail(sandbox)) == 1
    for row in app.recommendations.all():
        assert row.progress["requested"] == {"2023-10": "2023-10-02"}
        assert "pending" not in row.progress
        assert "lease" not in row.progress


def test_a_send_pending_after_a_crash_waits_for_the_confirmation_window(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "LEASE", dt.timedelta(0))
    app = _published(sandbox, tmp_path)  # the production window: mail.confirm_minutes 10
    crashing = CrashingTransport(verify=app.settings.verify, crash_after=1)  # claim, pending
    with contextlib.suppress(SimulatedCrash):
        run_pass(App(app.settings, transport=crashing), today=CYCLE_START, reminders=False)
    assert all("pending" in row.progress for row in app.recommendations.all())
    report = run_pass(App(app.settings), today=CYCLE_START, reminders=False)
    assert report.failures == []
    assert any("confirming" in line for line in report.unfinished)
    assert _progress_mail(sandbox) == []  # it may have gone: not sent again inside the window
