"""The tracker list through Graph: its columns, the record mapping, and every item request.

This is the one place that decides what an item read selects. Microsoft leaves hidden
columns' values out of ``fields`` unless ``$select`` names them, and hidden column
definitions out of ``GET …/columns`` unless ``$select`` names ``hidden``; so every item
read (list, get, filter lookup, delta, inside ``$batch``) expands
``fields($select=<every tracker column>)`` and column reads select ``hidden`` explicitly.

The tracker link in tasks, emails and digests is the item's display form
(``<list webUrl>/DispForm.aspx?ID=<id>``): a listItem's own ``webUrl`` downloads a blank
``N_.000`` file instead of showing the item.

Over 500 lines because the column schema, the record mapping and the item operations must
agree on one set of names and one date encoding; splitting them would spread that contract.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import quote, urlsplit

from automation.domain.calendar import LONDON, utc_stamp
from automation.domain.record import TrackerRecord, dump_json, setup_state, status_value
from automation.domain.relevance import Decision
from automation.domain.workflow import Status
from automation.errors import ConflictError, GoneError, NotFoundError, OutcomeUnknownError
from automation.graph.batch import Op
from automation.graph.client import BatchResponse, GraphClient
from automation.graph.sharepoint import (
    NON_INDEXED_PREFER,
    SharePoint,
    odata_quote,
    site_date,
    to_sp_date,
)
from automation.graph.workspace import Ids, Workspace

__all__ = [
    "COLUMNS",
    "COLUMN_SELECT",
    "FIELD_NAMES",
    "ITEM_EXPAND",
    "ItemVersion",
    "TrackerList",
    "display_url",
    "encode_fields",
    "item_etag",
    "record_from_item",
]

log = logging.getLogger(__name__)

STATUS_CHOICES = [status.value for status in Status]
RESPONSE_CHOICES = [Decision.YES.value, Decision.NO.value, Decision.TBD.value]


def _text(
    name: str,
    display: str,
    *,
    indexed: bool = False,
    unique: bool = False,
    hidden: bool = False,
    multiline: bool = False,
) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "displayName": display,
        # Multi-line columns say "plain" explicitly: unset, SharePoint may store rich text.
        "text": {"allowMultipleLines": True, "textType": "plain"}
        if multiline
        else {"allowMultipleLines": False, "maxLength": 255},
    }
    if indexed:
        column["indexed"] = True
    if unique:
        column["enforceUniqueValues"] = True
    if hidden:
        column["hidden"] = True
    return column


def _date_time(name: str, display: str, *, date_only: bool) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": display,
        "dateTime": {"displayAs": "standard", "format": "dateOnly" if date_only else "dateTime"},
    }


def _bool(name: str, display: str) -> dict[str, Any]:
    return {"name": name, "displayName": display, "boolean": {}}


def _choice(
    name: str, display: str, choices: list[str], *, indexed: bool = False
) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "displayName": display,
        "choice": {"allowTextEntry": False, "choices": choices, "displayAs": "dropDownMenu"},
    }
    if indexed:
        column["indexed"] = True
    return column


def _number(name: str, display: str) -> dict[str, Any]:
    return {"name": name, "displayName": display, "number": {"decimalPlaces": "none", "minimum": 0}}


# Title comes with the genericList template.
COLUMNS: tuple[dict[str, Any], ...] = (
    _text("PublicationKey", "Publication key", indexed=True, unique=True),
    # Links can exceed a single-line column's 255 characters: multi-line text keeps them whole.
    _text("ReportUrl", "Link to report", multiline=True),
    _date_time("PublishedOn", "Published on", date_only=True),
    _date_time("ResponseDeadline", "Section 55 response deadline", date_only=True),
    _text("PublicationTypes", "Publication types"),
    _text("PoliceForces", "Police forces"),
    _choice("ResponseRequired", "Response required", RESPONSE_CHOICES, indexed=True),
    _text("TriageReason", "Triage reason", multiline=True),
    _choice("Status", "Status", STATUS_CHOICES, indexed=True),
    _text("DraftUrl", "Draft", multiline=True),
    _text("ResponseOwner", "Response owner"),
    _number("Recommendations", "Recommendations"),
    _number("AreasForImprovement", "Areas for improvement"),
    _text("ApprovedBy", "Approved by"),
    _date_time("ApprovedOn", "Approved on", date_only=False),
    _bool("ForwardedToHMICFRS", "Forwarded to HMICFRS Section 55 responses"),
    _bool("SubmittedToHMICFRSPortal", "Submitted onto the HMICFRS portal"),
    _bool("ForwardedToChiefConstable", "Forwarded to Chief Constable"),
    _bool("ForwardedToPanel", "Forwarded to Police and Crime Panel"),
    _bool("PublishedOnWebsite", "Published on OPCC website"),
    _bool("ForwardedToHomeSecretary", "Forwarded to the Home Secretary"),
    # The web address of the published response, filled in by the website team: it is
    # sent to HMICFRS and the Home Secretary. Multi-line: links can exceed 255 characters.
    _text("PublishedUrl", "Published web page", multiline=True),
    _text("ApprovalProblem", "Why not circulated"),
    # bookkeeping (hidden)
    _text("S55DeadlineRule", "Deadline rule", hidden=True),
    _text("S55Setup", "Intake step", hidden=True),
    _text("S55DraftItemId", "Draft item id", hidden=True),
    _text("S55Tasks", "Planner task ids", hidden=True, multiline=True),
    _text("S55Report", "Report details", hidden=True, multiline=True),
    _text("S55Mail", "Mail sent", hidden=True, multiline=True),
    _text("S55Approval", "Approval held", hidden=True, multiline=True),
    _text("S55Reminders", "Reminders sent", hidden=True, multiline=True),
    _text("S55Lease", "Work lease", hidden=True),
)
FIELD_NAMES: tuple[str, ...] = ("Title", *(c["name"] for c in COLUMNS), "Modified")
"""Every field an item read names in ``$select`` (hidden columns come back only if named)."""
ITEM_EXPAND = f"fields($select={','.join(FIELD_NAMES)})"
COLUMN_SELECT = (
    "id,name,displayName,hidden,indexed,enforceUniqueValues,readOnly,required,"
    "text,number,dateTime,choice,boolean"
)
"""Column reads name ``hidden`` (and the type facets), or hidden columns are left out."""
_JSON_COLUMNS = ("S55Tasks", "S55Report", "S55Mail", "S55Approval", "S55Reminders")


# -- record <-> fields --------------------------------------------------------------------------
def _json_field(fields: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = fields.get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _unreadable(fields: Mapping[str, Any]) -> tuple[str, ...]:
    """Bookkeeping columns holding something other than a JSON object (a person edited them)."""
    found = []
    for name in _JSON_COLUMNS:
        raw = fields.get(name)
        if raw and not _json_field(fields, name):
            try:
                ok = isinstance(json.loads(raw), dict)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                found.append(name)
    return tuple(found)


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def item_etag(item: Mapping[str, Any], fields: Mapping[str, Any]) -> str:
    """A list item's etag, wherever the answer put it (the item, or its expanded fields)."""
    return str(item.get("eTag") or item.get("@odata.etag") or fields.get("@odata.etag") or "")


