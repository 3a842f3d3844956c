"""Reading an event from a create or PATCH body, by the rules of Outlook's event resource.

The rows of docs/sandbox-rules.md (C4, C5 and C8) give the sources: the event resource page (the
writable properties, ``isAllDay`` "start and end time must be set to midnight and be in the
same time zone", ``transactionId``), the dateTimeTimeZone page (:mod:`event_times`), and the
field report of ``400 ErrorPropertyValidationFailure`` "At least one property failed
validation." for times Outlook refuses (microsoft-graph-docs#19286).
"""

from __future__ import annotations

import base64
import html
import re
import secrets
from typing import Any
from urllib.parse import quote

from automation.sandbox import event_times, extended_properties
from automation.sandbox.framework import ApiError, now_iso

# Event properties a client may set (event resource page); the read-only rest of the CSDL
# type is accepted and ignored, any other name is refused (stricter than the open type).
WRITABLE = frozenset(
    {
        "subject",
        "body",
        "start",
        "end",
        "isAllDay",
        "showAs",
        "importance",
        "sensitivity",
        "categories",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "location",
        "attendees",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
        "transactionId",
        "singleValueExtendedProperties",
    }
)
READ_ONLY = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "bodyPreview",
        "hasAttachments",
        "iCalUId",
        "isCancelled",
        "isDraft",
        "isOrganizer",
        "isOnlineMeeting",
        "locations",
        "onlineMeeting",
        "onlineMeetingProvider",
        "onlineMeetingUrl",
        "organizer",
        "originalEndTimeZone",
        "originalStart",
        "originalStartTimeZone",
        "recurrence",
        "responseStatus",
        "seriesMasterId",
        "type",
        "webLink",
        "cancelledOccurrences",
    }
)
CHOICES = {
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
}
_NEVER = "0001-01-01T00:00:00Z"
INVALID = "At least one property failed validation."


def outlook_id() -> str:
    """A new Outlook item id (events and calendars)."""
    return "AAMkAG" + secrets.token_urlsafe(96) + "AAA="


def change_key() -> str:
    """A new changeKey (the weak ETag of an Outlook item)."""
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def checked_names(body: dict[str, Any]) -> None:
    """400 ``RequestBodyRead`` for a property the event type does not have."""
    for name in body:
        if name.startswith("@") or name in WRITABLE or name in READ_ONLY:
            continue
        raise ApiError(
            400,
            "RequestBodyRead",
            f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure "
            "to only use property names that are defined by the type.",
        )


def _boolean(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise ApiError(400, "RequestBodyRead", f"Cannot convert the literal '{value}' to Edm.Boolean.")


def _times(start_raw: object, end_raw: object, all_day: bool) -> dict[str, Any]:
    """The stored time fields of an event; 400 when the times break Outlook's rules."""
    if start_raw is None or end_raw is None:
        raise ApiError(400, "ErrorInvalidRequest", "An event needs both start and end.")
    start = event_times.read_time(start_raw, "start")
    end = event_times.read_time(end_raw, "end")
    out: dict[str, Any] = {
        "_start_raw": {"dateTime": start.text, "timeZone": start.zone_name},
        "_end_raw": {"dateTime": end.text, "timeZone": end.zone_name},
        "originalStartTimeZone": start.zone_name,
        "originalEndTimeZone": end.zone_name,
        "isAllDay": all_day,
    }
    if all_day:
        same_zone = start.zone.key == end.zone.key
        days = (end.local.date() - start.local.date()).days
        if not (start.at_midnight and end.at_midnight and same_zone and days >= 1):
            raise ApiError(400, "ErrorPropertyValidationFailure", INVALID)
        out["_day_start"] = start.local.date().isoformat()
        out["_day_end"] = end.local.date().isoformat()
        out["_start"] = out["_end"] = None
    else:
        if end.instant < start.instant:
            raise ApiError(400, "ErrorPropertyValidationFailure", INVALID)
        out["_start"] = start.instant.isoformat()
        out["_end"] = end.instant.isoformat()
        out["_day_start"] = out["_day_end"] = None
    return out


def _body(raw: object) -> tuple[dict[str, str], str]:
    """(the stored HTML itemBody, its text preview)."""
    if raw is None:
        raw = {"contentType": "text", "content": ""}
    if not isinstance(raw, dict):
        raise ApiError(400, "RequestBodyRead", "'body' must be an itemBody.")
    kind = str(raw.get("contentType") or "text").lower()
    if kind not in {"text", "html"}:
        raise ApiError(400, "RequestBodyRead", f"The value '{kind}' is not a valid bodyType.")
    content = str(raw.get("content") or "")
    inner = content if kind == "html" else html.escape(content).replace("\n", "<br>\r\n")
    if "<html" not in inner.lower():
        inner = f"<html>\r\n<head>\r\n</head>\r\n<body>\r\n{inner}\r\n</body>\r\n</html>\r\n"
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", inner)
    preview = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())[:255]
    return {"contentType": "html", "content": inner}, preview


