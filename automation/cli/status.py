"""``automation status``: the open responses, their deadlines and what is overdue.

A response is open until it is published (Circulated still counts: the duty is to
publish). Rows are sorted by deadline; output is an aligned table, CSV or JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from automation.app import App
from automation.domain.calendar import london_date
from automation.domain.deadlines import PERIOD_DAYS, day_of_period
from automation.domain.record import TrackerRecord
from automation.domain.text import one_line
from automation.domain.workflow import DEADLINE_MET, is_open, status_in
from automation.errors import SettingsError
from automation.exitcodes import ExitCode
from automation.settings import Settings, StageSettings

__all__ = [
    "FIELDS",
    "StatusRow",
    "build_rows",
    "open_responses",
    "render",
    "run_status",
]

TITLE_WIDTH = 60
DEADLINE_MARK = "DEADLINE"
FIELDS = (
    "marker",
    "title",
    "published_on",
    "deadline",
    "day",
    "days_left",
    "status",
    "owner",
    "overdue",
    "item_url",
    "draft_url",
)
_TABLE = (
    ("Marker", "marker"),
    ("Title", "title"),
    ("Published", "published_on"),
    ("Deadline", "deadline"),
    ("Day", "day"),
    ("Left", "days_left"),
    ("Stage", "status"),
    ("Owner", "owner"),
    ("Overdue", "overdue"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow:
    """One open response as of a date."""

    marker: str
    title: str
    published_on: dt.date | None
    deadline: dt.date | None
    day: int | None  # day N of the 56-day period; None before publication
    days_left: int | None  # negative when overdue
    status: str
    owner: str
    overdue: tuple[str, ...]  # "DEADLINE" and/or stage keys
    item_url: str
    draft_url: str

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON object (dates as YYYY-MM-DD, missing values as null)."""
        return {
            "marker": self.marker,
            "title": self.title,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "day": self.day,
            "days_left": self.days_left,
            "status": self.status,
            "owner": self.owner,
            "overdue": list(self.overdue),
            "item_url": self.item_url,
            "draft_url": self.draft_url,
        }

    def overdue_text(self) -> str:
        """``DEADLINE; overdue: draft, approval`` (or '' when nothing is overdue)."""
        parts = []
        if DEADLINE_MARK in self.overdue:
            parts.append(DEADLINE_MARK)
        stages = [mark for mark in self.overdue if mark != DEADLINE_MARK]
        if stages:
            parts.append(f"overdue: {', '.join(stages)}")
        return "; ".join(parts)

    def as_text(self) -> dict[str, str]:
        """Every field as text, for CSV and the table (missing values as '-')."""
        return {
            "marker": self.marker,
            "title": self.title,
            "published_on": self.published_on.isoformat() if self.published_on else "-",
            "deadline": self.deadline.isoformat() if self.deadline else "-",
            "day": str(self.day) if self.day is not None else "-",
            "days_left": str(self.days_left) if self.days_left is not None else "-",
            "status": self.status,
            "owner": self.owner,
            "overdue": self.overdue_text(),
            "item_url": self.item_url,
            "draft_url": self.draft_url,
        }


def _overdue_stages(
    record: TrackerRecord,
    tasks: Mapping[str, Mapping[str, Any]],
    stages: Sequence[StageSettings],
    as_of: dt.date,
) -> list[str]:
    late = []
    for stage in stages:
        entry = record.tasks.get(stage.key)
        task = tasks.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if task is None:
            continue
        due = london_date(task.get("dueDateTime"))
        done = int(task.get("percentComplete") or 0) >= 100
        if due is not None and due < as_of and not done:
            late.append(stage.key)
    return late


def build_rows(
    records: Iterable[TrackerRecord],
    tasks: Mapping[str, Mapping[str, Any]],
    stages: Sequence[StageSettings],
    *,
    as_of: dt.date,
) -> list[StatusRow]:
    """The open responses among ``records`` as of ``as_of``, sorted by deadline.

    Args:
        tasks: Planner tasks by id (a record's ``tasks[stage.key]["id"]`` points here).
    """
    rows = []
    for record in records:
        if not is_open(record.status):
            continue
        day = None
        if record.published_on is not None:
            n = day_of_period(record.published_on, as_of)
            day = n if n >= 1 else None
        days_left = (record.deadline - as_of).days if record.deadline is not None else None
        overdue = []
        if (
            record.deadline is not None
            and as_of > record.deadline
            and not status_in(record.status, DEADLINE_MET)
        ):
            overdue.append(DEADLINE_MARK)
        overdue.extend(_overdue_stages(record, tasks, stages, as_of))
        rows.append(
            StatusRow(
                marker=record.marker,
                title=record.title,
                published_on=record.published_on,
                deadline=record.deadline,
                day=day,
                days_left=days_left,
                status=record.status,
                owner=record.response_owner,
                overdue=tuple(overdue),
                item_url=record.web_url,
                draft_url=record.draft_url,
            )
        )
    rows.sort(
        key=lambda r: (
            r.deadline is None,
            r.deadline or dt.date.max,
            r.published_on or dt.date.max,
            int(r.marker.removeprefix("S55-")) if r.marker.removeprefix("S55-").isdigit() else 0,
        )
    )
    return rows


def open_responses(app: App, *, as_of: dt.date) -> list[StatusRow]:
    """Read the tracker (and the plan's tasks when any item has some) and build the rows."""
    ws = app.resolve()
    records = app.tracker.all()
    records = [r for r in records if is_open(r.status)]
    tasks: dict[str, dict[str, Any]] = {}
    if any(r.tasks for r in records):
        tasks = {str(t["id"]): t for t in app.planner.list_tasks(ws.plan_id)}
    return build_rows(records, tasks, app.settings.stages, as_of=as_of)


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, rule: bool = True
) -> list[str]:
    """A plain-text table: a header line, a rule (``rule=True``), one line per row."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    ruler = [line(["-" * w for w in widths])] if rule else []
    return [line(headers), *ruler, *(line(row) for row in rows)]


def _table(rows: Sequence[StatusRow]) -> str:
    cells = []
    for row in rows:
        text = row.as_text()
        text["title"] = one_line(text["title"], TITLE_WIDTH)
        if row.day is not None:
            text["day"] = f"{row.day} of {PERIOD_DAYS}"
        cells.append([text[key] for _, key in _TABLE])
    lines = render_table([label for label, _ in _TABLE], cells, rule=False)
    if not rows:
        lines.append("(no open responses)")
    return "\n".join(lines) + "\n"


def _csv(rows: Sequence[StatusRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_text())
    return buffer.getvalue()


def render(rows: Sequence[StatusRow], fmt: str) -> str:
    """The rows as ``table``, ``csv`` or ``json`` text.

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "table":
        return _table(rows)
    if fmt == "csv":
        return _csv(rows)
    if fmt == "json":
        return json.dumps([row.as_json() for row in rows], indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use table, csv or json")


def run_status(settings: Settings, *, as_of: dt.date, fmt: str) -> int:
    """Print the open responses as of ``as_of`` in ``fmt`` (table, csv or json)."""
    if fmt not in ("table", "csv", "json"):
        raise SettingsError([f"--format {fmt!r}: use table, csv or json"])
    rows = open_responses(App(settings), as_of=as_of)
    sys.stdout.write(render(rows, fmt))
    sys.stdout.flush()
    return ExitCode.OK
