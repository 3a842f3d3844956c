"""Deadlines, the day count and England and Wales working days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.domain import (
    DeadlineRule,
    day_of_period,
    deadline_rule_label,
    is_bank_holiday,
    is_working_day,
    next_working_day,
    previous_working_day,
    response_deadline,
)

SEED = date(2023, 7, 20)


def test_seed_statutory_deadline_is_publication_plus_55() -> None:
    assert response_deadline(SEED, DeadlineRule.STATUTORY) == date(2023, 9, 13)


def test_seed_plus_56_deadline_matches_the_norfolk_template() -> None:
    assert response_deadline(SEED, DeadlineRule.PUBLICATION_PLUS_56) == date(2023, 9, 14)


def test_rule_accepts_its_setting_string() -> None:
    assert response_deadline(SEED, DeadlineRule("publication_plus_56")) == date(2023, 9, 14)


def test_deadline_does_not_move_for_a_weekend() -> None:
    # 1 July 2023 + 55 days = Saturday 26 August 2023: it stays a Saturday.
    deadline = response_deadline(date(2023, 7, 2), DeadlineRule.STATUTORY)
    assert deadline == date(2023, 8, 26)
    assert deadline.weekday() == 5


@pytest.mark.parametrize(
    ("today", "day"),
    [
        (date(2023, 7, 20), 1),
        (date(2023, 7, 21), 2),
        (date(2023, 9, 13), 56),
        (date(2023, 9, 14), 57),
        (date(2023, 7, 19), 0),
    ],
)
def test_day_of_period_counts_publication_day_as_day_one(today: date, day: int) -> None:
    assert day_of_period(SEED, today) == day


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 12, 26), date(2023, 12, 22)),  # Boxing Day, Christmas Day, weekend
        (date(2023, 12, 25), date(2023, 12, 22)),
        (date(2022, 12, 27), date(2022, 12, 23)),  # substitute day for Christmas on a Sunday
        (date(2023, 4, 10), date(2023, 4, 6)),  # Easter Monday, weekend, Good Friday
        (date(2023, 4, 7), date(2023, 4, 6)),
        (date(2023, 8, 28), date(2023, 8, 25)),  # late summer bank holiday
        (date(2023, 5, 8), date(2023, 5, 5)),  # coronation bank holiday
        (date(2023, 9, 3), date(2023, 9, 1)),  # plain Sunday
        (date(2023, 9, 13), date(2023, 9, 13)),  # a working day stays put
    ],
)
def test_previous_working_day(day: date, expected: date) -> None:
    assert previous_working_day(day) == expected


def test_next_working_day_over_easter() -> None:
    assert next_working_day(date(2023, 4, 7)) == date(2023, 4, 11)


def test_bank_holidays_are_england_and_wales_not_scotland() -> None:
    assert is_bank_holiday(date(2023, 8, 28))
    assert not is_bank_holiday(date(2023, 8, 7))  # Scottish summer bank holiday only
    assert not is_bank_holiday(date(2024, 1, 2))  # Scottish 2 January only
    assert not is_working_day(date(2024, 12, 25))
    assert is_working_day(date(2024, 12, 27))


def test_labels_name_the_convention() -> None:
    statutory = deadline_rule_label(DeadlineRule.STATUTORY)
    plus_56 = deadline_rule_label(DeadlineRule.PUBLICATION_PLUS_56)
    assert "+ 55 days" in statutory
    assert "section 55" in statutory
    assert "+ 56 days" in plus_56
    assert statutory != plus_56


@given(st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)))
def test_previous_working_day_is_the_nearest_working_day_on_or_before(day: date) -> None:
    result = previous_working_day(day)
    assert result <= day
    assert is_working_day(result)
    gap = result + timedelta(days=1)
    while gap <= day:
        assert not is_working_day(gap)
        gap += timedelta(days=1)
