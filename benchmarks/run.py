"""Benchmarks of the Section 55 service against the local sandbox (``make bench``).

Prints a Markdown table (| figure | latency | value | target | met |) and writes it, with a
header naming the date and the machine, to ``benchmarks/latest.md``. Every figure is measured
in this run; ratios compare against a baseline measured in the same run on the same machine.

Scenarios (each on a freshly reset sandbox with a fresh state directory):

1. Graph traffic per newly filed publication (10 new publications, one steady-state pass).
2. Graph traffic of an idle cycle (nothing new: the third pass after filing).
3. Backfill wall time: ours (settings concurrency, ``$batch``) against a strictly sequential
   baseline (one request at a time, no ``$batch``).
4. Draft rendering time per document.
5. Peak RSS of ``automation backfill`` (200 publications) and of an idle ``automation run``.

Exit status: 0 when every figure was measured (a missed target prints NOT MET), non-zero
only when the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import email.utils
import json
import logging
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

import psutil
import requests

from automation.app import App, build_app, token_provider
from automation.cli.sandbox_config import config_text
from automation.domain.deadlines import DeadlineRule, response_deadline
from automation.domain.record import TrackerRecord
from automation.drafts import build_draft
from automation.errors import GraphError, GraphHTTPError
from automation.feed import parse_feed
from automation.graph.client import (
    BatchRequest,
    BatchResponse,
    GraphClient,
    StatsSnapshot,
)
from automation.jobs.intake import report_json
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.server import Sandbox
from automation.settings import Settings, load_settings

log = logging.getLogger("benchmarks")

LATEST = Path(__file__).resolve().parent / "latest.md"
LATENCIES_MS = (0, 50, 100)
MB = 1_000_000  # decimal megabytes: the stricter reading of "120 MB"

# Scenario 1/2: publications that are live on FILING_AS_OF (deadlines not yet passed).
FILING_AS_OF = dt.date(2023, 8, 5)
FILING_COUNT = 10
# Scenario 3/5: a backfill window of 200 publications, one a day from BACKFILL_FIRST.
BACKFILL_SINCE = dt.date(2023, 7, 1)
BACKFILL_FIRST = dt.date(2023, 7, 3)
BACKFILL_AS_OF = dt.date(2024, 1, 31)
BACKFILL_COUNT = 200
QUICK_BACKFILL_COUNT = 40

TARGET_ROUND_TRIPS = 6.0
TARGET_IDLE_REQUESTS = 2
TARGET_SPEEDUP = 5.0
TARGET_RSS_MB = 120.0

FEED_HOST = "https://hmicfrs.justiceinspectorates.gov.uk"
SEED_TITLE = (
    "Counter Terrorism Joint Inspection - National security division and multi-agency "
    "arrangements for the management of terrorist offenders in the wake of terrorist attacks"
)
SEED_LINK = f"{FEED_HOST}/publications/counter-terrorism-joint-inspection/"

# Inner answers the sequential baseline hands back instead of raising (the client's own retry
# and token-refresh handling still applies to 401, 429, 503 and 504, as inside a $batch).


class BenchmarkError(RuntimeError):
    """A scenario could not produce a valid figure (the benchmark, not a target, failed)."""


# --------------------------------------------------------------------------- feeds


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedItem:
    """One RSS item of a benchmark feed."""

    title: str
    link: str
    published: dt.datetime
    categories: tuple[str, ...]
    description: str = ""


def rss(items: Sequence[FeedItem]) -> bytes:
    """An RSS 2.0 document with ``items``."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel><title>HMICFRS</title>',
        f"<link>{FEED_HOST}/</link><description>benchmark feed</description>",
    ]
    for item in items:
        parts += [
            "<item>",
            f"<title>{escape(item.title)}</title>",
            f"<link>{escape(item.link)}</link>",
            f"<pubDate>{email.utils.format_datetime(item.published)}</pubDate>",
            f'<guid isPermaLink="false">{escape(item.link)}</guid>',
            *(f"<category><![CDATA[{c}]]></category>" for c in item.categories),
            f"<description>{escape(item.description)}</description>" if item.description else "",
            "</item>",
        ]
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def relevant_items(count: int, *, first: dt.date, tag: str) -> list[FeedItem]:
    """``count`` publications that need a response: Norfolk and national ones, alternately.

    Item ``n`` is published at 09:30 UTC on ``first + n days`` (the same London date).
    """
    items = []
    for n in range(count):
        day = first + dt.timedelta(days=n)
        published = dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC)
        if n % 2 == 0:
            items.append(
                FeedItem(
                    title=f"PEEL spotlight {tag}-{n}: an inspection of Norfolk Constabulary",
                    link=f"{FEED_HOST}/peel-reports/norfolk-{tag}-{n}/",
                    published=published,
                    categories=("PEEL", "Norfolk Constabulary"),
                    description=f"How well Norfolk Constabulary keeps people safe ({n}).",
                )
            )
        else:
            items.append(
                FeedItem(
                    title=f"Joint thematic inspection {tag}-{n}: national arrangements",
                    link=f"{FEED_HOST}/publications/national-{tag}-{n}/",
                    published=published,
                    categories=("Counter-terrorism and joint inspection", "N/A"),
                    description=f"A joint inspection of national arrangements ({n}).",
                )
            )
    return items