def _location(raw: object) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name = raw.get("displayName") if isinstance(raw, dict) else None
    if raw is not None and not isinstance(raw, dict):
        raise ApiError(400, "RequestBodyRead", "'location' must be a location.")
    if not name:
        empty = {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
        return {**empty, "address": {}, "coordinates": {}}, []
    one = {"displayName": str(name), "locationType": "default"}
    return (
        {**one, "uniqueId": str(name), "uniqueIdType": "private"},
        [{**one, "uniqueIdType": "unknown"}],
    )


def _attendees(raw: object) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "RequestBodyRead", "'attendees' must be a collection.")
    out: list[dict[str, Any]] = []
    for entry in raw:
        address = entry.get("emailAddress") if isinstance(entry, dict) else None
        if not isinstance(address, dict) or not isinstance(address.get("address"), str):
            raise ApiError(400, "ErrorInvalidRecipients", "An attendee has no email address.")
        kind = str(entry.get("type") or "required").lower()
        if kind not in {"required", "optional", "resource"}:
            raise ApiError(400, "RequestBodyRead", f"The value '{kind}' is not an attendeeType.")
        out.append(
            {
                "type": kind,
                "status": {"response": "none", "time": _NEVER},
                "emailAddress": {
                    "name": str(address.get("name") or address["address"]),
                    "address": address["address"],
                },
            }
        )
    return out


def apply(event: dict[str, Any], body: dict[str, Any]) -> None:
    """Set the writable properties ``body`` names (create and PATCH alike)."""
    for name, allowed in CHOICES.items():
        if name in body:
            value = str(body[name] or "")
            match = next((choice for choice in allowed if choice.lower() == value.lower()), None)
            if match is None:
                raise ApiError(
                    400, "RequestBodyRead", f"The value '{value}' is not valid for '{name}'."
                )
            event[name] = match
    for name in ("isReminderOn", "responseRequested", "allowNewTimeProposals", "hideAttendees"):
        flag = _boolean(body, name)
        if flag is not None:
            event[name] = flag
    if "subject" in body:
        event["subject"] = str(body["subject"] or "")
    if "body" in body:
        event["body"], event["bodyPreview"] = _body(body["body"])
    if "categories" in body:
        categories = body["categories"] or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ApiError(400, "RequestBodyRead", "'categories' must be a collection of strings.")
        event["categories"] = list(categories)
    if "reminderMinutesBeforeStart" in body:
        minutes = body["reminderMinutesBeforeStart"]
        if not isinstance(minutes, int) or isinstance(minutes, bool):
            raise ApiError(400, "RequestBodyRead", "'reminderMinutesBeforeStart' is an Edm.Int32.")
        event["reminderMinutesBeforeStart"] = minutes
    if "location" in body:
        event["location"], event["locations"] = _location(body["location"])
    if "attendees" in body:
        event["attendees"] = _attendees(body["attendees"])
    if "singleValueExtendedProperties" in body:
        updates = extended_properties.validated(body["singleValueExtendedProperties"])
        event["singleValueExtendedProperties"] = extended_properties.merged(
            event.get("singleValueExtendedProperties") or [], updates
        )
    if {"start", "end", "isAllDay"} & set(body):
        all_day = _boolean(body, "isAllDay")
        event.update(
            _times(
                body.get("start", event.get("_start_raw")),
                body.get("end", event.get("_end_raw")),
                bool(event.get("isAllDay")) if all_day is None else all_day,
            )
        )


def new_event(
    user: dict[str, Any], body: dict[str, Any], transaction: str | None
) -> dict[str, Any]:
    """A new event record from a create request's body (400 on any broken rule)."""
    stamp = now_iso()
    event_id = outlook_id()
    address = str(user.get("mail") or user["userPrincipalName"])
    organizer = {"name": user.get("displayName") or address, "address": address}
    event: dict[str, Any] = {
        "id": event_id,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": change_key(),
        "categories": [],
        "transactionId": transaction,
        "iCalUId": "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(36).upper(),
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": "",
        "bodyPreview": "",
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": True,
        "seriesMasterId": None,
        "showAs": "busy",
        "type": "singleInstance",
        "webLink": (
            f"https://outlook.office365.com/owa/?itemid={quote(event_id, safe='')}"
            "&exvsurl=1&path=/calendar/item"
        ),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "recurrence": None,
        "onlineMeeting": None,
        "responseStatus": {"response": "organizer", "time": _NEVER},
        "body": _body(None)[0],
        "attendees": [],
        "organizer": {"emailAddress": organizer},
        "singleValueExtendedProperties": [],
    }
    event["location"], event["locations"] = _location(None)
    apply(event, {"isAllDay": False, **body})
    return event
