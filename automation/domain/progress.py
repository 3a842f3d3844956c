"""Progress requests: when a cycle starts, which rows are due, which updates are overdue.

A cycle starts on a request day: the first working day of every ``every_months``-th month
(counted from January), and ``days_before`` working days before each Panel meeting. Owners
then have ``response_days`` working days (``due_by``). Only the latest cycle that has
started is acted on: a pass after downtime catches it up; an older one is superseded.

A row is due in a cycle when it is open, not already asked in that cycle, its next update
is not agreed for after ``due_by``, and its last update is not fresh (given within
``response_days`` working days before the request day, e.g. for a cycle that started a
week ago). An asked row whose update has not come by ``due_by`` is overdue: escalated once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from automation.domain.deadlines import is_working_day, next_working_day
from automation.domain.recommendations import RecommendationRow

__all__ = [
    "Cycle",
    "CycleRules",
    "add_working_days",
    "digest_key",
    "is_due",
    "is_overdue",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cycle:
    """One round of progress requests."""

    id: str
    request_on: date
    due_by: date
    meeting: date | None = None

    @property
    def label(self) -> str:
        """How emails name the cycle."""
        if self.meeting is not None:
            return f"Police and Crime Panel meeting of {self.meeting.isoformat()}"
        return f"progress review of {self.request_on.strftime('%B %Y')}"


def add_working_days(day: date, count: int) -> date:
    """The working day ``count`` working days after (or, negative, before) ``day``."""
    step = timedelta(days=1 if count >= 0 else -1)
    left = abs(count)
    while left:
        day += step
        if is_working_day(day):
            left -= 1
    return day


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleRules:
    """When cycles start and how long owners have (from ``settings.recommendations``)."""

    every_months: int = 3
    meetings: tuple[date, ...] = ()
    days_before: int = 15
    response_days: int = 10

    def _regular(self, year: int) -> list[Cycle]:
        out = []
        for month in range(1, 13, self.every_months):
            start = next_working_day(date(year, month, 1))
            due = add_working_days(start, self.response_days)
            out.append(Cycle(id=f"{year}-{month:02d}", request_on=start, due_by=due))
        return out

    def cycles(self, years: Sequence[int]) -> list[Cycle]:
        """Every cycle of these years (and every Panel meeting's)."""
        cycles = [c for year in years for c in self._regular(year)]
        for meeting in self.meetings:
            start = add_working_days(meeting, -self.days_before)
            due = min(add_working_days(start, self.response_days), add_working_days(meeting, -1))
            cycles.append(
                Cycle(
                    id=f"panel-{meeting.isoformat()}", request_on=start, due_by=due, meeting=meeting
                )
            )
        return cycles

    def current(self, today: date) -> Cycle:
        """The latest cycle whose request day is on or before ``today``."""
        started = [c for c in self.cycles((today.year - 1, today.year)) if c.request_on <= today]
        # The later start wins; on the same day a Panel cycle wins over a regular one.
        return max(started, key=lambda c: (c.request_on, c.meeting is not None))

    def next(self, today: date) -> Cycle:
        """The first cycle whose request day is after ``today`` (a new row's first update)."""
        coming = [c for c in self.cycles((today.year, today.year + 1)) if c.request_on > today]
        return min(coming, key=lambda c: (c.request_on, c.meeting is None))


def requested_on(row: RecommendationRow, cycle: Cycle) -> date | None:
    """When the row was asked for an update in ``cycle`` (None: not asked)."""
    asked = row.progress.get("requested")
    value = asked.get(cycle.id) if isinstance(asked, dict) else None
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def escalated(row: RecommendationRow, cycle: Cycle) -> bool:
    """Whether the row's missing update was already escalated in ``cycle``."""
    done = row.progress.get("escalated")
    return isinstance(done, dict) and cycle.id in done


def is_due(row: RecommendationRow, cycle: Cycle, *, response_days: int) -> bool:
    """Whether the row's owner is to be asked for an update in ``cycle``."""
    if not row.is_open or requested_on(row, cycle) is not None:
        return False
    if row.next_update_due is not None and row.next_update_due > cycle.due_by:
        return False
    fresh_from = add_working_days(cycle.request_on, -response_days)
    return row.last_update_on is None or row.last_update_on < fresh_from


def is_overdue(row: RecommendationRow, cycle: Cycle, *, today: date) -> bool:
    """Whether the row was asked in ``cycle``, ``due_by`` has passed and no update came."""
    asked = requested_on(row, cycle)
    if asked is None or not row.is_open or today <= cycle.due_by or escalated(row, cycle):
        return False
    return row.last_update_on is None or row.last_update_on < asked


def digest_key(kind: str, cycle: Cycle, recipient: str, rows: Iterable[RecommendationRow]) -> str:
    """The idempotency key of one digest: names the kind, cycle, recipient and rows."""
    who = hashlib.sha256(recipient.casefold().encode("utf-8")).hexdigest()[:12]
    ids = ",".join(sorted(row.item_id for row in rows))
    what = hashlib.sha256(ids.encode("utf-8")).hexdigest()[:12]
    return f"s55-{kind}-{cycle.id}-{who}-{what}"
