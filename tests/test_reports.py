"""Report page enrichment: parsing, the host allowlist, and degrading to the feed values."""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

import automation
from automation.domain import Publication, normalise_key
from automation.domain.publications import HMICFRS_HOSTS as DEFAULT_REPORT_HOSTS
from automation.reports import enrich, parse_report_page
from tests.fixtures.report_pdf import build_report_pdf
from tests.loopback import LoopbackServer, Route, serving

SAMPLE_PAGE = Path(__file__).resolve().parent / "fixtures" / "illustrative_landing_page.html"
DEMO = Path(automation.__file__).parent / "demo_data"
SEED_URL = (
    "https://hmicfrs.justiceinspectorates.gov.uk/publications/"
    "counter-terrorism-joint-inspection-national-security-division/"
)


# --- parsing ---------------------------------------------------------------------------------


def test_sample_page() -> None:
    details = parse_report_page(SAMPLE_PAGE.read_text(encoding="utf-8"), SEED_URL)
    assert details.published_on == date(2023, 7, 20)
    assert details.types == ("Counter-terrorism and joint inspection",)
    assert details.forces == ("N/A",)
    assert details.pdf_url == (
        "https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/"
        "counter-terrorism-joint-inspection-national-security-division.pdf"
    )
    assert details.recommendation_count == 4
    assert len(details.recommendations) == 4
    assert details.recommendations[0].startswith("By 31 March 2024, Counter Terrorism Policing")
    assert details.recommendations[3].endswith("terrorist offenders living in their area.")
    assert details.afi_count is None
    assert details.areas_for_improvement == ()


def test_inline_fields_listed_forces_and_areas_for_improvement() -> None:
    html = """
    <p>Published on: 3rd March 2023<br>
       Publication types: <a href="/t/peel/">PEEL</a>, <a href="/t/x/">Crime data integrity</a><br>
       Police forces: <a href="/f/1/">Norfolk</a> <a href="/f/2/">Suffolk Constabulary</a></p>
    <p>We have made one recommendation and identified three areas for improvement.</p>
    <p><a href="https://www.justiceinspectorates.gov.uk/hmicfrs/wp-content/uploads/r.PDF">PDF</a></p>
    <h2>Recommendations</h2>
    <p>Recommendation 7: By June 2024, the force should improve its &amp; crime recording.</p>
    <h2>Areas for improvement</h2>
    <ol>
      <li><p>The force should improve how it answers 101 calls.</p></li>
      <li>The force should <strong>review</strong> its use of stop and search.</li>
      <li>The force should audit its custody records.<script>x()</script></li>
    </ol>
    <h2>About the data</h2>
    <ul><li>Not an area for improvement.</li></ul>
    """
    details = parse_report_page(html, "https://hmicfrs.justiceinspectorates.gov.uk/x/")
    assert details.published_on == date(2023, 3, 3)
    assert details.types == ("PEEL", "Crime data integrity")
    assert details.forces == ("Norfolk Constabulary", "Suffolk Constabulary")
    assert details.pdf_url.endswith("/hmicfrs/wp-content/uploads/r.PDF")
    assert details.recommendation_count == 1
    assert details.recommendations == (
        "By June 2024, the force should improve its & crime recording.",
    )
    assert details.afi_count == 3
    assert details.areas_for_improvement == (
        "The force should improve how it answers 101 calls.",
        "The force should review its use of stop and search.",
        "The force should audit its custody records.",
    )


def test_none_made_gives_zero_counts() -> None:
    html = (
        "<p>Published on: 1 Aug 2023</p><p>We have not made any recommendations.</p>"
        "<p>There are no areas for improvement.</p>"
    )
    details = parse_report_page(html, SEED_URL)
    assert details.published_on == date(2023, 8, 1)
    assert details.recommendation_count == 0
    assert details.afi_count == 0


