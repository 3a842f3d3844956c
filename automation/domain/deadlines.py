"""The Section 55 response deadline, the day count, and working days in England and Wales."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays

PERIOD_DAYS = 56
"""Police Act 1996 s.55(5A): the period of 56 days beginning with the day of publication."""


class DeadlineRule(StrEnum):
    """How the last day of the response period is counted."""

    STATUTORY = "statutory"
    """Publication day is day 1, so the last day is publication + 55 days."""
    PUBLICATION_PLUS_56 = "publication_plus_56"
    """The convention in some templates: publication + 56 days (one day later)."""


def response_deadline(published_on: date, rule: DeadlineRule) -> date:
    """The last day on which the response may be published.

    The deadline does not move for weekends or bank holidays.
    """
    rule = DeadlineRule(rule)
    if rule is DeadlineRule.STATUTORY:
        return published_on + timedelta(days=PERIOD_DAYS - 1)
    return published_on + timedelta(days=PERIOD_DAYS)


def day_of_period(published_on: date, today: date) -> int:
    """Which day of the response period ``today`` is; the publication day is day 1.

    Days before publication give 0 or less; days after the period give more than 56.
    """
    return (today - published_on).days + 1


def deadline_rule_label(rule: DeadlineRule) -> str:
    """A sentence for the draft and the tracker saying how the deadline was counted."""
    rule = DeadlineRule(rule)
    if rule is DeadlineRule.STATUTORY:
        return (
            "Deadline counted as the last day of the 56-day period beginning with the day of "
            "publication (publication date + 55 days), per section 55(5A) of the Police Act 1996."
        )
    return (
        "Deadline counted as 56 days after the day of publication (publication date + 56 days), "
        "one day later than the statutory last day."
    )


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays of one year (a pure table lookup, built on demand)."""
    calendar = holidays.country_holidays("GB", subdiv="ENG", years=year)
    return frozenset(day for day in calendar if day.year == year)


def is_bank_holiday(d: date) -> bool:
    """True if ``d`` is a bank holiday in England and Wales (including substitute days)."""
    return d in _bank_holidays(d.year)


def is_working_day(d: date) -> bool:
    """True for Monday to Friday that is not an England and Wales bank holiday."""
    return d.weekday() < 5 and not is_bank_holiday(d)


def previous_working_day(d: date) -> date:
    """``d`` itself if it is a working day, otherwise the nearest working day before it."""
    while not is_working_day(d):
        d -= timedelta(days=1)
    return d


def next_working_day(d: date) -> date:
    """``d`` itself if it is a working day, otherwise the nearest working day after it."""
    while not is_working_day(d):
        d += timedelta(days=1)
    return d
