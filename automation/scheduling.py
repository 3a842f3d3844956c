"""``automation run``: the intake + follow-up cycle every N minutes, reminders daily."""

from __future__ import annotations

import datetime as dt
import logging

from automation.app import App, build_app
from automation.domain.calendar import london_now, london_today
from automation.exitcodes import ExitCode
from automation.jobs import reminders as reminder_job
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.service import JobSpec, Service
from automation.settings import Settings

log = logging.getLogger(__name__)


def build_jobs(settings: Settings, app: App) -> list[JobSpec]:
    """The two scheduled jobs, sharing one App (token and id caches reused)."""
    schedule = settings.schedule
    interval = (
        dt.timedelta(seconds=schedule.interval_seconds)
        if schedule.interval_seconds
        else dt.timedelta(minutes=schedule.interval_minutes)
    )
    hour, minute = (int(part) for part in schedule.reminders_at.split(":"))

    def reminders() -> int:
        today = london_today()
        report = RunReport()
        reminder_job.run(app, report, today=today)
        if not report.failures:
            app.state.set("reminders_day", today.isoformat())
        return ExitCode.ITEM_FAILURES if report.failures else ExitCode.OK

    def cycle() -> int:
        report = run_pass(app, today=london_today(), reminders=False)
        for line in report.failures:
            log.error("item failure: %s", line)
        # Started after today's reminder time (or down at that time): catch up once.
        now = london_now()
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if now >= due and app.state.get("reminders_day") != now.date().isoformat():
            reminders()
        return ExitCode.ITEM_FAILURES if report.failures else ExitCode.OK

    return [
        JobSpec(name="intake+follow-up", func=cycle, interval=interval),
        JobSpec(name="reminders", func=reminders, daily_at=dt.time(hour, minute)),
    ]


def run_scheduled(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop."""
    app = build_app(settings)
    healthz = (settings.healthz.host, settings.healthz.port) if settings.healthz.enabled else None
    service = Service(
        build_jobs(settings, app),
        misfire_grace_seconds=settings.schedule.misfire_grace_seconds,
        healthz=healthz,
    )
    log.info("service starting")
    return service.run()
