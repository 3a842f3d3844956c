"""Hostile inputs through the real paths: feeds, report pages, templates, settings, tracker edits.

DESIGN.md §2: bad input gets a clear error naming the item and field, and the rest of the
batch goes on. Each case below ends in a clear error or a safe result; nothing crashes a run
and nothing is lost. The expensive end-to-end runs happen once per scenario (module-scoped
fixtures that snapshot what they saw) and the cases assert on the snapshot.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import functools
import io
import logging
import re
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import docx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter, HTTPAdapter

from automation import cli
from automation.app import App
from automation.documents import check_template, render_draft
from automation.domain.publications import HMICFRS_HOSTS as DEFAULT_REPORT_HOSTS
from automation.domain.record import TrackerRecord
from automation.drafts import build_draft
from automation.errors import FeedError, SettingsError, TemplateError
from automation.exitcodes import ExitCode
from automation.feed import fetch_feed, parse_feed
from automation.graph.tracker_list import record_from_item
from automation.jobs.intake import Intake
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.mailrender import CIRCULATION_TEMPLATES, MailRenderer, sample_context
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered, message_mime
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import DEFAULT_STAGES, PACKAGED_TEMPLATES, Settings, load_settings
from tests import feeds
from tests.bomb_server import gzip_bomb_server
from tests.service_env import make_settings
from tests.tenant_edits import edit_item, finish_draft

AS_OF = dt.date(2023, 8, 5)
HMICFRS = "https://hmicfrs.justiceinspectorates.gov.uk"
# The groups sent on approval (issue 11: HMICFRS and the Home Secretary on publication).
ON_APPROVAL = ("chief_constable", "panel", "website")
PUB_DATE = "Tue, 01 Aug 2023 10:00:00 +0000"
OURS = ("Inspection", "Norfolk Constabulary")
PROJECT_TEMPLATES = PACKAGED_TEMPLATES
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _item(slug: str, title: str, **overrides: Any) -> feeds.Item:
    values: dict[str, Any] = {
        "title": title,
        "link": f"{HMICFRS}/publications/{slug}/",
        "pub_date": PUB_DATE,
        "categories": OURS,
    }
    values.update(overrides)
    return feeds.Item(**values)


def _key(slug: str) -> str:
    return f"hmicfrs:/publications/{slug}"


def _atom(entries: list[tuple[str, str]]) -> bytes:
    """An Atom feed: (title, link) per entry, all updated on PUB_DATE's day."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>HMICFRS (Atom)</title>',
        f"<id>{HMICFRS}/atom</id><updated>2023-08-01T10:00:00Z</updated>",
    ]
    for title, link in entries:
        parts.append(
            f"<entry><title>{escape(title)}</title><link href={_attr(link)}/>"
            f"<id>{escape(link)}</id><updated>2023-08-01T10:00:00Z</updated>"
            '<category term="Norfolk Constabulary"/></entry>'
        )
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def _attr(value: str) -> str:
    return '"' + escape(value, {'"': "&quot;"}) + '"'


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\n" for ch in text)


# --- the hostile feed run ----------------------------------------------------------------------

RTL_TITLE = "Custody \u202egnp.exe\u202c review \u2066of\u2069 suites"
LONG_TITLE = ("Long title " * 1000)[:10_000]
# Escaped once more than markup: the publication's title *is* the text "<script>...".
SCRIPT_TEXT = "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %} Vetting"
SCRIPT_LITERAL = "<script>alert(1)</script> {{ 7*7 }} {% raw %} Vetting"
SCRIPT_MARKUP = "<script>alert(1)</script>Stop and search"
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title><item><title>&lol9;</title>
<link>https://hmicfrs.justiceinspectorates.gov.uk/publications/lol/</link>
<pubDate>Tue, 01 Aug 2023 10:00:00 +0000</pubDate><category>Norfolk Constabulary</category>
</item></channel></rss>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>Leak &xxe;</title>
<link>https://hmicfrs.justiceinspectorates.gov.uk/publications/xxe/</link>
<pubDate>Tue, 01 Aug 2023 10:00:00 +0000</pubDate><category>Norfolk Constabulary</category>
</item></channel></rss>"""
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>"
)
TWENTY_MB = 20 * 1024 * 1024


class LoopbackOnly(BaseAdapter):
    """Refuses every non-loopback request (the tests never touch the internet); remembers it."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.refused.append(str(request.url))
        raise requests.ConnectionError("test guard: no network beyond loopback")

    def close(self) -> None:
        return None