def filing_items(count: int) -> list[FeedItem]:
    """Publications live on :data:`FILING_AS_OF` (published in the ten days before it)."""
    return relevant_items(count, first=FILING_AS_OF - dt.timedelta(days=count + 1), tag="new")


def backfill_items(count: int) -> list[FeedItem]:
    """The backfill window's publications (all on or after :data:`BACKFILL_SINCE`)."""
    last = BACKFILL_FIRST + dt.timedelta(days=count - 1)
    if last >= BACKFILL_AS_OF:
        raise ValueError(f"{count} daily publications do not fit before {BACKFILL_AS_OF}")
    return relevant_items(count, first=BACKFILL_FIRST, tag="old")


SEED_ITEM = FeedItem(
    title=SEED_TITLE,
    link=SEED_LINK,
    published=dt.datetime(2023, 7, 19, 23, 1, tzinfo=dt.UTC),
    categories=("Counter-terrorism and joint inspection", "N/A"),
    description="A joint inspection of the national security division.",
)


# --------------------------------------------------------------------------- settings


def bench_settings(sandbox: Sandbox, state_dir: Path, **overrides: Any) -> Settings:
    """Settings for the in-process sandbox tenant with a fresh state directory."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir.parent / f"{state_dir.name}.toml"
    path.write_text(config_text(sandbox.info(), state_dir=state_dir), encoding="utf-8")
    overrides.setdefault("fetch_report_pages", False)  # no report pages: loopback feed only
    return load_settings(path, **overrides)


# --------------------------------------------------------------------------- traffic


@dataclass(frozen=True, slots=True, kw_only=True)
class Traffic:
    """What one measured pass cost.

    ``requests``/``round_trips``/``writes`` come from ``app.client.stats``; the rest from the
    sandbox's request log: ``graph_http`` top-level Graph and upload requests, ``operations``
    Graph operations with each inner ``$batch`` request counted on its own, ``feed_gets``
    requests for the feed (not Graph), ``token_requests`` token endpoint calls.
    """

    seconds: float
    requests: int
    round_trips: int
    writes: int
    graph_http: int
    operations: int
    log_writes: int
    feed_gets: int
    token_requests: int


def classify(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts of sandbox log entries by kind (see :class:`Traffic`)."""
    counts = {"graph_http": 0, "operations": 0, "log_writes": 0, "feed_gets": 0, "tokens": 0}
    for entry in entries:
        path = str(entry.get("path", ""))
        if entry.get("write"):
            counts["log_writes"] += 1
        if entry.get("batch"):
            counts["operations"] += 1
            continue
        if entry.get("kind") == "static":
            counts["feed_gets"] += 1
        elif path.startswith(("/v1.0/", "/_upload/")):
            counts["graph_http"] += 1
            if path != "/v1.0/$batch":
                counts["operations"] += 1
        elif "/oauth2/" in path:
            counts["tokens"] += 1
    return counts


def measure(
    sandbox: Sandbox, app: App, action: Callable[[], RunReport]
) -> tuple[Traffic, RunReport]:
    """Run ``action`` and count its traffic on both sides (client stats and sandbox log)."""
    sandbox.clear_log()
    before = app.client.stats.snapshot()
    started = time.perf_counter()
    report = action()
    seconds = time.perf_counter() - started
    after = app.client.stats.snapshot()
    sent = after.requests - before.requests
    # The sandbox logs a request just after answering it: wait until the log has caught up.
    counts = classify(sandbox.request_log())
    deadline = time.monotonic() + 2.0
    while counts["graph_http"] < sent and time.monotonic() < deadline:
        time.sleep(0.01)
        counts = classify(sandbox.request_log())
    return _traffic(before, after, counts, seconds), report


def _traffic(
    before: StatsSnapshot, after: StatsSnapshot, counts: Mapping[str, int], seconds: float
) -> Traffic:
    return Traffic(
        seconds=seconds,
        requests=after.requests - before.requests,
        round_trips=after.round_trips - before.round_trips,
        writes=after.writes - before.writes,
        graph_http=counts["graph_http"],
        operations=counts["operations"],
        log_writes=counts["log_writes"],
        feed_gets=counts["feed_gets"],
        token_requests=counts["tokens"],
    )


