"""Benchmark scenarios 1-4: what a pass costs in Graph traffic and time, on the sandbox.

1. Graph traffic per newly filed publication; 2. traffic of an idle pass; 3. backfill wall
time against a strictly sequential baseline (:class:`SequentialGraphClient`); 4. draft
rendering time. Also the sample feeds, settings and traffic counting the scenarios share.
Scenario 5 (memory of child processes) is :mod:`benchmarks.processes`; the table is
:mod:`benchmarks.table`; ``make bench`` runs :mod:`benchmarks.run`.

(About 500 lines: the four scenarios share the feeds, settings, warm-up and traffic
counting kept here; split, each would import the others' set-up.)
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

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


# Scenario 1/2: publications that are live on FILING_AS_OF (deadlines not yet passed).
FILING_AS_OF = dt.date(2023, 8, 5)
FILING_COUNT = 10
# Scenario 3/5: a backfill window of 200 publications, one a day from BACKFILL_FIRST.
BACKFILL_SINCE = dt.date(2023, 7, 1)
BACKFILL_FIRST = dt.date(2023, 7, 3)
BACKFILL_AS_OF = dt.date(2024, 1, 31)
BACKFILL_COUNT = 200
QUICK_BACKFILL_COUNT = 40


FEED_HOST = "https://hmicfrs.justiceinspectorates.gov.uk"
SEED_TITLE = (
    "Counter Terrorism Joint Inspection - National security division and multi-agency "
    "arrangements for the management of terrorist offenders in the wake of terrorist attacks"
)
SEED_LINK = f"{FEED_HOST}/publications/counter-terrorism-joint-inspection/"


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
            # With tasks: every publication gets its draft and tasks (past deadlines are filed
            # as historic otherwise), so the figure measures the same work as before.
            lambda: run_pass(
                app, today=BACKFILL_AS_OF, since=BACKFILL_SINCE, reminders=False, with_tasks=True
            ),
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
