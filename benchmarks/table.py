"""The benchmark results as a Markdown table (| figure | latency | value | target | met |)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.processes import MB, ServiceMemory
from benchmarks.scenarios import BackfillResult, FilingResult

TARGET_ROUND_TRIPS = 6.0
TARGET_IDLE_REQUESTS = 2
TARGET_SPEEDUP = 5.0
TARGET_RSS_MB = 120.0


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
- Scenario 3: `run_pass(since=2023-07-01, reminders=False, with_tasks=True)` on a reset,
  provisioned sandbox after the same warm-up (token, workspace ids, stage users).
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