def _require_clean(report: RunReport, what: str) -> None:
    if report.failures:
        shown = "; ".join(report.failures[:3])
        raise BenchmarkError(f"{what}: {len(report.failures)} item failure(s): {shown}")


# --------------------------------------------------------------------------- scenarios 1 + 2


@dataclass(frozen=True, slots=True, kw_only=True)
class FilingResult:
    """Scenario 1 and 2 at one latency."""

    latency_ms: int
    count: int
    filing: Traffic
    second: Traffic
    idle: Traffic

    def per_publication(self, name: str) -> float:
        """``(filing pass - idle pass) / count`` for one :class:`Traffic` counter."""
        raw = int(getattr(self.filing, name))
        idle = int(getattr(self.idle, name))
        return (raw - idle) / self.count


def warm_up(app: App) -> None:
    """One-off costs of a process, paid before measuring: token, ids, buckets, users."""
    app.check_token()
    app.resolve()
    settings = app.settings
    people = {settings.stage_assignee(stage) for stage in settings.stages}
    people.add(settings.people.response_owner)
    for upn in sorted(p for p in people if p):
        app.users.get(upn)


def filing_cost(
    sandbox: Sandbox, workdir: Path, *, latency_ms: int, count: int = FILING_COUNT
) -> FilingResult:
    """File ``count`` new publications in one steady-state pass, then two more passes.

    Before measuring: reset, provision, resolve, warm up (token, users) and one pass over an
    empty feed (so the delta link and feed validators exist, as in a running service).
    """
    sandbox.reset()
    settings = bench_settings(sandbox, workdir / f"filing-{latency_ms}ms-{count}")
    app = build_app(settings)
    try:
        provision(app)
        warm_up(app)
        sandbox.set_page("/feed/", rss([]))
        _require_clean(run_pass(app, today=FILING_AS_OF, reminders=False), "warm-up pass")
        sandbox.set_page("/feed/", rss(filing_items(count)))
        sandbox.faults.configure({"latency_ms": latency_ms})

        def one_pass() -> RunReport:
            return run_pass(app, today=FILING_AS_OF, reminders=False)

        filing, report = measure(sandbox, app, one_pass)
        _require_clean(report, "filing pass")
        if len(report.filed) != count:
            raise BenchmarkError(f"filing pass filed {len(report.filed)} of {count}")
        second, report = measure(sandbox, app, one_pass)
        _require_clean(report, "second pass")
        idle, report = measure(sandbox, app, one_pass)
        _require_clean(report, "idle pass")
    finally:
        sandbox.faults.configure({})
        app.client.close()
    return FilingResult(latency_ms=latency_ms, count=count, filing=filing, second=second, idle=idle)


# --------------------------------------------------------------------------- scenario 3


