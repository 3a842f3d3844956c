"""Follow-up after circulation: publication, the statutory copies, the portal, *Published*.

The website team publishes the circulated response and fills in the tracker's "Published
web page" column (``PublishedUrl``) with its address (completing their Planner task alone
is not enough while a group is sent on publication: the address goes in those emails).
Then, each recorded on the item:

1. the groups sent on publication (``recipients.on_publication``: HMICFRS and the Home
   Secretary, the copies s.55(5) requires) get one email each with the address and the PDF;
2. "Published on OPCC website" is ticked and the publish task completed;
3. the HMICFRS portal task done ticks "Submitted onto the HMICFRS portal";
4. when all of that is done (a deleted portal task is a step the office skips), the office-use
   check boxes in the Word draft are ticked as in the tracker and the draft is saved back,
   and Status becomes *Published* (the last write: reminders stop only there).

The circulated PDF was made before the boxes were ticked; the draft in SharePoint is the
office's record and ends with them ticked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from automation.documents import OFFICE_USE, tick_office_use
from automation.domain.record import TrackerRecord
from automation.domain.workflow import Status
from automation.errors import ItemError
from automation.jobs.approval import stage_key
from automation.jobs.circulation import (
    LABELS,
    Group,
    ItemStep,
    write,
)
from automation.jobs.decisions import complete_recorded_task, recorded_task_id
from automation.jobs.lease import claim

log = logging.getLogger(__name__)

__all__ = ["PublicationStep", "ticked_columns"]

NO_ADDRESS = (
    "Not sent to {groups}: the response is marked published but 'Published web page' is "
    "empty; fill in the address of the published response"
)
BAD_ADDRESS = "Not sent to {groups}: 'Published web page' is not a web address (https://...)"


def ticked_columns(record: TrackerRecord) -> set[str]:
    """The office-use columns ticked on the item."""
    flags = {
        "ForwardedToHMICFRS": record.forwarded_hmicfrs,
        "SubmittedToHMICFRSPortal": record.submitted_portal,
        "ForwardedToChiefConstable": record.forwarded_chief_constable,
        "ForwardedToPanel": record.forwarded_panel,
        "PublishedOnWebsite": record.published_on_website,
        "ForwardedToHomeSecretary": record.forwarded_home_secretary,
    }
    return {name for name, ticked in flags.items() if ticked}


def _web_address(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc)


class PublicationStep(ItemStep):
    """What follow-up does for a circulated response until it is *Published*."""

    on_publication = True

    def task_state(self, record: TrackerRecord, role: str) -> str:
        """ "done", "open", "gone" (deleted) or "none" (no such stage) for the item's task."""
        key = stage_key(self.app, role)
        task_id = recorded_task_id(record, key) if key else ""
        if not task_id:
            return "none"
        task = self.board.get(task_id)
        if task is None:
            return "gone"
        return "done" if int(task.get("percentComplete") or 0) >= 100 else "open"

    def step(self, record: TrackerRecord, tasks: Mapping[str, Mapping[str, Any]]) -> None:
        """Act on a circulated item (see the module docstring)."""
        portal = self.task_state(record, "portal")
        if portal == "done" and not record.submitted_portal:
            self.write(record, {"SubmittedToHMICFRSPortal": True}, "submitted to the portal")
            record.submitted_portal = True
        published = (
            bool(record.published_url)
            or record.published_on_website
            or "publish" in tasks
            or self.task_state(record, "publish") == "done"
        )
        if not published:
            return
        groups = self.groups()
        unsent = [group for group in groups if group.name not in record.mail]
        if unsent and not self.address_ok(record, groups):
            return
        if unsent:
            if self.dry_run:
                self.would_send(record, unsent, "the published response")
                return
            if not claim(self.app, record):
                self.report.later(record.key, f"copies of {record.marker}: another instance has it")
                return
            if not record.draft_item_id:
                raise ItemError(record.key, "S55DraftItemId", "published but no draft recorded")
            pdf = self.app.drive.download_pdf(self.drive_id, record.draft_item_id)
            pdf_name = self.outgoing.pdf_name(record)
            confirmed = [self.send_group(record, group, pdf_name, pdf, b"") for group in unsent]
            if not all(confirmed):
                return  # a send is still being confirmed: finish on a later pass
        fields: dict[str, Any] = {}
        if not record.published_on_website:
            fields["PublishedOnWebsite"] = True
        if record.approval_problem.startswith("Not sent to") and not self.statutory_note():
            fields["ApprovalProblem"] = ""
        if fields:
            # The publish task before the tick: the tick is what a later pass trusts.
            self.complete(record, "publish")
            self.write(record, fields, "published on the website")
            record.published_on_website = True
            record.approval_problem = str(fields.get("ApprovalProblem", record.approval_problem))
        if portal in ("done", "gone", "none") and self.statutory_ok(record, claimed=bool(unsent)):
            self.finish(record)

    def statutory_ok(self, record: TrackerRecord, *, claimed: bool) -> bool:
        """Whether every statutory copy can have gone: else the item says which cannot.

        A statutory group without an address (``recipients.hmicfrs``/``home_secretary``
        empty, not allowed by ``allow_missing_statutory_recipients``) keeps the response
        short of *Published* (reminders go on) and fails the pass, naming the setting. The
        lease this pass ``claimed`` for the other copies is let go.
        """
        note = self.statutory_note()
        if not note:
            return True
        fields: dict[str, Any] = {"S55Lease": ""} if claimed else {}
        if record.approval_problem != note:
            fields["ApprovalProblem"] = note
        if fields and not self.dry_run:
            write(self.app, record, fields)
            record.approval_problem = note
        self.report.failure(record.key, f"{record.marker}: {note}")
        return False

    def statutory_note(self) -> str:
        """The item's problem line while a statutory group has no address ("" when none)."""
        recipients = self.settings.recipients
        missing = recipients.missing_statutory()
        if not missing or recipients.allow_missing_statutory_recipients:
            return ""
        return (
            f"Not sent to {' and '.join(LABELS[group] for group in missing)}: "
            f"{', '.join(f'recipients.{group}' for group in missing)} empty in the settings; "
            "set the address (or allow_missing_statutory_recipients = true) and the copy "
            "goes at the next pass"
        )

    def address_ok(self, record: TrackerRecord, groups: list[Group]) -> bool:
        """Whether the published address can go out; else the item says why (once)."""
        names = " and ".join(LABELS[group.name] for group in groups)
        url = record.published_url
        if url and _web_address(url):
            return True
        note = (BAD_ADDRESS if url else NO_ADDRESS).format(
            groups=names.replace("hmicfrs", "HMICFRS")
        )
        if record.approval_problem != note:
            self.write(record, {"ApprovalProblem": note}, note)
            record.approval_problem = note
        return False

    def finish(self, record: TrackerRecord) -> None:
        """Every step done: the draft's boxes ticked as in the tracker, then Published."""
        if self.dry_run:
            self.report.action(record.key, f"{record.marker}: tick the draft's boxes, Published")
            return
        self.tick_draft(record)
        write(self.app, record, {"Status": Status.PUBLISHED.value, "S55Lease": ""})
        record.status = Status.PUBLISHED
        self.report.published.append(record.key)
        self.report.action(record.key, f"{record.marker} published; every copy sent")

    def tick_draft(self, record: TrackerRecord) -> None:
        """Save the draft back with its office-use check boxes ticked as the tracker's are."""
        # As the item says now (this pass ticked some columns since it was read).
        current = self.app.tracker.get_many([record.item_id])
        ticked = ticked_columns(current[0] if current else record)
        if not record.draft_item_id or not any(set(i.columns) <= ticked for i in OFFICE_USE):
            return
        item = self.app.drive.get_item(self.drive_id, record.draft_item_id)
        parent = str((item.get("parentReference") or {}).get("path") or "")
        folder = unquote(parent.partition("root:")[2]).strip("/")
        content = self.app.drive.download(self.drive_id, record.draft_item_id)
        try:
            ticked_content = tick_office_use(content, ticked)
        except ValueError as exc:
            self.report.action(
                record.key,
                f"{record.marker}: the draft's office-use check boxes could not be ticked "
                f"({exc}); tick them in Word",
            )
            return
        if ticked_content == content:
            return
        self.app.drive.upload(
            self.drive_id, folder, str(item.get("name") or ""), ticked_content, conflict="replace"
        )

    def complete(self, record: TrackerRecord, role: str) -> None:
        """Complete the item's task of ``role`` (nothing when it is done or gone)."""
        key = stage_key(self.app, role)
        if key and self.task_state(record, role) == "open":
            complete_recorded_task(self.app, record, key)

    def write(self, record: TrackerRecord, fields: dict[str, Any], what: str) -> None:
        """One change on the item (reported; in a dry run only reported)."""
        if not self.dry_run:
            write(self.app, record, fields)
        self.report.action(record.key, f"{record.marker}: {what}")
