"""The service's commands (what ``automation <command>`` runs), returning exit codes."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import sys

from automation.app import build_app
from automation.domain.calendar import london_today
from automation.errors import AutomationError, SettingsError
from automation.exitcodes import ExitCode
from automation.jobs.intake import Intake
from automation.jobs.provision import provision as provision_tenant
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.settings import Settings

log = logging.getLogger(__name__)


def _freeze_startup_objects() -> None:
    """Move start-up objects to the permanent generation (run, once, backfill).

    The full collections after each draft (see drafts.py) then stay cheap.
    """
    gc.freeze()


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _finish(report: RunReport) -> int:
    for line in report.actions:
        _out(line)
    if report.failures:
        _out(f"{len(report.failures)} item(s) failed (retried next run):")
        for line in report.failures:
            _out(f"  {line}")
        return ExitCode.ITEM_FAILURES
    return ExitCode.OK


def once(settings: Settings, *, as_of: dt.date | None = None, dry_run: bool = False) -> int:
    """One pass, then exit."""
    app = build_app(settings)
    _freeze_startup_objects()
    try:
        report = run_pass(app, today=as_of or london_today(), dry_run=dry_run)
    except SettingsError:
        raise
    except AutomationError as exc:
        log.error("run failed: %s", exc)
        _out(f"error: {exc}")
        return ExitCode.ITEM_FAILURES
    return _finish(report)


def backfill(settings: Settings, *, since: dt.date, as_of: dt.date | None = None) -> int:
    """File publications published on or after ``since`` (idempotent)."""
    app = build_app(settings)
    _freeze_startup_objects()
    report = RunReport()
    intake = Intake(app, report, today=as_of or london_today())
    intake.run(since=since)
    _out(
        f"backfill since {since.isoformat()}: {len(report.filed)} filed, "
        f"{len(report.failures)} failed"
    )
    return _finish(report)


def provision(settings: Settings) -> int:
    """Create or upgrade the tracker list, folder and buckets."""
    app = build_app(settings)
    result = provision_tenant(app)
    for line in result.created:
        _out(f"created  {line}")
    for line in result.present:
        _out(f"present  {line}")
    for line in result.problems:
        _out(f"PROBLEM  {line}")
    if not result.created:
        _out("nothing to change")
    return ExitCode.ITEM_FAILURES if result.problems else ExitCode.OK


def doctor(settings: Settings) -> int:
    """Check settings, token and every resource (see automation.cli.doctor)."""
    from automation.cli.doctor import run_doctor

    return run_doctor(settings)


def status(settings: Settings, *, as_of: dt.date | None, fmt: str) -> int:
    """Open responses (see automation.cli.status)."""
    from automation.cli.status import run_status

    return run_status(settings, as_of=as_of or london_today(), fmt=fmt)


def run_service(settings: Settings) -> int:
    """The scheduled service."""
    from automation.scheduling import run_scheduled

    _freeze_startup_objects()
    return run_scheduled(settings)
