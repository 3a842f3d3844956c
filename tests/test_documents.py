"""Tests for the Word draft: template layout, rendering, sanitising, errors, file names."""

from __future__ import annotations

import importlib.util
import io
import logging
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.documents import (
    AFI_PROMPT,
    AFI_RESPONSE_PROMPT,
    CC_COMMENTS_PROMPT,
    KNOWN_PLACEHOLDERS,
    RECOMMENDATION_RESPONSE_PROMPT,
    RECOMMENDATIONS_PROMPT,
    DraftContext,
    check_template,
    draft_filename,
    format_long_date,
    render_draft,
    template_placeholders,
)
from automation.domain.publications import Finding
from automation.errors import TemplateError
from automation.settings import PACKAGED_TEMPLATES

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = PACKAGED_TEMPLATES / "section55_response.docx"
BUILDER = ROOT / "tools" / "make_template.py"

SEED_TITLE = (
    "Counter Terrorism Joint Inspection - National security division and multi-agency "
    "arrangements for the management of terrorist offenders in the wake of terrorist attacks"
)
SEED_URL = (
    "https://hmicfrs.justiceinspectorates.gov.uk/publications/"
    "counter-terrorism-joint-inspection-national-security-division/"
)
RULE_NOTE = "the last day of the 56-day period beginning with the day of publication"


def _f(*texts: str) -> tuple[Finding, ...]:
    """Findings the report does not number (numbered by position in the draft)."""
    return tuple(Finding(number="", text=text) for text in texts)


SEED = DraftContext(
    pcc_area="Norfolk",
    force_name="Norfolk Constabulary",
    title=SEED_TITLE,
    published_on=date(2023, 7, 20),
    publication_types="Counter-terrorism and joint inspection",
    police_forces="N/A",
    report_url=SEED_URL,
    deadline=date(2023, 9, 13),
    deadline_rule_note=RULE_NOTE,
    key_findings="The arrangements are broadly effective.",
    recommendations=_f(
        "Chief constables should review their processes.",
        "The Home Office should publish guidance.",
    ),
    recommendation_count=2,
    areas_for_improvement=(),
    afi_count=0,
)

LABELS = (
    "Inspection Title:",
    "Published on:",
    "Publication Types:",
    "Police Forces:",
    "Link to Report:",
    "Section 55 Response Deadline:",
)
# Issue 12 (C2): the "\u2610" glyphs became Word check boxes, which python-docx's paragraph
# text does not include: the line text follows the box after one space.
CHECKLIST = (
    " Forwarded to HMICFRS Section 55 Responses and submitted onto the HMICFRS portal",
    " Forwarded to Chief Constable",
    " Forwarded to Police and Crime Panel",
    " Published on OPCC website",
)
RESPONSE_HEADING = "PCC response to report and any Recommendations/Areas for Improvement"


def _open(data: bytes) -> Any:
    return docx.Document(io.BytesIO(data))


def _render(ctx: DraftContext = SEED, template: Path = TEMPLATE) -> Any:
    return _open(render_draft(template, ctx))


def _texts(document: Any) -> list[str]:
    return [p.text for p in document.paragraphs]


def _section(document: Any, heading: str) -> list[str]:
    """Texts of the paragraphs after ``heading`` up to the next heading."""
    out: list[str] = []
    inside = False
    for paragraph in document.paragraphs:
        if paragraph.style.name.startswith("Heading"):
            if inside:
                break
            inside = paragraph.text == heading
            continue
        if inside:
            out.append(paragraph.text)
    return out


def _paragraph(document: Any, prefix: str) -> Any:
    matches = [p for p in document.paragraphs if p.text.startswith(prefix)]
    assert len(matches) == 1, (prefix, [p.text for p in document.paragraphs])
    return matches[0]


def _bad_template(tmp_path: Path, *lines: str) -> Path:
    """A .docx with one paragraph (one run) per line."""
    document = docx.Document()
    for line in lines:
        document.add_paragraph().add_run(line)
    path = tmp_path / "bad.docx"
    document.save(str(path))
    return path


