"""Police forces that HMICFRS inspects, and how their names appear in titles and categories.

The 43 territorial ("Home Office") forces of England and Wales owe a Section 55 response
through their local policing body. The non-Home Office bodies that HMICFRS also inspects
(British Transport Police, Civil Nuclear Constabulary, Ministry of Defence Police, National
Crime Agency, Police Service of Northern Ireland, Royal Gibraltar Police and the Crown
Dependencies' forces) do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

NOT_APPLICABLE = "N/A"
"""What HMICFRS shows under "Police forces" for a national or thematic report."""

_NA_SPELLINGS = frozenset(
    {
        "n/a",
        "na",
        "n.a.",
        "not applicable",
        "all forces",
        "all police forces",
        "police forces: n/a",
        "police force: n/a",
        "forces: n/a",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Force:
    """One police force.

    Attributes:
        name: the force's own name, used as the canonical spelling.
        area: the place name the force is known by ("Norfolk"); matched as a whole word.
        aliases: other spellings (former names, abbreviations) matched as whole words.
        home_office: True for the 43 territorial forces of England and Wales.
    """

    name: str
    area: str
    aliases: tuple[str, ...] = ()
    home_office: bool = True

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every spelling of the force, longest first."""
        names = {self.name, self.area, *self.aliases}
        return tuple(sorted(names, key=lambda s: (-len(s), s)))


def _ho(name: str, area: str, *aliases: str) -> Force:
    return Force(name=name, area=area, aliases=aliases)


def _non_ho(name: str, area: str, *aliases: str) -> Force:
    return Force(name=name, area=area, aliases=aliases, home_office=False)


HOME_OFFICE_FORCES: tuple[Force, ...] = (
    _ho("Avon and Somerset Constabulary", "Avon and Somerset"),
    _ho("Bedfordshire Police", "Bedfordshire"),
    _ho("Cambridgeshire Constabulary", "Cambridgeshire"),
    _ho("Cheshire Constabulary", "Cheshire"),
    _ho("City of London Police", "City of London"),
    _ho("Cleveland Police", "Cleveland"),
    _ho("Cumbria Constabulary", "Cumbria"),
    _ho("Derbyshire Constabulary", "Derbyshire"),
    _ho("Devon and Cornwall Police", "Devon and Cornwall"),
    _ho("Dorset Police", "Dorset"),
    _ho("Durham Constabulary", "Durham"),
    _ho("Dyfed-Powys Police", "Dyfed-Powys", "Dyfed Powys"),
    _ho("Essex Police", "Essex"),
    _ho("Gloucestershire Constabulary", "Gloucestershire"),
    _ho("Greater Manchester Police", "Greater Manchester", "GMP"),
    _ho("Gwent Police", "Gwent"),
    _ho(
        "Hampshire and Isle of Wight Constabulary",
        "Hampshire",
        "Hampshire Constabulary",
        "Hampshire and Isle of Wight",
    ),
    _ho("Hertfordshire Constabulary", "Hertfordshire"),
    _ho("Humberside Police", "Humberside"),
    _ho("Kent Police", "Kent"),
    _ho("Lancashire Constabulary", "Lancashire"),
    _ho("Leicestershire Police", "Leicestershire"),
    _ho("Lincolnshire Police", "Lincolnshire"),
    _ho("Merseyside Police", "Merseyside"),
    _ho(
        "Metropolitan Police Service",
        "Metropolitan Police",
        "Met Police",
        "MPS",
    ),
    _ho("Norfolk Constabulary", "Norfolk"),
    _ho("North Wales Police", "North Wales"),
    _ho("North Yorkshire Police", "North Yorkshire"),
    _ho("Northamptonshire Police", "Northamptonshire"),
    _ho("Northumbria Police", "Northumbria"),
    _ho("Nottinghamshire Police", "Nottinghamshire"),
    _ho("South Wales Police", "South Wales"),
    _ho("South Yorkshire Police", "South Yorkshire"),
    _ho("Staffordshire Police", "Staffordshire"),
    _ho("Suffolk Constabulary", "Suffolk"),
    _ho("Surrey Police", "Surrey"),
    _ho("Sussex Police", "Sussex"),
    _ho("Thames Valley Police", "Thames Valley"),
    _ho("Warwickshire Police", "Warwickshire"),
    _ho("West Mercia Police", "West Mercia"),
    _ho("West Midlands Police", "West Midlands"),
    _ho("West Yorkshire Police", "West Yorkshire"),
    _ho("Wiltshire Police", "Wiltshire"),
)

