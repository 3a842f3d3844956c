"""Enrichment of a publication from its HMICFRS pages: the landing page, then the full report.

The landing page gives types, forces, counts and links; when it does not list the
recommendations with their numbers, the full report is read: the ``/publication-html/``
version or the PEEL report page it links to, else the PDF (pypdf). Only https addresses on
allowlisted hosts are read (redirects included); any failure leaves the publication with
what was read so far, in one log line.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

from automation.domain.publications import Publication
from automation.reports.findings import Findings, read_findings
from automation.reports.pages import (
    ReportDetails,
    finding_blocks,
    page_blocks,
    parse_count,
    parse_report_page,
)
from automation.reports.pdf import pdf_text, text_blocks
from automation.webfetch import BodyTooLarge, WebFetchError, WebSession, bounded_get, read_bounded

logger = logging.getLogger(__name__)

MAX_DATE_DRIFT_DAYS = 7
"""A page date further than this from the feed date is a re-stamp, not the publication date."""
PDF_MAX_BYTES = 40_000_000
"""A report PDF larger than this is not read (HMICFRS reports are a few MB)."""
_MAX_REDIRECTS = 3
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_PDF_TYPES = frozenset({"application/pdf"})


def enrich(
    pub: Publication,
    session: WebSession,
    *,
    allowed_hosts: Sequence[str],
    timeout: tuple[float, float] = (3, 10),
    max_bytes: int = 3_000_000,
    pdf_max_bytes: int = PDF_MAX_BYTES,
    verify: str | bool = True,
) -> Publication:
    """``pub`` with what its pages add; ``pub`` unchanged if the landing page cannot be read.

    Never raises: a host that is not allowed, a timeout, an error status, an oversize page or
    a parse failure is logged in one line and the values read so far stand.
    """
    fetch = _Fetcher(session, allowed_hosts, timeout=timeout, verify=verify)
    try:
        html, final_url = fetch.page(pub.link, max_bytes=max_bytes)
    except _Skip as skip:
        logger.info("report page for %s not read: %s", pub.key, skip)
        return pub
    except Exception as exc:
        logger.warning(
            "report page for %s not read from %s: %s (%s); recommendations are not prefilled "
            "(the draft says so)",
            pub.key,
            urlsplit(pub.link).hostname or pub.link,
            type(exc).__name__,
            _brief(exc),
        )
        return pub
    try:
        details = parse_report_page(html, final_url)
    except Exception as exc:
        logger.warning("report page for %s could not be parsed: %s", pub.key, type(exc).__name__)
        return pub
    if _complete(details):
        return merge_details(pub, details)
    for url in details.report_links:
        found = _full_report(pub, fetch, url, max_bytes=max_bytes, pdf_max_bytes=pdf_max_bytes)
        if found is not None and not found[0].empty:
            findings, count = found
            details = with_findings(details, findings, count)
            break
    return merge_details(pub, details)


def _complete(details: ReportDetails) -> bool:
    """Whether the landing page already lists every recommendation with its number."""
    found = details.findings
    listed = len(found.recommendations) + found.recommendations_left_out
    if details.recommendation_count == 0 and details.afi_count in (0, None):
        return True
    return found.numbered and listed >= (details.recommendation_count or 0)


def _full_report(
    pub: Publication, fetch: _Fetcher, url: str, *, max_bytes: int, pdf_max_bytes: int
) -> tuple[Findings, int | None] | None:
    """The findings of the full report at ``url`` and the count it states, or None."""
    is_pdf = urlsplit(url).path.lower().endswith(".pdf")
    try:
        if is_pdf:
            text = pdf_text(fetch.pdf(url, max_bytes=pdf_max_bytes))
            return read_findings(text_blocks(text)), parse_count(text)
        html, _final = fetch.page(url, max_bytes=max_bytes)
        blocks, _links = page_blocks(html)
        count = parse_count("\n".join(b.text for b in blocks))
        return read_findings(finding_blocks(blocks)), count
    except _Skip as skip:
        logger.info("full report for %s not read: %s", pub.key, skip)
    except Exception as exc:
        logger.warning(
            "full report for %s not read: %s (%s)", pub.key, type(exc).__name__, _brief(exc)
        )
    return None


def with_findings(details: ReportDetails, findings: Findings, count: int | None) -> ReportDetails:
    """``details`` with the full report's findings (the landing page's count wins)."""
    read = len(findings.recommendations) + findings.recommendations_left_out
    return dataclasses.replace(
        details,
        findings=findings,
        recommendations=tuple(f.text for f in findings.recommendations),
        areas_for_improvement=tuple(f.text for f in findings.areas_for_improvement),
        recommendation_count=(
            details.recommendation_count
            if details.recommendation_count is not None
            else count
            if count is not None
            else read or None
        ),
        afi_count=(
            details.afi_count
            if details.afi_count is not None
            else len(findings.areas_for_improvement) or None
        ),
    )


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
        recommendations=pub.recommendations or details.findings.recommendations,
        recommendations_left_out=(
            pub.recommendations_left_out or details.findings.recommendations_left_out
        ),
        areas_for_improvement=(pub.areas_for_improvement or details.findings.areas_for_improvement),
        causes_of_concern=pub.causes_of_concern or details.findings.causes_of_concern,
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


class _Fetcher:
    """GETs of allowlisted https addresses, following allowlisted redirects only."""

    def __init__(
        self,
        session: WebSession,
        allowed_hosts: Sequence[str],
        *,
        timeout: tuple[float, float],
        verify: str | bool,
    ) -> None:
        self.session = session
        self.allowed_hosts = allowed_hosts
        self.timeout = timeout
        self.verify = verify

    def page(self, url: str, *, max_bytes: int) -> tuple[str, str]:
        """The page's HTML and its final URL."""
        body, content_type, final_url = self._get(
            url, _HTML_TYPES, "text/html,application/xhtml+xml;q=0.9", max_bytes
        )
        return body.decode(_charset(content_type), errors="replace"), final_url

    def pdf(self, url: str, *, max_bytes: int) -> bytes:
        """The PDF's bytes."""
        return self._get(url, _PDF_TYPES, "application/pdf", max_bytes)[0]

    def _get(
        self, url: str, types: frozenset[str], accept: str, max_bytes: int
    ) -> tuple[bytes, str, str]:
        for _ in range(_MAX_REDIRECTS + 1):
            refusal = _allowed(url, self.allowed_hosts)
            if refusal:
                raise _Skip(refusal)
            with bounded_get(
                self.session,
                url,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
                headers={"Accept": accept},
            ) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise _PageError(f"HTTP {response.status_code}")
                content_type = response.headers.get("Content-Type", "")
                media = content_type.split(";")[0].strip().lower()
                if media not in types:
                    wanted = "an HTML page" if types is _HTML_TYPES else "a PDF"
                    raise _PageError(f"not {wanted} (Content-Type {media or 'none'})")
                try:
                    body = read_bounded(response, max_bytes)
                except BodyTooLarge as exc:
                    raise _PageError(f"{'page' if types is _HTML_TYPES else 'PDF'} {exc}") from exc
                return body, content_type, url
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