class LogLines(logging.Handler):
    """Keeps formatted log lines (any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextmanager
def captured_logs() -> Iterator[LogLines]:
    """INFO and above from the service's loggers, from every thread."""
    handler = LogLines()
    logger = logging.getLogger("automation")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def loopback_only(app: App) -> LoopbackOnly:
    """Route the app's feed/report session to loopback only; other hosts fail like a network."""
    guard = LoopbackOnly()
    app.http.mount("http://", guard)
    app.http.mount("https://", guard)
    app.http.mount("http://127.0.0.1:", HTTPAdapter())
    app.http.mount("https://127.0.0.1:", HTTPAdapter())
    return guard


def records_of(app: App) -> dict[str, TrackerRecord]:
    app.resolve()
    records = app.tracker.all()
    return {record.key: record for record in records}


def draft_paragraphs(app: App, record: TrackerRecord) -> list[str]:
    content = app.drive.download(app.resolve().drive_id, record.draft_item_id)
    return [paragraph.text for paragraph in docx.Document(io.BytesIO(content)).paragraphs]


def tasks_by_marker(app: App) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for task in app.planner.list_tasks(app.resolve().plan_id):
        marker = str(task["title"]).split("]", 1)[0].lstrip("[")
        out.setdefault(marker, []).append(task)
    return out


def circulation_emails(sandbox: Sandbox) -> dict[str, list[tuple[str, str]]]:
    """(subject, html) of each circulation email, by tracker item id."""
    out: dict[str, list[tuple[str, str]]] = {}
    for entry in delivered(sandbox.tenant):
        key = str(entry.get("key") or "")
        if not key.startswith("s55-circulation-"):
            continue
        mime = message_mime(sandbox.tenant, entry["mailbox"], entry["message_id"])
        message = email.message_from_bytes(mime, policy=email.policy.default)
        body = message.get_body(preferencelist=("html",))
        assert body is not None
        html = body.get_content()
        out.setdefault(key.split("-")[-2], []).append((str(entry["subject"]), str(html)))
    return out


@dataclass
class HostileRun:
    """What the hostile feed run did (a snapshot: the sandbox is reset by other tests)."""

    port: int
    urls: dict[str, str]
    first: RunReport
    second: RunReport
    expected_titles: dict[str, str]
    records: dict[str, TrackerRecord]
    drafts: dict[str, list[str]]
    tasks: dict[str, list[str]]
    emails: dict[str, list[tuple[str, str]]]
    logs: list[str]
    requested_paths: list[str]
    refused_urls: list[str]
    keys: dict[str, str] = field(default_factory=dict)

    def record(self, case: str) -> TrackerRecord:
        return self.records[self.keys[case]]


