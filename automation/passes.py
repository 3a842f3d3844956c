"""One pass of the service: intake, follow-up and (optionally) reminders.

The service layer: the face (``automation once``, the demo) and the scheduler
(`automation.scheduling`) both run passes through here, so neither imports the other.
"""

from __future__ import annotations

import datetime as dt

from automation.app import App
from automation.jobs import followup
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
    """One intake + follow-up (+ reminders) pass; item failures are in the report."""
    report = RunReport(dry_run=dry_run)
    intake = Intake(app, report, today=today)
    intake.run(since=since)
    followup.run(app, report, today=today, intake=intake)
    if reminders:
        reminder_job.run(app, report, today=today)
    return report
