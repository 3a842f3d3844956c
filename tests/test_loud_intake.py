"""Intake says what it leaves out, backfill reaches older pages, unknown assignees stop it.

Issue 13: backfill read only the feed's first page (no progress bar, though the README said
so) and filed past-deadline reports with tasks that escalated at once; a first run skipped
past-deadline publications without a word; a misspelt assignee left tasks unassigned for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest

from automation.app import App
from automation.cli import main
from automation.cli.sandbox_config import config_text
from automation.domain.record import TrackerRecord
from automation.exitcodes import ExitCode
from automation.jobs.provision import provision
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import make_settings
from tests.terminal import run_on_terminal


def _item(n: int, day: dt.date) -> feeds.Item:
    return feeds.Item(
        title=f"An inspection of Norfolk Constabulary, part {n}",
        link=f"https://hmicfrs.justiceinspectorates.gov.uk/publications/norfolk-{n}/",
        pub_date=f"{day.strftime('%a, %d %b %Y')} 09:00:00 +0000",
        categories=("PEEL", "Norfolk Constabulary"),
    )


# Newest first, two a page, as WordPress pages its feed (?paged=2, ?paged=3).
PAGES = [
    [_item(1, dt.date(2023, 8, 3)), _item(2, dt.date(2023, 7, 20))],
    [_item(3, dt.date(2023, 6, 1)), _item(4, dt.date(2023, 5, 10))],
    [_item(5, dt.date(2023, 4, 4)), _item(6, dt.date(2023, 3, 2))],
]
AS_OF = "2023-08-08"  # parts 1 and 2 are within their 56 days; 3 to 6 are past deadline


def _serve_pages(sandbox: Sandbox) -> None:
    sandbox.set_page("/feed/", feeds.rss(PAGES[0]))
    sandbox.set_page("/feed/?paged=2", feeds.rss(PAGES[1]))
    sandbox.set_page("/feed/?paged=3", feeds.rss(PAGES[2]))
    sandbox.set_page("/feed/?paged=4", b"not found", content_type="text/html", status=404)


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    provision(App(make_settings(sandbox, tmp_path / "setup")))
    monkeypatch.setenv("AUTOMATION_FETCH_REPORT_PAGES", "false")
    path = tmp_path / "automation.toml"
    path.write_text(config_text(sandbox.info(), state_dir=tmp_path / "state"), "utf-8")
    return path


def _app(sandbox: Sandbox, tmp_path: Path) -> App:
    app = App(make_settings(sandbox, tmp_path / "check"))
    app.resolve()
    return app


def _records(app: App) -> dict[str, TrackerRecord]:
    return {record.title.rsplit(" ", 1)[-1]: record for record in app.tracker.all()}


def _feed_requests(sandbox: Sandbox) -> int:
    return sum(entry.get("path") == "/feed/" for entry in sandbox.request_log())


def test_backfill_reads_every_page_and_files_the_past_as_historic(
    sandbox: Sandbox, tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_pages(sandbox)
    argv = ["backfill", "--since", "2023-03-01", "--as-of", AS_OF, "--config", str(config)]
    assert main(argv) == ExitCode.OK
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "backfill since 2023-03-01: 6 filed, 0 failed"
    # Not a terminal: plain progress lines.
    assert "read feed page 3 of" in err
    assert "filed 6 of 6" in err
    app = _app(sandbox, tmp_path)
    records = _records(app)
    assert sorted(records) == ["1", "2", "3", "4", "5", "6"]
    for part in ("1", "2"):
        assert records[part].status == "Chief Constable comments"  # the first stage
        assert records[part].tasks
    for part in ("3", "4", "5", "6"):
        assert records[part].status == "Closed"
        assert records[part].tasks == {}
        assert records[part].draft_url == ""
        assert "historic" in records[part].triage_reason
    titles = [str(task["title"]) for task in app.planner.list_tasks(app.resolve().plan_id)]
    assert not [title for title in titles if "part 3" in title or "part 6" in title]
    assert "historic: Closed" in out


def test_backfill_stops_at_the_page_older_than_since(
    sandbox: Sandbox, tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_pages(sandbox)
    sandbox.clear_log()
    argv = ["backfill", "--since", "2023-05-01", "--as-of", AS_OF, "--config", str(config)]
    assert main(argv) == ExitCode.OK
    # Page 2's oldest (10 May) is after since, so page 3 is read; page 3 is older: stop.
    assert _feed_requests(sandbox) == 3  # pages 1 to 3; page 4 never asked for
    assert sorted(_records(_app(sandbox, tmp_path))) == ["1", "2", "3", "4"]


def test_backfill_with_tasks_sets_up_the_past_too(
    sandbox: Sandbox, tmp_path: Path, config: Path
) -> None:
    _serve_pages(sandbox)
    argv = ["backfill", "--since", "2023-05-01", "--as-of", AS_OF, "--with-tasks"]
    assert main([*argv, "--config", str(config)]) == ExitCode.OK
    record = _records(_app(sandbox, tmp_path))["4"]
    assert record.status == "Chief Constable comments"  # the first stage
    assert record.tasks


def test_backfill_shows_a_progress_bar_on_a_terminal(
    sandbox: Sandbox, tmp_path: Path, config: Path
) -> None:
    _serve_pages(sandbox)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env["AUTOMATION_FETCH_REPORT_PAGES"] = "false"
    argv = ["backfill", "--since", "2023-03-01", "--as-of", AS_OF, "--config", str(config)]
    code, output = run_on_terminal(argv, env)
    assert code == ExitCode.OK, output
    assert "feed pages" in output
    assert "filing: 100%" in output
    assert "6/6" in output
    assert "read feed page" not in output  # the bar, not the plain lines
    # Each action once: the INFO log line of an action is left out on the same terminal.
    filed = [line for line in output.splitlines() if "file 'An inspection" in line]
    assert len(filed) == 6, output


def test_the_first_run_says_which_publications_it_leaves_for_backfill(
    sandbox: Sandbox,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox.set_page("/feed/", feeds.rss([*PAGES[0], *PAGES[1]]))
    caplog.set_level(logging.WARNING, logger="automation.jobs.intake")
    assert main(["once", "--as-of", AS_OF, "--config", str(config)]) == ExitCode.OK
    said = [record.getMessage() for record in caplog.records]
    assert any("norfolk-3" in line and "left for backfill" in line for line in said), said
    assert any("norfolk-4" in line and "left for backfill" in line for line in said), said
    assert (
        "skipped 2 publication(s) whose deadline has passed; file them with: "
        "automation backfill --since 2023-05-10"
    ) in said
    caplog.clear()
    sandbox.set_page("/feed/", feeds.rss([*PAGES[0], *PAGES[1], _item(7, dt.date(2023, 8, 7))]))
    assert main(["once", "--as-of", AS_OF, "--config", str(config)]) == ExitCode.OK
    assert not [r for r in caplog.records if "backfill" in r.getMessage()]  # said once


def test_an_unknown_assignee_stops_intake_until_the_setting_is_fixed(
    sandbox: Sandbox,
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.set_page("/feed/", feeds.rss([feeds.NORFOLK_PEEL]))
    owner = make_settings(sandbox, tmp_path / "owner").people.response_owner
    misspelt = owner.replace("@", "x@")
    monkeypatch.setenv("AUTOMATION_PEOPLE__RESPONSE_OWNER", misspelt)
    assert main(["once", "--as-of", AS_OF, "--config", str(config)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"error: people.response_owner: {misspelt} is not a user in the tenant" in err
    assert _records(_app(sandbox, tmp_path)) == {}
    monkeypatch.delenv("AUTOMATION_PEOPLE__RESPONSE_OWNER")
    assert main(["once", "--as-of", AS_OF, "--config", str(config)]) == ExitCode.OK
    app = _app(sandbox, tmp_path)
    [record] = app.tracker.all()
    assert record.response_owner == owner
    tasks = app.planner.list_tasks(app.resolve().plan_id)
    assert tasks
    assert all(task.get("assignments") for task in tasks)
