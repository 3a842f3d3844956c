"""The approval gate's rules: who may approve, what the tracker says when an approval is refused.

An approval (Status set to *Approved* in the tracker, or the "PCC approval" Planner task
completed) starts circulation only when every rule holds; the jobs gather the facts (the
approver from the version history or the task, the draft's unfinished parts, the earlier
stage tasks) and these functions decide and word it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from automation.domain.calendar import LONDON, london_date, long_date, parse_stamp
from automation.domain.text import shorten

__all__ = [
    "NOTE_MAX",
    "Attempt",
    "circulates_at",
    "is_approver",
    "london_clock",
    "refusal_note",
    "unapproved_problem",
]

NOTE_MAX = 255
"""The tracker's "Why not circulated" column is one line of at most this many characters."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One approval: where it was made, by whom and when.

    Attributes:
        attempt_id: what makes this approval distinct from the next one ("tracker:<version
            id>" or "planner:<task id>:<completed stamp>"): a refusal or a preview is sent
            once per attempt.
        source: "tracker" (Status set to Approved) or "planner" (the approval task completed).
        name: the person's display name ("" when unknown).
        address: the person's email or user principal name ("" when unknown).
        on: when (a UTC stamp as Graph gives it).
    """

    attempt_id: str
    source: Literal["tracker", "planner"]
    name: str
    address: str
    on: str

    @property
    def who(self) -> str:
        """The approver as a tracker or an email names them (never their raw address alone)."""
        return self.name or self.address or "someone not recorded"


def is_approver(address: str, approvers: Iterable[str]) -> bool:
    """Whether ``address`` is one of ``approvers`` (emails compared case-insensitively)."""
    wanted = address.strip().casefold()
    return bool(wanted) and wanted in {a.strip().casefold() for a in approvers}


def unapproved_problem(attempt: Attempt, approver_names: Sequence[str]) -> str:
    """The clause saying the approver is not one (names the people who may approve)."""
    allowed = " or ".join(approver_names) if approver_names else "the configured approver"
    return f"{attempt.who} is not an approver (only {allowed} may approve)"


def refusal_note(attempt: Attempt, problems: Sequence[str]) -> str:
    """The tracker's one line: ``Not circulated: approval by X on 1 September 2023 refused: ...``.

    ``problems`` are clauses ("the draft still has 2 template prompts ..."); the line is
    cut to :data:`NOTE_MAX` characters.
    """
    day = london_date(attempt.on)
    when = f" on {long_date(day)}" if day is not None else ""
    text = f"Not circulated: approval by {attempt.who}{when} refused: {'; '.join(problems)}."
    return shorten(" ".join(text.split()), NOTE_MAX)


def circulates_at(held_since: str, minutes: float) -> dt.datetime | None:
    """When a held approval circulates: ``minutes`` after ``held_since`` (None: unreadable)."""
    start = parse_stamp(held_since)
    if start is None:
        return None
    return start + dt.timedelta(minutes=minutes)


def london_clock(moment: dt.datetime) -> str:
    """``14:05`` in London, for "will be circulated at HH:MM"."""
    return moment.astimezone(LONDON).strftime("%H:%M")
