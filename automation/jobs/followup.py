"""Follow-up: the tracker moving with the work, approvals, circulation and publication.

Change detection reads the tracker list's delta (the stored delta link; a 410 falls back
to a full enumeration, which repeats no side effect because every step is recorded on the
item) and the plan's tasks (stage tasks completed in Planner), read once per pass.

For each item that changed or whose task was completed:

- before approval, Status follows the stage tasks (*Chief Constable comments*, *Drafting*,
  *PCC approval*);
- an approval goes through the gate, the hold and circulation
  (:mod:`automation.jobs.approval`, :mod:`automation.jobs.gate`);
- a circulated response is followed to *Published* (:mod:`automation.jobs.publication`).

Every email is sent exactly once (:mod:`automation.jobs.circulation`); a send whose outcome
is unknown stays pending, and the item unfinished, until the mailbox shows it or
``mail.confirm_minutes`` have passed (:mod:`automation.jobs.confirm`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from automation.domain.record import TrackerRecord
from automation.domain.relevance import Decision
from automation.domain.workflow import (
    CIRCULATION_DONE,
    TERMINAL,
    WORKING,
    Status,
    declined,
    status_in,
)
from automation.errors import AutomationError, PreconditionFailedError
from automation.graph.tracker_list import ItemVersion
from automation.jobs.approval import ApprovalStep
from automation.jobs.circulation import GROUPS, Group, Outgoing, mail_key, write
from automation.jobs.decisions import (
    complete_recorded_task,
    decision_reason,
    recorded_task_id,
    version_setting,
)
from automation.jobs.gate import work_status
from automation.jobs.intake import TRIAGE_STAGE, Intake
from automation.jobs.lease import claim
from automation.jobs.ports import Services
from automation.jobs.publication import PublicationStep
from automation.jobs.report import RunReport

log = logging.getLogger(__name__)

__all__ = ["GROUPS", "FollowUp", "Group", "approving_version", "mail_key", "run"]

MARKER = re.compile(r"^\[S55-(\d+)\]")
WATCHED_ROLES = frozenset({"chief_constable_comments", "draft", "approval", "publish", "portal"})


def approving_version(versions: Sequence[ItemVersion]) -> ItemVersion | None:
    """The version in which Status last became Approved, from a history newest first.

    That is the oldest version of the unbroken run of "Approved" versions at the top of the
    history (the version before it had another status, or there is none). None when the
    newest version does not say Approved (it changed since the item was read).
    """
    return version_setting(versions, "Status", {Status.APPROVED.value})


class FollowUp:
    """One follow-up pass."""

    def __init__(self, app: Services, report: RunReport, *, today: dt.date, intake: Intake) -> None:
        self.app = app
        self.settings = app.settings
        self.report = report
        self.today = today
        self.intake = intake
        self.dry_run = report.dry_run
        # Every task of the plan by id, read once per pass (`completed_tasks`).
        self.board: dict[str, dict[str, Any]] = {}
        outgoing = Outgoing(app, report)
        self.approvals = ApprovalStep(app, report, outgoing, board=self.board, today=today)
        self.publication = PublicationStep(app, report, outgoing, board=self.board, today=today)

    # -- change detection ----------------------------------------------------------------------
    def read_changes(self) -> tuple[list[TrackerRecord], str]:
        """Changed items since the stored delta link, and the new link."""
        ids = self.app.workspace.resolve()
        link = self.app.state.section("delta").get(ids.list_id) or None
        return self.app.tracker.changes(link)

    def get_records(self, item_ids: Sequence[str]) -> list[TrackerRecord]:
        """Items by id (one ``$batch`` round trip per 20; items that are gone are left out)."""
        return self.app.tracker.get_many(item_ids)

    def completed_tasks(self) -> dict[str, dict[str, Any]]:
        """Completed stage tasks by task id, from one read of the plan (kept in `board`)."""
        watched = [s for s in self.settings.stages if s.role in WATCHED_ROLES]
        out: dict[str, dict[str, Any]] = {}
        self.board.clear()
        for task in self.app.planner.list_tasks(self.app.workspace.resolve().plan_id):
            self.board[str(task.get("id"))] = task
            if int(task.get("percentComplete") or 0) < 100:
                continue
            title = str(task.get("title", ""))
            found = MARKER.match(title)
            if not found:
                continue
            role = next(
                (s.role for s in watched if title.startswith(f"[S55-{found.group(1)}] {s.title}")),
                "",  # retitled by hand, or not a stage's: see `resolve_roles`
            )
            out[str(task["id"])] = {"item_id": found.group(1), "role": role, "task": task}
        return out

    def resolve_roles(
        self, pending: dict[str, dict[str, Any]], by_item: Mapping[str, TrackerRecord]
    ) -> list[str]:
        """Give completed tasks whose title names no stage the role of their recorded stage.

        A task staff retitled is still the stage task the item recorded (``S55Tasks``), so
        its completion counts. Those that are no stage's task of their item are dropped from
        ``pending`` and returned, to be marked handled (not read again).
        """
        dropped = []
        for task_id, info in list(pending.items()):
            if info["role"]:
                continue
            record = by_item.get(info["item_id"])
            if record is None:
                del pending[task_id]  # the item is gone: nothing to do, nothing to remember
                continue
            role = next(
                (
                    stage.role
                    for stage in self.settings.stages
                    if stage.role in WATCHED_ROLES
                    and recorded_task_id(record, stage.key) == task_id
                ),
                "",
            )
            if role:
                info["role"] = role
                log.info("%s: task %s (retitled) is its %s task", record.key, task_id, role)
            else:
                del pending[task_id]
                dropped.append(task_id)
        return dropped

    # -- the pass ---------------------------------------------------------------------------------
    def run(self) -> None:
        """Detect changes and act on them."""
        changed, delta_link = self.read_changes()
        failures_before = len(self.report.failures)
        unfinished_before = len(self.report.unfinished)
        completed = self.completed_tasks()
        handled = set(self.app.state.get("handled_tasks", []) or [])
        by_item: dict[str, TrackerRecord] = {record.item_id: record for record in changed}
        pending = {tid: info for tid, info in completed.items() if tid not in handled}
        need = [info["item_id"] for info in pending.values() if info["item_id"] not in by_item]
        for record in self.get_records(list(dict.fromkeys(need))):
            by_item[record.item_id] = record
        newly_handled: list[str] = self.resolve_roles(pending, by_item)
        task_roles: dict[str, dict[str, dict[str, Any]]] = {}
        for tid, info in pending.items():
            task_roles.setdefault(info["item_id"], {})[info["role"]] = {"id": tid, **info}
        for item_id, record in by_item.items():
            try:
                self.handle(record, task_roles.get(item_id, {}))
                newly_handled.extend(
                    info["id"]
                    for info in task_roles.get(item_id, {}).values()
                    if self._task_settled(record, info["role"])
                )
            except AutomationError as exc:
                self.report.failure(record.key or record.marker, str(exc))
        if self.dry_run:
            return
        if self._may_advance(by_item.values(), failures_before, unfinished_before):
            links = self.app.state.section("delta")
            links[self.app.workspace.resolve().list_id] = delta_link
            self.app.state.set("delta", links)
        if newly_handled:
            self.app.state.set("handled_tasks", sorted(handled | set(newly_handled))[-5000:])

    def _may_advance(
        self, records: Iterable[TrackerRecord], failures_before: int, unfinished_before: int
    ) -> bool:
        """Whether the delta link may move past this pass's changes.

        Not while an item it returned is unfinished: an item that failed, or that was left
        for later (another instance's lease, a send still being confirmed), in follow-up or
        earlier in the pass. Keeping the old link makes the next pass read those changes
        again, whatever the feed says (an unchanged feed is not read at all).
        """
        if len(self.report.failures) > failures_before:
            return False
        if len(self.report.unfinished) > unfinished_before:
            return False
        left = {
            line.partition(": ")[0] for line in (*self.report.failures, *self.report.unfinished)
        }
        return not any(record.key in left or record.marker in left for record in records)

    def _task_settled(self, record: TrackerRecord, role: str) -> bool:
        """Whether a completed task of ``role`` needs no more passes for its item."""
        if status_in(record.status, TERMINAL | {Status.PUBLISHED}):
            return True
        if role == "approval":
            return record.status in CIRCULATION_DONE
        if role == "publish":
            return False  # until Published: the copies on publication wait for its address
        if role == "portal":
            return record.submitted_portal
        return True  # an earlier stage: Status followed it in this pass

    def handle(self, record: TrackerRecord, tasks: dict[str, dict[str, Any]]) -> None:
        """Everything follow-up does for one item."""
        if not record.key:
            return
        for problem in record.problems():
            log.warning("%s (%s): %s", record.key, record.marker, problem)
        if declined(record.response_required, record.status):
            self.honour_no(record)
            return
        if self.intake.needs_setup(record):
            self.intake.continue_setup(record, fresh=False)
            if self.dry_run:
                return
            # Set up now (a person's Yes, or a crash in intake): carry on with the item as
            # it is now, and the plan with its new tasks, so Status follows them at once.
            current = self.app.tracker.get_many([record.item_id])
            if not current or self.intake.needs_setup(current[0]):
                return
            record = current[0]
            self.completed_tasks()
        if status_in(record.status, TERMINAL):
            return
        if not self.follow_stages(record):
            return  # changed by a person since it was read: the next pass reads it again
        if record.status not in CIRCULATION_DONE:
            self.approvals.step(record, tasks)
        if record.status == Status.CIRCULATED:
            self.publication.step(record, tasks)

    def follow_stages(self, record: TrackerRecord) -> bool:
        """Move Status with the stage tasks before approval (Chief Constable comments, ...).

        False when the item changed since it was read (the write is conditional on its etag).
        """
        if not status_in(record.status, WORKING):
            return True
        wanted = work_status(self.app, record, self.board)
        if wanted == record.status:
            return True
        if self.dry_run:
            self.report.action(record.key, f"{record.marker}: Status {wanted}")
            return True
        try:
            # If-Match: a person who changed the item since it was read (set Approved, say)
            # is not overwritten; the next pass reads it again.
            written = self.app.tracker.patch(
                record.item_id, {"Status": wanted.value}, etag=record.etag or None
            )
        except PreconditionFailedError:
            self.report.later(record.key, f"{record.marker} changed while read; Status next pass")
            return False
        record.etag = str(written.get("@odata.etag") or record.etag)
        record.status = wanted
        self.report.action(record.key, f"{record.marker} is at {wanted}")
        return True

    def honour_no(self, record: TrackerRecord) -> None:
        """A person decided no response is needed: stop the work and say who decided.

        The decision note goes in the same write as the lease (so a crash cannot lose who
        decided), then the triage task is completed, then Status *Not required* (the last
        write: an item that says Not required is not revisited; reminders stop at the
        Response required = No already).
        """
        fields: dict[str, Any] = {}
        reason = decision_reason(self.app, record, Decision.NO, today=self.today)
        if reason != record.triage_reason:
            fields["TriageReason"] = reason
        if record.response_required != Decision.NO.value:
            fields["ResponseRequired"] = Decision.NO.value
        if self.dry_run:
            self.report.action(record.key, f"{record.marker}: decided No; stop its work")
            return
        if not claim(self.app, record, fields=fields or None):
            self.report.later(record.key, f"decision on {record.marker}: another instance has it")
            return
        complete_recorded_task(self.app, record, TRIAGE_STAGE.key)
        self.patch(record, {"Status": Status.NOT_REQUIRED.value, "S55Lease": ""})
        record.status = Status.NOT_REQUIRED
        self.report.action(record.key, f"{record.marker} not required (decided No)")

    # -- writes --------------------------------------------------------------------------------
    def patch(self, record: TrackerRecord, fields: dict[str, Any]) -> None:
        """Update the item's fields (and the snapshot we hold)."""
        if self.dry_run:
            self.report.action(record.key, f"update {record.marker}: {sorted(fields)}")
            return
        write(self.app, record, fields)


def run(app: Services, report: RunReport, *, today: dt.date, intake: Intake) -> None:
    """The follow-up pass (used by ``once`` and the scheduler)."""
    FollowUp(app, report, today=today, intake=intake).run()