def _hostile_feeds(port: int) -> tuple[dict[str, bytes], dict[str, str]]:
    """Feed bodies by sandbox path, and tracker keys by case name."""
    loopback = f"https://127.0.0.1:{port}/publications/loopback/"
    userinfo = (
        f"https://hmicfrs.justiceinspectorates.gov.uk@127.0.0.1:{port}/publications/userinfo/"
    )
    main = feeds.rss(
        [
            _item("rtl", RTL_TITLE),
            _item("long", LONG_TITLE),
            _item("script-text", SCRIPT_TEXT),
            _item("script-markup", SCRIPT_MARKUP),
            _item("far-past", "From 1900", pub_date="Mon, 01 Jan 1900 10:00:00 +0000"),
            _item("far-future", "From 2999", pub_date="Tue, 01 Jan 2999 10:00:00 +0000"),
            _item("evil", "Elsewhere", link="https://evil.example/publications/evil/"),
            _item("loopback", "Loopback report page", link=loopback),
            _item("userinfo", "Userinfo report page", link=userinfo),
            _item(
                "js",
                "Script link",
                link="javascript:alert(1)",
                guid="urn:uuid:5f0c2f0e-0000-4000-8000-00000000beef",
            ),
            _item("duplicate", "Duplicate first", guid=f"{HMICFRS}/?p=4242"),
            _item("duplicate", "Duplicate second", guid=f"{HMICFRS}/?p=4242"),
            _item("same-report", "Same report (new host)"),
        ]
    )
    atom = _atom(
        [
            (
                "Same report (old host)",
                "http://www.justiceinspectorates.gov.uk/hmicfrs/publications/same-report/",
            ),
            ("Atom only", f"{HMICFRS}/publications/atom-only/"),
        ]
    )
    controls = (
        feeds.rss([_item("controls-raw", "Nul MARK1 here"), _item("controls-refs", "Esc MARK2 x")])
        .replace(b"MARK1", b"\x00\x07\x1b\x7f")
        .replace(b"MARK2", b"&#x1b;[31m&#0;")
    )
    bad_utf8 = feeds.rss([_item("bad-utf8", "Bad MARK3 bytes")]).replace(b"MARK3", b"\xff\xfe\xc3(")
    big = b'<?xml version="1.0"?><rss version="2.0"><channel><!-- '
    big += b"x" * TWENTY_MB + b" --></channel></rss>"
    bodies = {
        "/feed/": main,
        "/atom/": atom,
        "/empty/": feeds.rss([]),
        "/controls/": controls,
        "/bad-utf8/": bad_utf8,
        "/big/": big,
        "/laughs/": BILLION_LAUGHS,
        "/xxe/": EXTERNAL_ENTITY,
    }
    keys = {
        "rtl": _key("rtl"),
        "long": _key("long"),
        "script-text": _key("script-text"),
        "script-markup": _key("script-markup"),
        "evil": "evil.example/publications/evil",
        "loopback": f"127.0.0.1:{port}/publications/loopback",
        "userinfo": f"127.0.0.1:{port}/publications/userinfo",
        "js": "guid:urn:uuid:5f0c2f0e-0000-4000-8000-00000000beef",
        "duplicate": _key("duplicate"),
        "same-report": _key("same-report"),
        "atom-only": _key("atom-only"),
        "controls-raw": _key("controls-raw"),
        "controls-refs": _key("controls-refs"),
        "bad-utf8": _key("bad-utf8"),
    }
    return bodies, keys


