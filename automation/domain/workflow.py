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


CIRCULATION_DONE: frozenset[Status] = frozenset(
    {Status.CIRCULATED, Status.PUBLISHED, Status.CLOSED, Status.NOT_REQUIRED}
)
"""Statuses in which the approved response has already been circulated (or never will be)."""

REMINDERS_STOP: frozenset[Status] = frozenset(
    {Status.CIRCULATED, Status.PUBLISHED, Status.CLOSED, Status.NOT_REQUIRED}
)
"""Statuses for which no reminder of any kind is sent (compare with `status_in`)."""

DEADLINE_MET: frozenset[Status] = frozenset({Status.CIRCULATED, Status.PUBLISHED})
"""Statuses in which the response went out, so a passed deadline is not flagged as missed."""

TERMINAL: frozenset[Status] = frozenset({Status.CLOSED, Status.NOT_REQUIRED})
"""Statuses in which no further setup or work is done on the item."""


class SetupState(StrEnum):
    """How far the service got in setting up a tracker item (the ``S55Setup`` column)."""

    NONE = "none"
    """Nothing to set up (no response needed)."""
    FILED = "filed"
    """The item exists; the draft and tasks may not yet."""
    TRIAGE = "triage"
    """A triage task exists for a person's decision."""
    COMPLETE = "complete"
    """Draft, tasks and task details are in place."""


def status_in(status: Status | str, statuses: frozenset[Status]) -> bool:
    """Whether ``status`` (a choice as read, compared case-insensitively) is one of ``statuses``."""
    wanted = str(status).strip().casefold()
    return any(wanted == member.value.casefold() for member in statuses)


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
