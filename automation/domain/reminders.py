"""Which reminders are due on a given day, and how they are grouped into digests.

The policy (README, "Reminders"), in working days of England and Wales:

* nothing is sent on a weekend or bank holiday, and each person gets at most one digest a
  day (every reminder of the day for one person is in it);
* a stage (Planner task) is reminded to its assignee ``notice_working_days`` before it is
  due and on the day it is due (the last working day on or before its due date);
* an overdue stage is reminded to its assignee on the first working day after its due
  date, then weekly (the week's reminder day, `ReminderPolicy.weekly_on`) while the
  statutory deadline has not passed; the manager is told once (an escalation);
* a stage that cannot start yet gets nothing: approval waits for the draft stage to be
  completed, publication for the approval;
* an undecided item (Response required = To be decided) gets "Decide whether to respond"
  reminders for its triage task, and no deadline reminders;
* on the statutory deadline (the last working day on or before it) the response owner, the
  PCC and the manager are told once; after it the owner is told weekly, and the stage
  reminders stop (the deadline line supersedes them);
* the manager gets a weekly summary of every open response on the week's reminder day (or
  the first working day of the week the service runs after it), in the same digest as
  that day's escalations.

Every reminder is a point of a *series* with a stable ``reminder_id``, so it is sent at
most once (the tracker item records the ids already sent) and a changed due date starts a
new series. Catch-up after downtime: only the latest point of a series dated on or before
``today`` is a candidate; the points it supersedes are skipped for good (escalations and
the deadline notice are never superseded: they stay due until sent).

Reminder ids look like::

    stage:draft:2023-08-23:-3                 3 working days before the draft is due
    stage:draft:2023-08-23:+0                 on the day it is due
    overdue:stage:draft:2023-08-23:+1         the first working day after, to the assignee
    overdue:stage:draft:2023-08-23:w2023-08-28   the weekly reminder of that week
    escalate:stage:draft:2023-08-23           once, to the manager
    deadline:2023-09-13                       once, to the owner, the PCC and the manager
    overdue:deadline:2023-09-13:w2023-09-18   weekly after the deadline, to the owner
    summary:2023-08-28:stage:draft:2023-08-23 a row of the manager's weekly summary
    summary:2023-08-28:deadline:2023-09-13
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType

from automation.domain.deadlines import is_working_day, next_working_day, previous_working_day
from automation.domain.relevance import Decision
from automation.domain.stages import shift_working_days
from automation.domain.workflow import REMINDERS_STOP, is_declined, status_in

DEADLINE_WHAT = "Statutory deadline: publish the response"
"""The ``what`` of deadline reminders, deadline overdue notices and summary rows."""
TRIAGE_WHAT = "Decide whether to respond"
"""The ``what`` of an undecided item's triage task reminders."""
TRIAGE_ROLE = "triage"
"""`StageState.role` of the triage task of an undecided item."""
WAITS_FOR: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "approval": frozenset({"draft"}),
        "publish": frozenset({"draft", "approval"}),
        "portal": frozenset({"draft", "approval"}),
    }
)
"""Stage roles that cannot start until every stage of the named roles is completed: the PCC
approves a written draft; only an approved response is published or submitted onto the
HMICFRS portal (the two side by side)."""


def _frozen_links(links: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(links))


