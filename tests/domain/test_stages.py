"""Stage due dates and the first-run rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.domain import (
    DEFAULT_STAGES,
    Anchor,
    DeadlineRule,
    StageSpec,
    is_working_day,
    plan_stages,
    response_deadline,
    should_file,
)

SEED = date(2023, 7, 20)
SEED_DEADLINE = date(2023, 9, 13)


def spec(anchor: Anchor, offset: int) -> StageSpec:
    return StageSpec(key="k", title="t", bucket="b", assignee="", anchor=anchor, offset_days=offset)


def test_default_stages_for_the_seed() -> None:
    planned = plan_stages(SEED, SEED_DEADLINE, DEFAULT_STAGES)
    due = {p.spec.role: p.due for p in planned}
    assert due == {
        "chief_constable_comments": date(2023, 7, 27),  # publication + 7, a Thursday
        "draft": date(2023, 8, 23),  # deadline - 21, a Wednesday
        "approval": date(2023, 9, 1),  # deadline - 10 is Sunday 3 Sep -> Friday
        "publish": date(2023, 9, 12),  # deadline - 1
        "portal": date(2023, 9, 12),  # deadline - 1 (issue 11: the HMICFRS portal stage)
    }
    assert [p.spec for p in planned] == list(DEFAULT_STAGES)


def test_default_stage_keys_and_titles_are_the_production_ones() -> None:
    # Tasks are found again after a crash by title and recorded by key: these must not drift.
    assert [(s.key, s.title, s.bucket) for s in DEFAULT_STAGES] == [
        ("cc_comments", "Invite the Chief Constable's comments", "Chief Constable comments"),
        ("draft", "Draft the response", "Drafting"),
        ("approval", "PCC approval", "PCC approval"),
        ("publish", "Publish the response on the website", "Publish and submit"),
        ("portal", "Submit the response onto the HMICFRS portal", "Publish and submit"),
    ]


def test_default_stage_roles_and_owner_placeholder() -> None:
    assert [s.role for s in DEFAULT_STAGES] == [
        "chief_constable_comments",
        "draft",
        "approval",
        "publish",
        "portal",
    ]
    # "" is the response owner; the approval goes to the PCC named in settings, publishing
    # to the website team member (people.website, else the owner).
    assert [s.assignee for s in DEFAULT_STAGES] == ["", "", "pcc", "website", ""]
    assert [(s.anchor, s.offset_days) for s in DEFAULT_STAGES] == [
        (Anchor.PUBLICATION, 7),
        (Anchor.DEADLINE, -21),
        (Anchor.DEADLINE, -10),
        (Anchor.DEADLINE, -1),
        (Anchor.DEADLINE, -1),
    ]


def test_stage_on_a_bank_holiday_moves_earlier() -> None:
    # Deadline 18 Sep 2023: deadline - 21 is the August bank holiday (Monday 28 Aug).
    published = date(2023, 7, 25)
    deadline = response_deadline(published, DeadlineRule.STATUTORY)
    assert deadline == date(2023, 9, 18)
    (draft,) = plan_stages(published, deadline, [spec(Anchor.DEADLINE, -21)])
    assert draft.due == date(2023, 8, 25)


def test_stage_over_christmas_moves_before_the_holidays() -> None:
    published = date(2023, 11, 1)
    deadline = response_deadline(published, DeadlineRule.STATUTORY)  # 26 Dec 2023
    (publish,) = plan_stages(published, deadline, [spec(Anchor.DEADLINE, -1)])
    assert publish.due == date(2023, 12, 22)


def test_never_after_the_deadline_nor_before_publication() -> None:
    late, early = plan_stages(
        SEED, SEED_DEADLINE, [spec(Anchor.PUBLICATION, 100), spec(Anchor.DEADLINE, -100)]
    )
    assert late.due == SEED_DEADLINE
    assert early.due == SEED


def test_before_publication_on_a_weekend_takes_the_first_working_day() -> None:
    saturday = date(2023, 7, 22)
    (stage,) = plan_stages(
        saturday, saturday.replace(month=9, day=15), [spec(Anchor.DEADLINE, -90)]
    )
    assert stage.due == date(2023, 7, 24)


def test_late_filing_moves_past_due_stages_from_the_filing_day() -> None:
    # Filed on Saturday 5 August: the Chief Constable stage (27 July) is already past.
    cc, draft = plan_stages(SEED, SEED_DEADLINE, DEFAULT_STAGES[:2], today=date(2023, 8, 5))
    assert cc.due == date(2023, 8, 8)  # the second working day after filing
    assert draft.due == date(2023, 8, 23)  # not yet due: unchanged


def test_a_stage_due_on_the_filing_day_is_rebased_too() -> None:
    # The morning after intake nothing may be overdue: a stage due on the filing day (or
    # the next) is due two working days after it.
    (triage,) = plan_stages(
        date(2023, 8, 1), date(2023, 9, 25), [spec(Anchor.PUBLICATION, 7)], today=date(2023, 8, 8)
    )
    assert triage.due == date(2023, 8, 10)


def test_late_stages_are_spread_over_the_working_days_left() -> None:
    # Norfolk PEEL (deadline Thursday 7 September) filed on Wednesday 30 August: the
    # Chief Constable, draft and approval stages are past; publication and the HMICFRS
    # portal (both 6 Sep) are not.
    deadline = date(2023, 9, 7)
    planned = plan_stages(date(2023, 7, 14), deadline, DEFAULT_STAGES, today=date(2023, 8, 30))
    assert [p.due for p in planned] == [
        date(2023, 9, 1),
        date(2023, 9, 4),
        date(2023, 9, 5),
        date(2023, 9, 6),
        date(2023, 9, 6),
    ]
    # Filed two days before the deadline: fewer days than stages, so they start at once.
    planned = plan_stages(date(2023, 7, 14), deadline, DEFAULT_STAGES, today=date(2023, 9, 5))
    dues = [p.due for p in planned]
    assert dues == sorted(dues)
    assert dues[0] == date(2023, 9, 5)
    assert dues[-1] == deadline


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=60),
)
def test_rebased_stages_stay_in_order_within_the_period(published: date, filed_after: int) -> None:
    deadline = response_deadline(published, DeadlineRule.STATUTORY)
    today = published + timedelta(days=filed_after)
    planned = plan_stages(published, deadline, DEFAULT_STAGES, today=today)
    dues = [p.due for p in planned]
    assert dues == sorted(dues)
    for due in dues:
        assert published <= due <= deadline
        if today <= deadline:
            assert due >= today


def test_deadline_before_publication_is_refused() -> None:
    with pytest.raises(ValueError, match="before publication"):
        plan_stages(SEED, date(2023, 7, 1), DEFAULT_STAGES)


def test_stage_spec_rejects_unknown_role_and_coerces_anchor() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        StageSpec(
            key="x",
            title="t",
            bucket="b",
            assignee="",
            anchor=Anchor.DEADLINE,
            offset_days=0,
            role="lunch",
        )
    coerced = StageSpec(
        key="x",
        title="t",
        bucket="b",
        assignee="",
        anchor="deadline",  # type: ignore[arg-type]
        offset_days=0,
    )
    assert coerced.anchor is Anchor.DEADLINE


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2023, 9, 12), True),
        (date(2023, 9, 13), True),  # the deadline day itself is still in time
        (date(2023, 9, 14), False),
    ],
)
def test_first_run_rule(today: date, expected: bool) -> None:
    assert should_file(SEED_DEADLINE, today) is expected


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from(list(DeadlineRule)),
)
def test_default_stages_land_on_working_days_within_the_period(
    published: date, rule: DeadlineRule
) -> None:
    deadline = response_deadline(published, rule)
    planned = plan_stages(published, deadline, DEFAULT_STAGES)
    for stage in planned:
        assert published <= stage.due <= deadline
        assert is_working_day(stage.due)
    dues = [p.due for p in planned]
    assert dues == sorted(dues)
