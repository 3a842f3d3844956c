"""After publication, end to end on the sandbox: the seed's findings 19-21 become rows, once."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest

from automation.app import App
from automation.domain.recommendations import RecommendationRow
from automation.passes import run_pass
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests.recommendations_env import (
    PUBLISHED,
    clean,
    replace_draft_text,
    seed_record,
    seed_settings,
    until_circulated,
)
from tests.service_env import CrashingTransport, SimulatedCrash, graph_writes
from tests.tenant_edits import edit_item


def _rows(app: App) -> list[RecommendationRow]:
    return sorted(app.recommendations.all(), key=lambda r: r.key)


def _check_rows(app: App) -> None:
    record = seed_record(app)
    rows = _rows(app)
    assert [r.key for r in rows] == [f"{record.key}#R{n}" for n in (19, 20, 21)]
    for row in rows:
        assert row.kind == "Recommendation"
        assert row.status == "Open"
        assert row.publication_key == record.key
        assert row.tracker_url == record.web_url
        assert "DispForm.aspx?ID=" in row.tracker_url
        assert row.report_title
        assert row.report_url
        assert row.owner == app.settings.people.response_owner
        assert row.next_update_due == dt.date(2023, 10, 16)  # the October cycle's due date
        assert row.report_published == dt.date(2023, 7, 20)
    assert rows[0].text.startswith("The senior national coordinator")


def test_publishing_the_seed_makes_rows_19_20_21_once(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")
    app = App(settings)
    until_circulated(sandbox, app)
    report = clean(run_pass(app, today=PUBLISHED, reminders=False))
    assert any(line.endswith("added Recommendation 19") for line in report.actions)
    _check_rows(app)
    # More passes (the same day, the next day's sweep) and lost local state make no more.
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    clean(run_pass(app, today=PUBLISHED + dt.timedelta(days=1), reminders=False))
    (tmp_path / "state" / "state.json").unlink()
    clean(run_pass(App(settings), today=PUBLISHED + dt.timedelta(days=2), reminders=False))
    _check_rows(app)


def test_rows_take_the_numbers_and_texts_of_the_approved_draft(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")
    app = App(settings)
    record = until_circulated(sandbox, app)
    replace_draft_text(
        sandbox, app, record, "The senior national coordinator", "CORRECTED: the coordinator"
    )
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    rows = _rows(app)
    assert [r.number for r in rows] == ["19", "20", "21"]
    assert rows[0].text.startswith("CORRECTED: the coordinator")
    assert not rows[1].text.startswith("CORRECTED")


def test_an_idle_pass_sends_nothing_for_recommendations(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")
    app = App(settings)
    until_circulated(sandbox, app)
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    sandbox.clear_log()
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    list_id = str(app.state.section("recommendations_list")["id"])
    assert list_id
    log = sandbox.request_log()
    assert log  # the pass did read the tracker's changes
    assert not [entry for entry in log if list_id in str(entry)]
    assert graph_writes(sandbox) == []


def _publish_with_crash(sandbox: Sandbox, tmp_path: Path, crash_after: int | None) -> App:
    """The life up to Published, the publishing pass dying after ``crash_after`` writes.

    That day's once-a-day sweep already ran: the rows depend on the publishing pass alone.
    The restart comes within seconds, not ten minutes: a copy whose answer the crash lost is
    confirmed from Sent Items at once (confirmation window 0).
    """
    settings = seed_settings(sandbox, tmp_path / "state", mail={"confirm_minutes": 0})
    app = App(settings)
    until_circulated(sandbox, app, same_day=True)
    transport = CrashingTransport(verify=settings.verify, crash_after=crash_after)
    crashing = App(settings, transport=transport)
    with contextlib.suppress(SimulatedCrash):
        run_pass(crashing, today=PUBLISHED, reminders=False)
    return app


def _publishing_writes(sandbox: Sandbox, tmp_path: Path) -> int:
    settings = seed_settings(sandbox, tmp_path / "count" / "state")
    app = App(settings)
    until_circulated(sandbox, app, same_day=True)
    transport = CrashingTransport(verify=settings.verify, crash_after=None)
    clean(run_pass(App(settings, transport=transport), today=PUBLISHED, reminders=False))
    assert any("/lists/" in step for step in transport.steps)
    return transport.writes


def test_a_crash_after_any_write_of_the_publishing_pass_still_gives_three_rows(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    writes = _publishing_writes(sandbox, tmp_path)
    # The portal tick, the two statutory copies, the website tick, the draft's boxes,
    # Published, then a row each for 19, 20 and 21.
    assert writes >= 8
    published_before_crash = 0
    for crash_after in range(writes):
        sandbox.reset()
        app = _publish_with_crash(sandbox, tmp_path / f"crash{crash_after}", crash_after)
        # The first crash point that leaves the item Published is the Published write
        # itself: the rows owed were not yet put in local state, so the next day's sweep
        # makes them. After any later crash point they are pending in local state (written
        # before the first row) and the same day's restarted pass makes them.
        crashed_after_published = seed_record(app).status == "Published"
        if crashed_after_published:
            published_before_crash += 1
        again = run_pass(App(app.settings), today=PUBLISHED, reminders=False)
        assert again.failures == [], (crash_after, again.failures)
        first_published = crashed_after_published and published_before_crash == 1
        if seed_record(app).status == "Published" and not first_published:
            # Pending rows, or this pass published (and made them).
            _check_rows(app)
        clean(run_pass(App(app.settings), today=PUBLISHED + dt.timedelta(days=1), reminders=False))
        _check_rows(app)
    assert published_before_crash >= 4  # Published, then after each row


@pytest.mark.parametrize("status", [409, 500])
def test_a_duplicate_key_answer_means_the_row_exists(
    sandbox: Sandbox, tmp_path: Path, status: int
) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")
    app = App(settings)
    until_circulated(sandbox, app)
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    [row, *_] = _rows(app)
    sandbox.faults.configure({"duplicate_status": status})
    fields = {"RecKey": row.key, "Title": "again", "PublicationKey": row.publication_key}
    found, created = app.recommendations.create_or_find(fields)
    assert not created
    assert found.item_id == row.item_id
    assert len(_rows(app)) == 3


def test_rows_staff_add_by_hand_are_left_alone(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")
    app = App(settings)
    until_circulated(sandbox, app)
    clean(run_pass(app, today=PUBLISHED, reminders=False))
    hand = app.recommendations.create_or_find({"Title": "Our own action", "Status": "Open"})[0]
    clean(run_pass(app, today=PUBLISHED + dt.timedelta(days=1), reminders=False))
    rows = app.recommendations.all()
    assert len(rows) == 4
    [kept] = [r for r in rows if r.item_id == hand.item_id]
    assert kept.title == "Our own action"
    assert kept.key == ""


def test_status_published_by_hand_is_found_by_the_daily_sweep_and_dry_run_writes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = seed_settings(sandbox, tmp_path / "state")
    app = App(settings)
    record = until_circulated(sandbox, app)
    edit_item(sandbox, app, record.item_id, user_email("website"), {"Status": "Published"})
    day = PUBLISHED + dt.timedelta(days=1)
    sandbox.clear_log()
    report = run_pass(app, today=day, reminders=False, dry_run=True)
    assert [line.rsplit("#", 1)[-1] for line in report.actions if "add row" in line] == [
        "R19",
        "R20",
        "R21",
    ]
    assert graph_writes(sandbox) == []
    assert _rows(app) == []
    clean(run_pass(app, today=day, reminders=False))
    _check_rows(app)