@pytest.fixture(scope="module")
def hostile(_session_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    sandbox = _session_sandbox
    sandbox.reset()
    port = sandbox.port
    bodies, keys = _hostile_feeds(port)
    for path, body in bodies.items():
        sandbox.set_page(path, body)
    sandbox.set_page("/html/", HTML_PAGE, content_type="text/html")
    page = b"<html><body><p>Published on 1 August 2023</p><p>We made 9 recommendations.</p>"
    for path in ("/publications/loopback/", "/publications/userinfo/"):
        sandbox.set_page(path, page + b"</body></html>", content_type="text/html")
    expected = {pub.key: pub.title for pub in parse_feed(bodies["/feed/"], "https://x/")[0]}
    with gzip_bomb_server() as bomb_url, captured_logs() as logs:
        urls = {name.strip("/"): f"{sandbox.url}{name}" for name in [*bodies, "/html/"]}
        urls["gzip-bomb"] = bomb_url
        settings = make_settings(
            sandbox,
            tmp_path_factory.mktemp("hostile") / "state",
            feed_urls=list(urls.values()),
            fetch_report_pages=True,
            report_hosts=list(DEFAULT_REPORT_HOSTS),
        )
        app = App(settings)
        provision(app)
        guard = loopback_only(app)
        first = run_pass(app, today=AS_OF, reminders=False)
        filed = records_of(app)
        pcc = user_email("pcc")
        for slug in ("script-text", "js"):
            finish_draft(sandbox, app, filed[keys[slug]])
        edit_item(sandbox, app, filed[keys["script-text"]].item_id, pcc, {"Status": "Approved"})
        edit_item(
            sandbox,
            app,
            filed[keys["js"]].item_id,
            pcc,
            {"ReportUrl": "javascript:alert(1)", "Status": "Approved"},
        )
        again = App(settings)
        second_guard = loopback_only(again)
        second = run_pass(again, today=dt.date(2023, 8, 10), reminders=False)
        records = records_of(app)
        tasks = tasks_by_marker(app)
        key_of = {record.item_id: record.key for record in records.values()}
        outcome = HostileRun(
            port=port,
            urls=urls,
            first=first,
            second=second,
            expected_titles=expected,
            records=records,
            drafts={
                key: draft_paragraphs(app, record)
                for key, record in records.items()
                if record.draft_item_id
            },
            tasks={
                record.key: [str(task["title"]) for task in tasks.get(record.marker, [])]
                for record in records.values()
            },
            emails={
                key_of[item_id]: mails for item_id, mails in circulation_emails(sandbox).items()
            },
            logs=list(logs.lines),
            requested_paths=[str(entry["path"]) for entry in sandbox.request_log()],
            refused_urls=guard.refused + second_guard.refused,
            keys=keys,
        )
    errors = list(sandbox.handler_errors)
    sandbox.handler_errors.clear()
    assert not errors, errors
    return outcome


REFUSED_FEEDS = [
    pytest.param("big", r"body over 5000000 bytes", id="20MB-feed"),
    pytest.param("laughs", r"declares a DOCTYPE or ENTITY; refused", id="billion-laughs"),
    pytest.param("xxe", r"declares a DOCTYPE or ENTITY; refused", id="external-entity"),
    pytest.param("html", r"HTML page", id="html-instead-of-feed"),
    pytest.param("gzip-bomb", r"body over 5000000 bytes", id="gzip-bomb"),
]


@pytest.mark.parametrize(("name", "reason"), REFUSED_FEEDS)
def test_a_refused_feed_is_one_failure_naming_it(
    hostile: HostileRun, name: str, reason: str
) -> None:
    url = hostile.urls[name]
    [line] = [line for line in hostile.first.failures if line.startswith(f"{url}: ")]
    assert line.startswith(f"{url}: feed not read: ")
    assert re.search(reason, line), line


def test_only_the_refused_feeds_failed_and_the_rest_was_processed(hostile: HostileRun) -> None:
    refused = {hostile.urls[param.values[0]] for param in REFUSED_FEEDS}  # type: ignore[index]
    for report in (hostile.first, hostile.second):  # still refused, still alone, next run too
        assert {line.split(": ", 1)[0] for line in report.failures} == refused
        assert len(report.failures) == len(refused)
    assert set(hostile.records) == set(hostile.keys.values())
    for record in hostile.records.values():
        assert record.setup == "complete", record.key
        assert record.draft_item_id, record.key
        assert len(hostile.tasks[record.key]) == len(DEFAULT_STAGES), record.key


def test_external_entity_reads_no_file(hostile: HostileRun) -> None:
    everything = [*hostile.logs, *hostile.first.actions, *hostile.first.failures]
    everything += [record.title for record in hostile.records.values()]
    assert not any("root:" in line or "/bin/" in line for line in everything)
    assert _key("xxe") not in hostile.records
    assert _key("lol") not in hostile.records


def test_empty_and_atom_feeds_are_read(hostile: HostileRun) -> None:
    assert not any(line.startswith(hostile.urls["empty"]) for line in hostile.first.failures)
    assert hostile.record("atom-only").title == "Atom only"
    assert hostile.record("atom-only").police_forces == "Norfolk Constabulary"


@pytest.mark.parametrize(
    ("case", "feed"),
    [("controls-raw", "controls"), ("controls-refs", "controls"), ("bad-utf8", "bad-utf8")],
)
def test_control_characters_and_bad_bytes_give_clean_text(
    hostile: HostileRun, case: str, feed: str
) -> None:
    record = hostile.record(case)
    assert record.title
    assert not _has_control(record.title)
    assert not any(_has_control(line) for line in hostile.drafts[record.key])
    assert all(not _has_control(title) for title in hostile.tasks[record.key])
    assert any(f"feed {hostile.urls[feed]} is not well-formed" in line for line in hostile.logs)


def test_nul_title_keeps_its_words(hostile: HostileRun) -> None:
    assert hostile.record("controls-raw").title.split() == ["Nul", "here"]
    assert "\ufffd" not in hostile.record("bad-utf8").title
    assert hostile.record("bad-utf8").title.startswith("Bad ")


def test_right_to_left_overrides_are_removed(hostile: HostileRun) -> None:
    record = hostile.record("rtl")
    assert record.title == "Custody gnp.exe review of suites"
    assert f"Inspection Title: {record.title}" in hostile.drafts[record.key]
    texts = [record.title, *hostile.drafts[record.key], *hostile.tasks[record.key]]
    assert not any(BIDI & set(text) for text in texts)


def test_a_10000_character_title_fits_every_field(hostile: HostileRun) -> None:
    record = hostile.record("long")
    full = hostile.expected_titles[record.key]
    assert len(full) == 1000
    assert full.startswith("Long title Long title")
    assert len(record.title) <= 255
    assert record.title.startswith("Long title Long title")
    assert f"Inspection Title: {full}" in hostile.drafts[record.key]
    assert record.report["title"] == full
    assert all(len(title) <= 255 for title in hostile.tasks[record.key])


def test_script_and_jinja_text_stays_literal_in_tracker_and_draft(hostile: HostileRun) -> None:
    record = hostile.record("script-text")
    assert record.title == SCRIPT_LITERAL
    assert f"Inspection Title: {SCRIPT_LITERAL}" in hostile.drafts[record.key]
    assert not any("Inspection Title: 49" in line for line in hostile.drafts[record.key])


def test_script_markup_in_a_title_is_dropped(hostile: HostileRun) -> None:
    record = hostile.record("script-markup")
    assert record.title == "Stop and search"
    assert not any("alert" in line for line in hostile.drafts[record.key])


def test_script_and_jinja_are_escaped_in_the_circulation_emails(hostile: HostileRun) -> None:
    mails = hostile.emails[hostile.keys["script-text"]]
    assert len(mails) == len(ON_APPROVAL)
    for subject, html in mails:
        assert SCRIPT_LITERAL in subject
        assert "\n" not in subject
        assert "<script" not in html.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %} Vetting" in html


