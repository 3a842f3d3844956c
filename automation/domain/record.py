"""The tracker record the jobs work with: plain data, no Graph.

SharePoint is the system of record: everything needed to resume lives on the item,
including hidden bookkeeping (ids of the draft and tasks, mail sent, reminders sent, the
intake step reached, a short-lived work lease for two instances). How a record is read
from and written to the list is the tracker adapter's business
(:mod:`automation.graph.tracker_list`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from automation.domain.relevance import Decision
from automation.domain.workflow import SetupState, Status

__all__ = ["TrackerRecord", "dump_json", "setup_state", "status_value"]


def dump_json(value: dict[str, Any]) -> str:
    """Compact, stable JSON for a bookkeeping column."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def setup_state(value: str) -> SetupState | str:
    """The ``S55Setup`` value as a :class:`SetupState` ('' when empty; unknown text kept)."""
    try:
        return SetupState(value) if value else ""
    except ValueError:
        return value


def status_value(value: str) -> Status | str:
    """The Status choice as a :class:`Status` (a choice staff added by hand is kept as text)."""
    try:
        return Status(value)
    except ValueError:
        return value


@dataclass(slots=True, kw_only=True)
class TrackerRecord:
    """One tracker item as the jobs see it (a snapshot; ``etag`` guards updates).

    ``status`` is the Status choice as read (a :class:`Status` value, or a choice staff
    added by hand); ``web_url`` is the item's display page (``DispForm.aspx?ID=``);
    ``approval`` is the accepted approval the service holds before circulating (who, when,
    and until when: ``S55Approval``); ``approval_problem`` the one line saying why an
    approval was refused.
    """

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
    status: Status | str = ""
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
    forwarded_home_secretary: bool = False
    published_url: str = ""
    approval_problem: str = ""
    deadline_rule: str = ""
    setup: SetupState | str = ""
    draft_item_id: str = ""
    tasks: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    mail: dict[str, Any] = field(default_factory=dict)
    approval: dict[str, Any] = field(default_factory=dict)
    reminders: dict[str, Any] = field(default_factory=dict)
    lease: str = ""
    modified_by: dict[str, Any] = field(default_factory=dict)
    modified: str = ""
    unreadable: tuple[str, ...] = ()

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
        if self.response_required == Decision.YES and self.status == Status.NOT_REQUIRED:
            found.append(
                "ResponseRequired/Status: ResponseRequired is Yes but Status is Not required; "
                "no reminders or circulation until one of them is corrected"
            )
        found.extend(f"{name}: not valid JSON; ignored" for name in self.unreadable)
        return found