class SequentialGraphClient(GraphClient):
    """The baseline client: no ``$batch``; every inner request is sent on its own, in order.

    ``dependsOn`` order is honoured; a request whose prerequisite failed is answered 424
    without being sent, as Graph does inside a batch. Inner error statuses come back as
    :class:`BatchResponse` values, as from a real ``$batch``.
    """

    def _run_chunk(self, requests: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        """Send each request of a would-be ``$batch`` as its own HTTP request, in order."""
        by_id: dict[str, BatchRequest] = {}
        for request in requests:
            if request.id in by_id:
                raise ValueError(f"duplicate batch request id {request.id!r}")
            by_id[request.id] = request
        for request in requests:
            unknown = [dep for dep in request.depends_on if dep not in by_id]
            if unknown:
                raise ValueError(f"batch request {request.id!r} depends on unknown {unknown}")
        results: dict[str, BatchResponse] = {}
        pending = list(requests)
        while pending:
            ready = [r for r in pending if all(dep in results for dep in r.depends_on)]
            if not ready:
                raise ValueError("dependsOn cycle in batch requests")
            for request in ready:
                failed = any(not results[dep].ok for dep in request.depends_on)
                results[request.id] = self._one(request, prerequisite_failed=failed)
                pending.remove(request)
        return {request.id: results[request.id] for request in requests}

    def _one(self, request: BatchRequest, *, prerequisite_failed: bool) -> BatchResponse:
        if prerequisite_failed:
            return BatchResponse(
                id=request.id,
                status=424,
                headers={},
                body={"error": {"code": "failedDependency", "message": "prerequisite failed"}},
            )
        try:
            # Writes were counted once for the whole would-be batch (as for a real one).
            response = self._request(
                request.method,
                request.url,
                params=None,
                json=request.body,
                data=None,
                headers=request.headers,
                idempotent=request.idempotent,
                authenticated=True,
                allow_redirects=True,
                writes=0,
            )
        except GraphHTTPError as exc:  # throttled or unavailable after the retry budget
            return BatchResponse(
                id=request.id,
                status=exc.status,
                headers={},
                body={"error": {"code": exc.code, "message": exc.graph_message}},
            )
        body: Any
        try:
            body = response.json()
        except GraphError:  # not JSON: $batch would carry it base64-encoded
            body = base64.b64encode(response.body).decode("ascii")
        return BatchResponse(
            id=request.id, status=response.status, headers=dict(response.headers), body=body
        )


def sequential_app(settings: Settings) -> App:
    """An App built by the composition root around :class:`SequentialGraphClient`."""
    tokens = token_provider(settings)
    client = SequentialGraphClient(
        base_url=settings.graph_url,
        tokens=tokens,
        verify=settings.verify,
        timeout=settings.timeout,
    )
    return build_app(settings, tokens=tokens, client=client)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillResult:
    """One backfill pass."""

    latency_ms: int
    count: int
    sequential: bool
    concurrency: int
    traffic: Traffic


def backfill_time(
    sandbox: Sandbox,
    workdir: Path,
    *,
    latency_ms: int,
    count: int = BACKFILL_COUNT,
    sequential: bool = False,
) -> BackfillResult:
    """Wall time of ``run_pass(since=...)`` filing ``count`` publications on a reset sandbox.

    Ours: the settings' concurrency (default 4) and ``$batch``. Baseline (``sequential``):
    concurrency 1 and :class:`SequentialGraphClient`. Provisioning and :func:`warm_up` come
    first and are not timed.
    """
    sandbox.reset()
    kind = "sequential" if sequential else "ours"
    state = workdir / f"backfill-{kind}-{latency_ms}ms-{count}"
    settings = bench_settings(sandbox, state, **({"concurrency": 1} if sequential else {}))
    app = sequential_app(settings) if sequential else build_app(settings)
    try:
        provision(app)
        # Users too: concurrent workers with a cold user cache may each look one up.
        warm_up(app)
        sandbox.set_page("/feed/", rss(backfill_items(count)))
        sandbox.faults.configure({"latency_ms": latency_ms})
        traffic, report = measure(
            sandbox,
            app,
            lambda: run_pass(app, today=BACKFILL_AS_OF, since=BACKFILL_SINCE, reminders=False),
        )
        _require_clean(report, f"backfill ({kind})")
        if len(report.filed) != count:
            raise BenchmarkError(f"backfill ({kind}) filed {len(report.filed)} of {count}")
    finally:
        sandbox.faults.configure({})
        app.client.close()
    return BackfillResult(
        latency_ms=latency_ms,
        count=count,
        sequential=sequential,
        concurrency=settings.concurrency,
        traffic=traffic,
    )


# --------------------------------------------------------------------------- scenario 4


def seed_record(settings: Settings) -> TrackerRecord:
    """The seed publication (20 July 2023 counter-terrorism joint inspection) as filed."""
    [pub], problems = parse_feed(rss([SEED_ITEM]), "https://127.0.0.1/feed/")
    if problems or pub.published_on != dt.date(2023, 7, 20):
        raise BenchmarkError(f"seed publication parsed wrongly: {pub.published_on} {problems}")
    rule = DeadlineRule(settings.deadline_rule)
    return TrackerRecord(
        item_id="1",
        etag="",
        web_url="",
        key=pub.key,
        title=pub.title,
        report_url=pub.link,
        published_on=pub.published_on,
        deadline=response_deadline(pub.published_on, rule),
        publication_types="; ".join(pub.types),
        police_forces="; ".join(pub.forces),
        response_required="Yes",
        status="Drafting",
        deadline_rule=rule.value,
        report=json.loads(report_json(pub)),
    )


def draft_render_ms(settings: Settings, *, repeats: int = 50) -> list[float]:
    """Milliseconds per ``build_draft`` of the seed's draft, ``repeats`` times (after a warm-up)."""
    record = seed_record(settings)
    build_draft(settings, record)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        content = build_draft(settings, record)
        times.append((time.perf_counter() - started) * 1000.0)
        if not content.startswith(b"PK"):
            raise BenchmarkError("build_draft did not return a .docx (zip) document")
    return times


# --------------------------------------------------------------------------- scenario 5


@dataclass(frozen=True, slots=True, kw_only=True)
class RssResult:
    """Peak resident memory of one child process."""

    peak_bytes: int  # sampled every 20 ms with psutil
    kernel_max_bytes: int  # ru_maxrss of the child (wait4)
    children_max_bytes: int  # getrusage(RUSAGE_CHILDREN).ru_maxrss after it was reaped
    exit_code: int
    seconds: float
    output: str = field(default="", repr=False)

    @property
    def note(self) -> str:
        """The last lines of the output, for messages."""
        tail = self.output.strip().splitlines()[-3:]
        return (": " + " | ".join(tail))[-300:] if tail else ""


class Children:
    """Child processes started by the benchmark, so every one can be stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Popen ``args`` and remember the process."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(list(args), **kwargs)
        with self._lock:
            self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; reaps the process."""
        if proc.returncode is None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=grace)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)

    def stop_all(self) -> None:
        """Stop every process still running."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            try:
                self.stop(proc, grace=5.0)
            except (OSError, subprocess.SubprocessError):
                log.warning("could not stop child %s", proc.pid)


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any AUTOMATION_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# Starts the measured command and reports its pid, then its exit and ru_maxrss, as JSON lines.
# Linux carries a parent's RSS high-water mark into a child it forks or vforks (kept across
# exec), so a child of this big process would report at least our own peak as ru_maxrss.
# The launcher is small, so the measured command's ru_maxrss is its own.
LAUNCHER = """
import json, os, resource, signal, subprocess, sys
with open(sys.argv[1], "wb") as out:
    child = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
