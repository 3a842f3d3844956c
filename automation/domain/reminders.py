"""Which reminder emails are due on a given day, and how they are grouped into digests.

Every reminder is a point of a *series*: the reminders before one stage's due date, the
overdue notices of one stage, the reminders before the statutory deadline, and the overdue
notices of the response. A point has a stable ``reminder_id`` built from the series, its due
date and the point's distance from that date, so it is sent at most once (the tracker item
records the ids already sent) and a changed due date starts a new series.

Catch-up after downtime: on ``today`` only the latest point of each series dated on or before
``today`` is a candidate; earlier points it supersedes are skipped for good. A series of
reminders *before* a date closes once that date has passed, because the overdue series then
supersedes it (a "due in 1 day" reminder sent late would be wrong and would repeat the
overdue notice sent the same day).

Reminder ids look like::

    stage:draft:2023-08-23:-3             3 days before the draft stage is due
    stage:draft:2023-08-23:+0             on the day it is due
    overdue:stage:draft:2023-08-23:+1     the day after, if the stage is not completed
    deadline:2023-09-13:-7                7 days before the statutory deadline
    overdue:deadline:2023-09-13:+4        4 days after it, if not yet circulated
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType

from automation.domain.workflow import REMINDERS_STOP, is_declined, status_in

DEADLINE_WHAT = "Section 55 response deadline"
"""The ``what`` of deadline reminders and deadline overdue notices."""


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
    """

    key: str
    title: str
    assignee: str
    due: date | None
    completed: bool


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
            decision, or the service's) means no reminder of any kind, whatever the Status.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderPolicy:
    """When reminders are sent, and who is told about overdue work.

    Attributes:
        stage_offsets: days before a stage's due date (0 = on the day).
        deadline_offsets: days before the statutory deadline (0 = on the day).
        overdue_every_days: overdue notices start the day after the due date and repeat
            every this many days.
        manager: email of the manager copied on deadline reminders and overdue notices;
            "" for nobody.
    """

    stage_offsets: tuple[int, ...] = (7, 3, 1, 0)
    deadline_offsets: tuple[int, ...] = (14, 7, 3, 1)
    overdue_every_days: int = 3
    manager: str = ""

    def __post_init__(self) -> None:
        for name, offsets in (
            ("stage_offsets", self.stage_offsets),
            ("deadline_offsets", self.deadline_offsets),
        ):
            negative = [offset for offset in offsets if offset < 0]
            if negative:
                raise ValueError(
                    f"reminder policy {name}: offsets are days before the due date and must "
                    f"be 0 or more, got {negative}"
                )
            object.__setattr__(self, name, tuple(sorted(set(offsets), reverse=True)))
        if self.overdue_every_days < 1:
            raise ValueError(
                "reminder policy overdue_every_days must be at least 1, "
                f"got {self.overdue_every_days}"
            )


