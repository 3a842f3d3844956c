"""Prompts in a Word draft: what is left unfinished (the approval gate's check), and filling them.

A draft is finished when none of the template's own prompts is left and every finding the
draft lists has a response under it. Prompts are found two ways, never guessed:

- runs carrying the character style :data:`~automation.documents.wording.PROMPT_STYLE`
  (highlighted in the template): text typed over a prompt in Word keeps that style, so it
  would be published highlighted; the officer clears the formatting;
- paragraphs containing one of the template's prompt texts
  (:data:`~automation.documents.wording.PROMPTS`), whatever their style.

A listed finding is a paragraph that starts as the template writes one ("Recommendation 19:",
"Area for Improvement 2:", "Cause of Concern 1:"); its response is the next paragraph with
text, which must not be another finding, a heading, or a prompt.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from docx.oxml.ns import qn

from automation.documents.wording import PROMPT_STYLE, PROMPTS, document_bytes, open_document
from automation.domain.text import shorten

__all__ = ["DraftCheck", "fill_prompts", "inspect_draft"]

_FINDING = re.compile(
    r"^\s*(Recommendation|Area for Improvement|Cause of Concern)\s+[^\s:]{1,12}\s*:",
    re.IGNORECASE,
)
_QUOTE_MAX = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftCheck:
    """What is unfinished in a draft (all empty: the draft may be approved).

    Attributes:
        prompts: the prompt texts still in the draft (shortened), in document order, but
            for those in a finding's response slot (that finding is in ``unanswered``).
        styled: text still carrying the prompt style (shortened), prompts aside.
        unanswered: the findings with no response under them ("Recommendation 2").
    """

    prompts: tuple[str, ...] = ()
    styled: tuple[str, ...] = ()
    unanswered: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        """Whether nothing is left to complete."""
        return not (self.prompts or self.styled or self.unanswered)

    def problems(self) -> list[str]:
        """One short clause per kind of problem, for the tracker's one-line note."""
        out = []
        if self.unanswered:
            out.append(f"no response under {', '.join(self.unanswered)}")
        if self.prompts:
            count = len(self.prompts)
            noun = "prompt" if count == 1 else "prompts"
            other = " other" if self.unanswered else ""
            out.append(f"{count}{other} template {noun} left (first: {self.prompts[0]})")
        if self.styled:
            out.append(
                f"text still in the highlighted '{PROMPT_STYLE}' style ({self.styled[0]}): "
                "select it and clear the formatting"
            )
        return out


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    heading: bool
    styled: str


def _prompt_style_ids(document: Any) -> set[str]:
    """The style ids of the prompt character style (by its name, as the template sets it)."""
    ids = set()
    for element in document.styles.element.iter(qn("w:style")):
        name = element.find(qn("w:name"))
        if name is not None and str(name.get(qn("w:val")) or "") == PROMPT_STYLE:
            ids.add(str(element.get(qn("w:styleId")) or ""))
    return ids - {""}


def _paragraphs(document: Any, prompt_ids: set[str]) -> Iterator[_Paragraph]:
    """Every paragraph of the body (tables included) in order, with its prompt-styled text."""
    heading_ids = {
        str(style.style_id)
        for style in document.styles
        if str(getattr(style, "name", "") or "").lower().startswith(("heading", "title"))
    }
    for paragraph in document.element.body.iter(qn("w:p")):
        texts: list[str] = []
        styled: list[str] = []
        for run in paragraph.iter(qn("w:r")):
            text = "".join(t.text or "" for t in run.iter(qn("w:t")))
            texts.append(text)
            style = run.find(f"{qn('w:rPr')}/{qn('w:rStyle')}")
            if style is not None and str(style.get(qn("w:val")) or "") in prompt_ids:
                styled.append(text)
        style = paragraph.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
        style_id = "" if style is None else str(style.get(qn("w:val")) or "")
        yield _Paragraph(
            text="".join(texts).strip(),
            heading=style_id in heading_ids,
            styled="".join(styled).strip(),
        )


def _quote(text: str) -> str:
    return f"\u201c{shorten(text, _QUOTE_MAX)}\u201d"


def _label(text: str) -> str:
    """``Recommendation 19`` from ``Recommendation 19: The senior ...``."""
    return text.split(":", 1)[0].strip()


def inspect_draft(content: bytes) -> DraftCheck:
    """What is unfinished in the Word document ``content`` (see the module docstring).

    Raises:
        ValueError: ``content`` is not a Word document.
    """
    document = open_document(content)
    try:
        paragraphs = [p for p in _paragraphs(document, _prompt_style_ids(document)) if p.text]
    finally:
        del document
        gc.collect()  # python-docx keeps each document's XML in cycles (see drafts.build_draft)
    prompts: list[str] = []
    styled: list[str] = []
    unanswered: list[str] = []
    answered_by_prompt = False  # the paragraph before was a finding whose slot holds a prompt
    for index, paragraph in enumerate(paragraphs):
        found = [prompt for prompt in PROMPTS if prompt in paragraph.text]
        if not answered_by_prompt:
            # A prompt in a finding's response slot is named as that finding, not twice.
            prompts.extend(_quote(prompt) for prompt in found)
        answered_by_prompt = False
        if paragraph.styled and not any(paragraph.styled in prompt for prompt in found):
            styled.append(_quote(paragraph.styled))
        if paragraph.heading or not _FINDING.match(paragraph.text):
            continue
        following = paragraphs[index + 1] if index + 1 < len(paragraphs) else None
        if following is not None and any(prompt in following.text for prompt in PROMPTS):
            answered_by_prompt = True
            unanswered.append(_label(paragraph.text))
        elif following is None or following.heading or _FINDING.match(following.text):
            unanswered.append(_label(paragraph.text))
    return DraftCheck(prompts=tuple(prompts), styled=tuple(styled), unanswered=tuple(unanswered))


def fill_prompts(content: bytes, answer: Callable[[str], str]) -> bytes:
    """The draft with each prompt-styled text replaced by ``answer(text)`` in plain style.

    What an officer does in Word (type over each highlighted prompt, then clear its
    formatting); the demo and the tests use it to write a response.

    Raises:
        ValueError: ``content`` is not a Word document.
    """
    document = open_document(content)
    prompt_ids = _prompt_style_ids(document)
    for paragraph in document.element.body.iter(qn("w:p")):
        runs = []
        for run in paragraph.iter(qn("w:r")):
            style = run.find(f"{qn('w:rPr')}/{qn('w:rStyle')}")
            if style is not None and str(style.get(qn("w:val")) or "") in prompt_ids:
                runs.append((run, style))
        if not runs:
            continue
        text = "".join(t.text or "" for run, _ in runs for t in run.iter(qn("w:t")))
        for position, (run, style) in enumerate(runs):
            style.getparent().remove(style)
            texts = list(run.iter(qn("w:t")))
            for extra in texts[1:]:
                extra.getparent().remove(extra)
            if texts:
                texts[0].text = answer(text.strip()) if position == 0 else ""
    return document_bytes(document)