print(json.dumps({"pid": child.pid}), flush=True)
signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
_, status, usage = os.wait4(child.pid, 0)
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "ru_maxrss_kb": usage.ru_maxrss,
                  "children_kb": children}), flush=True)
"""


def read_json_line(stream: IO[bytes], *, timeout: float, what: str) -> dict[str, Any]:
    """The next line of ``stream`` as a JSON object (``what`` names it in errors)."""
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise BenchmarkError(f"no {what} within {timeout:.0f} s") from None
    if not line.strip():
        raise BenchmarkError(f"the process exited before printing its {what}")
    info: dict[str, Any] = json.loads(line)
    return info


def measure_peak_rss(
    children: Children,
    args: Sequence[str],
    *,
    output: Path,
    env: Mapping[str, str] | None = None,
    timeout: float,
    terminate_after: float | None = None,
    interval: float = 0.02,
) -> RssResult:
    """Run ``args`` (through :data:`LAUNCHER`) and sample its RSS every ``interval`` s.

    ``terminate_after``: send SIGTERM after that many seconds (a service run).
    ``timeout``: kill it and fail when it is still running after that many seconds.
    The command's stdout and stderr go to ``output``.
    """
    launcher = children.start(
        [sys.executable, "-c", LAUNCHER, str(output), *args],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=None if env is None else dict(env),
    )
    pid = 0
    try:
        assert launcher.stdout is not None
        pid = int(read_json_line(launcher.stdout, timeout=30, what="launcher pid")["pid"])
        watched = psutil.Process(pid)
        started = time.monotonic()
        peak = 0
        terminated = False
        while launcher.poll() is None:
            with contextlib.suppress(psutil.Error):  # exiting: the last sample stands
                peak = max(peak, int(watched.memory_info().rss))
            elapsed = time.monotonic() - started
            if terminate_after is not None and not terminated and elapsed >= terminate_after:
                _signal(pid, signal.SIGTERM)
                terminated = True
            if elapsed > timeout:
                raise BenchmarkError(f"{' '.join(args)[-120:]} still running after {timeout:.0f} s")
            time.sleep(interval)
        seconds = time.monotonic() - started
        final = read_json_line(launcher.stdout, timeout=10, what="launcher result")
    finally:
        if pid:
            _signal(pid, signal.SIGKILL)  # a no-op unless we are failing
        children.stop(launcher)
    return RssResult(
        peak_bytes=peak,
        kernel_max_bytes=int(final["ru_maxrss_kb"]) * 1024,
        children_max_bytes=int(final["children_kb"]) * 1024,
        exit_code=int(final["exit"]),
        seconds=seconds,
        output=output.read_text(encoding="utf-8", errors="replace"),
    )


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceMemory:
    """Scenario 5."""

    backfill: RssResult
    run: RssResult | None
    run_note: str
    count: int


def service_memory(
    workdir: Path, children: Children, *, count: int = BACKFILL_COUNT, run_seconds: float = 8.0
) -> ServiceMemory:
    """Peak RSS of ``automation backfill`` (``count`` publications) and of ``automation run``.

    Runs ``automation sandbox --port 0 --data DIR`` as a child, serves the feed through its
    admin API, provisions, then measures the two commands as children of their own.
    """
    python = sys.executable
    data = workdir / "rss-sandbox"
    state = workdir / "rss-state"
    stderr_path = workdir / "rss-sandbox.stderr"
    with stderr_path.open("wb") as sandbox_err:
        sandbox = children.start(
            [python, "-m", "automation", "sandbox", "--port", "0", "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=sandbox_err,
            stdin=subprocess.DEVNULL,
            env=child_env(),
        )
    admin = requests.Session()
    try:
        assert sandbox.stdout is not None
        info = read_json_line(sandbox.stdout, timeout=60, what="sandbox ready line")
        base = str(info["authority_host"])
        admin.trust_env = False
        admin.verify = str(info["ca_bundle"])
        answer = admin.post(
            f"{base}/_sandbox/pages",
            json={"path": "/feed/", "content": rss(backfill_items(count)).decode("utf-8")},
            timeout=30,
            verify=str(info["ca_bundle"]),
        )
        answer.raise_for_status()
        env = child_env(
            AUTOMATION_STATE_DIR=str(state),
            AUTOMATION_FEED_URLS=json.dumps([str(info["feed_url"])]),
            AUTOMATION_FETCH_REPORT_PAGES="false",
            AUTOMATION_LOG_LEVEL="WARNING",
        )
        config = str(info["config"])
        done = subprocess.run(
            [python, "-m", "automation", "provision", "--config", config],
            env=env,
            capture_output=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            raise BenchmarkError(f"provision failed ({done.returncode}): {done.stdout[-500:]!r}")
        backfill = measure_peak_rss(
            children,
            [
                python,
                "-m",
                "automation",
                "backfill",
                "--since",
                BACKFILL_SINCE.isoformat(),
                "--as-of",
                BACKFILL_AS_OF.isoformat(),
                "--config",
                config,
            ],
            env=env,
            output=workdir / "backfill.out",
            timeout=900,
        )
        if backfill.exit_code != 0:
            raise BenchmarkError(f"automation backfill exited {backfill.exit_code}{backfill.note}")
        if f": {count} filed, 0 failed" not in backfill.output:
            raise BenchmarkError(f"automation backfill did not file {count}:{backfill.note}")
        admin.delete(f"{base}/_sandbox/log", timeout=30, verify=str(info["ca_bundle"]))
        # Idle: nothing new to file, and no reminder catch-up (it would mail 200 owners).
        run_env = dict(
            env,
            AUTOMATION_SCHEDULE__INTERVAL_SECONDS="2",
            AUTOMATION_REMINDERS__ENABLED="false",
        )
        run = measure_peak_rss(
            children,
            [python, "-m", "automation", "run", "--config", config],
            env=run_env,
            output=workdir / "run.out",
            timeout=run_seconds + 30,
            terminate_after=run_seconds,
        )
        logged = admin.get(f"{base}/_sandbox/log", timeout=30, verify=str(info["ca_bundle"]))
        seen = classify(logged.json().get("value", []))
        run_result: RssResult | None = run
        if run.seconds < run_seconds - 0.5 or run.exit_code not in (0, -signal.SIGTERM):
            run_note = f"n/a (run not available: exit {run.exit_code}{run.note})"
            run_result = None
        else:
            run_note = (
                f"{seen['feed_gets']} cycles, {seen['graph_http']} Graph requests in "
                f"{run_seconds:.0f} s, then SIGTERM"
            )
            if run.exit_code != 0:
                run_note += f" (exit {run.exit_code})"
    finally:
        admin.close()
        children.stop(sandbox)
    return ServiceMemory(backfill=backfill, run=run_result, run_note=run_note, count=count)


# --------------------------------------------------------------------------- table


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One line of the results table (``met`` None: no target)."""

    figure: str
    latency: str
    value: str
    target: str = "—"
    met: bool | None = None


