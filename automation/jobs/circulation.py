"""Emails of a response, each sent exactly once: the recipient groups, previews and notices.

Every email has an idempotency key; :meth:`Outgoing.send_once` looks for it in the mailbox,
records the send as pending, sends, and records it in the item's ``S55Mail`` under a name
(the group's, or a notice's) together with the office-use column it ticks, if any
(:mod:`automation.jobs.confirm` has the rules for a send whose outcome is unknown).

Recipient groups are sent when the response is approved (Chief Constable, Panel, website
team) or once it is published, with its web address (HMICFRS and the Home Secretary, the
statutory copies: ``recipients.on_publication``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from automation.documents import attachment_name
from automation.domain.calendar import london_date, long_date, utc_stamp
from automation.domain.record import TrackerRecord
from automation.errors import ItemError
from automation.graph.mail import Attachment
from automation.jobs.confirm import PENDING, Step, next_step, pending_entry, send_recorded
from automation.jobs.ports import Services
from automation.jobs.report import RunReport
from automation.mailrender import MailRenderer, RenderedMail

log = logging.getLogger(__name__)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"
NATIONAL = frozenset({"", "n/a", "na", "none", "national"})


@dataclass(frozen=True, slots=True)
class Group:
    """A recipient group: its template, the office-use column its email ticks."""

    name: str
    template: str
    column: str
    with_docx: bool = False


GROUPS: tuple[Group, ...] = (
    Group("chief_constable", "circulation_chief_constable", "ForwardedToChiefConstable"),
    Group("panel", "circulation_panel", "ForwardedToPanel"),
    Group("website", "circulation_website", "", with_docx=True),
    Group("hmicfrs", "circulation_hmicfrs", "ForwardedToHMICFRS"),
    Group("home_secretary", "circulation_home_secretary", "ForwardedToHomeSecretary"),
)


LABELS = {
    "chief_constable": "the Chief Constable",
    "panel": "the Police and Crime Panel",
    "website": "the website team",
    "hmicfrs": "HMICFRS",
    "home_secretary": "the Home Secretary",
}
"""How an email to staff names each group."""


def _digest(record: TrackerRecord) -> str:
    return hashlib.sha256(record.key.encode("utf-8")).hexdigest()[:16]


def mail_key(record: TrackerRecord, group: str) -> str:
    """The idempotency key of one circulation email (stable for the item and group)."""
    return f"s55-circulation-{_digest(record)}-{record.item_id}-{group}"


def notice_name(kind: str, attempt_id: str) -> str:
    """The ``S55Mail`` name of a notice about one approval attempt (``refused:1a2b...``)."""
    return f"{kind}:{hashlib.sha256(attempt_id.encode('utf-8')).hexdigest()[:12]}"


def notice_key(record: TrackerRecord, name: str) -> str:
    """The idempotency key of a notice (a refusal, a preview) named ``name``."""
    return f"s55-notice-{_digest(record)}-{record.item_id}-{name.replace(':', '-')}"


def groups_sent_on(settings_groups: Sequence[str], *, publication: bool) -> list[Group]:
    """The groups sent at approval (``publication=False``) or on publication."""
    chosen = set(settings_groups)
    return [group for group in GROUPS if (group.name in chosen) == publication]


def write(app: Services, record: TrackerRecord, fields: dict[str, Any]) -> None:
    """Change the item's ``fields``, keeping the record's etag current for a later claim."""
    written = app.tracker.patch(record.item_id, fields)
    record.etag = str(written.get("@odata.etag") or record.etag)


def is_national(police_forces: str) -> bool:
    """Whether the item's Police forces says the report names no force ("N/A")."""
    return police_forces.strip().casefold() in NATIONAL