def test_javascript_links_are_never_linked(hostile: HostileRun) -> None:
    record = hostile.record("js")
    assert record.report["link"] == ""  # the feed's javascript: link was never kept
    assert any("link: not an http(s) address; ignored" in line for line in hostile.logs)
    mails = hostile.emails[record.key]
    assert len(mails) == len(ON_APPROVAL)
    for _subject, html in mails:
        assert "javascript:alert(1)" in html  # shown as text: the edited URL reached the mail
        assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", html, re.IGNORECASE)


@pytest.mark.parametrize(
    ("case", "host"),
    [("evil", "evil.example"), ("loopback", "127.0.0.1"), ("userinfo", "127.0.0.1")],
)
def test_report_pages_off_the_allowlist_are_not_read(
    hostile: HostileRun, case: str, host: str
) -> None:
    record = hostile.record(case)
    assert record.setup == "complete"
    assert record.recommendations is None  # the page says 9: it was not used
    refusal = f"report page for {record.key} not read: host {host} is not in the allowed"
    assert any(refusal in line for line in hostile.logs), refusal
    assert not any(path.startswith("/publications/") for path in hostile.requested_paths)
    # Enrichment was on: allowlisted pages were tried (and stopped by the test's guard).
    attempted = {urlsplit(url).hostname for url in hostile.refused_urls}
    assert attempted
    assert attempted <= set(DEFAULT_REPORT_HOSTS)


@pytest.mark.parametrize(
    ("slug", "day"), [("far-past", "1900-01-01"), ("far-future", "2999-01-01")]
)
def test_far_past_and_future_dates_are_not_filed(hostile: HostileRun, slug: str, day: str) -> None:
    assert _key(slug) not in hostile.records
    warnings = [line for line in hostile.logs if line.startswith("WARNING")]
    assert any(_key(slug) in line and day in line for line in warnings)


def test_duplicate_guids_file_one_item(hostile: HostileRun) -> None:
    assert hostile.record("duplicate").title == "Duplicate first"
    assert any("duplicate of an earlier entry" in line for line in hostile.logs)


def test_same_report_under_old_and_new_host_is_one_item(hostile: HostileRun) -> None:
    same = [record for record in hostile.records.values() if "same-report" in record.key]
    assert [record.title for record in same] == ["Same report (new host)"]


# --- gzip bomb, directly -----------------------------------------------------------------------


def test_gzip_bomb_is_stopped_while_inflating() -> None:
    with gzip_bomb_server() as url, requests.Session() as session:
        session.trust_env = False
        with pytest.raises(FeedError, match=r"body over 1000000 bytes") as caught:
            fetch_feed(session, url, cache=None, max_bytes=1_000_000)
    assert caught.value.url == url


# --- templates ---------------------------------------------------------------------------------


def _with_paragraph(template: Path, text: str) -> None:
    document = docx.Document(str(template))
    document.add_paragraph(text)
    document.save(str(template))


