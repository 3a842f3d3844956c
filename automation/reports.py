"""Optional enrichment of a publication from its HMICFRS landing page.

The page may tell us what the feed does not: publication types, police forces, the PDF link,
how many recommendations and areas for improvement the report makes, and their text. Only
https pages on allowlisted hosts are read; any failure leaves the publication as it was.

Over 500 lines on purpose: one reader of one page layout. The block model the HTML parser
builds is what every field reader walks (labels, counted sections, the PDF link), and the
allowlisted fetch is its only caller; split, each half would import the other's internals.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from automation.domain.forces import NOT_APPLICABLE, force_for_label, is_not_applicable
from automation.domain.publications import Publication, clean_text
from automation.webfetch import BodyTooLarge, WebFetchError, WebSession, bounded_get, read_bounded

logger = logging.getLogger(__name__)

MAX_DATE_DRIFT_DAYS = 7
"""A page date further than this from the feed date is a re-stamp, not the publication date."""
ITEM_MAX = 4000
_MAX_REDIRECTS = 3

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
    rf"\bmade\s+{_COUNT}\s+(?:new\s+|further\s+)?recommendations?\b", re.IGNORECASE
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
_REC_HEADING = re.compile(r"^(?:our\s+|the\s+)?recommendations?$", re.IGNORECASE)
_AFI_HEADING = re.compile(r"^(?:our\s+|the\s+)?areas?\s+for\s+improvement$", re.IGNORECASE)
_REC_MARKER = re.compile(
    r"^Recommendation\s+(\d{1,3})\b\s*[:.\-\u2013\u2014]?\s*(.*)$", re.I | re.S
)
_AFI_MARKER = re.compile(
    r"^Area\s+for\s+improvement\s+(\d{1,3})\b\s*[:.\-\u2013\u2014]?\s*(.*)$", re.I | re.S
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportDetails:
    """What a report landing page says about the publication."""

    published_on: date | None
    types: tuple[str, ...]
    forces: tuple[str, ...]
    pdf_url: str
    recommendation_count: int | None
    afi_count: int | None
    recommendations: tuple[str, ...]
    areas_for_improvement: tuple[str, ...]


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


def parse_report_page(html: str, base_url: str) -> ReportDetails:
    """Read the details a report landing page (or HTML report) gives. Pure: no I/O."""
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    blocks = reader.blocks
    full_text = "\n".join(b.text for b in blocks)

    types = _labelled(blocks, "publication type")
    forces_raw = _labelled(blocks, "police force")
    recommendations = _section_items(blocks, _REC_HEADING, _REC_MARKER)
    areas = _section_items(blocks, _AFI_HEADING, _AFI_MARKER)
    return ReportDetails(
        published_on=_published_on(full_text),
        types=types,
        forces=_forces(forces_raw),
        pdf_url=_pdf_link(reader.links, base_url),
        recommendation_count=_count(full_text, _REC_COUNT, _REC_NONE, recommendations),
        afi_count=_count(full_text, _AFI_COUNT, _AFI_NONE, areas),
        recommendations=recommendations,
        areas_for_improvement=areas,
    )


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


def _section_items(
    blocks: Sequence[_Block], heading: re.Pattern[str], marker: re.Pattern[str]
) -> tuple[str, ...]:
    """The text of each recommendation (or area for improvement) the page lists."""
    for start, block in enumerate(blocks):
        if block.kind != "heading" or not heading.match(block.text.strip().rstrip(":")):
            continue
        section: list[_Block] = []
        for following in blocks[start + 1 :]:
            if (
                following.kind == "heading"
                and following.level <= block.level
                and not marker.match(following.text)
            ):
                break
            section.append(following)
        items = _marked_items(section, marker) or _list_items(section)
        if items:
            return items
    # No section heading: take "Recommendation N: text" lines wherever they are.
    return tuple(
        clean_text(m.group(2), ITEM_MAX)
        for m in (marker.match(b.text) for b in blocks)
        if m is not None and m.group(2).strip()
    )


def _marked_items(section: Sequence[_Block], marker: re.Pattern[str]) -> tuple[str, ...]:
    items: dict[str, list[str]] = {}
    current: list[str] | None = None
    for block in section:
        match = marker.match(block.text)
        if match is not None:
            number = match.group(1)
            current = None if number in items else items.setdefault(number, [])
            if current is not None and match.group(2).strip():
                current.append(match.group(2))
        elif current is not None and block.kind != "heading":
            current.append(block.text)
    texts = (clean_text(" ".join(parts), ITEM_MAX) for parts in items.values())
    return tuple(t for t in texts if t)


def _list_items(section: Sequence[_Block]) -> tuple[str, ...]:
    merged: dict[int, list[str]] = {}
    for block in section:
        if block.kind == "item" and block.item_id:
            merged.setdefault(block.item_id, []).append(block.text)
    texts = (clean_text(" ".join(parts), ITEM_MAX) for parts in merged.values())
    return tuple(t for t in texts if t)


def _count(
    text: str, count: re.Pattern[str], none: re.Pattern[str], items: Sequence[str]
) -> int | None:
    match = count.search(text)
    if match is not None:
        word = match.group(1).lower()
        return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    if none.search(text):
        return 0
    return len(items) if items else None


def _pdf_link(links: Sequence[str], base_url: str) -> str:
    """The report PDF: a link to an uploaded .pdf, preferring the HMICFRS assets host."""
    candidates: list[str] = []
    for href in links:
        try:
            absolute = urljoin(base_url, href.strip())
            parts = urlsplit(absolute)
        except ValueError:
            continue
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            continue
        if parts.path.lower().endswith(".pdf") and "/uploads/" in parts.path:
            candidates.append(absolute)
    for candidate in candidates:
        if (urlsplit(candidate).hostname or "").startswith("assets-hmicfrs."):
            return candidate
    return candidates[0] if candidates else ""


def enrich(
    pub: Publication,
    session: WebSession,
    *,
    allowed_hosts: Sequence[str],
    timeout: tuple[float, float] = (3, 10),
    max_bytes: int = 3_000_000,
    verify: str | bool = True,
) -> Publication:
    """``pub`` with what its landing page adds; ``pub`` unchanged if the page cannot be read.

    Never raises: a host that is not allowed, a timeout, an error status, an oversize page or
    a parse failure is logged in one line and the feed's values stand.
    """
    try:
        html, final_url = _fetch_page(
            pub.link, session, allowed_hosts, timeout=timeout, max_bytes=max_bytes, verify=verify
        )
    except _Skip as skip:
        logger.info("report page for %s not read: %s", pub.key, skip)
        return pub
    except Exception as exc:
        logger.warning(
            "report page for %s not read: %s (%s)", pub.key, type(exc).__name__, _brief(exc)
        )
        return pub
    try:
        details = parse_report_page(html, final_url)
    except Exception as exc:
        logger.warning("report page for %s could not be parsed: %s", pub.key, type(exc).__name__)
        return pub
    return merge_details(pub, details)


def merge_details(pub: Publication, details: ReportDetails) -> Publication:
    """Fill what the feed left empty; keep the feed date if the page's date is far from it."""
    published_on = pub.published_on
    if details.published_on is not None and details.published_on != pub.published_on:
        drift = abs((details.published_on - pub.published_on).days)
        if drift > MAX_DATE_DRIFT_DAYS:
            logger.warning(
                "report page for %s says published on %s but the feed says %s; keeping the "
                "feed date (a re-stamped page must not start a new 56-day clock)",
                pub.key,
                details.published_on.isoformat(),
                pub.published_on.isoformat(),
            )
        else:
            logger.info(
                "report page for %s gives publication date %s (feed: %s); using the page date",
                pub.key,
                details.published_on.isoformat(),
                pub.published_on.isoformat(),
            )
            published_on = details.published_on
    return dataclasses.replace(
        pub,
        published_on=published_on,
        types=pub.types or details.types,
        forces=pub.forces or details.forces,
        report_pdf_url=pub.report_pdf_url or details.pdf_url,
        recommendation_count=(
            pub.recommendation_count
            if pub.recommendation_count is not None
            else details.recommendation_count
        ),
        afi_count=pub.afi_count if pub.afi_count is not None else details.afi_count,
        recommendations=pub.recommendations or details.recommendations,
        areas_for_improvement=pub.areas_for_improvement or details.areas_for_improvement,
    )


