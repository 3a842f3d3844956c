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

Run with ``python -m benchmarks.run`` from the project root. The scenarios are in
:mod:`benchmarks.scenarios` (1-4) and :mod:`benchmarks.processes` (5), the table in
:mod:`benchmarks.table`; this module holds the plan and ``main``.

Exit status: 0 when every figure was measured (a missed target prints NOT MET), non-zero
only when the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from automation.sandbox.server import Sandbox
from benchmarks.processes import Children, service_memory
from benchmarks.scenarios import (
    BACKFILL_COUNT,
    FILING_COUNT,
    QUICK_BACKFILL_COUNT,
    backfill_time,
    bench_settings,
    draft_render_ms,
    filing_cost,
)
from benchmarks.table import (
    NOTES,
    Row,
    backfill_rows,
    draft_rows,
    filing_rows,
    header,
    memory_rows,
    table,
)

LATEST = Path(__file__).resolve().parent / "latest.md"
LATENCIES_MS = (0, 50, 100)


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