def display_url(list_url: str, item: Mapping[str, Any], item_id: str) -> str:
    """``<list webUrl>/DispForm.aspx?ID=<id>``; the list URL from the item's when unknown."""
    base = list_url.rstrip("/")
    if not base:
        # An item's webUrl sits directly under its list (…/Lists/Name/1_.000).
        own = str(item.get("webUrl") or "")
        parts = urlsplit(own)
        if not parts.netloc:
            return ""
        path = parts.path.rsplit("/", 1)[0]
        base = f"{parts.scheme}://{parts.netloc}{path}"
    return f"{base}/DispForm.aspx?ID={quote(item_id, safe='')}" if item_id else ""


def record_from_item(
    item: Mapping[str, Any], *, list_url: str = "", zone: tzinfo = LONDON
) -> TrackerRecord:
    """A record from a listItem read with :data:`ITEM_EXPAND`.

    Date-only columns are read as calendar dates in ``zone``, the site's time zone.
    """
    fields: Mapping[str, Any] = item.get("fields") or {}
    item_id = str(item.get("id") or fields.get("id") or "")
    return TrackerRecord(
        item_id=item_id,
        etag=item_etag(item, fields),
        web_url=display_url(list_url, item, item_id),
        key=str(fields.get("PublicationKey") or ""),
        title=str(fields.get("Title") or ""),
        report_url=str(fields.get("ReportUrl") or ""),
        published_on=site_date(fields.get("PublishedOn"), zone),
        deadline=site_date(fields.get("ResponseDeadline"), zone),
        publication_types=str(fields.get("PublicationTypes") or ""),
        police_forces=str(fields.get("PoliceForces") or ""),
        response_required=str(fields.get("ResponseRequired") or ""),
        triage_reason=str(fields.get("TriageReason") or ""),
        status=status_value(str(fields.get("Status") or "")),
        draft_url=str(fields.get("DraftUrl") or ""),
        response_owner=str(fields.get("ResponseOwner") or ""),
        recommendations=_opt_int(fields.get("Recommendations")),
        areas_for_improvement=_opt_int(fields.get("AreasForImprovement")),
        approved_by=str(fields.get("ApprovedBy") or ""),
        approved_on=str(fields.get("ApprovedOn") or ""),
        forwarded_hmicfrs=bool(fields.get("ForwardedToHMICFRS")),
        submitted_portal=bool(fields.get("SubmittedToHMICFRSPortal")),
        forwarded_chief_constable=bool(fields.get("ForwardedToChiefConstable")),
        forwarded_panel=bool(fields.get("ForwardedToPanel")),
        published_on_website=bool(fields.get("PublishedOnWebsite")),
        forwarded_home_secretary=bool(fields.get("ForwardedToHomeSecretary")),
        published_url=str(fields.get("PublishedUrl") or "").strip(),
        approval_problem=str(fields.get("ApprovalProblem") or ""),
        deadline_rule=str(fields.get("S55DeadlineRule") or ""),
        setup=setup_state(str(fields.get("S55Setup") or "")),
        draft_item_id=str(fields.get("S55DraftItemId") or ""),
        tasks=_json_field(fields, "S55Tasks"),
        report=_json_field(fields, "S55Report"),
        mail=_json_field(fields, "S55Mail"),
        approval=_json_field(fields, "S55Approval"),
        reminders=_json_field(fields, "S55Reminders"),
        lease=str(fields.get("S55Lease") or ""),
        modified_by=dict(item.get("lastModifiedBy") or {}),
        modified=str(fields.get("Modified") or item.get("lastModifiedDateTime") or ""),
        unreadable=_unreadable(fields),
    )


