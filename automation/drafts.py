"""The Word draft of a response: context from the tracker record, rendering, ownership mark.

Each draft carries its publication key in the document's core properties (identifier),
so a draft found at the expected path after a crash can be recognised as ours.
"""

from __future__ import annotations

import gc
import io
import threading
from datetime import date
from pathlib import Path
from typing import Any

import docx

from automation.documents import DraftContext, draft_filename, render_draft
from automation.domain.calendar import london_now
from automation.domain.deadlines import DeadlineRule, deadline_rule_label
from automation.domain.publications import findings_from_json
from automation.domain.record import TrackerRecord
from automation.domain.relevance import is_fire_publication
from automation.errors import ItemError
from automation.settings import Settings

TEMPLATE_NAME = "section55_response.docx"
_RENDER_LOCK = threading.Lock()


def template_path(settings: Settings) -> Path:
    """Where the Word template is."""
    return settings.templates_dir / TEMPLATE_NAME


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def published_on(record: TrackerRecord) -> date:
    """The record's publication date; an item without one cannot get a draft."""
    if record.published_on is None:
        raise ItemError(record.key or record.marker, "PublishedOn", "missing or not a date")
    return record.published_on


def draft_context(settings: Settings, record: TrackerRecord) -> DraftContext:
    """Template values from the tracker record (and its stored report details)."""
    report = record.report
    published = published_on(record)
    if record.deadline is None:
        raise ItemError(record.key or record.marker, "ResponseDeadline", "missing or not a date")
    deadline = record.deadline
    rule = DeadlineRule(record.deadline_rule or settings.deadline_rule)
    title = str(report.get("title") or record.title)
    link = str(report.get("link") or record.report_url)
    types = [t for t in record.publication_types.split("; ") if t]
    # A fire and rescue report gets the fire wording (the Fire and Rescue National
    # Framework, not Section 55) only in an office that oversees a fire service.
    fire = bool(settings.fire_and_rescue_service.strip()) and is_fire_publication(
        title, types, link
    )
    return DraftContext(
        pcc_area=settings.pcc_area,
        force_name=settings.force_name,
        office_name=settings.office_label,
        commissioner=settings.commissioner,
        fire=fire,
        inspected=settings.fire_and_rescue_service.strip() if fire else settings.force_name,
        title=title,
        published_on=published,
        publication_types=record.publication_types,
        police_forces=record.police_forces,
        report_url=link,
        deadline=deadline,
        deadline_rule_note=deadline_rule_label(rule),
        key_findings=str(report.get("summary") or ""),
        recommendations=findings_from_json(report.get("recommendations")),
        recommendation_count=_int(report.get("recommendation_count")),
        recommendations_left_out=_int(report.get("recommendations_left_out")) or 0,
        areas_for_improvement=findings_from_json(report.get("areas_for_improvement")),
        afi_count=_int(report.get("afi_count")),
        causes_of_concern=findings_from_json(report.get("causes_of_concern")),
    )


def build_draft(settings: Settings, record: TrackerRecord) -> bytes:
    """The rendered .docx, marked with the publication key."""
    # Rendering is CPU-bound (the GIL serialises it anyway); one at a time keeps only one
    # document's XML in memory while intake files publications in parallel.
    with _RENDER_LOCK:
        return _build_draft(settings, record)


def _build_draft(settings: Settings, record: TrackerRecord) -> bytes:
    content = render_draft(template_path(settings), draft_context(settings, record))
    document = docx.Document(io.BytesIO(content))
    props = document.core_properties
    props.identifier = record.key[:255]
    props.title = record.title[:255]
    props.subject = "Section 55 response"
    # A draft is created now, not when the template was built.
    now = london_now().replace(tzinfo=None)
    props.created = props.modified = now
    props.revision = 1
    out = io.BytesIO()
    document.save(out)
    del document
    # python-docx keeps each document's XML trees in reference cycles that only a full
    # collection frees; collecting now keeps a 200-publication backfill's memory flat.
    gc.collect()
    return out.getvalue()


def draft_key(content: bytes) -> str:
    """The publication key a draft was made for ('' when unreadable or not ours)."""
    try:
        document = docx.Document(io.BytesIO(content))
    except Exception:  # any unreadable file is simply "not ours"
        return ""
    key = str(document.core_properties.identifier or "")
    del document
    gc.collect()
    return key


def draft_name(record: TrackerRecord, attempt: int = 1) -> str:
    """File name of the draft; later attempts add " (n)" before the extension."""
    name = draft_filename(str(record.report.get("title") or record.title), published_on(record))
    if attempt <= 1:
        return name
    stem = name.removesuffix(".docx")
    return f"{stem} ({attempt}).docx"


def draft_folder(settings: Settings, record: TrackerRecord) -> str:
    """Library folder of the draft: one per publication year."""
    year = published_on(record).year
    return f"{settings.sharepoint.drafts_folder}/{year}"
