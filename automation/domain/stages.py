"""The stages of a response (Planner tasks) and their due dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal, get_args

from automation.domain.deadlines import is_working_day, next_working_day, previous_working_day

StageRole = Literal["chief_constable_comments", "draft", "approval", "publish", "portal", ""]
"""What a stage means to the workflow ("" for a plain task); settings validate against it."""
STAGE_ROLES: frozenset[str] = frozenset(get_args(StageRole))


class Anchor(StrEnum):
    """The date a stage's offset counts from."""

    PUBLICATION = "publication"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True, kw_only=True)
class StageSpec:
    """One stage of the work, as configured.

    Attributes:
        key: stable identifier of the stage (used in task bookkeeping).
        title: task title shown in Planner.
        bucket: Planner bucket name.
        assignee: user principal name; "" means the configured response owner, "pcc",
            "manager" and "website" the people settings name.
        anchor: whether ``offset_days`` counts from publication or from the deadline.
        offset_days: days after (positive) or before (negative) the anchor.
        role: what the stage means to the workflow: "chief_constable_comments", "draft",
            "approval", "publish", "portal" (the HMICFRS portal submission), or "" for a
            plain task.
    """

    key: str
    title: str
    bucket: str
    assignee: str
    anchor: Anchor
    offset_days: int
    role: str = ""

    def __post_init__(self) -> None:
        # Settings may pass plain strings; keep the enum so comparisons are exact.
        object.__setattr__(self, "anchor", Anchor(self.anchor))
        if self.role not in STAGE_ROLES:
            raise ValueError(f"stage {self.key!r}: unknown role {self.role!r}")
        if not self.key.strip():
            raise ValueError("a stage needs a key")


DEFAULT_STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        key="cc_comments",
        title="Invite the Chief Constable's comments",
        bucket="Chief Constable comments",
        assignee="",
        anchor=Anchor.PUBLICATION,
        offset_days=7,
        role="chief_constable_comments",
    ),
    StageSpec(
        key="draft",
        title="Draft the response",
        bucket="Drafting",
        assignee="",
        anchor=Anchor.DEADLINE,
        offset_days=-21,
        role="draft",
    ),
    StageSpec(
        key="approval",
        title="PCC approval",
        bucket="PCC approval",
        assignee="pcc",
        anchor=Anchor.DEADLINE,
        offset_days=-10,
        role="approval",
    ),
    StageSpec(
        key="publish",
        title="Publish the response on the website",
        bucket="Publish and submit",
        # The website team member (people.website), else the response owner.
        assignee="website",
        anchor=Anchor.DEADLINE,
        offset_days=-1,
        role="publish",
    ),
    StageSpec(
        key="portal",
        title="Submit the response onto the HMICFRS portal",
        bucket="Publish and submit",
        assignee="",
        anchor=Anchor.DEADLINE,
        offset_days=-1,
        role="portal",
    ),
)
"""The stages the service plans when settings name none (`Settings.stages` is built from these).

Keys and titles must not change: a task is found again after a crash by its title, and the
tracker records tasks by key.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedStage:
    """A stage with its due date for one publication."""

    spec: StageSpec
    due: date


LATE_LEAD_WORKING_DAYS = 2
"""A stage already past when its report is filed is due at the earliest this many working
days after the filing day, so nothing is overdue the morning after intake."""


def plan_stages(
    published_on: date,
    deadline: date,
    specs: Sequence[StageSpec],
    *,
    today: date | None = None,
) -> list[PlannedStage]:
    """Due dates for each stage, in the order given.

    A stage is due on its anchor date plus its offset, moved back to a working day. It is
    never before the publication date nor after the deadline. When ``today`` is given (a
    publication filed late, e.g. by backfill) the stages already past, or due within
    `LATE_LEAD_WORKING_DAYS` working days, are rebased (see `_rebase_late`).
    """
    if deadline < published_on:
        raise ValueError(f"deadline {deadline} is before publication {published_on}")
    dues = [
        _clamp(
            (published_on if spec.anchor == Anchor.PUBLICATION else deadline)
            + timedelta(days=spec.offset_days),
            published_on,
            deadline,
        )
        for spec in specs
    ]
    if today is not None and today <= deadline:
        dues = _rebase_late(dues, today=today, deadline=deadline)
    return [PlannedStage(spec=spec, due=due) for spec, due in zip(specs, dues, strict=True)]


def _rebase_late(dues: list[date], *, today: date, deadline: date) -> list[date]:
    """Stages due too soon after filing, spread in order over the working days still left.

    The late stages (due before the earliest sensible day, `LATE_LEAD_WORKING_DAYS` after
    ``today``) keep their order and are spread evenly from that day up to the first
    stage after them that is not late (or the last working day of the period), so a
    report filed a week before its deadline gets one stage a day or so, not four on the
    morning after intake. With fewer working days left than late stages the lead shrinks
    (down to the filing day itself); a due date never passes the deadline.
    """
    last = previous_working_day(deadline)
    if last < today:
        last = deadline  # no working day left in the period: the deadline day itself
    earliest = min(shift_working_days(today, LATE_LEAD_WORKING_DAYS), last)
    late = [i for i, due in enumerate(dues) if due < earliest]
    if not late:
        return dues
    following = [due for i, due in enumerate(dues) if i > late[-1] and i not in late]
    limit = min([*following, last])

    def start(lead: int) -> date:
        return min(shift_working_days(today, lead) if lead else next_working_day(today), limit)

    # Little time left: start sooner, so that each late stage can have a day of its own.
    lead = LATE_LEAD_WORKING_DAYS
    while lead > 0 and len(working_days(start(lead), limit)) < len(late):
        lead -= 1
    window = working_days(start(lead), limit) or [limit]
    rebased = list(dues)
    for n, index in enumerate(late):
        rebased[index] = window[n * len(window) // len(late)]
    return rebased


def working_days(first: date, last: date) -> list[date]:
    """The working days from ``first`` to ``last`` inclusive (England and Wales)."""
    found = []
    day = first
    while day <= last:
        if is_working_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def shift_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (before it when ``count`` is negative).

    ``count`` 0 gives ``day`` itself, working day or not.
    """
    step = timedelta(days=1 if count > 0 else -1)
    left = abs(count)
    while left:
        day += step
        if is_working_day(day):
            left -= 1
    return day


def _clamp(wanted: date, first: date, last: date) -> date:
    """The working day on or before ``wanted`` within [first, last], falling back sensibly."""
    due = previous_working_day(min(wanted, last))
    if due >= first:
        return due
    # Earlier than publication: take the first working day of the period, else publication.
    start = next_working_day(first)
    return start if start <= last else first


def should_file(deadline: date, today: date) -> bool:
    """First-run rule: file a publication only if its deadline has not passed on ``today``."""
    return today <= deadline
