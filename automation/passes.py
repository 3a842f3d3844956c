"""One pass of the service: intake, follow-up and (optionally) reminders.

The service layer: the face (``automation once``, the demo) and the scheduler
(`automation.scheduling`) both run passes through here, so neither imports the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from automation.app import App
from automation.errors import AuthError, AutomationError, SettingsError
from automation.jobs import calendar_sync, followup
from automation.jobs import recommendations as recommendation_job
from automation.jobs import reminders as reminder_job
from automation.jobs.intake import Intake
from automation.jobs.report import RunReport


def run_pass(
    app: App,
    *,
    today: dt.date,
    dry_run: bool = False,
    since: dt.date | None = None,
    reminders: bool = True,
) -> RunReport:
    """One intake + follow-up (+ reminders) pass; item failures are in the report.

    One part's failure (a lookup or read still throttled after the retry budget, say)
    does not cost the others their turn: it is reported and the next part runs. Intake
    then commits no feed validators and follow-up keeps its delta link, so the next pass
    does that work again. Settings and credential errors still stop the pass: nothing
    can work without them.
    """
    report = RunReport(dry_run=dry_run)
    intake = Intake(app, report, today=today)
    _part(report, "intake", lambda: intake.run(since=since))
    _part(report, "follow-up", lambda: followup.run(app, report, today=today, intake=intake))
    # After follow-up: both act on what this pass filed or published (no request when idle).
    _part(report, "recommendations", lambda: recommendation_job.run(app, report, today=today))
    _part(report, "calendar", lambda: calendar_sync.run(app, report, today=today))
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
        report.failure(name, f"not finished this pass: {exc}")