@dataclass(frozen=True, slots=True, kw_only=True)
class StageState:
    """One stage (Planner task) of a response as it stands today.

    Attributes:
        key: stable stage key (e.g. "draft"), part of the reminder ids.
        title: what the stage asks for (e.g. "Draft the response").
        assignee: email of the person the task is assigned to; "" when nobody is.
        due: the task's due date, or None when it has none.
        completed: True once the task is completed.
        role: the stage's workflow role ("draft", "approval", "publish", ...; `TRIAGE_ROLE`
            for the triage task of an undecided item); decides what cannot start yet.
    """

    key: str
    title: str
    assignee: str
    due: date | None
    completed: bool
    role: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderItem:
    """One tracker item, with what reminders need to know about it.

    Attributes:
        key: the publication key of the tracker item.
        marker: short human reference (e.g. "S55-12").
        title: inspection title.
        status: the tracker Status (a `Status` value, or a choice staff added by hand).
        owner: email of the response owner.
        deadline: the statutory response deadline, or None when unknown.
        stages: the stages of the work.
        sent_ids: reminder ids the tracker item records as already sent.
        links: urls (tracker item, draft, report) passed through to each reminder.
        response_required: the item's Response required choice; "No" (a person's
            decision, or the service's) means no reminder of any kind, whatever the Status;
            "To be decided" means only the triage task is reminded.
    """

    key: str
    marker: str
    title: str
    status: str
    owner: str
    deadline: date | None
    stages: tuple[StageState, ...]
    sent_ids: frozenset[str]
    links: Mapping[str, str] = field(default_factory=dict, compare=False)
    response_required: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", _frozen_links(self.links))

    @property
    def undecided(self) -> bool:
        """Whether a person has still to decide if a response is needed."""
        return self.response_required.strip().casefold() == Decision.TBD.value.casefold()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderPolicy:
    """When reminders are sent, and who is told about overdue work.

    Attributes:
        notice_working_days: a stage is reminded this many working days before it is due
            (0: only on the day).
        weekly_on: the weekday (0 = Monday .. 4 = Friday) of the weekly reminders and of
            the manager's summary; a bank holiday moves them to the next working day of
            that week.
        manager: email of the manager (escalations, the deadline notice, the weekly
            summary); "" for nobody.
        pcc: email of the PCC (the deadline notice); "" for nobody.
        weekly_summary: whether the manager gets the weekly summary.
    """

    notice_working_days: int = 3
    weekly_on: int = 0
    manager: str = ""
    pcc: str = ""
    weekly_summary: bool = True

    def __post_init__(self) -> None:
        if self.notice_working_days < 0:
            raise ValueError(
                "reminder policy notice_working_days must be 0 or more, "
                f"got {self.notice_working_days}"
            )
        if not 0 <= self.weekly_on <= 4:
            raise ValueError(
                f"reminder policy weekly_on must be a weekday 0-4, got {self.weekly_on}"
            )


class ReminderKind(StrEnum):
    """What a reminder is about."""

    STAGE = "stage"
    STAGE_OVERDUE = "stage_overdue"
    ESCALATION = "escalation"
    DEADLINE = "deadline"
    DEADLINE_OVERDUE = "deadline_overdue"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """One reminder due today (a row of a digest).

    Attributes:
        reminder_id: stable id, unique within its item (see the module docstring).
        kind: what the reminder is about.
        item_key: publication key of the tracker item.
        marker: the item's short reference.
        title: inspection title.
        stage_key: the stage's key; "" for deadline rows.
        what: the stage title, `TRIAGE_WHAT` or `DEADLINE_WHAT`.
        due: the stage's due date or the statutory deadline.
        days: days left from today until ``due``; negative when overdue.
        recipients: lower-cased emails, without duplicates. Empty when nobody can be told
            (the caller logs it).
        links: the item's links, passed through.
        assignee: whom the stage is with ("" for deadline rows: the owner).
        owner: the response owner of the item.
        deadline: the item's statutory deadline (None when unknown or undecided).
    """

    reminder_id: str
    kind: ReminderKind
    item_key: str
    marker: str
    title: str
    stage_key: str
    what: str
    due: date
    days: int
    recipients: tuple[str, ...]
    links: Mapping[str, str] = field(default_factory=dict, compare=False)
    assignee: str = ""
    owner: str = ""
    deadline: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", _frozen_links(self.links))


@dataclass(frozen=True, slots=True, kw_only=True)
class Digest:
    """The reminders one person gets in one email on one day."""

    recipient: str
    day: date
    reminders: tuple[Reminder, ...]

    @property
    def digest_id(self) -> str:
        """Stable id of this digest (one per recipient per day)."""
        return f"digest:{self.recipient}:{self.day.isoformat()}"

    @property
    def weekly_summary(self) -> bool:
        """Whether this digest carries the manager's weekly summary."""
        return any(r.kind is ReminderKind.SUMMARY for r in self.reminders)


def weekly_day(day: date, weekday: int) -> date | None:
    """The week's reminder day of ``day``'s week: ``weekday``, or the next working day after
    it in the same week; None when the rest of that week has no working day."""
    wanted = day - timedelta(days=day.weekday() - weekday)
    found = next_working_day(wanted)
    return found if found.isocalendar()[:2] == day.isocalendar()[:2] else None


