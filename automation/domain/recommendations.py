"""After publication: each recommendation, area for improvement and cause of concern as a row.

The recommendations list holds one row per finding of a published response, found again by
its key ``<publication key>#<kind code><number>`` (``hmicfrs:/publications/x#R19``): the
report's own number, or the finding's position when the report numbers none (the draft shows
the same number, so both sources give the same key). Staff may add rows by hand; a row
without our key is theirs, left alone but counted in progress and the Panel report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from automation.domain.publications import findings_from_json

__all__ = [
    "OPEN_ROW_STATUSES",
    "Finding",
    "Kind",
    "Rag",
    "RecommendationRow",
    "RowStatus",
    "findings_of",
    "is_open_row",
    "keyed",
    "number_order",
    "row_key",
    "with_draft",
]


class Kind(StrEnum):
    """What a row tracks (the list's Kind choices)."""

    RECOMMENDATION = "Recommendation"
    AREA_FOR_IMPROVEMENT = "Area for improvement"
    CAUSE_OF_CONCERN = "Cause of concern"

    @property
    def code(self) -> str:
        """The letter in the row key: R, A or C."""
        return {"Recommendation": "R", "Area for improvement": "A", "Cause of concern": "C"}[
            self.value
        ]

    @property
    def report_field(self) -> str:
        """Where the tracker's report details (``S55Report``) keep this kind's findings."""
        return {
            "Recommendation": "recommendations",
            "Area for improvement": "areas_for_improvement",
            "Cause of concern": "causes_of_concern",
        }[self.value]


class RowStatus(StrEnum):
    """The list's Status choices."""

    OPEN = "Open"
    IN_PROGRESS = "In progress"
    COMPLETE = "Complete \u2013 awaiting HMICFRS"
    CLOSED = "Closed by HMICFRS"
    NOT_APPLICABLE = "Not applicable"


OPEN_ROW_STATUSES: frozenset[str] = frozenset(
    {RowStatus.OPEN.value.casefold(), RowStatus.IN_PROGRESS.value.casefold()}
)
"""Statuses (case-folded) in which the force still owes work and progress updates."""


class Rag(StrEnum):
    """The list's RAG choices."""

    RED = "Red"
    AMBER = "Amber"
    GREEN = "Green"


def is_open_row(status: str) -> bool:
    """Whether a row still needs progress updates (Open, In progress, or a status left empty).

    A status staff typed that is none of the choices counts as open, so it is not forgotten.
    """
    folded = status.strip().casefold()
    if not folded:
        return True
    known = {s.value.casefold() for s in RowStatus}
    return folded in OPEN_ROW_STATUSES or folded not in known


def row_key(publication_key: str, kind: Kind, number: str) -> str:
    """``<publication key>#<kind code><number>``, e.g. ``hmicfrs:/publications/x#R19``."""
    return f"{publication_key}#{kind.code}{number.strip()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One finding as a row is made from it."""

    kind: Kind
    number: str
    text: str
    addressee: str = ""


def findings_of(report: Mapping[str, Any]) -> list[Finding]:
    """The findings kept in the tracker's report details, numbered as the draft shows them.

    An unnumbered finding takes its position in its list (1, 2, ...), as the draft does.
    """
    out: list[Finding] = []
    for kind in Kind:
        for position, found in enumerate(findings_from_json(report.get(kind.report_field)), 1):
            out.append(
                Finding(
                    kind=kind,
                    number=found.number or str(position),
                    text=found.text.strip(),
                    addressee=found.addressee,
                )
            )
    return out


def with_draft(extracted: Sequence[Finding], drafted: Sequence[Finding]) -> list[Finding]:
    """The findings as corrected in the approved draft.

    For each kind the draft lists at all, the draft's list wins (staff corrected numbers or
    texts, removed a finding for another body, or added one the extraction missed); a kind
    the draft does not list (its section was rewritten as prose) keeps the extracted list.
    Addressees the draft does not show are taken from the extraction by number.
    """
    drafted_kinds = {f.kind for f in drafted}
    extracted_by = {(f.kind, f.number): f for f in extracted}
    out: list[Finding] = [f for f in extracted if f.kind not in drafted_kinds]
    seen: set[tuple[Kind, str]] = set()
    for found in drafted:
        if (found.kind, found.number) in seen:
            continue
        seen.add((found.kind, found.number))
        earlier = extracted_by.get((found.kind, found.number))
        addressee = found.addressee or (earlier.addressee if earlier else "")
        out.append(
            Finding(kind=found.kind, number=found.number, text=found.text, addressee=addressee)
        )
    order = {kind: n for n, kind in enumerate(Kind)}
    return sorted(out, key=lambda f: (order[f.kind], number_order(f.number)))


def number_order(number: str) -> tuple[float, str]:
    """A sort key that puts "2" before "10" and "1.2" between them; text last."""
    try:
        return float(number), number
    except ValueError:
        return float("inf"), number


@dataclass(slots=True, kw_only=True)
class RecommendationRow:
    """One row of the recommendations list (a snapshot; ``etag`` guards bookkeeping writes).

    ``key`` is empty for a row staff added by hand. ``progress`` is the hidden bookkeeping
    of progress requests sent (see ``automation.jobs.progress``).
    """

    item_id: str
    etag: str = ""
    web_url: str = ""
    key: str = ""
    title: str = ""
    publication_key: str = ""
    report_title: str = ""
    report_url: str = ""
    report_published: date | None = None
    tracker_url: str = ""
    kind: str = ""
    number: str = ""
    text: str = ""
    addressed_to: str = ""
    owner: str = ""
    status: str = ""
    rag: str = ""
    target_date: date | None = None
    last_update: str = ""
    last_update_on: date | None = None
    next_update_due: date | None = None
    evidence_url: str = ""
    progress: dict[str, Any] = field(default_factory=dict)
    created: date | None = None

    @property
    def is_open(self) -> bool:
        """Whether the row still needs progress updates."""
        return is_open_row(self.status)

    @property
    def label(self) -> str:
        """``Recommendation 19`` (or the title of a hand-made row without kind and number)."""
        if self.kind and self.number:
            return f"{self.kind} {self.number}"
        return self.kind or self.title or f"row {self.item_id}"

    @property
    def report_name(self) -> str:
        """The report the row belongs to (a hand-made row may name none)."""
        return self.report_title or "(no report named)"


def keyed(rows: Iterable[RecommendationRow]) -> dict[str, RecommendationRow]:
    """Rows by key (rows staff added without a key are left out)."""
    return {row.key: row for row in rows if row.key}
