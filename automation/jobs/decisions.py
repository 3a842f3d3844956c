"""A person's triage decision on a tracker item: who made it, and the bookkeeping it needs.

Response required is the person's answer to "does this report need a Section 55 response?".
The service honours it at once (follow-up for a No, intake for a Yes) and writes who decided
into the Triage reason column, reading the decider from the item's version history.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from automation.domain.record import TrackerRecord
from automation.domain.relevance import Decision
from automation.domain.workflow import Status, decision_note
from automation.errors import NotFoundError
from automation.graph.tracker_list import ItemVersion
from automation.jobs.ports import Services

log = logging.getLogger(__name__)


SERVICE_USER_NAMES = frozenset({"sharepoint app"})
"""Display names SharePoint gives an app-only write's ``user`` (reported field behaviour: an
item written with an application token shows "SharePoint App" as its editor)."""


def is_service_write(app: Services, identity: Mapping[str, Any]) -> bool:
    """Whether a version's ``lastModifiedBy`` is the service's own write, not a person's.

    The service writes with an application token: the identity names this app
    (``application.id`` = ``client_id``), or SharePoint shows a user without an address
    called "SharePoint App". A person working through another app (Teams, the mobile app)
    keeps their own user, with an address.
    """
    application = identity.get("application")
    own_id = app.settings.client_id.casefold()
    if isinstance(application, Mapping) and str(application.get("id") or "").casefold() == own_id:
        return True
    user = identity.get("user")
    if not isinstance(user, Mapping):
        return True
    name = str(user.get("displayName") or "").strip().casefold()
    return not user.get("email") and name in SERVICE_USER_NAMES


def person(app: Services, identity: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``user`` of a person's write; None for the service's own (or nobody's)."""
    user = identity.get("user") if isinstance(identity, Mapping) else None
    if not isinstance(user, Mapping) or is_service_write(app, identity):
        return None
    return user


def editor_name(app: Services, identity: Mapping[str, Any]) -> str:
    """A person's name (or email) from an identity set; "" for the service or nobody."""
    user = person(app, identity)
    if user is None:
        return ""
    return str(user.get("displayName") or user.get("email") or "").strip()


def version_setting(
    versions: Sequence[ItemVersion], name: str, values: Collection[str]
) -> ItemVersion | None:
    """The version in which column ``name`` last took one of ``values`` (history newest first).

    That is the oldest version of the unbroken run at the top of the history whose ``name``
    is one of ``values``; None when the newest version has another value (the item changed
    since it was read).
    """
    found = None
    for version in versions:
        if str(version.fields.get(name) or "") not in values:
            break
        found = version
    return found


def decision_reason(
    app: Services, record: TrackerRecord, decision: Decision, *, today: dt.date
) -> str:
    """The item's TriageReason with "Decided <decision> by <who> on <today>" (added once)."""
    if f"Decided {decision.value}" in record.triage_reason:
        return record.triage_reason
    return decision_note(
        record.triage_reason, decision, by=decided_by(app, record, decision), on=today
    )


def decided_by(app: Services, record: TrackerRecord, decision: Decision) -> str:
    """Who made the item's Response required decision, from its version history.

    Not the last editor: a later write (a reminder, a lease, another column's edit) makes
    someone else, often the service, the last editor. A "No" may also have been made by
    setting Status to Not required. Falls back to the last editor read in this pass.
    """
    history = app.tracker.versions(record.item_id, ("ResponseRequired", "Status"))
    version = version_setting(history, "ResponseRequired", {decision.value})
    if version is None and decision is Decision.NO:
        version = version_setting(history, "Status", {Status.NOT_REQUIRED.value})
    return editor_name(app, version.modified_by if version else record.modified_by)


def recorded_task_id(record: TrackerRecord, key: str) -> str:
    """The id of the item's task for stage ``key`` as recorded on the item ("" if none)."""
    entry = record.tasks.get(key)
    return str(entry.get("id") or "") if isinstance(entry, dict) else ""


def complete_recorded_task(app: Services, record: TrackerRecord, key: str) -> None:
    """Mark the item's recorded task for stage ``key`` complete (a deleted task is fine)."""
    task_id = recorded_task_id(record, key)
    if not task_id:
        return
    try:
        app.planner.complete(task_id)
    except NotFoundError:
        log.info(
            "%s: the %s task of %s is gone; nothing to complete", record.key, key, record.marker
        )
