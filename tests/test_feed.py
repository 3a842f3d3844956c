"""The feed reader: parsing, and fetching from a loopback HTTP server."""

from __future__ import annotations

import gzip
import unicodedata
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import automation
from automation.errors import FeedError
from automation.feed import FeedCache, fetch_feed, parse_feed
from tests.loopback import LoopbackServer, Route, serving

FEED_URL = "https://hmicfrs.justiceinspectorates.gov.uk/feed/"
SAMPLE_FEED = Path(automation.__file__).parent / "demo_data" / "sample_feed.xml"


def rss(*items: str) -> bytes:
    body = "".join(items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>HMICFRS</title><link>https://hmicfrs.justiceinspectorates.gov.uk</link>{body}"
        "</channel></rss>"
    ).encode()


def item(
    title: str = "A report",
    link: str | None = "https://hmicfrs.justiceinspectorates.gov.uk/publications/a-report/",
    guid: str | None = "https://hmicfrs.justiceinspectorates.gov.uk/?p=1",
    pub_date: str | None = "Wed, 19 Jul 2023 23:01:00 +0000",
    categories: tuple[str, ...] = (),
    description: str = "",
    raw_title: bool = False,
) -> str:
    parts = [f"<title>{title if raw_title else escape(title)}</title>"]
    if link is not None:
        parts.append(f"<link>{escape(link)}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if pub_date is not None:
        parts.append(f"<pubDate>{pub_date}</pubDate>")
    parts.extend(f"<category><![CDATA[{c}]]></category>" for c in categories)
    if description:
        parts.append(f"<description><![CDATA[{description}]]></description>")
    return "<item>" + "".join(parts) + "</item>"


# --- parsing ---------------------------------------------------------------------------------


def test_sample_feed_parses_with_london_dates_types_and_forces() -> None:
    pubs, problems = parse_feed(SAMPLE_FEED.read_bytes(), FEED_URL)
    assert problems == []
    assert len(pubs) == 7
    seed = next(p for p in pubs if p.title.startswith("Counter Terrorism Joint Inspection"))
    assert seed.published_on == date(2023, 7, 20)  # 23:01 GMT on 19 July = 00:01 BST
    assert seed.types == ("Counter-terrorism and joint inspection",)
    assert seed.forces == ("N/A",)
    assert (
        seed.key
        == "hmicfrs:/publications/counter-terrorism-joint-inspection-national-security-division"
    )
    assert seed.guid == "https://hmicfrs.justiceinspectorates.gov.uk/?p=40987"
    assert seed.feed_url == FEED_URL
    assert "We have made 4 recommendations." in seed.summary
    norfolk = next(p for p in pubs if p.key == "hmicfrs:/peel-reports/norfolk-2023")
    assert norfolk.forces == ("Norfolk Constabulary",)
    assert all(date(2023, 7, 1) <= p.published_on <= date(2023, 8, 1) for p in pubs)


@pytest.mark.parametrize(
    ("pub_date", "london_date"),
    [
        ("Tue, 18 Jul 2023 23:30:00 GMT", date(2023, 7, 19)),  # summer: 00:30 BST next day
        ("Mon, 18 Dec 2023 23:30:00 GMT", date(2023, 12, 18)),  # winter: still 18 Dec
        ("Tue, 18 Jul 2023 22:59:00 +0000", date(2023, 7, 18)),
        ("Wed, 19 Jul 2023 00:01:00 +0100", date(2023, 7, 19)),
    ],
)
def test_pubdate_is_taken_on_the_london_calendar(pub_date: str, london_date: date) -> None:
    (pub,), _ = parse_feed(rss(item(pub_date=pub_date)), FEED_URL)
    assert pub.published_on == london_date


def test_atom_feed() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>HMICFRS</title><id>urn:hmicfrs</id><updated>2023-07-19T23:30:00Z</updated>
  <entry>
    <title type="html">PEEL 2023&#8211;25: &lt;b&gt;Norfolk&lt;/b&gt; Constabulary</title>
    <link rel="alternate" href="https://www.justiceinspectorates.gov.uk/hmicfrs/peel-reports/norfolk-2023/"/>
    <id>tag:hmicfrs,2023:norfolk</id>
    <updated>2023-07-19T23:30:00Z</updated>
    <category term="PEEL"/>
    <category term="norfolk-constabulary" label="Norfolk Constabulary"/>
    <summary type="html">&lt;p&gt;How good is &lt;em&gt;Norfolk&lt;/em&gt;?&lt;/p&gt;</summary>
  </entry>
</feed>"""
    (pub,), problems = parse_feed(atom, FEED_URL)
    assert problems == []
    assert pub.title == "PEEL 2023\u201325: Norfolk Constabulary"
    assert pub.key == "hmicfrs:/peel-reports/norfolk-2023"
    assert pub.published_on == date(2023, 7, 20)
    assert pub.types == ("PEEL",)
    assert pub.forces == ("Norfolk Constabulary",)
    assert pub.summary == "How good is Norfolk?"
    assert pub.guid == "tag:hmicfrs,2023:norfolk"


def test_relative_links_resolve_against_the_feed() -> None:
    (pub,), _ = parse_feed(rss(item(link="/publications/relative/")), FEED_URL)
    assert pub.link == "https://hmicfrs.justiceinspectorates.gov.uk/publications/relative/"


def test_unsafe_titles_and_descriptions_become_safe_text() -> None:
    nasty = item(
        title="Report\u202e gnp.exe \u2066&lt;script&gt;alert(1)&lt;/script&gt; "
        "&lt;b&gt;x&lt;/b&gt;",
        raw_title=True,
        description="<p>Hi<script>steal()</script></p><img src=x onerror=alert(1)>there",
    )
    control = item(
        title="Tab\there",
        link="https://hmicfrs.justiceinspectorates.gov.uk/publications/b/",
        guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=2",
    ).replace("Tab\there", "Tab\there\x0b and \x1b[31mnext&#x202e;")
    pubs, problems = parse_feed(rss(nasty, control), FEED_URL)
    assert problems == []
    first, second = pubs
    assert first.title == "Report gnp.exe x"
    assert "<" not in first.title
    assert "script" not in first.summary
    assert first.summary == "Hi there"
    assert second.title == "Tab here and [31mnext"


def test_long_titles_are_truncated() -> None:
    (pub,), _ = parse_feed(rss(item(title="word " * 500)), FEED_URL)
    assert len(pub.title) == 1000
    assert pub.title.endswith("…")


def test_missing_fields_are_named_and_good_items_survive() -> None:
    feed = rss(
        item(title="Good one"),
        item(title="No identity", link=None, guid=None),
        item(
            title="No date",
            link="https://hmicfrs.justiceinspectorates.gov.uk/publications/c/",
            pub_date=None,
        ),
        item(
            title="Bad date",
            link="https://hmicfrs.justiceinspectorates.gov.uk/publications/d/",
            pub_date="sometime soon",
        ),
        item(
            title="Guid only",
            link=None,
            guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=77",
        ),
    )
    pubs, problems = parse_feed(feed, FEED_URL)
    assert [p.title for p in pubs] == ["Good one", "Guid only"]
    assert pubs[1].key == "hmicfrs:/?p=77"
    assert problems == [
        'item 2 "No identity": link/guid: missing; entry skipped',
        'item 3 "No date": date: no usable pubDate/published/updated; entry skipped',
        'item 4 "Bad date": date: no usable pubDate/published/updated; entry skipped',
    ]


def test_duplicates_keep_the_first_even_across_old_and_new_host() -> None:
    feed = rss(
        item(title="First", guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=1"),
        item(
            title="Same report on the old site",
            link="http://www.justiceinspectorates.gov.uk/hmicfrs/publications/a-report?utm_source=x",
            guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=9",
        ),
        item(
            title="Duplicate guid, no link",
            link=None,
            guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=5",
        ),
        item(
            title="Duplicate guid again",
            link=None,
            guid="https://hmicfrs.justiceinspectorates.gov.uk/?p=5",
        ),
    )
    pubs, problems = parse_feed(feed, FEED_URL)
    assert [p.title for p in pubs] == ["First", "Duplicate guid, no link"]
    assert len(problems) == 2
    assert problems[0].startswith('item 2 "Same report on the old site": guid/link: duplicate')
    assert "hmicfrs:/publications/a-report" in problems[0]
    assert problems[1].startswith('item 4 "Duplicate guid again": guid/link: duplicate')


def test_non_http_links_are_not_kept() -> None:
    feed = rss(item(title="JS", link="javascript:alert(1)", guid="urn:uuid:1"))
    (pub,), problems = parse_feed(feed, FEED_URL)
    assert pub.link == ""
    assert pub.key == "guid:urn:uuid:1"
    assert problems == ['item 1 "JS": link: not an http(s) address; ignored']


def test_national_categories_and_unknown_categories() -> None:
    feed = rss(item(categories=("National thematic", "Not applicable", "Uncategorized", "Vetting")))
    (pub,), _ = parse_feed(feed, FEED_URL)
    assert pub.forces == ("N/A",)
    assert pub.types == ("National thematic", "Vetting")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "HTML page"),
        (b"<html><head></head><body>Sorry</body></html>", "HTML page"),
        (b"<<<>>> not xml", "malformed XML"),
        (b"<rss version='2.0'><channel><title>t</channel></rss", "malformed XML"),
        (b"<?xml version='1.0'?><note><to>you</to></note>", "not an RSS or Atom feed"),
        # feedparser's lenient parser raises KeyError on this; it must surface as a FeedError.
        (
            b"<rss version='2.0'><channel><item><title></title><link></ITEM</link>"
            b"</item></channel></rss>",
            "malformed XML: the parser failed",
        ),
    ],
)
def test_feed_level_failures(content: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message) as caught:
        parse_feed(content, FEED_URL)
    assert caught.value.url == FEED_URL


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss version="2.0"><channel><item><title>&lol3;</title><link>https://e.org/a</link>
<pubDate>Wed, 19 Jul 2023 23:01:00 +0000</pubDate></item></channel></rss>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><link>https://e.org/a</link>
<pubDate>Wed, 19 Jul 2023 23:01:00 +0000</pubDate></item></channel></rss>"""


@pytest.mark.parametrize(
    "content",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        EXTERNAL_ENTITY.decode().replace('<?xml version="1.0"?>', "").encode("utf-16"),
    ],
    ids=["billion-laughs", "external-entity", "utf-16-external-entity"],
)
def test_dtd_and_entities_are_refused(content: bytes) -> None:
    with pytest.raises(FeedError, match="declares a DOCTYPE or ENTITY; refused"):
        parse_feed(content, FEED_URL)


