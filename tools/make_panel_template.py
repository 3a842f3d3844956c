"""Build ``automation/templates/panel_report.docx``, the Word template of the Panel report.

A docxtpl (Jinja-in-Word) document: A4 landscape, Arial, the office's name in the header and
page numbers in the footer; a summary (counts by status as a table and a bar chart), then one
table of open findings per report. Staff may edit the committed .docx in Word (wording,
styles, columns); this script exists so the original can be rebuilt and reviewed as code.

Variables (see ``automation.documents.panel_report``): office, as_of, total, open_count,
overdue_updates, status_counts (name, count), rag_counts (name, count), chart (an image),
groups (report, report_url, published, lines: label, text, addressed_to, owner, status,
rag, rag_fill, age, target_date, last_update, last_update_on, next_update_due, overdue).

Every Jinja tag is one run; paragraph tags (``{%p ... %}``) and table-row tags
(``{%tr ... %}``) sit alone in their paragraph or row, which docxtpl removes.

Usage: ``.venv/bin/python tools/make_panel_template.py [OUTPUT]``.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Mm, Pt, RGBColor

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "automation" / "templates" / "panel_report.docx"
)
BUILT_ON = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
HEADER_FILL = "1F3864"
COLUMNS: tuple[tuple[str, str, int], ...] = (
    # (heading, cell text, width in mm)
    ("Finding", "{{ l.label }}{% if l.text %}: {{ l.text }}{% endif %}", 92),
    ("Owner", "{{ l.owner }}", 38),
    ("Status", "{{ l.status }}", 26),
    ("RAG", "{% cellbg l.rag_fill %}{{ l.rag }}", 15),
    ("Age (days)", "{{ l.age }}", 16),
    ("Target date", "{{ l.target_date }}", 22),
    (
        "Last update",
        "{{ l.last_update_on }}{% if l.last_update_on and l.last_update %}: {% endif %}"
        "{{ l.last_update }}",
        58,
    ),
)


def _styles(document: Any) -> None:
    normal = document.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10)
    for name, size in (("Title", 20), ("Heading 1", 15), ("Heading 2", 12.5)):
        style = document.styles[name]
        style.font.name = "Arial"
        style.font.size = Pt(size)
        style.font.color.rgb = RGBColor(0x1F, 0x38, 0x64)


def _landscape(document: Any) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Mm(15))
    section.top_margin = section.bottom_margin = Mm(15)
    header = section.header.paragraphs[0]
    header.add_run("{{ office }}").font.size = Pt(9)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer.add_run("Progress on HMICFRS recommendations \u2013 page ").font.size = Pt(8)
    footer._p.append(
        parse_xml(
            f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "><w:r><w:rPr><w:sz w:val="16"/>'
            "</w:rPr><w:t>1</w:t></w:r></w:fldSimple>"
        )
    )


def _shade(cell: Any, fill: str) -> None:
    cell._tc.get_or_add_tcPr().append(
        parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{fill}"/>')
    )


def _heading_row(table: Any, headings: list[str]) -> None:
    for cell, text in zip(table.rows[0].cells, headings, strict=True):
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        _shade(cell, HEADER_FILL)
    # Repeat the heading row on every page the table runs over.
    table.rows[0]._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader {nsdecls('w')}/>"))


def _widths(table: Any, widths_mm: Any) -> None:
    """Fixed column widths (the grid and every cell: Word reads one, LibreOffice the other)."""
    table.autofit = False
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def _tag_row(table: Any, tag: str) -> None:
    table.add_row().cells[0].paragraphs[0].add_run(tag)


def _tag(document: Any, text: str) -> None:
    document.add_paragraph().add_run(text)


def build() -> Any:
    """Return the template as a python-docx Document (not yet saved)."""
    document = Document()
    package_rels = document.part.package.rels
    for rel_id, rel in list(package_rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del package_rels[rel_id]
    _styles(document)
    _landscape(document)
    core = document.core_properties
    core.title = "Progress on HMICFRS recommendations"
    core.author = core.last_modified_by = "Office of the Police and Crime Commissioner"
    core.language = "en-GB"
    core.created = core.modified = BUILT_ON.replace(tzinfo=None)
    core.revision = 1

    document.add_paragraph(style="Title").add_run("Progress on HMICFRS recommendations")
    document.add_paragraph().add_run(
        "Report to the Police and Crime Panel \u2013 position as of {{ as_of }}"
    ).bold = True
    document.add_paragraph().add_run(
        "The Commissioner holds the Chief Constable to account for every recommendation, area "
        "for improvement and cause of concern in HMICFRS's reports until HMICFRS closes it. "
        "{{ open_count }} of the {{ total }} findings tracked are open; "
        "{{ overdue_updates }} progress update{{ '' if overdue_updates == 1 else 's' }} "
        "{{ 'is' if overdue_updates == 1 else 'are' }} overdue."
    )

    document.add_heading("Summary", level=1)
    summary = document.add_table(rows=1, cols=2)
    summary.style = "Table Grid"
    summary.alignment = WD_TABLE_ALIGNMENT.LEFT
    _heading_row(summary, ["Status", "Findings"])
    _tag_row(summary, "{%tr for c in status_counts %}")
    row = summary.add_row().cells
    row[0].paragraphs[0].add_run("{{ c.name }}")
    row[1].paragraphs[0].add_run("{{ c.count }}")
    _tag_row(summary, "{%tr endfor %}")
    _widths(summary, (70, 25))
    document.add_paragraph().add_run("{{ chart }}")
    document.add_paragraph().add_run(
        "Open findings by RAG rating: {% for c in rag_counts %}{{ c.name }} {{ c.count }}"
        "{{ '; ' if not loop.last else '.' }}{% endfor %}"
    )

    document.add_heading("Open findings by report", level=1)
    _tag(document, "{%p if not groups %}")
    document.add_paragraph().add_run("No findings are open.")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p for g in groups %}")
    document.add_heading(level=2).add_run("{{ g.report }}")
    source = document.add_paragraph()
    source.paragraph_format.keep_with_next = True  # the report's name stays with its table
    source.add_run(
        "{% if g.published %}Published {{ g.published }}. {% endif %}{{ g.report_url }}"
    ).font.size = Pt(8)
    table = document.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    _heading_row(table, [heading for heading, _, _ in COLUMNS])
    _tag_row(table, "{%tr for l in g.lines %}")
    cells = table.add_row().cells
    for cell, (_, text, _) in zip(cells, COLUMNS, strict=True):
        cell.paragraphs[0].add_run(text).font.size = Pt(9)
    _tag_row(table, "{%tr endfor %}")
    _widths(table, [width for _, _, width in COLUMNS])
    _tag(document, "{%p endfor %}")
    document.add_paragraph().add_run(
        "Status and RAG ratings are as the owners recorded them in the recommendations list; "
        "age counts the days since the report was published."
    ).font.size = Pt(8)
    return document


def main(argv: list[str]) -> int:
    """Write the template to argv[0] or the default path."""
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    build().save(str(output))
    sys.stdout.write(f"wrote {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
