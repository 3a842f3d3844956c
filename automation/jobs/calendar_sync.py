"""Deadlines in the office calendar: the statutory deadline and each stage's due date.

Each filed response gets all-day events in the office mailbox's calendar (settings
``calendar``): "Section 55 deadline" on its deadline, and one per stage on its Planner
task's due date (staff may move a task: the event follows). Each event is found again by its
key ``<publication key>#deadline`` or ``<publication key>#<stage key>``; a changed date or
title moves the event, a duplicate is deleted, and a response that is *Not required* (or
decided No) loses its events.

When: the publications this pass filed or acted on (intake's and follow-up's report), any
left pending by an earlier pass, and once a day (local state ``calendar.day``) every response
whose deadline is at most :data:`RECENT_DAYS` days past, so edits made in Planner or the
tracker are caught up within a day. An idle pass sends no calendar request.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from automation.domain.calendar import london_date
from automation.domain.record import TrackerRecord
from automation.domain.workflow import Status, is_declined, status_in
from automation.errors import AutomationError, GraphError
from automation.graph.calendar import CalendarEvent, EventSpec
from automation.jobs.ports import OfficeCalendar, Services
from automation.jobs.report import RunReport

log = logging.getLogger(__name__)

STATE = "calendar"
RECENT_DAYS = 30
DEADLINE_STAGE = "deadline"
NOT_PUBLICATIONS = ("reminders:", "progress:")
"""Report keys that name a digest's recipient, not a publication."""


def event_keys(record: TrackerRecord, stage_keys: Iterable[str]) -> list[str]:
    """Every key an event of this response may have."""
    return [f"{record.key}#{DEADLINE_STAGE}", *(f"{record.key}#{key}" for key in stage_keys)]


def removed(record: TrackerRecord) -> bool:
    """Whether the response's events must go (Not required, or a person decided No)."""
    return status_in(record.status, frozenset({Status.NOT_REQUIRED})) or is_declined(
        record.response_required
    )


