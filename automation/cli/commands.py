"""The service's commands (what ``automation <command>`` runs), returning exit codes."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import sys
from pathlib import Path

from automation.app import build_app
from automation.cli.progress import BackfillProgress
from automation.domain.calendar import london_now, london_today
from automation.errors import AutomationError, SettingsError, is_access_failure
from automation.exitcodes import ExitCode
from automation.jobs.intake import Intake
from automation.jobs.provision import provision as provision_tenant
from automation.jobs.report import RunReport
from automation.passes import REMINDERS_DAY, reminders_at, reminders_due, run_pass
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
    return _failures(report)


def _failures(report: RunReport) -> int:
    if report.failures:
        _out(f"{len(report.failures)} item(s) failed (retried next run):")
        for line in report.failures:
            _out(f"  {line}")
        return ExitCode.ITEM_FAILURES
    return ExitCode.OK


def once(settings: Settings, *, as_of: dt.date | None = None, dry_run: bool = False) -> int:
    """One pass, then exit.

    Without ``as_of`` the day's reminders go out as `run` sends them: on working days, at
    or after ``schedule.reminders_at`` London time, once a day (the day is remembered in
    the local state; if that is lost, the reminders' own records on the tracker still
    prevent a second copy). ``as_of`` replays that day: its reminders are always worked
    out (catch-up and tests), whatever the clock, and the remembered day is left alone.
    """
    app = build_app(settings)
    _freeze_startup_objects()
    if as_of is None:
        today = london_today()
        reminders = reminders_due(
            london_now(), at=reminders_at(settings), last_day=app.state.get(REMINDERS_DAY)
        )
        if not reminders:
            log.info(
                "reminders not due now (working days from %s London time, once a day)",
                settings.schedule.reminders_at,
            )
    else:
        today, reminders = as_of, True
    try:
        report = run_pass(app, today=today, dry_run=dry_run, reminders=reminders)
    except SettingsError:
        raise
    except AutomationError as exc:
        if is_access_failure(exc):
            raise
        log.error("run failed: %s", exc)
        _out(f"error: {exc}")
        return ExitCode.ITEM_FAILURES
    reminder_failed = any(line.startswith("reminders") for line in report.failures)
    if as_of is None and reminders and not dry_run and not reminder_failed:
        app.state.set(REMINDERS_DAY, today.isoformat())
    return _finish(report)


def backfill(
    settings: Settings,
    *,
    since: dt.date,
    as_of: dt.date | None = None,
    with_tasks: bool = False,
) -> int:
    """File publications published on or after ``since``, reading older feed pages too.

    Publications whose deadline has passed are filed as historic (Closed; no draft, tasks
    or reminders) unless ``with_tasks``. A progress bar on a terminal, plain lines otherwise.
    """
    app = build_app(settings)
    _freeze_startup_objects()
    report = RunReport()
    with BackfillProgress(sys.stderr) as progress:
        intake = Intake(
            app,
            report,
            today=as_of or london_today(),
            progress=progress.filed,
            pages=progress.page,
            with_tasks=with_tasks,
        )
        intake.run(since=since)
    for line in report.actions:
        _out(line)
    _out(
        f"backfill since {since.isoformat()}: {len(report.filed)} filed, "
        f"{len(report.failures)} failed"
    )
    return _failures(report)


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


def run_service(settings: Settings, *, config: Path | None = None) -> int:
    """The scheduled service."""
    from automation.scheduling import run_scheduled

    _freeze_startup_objects()
    return run_scheduled(settings, config=config)
