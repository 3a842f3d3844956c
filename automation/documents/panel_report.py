"""The Panel report as Word (docxtpl template, autoescape) or CSV, with a small bar chart.

The template (``automation/templates/panel_report.docx``, or the office's copy in
``templates_dir``) is staff-editable like the draft template; rendering is strict (an unknown
variable or a Jinja error is a :class:`~automation.errors.TemplateError` naming the file).
The chart, findings by status, is a PNG drawn with Pillow (already installed with fpdf2), so
no plotting library is needed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from docx.shared import Mm
from docxtpl import InlineImage

from automation.documents.render import _jinja_env, _open_template, _read_template
from automation.domain.calendar import long_date
from automation.domain.panel import PanelData, PanelLine
from automation.errors import TemplateError

__all__ = ["TEMPLATE_NAME", "chart_png", "panel_csv", "render_panel"]

TEMPLATE_NAME = "panel_report.docx"
RAG_FILLS = {"red": "F4B6B6", "amber": "FFE199", "green": "C6E7C0"}
NO_FILL = "FFFFFF"
BAR = (31, 56, 100)
CSV_FIELDS = (
    "Report",
    "Finding",
    "Kind",
    "Number",
    "Text",
    "Addressed to",
    "Owner",
    "Status",
    "RAG",
    "Age (days)",
    "Target date",
    "Last update",
    "Last update on",
    "Next update due",
    "Update overdue",
    "Row link",
    "Report link",
)
_PLAIN = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _day(value: date | None) -> str:
    return long_date(value) if value is not None else ""


def chart_png(counts: Sequence[tuple[str, int]], *, title: str) -> bytes:
    """A horizontal bar chart of ``counts`` (label, number) as PNG bytes."""
    # Imported here: only `automation report panel` draws (the service never does).
    from PIL import Image, ImageDraw, ImageFont

    width, bar_height, gap, left, top = 1400, 44, 18, 430, 80
    height = top + len(counts) * (bar_height + gap) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    bold = ImageFont.load_default(size=32)
    draw.text((20, 20), title, fill=BAR, font=bold)
    most = max((n for _, n in counts), default=0) or 1
    room = width - left - 120
    for index, (label, number) in enumerate(counts):
        y = top + index * (bar_height + gap)
        # Pillow's built-in font has no typographic dashes or quotes.
        plain = label.translate(_PLAIN)
        draw.text((20, y + 6), plain, fill="black", font=font)
        length = round(room * number / most)
        if length:
            draw.rectangle((left, y, left + length, y + bar_height), fill=BAR)
        draw.text((left + length + 12, y + 6), str(number), fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _line(line: PanelLine) -> dict[str, Any]:
    return {
        "label": line.label,
        "text": " ".join(line.text.split()),
        "addressed_to": line.addressed_to,
        "owner": line.owner,
        "status": line.status,
        "rag": line.rag,
        "rag_fill": RAG_FILLS.get(line.rag.casefold(), NO_FILL),
        "age": "" if line.age_days is None else str(line.age_days),
        "target_date": _day(line.target_date),
        "last_update": line.last_update,
        "last_update_on": _day(line.last_update_on),
        "next_update_due": _day(line.next_update_due),
        "overdue": line.update_overdue,
        "row_url": line.row_url,
    }


def context(data: PanelData, *, office: str) -> dict[str, Any]:
    """The template's values (plain strings and lists; the chart is added when rendering)."""
    return {
        "office": office,
        "as_of": long_date(data.as_of),
        "total": data.total,
        "open_count": data.open_count,
        "overdue_updates": data.overdue_updates,
        "status_counts": [{"name": n, "count": c} for n, c in data.status_counts],
        "rag_counts": [{"name": n, "count": c} for n, c in data.rag_counts],
        "groups": [
            {
                "report": group.report,
                "report_url": group.report_url,
                "published": _day(group.published),
                "lines": [_line(line) for line in group.lines],
            }
            for group in data.groups
        ],
    }


def render_panel(templates_dir: Path, data: PanelData, *, office: str) -> bytes:
    """The Panel report as .docx bytes.

    Raises:
        TemplateError: the template cannot be read or rendered (the message names it).
    """
    template = templates_dir / TEMPLATE_NAME
    tpl = _open_template(template, _read_template(template))
    values = context(data, office=office)
    chart = chart_png(data.status_counts, title="Findings by status")
    values["chart"] = InlineImage(tpl, io.BytesIO(chart), width=Mm(150))
    env = _jinja_env()
    try:
        tpl.render(values, jinja_env=env, autoescape=True)
        out = io.BytesIO()
        tpl.save(out)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{template.name}: cannot render: {exc}") from exc
    except Exception as exc:  # docxtpl/lxml/python-docx failures have no common base
        raise TemplateError(f"{template.name}: cannot render: {exc!r}") from exc
    return out.getvalue()


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def panel_csv(data: PanelData) -> bytes:
    """The open findings as CSV (UTF-8 with a byte order mark, which Excel needs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for line in data.lines:
        writer.writerow(
            _cell(v)
            for v in (
                line.report,
                line.label,
                line.kind,
                line.number,
                " ".join(line.text.split()),
                line.addressed_to,
                line.owner,
                line.status,
                line.rag,
                "" if line.age_days is None else line.age_days,
                line.target_date.isoformat() if line.target_date else "",
                line.last_update,
                line.last_update_on.isoformat() if line.last_update_on else "",
                line.next_update_due.isoformat() if line.next_update_due else "",
                "yes" if line.update_overdue else "",
                line.row_url,
                line.report_url,
            )
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
