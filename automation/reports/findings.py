"""Recommendations, areas for improvement and causes of concern, read from a report's text.

The input is a list of text blocks (headings, paragraphs, list items) from an HTML report
page (`automation.reports.pages`) or from a PDF (`automation.reports.pdf`). What is assumed
about HMICFRS reports (each point is exercised by a fixture in ``tests/fixtures``):

- a numbered finding starts a block with its marker and number: "Recommendation 19",
  "Recommendation 19: The senior ...", "Area for improvement 3 - ...";
- PEEL pages give areas for improvement and causes of concern as a bare heading ("Area for
  improvement") followed by one paragraph, without a number;
- reports that address recommendations to several bodies group them under headings such as
  "Recommendations for chief constables" or "Recommendation for HM Prison and Probation
  Service"; otherwise the sentence itself names who "should" act;
- a finding is one paragraph, or a paragraph ending with ":" and the list that follows;
- the same number seen again (a summary list, then the chapter) is the same finding: the
  first wording is kept.

Only recommendations that the report addresses to other bodies (a grouping heading, or a
sentence naming only known non-policing bodies) are left out of the draft; one whose
addressee cannot be told is kept, so nothing is dropped on a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from automation.domain.publications import Finding, clean_text

ITEM_MAX = 4000
ADDRESSEE_MAX = 120


class Kind(StrEnum):
    """What a finding is."""

    RECOMMENDATION = "recommendation"
    AREA_FOR_IMPROVEMENT = "area_for_improvement"
    CAUSE_OF_CONCERN = "cause_of_concern"


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A run of text between block-level tags (or a paragraph of a PDF).

    Attributes:
        kind: "heading", "item" (inside a list) or "text".
        level: heading level (1-6); 0 otherwise.
        text: the text, whitespace collapsed.
        item_id: the enclosing list item, or 0.
    """

    kind: str
    level: int
    text: str
    item_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Findings:
    """What a report's text says it finds."""

    recommendations: tuple[Finding, ...] = ()
    recommendations_left_out: int = 0
    areas_for_improvement: tuple[Finding, ...] = ()
    causes_of_concern: tuple[Finding, ...] = ()

    @property
    def numbered(self) -> bool:
        """Whether any recommendation or area for improvement carries the report's number."""
        return any(f.number for f in (*self.recommendations, *self.areas_for_improvement))

    @property
    def empty(self) -> bool:
        """Nothing was found."""
        return not (
            self.recommendations
            or self.recommendations_left_out
            or self.areas_for_improvement
            or self.causes_of_concern
        )


_NUMBER = r"(\d{1,3}(?:\.\d{1,2})?)"
_TAIL = r"\b\s*[:.\-\u2013\u2014]?\s*(.*)$"
_MARKERS: dict[Kind, re.Pattern[str]] = {
    Kind.RECOMMENDATION: re.compile(rf"^Recommendation\s+{_NUMBER}{_TAIL}", re.I | re.S),
    Kind.AREA_FOR_IMPROVEMENT: re.compile(
        rf"^Area\s+for\s+improvement\s+{_NUMBER}{_TAIL}", re.I | re.S
    ),
    Kind.CAUSE_OF_CONCERN: re.compile(rf"^Cause\s+of\s+concern\s+{_NUMBER}{_TAIL}", re.I | re.S),
}
# A bare heading that introduces one unnumbered finding (PEEL pages).
_BARE: dict[Kind, re.Pattern[str]] = {
    Kind.AREA_FOR_IMPROVEMENT: re.compile(r"^Area\s+for\s+improvement\s*:?$", re.I),
    Kind.CAUSE_OF_CONCERN: re.compile(r"^Cause\s+of\s+concern\s*:?$", re.I),
}
# A heading that opens a section of findings, maybe naming who they are for.
_SECTIONS: dict[Kind, re.Pattern[str]] = {
    Kind.RECOMMENDATION: re.compile(
        r"^(?:(?:a\s+)?summary\s+of\s+|our\s+|the\s+|list\s+of\s+)?recommendations?\b"
        r"(?:\s+(?:for|to)\s+(?P<who>.+))?$",
        re.I,
    ),
    Kind.AREA_FOR_IMPROVEMENT: re.compile(
        r"^(?:(?:a\s+)?summary\s+of\s+|our\s+|the\s+)?areas?\s+for\s+improvement\b", re.I
    ),
    Kind.CAUSE_OF_CONCERN: re.compile(
        r"^(?:(?:a\s+)?summary\s+of\s+|our\s+|the\s+)?causes?\s+of\s+concern\b", re.I
    ),
}
_FOR_HEADING = re.compile(r"^(?:recommendations?\s+)?for\s+(?P<who>.+)$", re.I)
_LEAD_IN = re.compile(
    r"^(?:by|before|within|from|no later than|in|over)\b[^,]{0,60},\s*|^immediately,\s*", re.I
)
_SHOULD = re.compile(r"^(?P<who>.{3,160}?)\s+(?:should|must|needs? to|is to|are to)\b", re.I)

