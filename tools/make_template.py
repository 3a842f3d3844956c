"""Build ``automation/templates/section55_response.docx``, the Word template for Section 55 drafts.

The template is a docxtpl (Jinja-in-Word) document following the layout of Norfolk OPCC's
Section 55 response. Staff may edit the committed .docx in Word; this script exists so the
original can be rebuilt and reviewed as code.

Every Jinja tag is written as part of a single run so that Word keeps it in one piece, and
paragraph-level tags (``{%p ... %}``) sit alone in their own paragraph, which docxtpl removes
when rendering.

Usage: ``python tools/make_template.py [OUTPUT]`` (default:
automation/templates/section55_response.docx, the copy shipped in the package).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt, RGBColor

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "automation" / "templates" / "section55_response.docx"
)

TITLE_LINE = "{{ pcc_area }} Police and Crime Commissioner's response to HMICFRS report"

SECTION_55_PARAGRAPH = (
    "Section 55 of the Police Act 1996 requires the Police and Crime Commissioner to publish "
    "comments on any report by His Majesty's Inspectorate of Constabulary and Fire & Rescue "
    "Services (HMICFRS) on an inspection that relates to their force. The comments, together "
    "with any comments from the Chief Constable and the Commissioner's response to them, must "
    "be published before the end of the period of 56 days beginning with the day on which the "
    "report is published. Where the report makes recommendations, the comments must explain "
    "what action has been or will be taken in response to each, or why no action is to be "
    "taken. A copy of the published comments is sent to HMICFRS and to the Home Secretary."
)

# (bold label, value run text)
FIELDS: tuple[tuple[str, str], ...] = (
    ("Inspection Title:", " {{ title }}"),
    ("Published on:", " {{ published_on }}"),
    ("Publication Types:", " {{ publication_types }}"),
    ("Police Forces:", " {{ police_forces }}"),
    ("Link to Report:", " {{ report_url }}"),
)

DEADLINE_LABEL = "Section 55 Response Deadline:"
DEADLINE_VALUE = " {{ deadline }}"
DEADLINE_NOTE = "{% if deadline_rule_note %} ({{ deadline_rule_note }}){% endif %}"

KEY_FINDINGS_HEADING = "Key Findings"
RECOMMENDATIONS_HEADING = "Recommendations"
AFI_HEADING = "Areas for Improvement"
RESPONSE_HEADING = "PCC response to report and any Recommendations/Areas for Improvement"
RESPONSE_PLACEHOLDER = (
    "[To be completed: the Police and Crime Commissioner's response to the report, including, "
    "for each recommendation, what action has been or will be taken, or why none is to be "
    "taken.]"
)
OFFICE_HEADING = "For Office Use Only"
BALLOT_BOX = "\u2610"
CHECKLIST: tuple[str, ...] = (
    "Forwarded to HMICFRS Section 55 Responses and submitted onto the HMICFRS portal",
    "Forwarded to Chief Constable",
    "Forwarded to Police and Crime Panel",
    "Published on OPCC website",
)

FONT = "Arial"
DARK = RGBColor(0x1F, 0x1F, 0x1F)


def _style_fonts(document: Any) -> None:
    styles = document.styles
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(11)
    normal.paragraph_format.space_after = Pt(6)
    for name, size in (("Heading 1", 16), ("Heading 2", 13), ("Subtitle", 13)):
        style = styles[name]
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.color.rgb = DARK
        style.font.italic = False


def _loop_section(document: Any, *, heading: str, items: str, label: str, note: str) -> None:
    """A heading, one paragraph per item ("<label> N:" bold + text), then an optional note."""
    document.add_heading(heading, level=2)
    document.add_paragraph().add_run(f"{{%p for r in {items} %}}")
    item = document.add_paragraph()
    item.add_run(f"{label} {{{{ r.number }}}}:").bold = True
    item.add_run(" {{ r.text }}")
    document.add_paragraph().add_run("{%p endfor %}")
    document.add_paragraph().add_run(f"{{%p if {note} %}}")
    document.add_paragraph().add_run(f"{{{{ {note} }}}}")
    document.add_paragraph().add_run("{%p endif %}")


def build() -> Any:
    """Return the template as a python-docx Document (not yet saved)."""
    document = Document()
    _style_fonts(document)
    core = document.core_properties
    core.title = "Section 55 response"
    core.subject = "Police and Crime Commissioner's response to an HMICFRS report"
    core.author = "Office of the Police and Crime Commissioner"
    core.last_modified_by = "Office of the Police and Crime Commissioner"
    core.comments = "Template for the Section 55 response service (docxtpl)."

    title = document.add_heading(level=1)
    title.add_run(TITLE_LINE)
    force = document.add_paragraph(style="Subtitle")
    force.add_run("{{ force_name }}")

    document.add_paragraph().add_run(SECTION_55_PARAGRAPH)

    for label, value in FIELDS:
        paragraph = document.add_paragraph()
        paragraph.add_run(label).bold = True
        paragraph.add_run(value)
    deadline = document.add_paragraph()
    deadline.add_run(DEADLINE_LABEL).bold = True
    deadline.add_run(DEADLINE_VALUE)
    deadline.add_run(DEADLINE_NOTE).italic = True

    document.add_heading(KEY_FINDINGS_HEADING, level=2)
    document.add_paragraph().add_run("{{ key_findings }}")

    _loop_section(
        document,
        heading=RECOMMENDATIONS_HEADING,
        items="recommendations",
        label="Recommendation",
        note="recommendations_note",
    )
    _loop_section(
        document,
        heading=AFI_HEADING,
        items="areas_for_improvement",
        label="Area for Improvement",
        note="afi_note",
    )

    document.add_heading(RESPONSE_HEADING, level=2)
    document.add_paragraph().add_run(RESPONSE_PLACEHOLDER)

    document.add_heading(OFFICE_HEADING, level=2)
    for line in CHECKLIST:
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
        paragraph.add_run(f"{BALLOT_BOX} {line}")
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
