"""Does a publication need a response from our local policing body?

The rules follow DOMAIN.md ("Which publications need a response"), in this order:

1. fire and rescue work with no police element: a different regime (not Section 55).
   For a Police, Fire and Crime Commissioner (``fire_and_rescue_service`` given), its own
   service's reports -> Yes (the Fire and Rescue National Framework's expectation of a
   response); another named service's -> No; fire work naming no service -> To be decided.
   For any other office -> No;
2. super-complaints, Engage letters, State of Policing, inspection programmes, consultations
   and corporate documents -> To be decided by a person;
3. our force named (forces, title or link) -> Yes;
4. only other forces named in the forces field -> No (a non-Home Office body or another
   territorial force);
5. a report *about* other bodies named in its title or link (an inspection of the National
   Crime Agency, of PSNI, of British Transport Police) -> No, whatever its forces tag says:
   checked before rule 6, because such reports may be tagged "Police forces: N/A";
6. national, thematic, joint or spotlight work with no particular force -> Yes;
7. anything else -> To be decided: a police publication is never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from automation.domain.forces import (
    ALL_FORCES,
    NON_HOME_OFFICE_FORCES,
    Force,
    force_for_label,
    forces_named_in,
    is_not_applicable,
    name_pattern,
    slug_pattern,
)
from automation.domain.publications import Publication


class Decision(StrEnum):
    """The tracker's ResponseRequired choices."""

    YES = "Yes"
    NO = "No"
    TBD = "To be decided"


@dataclass(frozen=True, slots=True, kw_only=True)
class Relevance:
    """A decision and the human sentence that explains it."""

    decision: Decision
    reason: str


_FIRE = re.compile(r"\bfire\s*(?:and|&)\s*rescue\b|\bstate of fire\b|\bFRS\b", re.IGNORECASE)
_FIRE_PATH = re.compile(r"(?:^|/)(?:frs(?:-[a-z0-9-]*)?|fire-and-rescue[a-z0-9-]*)(?:/|$)")
_POLICE = re.compile(r"\b(?:police|policing|constabulary|constabularies|PEEL)\b", re.IGNORECASE)
# Words that make a title about policing in general even when it also names a body
# ("how well the police and the National Crime Agency tackle ...").
_GENERAL_POLICING = re.compile(
    r"\bthe police\b|\bpolice forces\b|\bforces\b|\bconstabularies\b|\bpolice officers\b"
    r"|\bpolicing in\b",
    re.IGNORECASE,
)
_FIRE_SERVICE_WORDS = re.compile(
    r"\b(?:county\s+)?fire\s*(?:and|&)\s*rescue(?:\s+(?:service|authority))?\b|\(FRS\)|\bFRS\b",
    re.IGNORECASE,
)
# "Essex County Fire and Rescue Service", "West Yorkshire Fire & Rescue Service".
_NAMED_FIRE_SERVICE = re.compile(
    r"\b[A-Z][A-Za-z'.-]+(?:\s+(?:and|&|[A-Z][A-Za-z'.-]+))*\s+"
    r"(?:Fire\s*(?:and|&)\s*Rescue\s+Service|FRS)\b"
)
# /frs-assessment/frs-2023/essex/: the last part names the service's area.
_FIRE_AREA_PATH = re.compile(r"/frs-assessment/(?:frs-\d{4}[a-z0-9-]*/)?([a-z][a-z0-9-]+)/?$")

FIRE_FRAMEWORK_REASON = (
    "This is not a Section 55 report: the Fire and Rescue National Framework for England "
    "expects the fire and rescue authority to respond to HMICFRS's findings on its service "
    "and to say what it will do about them (an action plan where there are recommendations)."
)

SUPER_COMPLAINT = "a super-complaint report"
# (pattern over title and types, sentence naming the kind)
_PERSON_DECIDES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bsuper[- ]?complaints?\b"), SUPER_COMPLAINT),
    # Case-sensitive: "how forces engage with victims" is not an Engage letter.
    (
        re.compile(r"\bEngage\b|\bENGAGE\b|(?i:\benhanced monitoring\b)"),
        "an Engage (enhanced monitoring) letter",
    ),
    (re.compile(r"(?i)\bstate of policing\b"), "the State of Policing assessment"),
    (
        re.compile(r"(?i)\binspection programmes?\b|\bprogramme and framework\b"),
        "an inspection programme",
    ),
    (re.compile(r"(?i)\bconsultations?\b(?! with)"), "a consultation"),
    (
        re.compile(
            r"(?i)\bcorporate (?:documents?|publications?|plans?|strateg(?:y|ies))\b"
            r"|\bannual report and accounts\b|\bbusiness plan\b|\bstrategic plan\b"
            r"|\bframework document\b|\bequality objectives\b"
        ),
        "a corporate document",
    ),
)
_PERSON_DECIDES_PATH = re.compile(r"/(?:super-complaints?|engage|corporate-documents?)(?:/|-)")

