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
from automation.domain.deadlines import DeadlineRule, deadline_rule_label
from automation.domain.record import TrackerRecord
from automation.errors import ItemError
from automation.settings import Settings

TEMPLATE_NAME = "section55_response.docx"
_RENDER_LOCK = threading.Lock()


def template_path(settings: Settings) -> Path:
    """Where the Word template is."""
    return settings.templates_dir / TEMPLATE_NAME


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value if str(item).strip())


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
    return DraftContext(
        pcc_area=settings.pcc_area,
        force_name=settings.force_name,
        title=str(report.get("title") or record.title),
        published_on=published,
        publication_types=record.publication_types,
        police_forces=record.police_forces,
        report_url=str(report.get("link") or record.report_url),
        deadline=deadline,
        deadline_rule_note=deadline_rule_label(rule),
        key_findings=str(report.get("summary") or ""),
        recommendations=_strings(report.get("recommendations")),
        recommendation_count=_int(report.get("recommendation_count")),
        areas_for_improvement=_strings(report.get("areas_for_improvement")),
        afi_count=_int(report.get("afi_count")),
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