class CalendarSync:
    """One calendar sync as of ``today``."""

    def __init__(
        self, app: Services, calendar: OfficeCalendar, report: RunReport, *, today: dt.date
    ) -> None:
        self.app = app
        self.calendar = calendar
        self.settings = app.settings
        self.report = report
        self.today = today

    def body(self, record: TrackerRecord) -> str:
        """The event's text: what it is and links to the tracker item and the report."""
        links = [
            f'<a href="{html.escape(url)}">{label}</a>'
            for url, label in (
                (record.web_url, "Tracker item"),
                (str(record.report.get("link") or record.report_url), "Report"),
                (record.draft_url, "Draft response"),
            )
            if url.startswith("https://")
        ]
        return (
            f"<p>{html.escape(record.title)}</p>"
            f"<p>{' | '.join(links)}</p>"
            "<p>Kept up to date by the Section 55 response service.</p>"
        )

    def wanted(
        self, record: TrackerRecord, tasks: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, EventSpec]:
        """The events this response should have, by key (none when removed)."""
        if removed(record) or record.deadline is None:
            return {}
        title = str(record.report.get("title") or record.title)
        out = {
            f"{record.key}#{DEADLINE_STAGE}": EventSpec(
                key=f"{record.key}#{DEADLINE_STAGE}",
                subject=f"Section 55 deadline: {title}",
                day=record.deadline,
                body_html=self.body(record),
            )
        }
        for stage in self.settings.stages:
            entry = record.tasks.get(stage.key)
            task = tasks.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            due = london_date(task.get("dueDateTime")) if task is not None else None
            if due is None:
                continue
            key = f"{record.key}#{stage.key}"
            out[key] = EventSpec(
                key=key, subject=f"{stage.title}: {title}", day=due, body_html=self.body(record)
            )
        return out

    def sync(self, records: Sequence[TrackerRecord]) -> None:
        """Create, move and delete events so that each response has exactly its wanted ones."""
        records = [r for r in records if r.key]
        if not records:
            return
        tasks: dict[str, Mapping[str, Any]] = {}
        if any(r.tasks and not removed(r) for r in records):
            plan = self.app.workspace.resolve().plan_id
            tasks = {str(t["id"]): t for t in self.app.planner.list_tasks(plan)}
        stage_keys = [stage.key for stage in self.settings.stages]
        wanted: dict[str, EventSpec] = {}
        owner: dict[str, str] = {}
        for record in records:
            for key in event_keys(record, stage_keys):
                owner[key] = record.key
            wanted.update(self.wanted(record, tasks))
        found = self.calendar.find(owner)
        create = [spec for key, spec in wanted.items() if not found.get(key)]
        for key, events in found.items():
            try:
                self._settle(key, events, wanted.get(key), owner[key])
            except GraphError as exc:
                self.report.failure(owner[key], f"calendar event {key}: {exc}")
        if not create:
            return
        if self.report.dry_run:
            for spec in create:
                self.report.action(owner[spec.key], f"add calendar event {spec.key} on {spec.day}")
            return
        for key, outcome in self.calendar.create(create).items():
            if isinstance(outcome, Exception):
                self.report.failure(owner[key], f"calendar event {key}: {outcome}")
            else:
                self.report.action(owner[key], f"calendar: {key} on {wanted[key].day}")

    def _settle(
        self, key: str, events: Sequence[CalendarEvent], spec: EventSpec | None, item: str
    ) -> None:
        """Keep one event for ``key`` on the wanted day (or none); delete the rest."""
        keep = events[0] if events and spec is not None else None
        extra = [e for e in events if e is not keep]
        if self.report.dry_run:
            if extra:
                self.report.action(item, f"delete {len(extra)} calendar event(s) {key}")
            if keep is not None and spec is not None and keep.day != spec.day:
                self.report.action(item, f"move calendar event {key} to {spec.day}")
            return
        for event in extra:
            self.calendar.delete(event.event_id)
            self.report.action(item, f"calendar: removed {key}")
        if (
            keep is not None
            and spec is not None
            and (keep.day != spec.day or keep.subject != spec.subject)
        ):
            self.calendar.move(keep.event_id, spec)
            self.report.action(item, f"calendar: {key} moved to {spec.day}")

    def recent(self, record: TrackerRecord) -> bool:
        """Whether the daily check looks at a response it was not told about.

        One whose deadline is at most :data:`RECENT_DAYS` days past; one without events (Not
        required) only if it changed in the last :data:`RECENT_DAYS` days, in case a person
        set that status by hand after its events were made.
        """
        since = self.today - dt.timedelta(days=RECENT_DAYS)
        if removed(record):
            changed = london_date(record.modified)
            return changed is not None and changed >= since and record.deadline is not None
        return record.deadline is not None and record.deadline >= since

    def run(self, touched: Iterable[str]) -> None:
        """Sync what this pass touched, what is pending, and once a day every recent response."""
        state = self.app.state.section(STATE)
        pending = list(dict.fromkeys([*state.get("pending", []), *touched]))
        daily = state.get("day") != self.today.isoformat()
        if not pending and not daily:
            return  # an idle pass: no calendar request
        if not self.report.dry_run and pending != state.get("pending"):
            self._save(pending=pending)
        failures = len(self.report.failures)
        if daily:
            records = [r for r in self.app.tracker.all() if r.key in pending or self.recent(r)]
        else:
            records = list(self.app.tracker.lookup_by_keys(pending).values())
        # A publication filed this pass as not needing a response never had an event.
        filed = set(self.report.filed)
        self.sync([r for r in records if not (removed(r) and r.key in filed)])
        if self.report.dry_run:
            return
        failed = {line.partition(": ")[0] for line in self.report.failures[failures:]}
        changes: dict[str, Any] = {"pending": [key for key in pending if key in failed]}
        if daily and not failed:
            changes["day"] = self.today.isoformat()
        self._save(**changes)

    def _save(self, **changes: Any) -> None:
        state = self.app.state.section(STATE)
        state.update(changes)
        self.app.state.set(STATE, state)


def touched_in(report: RunReport) -> list[str]:
    """Publication keys this pass filed or acted on (the report's keys)."""
    keys = [*report.filed]
    for line in report.actions:
        key, sep, _ = line.partition(": ")
        if sep and not key.startswith(NOT_PUBLICATIONS):
            keys.append(key)
    return list(dict.fromkeys(keys))


def run(app: Services, report: RunReport, *, today: dt.date) -> None:
    """The calendar part of a pass (nothing when the calendar is not enabled)."""
    calendar = app.calendar
    if calendar is None:
        return
    try:
        CalendarSync(app, calendar, report, today=today).run(touched_in(report))
    except AutomationError as exc:
        report.failure("calendar", f"not finished this pass: {exc}")