def latest_weekly_day(today: date, weekday: int) -> date | None:
    """The latest week's reminder day on or before ``today`` (this week's or last week's)."""
    this_week = weekly_day(today, weekday)
    if this_week is not None and this_week <= today:
        return this_week
    return weekly_day(today - timedelta(days=7), weekday)


def due_reminders(
    items: Sequence[ReminderItem], *, today: date, policy: ReminderPolicy
) -> list[Reminder]:
    """The reminders to send on ``today``, catching up after downtime.

    None on a day that is not a working day. Items with a finished status
    (`REMINDERS_STOP`) or Response required = No get none; completed stages, stages
    without a due date and stages that cannot start yet get no reminders; an item without
    a deadline gets no deadline reminders. A point whose id is in the item's ``sent_ids``
    is not sent again.

    Returns:
        The reminders, sorted by due date, marker, item key and reminder id.
    """
    if not is_working_day(today):
        return []
    found: list[Reminder] = []
    summary_week = _summary_week(items, today=today, policy=policy)
    for item in items:
        if status_in(item.status, REMINDERS_STOP) or is_declined(item.response_required):
            continue
        found.extend(_Series(item, today=today, policy=policy).reminders(summary_week))
    found.sort(key=_order)
    return found


def digests(reminders: Sequence[Reminder], *, today: date) -> list[Digest]:
    """Group reminders into one digest per recipient (emails compared case-insensitively).

    Reminders without recipients are left out. Each digest's reminders are sorted by due
    date then marker; the digests are sorted by recipient.
    """
    by_recipient: defaultdict[str, dict[tuple[str, str], Reminder]] = defaultdict(dict)
    for reminder in reminders:
        for recipient in _recipients(reminder.recipients):
            # Keyed by item and id so one reminder never appears twice in a digest.
            by_recipient[recipient][(reminder.item_key, reminder.reminder_id)] = reminder
    return [
        Digest(recipient=recipient, day=today, reminders=tuple(sorted(chosen.values(), key=_order)))
        for recipient, chosen in sorted(by_recipient.items())
    ]


def _order(reminder: Reminder) -> tuple[date, str, str, str]:
    return (reminder.due, reminder.marker, reminder.item_key, reminder.reminder_id)


def _summary_week(
    items: Sequence[ReminderItem], *, today: date, policy: ReminderPolicy
) -> date | None:
    """The Monday of the week whose summary is due today, or None.

    Due from the week's reminder day to the end of that week, until one summary of that
    week has been sent (a report filed later in the week waits for next week's).
    """
    if not (policy.weekly_summary and policy.manager):
        return None
    day = weekly_day(today, policy.weekly_on)
    if day is None or today < day:
        return None
    monday = today - timedelta(days=today.weekday())
    prefix = f"summary:{monday.isoformat()}:"
    if any(sent.startswith(prefix) for item in items for sent in item.sent_ids):
        return None
    return monday


