"""Outlook event times: ``dateTimeTimeZone`` values, the time zones Graph names, and
``Prefer: outlook.timezone``.

Sources (docs/sandbox-rules.md, rows C2, C3 and C5):

* dateTimeTimeZone resource page: ``dateTime`` is ``<date>T<time>``; ``timeZone`` is any
  Windows time zone name or one of a listed set of IANA names (:data:`IANA_ZONES`).
* An unknown zone is ``400 TimeZoneNotSupportedException`` "A valid TimeZone value must be
  specified. The following TimeZone value is not supported: '…'." (microsoft-graph-docs#4758
  on create; msgraph-sample-rubyrailsapp#195 on a read with a bad Prefer zone).
* user-list-events page: reads answer ``start``/``end`` in UTC unless ``Prefer:
  outlook.timezone="…"`` names another zone, and confirm it with ``Preference-Applied``; the
  create page's example shows the same header shaping a POST answer.
* All-day events are answered midnight to midnight whatever the zone asked for (Microsoft's
  jasonjoh on microsoft-graph-docs#1802 and #6003: "by design").

Windows names are many; the sandbox knows the common ones (:data:`WINDOWS_ZONES`) and refuses
the rest like an unknown zone, which is stricter than Graph.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from automation.sandbox.framework import ApiError, Request

# The IANA names the dateTimeTimeZone page lists (its "Europe/Kyiv (Kiev)" style entries
# are given under the name zoneinfo knows, plus the older spelling).
IANA_ZONES = frozenset(
    (
        "Etc/GMT+12",
        "Etc/GMT+11",
        "Pacific/Honolulu",
        "America/Anchorage",
        "America/Santa_Isabel",
        "America/Los_Angeles",
        "America/Phoenix",
        "America/Chihuahua",
        "America/Denver",
        "America/Guatemala",
        "America/Chicago",
        "America/Mexico_City",
        "America/Regina",
        "America/Bogota",
        "America/New_York",
        "America/Indiana/Indianapolis",
        "America/Caracas",
        "America/Asuncion",
        "America/Halifax",
        "America/Cuiaba",
        "America/La_Paz",
        "America/Santiago",
        "America/St_Johns",
        "America/Sao_Paulo",
        "America/Argentina/Buenos_Aires",
        "America/Cayenne",
        "America/Godthab",
        "America/Montevideo",
        "America/Bahia",
        "Etc/GMT+2",
        "Atlantic/Azores",
        "Atlantic/Cape_Verde",
        "Africa/Casablanca",
        "Etc/GMT",
        "Europe/London",
        "Atlantic/Reykjavik",
        "Europe/Berlin",
        "Europe/Budapest",
        "Europe/Paris",
        "Europe/Warsaw",
        "Africa/Lagos",
        "Africa/Windhoek",
        "Europe/Bucharest",
        "Asia/Beirut",
        "Africa/Cairo",
        "Asia/Damascus",
        "Africa/Johannesburg",
        "Europe/Kyiv",
        "Europe/Kiev",
        "Europe/Istanbul",
        "Asia/Jerusalem",
        "Asia/Amman",
        "Asia/Baghdad",
        "Europe/Kaliningrad",
        "Asia/Riyadh",
        "Africa/Nairobi",
        "Asia/Tehran",
        "Asia/Dubai",
        "Asia/Baku",
        "Europe/Moscow",
        "Indian/Mauritius",
        "Asia/Tbilisi",
        "Asia/Yerevan",
        "Asia/Kabul",
        "Asia/Karachi",
        "Asia/Tashkent",
        "Asia/Kolkata",
        "Asia/Colombo",
        "Asia/Kathmandu",
        "Asia/Almaty",
        "Asia/Dhaka",
        "Asia/Yekaterinburg",
        "Asia/Yangon",
        "Asia/Rangoon",
        "Asia/Bangkok",
        "Asia/Novosibirsk",
        "Asia/Shanghai",
        "Asia/Krasnoyarsk",
        "Asia/Singapore",
        "Australia/Perth",
        "Asia/Taipei",
        "Asia/Ulaanbaatar",
        "Asia/Irkutsk",
        "Asia/Tokyo",
        "Asia/Seoul",
        "Australia/Adelaide",
        "Australia/Darwin",
        "Australia/Brisbane",
        "Australia/Sydney",
        "Pacific/Port_Moresby",
        "Australia/Hobart",
        "Asia/Yakutsk",
        "Pacific/Guadalcanal",
        "Asia/Vladivostok",
        "Pacific/Auckland",
        "Etc/GMT-12",
        "Pacific/Fiji",
        "Asia/Magadan",
        "Pacific/Tongatapu",
        "Pacific/Apia",
        "Pacific/Kiritimati",
    )
)

# Windows time zone ids (as Windows spells them) the sandbox maps to a zone.
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "GTB Standard Time": "Europe/Bucharest",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}

TICKS = ".0000000"  # Outlook writes seven fractional digits
_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?:T(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d{1,7})?)?)?$"
)
_PREFER_ZONE = re.compile(r"(?:^|,)\s*outlook\.timezone\s*=\s*(?:\"([^\"]*)\"|([^,\s]*))", re.I)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventTime:
    """One ``dateTimeTimeZone`` as read: the wall-clock time and the zone it was given in."""

    text: str  # ``dateTime`` as sent
    local: dt.datetime  # the wall-clock time, aware in ``zone``
    zone_name: str  # as the client wrote it
    zone: ZoneInfo

    @property
    def instant(self) -> dt.datetime:
        """The aware UTC moment (fold 0 at an ambiguous wall-clock time)."""
        return self.local.astimezone(dt.UTC)

    @property
    def at_midnight(self) -> bool:
        """Whether the wall-clock time is 00:00:00."""
        return self.local.time() == dt.time(0, 0)


def zone_for(name: str) -> ZoneInfo:
    """The zone for a Graph time zone name; 400 ``TimeZoneNotSupportedException`` otherwise."""
    key = WINDOWS_ZONES.get(name) or (name if name in IANA_ZONES else None)
    if key is None:
        raise ApiError(
            400,
            "TimeZoneNotSupportedException",
            "A valid TimeZone value must be specified. "
            f"The following TimeZone value is not supported: '{name}'.",
        )
    return ZoneInfo(key)


def read_time(raw: object, field: str) -> EventTime:
    """A request's ``start``/``end``; 400 when it is not a readable dateTimeTimeZone.

    A missing ``timeZone`` is refused like an unknown one (the zone is "" then); a
    ``dateTime`` with an offset or ``Z`` is refused as malformed, because the zone must come
    from ``timeZone`` alone (the sandbox's stricter reading).
    """
    if not isinstance(raw, dict):
        raise ApiError(400, "RequestBodyRead", f"'{field}' must be a dateTimeTimeZone object.")
    text = raw.get("dateTime")
    found = _DATE_TIME.match(text) if isinstance(text, str) else None
    if found is None:
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            f"The value of '{field}.dateTime' is not a valid date and time: '{text}'.",
        )
    zone_name = raw.get("timeZone")
    zone = zone_for(zone_name if isinstance(zone_name, str) else "")
    try:
        year, month, day = (int(part) for part in found["date"].split("-"))
        local = dt.datetime(
            year,
            month,
            day,
            int(found["h"] or 0),
            int(found["m"] or 0),
            int(found["s"] or 0),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            f"The value of '{field}.dateTime' is not a valid date and time: '{text}'.",
        ) from exc
    return EventTime(text=str(text), local=local, zone_name=str(zone_name), zone=zone)


def preferred_zone(request: Request) -> str | None:
    """The zone named by ``Prefer: outlook.timezone``, checked; None when not asked."""
    header = str(request.headers.get("prefer") or "")
    found = _PREFER_ZONE.search(header)
    if found is None:
        return None
    name = found.group(1) if found.group(1) is not None else found.group(2)
    zone_for(name)
    return name


def preference_applied(zone_name: str | None) -> dict[str, str]:
    """The ``Preference-Applied`` header confirming the zone, when one was asked for."""
    return {} if zone_name is None else {"Preference-Applied": f'outlook.timezone="{zone_name}"'}


def shown(instant: dt.datetime, zone_name: str | None) -> dict[str, str]:
    """A timed event's ``start``/``end`` in the asked zone (UTC by default)."""
    if zone_name is None:
        return {"dateTime": instant.strftime("%Y-%m-%dT%H:%M:%S") + TICKS, "timeZone": "UTC"}
    local = instant.astimezone(zone_for(zone_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S") + TICKS, "timeZone": zone_name}


def shown_date(day: dt.date, zone_name: str | None) -> dict[str, str]:
    """An all-day event's bound: midnight of its date, labelled with the asked zone."""
    return {"dateTime": day.isoformat() + "T00:00:00" + TICKS, "timeZone": zone_name or "UTC"}
