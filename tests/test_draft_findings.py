"""Findings read back from the approved Word draft."""

from __future__ import annotations

import io

import docx

from automation.documents.draft_findings import findings_in_draft
from automation.domain.recommendations import Finding, Kind


def _docx(paragraphs: list[str], cells: list[str] = ()) -> bytes:  # type: ignore[assignment]
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if cells:
        table = document.add_table(rows=len(cells), cols=1)
        for row, text in zip(table.rows, cells, strict=True):
            row.cells[0].text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_finding_paragraphs_are_read_with_numbers_texts_and_addressees() -> None:
    content = _docx(
        [
            "Recommendations",
            "Recommendation 19: The senior national coordinator should review. (for CT Policing)",
            "[To be completed: the response to this recommendation.]",
            "Recommendation 20:  Forces  should act.",
            "Area for Improvement 1.2: Improve it.",
            "Cause of Concern 1: A concern.",
            "Recommendation twenty: not a number.",
            "Recommendation 21 without a colon",
        ],
        cells=["Recommendation 22: In a table."],
    )
    assert findings_in_draft(content) == [
        Finding(
            kind=Kind.RECOMMENDATION,
            number="19",
            text="The senior national coordinator should review.",
            addressee="CT Policing",
        ),
        Finding(kind=Kind.RECOMMENDATION, number="20", text="Forces should act."),
        Finding(kind=Kind.AREA_FOR_IMPROVEMENT, number="1.2", text="Improve it."),
        Finding(kind=Kind.CAUSE_OF_CONCERN, number="1", text="A concern."),
        Finding(kind=Kind.RECOMMENDATION, number="22", text="In a table."),
    ]


def test_a_file_that_is_not_word_gives_none() -> None:
    assert findings_in_draft(b"%PDF-1.7 not a docx") is None
    assert findings_in_draft(_docx(["No findings here."])) == []