# --- the seed case ---------------------------------------------------------------------------


TITLE_LINE = (
    "Norfolk Police and Crime Commissioner's response to inspections of Norfolk Constabulary "
    "published by His Majesty's Inspectorate of Constabulary and Fire & Rescue Services "
    "(HMICFRS)"
)


def test_seed_renders_every_part_in_order() -> None:
    texts = _texts(_render())

    # Issue 12 changed the title (B2/C3: the office's title line, no subtitle), the statutory
    # sentence (C4: one sentence citing the 2017 amendment), the link (B3: the report's
    # title), the deadline (B5: no legal note), the key findings (B4: quoted and attributed),
    # a response prompt under each recommendation, the Chief Constable's comments section.
    assert texts[0] == TITLE_LINE
    assert texts[1].startswith("Section 55 of the Police Act 1996")
    assert "(as amended by section 37 of the Policing and Crime Act 2017)" in texts[1]
    assert "56 days" in texts[1]
    assert texts[2:] == [
        f"Inspection Title: {SEED_TITLE}",
        "Published on: 20 July 2023",
        "Publication Types: Counter-terrorism and joint inspection",
        "Police Forces: N/A",
        f"Link to Report: {SEED_TITLE}",
        "Section 55 Response Deadline: 13 September 2023",
        "Key Findings",
        "HMICFRS summarised its findings as: \u201cThe arrangements are broadly effective.\u201d",
        "Recommendations",
        "Recommendation 1: Chief constables should review their processes.",
        RECOMMENDATION_RESPONSE_PROMPT,
        "Recommendation 2: The Home Office should publish guidance.",
        RECOMMENDATION_RESPONSE_PROMPT,
        "Areas for Improvement",
        "There are no areas for improvement made.",
        "Chief Constable's comments",
        CC_COMMENTS_PROMPT,
        RESPONSE_HEADING,
        texts[-6],  # the prompt for the PCC's response, checked below
        "For Office Use Only",
        *CHECKLIST,
    ]
    assert texts[-6].startswith("[To be completed")


def test_document_properties_are_kept() -> None:
    properties = _render(replace(SEED, title="A & B")).core_properties
    assert properties.title == "Section 55 response"
    assert properties.subject == "Police and Crime Commissioner's response to an HMICFRS report"


def test_no_jinja_tags_survive_rendering() -> None:
    body = "\n".join(_texts(_render()))
    assert "{{" not in body
    assert "{%" not in body
    assert "}}" not in body


def test_labels_are_bold_runs_and_values_are_not() -> None:
    document = _render()
    for label in (*LABELS, "Recommendation 1:", "Recommendation 2:"):
        paragraph = _paragraph(document, label)
        first, *rest = paragraph.runs
        assert first.text == label
        assert first.bold is True
        assert rest
        assert all(not run.bold for run in rest), label


def test_headings_use_word_heading_styles() -> None:
    document = _render()
    styles = {p.text: p.style.name for p in document.paragraphs}
    assert styles[TITLE_LINE] == "Heading 1"
    for heading in (
        "Key Findings",
        "Chief Constable's comments",
        "Recommendations",
        "Areas for Improvement",
        RESPONSE_HEADING,
        "For Office Use Only",
    ):
        assert styles[heading] == "Heading 2", heading
    for label in LABELS:
        assert _paragraph(document, label).style.name == "Normal"


# --- recommendations, areas for improvement, key findings ------------------------------------


