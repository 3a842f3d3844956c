"""Timer/CronJob parity for reminders, and the operator's view (issue 13).

Before: ``once`` sent the day's reminders on the first pass after midnight, at weekends and
on Christmas Day; ``--help`` had no descriptions, examples or exit codes; every action was
printed twice on a terminal; APScheduler logged every cycle; /healthz said
``Server: s55-automation `` with a trailing space.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from automation import __version__, logsetup
from automation.app import App
from automation.cli import commands, main
from automation.cli.main import build_parser
from automation.cli.sandbox_config import config_text
from automation.domain.calendar import LONDON
from automation.exitcodes import ExitCode
from automation.jobs.provision import provision
from automation.passes import REMINDERS_DAY, next_reminders, reminders_due
from automation.sandbox.server import Sandbox
from automation.service import JobSpec, Service
from tests import feeds
from tests.service_env import make_settings
from tests.terminal import run_on_terminal

EIGHT = dt.time(8, 0)


def _london(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("now", "last", "due"),
    [
        (_london(2026, 12, 7, 7, 59), None, False),  # Monday, before reminders_at
        (_london(2026, 12, 7, 8, 0), None, True),
        (_london(2026, 12, 7, 23, 30), "2026-12-07", False),  # already sent today
        (_london(2026, 12, 8, 0, 15), "2026-12-07", False),  # just after midnight
        (_london(2026, 12, 5, 10, 0), None, False),  # Saturday
        (_london(2026, 12, 25, 10, 0), None, False),  # Christmas Day
        (_london(2026, 12, 28, 10, 0), None, False),  # substitute bank holiday
        (_london(2026, 12, 29, 10, 0), "2026-12-24", True),
    ],
)
def test_reminders_are_due_on_working_days_from_reminders_at_once(
    now: dt.datetime, last: str | None, due: bool
) -> None:
    assert reminders_due(now, at=EIGHT, last_day=last) is due


def test_the_next_reminders_skip_weekends_and_bank_holidays() -> None:
    assert next_reminders(_london(2026, 12, 24, 9, 0), at=EIGHT) == dt.date(2026, 12, 29)
    assert next_reminders(_london(2026, 12, 7, 7, 0), at=EIGHT) == dt.date(2026, 12, 7)


@pytest.fixture
def once_env(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[dt.date]]:
    """Settings for ``once`` and a list that records each reminders pass (its "today")."""
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    sandbox.set_page("/feed/", feeds.rss([]))
    calls: list[dt.date] = []
    monkeypatch.setattr(
        "automation.passes.reminder_job.run",
        lambda _app, _report, *, today: calls.append(today),
    )
    return settings, calls


def _at(monkeypatch: pytest.MonkeyPatch, now: dt.datetime) -> None:
    monkeypatch.setattr(commands, "london_now", lambda: now)
    monkeypatch.setattr(commands, "london_today", lambda: now.date())


def test_once_on_a_timer_sends_reminders_like_run(
    once_env: tuple[Any, list[dt.date]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, calls = once_env
    for now in (
        _london(2026, 12, 5, 9, 0),  # Saturday
        _london(2026, 12, 25, 9, 0),  # Christmas Day
        _london(2026, 12, 29, 0, 15),  # a working day, but before 08:00
    ):
        _at(monkeypatch, now)
        assert commands.once(settings) == ExitCode.OK
    assert calls == []
    for minute in (0, 15, 30):  # a 15-minute timer: only the first pass after 08:00 sends
        _at(monkeypatch, _london(2026, 12, 29, 8, minute))
        assert commands.once(settings) == ExitCode.OK
    assert calls == [dt.date(2026, 12, 29)]
    assert App(settings).state.get(REMINDERS_DAY) == "2026-12-29"
    # The state lost: the day's reminders run again, and their own records on the tracker
    # (per reminder and recipient) stop a second copy.
    (settings.state_dir / "state.json").unlink()
    _at(monkeypatch, _london(2026, 12, 29, 8, 45))
    assert commands.once(settings) == ExitCode.OK
    assert calls == [dt.date(2026, 12, 29)] * 2


def test_once_as_of_replays_that_days_reminders_whatever_the_clock(
    once_env: tuple[Any, list[dt.date]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, calls = once_env
    _at(monkeypatch, _london(2026, 12, 5, 2, 0))  # a Saturday night
    assert commands.once(settings, as_of=dt.date(2023, 8, 5)) == ExitCode.OK
    assert commands.once(settings, as_of=dt.date(2023, 8, 5)) == ExitCode.OK
    assert calls == [dt.date(2023, 8, 5)] * 2
    assert App(settings).state.get(REMINDERS_DAY) is None  # the real day is left alone


def test_help_describes_every_command_with_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"automation {__version__}"
    parser = build_parser()
    commands_action = next(a for a in parser._actions if a.dest == "command")
    for name, sub in commands_action.choices.items():  # type: ignore[union-attr]
        text = sub.format_help()
        assert "exit codes:" in text, name
        assert "2  configuration, credential or permission problem" in text, name
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
    assert "examples:" in parser.format_help()


def test_each_action_is_printed_once_on_a_terminal_and_kept_in_a_log(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    provision(App(make_settings(sandbox, tmp_path / "setup")))
    sandbox.set_page("/feed/", feeds.rss([feeds.NORFOLK_PEEL]))
    config = tmp_path / "automation.toml"
    config.write_text(config_text(sandbox.info(), state_dir=tmp_path / "state"), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env["AUTOMATION_FETCH_REPORT_PAGES"] = "false"
    argv = ["once", "--config", str(config), "--as-of", "2023-08-08", "--dry-run"]
    code, output = run_on_terminal(argv, env)
    assert code == ExitCode.OK, output
    filed = [line for line in output.splitlines() if "would file 'PEEL 2023-25" in line]
    assert len(filed) == 1, output
    # stdout to a file, logs to the terminal or journal: the log keeps its copy.
    piped = subprocess.run(
        [sys.executable, "-m", "automation", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "would file 'PEEL 2023-25" in piped.stdout
    assert "automation.actions" in piped.stderr


def test_apscheduler_logs_warnings_only() -> None:
    logsetup.configure("INFO", "text")
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("apscheduler.scheduler").getEffectiveLevel() == logging.WARNING


def test_healthz_server_header_has_no_trailing_space() -> None:
    service = Service(
        [JobSpec(name="noop", func=lambda: 0, interval=timedelta(hours=1))],
        healthz=("127.0.0.1", 0),
    )
    import threading

    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    try:
        assert service.wait_ready(10)
        request = urllib.request.Request(f"http://127.0.0.1:{service.healthz_port}/healthz")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as answer:
            assert answer.headers["Server"] == "s55-automation"
    finally:
        service.stop()
        runner.join(timeout=10)
