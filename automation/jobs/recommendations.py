"""After publication: a row per finding in the recommendations list, and progress requests.

When to work, without costing an idle pass a Graph request:

- publications follow-up marked Published in this pass (``RunReport.published``), and
  any left pending by an earlier pass (local state ``recommendations.pending``, written
  before the first row is made, so a crash cannot forget them);
- once a day (local state ``recommendations.day``): every Published response whose rows
  are fewer than its extracted findings (Status set to Published by hand, or local state
  lost after a crash), then the progress cycle (:mod:`automation.jobs.progress`).

Rows are made from the findings in the tracker's report details, as corrected in the
approved Word draft where its finding paragraphs can be read
(:func:`automation.documents.draft_findings.findings_in_draft`): for each kind the draft
lists, the draft's numbers and texts win. A row is looked up by its key before it is made
(all rows of the publication in one request), the unique ``RecKey`` column refuses a second
one, and a create whose answer was lost is looked up, never repeated blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from automation.documents.draft_findings import findings_in_draft
from automation.domain.recommendations import (
    Finding,
    RecommendationRow,
    RowStatus,
    findings_of,
    row_key,
    with_draft,
)
from automation.domain.record import TrackerRecord
from automation.domain.text import shorten
from automation.domain.workflow import Status, status_in
from automation.errors import AutomationError, GraphError
from automation.jobs.ports import Services
from automation.jobs.progress import ProgressRequests, cycle_rules
from automation.jobs.report import RunReport

log = logging.getLogger(__name__)

STATE = "recommendations"
TITLE_MAX = 255


def row_fields(
    record: TrackerRecord, finding: Finding, *, owner: str, next_due: dt.date
) -> dict[str, Any]:
    """The columns of a new row for one finding of a published response."""
    report_title = str(record.report.get("title") or record.title)
    fields: dict[str, Any] = {
        "Title": shorten(f"{finding.kind.value} {finding.number}: {report_title}", TITLE_MAX),
        "RecKey": row_key(record.key, finding.kind, finding.number),
        "PublicationKey": record.key,
        "ReportTitle": shorten(report_title, TITLE_MAX),
        "ReportUrl": str(record.report.get("link") or record.report_url),
        "TrackerItemUrl": record.web_url,
        "Kind": finding.kind.value,
        "Number": finding.number,
        "RecText": finding.text,
        "AddressedTo": shorten(finding.addressee, TITLE_MAX),
        "Owner": owner,
        "Status": RowStatus.OPEN.value,
        "NextUpdateDue": next_due,
    }
    if record.published_on is not None:
        fields["ReportPublished"] = record.published_on
    return fields


class Recommendations:
    """One pass of the recommendations job as of ``today``."""

    def __init__(self, app: Services, report: RunReport, *, today: dt.date) -> None:
        self.app = app
        self.settings = app.settings
        self.config = app.settings.recommendations
        self.report = report
        self.today = today
        self.dry_run = report.dry_run

    def run(self, published: Iterable[str] = ()) -> None:
        """Rows for what was published, and (once a day) the sweep and progress cycle."""
        if not self.config.enabled:
            return
        state = self.app.state.section(STATE)
        pending = list(dict.fromkeys([*state.get("pending", []), *published]))
        daily = state.get("day") != self.today.isoformat()
        if not pending and not daily:
            return  # an idle pass: no Graph request
        if not self.app.recommendations.exists():
            message = (
                f"list '{self.config.list_name}' not found on the site: run `automation provision`"
            )
            if pending:
                self.report.failure("recommendations", message)
            else:
                log.warning("recommendations: %s", message)
            return
        if not self.dry_run and pending != state.get("pending"):
            self._save(pending=pending)
        failures = len(self.report.failures)
        if daily:
            records = [r for r in self.app.tracker.all() if r.key]
            rows = self.app.recommendations.all()
            done = self.make_rows(records, rows=rows, only=set(pending))
            if len(self.report.failures) == failures:
                rows = self.app.recommendations.all() if done else rows
                ProgressRequests(self.app, self.report, today=self.today).run(rows)
        else:
            found = self.app.tracker.lookup_by_keys(pending)
            self.make_rows(list(found.values()), rows=None, only=set(pending))
        if self.dry_run:
            return
        left = [key for key in pending if key in self._unfinished()]
        changes: dict[str, Any] = {"pending": left}
        if daily and len(self.report.failures) == failures and not self._later_here():
            changes["day"] = self.today.isoformat()
        self._save(**changes)

    # -- rows -------------------------------------------------------------------------------
    def make_rows(
        self,
        records: Sequence[TrackerRecord],
        *,
        rows: Sequence[RecommendationRow] | None,
        only: set[str],
    ) -> int:
        """Make the missing rows of each Published response; how many were made.

        With ``rows`` (the whole list, read by the daily sweep) a response not in ``only``
        is taken up only when it has fewer rows than extracted findings; without, the
        rows of the ``only`` publications are read.
        """
        published = [r for r in records if status_in(r.status, frozenset({Status.PUBLISHED}))]
        for record in records:
            if record.key in only and record.key not in {r.key for r in published}:
                log.info("%s: not Published (%s); no rows", record.key, record.status)
        if rows is None:
            by_key = self.app.recommendations.for_publications(r.key for r in published)
        else:
            by_key = {}
            for row in rows:
                by_key.setdefault(row.publication_key, []).append(row)
        made = 0
        for record in published:
            have = [row for row in by_key.get(record.key, []) if row.key]
            if record.key not in only and len(have) >= len(findings_of(record.report)):
                continue
            try:
                made += self.rows_for(record, {row.key for row in have})
            except (AutomationError, GraphError) as exc:
                self.report.failure(record.key, f"recommendation rows: {exc}")
        return made

    def findings(self, record: TrackerRecord) -> list[Finding]:
        """The findings to track: extracted ones, as corrected in the approved draft."""
        extracted = findings_of(record.report)
        if not record.draft_item_id:
            return extracted
        drive_id = self.app.workspace.resolve().drive_id
        try:
            drafted = findings_in_draft(self.app.drive.download(drive_id, record.draft_item_id))
        except GraphError as exc:
            log.warning(
                "%s: draft not readable (%s); using the extracted findings", record.key, exc
            )
            return extracted
        if not drafted:
            return extracted
        return with_draft(extracted, drafted)

    def owner(self) -> str:
        """Who owns a new row (a configured person)."""
        return self.config.default_owner or self.settings.people.response_owner

    def rows_for(self, record: TrackerRecord, existing: set[str]) -> int:
        """Create the rows of one response that do not exist yet; how many were made."""
        wanted = self.findings(record)
        missing = [f for f in wanted if row_key(record.key, f.kind, f.number) not in existing]
        if not missing:
            return 0
        first_due = cycle_rules(self.app).next(self.today).due_by
        made = 0
        for finding in missing:
            fields = row_fields(record, finding, owner=self.owner(), next_due=first_due)
            if self.dry_run:
                self.report.action(record.key, f"add row {fields['RecKey']}")
                continue
            row, created = self.app.recommendations.create_or_find(fields)
            if created:
                made += 1
                self.report.action(record.key, f"recommendations list: added {row.label}")
        return made

    # -- bookkeeping --------------------------------------------------------------------------
    def _unfinished(self) -> set[str]:
        return {
            line.partition(": ")[0] for line in (*self.report.failures, *self.report.unfinished)
        }

    def _later_here(self) -> bool:
        return any(line.startswith("progress:") for line in self.report.unfinished)

    def _save(self, **changes: Any) -> None:
        state = self.app.state.section(STATE)
        state.update(changes)
        self.app.state.set(STATE, state)


def run(app: Services, report: RunReport, *, today: dt.date) -> None:
    """The recommendations job of a pass: after follow-up (uses what it published)."""
    Recommendations(app, report, today=today).run(list(dict.fromkeys(report.published)))
