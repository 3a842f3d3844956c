"""Reminders end to end: every day from publication to 10 days past the deadline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from automation.app import App
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import make_settings

P = user_email("policy_officer")
M = user_email("chief_executive")
C = user_email("pcc")
W = user_email("website")

# Worked out by hand from the seed (published 20 July 2023, statutory deadline 13 September)
# and the default stages and offsets: cc_comments due 27 Jul (owner), draft 23 Aug (owner),
# approval 1 Sep (3 Sep is a Sunday; PCC), publish 12 Sep (the website team member: issue 11)
# and the HMICFRS portal 12 Sep (owner); stage reminders 7/3/1/0
# days before to the assignee; deadline reminders 14/7/3/1 days before to owner + manager;
# overdue every 3 days from the day after, escalated to the manager. Nothing is completed.
EXPECTED: dict[str, set[str]] = {
    "2023-07-20": {P},  # cc -7
    "2023-07-24": {P},  # cc -3
    "2023-07-26": {P},  # cc -1
    "2023-07-27": {P},  # cc due
    "2023-07-28": {P, M},  # cc overdue
    "2023-07-31": {P, M},
    "2023-08-03": {P, M},
    "2023-08-06": {P, M},
    "2023-08-09": {P, M},
    "2023-08-12": {P, M},
    "2023-08-15": {P, M},
    "2023-08-16": {P},  # draft -7
    "2023-08-18": {P, M},
    "2023-08-20": {P},  # draft -3
    "2023-08-21": {P, M},
    "2023-08-22": {P},  # draft -1
    "2023-08-23": {P},  # draft due
    "2023-08-24": {P, M},  # cc + draft overdue
    "2023-08-25": {C},  # approval -7
    "2023-08-27": {P, M},
    "2023-08-29": {C},  # approval -3
    "2023-08-30": {P, M},  # overdue + deadline -14
    "2023-08-31": {C},  # approval -1
    "2023-09-01": {C},  # approval due
    "2023-09-02": {P, M, C},  # approval overdue too
    "2023-09-05": {P, M, C, W},  # + publish (website) and portal (owner) -7
    "2023-09-06": {P, M},  # deadline -7
    "2023-09-08": {P, M, C},
    "2023-09-09": {P, W},  # publish, portal -3
    "2023-09-10": {P, M},  # deadline -3
    "2023-09-11": {P, M, C, W},  # + publish, portal -1
    "2023-09-12": {P, M, W},  # publish, portal due + deadline -1
    "2023-09-13": {P, M, W},  # publish, portal overdue
    "2023-09-14": {P, M, C},  # deadline overdue
    "2023-09-16": {P, M, W},
    "2023-09-17": {P, M, C},
    "2023-09-19": {P, M, W},
    "2023-09-20": {P, M, C},
    "2023-09-22": {P, M, W},
    "2023-09-23": {P, M, C},
}


def _digests(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e for e in delivered(sandbox.tenant) if "digest" in str(e.get("key"))]


def _setup(sandbox: Sandbox, tmp_path: Path) -> App:
    app = App(make_settings(sandbox, tmp_path / "state"))
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    return app


def test_every_day_sends_exactly_the_expected_digests(sandbox: Sandbox, tmp_path: Path) -> None:
    app = _setup(sandbox, tmp_path)
    got: dict[str, set[str]] = {}
    day = dt.date(2023, 7, 20)
    while day <= dt.date(2023, 9, 23):
        before = len(_digests(sandbox))
        report = run_pass(app, today=day)
        assert report.failures == [], (day, report.failures)
        for entry in _digests(sandbox)[before:]:
            got.setdefault(day.isoformat(), set()).update(a.lower() for a in entry["to"])
        day += dt.timedelta(days=1)
    assert got == EXPECTED
    keys = [str(e["key"]) for e in _digests(sandbox)]
    assert len(keys) == len(set(keys))


def test_downtime_sends_only_the_latest_missed_reminder(sandbox: Sandbox, tmp_path: Path) -> None:
    app = _setup(sandbox, tmp_path)
    run_pass(app, today=dt.date(2023, 7, 20))
    app.resolve()

    def sent() -> set[str]:
        [record] = app.tracker.all()
        return {e for e in record.reminders.get("sent", []) if "|" not in e}

    assert sent() == {"stage:cc_comments:2023-07-27:-7"}
    # Down from 21 to 28 July: the -3, -1 and due-day reminders were missed; only the latest
    # point of the series (the first overdue notice) goes out, once.
    run_pass(app, today=dt.date(2023, 7, 28))
    assert sent() == {
        "stage:cc_comments:2023-07-27:-7",
        "overdue:stage:cc_comments:2023-07-27:+1",
    }
    assert len(_digests(sandbox)) == 3  # 20 Jul owner; 28 Jul owner and manager
    run_pass(app, today=dt.date(2023, 7, 28))
    assert len(_digests(sandbox)) == 3
