"""The `run` service: APScheduler 3.x wiring, clean shutdown and an optional /healthz.

The service knows nothing about what its jobs do. Each :class:`JobSpec` names a callable and
either an interval (first run immediately, in the order the specs are listed) or a daily
Europe/London wall-clock time. Jobs run one at a time on a single worker thread, so two jobs
never touch the same local state at once and the listed order is the run order.

A failing job is logged (type and message, through the redacting log set-up), recorded in
:class:`HealthState`, and the schedule goes on, unless ``fatal`` says the failure needs a
person (a refused credential): then the service logs why and stops with exit code 2, which
systemd's ``RestartPreventExitStatus=2`` does not restart. SIGTERM/SIGINT (or
:meth:`Service.stop`) let the job in flight finish, skip anything still queued, and make
:meth:`Service.run` return 0.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time as monotonic_time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from automation.domain.calendar import LONDON, london_now
from automation.exitcodes import ExitCode
from automation.logsetup import redact

logger = logging.getLogger(__name__)

DAILY_MAX_AGE = timedelta(days=2)
_ERROR_CHARS = 300
# Interval jobs due at the same moment are staggered by this much so the job store hands
# them to the (single) worker in the order they were listed.
_STAGGER = timedelta(milliseconds=1)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """One scheduled job: exactly one of ``interval`` or ``daily_at`` (London wall-clock)."""

    name: str
    func: Callable[[], object]
    interval: timedelta | None = None
    daily_at: time | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("JobSpec.name must not be empty")
        if (self.interval is None) == (self.daily_at is None):
            raise ValueError(f"job {self.name}: give exactly one of interval or daily_at")
        if self.interval is not None and self.interval <= timedelta(0):
            raise ValueError(f"job {self.name}: interval must be positive")
        if self.daily_at is not None and self.daily_at.tzinfo is not None:
            raise ValueError(f"job {self.name}: daily_at is a naive Europe/London time")

    @property
    def max_age(self) -> timedelta:
        """How old the last success may be before the job counts as unhealthy."""
        return 2 * self.interval if self.interval is not None else DAILY_MAX_AGE


def describe_error(exc: BaseException) -> str:
    """A short, redacted description of ``exc``: its type name and the first line of its text."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    text = redact(text)
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


@dataclass(slots=True)
class _JobHealth:
    max_age: timedelta
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_error: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class HealthState:
    """Thread-safe record of each job's last success and last failure.

    A job is unhealthy when its last success is older than twice its interval (two days for a
    daily job), or when it has never succeeded and the service started longer ago than that.
    """

    def __init__(self, jobs: Sequence[JobSpec], *, started: datetime) -> None:
        self._lock = threading.Lock()
        self._started = started
        self._jobs = {job.name: _JobHealth(max_age=job.max_age) for job in jobs}

    def _job(self, name: str) -> _JobHealth:
        try:
            return self._jobs[name]
        except KeyError:
            raise KeyError(f"unknown job {name!r}") from None

    def record_success(self, name: str, when: datetime) -> None:
        """Record that ``name`` finished without an exception at ``when``."""
        with self._lock:
            self._job(name).last_success = when

    def record_failure(self, name: str, when: datetime, error: str) -> None:
        """Record that ``name`` failed at ``when``; ``error`` must already be free of secrets."""
        with self._lock:
            job = self._job(name)
            job.last_failure = when
            job.last_error = error

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """A JSON-ready view: ``{"healthy", "started", "now", "jobs": {name: {...}}}``.

        Each job has ``last_success``, ``last_failure`` (ISO 8601 or None), ``last_error``,
        ``healthy`` and ``max_age_seconds``; the top-level ``healthy`` is True when all are.
        """
        with self._lock:
            jobs: dict[str, dict[str, Any]] = {}
            for name, job in self._jobs.items():
                reference = job.last_success if job.last_success is not None else self._started
                jobs[name] = {
                    "last_success": _iso(job.last_success),
                    "last_failure": _iso(job.last_failure),
                    "last_error": job.last_error,
                    "healthy": now - reference <= job.max_age,
                    "max_age_seconds": int(job.max_age.total_seconds()),
                }
            return {
                "healthy": all(entry["healthy"] for entry in jobs.values()),
                "started": _iso(self._started),
                "now": _iso(now),
                "jobs": jobs,
            }


