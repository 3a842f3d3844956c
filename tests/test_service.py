"""The scheduled service: schedule, failure isolation, clean shutdown, signals, /healthz."""

from __future__ import annotations

import http.client
import json
import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from automation.domain.calendar import LONDON
from automation.service import HealthState, JobSpec, Service, describe_error

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


class Running:
    """A Service running in a background thread; remembers what run() returned and when."""

    def __init__(self, service: Service, log: list[str] | None = None) -> None:
        self.service = service
        self.log = log
        self.result: int | None = None
        self.returned_at: float | None = None
        self.thread = threading.Thread(target=self._run, name="test-service")

    def _run(self) -> None:
        self.result = self.service.run()
        self.returned_at = time.monotonic()
        if self.log is not None:
            self.log.append("run returned")

    def start(self) -> Running:
        self.thread.start()
        assert self.service.wait_ready(5), "the scheduler did not start"
        return self

    def stop(self, timeout: float = 5) -> int | None:
        self.service.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return after stop()"
        return self.result


@pytest.fixture
def services() -> Iterator[list[Running]]:
    """Started services, stopped at the end of the test even when it fails."""
    started: list[Running] = []
    yield started
    for running in started:
        if running.thread.is_alive():
            running.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# -- JobSpec and HealthState -------------------------------------------------------------------


def test_jobspec_needs_exactly_one_schedule() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        JobSpec(name="x", func=lambda: None)
    with pytest.raises(ValueError, match="exactly one"):
        JobSpec(name="x", func=lambda: None, interval=timedelta(1), daily_at=wall_time(8))
    with pytest.raises(ValueError, match="positive"):
        JobSpec(name="x", func=lambda: None, interval=timedelta(0))
    with pytest.raises(ValueError, match="naive"):
        JobSpec(name="x", func=lambda: None, daily_at=wall_time(8, tzinfo=UTC))


def test_service_rejects_duplicate_job_names() -> None:
    spec = JobSpec(name="same", func=lambda: None, interval=timedelta(minutes=1))
    with pytest.raises(ValueError, match="unique"):
        Service([spec, spec])


def test_health_rule_interval_job() -> None:
    spec = JobSpec(name="intake", func=lambda: None, interval=timedelta(minutes=15))
    health = HealthState([spec], started=T0)
    # Never succeeded, but the service is young: healthy.
    assert health.snapshot(T0 + timedelta(minutes=30))["jobs"]["intake"]["healthy"] is True
    # Never succeeded and started more than twice the interval ago: unhealthy.
    late = health.snapshot(T0 + timedelta(minutes=30, seconds=1))
    assert late["healthy"] is False
    assert late["jobs"]["intake"]["healthy"] is False
    assert late["jobs"]["intake"]["max_age_seconds"] == 1800

    health.record_success("intake", T0 + timedelta(hours=1))
    health.record_failure("intake", T0 + timedelta(hours=1, minutes=15), "GraphError: down")
    # A recent success keeps the job healthy even though the latest run failed.
    snap = health.snapshot(T0 + timedelta(hours=1, minutes=30))
    assert snap["healthy"] is True
    job = snap["jobs"]["intake"]
    assert job["last_success"] == "2024-07-01T10:00:00+00:00"
    assert job["last_failure"] == "2024-07-01T10:15:00+00:00"
    assert job["last_error"] == "GraphError: down"
    # The last success is now older than twice the interval.
    assert health.snapshot(T0 + timedelta(hours=1, minutes=31))["healthy"] is False


def test_health_rule_daily_job_allows_two_days() -> None:
    spec = JobSpec(name="reminders", func=lambda: None, daily_at=wall_time(8))
    health = HealthState([spec], started=T0)
    assert health.snapshot(T0 + timedelta(days=2))["healthy"] is True
    assert health.snapshot(T0 + timedelta(days=2, seconds=1))["healthy"] is False
    health.record_success("reminders", T0 + timedelta(days=2, hours=1))
    snap = health.snapshot(T0 + timedelta(days=3))
    assert snap["healthy"] is True
    assert snap["jobs"]["reminders"]["max_age_seconds"] == 2 * 86400


def test_health_rejects_unknown_job() -> None:
    health = HealthState([], started=T0)
    with pytest.raises(KeyError, match="nope"):
        health.record_success("nope", T0)