def _met(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "NOT MET")


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| figure | latency | value | target | met |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r.figure} | {r.latency} | {r.value} | {r.target} | {_met(r.met)} |")
    return "\n".join(lines)


def filing_rows(result: FilingResult) -> list[Row]:
    """Rows of scenarios 1 and 2 for one latency."""
    lat = f"{result.latency_ms} ms"
    n = result.count
    per_rt = result.per_publication("round_trips")
    idle = result.idle
    return [
        Row(
            figure=f"filing pass, {n} new publications: round trips / HTTP requests (raw)",
            latency=lat,
            value=f"{result.filing.round_trips} / {result.filing.requests} "
            f"({result.filing.operations} Graph operations, {result.filing.seconds:.2f} s)",
        ),
        Row(
            figure="Graph round trips per new publication",
            latency=lat,
            value=f"{per_rt:.2f}",
            target=f"<= {TARGET_ROUND_TRIPS:g}",
            met=per_rt <= TARGET_ROUND_TRIPS,
        ),
        Row(
            figure="Graph HTTP requests / operations per new publication",
            latency=lat,
            value=f"{result.per_publication('requests'):.2f} / "
            f"{result.per_publication('operations'):.2f}",
        ),
        Row(
            figure="idle cycle (3rd pass): Graph requests",
            latency=lat,
            value=f"{idle.requests} (sandbox log: {idle.graph_http}; 2nd pass: "
            f"{result.second.requests})",
            target=f"<= {TARGET_IDLE_REQUESTS}",
            met=idle.requests <= TARGET_IDLE_REQUESTS and idle.graph_http <= TARGET_IDLE_REQUESTS,
        ),
        Row(
            figure="idle cycle (3rd pass): writes",
            latency=lat,
            value=f"{idle.writes} (sandbox log: {idle.log_writes}; 2nd pass: "
            f"{result.second.writes})",
            target="0",
            met=idle.writes == 0 and idle.log_writes == 0,
        ),
        Row(
            figure="idle cycle (3rd pass): feed GETs (not Graph)",
            latency=lat,
            value=str(idle.feed_gets),
        ),
    ]


