"""The template's fixed wording: prompts, their character style, and the office-use boxes.

Prompts are what staff must replace before a response is approved. Each is a bracketed text
carrying the character style :data:`PROMPT_STYLE` (highlighted yellow) in the template;
:data:`PROMPTS` lists them all, so a check before approval can find any left in a draft by
style or by text. The office-use checklist is a set of Word check boxes (``w14:checkbox``
content controls) tagged with the tracker columns they stand for; `tick_office_use` ticks
them when the service ticks the tracker.
"""

from __future__ import annotations

import gc
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import docx
from docx.oxml.ns import qn

PROMPT_STYLE = "S55 Prompt"
"""The character style of every prompt (its style id in the package is ``S55Prompt``)."""

KEY_FINDINGS_PROMPT = (
    "[To be completed: a summary of the report's key findings, taken from the report.]"
)
RECOMMENDATION_RESPONSE_PROMPT = (
    "[To be completed: the response to this recommendation: what action has been or will be "
    "taken, or why none is to be taken.]"
)
AFI_RESPONSE_PROMPT = (
    "[To be completed: the response to this area for improvement: what is being done about it.]"
)
CONCERN_RESPONSE_PROMPT = (
    "[To be completed: the response to this cause of concern: what is being done about it.]"
)
RECOMMENDATIONS_PROMPT = (
    "[To be completed: the recommendations could not be read from the report. Copy each one "
    "here with the report's own number (for example \u201cRecommendation 19: \u2026\u201d) and "
    "respond under it.]"
)
AFI_PROMPT = (
    "[To be completed: the areas for improvement could not be read from the report. Copy "
    "each one here as the report numbers it and respond under it.]"
)
CC_COMMENTS_PROMPT = (
    "[To be completed: the Chief Constable's comments on the report, as received, or a note "
    "that none were made.]"
)
CC_COMMENTS_PROMPT_FIRE = (
    "[To be completed: the Chief Fire Officer's comments on the report, as received, or a "
    "note that none were made.]"
)
RESPONSE_PROMPT = (
    "[To be completed: the Commissioner's overall response to the report and to the chief "
    "officer's comments.]"
)
PROMPTS: tuple[str, ...] = (
    KEY_FINDINGS_PROMPT,
    RECOMMENDATION_RESPONSE_PROMPT,
    AFI_RESPONSE_PROMPT,
    CONCERN_RESPONSE_PROMPT,
    RECOMMENDATIONS_PROMPT,
    AFI_PROMPT,
    CC_COMMENTS_PROMPT,
    CC_COMMENTS_PROMPT_FIRE,
    RESPONSE_PROMPT,
)
"""Every prompt text the shipped template can put in a draft."""

OFFICE_USE_TAG_PREFIX = "s55-office:"
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_CHECKED = "\u2612"


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficeUseItem:
    """One line of the "For Office Use Only" checklist.

    Attributes:
        columns: the tracker's yes/no columns the line stands for; its box is ticked when
            all of them are ticked.
        text: the line as a police office's draft shows it (also the box's title in Word).
        template_text: the line in the template (Jinja: the chief officer and panel vary).
    """

    columns: tuple[str, ...]
    text: str
    template_text: str


OFFICE_USE: tuple[OfficeUseItem, ...] = (
    OfficeUseItem(
        columns=("ForwardedToHMICFRS", "SubmittedToHMICFRSPortal"),
        text="Forwarded to HMICFRS Section 55 Responses and submitted onto the HMICFRS portal",
        template_text=(
            "{% if fire %}Forwarded to HMICFRS{% else %}Forwarded to HMICFRS Section 55 "
            "Responses{% endif %} and submitted onto the HMICFRS portal"
        ),
    ),
    OfficeUseItem(
        columns=("ForwardedToChiefConstable",),
        text="Forwarded to Chief Constable",
        template_text="Forwarded to {{ chief_officer }}",
    ),
    OfficeUseItem(
        columns=("ForwardedToPanel",),
        text="Forwarded to Police and Crime Panel",
        template_text="Forwarded to {{ panel }}",
    ),
    OfficeUseItem(
        columns=("PublishedOnWebsite",),
        text="Published on OPCC website",
        template_text="Published on OPCC website",
    ),
)


def office_use_tag(columns: Iterable[str]) -> str:
    """The check box's tag: ``s55-office:`` and its tracker columns joined by "+"."""
    return OFFICE_USE_TAG_PREFIX + "+".join(columns)


def open_document(content: bytes) -> Any:
    """A python-docx Document of ``content``.

    Raises:
        ValueError: ``content`` is not a Word document.
    """
    try:
        return docx.Document(io.BytesIO(content))
    except Exception as exc:  # python-docx raises zip, XML and key errors for a bad package
        raise ValueError(f"not a Word document ({type(exc).__name__})") from exc


def document_bytes(document: Any) -> bytes:
    """``document`` saved as .docx bytes (its memory freed: see `drafts.build_draft`)."""
    out = io.BytesIO()
    document.save(out)
    del document
    gc.collect()  # python-docx keeps each document's XML in cycles
    return out.getvalue()


def tick_office_use(content: bytes, ticked: set[str]) -> bytes:
    """The draft with the office-use check boxes of ``ticked`` tracker columns ticked.

    ``ticked`` holds tracker column names ("ForwardedToChiefConstable", ...). A box is
    ticked when every column it stands for is in ``ticked``; other boxes are left as they
    are (a box staff ticked by hand stays ticked). Boxes are found by their tag, so staff
    may move or reword the lines.

    Raises:
        ValueError: ``content`` is not a Word document.
    """
    document = open_document(content)
    for sdt in document.element.body.iter(qn("w:sdt")):
        tag = sdt.find(f"{qn('w:sdtPr')}/{qn('w:tag')}")
        value = "" if tag is None else str(tag.get(qn("w:val")) or "")
        if not value.startswith(OFFICE_USE_TAG_PREFIX):
            continue
        columns = set(value.removeprefix(OFFICE_USE_TAG_PREFIX).split("+"))
        checked = sdt.find(f"{qn('w:sdtPr')}/{{{_W14}}}checkbox/{{{_W14}}}checked")
        if not columns <= ticked or checked is None:
            continue
        checked.set(f"{{{_W14}}}val", "1")
        for text in sdt.iter(qn("w:t")):
            text.text = _CHECKED
    return document_bytes(document)
