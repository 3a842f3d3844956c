"""The tracker list: its columns (DESIGN.md §4.4) and the record the jobs work with.

SharePoint is the system of record: everything needed to resume lives on the item,
including hidden bookkeeping columns (ids of the draft and tasks, mail sent, reminders
sent, the intake step reached, a short-lived work lease for two instances).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from automation.graph.sharepoint import from_sp_date, to_sp_date

STATUS_CHOICES = [
    "Triage",
    "Drafting",
    "Chief Constable comments",
    "PCC approval",
    "Approved",
    "Circulated",
    "Published",
    "Closed",
    "Not required",
]
RESPONSE_CHOICES = ["Yes", "No", "To be decided"]


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
        "text": {"allowMultipleLines": multiline, "maxLength": 255}
        if not multiline
        else {"allowMultipleLines": True},
    }
    if indexed:
        column["indexed"] = True
    if unique:
        column["enforceUniqueValues"] = True
    if hidden:
        column["hidden"] = True
    return column


def _date_only(name: str, display: str) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": display,
        "dateTime": {"displayAs": "standard", "format": "dateOnly"},
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
    _date_only("PublishedOn", "Published on"),
    _date_only("ResponseDeadline", "Section 55 response deadline"),
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
    {
        "name": "ApprovedOn",
        "displayName": "Approved on",
        "dateTime": {"displayAs": "standard", "format": "dateTime"},
    },
    _bool("ForwardedToHMICFRS", "Forwarded to HMICFRS Section 55 responses"),
    _bool("SubmittedToHMICFRSPortal", "Submitted onto the HMICFRS portal"),
    _bool("ForwardedToChiefConstable", "Forwarded to Chief Constable"),
    _bool("ForwardedToPanel", "Forwarded to Police and Crime Panel"),
    _bool("PublishedOnWebsite", "Published on OPCC website"),
    # bookkeeping (hidden)
    _text("S55DeadlineRule", "Deadline rule", hidden=True),
    _text("S55Setup", "Intake step", hidden=True),
    _text("S55DraftItemId", "Draft item id", hidden=True),
    _text("S55Tasks", "Planner task ids", hidden=True, multiline=True),
    _text("S55Report", "Report details", hidden=True, multiline=True),
    _text("S55Mail", "Mail sent", hidden=True, multiline=True),
    _text("S55Reminders", "Reminders sent", hidden=True, multiline=True),
    _text("S55Lease", "Work lease", hidden=True),
)
COLUMN_NAMES = frozenset(column["name"] for column in COLUMNS) | {"Title"}

SETUP_FILED = "filed"
SETUP_COMPLETE = "complete"


def _json_field(fields: dict[str, Any], name: str) -> dict[str, Any]:
    raw = fields.get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


_JSON_COLUMNS = ("S55Tasks", "S55Report", "S55Mail", "S55Reminders")


def _unreadable(fields: dict[str, Any]) -> tuple[str, ...]:
    """Bookkeeping columns holding something other than a JSON object (a person edited them)."""
    found = []
    for name in _JSON_COLUMNS:
        raw = fields.get(name)
        if not raw:
            continue
        try:
            ok = isinstance(json.loads(raw), dict)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            found.append(name)
    return tuple(found)


def _opt_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return from_sp_date(str(value))
    except ValueError:
        return None


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


@dataclass(slots=True, kw_only=True)
class TrackerRecord:
    """One tracker item as the jobs see it (a snapshot; ``etag`` guards updates)."""

    item_id: str
    etag: str
    web_url: str
    key: str
    title: str
    report_url: str = ""
    published_on: date | None = None
    deadline: date | None = None
    publication_types: str = ""
    police_forces: str = ""
    response_required: str = ""
    triage_reason: str = ""
    status: str = ""
    draft_url: str = ""
    response_owner: str = ""
    recommendations: int | None = None
    areas_for_improvement: int | None = None
    approved_by: str = ""
    approved_on: str = ""
    forwarded_hmicfrs: bool = False
    submitted_portal: bool = False
    forwarded_chief_constable: bool = False
    forwarded_panel: bool = False
    published_on_website: bool = False
    deadline_rule: str = ""
    setup: str = ""
    draft_item_id: str = ""
    tasks: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    mail: dict[str, Any] = field(default_factory=dict)
    reminders: dict[str, Any] = field(default_factory=dict)
    lease: str = ""
    modified_by: dict[str, Any] = field(default_factory=dict)
    modified: str = ""
    unreadable: tuple[str, ...] = ()

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TrackerRecord:
        """From a listItem with ``fields`` expanded."""
        fields = item.get("fields") or {}
        return cls(
            item_id=str(item.get("id") or fields.get("id") or ""),
            etag=str(
                item.get("eTag") or item.get("@odata.etag") or fields.get("@odata.etag") or ""
            ),
            web_url=str(item.get("webUrl") or ""),
            key=str(fields.get("PublicationKey") or ""),
            title=str(fields.get("Title") or ""),
            report_url=str(fields.get("ReportUrl") or ""),
            published_on=_opt_date(fields.get("PublishedOn")),
            deadline=_opt_date(fields.get("ResponseDeadline")),
            publication_types=str(fields.get("PublicationTypes") or ""),
            police_forces=str(fields.get("PoliceForces") or ""),
            response_required=str(fields.get("ResponseRequired") or ""),
            triage_reason=str(fields.get("TriageReason") or ""),
            status=str(fields.get("Status") or ""),
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
            deadline_rule=str(fields.get("S55DeadlineRule") or ""),
            setup=str(fields.get("S55Setup") or ""),
            draft_item_id=str(fields.get("S55DraftItemId") or ""),
            tasks=_json_field(fields, "S55Tasks"),
            report=_json_field(fields, "S55Report"),
            mail=_json_field(fields, "S55Mail"),
            reminders=_json_field(fields, "S55Reminders"),
            lease=str(fields.get("S55Lease") or ""),
            modified_by=dict(item.get("lastModifiedBy") or {}),
            modified=str(fields.get("Modified") or item.get("lastModifiedDateTime") or ""),
            unreadable=_unreadable(fields),
        )

    @property
    def marker(self) -> str:
        """The short reference staff and tasks use for this item: ``S55-12``."""
        return f"S55-{self.item_id}"

    def problems(self) -> list[str]:
        """Fields a person edited into an impossible state, one "Field: why" line each."""
        found = []
        if self.published_on is None:
            found.append("PublishedOn: missing or not a date")
        if self.deadline is None:
            found.append("ResponseDeadline: missing or not a date")
        elif self.published_on is not None and self.deadline < self.published_on:
            found.append(
                f"ResponseDeadline: {self.deadline.isoformat()} is before PublishedOn "
                f"{self.published_on.isoformat()}"
            )
        if self.response_required == "Yes" and self.status == "Not required":
            found.append(
                "ResponseRequired/Status: ResponseRequired is Yes but Status is Not required; "
                "no reminders or circulation until one of them is corrected"
            )
        found.extend(f"{name}: not valid JSON; ignored" for name in self.unreadable)
        return found


def dump_json(value: dict[str, Any]) -> str:
    """Compact, stable JSON for a bookkeeping column."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def date_field(value: date) -> str:
    """A date-only column value (midnight Europe/London, as UTC)."""
    return to_sp_date(value)


def datetime_field(value: datetime) -> str:
    """A date+time column value in UTC ISO form."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
