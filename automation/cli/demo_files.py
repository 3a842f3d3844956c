"""The files ``automation demo`` writes: safe local names, mail labels, the tracker as CSV.

Kept apart from the story in :mod:`automation.cli.demo`, which prints what happens; this
module only turns what the sandbox holds into files a person can open.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from automation.domain.calendar import london_date, long_date
from automation.graph.sharepoint import from_sp_date
from automation.graph.tracker_list import COLUMNS, record_from_item

MARKER_FILE = ".automation-demo"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 draft``, ``3 drafts``."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def safe_name(text: str) -> str:
    """A file-name-safe form of ``text`` (letters, digits, ``.``, ``@``, ``_`` and ``-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9.@_-]+", "_", text).strip("._")
    return cleaned[:80] or "unnamed"


def mail_label(entry: dict[str, Any]) -> str:
    """What a delivered message is: a circulation group, ``digest``, ``notice`` or ``mail``."""
    key = str(entry.get("key") or "")
    if "circulation" in key:
        return key.rsplit("-", 1)[-1]
    if "digest" in key:
        return "digest"
    if "s55-notice" in key:
        return "notice"
    return "mail"


def first_recipient(entry: dict[str, Any]) -> str:
    """The first To (else Cc, Bcc) address of a delivered message."""
    for header in ("to", "cc", "bcc"):
        addresses = entry.get(header) or []
        if addresses:
            return str(addresses[0])
    return "nobody"


def column_value(column: dict[str, Any], fields: dict[str, Any]) -> str:
    """A tracker value as a person reads it: dates as London dates, Yes/No for booleans."""
    value = fields.get(column["name"])
    if "boolean" in column:
        return "Yes" if value else "No"
    if value is None or value == "":
        return ""
    if "dateTime" in column:
        if column["dateTime"].get("format") == "dateOnly":
            try:
                return from_sp_date(str(value)).isoformat()
            except ValueError:
                return str(value)
        return str(value)
    if "number" in column:
        try:
            return str(int(float(value)))
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def tracker_csv(items: Sequence[dict[str, Any]]) -> str:
    """Every item, every column (human column names), ``Item`` (S55-n) first."""
    columns: list[dict[str, Any]] = [{"name": "Title", "displayName": "Title"}, *COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Item", *(str(c["displayName"]) for c in columns)])
    for item in items:
        record = record_from_item(item)
        fields = item.get("fields") or {}
        writer.writerow([record.marker, *(column_value(c, fields) for c in columns)])
    return buffer.getvalue()


def prepare_output(output: Path) -> str | None:
    """Empty ``output`` for a new run; a reason when it is not the demo's to wipe."""
    if output.exists() and not output.is_dir():
        return f"{output} exists and is not a directory"
    if output.is_dir() and any(output.iterdir()) and not (output / MARKER_FILE).is_file():
        return (
            f"{output} is not empty and was not written by `automation demo`; "
            "choose another --output directory"
        )
    if output.is_dir():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    (output / MARKER_FILE).write_text(
        "Written by `automation demo`; the next demo run empties this directory.\n",
        encoding="utf-8",
    )
    return None


def safe_file(name: str) -> str:
    """A library file name made safe for the local file system (spaces kept)."""
    cleaned = re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", "_", name).strip(" .")
    return cleaned or "draft.docx"


def plan_markdown(
    wanted: Sequence[str],
    buckets: Mapping[str, str],
    tasks: Sequence[Mapping[str, Any]],
    *,
    person: Callable[[str], str],
) -> str:
    """The Planner board as Markdown: one section per bucket (``wanted`` ones first)."""
    names = list(dict.fromkeys([*wanted, *sorted(buckets.values())]))
    by_bucket: dict[str, list[Mapping[str, Any]]] = {name: [] for name in names}
    for task in tasks:
        bucket = buckets.get(str(task.get("bucketId")), "(no bucket)")
        by_bucket.setdefault(bucket, []).append(task)
    lines = ["# Section 55 plan", ""]
    for bucket, in_bucket in by_bucket.items():
        lines += [f"## {bucket}", ""]
        if not in_bucket:
            lines += ["_No tasks._", ""]
            continue
        for task in sorted(in_bucket, key=lambda t: str(t.get("title", ""))):
            assignees = ", ".join(person(uid) for uid in sorted(task.get("assignments") or {}))
            due = london_date(str(task.get("dueDateTime") or ""))
            checklist = int(task.get("checklistItemCount") or 0)
            lines.append(f"- **{task.get('title', '')}**")
            lines.append(f"  - assigned to: {assignees or 'nobody'}")
            lines.append(f"  - due: {long_date(due) if due else 'no due date'}")
            lines.append(f"  - {int(task.get('percentComplete') or 0)}% complete")
            lines.append(f"  - checklist: {plural(checklist, 'item')}")
        lines.append("")
    return "\n".join(lines)