def test_describe_error_is_short_and_redacted() -> None:
    exc = RuntimeError("GET https://x/?token=abcdef123456 failed\nbody: secret stuff")
    text = describe_error(exc)
    assert text == "RuntimeError: GET https://x/?token=*** failed"
    assert describe_error(ValueError()) == "ValueError"
    assert len(describe_error(ValueError("x" * 1000))) == 300


# -- the job wrapper ---------------------------------------------------------------------------


def test_wrapped_job_records_failure_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(T0)

    def broken() -> None:
        raise ConnectionError("refused\nsecond line")

    service = Service(
        [JobSpec(name="broken", func=broken, interval=timedelta(minutes=1))], clock=clock
    )
    caplog.set_level(logging.INFO, logger="automation.service")
    clock.advance(timedelta(seconds=5))
    service._wrap(service.jobs[0])()  # must not raise

    job = service.health.snapshot(clock())["jobs"]["broken"]
    assert job["last_failure"] == (T0 + timedelta(seconds=5)).isoformat()
    assert job["last_success"] is None
    assert job["last_error"] == "ConnectionError: refused"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "ConnectionError" in record.getMessage()
    assert "refused" in record.getMessage()
    assert record.exc_info is None


def test_wrapped_job_nonzero_result_is_a_run_with_item_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(T0)
    service = Service(
        [JobSpec(name="once", func=lambda: 1, interval=timedelta(minutes=1))], clock=clock
    )
    caplog.set_level(logging.INFO, logger="automation.service")
    service._wrap(service.jobs[0])()
    assert service.health.snapshot(clock())["jobs"]["once"]["last_success"] == T0.isoformat()
    assert any(
        r.levelno == logging.WARNING and "item-level failures" in r.getMessage()
        for r in caplog.records
    )


