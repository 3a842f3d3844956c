"""Follow-up's handling of an approval: refuse it, hold it, cancel it, or circulate.

A refused approval (:mod:`automation.jobs.gate` says why) is undone: Status goes back to the
stage the work is at, a completed approval task is reopened, the tracker's "Why not
circulated" column says why in one line, and the response owner is told once (one email per
attempt). An accepted one is recorded (who, when: ``ApprovedBy``/``ApprovedOn``,
``S55Approval``) and held for ``approval.hold_minutes`` on the real clock (also under
``once --as-of``), while the approver has a preview with the PDF saying when it goes;
setting Status back in that time cancels it. Then the groups sent at approval each get one
email, the approval task is completed, and Status becomes Circulated (the last write).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from automation.domain.approval import Attempt, circulates_at, london_clock, refusal_note
from automation.domain.calendar import utc_stamp
from automation.domain.record import TrackerRecord
from automation.domain.workflow import Status
from automation.errors import ItemError
from automation.graph.mail import Attachment
from automation.jobs.circulation import (
    LABELS,
    ItemStep,
    notice_key,
    notice_name,
    pdf_attachment,
    write,
)
from automation.jobs.decisions import complete_recorded_task
from automation.jobs.gate import (
    approval_fields,
    gate_problems,
    held_attempt,
    in_pass_calendar,
    planner_attempt,
    reopen_task,
    tracker_attempt,
    work_status,
)
from automation.jobs.lease import claim
from automation.jobs.ports import Services
from automation.jobs.reminders import allowed_addresses
from automation.mailrender import RenderedMail

log = logging.getLogger(__name__)

__all__ = ["ApprovalStep", "stage_key"]


def stage_key(app: Services, role: str) -> str:
    """The key of the configured stage with ``role`` ("" when none has it)."""
    return next((stage.key for stage in app.settings.stages if stage.role == role), "")


class ApprovalStep(ItemStep):
    """Follow-up's handling of an approval: refuse it, hold it, cancel it or circulate."""

    def step(self, record: TrackerRecord, tasks: Mapping[str, Mapping[str, Any]]) -> None:
        """Act on the item's approval, if any (the item is not yet circulated)."""
        held = held_attempt(record)
        if self.started(record):
            # A circulation under way goes on under the approval that started it (the gate
            # let it through; part of it has gone): neither a later approver nor Status
            # set back after the hold changes who approved what the others receive.
            started_by = held or self.attempt(record, tasks)
            if started_by is None:
                raise ItemError(
                    record.key,
                    "S55Approval",
                    "part of the circulation was sent but no approval is recorded; "
                    "set Status to Approved to send the rest",
                )
            if record.status != Status.APPROVED:
                self.report.action(
                    record.key,
                    f"{record.marker}: Status is {record.status} but the circulation had "
                    f"begun; it is finished as approved by {started_by.who}",
                )
            self.circulate(record, started_by)
            return
        if held is not None and held.source == "planner" and record.status != Status.APPROVED:
            # A Planner approval the service accepted said Approved on the item; a person
            # set Status back during the hold: cancelled (and the task reopened).
            self.cancel(record)
            return
        attempt = self.attempt(record, tasks)
        if attempt is None:
            if record.approval:
                self.cancel(record)
            return
        if held is not None and held.attempt_id == attempt.attempt_id:
            until = circulates_at(str(record.approval.get("since") or ""), self.hold_minutes)
            now = dt.datetime.now(dt.UTC)
            if until is not None and now < until:
                self.wait(record, attempt, until)
            else:
                self.circulate(record, attempt)
            return
        docx = self.app.drive.download(self.drive_id, self.draft_id(record))
        problems = gate_problems(self.app, record, attempt, self.board, docx)
        if self.dry_run:
            self.would(record, attempt, problems)
        elif problems:
            self.refuse(record, attempt, problems)
        elif self.hold_minutes <= 0:
            self.circulate(record, attempt)
        else:
            self.hold(record, attempt)

    def attempt(
        self, record: TrackerRecord, tasks: Mapping[str, Mapping[str, Any]]
    ) -> Attempt | None:
        """The approval the item stands for now: Status Approved, or the task completed."""
        if record.status == Status.APPROVED:
            return tracker_attempt(self.app, record)
        if "approval" in tasks:
            return planner_attempt(self.app, tasks["approval"]["task"])
        return None

    def would(self, record: TrackerRecord, attempt: Attempt, problems: list[str]) -> None:
        """A dry run's lines for an approval: refused and why, or held, and each email."""
        if problems:
            self.report.action(
                record.key,
                f"refuse the approval of {record.marker} by {attempt.who}: {'; '.join(problems)}",
            )
            return
        if self.hold_minutes > 0:
            self.report.action(
                record.key,
                f"hold the approval of {record.marker} by {attempt.who} for "
                f"{self.hold_minutes:g} minutes (a preview to the approver), then",
            )
        self.would_send(record, self.groups(), "the response")

    @property
    def hold_minutes(self) -> float:
        """The hold between approval and circulation (``approval.hold_minutes``)."""
        return self.settings.approval.hold_minutes

    @staticmethod
    def draft_id(record: TrackerRecord) -> str:
        """The item's draft (an item without one cannot be approved)."""
        if not record.draft_item_id:
            raise ItemError(record.key, "S55DraftItemId", "approved but no draft recorded")
        return record.draft_item_id

    def started(self, record: TrackerRecord) -> bool:
        """Whether some email of the circulation already went (it must then be finished)."""
        return any(group.name in record.mail for group in self.groups())

    # -- refused ------------------------------------------------------------------------------
    def owner(self, record: TrackerRecord) -> str:
        """Who is told about a refusal: the item's owner when the settings know them."""
        mine = record.response_owner.strip()
        if mine and mine.casefold() in allowed_addresses(self.app):
            return mine
        return self.settings.people.response_owner

    def refuse(self, record: TrackerRecord, attempt: Attempt, problems: list[str]) -> None:
        """Undo the approval, say why on the item and tell the response owner once."""
        told = in_pass_calendar(attempt.on, today=self.today, now=dt.datetime.now(dt.UTC))
        note = refusal_note(replace(attempt, on=utc_stamp(told)), problems)
        if not claim(self.app, record, fields={"ApprovalProblem": note}):
            self.report.later(record.key, f"approval of {record.marker}: another instance has it")
            return
        record.approval_problem = note
        owner = self.owner(record)
        if owner:
            name = notice_name("refused", attempt.attempt_id)
            context = {
                **self.outgoing.context(record, pdf_name=""),
                "note": note,
                "problems": problems,
                "approver": attempt.who,
                "via_planner": attempt.source == "planner",
            }
            if not self.outgoing.send_once(
                record,
                name=name,
                key=notice_key(record, name),
                to=[owner],
                message=lambda: (self.outgoing.render("approval_refused", context), []),
            ):
                return
        if attempt.source == "planner":
            reopen_task(self.app, record, stage_key(self.app, "approval"))
        fields: dict[str, Any] = {"S55Lease": ""}
        if record.approval:  # refused at the end of its hold (the draft changed meanwhile)
            fields.update({"S55Approval": "", "ApprovedBy": "", "ApprovedOn": None})
            record.approval = {}
        if record.status == Status.APPROVED:
            back = work_status(self.app, record, self.board)
            fields["Status"] = back.value
            record.status = back
        write(self.app, record, fields)
        self.report.action(record.key, note)

    # -- held -----------------------------------------------------------------------------------
    def hold(self, record: TrackerRecord, attempt: Attempt) -> None:
        """Accept the approval and hold it: record it, send the approver a preview."""
        now = dt.datetime.now(dt.UTC)
        fields = approval_fields(record, attempt, now=now, today=self.today)
        if not claim(self.app, record, fields=fields):
            self.report.later(record.key, f"approval of {record.marker}: another instance has it")
            return
        self._recorded(record, fields)
        self.report.action(record.key, f"{record.marker} approved by {attempt.who}")
        until = circulates_at(utc_stamp(now), self.hold_minutes) or now
        self.wait(record, attempt, until)

    def wait(self, record: TrackerRecord, attempt: Attempt, until: dt.datetime) -> None:
        """During the hold: the preview sent (once), the item left for a later pass."""
        at = london_clock(until)
        if not self.dry_run and attempt.address:
            name = notice_name("preview", attempt.attempt_id)
            if name not in record.mail:
                pdf_name = self.outgoing.pdf_name(record)
                context = {
                    **self.outgoing.context(record, pdf_name=pdf_name),
                    "circulate_at": at,
                    "hold_minutes": f"{self.hold_minutes:g}",
                    "recipients": [LABELS[group.name] for group in self.groups()],
                }

                def message() -> tuple[RenderedMail, list[Attachment]]:
                    pdf = self.app.drive.download_pdf(self.drive_id, self.draft_id(record))
                    rendered = self.outgoing.render("approval_preview", context)
                    return rendered, [pdf_attachment(pdf_name, pdf)]

                if not self.outgoing.send_once(
                    record,
                    name=name,
                    key=notice_key(record, name),
                    to=[attempt.address],
                    message=message,
                    extra={"S55Lease": ""},
                ):
                    return
        self.report.later(record.key, f"{record.marker} will be circulated at {at}")

    def cancel(self, record: TrackerRecord) -> None:
        """Status was set back during the hold: forget the approval, reopen the task."""
        if self.dry_run:
            self.report.action(record.key, f"cancel the circulation of {record.marker}")
            return
        held = held_attempt(record)
        if held is not None and held.source == "planner":
            reopen_task(self.app, record, stage_key(self.app, "approval"))
        write(self.app, record, {"S55Approval": "", "ApprovedBy": "", "ApprovedOn": None})
        record.approval = {}
        record.approved_by = record.approved_on = ""
        self.report.action(
            record.key, f"circulation of {record.marker} cancelled (Status is {record.status})"
        )

    def _recorded(self, record: TrackerRecord, fields: Mapping[str, Any]) -> None:
        """Keep the snapshot in step with an accepted approval's write."""
        record.approval = dict(fields.get("S55Approval") or record.approval)
        record.approved_by = str(fields.get("ApprovedBy", record.approved_by))
        record.approved_on = str(fields.get("ApprovedOn", record.approved_on))
        record.approval_problem = str(fields.get("ApprovalProblem", record.approval_problem))
        record.status = Status.APPROVED

    # -- circulated -----------------------------------------------------------------------------
    def circulate(self, record: TrackerRecord, attempt: Attempt) -> None:
        """Send the response to every group of the approval once, then Status Circulated."""
        fields: dict[str, Any] = {}
        held = held_attempt(record)
        if held is None or held.attempt_id != attempt.attempt_id:
            fields = approval_fields(record, attempt, now=dt.datetime.now(dt.UTC), today=self.today)
        if self.dry_run:
            self.would_send(record, self.groups(), "the response")
            return
        # The approval goes in the same write as the lease, so a crash cannot lose who
        # approved: a later write by the service would hide it from the item's last editor.
        if not claim(self.app, record, fields=fields or None):
            self.report.later(
                record.key, f"circulation of {record.marker}: another instance has it"
            )
            return
        if fields:
            self._recorded(record, fields)
            self.report.action(record.key, f"{record.marker} approved by {attempt.who}")
        unsent = [group for group in self.groups() if group.name not in record.mail]
        if unsent:
            docx = self.app.drive.download(self.drive_id, self.draft_id(record))
            if not self.started(record):
                # The draft as it is now is what goes out: it is checked again after the hold.
                problems = gate_problems(self.app, record, attempt, self.board, docx)
                if problems:
                    self.refuse(record, attempt, problems)
                    return
            pdf = self.app.drive.download_pdf(self.drive_id, self.draft_id(record))
            pdf_name = self.outgoing.pdf_name(record)
            # Every group is tried: one send being confirmed does not hold up the others.
            confirmed = [self.send_group(record, g, pdf_name, pdf, docx) for g in unsent]
            if not all(confirmed):
                return  # a send is still being confirmed: finish on a later pass
        # The approval task first: once the item says Circulated, nothing revisits its
        # approval, so Status Circulated is the circulation's last write.
        complete_recorded_task(self.app, record, stage_key(self.app, "approval"))
        final: dict[str, Any] = {"Status": Status.CIRCULATED.value, "S55Lease": ""}
        for group in self.groups():
            if group.column:
                final[group.column] = True
        write(self.app, record, final)
        record.status = Status.CIRCULATED
        self.report.action(record.key, f"{record.marker} circulated")