class _Series:
    """The points of every series of one open item on one day."""

    def __init__(self, item: ReminderItem, *, today: date, policy: ReminderPolicy) -> None:
        self.item = item
        self.today = today
        self.policy = policy
        self.found: dict[str, Reminder] = {}

    def reminders(self, summary_week: date | None) -> list[Reminder]:
        """The unsent latest points of every series of the item."""
        item, today = self.item, self.today
        deadline = None if item.undecided else item.deadline
        passed = deadline is not None and today > deadline
        open_stages = [] if passed else self.open_stages()
        for stage in open_stages:
            self.stage(stage)
        if deadline is not None:
            self.deadline(deadline)
        if summary_week is not None:
            week = f"summary:{summary_week.isoformat()}"
            for stage in open_stages:
                self.add(ReminderKind.SUMMARY, f"{week}:{self.stage_series(stage)}", stage)
            if deadline is not None and (passed or not open_stages):
                self.add(ReminderKind.SUMMARY, f"{week}:deadline:{deadline.isoformat()}", None)
        return list(self.found.values())

    def open_stages(self) -> list[StageState]:
        """Stages with a due date, not completed, that can start (each key once)."""
        stages = self.item.stages
        if self.item.undecided:
            stages = tuple(s for s in stages if s.role == TRIAGE_ROLE)
        else:
            stages = tuple(s for s in stages if s.role != TRIAGE_ROLE)
        unfinished = {s.role for s in stages if not s.completed}
        chosen: dict[str, StageState] = {}
        for stage in stages:
            if stage.completed or stage.due is None or stage.key in chosen:
                continue
            if unfinished & WAITS_FOR.get(stage.role, frozenset()):
                continue  # cannot start yet: nothing about it
            chosen[stage.key] = stage
        return list(chosen.values())

    @staticmethod
    def stage_series(stage: StageState) -> str:
        assert stage.due is not None  # open stages have one
        return f"stage:{stage.key}:{stage.due.isoformat()}"

    def stage(self, stage: StageState) -> None:
        """Before, on and after the stage's due date, and the manager's escalation."""
        assert stage.due is not None
        due, today = stage.due, self.today
        series = self.stage_series(stage)
        on_day = previous_working_day(due)
        if today <= due:
            points = [(on_day, f"{series}:+0")]
            if self.policy.notice_working_days:
                before = shift_working_days(on_day, -self.policy.notice_working_days)
                points.append((before, f"{series}:-{self.policy.notice_working_days}"))
            self.add(ReminderKind.STAGE, _latest(points, today), stage)
            return
        first = next_working_day(due + timedelta(days=1))
        weekly = latest_weekly_day(today, self.policy.weekly_on)
        points = [(first, f"overdue:{series}:+1")]
        if weekly is not None and weekly > first:
            points.append((weekly, f"overdue:{series}:w{weekly.isoformat()}"))
        self.add(ReminderKind.STAGE_OVERDUE, _latest(points, today), stage)
        self.add(ReminderKind.ESCALATION, f"escalate:{series}", stage)

    def deadline(self, deadline: date) -> None:
        """The deadline notice, then weekly reminders to the owner once it has passed."""
        today = self.today
        if today < previous_working_day(deadline):
            return
        self.add(ReminderKind.DEADLINE, f"deadline:{deadline.isoformat()}", None)
        weekly = latest_weekly_day(today, self.policy.weekly_on)
        if today > deadline and weekly is not None and weekly > deadline:
            self.add(
                ReminderKind.DEADLINE_OVERDUE,
                f"overdue:deadline:{deadline.isoformat()}:w{weekly.isoformat()}",
                None,
            )

    def add(self, kind: ReminderKind, reminder_id: str | None, stage: StageState | None) -> None:
        item, policy = self.item, self.policy
        if reminder_id is None or reminder_id in item.sent_ids or reminder_id in self.found:
            return
        people: Iterable[str]
        if kind in (ReminderKind.STAGE, ReminderKind.STAGE_OVERDUE):
            people = (stage.assignee if stage else "",)
        elif kind is ReminderKind.DEADLINE:
            people = (item.owner, policy.pcc, policy.manager)
        elif kind is ReminderKind.DEADLINE_OVERDUE:
            people = (item.owner,)
        else:  # escalations and summary rows
            people = (policy.manager,)
        if stage is None:
            assert item.deadline is not None  # deadline rows come only with a deadline
            what, due, stage_key, assignee = DEADLINE_WHAT, item.deadline, "", item.owner
        else:
            assert stage.due is not None
            what = TRIAGE_WHAT if stage.role == TRIAGE_ROLE else stage.title
            due, stage_key, assignee = stage.due, stage.key, stage.assignee
        self.found[reminder_id] = Reminder(
            reminder_id=reminder_id,
            kind=kind,
            item_key=item.key,
            marker=item.marker,
            title=item.title,
            stage_key=stage_key,
            what=what,
            due=due,
            days=(due - self.today).days,
            recipients=_recipients(people),
            links=item.links,
            assignee=assignee.strip().lower(),
            owner=item.owner.strip().lower(),
            deadline=None if item.undecided else item.deadline,
        )


def _latest(points: Sequence[tuple[date, str]], today: date) -> str | None:
    """Id of the latest point dated on or before ``today`` (the first listed on a tie)."""
    passed = [(day, -n, rid) for n, (day, rid) in enumerate(points) if day <= today]
    return max(passed)[2] if passed else None


def _recipients(people: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, stripped, non-empty emails without duplicates, in first-seen order."""
    return tuple(dict.fromkeys(p.strip().lower() for p in people if p.strip()))
