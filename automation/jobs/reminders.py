"""Reminders: at most one digest email per person per working day, each reminder once.

What is due when is the domain's policy (:mod:`automation.domain.reminders`); this job
reads the tracker and the plan, sends the digests and records them.

Recipients come only from settings (response owner, stage assignees, manager): nothing in
the feed, the tracker or Planner can add an address. What was sent is recorded on each
tracker item (``S55Reminders``): ``"<id>|<recipient>"`` per delivered recipient, and the
plain ``"<id>"`` once every recipient of that reminder has it. Each digest is tagged with
an idempotency key naming what it carries (recipient + day + a hash of its reminders, see
:func:`digest_key`) and looked up in the mailbox first, so a crash between sending and
recording sends nothing twice, and a second digest the same day (a reminder that fell due
after the first) is a new message carrying only what the first did not. Before the send,
each carried reminder is recorded as pending under ``"pending"`` (``"<id>|<recipient>"`` ->
key and stamp); a send whose outcome is unknown stays pending until the mailbox search finds
it or ``mail.confirm_minutes`` have passed (:mod:`automation.jobs.confirm`). The day of
each person's digest is recorded too (``"days"``: recipient -> ISO date), so a second pass
on the same day sends that person nothing new: what fell due after the digest waits for
the next working day. (Over 500 lines: reading, sending and recording share one pass's state.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from automation.domain.calendar import london_date, long_date, parse_stamp
from automation.domain.record import TrackerRecord
from automation.domain.reminders import (
    TRIAGE_ROLE,
    Digest,
    Reminder,
    ReminderItem,
    ReminderKind,
    ReminderPolicy,
    StageState,
    digests,
    due_reminders,
)
from automation.domain.workflow import REMINDERS_STOP, is_declined, status_in
from automation.errors import AutomationError
from automation.jobs.confirm import PENDING, Step, next_step, pending_entry, send_recorded
from automation.jobs.intake import TRIAGE_STAGE
from automation.jobs.lease import claim
from automation.jobs.ports import Services
from automation.jobs.report import RunReport
from automation.mailrender import MailRenderer
from automation.settings import RECIPIENT_GROUPS

log = logging.getLogger(__name__)

SENT_KEEP = 400
DAYS = "days"
"""The key, in ``S55Reminders``, of the day each recipient last got a digest about the item."""


def allowed_addresses(app: Services) -> set[str]:
    """Every address the settings name (the only ones reminders may go to)."""
    settings = app.settings
    found = {
        settings.people.response_owner,
        settings.people.pcc,
        settings.people.manager,
        *(settings.stage_assignee(stage) for stage in settings.stages),
        *settings.approvers,
    }
    for group in RECIPIENT_GROUPS:
        found.update(settings.recipients.addresses(group))
    return {address.casefold() for address in found if address}


def digest_key(digest: Digest) -> str:
    """The idempotency key of a digest: recipient, day and a hash of the reminders it carries.

    Two digests to one person on one day (a reminder fell due after the first) get
    different keys, so finding the first never records the second's reminders as sent.
    """
    carried = sorted(f"{r.item_key}\x00{r.reminder_id}" for r in digest.reminders)
    digest_hash = hashlib.sha256("\n".join(carried).encode("utf-8")).hexdigest()[:12]
    return f"s55-{digest.digest_id}-{digest_hash}"


def _entry(reminder: Reminder, recipient: str) -> str:
    """``"<id>|<recipient>"``: one reminder delivered to (or pending for) one recipient."""
    return f"{reminder.reminder_id}|{recipient}"


def pending_sends(record: TrackerRecord) -> dict[str, Any]:
    """Digest sends carrying this item's reminders whose outcome is unconfirmed."""
    pending = record.reminders.get(PENDING)
    return dict(pending) if isinstance(pending, dict) else {}


def sent_entries(record: TrackerRecord) -> list[str]:
    """What the item says was sent."""
    entries = record.reminders.get("sent", [])
    return [str(entry) for entry in entries] if isinstance(entries, list) else []


