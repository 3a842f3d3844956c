"""A compressed simulated year of the service on the in-process sandbox.

One pass a day (``run_pass`` with ``today`` the day), the feed of `tests.soak.year`, the
office's people acting (`tests.soak.staff`) and the tenant misbehaving on some days:

* **doubled**: two ``automation once`` processes at the same time (own leases, own pids);
* **killed**: an in-process pass dies right after a random write (the crash transport), and
  is restarted the same day or not until the next; now and then the dead pass "ran on
  another machine" (its lease names another host: respected until it expires); or an
  ``automation once`` process is SIGKILLed part way through;
* **storm**: throttling and 503s with a small retry budget;
* **ambiguous**: writes done by the tenant whose answer is lost (``OneOff(when="after")``);
* **lag**: Sent Items shows a sent message only after a delay;
* **early pass**: a pass before the day's publications are in the feed (the 00:00 pass);
* the state directory is deleted once and corrupted once.

No two disturbed days follow each other, so every disturbance has a calm day to heal in.
Leases last seconds instead of 15 minutes (the year is compressed into minutes).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import shutil
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from automation.app import App
from automation.domain.record import TrackerRecord
from automation.graph.retry import RetryPolicy
from automation.jobs import lease
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.faults import OneOff
from automation.sandbox.routes.mail import delivered
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import CrashingTransport, SimulatedCrash, make_settings
from tests.soak.audit import Audit
from tests.soak.staff import Staff
from tests.soak.year import YEAR, Publication, feed_on, publications
from tests.tenant_process import automation, kill9

DAY_SECONDS = 0.7
"""A simulated day lasts at least this long in real time (longer than the confirmation
window, as a real day is longer than 10 minutes)."""

log = logging.getLogger("soak")

AMBIGUOUS_WRITES = (
    ("POST", r"/lists/[^/]+/items$"),
    ("POST", r"/planner/tasks$"),
    ("PATCH", r"/planner/tasks/[^/]+/details$"),
    ("PATCH", r"/items/[^/]+/fields$"),
    ("POST", r"/sendMail$"),
)
DISTURBANCES = ("doubled", "crash", "crash_elsewhere", "sigkill", "storm", "ambiguous")


@dataclass(slots=True)
class Figures:
    """What the year did."""

    days: int = 0
    publications: int = 0
    filed: int = 0
    runs: int = 0
    kills_survived: int = 0
    sigkills: int = 0
    doubled_days: int = 0
    storm_days: int = 0
    ambiguous_faults: int = 0
    item_failures: int = 0
    left_for_later: int = 0
    emails: int = 0
    circulation_emails: int = 0
    digests: int = 0
    reminders: int = 0
    staff_actions: int = 0
    decided_no: int = 0
    decided_yes: int = 0
    violations: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """One ``name: value`` line per figure."""
        return [f"{name}: {getattr(self, name)}" for name in self.__dataclass_fields__]


@dataclass
class Year:
    """The simulation: build it, then :meth:`run`."""

    sandbox: Sandbox
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    days: int = 366
    seed: int = 2024
    figures: Figures = field(default_factory=Figures)
    tracebacks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A confirmation window of 0.6 s (longer than the 0.4 s Sent Items lag), for the
        # in-process passes and the `automation once` processes alike: a send whose answer
        # was lost is not repeated while it may be lagging, nor held for a real 10 minutes.
        # As in production (10 minutes against passes a day apart), the window is shorter
        # than a simulated day: each day lasts at least DAY_SECONDS (see `run`).
        self.monkeypatch.setenv("AUTOMATION_MAIL__CONFIRM_MINUTES", "0.01")
        # A simulated day is under a second: an approval's hold would outlast the year.
        self.monkeypatch.setenv("AUTOMATION_APPROVAL__HOLD_MINUTES", "0")
        self.rng = random.Random(self.seed)
        self.pubs = publications()
        self.state_dir = self.tmp / "state"
        self.settings = make_settings(self.sandbox, self.state_dir)
        self.config = self.tmp / "state.toml"
        self.observer = App(make_settings(self.sandbox, self.tmp / "observer"))
        self.audit = Audit(self.sandbox, self.observer)
        self.staff = Staff(self.sandbox, self.observer, on_no=self.audit.note_declined)
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.feed_content = b""
        self.ever_visible: set[str] = set()
        self.crash_days = 0
        # Leases of seconds: a dead holder elsewhere is waited for, but not for a real
        # quarter of an hour per simulated day.
        self.monkeypatch.setattr(lease, "LEASE_MINUTES", 0.1)

    # -- the plan ------------------------------------------------------------------------------
    def plan(self) -> list[tuple[dt.date, str, bool, bool]]:
        """(day, disturbance or "calm", Sent Items lag?, early pass?) for every day."""
        out = []
        previous = "calm"
        for n in range(self.days):
            day = dt.date(YEAR, 1, 1) + dt.timedelta(days=n)
            kind = "calm"
            if previous == "calm" and n > 3 and self.rng.random() < 0.33:
                kind = self.rng.choice(DISTURBANCES)
            out.append((day, kind, self.rng.random() < 0.12, self.rng.random() < 0.1))
            previous = kind
        return out

    # -- the year ------------------------------------------------------------------------------
    def run(self) -> Figures:
        """Simulate every day, auditing each; returns the figures."""
        started = time.monotonic()
        provision(App(self.settings))
        records: list[TrackerRecord] = []
        for day, kind, lag, early in self.plan():
            day_started = time.monotonic()
            self.figures.days += 1
            log.info(
                "soak day %s: %s%s%s", day, kind, " +lag" if lag else "", " +early" if early else ""
            )
            if day == dt.date(YEAR, 4, 30):
                shutil.rmtree(self.state_dir, ignore_errors=True)
            if day == dt.date(YEAR, 9, 2):
                (self.state_dir / "state.json").write_bytes(b'{"feeds": {"x": [1, 2')
            if early:
                self.show_feed(day - dt.timedelta(days=1))
                self.in_process(day)
            self.staff.act(day, records)
            self.show_feed(day)
            self.sandbox.faults.configure(
                {
                    "sent_items_delay": 0.4,
                    "sent_items_lag": self.rng.choice(("invisible", "outbox")),
                }
                if lag
                else {}
            )
            last_started, calm = self.disturbed(day, kind)
            self.sandbox.faults.configure({})
            visible = self.window(day)
            self.ever_visible |= {p.link for p in visible}
            records = self.audit.check_day(
                day, visible=visible, last_pass_started=last_started, calm=calm
            )
            self.sandbox.clear_log()
            time.sleep(max(0.0, day_started + DAY_SECONDS - time.monotonic()))
        self.finish(records)
        self.figures.seconds = round(time.monotonic() - started, 1)
        return self.figures

    def window(self, day: dt.date) -> list[Publication]:
        """The publications the feed lists on ``day``."""
        links = {item.link for item in feed_on(self.pubs, day)}
        return [p for p in self.pubs if p.link in links]

    def show_feed(self, day: dt.date) -> None:
        """Serve the feed as it is on ``day`` (unchanged content keeps its validators)."""
        content = feeds.rss(feed_on(self.pubs, day))
        if content != self.feed_content:
            self.sandbox.set_page("/feed/", content)
            self.feed_content = content

    def disturbed(self, day: dt.date, kind: str) -> tuple[dt.datetime, bool]:
        """The day's passes; (when the last one started, whether it ran undisturbed)."""
        if kind == "doubled":
            self.figures.doubled_days += 1
            return self.processes(day), True
        if kind in ("crash", "crash_elsewhere"):
            self.crash_days += 1
            self.in_process(day, crash_after=self.rng.randint(0, 8), elsewhere=kind != "crash")
            if self.rng.random() < 0.5:
                return dt.datetime.now(dt.UTC), False
        elif kind == "sigkill":
            self.killed_process(day)
        elif kind == "storm":
            self.figures.storm_days += 1
            self.sandbox.faults.configure(
                {
                    "throttle_rate": 0.3,
                    "unavailable_rate": 0.1,
                    "retry_after": "0",
                    "seed": self.rng.randint(0, 10_000),
                }
            )
            started = self.in_process(day, retry=RetryPolicy(max_attempts=3, backoff_base=0.01))
            return started, False
        elif kind == "ambiguous":
            for _ in range(self.rng.randint(1, 2)):
                method, path = self.rng.choice(AMBIGUOUS_WRITES)
                self.sandbox.faults.add_one_off(
                    OneOff(method=method, path=path, status=504, when="after")
                )
                self.figures.ambiguous_faults += 1
        return self.in_process(day), True

    # -- passes ------------------------------------------------------------------------------
    def in_process(
        self,
        day: dt.date,
        *,
        crash_after: int | None = None,
        elsewhere: bool = False,
        retry: RetryPolicy | None = None,
    ) -> dt.datetime:
        """One pass in this process as a new instance; returns when it started."""
        self.monkeypatch.setattr(lease, "INSTANCE", uuid.uuid4().hex[:12])
        if elsewhere:
            self.monkeypatch.setattr(lease, "HOST", "elsewhere0")
        transport = CrashingTransport(verify=self.settings.verify, crash_after=crash_after)
        app = App(self.settings, transport=transport, retry=retry)
        started = dt.datetime.now(dt.UTC)
        self.figures.runs += 1
        try:
            self.count(run_pass(app, today=day))
        except SimulatedCrash:
            self.figures.kills_survived += 1
        except Exception:  # a bug: recorded as a violation, the year goes on
            self.tracebacks.append(f"{day}: {traceback.format_exc()}")
        finally:
            self.monkeypatch.setattr(lease, "HOST", lease._host_marker())
            app.client.close()
            app.http.close()
        return started

    def count(self, report: RunReport) -> None:
        """Add a pass's report to the figures."""
        self.figures.item_failures += len(report.failures)
        self.figures.left_for_later += len(report.unfinished)

    def processes(self, day: dt.date) -> dt.datetime:
        """Two ``automation once`` processes at once (two machines' worth of state)."""
        started = dt.datetime.now(dt.UTC)
        procs = [
            automation(
                ["once", "--as-of", day.isoformat()],
                config=self.config,
                state_dir=self.state_dir if n == 0 else self.tmp / "second",
                log=self.logs / f"{day.isoformat()}-{n}.log",
            )
            for n in range(2)
        ]
        for proc in procs:
            proc.wait(timeout=300)
            self.figures.runs += 1
        return started

    def killed_process(self, day: dt.date) -> None:
        """An ``automation once`` process SIGKILLed after a random number of its writes.

        Only this process talks to the tenant meanwhile, so the writes in the sandbox's
        log are its own. A pass with fewer writes ends on its own and is not counted.
        """
        self.sandbox.clear_log()
        proc = automation(
            ["once", "--as-of", day.isoformat()],
            config=self.config,
            state_dir=self.state_dir,
            log=self.logs / f"{day.isoformat()}-killed.log",
        )
        self.figures.runs += 1
        after = self.rng.randint(1, 3)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if sum(1 for e in self.sandbox.request_log() if e.get("write")) >= after:
                kill9(proc)
                self.figures.sigkills += 1
                self.figures.kills_survived += 1
                return
            time.sleep(0.02)
        kill9(proc)

    # -- the end -----------------------------------------------------------------------------
    def finish(self, records: list[TrackerRecord]) -> None:
        """Year-end checks and figures: everything the feed ever showed is filed."""
        filed = {r.report_url.rstrip("/") for r in records}
        missing = sorted(link for link in self.ever_visible if link.rstrip("/") not in filed)
        self.audit.record(dt.date(YEAR, 12, 31), [f"never filed: {m}" for m in missing])
        for log_file in sorted(self.logs.iterdir()):
            if "Traceback" in log_file.read_text(encoding="utf-8", errors="replace"):
                self.tracebacks.append(f"{log_file.name}: traceback in the process output")
        mail = delivered(self.sandbox.tenant)
        self.figures.publications = len(self.pubs)
        self.figures.filed = len(records)
        self.figures.emails = len(mail)
        self.figures.circulation_emails = sum("circulation" in str(e.get("key")) for e in mail)
        self.figures.digests = sum("digest" in str(e.get("key")) for e in mail)
        self.figures.reminders = sum(
            1 for r in records for e in r.reminders.get("sent", []) or [] if "|" in str(e)
        )
        self.figures.staff_actions = self.staff.actions
        self.figures.decided_no = sum(d == "No" for d in self.staff.decided.values())
        self.figures.decided_yes = sum(d == "Yes" for d in self.staff.decided.values())
        self.figures.violations = len(self.audit.violations) + len(self.tracebacks)


def captured_tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """Log records that carry a traceback (an exception logged with its stack)."""
    return [f"{r.name}: {r.getMessage()}" for r in records if r.exc_info or r.exc_text]
