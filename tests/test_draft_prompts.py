"""The approval gate's draft check: prompts by style and by text, findings without a response."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import docx
import pytest
from docx.oxml.ns import qn

from automation.documents import (
    PROMPT_STYLE,
    PROMPTS,
    DraftContext,
    fill_prompts,
    inspect_draft,
    render_draft,
)
from automation.domain.publications import Finding
from automation.settings import PACKAGED_TEMPLATES

TEMPLATE = PACKAGED_TEMPLATES / "section55_response.docx"
CONTEXT = DraftContext(
    pcc_area="Norfolk",
    force_name="Norfolk Constabulary",
    title="Counter terrorism",
    published_on=date(2023, 7, 20),
    publication_types="Joint inspection",
    police_forces="N/A",
    report_url="https://hmicfrs.justiceinspectorates.gov.uk/publications/ct/",
    deadline=date(2023, 9, 13),
    deadline_rule_note="",
    key_findings="Findings.",
    recommendations=(Finding(number="19", text="Review."), Finding(number="20", text="Act.")),
    recommendation_count=2,
    afi_count=0,
)


@pytest.fixture
def draft() -> bytes:
    return render_draft(TEMPLATE, CONTEXT)


def _edit(content: bytes, change: object) -> bytes:
    document = docx.Document(io.BytesIO(content))
    change(document)  # type: ignore[operator]
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_the_rendered_template_is_unfinished(draft: bytes) -> None:
    check = inspect_draft(draft)
    assert not check.finished
    assert check.unanswered == ("Recommendation 19", "Recommendation 20")
    assert len(check.prompts) == 2  # the Chief Constable's comments and the overall response
    assert check.problems()[0] == "no response under Recommendation 19, Recommendation 20"


def test_a_filled_draft_is_finished(draft: bytes) -> None:
    filled = fill_prompts(draft, lambda prompt: "We accept this.")
    assert inspect_draft(filled).finished
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(filled)).paragraphs)
    assert "We accept this." in text
    assert not any(prompt in text for prompt in PROMPTS)


def test_a_prompt_text_in_plain_style_is_found(draft: bytes) -> None:
    filled = fill_prompts(draft, lambda prompt: "Done.")

    def add_prompt(document: docx.document.Document) -> None:
        document.add_paragraph(PROMPTS[-1])  # pasted back as plain text

    check = inspect_draft(_edit(filled, add_prompt))
    assert len(check.prompts) == 1
    assert check.styled == ()


def test_text_typed_over_a_prompt_keeps_its_highlight_and_is_found(draft: bytes) -> None:
    def type_over(document: docx.document.Document) -> None:
        ids = {s.style_id for s in document.styles if s.name == PROMPT_STYLE}
        for run in document.element.body.iter(qn("w:r")):
            style = run.find(f"{qn('w:rPr')}/{qn('w:rStyle')}")
            if style is not None and style.get(qn("w:val")) in ids:
                for text in run.iter(qn("w:t")):
                    text.text = "The PCC's own words."

    check = inspect_draft(_edit(draft, type_over))
    assert check.prompts == ()
    assert check.styled
    assert "clear the formatting" in check.problems()[-1]


def test_a_deleted_prompt_leaves_the_finding_unanswered(draft: bytes) -> None:
    filled = fill_prompts(draft, lambda prompt: "Answered.")

    def delete_first_response(document: docx.document.Document) -> None:
        paragraphs = document.paragraphs
        index = next(i for i, p in enumerate(paragraphs) if p.text.startswith("Recommendation 19"))
        response = paragraphs[index + 1]._element
        response.getparent().remove(response)

    check = inspect_draft(_edit(filled, delete_first_response))
    assert check.unanswered == ("Recommendation 19",)
    assert check.prompts == ()


def test_not_a_word_document_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a Word document"):
        inspect_draft(b"plain text")


def test_findings_of_every_kind_are_checked() -> None:
    context = replace(
        CONTEXT,
        areas_for_improvement=(Finding(number="1", text="Improve."),),
        afi_count=1,
        causes_of_concern=(Finding(number="2", text="Concern."),),
    )
    check = inspect_draft(render_draft(TEMPLATE, context))
    assert check.unanswered[-2:] == ("Area for Improvement 1", "Cause of Concern 2")