def test_unknown_placeholder_fails_the_draft_step_and_loses_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(PROJECT_TEMPLATES, templates)
    broken = templates / "section55_response.docx"
    _with_paragraph(broken, "Reviewed by {{ reviewer_name }}")
    [problem] = check_template(broken)
    assert "unknown placeholder(s) reviewer_name" in problem
    with pytest.raises(TemplateError, match=r"unknown placeholder\(s\) reviewer_name"):
        render_draft(broken, _context())

    settings = make_settings(sandbox, tmp_path / "state", templates_dir=templates)
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    key = "hmicfrs:/publications/counter-terrorism-joint-inspection"
    first = run_pass(app, today=AS_OF, reminders=False)
    assert first.failures
    assert all(line.startswith(f"{key}: ") and "reviewer_name" in line for line in first.failures)
    [record] = records_of(app).values()
    assert record.key == key
    assert record.setup == "filed"
    assert not record.draft_item_id
    assert tasks_by_marker(app) == {}

    shutil.copyfile(PROJECT_TEMPLATES / "section55_response.docx", broken)
    assert check_template(broken) == []
    second = run_pass(App(settings), today=AS_OF, reminders=False)
    assert second.failures == []
    [record] = records_of(app).values()
    assert record.setup == "complete"
    assert record.draft_item_id
    assert len(tasks_by_marker(app)[record.marker]) == len(settings.stages)
    assert any(line.startswith("Inspection Title: ") for line in draft_paragraphs(app, record))


def _context() -> Any:
    from automation.documents import DraftContext

    return DraftContext(
        pcc_area="Norfolk",
        force_name="Norfolk Constabulary",
        title="Vetting",
        published_on=dt.date(2023, 8, 1),
        publication_types="Inspection",
        police_forces="N/A",
        report_url=f"{HMICFRS}/publications/vetting/",
        deadline=dt.date(2023, 9, 25),
        deadline_rule_note="56 days",
    )


@pytest.mark.parametrize(
    "tag",
    ["{{ \u201cReport: \u201d ~ title }}", "{{ \u2018Report: \u2019 ~ title }}"],
    ids=["curly-double", "curly-single"],
)
def test_curly_quotes_inside_a_tag_still_render(tmp_path: Path, tag: str) -> None:
    template = tmp_path / "section55_response.docx"
    shutil.copyfile(PROJECT_TEMPLATES / "section55_response.docx", template)
    _with_paragraph(template, tag)
    assert check_template(template) == []
    content = render_draft(template, _context())
    paragraphs = [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]
    assert "Report: Vetting" in paragraphs


def test_other_quotes_inside_a_tag_are_a_named_syntax_error(tmp_path: Path) -> None:
    template = tmp_path / "section55_response.docx"
    shutil.copyfile(PROJECT_TEMPLATES / "section55_response.docx", template)
    _with_paragraph(template, "{{ \u201eReport\u201c ~ title }}")
    [problem] = check_template(template)
    assert problem.startswith("section55_response.docx: Jinja syntax error")
    with pytest.raises(TemplateError, match="Jinja syntax error"):
        render_draft(template, _context())


# --- settings ----------------------------------------------------------------------------------

SECRET = "hostile-settings-secret-9f8e7d"
GOOD_TOP = (
    'tenant_id = "contoso.onmicrosoft.com"\nforce_name = "Norfolk Constabulary"\n'
    f'pcc_area = "Norfolk"\nclient_id = "c"\nclient_secret = "{SECRET}"\n'
)
SETTINGS_CASES = [
    pytest.param(
        {"AUTOMATION_SCHEDULE__INTERVAL_MINUTES": "abc"},
        "",
        "",
        ["schedule.interval_minutes"],
        id="interval-abc",
    ),
    pytest.param(
        {}, 'feed_urls = "https://x.example/feed/"\n', "", ["feed_urls"], id="feed-urls-str"
    ),
    pytest.param(
        {}, "", '[recipients]\npanel = ["not-an-email"]\n', ["recipients"], id="recipients"
    ),
    pytest.param(
        {}, 'graph_url = "http://graph.example/v1.0"\n', "", ["graph_url"], id="http-graph"
    ),
    pytest.param(
        {"AUTOMATION_SCHEDULE__INTERVAL_MINUTES": "abc"},
        'feed_urls = "https://x.example/feed/"\ngraph_url = "http://graph.example/v1.0"\n',
        '[recipients]\npanel = ["not-an-email"]\n',
        ["schedule.interval_minutes", "feed_urls", "recipients", "graph_url"],
        id="all-at-once",
    ),
]


