"""The approval gate's facts: the approval attempt, and what stands in its way.

An approval is Status set to *Approved* in the tracker (the approver read from the item's
version history, not its last editor) or the "PCC approval" Planner task completed (the
approver is who completed it). :func:`gate_problems` lists every rule it breaks:

1. the approver is one of ``people.approvers`` (default: the PCC);
2. the current draft has none of the template's prompts left and a response under every
   finding it lists (:func:`automation.documents.inspect_draft`);
3. the earlier stages' tasks are complete, or deleted (a stage the office skips).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from automation.documents import inspect_draft
from automation.domain.approval import Attempt, is_approver, unapproved_problem
from automation.domain.calendar import london_today, parse_stamp, utc_stamp
from automation.domain.record import TrackerRecord
from automation.domain.workflow import EARLIER_ROLES, Status, stage_status
from automation.errors import NotFoundError, PreconditionFailedError
from automation.jobs.decisions import person, recorded_task_id, version_setting
from automation.jobs.ports import Services

log = logging.getLogger(__name__)

__all__ = [
    "approval_fields",
    "earlier_stage_problems",
    "gate_problems",
    "held_attempt",
    "in_pass_calendar",
    "open_roles",
    "planner_attempt",
    "reopen_task",
    "split_person",
    "tracker_attempt",
    "work_status",
]


def split_person(text: str) -> tuple[str, str]:
    """(name, address) from ``Sarah Taylor <pcc@example.org>`` (either may be "")."""
    name, _, rest = text.partition("<")
    address = rest.rstrip(">").strip()
    name = name.strip()
    if not address and "@" in name:
        return "", name
    return name, address


def held_attempt(record: TrackerRecord) -> Attempt | None:
    """The approval the item holds (``S55Approval``), if any."""
    held = record.approval
    attempt_id = str(held.get("attempt") or "")
    source = str(held.get("source") or "")
    if not attempt_id or source not in ("tracker", "planner"):
        return None
    return Attempt(
        attempt_id=attempt_id,
        source="planner" if source == "planner" else "tracker",
        name=str(held.get("name") or ""),
        address=str(held.get("address") or ""),
        on=str(held.get("on") or ""),
    )


def tracker_attempt(app: Services, record: TrackerRecord) -> Attempt:
    """The approval that made the item say Approved, from its version history.

    A person's write names the approver. The service's own write of Approved (an accepted
    Planner approval, recorded in ``S55Approval``) stands for that approval.
    """
    version = version_setting(
        app.tracker.versions(record.item_id, ("Status",)), "Status", {Status.APPROVED.value}
    )
    if version is None:
        log.warning("%s: no version says Approved; using the last editor", record.key)
        identity, on, version_id = record.modified_by, record.modified, f"at-{record.modified}"
    else:
        identity, on, version_id = version.modified_by, version.modified, version.version_id
    user = person(app, identity)
    if user is not None:
        return Attempt(
            attempt_id=f"tracker:{version_id}",
            source="tracker",
            name=str(user.get("displayName") or "").strip(),
            address=str(user.get("email") or "").strip(),
            on=on,
        )
    held = held_attempt(record)
    if held is not None:
        return held
    # Written Approved by an older version of the service, which recorded only ApprovedBy.
    name, address = split_person(record.approved_by)
    return Attempt(
        attempt_id=f"tracker:{version_id}",
        source="tracker",
        name=name,
        address=address,
        on=record.approved_on or on,
    )


def planner_attempt(app: Services, task: Mapping[str, Any]) -> Attempt:
    """The approval a completed approval task stands for: who completed it, and when."""
    completed_by = task.get("completedBy") or {}
    user_id = str((completed_by.get("user") or {}).get("id") or "")
    user = app.users.get(user_id) if user_id else None
    stamp = str(task.get("completedDateTime") or "")
    return Attempt(
        attempt_id=f"planner:{task.get('id')}:{stamp}",
        source="planner",
        name=user.display_name if user is not None else "",
        address=(user.mail or user.upn) if user is not None else "",
        on=stamp,
    )


def open_roles(app: Services, record: TrackerRecord, board: Mapping[str, Any]) -> list[str]:
    """Roles of the item's stages whose task exists and is not complete (deleted = skipped)."""
    found: list[str] = []
    for stage in app.settings.stages:
        task = board.get(recorded_task_id(record, stage.key))
        if task is not None and int(task.get("percentComplete") or 0) < 100:
            found.append(stage.role)
    return found


