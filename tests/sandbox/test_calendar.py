"""Sandbox calendar routes: the office mailbox's calendar and its events, by raw HTTP.

Each test names the rule of docs/sandbox-rules.md (C1-C10) it enforces.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from urllib.parse import quote

import pytest
import requests

from automation.sandbox.faults import OneOff
from automation.sandbox.routes.mail import allow_mailbox, deny_mailbox, restrict_mailboxes
from automation.sandbox.seed import user_email
from tests.conftest import RawGraph
from tests.test_doctor import set_app_roles

GUID = "8a1b6c3e-2f4d-4e5a-9b7c-0d1e2f3a4b5c"
PROP = f"String {{{GUID}}} Name Section55DeadlineKey"
LONDON = 'outlook.timezone="Europe/London"'


def events_path(raw: RawGraph, *, calendar: bool = False) -> str:
    middle = "/calendar" if calendar else ""
    return f"/users/{raw.info['mailbox']}{middle}/events"


def deadline(key: str, day: str = "2025-07-01", **extra: Any) -> dict[str, Any]:
    """An all-day deadline event in London, the shape the service will send."""
    following = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    body: dict[str, Any] = {
        "subject": f"Section 55 deadline {key}",
        "body": {"contentType": "text", "content": "Statutory deadline for the response."},
        "isAllDay": True,
        "start": {"dateTime": f"{day}T00:00:00", "timeZone": "Europe/London"},
        "end": {"dateTime": f"{following}T00:00:00", "timeZone": "Europe/London"},
        "showAs": "free",
        "singleValueExtendedProperties": [{"id": PROP, "value": key}],
    }
    body.update(extra)
    return body


def create(raw: RawGraph, body: dict[str, Any], **kwargs: Any) -> requests.Response:
    return raw.call("POST", events_path(raw), json=body, **kwargs)


def by_key(raw: RawGraph, key: str, *, op: str = "eq", **params: str) -> list[dict[str, Any]]:
    escaped = key.replace("'", "''")
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value {op} '{escaped}')"
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {"$filter": flt, **params}.items())
    answer = raw.call("GET", f"{events_path(raw)}?{query}")
    assert answer.status_code == 200, answer.text
    values: list[dict[str, Any]] = answer.json()["value"]
    return values


def error_code(answer: requests.Response) -> str:
    return str(answer.json()["error"]["code"])


# -- C1, C2: routes and shapes --------------------------------------------------------------
def test_calendar_and_event_round_trip(raw: RawGraph) -> None:
    mailbox = raw.info["mailbox"]
    calendar = raw.call("GET", f"/users/{mailbox}/calendar")
    assert calendar.status_code == 200
    assert calendar.json()["isDefaultCalendar"] is True
    assert calendar.json()["owner"]["address"] == mailbox

    timed = {
        "subject": "Panel meeting",
        "start": {"dateTime": "2025-07-01T09:00:00", "timeZone": "Europe/London"},
        "end": {"dateTime": "2025-07-01T10:30:00", "timeZone": "Europe/London"},
    }
    created = create(raw, timed)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["@odata.context"].endswith(f"/$metadata#users('{mailbox}')/events/$entity")
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    # No Prefer header: UTC (British Summer Time is UTC+1); the zone sent is kept as original.
    assert event["start"] == {"dateTime": "2025-07-01T08:00:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2025-07-01T09:30:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Europe/London"
    assert event["isAllDay"] is False
    assert event["type"] == "singleInstance"
    assert event["organizer"]["emailAddress"]["address"] == mailbox
    assert "transactionId" not in event  # only returned when an app set it

    one = f"{events_path(raw)}/{event['id']}"
    read = raw.call("GET", one, headers={"Prefer": LONDON})
    assert read.status_code == 200
    assert read.headers["Preference-Applied"] == LONDON
    assert read.json()["start"] == {
        "dateTime": "2025-07-01T09:00:00.0000000",
        "timeZone": "Europe/London",
    }

    moved = raw.call(
        "PATCH",
        one,
        json={
            "start": {"dateTime": "2025-07-02T14:00:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2025-07-02T15:00:00", "timeZone": "GMT Standard Time"},
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"]["dateTime"] == "2025-07-02T13:00:00.0000000"
    assert moved.json()["changeKey"] != event["changeKey"]

    also = raw.call("GET", events_path(raw, calendar=True)).json()["value"]
    assert [item["id"] for item in also] == [event["id"]]

    assert raw.call("DELETE", one).status_code == 204
    gone = raw.call("GET", one)
    assert gone.status_code == 404
    assert error_code(gone) == "ErrorItemNotFound"
    again = raw.call("DELETE", one)
    assert again.status_code == 404
    assert error_code(again) == "ErrorItemNotFound"


def test_all_day_event_is_midnight_to_midnight_in_any_zone(raw: RawGraph) -> None:
    """C3: all-day bounds are answered at midnight whatever zone Prefer names."""
    created = create(raw, deadline("2025-001"), headers={"Prefer": 'outlook.timezone="UTC"'})
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["isAllDay"] is True
    assert event["showAs"] == "free"
    assert event["start"] == {"dateTime": "2025-07-01T00:00:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2025-07-02T00:00:00.0000000", "timeZone": "UTC"}
    london = raw.call("GET", f"{events_path(raw)}/{event['id']}", headers={"Prefer": LONDON})
    assert london.json()["start"] == {
        "dateTime": "2025-07-01T00:00:00.0000000",
        "timeZone": "Europe/London",
    }
    assert "Statutory deadline" in event["bodyPreview"]
    assert event["body"]["contentType"] == "html"


@pytest.mark.parametrize(
    "change",
    [
        {"start": {"dateTime": "2025-07-01T09:00:00", "timeZone": "Europe/London"}},
        {"end": {"dateTime": "2025-07-02T00:00:00", "timeZone": "UTC"}},
        {"end": {"dateTime": "2025-07-01T00:00:00", "timeZone": "Europe/London"}},
    ],
    ids=["time", "zones", "length"],
)
def test_all_day_rules(raw: RawGraph, change: dict[str, Any]) -> None:
    """C4: all-day needs midnight start and end in one zone, at least a day apart."""
    refused = create(raw, deadline("k", **change))
    assert refused.status_code == 400
    assert error_code(refused) == "ErrorPropertyValidationFailure"
    assert raw.call("GET", events_path(raw)).json()["value"] == []


@pytest.mark.parametrize(
    ("start", "code"),
    [
        ({"dateTime": "tomorrow", "timeZone": "UTC"}, "ErrorInvalidRequest"),
        ({"dateTime": "2025-07-01T09:00:00Z", "timeZone": "UTC"}, "ErrorInvalidRequest"),
        ({"dateTime": "2025-02-30T09:00:00", "timeZone": "UTC"}, "ErrorInvalidRequest"),
        ({"dateTime": "2025-07-01T09:00:00"}, "TimeZoneNotSupportedException"),
        (
            {"dateTime": "2025-07-01T09:00:00", "timeZone": "Greenwich Mean Time"},
            "TimeZoneNotSupportedException",
        ),
        ("2025-07-01T09:00:00", "RequestBodyRead"),
        (None, "ErrorInvalidRequest"),
        ({"dateTime": "2025-07-01T11:00:00", "timeZone": "UTC"}, "ErrorPropertyValidationFailure"),
    ],
    ids=["words", "offset", "no-such-day", "no-zone", "gmt", "string", "missing", "after-end"],
)
def test_malformed_times_are_refused(raw: RawGraph, start: Any, code: str) -> None:
    """C5: a dateTimeTimeZone Outlook cannot read, or an end before the start, is 400."""
    body = {
        "subject": "Bad",
        "start": start,
        "end": {"dateTime": "2025-07-01T10:00:00", "timeZone": "UTC"},
    }
    if start is None:
        del body["start"]
    refused = create(raw, body)
    assert refused.status_code == 400
    assert error_code(refused) == code
    assert raw.call("GET", events_path(raw)).json()["value"] == []


def test_zone_names_prefer_header_and_unknown_properties(raw: RawGraph) -> None:
    """C5: Windows and listed IANA names are read; a bad Prefer zone or property is 400."""
    windows = create(
        raw,
        {
            "subject": "Windows zone",
            "start": {"dateTime": "2025-01-15T09:00:00.0000000", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2025-01-15T10:00:00", "timeZone": "Pacific Standard Time"},
        },
    )
    assert windows.status_code == 201, windows.text
    assert windows.json()["start"]["dateTime"] == "2025-01-15T09:00:00.0000000"
    assert windows.json()["end"]["dateTime"] == "2025-01-15T18:00:00.0000000"
    bad_prefer = raw.call(
        "GET", events_path(raw), headers={"Prefer": 'outlook.timezone="Mars/Olympus"'}
    )
    assert bad_prefer.status_code == 400
    assert error_code(bad_prefer) == "TimeZoneNotSupportedException"
    typo = create(raw, deadline("k", IsAllday=True))
    assert typo.status_code == 400
    assert error_code(typo) == "RequestBodyRead"


# -- C6: the key in an extended property -----------------------------------------------
def test_find_events_by_extended_property(raw: RawGraph) -> None:
    for key in ("2025-001#deadline", "2025-001#triage", "2025-002#deadline"):
        assert create(raw, deadline(key)).status_code == 201
    found = by_key(raw, "2025-001#DEADLINE")  # value case-insensitive
    assert [event["subject"] for event in found] == ["Section 55 deadline 2025-001#deadline"]
    assert "singleValueExtendedProperties" not in found[0]  # not without $expand
    others = by_key(raw, "2025-001#deadline", op="ne")
    assert len(others) == 2
    expand = f"singleValueExtendedProperties($filter=id eq '{PROP}')"
    shown = by_key(raw, "2025-002#deadline", **{"$expand": expand, "$select": "subject,start"})
    assert shown[0]["singleValueExtendedProperties"] == [{"id": PROP, "value": "2025-002#deadline"}]
    assert set(shown[0]) == {
        "@odata.etag",
        "id",
        "subject",
        "start",
        "singleValueExtendedProperties",
    }
    one = raw.call(
        "GET", f"{events_path(raw)}/{shown[0]['id']}?$expand={quote(expand, safe='')}"
    ).json()
    assert one["singleValueExtendedProperties"][0]["value"] == "2025-002#deadline"
    # The Name part is case-sensitive: another name is another property.
    lower = PROP.replace("Section55DeadlineKey", "section55deadlinekey")
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{lower}' and ep/value ne 'x')"
    other_name = raw.call("GET", f"{events_path(raw)}?$filter={quote(flt, safe='')}")
    assert other_name.json()["value"] == []
    subject = quote("subject eq 'Section 55 deadline 2025-001#triage'", safe="")
    by_subject = raw.call("GET", f"{events_path(raw)}?$filter={subject}")
    assert len(by_subject.json()["value"]) == 1
    unsupported = raw.call("GET", f"{events_path(raw)}?$filter={quote('isAllDay eq true')}")
    assert unsupported.status_code == 400
    assert error_code(unsupported) == "ErrorInvalidUrlQueryFilter"


def test_patch_moves_the_event_and_updates_its_key(raw: RawGraph) -> None:
    """C6: PATCH moves the dates and creates/updates named properties; a refused PATCH
    changes nothing."""
    event = create(raw, deadline("2025-003#deadline")).json()
    one = f"{events_path(raw)}/{event['id']}"
    moved = raw.call(
        "PATCH",
        one,
        json={
            "start": {"dateTime": "2025-07-08T00:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-07-09T00:00:00", "timeZone": "Europe/London"},
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"]["dateTime"] == "2025-07-08T00:00:00.0000000"
    assert moved.json()["isAllDay"] is True
    refused = raw.call(
        "PATCH", one, json={"end": {"dateTime": "2025-07-09T12:00:00", "timeZone": "Europe/London"}}
    )
    assert refused.status_code == 400
    assert raw.call("GET", one).json()["end"]["dateTime"] == "2025-07-09T00:00:00.0000000"
    other = "String {00020329-0000-0000-c000-000000000046} Name Section55Stage"
    relabelled = raw.call(
        "PATCH",
        one,
        json={
            "singleValueExtendedProperties": [
                {"id": PROP, "value": "2025-003#moved"},
                {"id": other, "value": "triage"},
            ]
        },
    )
    assert relabelled.status_code == 200
    assert by_key(raw, "2025-003#deadline") == []
    assert [found["id"] for found in by_key(raw, "2025-003#moved")] == [event["id"]]
    everything = raw.call("GET", f"{one}?$expand=singleValueExtendedProperties").json()
    assert len(everything["singleValueExtendedProperties"]) == 2
    timed = raw.call(
        "PATCH",
        one,
        json={
            "isAllDay": False,
            "start": {"dateTime": "2025-07-08T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-07-08T09:30:00", "timeZone": "Europe/London"},
        },
    )
    assert timed.json()["start"]["dateTime"] == "2025-07-08T08:00:00.0000000"


# -- C7: paging and order -------------------------------------------------------------------
def test_top_and_next_link_paging_and_order(raw: RawGraph) -> None:
    days = [f"2025-08-{day:02d}" for day in range(12, 0, -1)]
    for number, day in enumerate(days):
        assert create(raw, deadline(f"k{number}", day=day)).status_code == 201
    first = raw.call("GET", events_path(raw)).json()
    assert len(first["value"]) == 10  # Outlook's default page
    assert "@odata.nextLink" in first
    seen: list[str] = []
    url: str | None = f"{events_path(raw)}?$top=5&$orderby={quote('start/dateTime asc')}"
    pages = 0
    while url:
        page = raw.call("GET", url).json()
        seen.extend(event["start"]["dateTime"][:10] for event in page["value"])
        url = page.get("@odata.nextLink")
        pages += 1
    assert pages == 3
    assert seen == sorted(days)


# -- C8: transactionId ----------------------------------------------------------------------
def test_repeat_create_with_transaction_id_answers_the_same_event(raw: RawGraph) -> None:
    body = deadline("2025-004#deadline", transactionId="c1f0a7e4-2025-004-deadline")
    first = create(raw, body)
    second = create(raw, body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["transactionId"] == "c1f0a7e4-2025-004-deadline"
    assert len(by_key(raw, "2025-004#deadline")) == 1
    changed = raw.call(
        "PATCH", f"{events_path(raw)}/{first.json()['id']}", json={"transactionId": "other"}
    )
    assert changed.status_code == 400
    same = raw.call(
        "PATCH",
        f"{events_path(raw)}/{first.json()['id']}",
        json={"transactionId": "c1f0a7e4-2025-004-deadline", "subject": "Renamed"},
    )
    assert same.status_code == 200


@pytest.mark.parametrize("how", ["ignored", "expired"])
def test_transaction_id_outside_its_window_makes_a_second_event(raw: RawGraph, how: str) -> None:
    """C8, the other outcome: the window is undocumented; 0 = Outlook ignores the id."""
    window = 0.0 if how == "ignored" else 0.2
    raw.sandbox.faults.configure({"event_transaction_window": window})
    body = deadline("2025-005#deadline", transactionId="tx-2025-005")
    first = create(raw, body)
    if how == "expired":
        time.sleep(0.3)
    second = create(raw, body)
    assert first.json()["id"] != second.json()["id"]
    assert len(by_key(raw, "2025-005#deadline")) == 2


# -- C9, C10: permissions and the mailbox policy ---------------------------------------------
def test_calendar_roles(raw: RawGraph) -> None:
    event = create(raw, deadline("2025-006")).json()
    set_app_roles(raw.sandbox, ["Mail.Send"])
    for method, path in (("GET", events_path(raw)), ("POST", events_path(raw))):
        denied = raw.call(method, path, json=deadline("x") if method == "POST" else None)
        assert denied.status_code == 403
        assert error_code(denied) == "ErrorAccessDenied"
    set_app_roles(raw.sandbox, ["Calendars.Read"])
    assert raw.call("GET", f"{events_path(raw)}/{event['id']}").status_code == 200
    assert create(raw, deadline("y")).status_code == 403
    assert raw.call("DELETE", f"{events_path(raw)}/{event['id']}").status_code == 403
    set_app_roles(raw.sandbox, ["Calendars.ReadBasic"])
    assert raw.call("GET", events_path(raw)).status_code == 200
    assert by_key_status(raw, "2025-006") == 403  # ReadBasic reads no extended properties


def by_key_status(raw: RawGraph, key: str) -> int:
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq '{key}')"
    return raw.call("GET", f"{events_path(raw)}?$filter={quote(flt, safe='')}").status_code


def test_mailbox_policy_applies_to_calendars(raw: RawGraph) -> None:
    office = raw.info["mailbox"]
    pcc = user_email("pcc")
    restrict_mailboxes(raw.sandbox.tenant, [office])
    assert raw.call("GET", f"/users/{office}/events").status_code == 200
    for path in (f"/users/{pcc}/events", f"/users/{pcc}/calendar"):
        denied = raw.call("GET", path)
        assert denied.status_code == 403
        assert denied.json()["error"] == {
            "code": "ErrorAccessDenied",
            "message": "Access to OData is disabled.",
            "innerError": denied.json()["error"]["innerError"],
        }
    mail = raw.call(
        "POST",
        f"/users/{pcc}/sendMail",
        json={"message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": office}}]}},
    )
    assert mail.status_code == 403
    restrict_mailboxes(raw.sandbox.tenant, None)
    assert raw.call("GET", f"/users/{pcc}/events").status_code == 200
    deny_mailbox(raw.sandbox.tenant, office)
    assert create(raw, deadline("z")).status_code == 403
    allow_mailbox(raw.sandbox.tenant, office)
    assert create(raw, deadline("z")).status_code == 201


def test_unknown_user_and_malformed_id(raw: RawGraph) -> None:
    nobody = raw.call("GET", "/users/nobody@opcc.example.org/events")
    assert nobody.status_code == 404
    assert error_code(nobody) == "ErrorInvalidUser"
    malformed = raw.call("GET", f"{events_path(raw)}/2025-001")
    assert malformed.status_code == 400
    assert error_code(malformed) == "ErrorInvalidIdMalformed"


# -- F-lost: processed, then the answer was lost ----------------------------------------------
def batch(raw: RawGraph, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
    inner: dict[str, Any] = {"id": "1", "method": method, "url": url}
    if body is not None:
        inner["body"] = body
        inner["headers"] = {"Content-Type": "application/json"}
    answer = raw.call("POST", "/$batch", json={"requests": [inner]})
    assert answer.status_code == 200
    reply: dict[str, Any] = answer.json()["responses"][0]
    return reply


@pytest.mark.parametrize("in_batch", [False, True], ids=["plain", "batch"])
def test_event_writes_processed_then_answer_lost(raw: RawGraph, in_batch: bool) -> None:
    faults = raw.sandbox.faults
    events = events_path(raw)

    def send(method: str, path: str, body: dict[str, Any] | None = None) -> int:
        if in_batch:
            return int(batch(raw, method, path, body)["status"])
        return raw.call(method, path, json=body).status_code

    body = deadline("2025-007#deadline", transactionId="tx-2025-007")
    faults.add_one_off(OneOff(method="POST", path=r"/events$", status=504, when="after"))
    assert send("POST", events, body) == 504
    made = by_key(raw, "2025-007#deadline")
    assert len(made) == 1  # processed despite the 504
    retried = create(raw, body)  # the same transactionId: no second event
    assert retried.json()["id"] == made[0]["id"]
    assert len(by_key(raw, "2025-007#deadline")) == 1

    one = f"{events}/{made[0]['id']}"
    faults.add_one_off(OneOff(method="PATCH", path=r"/events/", status=504, when="after"))
    assert send("PATCH", one, {"subject": "Moved deadline"}) == 504
    assert raw.call("GET", one).json()["subject"] == "Moved deadline"

    faults.add_one_off(OneOff(method="DELETE", path=r"/events/", status=504, when="after"))
    assert send("DELETE", one) == 504
    assert by_key(raw, "2025-007#deadline") == []
    assert raw.call("DELETE", one).status_code == 404  # the retry finds it gone
    assert faults.to_dict()["one_offs"] == []


def test_prefer_header_inside_a_batch(raw: RawGraph) -> None:
    event = create(raw, deadline("2025-008")).json()
    answer = raw.call(
        "POST",
        "/$batch",
        json={
            "requests": [
                {
                    "id": "1",
                    "method": "GET",
                    "url": f"{events_path(raw)}/{event['id']}",
                    "headers": {"Prefer": LONDON},
                }
            ]
        },
    ).json()["responses"][0]
    assert answer["status"] == 200
    assert answer["body"]["start"]["timeZone"] == "Europe/London"
