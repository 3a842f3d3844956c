"""Reminders end to end on the sandbox: the staff review's scenario, day by day.

Filed on Tuesday 8 August 2023: Norfolk PEEL (published 14 July, deadline 7 September), the
vetting thematic (published 11 July, deadline 4 September) and the super-complaint (published
1 August, to be decided). Nobody does anything; one pass a day from 9 August to 15 September.
The days are those of the pure policy over the same scenario (tests/test_reminder_policy.py).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import Any

from automation.app import App
from automation.domain.deadlines import is_working_day
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered, message_mime
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import make_settings

OFFICER = user_email("policy_officer")
M = user_email("chief_executive")
C = user_email("pcc")

NORFOLK_PEEL = feeds.Item(
    title="PEEL 2023-25 Police effectiveness, efficiency and legitimacy: An inspection of "
    "Norfolk Constabulary",
    link="https://hmicfrs.justiceinspectorates.gov.uk/peel-reports/norfolk-2023/",
    pub_date="Thu, 13 Jul 2023 23:01:00 +0000",
    categories=("PEEL", "Norfolk Constabulary"),
)
VETTING = feeds.Item(
    title="An inspection of vetting, misconduct, and misogyny in the police service",
    link="https://hmicfrs.justiceinspectorates.gov.uk/publications/an-inspection-of-vetting/",
    pub_date="Mon, 10 Jul 2023 23:01:00 +0000",
    categories=("National thematic", "N/A"),
)
FILED = dt.date(2023, 8, 8)


def _days(*days: str) -> set[str]:
    return {f"2023-{day}" for day in days}


EXPECTED: dict[str, set[str]] = {
    # Stage reminders (3 working days before, on the day, the day after), then Mondays
    # (Tuesday 29 August after the bank holiday); the deadlines on 4 and 7 September.
    OFFICER: _days("08-09", "08-10", "08-11", "08-14", "08-15", "08-17", "08-18", "08-21", "08-29")
    | _days("09-04", "09-07", "09-11"),
    # The weekly summary (9 August: the week the service started) and each escalation once.
    M: _days("08-09", "08-11", "08-14", "08-15", "08-18", "08-21", "08-29", "09-04", "09-07")
    | _days("09-11"),
    # The PCC: only at the statutory deadlines (the drafts are never completed).
    C: _days("09-04", "09-07"),
}


def _digests(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e for e in delivered(sandbox.tenant) if "digest" in str(e.get("key"))]


def _html(sandbox: Sandbox, entry: dict[str, Any]) -> tuple[str, str]:
    mime = message_mime(sandbox.tenant, entry["mailbox"], entry["message_id"])
    message = email.message_from_bytes(mime, policy=email.policy.default)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(message["Subject"]), str(body.get_content())


def test_the_scenario_day_by_day(sandbox: Sandbox, tmp_path: Path) -> None:
    app = App(make_settings(sandbox, tmp_path / "state"))
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([NORFOLK_PEEL, VETTING, feeds.SUPER_COMPLAINT]))
    assert run_pass(app, today=FILED, reminders=False).failures == []
    assert len(app.tracker.all()) == 3

    got: dict[str, set[str]] = {}
    first_day: list[dict[str, Any]] = []
    day = FILED + dt.timedelta(days=1)
    while day <= dt.date(2023, 9, 15):
        before = len(_digests(sandbox))
        assert run_pass(app, today=day).failures == [], day
        assert run_pass(app, today=day).failures == [], day  # a second pass sends nothing
        new = _digests(sandbox)[before:]
        if not is_working_day(day):
            assert new == [], day
        for entry in new:
            got.setdefault(entry["to"][0].lower(), set()).add(day.isoformat())
        if day == FILED + dt.timedelta(days=1):
            first_day = new
        day += dt.timedelta(days=1)

    assert got == EXPECTED
    keys = [str(e["key"]) for e in _digests(sandbox)]
    assert len(keys) == len(set(keys))
    sent = _digests(sandbox)
    assert len(sent) == sum(len(days) for days in EXPECTED.values())  # one a day at most

    # The morning after intake: nothing overdue; the subject counts reports.
    [officer] = [e for e in first_day if e["to"] == [OFFICER]]
    subject, html = _html(sandbox, officer)
    assert subject == "Section 55 reminders: 3 reports need attention"
    assert "overdue</strong>" not in html  # no "N days overdue" row
    assert "Decide whether to respond" in html
    # The manager's weekly summary has the owner on each report, and never says "yours".
    [summary] = [e for e in first_day if e["to"] == [M]]
    subject, html = _html(sandbox, summary)
    assert subject == "Section 55 reminders: weekly summary, 3 open responses"
    assert "Owner: Priya Shah" in html
    assert "yours" not in html
