"""The invariants a simulated year checks every day, read from the tenant as it stands.

Each check returns lines (one per violation); an empty list means the tenant is consistent.
The audit reads the tracker, the plan and the drafts library through the service's own
adapters (an observer App with its own state directory) and the sent mail from the
sandbox's delivery log, whose message bodies say what each digest carried.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from automation.app import App
from automation.domain.calendar import long_date
from automation.domain.record import TrackerRecord
from automation.domain.reminders import DEADLINE_WHAT, TRIAGE_WHAT
from automation.domain.workflow import TERMINAL, Status, declined, status_in
from automation.jobs.lease import HOST
from automation.jobs.reminders import allowed_addresses
from automation.sandbox.routes.mail import delivered, message_mime
from automation.sandbox.server import Sandbox
from tests.soak.year import Publication
from tests.tenant_process import _files

REPORT = re.compile(r"<tbody>.*?</tbody>", re.S)  # one report: its header, then its rows
ROW = re.compile(r"<tr style=\"border-top: 1px.*?</tr>", re.S)
CELL = re.compile(r"<td valign=\"top\">(.*?)</td>", re.S)
ITEM_ID = re.compile(r"DispForm\.aspx\?ID=(\d+)")
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def expected_decision(pub: Publication) -> str:
    """What the service should file the publication as."""
    if pub.needs_response:
        return "Yes"
    if pub.to_be_decided:
        return "To be decided"
    return "No"


def unfinished(record: TrackerRecord) -> str:
    """Why the item is half done ("" when it is not): setup, a decision or a circulation."""
    status = record.status
    yes = record.response_required == "Yes" and not status_in(status, TERMINAL)
    if yes and record.setup != "complete":
        return f"setup {record.setup or 'none'}"
    if record.response_required == "To be decided" and record.setup in ("", "filed"):
        return "triage task missing"
    if declined(record.response_required, status):
        return "decided No, not honoured"
    if status == Status.APPROVED:
        return "approved, not circulated"
    return ""


def lease_free_at(lease: str) -> dt.datetime:
    """When another instance may take the item: now for a holder on this machine (every
    process of the simulation has ended by the time the audit runs), else its expiry."""
    if not lease:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    _, _, rest = lease.partition("|")
    expiry, _, holder = rest.partition("|")
    if holder.partition(":")[0] == HOST:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        return dt.datetime.strptime(expiry, STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class Digest:
    """One delivered digest: to whom, and its rows (item id, what, due)."""

    recipient: str
    rows: set[tuple[str, str, str]]


@dataclass(slots=True)
class Audit:
    """Checks the invariants day by day and keeps what it needs from earlier days."""

    sandbox: Sandbox
    observer: App
    violations: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    digests: dict[str, Digest] = field(default_factory=dict)
    declined: dict[str, int] = field(default_factory=dict)
    """Item id -> number of deliveries before a person decided No on it."""
    half_done: dict[str, str] = field(default_factory=dict)
    """Item id -> why, for items half done at the end of the day before."""
    first_decision: dict[str, str] = field(default_factory=dict)
    orphans: set[str] = field(default_factory=set)

    def record(self, day: dt.date, lines: list[str]) -> None:
        """Add the day's violations (one that persists is reported on its first day only)."""
        for line in lines:
            if line not in self.seen:
                self.seen.add(line)
                self.violations.append(f"{day.isoformat()}: {line}")

    # -- the daily audit ---------------------------------------------------------------------
    def check_day(
        self,
        day: dt.date,
        *,
        visible: list[Publication],
        last_pass_started: dt.datetime,
        calm: bool,
    ) -> list[TrackerRecord]:
        """Every invariant at the end of ``day``; returns the records it read."""
        self.observer.resolve()
        records = self.observer.tracker.all()
        lines = self._duplicates(records)
        lines += self._filed(records, visible if calm else [])
        mail = delivered(self.sandbox.tenant)
        lines += self._recipients(mail)
        lines += self._reminders_carried(records, mail)
        lines += self._declined_quiet(mail)
        lines += self._half_done(records, last_pass_started, calm=calm)
        self.record(day, lines)
        return records

    def _duplicates(self, records: list[TrackerRecord]) -> list[str]:
        lines = [
            f"{k}: {n} tracker items" for k, n in Counter(r.key for r in records).items() if n > 1
        ]
        ws = self.observer.resolve()
        tasks = self.observer.planner.list_tasks(ws.plan_id)
        titles = Counter(str(t["title"]).split(" \u2013 ")[0] for t in tasks)
        lines += [f"task {title!r} {n} times" for title, n in titles.items() if n > 1]
        drafts = _files(self.observer, self.observer.settings.sharepoint.drafts_folder)
        recorded = Counter(r.draft_item_id for r in records if r.draft_item_id)
        lines += [f"draft {d} recorded {n} times" for d, n in recorded.items() if n > 1]
        # A draft uploaded just before a crash is recorded by the next pass: an orphan is
        # wrong only when it is still one a day later.
        orphans = {str(d["name"]) for d in drafts if str(d["id"]) not in recorded}
        lines += [f"draft {name} recorded on no item" for name in orphans & self.orphans]
        self.orphans = orphans
        sent = Counter(str(e.get("key")) for e in delivered(self.sandbox.tenant))
        lines += [f"email {k} sent {n} times" for k, n in sent.items() if n > 1]
        return lines

    def _filed(self, records: list[TrackerRecord], visible: list[Publication]) -> list[str]:
        by_link = {r.report_url.rstrip("/"): r for r in records}
        lines = []
        for pub in visible:
            record = by_link.get(pub.link.rstrip("/"))
            if record is None:
                lines.append(f"publication {pub.n} ({pub.kind}) in the feed but not filed")
                continue
            wanted = pub.london_day + dt.timedelta(days=55)
            if record.deadline != wanted or record.published_on != pub.london_day:
                lines.append(
                    f"{record.marker}: published {record.published_on}, deadline "
                    f"{record.deadline}; wanted {pub.london_day}, {wanted}"
                )
            first = self.first_decision.setdefault(record.item_id, record.response_required)
            if first != expected_decision(pub) and record.item_id not in self.declined:
                lines.append(f"{record.marker}: filed as {first}, wanted {expected_decision(pub)}")
        return lines

    def _recipients(self, mail: list[dict[str, Any]]) -> list[str]:
        allowed = allowed_addresses(self.observer)
        lines = []
        for entry in mail:
            for address in (*entry.get("to", []), *entry.get("cc", []), *entry.get("bcc", [])):
                if str(address).casefold() not in allowed:
                    lines.append(f"email {entry.get('key')} to {address}, not in the settings")
        return lines

    def digest(self, entry: dict[str, Any]) -> Digest:
        """What one delivered digest carried (parsed once)."""
        found = self.digests.get(entry["message_id"])
        if found is not None:
            return found
        raw = message_mime(self.sandbox.tenant, entry["mailbox"], entry["message_id"])
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("html",))
        text = body.get_content() if body is not None else ""
        rows = set()
        for report in REPORT.findall(str(text)):
            item = ITEM_ID.search(report)
            for row in ROW.findall(report):
                cells = [
                    html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in CELL.findall(row)
                ]
                if item and len(cells) >= 3:
                    rows.add((item.group(1), cells[0], cells[2]))
        found = Digest(recipient=str(entry["to"][0]).casefold(), rows=rows)
        self.digests[entry["message_id"]] = found
        return found

    def _reminders_carried(
        self, records: list[TrackerRecord], mail: list[dict[str, Any]]
    ) -> list[str]:
        carried: set[tuple[str, str, str, str]] = set()
        for entry in mail:
            if "digest" in str(entry.get("key")):
                got = self.digest(entry)
                carried |= {(got.recipient, *row) for row in got.rows}
        titles = {stage.key: stage.title for stage in self.observer.settings.stages}
        lines = []
        for record in records:
            for entry in record.reminders.get("sent", []) or []:
                rid, _, recipient = str(entry).partition("|")
                recipient = recipient.partition("|")[0].casefold()
                if not recipient:
                    continue
                what, due = _row_of(rid, titles)
                if (recipient, record.item_id, what, due) not in carried:
                    lines.append(
                        f"{record.marker}: reminder {rid} recorded as sent to {recipient}, "
                        "but no delivered digest carried it"
                    )
        return lines

    def note_declined(self, item_id: str) -> None:
        """A person decided No on the item just now: no digest may mention it from here on."""
        self.declined.setdefault(item_id, len(delivered(self.sandbox.tenant)))

    def _declined_quiet(self, mail: list[dict[str, Any]]) -> list[str]:
        lines = []
        for item_id, before in self.declined.items():
            for entry in mail[before:]:
                if "digest" in str(entry.get("key")) and any(
                    row[0] == item_id for row in self.digest(entry).rows
                ):
                    lines.append(f"S55-{item_id}: in digest {entry.get('key')} after a No")
        return lines

    def _half_done(
        self, records: list[TrackerRecord], started: dt.datetime, *, calm: bool
    ) -> list[str]:
        """Items half done at the last audit and still now, though the day's last pass ran
        undisturbed after their lease was free (a storm or a crash may leave work for the
        next pass: that is retried, not lost)."""
        lines = []
        now_half: dict[str, str] = {}
        for record in records:
            why = unfinished(record)
            if not why:
                continue
            now_half[record.item_id] = why
            free = lease_free_at(record.lease)
            if record.item_id in self.half_done and free <= started and calm:
                lines.append(
                    f"{record.marker}: {why} for more than a day (lease {record.lease or 'none'})"
                )
        self.half_done = now_half
        return lines


def _row_of(rid: str, titles: dict[str, str]) -> tuple[str, str]:
    """The digest row (what, due) that carries reminder ``rid``."""
    parts = rid.split(":")
    if parts[0] in ("overdue", "escalate"):
        parts = parts[1:]
    elif parts[0] == "summary":
        parts = parts[2:]  # summary:<week>:...
    if parts[0] == "deadline":
        what, day = DEADLINE_WHAT, parts[1]
    else:
        what, day = {**titles, "triage": TRIAGE_WHAT}.get(parts[1], parts[1]), parts[2]
    return what, long_date(dt.date.fromisoformat(day))