class Reminders:
    """One reminders pass as of ``today``."""

    def __init__(self, app: Services, report: RunReport, *, today: dt.date) -> None:
        self.app = app
        self.settings = app.settings
        self.report = report
        self.today = today
        self.allowed = allowed_addresses(app)
        self.claimed: set[str] = set()
        self.held: dict[str, str] = {}  # item key -> the lease this pass holds on it
        self._names: dict[str, str] = {}

    def policy(self) -> ReminderPolicy:
        """The reminder policy from settings."""
        config = self.settings.reminders
        return ReminderPolicy(
            notice_working_days=config.notice_working_days,
            weekly_on=config.weekday,
            manager=self.settings.people.manager.casefold(),
            pcc=self.settings.people.pcc.casefold(),
            weekly_summary=config.weekly_summary,
        )

    def _configured(self, address: str, fallback: str) -> str:
        if address and address.casefold() in self.allowed:
            return address.casefold()
        return fallback.casefold()

    def items(self) -> tuple[list[ReminderItem], dict[str, TrackerRecord]]:
        """Open tracker items with their stages' due dates and completion from Planner."""
        ws = self.app.workspace.resolve()
        # A person's "No" ends every reminder at once, even before follow-up has set the
        # item's Status to Not required (it may be another instance's, or a later, pass).
        records = [
            r
            for r in self.app.tracker.all()
            if r.key
            and not status_in(r.status, REMINDERS_STOP)
            and not is_declined(r.response_required)
            and r.tasks
        ]
        if not records:
            return [], {}
        tasks = {str(t["id"]): t for t in self.app.planner.list_tasks(ws.plan_id)}
        out, by_key = [], {}
        for record in records:
            stages = []
            kinds: list[tuple[str, str, str, str]] = [
                (stage.key, stage.title, stage.role, self.settings.stage_assignee(stage))
                for stage in self.settings.stages
            ]
            # An undecided item has only its triage task ("Decide whether to respond").
            kinds.append((TRIAGE_STAGE.key, TRIAGE_STAGE.title, TRIAGE_ROLE, record.response_owner))
            for key, title, role, configured in kinds:
                entry = record.tasks.get(key)
                task = tasks.get(str(entry.get("id"))) if isinstance(entry, dict) else None
                if task is None:
                    continue
                configured = self._configured(configured, self.settings.people.response_owner)
                assignee = configured
                for user_id in task.get("assignments") or {}:
                    user = self.app.users.get(str(user_id))
                    if user is not None:
                        assignee = self._configured(user.mail or user.upn, configured)
                        break
                stages.append(
                    StageState(
                        key=key,
                        title=title,
                        assignee=assignee.casefold(),
                        due=london_date(task.get("dueDateTime")),
                        completed=int(task.get("percentComplete") or 0) >= 100,
                        role=role,
                    )
                )
            sent = sent_entries(record)
            out.append(
                ReminderItem(
                    key=record.key,
                    marker=record.marker,
                    title=str(record.report.get("title") or record.title),
                    status=record.status,
                    owner=self._configured(
                        record.response_owner, self.settings.people.response_owner
                    ),
                    deadline=record.deadline,
                    stages=tuple(stages),
                    sent_ids=frozenset(entry for entry in sent if "|" not in entry),
                    response_required=record.response_required,
                    links={
                        "tracker": record.web_url,
                        "draft": record.draft_url,
                        "report": str(record.report.get("link") or record.report_url),
                    },
                )
            )
            by_key[record.key] = record
        return out, by_key

    def run(self) -> None:
        """Send today's digests and record them."""
        if not self.settings.reminders.enabled:
            return
        items, records = self.items()
        due = due_reminders(items, today=self.today, policy=self.policy())
        pending: list[Reminder] = []
        for reminder in due:
            if not reminder.recipients:
                log.warning(
                    "%s: reminder %s has no configured recipient",
                    reminder.item_key,
                    reminder.reminder_id,
                )
                continue
            record = records[reminder.item_key]
            done = set(sent_entries(record))
            left = tuple(
                r for r in reminder.recipients if f"{reminder.reminder_id}|{r}" not in done
            )
            if left:
                pending.append(_with_recipients(reminder, left))
        had = self.digested_today(records)
        for digest in digests(pending, today=self.today):
            if digest.recipient in had:
                # At most one digest a day: the rest waits for the next working day.
                log.info("%s already had today's digest", digest.recipient)
                continue
            started = self.started_today(digest, records)
            if started:
                # A send begun today (outcome unknown): finish that digest, add nothing.
                digest = replace(digest, reminders=started)
            try:
                self.send_digest(digest, records, due)
            except AutomationError as exc:
                self.report.failure(f"reminders:{digest.recipient}", str(exc))
        self.release(records)

    def release(self, records: dict[str, TrackerRecord]) -> None:
        """Give back the leases this pass took and did not clear while recording.

        A digest left for a later pass (its send is being confirmed, or it failed) must not
        keep its items from the next pass's work, such as circulating one just approved.
        """
        held = [
            records[key] for key, value in sorted(self.held.items()) if records[key].lease == value
        ]
        if not held:
            return
        try:
            self.app.tracker.patch_many({record.item_id: {"S55Lease": ""} for record in held})
        except AutomationError as exc:
            log.warning("reminder leases not cleared (they expire): %s", exc)
            return
        for record in held:
            record.lease = ""

    def digested_today(self, records: dict[str, TrackerRecord]) -> set[str]:
        """Recipients that the items record as having had today's digest."""
        today = self.today.isoformat()
        return {
            recipient
            for record in records.values()
            for recipient, day in digest_days(record).items()
            if day == today
        }

    def started_today(
        self, digest: Digest, records: dict[str, TrackerRecord]
    ) -> tuple[Reminder, ...]:
        """The digest's reminders whose pending send (outcome unknown) began today."""
        started = []
        for reminder in digest.reminders:
            entry = pending_sends(records[reminder.item_key]).get(
                _entry(reminder, digest.recipient)
            )
            stamp = parse_stamp(entry.get("at")) if isinstance(entry, dict) else None
            if stamp is not None and london_date(stamp) == self.today:
                started.append(reminder)
        return tuple(started)

    def send_digest(
        self, digest: Digest, records: dict[str, TrackerRecord], due: Iterable[Reminder]
    ) -> None:
        """Send one digest (unless the mailbox has it) and record it on each item.

        Reminders an earlier send of this recipient carried with an unknown outcome are
        settled first: recorded when the mailbox has that send, left out while it is being
        confirmed, carried again once the window has passed.
        """
        what = ", ".join(f"{r.marker} {r.reminder_id}" for r in digest.reminders)
        if self.report.dry_run:
            self.report.action(f"reminders:{digest.recipient}", f"send a digest: {what}")
            return
        mail = self.app.mail
        if mail is None:
            raise AutomationError("no sending mailbox configured for reminders")
        for item_key in dict.fromkeys(r.item_key for r in digest.reminders):
            if item_key not in self.claimed:
                if not claim(self.app, records[item_key]):
                    log.info("digest for %s left to another instance", digest.recipient)
                    return
                self.claimed.add(item_key)
                self.held[item_key] = records[item_key].lease
        full = {r.reminder_id + "\x00" + r.item_key: r.recipients for r in due}
        now = dt.datetime.now(dt.UTC)
        carried, searched = self._settle(digest, records, full, now=now)
        if not carried:
            return
        digest = replace(digest, reminders=tuple(carried))
        key = digest_key(digest)
        what = ", ".join(f"{r.marker} {r.reminder_id}" for r in digest.reminders)
        who = f"reminders:{digest.recipient}"
        step = Step.SEND if key in searched else next_step(mail, key, None, now=now, minutes=0)
        if step == Step.SEND:
            rendered = MailRenderer(self.settings.templates_dir / "email").render(
                "reminder_summary" if digest.weekly_summary else "reminder_digest",
                self.context(digest),
            )
            accepted = send_recorded(
                mark=lambda: self._set_pending(digest, records, pending_entry(key, now)),
                send=lambda: mail.send(
                    key=key, subject=rendered.subject, html=rendered.html, to=[digest.recipient]
                ),
                forget=lambda: self._set_pending(digest, records, None),
                found=lambda: mail.find_sent(key) is not None,
                minutes=self.settings.mail.confirm_minutes,
            )
            if not accepted:
                self.report.later(who, f"digest outcome unknown ({key}): {what}")
                return
            self.report.sent.append(key)
            self.report.action(who, f"digest sent: {what}")
        self.record(digest, records, full)

    def _settle(
        self,
        digest: Digest,
        records: dict[str, TrackerRecord],
        recipients_of: dict[str, tuple[str, ...]],
        *,
        now: dt.datetime,
    ) -> tuple[list[Reminder], set[str]]:
        """Settle earlier unconfirmed sends of the digest's reminders; what to carry now.

        Returns the reminders to send in this digest and the keys searched (not found).
        """
        mail = self.app.mail
        assert mail is not None  # checked by the caller
        by_key: dict[str, list[Reminder]] = {}
        entries: dict[str, dict[str, Any]] = {}
        for reminder in digest.reminders:
            entry = pending_sends(records[reminder.item_key]).get(
                _entry(reminder, digest.recipient)
            )
            if isinstance(entry, dict) and entry.get("key"):
                key = str(entry["key"])
                by_key.setdefault(key, []).append(reminder)
                # The newest stamp of a key decides (a re-send stamps every item again).
                if str(entry.get("at", "")) >= str(entries.get(key, {}).get("at", "")):
                    entries[key] = entry
        settled: set[int] = set()
        searched: set[str] = set()
        for key, reminders in by_key.items():
            step = next_step(
                mail, key, entries[key], now=now, minutes=self.settings.mail.confirm_minutes
            )
            if step == Step.SEND:
                searched.add(key)
                continue  # not found after the window: carried again below
            settled.update(id(r) for r in reminders)
            if step == Step.RECORD:
                log.info("digest %s found in the mailbox; recording it", key)
                self.record(replace(digest, reminders=tuple(reminders)), records, recipients_of)
            else:
                self.report.later(
                    f"reminders:{digest.recipient}", f"digest sent? confirming ({key})"
                )
        return [r for r in digest.reminders if id(r) not in settled], searched

    def _set_pending(
        self, digest: Digest, records: dict[str, TrackerRecord], entry: dict[str, str] | None
    ) -> None:
        """Write (or, with ``None``, remove) the digest's pending send on each of its items."""
        changed: dict[str, TrackerRecord] = {}
        for reminder in digest.reminders:
            record = records[reminder.item_key]
            pending = pending_sends(record)
            if entry is None:
                pending.pop(_entry(reminder, digest.recipient), None)
            else:
                pending[_entry(reminder, digest.recipient)] = entry
            _store_pending(record, pending)
            changed[record.item_id] = record
        self.app.tracker.patch_many(
            {item_id: {"S55Reminders": dict(r.reminders)} for item_id, r in changed.items()}
        )

    def record(
        self,
        digest: Digest,
        records: dict[str, TrackerRecord],
        recipients_of: dict[str, tuple[str, ...]],
    ) -> None:
        """Add what this digest delivered to each item (one ``$batch`` round trip).

        Only the reminders ``digest`` carried are recorded; their pending entries go.
        """
        changed: dict[str, TrackerRecord] = {}
        for reminder in digest.reminders:
            record = records[reminder.item_key]
            entries = sent_entries(record)
            entries.append(_entry(reminder, digest.recipient))
            everyone = recipients_of.get(reminder.reminder_id + "\x00" + reminder.item_key, ())
            if all(f"{reminder.reminder_id}|{r}" in entries for r in everyone):
                entries.append(reminder.reminder_id)
            record.reminders["sent"] = list(dict.fromkeys(entries))[-SENT_KEEP:]
            pending = pending_sends(record)
            pending.pop(_entry(reminder, digest.recipient), None)
            _store_pending(record, pending)
            record.reminders[DAYS] = {
                **digest_days(record),
                digest.recipient: digest.day.isoformat(),
            }
            changed[record.item_id] = record
        self.app.tracker.patch_many(
            {
                item_id: {"S55Reminders": dict(record.reminders), "S55Lease": ""}
                for item_id, record in changed.items()
            }
        )
        for record in changed.values():
            record.lease = ""

    def context(self, digest: Digest) -> dict[str, Any]:
        """Values for the digest (or weekly summary) template: rows grouped per report."""
        summary = [r for r in digest.reminders if r.kind is ReminderKind.SUMMARY]
        other = [r for r in digest.reminders if r.kind is not ReminderKind.SUMMARY]
        return {
            "recipient_name": self.name_of(digest.recipient),
            "manager": digest.recipient == self.settings.people.manager.casefold(),
            "today": long_date(digest.day),
            "reports": self.reports(summary if digest.weekly_summary else other),
            "attention": self.reports(other if digest.weekly_summary else []),
            "items": [
                {
                    "title": r.title,
                    "kind": str(r.kind),
                    "what": r.what,
                    "due": long_date(r.due),
                    "days": r.days,
                    "overdue": r.days < 0,
                    "tracker_url": r.links.get("tracker", ""),
                    "draft_url": r.links.get("draft", ""),
                    "report_url": r.links.get("report", ""),
                }
                for r in digest.reminders
            ],
        }

    def reports(self, reminders: Iterable[Reminder]) -> list[dict[str, Any]]:
        """One entry per report (in the order of its first row) with its rows."""
        grouped: dict[str, dict[str, Any]] = {}
        for r in reminders:
            report = grouped.get(r.item_key)
            if report is None:
                report = grouped[r.item_key] = {
                    "marker": r.marker,
                    "title": r.title,
                    "owner": self.name_of(r.owner),
                    "deadline": long_date(r.deadline) if r.deadline else "",
                    "overdue": False,
                    "tracker_url": r.links.get("tracker", ""),
                    "draft_url": r.links.get("draft", ""),
                    "report_url": r.links.get("report", ""),
                    "rows": [],
                }
            report["overdue"] = report["overdue"] or r.days < 0
            report["rows"].append(
                {
                    "kind": str(r.kind),
                    "what": r.what,
                    "who": self.name_of(r.assignee or r.owner),
                    "due": long_date(r.due),
                    "days": r.days,
                    "overdue": r.days < 0,
                }
            )
        return list(grouped.values())

    def name_of(self, address: str) -> str:
        """A person's display name (their address when the directory does not say)."""
        if not address:
            return "nobody assigned"
        if address not in self._names:
            user = self.app.users.get(address)
            self._names[address] = user.display_name if user and user.display_name else address
        return self._names[address]


def digest_days(record: TrackerRecord) -> dict[str, str]:
    """Recipient -> the day (ISO) of the last digest that carried something of this item."""
    days = record.reminders.get(DAYS)
    return {str(k): str(v) for k, v in days.items()} if isinstance(days, dict) else {}


def _store_pending(record: TrackerRecord, pending: dict[str, Any]) -> None:
    if pending:
        record.reminders[PENDING] = pending
    else:
        record.reminders.pop(PENDING, None)


def _with_recipients(reminder: Reminder, recipients: tuple[str, ...]) -> Reminder:
    return replace(reminder, recipients=recipients)


def run(app: Services, report: RunReport, *, today: dt.date) -> None:
    """The reminders pass."""
    Reminders(app, report, today=today).run()
