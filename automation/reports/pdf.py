"""The text of a report PDF as blocks the findings reader takes (pypdf).

HMICFRS report PDFs (``assets-hmicfrs.justiceinspectorates.gov.uk/uploads/*.pdf``) are
typeset documents: text extraction gives lines, not paragraphs. Assumed about them (the
fixture in ``tests/fixtures/report_pdf.py`` builds one with these facts):

- section headings are short lines of their own without a final full stop
  ("Recommendations", "Recommendations for chief constables", "Areas for improvement");
- a finding's marker starts a line ("Recommendation 19", "Recommendation 19: The ...");
- a paragraph ends with a line ending in a full stop (or colon) when the next line starts
  with a capital letter, a marker or a bullet;
- page numbers and running headers are short lines of their own (dropped or read as
  headings, which only end a finding early).
"""

from __future__ import annotations

import io
import logging
import re

from automation.reports.findings import Block

logger = logging.getLogger(__name__)

MAX_PAGES = 400
"""Pages read at most: findings are listed near the front of a report."""

_HEADING = re.compile(
    r"^(?:(?:a\s+)?summary\s+of\s+|our\s+|list\s+of\s+)?"
    r"(?:recommendations?|areas?\s+for\s+improvement|causes?\s+of\s+concern)"
    r"(?:\s+(?:for|to)\s+[^.]{2,100})?$"
    r"|^\d{1,2}\.?\s+[A-Z][A-Za-z,'\u2019 -]{2,60}$"
    r"|^(?:introduction|contents|foreword|summary|conclusions?|annex\b.*|appendix\b.*"
    r"|about\s+(?:this|the)\s+(?:inspection|data|report)|methodology|background)$",
    re.I,
)
_MARKER = re.compile(
    r"^(?:Recommendation|Area\s+for\s+improvement|Cause\s+of\s+concern)"
    r"(?:\s+\d{1,3}(?:\.\d+)?\b|\s*$)",
    re.I,
)
_BULLET = re.compile(r"^[\u2022\u25aa\u2013\-*\u25cf]\s*")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s+of\s+\d{1,4})?$", re.I)


def pdf_text(data: bytes, *, max_pages: int = MAX_PAGES) -> str:
    """The text of the first ``max_pages`` pages, page by page.

    Raises:
        ValueError: the bytes are not a readable PDF.
    """
    # Imported here: pypdf costs a long-running service about 25 MB that only a pass with a
    # PDF report to read needs.
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages[:max_pages]]
    except Exception as exc:  # pypdf raises many types for a damaged file
        raise ValueError(f"not a readable PDF ({type(exc).__name__})") from exc
    return "\n".join(pages)


def _continues(previous: str) -> bool:
    """Whether a line ending so is followed by more of the same sentence."""
    return previous.endswith((",", ";", "-", "and", "or", "the", "of", "to", "for"))


def text_blocks(text: str) -> list[Block]:
    """Lines joined into paragraphs; headings, markers and bullets start blocks of their own."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    item = 0

    def flush(kind: str = "text") -> None:
        nonlocal paragraph
        joined = " ".join(" ".join(paragraph).split())
        paragraph = []
        if joined:
            item_id = item if kind == "item" else 0
            blocks.append(Block(kind=kind, level=0, text=joined, item_id=item_id))

    kind = "text"
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or _PAGE_NUMBER.match(line):
            continue
        if _MARKER.match(line):
            flush(kind)
            kind = "text"
            if re.fullmatch(r"(?i)area\s+for\s+improvement|cause\s+of\s+concern", line):
                blocks.append(Block(kind="heading", level=3, text=line))
            else:
                paragraph.append(line)
            continue
        if _BULLET.match(line):
            flush(kind)
            item += 1
            kind = "item"
            paragraph.append(_BULLET.sub("", line))
            continue
        if (
            line[:1].isupper()
            and _HEADING.match(line)
            and not line.endswith((".", ":", ","))
            and (not paragraph or not _continues(paragraph[-1]))
        ):
            flush(kind)
            kind = "text"
            blocks.append(Block(kind="heading", level=2, text=line))
            continue
        if paragraph and paragraph[-1].endswith((".", ":", ".\u201d", ".'")) and line[:1].isupper():
            flush(kind)
            kind = "text"
        paragraph.append(line)
    flush(kind)
    return blocks
