"""A publication as read from the feed, its stable key, and text sanitising."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from automation.domain.text import one_line

HMICFRS_KEY_PREFIX = "hmicfrs:"
MAX_KEY_LENGTH = 255

_HMICFRS_HOST = "hmicfrs.justiceinspectorates.gov.uk"
HMICFRS_ASSETS_HOST = "assets-hmicfrs.justiceinspectorates.gov.uk"
"""Where HMICFRS keeps report PDFs (``/uploads/<name>.pdf``)."""
HMICFRS_HOSTS: tuple[str, ...] = (
    _HMICFRS_HOST,
    "www.justiceinspectorates.gov.uk",
    HMICFRS_ASSETS_HOST,
)
"""The hosts HMICFRS publishes report pages and report PDFs on."""
_OLD_HOST = "justiceinspectorates.gov.uk"
_OLD_PREFIX = "/hmicfrs"

_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
    }
)

# XML 1.0 forbids C0 controls other than tab/LF/CR, surrogates and U+FFFE/U+FFFF; C1 controls
# are legal but never wanted in a title. Bidi embeddings/overrides/isolates can disguise text.
_UNSAFE_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One recommendation, area for improvement or cause of concern, as the report gives it.

    Attributes:
        number: the report's own number ("19"); "" when the report does not number it.
        text: the wording, plain text.
        addressee: who the report addresses it to ("chief constables", "the senior national
            coordinator"), as the report says; "" when it does not say.
    """

    number: str
    text: str
    addressee: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Publication:
    """One HMICFRS publication.

    Attributes:
        key: stable identity (see `normalise_key`); the tracker's PublicationKey.
        title: inspection title, plain text.
        link: link to the report landing page.
        published_on: publication date as a Europe/London calendar date.
        types: publication types, e.g. ("Counter-terrorism and joint inspection",).
        forces: police forces named; ("N/A",) for national reports; () when unknown.
        summary: plain-text summary.
        guid: the feed's guid/id, as given.
        report_pdf_url: link to the PDF, when known.
        recommendation_count: how many recommendations the whole report makes, when known.
        afi_count: number of areas for improvement, when known.
        recommendations: the recommendations for policing (chief constables, commissioners,
            forces) in report order, with the report's own numbers, when known.
        recommendations_left_out: how many of the report's recommendations were read but left
            out because the report addresses them to other bodies.
        areas_for_improvement: each area for improvement, when known.
        causes_of_concern: each cause of concern, when known.
        feed_url: the feed the publication came from.
    """

    key: str
    title: str
    link: str
    published_on: date
    types: tuple[str, ...] = ()
    forces: tuple[str, ...] = ()
    summary: str = ""
    guid: str = ""
    report_pdf_url: str = ""
    recommendation_count: int | None = None
    afi_count: int | None = None
    recommendations: tuple[Finding, ...] = ()
    recommendations_left_out: int = 0
    areas_for_improvement: tuple[Finding, ...] = ()
    causes_of_concern: tuple[Finding, ...] = ()
    feed_url: str = ""


def findings_json(findings: tuple[Finding, ...]) -> list[dict[str, str]]:
    """Findings as the tracker's report details keep them (JSON objects)."""
    out: list[dict[str, str]] = []
    for finding in findings:
        entry = {"number": finding.number, "text": finding.text}
        if finding.addressee:
            entry["for"] = finding.addressee
        out.append(entry)
    return out


def findings_from_json(value: object) -> tuple[Finding, ...]:
    """Findings back from the report details; tolerant of hand edits and of the old format.

    Items filed before numbers were kept are plain strings: they come back unnumbered.
    Anything else that is not an object with a non-empty "text" is skipped.
    """
    if not isinstance(value, list):
        return ()
    findings: list[Finding] = []
    for entry in value:
        if isinstance(entry, str):
            if entry.strip():
                findings.append(Finding(number="", text=entry))
            continue
        if not isinstance(entry, dict):
            continue
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        number = entry.get("number")
        addressee = entry.get("for")
        findings.append(
            Finding(
                number=str(number).strip() if isinstance(number, str | int) else "",
                text=text,
                addressee=addressee if isinstance(addressee, str) else "",
            )
        )
    return tuple(findings)


def finding_label(kind: str, finding: Finding, position: int) -> str:
    """ "Recommendation 19" with the report's own number; the position when it gave none."""
    return f"{kind} {finding.number or position}"


def clean_text(s: str, max_len: int) -> str:
    """Plain, safe, single-line text of at most ``max_len`` characters.

    Strips characters XML cannot carry (and C1 controls), bidi embedding/override/isolate
    characters, collapses runs of whitespace to one space, and truncates with "…".
    """
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    return one_line(_UNSAFE_CHARS.sub("", s), max_len)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, dropping script/style and breaking at blocks."""

    _SKIP = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
    _BLOCK = frozenset(
        {"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_markup(html: str) -> str:
    """The text of an HTML fragment (entities decoded, tags and scripts removed)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)


def normalise_key(link: str, guid: str = "") -> str:
    """The stable identity of a publication from its link (preferred) or its guid.

    HMICFRS links on the current host and on the old ``www.justiceinspectorates.gov.uk/hmicfrs``
    site give ``hmicfrs:/publications/<slug>``; any other URL gives ``host/path?query`` with a
    lowercased host, no scheme, ``www.``, fragment, trailing slash or tracking parameters, and
    the remaining query parameters sorted. A guid that is not a URL is kept as
    ``guid:<text>``. The key has no control characters and is at most 255 characters (a longer
    one keeps its head and ends with a hash of the whole).

    Raises:
        ValueError: if both link and guid are empty.
    """
    source = _UNSAFE_CHARS.sub("", link).strip() or _UNSAFE_CHARS.sub("", guid).strip()
    if not source:
        raise ValueError("a publication needs a link or a guid")
    key = _key_from_url(source)
    key = "".join(ch if ch.isprintable() and not ch.isspace() else quote(ch) for ch in key)
    if len(key) > MAX_KEY_LENGTH:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        key = key[: MAX_KEY_LENGTH - len(digest) - 1] + "~" + digest
    return key


def _key_from_url(source: str) -> str:
    try:
        parts = urlsplit(source)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return "guid:" + " ".join(source.split())
    if parts.scheme.lower() not in {"http", "https", ""} or not host:
        return "guid:" + " ".join(source.split())
    if host.startswith("www."):
        host = host[4:]
    if port is not None and port not in {80, 443}:
        host = f"{host}:{port}"
    path = _normalise_path(parts.path)
    query = _normalise_query(parts.query)
    suffix = f"?{query}" if query else ""
    if host == _HMICFRS_HOST:
        return f"{HMICFRS_KEY_PREFIX}{path.lower()}{suffix}"
    if host == _OLD_HOST and (path == _OLD_PREFIX or path.startswith(_OLD_PREFIX + "/")):
        return f"{HMICFRS_KEY_PREFIX}{path[len(_OLD_PREFIX) :].lower() or '/'}{suffix}"
    return f"{host}{'' if path == '/' and not suffix else path}{suffix}"


def _normalise_path(path: str) -> str:
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    path = re.sub(r"/{2,}", "/", path)
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


def _normalise_query(query: str) -> str:
    pairs = [
        (name, value)
        for name, value in parse_qsl(query, keep_blank_values=True)
        if not name.lower().startswith("utm_") and name.lower() not in _TRACKING_PARAMS
    ]
    return urlencode(sorted(pairs))
