"""The Panel report's content: open findings by report, counts by status and RAG.

Pure: built from the recommendations list's rows as of a date. Rows staff added by hand are
included (under the report they name, or "(no report named)").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from automation.domain.recommendations import Rag, RecommendationRow, RowStatus, number_order

__all__ = ["PanelData", "PanelGroup", "PanelLine", "panel_data"]

UNSET = "(not set)"


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelLine:
    """One open finding as the report shows it."""

    label: str
    kind: str
    number: str
    text: str
    addressed_to: str
    owner: str
    status: str
    rag: str
    age_days: int | None
    target_date: date | None
    last_update: str
    last_update_on: date | None
    next_update_due: date | None
    update_overdue: bool
    row_url: str
    report: str
    report_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelGroup:
    """The open findings of one report."""

    report: str
    report_url: str
    published: date | None
    lines: tuple[PanelLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelData:
    """Everything the Panel report shows, as of ``as_of``."""

    as_of: date
    groups: tuple[PanelGroup, ...]
    status_counts: tuple[tuple[str, int], ...]
    rag_counts: tuple[tuple[str, int], ...]
    total: int
    open_count: int
    overdue_updates: int

    @property
    def lines(self) -> list[PanelLine]:
        """Every open finding, report by report."""
        return [line for group in self.groups for line in group.lines]


def _status(row: RecommendationRow) -> str:
    return row.status or RowStatus.OPEN.value


def _line(row: RecommendationRow, as_of: date) -> PanelLine:
    start = row.report_published or row.created
    return PanelLine(
        label=row.label,
        kind=row.kind,
        number=row.number,
        text=row.text,
        addressed_to=row.addressed_to,
        owner=row.owner,
        status=_status(row),
        rag=row.rag,
        age_days=(as_of - start).days if start is not None else None,
        target_date=row.target_date,
        last_update=row.last_update,
        last_update_on=row.last_update_on,
        next_update_due=row.next_update_due,
        update_overdue=row.next_update_due is not None and row.next_update_due < as_of,
        row_url=row.web_url,
        report=row.report_name,
        report_url=row.report_url,
    )


def _order(row: RecommendationRow) -> tuple[str, tuple[float, str], str]:
    return row.kind, number_order(row.number), row.title


def _counts(values: Sequence[str], order: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """Counts in ``order`` (zeros kept, so the chart's bars stay in place), then others."""
    folded = [v.casefold() for v in values]
    out = [(name, folded.count(name.casefold())) for name in order]
    known = {name.casefold() for name in order}
    extra = sorted({v for v in values if v.casefold() not in known})
    out.extend((name, values.count(name)) for name in extra)
    return tuple(out)


def panel_data(rows: Sequence[RecommendationRow], *, as_of: date) -> PanelData:
    """The report's content: open rows grouped by report (oldest report first), and counts."""
    open_rows = [row for row in rows if row.is_open]
    by_report: dict[str, list[RecommendationRow]] = {}
    for row in open_rows:
        by_report.setdefault(row.report_name, []).append(row)
    groups = []
    for report, members in by_report.items():
        members.sort(key=_order)
        published = min((m.report_published for m in members if m.report_published), default=None)
        groups.append(
            PanelGroup(
                report=report,
                report_url=next((m.report_url for m in members if m.report_url), ""),
                published=published,
                lines=tuple(_line(m, as_of) for m in members),
            )
        )
    groups.sort(key=lambda g: (g.published or date.max, g.report))
    lines = [line for group in groups for line in group.lines]
    return PanelData(
        as_of=as_of,
        groups=tuple(groups),
        status_counts=_counts([_status(r) for r in rows], [s.value for s in RowStatus]),
        rag_counts=_counts([r.rag or UNSET for r in open_rows], [*(r.value for r in Rag), UNSET]),
        total=len(rows),
        open_count=len(open_rows),
        overdue_updates=sum(1 for line in lines if line.update_overdue),
    )
