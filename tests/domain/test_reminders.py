"""The reminder policy: which reminders are due on a day, catch-up, and digests.

The expected rows are worked out by hand from the policy (README, "Reminders") for the seed
(published Thursday 20 July 2023, statutory deadline Wednesday 13 September) with the
default stages and nothing completed: the Chief Constable stage due Thu 27 Jul, the draft
Wed 23 Aug, approval Fri 1 Sep and publication Tue 12 Sep; a reminder 3 working days before
and on the due day, the first working day after it (plus the manager's escalation, once),
then Mondays; Monday 28 August is the Summer bank holiday, so that week's day is Tuesday.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.domain.deadlines import is_working_day
from automation.domain.reminders import (
    DEADLINE_WHAT,
    TRIAGE_WHAT,
    Digest,
    Reminder,
    ReminderItem,
    ReminderKind,
    ReminderPolicy,
    StageState,
    digests,
    due_reminders,
    latest_weekly_day,
    weekly_day,
)

PUBLISHED = date(2023, 7, 20)
DEADLINE = date(2023, 9, 13)
MANAGER = "m@x"
PCC = "pcc@x"
POLICY = ReminderPolicy(manager=MANAGER, pcc=PCC, weekly_summary=False)
WITH_SUMMARY = ReminderPolicy(manager=MANAGER, pcc=PCC)

A = ("a@x",)
M = ("m@x",)
P = ("pcc@x",)
APM = ("a@x", "pcc@x", "m@x")


def stages(
    *, cc_done: bool = False, draft_done: bool = False, approval_done: bool = False
) -> tuple[StageState, ...]:
    return (
        StageState(
            key="cc_comments",
            title="Invite the Chief Constable's comments",
            assignee="a@x",
            due=date(2023, 7, 27),
            completed=cc_done,
            role="chief_constable_comments",
        ),
        StageState(
            key="draft",
            title="Draft the response",
            assignee="a@x",
            due=date(2023, 8, 23),
            completed=draft_done,
            role="draft",
        ),
        StageState(
            key="approval",
            title="PCC approval",
            assignee="pcc@x",
            due=date(2023, 9, 1),
            completed=approval_done,
            role="approval",
        ),
        StageState(
            key="publish",
            title="Publish the response",
            assignee="a@x",
            due=date(2023, 9, 12),
            completed=False,
            role="publish",
        ),
    )


def make_item(
    *,
    sent: Iterable[str] = (),
    status: str = "Drafting",
    stage_states: tuple[StageState, ...] | None = None,
    deadline: date | None = DEADLINE,
    owner: str = "a@x",
    key: str = "pub-1",
    marker: str = "S55-1",
    response_required: str = "Yes",
) -> ReminderItem:
    return ReminderItem(
        key=key,
        marker=marker,
        title="An inspection",
        status=status,
        owner=owner,
        deadline=deadline,
        stages=stages() if stage_states is None else stage_states,
        sent_ids=frozenset(sent),
        links={"tracker": "https://example.test/item/1"},
        response_required=response_required,
    )


Row = tuple[str, str, tuple[str, ...]]


def simulate(
    days: Iterable[date],
    item_on: Callable[[date, frozenset[str]], ReminderItem],
    policy: ReminderPolicy = POLICY,
) -> list[tuple[date, Reminder]]:
    """Run ``due_reminders`` on each day, feeding back the ids sent, as the tracker would."""
    sent: set[str] = set()
    produced: list[tuple[date, Reminder]] = []
    for day in days:
        for reminder in due_reminders([item_on(day, frozenset(sent))], today=day, policy=policy):
            produced.append((day, reminder))
            sent.add(reminder.reminder_id)
    return produced


def rows(produced: list[tuple[date, Reminder]]) -> list[Row]:
    return sorted((day.isoformat(), r.reminder_id, r.recipients) for day, r in produced)


def every_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


CC = "stage:cc_comments:2023-07-27"
DRAFT = "stage:draft:2023-08-23"
FULL_RUN: list[Row] = [
    ("2023-07-24", f"{CC}:-3", A),  # Mon: 3 working days before Thu 27 Jul
    ("2023-07-27", f"{CC}:+0", A),
    ("2023-07-28", f"escalate:{CC}", M),  # the manager, once
    ("2023-07-28", f"overdue:{CC}:+1", A),
    ("2023-07-31", f"overdue:{CC}:w2023-07-31", A),  # then Mondays
    ("2023-08-07", f"overdue:{CC}:w2023-08-07", A),
    ("2023-08-14", f"overdue:{CC}:w2023-08-14", A),
    ("2023-08-18", f"{DRAFT}:-3", A),  # Fri: 3 working days before Wed 23 Aug
    ("2023-08-21", f"overdue:{CC}:w2023-08-21", A),
    ("2023-08-23", f"{DRAFT}:+0", A),
    ("2023-08-24", f"escalate:{DRAFT}", M),
    ("2023-08-24", f"overdue:{DRAFT}:+1", A),
    ("2023-08-29", f"overdue:{CC}:w2023-08-29", A),  # Tuesday: 28 Aug is a bank holiday
    ("2023-08-29", f"overdue:{DRAFT}:w2023-08-29", A),
    ("2023-09-04", f"overdue:{CC}:w2023-09-04", A),
    ("2023-09-04", f"overdue:{DRAFT}:w2023-09-04", A),
    ("2023-09-11", f"overdue:{CC}:w2023-09-11", A),
    ("2023-09-11", f"overdue:{DRAFT}:w2023-09-11", A),
    # Approval and publication never start: the draft is never completed.
    ("2023-09-13", "deadline:2023-09-13", APM),  # owner, PCC and manager, once
    # After the deadline one weekly line to the owner; the stage rows stop.
    ("2023-09-18", "overdue:deadline:2023-09-13:w2023-09-18", A),
    ("2023-09-25", "overdue:deadline:2023-09-13:w2023-09-25", A),
]


def test_every_day_from_publication_to_after_the_deadline() -> None:
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 30)), lambda _day, sent: make_item(sent=sent)
    )
    assert rows(produced) == sorted(FULL_RUN)
    assert all(is_working_day(day) for day, _ in produced)


def test_approval_starts_when_the_draft_is_complete() -> None:
    # The draft is completed on Friday 25 August: the PCC is asked from then on.
    done_on = date(2023, 8, 25)
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 30)),
        lambda day, sent: make_item(sent=sent, stage_states=stages(draft_done=day >= done_on)),
    )
    approval = [row for row in rows(produced) if ":approval:" in row[1]]
    assert approval == [
        # 3 working days before Fri 1 Sep (Monday 28 August is a bank holiday)
        ("2023-08-29", "stage:approval:2023-09-01:-3", P),
        ("2023-09-01", "stage:approval:2023-09-01:+0", P),
        ("2023-09-04", "escalate:stage:approval:2023-09-01", M),
        ("2023-09-04", "overdue:stage:approval:2023-09-01:+1", P),
        ("2023-09-11", "overdue:stage:approval:2023-09-01:w2023-09-11", P),
    ]
    assert not [row for row in rows(produced) if ":publish:" in row[1]]
    draft = [row for row in rows(produced) if ":draft:" in row[1]]
    assert draft == [
        ("2023-08-18", f"{DRAFT}:-3", A),
        ("2023-08-23", f"{DRAFT}:+0", A),
        ("2023-08-24", f"escalate:{DRAFT}", M),
        ("2023-08-24", f"overdue:{DRAFT}:+1", A),
    ]


def test_publication_starts_when_approval_is_complete() -> None:
    item = make_item(stage_states=stages(draft_done=True, approval_done=True))
    produced = due_reminders([item], today=date(2023, 9, 7), policy=POLICY)
    assert [r.reminder_id for r in produced if r.stage_key == "publish"] == [
        "stage:publish:2023-09-12:-3"
    ]


def test_no_reminders_on_weekends_or_bank_holidays() -> None:
    for day in (date(2023, 8, 26), date(2023, 8, 27), date(2023, 8, 28), date(2023, 12, 25)):
        assert due_reminders([make_item()], today=day, policy=WITH_SUMMARY) == []


def test_reminder_fields() -> None:
    produced = {
        r.reminder_id: r
        for r in due_reminders([make_item()], today=date(2023, 8, 24), policy=POLICY)
    }
    overdue = produced[f"overdue:{DRAFT}:+1"]
    assert overdue == Reminder(
        reminder_id=f"overdue:{DRAFT}:+1",
        kind=ReminderKind.STAGE_OVERDUE,
        item_key="pub-1",
        marker="S55-1",
        title="An inspection",
        stage_key="draft",
        what="Draft the response",
        due=date(2023, 8, 23),
        days=-1,
        recipients=A,
        assignee="a@x",
        owner="a@x",
        deadline=DEADLINE,
    )
    assert dict(overdue.links) == {"tracker": "https://example.test/item/1"}
    assert produced[f"escalate:{DRAFT}"].kind is ReminderKind.ESCALATION
    on_deadline = due_reminders([make_item()], today=DEADLINE, policy=POLICY)
    (deadline,) = [r for r in on_deadline if r.kind is ReminderKind.DEADLINE]
    assert (deadline.what, deadline.stage_key, deadline.days) == (DEADLINE_WHAT, "", 0)


def test_deadline_on_a_weekend_is_told_on_the_friday_before() -> None:
    sunday = date(2023, 9, 3)
    item = make_item(stage_states=(), deadline=sunday)
    assert due_reminders([item], today=date(2023, 8, 31), policy=POLICY) == []
    (notice,) = due_reminders([item], today=date(2023, 9, 1), policy=POLICY)
    assert (notice.reminder_id, notice.days) == ("deadline:2023-09-03", 2)


def test_skipped_days_send_only_the_latest_missed_point_of_each_series() -> None:
    runs = [date(2023, 8, 10), date(2023, 8, 25), date(2023, 8, 29)]
    produced = simulate(runs, lambda _day, sent: make_item(sent=sent))
    assert rows(produced) == sorted(
        [
            # Down since publication: the latest overdue point, and the escalation (never
            # superseded: the manager is told once, late rather than never).
            ("2023-08-10", f"overdue:{CC}:w2023-08-07", A),
            ("2023-08-10", f"escalate:{CC}", M),
            # Down 11-24 Aug: the draft's reminders before its due date are superseded.
            ("2023-08-25", f"overdue:{CC}:w2023-08-21", A),
            ("2023-08-25", f"overdue:{DRAFT}:+1", A),
            ("2023-08-25", f"escalate:{DRAFT}", M),
            ("2023-08-29", f"overdue:{CC}:w2023-08-29", A),
            ("2023-08-29", f"overdue:{DRAFT}:w2023-08-29", A),
        ]
    )


def test_down_over_the_deadline_still_tells_the_pcc_and_manager() -> None:
    produced = simulate(
        [date(2023, 9, 11), date(2023, 9, 19)], lambda _day, sent: make_item(sent=sent)
    )
    on_19 = [row for row in rows(produced) if row[0] == "2023-09-19"]
    assert on_19 == [
        ("2023-09-19", "deadline:2023-09-13", APM),
        ("2023-09-19", "overdue:deadline:2023-09-13:w2023-09-18", A),
    ]


def test_undecided_item_is_reminded_to_decide_not_about_the_deadline() -> None:
    triage = StageState(
        key="triage",
        title="Decide whether a response is needed",
        assignee="a@x",
        due=date(2023, 8, 10),
        completed=False,
        role="triage",
    )
    produced = simulate(
        every_day(date(2023, 8, 1), date(2023, 9, 30)),
        lambda _day, sent: make_item(
            sent=sent,
            status="Triage",
            stage_states=(triage,),
            deadline=date(2023, 9, 25),
            response_required="To be decided",
        ),
    )
    assert {r.what for _, r in produced} == {TRIAGE_WHAT}
    assert {r.deadline for _, r in produced} == {None}
    assert rows(produced)[:4] == [
        ("2023-08-07", "stage:triage:2023-08-10:-3", A),
        ("2023-08-10", "stage:triage:2023-08-10:+0", A),
        ("2023-08-11", "escalate:stage:triage:2023-08-10", M),
        ("2023-08-11", "overdue:stage:triage:2023-08-10:+1", A),
    ]
    assert not [row for row in rows(produced) if "deadline" in row[1]]


def test_weekly_summary_once_a_week_to_the_manager() -> None:
    produced = simulate(
        every_day(date(2023, 8, 14), date(2023, 9, 3)),
        lambda _day, sent: make_item(sent=sent),
        policy=WITH_SUMMARY,
    )
    summary = [
        (d.isoformat(), r.reminder_id) for d, r in produced if r.kind is ReminderKind.SUMMARY
    ]
    assert summary == [
        ("2023-08-14", f"summary:2023-08-14:{CC}"),
        ("2023-08-14", f"summary:2023-08-14:{DRAFT}"),  # every stage that can be worked on
        ("2023-08-21", f"summary:2023-08-21:{CC}"),
        ("2023-08-21", f"summary:2023-08-21:{DRAFT}"),
        ("2023-08-29", f"summary:2023-08-28:{CC}"),  # the bank holiday week: Tuesday
        ("2023-08-29", f"summary:2023-08-28:{DRAFT}"),
    ]
    assert {r.recipients for _, r in produced if r.kind is ReminderKind.SUMMARY} == {M}


def test_weekly_summary_catches_up_once_in_the_week() -> None:
    # Down on Monday: the week's summary goes out on Wednesday, and not again that week.
    produced = simulate(
        [date(2023, 9, 6), date(2023, 9, 7)],
        lambda _d, sent: make_item(sent=sent),
        policy=WITH_SUMMARY,
    )
    summary = [
        (d.isoformat(), r.reminder_id) for d, r in produced if r.kind is ReminderKind.SUMMARY
    ]
    assert summary == [
        ("2023-09-06", f"summary:2023-09-04:{CC}"),
        ("2023-09-06", f"summary:2023-09-04:{DRAFT}"),
    ]
    # A report filed on Thursday waits for next week's summary.
    sent = frozenset(rid for _, rid in summary)
    other = make_item(key="pub-2", marker="S55-2")
    later = due_reminders(
        [make_item(sent=sent), other], today=date(2023, 9, 7), policy=WITH_SUMMARY
    )
    assert not [r for r in later if r.kind is ReminderKind.SUMMARY]


def test_after_the_deadline_the_summary_shows_the_deadline_line() -> None:
    produced = due_reminders([make_item()], today=date(2023, 9, 18), policy=WITH_SUMMARY)
    summary = [r for r in produced if r.kind is ReminderKind.SUMMARY]
    assert [(r.reminder_id, r.what, r.days) for r in summary] == [
        ("summary:2023-09-18:deadline:2023-09-13", DEADLINE_WHAT, -5)
    ]


def test_weekly_day_moves_off_bank_holidays_within_the_week() -> None:
    assert weekly_day(date(2023, 8, 30), 0) == date(2023, 8, 29)
    assert weekly_day(date(2023, 4, 5), 4) is None  # Good Friday 7 April: no Friday that week
    assert weekly_day(date(2023, 4, 5), 0) == date(2023, 4, 3)
    assert latest_weekly_day(date(2023, 8, 28), 0) == date(2023, 8, 21)
    assert latest_weekly_day(date(2023, 8, 29), 0) == date(2023, 8, 29)


@pytest.mark.parametrize(
    "status", ["Published", "Closed", "Not required", "not required", "CLOSED "]
)
def test_finished_statuses_get_no_reminders(status: str) -> None:
    for day in every_day(PUBLISHED, date(2023, 9, 30)):
        assert due_reminders([make_item(status=status)], today=day, policy=WITH_SUMMARY) == []


# Circulated is open (issue 11): the response is not yet published, nor copied to HMICFRS
# and the Home Secretary, so reminders and escalation go on until Published.
@pytest.mark.parametrize(
    "status", ["Triage", "Drafting", "PCC approval", "Approved", "Circulated", "On hold"]
)
def test_open_statuses_still_get_reminders(status: str) -> None:
    produced = due_reminders([make_item(status=status)], today=DEADLINE, policy=POLICY)
    assert "deadline:2023-09-13" in {r.reminder_id for r in produced}


def test_publishing_stops_everything_from_that_day() -> None:
    published_on = date(2023, 9, 10)
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 30)),
        lambda day, sent: make_item(
            sent=sent, status="Published" if day >= published_on else "Circulated"
        ),
    )
    expected = [row for row in FULL_RUN if row[0] < "2023-09-10"]
    assert rows(produced) == sorted(expected)


def test_unknown_due_date_gives_no_reminders_for_that_stage() -> None:
    cc, draft, approval, publish = stages()
    no_due = StageState(
        key=draft.key,
        title=draft.title,
        assignee=draft.assignee,
        due=None,
        completed=False,
        role=draft.role,
    )
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 30)),
        lambda _d, s: make_item(sent=s, stage_states=(cc, no_due, approval, publish)),
    )
    assert rows(produced) == sorted(row for row in FULL_RUN if ":draft:" not in row[1])


def test_unknown_deadline_gives_no_deadline_reminders() -> None:
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 30)),
        lambda _day, sent: make_item(sent=sent, deadline=None),
    )
    got = rows(produced)
    assert not [row for row in got if "deadline" in row[1]]
    # Without a deadline the stage reminders carry on past 13 September.
    assert ("2023-09-18", f"overdue:{CC}:w2023-09-18", A) in got


def test_a_changed_due_date_starts_a_new_series() -> None:
    draft = stages()[1]
    moved = StageState(
        key="draft", title=draft.title, assignee="a@x", due=date(2023, 8, 30), completed=False
    )
    item = make_item(sent={f"{DRAFT}:-3"}, stage_states=(moved,), deadline=None)
    (reminder,) = due_reminders([item], today=date(2023, 8, 25), policy=POLICY)
    assert reminder.reminder_id == "stage:draft:2023-08-30:-3"
    assert reminder.days == 5


def test_recipients_when_people_are_missing() -> None:
    nobody = StageState(
        key="draft", title="Draft", assignee="", due=date(2023, 8, 23), completed=False
    )
    item = make_item(stage_states=(nobody,), owner="")
    on_day = due_reminders([item], today=date(2023, 8, 23), policy=POLICY)
    assert [(r.reminder_id, r.recipients) for r in on_day] == [("stage:draft:2023-08-23:+0", ())]
    late = due_reminders([item], today=DEADLINE, policy=POLICY)
    assert {r.reminder_id: r.recipients for r in late} == {
        "overdue:stage:draft:2023-08-23:w2023-09-11": (),
        "escalate:stage:draft:2023-08-23": M,
        "deadline:2023-09-13": ("pcc@x", "m@x"),
    }
    alone = due_reminders([item], today=DEADLINE, policy=ReminderPolicy())
    assert [r.recipients for r in alone] == [(), (), ()]


def test_recipients_are_lower_cased_and_deduplicated() -> None:
    item = make_item(stage_states=(), owner=" A@X ")
    policy = ReminderPolicy(manager="a@X", pcc="A@x", weekly_summary=False)
    (produced,) = due_reminders([item], today=DEADLINE, policy=policy)
    assert produced.recipients == A


def test_no_duplicate_ids_in_a_run() -> None:
    _cc, draft, _approval, publish = stages()
    items = [
        make_item(key="pub-1", marker="S55-1"),
        make_item(key="pub-2", marker="S55-2"),
        # The same stage listed twice (a bookkeeping slip) still gives one reminder.
        make_item(key="pub-3", marker="S55-3", stage_states=(draft, draft, publish)),
    ]
    for day in every_day(PUBLISHED, date(2023, 10, 17)):
        produced = due_reminders(items, today=day, policy=WITH_SUMMARY)
        keys = [(r.item_key, r.reminder_id) for r in produced]
        assert len(keys) == len(set(keys)), day
    on_23_aug = due_reminders(items, today=date(2023, 8, 23), policy=POLICY)
    assert [(r.item_key, r.reminder_id) for r in on_23_aug if r.stage_key == "draft"] == [
        ("pub-1", f"{DRAFT}:+0"),
        ("pub-2", f"{DRAFT}:+0"),
        ("pub-3", f"{DRAFT}:+0"),
    ]


def test_reminders_are_sorted_by_due_then_marker() -> None:
    items = [make_item(key="pub-2", marker="S55-2"), make_item(key="pub-1", marker="S55-1")]
    produced = due_reminders(items, today=date(2023, 9, 4), policy=WITH_SUMMARY)
    order = [(r.due, r.marker) for r in produced]
    assert order == sorted(order)
    assert order[0] == (date(2023, 7, 27), "S55-1")


def test_policy_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="notice_working_days"):
        ReminderPolicy(notice_working_days=-1)
    with pytest.raises(ValueError, match="weekly_on"):
        ReminderPolicy(weekly_on=5)


def test_no_notice_before_the_day_when_set_to_zero() -> None:
    produced = simulate(
        every_day(PUBLISHED, date(2023, 8, 31)),
        lambda _day, sent: make_item(sent=sent),
        policy=ReminderPolicy(notice_working_days=0),
    )
    assert not [row for row in rows(produced) if row[1].endswith(":-3")]
    assert ("2023-07-27", f"{CC}:+0", A) in rows(produced)


def reminder(
    item_key: str, marker: str, rid: str, due: date, recipients: tuple[str, ...]
) -> Reminder:
    return Reminder(
        reminder_id=rid,
        kind=ReminderKind.STAGE,
        item_key=item_key,
        marker=marker,
        title="t",
        stage_key="draft",
        what="Draft",
        due=due,
        days=0,
        recipients=recipients,
    )


def test_digests_group_by_recipient_case_insensitively() -> None:
    today = date(2023, 8, 24)
    late = reminder("pub-2", "S55-2", "r1", date(2023, 8, 30), ("Alice@X.org",))
    early_b = reminder("pub-9", "S55-9", "r2", date(2023, 8, 23), ("alice@x.org", "m@x"))
    early_a = reminder("pub-1", "S55-1", "r3", date(2023, 8, 23), ("bob@x.org", "ALICE@x.org"))
    nobody = reminder("pub-3", "S55-3", "r4", date(2023, 8, 23), ())
    result = digests([late, early_b, nobody, early_a], today=today)
    assert result == [
        Digest(recipient="alice@x.org", day=today, reminders=(early_a, early_b, late)),
        Digest(recipient="bob@x.org", day=today, reminders=(early_a,)),
        Digest(recipient="m@x", day=today, reminders=(early_b,)),
    ]
    assert [d.digest_id for d in result] == [
        "digest:alice@x.org:2023-08-24",
        "digest:bob@x.org:2023-08-24",
        "digest:m@x:2023-08-24",
    ]


def test_digests_from_a_real_day() -> None:
    today = DEADLINE
    produced = due_reminders([make_item()], today=today, policy=POLICY)
    result = digests(produced, today=today)
    assert [(d.recipient, [r.reminder_id for r in d.reminders]) for d in result] == [
        (
            "a@x",
            [f"overdue:{CC}:w2023-09-11", f"overdue:{DRAFT}:w2023-09-11", "deadline:2023-09-13"],
        ),
        ("m@x", [f"escalate:{CC}", f"escalate:{DRAFT}", "deadline:2023-09-13"]),
        ("pcc@x", ["deadline:2023-09-13"]),
    ]
    assert not any(d.weekly_summary for d in result)
    assert digests([], today=today) == []


def point_of(reminder_id: str) -> tuple[date, date | None]:
    """The (due date, point date) a stage reminder id names (None: not dated)."""
    parts = reminder_id.split(":")
    if parts[0] == "escalate":
        return date.fromisoformat(parts[3]), None
    if parts[0] == "overdue":
        parts = parts[1:]
    due = date.fromisoformat(parts[2])
    mark = parts[3]
    if mark.startswith("w"):
        return due, date.fromisoformat(mark[1:])
    return due, None


WINDOW = 90


@given(
    run_offsets=st.sets(st.integers(min_value=0, max_value=WINDOW - 1), max_size=45),
    notice=st.integers(min_value=0, max_value=10),
    weekly_on=st.integers(min_value=0, max_value=4),
    draft_done=st.none() | st.integers(min_value=0, max_value=WINDOW - 1),
)
def test_catch_up_never_repeats_and_never_sends_early(
    run_offsets: set[int], notice: int, weekly_on: int, draft_done: int | None
) -> None:
    policy = ReminderPolicy(
        notice_working_days=notice, weekly_on=weekly_on, manager=MANAGER, pcc=PCC
    )
    run_days = [PUBLISHED + timedelta(days=n) for n in sorted(run_offsets)]
    done_on = None if draft_done is None else PUBLISHED + timedelta(days=draft_done)
    produced = simulate(
        run_days,
        lambda day, sent: make_item(
            sent=sent, stage_states=stages(draft_done=done_on is not None and day >= done_on)
        ),
        policy=policy,
    )
    ids = [r.reminder_id for _, r in produced]
    assert len(ids) == len(set(ids))
    people: dict[tuple[date, str], int] = {}
    for day, r in produced:
        assert is_working_day(day)
        for person in r.recipients:
            people[(day, person)] = 1
        if r.kind is ReminderKind.SUMMARY or r.stage_key == "":
            continue
        due, point = point_of(r.reminder_id)
        assert due == r.due
        if point is not None:
            assert point <= day
        if r.kind in (ReminderKind.STAGE_OVERDUE, ReminderKind.ESCALATION):
            assert day > due
        if r.stage_key == "draft" and done_on is not None:
            assert day < done_on
        if r.stage_key in ("approval", "publish"):
            assert done_on is not None  # never before the draft is done
            assert day >= done_on
        assert day <= DEADLINE  # stage reminders stop at the deadline
