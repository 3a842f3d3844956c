"""Builds small RSS feeds for tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    pub_date: str  # RFC 822, e.g. "Wed, 19 Jul 2023 23:01:00 +0000"
    categories: Sequence[str] = field(default_factory=tuple)
    description: str = ""
    guid: str | None = None


def rss(items: Sequence[Item]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel><title>HMICFRS</title>',
        "<link>https://hmicfrs.justiceinspectorates.gov.uk/</link><description>test</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        parts.append(f"<link>{escape(item.link)}</link>")
        parts.append(f"<pubDate>{item.pub_date}</pubDate>")
        guid = item.guid if item.guid is not None else item.link
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
        for category in item.categories:
            parts.append(f"<category><![CDATA[{category}]]></category>")
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


SEED_TITLE = (
    "Counter Terrorism Joint Inspection - National security division and multi-agency "
    "arrangements for the management of terrorist offenders in the wake of terrorist attacks"
)
SEED = Item(
    title=SEED_TITLE,
    link="https://hmicfrs.justiceinspectorates.gov.uk/publications/counter-terrorism-joint-inspection/",
    pub_date="Wed, 19 Jul 2023 23:01:00 +0000",
    categories=("Counter-terrorism and joint inspection", "N/A"),
    description="A joint inspection of the national security division.",
)
NORFOLK_PEEL = Item(
    title="PEEL 2023-25: An inspection of Norfolk Constabulary",
    link="https://hmicfrs.justiceinspectorates.gov.uk/peel-reports/norfolk-2023-25/",
    pub_date="Thu, 03 Aug 2023 23:01:00 +0000",
    categories=("PEEL", "Norfolk Constabulary"),
)
SUFFOLK_PEEL = Item(
    title="PEEL 2023-25: An inspection of Suffolk Constabulary",
    link="https://hmicfrs.justiceinspectorates.gov.uk/peel-reports/suffolk-2023-25/",
    pub_date="Thu, 03 Aug 2023 23:01:00 +0000",
    categories=("PEEL", "Suffolk Constabulary"),
)
SUPER_COMPLAINT = Item(
    title="Police perpetrated domestic abuse: report on the Centre for Women's Justice "
    "super-complaint",
    link="https://hmicfrs.justiceinspectorates.gov.uk/publications/cwj-super-complaint/",
    pub_date="Tue, 01 Aug 2023 23:01:00 +0000",
    categories=("Super-complaints",),
)
