"""Whole-life fault matrix: a crash after any step, a throttling storm, kill -9 mid-backfill.

Each ends in the same tenant state as an undisturbed run: nothing lost, nothing twice (above
all no email twice).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from automation.graph.client import RetryPolicy
from automation.sandbox.server import Sandbox
from tests.life_script import differences, prepare, run_life, snapshot

STORM = {"throttle_rate": 0.30, "unavailable_rate": 0.05, "retry_after": "0.05", "seed": 7}
# Enough attempts that a 35% failure share never exhausts the budget (0.35**30 ~ 2e-14).
STORM_RETRY = RetryPolicy(max_attempts=30, backoff_base=0.01, backoff_cap=0.2)


def _resource(step: str) -> str:
    """``pass B: POST /users/x/sendMail`` -> ``users``."""
    _, _, method_path = step.partition(": ")
    return method_path.split(" ", 1)[1].split("/")[1]


def _check_reference(reference: dict[str, Any], steps: list[str]) -> None:
    """The clean life really went through every stage (so the matrix compares something)."""
    items = {item["key"]: item for item in reference["items"]}
    seed = items["hmicfrs:/publications/counter-terrorism-joint-inspection"]
    assert seed["status"] == "Published"
    assert seed["mail"] == ["chief_constable", "hmicfrs", "panel", "website"]
    assert seed["approved_by"].startswith("Sarah Taylor")
    assert all(seed["flags"][f] for f in ("forwarded_panel", "published_on_website"))
    assert items["hmicfrs:/peel-reports/norfolk-2023-25"]["status"] == "Drafting"
    assert items["hmicfrs:/peel-reports/norfolk-2023-25"]["reminders"]
    assert items["hmicfrs:/publications/cwj-super-complaint"]["status"] == "Triage"
    assert not any(item["lease"] for item in reference["items"])
    assert len(reference["files"]) == 2
    assert len(reference["tasks"]) == 9
    assert sorted(pct for _, pct in reference["tasks"]) == [0] * 7 + [100] * 2
    keys = [key for (key, _, _), count in reference["mail"] for _ in range(count)]
    assert sum("circulation" in key for key in keys) == 4
    assert sum("digest" in key for key in keys) >= 3
    # Every kind of step the brief lists is a crash point.
    kinds = Counter(_resource(step) for step in steps)
    assert kinds["$batch"] >= 8, kinds  # lookups, tasks, details + item, reminder records
    assert kinds["sites"] >= 10, kinds  # filing, approval, mail records, Circulated, Published
    assert kinds["drives"] >= 3, kinds  # two draft uploads and the PDF conversion
    assert kinds["users"] >= 7, kinds  # four circulation emails and the digests
    assert kinds["planner"] >= 1, kinds  # the approval task completed
    assert {step.split(":", 1)[0] for step in steps} == {"pass A", "pass B", "pass C"}


def test_crash_after_every_step_of_the_life_then_normal_runs(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = prepare(sandbox, tmp_path / "reference", concurrency=1)
    clean = run_life(sandbox, settings)
    assert clean.failures == []
    reference = snapshot(sandbox, settings)
    _check_reference(reference, clean.steps)

    failing: list[str] = []
    point = 0
    while True:
        # concurrency 1: the k-th step is the same step every time, so a failing point
        # reproduces. Every other point also loses the local state (a cache) in the crash.
        settings = prepare(sandbox, tmp_path / f"crash-{point}", concurrency=1)
        outcome = run_life(sandbox, settings, crash_after=point, lose_state_on_crash=point % 2 == 1)
        if not outcome.crashed_in:
            break
        problems = differences(reference, snapshot(sandbox, settings))
        problems += [f"sandbox handler error: {e}" for e in sandbox.handler_errors]
        sandbox.handler_errors.clear()
        if problems:
            failing.append(
                f"crash point {point} ({outcome.crash_step}): "
                + "; ".join(problems)
                + (f" [item failures: {outcome.failures}]" if outcome.failures else "")
            )
        point += 1
    print(f"\n{point - len(failing)}/{point} crash points survived (whole life)")
    assert point == len(clean.steps), "every step of the clean life must be a crash point"
    assert not failing, "\n".join(failing)


def test_throttle_storm_ends_like_a_calm_run(sandbox: Sandbox, tmp_path: Path) -> None:
    calm = prepare(sandbox, tmp_path / "calm")
    assert run_life(sandbox, calm).failures == []
    reference = snapshot(sandbox, calm)

    stormy = prepare(sandbox, tmp_path / "storm")
    sandbox.faults.configure(STORM)
    try:
        outcome = run_life(sandbox, stormy, retry=STORM_RETRY)
    finally:
        sandbox.faults.configure({})
    throttled = [e for e in sandbox.request_log() if e["status"] in (429, 503)]
    print(f"\nstorm: {len(throttled)} answers of 429/503 absorbed")
    assert len(throttled) >= 20
    assert outcome.failures == []
    assert differences(reference, snapshot(sandbox, stormy)) == []
