"""Read an HMICFRS RSS 2.0 or Atom feed into publications (conditional GET, bounded, defused).

Feed-level failures raise `FeedError` naming the URL and the reason; problems with single
entries are returned as lines naming the entry and the field, and the good entries go on.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
import feedparser

from automation.domain.calendar import london_date
from automation.domain.forces import NOT_APPLICABLE, force_for_label, is_not_applicable
from automation.domain.publications import Publication, clean_text, normalise_key, strip_markup
from automation.errors import FeedError
from automation.webfetch import BodyTooLarge, WebFetchError, WebSession, bounded_get, read_bounded

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "opcc-s55-automation/0.1 (+https://github.com/; Section 55 tracker)"
TITLE_MAX = 1000
SUMMARY_MAX = 4000
CATEGORY_MAX = 200
_ACCEPT = (
    "application/rss+xml, application/atom+xml;q=0.9, application/xml;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1"
)
_DTD_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_HTML_START = re.compile(rb"^(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.S)
_PLACEHOLDER_CATEGORIES = frozenset({"uncategorized", "uncategorised"})
_UTF16_32_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedCache:
    """Validators from the last successful fetch of one feed."""

    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedResult:
    """The outcome of fetching one feed.

    Attributes:
        url: the feed URL.
        publications: the entries read, first occurrence of each key, in feed order.
        problems: one line per entry (or field) that could not be used.
        not_modified: True when the server answered 304; then there are no publications.
        cache: the validators to send next time.
    """

    url: str
    publications: tuple[Publication, ...]
    problems: tuple[str, ...]
    not_modified: bool
    cache: FeedCache


def fetch_feed(
    session: WebSession,
    url: str,
    *,
    cache: FeedCache | None,
    timeout: tuple[float, float] = (5, 20),
    max_bytes: int = 5_000_000,
    verify: str | bool = True,
    user_agent: str = DEFAULT_USER_AGENT,
) -> FeedResult:
    """Fetch and parse one feed with a conditional GET.

    Raises:
        FeedError: the feed could not be fetched or is not a usable RSS/Atom document.
    """
    headers = {"User-Agent": user_agent, "Accept": _ACCEPT}
    if cache is not None and cache.etag:
        headers["If-None-Match"] = cache.etag
    if cache is not None and cache.last_modified:
        headers["If-Modified-Since"] = cache.last_modified
    try:
        with bounded_get(session, url, headers=headers, timeout=timeout, verify=verify) as response:
            if response.status_code == 304:
                logger.debug("feed %s not modified", url)
                return FeedResult(
                    url=url,
                    publications=(),
                    problems=(),
                    not_modified=True,
                    cache=cache or FeedCache(),
                )
            if response.status_code >= 400:
                reason = f" {response.reason}" if response.reason else ""
                raise FeedError(url, f"HTTP {response.status_code}{reason}")
            content_type = response.headers.get("Content-Type", "")
            new_cache = FeedCache(
                etag=response.headers.get("ETag", ""),
                last_modified=response.headers.get("Last-Modified", ""),
            )
            body = read_bounded(response, max_bytes)
    except BodyTooLarge as exc:
        raise FeedError(url, f"body {exc}") from exc
    except WebFetchError as exc:
        raise FeedError(url, str(exc)) from exc

    if content_type.split(";")[0].strip().lower() == "text/html" and not _looks_like_feed(body):
        raise FeedError(url, "got an HTML page (Content-Type text/html), not an RSS or Atom feed")
    publications, problems = parse_feed(body, url)
    logger.info("feed %s: %d publications, %d problems", url, len(publications), len(problems))
    return FeedResult(
        url=url,
        publications=tuple(publications),
        problems=tuple(problems),
        not_modified=False,
        cache=new_cache,
    )


MAX_PAGES = 200
"""Backfill reads at most this many pages of one feed (10 items a page: years of reports)."""


def page_url(url: str, page: int) -> str:
    """Page ``page`` of a WordPress feed (``?paged=N``); page 1 is the feed URL itself."""
    if page <= 1:
        return url
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "paged"]
    query.append(("paged", str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf:RDF"))


def parse_feed(content: bytes, url: str) -> tuple[list[Publication], list[str]]:
    """Parse an RSS 2.0 or Atom document into publications and item-level problems.

    Raises:
        FeedError: empty body, an HTML page, a DTD/entity declaration, or XML that is not a
            feed at all.
    """
    if not content.strip():
        raise FeedError(url, "empty body")
    if _HTML_START.match(content[:4096].lstrip(b"\xef\xbb\xbf")):
        raise FeedError(url, "got an HTML page, not an RSS or Atom feed")
    _refuse_declarations(content, url)
    well_formed_error = _well_formed_error(content, url)

    try:
        parsed = feedparser.parse(
            io.BytesIO(content),
            response_headers={"content-location": url, "content-type": "application/xml"},
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser's lenient parser can trip over broken markup
        detail = f"; {well_formed_error}" if well_formed_error else ""
        raise FeedError(
            url, f"malformed XML: the parser failed ({type(exc).__name__}){detail}"
        ) from exc
    entries: list[Any] = list(parsed.get("entries") or [])
    version = str(parsed.get("version") or "")
    if not entries:
        if well_formed_error:
            raise FeedError(url, f"malformed XML: {well_formed_error}")
        if not version:
            raise FeedError(url, "not an RSS or Atom feed")
        return [], []

    publications: list[Publication] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        try:
            publication = _publication(entry, index, url, problems)
        except Exception as exc:  # one odd entry must not sink the feed
            problems.append(f"{_entry_name(entry, index)}: entry: could not be read ({exc!r})")
            continue
        if publication is None:
            continue
        if publication.key in seen:
            problems.append(
                f"{_entry_name(entry, index)}: guid/link: duplicate of an earlier entry "
                f"({publication.key}); kept the first"
            )
            continue
        seen.add(publication.key)
        publications.append(publication)
    if well_formed_error:
        if not publications:
            raise FeedError(url, f"malformed XML: {well_formed_error}")
        logger.warning(
            "feed %s is not well-formed XML (%s); read %d entries leniently",
            url,
            well_formed_error,
            len(publications),
        )
    return publications, problems


def _refuse_declarations(content: bytes, url: str) -> None:
    """Refuse any DOCTYPE or ENTITY declaration (entity expansion bombs, external entities)."""
    probes = [content]
    for bom, encoding in _UTF16_32_BOMS:
        if content.startswith(bom):
            probes.append(content.decode(encoding, errors="replace").encode("utf-8"))
            break
    for probe in probes:
        if _DTD_DECLARATION.search(probe):
            raise FeedError(
                url,
                "the document declares a DOCTYPE or ENTITY; refused "
                "(entity expansion and external entities are not allowed in a feed)",
            )


def _well_formed_error(content: bytes, url: str) -> str:
    """The parser's message if the XML is not well-formed, else "". Refuses DTDs again."""
    try:
        defusedxml.ElementTree.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise FeedError(
            url,
            "the document declares a DOCTYPE or ENTITY; refused "
            f"(entity expansion and external entities are not allowed in a feed): {exc}",
        ) from exc
    except ParseError as exc:
        return str(exc) or "not well-formed"
    return ""


