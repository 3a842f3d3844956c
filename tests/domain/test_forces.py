"""The list of police forces and how their names are recognised."""

from __future__ import annotations

import pytest

from automation.domain import (
    ALL_FORCES,
    HOME_OFFICE_FORCES,
    NON_HOME_OFFICE_FORCES,
    force_for_label,
    forces_named_in,
    is_not_applicable,
)


def test_the_43_home_office_forces() -> None:
    assert len(HOME_OFFICE_FORCES) == 43
    assert len({f.name for f in HOME_OFFICE_FORCES}) == 43
    assert all(f.home_office for f in HOME_OFFICE_FORCES)


def test_non_home_office_bodies() -> None:
    names = {f.name for f in NON_HOME_OFFICE_FORCES}
    assert {
        "British Transport Police",
        "Civil Nuclear Constabulary",
        "National Crime Agency",
        "Police Service of Northern Ireland",
        "States of Jersey Police",
        "Isle of Man Constabulary",
    } <= names
    assert not any(f.home_office for f in NON_HOME_OFFICE_FORCES)


def test_no_spelling_names_two_forces() -> None:
    seen: dict[str, str] = {}
    for force in ALL_FORCES:
        for spelling in force.spellings:
            folded = spelling.casefold()
            assert seen.setdefault(folded, force.name) == force.name, spelling


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Norfolk Constabulary", "Norfolk Constabulary"),
        ("norfolk", "Norfolk Constabulary"),
        ("Police force: Norfolk", "Norfolk Constabulary"),
        ("Devon & Cornwall", "Devon and Cornwall Police"),
        ("Hampshire Constabulary", "Hampshire and Isle of Wight Constabulary"),
        ("BTP", "British Transport Police"),
        ("Dyfed Powys Police", "Dyfed-Powys Police"),
    ],
)
def test_category_labels(label: str, name: str) -> None:
    force = force_for_label(label)
    assert force is not None
    assert force.name == name


@pytest.mark.parametrize(
    "label", ["PEEL", "Norfolk Fire and Rescue Service", "Police Scotland", ""]
)
def test_labels_that_are_not_forces(label: str) -> None:
    assert force_for_label(label) is None


@pytest.mark.parametrize("label", ["N/A", "n/a", " Not applicable ", "Police forces: N/A"])
def test_not_applicable(label: str) -> None:
    assert is_not_applicable(label)


def test_names_in_text_use_word_boundaries() -> None:
    assert [f.name for f in forces_named_in("Suffolk and Norfolk's joint unit")] == [
        "Norfolk Constabulary",
        "Suffolk Constabulary",
    ]
    assert forces_named_in("Norfolkline, Kentish Town and Essexshire") == ()
    # National reports cover "England, Wales and Northern Ireland": not a PSNI report.
    assert forces_named_in("policing in England, Wales and Northern Ireland") == ()