class ReminderKind(StrEnum):
    """What a reminder is about."""

    STAGE = "stage"
    DEADLINE = "deadline"
    STAGE_OVERDUE = "stage_overdue"
    DEADLINE_OVERDUE = "deadline_overdue"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """One reminder due today.

    Attributes:
        reminder_id: stable id, unique within its item (see the module docstring).
        kind: what the reminder is about.
        item_key: publication key of the tracker item.
        marker: the item's short reference.
        title: inspection title.
        stage_key: the stage's key; "" for deadline kinds.
        what: the stage title, or `DEADLINE_WHAT`.
        due: the stage's due date or the statutory deadline.
        days: days left from today until ``due``; negative when overdue.
        recipients: lower-cased emails, without duplicates; the manager is included for
            deadline and overdue kinds. Empty when nobody can be told (the caller logs it).
        links: the item's links, passed through.
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


def due_reminders(
    items: Sequence[ReminderItem], *, today: date, policy: ReminderPolicy
) -> list[Reminder]:
    """The reminders to send on ``today``, catching up after downtime.

    Items with a finished status (`REMINDERS_STOP`: "Approved" is not among them, an
    approved response not yet circulated is still open) or Response required = No get
    none; completed stages and stages without a due date
    get no stage reminders or overdue notices; an item without a deadline gets no deadline
    reminders. A point whose id is in the item's ``sent_ids`` is not sent again.

    Returns:
        The reminders, sorted by due date, marker, item key and reminder id.
    """
    found: list[Reminder] = []
    for item in items:
        if status_in(item.status, REMINDERS_STOP) or is_declined(item.response_required):
            continue
        found.extend(_item_reminders(item, today=today, policy=policy))
    found.sort(key=lambda r: (r.due, r.marker, r.item_key, r.reminder_id))
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
        Digest(
            recipient=recipient,
            day=today,
            reminders=tuple(
                sorted(
                    chosen.values(),
                    key=lambda r: (r.due, r.marker, r.item_key, r.reminder_id),
                )
            ),
        )
        for recipient, chosen in sorted(by_recipient.items())
    ]


def _item_reminders(item: ReminderItem, *, today: date, policy: ReminderPolicy) -> list[Reminder]:
    """The unsent latest points of every series of one open item."""
    found: list[Reminder] = []
    seen: set[str] = set()

    def add(
        kind: ReminderKind,
        reminder_id: str | None,
        *,
        stage_key: str,
        what: str,
        due: date,
        people: Iterable[str],
    ) -> None:
        if reminder_id is None or reminder_id in item.sent_ids or reminder_id in seen:
            return
        seen.add(reminder_id)
        found.append(
            Reminder(
                reminder_id=reminder_id,
                kind=kind,
                item_key=item.key,
                marker=item.marker,
                title=item.title,
                stage_key=stage_key,
                what=what,
                due=due,
                days=(due - today).days,
                recipients=_recipients(people),
                links=item.links,
            )
        )

    if item.deadline is not None:
        deadline = item.deadline
        people = (item.owner, policy.manager)
        prefix = f"deadline:{deadline.isoformat()}"
        add(
            ReminderKind.DEADLINE,
            _before_point(prefix, deadline, policy.deadline_offsets, today),
            stage_key="",
            what=DEADLINE_WHAT,
            due=deadline,
            people=people,
        )
        add(
            ReminderKind.DEADLINE_OVERDUE,
            _overdue_point(f"overdue:{prefix}", deadline, policy.overdue_every_days, today),
            stage_key="",
            what=DEADLINE_WHAT,
            due=deadline,
            people=people,
        )
    for stage in item.stages:
        if stage.completed or stage.due is None:
            continue
        prefix = f"stage:{stage.key}:{stage.due.isoformat()}"
        add(
            ReminderKind.STAGE,
            _before_point(prefix, stage.due, policy.stage_offsets, today),
            stage_key=stage.key,
            what=stage.title,
            due=stage.due,
            people=(stage.assignee,),
        )
        add(
            ReminderKind.STAGE_OVERDUE,
            _overdue_point(f"overdue:{prefix}", stage.due, policy.overdue_every_days, today),
            stage_key=stage.key,
            what=stage.title,
            due=stage.due,
            people=(stage.assignee, policy.manager),
        )
    return found


def _before_point(prefix: str, due: date, offsets: Sequence[int], today: date) -> str | None:
    """Id of the latest point before ``due`` dated on or before ``today``, if any.

    None once ``due`` has passed: the overdue series supersedes this one.
    """
    if today > due:
        return None
    passed = [offset for offset in offsets if due - timedelta(days=offset) <= today]
    if not passed:
        return None
    return f"{prefix}:{-min(passed):+d}"


def _overdue_point(prefix: str, due: date, every: int, today: date) -> str | None:
    """Id of the latest overdue point (due+1, due+1+every, ...) on or before ``today``."""
    late = (today - due).days
    if late < 1:
        return None
    after = 1 + (late - 1) // every * every
    return f"{prefix}:{after:+d}"


def _recipients(people: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, stripped, non-empty emails without duplicates, in first-seen order."""
    return tuple(dict.fromkeys(p.strip().lower() for p in people if p.strip()))
