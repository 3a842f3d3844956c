"""The tracker's Status values and where a new publication starts."""

from __future__ import annotations

from enum import StrEnum

from automation.domain.relevance import Decision


class Status(StrEnum):
    """The tracker's Status choices, in workflow order (DESIGN.md §4.4)."""

    TRIAGE = "Triage"
    DRAFTING = "Drafting"
    CHIEF_CONSTABLE_COMMENTS = "Chief Constable comments"
    PCC_APPROVAL = "PCC approval"
    APPROVED = "Approved"
    CIRCULATED = "Circulated"
    PUBLISHED = "Published"
    CLOSED = "Closed"
    NOT_REQUIRED = "Not required"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {
        Status.TRIAGE,
        Status.DRAFTING,
        Status.CHIEF_CONSTABLE_COMMENTS,
        Status.PCC_APPROVAL,
        Status.APPROVED,
        Status.CIRCULATED,
    }
)
"""Statuses in which the statutory duty is not yet met: the response is not yet published."""


def initial_status(decision: Decision) -> Status:
    """Where a new publication starts: Yes -> Drafting, TBD -> Triage, No -> Not required."""
    decision = Decision(decision)
    if decision is Decision.YES:
        return Status.DRAFTING
    if decision is Decision.TBD:
        return Status.TRIAGE
    return Status.NOT_REQUIRED


def is_open(status: Status | str) -> bool:
    """True while the response still has to be published (see `OPEN_STATUSES`).

    An unknown status (a choice staff added by hand) counts as open, so it is not forgotten.
    """
    try:
        return Status(status) in OPEN_STATUSES
    except ValueError:
        return True
