"""Tracker statuses."""

from __future__ import annotations

import pytest

from automation.domain import OPEN_STATUSES, Decision, Status, initial_status, is_open


def test_status_choices_are_the_tracker_choices_in_order() -> None:
    assert [s.value for s in Status] == [
        "Triage",
        "Drafting",
        "Chief Constable comments",
        "PCC approval",
        "Approved",
        "Circulated",
        "Published",
        "Closed",
        "Not required",
    ]


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        (Decision.YES, Status.DRAFTING),
        (Decision.TBD, Status.TRIAGE),
        (Decision.NO, Status.NOT_REQUIRED),
        ("To be decided", Status.TRIAGE),
    ],
)
def test_initial_status(decision: Decision, status: Status) -> None:
    assert initial_status(decision) is status


def test_open_until_published() -> None:
    assert [s for s in Status if is_open(s)] == [
        Status.TRIAGE,
        Status.DRAFTING,
        Status.CHIEF_CONSTABLE_COMMENTS,
        Status.PCC_APPROVAL,
        Status.APPROVED,
        Status.CIRCULATED,
    ]
    assert frozenset(s for s in Status if is_open(s)) == OPEN_STATUSES
    assert is_open("Drafting")
    assert not is_open("Closed")


def test_unknown_status_counts_as_open() -> None:
    assert is_open("On hold")


def test_status_is_what_provision_creates() -> None:
    # The tracker's Status column is provisioned from this list; the domain must be its source.
    # (Imported here, not at the top: the domain tests otherwise need nothing but the domain.)
    from automation.graph.tracker_list import COLUMNS

    [column] = [c for c in COLUMNS if c["name"] == "Status"]
    assert column["choice"]["choices"] == [s.value for s in Status]
