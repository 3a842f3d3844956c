"""The project's own long-run test: a simulated year (``make soak``; not run by ``make test``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from automation.sandbox.server import Sandbox
from tests.soak.simulation import Year, captured_tracebacks

pytestmark = pytest.mark.slow


def test_a_simulated_year(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    # SOAK_DAYS shortens the year (a quick look while changing the simulation).
    year = Year(sandbox, tmp_path, monkeypatch, days=int(os.environ.get("SOAK_DAYS", "366")))
    figures = year.run()
    logged = captured_tracebacks(caplog.records)
    figures.violations += len(logged)
    problems = year.audit.violations + year.tracebacks + logged
    log_file = tmp_path / "soak.log"
    log_file.write_text(caplog.text, encoding="utf-8")
    with capsys.disabled():
        print(f"\nSimulated year (log: {log_file}):")
        for line in figures.lines():
            print(f"  {line}")
        for line in problems[:60]:
            print(f"  VIOLATION {line}")
    assert problems == []
    assert figures.kills_survived > 0
    assert figures.doubled_days > 0
    assert figures.reminders > 0
    assert figures.circulation_emails > 0