def test_feedparser_is_never_handed_a_path() -> None:
    # feedparser opens a bytes argument as a file if such a file exists; we pass a stream.
    with pytest.raises(FeedError, match=r"malformed XML|not an RSS"):
        parse_feed(str(SAMPLE_FEED).encode(), FEED_URL)


MARKUP_BITS = (
    "<",
    ">",
    "&",
    "&amp;",
    "&#0;",
    "&#x202e;",
    "&bogus;",
    "]]>",
    "<![CDATA[",
    "</item>",
    "<item>",
    "</channel>",
    "<script>alert(1)</script>",
    "<!DOCTYPE x>",
    '<!ENTITY e "e">',
    "\x00",
    "\x1b",
    "\u202e",
    "\ud800",
    "javascript:",
    "https://",
    "//",
    "?p=",
    "#",
    " ",
)
field_text = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(MARKUP_BITS)), max_size=12
).map("".join)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    title=field_text,
    description=field_text,
    category=field_text,
    link=field_text,
    raw=st.booleans(),
)
def test_any_field_text_never_crashes(
    title: str, description: str, category: str, link: str, raw: bool
) -> None:
    def put(text: str) -> str:
        return text if raw else escape(text)

    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><item>'
        f"<title>{put(title)}</title><link>{put(link)}</link>"
        f"<category>{put(category)}</category><description>{put(description)}</description>"
        "<guid>https://hmicfrs.justiceinspectorates.gov.uk/?p=1</guid>"
        "<pubDate>Wed, 19 Jul 2023 23:01:00 +0000</pubDate></item></channel></rss>"
    ).encode("utf-8", errors="surrogatepass")
    try:
        pubs, problems = parse_feed(doc, FEED_URL)
    except FeedError:
        return  # a feed-level failure is an allowed outcome
    for pub in pubs:
        assert 0 < len(pub.key) <= 255
        assert len(pub.title) <= 1000
        assert len(pub.summary) <= 4000
        assert not any(unicodedata.category(ch) == "Cc" for ch in pub.title)
        assert not any("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" for ch in pub.title)
    assert all(isinstance(p, str) and p for p in problems)