def backfill_rows(ours: BackfillResult, baseline: BackfillResult) -> list[Row]:
    """Rows of scenario 3 for one latency."""
    lat = f"{ours.latency_ms} ms"
    ratio = baseline.traffic.seconds / ours.traffic.seconds
    has_target = ours.latency_ms == 100
    n = ours.count
    return [
        Row(
            figure=f"backfill {n}: ours (concurrency {ours.concurrency}, $batch)",
            latency=lat,
            value=f"{ours.traffic.seconds:.1f} s ({ours.traffic.requests} requests)",
        ),
        Row(
            figure=f"backfill {n}: sequential baseline (1 at a time, no $batch)",
            latency=lat,
            value=f"{baseline.traffic.seconds:.1f} s ({baseline.traffic.requests} requests)",
        ),
        Row(
            figure=f"backfill {n}: speed-up (baseline / ours)",
            latency=lat,
            value=f"{ratio:.1f}x",
            target=f">= {TARGET_SPEEDUP:g}x" if has_target else "—",
            met=ratio >= TARGET_SPEEDUP if has_target else None,
        ),
    ]


def draft_rows(times: Sequence[float]) -> list[Row]:
    """Row of scenario 4."""
    ordered = sorted(times)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return [
        Row(
            figure=f"draft rendering (seed draft, {len(times)} renders): median per document",
            latency="n/a",
            value=f"{statistics.median(times):.1f} ms (p90 {p90:.1f} ms)",
        )
    ]


def memory_rows(memory: ServiceMemory) -> list[Row]:
    """Rows of scenario 5."""
    b = memory.backfill
    rows = [
        Row(
            figure=f"peak RSS, `automation backfill` of {memory.count} publications",
            latency="0 ms",
            value=f"{b.peak_bytes / MB:.1f} MB (wait4 ru_maxrss {b.kernel_max_bytes / MB:.1f} MB, "
            f"RUSAGE_CHILDREN {b.children_max_bytes / MB:.1f} MB; {b.seconds:.1f} s)",
            target=f"<= {TARGET_RSS_MB:g} MB",
            met=max(b.peak_bytes, b.kernel_max_bytes) <= TARGET_RSS_MB * MB,
        )
    ]
    if memory.run is None:
        rows.append(
            Row(figure="peak RSS, idle `automation run`", latency="0 ms", value=memory.run_note)
        )
    else:
        r = memory.run
        rows.append(
            Row(
                figure="peak RSS, idle `automation run`",
                latency="0 ms",
                value=f"{r.peak_bytes / MB:.1f} MB (wait4 ru_maxrss "
                f"{r.kernel_max_bytes / MB:.1f} MB; {memory.run_note})",
                target=f"<= {TARGET_RSS_MB:g} MB",
                met=max(r.peak_bytes, r.kernel_max_bytes) <= TARGET_RSS_MB * MB,
            )
        )
    return rows


def header(latencies: Sequence[int], *, quick: bool, backfill_count: int) -> str:
    """Date, machine and how the run was configured."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    mode = f"QUICK run: backfill of {backfill_count}" if quick else f"backfill of {backfill_count}"
    lats = ", ".join(f"{lat} ms" for lat in latencies)
    return (
        f"Benchmark {now} on {machine}; added sandbox latency per Graph request: {lats} "
        f"(see each row); {mode}."
    )


NOTES = """\
How the figures are computed:
- Counts come from `app.client.stats` (requests = HTTP sends to Graph incl. retries;
  round trips = logical calls, a `$batch` POST counts once; writes = logical writes, inner
  `$batch` writes counted) and are cross-checked against the sandbox's request log
  (Graph operations = top-level Graph requests other than `$batch` plus each inner request).
- Scenario 1: reset sandbox, provision, then warm-up (token, workspace ids, the stage users,
  and one pass over an empty feed so the delta link and feed validators exist). Then one
  pass (reminders=False) over a feed with N new Norfolk/national publications. Per
  publication = (filing pass - idle pass) / N, where the idle pass (scenario 2) is the third
  pass over the same feed: its delta read, plan read and conditional feed GET.
