"""The findings as the approved Word draft states them (staff may have corrected them).

The draft template writes each finding as one paragraph: "Recommendation 19: <text>", with
" (for <addressee>)" when the report names one; likewise "Area for Improvement 3:" and
"Cause of Concern 1:". Those paragraphs are read back here, numbers and texts as staff left
them. A paragraph that does not start with a label, a number and a colon is not a finding
(the response prompts and the staff's own prose are left alone). Tables are read too: staff
sometimes paste findings into a table.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator

from docx import Document
from docx.opc.exceptions import PackageNotFoundError

from automation.domain.recommendations import Finding, Kind

__all__ = ["findings_in_draft"]

log = logging.getLogger(__name__)

_LABELS = {
    "recommendation": Kind.RECOMMENDATION,
    "area for improvement": Kind.AREA_FOR_IMPROVEMENT,
    "cause of concern": Kind.CAUSE_OF_CONCERN,
}
_FINDING = re.compile(
    r"^(recommendation|area\s+for\s+improvement|cause\s+of\s+concern)\s+"
    r"(\d{1,3}(?:\.\d{1,2})?)\s*:\s*(.+)$",
    re.IGNORECASE | re.DOTALL,
)
_ADDRESSEE = re.compile(r"\s*\(for ([^()]{1,200})\)\s*$")


def _paragraph_texts(content: bytes) -> Iterator[str]:
    document = Document(io.BytesIO(content))
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    yield paragraph.text


def findings_in_draft(content: bytes) -> list[Finding] | None:
    """The findings the draft lists, in order; None when the file cannot be read as Word."""
    try:
        texts = list(_paragraph_texts(content))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        log.warning("the draft could not be read as a Word document: %s", type(exc).__name__)
        return None
    found: list[Finding] = []
    for raw in texts:
        match = _FINDING.match(" ".join(raw.split()))
        if match is None:
            continue
        label = " ".join(match.group(1).lower().split())
        text = match.group(3).strip()
        addressee = ""
        tail = _ADDRESSEE.search(text)
        if tail is not None:
            addressee = tail.group(1).strip()
            text = text[: tail.start()].strip()
        if text:
            found.append(
                Finding(kind=_LABELS[label], number=match.group(2), text=text, addressee=addressee)
            )
    return found
