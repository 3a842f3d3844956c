"""The office mailbox's calendar: all-day events found again by our key.

Each event carries its key (``<publication key>#<stage>``) in a single-value extended
property and is looked up with ``$filter=singleValueExtendedProperties/Any(...)``; the
property comes back only when ``$expand`` names it. A create carries a ``transactionId``
made from the key and the day, so Outlook can drop a repeated POST; a create whose answer
was lost is still looked up before anything else (Outlook documents no window for it).

All-day events run midnight to midnight in one zone and end at midnight of the next day;
Outlook answers them midnight to midnight whatever zone is asked for, so the date part of
``start`` is the event's day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from automation.errors import GraphError, OutcomeUnknownError
from automation.graph.batch import Op
from automation.graph.client import BatchResponse, GraphClient
from automation.graph.sharepoint import odata_quote

__all__ = ["EVENT_PROPERTY_ID", "CalendarEvent", "EventSpec", "OfficeCalendar"]

log = logging.getLogger(__name__)

EVENT_PROPERTY_ID = "String {8f0e6a52-3c1d-4b7e-9a55-6d2f1c7b0e34} Name Section55EventKey"
"""The single-value extended property holding an event's key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSpec:
    """An all-day event as the service wants it."""

    key: str
    subject: str
    day: dt.date
    body_html: str = ""
    category: str = "Section 55"


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarEvent:
    """An event of ours as read back."""

    key: str
    event_id: str
    subject: str
    day: dt.date | None


def transaction_id(spec: EventSpec) -> str:
    """Deterministic per key and day: a repeated create of the same event is the same POST."""
    digest = hashlib.sha256(f"{spec.key}|{spec.day.isoformat()}".encode()).hexdigest()
    return f"s55-{digest[:40]}"


def _day(value: object) -> dt.date | None:
    if not isinstance(value, dict):
        return None
    try:
        return dt.date.fromisoformat(str(value.get("dateTime") or "")[:10])
    except ValueError:
        return None


def _event(raw: Mapping[str, Any]) -> CalendarEvent | None:
    props = raw.get("singleValueExtendedProperties") or []
    key = next(
        (
            str(p.get("value") or "")
            for p in props
            if isinstance(p, dict)
            and str(p.get("id", "")).casefold() == EVENT_PROPERTY_ID.casefold()
        ),
        "",
    )
    if not key:
        return None
    return CalendarEvent(
        key=key,
        event_id=str(raw.get("id") or ""),
        subject=str(raw.get("subject") or ""),
        day=_day(raw.get("start")),
    )


def _events(answer: BatchResponse) -> list[CalendarEvent]:
    body = answer.body if isinstance(answer.body, dict) else {}
    found = [_event(raw) for raw in body.get("value", []) if isinstance(raw, dict)]
    return [event for event in found if event is not None]


class OfficeCalendar:
    """The OfficeCalendar port on one mailbox's default calendar."""

    def __init__(self, client: GraphClient, mailbox: str, *, time_zone: str) -> None:
        """``time_zone``: the zone all-day events are written in (an Outlook zone name)."""
        if not mailbox:
            raise ValueError("a mailbox is required")
        self._client = client
        self._base = f"/users/{quote(mailbox, safe='@')}/events"
        self._zone = time_zone

    def _body(self, spec: EventSpec) -> dict[str, Any]:
        day_after = spec.day + dt.timedelta(days=1)
        return {
            "subject": spec.subject,
            "body": {"contentType": "HTML", "content": spec.body_html},
            "isAllDay": True,
            "start": {"dateTime": f"{spec.day.isoformat()}T00:00:00", "timeZone": self._zone},
            "end": {"dateTime": f"{day_after.isoformat()}T00:00:00", "timeZone": self._zone},
            "showAs": "free",
            "isReminderOn": False,
            "categories": [spec.category] if spec.category else [],
            "singleValueExtendedProperties": [{"id": EVENT_PROPERTY_ID, "value": spec.key}],
        }

    def _find_op(self, key: str) -> Op[list[CalendarEvent]]:
        flt = (
            "singleValueExtendedProperties/Any(ep: ep/id eq "
            f"{odata_quote(EVENT_PROPERTY_ID)} and ep/value eq {odata_quote(key)})"
        )
        expand = f"singleValueExtendedProperties($filter=id eq {odata_quote(EVENT_PROPERTY_ID)})"
        query = "&".join(
            f"{name}={quote(value, safe='')}"
            for name, value in (
                ("$filter", flt),
                ("$expand", expand),
                ("$select", "id,subject,start,end,isAllDay"),
            )
        )
        return Op("GET", f"{self._base}?{query}", _events)

    def find(self, keys: Iterable[str]) -> dict[str, list[CalendarEvent]]:
        """Our events by key (one ``$batch`` round trip per 20 keys); a key may have several."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, list[CalendarEvent]] = {}
        for key, outcome in zip(
            wanted, self._client.run_all([self._find_op(k) for k in wanted]), strict=True
        ):
            out[key] = [event for event in outcome.get() if event.key == key]
        return out

    def create(self, specs: Iterable[EventSpec]) -> dict[str, CalendarEvent | GraphError]:
        """Create events (one round trip per 20); an unknown outcome is looked up by key.

        Returns, per key, the event or the error (an error for one leaves the others done).
        """
        wanted = list(specs)
        ops = [
            Op(
                "POST",
                self._base,
                lambda answer: _event(answer.body if isinstance(answer.body, dict) else {}),
                body={**self._body(spec), "transactionId": transaction_id(spec)},
                idempotent=False,
            )
            for spec in wanted
        ]
        out: dict[str, CalendarEvent | GraphError] = {}
        unknown: list[EventSpec] = []
        for spec, outcome in zip(wanted, self._client.run_all(ops), strict=True):
            if isinstance(outcome.error, OutcomeUnknownError):
                unknown.append(spec)
            elif outcome.error is not None:
                out[spec.key] = outcome.error
            else:
                made = outcome.value
                out[spec.key] = made or CalendarEvent(
                    key=spec.key, event_id="", subject=spec.subject, day=spec.day
                )
        if unknown:
            found = self.find(spec.key for spec in unknown)
            for spec in unknown:
                events = found.get(spec.key) or []
                out[spec.key] = (
                    events[0]
                    if events
                    else OutcomeUnknownError(
                        "event create: outcome unknown and not found yet",
                        method="POST",
                        url=self._base,
                    )
                )
        return out

    def move(self, event_id: str, spec: EventSpec) -> None:
        """Set the event's day, subject and body (the key stays; a repeat is harmless)."""
        body = self._body(spec)
        body.pop("singleValueExtendedProperties")
        self._client.request("PATCH", f"{self._base}/{quote(event_id, safe='')}", json=body)

    def delete(self, event_id: str) -> None:
        """Delete the event (already gone, 404, is fine)."""
        self._client.request("DELETE", f"{self._base}/{quote(event_id, safe='')}", ok={404})
