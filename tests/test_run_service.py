"""`automation run` against the sandbox; `once --dry-run` writes nothing."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from automation.app import App
from automation.cli import main
from automation.cli.sandbox_config import config_text
from automation.domain.record import TrackerRecord
from automation.jobs.provision import provision
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import graph_writes, make_settings


def _items(app: App) -> list[TrackerRecord]:
    app.resolve()
    return app.tracker.all()


def test_run_files_a_new_publication_and_stops_on_sigterm(sandbox: Sandbox, tmp_path: Path) -> None:
    app = App(make_settings(sandbox, tmp_path / "setup"))
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([]))
    config = tmp_path / "automation.toml"
    config.write_text(config_text(sandbox.info(), state_dir=tmp_path / "run-state"), "utf-8")
    env = dict(os.environ)
    env.update(
        {
            "AUTOMATION_SCHEDULE__INTERVAL_SECONDS": "1",
            "AUTOMATION_FETCH_REPORT_PAGES": "false",
            "AUTOMATION_REMINDERS__ENABLED": "false",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "automation", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(2.5)  # a few empty cycles first
        assert proc.poll() is None
        # Published yesterday (London): live for the first-run rule on the real date.
        yesterday = dt.datetime.now(ZoneInfo("Europe/London")) - dt.timedelta(days=1)
        stamp = yesterday.replace(hour=0, minute=1).astimezone(dt.UTC)
        item = feeds.Item(
            title="An inspection of Norfolk Constabulary's response to the public",
            link="https://hmicfrs.justiceinspectorates.gov.uk/publications/norfolk-response/",
            pub_date=stamp.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            categories=("Norfolk Constabulary",),
        )
        sandbox.set_page("/feed/", feeds.rss([item]))
        deadline = time.monotonic() + 30
        records: list[TrackerRecord] = []
        while time.monotonic() < deadline:
            records = [r for r in _items(app) if r.setup == "complete"]
            if records:
                break
            time.sleep(0.3)
        assert [r.title for r in records] == [item.title]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_once_dry_run_writes_nothing(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED, feeds.SUPER_COMPLAINT]))
    config = tmp_path / "dry.toml"
    config.write_text(config_text(sandbox.info(), state_dir=tmp_path / "dry-state"), "utf-8")
    sandbox.clear_log()
    code = main(["once", "--config", str(config), "--as-of", "2023-08-08", "--dry-run"])
    assert code == 0
    out = capsys.readouterr().out
    assert "would file" in out
    assert feeds.SEED_TITLE[:40] in out
    assert "would create a triage task" in out
    assert graph_writes(sandbox) == []
    assert _items(App(settings)) == []
