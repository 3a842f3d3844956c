"""A simulated year of HMICFRS publications (2024), as the feed shows them day by day.

Deterministic (seeded), built from the public shape of the HMICFRS site: about 133
publications a year, most of them other forces' PEEL reports and fire and rescue
inspections, a few national thematics and joint inspections, and now and then a
super-complaint, a State of Policing or a report on a non-Home Office body. The feed shows
only the latest 20 items, and items misbehave the way WordPress feeds do:

* **late**: an item appears in the feed a day or more after its ``pubDate``;
* **re-stamped**: the same item (same guid) comes back with a different ``pubDate``;
* **retitled**: the same item comes back with a new title;
* **vanishing**: an item leaves the feed for some days (and sometimes never returns).

What the feed shows on a day is a pure function of the day, so a run can be repeated.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
from email.utils import format_datetime

from automation.domain.calendar import LONDON
from tests.feeds import Item

YEAR = 2024
WINDOW = 20
OUR_FORCE = "Norfolk Constabulary"

_OTHER_FORCES = (
    "Suffolk Constabulary",
    "Essex Police",
    "Kent Police",
    "Cambridgeshire Constabulary",
    "Hertfordshire Constabulary",
    "Bedfordshire Police",
    "Thames Valley Police",
    "Surrey Police",
    "Sussex Police",
    "Hampshire and Isle of Wight Constabulary",
    "Dorset Police",
    "Devon and Cornwall Police",
    "Avon and Somerset Police",
    "Gloucestershire Constabulary",
    "Wiltshire Police",
    "West Mercia Police",
    "Warwickshire Police",
    "West Midlands Police",
    "Staffordshire Police",
    "Derbyshire Constabulary",
    "Nottinghamshire Police",
    "Leicestershire Police",
    "Lincolnshire Police",
    "Northamptonshire Police",
    "Greater Manchester Police",
    "Merseyside Police",
    "Cheshire Constabulary",
    "Lancashire Constabulary",
    "Cumbria Constabulary",
    "Durham Constabulary",
    "Cleveland Police",
    "Northumbria Police",
    "North Yorkshire Police",
    "West Yorkshire Police",
    "South Yorkshire Police",
    "Humberside Police",
    "Dyfed-Powys Police",
    "Gwent Police",
    "South Wales Police",
    "North Wales Police",
)
_FIRE_SERVICES = tuple(
    name.replace(" Police", "").replace(" Constabulary", "") + " Fire and Rescue Service"
    for name in _OTHER_FORCES[:40]
)
_THEMES = (
    "the police response to stalking",
    "vetting, misconduct and misogyny",
    "neighbourhood policing",
    "how forces deal with fraud",
    "the police approach to missing children",
    "digital forensics",
    "race and policing",
    "activism and impartiality",
    "custody services",
    "serious and organised crime",
    "the use of police powers",
    "online child sexual abuse",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Publication:
    """One publication of the year and how the feed misbehaves with it."""

    n: int
    kind: str
    """own_peel, own_force, other_peel, thematic, joint, fire, super_complaint, corporate,
    non_home_office."""
    title: str
    link: str
    published: dt.datetime
    """When HMICFRS published it (aware, UTC)."""
    categories: tuple[str, ...]
    appears: dt.date
    """The London day the item first shows in the feed (late items later than published)."""
    retitled_on: dt.date | None = None
    new_title: str = ""
    restamped_on: dt.date | None = None
    new_published: dt.datetime | None = None
    hidden: tuple[dt.date, dt.date] | None = None
    """Absent from the feed from the first day up to (not including) the second."""

    @property
    def london_day(self) -> dt.date:
        """The publication's London calendar day (what the deadline counts from)."""
        return self.published.astimezone(LONDON).date()

    @property
    def needs_response(self) -> bool:
        """Whether the service should file it as needing a response (Yes)."""
        return self.kind in ("own_peel", "own_force", "thematic", "joint")

    @property
    def to_be_decided(self) -> bool:
        """Whether a person must decide (To be decided)."""
        return self.kind in ("super_complaint", "corporate")

    def item_on(self, day: dt.date) -> Item | None:
        """The feed item as shown on ``day`` (None when not in the feed that day)."""
        if day < self.appears:
            return None
        if self.hidden and self.hidden[0] <= day < self.hidden[1]:
            return None
        title = self.title
        if self.retitled_on is not None and day >= self.retitled_on:
            title = self.new_title
        published = self.published
        if self.restamped_on is not None and day >= self.restamped_on and self.new_published:
            published = self.new_published
        return Item(
            title=title,
            link=self.link,
            pub_date=format_datetime(published),
            categories=self.categories,
            description=f"HMICFRS publication {self.n}.",
            guid=f"https://hmicfrs.justiceinspectorates.gov.uk/?p={10_000 + self.n}",
        )


def _release(day: dt.date) -> dt.datetime:
    """00:01 London time on ``day``, the usual HMICFRS release time, in UTC."""
    return dt.datetime.combine(day, dt.time(0, 1), tzinfo=LONDON).astimezone(dt.UTC)


