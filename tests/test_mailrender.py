"""Tests for the HTML email templates and their renderer."""

from __future__ import annotations

import logging
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from automation.errors import TemplateError
from automation.mailrender import TEMPLATE_NAMES, MailRenderer, RenderedMail, sample_context
from automation.settings import PACKAGED_TEMPLATES

EMAIL_DIR = PACKAGED_TEMPLATES / "email"
CIRCULATION = (
    "circulation_chief_constable",
    "circulation_panel",
    "circulation_website",
    "circulation_hmicfrs",
    "circulation_home_secretary",
)
HOSTILE_TITLE = "A & B <script>alert('x')</script>"


def circulation_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "title": "Counter Terrorism Joint Inspection",
        "published_on": "20 July 2023",
        "deadline": "13 September 2023",
        "report_url": "https://hmicfrs.justiceinspectorates.gov.uk/publications/ct-joint/",
        "draft_url": "https://opcc.sharepoint.com/sites/opcc/Drafts/2023-07-20%20CT.docx",
        "pdf_name": "2023-07-20 Counter Terrorism Joint Inspection.pdf",
        "tracker_url": "https://opcc.sharepoint.com/sites/opcc/Lists/S55/DispForm.aspx?ID=4",
        "pcc_area": "Norfolk",
        "force_name": "Norfolk Constabulary",
        "approved_by": "giles.orpen-smellie@opcc.example",
        "approved_on": "11 September 2023",
        "published_url": "https://www.opcc.example/s55/ct-joint/",
        "office_name": "Office of the Norfolk Police and Crime Commissioner",
        "commissioner": "Police and Crime Commissioner",
        "contact_name": "Priya Shah",
        "contact_phone": "01603 000000",
    }
    context.update(overrides)
    return context


def digest_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "stage",
        "what": "Chief Constable comments",
        "who": "Priya Shah",
        "due": "1 September 2023",
        "days": 3,
        "overdue": False,
    }
    row.update(overrides)
    return row


def digest_report(*rows: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "marker": "S55-7",
        "title": "PEEL 2023-25 Norfolk",
        "owner": "Priya Shah",
        "deadline": "7 September 2023",
        "overdue": any(row["overdue"] for row in rows),
        "tracker_url": "https://opcc.sharepoint.com/sites/opcc/Lists/S55/DispForm.aspx?ID=7",
        "draft_url": "https://opcc.sharepoint.com/sites/opcc/Drafts/peel.docx",
        "report_url": "https://hmicfrs.justiceinspectorates.gov.uk/peel-reports/norfolk-2023/",
        "rows": list(rows) or [digest_row()],
    }
    report.update(overrides)
    return report


def digest_context(*reports: dict[str, Any], manager: bool = False) -> dict[str, Any]:
    return {
        "recipient_name": "Alex Officer",
        "manager": manager,
        "today": "4 September 2023",
        "reports": list(reports),
        "attention": [],
        "items": [],
    }


