"""Rows from findings: keys, the draft's corrections, open statuses."""

from __future__ import annotations

from automation.domain.recommendations import (
    Finding,
    Kind,
    RecommendationRow,
    findings_of,
    is_open_row,
    row_key,
    with_draft,
)

R = Kind.RECOMMENDATION
A = Kind.AREA_FOR_IMPROVEMENT


def test_keys_carry_the_reports_own_number() -> None:
    assert row_key("hmicfrs:/publications/x", R, "19") == "hmicfrs:/publications/x#R19"
    assert row_key("k", A, "2") == "k#A2"
    assert row_key("k", Kind.CAUSE_OF_CONCERN, "1") == "k#C1"


def test_unnumbered_findings_take_their_position_as_the_draft_does() -> None:
    report = {
        "recommendations": [{"number": "19", "text": "Review.", "for": "CT Policing"}],
        "areas_for_improvement": [{"number": "", "text": "First."}, "Second (old format)."],
        "causes_of_concern": "not a list",
    }
    assert findings_of(report) == [
        Finding(kind=R, number="19", text="Review.", addressee="CT Policing"),
        Finding(kind=A, number="1", text="First."),
        Finding(kind=A, number="2", text="Second (old format)."),
    ]


def test_the_draft_wins_for_the_kinds_it_lists() -> None:
    extracted = [
        Finding(kind=R, number="19", text="Old wording.", addressee="CT Policing"),
        Finding(kind=R, number="20", text="For another body."),
        Finding(kind=A, number="1", text="Area."),
    ]
    drafted = [
        Finding(kind=R, number="21", text="Added by staff."),
        Finding(kind=R, number="19", text="New wording."),
        Finding(kind=R, number="19", text="A repeat is ignored."),
    ]
    assert with_draft(extracted, drafted) == [
        Finding(kind=R, number="19", text="New wording.", addressee="CT Policing"),
        Finding(kind=R, number="21", text="Added by staff."),
        Finding(kind=A, number="1", text="Area."),
    ]


def test_open_statuses_include_empty_and_unknown_ones() -> None:
    assert is_open_row("Open")
    assert is_open_row("in progress")
    assert is_open_row("")
    assert is_open_row("Awaiting evidence")  # a choice staff typed
    assert not is_open_row("Complete \u2013 awaiting HMICFRS")
    assert not is_open_row("Closed by HMICFRS")
    assert RecommendationRow(item_id="3", kind="Recommendation", number="19").label == (
        "Recommendation 19"
    )
    assert RecommendationRow(item_id="3", title="Own action").label == "Own action"
