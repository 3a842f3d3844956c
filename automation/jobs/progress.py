"""Progress requests: one digest per owner per cycle; one escalation of overdue updates.

The cycle and which rows are due or overdue are the domain's
(:mod:`automation.domain.progress`). Recipients come only from settings: a row's owner when
the settings name that person (``people``, stage assignees, recipients,
``recommendations.owners``/``default_owner``), otherwise the manager, with a warning; a
row's text never adds an address.

Exactly once, as the other emails: the rows of a digest are claimed first (their hidden
``S55Progress`` column gets a short lease, written with If-Match, so a second instance
leaves them alone); Sent Items is searched for the digest's idempotency key (it names the
kind, the cycle, the recipient and the rows) and the digest is sent only if it is not
there; then each row records the cycle (and, for a request, when the update is due).
A crash between send and record is healed by the key search in the next pass.
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
from automation.jobs.ports import Services
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
        what = ", ".join(row.label for row in rows)
        if self.report.dry_run:
            self.report.action(where, f"send a {kind} digest ({self.cycle.id}): {what}")
            return
        mail = self.app.mail
        if mail is None:
            self.report.failure(where, "no sending mailbox configured")
            return
        key = digest_key(kind, self.cycle, recipient, rows)
        try:
            won = self.app.recommendations.claim(
                {
                    row.item_id: (
                        row.etag,
                        {"S55Progress": {**row.progress, "lease": utc_stamp(self.now + LEASE)}},
                    )
                    for row in rows
                }
            )
            if len(won) < len(rows):
                self.report.later(where, f"{kind}: rows changed or claimed by another instance")
                return
            if mail.find_sent(key) is None:
                rendered = MailRenderer(self.settings.templates_dir / "email").render(
                    template, self.context(recipient, rows)
                )
                mail.send(key=key, subject=rendered.subject, html=rendered.html, to=[recipient])
                self.report.sent.append(key)
                self.report.action(where, f"{kind} digest sent ({self.cycle.id}): {what}")
            else:
                log.info("%s digest for %s already in Sent Items; recording it", kind, where)
            self.app.recommendations.patch_many(
                {row.item_id: self.record(row, mark) for row in rows}
            )
        except AutomationError as exc:
            self.report.failure(where, f"{kind} digest: {exc}")

    def record(self, row: RecommendationRow, mark: str) -> dict[str, Any]:
        """The row's fields after the digest went: the cycle recorded, the lease gone."""
        progress = {k: v for k, v in row.progress.items() if k != "lease"}
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
