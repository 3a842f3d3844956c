"""`automation status`: open responses, day counts and overdue marks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from automation.app import App
from automation.cli.status import FIELDS, build_rows, run_status
from automation.domain.record import TrackerRecord
from automation.errors import SettingsError
from automation.graph.tracker_list import record_from_item
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.server import Sandbox
from automation.settings import DEFAULT_STAGES, Settings
from tests import feeds
from tests.service_env import make_settings

FILED_ON = dt.date(2023, 8, 5)


@pytest.fixture
def filed(sandbox: Sandbox, tmp_path: Path) -> Settings:
    """The seed (published 20 Jul 2023) and the Norfolk PEEL (4 Aug 2023) filed."""
    settings = make_settings(sandbox, tmp_path / "state")
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED, feeds.NORFOLK_PEEL]))
    assert run_pass(app, today=FILED_ON, reminders=False).failures == []
    return settings


def _status(
    settings: Settings, capsys: pytest.CaptureFixture[str], as_of: dt.date, fmt: str
) -> str:
    assert run_status(settings, as_of=as_of, fmt=fmt) == 0
    return capsys.readouterr().out


def _json(settings: Settings, capsys: pytest.CaptureFixture[str], as_of: dt.date) -> Any:
    return json.loads(_status(settings, capsys, as_of, "json"))


def _records(settings: Settings) -> dict[str, TrackerRecord]:
    app = App(settings)
    app.resolve()
    records = app.tracker.all()
    return {r.title: r for r in records}


def _set_status(settings: Settings, title: str, status: str) -> None:
    app = App(settings)
    record = _records(settings)[title]
    app.tracker.patch(record.item_id, {"Status": status})


def test_json_day_count_and_days_left(filed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(filed, capsys, dt.date(2023, 8, 10))
    assert [row["title"] for row in rows] == [feeds.SEED_TITLE, feeds.NORFOLK_PEEL.title]
    seed, norfolk = rows
    assert set(seed) == set(FIELDS)
    assert (seed["published_on"], seed["deadline"]) == ("2023-07-20", "2023-09-13")
    assert (seed["day"], seed["days_left"]) == (22, 34)
    assert (norfolk["published_on"], norfolk["deadline"]) == ("2023-08-04", "2023-09-28")
    assert (norfolk["day"], norfolk["days_left"]) == (7, 49)
    records = _records(filed)
    assert seed["marker"] == records[feeds.SEED_TITLE].marker
    assert seed["status"] == "Chief Constable comments"  # Status follows the stage tasks
    assert seed["owner"] == filed.people.response_owner
    assert seed["item_url"] == records[feeds.SEED_TITLE].web_url
    assert seed["draft_url"] == records[feeds.SEED_TITLE].draft_url != ""
    # The Chief Constable's comments were due a week after publication (27 July).
    assert seed["overdue"] == ["cc_comments"]
    assert norfolk["overdue"] == []


def test_after_the_deadline(filed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    seed, norfolk = _json(filed, capsys, dt.date(2023, 9, 20))
    assert (seed["day"], seed["days_left"]) == (63, -7)
    assert seed["overdue"] == [
        "DEADLINE",
        "cc_comments",
        "draft",
        "approval",
        "publish",
        "portal",  # issue 11: the HMICFRS portal submission is a stage of its own
    ]
    assert norfolk["days_left"] == 8
    assert "DEADLINE" not in norfolk["overdue"]


def test_completed_task_is_not_overdue(filed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    app = App(filed)
    task_id = _records(filed)[feeds.SEED_TITLE].tasks["cc_comments"]["id"]
    task = app.planner.get_task(task_id)
    app.planner.update_task(task_id, task["@odata.etag"], {"percentComplete": 100})
    seed, _ = _json(filed, capsys, dt.date(2023, 8, 10))
    assert seed["overdue"] == []


def test_circulated_is_open_without_deadline_mark_and_published_is_gone(
    filed: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_status(filed, feeds.SEED_TITLE, "Circulated")
    _set_status(filed, feeds.NORFOLK_PEEL.title, "Published")
    [seed] = _json(filed, capsys, dt.date(2023, 9, 20))
    assert seed["title"] == feeds.SEED_TITLE
    assert seed["status"] == "Circulated"
    assert "DEADLINE" not in seed["overdue"]


def test_csv_and_table_render_the_same_rows(
    filed: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    as_of = dt.date(2023, 9, 20)
    rows = _json(filed, capsys, as_of)
    parsed = list(csv.DictReader(io.StringIO(_status(filed, capsys, as_of, "csv"))))
    assert [list(row) for row in parsed] == [list(FIELDS)] * len(rows)
    for from_json, from_csv in zip(rows, parsed, strict=True):
        assert from_csv["marker"] == from_json["marker"]
        assert from_csv["title"] == from_json["title"]
        assert from_csv["deadline"] == from_json["deadline"]
        assert int(from_csv["day"]) == from_json["day"]
        assert int(from_csv["days_left"]) == from_json["days_left"]
        assert from_csv["draft_url"] == from_json["draft_url"]
    assert (
        parsed[0]["overdue"] == "DEADLINE; overdue: cc_comments, draft, approval, publish, portal"
    )
    assert parsed[1]["overdue"] == "overdue: cc_comments, draft, approval"

    table = _status(filed, capsys, as_of, "table").splitlines()
    assert table[0].split() == [
        "Marker",
        "Title",
        "Published",
        "Deadline",
        "Day",
        "Left",
        "Stage",
        "Owner",
        "Overdue",
    ]
    assert len(table) == 1 + len(rows)
    for line, row in zip(table[1:], parsed, strict=True):
        assert line.startswith(row["marker"] + " ")
        for value in (row["deadline"], f"{row['day']} of 56", row["days_left"], row["overdue"]):
            assert value in line
    # Titles are cut to 60 characters in the table.
    assert feeds.SEED_TITLE not in table[1]
    assert feeds.SEED_TITLE[:50] in table[1]
    # The Title column is as wide as its longest (cut) cell: the Published column lines up.
    starts = {line.index("2023-0") for line in table[1:]}
    assert len(starts) == 1
    assert table[0].index("Published") in starts


def test_empty_tracker(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    assert _json(settings, capsys, dt.date(2023, 8, 10)) == []
    assert "(no open responses)" in _status(settings, capsys, dt.date(2023, 8, 10), "table")


def test_unknown_format_is_a_usage_error(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    with pytest.raises(SettingsError, match="xml"):
        run_status(settings, as_of=dt.date(2023, 8, 10), fmt="xml")


# --- pure row building -------------------------------------------------------------------------


def _record(item_id: str, **fields: Any) -> TrackerRecord:
    values: dict[str, Any] = {"PublicationKey": f"k{item_id}", "Title": f"T{item_id}"}
    values.update(fields)
    return record_from_item({"id": item_id, "fields": values})


def test_day_is_missing_before_publication_and_rows_sort_by_deadline() -> None:
    records = [
        _record(
            "1",
            PublishedOn="2023-08-03T23:00:00Z",
            ResponseDeadline="2023-09-27T23:00:00Z",
            Status="Triage",
        ),
        _record(
            "2",
            PublishedOn="2023-07-19T23:00:00Z",
            ResponseDeadline="2023-09-12T23:00:00Z",
            Status="PCC approval",
        ),
        _record("3", Status="Closed"),
        _record("4", Status="Not required"),
        _record("5", Status="Published"),
        _record("6", Status="Approved"),  # no dates yet: listed last
    ]
    rows = build_rows(records, {}, DEFAULT_STAGES, as_of=dt.date(2023, 7, 25))
    assert [row.marker for row in rows] == ["S55-2", "S55-1", "S55-6"]
    seed, norfolk, undated = rows
    assert seed.deadline == dt.date(2023, 9, 13)
    assert (seed.day, norfolk.day, undated.day) == (6, None, None)
    assert norfolk.as_text()["day"] == "-"
    assert undated.days_left is None
    assert undated.as_json()["deadline"] is None


def test_stage_due_date_is_read_as_a_london_date() -> None:
    record = _record(
        "1",
        PublishedOn="2023-07-19T23:00:00Z",
        ResponseDeadline="2023-09-12T23:00:00Z",
        Status="Drafting",
        S55Tasks=json.dumps({"draft": {"id": "t1"}, "approval": {"id": "t2"}}),
    )
    tasks = {
        # 23:30 UTC on 22 August is 00:30 on 23 August in London: due the 23rd.
        "t1": {"id": "t1", "dueDateTime": "2023-08-22T23:30:00Z", "percentComplete": 50},
        "t2": {"id": "t2", "dueDateTime": "2023-08-01T16:00:00Z", "percentComplete": 100},
    }
    [on_due_day] = build_rows([record], tasks, DEFAULT_STAGES, as_of=dt.date(2023, 8, 23))
    assert on_due_day.overdue == ()
    [next_day] = build_rows([record], tasks, DEFAULT_STAGES, as_of=dt.date(2023, 8, 24))
    assert next_day.overdue == ("draft",)
    assert next_day.overdue_text() == "overdue: draft"