# Issue 12: a response prompt under each item, and a bracketed prompt (not "To be completed
# from the report.") when the items could not be read.
@pytest.mark.parametrize(
    ("recommendations", "count", "expected"),
    [
        ((), None, [RECOMMENDATIONS_PROMPT]),
        ((), 0, ["There are no recommendations made."]),
        ((), 13, ["The report makes 13 recommendations; see the report.", RECOMMENDATIONS_PROMPT]),
        ((), 1, ["The report makes 1 recommendation; see the report.", RECOMMENDATIONS_PROMPT]),
        (
            ("First.", "Second.", "Third."),
            None,
            [
                "Recommendation 1: First.",
                RECOMMENDATION_RESPONSE_PROMPT,
                "Recommendation 2: Second.",
                RECOMMENDATION_RESPONSE_PROMPT,
                "Recommendation 3: Third.",
                RECOMMENDATION_RESPONSE_PROMPT,
            ],
        ),
        (
            ("First.",),
            4,
            [
                "Recommendation 1: First.",
                RECOMMENDATION_RESPONSE_PROMPT,
                "The report makes 4 recommendations; only 1 is listed above. "
                "See the report for the rest.",
            ],
        ),
    ],
)
def test_recommendations_section(
    recommendations: tuple[str, ...], count: int | None, expected: list[str]
) -> None:
    ctx = replace(SEED, recommendations=_f(*recommendations), recommendation_count=count)
    assert _section(_render(ctx), "Recommendations") == expected


@pytest.mark.parametrize(
    ("afis", "count", "expected"),
    [
        ((), 0, ["There are no areas for improvement made."]),
        ((), None, [AFI_PROMPT]),
        (
            (),
            2,
            ["The report identifies 2 areas for improvement; see the report.", AFI_PROMPT],
        ),
        (
            ("Improve vetting.", "Improve training."),
            2,
            [
                "Area for Improvement 1: Improve vetting.",
                AFI_RESPONSE_PROMPT,
                "Area for Improvement 2: Improve training.",
                AFI_RESPONSE_PROMPT,
            ],
        ),
    ],
)
def test_areas_for_improvement_section(
    afis: tuple[str, ...], count: int | None, expected: list[str]
) -> None:
    ctx = replace(SEED, areas_for_improvement=_f(*afis), afi_count=count)
    document = _render(ctx)
    assert _section(document, "Areas for Improvement") == expected
    if afis:
        label = _paragraph(document, "Area for Improvement 1:").runs[0]
        assert label.text == "Area for Improvement 1:"
        assert label.bold is True


def test_missing_key_findings_get_a_placeholder_for_staff() -> None:
    section = _section(_render(replace(SEED, key_findings="  ")), "Key Findings")
    assert len(section) == 1
    assert section[0].startswith("[To be completed")


def test_multi_line_values_become_line_breaks() -> None:
    ctx = replace(SEED, key_findings="First finding.\r\nSecond finding.")
    assert _section(_render(ctx), "Key Findings") == [  # quoted since issue 12 (B4)
        "HMICFRS summarised its findings as: \u201cFirst finding.\nSecond finding.\u201d"
    ]


def test_empty_deadline_note_leaves_no_brackets() -> None:
    document = _render(replace(SEED, deadline_rule_note=""))
    assert (
        _paragraph(document, "Section 55 Response Deadline:").text
        == "Section 55 Response Deadline: 13 September 2023"
    )


# --- hostile values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "<script>alert('x')</script> & Co",
        "{{ 7*7 }}",
        "{% if %}",
        "{%p endfor %} {# comment #} {{ title }}",
        "</w:t></w:r><w:r><w:t>injected",
        'Tom & Jerry\'s "quoted" report',
    ],
)
def test_markup_and_template_syntax_in_values_appear_literally(value: str) -> None:
    ctx = replace(
        SEED,
        title=value,
        police_forces=value,
        key_findings=value,
        recommendations=_f(value),
        recommendation_count=1,
        areas_for_improvement=_f(value),
    )
    document = _render(ctx)
    assert _paragraph(document, "Inspection Title:").text == f"Inspection Title: {value}"
    assert _paragraph(document, "Police Forces:").text == f"Police Forces: {value}"
    # Issue 12: key findings quoted (B4), a response prompt under each item.
    assert _section(document, "Key Findings") == [
        f"HMICFRS summarised its findings as: \u201c{value}\u201d"
    ]
    assert _section(document, "Recommendations") == [
        f"Recommendation 1: {value}",
        RECOMMENDATION_RESPONSE_PROMPT,
    ]
    assert _section(document, "Areas for Improvement") == [
        f"Area for Improvement 1: {value}",
        AFI_RESPONSE_PROMPT,
    ]


