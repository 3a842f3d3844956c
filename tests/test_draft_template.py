"""The draft an office would publish (issue 12): page, language, format, links, prompts, boxes.

The acceptance case renders the seed report's draft from the report fixture (the demo's
publication-html page: recommendations 19-21 for Counter Terrorism Policing) through the
tracker record, as intake and `drafts.draft_context` do, and opens the .docx.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn

import automation
from automation.documents import (
    OFFICE_USE,
    PROMPT_STYLE,
    PROMPTS,
    RECOMMENDATION_RESPONSE_PROMPT,
    DraftContext,
    render_draft,
    tick_office_use,
)
from automation.domain.publications import Publication, normalise_key
from automation.domain.record import TrackerRecord
from automation.drafts import build_draft, draft_context
from automation.jobs.intake import report_json
from automation.reports import read_findings
from automation.reports.pages import finding_blocks, page_blocks
from automation.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "automation" / "templates" / "section55_response.docx"
FULL_HTML = Path(automation.__file__).parent / "demo_data" / "sample_report_html.html"
SEED_TITLE = (
    "Counter Terrorism Joint Inspection - National security division and multi-agency "
    "arrangements for the management of terrorist offenders in the wake of terrorist attacks"
)
SEED_URL = (
    "https://hmicfrs.justiceinspectorates.gov.uk/publications/"
    "counter-terrorism-joint-inspection-national-security-division/"
)
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"


def _settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {"force_name": "Norfolk Constabulary", "pcc_area": "Norfolk"}
    return Settings(
        tenant_id="contoso.onmicrosoft.com",
        client_id="c",
        client_secret="s",
        **{**values, **changes},
    )


def _seed_publication() -> Publication:
    blocks, _links = page_blocks(FULL_HTML.read_text(encoding="utf-8"))
    found = read_findings(finding_blocks(blocks))
    return Publication(
        key=normalise_key(SEED_URL),
        title=SEED_TITLE,
        link=SEED_URL,
        published_on=dt.date(2023, 7, 20),
        types=("Counter-terrorism and joint inspection",),
        forces=("N/A",),
        summary="This joint inspection examined the National Security Division. We have "
        "made 21 recommendations.",
        recommendation_count=21,
        recommendations=found.recommendations,
        recommendations_left_out=found.recommendations_left_out,
    )


def _record(pub: Publication, **changes: Any) -> TrackerRecord:
    base = TrackerRecord(
        item_id="1",
        etag="",
        web_url="",
        key=pub.key,
        title=pub.title,
        report_url=pub.link,
        published_on=pub.published_on,
        deadline=dt.date(2023, 9, 13),
        publication_types="; ".join(pub.types),
        police_forces="; ".join(pub.forces),
        response_required="Yes",
        status="Drafting",
        deadline_rule="statutory",
        report=json.loads(report_json(pub)),
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def seed_docx() -> bytes:
    return build_draft(_settings(), _record(_seed_publication()))


def _texts(content: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]


def _part(content: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        return package.read(name).decode("utf-8")


# --- the acceptance case ------------------------------------------------------------------


def test_seed_draft_numbers_recommendations_as_the_report_with_a_prompt_under_each(
    seed_docx: bytes,
) -> None:
    texts = _texts(seed_docx)
    start = texts.index("Recommendations")
    assert texts[start + 1].startswith("The report makes 21 recommendations; 3 are for policing")
    assert texts[start + 2].startswith(
        "Recommendation 19: The senior national coordinator should review the Registered "
        "Terrorism Offender Assessment Framework process"
    )
    assert texts[start + 3] == RECOMMENDATION_RESPONSE_PROMPT
    assert texts[start + 4].startswith("Recommendation 20: ")
    assert texts[start + 5] == RECOMMENDATION_RESPONSE_PROMPT
    assert texts[start + 6].startswith("Recommendation 21: ")
    assert texts[start + 7] == RECOMMENDATION_RESPONSE_PROMPT
    assert "Chief Constable's comments" in texts
    assert not any("Recommendation 1:" in t for t in texts)


def test_seed_draft_is_a4_en_gb_current_word_one_font(seed_docx: bytes) -> None:
    document = docx.Document(io.BytesIO(seed_docx))
    assert '<w:pgSz w:w="11906" w:h="16838"/>' in _part(seed_docx, "word/document.xml")  # A4
    styles = _part(seed_docx, "word/styles.xml")
    assert 'w:lang w:val="en-US"' not in styles
    assert 'w:lang w:val="en-GB"' in styles
    assert "asciiTheme" not in styles
    assert "majorHAnsi" not in styles
    settings = _part(seed_docx, "word/settings.xml")
    assert (
        'w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"'
        in settings
    )
    for name in ("Normal", "Heading 1", "Heading 2"):
        fonts = document.styles[name].element.rPr.rFonts
        assert fonts.get(qn("w:ascii")) == "Arial", name


def test_seed_draft_header_footer_and_properties(seed_docx: bytes) -> None:
    document = docx.Document(io.BytesIO(seed_docx))
    section = document.sections[0]
    header = section.header.paragraphs[0]
    assert header.text.startswith("Office of the Norfolk Police and Crime Commissioner")
    assert 'w:tag w:val="s55-logo"' in header._p.xml
    footer = section.footer.paragraphs[0]._p.xml
    assert 'w:instr=" PAGE ' in footer
    props = document.core_properties
    assert props.created is not None
    assert props.created.year >= 2023
    assert "docxtpl" not in (props.comments or "")
    assert props.identifier == normalise_key(SEED_URL)
    with zipfile.ZipFile(io.BytesIO(seed_docx)) as package:
        assert "docProps/thumbnail.jpeg" not in package.namelist()  # no blank-page thumbnail


def test_seed_draft_links_the_report_title_and_has_no_deadline_note(seed_docx: bytes) -> None:
    document = docx.Document(io.BytesIO(seed_docx))
    [link] = document.element.body.iter(qn("w:hyperlink"))
    rel = document.part.rels[link.get(qn("r:id"))]
    assert rel.is_external
    assert rel.target_ref == SEED_URL
    assert "".join(t.text for t in link.iter(qn("w:t"))) == SEED_TITLE
    texts = _texts(seed_docx)
    assert "Section 55 Response Deadline: 13 September 2023" in texts
    assert not any("56-day period" in t or "per section 55(5A)" in t for t in texts)


def test_hmicfrs_summary_is_quoted_and_attributed(seed_docx: bytes) -> None:
    texts = _texts(seed_docx)
    summary = texts[texts.index("Key Findings") + 1]
    assert summary.startswith("HMICFRS summarised its findings as: \u201cThis joint inspection")


def test_every_prompt_is_bracketed_and_carries_the_prompt_style(seed_docx: bytes) -> None:
    document = docx.Document(io.BytesIO(seed_docx))
    style = document.styles[PROMPT_STYLE]
    assert style.font.highlight_color is not None
    prompts = [p for p in document.paragraphs if p.text in PROMPTS]
    assert len(prompts) >= 5  # three responses, the CC's comments, the PCC's response, ...
    for paragraph in prompts:
        assert paragraph.text.startswith("[")
        assert paragraph.text.endswith("]")
        assert all(run.style.name == PROMPT_STYLE for run in paragraph.runs)
    for prompt in PROMPTS:
        assert prompt.startswith("[")
        assert prompt.endswith("]")


def test_office_use_boxes_are_word_check_boxes_that_tick(seed_docx: bytes) -> None:
    body = _part(seed_docx, "word/document.xml")
    assert body.count("<w14:checkbox>") == len(OFFICE_USE) == 4
    assert "\u2610 Forwarded" not in "\n".join(_texts(seed_docx))
    ticked = tick_office_use(
        seed_docx, {"ForwardedToChiefConstable", "ForwardedToHMICFRS"}
    )  # the HMICFRS line also needs the portal column
    document = docx.Document(io.BytesIO(ticked))
    states = {}
    for sdt in document.element.body.iter(qn("w:sdt")):
        tag = sdt.find(f"{qn('w:sdtPr')}/{qn('w:tag')}").get(qn("w:val"))
        checked = sdt.find(f"{qn('w:sdtPr')}/{{{W14}}}checkbox/{{{W14}}}checked")
        glyph = "".join(t.text for t in sdt.iter(qn("w:t")))
        states[tag] = (checked.get(f"{{{W14}}}val"), glyph)
    assert states == {
        "s55-office:ForwardedToHMICFRS+SubmittedToHMICFRSPortal": ("0", "\u2610"),
        "s55-office:ForwardedToChiefConstable": ("1", "\u2612"),
        "s55-office:ForwardedToPanel": ("0", "\u2610"),
        "s55-office:PublishedOnWebsite": ("0", "\u2610"),
    }
    again = tick_office_use(ticked, {"ForwardedToPanel"})
    assert _part(again, "word/document.xml").count('w14:val="1"') == 2  # earlier tick kept


def test_tick_office_use_refuses_what_is_not_a_word_document() -> None:
    with pytest.raises(ValueError, match="not a Word document"):
        tick_office_use(b"not a docx", {"ForwardedToPanel"})


# --- from the tracker record ---------------------------------------------------------------


def test_old_items_with_plain_text_recommendations_still_render() -> None:
    pub = _seed_publication()
    record = _record(pub)
    old_report = {**record.report, "recommendations": ["First.", "Second."]}
    ctx = draft_context(_settings(), replace(record, report=old_report))
    assert [(f.number, f.text) for f in ctx.recommendations] == [("", "First."), ("", "Second.")]
    texts = _texts(render_draft(TEMPLATE, ctx))
    assert "Recommendation 1: First." in texts


def test_nothing_extracted_says_so_with_a_prompt() -> None:
    pub = replace(
        _seed_publication(),
        recommendations=(),
        recommendations_left_out=0,
        recommendation_count=None,
    )
    texts = _texts(build_draft(_settings(), _record(pub)))
    after = texts[texts.index("Recommendations") + 1]
    assert after.startswith("[To be completed: the recommendations could not be read")
    assert after in PROMPTS


def test_a_pfcc_draft_for_its_own_fire_service_uses_the_fire_wording() -> None:
    link = "https://hmicfrs.justiceinspectorates.gov.uk/frs-assessment/frs-2023/essex/"
    pub = Publication(
        key=normalise_key(link),
        title="Essex County Fire and Rescue Service: Effectiveness, efficiency and people 2023-25",
        link=link,
        published_on=dt.date(2023, 7, 27),
        types=("Fire and rescue service inspection",),
    )
    settings = _settings(
        force_name="Essex Police",
        force_aliases=["Essex"],
        pcc_area="Essex",
        fire_and_rescue_service="Essex County Fire and Rescue Service",
    )
    texts = _texts(build_draft(settings, _record(pub, deadline=dt.date(2023, 9, 20))))
    assert texts[0].startswith(
        "Essex Police, Fire and Crime Commissioner's response to inspections of Essex County "
        "Fire and Rescue Service"
    )
    assert "Fire and Rescue National Framework" in texts[1]
    assert not any("Section 55" in t for t in texts)
    assert "Chief Fire Officer's comments" in texts
    assert "Response Deadline: 20 September 2023" in texts


def test_a_link_that_is_not_a_web_address_is_not_a_hyperlink() -> None:
    ctx = replace(
        draft_context(_settings(), _record(_seed_publication())), report_url="javascript:alert(1)"
    )
    document = docx.Document(io.BytesIO(render_draft(TEMPLATE, ctx)))
    assert list(document.element.body.iter(qn("w:hyperlink"))) == []
    assert f"Link to Report: {SEED_TITLE}" in [p.text for p in document.paragraphs]


def test_draft_context_defaults_fit_a_police_office() -> None:
    ctx = draft_context(_settings(), _record(_seed_publication()))
    assert isinstance(ctx, DraftContext)
    assert ctx.office_name == "Office of the Norfolk Police and Crime Commissioner"
    assert ctx.commissioner == "Police and Crime Commissioner"
    assert not ctx.fire
    assert [f.number for f in ctx.recommendations] == ["19", "20", "21"]
    assert ctx.recommendations_left_out == 18
