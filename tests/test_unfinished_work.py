"""Unfinished work is remembered, and one publication's failure costs the others nothing.

Issue 15, points 1 and 4: an item left half set up by an instance that died holding its
lease is set up by a later pass even when the feed has not changed since (304); a lookup
still throttled after the retry budget fails only its publications, and follow-up and
reminders still run that pass.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.app import App
from automation.domain.calendar import UTC_STAMP_FORMAT
from automation.domain.record import TrackerRecord
from automation.errors import ThrottledError
from automation.graph.retry import RetryPolicy
from automation.jobs import lease
from automation.jobs.intake import Intake
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.faults import OneOff
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests import feeds
from tests.service_env import SimulatedCrash, app_for, make_settings
from tests.test_followup import approve_in_tracker

DAY = dt.date(2023, 8, 8)


def _records(app: App) -> list[TrackerRecord]:
    app.resolve()
    return app.tracker.all()


def _other_hosts_lease(seconds: float) -> str:
    """A lease of an instance on another machine, valid for ``seconds`` more."""
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return f"elsewhere|{until.strftime(UTC_STAMP_FORMAT)}|0000000000:1"


def _half_set_up_by_a_dead_instance(sandbox: Sandbox, settings: Settings, seconds: float) -> str:
    """File the seed, die right after the item create, hand the lease to another machine."""
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    with pytest.raises(SimulatedCrash):
        run_pass(app_for(settings, crash_after=0), today=DAY)
    app = App(settings)
    [record] = _records(app)
    assert record.setup == "filed"
    app.tracker.patch(record.item_id, {"S55Lease": _other_hosts_lease(seconds)})
    return record.item_id


def _wait_for_expiry(item_id: str, app: App) -> None:
    [record] = [r for r in _records(app) if r.item_id == item_id]
    expiry = dt.datetime.strptime(record.lease.split("|")[1], UTC_STAMP_FORMAT).replace(
        tzinfo=dt.UTC
    )
    left = (expiry - dt.datetime.now(dt.UTC)).total_seconds()
    time.sleep(max(0.0, left) + 1.1)


def test_lease_lost_to_a_dead_instance_elsewhere_is_revisited_while_the_feed_is_unchanged(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    item_id = _half_set_up_by_a_dead_instance(sandbox, settings, seconds=4)

    # Another instance: the lease is held (by a machine we cannot see), so it moves on,
    # and says so, but keeps the feed's validators and the delta link where they were.
    report = run_pass(App(settings), today=DAY)
    assert report.failures == []
    assert any("another instance" in line for line in report.unfinished), report.unfinished
    [record] = _records(App(settings))
    assert record.setup == "filed"

    # The holder never comes back; once its lease expires a pass takes the item over, with
    # the feed unchanged.
    _wait_for_expiry(item_id, App(settings))
    report = run_pass(App(settings), today=DAY)
    assert report.failures == []
    assert report.unfinished == []
    [record] = _records(App(settings))
    assert record.setup == "complete"
    assert record.draft_item_id
    assert not record.lease


def test_unfinished_item_out_of_the_feed_is_found_by_follow_up(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The item has left the feed's window: the kept delta link still brings it back."""
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    item_id = _half_set_up_by_a_dead_instance(sandbox, settings, seconds=4)
    assert run_pass(App(settings), today=DAY).unfinished
    sandbox.set_page("/feed/", feeds.rss([feeds.NORFOLK_PEEL]))  # the seed is gone
    run_pass(App(settings), today=DAY)  # reads the new feed: commits its validators
    _wait_for_expiry(item_id, App(settings))
    assert run_pass(App(settings), today=DAY).failures == []
    setups = {r.key: r.setup for r in _records(App(settings))}
    assert set(setups.values()) == {"complete"}, setups