@pytest.mark.parametrize(
    ("field", "ctx"),
    [
        ("title", replace(SEED, title="Bad\x00ti\x07tle\x1b")),
        ("pcc_area", replace(SEED, pcc_area="Nor\x0bfolk")),
        ("key_findings", replace(SEED, key_findings="Find\x0cings\ufffe")),
        ("recommendations[2]", replace(SEED, recommendations=_f("ok", "bad\x01one"))),
        ("areas_for_improvement[1]", replace(SEED, areas_for_improvement=_f("x\x7fy"))),
        ("publication_types", replace(SEED, publication_types="lone\ud800surrogate\uffff")),
    ],
)
def test_control_characters_are_stripped_with_a_warning_naming_the_field(
    field: str, ctx: DraftContext, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="automation.documents"):
        document = _render(ctx)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert field in warnings[0].getMessage()
    body = "\n".join(_texts(document))
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe]", body)
    if field == "title":
        assert "Inspection Title: Badtitle" in body
    if field == "recommendations[2]":
        assert "Recommendation 2: badone" in body


def test_warning_does_not_log_the_value(caplog: pytest.LogCaptureFixture) -> None:
    secretish = "Confidential title\x00 " + "x" * 500
    with caplog.at_level(logging.WARNING, logger="automation.documents"):
        _render(replace(SEED, title=secretish))
    assert caplog.records
    assert all("Confidential" not in r.getMessage() for r in caplog.records)


def test_bidi_override_characters_are_removed(caplog: pytest.LogCaptureFixture) -> None:
    title = "Report \u202egnp.exe\u202c and \u2067isolate\u2069"
    with caplog.at_level(logging.WARNING, logger="automation.documents"):
        document = _render(replace(SEED, title=title))
    text = _paragraph(document, "Inspection Title:").text
    assert text == "Inspection Title: Report gnp.exe and isolate"
    assert any("title" in r.getMessage() for r in caplog.records)


def test_right_to_left_text_itself_is_kept() -> None:
    title = "تقرير التفتيش \u200f report"
    document = _render(replace(SEED, title=title))
    assert _paragraph(document, "Inspection Title:").text == f"Inspection Title: {title}"


def test_a_ten_thousand_character_title_renders_in_full() -> None:
    title = ("Very long inspection title & more " * 400)[:10_000]
    document = _render(replace(SEED, title=title))
    assert _paragraph(document, "Inspection Title:").text == f"Inspection Title: {title}"


# --- template errors -------------------------------------------------------------------------


def test_unknown_placeholder_raises_template_error_naming_it(tmp_path: Path) -> None:
    template = _bad_template(tmp_path, "{{ title }}", "Owner: {{ response_ownr }}")
    with pytest.raises(TemplateError, match="response_ownr") as caught:
        render_draft(template, SEED)
    assert "bad.docx" in str(caught.value)
    problems = check_template(template)
    assert len(problems) == 1
    assert "response_ownr" in problems[0]


def test_curly_quote_comparing_unknown_name_is_reported(tmp_path: Path) -> None:
    template = _bad_template(tmp_path, "{% if x == \u201da\u201d %}yes{% endif %}")
    with pytest.raises(TemplateError, match=r"\bx\b"):
        render_draft(template, SEED)
    assert check_template(template)


