"""The one calendar of the service: the Europe/London zone, stamps and long dates.

Every module that needs "today in London", "the London date of this UTC stamp" or
"20 July 2023" takes it from here, so the rules (reports go live at 00:01 UK time, which
is 23:01 GMT the day before in summer) are written once.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
"""The zone every calendar decision is taken in (publication days, deadlines, reminders)."""

UTC_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def parse_stamp(stamp: object) -> dt.datetime | None:
    """An aware datetime from an ISO 8601 stamp (``Z`` or an offset; naive means UTC).

    Returns None for an empty or unreadable value, so a hand-edited column never crashes a
    pass.
    """
    if isinstance(stamp, dt.datetime):
        moment = stamp
    else:
        text = str(stamp or "").strip()
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def london_date(stamp: object) -> dt.date | None:
    """The Europe/London calendar date of a stamp (None when empty or unreadable).

    A bare ``YYYY-MM-DD`` is taken as that calendar date.
    """
    if isinstance(stamp, str) and len(stamp.strip()) == 10:
        try:
            return dt.date.fromisoformat(stamp.strip())
        except ValueError:
            return None
    moment = parse_stamp(stamp)
    return None if moment is None else moment.astimezone(LONDON).date()


def london_now(now: dt.datetime | None = None) -> dt.datetime:
    """``now`` (or the clock) in Europe/London."""
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(LONDON)


def london_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Europe/London."""
    return london_now(now).date()


def london_midnight_utc(day: dt.date) -> str:
    """Midnight Europe/London at the start of ``day``, as a UTC stamp."""
    return utc_stamp(dt.datetime.combine(day, dt.time(0, 0), tzinfo=LONDON))


def at_london(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """An aware datetime: ``hour:minute`` London time on ``day``."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


def utc_stamp(moment: dt.datetime) -> str:
    """``2023-09-12T23:00:00Z``: an aware moment in UTC, to the second."""
    if moment.tzinfo is None:
        raise ValueError("utc_stamp needs an aware datetime")
    return moment.astimezone(dt.UTC).strftime(UTC_STAMP_FORMAT)


def long_date(day: dt.date) -> str:
    """``20 July 2023``: no leading zero, independent of locale and platform."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