def test_unhelpful_page_gives_nothing() -> None:
    details = parse_report_page("<html><body><p>Page not found</p></body></html>", SEED_URL)
    assert details == dataclasses.replace(
        details,
        published_on=None,
        types=(),
        forces=(),
        pdf_url="",
        recommendation_count=None,
        afi_count=None,
        recommendations=(),
        areas_for_improvement=(),
    )


def test_impossible_date_is_ignored() -> None:
    assert parse_report_page("<p>Published on: 31 February 2023</p>", SEED_URL).published_on is None


# --- enrichment over https on loopback --------------------------------------------------------


HTML = "text/html; charset=utf-8"


def Page(*, content_type: str = HTML, **fields: Any) -> Route:
    """A route answering with an HTML page unless told otherwise."""
    return Route(content_type=content_type, **fields)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return context, str(ca_path)


@pytest.fixture
def server(tls: tuple[ssl.SSLContext, str]) -> Iterator[LoopbackServer]:
    with serving(tls[0]) as srv:
        yield srv


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


def feed_pub(link: str, **changes: object) -> Publication:
    base = Publication(
        key=normalise_key(link, "https://hmicfrs.justiceinspectorates.gov.uk/?p=40987"),
        title="Counter Terrorism Joint Inspection",
        link=link,
        published_on=date(2023, 7, 20),
        types=("Counter-terrorism and joint inspection",),
        forces=("N/A",),
        guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=40987",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_enrich_fills_what_the_feed_lacks(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(server.url("/publications/seed/"), types=("Joint inspection",))
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert server.seen == ["/publications/seed/"]
    assert enriched.recommendation_count == 4
    assert len(enriched.recommendations) == 4
    assert enriched.report_pdf_url.endswith("national-security-division.pdf")
    assert enriched.types == ("Joint inspection",)  # the feed had types: kept
    assert enriched.forces == ("N/A",)
    assert enriched.published_on == date(2023, 7, 20)
    assert (enriched.key, enriched.title, enriched.link) == (pub.key, pub.title, pub.link)


def test_enrich_fills_types_and_forces_when_the_feed_had_none(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(server.url("/publications/seed/"), types=(), forces=())
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert enriched.types == ("Counter-terrorism and joint inspection",)
    assert enriched.forces == ("N/A",)


def test_restamped_page_date_does_not_start_a_new_clock(
    server: LoopbackServer,
    session: requests.Session,
    tls: tuple[ssl.SSLContext, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = SAMPLE_PAGE.read_bytes().replace(b"20 July 2023", b"7 March 2023")
    server.routes["/publications/old/"] = Page(body=page)
    pub = feed_pub(server.url("/publications/old/"), published_on=date(2018, 6, 12))
    with caplog.at_level(logging.WARNING, logger="automation.reports"):
        enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert enriched.published_on == date(2018, 6, 12)
    assert enriched.recommendation_count == 4  # the rest is still used
    assert "keeping the feed date" in caplog.text
    assert "2023-03-07" in caplog.text


def test_page_date_within_a_week_is_used(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(server.url("/publications/seed/"), published_on=date(2023, 7, 19))
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert enriched.published_on == date(2023, 7, 20)


@pytest.mark.parametrize(
    ("make_link", "allowed"),
    [
        (lambda s: s.url("/publications/seed/"), DEFAULT_REPORT_HOSTS),  # loopback by default
        (lambda s: s.url("/publications/seed/", host="localhost"), ("127.0.0.1",)),
        (lambda s: s.url("/publications/seed/", scheme="http"), ("127.0.0.1",)),
        (
            lambda s: s.url("/publications/seed/").replace("https://", "https://u:p@"),
            ("127.0.0.1",),
        ),
        (lambda s: "https://example.org/publications/seed/", ("127.0.0.1",)),
        (lambda s: "", ("127.0.0.1",)),
    ],
    ids=["loopback-not-allowed", "other-host", "plain-http", "credentials", "foreign", "no-link"],
)
def test_links_outside_the_allowlist_are_not_fetched(
    server: LoopbackServer,
    session: requests.Session,
    tls: tuple[ssl.SSLContext, str],
    caplog: pytest.LogCaptureFixture,
    make_link: Callable[[LoopbackServer], str],
    allowed: tuple[str, ...],
) -> None:
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(make_link(server))
    with caplog.at_level(logging.INFO, logger="automation.reports"):
        result = enrich(pub, session, allowed_hosts=allowed, verify=tls[1])
    assert result == pub
    assert server.seen == []
    assert len(caplog.records) == 1
    assert "not read" in caplog.records[0].getMessage()


def test_redirect_to_a_host_outside_the_allowlist_is_not_followed(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    elsewhere = server.url("/publications/seed/", host="localhost")
    server.routes["/r/"] = Page(status=301, headers={"Location": elsewhere})
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(server.url("/r/"))
    assert enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1]) == pub
    assert server.seen == ["/r/"]


def test_redirect_within_the_allowlist_is_followed(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes["/r/"] = Page(status=301, headers={"Location": "/publications/seed/"})
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(server.url("/r/"))
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert enriched.recommendation_count == 4
    assert server.seen == ["/r/", "/publications/seed/"]


@pytest.mark.parametrize(
    ("page", "logged"),
    [
        (Page(status=404, body=b"<p>gone</p>"), "HTTP 404"),
        (Page(status=500, body=b"<p>oops</p>"), "HTTP 500"),
        (Page(body=b"%PDF-1.7", content_type="application/pdf"), "not an HTML page"),
        (Page(body=b"<p>" + b"x" * 5_000 + b"</p>"), "page over 1000 bytes"),
        (Page(body=SAMPLE_PAGE.read_bytes(), delay=2.0), "timed out"),
    ],
    ids=["404", "500", "pdf", "oversize", "timeout"],
)
def test_failures_degrade_to_the_feed_values(
    server: LoopbackServer,
    session: requests.Session,
    tls: tuple[ssl.SSLContext, str],
    caplog: pytest.LogCaptureFixture,
    page: Route,
    logged: str,
) -> None:
    server.routes["/publications/seed/"] = page
    pub = feed_pub(server.url("/publications/seed/"))
    with caplog.at_level(logging.INFO, logger="automation.reports"):
        result = enrich(
            pub,
            session,
            allowed_hosts=["127.0.0.1"],
            verify=tls[1],
            timeout=(1.0, 0.2),
            max_bytes=1000,
        )
    assert result == pub
    assert server.seen == ["/publications/seed/"]
    assert len(caplog.records) == 1
    assert logged in caplog.records[0].getMessage()


def test_untrusted_certificate_degrades(server: LoopbackServer, session: requests.Session) -> None:
    server.routes["/publications/seed/"] = Page(body=SAMPLE_PAGE.read_bytes())
    pub = feed_pub(server.url("/publications/seed/"))
    # verify=True with no CA for the loopback certificate: TLS fails, the feed values stand.
    assert enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=True) == pub


# --- following the landing page to the full report (issue 12) --------------------------------

SLUG = "counter-terrorism-joint-inspection-national-security-division"
LANDING = DEMO / "sample_report_page.html"
FULL_HTML = DEMO / "sample_report_html.html"


def _landing(server: LoopbackServer, *, html_link: bool = True, pdf_url: str = "") -> bytes:
    """The seed landing page with its links pointing at the loopback server."""
    page = LANDING.read_text(encoding="utf-8")
    page = page.replace(
        f"https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/{SLUG}.pdf",
        pdf_url or server.url(f"/uploads/{SLUG}.pdf"),
    )
    if not html_link:
        page = page.replace(f'href="/publication-html/{SLUG}/"', 'href="/elsewhere/"')
    return page.encode("utf-8")


def _pub(link: str) -> Publication:
    return Publication(
        key=normalise_key(link),
        title="Counter Terrorism Joint Inspection",
        link=link,
        published_on=date(2023, 7, 20),
    )


def test_enrich_follows_the_landing_page_to_the_html_report(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes[f"/publications/{SLUG}/"] = Route(content_type=HTML, body=_landing(server))
    server.routes[f"/publication-html/{SLUG}/"] = Route(
        content_type=HTML, body=FULL_HTML.read_bytes()
    )
    pub = _pub(server.url(f"/publications/{SLUG}/"))
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert server.seen == [f"/publications/{SLUG}/", f"/publication-html/{SLUG}/"]
    assert [f.number for f in enriched.recommendations] == ["19", "20", "21"]
    assert enriched.recommendation_count == 21
    assert enriched.recommendations_left_out == 18


def test_enrich_reads_the_pdf_when_there_is_no_html_version(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes[f"/publications/{SLUG}/"] = Route(
        content_type=HTML, body=_landing(server, html_link=False)
    )
    server.routes[f"/uploads/{SLUG}.pdf"] = Route(
        content_type="application/pdf", body=build_report_pdf()
    )
    pub = _pub(server.url(f"/publications/{SLUG}/"))
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert server.seen == [f"/publications/{SLUG}/", f"/uploads/{SLUG}.pdf"]
    assert [f.number for f in enriched.recommendations] == ["1", "2"]
    assert enriched.recommendations_left_out == 2
    assert enriched.recommendation_count == 21  # the landing page's count wins


def test_enrich_tries_the_pdf_after_a_missing_html_version(
    server: LoopbackServer,
    session: requests.Session,
    tls: tuple[ssl.SSLContext, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.routes[f"/publications/{SLUG}/"] = Route(content_type=HTML, body=_landing(server))
    server.routes[f"/publication-html/{SLUG}/"] = Route(status=404, content_type=HTML)
    server.routes[f"/uploads/{SLUG}.pdf"] = Route(
        content_type="application/pdf", body=build_report_pdf()
    )
    pub = _pub(server.url(f"/publications/{SLUG}/"))
    with caplog.at_level(logging.INFO, logger="automation.reports"):
        enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert [f.number for f in enriched.recommendations] == ["1", "2"]
    assert "full report for" in caplog.text
    assert "HTTP 404" in caplog.text


def test_a_pdf_off_the_allowlist_is_not_read(
    server: LoopbackServer,
    session: requests.Session,
    tls: tuple[ssl.SSLContext, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    landing = _landing(server, html_link=False, pdf_url="https://example.org/uploads/r.pdf")
    server.routes[f"/publications/{SLUG}/"] = Route(content_type=HTML, body=landing)
    pub = _pub(server.url(f"/publications/{SLUG}/"))
    with caplog.at_level(logging.INFO, logger="automation.reports"):
        enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert server.seen == [f"/publications/{SLUG}/"]
    assert enriched.recommendations == ()
    assert enriched.recommendation_count == 21
    assert "host example.org is not in the allowed report hosts" in caplog.text


def test_an_unreadable_pdf_leaves_the_landing_page_values(
    server: LoopbackServer, session: requests.Session, tls: tuple[ssl.SSLContext, str]
) -> None:
    server.routes[f"/publications/{SLUG}/"] = Route(
        content_type=HTML, body=_landing(server, html_link=False)
    )
    server.routes[f"/uploads/{SLUG}.pdf"] = Route(content_type="application/pdf", body=b"%PDF-")
    pub = _pub(server.url(f"/publications/{SLUG}/"))
    enriched = enrich(pub, session, allowed_hosts=["127.0.0.1"], verify=tls[1])
    assert enriched == dataclasses.replace(
        pub,
        types=("Counter-terrorism and joint inspection",),
        forces=("N/A",),
        report_pdf_url=server.url(f"/uploads/{SLUG}.pdf"),
        recommendation_count=21,
    )