@pytest.mark.parametrize(
    "tag",
    [
        "{{ \u201etitle\u201c }}",  # German low-high quotes: docxtpl does not convert them
        "{% if title == \u00aba\u00bb %}yes{% endif %}",  # guillemets
        "{{ title|replace(\u201ca\u2019, 'b') }}",  # mismatched after conversion
        "{% if title %}never closed",
        "{{ title ",
    ],
)
def test_syntax_errors_raise_template_error_with_line(tmp_path: Path, tag: str) -> None:
    template = _bad_template(tmp_path, "Intro paragraph", tag)
    with pytest.raises(TemplateError, match="syntax error") as caught:
        render_draft(template, SEED)
    message = str(caught.value)
    assert "bad.docx" in message
    assert re.search(r"line \d+", message)
    problems = check_template(template)
    assert len(problems) == 1
    assert "syntax error" in problems[0]
    with pytest.raises(TemplateError):
        template_placeholders(template)


def test_word_autocorrected_curly_quotes_inside_tags_still_work(tmp_path: Path) -> None:
    # Word turns "a" into “a” as staff type; docxtpl converts these back.
    template = _bad_template(
        tmp_path,
        "{% if police_forces == \u201cN/A\u201d %}national{% else %}force{% endif %}",
        "{{ title|replace(\u2018Joint\u2019, \u2018Combined\u2019) }}",
    )
    assert check_template(template) == []
    texts = _texts(_render(template=template))
    assert texts[0] == "national"
    assert texts[1].startswith("Counter Terrorism Combined Inspection")


def test_render_time_error_raises_template_error(tmp_path: Path) -> None:
    template = _bad_template(tmp_path, "{{ title.missing_attribute }}")
    with pytest.raises(TemplateError, match=r"bad\.docx"):
        render_draft(template, SEED)
    assert check_template(template)


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04broken"])
def test_unreadable_template_is_a_template_error(tmp_path: Path, content: bytes) -> None:
    template = tmp_path / "broken.docx"
    template.write_bytes(content)
    with pytest.raises(TemplateError, match=r"broken\.docx"):
        render_draft(template, SEED)
    problems = check_template(template)
    assert len(problems) == 1
    assert "broken.docx" in problems[0]


def test_missing_template_is_a_template_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.docx"
    with pytest.raises(TemplateError, match="cannot read"):
        render_draft(missing, SEED)
    assert check_template(missing) == [
        f"{missing}: cannot read the template: No such file or directory"
    ]


# --- the committed template ------------------------------------------------------------------


def test_real_template_passes_the_check() -> None:
    assert check_template(TEMPLATE) == []


def test_real_template_uses_only_known_placeholders() -> None:
    found = template_placeholders(TEMPLATE)
    assert found <= KNOWN_PLACEHOLDERS
    # Issue 12: the link is the report's title as a hyperlink (report_link, not the bare
    # report_url, B3) and the deadline has no legal note (deadline_rule_note, B5).
    assert {
        "pcc_area",
        "force_name",
        "title",
        "published_on",
        "publication_types",
        "police_forces",
        "report_link",
        "deadline",
        "key_findings",
        "recommendations",
        "areas_for_improvement",
    } <= found


def test_real_template_keeps_each_tag_within_one_run() -> None:
    document = docx.Document(str(TEMPLATE))
    for paragraph in document.paragraphs:
        for run in paragraph.runs:
            assert run.text.count("{{") == run.text.count("}}"), run.text
            assert run.text.count("{%") == run.text.count("%}"), run.text


def _structure(document: Any) -> list[tuple[str, list[tuple[str, bool | None]]]]:
    return [(p.style.name, [(r.text, r.bold) for r in p.runs]) for p in document.paragraphs]


def test_committed_template_matches_the_builder(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_template", BUILDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = tmp_path / "built.docx"
    assert module.main([str(built)]) == 0
    assert _structure(docx.Document(str(built))) == _structure(docx.Document(str(TEMPLATE)))


# --- dates and file names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 7, 20), "20 July 2023"),
        (date(2023, 9, 1), "1 September 2023"),
        (date(2024, 2, 29), "29 February 2024"),
        (date(1999, 12, 31), "31 December 1999"),
    ],
)
def test_format_long_date(day: date, expected: str) -> None:
    assert format_long_date(day) == expected