def test_unfinished_item_is_found_again_after_the_state_directory_is_deleted(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    item_id = _half_set_up_by_a_dead_instance(sandbox, settings, seconds=3)
    assert run_pass(App(settings), today=DAY).unfinished
    _wait_for_expiry(item_id, App(settings))
    shutil.rmtree(tmp_path / "state")
    assert run_pass(App(settings), today=DAY).failures == []
    [record] = _records(App(settings))
    assert record.setup == "complete"


def _approved_seed(sandbox: Sandbox, tmp_path: Path) -> tuple[Settings, App, TrackerRecord]:
    """The seed filed and set up, then approved by the PCC in the tracker."""
    settings = make_settings(sandbox, tmp_path / "state")
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    assert run_pass(app, today=DAY, reminders=False).failures == []
    [record] = _records(app)
    approve_in_tracker(sandbox, app, record)
    return settings, app, record


def test_circulation_left_to_a_dead_instance_elsewhere_is_revisited(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, app, record = _approved_seed(sandbox, tmp_path)
    app.tracker.patch(record.item_id, {"S55Lease": _other_hosts_lease(3)})
    report = run_pass(App(settings), today=DAY, reminders=False)
    assert any("circulation" in line for line in report.unfinished), report.unfinished
    _wait_for_expiry(record.item_id, app)
    assert run_pass(App(settings), today=DAY, reminders=False).failures == []
    [after] = _records(app)
    assert after.status == "Circulated"
    assert after.approved_by.startswith("Sarah Taylor")


def test_expired_lease_of_another_machine_is_taken_over() -> None:
    now = dt.datetime.now(dt.UTC)
    past = (now - dt.timedelta(seconds=1)).strftime(UTC_STAMP_FORMAT)
    future = (now + dt.timedelta(minutes=5)).strftime(UTC_STAMP_FORMAT)
    assert not lease.held_by_other(f"elsewhere|{past}|0000000000:1", now)
    assert lease.held_by_other(f"elsewhere|{future}|0000000000:1", now)


def test_throttled_lookup_fails_its_publications_and_the_pass_goes_on(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, app, record = _approved_seed(sandbox, tmp_path)
    validators = App(settings).state.section("feeds")

    # A new publication, and the key lookups stay throttled past the retry budget (two
    # attempts each of the two inner lookups of one $batch).
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED, feeds.NORFOLK_PEEL]))
    sandbox.faults.add_one_off(
        OneOff(method="GET", path=r"/lists/[^/]+/items$", status=429, count=4, retry_after="0")
    )
    tight = App(settings, retry=RetryPolicy(max_attempts=2))
    report = run_pass(tight, today=dt.date(2023, 9, 1))
    failed = {line.partition(": ")[0] for line in report.failures}
    assert len(failed) == 2
    assert record.key in failed
    assert all("not looked up" in line for line in report.failures), report.failures
    # Follow-up still ran: the approved response went out this pass.
    [after] = _records(app)
    assert after.status == "Circulated"
    # The feed's validators were not committed: the next pass reads it and files the new one.
    assert App(settings).state.section("feeds") == validators
    again = run_pass(App(settings), today=dt.date(2023, 9, 1), reminders=False)
    assert again.failures == []
    assert len(_records(app)) == 2


class _Tracker:
    """Lookups of the first 20 keys are throttled; the rest answer."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def lookup_by_keys(self, keys: Any) -> dict[str, Any]:
        wanted = list(keys)
        self.calls.append(wanted)
        if "k0" in wanted:
            raise ThrottledError(
                status=429,
                code="TooManyRequests",
                message="throttled",
                request_id="r1",
                method="POST",
                url="/$batch",
            )
        return {key: f"record of {key}" for key in wanted}


def test_a_failed_lookup_round_trip_fails_only_its_publications() -> None:
    tracker = _Tracker()
    app: Any = SimpleNamespace(settings=None, tracker=tracker)
    report = RunReport()
    intake = Intake(app, report, today=DAY)
    pubs: Any = [SimpleNamespace(key=f"k{n}", feed_url=f"feed{n // 20}") for n in range(25)]
    found, unknown = intake.lookup_each(pubs)
    assert [len(call) for call in tracker.calls] == [20, 5]
    assert unknown == {f"k{n}" for n in range(20)}
    assert set(found) == {f"k{n}" for n in range(20, 25)}
    assert len(report.failures) == 20
    assert intake.failed_feeds == {"feed0"}
