"""Sandbox routes: a mailbox's default calendar and its events, as Outlook serves them.

Served: ``GET /users/{id|upn}/calendar``; ``POST``/``GET /users/{id}/events`` and
``/users/{id}/calendar/events``; ``GET``/``PATCH``/``DELETE /users/{id}/events/{event-id}``
(user-post-events, user-list-events, event-get, event-update, event-delete pages). Each rule,
its source and its test is a row of docs/sandbox-rules.md (C1-C10).

* Permissions: Calendars.ReadWrite to write; Calendars.Read, .ReadBasic or .ReadWrite to
  read (403 ``ErrorAccessDenied``); ReadBasic reads no extended properties. The Exchange
  mailbox policy of :mod:`automation.sandbox.routes.mail` (an application access policy or
  RBAC for Applications) applies to calendars too.
* Times: see :mod:`automation.sandbox.event_times` (dateTimeTimeZone, zones, ``Prefer``).
  An all-day event needs midnight start and end in one zone, at least a day apart; a timed
  event may not end before it starts: both ``400 ErrorPropertyValidationFailure``.
* ``transactionId``: a repeat create within ``event_transaction_window`` seconds (a fault
  plan value) answers the event already made instead of a second one; it cannot change.
* Extended properties, ``$filter`` and ``$expand``: :mod:`automation.sandbox.extended_properties`.

State: ``tenant.data["calendars"][upn]`` = ``{"calendar": {...}, "events": {id: record},
"transactions": {transactionId: {"event", "at"}}}``; record keys starting with ``_`` are
bookkeeping (the instants, the all-day dates, the times as sent).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from automation.sandbox import event_times, extended_properties
from automation.sandbox.event_body import (
    WRITABLE,
    apply,
    change_key,
    checked_names,
    new_event,
    outlook_id,
)
from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    bind,
    collection_response,
    empty_response,
    json_response,
    now_iso,
)
from automation.sandbox.routes.mail import ACCESS_DENIED, mailbox_access

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext

WRITE_ROLES = frozenset({"Calendars.ReadWrite"})
READ_ROLES = frozenset({"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"})
PROPERTY_ROLES = frozenset({"Calendars.Read", "Calendars.ReadWrite"})
NOT_FOUND = "The specified object was not found in the store."
DEFAULT_PAGE = 10  # Outlook's page size when $top is not given
_FILTERABLE = ("subject",)
_ORDERABLE = ("start/dateTime", "end/dateTime", "createdDateTime", "lastModifiedDateTime")


# -- state ----------------------------------------------------------------------------------
def _store(ctx: SandboxContext, upn: str) -> dict[str, Any]:
    """The calendar state of a mailbox, created on first use."""
    store = ctx.tenant.table("calendars").setdefault(upn, {})
    store.setdefault("calendar", {"id": outlook_id(), "changeKey": change_key()})
    store.setdefault("events", {})
    store.setdefault("transactions", {})
    assert isinstance(store, dict)
    return store


def _event(store: dict[str, Any], event_id: str) -> dict[str, Any]:
    if not event_id.startswith("AAMk"):
        raise ApiError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    event = store["events"].get(event_id)
    if not isinstance(event, dict):
        raise ApiError(404, "ErrorItemNotFound", NOT_FOUND)
    return event


# -- answers --------------------------------------------------------------------------------
def _selected(shown: dict[str, Any], select: str | None) -> dict[str, Any]:
    """``$select`` as Outlook reads it: names in any case; ``id`` and annotations kept."""
    if not select:
        return shown
    wanted = {part.strip().lower() for part in select.split(",")}
    return {k: v for k, v in shown.items() if k.startswith("@") or k == "id" or k.lower() in wanted}


def event_json(
    request: Request, upn: str, event: dict[str, Any], zone: str | None, *, context: bool
) -> dict[str, Any]:
    """An event as Graph answers it: times in the asked zone, ``$select`` and ``$expand``."""
    public = {
        key: value
        for key, value in event.items()
        if not key.startswith("_") and key != "singleValueExtendedProperties"
    }
    if public.get("transactionId") is None:
        public.pop("transactionId", None)  # "only returned … if an app has set it"
    if event["isAllDay"]:
        public["start"] = event_times.shown_date(dt.date.fromisoformat(event["_day_start"]), zone)
        public["end"] = event_times.shown_date(dt.date.fromisoformat(event["_day_end"]), zone)
    else:
        public["start"] = event_times.shown(dt.datetime.fromisoformat(event["_start"]), zone)
        public["end"] = event_times.shown(dt.datetime.fromisoformat(event["_end"]), zone)
    out: dict[str, Any] = {}
    if context:
        out["@odata.context"] = (
            f"{request.graph_url}/$metadata#users('{quote(upn, safe='@')}')/events/$entity"
        )
    out["@odata.etag"] = f'W/"{event["changeKey"]}"'
    out.update(_selected(public, request.query.get("$select")))
    expand = request.query.get("$expand")
    if expand:
        asked = extended_properties.parse_expand(expand)
        if asked.properties:
            if not PROPERTY_ROLES.intersection(request.roles):
                raise ApiError(403, "ErrorAccessDenied", ACCESS_DENIED)
            props = extended_properties.expanded(
                event.get("singleValueExtendedProperties") or [], asked.property_filter
            )
            if props:
                out["singleValueExtendedProperties"] = props
    return out


def _answer(status: int, payload: dict[str, Any], zone: str | None) -> Response:
    return json_response(status, payload, event_times.preference_applied(zone))


def _sort_key(name: str) -> Any:
    def key(event: dict[str, Any]) -> str:
        if name in ("start/dateTime", "end/dateTime"):
            edge = name.split("/")[0]
            return str(event[f"_{edge}"] or f"{event[f'_day_{edge}']}T00:00:00+00:00")
        return str(event.get(name) or "")

    return key


def _ordered(events: list[dict[str, Any]], orderby: str | None) -> list[dict[str, Any]]:
    if not orderby:
        return events  # creation order; Outlook documents none
    parts = orderby.split()
    name = next((p for p in _ORDERABLE if parts and p.lower() == parts[0].lower()), None)
    direction = parts[1].lower() if len(parts) > 1 else "asc"
    if name is None or len(parts) > 2 or direction not in {"asc", "desc"}:
        raise ApiError(400, "BadRequest", f"The $orderby expression '{orderby}' is not supported.")
    return sorted(events, key=_sort_key(name), reverse=direction == "desc")


# -- handlers -------------------------------------------------------------------------------
def get_calendar(ctx: SandboxContext, request: Request) -> Response:
    user, upn = mailbox_access(ctx, request, READ_ROLES)
    calendar = _store(ctx, upn)["calendar"]
    address = str(user.get("mail") or user["userPrincipalName"])
    shown = {
        "@odata.context": (
            f"{request.graph_url}/$metadata#users('{quote(upn, safe='@')}')/calendar/$entity"
        ),
        "id": calendar["id"],
        "name": "Calendar",
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": True,
        "changeKey": calendar["changeKey"],
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": False,
        "owner": {"name": user.get("displayName") or address, "address": address},
    }
    select = request.query.get("$select")
    if select:
        wanted = {part.strip().lower() for part in select.split(",")}
        shown = {
            k: v for k, v in shown.items() if k.startswith("@") or k == "id" or k.lower() in wanted
        }
    return json_response(200, shown)


def create_event(ctx: SandboxContext, request: Request) -> Response:
    user, upn = mailbox_access(ctx, request, WRITE_ROLES)
    zone = event_times.preferred_zone(request)
    body = request.json_object()
    checked_names(body)
    transaction = body.get("transactionId")
    if transaction is not None and not isinstance(transaction, str):
        raise ApiError(400, "RequestBodyRead", "'transactionId' must be an Edm.String.")
    store = _store(ctx, upn)
    window = ctx.faults.plan.event_transaction_window
    now = time.time()
    remembered = store["transactions"]
    for key in [k for k, rec in remembered.items() if now - float(rec["at"]) > window]:
        del remembered[key]
    if transaction and transaction in remembered:
        earlier = store["events"].get(remembered[transaction]["event"])
        if isinstance(earlier, dict):
            return _answer(201, event_json(request, upn, earlier, zone, context=True), zone)
    event = new_event(user, body, transaction or None)
    store["events"][event["id"]] = event
    if transaction and window > 0:
        remembered[transaction] = {"event": event["id"], "at": now}
    return _answer(201, event_json(request, upn, event, zone, context=True), zone)


def get_event(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_access(ctx, request, READ_ROLES)
    zone = event_times.preferred_zone(request)
    event = _event(_store(ctx, upn), request.params["event_id"])
    return _answer(200, event_json(request, upn, event, zone, context=True), zone)


def update_event(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_access(ctx, request, WRITE_ROLES)
    zone = event_times.preferred_zone(request)
    event = _event(_store(ctx, upn), request.params["event_id"])
    body = request.json_object()
    checked_names(body)
    if "transactionId" in body and body["transactionId"] != event.get("transactionId"):
        raise ApiError(
            400, "ErrorInvalidRequest", "The transactionId of an event cannot be changed."
        )
    changed = dict(event)
    apply(changed, {k: v for k, v in body.items() if k in WRITABLE})
    changed["changeKey"] = change_key()
    changed["lastModifiedDateTime"] = now_iso()
    event.clear()
    event.update(changed)  # only once every rule passed: a refused PATCH changes nothing
    return _answer(200, event_json(request, upn, event, zone, context=True), zone)


def delete_event(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_access(ctx, request, WRITE_ROLES)
    store = _store(ctx, upn)
    event = _event(store, request.params["event_id"])
    del store["events"][event["id"]]
    return empty_response(204)


def list_events(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_access(ctx, request, READ_ROLES)
    zone = event_times.preferred_zone(request)
    events = list(_store(ctx, upn)["events"].values())
    flt = request.query.get("$filter")
    if flt:
        if "singlevalueextendedproperties" in flt.lower() and not PROPERTY_ROLES.intersection(
            request.roles
        ):
            raise ApiError(403, "ErrorAccessDenied", ACCESS_DENIED)
        predicate = extended_properties.item_filter(flt, _FILTERABLE)
        events = [event for event in events if predicate(event)]
    events = _ordered(events, request.query.get("$orderby"))
    values = [event_json(request, upn, event, zone, context=False) for event in events]
    context = f"{request.graph_url}/$metadata#users('{quote(upn, safe='@')}')/events"
    response = collection_response(request, values, context=context, default_top=DEFAULT_PAGE)
    response.headers.update(event_times.preference_applied(zone))
    return response


# -- routes ---------------------------------------------------------------------------------
def register(ctx: SandboxContext) -> None:
    """Register the calendar routes."""
    add = ctx.router.add
    event_type = "microsoft.graph.event"
    user = "/users/{user-id}"
    add("GET", f"{user}/calendar", bind(get_calendar, ctx), returns="microsoft.graph.calendar")
    for events in (f"{user}/events", f"{user}/calendar/events"):
        add("POST", events, bind(create_event, ctx), returns=event_type)
        add("GET", events, bind(list_events, ctx), returns=event_type, collection=True)
    one = f"{user}/events/{{event-id}}"
    add("GET", one, bind(get_event, ctx), returns=event_type)
    add("PATCH", one, bind(update_event, ctx), returns=event_type)
    add("DELETE", one, bind(delete_event, ctx))