# --- fetching from a loopback server --------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serving() as srv:
        yield srv


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


XML = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def test_fetch_returns_publications_and_validators(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/feed/"] = Route(
        body=SAMPLE_FEED.read_bytes(),
        headers={**XML, "ETag": '"v1"', "Last-Modified": "Tue, 01 Aug 2023 08:00:00 GMT"},
    )
    result = fetch_feed(session, server.url("/feed/"), cache=None, verify=False)
    assert not result.not_modified
    assert len(result.publications) == 7
    assert result.problems == ()
    assert result.cache == FeedCache(etag='"v1"', last_modified="Tue, 01 Aug 2023 08:00:00 GMT")
    ((_, headers),) = server.requests
    assert "If-None-Match" not in headers
    assert headers["User-Agent"].startswith("opcc-s55-automation/")


def test_304_sends_validators_and_keeps_the_cache(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/feed/"] = Route(status=304, content_length=False)
    cache = FeedCache(etag='"v1"', last_modified="Tue, 01 Aug 2023 08:00:00 GMT")
    result = fetch_feed(session, server.url("/feed/"), cache=cache, verify=False)
    assert result.not_modified
    assert result.publications == ()
    assert result.cache == cache
    ((_, headers),) = server.requests
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Tue, 01 Aug 2023 08:00:00 GMT"


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(status=500, body=b"oops"), "HTTP 500 Internal Server Error"),
        (Route(status=404, body=b"gone"), "HTTP 404 Not Found"),
        (Route(body=b"", headers=XML), "empty body"),
        (
            Route(
                body=b"<html><body>Please log in</body></html>",
                headers={"Content-Type": "text/html"},
            ),
            "got an HTML page (Content-Type text/html)",
        ),
        (Route(body=b"<rss><channel><item>", headers=XML), "malformed XML"),
        (Route(body=BILLION_LAUGHS, headers=XML), "declares a DOCTYPE or ENTITY"),
        (Route(body=EXTERNAL_ENTITY, headers=XML), "declares a DOCTYPE or ENTITY"),
    ],
    ids=["500", "404", "empty", "html", "malformed", "xml-bomb", "external-entity"],
)
def test_fetch_failures_name_the_url_and_reason(
    server: LoopbackServer, session: requests.Session, route: Route, message: str
) -> None:
    server.routes["/feed/"] = route
    url = server.url("/feed/")
    with pytest.raises(FeedError) as caught:
        fetch_feed(session, url, cache=None, verify=False)
    assert message in caught.value.reason
    assert caught.value.url == url
    assert url in str(caught.value)


