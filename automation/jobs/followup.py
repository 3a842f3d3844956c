"""Follow-up: approvals, circulation (exactly-once mail) and publication.

Change detection reads the tracker list's delta (the stored delta link; a 410 falls back
to a full enumeration, which repeats no side effect because every step is recorded on the
item) and the plan's tasks (approval and publish tasks completed in Planner).

Circulation of an approved response, step by step, each recorded on the item:

1. ApprovedBy / ApprovedOn / Status "Approved";
2. the current draft from the library, converted to PDF by Graph;
3. per recipient group: look for the message's idempotency key in the mailbox, send only if
   it is not there (recording the send as pending first), then record the send
   (``S55Mail``) and tick the group's column;
4. the approval task completed, then Status "Circulated" (the last write: an item that
   says Circulated is not revisited).

A crash between a send and its record is healed by step 3's mailbox search; a send whose
outcome is unknown stays pending, and the circulation unfinished, until the search finds it
or ``mail.confirm_minutes`` have passed (:mod:`automation.jobs.confirm`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from automation.domain.calendar import london_date, long_date, utc_stamp
from automation.domain.record import TrackerRecord
from automation.domain.relevance import Decision
from automation.domain.workflow import CIRCULATION_DONE, Status, declined
from automation.errors import AutomationError, ItemError
from automation.graph.mail import Attachment
from automation.graph.tracker_list import ItemVersion
from automation.jobs.confirm import PENDING, Step, next_step, pending_entry, send_recorded
from automation.jobs.decisions import (
    complete_recorded_task,
    decision_reason,
    recorded_task_id,
    version_setting,
)
from automation.jobs.intake import TRIAGE_STAGE, Intake
from automation.jobs.lease import claim
from automation.jobs.ports import Services
from automation.jobs.report import RunReport
from automation.mailrender import MailRenderer

log = logging.getLogger(__name__)

MARKER = re.compile(r"^\[S55-(\d+)\]")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True, slots=True)
class Group:
    """A recipient group of the circulation."""

    name: str
    template: str
    column: str
    with_docx: bool = False


GROUPS: tuple[Group, ...] = (
    Group("chief_constable", "circulation_chief_constable", "ForwardedToChiefConstable"),
    Group("panel", "circulation_panel", "ForwardedToPanel"),
    Group("website", "circulation_website", "", with_docx=True),
    Group("hmicfrs", "circulation_hmicfrs", "ForwardedToHMICFRS"),
)


def mail_key(record: TrackerRecord, group: str) -> str:
    """The idempotency key of one circulation email (stable for the item and group)."""
    digest = hashlib.sha256(record.key.encode("utf-8")).hexdigest()[:16]
    return f"s55-circulation-{digest}-{record.item_id}-{group}"


@dataclass(frozen=True, slots=True)
class Approval:
    """Who approved, and when."""

    by: str
    on: str


def _person(identity: dict[str, Any]) -> str:
    user = identity.get("user") if isinstance(identity, dict) else None
    if not isinstance(user, dict):
        return ""
    name = str(user.get("displayName") or "").strip()
    email = str(user.get("email") or "").strip()
    if name and email:
        return f"{name} <{email}>"
    return name or email


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
        self._renderer: MailRenderer | None = None

    @property
    def renderer(self) -> MailRenderer:
        """Email templates (loaded on first use)."""
        if self._renderer is None:
            self._renderer = MailRenderer(self.settings.templates_dir / "email")
        return self._renderer

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
        """Completed approval/publish tasks by task id, from one read of the plan."""
        watched = [s for s in self.settings.stages if s.role in ("approval", "publish")]
        out: dict[str, dict[str, Any]] = {}
        for task in self.app.planner.list_tasks(self.app.workspace.resolve().plan_id):
            if int(task.get("percentComplete") or 0) < 100:
                continue
            title = str(task.get("title", ""))
            found = MARKER.match(title)
            if not found:
                continue
            for stage in watched:
                if title.startswith(f"[S55-{found.group(1)}] {stage.title}"):
                    out[str(task["id"])] = {
                        "item_id": found.group(1),
                        "role": stage.role,
                        "task": task,
                    }
        return out

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
        task_roles: dict[str, dict[str, dict[str, Any]]] = {}
        for tid, info in pending.items():
            task_roles.setdefault(info["item_id"], {})[info["role"]] = {"id": tid, **info}
        newly_handled: list[str] = []
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
        if role == "approval":
            return record.status in CIRCULATION_DONE
        return record.published_on_website

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
            return
        approval = None
        if record.status == Status.APPROVED:
            approval = self.tracker_approval(record)
        elif "approval" in tasks and record.status not in CIRCULATION_DONE:
            approval = self.planner_approval(tasks["approval"]["task"])
        if approval is not None and record.status not in CIRCULATION_DONE:
            self.circulate(record, approval)
        publish_done = "publish" in tasks or record.published_on_website
        if publish_done and record.status == Status.CIRCULATED:
            self.mark_published(record, via_task="publish" in tasks)

    def tracker_approval(self, record: TrackerRecord) -> Approval:
        """Who set Status to Approved, and when: ApprovedBy/On, else the version history.

        Not the item's last editor: any later write (a reminder, a lease, another column's
        edit) makes someone else, often the service itself, the last editor. The history
        keeps the editor of the write that made the item Approved.
        """
        if record.approved_by:
            return Approval(by=record.approved_by, on=record.approved_on or record.modified)
        version = approving_version(self.app.tracker.versions(record.item_id, ("Status",)))
        if version is None:
            log.warning("%s: no version says Approved; using the last editor", record.key)
            return Approval(
                by=_person(record.modified_by), on=record.approved_on or record.modified
            )
        return Approval(by=_person(version.modified_by), on=record.approved_on or version.modified)

    def planner_approval(self, task: dict[str, Any]) -> Approval:
        """Approval recorded from a completed approval task."""
        completed_by = task.get("completedBy") or {}
        user_id = str((completed_by.get("user") or {}).get("id") or "")
        who = ""
        if user_id:
            user = self.app.users.get(user_id)
            if user is not None:
                who = f"{user.display_name} <{user.mail or user.upn}>"
        return Approval(by=who or "Planner", on=str(task.get("completedDateTime") or ""))

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
        self.app.tracker.patch(record.item_id, fields)

    def circulate(self, record: TrackerRecord, approval: Approval) -> None:
        """Record the approval and send the response to every configured group once."""
        fields: dict[str, Any] = {}
        if not record.approved_by or record.status != Status.APPROVED:
            fields = {"Status": Status.APPROVED.value}
            if not record.approved_by:
                fields["ApprovedBy"] = approval.by[:255]
                fields["ApprovedOn"] = approval.on or utc_stamp(dt.datetime.now(dt.UTC))
        if self.dry_run:
            if fields:
                self.patch(record, fields)
        # The approval goes in the same write as the lease: a lease written on its own would
        # make the service the item's last editor, and a crash right after it would lose
        # who approved (the approver is read from the item's last editor).
        elif not claim(self.app, record, fields=fields):
            self.report.later(
                record.key, f"circulation of {record.marker}: another instance has it"
            )
            return
        if fields:
            record.approved_by = str(fields.get("ApprovedBy", record.approved_by))
            record.approved_on = str(fields.get("ApprovedOn", record.approved_on))
            record.status = Status.APPROVED
            self.report.action(record.key, f"{record.marker} approved by {approval.by}")
        groups = [g for g in GROUPS if getattr(self.settings.recipients, g.name)]
        unsent = [g for g in groups if g.name not in record.mail]
        if unsent:
            if not record.draft_item_id:
                raise ItemError(record.key, "S55DraftItemId", "approved but no draft recorded")
            if self.dry_run:
                for group in unsent:
                    self.report.action(record.key, f"email the response to {group.name}")
                return
            drive_id = self.app.workspace.resolve().drive_id
            docx_bytes = self.app.drive.download(drive_id, record.draft_item_id)
            pdf_bytes = self.app.drive.download_pdf(drive_id, record.draft_item_id)
            confirmed = [self.send_group(record, g, docx_bytes, pdf_bytes) for g in unsent]
            if not all(confirmed):
                return  # a send is still being confirmed: finish on a later pass
        # The approval task first: once the item says Circulated, nothing revisits it, so
        # Status Circulated must be the last write of the circulation.
        self.complete_task(record, "approval")
        final: dict[str, Any] = {"Status": Status.CIRCULATED.value, "S55Lease": ""}
        for group in groups:
            if group.column:
                final[group.column] = True
        self.patch(record, final)
        record.status = Status.CIRCULATED
        self.report.action(record.key, f"{record.marker} circulated")

    def _names(self, record: TrackerRecord) -> tuple[str, str]:
        stem = f"{record.published_on.isoformat() if record.published_on else ''} "
        stem += "Section 55 response"
        return f"{stem}.pdf", f"{stem}.docx"

    def send_group(
        self, record: TrackerRecord, group: Group, docx_bytes: bytes, pdf_bytes: bytes
    ) -> bool:
        """Send (unless the mailbox has it) and record one group's email.

        Returns False when the email's outcome is still being confirmed (a send answered
        5xx or lost, not yet found in the mailbox, within ``mail.confirm_minutes``): it
        is neither sent nor recorded now, and the item is left for a later pass.
        """
        mail = self.app.mail
        if mail is None:
            raise ItemError(record.key, "mailbox", "no sending mailbox configured")
        key = mail_key(record, group.name)
        now = dt.datetime.now(dt.UTC)
        entry = self._pending(record).get(group.name)
        step = next_step(mail, key, entry, now=now, minutes=self.settings.mail.confirm_minutes)
        if step == Step.WAIT:
            self.report.later(record.key, f"{group.name} email sent? confirming ({key})")
            return False
        if step == Step.RECORD:
            log.info("%s: %s email found in the mailbox; recording it", record.key, group.name)
        else:
            pdf_name, docx_name = self._names(record)
            rendered = self.renderer.render(group.template, self.mail_context(record, pdf_name))
            attachments = [
                Attachment(name=pdf_name, content_type="application/pdf", content=pdf_bytes)
            ]
            if group.with_docx:
                attachments.append(
                    Attachment(name=docx_name, content_type=DOCX_TYPE, content=docx_bytes)
                )
            recipients = list(getattr(self.settings.recipients, group.name))
            accepted = send_recorded(
                mark=lambda: self._set_pending(record, group, pending_entry(key, now)),
                send=lambda: mail.send(
                    key=key,
                    subject=rendered.subject,
                    html=rendered.html,
                    to=recipients,
                    attachments=attachments,
                ),
                forget=lambda: self._set_pending(record, group, None),
                found=lambda: mail.find_sent(key) is not None,
                minutes=self.settings.mail.confirm_minutes,
            )
            if not accepted:
                self.report.later(record.key, f"{group.name} email: outcome unknown ({key})")
                return False
            self.report.sent.append(f"{record.key}:{group.name}")
            self.report.action(record.key, f"emailed {group.name} ({', '.join(recipients)})")
        record.mail[group.name] = {
            "key": key,
            "at": utc_stamp(dt.datetime.now(dt.UTC)),
        }
        self._drop_pending(record, group)
        fields: dict[str, Any] = {"S55Mail": dict(record.mail)}
        if group.column:
            fields[group.column] = True
        self.patch(record, fields)
        return True

    @staticmethod
    def _pending(record: TrackerRecord) -> dict[str, Any]:
        """Sends of this item whose outcome is unconfirmed, by group (from ``S55Mail``)."""
        pending = record.mail.get(PENDING)
        return dict(pending) if isinstance(pending, dict) else {}

    def _drop_pending(self, record: TrackerRecord, group: Group) -> None:
        pending = self._pending(record)
        pending.pop(group.name, None)
        if pending:
            record.mail[PENDING] = pending
        else:
            record.mail.pop(PENDING, None)

    def _set_pending(
        self, record: TrackerRecord, group: Group, entry: dict[str, str] | None
    ) -> None:
        """Write (or, with ``None``, remove) the group's pending send on the item."""
        if entry is None:
            self._drop_pending(record, group)
        else:
            record.mail[PENDING] = {**self._pending(record), group.name: entry}
        self.patch(record, {"S55Mail": dict(record.mail)})

    def mail_context(self, record: TrackerRecord, pdf_name: str) -> dict[str, Any]:
        """Values for the circulation templates."""
        report = record.report
        return {
            "title": str(report.get("title") or record.title),
            "published_on": long_date(record.published_on) if record.published_on else "",
            "deadline": long_date(record.deadline) if record.deadline else "",
            "report_url": str(report.get("link") or record.report_url),
            "draft_url": record.draft_url,
            "pdf_name": pdf_name,
            "tracker_url": record.web_url,
            "pcc_area": self.settings.pcc_area,
            "force_name": self.settings.force_name,
            "approved_by": record.approved_by,
            "approved_on": _london_day(record.approved_on),
        }

    def mark_published(self, record: TrackerRecord, *, via_task: bool) -> None:
        """The website team published it: tick the column, Status Published."""
        if not via_task:
            # Before the status: once the item says Published, nothing revisits it.
            self.complete_task(record, "publish")
        fields: dict[str, Any] = {"Status": Status.PUBLISHED.value}
        if not record.published_on_website:
            fields["PublishedOnWebsite"] = True
        self.patch(record, fields)
        record.status = Status.PUBLISHED
        record.published_on_website = True
        self.report.action(record.key, f"{record.marker} published on the website")

    def complete_task(self, record: TrackerRecord, role: str) -> None:
        """Mark the stage task of ``role`` complete in Planner (if it is not already)."""
        stage = next((s for s in self.settings.stages if s.role == role), None)
        if stage is None or not recorded_task_id(record, stage.key):
            return
        if self.dry_run:
            self.report.action(record.key, f"complete the {stage.key} task")
            return
        complete_recorded_task(self.app, record, stage.key)


def _london_day(stamp: str) -> str:
    """``20 July 2023`` for a stamp; an unreadable stamp is shown as it is."""
    day = london_date(stamp) if stamp else None
    return long_date(day) if day is not None else stamp


def run(app: Services, report: RunReport, *, today: dt.date, intake: Intake) -> None:
    """The follow-up pass (used by ``once`` and the scheduler)."""
    FollowUp(app, report, today=today, intake=intake).run()