FORBIDDEN = set('"*:<>?/\\|#%~&{}')


def _assert_safe_filename(name: str) -> None:
    assert name.endswith(".docx")
    stem = name.removesuffix(".docx")
    assert stem
    assert len(stem) <= 120
    assert not FORBIDDEN & set(name)
    assert stem == stem.strip(" .")
    assert not re.search("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", name)
    assert "_vti_" not in name


def test_draft_filename_for_the_seed_title_is_cut_at_a_word() -> None:
    name = draft_filename(SEED_TITLE, date(2023, 7, 20))
    _assert_safe_filename(name)
    assert name.startswith(
        "2023-07-20 Counter Terrorism Joint Inspection - National security division"
    )
    assert name.endswith("\u2026.docx")
    stem = name.removesuffix("\u2026.docx")
    assert SEED_TITLE.startswith(stem.removeprefix("2023-07-20 "))
    assert not stem.endswith(" ")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("PEEL 2023-25", "2023-07-20 PEEL 2023-25.docx"),
        ("Policing: the next decade", "2023-07-20 Policing - the next decade.docx"),
        ("Fire & Rescue / Police", "2023-07-20 Fire and Rescue - Police.docx"),
        ('A "quoted" <title>? #1 100% ~ {x} *', "2023-07-20 A quoted title 1 100 x.docx"),
        ("  trailing dots...  ", "2023-07-20 trailing dots.docx"),
        ("", "2023-07-20 Section 55 response.docx"),
        ("...", "2023-07-20 Section 55 response.docx"),
        ('?*:"<>|', "2023-07-20 Section 55 response.docx"),
        ("Tab\tand\nnewline\x00 \u202eRTL", "2023-07-20 Tab and newline RTL.docx"),
        ("my_vti_folder", "2023-07-20 my_vti folder.docx"),
    ],
)
def test_draft_filename_cases(title: str, expected: str) -> None:
    name = draft_filename(title, date(2023, 7, 20))
    assert name == expected
    _assert_safe_filename(name)


@settings(max_examples=100, deadline=None)
@given(title=st.text(), day=st.dates())
def test_draft_filename_is_always_safe(title: str, day: date) -> None:
    name = draft_filename(title, day)
    _assert_safe_filename(name)
    assert name.startswith(f"{day.isoformat()} ")


# --- property: any Unicode renders -----------------------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    texts=st.fixed_dictionaries(
        {
            name: st.text(max_size=200)
            for name in (
                "pcc_area",
                "force_name",
                "title",
                "publication_types",
                "police_forces",
                "report_url",
                "deadline_rule_note",
                "key_findings",
            )
        }
    ),
    recommendations=st.lists(st.text(max_size=100), max_size=3).map(lambda t: _f(*t)),
    afis=st.lists(st.text(max_size=100), max_size=3).map(lambda t: _f(*t)),
    counts=st.tuples(st.none() | st.integers(0, 50), st.none() | st.integers(0, 50)),
)
def test_any_unicode_renders_a_document_python_docx_opens(
    texts: dict[str, str],
    recommendations: tuple[Finding, ...],
    afis: tuple[Finding, ...],
    counts: tuple[int | None, int | None],
) -> None:
    ctx = replace(
        SEED,
        recommendations=recommendations,
        recommendation_count=counts[0],
        areas_for_improvement=afis,
        afi_count=counts[1],
        **texts,
    )
    document = _render(ctx)
    texts_out = _texts(document)
    assert "For Office Use Only" in texts_out
    title_paragraph = next(t for t in texts_out if t.startswith("Inspection Title:"))
    expected = re.sub(
        "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]",
        "",
        texts["title"].replace("\r\n", "\n").replace("\r", "\n"),
    )
    for marker in ("{_{", "}_}", "{_%", "%_}"):  # docxtpl's own escapes, not ours
        if marker in expected:
            return
    assert title_paragraph == f"Inspection Title: {expected}"
