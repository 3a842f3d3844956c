"""Intake against in-memory ports: filing, setup and idempotence, without Graph or HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from automation.domain.workflow import SetupState, Status
from automation.jobs.intake import Intake
from automation.jobs.report import RunReport
from tests import feeds
from tests.jobs import fakes

TODAY = dt.date(2023, 8, 4)


def run_intake(services: fakes.FakeServices) -> RunReport:
    report = RunReport()
    Intake(services, report, today=TODAY).run()
    assert report.failures == []
    return report


def snapshot(services: fakes.FakeServices) -> tuple[int, int, int, int]:
    """(tracker writes, items, tasks, files): what a pass that does nothing leaves alone."""
    return (
        len(services.tracker.writes),
        len(services.tracker.items),
        len(services.planner.tasks),
        len(services.drive.files),
    )


def test_a_new_publication_is_filed_once_with_draft_and_one_task_per_stage(
    tmp_path: Path,
) -> None:
    services = fakes.services(tmp_path)
    services.http.publish(fakes.FEED_URL, [feeds.NORFOLK_PEEL])

    report = run_intake(services)

    (record,) = services.tracker.all()
    assert report.filed == [record.key]
    assert record.key.endswith("norfolk-2023-25")
    assert record.status == Status.CHIEF_CONSTABLE_COMMENTS  # its first stage
    assert record.setup == SetupState.COMPLETE
    assert record.published_on == dt.date(2023, 8, 4)
    (path,) = services.drive.files
    assert record.draft_item_id == services.drive.files[path]["id"]
    assert record.draft_url == services.drive.files[path]["webUrl"]
    stages = [stage.key for stage in services.settings.stages]
    assert sorted(record.tasks) == sorted(stages)
    for stage in services.settings.stages:
        task = services.planner.tasks[record.tasks[stage.key]["id"]]
        assert task["title"].startswith(f"[S55-{record.item_id}] {stage.title}")
    # Every task's details are written before the item is marked complete, in one chain.
    assert len(services.tracker.ops_before) == len(stages)


def test_a_second_pass_does_nothing_even_without_the_local_cache(tmp_path: Path) -> None:
    services = fakes.services(tmp_path)
    services.http.publish(fakes.FEED_URL, [feeds.NORFOLK_PEEL])
    run_intake(services)
    before = snapshot(services)

    run_intake(services)  # the feed answers 304 to the stored ETag
    assert snapshot(services) == before
    assert len(services.http.requests) == 2

    services.state.clear()  # the cache is lost: the tracker alone says what was filed
    report = run_intake(services)
    assert snapshot(services) == before
    assert report.filed == []


def test_a_triage_item_gets_one_triage_task_and_no_draft(tmp_path: Path) -> None:
    services = fakes.services(tmp_path)
    services.http.publish(fakes.FEED_URL, [feeds.SUPER_COMPLAINT])

    run_intake(services)
    services.state.clear()
    run_intake(services)

    (record,) = services.tracker.all()
    assert record.status == Status.TRIAGE
    assert record.setup == SetupState.TRIAGE
    (task,) = services.planner.tasks.values()
    assert task["title"].startswith(f"[S55-{record.item_id}] Decide whether a response is needed")
    assert record.tasks == {"triage": {"id": task["id"], "details": True}}
    buckets = {b["id"]: b["name"] for b in services.planner.list_buckets("plan-1")}
    assert buckets[task["bucketId"]] == "Triage"
    assert services.drive.files == {}


def test_a_publication_for_another_force_is_filed_without_work(tmp_path: Path) -> None:
    services = fakes.services(tmp_path)
    services.http.publish(fakes.FEED_URL, [feeds.SUFFOLK_PEEL])

    run_intake(services)

    (record,) = services.tracker.all()
    assert record.status == Status.NOT_REQUIRED
    assert services.planner.tasks == {}
    assert services.drive.files == {}