def test_scheduler_uses_london_time_and_the_job_defaults(services: list[Running]) -> None:
    service = Service(
        [
            JobSpec(name="intake", func=lambda: None, interval=timedelta(minutes=15)),
            JobSpec(name="reminders", func=lambda: None, daily_at=wall_time(8, 0)),
        ],
        misfire_grace_seconds=120,
    )
    services.append(Running(service).start())
    scheduler = service._scheduler
    assert scheduler is not None
    assert str(scheduler.timezone) == "Europe/London"
    jobs = {job.id: job for job in scheduler.get_jobs()}
    intake, reminders = jobs["intake"], jobs["reminders"]
    assert isinstance(intake.trigger, IntervalTrigger)
    assert intake.trigger.interval == timedelta(minutes=15)
    assert isinstance(reminders.trigger, CronTrigger)
    for job in (intake, reminders):
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 120
    # The daily job is not run at start-up: its next run is 08:00 London.
    assert reminders.next_run_time.astimezone(LONDON).time() == wall_time(8, 0)
    # 08:00 London is 07:00 UTC in summer and 08:00 UTC in winter.
    summer = reminders.trigger.get_next_fire_time(None, datetime(2024, 7, 1, 6, 0, tzinfo=UTC))
    winter = reminders.trigger.get_next_fire_time(None, datetime(2024, 12, 2, 9, 0, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)
    assert winter.astimezone(UTC) == datetime(2024, 12, 3, 8, 0, tzinfo=UTC)


# -- the running service -----------------------------------------------------------------------


def test_interval_jobs_run_immediately_in_order_and_repeat(services: list[Running]) -> None:
    calls: list[str] = []
    service = Service(
        [
            JobSpec(name="a", func=lambda: calls.append("a"), interval=timedelta(seconds=1)),
            JobSpec(name="b", func=lambda: calls.append("b"), interval=timedelta(seconds=1)),
        ]
    )
    running = Running(service).start()
    services.append(running)
    wait_for(lambda: calls.count("a") >= 2 and calls.count("b") >= 2, timeout=5)
    assert calls[:2] == ["a", "b"]

    asked = time.monotonic()
    assert running.stop() == 0
    assert running.returned_at is not None
    assert running.returned_at - asked < 1.0


def test_a_failing_job_does_not_stop_the_schedule(services: list[Running]) -> None:
    clock = FakeClock(T0)
    seen: list[dict[str, Any]] = []

    def flaky() -> None:
        seen.append(service.health.snapshot(clock())["jobs"]["flaky"])
        clock.advance(timedelta(seconds=1))
        if len(seen) == 1:
            raise RuntimeError("first call fails")

    service = Service(
        [JobSpec(name="flaky", func=flaky, interval=timedelta(milliseconds=300))], clock=clock
    )
    running = Running(service).start()
    services.append(running)
    wait_for(lambda: len(seen) >= 3)
    assert running.stop() == 0

    # Before the first call nothing was recorded; before the second, the failure was.
    assert seen[0]["last_failure"] is None
    assert seen[0]["last_success"] is None
    assert seen[1]["last_failure"] == (T0 + timedelta(seconds=1)).isoformat()
    assert seen[1]["last_error"] == "RuntimeError: first call fails"
    assert seen[1]["last_success"] is None
    # Then the second call succeeded, after the failure.
    assert seen[2]["last_success"] == (T0 + timedelta(seconds=2)).isoformat()
    assert seen[2]["last_failure"] == (T0 + timedelta(seconds=1)).isoformat()


def test_stop_lets_the_job_in_flight_finish_and_skips_the_queue(services: list[Running]) -> None:
    events: list[str] = []
    in_job = threading.Event()

    def slow() -> None:
        events.append("slow started")
        in_job.set()
        time.sleep(1.0)
        events.append("slow done")

    service = Service(
        [
            JobSpec(name="slow", func=slow, interval=timedelta(minutes=5)),
            JobSpec(name="queued", func=lambda: events.append("queued"), interval=timedelta(1)),
        ]
    )
    running = Running(service, log=events).start()
    services.append(running)
    assert in_job.wait(5)
    time.sleep(0.2)  # the second job is queued behind the first by now
    assert running.stop(timeout=5) == 0
    assert events == ["slow started", "slow done", "run returned"]


def test_stop_before_run_returns_at_once() -> None:
    calls: list[int] = []
    service = Service([JobSpec(name="x", func=lambda: calls.append(1), interval=timedelta(1))])
    service.stop()
    assert service.run() == 0
    assert calls == []
    with pytest.raises(RuntimeError, match="once"):
        service.run()


SIGNAL_SCRIPT = textwrap.dedent(
    """
    import logging, sys, time
    from datetime import timedelta
    from pathlib import Path
    from automation.service import JobSpec, Service

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    folder = Path(sys.argv[1])

    def job():
        (folder / "started").write_text("x")
        time.sleep(1.0)
        (folder / "done").write_text("x")

    sys.exit(Service([JobSpec(name="slow", func=job, interval=timedelta(minutes=5))]).run())
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_the_job_then_exits_zero(tmp_path: Path, sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (tmp_path / "started").exists() or process.poll() is not None, 10)
        assert process.poll() is None, process.communicate()[1]
        assert not (tmp_path / "done").exists()
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert (tmp_path / "done").exists()
    assert f"{sig.name} received" in stderr
    assert "Traceback" not in stderr


# -- /healthz ----------------------------------------------------------------------------------


def test_healthz_reports_200_then_503_when_the_last_success_is_too_old(
    services: list[Running],
) -> None:
    clock = FakeClock(T0)
    ran = threading.Event()
    service = Service(
        [JobSpec(name="intake", func=ran.set, interval=timedelta(minutes=1))],
        healthz=("127.0.0.1", 0),
        clock=clock,
    )
    running = Running(service).start()
    services.append(running)
    port = service.healthz_port
    assert port is not None
    assert port > 0
    assert ran.wait(5)
    wait_for(lambda: service.health.snapshot(clock())["jobs"]["intake"]["last_success"] is not None)

    status, body = get(port, "/healthz")
    assert status == 200
    assert body["healthy"] is True
    assert body["jobs"]["intake"]["last_success"] == T0.isoformat()
    assert body["jobs"]["intake"]["max_age_seconds"] == 120

    clock.advance(timedelta(minutes=2))
    assert get(port, "/healthz")[0] == 200
    clock.advance(timedelta(seconds=1))
    status, body = get(port, "/healthz")
    assert status == 503
    assert body["healthy"] is False
    assert body["jobs"]["intake"]["healthy"] is False

    assert get(port, "/elsewhere")[0] == 404

    assert running.stop() == 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        connection.request("GET", "/healthz")
    connection.close()
