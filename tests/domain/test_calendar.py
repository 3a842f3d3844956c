"""The one calendar: London dates of UTC stamps, long dates, stamps."""

from __future__ import annotations

import datetime as dt

import pytest

from automation.domain.calendar import (
    LONDON,
    at_london,
    london_date,
    london_midnight_utc,
    london_today,
    long_date,
    utc_stamp,
)
from automation.domain.text import shorten


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2023-09-12T23:00:00Z", dt.date(2023, 9, 13)),  # BST: 23:00 UTC is the next day
        ("2023-12-12T23:00:00Z", dt.date(2023, 12, 12)),  # GMT
        ("2023-07-19T23:01:00+00:00", dt.date(2023, 7, 20)),
        ("2023-07-20", dt.date(2023, 7, 20)),
        ("2023-07-20T10:00:00", dt.date(2023, 7, 20)),  # naive is UTC
        ("", None),
        (None, None),
        ("not a date", None),
        ("2023-13-40", None),
    ],
)
def test_london_date(stamp: object, expected: dt.date | None) -> None:
    assert london_date(stamp) == expected


def test_long_date_is_locale_independent() -> None:
    assert long_date(dt.date(2023, 7, 20)) == "20 July 2023"
    assert long_date(dt.date(2024, 1, 1)) == "1 January 2024"


def test_stamps() -> None:
    assert london_midnight_utc(dt.date(2023, 9, 13)) == "2023-09-12T23:00:00Z"
    assert london_midnight_utc(dt.date(2023, 12, 13)) == "2023-12-13T00:00:00Z"
    assert utc_stamp(at_london(dt.date(2023, 7, 20), 17)) == "2023-07-20T16:00:00Z"
    with pytest.raises(ValueError, match="aware"):
        utc_stamp(dt.datetime(2023, 1, 1))  # noqa: DTZ001 - the point of the test
    assert london_today(dt.datetime(2023, 7, 19, 23, 30, tzinfo=dt.UTC)) == dt.date(2023, 7, 20)
    assert LONDON.key == "Europe/London"


def test_shorten() -> None:
    assert shorten("abc", 3) == "abc"
    assert shorten("abcdef", 4) == "abc\u2026"
    assert shorten("ab  cdef", 4) == "ab\u2026"
    assert shorten("abc", 0) == ""