def _kinds(rng: random.Random) -> list[str]:
    kinds = (
        ["own_peel", "own_force"]
        + ["other_peel"] * 38
        + ["thematic"] * 22
        + ["joint"] * 8
        + ["fire"] * 52
        + ["super_complaint"] * 3
        + ["corporate"] * 4
        + ["non_home_office"] * 4
    )
    rng.shuffle(kinds)
    return kinds


def _describe(kind: str, n: int, rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    base = "https://hmicfrs.justiceinspectorates.gov.uk"
    if kind == "own_peel":
        return (
            f"PEEL 2023-25: An inspection of {OUR_FORCE}",
            f"{base}/peel-reports/norfolk-2023-25/",
            ("PEEL", OUR_FORCE),
        )
    if kind == "own_force":
        return (
            f"Report on an unannounced inspection visit to police custody suites in {OUR_FORCE}",
            f"{base}/publications/custody-norfolk-{n}/",
            ("Custody suite inspection", OUR_FORCE),
        )
    if kind == "other_peel":
        force = _OTHER_FORCES[n % len(_OTHER_FORCES)]
        slug = force.split()[0].lower()
        return (
            f"PEEL 2023-25: An inspection of {force}",
            f"{base}/peel-reports/{slug}-2023-25-{n}/",
            ("PEEL", force),
        )
    if kind == "thematic":
        theme = rng.choice(_THEMES)
        return (
            f"An inspection of {theme}",
            f"{base}/publications/thematic-{n}/",
            ("National thematic inspection", "N/A"),
        )
    if kind == "joint":
        theme = rng.choice(_THEMES)
        return (
            f"Joint inspection of {theme}",
            f"{base}/publications/joint-{n}/",
            ("Joint inspection", "N/A"),
        )
    if kind == "fire":
        service = _FIRE_SERVICES[n % len(_FIRE_SERVICES)]
        return (
            f"{service}: Effectiveness, efficiency and people 2023-25",
            f"{base}/frs-assessment/frs-2023-25/{n}/",
            ("Fire and rescue service inspection",),
        )
    if kind == "super_complaint":
        return (
            f"Report on super-complaint {n} about the police response to victims",
            f"{base}/publications/super-complaint-{n}/",
            ("Super-complaints",),
        )
    if kind == "corporate":
        return (
            f"State of Policing: The Annual Assessment of Policing in England and Wales {n}",
            f"{base}/publications/state-of-policing-{n}/",
            ("Corporate document",),
        )
    body = (
        "National Crime Agency",
        "British Transport Police",
        "Police Service of Northern Ireland",
    )[n % 3]
    return (
        f"An inspection of the {body}",
        f"{base}/publications/non-home-office-{n}/",
        ("Non-Home Office force inspection", body),
    )


def publications(seed: int = 2024) -> tuple[Publication, ...]:
    """The year's publications, in publication order."""
    rng = random.Random(seed)
    kinds = _kinds(rng)
    working = [
        dt.date(YEAR, 1, 2) + dt.timedelta(days=d)
        for d in range(360)
        if (dt.date(YEAR, 1, 2) + dt.timedelta(days=d)).weekday() < 5
    ]
    days = sorted(rng.choice(working) for _ in kinds)
    out = []
    for n, (kind, day) in enumerate(zip(kinds, days, strict=True), start=1):
        title, link, categories = _describe(kind, n, rng)
        published = _release(day) if rng.random() < 0.9 else _release(day) + dt.timedelta(hours=10)
        pub = Publication(
            n=n,
            kind=kind,
            title=title,
            link=link,
            published=published,
            categories=categories,
            appears=day,
        )
        roll = rng.random()
        if roll < 0.06:
            pub = replace(pub, appears=day + dt.timedelta(days=rng.randint(1, 3)))
        elif roll < 0.10:
            pub = replace(
                pub,
                retitled_on=day + dt.timedelta(days=rng.randint(1, 5)),
                new_title=title + " (updated)",
            )
        elif roll < 0.13:
            # Re-stamped: the same item with a later date (a page re-published), which must
            # not start a new 56-day clock.
            pub = replace(
                pub,
                restamped_on=day + dt.timedelta(days=rng.randint(2, 9)),
                new_published=published + dt.timedelta(days=rng.randint(1, 30)),
            )
        elif roll < 0.17:
            start = day + dt.timedelta(days=rng.randint(0, 2))
            pub = replace(pub, hidden=(start, start + dt.timedelta(days=rng.randint(1, 6))))
        out.append(pub)
    return tuple(out)


def feed_on(pubs: tuple[Publication, ...], day: dt.date) -> list[Item]:
    """What the feed lists on ``day``: the latest ``WINDOW`` visible items, newest first."""
    shown = [(pub, pub.item_on(day)) for pub in pubs]
    visible = [(pub, item) for pub, item in shown if item is not None]
    visible.sort(key=lambda pair: (pair[0].published, pair[0].n), reverse=True)
    return [item for _, item in visible[:WINDOW]]
