"""Reminder schedules: which reminders are due on a day, catch-up, and digests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.domain.reminders import (
    DEADLINE_WHAT,
    Digest,
    Reminder,
    ReminderItem,
    ReminderKind,
    ReminderPolicy,
    StageState,
    digests,
    due_reminders,
)

PUBLISHED = date(2023, 7, 20)
DEADLINE = date(2023, 9, 13)
MANAGER = "m@x"
POLICY = ReminderPolicy(manager=MANAGER)

A = ("a@x",)
AM = ("a@x", "m@x")
P = ("pcc@x",)
PM = ("pcc@x", "m@x")
W = ("web@x",)
WM = ("web@x", "m@x")


def stages(*, draft_completed: bool = False) -> tuple[StageState, ...]:
    return (
        StageState(
            key="cc_comments",
            title="Invite the Chief Constable's comments",
            assignee="a@x",
            due=date(2023, 7, 27),
            completed=False,
        ),
        StageState(
            key="draft",
            title="Draft the response",
            assignee="a@x",
            due=date(2023, 8, 23),
            completed=draft_completed,
        ),
        StageState(
            key="approval",
            title="PCC approval",
            assignee="pcc@x",
            due=date(2023, 9, 1),
            completed=False,
        ),
        StageState(
            key="publish",
            title="Publish the response",
            assignee="web@x",
            due=date(2023, 9, 12),
            completed=False,
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


# Worked out by hand from the rules: stage reminders 7, 3, 1, 0 days before each due date to
# the assignee; deadline reminders 14, 7, 3, 1 days before 13 Sep to owner and manager;
# overdue notices on due+1, +4, +7, ... to the assignee (or owner) and the manager.
FULL_RUN: list[Row] = [
    ("2023-07-20", "stage:cc_comments:2023-07-27:-7", A),
    ("2023-07-24", "stage:cc_comments:2023-07-27:-3", A),
    ("2023-07-26", "stage:cc_comments:2023-07-27:-1", A),
    ("2023-07-27", "stage:cc_comments:2023-07-27:+0", A),
    ("2023-07-28", "overdue:stage:cc_comments:2023-07-27:+1", AM),
    ("2023-07-31", "overdue:stage:cc_comments:2023-07-27:+4", AM),
    ("2023-08-03", "overdue:stage:cc_comments:2023-07-27:+7", AM),
    ("2023-08-06", "overdue:stage:cc_comments:2023-07-27:+10", AM),
    ("2023-08-09", "overdue:stage:cc_comments:2023-07-27:+13", AM),
    ("2023-08-12", "overdue:stage:cc_comments:2023-07-27:+16", AM),
    ("2023-08-15", "overdue:stage:cc_comments:2023-07-27:+19", AM),
    ("2023-08-16", "stage:draft:2023-08-23:-7", A),
    ("2023-08-18", "overdue:stage:cc_comments:2023-07-27:+22", AM),
    ("2023-08-20", "stage:draft:2023-08-23:-3", A),
    ("2023-08-21", "overdue:stage:cc_comments:2023-07-27:+25", AM),
    ("2023-08-22", "stage:draft:2023-08-23:-1", A),
    ("2023-08-23", "stage:draft:2023-08-23:+0", A),
    ("2023-08-24", "overdue:stage:cc_comments:2023-07-27:+28", AM),
    ("2023-08-24", "overdue:stage:draft:2023-08-23:+1", AM),
    ("2023-08-25", "stage:approval:2023-09-01:-7", P),
    ("2023-08-27", "overdue:stage:cc_comments:2023-07-27:+31", AM),
    ("2023-08-27", "overdue:stage:draft:2023-08-23:+4", AM),
    ("2023-08-29", "stage:approval:2023-09-01:-3", P),
    ("2023-08-30", "overdue:stage:cc_comments:2023-07-27:+34", AM),
    ("2023-08-30", "overdue:stage:draft:2023-08-23:+7", AM),
    ("2023-08-30", "deadline:2023-09-13:-14", AM),
    ("2023-08-31", "stage:approval:2023-09-01:-1", P),
    ("2023-09-01", "stage:approval:2023-09-01:+0", P),
    ("2023-09-02", "overdue:stage:cc_comments:2023-07-27:+37", AM),
    ("2023-09-02", "overdue:stage:draft:2023-08-23:+10", AM),
    ("2023-09-02", "overdue:stage:approval:2023-09-01:+1", PM),
    ("2023-09-05", "overdue:stage:cc_comments:2023-07-27:+40", AM),
    ("2023-09-05", "overdue:stage:draft:2023-08-23:+13", AM),
    ("2023-09-05", "overdue:stage:approval:2023-09-01:+4", PM),
    ("2023-09-05", "stage:publish:2023-09-12:-7", W),
    ("2023-09-06", "deadline:2023-09-13:-7", AM),
    ("2023-09-08", "overdue:stage:cc_comments:2023-07-27:+43", AM),
    ("2023-09-08", "overdue:stage:draft:2023-08-23:+16", AM),
    ("2023-09-08", "overdue:stage:approval:2023-09-01:+7", PM),
    ("2023-09-09", "stage:publish:2023-09-12:-3", W),
    ("2023-09-10", "deadline:2023-09-13:-3", AM),
    ("2023-09-11", "overdue:stage:cc_comments:2023-07-27:+46", AM),
    ("2023-09-11", "overdue:stage:draft:2023-08-23:+19", AM),
    ("2023-09-11", "overdue:stage:approval:2023-09-01:+10", PM),
    ("2023-09-11", "stage:publish:2023-09-12:-1", W),
    ("2023-09-12", "stage:publish:2023-09-12:+0", W),
    ("2023-09-12", "deadline:2023-09-13:-1", AM),
    ("2023-09-13", "overdue:stage:publish:2023-09-12:+1", WM),
    ("2023-09-14", "overdue:stage:cc_comments:2023-07-27:+49", AM),
    ("2023-09-14", "overdue:stage:draft:2023-08-23:+22", AM),
    ("2023-09-14", "overdue:stage:approval:2023-09-01:+13", PM),
    ("2023-09-14", "overdue:deadline:2023-09-13:+1", AM),
    ("2023-09-16", "overdue:stage:publish:2023-09-12:+4", WM),
    ("2023-09-17", "overdue:stage:cc_comments:2023-07-27:+52", AM),
    ("2023-09-17", "overdue:stage:draft:2023-08-23:+25", AM),
    ("2023-09-17", "overdue:stage:approval:2023-09-01:+16", PM),
    ("2023-09-17", "overdue:deadline:2023-09-13:+4", AM),
    ("2023-09-19", "overdue:stage:publish:2023-09-12:+7", WM),
    ("2023-09-20", "overdue:stage:cc_comments:2023-07-27:+55", AM),
    ("2023-09-20", "overdue:stage:draft:2023-08-23:+28", AM),
    ("2023-09-20", "overdue:stage:approval:2023-09-01:+19", PM),
    ("2023-09-20", "overdue:deadline:2023-09-13:+7", AM),
    ("2023-09-22", "overdue:stage:publish:2023-09-12:+10", WM),
    ("2023-09-23", "overdue:stage:cc_comments:2023-07-27:+58", AM),
    ("2023-09-23", "overdue:stage:draft:2023-08-23:+31", AM),
    ("2023-09-23", "overdue:stage:approval:2023-09-01:+22", PM),
    ("2023-09-23", "overdue:deadline:2023-09-13:+10", AM),
]

# The draft stage is completed on 20 Aug (before that day's run): these rows of FULL_RUN go.
DRAFT_ROWS_FROM_20_AUG: list[Row] = [
    ("2023-08-20", "stage:draft:2023-08-23:-3", A),
    ("2023-08-22", "stage:draft:2023-08-23:-1", A),
    ("2023-08-23", "stage:draft:2023-08-23:+0", A),
    ("2023-08-24", "overdue:stage:draft:2023-08-23:+1", AM),
    ("2023-08-27", "overdue:stage:draft:2023-08-23:+4", AM),
    ("2023-08-30", "overdue:stage:draft:2023-08-23:+7", AM),
    ("2023-09-02", "overdue:stage:draft:2023-08-23:+10", AM),
    ("2023-09-05", "overdue:stage:draft:2023-08-23:+13", AM),
    ("2023-09-08", "overdue:stage:draft:2023-08-23:+16", AM),
    ("2023-09-11", "overdue:stage:draft:2023-08-23:+19", AM),
    ("2023-09-14", "overdue:stage:draft:2023-08-23:+22", AM),
    ("2023-09-17", "overdue:stage:draft:2023-08-23:+25", AM),
    ("2023-09-20", "overdue:stage:draft:2023-08-23:+28", AM),
    ("2023-09-23", "overdue:stage:draft:2023-08-23:+31", AM),
]


def test_every_day_of_the_period_and_ten_days_past_the_deadline() -> None:
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 23)),
        lambda _day, sent: make_item(sent=sent),
    )
    assert rows(produced) == sorted(FULL_RUN)


def test_completing_the_draft_stops_its_reminders() -> None:
    completed_on = date(2023, 8, 20)
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 23)),
        lambda day, sent: make_item(
            sent=sent, stage_states=stages(draft_completed=day >= completed_on)
        ),
    )
    assert set(DRAFT_ROWS_FROM_20_AUG) <= set(FULL_RUN)
    expected = [row for row in FULL_RUN if row not in DRAFT_ROWS_FROM_20_AUG]
    assert rows(produced) == sorted(expected)
    assert [row for row in rows(produced) if ":draft:" in row[1]] == [
        ("2023-08-16", "stage:draft:2023-08-23:-7", A)
    ]


def test_reminder_fields() -> None:
    today = date(2023, 8, 25)
    produced = {r.reminder_id: r for r in due_reminders([make_item()], today=today, policy=POLICY)}
    approval = produced["stage:approval:2023-09-01:-7"]
    assert approval == Reminder(
        reminder_id="stage:approval:2023-09-01:-7",
        kind=ReminderKind.STAGE,
        item_key="pub-1",
        marker="S55-1",
        title="An inspection",
        stage_key="approval",
        what="PCC approval",
        due=date(2023, 9, 1),
        days=7,
        recipients=P,
    )
    assert dict(approval.links) == {"tracker": "https://example.test/item/1"}
    draft_overdue = produced["overdue:stage:draft:2023-08-23:+1"]
    assert draft_overdue.kind is ReminderKind.STAGE_OVERDUE
    assert draft_overdue.days == -2  # counted from today, not from the point's date
    assert draft_overdue.what == "Draft the response"

    deadline = due_reminders([make_item()], today=date(2023, 9, 6), policy=POLICY)
    (deadline_reminder,) = [r for r in deadline if r.kind is ReminderKind.DEADLINE]
    assert deadline_reminder.stage_key == ""
    assert deadline_reminder.what == DEADLINE_WHAT
    assert deadline_reminder.days == 7
    late = due_reminders([make_item()], today=date(2023, 9, 14), policy=POLICY)
    (deadline_overdue,) = [r for r in late if r.kind is ReminderKind.DEADLINE_OVERDUE]
    assert deadline_overdue.days == -1
    assert deadline_overdue.recipients == AM


def test_skipped_days_send_only_the_latest_missed_point_of_each_series() -> None:
    runs = [date(2023, 8, 10), date(2023, 8, 25), date(2023, 8, 26), date(2023, 8, 29)]
    produced = simulate(runs, lambda _day, sent: make_item(sent=sent))
    assert rows(produced) == sorted(
        [
            # Down since publication: only the latest overdue notice of the first stage.
            ("2023-08-10", "overdue:stage:cc_comments:2023-07-27:+13", AM),
            # Down 11-24 Aug: the draft's reminders before its due date are superseded by
            # its first overdue notice; cc_comments +16 .. +25 are superseded by +28.
            ("2023-08-25", "overdue:stage:cc_comments:2023-07-27:+28", AM),
            ("2023-08-25", "overdue:stage:draft:2023-08-23:+1", AM),
            ("2023-08-25", "stage:approval:2023-09-01:-7", P),
            # 26 Aug: nothing new; the skipped points do not come back.
            ("2023-08-29", "overdue:stage:cc_comments:2023-07-27:+31", AM),
            ("2023-08-29", "overdue:stage:draft:2023-08-23:+4", AM),
            ("2023-08-29", "stage:approval:2023-09-01:-3", P),
        ]
    )


def test_skipping_over_deadline_reminders() -> None:
    runs = [date(2023, 9, 1), date(2023, 9, 11), date(2023, 9, 12)]
    produced = simulate(runs, lambda _day, sent: make_item(sent=sent))
    assert rows(produced) == sorted(
        [
            ("2023-09-01", "overdue:stage:cc_comments:2023-07-27:+34", AM),
            ("2023-09-01", "overdue:stage:draft:2023-08-23:+7", AM),
            ("2023-09-01", "stage:approval:2023-09-01:+0", P),
            ("2023-09-01", "deadline:2023-09-13:-14", AM),
            ("2023-09-11", "overdue:stage:cc_comments:2023-07-27:+46", AM),
            ("2023-09-11", "overdue:stage:draft:2023-08-23:+19", AM),
            ("2023-09-11", "overdue:stage:approval:2023-09-01:+10", PM),
            ("2023-09-11", "stage:publish:2023-09-12:-1", W),
            ("2023-09-11", "deadline:2023-09-13:-3", AM),  # -7 (6 Sep) skipped for good
            ("2023-09-12", "stage:publish:2023-09-12:+0", W),
            ("2023-09-12", "deadline:2023-09-13:-1", AM),
        ]
    )


def test_a_sent_id_suppresses_only_itself() -> None:
    today = date(2023, 8, 24)
    unsent = {r.reminder_id for r in due_reminders([make_item()], today=today, policy=POLICY)}
    assert unsent == {
        "overdue:stage:cc_comments:2023-07-27:+28",
        "overdue:stage:draft:2023-08-23:+1",
    }
    item = make_item(sent={"overdue:stage:draft:2023-08-23:+1"})
    left = [r.reminder_id for r in due_reminders([item], today=today, policy=POLICY)]
    assert left == ["overdue:stage:cc_comments:2023-07-27:+28"]


def test_future_points_are_not_due() -> None:
    item = make_item(stage_states=stages()[3:], deadline=None)  # publish, due 12 Sep
    assert due_reminders([item], today=date(2023, 9, 4), policy=POLICY) == []
    (first,) = due_reminders([item], today=date(2023, 9, 5), policy=POLICY)
    assert first.reminder_id == "stage:publish:2023-09-12:-7"


@pytest.mark.parametrize(
    "status", ["Published", "Closed", "Not required", "not required", "CLOSED "]
)
def test_finished_statuses_get_no_reminders(status: str) -> None:
    for day in every_day(PUBLISHED, date(2023, 9, 23)):
        assert due_reminders([make_item(status=status)], today=day, policy=POLICY) == []


# Circulated is open (issue 11): the response is not yet published, nor copied to HMICFRS
# and the Home Secretary, so reminders and escalation go on until Published.
@pytest.mark.parametrize(
    "status", ["Triage", "Drafting", "PCC approval", "Approved", "Circulated", "On hold"]
)
def test_open_statuses_still_get_reminders(status: str) -> None:
    produced = due_reminders([make_item(status=status)], today=date(2023, 9, 14), policy=POLICY)
    assert "overdue:deadline:2023-09-13:+1" in {r.reminder_id for r in produced}


def test_publishing_stops_everything_from_that_day() -> None:
    published_on = date(2023, 9, 10)
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 23)),
        lambda day, sent: make_item(
            sent=sent, status="Published" if day >= published_on else "Circulated"
        ),
    )
    expected = [row for row in FULL_RUN if row[0] < "2023-09-10"]
    assert rows(produced) == sorted(expected)


def test_unknown_due_date_gives_no_stage_reminders_for_that_stage() -> None:
    cc, draft, approval, publish = stages()
    no_due = StageState(
        key=draft.key, title=draft.title, assignee=draft.assignee, due=None, completed=False
    )
    item = make_item(stage_states=(cc, no_due, approval, publish))
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 23)),
        lambda _d, s: make_item(sent=s, stage_states=item.stages),
    )
    assert rows(produced) == sorted(row for row in FULL_RUN if ":draft:" not in row[1])


def test_unknown_deadline_gives_no_deadline_reminders() -> None:
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 23)),
        lambda _day, sent: make_item(sent=sent, deadline=None),
    )
    assert rows(produced) == sorted(row for row in FULL_RUN if "deadline:" not in row[1])


def test_completed_stage_gets_no_overdue_notices() -> None:
    cc, *_ = stages()
    done = StageState(key=cc.key, title=cc.title, assignee=cc.assignee, due=cc.due, completed=True)
    item = make_item(stage_states=(done,), deadline=None)
    for day in every_day(PUBLISHED, date(2023, 9, 23)):
        assert due_reminders([item], today=day, policy=POLICY) == []


def test_a_changed_due_date_starts_a_new_series() -> None:
    draft = stages()[1]
    moved = StageState(
        key="draft", title=draft.title, assignee="a@x", due=date(2023, 8, 30), completed=False
    )
    sent = {"stage:draft:2023-08-23:-7", "stage:draft:2023-08-23:-3"}
    item = make_item(sent=sent, stage_states=(moved,), deadline=None)
    (reminder,) = due_reminders([item], today=date(2023, 8, 24), policy=POLICY)
    assert reminder.reminder_id == "stage:draft:2023-08-30:-7"
    assert reminder.days == 6


def test_recipients_when_people_are_missing() -> None:
    nobody = StageState(
        key="draft", title="Draft", assignee="", due=date(2023, 8, 23), completed=False
    )
    item = make_item(stage_states=(nobody,), owner="")
    on_day = due_reminders([item], today=date(2023, 8, 23), policy=POLICY)
    assert [(r.reminder_id, r.recipients) for r in on_day] == [("stage:draft:2023-08-23:+0", ())]
    late = due_reminders([item], today=date(2023, 9, 14), policy=POLICY)
    assert {r.reminder_id: r.recipients for r in late} == {
        "overdue:stage:draft:2023-08-23:+22": ("m@x",),
        "overdue:deadline:2023-09-13:+1": ("m@x",),
    }
    no_manager = due_reminders([item], today=date(2023, 9, 14), policy=ReminderPolicy())
    assert [r.recipients for r in no_manager] == [(), ()]


def test_recipients_are_lower_cased_and_deduplicated() -> None:
    shouting = StageState(
        key="draft", title="Draft", assignee=" A@X ", due=date(2023, 8, 23), completed=False
    )
    item = make_item(stage_states=(shouting,), owner="A@x")
    policy = ReminderPolicy(manager="a@X")
    produced = due_reminders([item], today=date(2023, 9, 14), policy=policy)
    assert [r.recipients for r in produced] == [A, A]


def test_no_duplicate_ids_in_a_run() -> None:
    _cc, draft, _approval, publish = stages()
    items = [
        make_item(key="pub-1", marker="S55-1"),
        make_item(key="pub-2", marker="S55-2"),
        # The same stage listed twice (a bookkeeping slip) still gives one reminder.
        make_item(key="pub-3", marker="S55-3", stage_states=(draft, draft, publish)),
    ]
    for day in every_day(PUBLISHED, date(2023, 10, 17)):
        produced = due_reminders(items, today=day, policy=POLICY)
        keys = [(r.item_key, r.reminder_id) for r in produced]
        assert len(keys) == len(set(keys)), day
    on_23_aug = due_reminders(items, today=date(2023, 8, 23), policy=POLICY)
    assert [(r.item_key, r.reminder_id) for r in on_23_aug if r.stage_key == "draft"] == [
        ("pub-1", "stage:draft:2023-08-23:+0"),
        ("pub-2", "stage:draft:2023-08-23:+0"),
        ("pub-3", "stage:draft:2023-08-23:+0"),
    ]


def test_reminders_are_sorted_by_due_then_marker() -> None:
    items = [make_item(key="pub-2", marker="S55-2"), make_item(key="pub-1", marker="S55-1")]
    produced = due_reminders(items, today=date(2023, 9, 14), policy=POLICY)
    order = [(r.due, r.marker) for r in produced]
    assert order == sorted(order)
    assert order[0] == (date(2023, 7, 27), "S55-1")


def test_policy_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="stage_offsets"):
        ReminderPolicy(stage_offsets=(3, -1))
    with pytest.raises(ValueError, match="deadline_offsets"):
        ReminderPolicy(deadline_offsets=(-2,))
    with pytest.raises(ValueError, match="overdue_every_days"):
        ReminderPolicy(overdue_every_days=0)


def test_policy_offsets_in_any_order() -> None:
    shuffled = ReminderPolicy(stage_offsets=(0, 7, 1, 3, 3), manager=MANAGER)
    produced = simulate(
        every_day(PUBLISHED, date(2023, 9, 23)),
        lambda _day, sent: make_item(sent=sent),
        policy=shuffled,
    )
    assert rows(produced) == sorted(FULL_RUN)


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
    today = date(2023, 9, 11)
    produced = due_reminders([make_item()], today=today, policy=POLICY)
    result = digests(produced, today=today)
    assert [(d.recipient, [r.reminder_id for r in d.reminders]) for d in result] == [
        (
            "a@x",
            [
                "overdue:stage:cc_comments:2023-07-27:+46",
                "overdue:stage:draft:2023-08-23:+19",
                "deadline:2023-09-13:-3",
            ],
        ),
        (
            "m@x",
            [
                "overdue:stage:cc_comments:2023-07-27:+46",
                "overdue:stage:draft:2023-08-23:+19",
                "overdue:stage:approval:2023-09-01:+10",
                "deadline:2023-09-13:-3",
            ],
        ),
        ("pcc@x", ["overdue:stage:approval:2023-09-01:+10"]),
        ("web@x", ["stage:publish:2023-09-12:-1"]),
    ]
    assert digests([], today=today) == []


def point_of(reminder_id: str) -> tuple[date, date]:
    """The (due date, point date) a reminder id names."""
    _, due_text, delta = reminder_id.rsplit(":", 2)
    due = date.fromisoformat(due_text)
    return due, due + timedelta(days=int(delta))


WINDOW = 90


@given(
    run_offsets=st.sets(st.integers(min_value=0, max_value=WINDOW - 1), max_size=45),
    stage_offsets=st.sets(st.integers(min_value=0, max_value=20), max_size=5),
    deadline_offsets=st.sets(st.integers(min_value=0, max_value=30), max_size=5),
    every=st.integers(min_value=1, max_value=10),
    draft_done=st.none() | st.integers(min_value=0, max_value=WINDOW - 1),
)
def test_catch_up_never_repeats_and_never_sends_early(
    run_offsets: set[int],
    stage_offsets: set[int],
    deadline_offsets: set[int],
    every: int,
    draft_done: int | None,
) -> None:
    policy = ReminderPolicy(
        stage_offsets=tuple(stage_offsets),
        deadline_offsets=tuple(deadline_offsets),
        overdue_every_days=every,
        manager=MANAGER,
    )
    run_days = [PUBLISHED + timedelta(days=n) for n in sorted(run_offsets)]
    done_on = None if draft_done is None else PUBLISHED + timedelta(days=draft_done)
    produced = simulate(
        run_days,
        lambda day, sent: make_item(
            sent=sent, stage_states=stages(draft_completed=done_on is not None and day >= done_on)
        ),
        policy=policy,
    )
    ids = [r.reminder_id for _, r in produced]
    assert len(ids) == len(set(ids))
    previous = dict(zip(run_days[1:], run_days, strict=False))
    for day, r in produced:
        due, point = point_of(r.reminder_id)
        assert due == r.due
        assert point <= day
        # Anything dated on or before the previous run was sent then or superseded then.
        if day in previous:
            assert point > previous[day]
        if r.stage_key == "draft" and done_on is not None:
            assert day < done_on
