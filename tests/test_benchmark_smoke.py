"""Smoke test of the benchmarks: the scenarios run at tiny sizes, so the script cannot rot.

The full benchmark (``make bench``) is never run here.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from automation.graph.client import BatchRequest, GraphResponse, MockTransport, SentRequest
from automation.sandbox.server import Sandbox
from benchmarks import processes, scenarios
from benchmarks import table as tables


class _Tokens:
    def token(self) -> str:
        return "t"

    def invalidate(self) -> None:
        return None


def test_filing_and_idle_cycle_figures(sandbox: Sandbox, tmp_path: Path) -> None:
    result = scenarios.filing_cost(sandbox, tmp_path, latency_ms=0, count=3)
    assert result.filing.round_trips > 0
    assert result.filing.requests == result.filing.graph_http  # client and sandbox agree
    assert result.filing.writes == result.filing.log_writes > 0
    per_pub = result.per_publication("round_trips")
    assert 0 < per_pub < result.filing.round_trips
    assert result.per_publication("operations") > per_pub  # $batch packs several operations
    assert result.idle.writes == 0
    assert result.idle.log_writes == 0
    assert 0 < result.idle.requests == result.idle.graph_http
    assert result.idle.feed_gets == 1
    rendered = tables.table(tables.filing_rows(result))
    assert "Graph round trips per new publication" in rendered
    assert f"| {per_pub:.2f} |" in rendered


def test_backfill_ours_and_sequential_baseline_do_the_same_work(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ours = scenarios.backfill_time(sandbox, tmp_path, latency_ms=0, count=3)
    baseline = scenarios.backfill_time(sandbox, tmp_path, latency_ms=0, count=3, sequential=True)
    assert ours.traffic.seconds > 0
    assert baseline.traffic.seconds > 0
    assert baseline.concurrency == 1
    assert ours.concurrency == 4
    # Same Graph operations and writes; the baseline sends each one on its own.
    assert baseline.traffic.operations == ours.traffic.operations
    assert baseline.traffic.writes == ours.traffic.writes > 0
    assert baseline.traffic.graph_http == baseline.traffic.operations
    assert ours.traffic.graph_http < baseline.traffic.graph_http
    assert "x" in tables.table(tables.backfill_rows(ours, baseline))


def test_sequential_client_honours_depends_on_and_returns_errors() -> None:
    sent: list[str] = []

    def answer(request: SentRequest) -> GraphResponse:
        path = request.url.removeprefix("https://graph.test/v1.0")
        sent.append(f"{request.method} {path}")
        if path == "/bad":
            body = json.dumps({"error": {"code": "itemNotFound", "message": "no"}}).encode()
            return GraphResponse(status=404, headers={}, body=body, url=request.url)
        return GraphResponse(status=200, headers={}, body=b'{"ok": true}', url=request.url)

    client = scenarios.SequentialGraphClient(
        base_url="https://graph.test/v1.0", tokens=_Tokens(), transport=MockTransport(answer)
    )
    answers = client.batch(
        [
            BatchRequest(id="late", method="PATCH", url="/b", body={"x": 1}, depends_on=("a",)),
            BatchRequest(id="a", method="GET", url="/a"),
            BatchRequest(id="bad", method="GET", url="/bad"),
            BatchRequest(id="skip", method="POST", url="/c", body={}, depends_on=("bad",)),
        ]
    )
    # Each dependsOn group runs as its own chain: /b after /a; /c never (its prerequisite failed).
    assert sorted(sent) == ["GET /a", "GET /bad", "PATCH /b"]
    assert sent.index("GET /a") < sent.index("PATCH /b")
    assert list(answers) == ["late", "a", "bad", "skip"]
    assert answers["late"].body == {"ok": True}
    assert answers["bad"].status == 404
    assert answers["skip"].status == 424
    snapshot = client.stats.snapshot()
    # Writes are counted as for a real $batch: every write put in it (the skipped POST too).
    assert (snapshot.round_trips, snapshot.writes) == (3, 2)


def test_draft_rendering_figure(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = scenarios.bench_settings(sandbox, tmp_path / "drafts")
    record = scenarios.seed_record(settings)
    assert record.deadline is not None
    assert record.deadline.isoformat() == "2023-09-13"
    times = scenarios.draft_render_ms(settings, repeats=2)
    assert len(times) == 2
    assert all(ms > 0 for ms in times)


def test_peak_rss_sampler_sees_a_child_allocation(tmp_path: Path) -> None:
    children = processes.Children()
    code = "import time; block = bytearray(60_000_000); print('done'); time.sleep(0.3)"
    try:
        result = processes.measure_peak_rss(
            children, [sys.executable, "-c", code], output=tmp_path / "out", timeout=30
        )
    finally:
        children.stop_all()
    assert result.exit_code == 0
    assert result.output.strip() == "done"
    assert result.peak_bytes > 60_000_000
    assert result.kernel_max_bytes > 60_000_000
    # The launcher keeps our own (larger) high-water mark out of the child's ru_maxrss.
    assert result.kernel_max_bytes < 60_000_000 + 40_000_000


def test_peak_rss_sampler_terminates_a_service(tmp_path: Path) -> None:
    children = processes.Children()
    try:
        result = processes.measure_peak_rss(
            children,
            [sys.executable, "-c", "import time; time.sleep(30)"],
            output=tmp_path / "out",
            timeout=20,
            terminate_after=0.3,
        )
    finally:
        children.stop_all()
    assert result.exit_code == -signal.SIGTERM
    assert 0.3 <= result.seconds < 10


@pytest.mark.parametrize(("met", "shown"), [(True, "yes"), (False, "NOT MET"), (None, "—")])
def test_table_marks_targets(met: bool | None, shown: str) -> None:
    row = tables.Row(figure="f", latency="100 ms", value="7", target="<= 6", met=met)
    assert tables.table([row]).splitlines()[-1] == f"| f | 100 ms | 7 | <= 6 | {shown} |"