- Scenario 2: the third pass after filing; the feed GET is not a Graph request (own row).
- Scenario 3: `run_pass(since=2023-07-01, reminders=False)` on a reset, provisioned sandbox
  after the same warm-up (token, workspace ids, stage users).
  Ours: settings concurrency (default 4) with `$batch`. Baseline: concurrency 1 and a
  GraphClient subclass whose `batch()` sends each inner request on its own, one at a time,
  in dependsOn order. Both measured in this run; the sandbox runs in this process.
- Scenario 4: `automation.drafts.build_draft` of the seed publication, after one warm-up.
- Scenario 5: `automation sandbox --port 0 --data DIR` as a child; the feed served through
  `POST /_sandbox/pages`; `automation provision`, then `automation backfill` and
  `automation run` (schedule.interval_seconds=2, reminders disabled so the catch-up does
  not mail every owner, SIGTERM after ~8 s) as children. `run` starts on the backfilled
  tracker: its first cycle reads the whole list delta, later cycles are idle. Peak = max of
  psutil RSS samples every 20 ms; cross-checked with the child's own ru_maxrss (wait4) and
  getrusage(RUSAGE_CHILDREN) (the max over all children reaped so far, provision included).
  MB = 1,000,000 bytes.
"""


# --------------------------------------------------------------------------- main


@dataclass(slots=True)
class Plan:
    """What one benchmark run measures."""

    latencies: tuple[int, ...] = LATENCIES_MS
    filing_count: int = FILING_COUNT
    backfill_count: int = BACKFILL_COUNT
    draft_repeats: int = 50
    quick: bool = False
    memory: bool = True
    output: Path = LATEST
    max_minutes: float = 30.0


def _progress(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def run_benchmarks(plan: Plan, workdir: Path, children: Children) -> list[Row]:
    """Every scenario in turn; returns the table rows."""
    rows: list[Row] = []
    sandbox = Sandbox().start()
    try:
        _progress("draft rendering")
        settings = bench_settings(sandbox, workdir / "drafts")
        rows += draft_rows(draft_render_ms(settings, repeats=plan.draft_repeats))
        for latency in plan.latencies:
            _progress(f"filing {plan.filing_count} publications at {latency} ms")
            rows += filing_rows(
                filing_cost(sandbox, workdir, latency_ms=latency, count=plan.filing_count)
            )
        for latency in plan.latencies:
            _progress(f"backfill {plan.backfill_count} (ours) at {latency} ms")
            ours = backfill_time(sandbox, workdir, latency_ms=latency, count=plan.backfill_count)
            _progress(f"  {ours.traffic.seconds:.1f} s; sequential baseline at {latency} ms")
            baseline = backfill_time(
                sandbox, workdir, latency_ms=latency, count=plan.backfill_count, sequential=True
            )
            _progress(f"  {baseline.traffic.seconds:.1f} s")
            rows += backfill_rows(ours, baseline)
    finally:
        sandbox.stop()
    if plan.memory:
        _progress(f"peak RSS: backfill of {plan.backfill_count}, then an idle run")
        rows += memory_rows(service_memory(workdir, children, count=plan.backfill_count))
    return rows


def parse_args(argv: Sequence[str] | None) -> Plan:
    """Command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"backfill {QUICK_BACKFILL_COUNT} publications instead of {BACKFILL_COUNT}",
    )
    parser.add_argument("--output", type=Path, default=LATEST, help="where to write the table")
    parser.add_argument(
        "--max-minutes", type=float, default=30.0, help="abort (exit 3) after this long"
    )
    args = parser.parse_args(argv)
    plan = Plan(quick=args.quick, output=args.output, max_minutes=args.max_minutes)
    if args.quick:
        plan.backfill_count = QUICK_BACKFILL_COUNT
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write it to the output file."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    plan = parse_args(argv)
    children = Children()

    def abort() -> None:
        sys.stderr.write(f"benchmark: over the {plan.max_minutes:g}-minute limit; aborting\n")
        children.stop_all()
        os._exit(3)

    watchdog = threading.Timer(plan.max_minutes * 60.0, abort)
    watchdog.daemon = True
    watchdog.start()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="s55-bench-") as tmp:
            rows = run_benchmarks(plan, Path(tmp), children)
    finally:
        watchdog.cancel()
        children.stop_all()
    text = "\n".join(
        [
            header(plan.latencies, quick=plan.quick, backfill_count=plan.backfill_count),
            "",
            table(rows),
            "",
            f"Total benchmark time: {time.monotonic() - started:.0f} s.",
            "",
            NOTES,
        ]
    )
    print(text)
    plan.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
