"""``automation run``: the intake + follow-up cycle every N minutes, reminders daily."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from automation import __version__
from automation.app import App, build_app
from automation.domain.calendar import london_now, london_today
from automation.errors import AutomationError, is_access_failure
from automation.exitcodes import ExitCode
from automation.jobs import reminders as reminder_job
from automation.jobs.report import RunReport
from automation.passes import (
    REMINDERS_DAY,
    access_failure_line,
    next_reminders,
    reminders_at,
    reminders_due,
    run_pass,
)
from automation.service import JobSpec, Service
from automation.settings import Settings

log = logging.getLogger(__name__)


def build_jobs(settings: Settings, app: App) -> list[JobSpec]:
    """The two scheduled jobs, sharing one App (token and id caches reused).

    Reminders go out by the same rule as ``once`` (`reminders_due`): working days, from
    ``schedule.reminders_at``, once a day; a start after that time catches up once.
    """
    schedule = settings.schedule
    interval = (
        dt.timedelta(seconds=schedule.interval_seconds)
        if schedule.interval_seconds
        else dt.timedelta(minutes=schedule.interval_minutes)
    )
    at = reminders_at(settings)

    def reminders() -> int:
        if not reminders_due(london_now(), at=at, last_day=app.state.get(REMINDERS_DAY)):
            log.info("reminders not due today (not a working day, or already sent)")
            return ExitCode.OK
        today = london_today()
        report = RunReport()
        reminder_job.run(app, report, today=today)
        if not report.failures:
            app.state.set(REMINDERS_DAY, today.isoformat())
        return ExitCode.ITEM_FAILURES if report.failures else ExitCode.OK

    def cycle() -> int:
        report = run_pass(app, today=london_today(), reminders=False)
        for line in report.failures:
            log.error("item failure: %s", line)
        # Started after today's reminder time (or down at that time): catch up once.
        if reminders_due(london_now(), at=at, last_day=app.state.get(REMINDERS_DAY)):
            reminders()
        return ExitCode.ITEM_FAILURES if report.failures else ExitCode.OK

    return [
        JobSpec(name="intake+follow-up", func=cycle, interval=interval),
        JobSpec(name="reminders", func=reminders, daily_at=at),
    ]


def run_scheduled(settings: Settings, *, config: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT (0), or until the app is refused access (2)."""
    app = build_app(settings)
    healthz = (settings.healthz.host, settings.healthz.port) if settings.healthz.enabled else None

    def fatal(exc: BaseException) -> str:
        if isinstance(exc, AutomationError) and is_access_failure(exc):
            return access_failure_line(exc, settings)
        return ""

    service = Service(
        build_jobs(settings, app),
        misfire_grace_seconds=settings.schedule.misfire_grace_seconds,
        healthz=healthz,
        fatal=fatal,
    )
    sp = settings.sharepoint
    log.info(
        "service %s starting: config %s, tenant %s, site %s, next reminders %s %s London time",
        __version__,
        config.resolve() if config is not None else "(environment only)",
        settings.tenant_id,
        sp.site_id or f"{sp.hostname}{sp.site_path}",
        next_reminders(london_now(), at=reminders_at(settings)).isoformat(),
        settings.schedule.reminders_at,
    )
    return service.run()