class Outgoing:
    """Sends one item's emails once each and records them on the item."""

    def __init__(self, app: Services, report: RunReport) -> None:
        self.app = app
        self.settings = app.settings
        self.report = report
        self._renderer: MailRenderer | None = None

    @property
    def renderer(self) -> MailRenderer:
        """Email templates (loaded on first use)."""
        if self._renderer is None:
            self._renderer = MailRenderer(self.settings.templates_dir / "email")
        return self._renderer

    def render(self, template: str, context: dict[str, Any]) -> RenderedMail:
        """One email of ``template`` (raises TemplateError for a broken edit)."""
        return self.renderer.render(template, context)

    def send_once(
        self,
        record: TrackerRecord,
        *,
        name: str,
        key: str,
        to: Sequence[str],
        message: Callable[[], tuple[RenderedMail, list[Attachment]]],
        column: str = "",
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Send (unless the mailbox has it) and record one email as ``name`` in ``S55Mail``.

        ``message`` builds the email when it has to be sent; ``column`` (an office-use
        column) and ``extra`` fields are written with the record. Returns False when the
        email's outcome is still being confirmed (a send answered 5xx or lost, not yet found
        in the mailbox, within ``mail.confirm_minutes``): it is neither sent nor recorded
        now, and the item is left for a later pass.
        """
        mail = self.app.mail
        if mail is None:
            raise ItemError(record.key, "mailbox", "no sending mailbox configured")
        now = dt.datetime.now(dt.UTC)
        entry = self._pending(record).get(name)
        step = next_step(mail, key, entry, now=now, minutes=self.settings.mail.confirm_minutes)
        if step == Step.WAIT:
            self.report.later(record.key, f"{name} email sent? confirming ({key})")
            return False
        if step == Step.RECORD:
            log.info("%s: %s email found in the mailbox; recording it", record.key, name)
        else:
            rendered, attachments = message()
            accepted = send_recorded(
                mark=lambda: self._set_pending(record, name, pending_entry(key, now)),
                send=lambda: mail.send(
                    key=key,
                    subject=rendered.subject,
                    html=rendered.html,
                    to=list(to),
                    attachments=attachments,
                ),
                forget=lambda: self._set_pending(record, name, None),
                found=lambda: mail.find_sent(key) is not None,
                minutes=self.settings.mail.confirm_minutes,
            )
            if not accepted:
                self.report.later(record.key, f"{name} email: outcome unknown ({key})")
                return False
            self.report.sent.append(f"{record.key}:{name}")
            self.report.action(record.key, f"emailed {name} ({', '.join(to)})")
        record.mail[name] = {"key": key, "at": utc_stamp(dt.datetime.now(dt.UTC))}
        self._drop_pending(record, name)
        fields: dict[str, Any] = {"S55Mail": dict(record.mail), **(extra or {})}
        if column:
            fields[column] = True
        write(self.app, record, fields)
        return True

    @staticmethod
    def _pending(record: TrackerRecord) -> dict[str, Any]:
        """Sends of this item whose outcome is unconfirmed, by name (from ``S55Mail``)."""
        pending = record.mail.get(PENDING)
        return dict(pending) if isinstance(pending, dict) else {}

    def _drop_pending(self, record: TrackerRecord, name: str) -> None:
        pending = self._pending(record)
        pending.pop(name, None)
        if pending:
            record.mail[PENDING] = pending
        else:
            record.mail.pop(PENDING, None)

    def _set_pending(self, record: TrackerRecord, name: str, entry: dict[str, str] | None) -> None:
        """Write (or, with ``None``, remove) the pending send of ``name`` on the item."""
        if entry is None:
            self._drop_pending(record, name)
        else:
            record.mail[PENDING] = {**self._pending(record), name: entry}
        write(self.app, record, {"S55Mail": dict(record.mail)})

    # -- what the emails say ---------------------------------------------------------------
    def pdf_name(self, record: TrackerRecord) -> str:
        """``Norfolk PCC response - <short title> - 1 September 2023.pdf``."""
        day = london_date(record.approved_on) if record.approved_on else None
        return attachment_name(
            f"{self.settings.pcc_area} {self._short_title()} response",
            str(record.report.get("title") or record.title),
            day or record.published_on,
            ext="pdf",
        )

    def docx_name(self, record: TrackerRecord) -> str:
        """The Word copy's name (the PDF's, as .docx)."""
        return self.pdf_name(record).removesuffix(".pdf") + ".docx"

    def _short_title(self) -> str:
        return "PFCC" if self.settings.fire_and_rescue_service.strip() else "PCC"

    def approver_line(self, record: TrackerRecord) -> str:
        """``Sarah Taylor, Police and Crime Commissioner``: a name and role, never an address."""
        name, _, rest = record.approved_by.partition(" <")
        address = rest.rstrip(">").strip().casefold()
        name = name.strip() or "the Commissioner"
        if address and address == self.settings.people.pcc.strip().casefold():
            return f"{name}, {self.settings.commissioner}"
        return name

    def context(self, record: TrackerRecord, *, pdf_name: str) -> dict[str, Any]:
        """Values for the circulation and notice templates."""
        report = record.report
        people = self.settings.people
        approved = london_date(record.approved_on) if record.approved_on else None
        return {
            "title": str(report.get("title") or record.title),
            "published_on": long_date(record.published_on) if record.published_on else "",
            "deadline": long_date(record.deadline) if record.deadline else "",
            "report_url": str(report.get("link") or record.report_url),
            "draft_url": record.draft_url,
            "pdf_name": pdf_name,
            "tracker_url": record.web_url,
            "pcc_area": self.settings.pcc_area,
            "force_name": "" if is_national(record.police_forces) else self.settings.force_name,
            "approved_by": self.approver_line(record) if record.approved_by else "",
            "approved_on": long_date(approved) if approved else "",
            "published_url": record.published_url,
            "office_name": self.settings.office_label,
            "commissioner": self.settings.commissioner,
            "contact_name": people.contact_name,
            "contact_phone": people.contact_phone,
        }


def pdf_attachment(name: str, content: bytes) -> Attachment:
    """The PDF of the response as an attachment."""
    return Attachment(name=name, content_type=PDF_TYPE, content=content)


def docx_attachment(name: str, content: bytes) -> Attachment:
    """The Word document as an attachment."""
    return Attachment(name=name, content_type=DOCX_TYPE, content=content)


class ItemStep:
    """What follow-up's steps share: the ports, the run's report, the emails, the plan."""

    on_publication: ClassVar[bool] = False
    """Whether the step sends the groups sent on publication (else those sent on approval)."""

    def __init__(
        self,
        app: Services,
        report: RunReport,
        outgoing: Outgoing,
        *,
        board: Mapping[str, Any],
        today: dt.date,
    ) -> None:
        """``board``: every task of the plan by id, as follow-up read it this pass."""
        self.app = app
        self.settings = app.settings
        self.report = report
        self.outgoing = outgoing
        self.board = board
        self.today = today
        self.dry_run = report.dry_run

    @property
    def drive_id(self) -> str:
        """The drafts library."""
        return self.app.workspace.resolve().drive_id

    def groups(self) -> list[Group]:
        """The step's recipient groups that have addresses."""
        recipients = self.settings.recipients
        return [
            group
            for group in groups_sent_on(recipients.on_publication, publication=self.on_publication)
            if recipients.addresses(group.name)
        ]

    def would_send(self, record: TrackerRecord, groups: Sequence[Group], what: str) -> None:
        """A dry run's lines for the emails it would send: each unsent group, its addresses."""
        for group in groups:
            if group.name not in record.mail:
                to = ", ".join(self.settings.recipients.addresses(group.name))
                self.report.action(record.key, f"email {what} to {group.name} ({to})")

    def send_group(
        self, record: TrackerRecord, group: Group, pdf_name: str, pdf: bytes, docx: bytes
    ) -> bool:
        """One group's email of the response, once (see `Outgoing.send_once`).

        The PDF is attached; the Word document ``docx`` too for a group that gets it.
        """

        def message() -> tuple[RenderedMail, list[Attachment]]:
            context = self.outgoing.context(record, pdf_name=pdf_name)
            rendered = self.outgoing.render(group.template, context)
            attachments = [pdf_attachment(pdf_name, pdf)]
            if group.with_docx and docx:
                attachments.append(docx_attachment(self.outgoing.docx_name(record), docx))
            return rendered, attachments

        return self.outgoing.send_once(
            record,
            name=group.name,
            key=mail_key(record, group.name),
            to=self.settings.recipients.addresses(group.name),
            message=message,
            column=group.column,
        )
