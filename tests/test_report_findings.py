"""Findings from the full report: numbers as in the report, addressees, and following links.

Fixtures (each says which structure facts it assumes): the demo's seed landing page, its
publication-html page and a PEEL report page (automation/demo_data), and a report PDF built
with fpdf2 (tests/fixtures/report_pdf.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import automation
from automation.domain.publications import Finding
from automation.reports import (
    addressed_to_policing,
    parse_report_page,
    pdf_text,
    read_findings,
    text_blocks,
)
from automation.reports.pages import finding_blocks, page_blocks
from tests.fixtures.report_pdf import RECOMMENDATIONS, build_report_pdf

DEMO = Path(automation.__file__).parent / "demo_data"
LANDING = DEMO / "sample_report_page.html"
FULL_HTML = DEMO / "sample_report_html.html"
PEEL = DEMO / "sample_peel_report.html"
SLUG = "counter-terrorism-joint-inspection-national-security-division"
HOST = "https://hmicfrs.justiceinspectorates.gov.uk"
REC_19 = (
    "The senior national coordinator should review the Registered Terrorism Offender "
    "Assessment Framework process to ensure that it is fit for police led cases."
)


def _html_findings(path: Path) -> automation.reports.Findings:
    blocks, _links = page_blocks(path.read_text(encoding="utf-8"))
    return read_findings(finding_blocks(blocks))


# --- parsing ---------------------------------------------------------------------------------


def test_seed_report_html_keeps_the_reports_numbers_and_leaves_out_other_bodies() -> None:
    found = _html_findings(FULL_HTML)
    assert [f.number for f in found.recommendations] == ["19", "20", "21"]
    assert found.recommendations[0] == Finding(
        number="19", text=REC_19, addressee="Counter Terrorism Policing"
    )
    assert found.recommendations_left_out == 18
    assert found.numbered


def test_landing_page_gives_the_count_and_the_full_report_links_html_first() -> None:
    details = parse_report_page(LANDING.read_text(encoding="utf-8"), f"{HOST}/publications/{SLUG}/")
    assert details.recommendation_count == 21
    assert details.findings.empty
    assert details.report_links == (
        f"{HOST}/publication-html/{SLUG}/",
        f"https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/{SLUG}.pdf",
    )


def test_peel_page_unnumbered_areas_for_improvement_and_cause_of_concern() -> None:
    details = parse_report_page(PEEL.read_text(encoding="utf-8"), f"{HOST}/peel-reports/n/")
    afis = details.findings.areas_for_improvement
    assert [f.text for f in afis] == [
        "The force should make sure that it answers emergency calls within national standards.",
        "The force should improve how it supervises investigations.",
        "The force should make sure victims are kept informed.",
    ]
    assert all(f.number == "" for f in afis)
    assert details.afi_count == 3
    [concern] = details.findings.causes_of_concern
    assert concern.text.startswith("The force does not always assess the risk")
    assert [f.text for f in details.findings.recommendations] == [
        "Within three months, the force should: make sure call handlers use a structured "
        "risk assessment; and",
        "Within three months, the force should: audit how well this works.",
    ]
    assert not any("explanatory" in f.text for f in afis)


def test_pdf_recommendations_with_numbers_addressees_and_nothing_after_the_list() -> None:
    text = pdf_text(build_report_pdf())
    found = read_findings(text_blocks(text))
    assert found.recommendations == (
        Finding(number="1", text=RECOMMENDATIONS["1"], addressee="chief constables"),
        Finding(number="2", text=RECOMMENDATIONS["2"], addressee="chief constables"),
    )
    assert found.recommendations_left_out == 2  # the Home Office's and the College's


def test_a_damaged_pdf_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a readable PDF"):
        pdf_text(b"%PDF-1.7 truncated")


@pytest.mark.parametrize(
    ("addressee", "policing"),
    [
        ("chief constables", True),
        ("All chief constables", True),
        ("Police and crime commissioners", True),
        ("Counter Terrorism Policing", True),
        ("The senior national coordinator", True),
        ("The National Police Chiefs' Council and chief constables", True),
        ("the force", True),
        ("The College of Policing", False),
        ("the Home Office", False),
        ("HM Prison and Probation Service", False),
        ("The National Police Chiefs' Council", False),
        ("The National Security Division", None),
        ("", None),
    ],
)
def test_who_a_recommendation_is_for(addressee: str, policing: bool | None) -> None:
    assert addressed_to_policing(addressee) is policing


def test_a_numbered_item_seen_twice_keeps_its_first_wording() -> None:
    found = _html_findings(FULL_HTML)
    assert found.recommendations[0].text == REC_19  # the chapter's repeat is ignored


def test_a_peel_page_does_not_lead_to_other_peel_pages() -> None:
    page = PEEL.read_text(encoding="utf-8").replace(
        "</main>", '<p><a href="/peel-reports/suffolk-2023/">Suffolk</a></p></main>'
    )
    norfolk = parse_report_page(page, f"{HOST}/peel-reports/norfolk-2023/")
    assert norfolk.report_links == ()
    landing = parse_report_page(page, f"{HOST}/publications/norfolk-peel/")
    assert landing.report_links == (f"{HOST}/peel-reports/suffolk-2023/",)
