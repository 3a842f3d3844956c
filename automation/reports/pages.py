"""What an HMICFRS page says: landing page details, and the findings of an HTML report.

A landing page (``/publications/<slug>/``) may tell us what the feed does not: publication
types, police forces, how many recommendations and areas for improvement the report makes,
and the links to the full report (the ``/publication-html/`` version, a ``/peel-reports/``
page, the PDF on the assets host). A full HTML report gives the findings themselves
(`automation.reports.findings`). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import SplitResult, urljoin, urlsplit

from automation.domain.forces import NOT_APPLICABLE, force_for_label, is_not_applicable
from automation.domain.publications import clean_text
from automation.reports.findings import Block, Findings, read_findings

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_NUMBER_WORDS["no"] = 0
_COUNT = r"(\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"

_PUBLISHED = re.compile(
    r"\bPublished(?:\s+on)?\s*:?\s*(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+(\d{4})\b",
    re.IGNORECASE,
)
_REC_COUNT = re.compile(
    rf"\b(?:made|makes?)\s+{_COUNT}\s+(?:new\s+|further\s+)?recommendations?\b", re.IGNORECASE
)
_REC_NONE = re.compile(
    r"\b(?:not|n't)\s+made\s+any\s+recommendations\b|\bthere\s+are\s+no\s+recommendations\b",
    re.IGNORECASE,
)
_AFI_COUNT = re.compile(
    rf"\b{_COUNT}\s+(?:new\s+|further\s+)?areas?\s+for\s+improvement\b", re.IGNORECASE
)
_AFI_NONE = re.compile(
    r"\b(?:not|n't)\s+(?:identified|found|made)\s+any\s+areas\s+for\s+improvement\b"
    r"|\bthere\s+are\s+no\s+areas\s+for\s+improvement\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*(Publication\s+types?|Police\s+forces?)\s*:\s*(.*)$", re.IGNORECASE)
_ANY_LABEL = re.compile(r"^\s*[A-Z][A-Za-z ()/&-]{1,40}:")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportDetails:
    """What a report page says about the publication.

    ``recommendations`` and ``areas_for_improvement`` are the texts of ``findings`` (which
    keep the report's numbers and addressees); ``report_links`` are the full report's
    addresses the page links to, the HTML version first, the PDF last.
    """

    published_on: date | None
    types: tuple[str, ...]
    forces: tuple[str, ...]
    pdf_url: str
    recommendation_count: int | None
    afi_count: int | None
    recommendations: tuple[str, ...]
    areas_for_improvement: tuple[str, ...]
    findings: Findings = field(default_factory=Findings)
    report_links: tuple[str, ...] = ()


def texts(findings: Findings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The text of each kept recommendation and each area for improvement."""
    return (
        tuple(f.text for f in findings.recommendations),
        tuple(f.text for f in findings.areas_for_improvement),
    )


@dataclass(slots=True)
class _Block:
    """A run of text between block-level tags."""

    kind: str  # "heading", "item" or "text"
    level: int  # heading level; 0 otherwise
    text: str
    anchors: list[tuple[str, str]]
    item_id: int  # the enclosing <li>, or 0


class _PageReader(HTMLParser):
    """Turns a page into blocks of text, remembering headings, list items and links."""

    _SKIP = frozenset({"script", "style", "template", "noscript", "svg", "iframe", "object"})
    _BLOCKS = frozenset(
        {
            "p",
            "div",
            "section",
            "article",
            "main",
            "header",
            "footer",
            "aside",
            "nav",
            "ul",
            "ol",
            "li",
            "dl",
            "dt",
            "dd",
            "table",
            "tr",
            "td",
            "th",
            "br",
            "hr",
            "blockquote",
            "figure",
            "figcaption",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
        }
    )
    _VOID = frozenset({"br", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self.links: list[str] = []
        self._stack: list[str] = []
        self._item_ids: list[int] = []
        self._next_item = 0
        self._skip = 0
        self._text: list[str] = []
        self._anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._anchor_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "a":
            self._href = next((v or "" for k, v in attrs if k == "href"), "")
            self._anchor_text = []
            if self._href:
                self.links.append(self._href)
            return
        if tag in self._BLOCKS:
            self._flush()
            if tag in self._VOID:
                return
            self._stack.append(tag)
            if tag == "li":
                self._next_item += 1
                self._item_ids.append(self._next_item)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS and not self._skip:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip:
            return
        if tag == "a":
            if self._href is not None:
                text = " ".join("".join(self._anchor_text).split())
                if text:
                    self._anchors.append((text, self._href))
            self._href = None
            return
        if tag in self._BLOCKS and tag not in self._VOID and tag in self._stack:
            self._flush()
            while self._stack:
                closed = self._stack.pop()
                if closed == "li" and self._item_ids:
                    self._item_ids.pop()
                if closed == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._text.append(data)
        if self._href is not None:
            self._anchor_text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        anchors = self._anchors
        self._text = []
        self._anchors = []
        if not text:
            return
        heading = next((t for t in reversed(self._stack) if re.fullmatch(r"h[1-6]", t)), "")
        if heading:
            kind, level = "heading", int(heading[1])
        elif self._item_ids:
            kind, level = "item", 0
        else:
            kind, level = "text", 0
        item_id = self._item_ids[-1] if self._item_ids else 0
        self.blocks.append(
            _Block(kind=kind, level=level, text=text, anchors=anchors, item_id=item_id)
        )


def page_blocks(html: str) -> tuple[list[_Block], list[str]]:
    """The page's text blocks and the addresses it links to."""
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    return reader.blocks, reader.links


def finding_blocks(blocks: Sequence[_Block]) -> list[Block]:
    """The page's blocks as the findings reader takes them."""
    return [Block(kind=b.kind, level=b.level, text=b.text, item_id=b.item_id) for b in blocks]


def parse_report_page(html: str, base_url: str) -> ReportDetails:
    """Read the details a report landing page (or HTML report) gives. Pure: no I/O."""
    blocks, links = page_blocks(html)
    full_text = "\n".join(b.text for b in blocks)
    findings = read_findings(finding_blocks(blocks))
    recommendations, areas = texts(findings)
    pdf = _pdf_link(links, base_url)
    return ReportDetails(
        published_on=_published_on(full_text),
        types=_labelled(blocks, "publication type"),
        forces=_forces(_labelled(blocks, "police force")),
        pdf_url=pdf,
        recommendation_count=_count(
            full_text,
            _REC_COUNT,
            _REC_NONE,
            len(findings.recommendations) + findings.recommendations_left_out,
        ),
        afi_count=_count(full_text, _AFI_COUNT, _AFI_NONE, len(areas)),
        recommendations=recommendations,
        areas_for_improvement=areas,
        findings=findings,
        report_links=(*_report_pages(links, base_url), *([pdf] if pdf else [])),
    )


def parse_count(text: str) -> int | None:
    """How many recommendations a report's text says it makes, if it says."""
    return _count(text, _REC_COUNT, _REC_NONE, 0)


def _report_pages(links: Sequence[str], base_url: str) -> list[str]:
    """Links to the HTML version of the report or to a PEEL report page (not this page)."""
    here = urlsplit(base_url)._replace(fragment="").geturl().rstrip("/")
    on_peel_page = "/peel-reports/" in urlsplit(base_url).path
    pages: list[str] = []
    for _absolute, parts in _web_links(links, base_url):
        page = parts._replace(fragment="").geturl()
        if page.rstrip("/") == here or page in pages:
            continue
        if re.search(r"/publication-html/[^/]+", parts.path) or (
            # A PEEL page links to other forces' and earlier PEEL pages: never follow those.
            not on_peel_page and re.search(r"/peel-reports/[^/]+", parts.path)
        ):
            pages.append(page)
    # The HTML version of the report first: it has the recommendations as text.
    return sorted(pages, key=lambda url: "/publication-html/" not in url)


def _published_on(text: str) -> date | None:
    match = _PUBLISHED.search(text)
    if match is None:
        return None
    month = _MONTHS.get(match.group(2).lower())
    if month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


def _labelled(blocks: Sequence[_Block], label: str) -> tuple[str, ...]:
    """Values after a "Publication type(s):" or "Police force(s):" label."""
    for index, block in enumerate(blocks):
        match = _LABEL.match(block.text)
        if match is None or not " ".join(match.group(1).lower().split()).startswith(label):
            continue
        values: list[str] = []
        if match.group(2).strip():
            values = _values_of(block, match.group(2))
        else:
            for following in blocks[index + 1 : index + 31]:
                if (
                    following.kind == "heading"
                    or _ANY_LABEL.match(following.text)
                    or len(following.text) > 150
                ):
                    break
                values.extend(_values_of(following, following.text))
        cleaned = (clean_text(v, 200) for v in values)
        return tuple(dict.fromkeys(v for v in cleaned if v))
    return ()


def _values_of(block: _Block, text: str) -> list[str]:
    if block.anchors:
        return [anchor_text for anchor_text, _ in block.anchors]
    return [part for part in re.split(r"\s*[,;|]\s*", text) if part.strip()]


def _forces(values: Sequence[str]) -> tuple[str, ...]:
    if not values:
        return ()
    named: list[str] = []
    for value in values:
        if is_not_applicable(value):
            continue
        force = force_for_label(value)
        named.append(force.name if force is not None else value)
    if not named:
        return (NOT_APPLICABLE,)
    return tuple(dict.fromkeys(named))


def _count(text: str, count: re.Pattern[str], none: re.Pattern[str], found: int) -> int | None:
    match = count.search(text)
    if match is not None:
        word = match.group(1).lower()
        return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    if none.search(text):
        return 0
    return found or None


def _web_links(links: Sequence[str], base_url: str) -> Iterator[tuple[str, SplitResult]]:
    """Each link made absolute, with its parts, when it is an http(s) address with a host."""
    for href in links:
        try:
            absolute = urljoin(base_url, href.strip())
            parts = urlsplit(absolute)
        except ValueError:
            continue
        if parts.scheme in {"http", "https"} and parts.netloc:
            yield absolute, parts


def _pdf_link(links: Sequence[str], base_url: str) -> str:
    """The report PDF: a link to an uploaded .pdf, preferring the HMICFRS assets host."""
    candidates: list[str] = []
    for absolute, parts in _web_links(links, base_url):
        if parts.path.lower().endswith(".pdf") and "/uploads/" in parts.path:
            candidates.append(absolute)
    for candidate in candidates:
        if (urlsplit(candidate).hostname or "").startswith("assets-hmicfrs."):
            return candidate
    return candidates[0] if candidates else ""