_POLICING = re.compile(
    r"\bchief\s+constables?\b|\bchief\s+officers?\b|\bcommissioners?\b|\bPCCs?\b"
    r"|\blocal\s+policing\s+bod(?:y|ies)\b|\bforces?\b|\bconstabular(?:y|ies)\b"
    r"|\bcounter[- ]terrorism\s+policing\b|\bsenior\s+national\s+co-?ordinator\b"
    r"|\bpolicing\b|\bpolice\b",
    re.I,
)
# Bodies that are not the chief constable or the local policing body (checked first, and
# taken out of the text, so "College of Policing" does not count as policing).
_OTHER_BODIES = re.compile(
    r"\bthe\s+home\s+(?:office|secretary)\b|\bhome\s+(?:office|secretary)\b"
    r"|\bcollege\s+of\s+policing\b|\bnational\s+police\s+chiefs['\u2019]?\s+council\b|\bNPCC\b"
    r"|\bHM\s+prison\s+and\s+probation\s+service\b|\bHMPPS\b|\bministry\s+of\s+justice\b"
    r"|\bMoJ\b|\bprobation\s+service\b|\bHM\s+prison\s+service\b|\bcrown\s+prosecution\s+"
    r"service\b|\bCPS\b|\bindependent\s+office\s+for\s+police\s+conduct\b|\bIOPC\b"
    r"|\bnational\s+crime\s+agency\b|\bNCA\b|\b(?:the\s+)?government\b|\bdepartment\s+for\s+\w+"
    r"|\blocal\s+authorities\b|\bNHS\b|\bHM\s+courts\s+and\s+tribunals\s+service\b",
    re.I,
)


def addressed_to_policing(addressee: str) -> bool | None:
    """True for chief constables, commissioners, forces or counter-terrorism policing; False
    when only other bodies are named; None when it cannot be told (the finding is kept)."""
    if not addressee.strip():
        return None
    others = _OTHER_BODIES.search(addressee)
    rest = _OTHER_BODIES.sub(" ", addressee)
    if _POLICING.search(rest):
        return True
    return False if others else None


def _subject(text: str) -> str:
    """Who the sentence says should act: "By March 2024, chief constables should ..."."""
    sentence = _LEAD_IN.sub("", text.strip(), count=1)
    match = _SHOULD.match(sentence)
    if match is None:
        return ""
    return clean_text(match.group("who"), ADDRESSEE_MAX)


@dataclass(slots=True)
class _Open:
    """A finding being read."""

    kind: Kind
    number: str
    addressee: str
    parts: list[str] = field(default_factory=list)
    bare: bool = False
    closed: bool = False

    def add(self, text: str) -> None:
        if self.closed:
            return
        if self.parts and not self.parts[-1].rstrip().endswith(":"):
            # One paragraph per finding, or a lead-in ending ":" and its list.
            self.closed = True
            return
        self.parts.append(text)
        if self.bare and not text.rstrip().endswith(":"):
            self.closed = True


