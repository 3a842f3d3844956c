"""Progress requests: one digest per owner per cycle; one escalation of overdue updates.

The cycle and which rows are due or overdue are the domain's
(:mod:`automation.domain.progress`). Recipients come only from settings: a row's owner when
the settings name that person (``people``, stage assignees, recipients,
``recommendations.owners``/``default_owner``), otherwise the manager, with a warning; a
row's text never adds an address.

Exactly once, as the other emails (:mod:`automation.jobs.confirm`): the rows of a digest are
claimed first (their hidden ``S55Progress`` column gets a short lease, written with
If-Match, so a second instance leaves them alone); the mailbox is searched for the digest's
idempotency key (it names the kind, the cycle, the recipient and the rows); the send is
recorded as pending on the rows, made, and then each row records the cycle (and, for a
request, when the update is due). A crash between send and record is healed by the key
search in the next pass; a send whose outcome is unknown stays pending (the rows wait)
until the mailbox shows it or ``mail.confirm_minutes`` have passed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from automation.domain.calendar import long_date, parse_stamp, utc_stamp
from automation.domain.progress import CycleRules, digest_key, is_due, is_overdue
from automation.domain.recommendations import RecommendationRow
from automation.domain.text import shorten
from automation.errors import AutomationError
from automation.jobs.confirm import PENDING, Step, next_step, pending_entry, send_recorded
from automation.jobs.ports import Outbox, Services
from automation.jobs.reminders import allowed_addresses
from automation.jobs.report import RunReport
from automation.mailrender import MailRenderer

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
KEEP = 12  # cycles remembered on a row
TEXT_MAX = 300


class ProgressRequests:
    """One progress cycle as of ``today``."""

    def __init__(self, app: Services, report: RunReport, *, today: dt.date) -> None:
        self.app = app
        self.settings = app.settings
        self.config = app.settings.recommendations
        self.report = report
        self.today = today
        self.now = dt.datetime.now(dt.UTC)
        config = self.config
        self.allowed = allowed_addresses(app) | {
            a.casefold() for a in (*config.owners, config.default_owner) if a
        }
        self.cycle = cycle_rules(app).current(today)

    def recipient(self, row: RecommendationRow) -> str:
        """The row's owner when the settings name them; otherwise the manager."""
        owner = row.owner.strip().casefold()
        if owner and owner in self.allowed:
            return owner
        manager = self.settings.people.manager.casefold()
        log.warning(
            "recommendations: %s is owned by %s, who is not a configured person; "
            "its progress request goes to the manager",
            row.label,
            "nobody" if not owner else "an address not in the settings",
        )
        return manager

    def _leased(self, row: RecommendationRow) -> bool:
        until = parse_stamp(row.progress.get("lease"))
        return until is not None and until > self.now

    def run(self, rows: Sequence[RecommendationRow]) -> None:
        """Send the cycle's requests and escalations that are not sent yet."""
        response_days = self.config.response_working_days
        free = [row for row in rows if not self._leased(row)]
        if len(free) < len(rows):
            self.report.later("progress:", "rows leased by another instance")
        due = [r for r in free if is_due(r, self.cycle, response_days=response_days)]
        overdue = [r for r in free if is_overdue(r, self.cycle, today=self.today)]
        groups: dict[str, list[RecommendationRow]] = {}
        for row in due:
            groups.setdefault(self.recipient(row), []).append(row)
        for recipient, owned in sorted(groups.items()):
            self._send("progress", "progress_request", "requested", recipient, owned)
        if overdue:
            manager = self.settings.people.manager.casefold()
            self._send("progress-escalation", "progress_escalation", "escalated", manager, overdue)

    def _send(
        self, kind: str, template: str, mark: str, recipient: str, rows: list[RecommendationRow]
    ) -> None:
        where = f"progress:{recipient or '(no manager)'}"
        if not recipient:
            self.report.failure(where, "no manager configured (people.manager)")
            return
        if self.report.dry_run:
            what = ", ".join(row.label for row in rows)
            self.report.action(where, f"send a {kind} digest ({self.cycle.id}): {what}")
            return
        mail = self.app.mail
        if mail is None:
            self.report.failure(where, "no sending mailbox configured")
            return
        try:
            if not self._claim(rows):
                self.report.later(where, f"{kind}: rows changed or claimed by another instance")
                return
            carried, searched = self._settle(mail, mark, rows, where)
            if not carried:
                return
            key = digest_key(kind, self.cycle, recipient, carried)
            what = ", ".join(row.label for row in carried)
            minutes = self.settings.mail.confirm_minutes
            if key in searched or next_step(mail, key, None, now=self.now, minutes=0) == Step.SEND:
                rendered = MailRenderer(self.settings.templates_dir / "email").render(
                    template, self.context(recipient, carried)
                )
                accepted = send_recorded(
                    mark=lambda: self._set_pending(carried, mark, pending_entry(key, self.now)),
                    send=lambda: mail.send(
                        key=key, subject=rendered.subject, html=rendered.html, to=[recipient]
                    ),
                    forget=lambda: self._set_pending(carried, mark, None),
                    found=lambda: mail.find_sent(key) is not None,
                    minutes=minutes,
                )
                if not accepted:
                    self.report.later(where, f"{kind} digest outcome unknown ({key}): {what}")
                    return
                self.report.sent.append(key)
                self.report.action(where, f"{kind} digest sent ({self.cycle.id}): {what}")
            else:
                log.info("%s digest for %s already in the mailbox; recording it", kind, where)
            self._record(carried, mark)
        except AutomationError as exc:
            self.report.failure(where, f"{kind} digest: {exc}")

    def _claim(self, rows: Sequence[RecommendationRow]) -> bool:
        """Lease the rows (If-Match): False when another instance or a person got there first."""
        lease = utc_stamp(self.now + LEASE)
        won = self.app.recommendations.claim(
            {
                row.item_id: (row.etag, {"S55Progress": {**row.progress, "lease": lease}})
                for row in rows
            }
        )
        for row in rows:
            if row.item_id in won:
                row.progress["lease"] = lease
        return len(won) == len(rows)

    def _pending_slot(self, mark: str) -> str:
        return f"{mark}:{self.cycle.id}"

    def _settle(
        self, mail: Outbox, mark: str, rows: Sequence[RecommendationRow], where: str
    ) -> tuple[list[RecommendationRow], set[str]]:
        """Settle earlier sends of this cycle whose outcome was unknown; the rows to carry now.

        A row whose earlier send the mailbox shows is recorded; one still within the
        confirmation window is left for a later pass; one past it is carried again. Returns
        the rows to send now and the keys searched (not found).
        """
        slot = self._pending_slot(mark)
        by_key: dict[str, list[RecommendationRow]] = {}
        entries: dict[str, dict[str, Any]] = {}
        carried: list[RecommendationRow] = []
        for row in rows:
            pending = row.progress.get(PENDING)
            entry = pending.get(slot) if isinstance(pending, dict) else None
            if isinstance(entry, dict) and entry.get("key"):
                key = str(entry["key"])
                by_key.setdefault(key, []).append(row)
                if str(entry.get("at", "")) >= str(entries.get(key, {}).get("at", "")):
                    entries[key] = entry
            else:
                carried.append(row)
        searched: set[str] = set()
        minutes = self.settings.mail.confirm_minutes
        for key, group in by_key.items():
            step = next_step(mail, key, entries[key], now=self.now, minutes=minutes)
            if step == Step.SEND:
                searched.add(key)
                carried.extend(group)
            elif step == Step.RECORD:
                log.info("progress digest %s found in the mailbox; recording it", key)
                self._record(group, mark)
            else:
                self.report.later(where, f"digest sent? confirming ({key})")
        return carried, searched

    def _set_pending(
        self, rows: Sequence[RecommendationRow], mark: str, entry: dict[str, str] | None
    ) -> None:
        """Write (or, with ``None``, remove) the send in progress on each of its rows."""
        slot = self._pending_slot(mark)
        for row in rows:
            pending = row.progress.get(PENDING)
            pending = dict(pending) if isinstance(pending, dict) else {}
            if entry is None:
                pending.pop(slot, None)
            else:
                pending[slot] = entry
            row.progress[PENDING] = pending
        self.app.recommendations.patch_many(
            {row.item_id: {"S55Progress": dict(row.progress)} for row in rows}
        )

    def _record(self, rows: Sequence[RecommendationRow], mark: str) -> None:
        """Record the cycle on each row the digest carried (one round trip per 20)."""
        self.app.recommendations.patch_many({row.item_id: self.record(row, mark) for row in rows})

    def record(self, row: RecommendationRow, mark: str) -> dict[str, Any]:
        """The row's fields after the digest went: the cycle recorded, lease and pending gone."""
        progress = {k: v for k, v in row.progress.items() if k != "lease"}
        pending = progress.get(PENDING)
        if isinstance(pending, dict):
            left = {k: v for k, v in pending.items() if k != self._pending_slot(mark)}
            if left:
                progress[PENDING] = left
            else:
                progress.pop(PENDING)
        marks = dict(progress.get(mark) or {}) if isinstance(progress.get(mark), dict) else {}
        marks[self.cycle.id] = self.today.isoformat()
        progress[mark] = dict(sorted(marks.items())[-KEEP:])
        fields: dict[str, Any] = {"S55Progress": progress}
        if mark == "requested" and (
            row.next_update_due is None or row.next_update_due < self.cycle.due_by
        ):
            fields["NextUpdateDue"] = self.cycle.due_by
        return fields

    def context(self, recipient: str, rows: Sequence[RecommendationRow]) -> dict[str, Any]:
        """Values for the progress email templates."""
        user = self.app.users.get(recipient)
        return {
            "recipient_name": user.display_name if user else recipient,
            "cycle_label": self.cycle.label,
            "due_by": long_date(self.cycle.due_by),
            "items": [
                {
                    "report": row.report_name,
                    "label": row.label,
                    "text": shorten(" ".join(row.text.split()), TEXT_MAX),
                    "status": row.status or "Open",
                    "rag": row.rag,
                    "owner": row.owner,
                    "last_update": shorten(row.last_update, TEXT_MAX),
                    "last_update_on": long_date(row.last_update_on) if row.last_update_on else "",
                    "row_url": row.web_url,
                    "report_url": row.report_url,
                }
                for row in rows
            ],
        }


def cycle_rules(app: Services) -> CycleRules:
    """The settings that place progress cycles."""
    config = app.settings.recommendations
    return CycleRules(
        every_months=config.progress_every_months,
        meetings=tuple(config.panel_meetings),
        days_before=config.request_working_days_before,
        response_days=config.response_working_days,
    )