def test_timeout(server: LoopbackServer, session: requests.Session) -> None:
    server.routes["/feed/"] = Route(body=rss(item()), headers=XML, delay=2.0)
    with pytest.raises(FeedError, match="timed out"):
        fetch_feed(session, server.url("/feed/"), cache=None, timeout=(1.0, 0.2), verify=False)


def test_connection_refused(session: requests.Session) -> None:
    with LoopbackServer() as closed:
        url = closed.url("/feed/")
    with pytest.raises(FeedError, match="could not connect"):
        fetch_feed(session, url, cache=None, timeout=(1.0, 1.0), verify=False)


def test_oversize_body_with_content_length(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/feed/"] = Route(body=b" " * 20_000 + rss(item()), headers=XML)
    with pytest.raises(FeedError, match=r"body over 10000 bytes \(Content-Length"):
        fetch_feed(session, server.url("/feed/"), cache=None, max_bytes=10_000, verify=False)


def test_oversize_body_without_content_length(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/feed/"] = Route(
        body=rss(item(description="x" * 200_000)), headers=XML, content_length=False
    )
    with pytest.raises(FeedError, match=r"body over 100000 bytes$"):
        fetch_feed(session, server.url("/feed/"), cache=None, max_bytes=100_000, verify=False)


def test_gzip_bomb_is_stopped_while_inflating(
    server: LoopbackServer, session: requests.Session
) -> None:
    bomb = gzip.compress(rss(item(description="A" * 30_000_000)), compresslevel=9)
    assert len(bomb) < 100_000
    server.routes["/feed/"] = Route(body=bomb, headers={**XML, "Content-Encoding": "gzip"})
    with pytest.raises(FeedError, match="body over 1000000 bytes"):
        fetch_feed(session, server.url("/feed/"), cache=None, max_bytes=1_000_000, verify=False)


def test_gzip_feed_within_limits_is_read(server: LoopbackServer, session: requests.Session) -> None:
    body = gzip.compress(SAMPLE_FEED.read_bytes())
    server.routes["/feed/"] = Route(body=body, headers={**XML, "Content-Encoding": "gzip"})
    result = fetch_feed(session, server.url("/feed/"), cache=None, verify=False)
    assert len(result.publications) == 7


def test_item_problems_come_back_with_the_good_items(
    server: LoopbackServer, session: requests.Session
) -> None:
    server.routes["/feed/"] = Route(
        body=rss(item(title="Good"), item(title="Undated", pub_date=None, link="https://e.org/u")),
        headers=XML,
    )
    result = fetch_feed(session, server.url("/feed/"), cache=None, verify=False)
    assert [p.title for p in result.publications] == ["Good"]
    assert result.problems == (
        'item 2 "Undated": date: no usable pubDate/published/updated; entry skipped',
    )


def test_verify_is_passed_on_each_request() -> None:
    # REQUESTS_CA_BUNDLE would override Session.verify; the reader passes verify= itself.
    seen: dict[str, object] = {}

    class Recorder(requests.Session):
        def get(self, url: str | bytes, **kwargs: object) -> requests.Response:
            seen.update(kwargs)
            raise requests.ConnectionError("stop here")

    with Recorder() as recorder, pytest.raises(FeedError):
        fetch_feed(recorder, "https://feed.invalid/", cache=None, verify="/path/ca.pem")
    assert seen["verify"] == "/path/ca.pem"
    assert seen["timeout"] == (5, 20)
    assert seen["stream"] is True
