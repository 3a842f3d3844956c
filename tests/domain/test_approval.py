"""The approval gate's pure rules and the stage-driven Status (issue 11)."""

from __future__ import annotations

import datetime as dt

from automation.domain.approval import (
    NOTE_MAX,
    Attempt,
    circulates_at,
    is_approver,
    london_clock,
    refusal_note,
    unapproved_problem,
)
from automation.domain.workflow import REMINDERS_STOP, Status, stage_status, status_in

ATTEMPT = Attempt(
    attempt_id="planner:t1:2023-09-01T09:00:00Z",
    source="planner",
    name="Priya Shah",
    address="policy.officer@opcc.example",
    on="2023-09-01T09:00:00Z",
)


def test_approvers_are_compared_without_case() -> None:
    assert is_approver("PCC@opcc.example ", ["pcc@opcc.example"])
    assert not is_approver("policy.officer@opcc.example", ["pcc@opcc.example"])
    assert not is_approver("", ["pcc@opcc.example"])


def test_refusal_note_is_one_dated_line_within_the_column() -> None:
    note = refusal_note(ATTEMPT, [unapproved_problem(ATTEMPT, ["Sarah Taylor"])])
    assert note == (
        "Not circulated: approval by Priya Shah on 1 September 2023 refused: Priya Shah is "
        "not an approver (only Sarah Taylor may approve)."
    )
    long = refusal_note(ATTEMPT, ["x" * 400, "y"])
    assert len(long) == NOTE_MAX
    assert "\n" not in long


def test_the_hold_ends_after_its_minutes() -> None:
    end = circulates_at("2023-09-01T09:00:00Z", 30)
    assert end == dt.datetime(2023, 9, 1, 9, 30, tzinfo=dt.UTC)
    assert london_clock(end) == "10:30"  # British Summer Time
    assert circulates_at("not a stamp", 30) is None


def test_status_follows_the_first_open_stage() -> None:
    roles = ["chief_constable_comments", "draft", "approval", "publish", "portal"]
    assert stage_status(roles) == Status.CHIEF_CONSTABLE_COMMENTS
    assert stage_status(roles[1:]) == Status.DRAFTING
    assert stage_status(roles[2:]) == Status.PCC_APPROVAL
    assert stage_status(["publish"]) == Status.PCC_APPROVAL


def test_reminders_go_on_after_circulation_until_published() -> None:
    assert not status_in(Status.CIRCULATED, REMINDERS_STOP)
    assert status_in(Status.PUBLISHED, REMINDERS_STOP)