def encode_fields(fields: Mapping[str, Any], *, zone: tzinfo = LONDON) -> dict[str, Any]:
    """Column values as Graph wants them: dates at the site's midnight, UTC stamps, JSON text.

    Dates (the date-only columns) are written as midnight in ``zone``, the site's regional
    time zone, because SharePoint shows them in that zone.
    """
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime):
            out[name] = utc_stamp(value)
        elif isinstance(value, date):
            out[name] = to_sp_date(value, zone)
        elif isinstance(value, dict):
            out[name] = dump_json(value)
        else:
            out[name] = str(value) if isinstance(value, Status) else value
    return out


def _json_object(answer: BatchResponse) -> dict[str, Any]:
    return answer.body if isinstance(answer.body, dict) else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemVersion:
    """One entry of an item's version history: who wrote it, when, and its values then."""

    version_id: str
    modified_by: dict[str, Any] = field(default_factory=dict)
    modified: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def _version(raw: Mapping[str, Any]) -> ItemVersion:
    return ItemVersion(
        version_id=str(raw.get("id") or ""),
        modified_by=dict(raw.get("lastModifiedBy") or {}),
        modified=str(raw.get("lastModifiedDateTime") or ""),
        fields=dict(raw.get("fields") or {}),
    )


# -- the adapter ----------------------------------------------------------------------------------
class TrackerList:
    """The Tracker port on a SharePoint list (ids from the workspace)."""

    def __init__(
        self,
        client: GraphClient,
        workspace: Workspace,
        sharepoint: SharePoint,
        *,
        site_zone: tzinfo = LONDON,
    ) -> None:
        """``site_zone``: the site's regional time zone, the one date-only columns are in."""
        self._client = client
        self._workspace = workspace
        self._sharepoint = sharepoint
        self._zone = site_zone

    def _items(self, ids: Ids) -> str:
        return f"/sites/{quote(ids.site_id, safe=',')}/lists/{quote(ids.list_id, safe='')}/items"

    def _record(self, ids: Ids, item: Mapping[str, Any]) -> TrackerRecord:
        return record_from_item(item, list_url=ids.list_url, zone=self._zone)

    def _encode(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return encode_fields(fields, zone=self._zone)

    # -- operations -------------------------------------------------------------------------
    def _lookup_op(self, ids: Ids, key: str) -> Op[list[TrackerRecord]]:
        query = quote(f"fields/PublicationKey eq {odata_quote(key)}", safe="")
        return Op(
            "GET",
            f"{self._items(ids)}?$expand={quote(ITEM_EXPAND, safe='(),$=')}&$filter={query}",
            lambda answer: [
                self._record(ids, item)
                for item in _json_object(answer).get("value", [])
                if isinstance(item, dict)
            ],
            headers={"Prefer": NON_INDEXED_PREFER},
        )

    def _get_op(self, ids: Ids, item_id: str) -> Op[TrackerRecord]:
        return Op(
            "GET",
            f"{self._items(ids)}/{quote(item_id, safe='')}"
            f"?$expand={quote(ITEM_EXPAND, safe='(),$=')}",
            lambda answer: self._record(ids, _json_object(answer)),
        )

    def patch_op(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> Op[dict[str, Any]]:
        """PATCH some columns (values as :func:`encode_fields` takes them); If-Match ``etag``."""
        return self._patch_op(self._workspace.resolve(), item_id, fields, etag=etag)

    def _patch_op(
        self, ids: Ids, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> Op[dict[str, Any]]:
        return Op(
            "PATCH",
            f"{self._items(ids)}/{quote(item_id, safe='')}/fields",
            _json_object,
            body=self._encode(fields),
            headers={"If-Match": etag} if etag else {},
            # Setting values is repeatable; with an etag a repeat would only see 412.
            idempotent=etag is None,
        )

    # -- reads --------------------------------------------------------------------------------
    def all(self) -> list[TrackerRecord]:
        """Every item of the list."""

        def read(ids: Ids) -> list[TrackerRecord]:
            return [self._record(ids, item) for item in self._raw_items(ids)]

        return self._workspace.call(read)

    def items(self) -> list[dict[str, Any]]:
        """Every item of the list as Graph returns it (every tracker column selected)."""
        return self._workspace.call(self._raw_items)

    def _raw_items(self, ids: Ids) -> list[dict[str, Any]]:
        return list(self._client.paged(self._items(ids), params={"$expand": ITEM_EXPAND}))

    def lookup_by_keys(self, keys: Iterable[str]) -> dict[str, TrackerRecord]:
        """Records by publication key: one ``$batch`` round trip per 20 keys."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        def read(ids: Ids) -> dict[str, TrackerRecord]:
            found: dict[str, TrackerRecord] = {}
            outcomes = self._client.run_all([self._lookup_op(ids, key) for key in wanted])
            for key, outcome in zip(wanted, outcomes, strict=True):
                for record in outcome.get():
                    if record.key == key:
                        found[key] = record
            return found

        return self._workspace.call(read)

    def find(self, key: str) -> TrackerRecord | None:
        """One record by key (a plain request)."""

        def read(ids: Ids) -> TrackerRecord | None:
            return next(
                (r for r in self._client.run(self._lookup_op(ids, key)) if r.key == key), None
            )

        return self._workspace.call(read)

    def get_many(self, item_ids: Sequence[str]) -> list[TrackerRecord]:
        """Records by item id (one round trip per 20); items that are gone are left out."""
        if not item_ids:
            return []

        def read(ids: Ids) -> list[TrackerRecord]:
            out = []
            for outcome in self._client.run_all([self._get_op(ids, i) for i in item_ids]):
                if isinstance(outcome.error, NotFoundError):
                    continue
                out.append(outcome.get())
            return out

        return self._workspace.call(read)

    def changes(self, link: str | None) -> tuple[list[TrackerRecord], str]:
        """Items changed since ``link`` (a stored delta link) and the link for next time.

        A link for another Graph host is not used (full resync), and an expired one (410)
        falls back to a full enumeration. Deleted items are left out.
        """
        if (
            link
            and urlsplit(link).netloc.casefold()
            != urlsplit(self._client.base_url).netloc.casefold()
        ):
            log.warning("stored delta link is for another Graph host; reading the whole list")
            link = None

        def read(ids: Ids) -> tuple[list[TrackerRecord], list[str], str]:
            try:
                page = self._sharepoint.delta(ids.site_id, ids.list_id, link, expand=ITEM_EXPAND)
            except GoneError:
                log.warning("tracker delta link expired; reading the whole list again")
                page = self._sharepoint.delta(ids.site_id, ids.list_id, None, expand=ITEM_EXPAND)
            records, missing = [], []
            for item in page.items:
                if item.get("deleted"):
                    continue
                if "fields" not in item:
                    missing.append(str(item.get("id")))
                    continue
                records.append(self._record(ids, item))
            return records, missing, page.delta_link

        records, missing, new_link = self._workspace.call(read)
        records.extend(self.get_many(missing))
        return records, new_link

    def versions(self, item_id: str, names: Sequence[str]) -> list[ItemVersion]:
        """The item's version history, newest first, each with the columns ``names``.

        ``lastModifiedBy`` of a version is whoever made that write, so the history tells who
        set a value even after later writes (the service's own included) changed the item's
        last editor. The columns are named in ``$select`` (hidden ones are left out
        otherwise). A list without versioning has only its current version.
        """
        select = ",".join(dict.fromkeys(names))

        def read(ids: Ids) -> list[ItemVersion]:
            return [
                _version(raw)
                for raw in self._client.paged(
                    f"{self._items(ids)}/{quote(item_id, safe='')}/versions",
                    params={"$expand": f"fields($select={select})"},
                )
                if isinstance(raw, dict)
            ]

        return self._workspace.call(read)

    # -- writes -------------------------------------------------------------------------------
    def create_or_find(self, fields: Mapping[str, Any]) -> tuple[TrackerRecord, bool]:
        """Create the item; on a duplicate key, the item already filed (record, created?).

        A create whose outcome is unknown (a 5xx or a lost answer: Graph may have made the
        item) is never repeated blindly: the item is looked up by its key first, and only
        when the key is not in the list is it sent again, at most twice more. Even if the
        first create was still in flight, the column's unique values make a second item
        impossible: the repeat then answers "duplicate" and the item is read.

        Raises:
            ConflictError: a duplicate key, but no item with that key could be read.
            OutcomeUnknownError: every attempt's outcome was unknown and no item with the
                key can be read (the next pass looks again).
        """
        key = str(fields.get("PublicationKey") or "")
        encoded = self._encode(fields)

        def create(ids: Ids) -> dict[str, Any]:
            return self._sharepoint.create_item(ids.site_id, ids.list_id, encoded)

        for attempt in range(3):
            try:
                item = self._workspace.call(create)
            except ConflictError:
                # Our earlier answer was lost, or another instance filed it first.
                record = self.find(key)
                if record is None:
                    raise
                return record, False
            except OutcomeUnknownError:
                record = self.find(key)
                if record is not None:
                    return record, False
                if attempt == 2:
                    raise
                continue
            # The answer leaves hidden columns out (Microsoft returns only visible fields
            # unless they are selected): what was written is known, so the record is whole.
            whole = {**item, "fields": {**encoded, **dict(item.get("fields") or {})}}
            return self._record(self._workspace.resolve(), whole), True
        raise AssertionError("unreachable")  # pragma: no cover

    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]:
        """Change some columns; returns the whole fieldValueSet (with its new etag).

        Raises:
            PreconditionFailedError: ``etag`` was given and the item changed since.
        """
        return self._workspace.call(
            lambda ids: self._client.run(self._patch_op(ids, item_id, fields, etag=etag))
        )

    def patch_after(
        self, before: Sequence[Op[Any]], item_id: str, fields: Mapping[str, Any]
    ) -> None:
        """Run ``before`` and then the item PATCH as one fully serial ``$batch`` chain.

        Microsoft rejects a batch that is neither fully parallel nor fully serial, so the
        item PATCH (the "done" mark) depends on every earlier request through one chain:
        it happens only if they all succeeded. The first error raises.
        """

        def send(ids: Ids) -> None:
            ops = [*before, self._patch_op(ids, item_id, fields)]
            for outcome in self._client.run_all(ops, serial=True):
                outcome.get()

        self._workspace.call(send)

    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Change several items in one round trip per 20; the first error raises."""
        outcomes = self._client.run_all(
            [self.patch_op(item_id, fields) for item_id, fields in changes.items()]
        )
        for outcome in outcomes:
            outcome.get()

    # -- schema -------------------------------------------------------------------------------
    def columns(self, ids: Ids) -> list[dict[str, Any]]:
        """The list's column definitions, hidden ones included."""
        return self._sharepoint.list_columns(ids.site_id, ids.list_id, select=COLUMN_SELECT)
