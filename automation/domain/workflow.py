"""The tracker's Status values and where a new publication starts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum

from automation.domain.calendar import long_date
from automation.domain.relevance import Decision
from automation.domain.text import shorten


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
    {Status.PUBLISHED, Status.CLOSED, Status.NOT_REQUIRED}
)
"""Statuses for which no reminder of any kind is sent (compare with `status_in`).

Not *Circulated*: a circulated response is not yet published (the statutory act), nor its
copies sent to HMICFRS and the Home Secretary, so its owner is still reminded and escalated
up to (and past) the deadline. *Published* is set only once all of that is done.
"""

DEADLINE_MET: frozenset[Status] = frozenset({Status.CIRCULATED, Status.PUBLISHED})
"""Statuses in which the response went out, so a passed deadline is not flagged as missed."""

TERMINAL: frozenset[Status] = frozenset({Status.CLOSED, Status.NOT_REQUIRED})
"""Statuses in which no further setup or work is done on the item."""

BEFORE_APPROVAL: frozenset[Status] = frozenset(
    {Status.TRIAGE, Status.DRAFTING, Status.CHIEF_CONSTABLE_COMMENTS, Status.PCC_APPROVAL}
)
"""Statuses in which a person's "No" still stops the work (nothing approved or sent yet)."""

STAGE_STATUSES: tuple[tuple[str, Status], ...] = (
    ("chief_constable_comments", Status.CHIEF_CONSTABLE_COMMENTS),
    ("draft", Status.DRAFTING),
    ("approval", Status.PCC_APPROVAL),
)
"""The Status each stage before approval gives the item while its task is open (stage role)."""

WORKING: frozenset[Status] = frozenset(status for _, status in STAGE_STATUSES)
"""Statuses the service moves with the stage tasks (a person's other choices are left)."""

EARLIER_ROLES: tuple[str, ...] = ("chief_constable_comments", "draft")
"""Stages whose tasks must be done (or deleted: a stage the office skips) before approval."""


def stage_status(open_roles: Iterable[str]) -> Status:
    """The Status of an item whose stage tasks of ``open_roles`` are still open.

    The first open stage in workflow order names it (Chief Constable comments, then
    Drafting, then PCC approval); with none open the response awaits approval.
    """
    still_open = set(open_roles)
    for role, status in STAGE_STATUSES:
        if role in still_open:
            return status
    return Status.PCC_APPROVAL


REASON_MAX = 255
"""The longest TriageReason the service writes."""


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


def declined(response_required: str, status: Status | str) -> bool:
    """Whether a person's "no response" decision is not yet carried out on the item.

    Response required = No while the work has not reached approval, or Status set to
    *Not required* while the decision was still open (To be decided). A Yes with Status
    *Not required* is a contradiction for a person to resolve (see ``TrackerRecord.problems``).
    """
    decision = response_required.strip().casefold()
    if decision == Decision.NO.value.casefold():
        return status_in(status, BEFORE_APPROVAL)
    if decision == Decision.TBD.value.casefold():
        return status_in(status, frozenset({Status.NOT_REQUIRED}))
    return False


def is_declined(response_required: str) -> bool:
    """Whether the item's Response required says No (no reminder of any kind then)."""
    return response_required.strip().casefold() == Decision.NO.value.casefold()


def decision_note(reason: str, decision: Decision, *, by: str, on: dt.date) -> str:
    """TriageReason with "Decided <decision> by <who> on <date>" added (once).

    The note is what a person sees in the tracker's Triage reason column; a reason that
    already records this decision is returned unchanged, so writing it again is harmless.
    """
    marker = f"Decided {decision.value}"
    if marker in reason:
        return reason
    note = f"{marker} by {by or 'a person (editor not recorded)'} on {long_date(on)}"
    if not reason.strip():
        return shorten(note, REASON_MAX)
    room = REASON_MAX - len(note) - 3
    return f"{shorten(reason.strip(), max(room, 1))} \u2014 {note}"[:REASON_MAX]
