"""The reminder policy over the staff review's scenario (issue 12, staff review B1).

Two open responses filed on Tuesday 8 August 2023 (Norfolk PEEL, published 14 July, deadline
7 September; the vetting thematic, published 11 July, deadline 4 September) and the
super-complaint (published 1 August, deadline 25 September) still to be decided; every day
from 9 August to 30 September 2023 the reminders run and nobody does anything. Before the
policy, the officer got 40 digests in 53 days, on weekends and the bank holiday too.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from automation.domain.deadlines import DeadlineRule, is_working_day, response_deadline
from automation.domain.reminders import (
    TRIAGE_ROLE,
    TRIAGE_WHAT,
    Digest,
    ReminderItem,
    ReminderKind,
    ReminderPolicy,
    StageState,
    digests,
    due_reminders,
)
from automation.domain.stages import DEFAULT_STAGES, plan_stages
from automation.jobs.intake import TRIAGE_STAGE
from automation.settings import ReminderSettings

FILED = date(2023, 8, 8)
FIRST, LAST = date(2023, 8, 9), date(2023, 9, 30)
OFFICER, PCC, MANAGER = "policy.officer@x", "pcc@x", "chief.executive@x"
POLICY = ReminderPolicy(manager=MANAGER, pcc=PCC)
MAX_DIGESTS = 15


def response(marker: str, published: date) -> ReminderItem:
    deadline = response_deadline(published, DeadlineRule.STATUTORY)
    planned = plan_stages(published, deadline, DEFAULT_STAGES, today=FILED)
    return ReminderItem(
        key=marker,
        marker=marker,
        title=marker,
        status="Drafting",
        owner=OFFICER,
        deadline=deadline,
        stages=tuple(
            StageState(
                key=p.spec.key,
                title=p.spec.title,
                assignee=PCC if p.spec.assignee == "pcc" else OFFICER,
                due=p.due,
                completed=False,
                role=p.spec.role,
            )
            for p in planned
        ),
        sent_ids=frozenset(),
        response_required="Yes",
    )


def undecided(marker: str, published: date) -> ReminderItem:
    deadline = response_deadline(published, DeadlineRule.STATUTORY)
    (triage,) = plan_stages(published, deadline, [TRIAGE_STAGE], today=FILED)
    return ReminderItem(
        key=marker,
        marker=marker,
        title=marker,
        status="Triage",
        owner=OFFICER,
        deadline=deadline,
        stages=(
            StageState(
                key=TRIAGE_STAGE.key,
                title=TRIAGE_STAGE.title,
                assignee=OFFICER,
                due=triage.due,
                completed=False,
                role=TRIAGE_ROLE,
            ),
        ),
        sent_ids=frozenset(),
        response_required="To be decided",
    )


SCENARIO = (
    response("S55-5", date(2023, 7, 14)),  # Norfolk PEEL
    response("S55-6", date(2023, 7, 11)),  # vetting thematic
    undecided("S55-7", date(2023, 8, 1)),  # the super-complaint
)


def run_scenario() -> list[Digest]:
    """Every day's digests, recording what was sent as the tracker would."""
    sent: dict[str, set[str]] = {item.key: set() for item in SCENARIO}
    out: list[Digest] = []
    day = FIRST
    while day <= LAST:
        items = [
            ReminderItem(
                key=i.key,
                marker=i.marker,
                title=i.title,
                status=i.status,
                owner=i.owner,
                deadline=i.deadline,
                stages=i.stages,
                sent_ids=frozenset(sent[i.key]),
                response_required=i.response_required,
            )
            for i in SCENARIO
        ]
        due = due_reminders(items, today=day, policy=POLICY)
        out.extend(digests(due, today=day))
        for reminder in due:
            sent[reminder.item_key].add(reminder.reminder_id)
        day += timedelta(days=1)
    return out


def test_the_late_stages_are_rebased_from_the_filing_day() -> None:
    dues = {(i.marker, s.key): s.due for i in SCENARIO for s in i.stages}
    # The Chief Constable stages (due 21 and 18 July) and the triage (due on the filing day)
    # are due two working days after filing, not on it: nothing is overdue on 9 August.
    assert dues[("S55-5", "cc_comments")] == date(2023, 8, 10)
    assert dues[("S55-6", "cc_comments")] == date(2023, 8, 10)
    assert dues[("S55-7", "triage")] == date(2023, 8, 10)
    assert dues[("S55-5", "draft")] == date(2023, 8, 17)
    assert dues[("S55-6", "draft")] == date(2023, 8, 14)
    assert dues[("S55-5", "approval")] == date(2023, 8, 25)  # 28 Aug is a bank holiday


