"""Relevance: one table row per row of DOMAIN.md's "Which publications need a response"."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.domain import Decision, Publication, assess, normalise_key

FORCE = "Norfolk Constabulary"
ALIASES = ("Norfolk",)
HOST = "https://hmicfrs.justiceinspectorates.gov.uk"


def pub(
    title: str,
    *,
    path: str = "/publications/some-report/",
    types: tuple[str, ...] = (),
    forces: tuple[str, ...] = (),
) -> Publication:
    link = HOST + path
    return Publication(
        key=normalise_key(link),
        title=title,
        link=link,
        published_on=date(2023, 7, 20),
        types=types,
        forces=forces,
    )


# (DOMAIN.md row, publication, expected decision, a word the reason must contain)
CASES: list[tuple[str, Publication, Decision, str]] = [
    # Row 1: PEEL / force-specific inspections of our force -> Yes.
    (
        "our PEEL",
        pub(
            "PEEL 2023-25 Police effectiveness, efficiency and legitimacy: "
            "An inspection of Norfolk Constabulary",
            path="/peel-reports/norfolk-2023/",
            types=("PEEL",),
            forces=("Norfolk Constabulary",),
        ),
        Decision.YES,
        "Norfolk",
    ),
    (
        "our crime data integrity, title only",
        pub("Crime data integrity inspection 2023: Norfolk Constabulary"),
        Decision.YES,
        "title",
    ),
    (
        "our PEEL, link only",
        pub("PEEL 2023-25: an inspection", path="/peel-reports/norfolk-2023/"),
        Decision.YES,
        "web address",
    ),
    (
        "custody inspection naming our force",
        pub("Report on an unannounced inspection visit to police custody suites in Norfolk"),
        Decision.YES,
        "Norfolk",
    ),
    (
        "counter-terrorism naming our force and another",
        pub(
            "Counter-terrorism policing in the eastern region",
            types=("Counter-terrorism and joint inspection",),
            forces=("Norfolk Constabulary", "Suffolk Constabulary"),
        ),
        Decision.YES,
        "lists",
    ),
    (
        "commissioned inspection, force spelled with '&'-free alias in category",
        pub(
            "An inspection commissioned by the Police and Crime Commissioner",
            forces=("Norfolk",),
        ),
        Decision.YES,
        "Norfolk",
    ),
    # Row 2: national thematic / spotlight / joint with forces N/A -> Yes.
    (
        "the seed: CT joint inspection, forces N/A",
        pub(
            "Counter Terrorism Joint Inspection - National security division and multi-agency "
            "arrangements for the management of terrorist offenders in the wake of terrorist "
            "attacks",
            types=("Counter-terrorism and joint inspection",),
            forces=("N/A",),
        ),
        Decision.YES,
        "N/A",
    ),
    (
        "national thematic, forces N/A",
        pub(
            "An inspection of vetting, misconduct, and misogyny in the police service",
            types=("National thematic",),
            forces=("N/A",),
        ),
        Decision.YES,
        "National",
    ),
    (
        "PEEL spotlight, forces unknown",
        pub("PEEL spotlight report: the hard yards", types=("PEEL spotlight",)),
        Decision.YES,
        "spotlight",
    ),
    (
        "joint inspection, forces unknown",
        pub("A joint thematic inspection of the criminal justice journey for individuals"),
        Decision.YES,
        "names no particular force",
    ),
    # Row 3: another force's PEEL or force-specific report -> No.
    (
        "Suffolk PEEL (Suffolk is not Norfolk)",
        pub(
            "PEEL 2023-25: An inspection of Suffolk Constabulary",
            path="/peel-reports/suffolk-2023/",
            types=("PEEL",),
            forces=("Suffolk Constabulary",),
        ),
        Decision.NO,
        "Suffolk Constabulary",
    ),
    (
        "another force, title only",
        pub("Crime data integrity inspection 2023: Kent Police"),
        Decision.NO,
        "Kent Police",
    ),
    (
        "another force, link only",
        pub("PEEL 2023-25: an inspection", path="/peel-reports/west-yorkshire-2023/"),
        Decision.NO,
        "West Yorkshire Police",
    ),
    (
        "Met report by abbreviation",
        pub("An inspection of the MPS response to child sexual exploitation"),
        Decision.NO,
        "Metropolitan Police Service",
    ),
    # Row 4: fire and rescue, State of Fire -> No.
    (
        "our area's fire and rescue service",
        pub(
            "Norfolk Fire and Rescue Service: Effectiveness, efficiency and people 2023-25",
            path="/frs-assessment/frs-2023/norfolk/",
            types=("Fire and rescue service inspection",),
        ),
        Decision.NO,
        "fire and rescue",
    ),
    (
        "State of Fire",
        pub("State of Fire and Rescue: The Annual Assessment of Fire and Rescue Services 2022"),
        Decision.NO,
        "fire and rescue",
    ),
    (
        "fire, recognised from the link",
        pub("Effectiveness, efficiency and people 2023-25: Essex", path="/frs-assessment/essex/"),
        Decision.NO,
        "fire and rescue",
    ),
    # Row 5: non-Home Office forces -> No.
    (
        "BTP",
        pub("PEEL 2023-25: An inspection of British Transport Police", forces=("BTP",)),
        Decision.NO,
        "not a Home Office",
    ),
    (
        "CNC",
        pub("An inspection of the Civil Nuclear Constabulary"),
        Decision.NO,
        "not a Home Office",
    ),
    (
        "NCA",
        pub("An inspection of the National Crime Agency's criminal intelligence function"),
        Decision.NO,
        "not a Home Office",
    ),
    (
        "Jersey",
        pub("An inspection of the States of Jersey Police"),
        Decision.NO,
        "not a Home Office",
    ),
    (
        "Guernsey",
        pub("Bailiwick of Guernsey Law Enforcement: inspection report", forces=("Guernsey",)),
        Decision.NO,
        "not a Home Office",
    ),
    (
        "Isle of Man",
        pub("An inspection of the Isle of Man Constabulary"),
        Decision.NO,
        "not a Home Office",
    ),
    (
        "PSNI",
        pub("An inspection of the Police Service of Northern Ireland's use of stop and search"),
        Decision.NO,
        "not a Home Office",
    ),
    # Row 6: a person decides -> To be decided.
    (
        "super-complaint",
        pub(
            "Super-complaint: the police response to victims of stalking",
            types=("Super-complaint",),
            forces=("N/A",),
        ),
        Decision.TBD,
        "super-complaint",
    ),
    (
        "Engage letter about our own force",
        pub("Letter to Norfolk Constabulary: Engage (enhanced monitoring)"),
        Decision.TBD,
        "Engage",
    ),
    (
        "State of Policing",
        pub("State of Policing: The Annual Assessment of Policing in England and Wales 2022"),
        Decision.TBD,
        "State of Policing",
    ),
    (
        "inspection programme",
        pub("Police inspection programme and framework 2023/24", forces=("N/A",)),
        Decision.TBD,
        "inspection programme",
    ),
    (
        "consultation",
        pub("Consultation on the PEEL assessment framework 2025-27"),
        Decision.TBD,
        "consultation",
    ),
    (
        "corporate document",
        pub("HMICFRS annual report and accounts 2022-23", types=("Corporate documents",)),
        Decision.TBD,
        "corporate",
    ),
    # Unclear -> To be decided, never silently No.
    (
        "unclear police publication",
        pub("Police response to burglary: one year on"),
        Decision.TBD,
        "person should decide",
    ),
    (
        "unknown force in the forces field",
        pub("An inspection of Police Scotland's custody", forces=("Police Scotland",)),
        Decision.TBD,
        "Police Scotland",
    ),
]


@pytest.mark.parametrize(
    ("publication", "expected", "reason_has"),
    [pytest.param(p, d, w, id=name) for name, p, d, w in CASES],
)
def test_decision_and_reason(publication: Publication, expected: Decision, reason_has: str) -> None:
    result = assess(publication, force_name=FORCE, aliases=ALIASES)
    assert result.decision is expected, result.reason
    assert result.reason.strip().endswith(".")
    assert reason_has.lower() in result.reason.lower()


def test_force_names_match_whole_words_only() -> None:
    # "Norfolk" inside another word is not our force; "Norfolk's" is.
    inside = pub("Norfolkline ferry policing review", forces=("N/A",))
    possessive = pub("Norfolk's response to domestic abuse")
    assert assess(inside, force_name=FORCE, aliases=ALIASES).reason.startswith("National")
    assert assess(possessive, force_name=FORCE, aliases=ALIASES).decision is Decision.YES


def test_known_spellings_are_added_to_a_bare_force_name() -> None:
    # Configured with the full name only, "Norfolk" in a link slug still counts.
    peel = pub("PEEL 2023-25: an inspection", path="/peel-reports/norfolk-2023/")
    assert assess(peel, force_name=FORCE, aliases=()).decision is Decision.YES


def test_other_force_for_another_configuration() -> None:
    # The same Suffolk report is ours when we are Suffolk.
    suffolk = pub("PEEL 2023-25: An inspection of Suffolk Constabulary", forces=("Suffolk",))
    result = assess(suffolk, force_name="Suffolk Constabulary", aliases=())
    assert result.decision is Decision.YES


def test_lowercase_engage_is_not_an_engage_letter() -> None:
    item = pub("How well forces engage with the public", forces=("N/A",))
    result = assess(item, force_name=FORCE, aliases=ALIASES)
    assert result.decision is Decision.YES
    assert "Engage" not in result.reason


def test_police_and_fire_together_is_not_dropped() -> None:
    item = pub("Collaboration between police and fire and rescue services")
    assert assess(item, force_name=FORCE, aliases=ALIASES).decision is not Decision.NO


@given(
    title=st.text(max_size=120),
    types=st.lists(st.text(max_size=40), max_size=3),
    forces=st.lists(
        st.one_of(st.text(max_size=30), st.sampled_from(["N/A", "Norfolk", "Kent Police", "BTP"])),
        max_size=3,
    ),
    link=st.one_of(st.text(max_size=80), st.just(HOST + "/peel-reports/norfolk-2023/")),
)
def test_any_publication_gets_a_decision_and_a_reason(
    title: str, types: list[str], forces: list[str], link: str
) -> None:
    item = Publication(
        key="k",
        title=title,
        link=link,
        published_on=date(2023, 7, 20),
        types=tuple(types),
        forces=tuple(forces),
    )
    result = assess(item, force_name=FORCE, aliases=ALIASES)
    assert result.decision in set(Decision)
    assert len(result.reason) > 20


# --- issue 12: Police, Fire and Crime Commissioners, non-Home Office bodies, super-complaints -

ESSEX_FIRE = "Essex County Fire and Rescue Service"


def test_a_pfcc_responds_to_its_own_fire_service_report_not_under_section_55() -> None:
    item = pub(
        "Essex County Fire and Rescue Service: Effectiveness, efficiency and people 2023\u201325",
        path="/frs-assessment/frs-2023/essex/",
        types=("Fire and rescue service inspection",),
    )
    result = assess(item, force_name="Essex Police", aliases=(), fire_and_rescue_service=ESSEX_FIRE)
    assert result.decision is Decision.YES
    assert "Fire and Rescue National Framework" in result.reason
    assert ESSEX_FIRE in result.reason
    assert "Section 55 report" in result.reason  # says it is *not* one


def test_a_pfcc_own_fire_report_recognised_from_the_link_alone() -> None:
    item = pub("Effectiveness, efficiency and people 2023-25", path="/frs-assessment/essex/")
    result = assess(item, force_name="Essex Police", aliases=(), fire_and_rescue_service=ESSEX_FIRE)
    assert result.decision is Decision.YES


def test_another_fire_service_is_not_for_a_pfcc() -> None:
    item = pub(
        "Essex County Fire and Rescue Service: Effectiveness, efficiency and people 2023\u201325",
        path="/frs-assessment/frs-2023/essex/",
    )
    result = assess(
        item,
        force_name="Staffordshire Police",
        aliases=(),
        fire_and_rescue_service="Stoke-on-Trent and Staffordshire Fire and Rescue Service",
    )
    assert result.decision is Decision.NO
    assert "another service" in result.reason


def test_a_fire_thematic_goes_to_a_person_in_a_pfcc_office() -> None:
    item = pub("State of Fire and Rescue: The Annual Assessment of Fire and Rescue Services 2022")
    result = assess(item, force_name="Essex Police", aliases=(), fire_and_rescue_service=ESSEX_FIRE)
    assert result.decision is Decision.TBD
    without = assess(item, force_name="Essex Police", aliases=())
    assert without.decision is Decision.NO
    assert "fire_and_rescue_service" in without.reason


@pytest.mark.parametrize(
    ("title", "named"),
    [
        (
            "An inspection of the National Crime Agency's criminal intelligence function",
            "National Crime Agency",
        ),
        (
            "PEEL 2023\u201325: An inspection of British Transport Police",
            "British Transport Police",
        ),
        ("An inspection of the Royal Gibraltar Police", "Royal Gibraltar Police"),
        (
            "An inspection of the Police Service of Northern Ireland's use of stop and search",
            "Police Service of Northern Ireland",
        ),
        ("An inspection of the Civil Nuclear Constabulary", "Civil Nuclear Constabulary"),
        ("An inspection of the States of Jersey Police", "States of Jersey Police"),
        (
            "An inspection of the Metropolitan Police Service's counter-terrorism policing",
            "Metropolitan Police Service",
        ),
    ],
)
def test_reports_about_other_bodies_are_no_even_when_tagged_national(
    title: str, named: str
) -> None:
    result = assess(pub(title, forces=("N/A",)), force_name=FORCE, aliases=ALIASES)
    assert result.decision is Decision.NO
    assert named in result.reason


def test_non_home_office_body_from_the_link_when_tagged_national() -> None:
    item = pub("PEEL 2023-25: an inspection", path="/peel-reports/british-transport-police-2023/")
    result = assess(item, force_name=FORCE, aliases=ALIASES)
    assert result.decision is Decision.NO
    assert "not a Home Office" in result.reason


def test_a_national_report_that_also_names_a_body_stays_national() -> None:
    item = pub(
        "An inspection of how well the police and National Crime Agency tackle the online "
        "sexual abuse and exploitation of children",
        forces=("N/A",),
    )
    result = assess(item, force_name=FORCE, aliases=ALIASES)
    assert result.decision is Decision.YES


def test_super_complaint_reason_cites_the_police_reform_act_not_section_55() -> None:
    item = pub(
        "Super-complaint: the police response to victims of stalking",
        types=("Super-complaint",),
        forces=("N/A",),
    )
    result = assess(item, force_name=FORCE, aliases=ALIASES)
    assert result.decision is Decision.TBD
    assert "Police Reform Act 2002" in result.reason
    assert "optional" not in result.reason
    assert "person should decide" in result.reason