class _Skip(Exception):
    """The page is not to be fetched (policy, not failure)."""


def _allowed(url: str, allowed_hosts: Sequence[str]) -> str:
    """ "" if ``url`` may be fetched, else the reason it may not."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return "not a valid address"
    if parts.scheme.lower() != "https":
        return "not an https address"
    allowed = {h.strip().lower() for h in allowed_hosts if h.strip()}
    if not host or (host not in allowed and f"{host}:{port}" not in allowed):
        return f"host {host or '(none)'} is not in the allowed report hosts"
    if parts.username is not None or parts.password is not None:
        return "address carries credentials"
    return ""


def _fetch_page(
    url: str,
    session: WebSession,
    allowed_hosts: Sequence[str],
    *,
    timeout: tuple[float, float],
    max_bytes: int,
    verify: str | bool,
) -> tuple[str, str]:
    """The page's HTML and its final URL, following allowlisted redirects only."""
    for _ in range(_MAX_REDIRECTS + 1):
        refusal = _allowed(url, allowed_hosts)
        if refusal:
            raise _Skip(refusal)
        with bounded_get(
            session,
            url,
            timeout=timeout,
            verify=verify,
            allow_redirects=False,
            headers={"Accept": "text/html,application/xhtml+xml;q=0.9"},
        ) as response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.status_code != 200:
                raise _PageError(f"HTTP {response.status_code}")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type not in {"text/html", "application/xhtml+xml"}:
                raise _PageError(f"not an HTML page (Content-Type {content_type or 'none'})")
            try:
                body = read_bounded(response, max_bytes)
            except BodyTooLarge as exc:
                raise _PageError(f"page {exc}") from exc
            charset = _charset(response.headers.get("Content-Type", ""))
            return body.decode(charset, errors="replace"), url
    raise _PageError(f"more than {_MAX_REDIRECTS} redirects")


class _PageError(Exception):
    """The page could not be read."""


def _charset(content_type: str) -> str:
    match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", content_type)
    name = match.group(1) if match else "utf-8"
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def _brief(exc: BaseException) -> str:
    """A short reason without response bodies."""
    if isinstance(exc, (_PageError, WebFetchError)):
        return str(exc)
    return type(exc).__name__