_NATIONAL = re.compile(
    r"\bnational\b|\bthematic\b|\bjoint\b|\bspotlight\b|\ball forces\b"
    r"|\bforces in England and Wales\b|\bpolice forces\b",
    re.IGNORECASE,
)


def is_fire_publication(title: str, types: Sequence[str], link: str) -> bool:
    """True for fire and rescue work with no police element (not a Section 55 report)."""
    title_and_types = " | ".join((title, *types))
    is_fire = bool(_FIRE.search(title_and_types) or _FIRE_PATH.search(_link_path(link)))
    return is_fire and not _POLICE.search(title_and_types)


def fire_service_area(service: str) -> str:
    """The place a fire and rescue service is named after: "Essex County Fire and Rescue
    Service" -> "Essex"."""
    return " ".join(_FIRE_SERVICE_WORDS.sub(" ", service).split())


def assess(
    pub: Publication,
    *,
    force_name: str,
    aliases: Sequence[str],
    fire_and_rescue_service: str = "",
) -> Relevance:
    """Decide whether ``pub`` needs a response from the body that oversees ``force_name``.

    Args:
        pub: the publication (types, forces, title and link are used).
        force_name: our force, e.g. "Norfolk Constabulary".
        aliases: other names of our force, e.g. ["Norfolk"]. The known spellings of a
            force in the built-in list are added automatically.
        fire_and_rescue_service: for a Police, Fire and Crime Commissioner's office, the
            fire and rescue service it oversees (e.g. "Essex County Fire and Rescue
            Service"); "" for an office without fire responsibilities.
    """
    ours = _our_spellings(force_name, aliases)
    our_label = force_name.strip() or (ours[0] if ours else "our force")
    our_text = name_pattern(ours)
    our_slug = slug_pattern(ours)
    our_known = {f.name for f in ALL_FORCES if set(f.spellings) & set(ours)}

    path = _link_path(pub.link)
    title_and_types = " | ".join((pub.title, *pub.types))
    title_types_forces = " | ".join((pub.title, *pub.types, *pub.forces))

    # 1. Fire and rescue: a different regime (not Section 55).
    if is_fire_publication(pub.title, pub.types, pub.link):
        return _fire(pub, path, fire_and_rescue_service.strip())

    # 2. Kinds that a person decides on.
    for pattern, kind in _PERSON_DECIDES:
        if pattern.search(title_and_types):
            return _person_decides(kind, pub, our_text, our_label)
    if _PERSON_DECIDES_PATH.search(path + "/"):
        return _person_decides("a publication of a kind some offices respond to", pub, None, "")

    # 3. Our force named.
    named_forces = [force_for_label(f) for f in pub.forces if not is_not_applicable(f)]
    if any(f is not None and f.name in our_known for f in named_forces) or any(
        our_text is not None and our_text.search(f) for f in pub.forces
    ):
        return _yes_ours(our_label, "the publication lists it among the police forces")
    if our_text is not None and our_text.search(title_and_types):
        return _yes_ours(our_label, "the title names it")
    if our_slug is not None and path and our_slug.search(path):
        return _yes_ours(our_label, "the report's web address names it")

    # 4. Other forces named in the forces field.
    listed_others = [f for f in named_forces if f is not None]
    if listed_others:
        return _other_forces(listed_others)

    # 5. About other bodies named in the title or link, whatever the forces tag says.
    about = _about_others(pub.title, path, our_known)
    if about:
        return _other_forces(about)

    # 6. National: "Police forces: N/A".
    if pub.forces and all(is_not_applicable(f) for f in pub.forces):
        return Relevance(
            decision=Decision.YES,
            reason=(
                "National or thematic police report (police forces: N/A); it relates to "
                "every force, including " + our_label + "."
            ),
        )

    # 4 (cont.). Other forces named in the title or the link.
    others = [f for f in forces_named_in(title_types_forces) if f.name not in our_known]
    if not others and path:
        others = [f for f in ALL_FORCES if f.name not in our_known and _slug_in_path(f, path)]
    if others:
        return _other_forces(others)

    # 6 (cont.). National, thematic, joint or spotlight work naming no force.
    national = _NATIONAL.search(title_and_types) or _NATIONAL.search(path.replace("-", " "))
    if national:
        return Relevance(
            decision=Decision.YES,
            reason=(
                f"National, thematic or joint police publication ('{national.group(0)}') that "
                f"names no particular force, so it relates to {our_label}."
            ),
        )

    # 7. Unclear.
    unknown_forces = [f for f in pub.forces if force_for_label(f) is None and f.strip()]
    detail = (
        f" It lists forces that are not recognised: {', '.join(unknown_forces)}."
        if unknown_forces
        else " The feed does not say which police forces it covers."
    )
    return Relevance(
        decision=Decision.TBD,
        reason=(
            "Could not tell from the title, publication type or link whether this "
            f"publication relates to {our_label}." + detail + " A person should decide."
        ),
    )