NON_HOME_OFFICE_FORCES: tuple[Force, ...] = (
    _non_ho("British Transport Police", "British Transport Police", "BTP"),
    _non_ho("Civil Nuclear Constabulary", "Civil Nuclear Constabulary", "CNC"),
    _non_ho("Ministry of Defence Police", "Ministry of Defence Police", "MDP"),
    _non_ho("National Crime Agency", "National Crime Agency", "NCA"),
    # Not the bare "Northern Ireland": national reports cover "England, Wales and Northern Ireland".
    _non_ho("Police Service of Northern Ireland", "PSNI"),
    _non_ho("Royal Gibraltar Police", "Gibraltar", "RGP"),
    _non_ho("States of Jersey Police", "Jersey", "Jersey Police"),
    _non_ho(
        "Bailiwick of Guernsey Law Enforcement",
        "Guernsey",
        "Guernsey Police",
        "States of Guernsey Police",
    ),
    _non_ho("Isle of Man Constabulary", "Isle of Man", "Isle of Man Police"),
)

ALL_FORCES: tuple[Force, ...] = HOME_OFFICE_FORCES + NON_HOME_OFFICE_FORCES


def _fold(text: str) -> str:
    """Case-fold and normalise spacing, dashes and '&' so spellings compare equal."""
    text = text.replace("&", " and ")
    for dash in "-\u2010\u2011\u2013\u2014":
        text = text.replace(dash, " ")
    return " ".join(text.casefold().split())


def slug(text: str) -> str:
    """The WordPress-style slug of a name: "Devon and Cornwall" -> "devon-and-cornwall"."""
    return re.sub(r"[^a-z0-9]+", "-", _fold(text)).strip("-")


@lru_cache(maxsize=1)
def _by_spelling() -> dict[str, Force]:
    table: dict[str, Force] = {}
    for force in ALL_FORCES:
        for spelling in force.spellings:
            table.setdefault(_fold(spelling), force)
    return table


def is_not_applicable(text: str) -> bool:
    """True if a category or field value means "no particular force" (national report)."""
    return _fold(text) in _NA_SPELLINGS


def force_for_label(label: str) -> Force | None:
    """The force whose name, area or alias is exactly ``label`` (case and '&' insensitive).

    Accepts a "Police force: X" prefix. Used for whole category values, not for free text.
    """
    folded = _fold(label)
    for prefix in ("police forces:", "police force:", "forces:", "force:"):
        if folded.startswith(prefix):
            folded = folded[len(prefix) :].strip()
            break
    return _by_spelling().get(folded)


def name_pattern(spellings: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive regex matching any spelling as whole words, or None if none given.

    Word boundaries are letters and digits: "Norfolk" does not match inside "Norfolkshire",
    and a hyphen or apostrophe ("Norfolk's") still counts as a boundary.
    """
    parts = sorted({s.strip() for s in spellings if s.strip()}, key=lambda s: (-len(s), s))
    if not parts:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in parts)
    return re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])", re.IGNORECASE)


def slug_pattern(spellings: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching the slug of any spelling as whole hyphen/slash-separated tokens."""
    slugs = sorted({slug(s) for s in spellings if slug(s)}, key=lambda s: (-len(s), s))
    if not slugs:
        return None
    alternatives = "|".join(map(re.escape, slugs))
    return re.compile(rf"(?<![0-9a-z])(?:{alternatives})(?![0-9a-z])")


def forces_named_in(text: str, forces: Sequence[Force] = ALL_FORCES) -> tuple[Force, ...]:
    """The forces whose name, area or alias appears in ``text`` as whole words."""
    return tuple(f for f in forces if _force_pattern(f.spellings).search(text))


@lru_cache(maxsize=256)
def _force_pattern(spellings: tuple[str, ...]) -> re.Pattern[str]:
    pattern = name_pattern(spellings)
    if pattern is None:  # pragma: no cover - every Force has a name
        raise ValueError("a force needs at least one spelling")
    return pattern