@dataclass(slots=True)
class _Scan:
    """The reader's state over the blocks."""

    found: dict[Kind, list[_Open]] = field(default_factory=lambda: {k: [] for k in Kind})
    section: Kind | None = None
    section_level: int = 0
    section_for: str = ""
    section_marked: bool = False
    current: _Open | None = None
    list_item: int = 0
    lead_in: str = ""

    def start(self, kind: Kind, number: str, rest: str, *, bare: bool = False) -> None:
        seen = {f.number for f in self.found[kind] if f.number}
        if number and number in seen:
            self.current = None  # the same finding again (summary, then chapter)
            return
        addressee = self.section_for if self.section == kind else ""
        self.current = _Open(kind=kind, number=number, addressee=addressee, bare=bare)
        if self.section == kind:
            self.section_marked = True
        self.found[kind].append(self.current)
        if rest.strip():
            self.current.add(rest)

    def heading(self, block: Block) -> None:
        text = block.text.strip().rstrip(":").strip()
        self.current = None
        for kind, bare in _BARE.items():
            if bare.match(text):
                self.start(kind, "", "", bare=True)
                return
        for kind, pattern in _SECTIONS.items():
            match = pattern.match(text)
            if match is not None:
                if self.section == kind and block.level > self.section_level:
                    self.section_for = _who(match)  # a sub-heading naming the addressee
                else:
                    self.section, self.section_level = kind, block.level
                    self.section_for, self.section_marked = _who(match), False
                    self.lead_in = ""
                return
        sub = _FOR_HEADING.match(text)
        if self.section is not None and sub is not None and block.level > self.section_level:
            self.section_for = clean_text(sub.group("who"), ADDRESSEE_MAX)
            return
        if self.section is not None and block.level <= self.section_level:
            self.section, self.section_for = None, ""

    def text(self, block: Block) -> None:
        for kind, marker in _MARKERS.items():
            match = marker.match(block.text)
            if match is not None:
                self.start(kind, match.group(1), match.group(2))
                return
        if self.current is not None and not self.current.closed:
            self.current.add(block.text)
            return
        if self.section is None or self.section_marked:
            return
        if block.kind != "item":
            # "Within three months, the force should:" introduces the list that follows.
            self.lead_in = block.text if block.text.rstrip().endswith(":") else ""
            return
        # A plain list under a "Recommendations" heading: one unnumbered finding each.
        if block.item_id != self.list_item:
            self.list_item = block.item_id
            opened = _Open(kind=self.section, number="", addressee=self.section_for)
            if self.lead_in:
                opened.parts.append(self.lead_in)
            self.found[self.section].append(opened)
        self.found[self.section][-1].parts.append(block.text)


def _who(match: re.Match[str]) -> str:
    who = match.groupdict().get("who") or ""
    return clean_text(who, ADDRESSEE_MAX) if who else ""


def read_findings(blocks: Sequence[Block]) -> Findings:
    """The report's findings, with its own numbers; recommendations for others left out."""
    scan = _Scan()
    for block in blocks:
        if block.kind == "heading" and not any(m.match(block.text) for m in _MARKERS.values()):
            scan.heading(block)
        else:
            scan.text(block)
    kept: list[Finding] = []
    left_out = 0
    for finding in _finished(scan.found[Kind.RECOMMENDATION]):
        heading_for = finding.addressee
        who = heading_for or _subject(finding.text)
        verdict = addressed_to_policing(who)
        if verdict is False:
            left_out += 1
            continue
        kept.append(Finding(number=finding.number, text=finding.text, addressee=who))
    return Findings(
        recommendations=tuple(kept),
        recommendations_left_out=left_out,
        areas_for_improvement=_finished(scan.found[Kind.AREA_FOR_IMPROVEMENT]),
        causes_of_concern=_finished(scan.found[Kind.CAUSE_OF_CONCERN]),
    )


def _finished(items: Sequence[_Open]) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for item in items:
        text = clean_text(" ".join(item.parts), ITEM_MAX)
        if text:
            out.append(Finding(number=item.number, text=text, addressee=item.addressee))
    return tuple(out)