def test_no_person_gets_more_than_15_digests_and_none_on_a_day_off() -> None:
    sent = run_scenario()
    per_person = Counter(d.recipient for d in sent)
    assert per_person == {OFFICER: 14, MANAGER: 12, PCC: 2}
    assert max(per_person.values()) <= MAX_DIGESTS
    assert all(is_working_day(d.day) for d in sent)
    assert date(2023, 8, 28) not in {d.day for d in sent}  # the Summer bank holiday
    # One digest per person per day.
    assert len({(d.recipient, d.day) for d in sent}) == len(sent)


def test_the_morning_after_intake_nothing_is_overdue() -> None:
    first = [d for d in run_scenario() if d.day == FIRST]
    assert first
    assert all(r.days >= 0 for d in first for r in d.reminders)


def test_the_pcc_hears_only_at_the_statutory_deadlines() -> None:
    pcc = [d for d in run_scenario() if d.recipient == PCC]
    assert [(d.day, [r.reminder_id for r in d.reminders]) for d in pcc] == [
        (date(2023, 9, 4), ["deadline:2023-09-04"]),
        (date(2023, 9, 7), ["deadline:2023-09-07"]),
    ]


def test_the_undecided_item_asks_for_a_decision_not_a_response() -> None:
    rows = [r for d in run_scenario() for r in d.reminders if r.item_key == "S55-7"]
    assert rows
    assert {r.what for r in rows} == {TRIAGE_WHAT}
    assert {r.due for r in rows} == {date(2023, 8, 10)}


def test_the_manager_gets_a_weekly_summary_and_each_escalation_once() -> None:
    manager = [d for d in run_scenario() if d.recipient == MANAGER]
    summaries = [d.day for d in manager if d.weekly_summary]
    assert summaries == [
        date(2023, 8, 9),  # the week the service started
        date(2023, 8, 14),
        date(2023, 8, 21),
        date(2023, 8, 29),  # Tuesday: Monday is the bank holiday
        date(2023, 9, 4),
        date(2023, 9, 11),
        date(2023, 9, 18),
        date(2023, 9, 25),
    ]
    escalations = [
        (r.item_key, r.reminder_id)
        for d in manager
        for r in d.reminders
        if r.kind is ReminderKind.ESCALATION
    ]
    assert len(escalations) == len(set(escalations)) == 5  # 2 x CC, 2 x draft, 1 x triage
    # Nothing about approval or publication: the drafts are never completed.
    assert not [r for d in run_scenario() for r in d.reminders if r.stage_key in ("approval",)]


def test_overdue_work_is_reminded_weekly_and_stops_at_the_deadline() -> None:
    officer = [d for d in run_scenario() if d.recipient == OFFICER]
    cc_rows = [d.day for d in officer for r in d.reminders if r.item_key == "S55-6" and r.stage_key]
    # After the vetting deadline (Monday 4 September) only the deadline line is left.
    assert max(cc_rows) == date(2023, 9, 4)
    after = [r.reminder_id for d in officer if d.day > date(2023, 9, 7) for r in d.reminders]
    assert sorted(after) == sorted(
        [
            *(f"overdue:deadline:2023-09-04:w2023-09-{n}" for n in (11, 18, 25)),
            *(f"overdue:deadline:2023-09-07:w2023-09-{n}" for n in (11, 18, 25)),
            *(f"overdue:stage:triage:2023-08-10:w2023-09-{n}" for n in (11, 18, 25)),
        ]
    )


def test_reminder_settings_and_the_replaced_keys() -> None:
    settings = ReminderSettings(notice_working_days=2, weekly_on="wednesday")
    assert settings.weekday == 2
    assert ReminderSettings().weekday == 0
    assert ReminderSettings().weekly_summary
    with pytest.raises(ValidationError, match="overdue_every_days is no longer used"):
        ReminderSettings.model_validate({"overdue_every_days": 3})
    with pytest.raises(ValidationError, match="weekly_on"):
        ReminderSettings.model_validate({"weekly_on": "saturday"})