@pytest.mark.parametrize(("env", "top", "tables", "names"), SETTINGS_CASES)
def test_bad_settings_exit_2_with_one_line_per_problem(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    top: str,
    tables: str,
    names: list[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "bad.toml"
    config.write_text(GOOD_TOP + top + tables, encoding="utf-8")
    assert cli.main(["once", "--config", str(config)]) == ExitCode.CONFIG
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == len(names), lines
    for name in names:
        assert sum(f"setting {name}" in line for line in lines) == 1, (name, lines)
    assert SECRET not in out + err


def test_load_settings_names_the_problem_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_SCHEDULE__INTERVAL_MINUTES", "abc")
    with pytest.raises(SettingsError) as caught:
        load_settings(
            tenant_id="contoso.onmicrosoft.com",
            force_name="Norfolk Constabulary",
            pcc_area="Norfolk",
            client_id="c",
            client_secret=SECRET,
        )
    [line] = caught.value.problems
    assert "AUTOMATION_SCHEDULE__INTERVAL_MINUTES" in line
    assert SECRET not in str(caught.value)


# --- tracker items edited into impossible states ---------------------------------------------

EDITS: dict[str, dict[str, Any]] = {
    "approved-no-draft": {"Status": "Approved", "S55DraftItemId": ""},
    "published-cleared": {"PublishedOn": None},
    "deadline-before-publication": {"ResponseDeadline": "2023-07-01T23:00:00Z"},
    "tasks-not-json": {"S55Tasks": '{"draft": {"id": '},
    "yes-but-not-required": {"ResponseRequired": "Yes", "Status": "Not required"},
}


@dataclass
class EditedRun:
    """Items edited by a person into impossible states, and what the next runs did."""

    before: dict[str, TrackerRecord]
    after: dict[str, TrackerRecord]
    reports: list[RunReport]
    logs: list[str]
    task_ids: dict[str, list[str]]
    emails: dict[str, list[tuple[str, str]]]


@pytest.fixture(scope="module")
def edited(_session_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> EditedRun:
    sandbox = _session_sandbox
    sandbox.reset()
    slugs = [*EDITS, "untouched-approved"]
    sandbox.set_page("/feed/", feeds.rss([_item(slug, f"Edited: {slug}") for slug in slugs]))
    with captured_logs() as logs:
        settings = make_settings(sandbox, tmp_path_factory.mktemp("edited") / "state")
        app = App(settings)
        provision(app)
        assert run_pass(app, today=AS_OF, reminders=False).failures == []
        before = records_of(app)
        pcc = user_email("pcc")
        finish_draft(sandbox, app, before[_key("untouched-approved")])
        for slug, fields in EDITS.items():
            edit_item(sandbox, app, before[_key(slug)].item_id, pcc, fields)
        edit_item(
            sandbox, app, before[_key("untouched-approved")].item_id, pcc, {"Status": "Approved"}
        )
        reports = [
            run_pass(App(settings), today=dt.date(2023, 8, 20)),
            run_pass(App(settings), today=dt.date(2023, 8, 21)),
        ]
        after = records_of(app)
        tasks = tasks_by_marker(app)
        emails = circulation_emails(sandbox)
    errors = list(sandbox.handler_errors)
    sandbox.handler_errors.clear()
    assert not errors, errors
    return EditedRun(
        before=before,
        after=after,
        reports=reports,
        logs=list(logs.lines),
        task_ids={
            record.key: sorted(str(task["id"]) for task in tasks.get(record.marker, []))
            for record in after.values()
        },
        emails={record.key: emails.get(record.item_id, []) for record in after.values()},
    )


@pytest.mark.parametrize(
    ("slug", "fields"),
    [
        ("approved-no-draft", ["S55DraftItemId"]),
        ("published-cleared", ["PublishedOn"]),
        ("deadline-before-publication", ["ResponseDeadline"]),
        ("tasks-not-json", ["S55Tasks"]),
        ("yes-but-not-required", ["ResponseRequired", "Status"]),
    ],
)
def test_an_impossible_edit_is_named_with_item_and_field(
    edited: EditedRun, slug: str, fields: list[str]
) -> None:
    key = _key(slug)
    failures = [line for report in edited.reports for line in report.failures]
    warnings = [line for line in edited.logs if line.startswith(("WARNING", "ERROR"))]
    named = [line for line in [*failures, *warnings] if key in line]
    assert named, f"nothing names {key}"
    assert all(any(name in line for line in named) for name in fields), named
    assert key in edited.after  # still on the tracker: nothing lost


def test_only_the_item_without_a_draft_fails(edited: EditedRun) -> None:
    for report in edited.reports:
        assert report.failures
        assert all(_key("approved-no-draft") in line for line in report.failures)
    assert edited.emails[_key("approved-no-draft")] == []


def test_other_items_in_the_same_run_are_still_processed(edited: EditedRun) -> None:
    good = edited.after[_key("untouched-approved")]
    assert good.status == "Circulated"
    assert len(edited.emails[good.key]) == len(ON_APPROVAL)
    assert set(edited.after) == set(edited.before)


def test_unreadable_task_ids_are_found_again_without_duplicates(edited: EditedRun) -> None:
    key = _key("tasks-not-json")
    assert edited.after[key].tasks.keys() == edited.before[key].tasks.keys()
    assert {k: v["id"] for k, v in edited.after[key].tasks.items()} == {
        k: v["id"] for k, v in edited.before[key].tasks.items()
    }
    assert len(edited.task_ids[key]) == len(DEFAULT_STAGES)


# --- properties ----------------------------------------------------------------------------------

MARKUP_BITS = (
    "<",
    ">",
    "&",
    "&amp;",
    "&#0;",
    "&#x202e;",
    "]]>",
    "</item>",
    "<script>alert(1)</script>",
    "<SCRIPT src=x>",
    "{{ 7*7 }}",
    "{% raw %}",
    "{%",
    "}}",
    "\x00",
    "\x1b",
    "\r\n",
    "\u2028",
    "\u202e",
    "\ud800",
    "javascript:",
    "https://",
    "\u201c",
)
any_text = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(MARKUP_BITS)), max_size=10).map(
    "".join
)


@functools.cache
def _plain_settings() -> Settings:
    return load_settings(
        tenant_id="contoso.onmicrosoft.com",
        force_name="Norfolk Constabulary",
        pcc_area="Norfolk",
        client_id="c",
        client_secret="not-a-real-secret",
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=any_text, description=any_text, category=any_text, link=any_text, raw=st.booleans())
def test_any_feed_text_becomes_a_tracker_item_and_a_word_draft(
    title: str, description: str, category: str, link: str, raw: bool
) -> None:
    def put(text: str) -> str:
        return text if raw else escape(text)

    document = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><item>'
        f"<title>{put(title)}</title><link>{put(link)}</link>"
        f"<category>{put(category)}</category><category>N/A</category>"
        f"<description>{put(description)}</description>"
        f"<guid>{HMICFRS}/?p=1</guid><pubDate>Wed, 19 Jul 2023 23:01:00 +0000</pubDate>"
        "</item></channel></rss>"
    ).encode("utf-8", errors="surrogatepass")
    try:
        publications, _ = parse_feed(document, "https://x.example/feed/")
    except FeedError:
        return
    plain = _plain_settings()
    intake = Intake(cast(App, SimpleNamespace(settings=plain)), RunReport(), today=AS_OF)
    for publication in publications:
        fields = intake.item_fields(publication)
        for name in ("Title", "PublicationKey", "PublicationTypes", "PoliceForces"):
            assert len(fields[name]) <= 255, name
            assert not _has_control(fields[name]), name
        assert fields["Title"]
        record = record_from_item({"id": "7", "webUrl": "https://x/7", "fields": fields})
        content = build_draft(plain, record)
        paragraphs = [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]
        assert f"Inspection Title: {publication.title}" in paragraphs
        assert not any(BIDI & set(p) or _has_control(p) for p in paragraphs)


@functools.cache
def _renderer() -> MailRenderer:
    return MailRenderer(PROJECT_TEMPLATES / "email")


@settings(max_examples=40, deadline=None)
@given(title=any_text)
def test_any_title_renders_a_safe_circulation_email(title: str) -> None:
    for name in CIRCULATION_TEMPLATES:
        context = {**sample_context(name), "title": title, "report_url": title}
        mail = _renderer().render(name, context)
        assert "<script" not in mail.html.lower()
        assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", mail.html, re.IGNORECASE)
        assert "\n" not in mail.subject
        assert "\r" not in mail.subject
        assert len(mail.subject.splitlines()) == 1