class _Collector(HTMLParser):
    """Collects tags, attributes and text so tests can check structure, not substrings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs.extend(value or "" for name, value in attrs if name == "href")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def text_of(html: str) -> str:
    return " ".join(" ".join(parse(html).text).split())


@pytest.fixture
def renderer() -> MailRenderer:
    return MailRenderer(EMAIL_DIR)


# --- escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CIRCULATION)
def test_title_is_escaped_in_html_and_intact_in_subject(renderer: MailRenderer, name: str) -> None:
    mail = renderer.render(name, circulation_context(title=HOSTILE_TITLE))
    assert isinstance(mail, RenderedMail)
    assert HOSTILE_TITLE in mail.subject
    assert "&amp;" not in mail.subject
    assert "A &amp; B &lt;script&gt;" in mail.html
    assert "<script>" not in mail.html
    assert "script" not in parse(mail.html).tags
    assert HOSTILE_TITLE in text_of(mail.html)


def test_subject_is_one_line_without_control_characters(renderer: MailRenderer) -> None:
    title = "Line one\r\nLine two\x00\x1b \u202eevil\u2028end\ttab"
    mail = renderer.render("circulation_panel", circulation_context(title=title))
    assert mail.subject.endswith("Line one Line two evil end tab")
    assert "\n" not in mail.subject
    assert all(ord(ch) >= 0x20 for ch in mail.subject)
    assert "\u202e" not in mail.subject


def test_control_characters_are_removed_from_html_with_a_warning(
    renderer: MailRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="automation.mailrender"):
        mail = renderer.render("circulation_hmicfrs", circulation_context(title="Bad\x00\x08t"))
    assert "\x00" not in mail.html
    assert "\x08" not in mail.html
    assert "Badt" in mail.html
    assert any("circulation_hmicfrs" in r.getMessage() for r in caplog.records)


def test_very_long_title_gives_a_capped_subject(renderer: MailRenderer) -> None:
    mail = renderer.render("circulation_website", circulation_context(title="x" * 10_000))
    assert len(mail.subject) == 250
    assert mail.subject.endswith("\u2026")
    assert "x" * 10_000 in mail.html


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", " vbscript:x"]
)
def test_unsafe_link_schemes_are_not_linked(renderer: MailRenderer, url: str) -> None:
    mail = renderer.render(
        "circulation_website", circulation_context(report_url=url, draft_url=url)
    )
    hrefs = parse(mail.html).hrefs
    assert hrefs  # the tracker link is still there
    assert all(h.startswith(("https://", "http://", "mailto:")) for h in hrefs)


# --- every template --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CIRCULATION)
def test_circulation_templates_render_the_facts(renderer: MailRenderer, name: str) -> None:
    context = circulation_context()
    mail = renderer.render(name, context)
    text = text_of(mail.html)
    assert context["title"] in mail.subject
    assert context["title"] in text
    assert context["pdf_name"] in text
    assert "20 July 2023" in text
    assert "13 September 2023" in text
    assert "Norfolk" in text
    assert context["report_url"] in parse(mail.html).hrefs
    assert parse(mail.html).tags[:1] == ["html"]


def test_website_email_asks_to_publish_by_the_deadline(renderer: MailRenderer) -> None:
    mail = renderer.render("circulation_website", circulation_context())
    text = text_of(mail.html)
    assert "13 September 2023" in mail.subject
    assert "publish" in mail.subject.lower()
    assert "by 13 September 2023" in text
    assert ".docx" in text
    assert "PDF" in text
    hrefs = parse(mail.html).hrefs
    assert circulation_context()["draft_url"] in hrefs
    assert circulation_context()["tracker_url"] in hrefs


@pytest.mark.parametrize("name", ["circulation_panel", "circulation_hmicfrs"])
def test_external_recipients_get_no_internal_links(renderer: MailRenderer, name: str) -> None:
    context = circulation_context()
    hrefs = parse(renderer.render(name, context).html).hrefs
    assert context["draft_url"] not in hrefs
    assert context["tracker_url"] not in hrefs


def test_reminder_digest_lists_reports_with_their_rows(renderer: MailRenderer) -> None:
    reports = [
        digest_report(
            digest_row(),
            digest_row(what="Draft the response", due="7 September 2023", days=0),
        ),
        digest_report(
            digest_row(
                kind="deadline",
                what="Statutory deadline: publish the response",
                due="4 September 2023",
                days=-2,
                overdue=True,
            ),
            marker="S55-8",
            title="Vetting & counter-corruption <inspection>",
            draft_url="",
        ),
        digest_report(
            digest_row(what="PCC approval", who="Sarah Taylor", days=1),
            marker="S55-9",
            title="Custody inspection",
        ),
    ]
    mail = renderer.render("reminder_digest", digest_context(*reports))
    text = text_of(mail.html)
    # The subject counts reports, not rows.
    assert mail.subject == "Section 55 reminders: 3 reports need attention (1 overdue)"
    assert "Dear Alex Officer" in text
    assert "is yours" not in text
    assert "Vetting & counter-corruption <inspection>" in text
    assert "&lt;inspection&gt;" in mail.html
    assert "3 days left" in text
    assert "2 days overdue" in text
    assert "due today" in text
    assert "1 day left" in text
    assert "Owner: Priya Shah" in text
    assert "Sarah Taylor" in text  # whom the stage is with
    for what in ("Chief Constable comments", "Statutory deadline", "PCC approval"):
        assert what in text
    hrefs = parse(mail.html).hrefs
    assert hrefs.count(reports[0]["tracker_url"]) == 3  # once per report, not per row
    assert hrefs.count(reports[0]["draft_url"]) == 2  # the vetting report has no draft link
    assert hrefs.count(reports[0]["report_url"]) == 3
    positions = [text.index(report["title"]) for report in reports]
    assert positions == sorted(positions)


def test_reminder_digest_accepts_negative_days_for_overdue(renderer: MailRenderer) -> None:
    report = digest_report(digest_row(days=-1, overdue=True))
    mail = renderer.render("reminder_digest", digest_context(report))
    assert "1 day overdue" in text_of(mail.html)
    assert mail.subject == "Section 55 reminders: 1 report needs attention (1 overdue)"


def test_managers_digest_does_not_say_yours(renderer: MailRenderer) -> None:
    mail = renderer.render("reminder_digest", digest_context(digest_report(), manager=True))
    text = text_of(mail.html)
    assert "as manager" in text
    assert "Owner: Priya Shah" in text


def test_weekly_summary_lists_every_open_response(renderer: MailRenderer) -> None:
    overdue = digest_report(digest_row(days=-4, overdue=True), marker="S55-8", title="Vetting")
    context = {
        **digest_context(digest_report(), overdue, manager=True),
        "attention": [overdue],
    }
    mail = renderer.render("reminder_summary", context)
    text = text_of(mail.html)
    assert mail.subject == "Section 55 reminders: weekly summary, 2 open responses (1 overdue)"
    assert "weekly summary" in text
    assert "4 September 2023" in text
    assert "Open responses (2)" in text
    assert text.count("Vetting") == 2  # in the day's escalations and in the summary


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_sample_contexts_render(renderer: MailRenderer, name: str) -> None:
    mail = renderer.render(name, sample_context(name))
    assert mail.subject
    assert "</html>" in mail.html


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CIRCULATION)
def test_missing_variable_is_a_template_error(renderer: MailRenderer, name: str) -> None:
    context = circulation_context()
    del context["pdf_name"]
    with pytest.raises(TemplateError, match="pdf_name") as caught:
        renderer.render(name, context)
    assert name in str(caught.value)


def test_digest_row_missing_a_field_is_a_template_error(renderer: MailRenderer) -> None:
    row = digest_row()
    del row["due"]
    with pytest.raises(TemplateError, match="due"):
        renderer.render("reminder_digest", digest_context(digest_report(row)))


@pytest.mark.parametrize("name", ["no_such_email", "../templates/email/_base", "_base", ""])
def test_unknown_or_unsafe_names_are_template_errors(renderer: MailRenderer, name: str) -> None:
    with pytest.raises(TemplateError):
        renderer.render(name, circulation_context())


def test_check_passes_on_the_shipped_templates(renderer: MailRenderer) -> None:
    assert renderer.check() == []


@pytest.fixture
def editable_dir(tmp_path: Path) -> Path:
    target = tmp_path / "email"
    shutil.copytree(EMAIL_DIR, target)
    return target


def test_check_reports_a_syntax_error_with_file_and_line(editable_dir: Path) -> None:
    path = editable_dir / "circulation_panel.html.j2"
    path.write_text(path.read_text(encoding="utf-8") + "\n{% if title %}\n", encoding="utf-8")
    problems = MailRenderer(editable_dir).check()
    assert len(problems) == 1
    assert problems[0].startswith("circulation_panel.html.j2, line ")
    with pytest.raises(TemplateError, match="syntax error"):
        MailRenderer(editable_dir).render("circulation_panel", circulation_context())


def test_check_reports_a_misspelt_variable(editable_dir: Path) -> None:
    path = editable_dir / "circulation_hmicfrs.subject.j2"
    path.write_text("Response: {{ titel }}\n", encoding="utf-8")
    problems = MailRenderer(editable_dir).check()
    assert len(problems) == 1
    assert "circulation_hmicfrs.subject.j2" in problems[0]
    assert "titel" in problems[0]


def test_check_reports_a_missing_template(editable_dir: Path) -> None:
    (editable_dir / "reminder_digest.subject.j2").unlink()
    problems = MailRenderer(editable_dir).check()
    assert problems == [
        f"reminder_digest.subject.j2: template not found in {editable_dir}",
    ]


def test_check_reports_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert MailRenderer(missing).check() == [f"{missing}: email templates directory not found"]


def test_empty_subject_is_a_template_error(editable_dir: Path) -> None:
    (editable_dir / "circulation_panel.subject.j2").write_text("  \n", encoding="utf-8")
    with pytest.raises(TemplateError, match="subject is empty"):
        MailRenderer(editable_dir).render("circulation_panel", circulation_context())


def test_edited_template_is_used(editable_dir: Path) -> None:
    path = editable_dir / "circulation_chief_constable.html.j2"
    edited = path.read_text(encoding="utf-8").replace(
        "Dear Chief Constable,", "Dear Chief Constable {{ force_name }},"
    )
    path.write_text(edited, encoding="utf-8")
    mail = MailRenderer(editable_dir).render("circulation_chief_constable", circulation_context())
    assert "Dear Chief Constable Norfolk Constabulary," in text_of(mail.html)