def _entry_name(entry: Mapping[str, Any], index: int) -> str:
    title = clean_text(strip_markup(str(entry.get("title") or "")), 80)
    return f'item {index} "{title}"' if title else f"item {index} (untitled)"


def _publication(
    entry: Mapping[str, Any], index: int, feed_url: str, problems: list[str]
) -> Publication | None:
    name = _entry_name(entry, index)
    guid = clean_text(str(entry.get("id") or ""), 2000)
    link = _http_link(str(entry.get("link") or ""), feed_url)
    if not link and entry.get("link"):
        problems.append(f"{name}: link: not an http(s) address; ignored")
    if not link and entry.get("guidislink"):
        link = _http_link(guid, feed_url)
    if not link and not guid:
        problems.append(f"{name}: link/guid: missing; entry skipped")
        return None

    published_on = _london_date(entry)
    if published_on is None:
        problems.append(f"{name}: date: no usable pubDate/published/updated; entry skipped")
        return None

    title = clean_text(strip_markup(str(entry.get("title") or "")), TITLE_MAX)
    if not title:
        problems.append(f"{name}: title: missing; used the link instead")
        title = clean_text(link or guid, TITLE_MAX)

    types, forces = _types_and_forces(entry.get("tags") or [])
    summary_html = str(entry.get("summary") or "")
    if not summary_html:
        contents = entry.get("content") or []
        if contents:
            summary_html = str(contents[0].get("value") or "")
    summary = clean_text(strip_markup(summary_html), SUMMARY_MAX)

    return Publication(
        key=normalise_key(link, guid),
        title=title,
        link=link,
        published_on=published_on,
        types=types,
        forces=forces,
        summary=summary,
        guid=guid,
        feed_url=feed_url,
    )


def _http_link(raw: str, base: str) -> str:
    """An absolute http(s) link, or "" if ``raw`` is empty or of another scheme."""
    raw = clean_text(raw, 4000).replace(" ", "%20")
    if not raw:
        return ""
    try:
        absolute = urljoin(base, raw)
        parts = urlsplit(absolute)
    except ValueError:
        return ""
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return ""
    return absolute


def _london_date(entry: Mapping[str, Any]) -> date | None:
    """The entry's publication date on the Europe/London calendar.

    feedparser gives UTC; 23:30 GMT on a summer evening is 00:30 BST the next London day.
    """
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        # Read the stored value: FeedParserDict's key aliasing warns about updated_parsed.
        parsed = dict.get(entry, field) if isinstance(entry, dict) else entry.get(field)
        if not isinstance(parsed, time.struct_time):
            continue
        try:
            return london_date(datetime(*parsed[:6], tzinfo=UTC))
        except (ValueError, OverflowError):
            continue
    return None


def _types_and_forces(tags: Iterable[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split WordPress categories/tags into publication types and police forces."""
    types: list[str] = []
    forces: list[str] = []
    national = False
    for tag in tags:
        if not isinstance(tag, Mapping):
            continue
        label = clean_text(str(tag.get("label") or tag.get("term") or ""), CATEGORY_MAX)
        if not label or label.casefold() in _PLACEHOLDER_CATEGORIES:
            continue
        if is_not_applicable(label):
            national = True
            continue
        force = force_for_label(label)
        if force is not None:
            forces.append(force.name)
        else:
            types.append(label)
    if forces:
        return tuple(dict.fromkeys(types)), tuple(dict.fromkeys(forces))
    return tuple(dict.fromkeys(types)), ((NOT_APPLICABLE,) if national else ())