def work_status(app: Services, record: TrackerRecord, board: Mapping[str, Any]) -> Status:
    """The Status the item's open stage tasks give it (before approval)."""
    return stage_status(open_roles(app, record, board))


def earlier_stage_problems(
    app: Services, record: TrackerRecord, board: Mapping[str, Any]
) -> list[str]:
    """Clauses naming the earlier stages whose tasks are still open."""
    problems = []
    for stage in app.settings.stages:
        if stage.role not in EARLIER_ROLES:
            continue
        task = board.get(recorded_task_id(record, stage.key))
        if task is not None and int(task.get("percentComplete") or 0) < 100:
            problems.append(
                f"the task '{stage.title}' is not complete (complete it, or delete it if the "
                "office skips that stage)"
            )
    return problems


def gate_problems(
    app: Services,
    record: TrackerRecord,
    attempt: Attempt,
    board: Mapping[str, Any],
    docx: bytes,
) -> list[str]:
    """Every reason ``attempt`` may not circulate the draft ``docx`` ([] when it may)."""
    problems = []
    approvers = app.settings.approvers
    if not is_approver(attempt.address, approvers):
        names = []
        for address in approvers:
            user = app.users.get(address)
            names.append(user.display_name if user is not None and user.display_name else address)
        problems.append(unapproved_problem(attempt, names))
    try:
        check = inspect_draft(docx)
    except ValueError as exc:
        problems.append(f"the draft cannot be read ({exc})")
    else:
        problems.extend(check.problems())
    problems.extend(earlier_stage_problems(app, record, board))
    return problems


def in_pass_calendar(stamp: str, *, today: dt.date, now: dt.datetime) -> dt.datetime:
    """``stamp`` (else ``now``) moved by as many days as ``today`` is from the real today.

    Unchanged in a normal pass; under ``once --as-of`` (or the demo) a moment of the real
    clock is told in the pass's calendar, so a story set in 2023 keeps its dates.
    """
    return (parse_stamp(stamp) or now) + (today - london_today(now))


def approval_fields(
    record: TrackerRecord, attempt: Attempt, *, now: dt.datetime, today: dt.date
) -> dict[str, Any]:
    """What an accepted approval writes: who and when, the held approval, no problem line.

    ApprovedOn is the approval's own time, in the pass's calendar: under ``once --as-of`` a
    story set in 2023 keeps its dates (the time is moved by as many days as the pass's
    "today" is from the real one). The hold itself is measured from ``now``, the real clock.
    """
    approved = in_pass_calendar(attempt.on, today=today, now=now)
    by = f"{attempt.name} <{attempt.address}>" if attempt.name and attempt.address else attempt.who
    fields: dict[str, Any] = {
        "S55Approval": {
            "attempt": attempt.attempt_id,
            "source": attempt.source,
            "name": attempt.name,
            "address": attempt.address,
            "on": attempt.on,
            "since": utc_stamp(now),
        },
        "ApprovedBy": by[:255],
        "ApprovedOn": utc_stamp(approved),
    }
    if record.status != Status.APPROVED:
        fields["Status"] = Status.APPROVED.value
    if record.approval_problem:
        fields["ApprovalProblem"] = ""
    return fields


def reopen_task(app: Services, record: TrackerRecord, key: str) -> bool:
    """Set the item's task of stage ``key`` back to not started; False when it is gone."""
    task_id = recorded_task_id(record, key)
    if not task_id:
        return False
    for attempt in (1, 2):
        try:
            task = app.planner.get_task(task_id)
            if int(task.get("percentComplete") or 0) < 100:
                return True
            app.planner.update_task(
                task_id, str(task.get("@odata.etag", "")), {"percentComplete": 0}
            )
            return True
        except NotFoundError:
            return False
        except PreconditionFailedError:
            if attempt == 2:
                raise
    return True