def _our_spellings(force_name: str, aliases: Sequence[str]) -> tuple[str, ...]:
    given = [s.strip() for s in (force_name, *aliases) if s and s.strip()]
    spellings: list[str] = list(given)
    for name in given:
        known = force_for_label(name)
        if known is not None:
            spellings.extend(known.spellings)
    return tuple(dict.fromkeys(spellings))


def _link_path(link: str) -> str:
    try:
        return unquote(urlsplit(link).path).lower()
    except ValueError:
        return ""


def _slug_in_path(force: Force, path: str) -> bool:
    """True if the force's name or area is a whole token of the link path."""
    pattern = slug_pattern((force.name, force.area))
    return pattern is not None and bool(pattern.search(path))


def _yes_ours(our_label: str, how: str) -> Relevance:
    return Relevance(
        decision=Decision.YES,
        reason=f"Force-specific police report about {our_label}: {how}.",
    )


def _other_forces(forces: Sequence[Force]) -> Relevance:
    names = ", ".join(dict.fromkeys(f.name for f in forces))
    if all(not f.home_office for f in forces):
        return Relevance(
            decision=Decision.NO,
            reason=(
                f"Report about {names}, which is not a Home Office police force; no local "
                "policing body response is due under Section 55."
            ),
        )
    return Relevance(
        decision=Decision.NO,
        reason=f"Report about another force ({names}), not ours.",
    )


def _about_others(title: str, path: str, our_known: set[str]) -> list[Force]:
    """Bodies other than ours that the title (or else the link) is about, or [].

    A title that still speaks of the police in general once their names are taken out
    ("the police and the National Crime Agency") is not about them alone.
    """
    named = [f for f in forces_named_in(title) if f.name not in our_known]
    if named:
        rest = title
        for force in named:
            pattern = name_pattern(force.spellings)
            if pattern is not None:
                rest = pattern.sub(" ", rest)
        return [] if _GENERAL_POLICING.search(rest) else named
    if _GENERAL_POLICING.search(title) or not path:
        return []
    return [f for f in NON_HOME_OFFICE_FORCES if _slug_in_path(f, path)]


def _fire(pub: Publication, path: str, service: str) -> Relevance:
    """Rule 1: fire and rescue work, for an office with or without a fire service."""
    if not service:
        return Relevance(
            decision=Decision.NO,
            reason=(
                "This is a fire and rescue publication; Section 55 of the Police Act 1996 "
                "applies only to police inspection reports, and this office has no fire and "
                "rescue service (setting fire_and_rescue_service)."
            ),
        )
    area = fire_service_area(service)
    ours = name_pattern([service, *([area] if area else [])])
    text = " | ".join((pub.title, *pub.types, *pub.forces))
    area_slug = slug_pattern([area]) if area else None
    path_area = _FIRE_AREA_PATH.search(path)
    if (ours is not None and ours.search(text)) or (
        area_slug is not None and path_area is not None and area_slug.fullmatch(path_area[1])
    ):
        return Relevance(
            decision=Decision.YES,
            reason=f"Fire and rescue inspection of {service}, which this office oversees. "
            + FIRE_FRAMEWORK_REASON,
        )
    other = _NAMED_FIRE_SERVICE.search(text)
    if other is not None or path_area is not None:
        named = other.group(0) if other is not None else path_area[1] if path_area else ""
        return Relevance(
            decision=Decision.NO,
            reason=f"Fire and rescue inspection of another service ({named}), not {service}.",
        )
    return Relevance(
        decision=Decision.TBD,
        reason=(
            "Fire and rescue publication that names no particular service (a thematic or "
            f"national report); it may concern {service}, so a person should decide."
        ),
    )


def _person_decides(
    kind: str, pub: Publication, our_text: re.Pattern[str] | None, our_label: str
) -> Relevance:
    mention = ""
    if our_text is not None and our_text.search(" | ".join((pub.title, *pub.forces))):
        mention = f" It names {our_label}."
    if kind == SUPER_COMPLAINT:
        why = (
            "super-complaint reports come under the super-complaint provisions of the Police "
            "Reform Act 2002, not Section 55 of the Police Act 1996; a person should decide "
            "whether the Commissioner responds (forces publish their own responses)"
        )
    else:
        why = (
            "it is not an inspection report that Section 55 requires a response to, but some "
            "offices respond, so a person should decide"
        )
    return Relevance(decision=Decision.TBD, reason=f"This is {kind}; {why}.{mention}")
