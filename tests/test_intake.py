"""Intake end to end against the sandbox over HTTPS with real msal."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import docx
import pytest

from automation.app import App
from automation.domain.record import TrackerRecord
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import SimulatedCrash, app_for, graph_writes, make_settings

AS_OF = dt.date(2023, 8, 5)


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Any:
    return make_settings(sandbox, tmp_path / "state")


def _provisioned(settings: Any) -> App:
    app = App(settings)
    provision(app)
    return app


def _items(app: App) -> list[TrackerRecord]:
    app.resolve()
    return app.tracker.all()


def _drafts(app: App) -> list[dict[str, Any]]:
    ws = app.resolve()
    folder = f"{app.settings.sharepoint.drafts_folder}/2023"
    found = app.drive.get_by_path(ws.drive_id, folder)
    if found is None:
        return []
    return list(app.client.paged(f"/drives/{ws.drive_id}/items/{found['id']}/children"))


def _tasks(app: App) -> list[dict[str, Any]]:
    return app.planner.list_tasks(app.resolve().plan_id)


def test_seed_case_files_item_draft_and_tasks(sandbox: Sandbox, settings: Any) -> None:
    app = _provisioned(settings)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    report = run_pass(app, today=AS_OF)
    assert report.failures == []
    [record] = _items(app)
    assert record.published_on == dt.date(2023, 7, 20)
    assert record.deadline == dt.date(2023, 9, 13)
    assert record.police_forces == "N/A"
    assert record.response_required == "Yes"
    # Status follows the open stage task (issue 11): the Chief Constable's comments first.
    assert record.status == "Chief Constable comments"
    assert record.setup == "complete"
    assert record.draft_url
    [draft] = _drafts(app)
    content = app.drive.download(app.resolve().drive_id, draft["id"])
    text = [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]
    expected = [
        f"Inspection Title: {feeds.SEED_TITLE}",
        "Published on: 20 July 2023",
        "Publication Types: Counter-terrorism and joint inspection",
        "Police Forces: N/A",
        f"Link to Report: {feeds.SEED_TITLE}",  # the title as a hyperlink (issue 12, B3)
        "Section 55 Response Deadline: 13 September 2023",
    ]
    positions = []
    for wanted in expected:
        hits = [i for i, line in enumerate(text) if line.startswith(wanted)]
        assert hits, f"missing paragraph {wanted!r}"
        positions.append(hits[0])
    assert positions == sorted(positions)
    tasks = _tasks(app)
    assert len(tasks) == len(settings.stages)
    assert all(t["title"].startswith(f"[{record.marker}] ") for t in tasks)
    assert set(record.tasks) == {stage.key for stage in settings.stages}


def test_publication_plus_56_rule(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = make_settings(sandbox, tmp_path / "s", deadline_rule="publication_plus_56")
    app = _provisioned(settings)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    run_pass(app, today=AS_OF)
    [record] = _items(app)
    assert record.deadline == dt.date(2023, 9, 14)


def test_late_evening_gmt_files_next_london_date(sandbox: Sandbox, settings: Any) -> None:
    app = _provisioned(settings)
    late = feeds.Item(
        title="An inspection of Norfolk Constabulary's custody suites",
        link="https://hmicfrs.justiceinspectorates.gov.uk/publications/norfolk-custody/",
        pub_date="Mon, 31 Jul 2023 23:30:00 GMT",
        categories=("Custody", "Norfolk Constabulary"),
    )
    sandbox.set_page("/feed/", feeds.rss([late]))
    run_pass(app, today=AS_OF)
    [record] = _items(app)
    assert record.published_on == dt.date(2023, 8, 1)


def test_second_run_writes_nothing(sandbox: Sandbox, settings: Any) -> None:
    app = _provisioned(settings)
    sandbox.set_page(
        "/feed/",
        feeds.rss([feeds.SEED, feeds.NORFOLK_PEEL, feeds.SUFFOLK_PEEL, feeds.SUPER_COMPLAINT]),
    )
    first = run_pass(app, today=AS_OF)
    assert first.failures == []
    assert len(_items(app)) == 4
    sandbox.clear_log()
    second = run_pass(App(settings), today=AS_OF)
    assert second.failures == []
    assert graph_writes(sandbox) == []
    # An idle intake + follow-up cycle: the delta link and one read of the plan.
    sandbox.clear_log()
    third = run_pass(App(settings), today=AS_OF, reminders=False)
    assert third.failures == []
    graph_requests = [e for e in sandbox.request_log() if e["graph"] and not e["batch"]]
    assert graph_writes(sandbox) == []
    assert len(graph_requests) <= 2, graph_requests


def test_not_required_and_triage(sandbox: Sandbox, settings: Any) -> None:
    app = _provisioned(settings)
    sandbox.set_page("/feed/", feeds.rss([feeds.SUFFOLK_PEEL, feeds.SUPER_COMPLAINT]))
    run_pass(app, today=AS_OF)
    by_title = {record.title: record for record in _items(app)}
    suffolk = by_title[feeds.SUFFOLK_PEEL.title]
    assert suffolk.response_required == "No"
    assert suffolk.status == "Not required"
    assert suffolk.triage_reason
    assert not suffolk.tasks
    complaint = by_title[feeds.SUPER_COMPLAINT.title]
    assert complaint.response_required == "To be decided"
    assert complaint.status == "Triage"
    assert list(complaint.tasks) == ["triage"]
    assert _drafts(app) == []


def test_first_run_skips_expired_publications(sandbox: Sandbox, settings: Any) -> None:
    app = _provisioned(settings)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    run_pass(app, today=dt.date(2023, 9, 14))
    assert _items(app) == []
    run_pass(app, today=dt.date(2023, 9, 14), since=dt.date(2023, 7, 1))
    assert len(_items(app)) == 1


def _final_state(app: App) -> tuple[int, int, int, str]:
    records = _items(app)
    return len(records), len(_drafts(app)), len(_tasks(app)), records[0].setup if records else ""


def test_crash_after_each_write_then_normal_run(sandbox: Sandbox, tmp_path: Path) -> None:
    survived = 0
    crash_point = 0
    while True:
        sandbox.reset()
        state = tmp_path / f"state-{crash_point}"
        settings = make_settings(sandbox, state)
        provision(App(settings))
        sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
        crashing = app_for(settings, crash_after=crash_point)
        try:
            run_pass(crashing, today=AS_OF)
        except SimulatedCrash:
            pass
        else:
            break  # no write left to crash after
        if crash_point % 2:
            shutil.rmtree(state)  # the local cache is lost too: still no duplicate
        run_pass(App(make_settings(sandbox, state)), today=AS_OF)
        assert _final_state(App(settings)) == (1, 1, len(settings.stages), "complete"), (
            f"crash after write {crash_point + 1}"
        )
        survived += 1
        crash_point += 1
    assert survived >= 4
    print(f"{survived}/{survived} crash points survived (intake)")
