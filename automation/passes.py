"""One pass of the service: intake, follow-up and (optionally) reminders.

The service layer: the face (``automation once``, the demo) and the scheduler
(`automation.scheduling`) both run passes through here, so neither imports the other.
Both also decide here when the day's reminders are due (`reminders_due`), so a timer or
CronJob running ``once`` every few minutes sends them exactly when ``run`` would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from automation.app import App
from automation.domain.deadlines import is_working_day
from automation.errors import (
    AuthError,
    AutomationError,
    GraphHTTPError,
    SettingsError,
    is_access_failure,
)
from automation.graph.auth import auth_fix
from automation.jobs import followup
from automation.jobs import reminders as reminder_job
from automation.jobs.intake import Intake
from automation.jobs.report import RunReport
from automation.settings import Settings

REMINDERS_DAY = "reminders_day"
"""Local-state key: the London date whose reminders were last sent (a cache: when it is
lost, the reminders' own exactly-once records on the tracker still prevent duplicates)."""


def run_pass(
    app: App,
    *,
    today: dt.date,
    dry_run: bool = False,
    since: dt.date | None = None,
    reminders: bool = True,
    with_tasks: bool = False,
) -> RunReport:
    """One intake + follow-up (+ reminders) pass; item failures are in the report.

    One part's failure (a lookup or read still throttled after the retry budget, say)
    does not cost the others their turn: it is reported and the next part runs. Intake
    then commits no feed validators and follow-up keeps its delta link, so the next pass
    does that work again. Settings, credential and permission errors (`is_access_failure`)
    still stop the pass: nothing can work without them.
    """
    report = RunReport(dry_run=dry_run)
    intake = Intake(app, report, today=today, with_tasks=with_tasks)
    _part(report, "intake", lambda: intake.run(since=since))
    _part(report, "follow-up", lambda: followup.run(app, report, today=today, intake=intake))
    if reminders:
        _part(report, "reminders", lambda: reminder_job.run(app, report, today=today))
    return report


def _part(report: RunReport, name: str, work: Callable[[], None]) -> None:
    """Run one part of a pass; a Graph or item error is reported, not raised."""
    try:
        work()
    except (SettingsError, AuthError):
        raise
    except AutomationError as exc:
        if is_access_failure(exc):
            raise
        report.failure(name, f"not finished this pass: {exc}")


def reminders_at(settings: Settings) -> dt.time:
    """``schedule.reminders_at`` as a London wall-clock time."""
    hour, minute = (int(part) for part in settings.schedule.reminders_at.split(":"))
    return dt.time(hour, minute)


def reminders_due(now: dt.datetime, *, at: dt.time, last_day: str | None) -> bool:
    """Whether the day's reminders go out now (``now`` is London time).

    On working days only (England and Wales bank holidays excluded), at or after ``at``,
    and once a day: not when ``last_day`` (the day last sent) is today.
    """
    today = now.date()
    return (
        is_working_day(today)
        and now.timetz().replace(tzinfo=None) >= at
        and last_day != today.isoformat()
    )


def next_reminders(now: dt.datetime, *, at: dt.time) -> dt.date:
    """The next working day (today included while ``at`` is still ahead) reminders go out."""
    day = now.date()
    if now.timetz().replace(tzinfo=None) >= at:
        day += dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def access_failure_line(exc: AutomationError, settings: Settings) -> str:
    """One line naming an access failure and its fix (for the terminal and the log)."""
    if isinstance(exc, AuthError):
        fix = auth_fix(
            exc,
            certificate=settings.certificate is not None,
            authority_host=settings.authority_host,
        )
        return f"access refused: {exc}; fix: {fix}"
    status = exc.status if isinstance(exc, GraphHTTPError) else "?"
    return (
        f"access refused ({status}): {exc}; fix: grant the app the permission this call needs "
        "(`automation doctor` names the missing grant)"
    )