class _HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], health: HealthState, clock: Callable[[], datetime]
    ) -> None:
        self.health = health
        self.clock = clock
        super().__init__(address, _HealthHandler)


class _HealthHandler(BaseHTTPRequestHandler):
    server: _HealthServer
    server_version = "s55-automation"
    sys_version = ""

    def version_string(self) -> str:
        """The Server header: the name alone (the base class appends " " + sys_version)."""
        return self.server_version

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/healthz":
            self._answer(404, {"error": "not found"})
            return
        snapshot = self.server.health.snapshot(self.server.clock())
        self._answer(200 if snapshot["healthy"] else 503, snapshot)

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("healthz: %s", format % args)


class Service:
    """The scheduled service: one BlockingScheduler, run until SIGTERM/SIGINT or ``stop()``."""

    def __init__(
        self,
        jobs: Sequence[JobSpec],
        *,
        misfire_grace_seconds: int = 3600,
        healthz: tuple[str, int] | None = None,
        clock: Callable[[], datetime] = utc_now,
        fatal: Callable[[BaseException], str] | None = None,
    ) -> None:
        """``fatal(exc)`` returns "" for a failure the schedule rides out, else the one line
        to log before stopping with `ExitCode.CONFIG`."""
        if not jobs:
            raise ValueError("a Service needs at least one job")
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError("job names must be unique")
        if misfire_grace_seconds < 1:
            raise ValueError("misfire_grace_seconds must be at least 1")
        self.jobs = tuple(jobs)
        self.misfire_grace_seconds = misfire_grace_seconds
        self.healthz = healthz
        self.clock = clock
        self.health = HealthState(self.jobs, started=clock())
        self.healthz_port: int | None = None
        self.fatal = fatal
        self.exit_code: int = ExitCode.OK
        self._lock = threading.Lock()
        self._ran = False
        self._stop_requested = threading.Event()
        self._scheduler_started = threading.Event()
        self._finished = threading.Event()
        self._ready = threading.Event()
        self._signal_name: str | None = None
        self._http: _HealthServer | None = None
        self._scheduler: BlockingScheduler | None = None
        self._http_thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------

    def run(self) -> int:
        """Run the schedule until stopped; return 0 after a clean stop.

        The job in flight (if any) finishes before this returns; jobs still queued are skipped.
        Signal handlers for SIGTERM and SIGINT are installed only in the main thread.
        """
        with self._lock:
            if self._ran:
                raise RuntimeError("a Service runs only once")
            self._ran = True
        restore = self._install_signal_handlers()
        try:
            if self._stopping():
                logger.info("service stopped before it started")
                return ExitCode.OK
            scheduler = self._scheduler = self._build_scheduler()
            self._start_healthz()
            watcher = threading.Thread(
                target=self._watch, args=(scheduler,), name="service-stop", daemon=True
            )
            watcher.start()
            logger.info("service starting with %d job(s)", len(self.jobs))
            scheduler.start()  # blocks until the watcher has shut the scheduler down
            watcher.join()
            logger.info("service stopped")
            return self.exit_code
        finally:
            self._finished.set()
            self._stop_healthz()
            restore()

    def stop(self) -> None:
        """Ask the service to stop (thread-safe, idempotent); the job in flight finishes first."""
        self._stop_requested.set()

    def _stopping(self) -> bool:
        return self._stop_requested.is_set() or self._signal_name is not None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the scheduler runs and /healthz (if any) listens; False on timeout."""
        return self._ready.wait(timeout)

    # -- scheduling ---------------------------------------------------------------------------

    def _build_scheduler(self) -> BlockingScheduler:
        scheduler = BlockingScheduler(
            timezone=LONDON,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.misfire_grace_seconds,
            },
        )
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        first = london_now()
        position = 0
        for spec in self.jobs:
            if spec.interval is not None:
                scheduler.add_job(
                    self._wrap(spec),
                    IntervalTrigger(seconds=spec.interval.total_seconds(), timezone=LONDON),
                    id=spec.name,
                    name=spec.name,
                    next_run_time=first + position * _STAGGER,
                )
                position += 1
            else:
                assert spec.daily_at is not None
                scheduler.add_job(
                    self._wrap(spec),
                    CronTrigger(
                        hour=spec.daily_at.hour, minute=spec.daily_at.minute, timezone=LONDON
                    ),
                    id=spec.name,
                    name=spec.name,
                )
        return scheduler

    def _wrap(self, spec: JobSpec) -> Callable[[], None]:
        def run_job() -> None:
            if self._stopping():
                logger.info("job %s skipped: the service is stopping", spec.name)
                return
            began = monotonic_time.monotonic()
            logger.debug("job %s started", spec.name, extra={"job": spec.name})
            try:
                result = spec.func()
            except Exception as exc:
                error = describe_error(exc)
                self.health.record_failure(spec.name, self.clock(), error)
                reason = self.fatal(exc) if self.fatal is not None else ""
                if reason:
                    logger.critical(
                        "job %s: %s; the service stops (exit %d): restarting cannot fix this",
                        spec.name,
                        reason,
                        ExitCode.CONFIG,
                        extra={"job": spec.name},
                    )
                    self.exit_code = ExitCode.CONFIG
                    self.stop()
                    return
                logger.error(
                    "job %s failed after %.1fs: %s: %s",
                    spec.name,
                    monotonic_time.monotonic() - began,
                    type(exc).__name__,
                    exc,
                    extra={"job": spec.name},
                )
                return
            self.health.record_success(spec.name, self.clock())
            elapsed = monotonic_time.monotonic() - began
            if isinstance(result, int) and not isinstance(result, bool) and result != 0:
                logger.warning(
                    "job %s finished in %.1fs with item-level failures (exit %d)",
                    spec.name,
                    elapsed,
                    result,
                    extra={"job": spec.name},
                )
            else:
                logger.info(
                    "job %s finished in %.1fs", spec.name, elapsed, extra={"job": spec.name}
                )

        run_job.__name__ = f"job_{spec.name}"
        run_job.__qualname__ = run_job.__name__
        return run_job

    def _on_started(self, _event: object) -> None:
        self._scheduler_started.set()
        self._ready.set()

    def _watch(self, scheduler: BlockingScheduler) -> None:
        """Wait for a stop request, then shut the scheduler down outside any signal handler."""
        while True:
            if self._finished.is_set():
                return
            wanted = self._stop_requested.wait(0.1) or self._signal_name is not None
            if wanted and self._scheduler_started.wait(0.1):
                break
        self._stop_requested.set()
        logger.info(
            "%s: finishing the job in flight, then stopping",
            f"{self._signal_name} received" if self._signal_name else "stop requested",
        )
        with contextlib.suppress(SchedulerNotRunningError):
            # Paused first, so the main loop submits nothing more to the closing executor.
            scheduler.pause()
            scheduler.shutdown(wait=True)

    # -- signals ------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def handle(signum: int, _frame: FrameType | None) -> None:
            # Only a plain assignment here: taking a lock (logging, Event.set, shutdown) in a
            # handler can deadlock the main thread. The watcher thread polls this flag.
            self._signal_name = signal.Signals(signum).name

        for sig in previous:
            signal.signal(sig, handle)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    # -- /healthz -----------------------------------------------------------------------------

    def _start_healthz(self) -> None:
        if self.healthz is None:
            return
        host, port = self.healthz
        self._http = _HealthServer((host, port), self.health, self.clock)
        self.healthz_port = int(self._http.server_address[1])
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.2}, name="healthz"
        )
        self._http_thread.daemon = True
        self._http_thread.start()
        logger.info("health endpoint on http://%s:%d/healthz", host, self.healthz_port)

    def _stop_healthz(self) -> None:
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
        self._http = None
        self._http_thread = None
