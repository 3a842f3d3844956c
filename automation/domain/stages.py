"""The stages of a response (Planner tasks) and their due dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal, get_args

from automation.domain.deadlines import next_working_day, previous_working_day

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
        title="Publish on the website and submit to HMICFRS",
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
    publication filed late, e.g. by backfill) a due date already past is moved to the next
    working day from ``today``, still never after the deadline.
    """
    if deadline < published_on:
        raise ValueError(f"deadline {deadline} is before publication {published_on}")
    planned: list[PlannedStage] = []
    for spec in specs:
        anchor = published_on if spec.anchor == Anchor.PUBLICATION else deadline
        due = _clamp(anchor + timedelta(days=spec.offset_days), published_on, deadline)
        if today is not None and due < today <= deadline:
            catch_up = next_working_day(today)
            due = catch_up if catch_up <= deadline else today
        planned.append(PlannedStage(spec=spec, due=due))
    return planned


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
