"""Build ``automation/templates/section55_response.docx``, the Word template for Section 55 drafts.

The template is a docxtpl (Jinja-in-Word) document following the layout of Norfolk OPCC's
Section 55 response: A4, British English, Word 2013+ format (no compatibility mode), one
font family (Arial) for headings and body, a header with the office name and a logo
placeholder, page numbers in the footer, prompts in square brackets carrying the character
style ``S55 Prompt`` (highlighted), and the office-use checklist as Word check boxes.
Staff may edit the committed .docx in Word; this script exists so the original can be
rebuilt and reviewed as code.

Every Jinja tag is written as part of a single run so that Word keeps it in one piece, and
paragraph-level tags (``{%p ... %}``) sit alone in their own paragraph, which docxtpl removes
when rendering. The wording (prompts, check box tags) comes from `automation.documents`, so
the service and the template cannot drift apart.

Usage: ``.venv/bin/python tools/make_template.py [OUTPUT]`` (the project's environment;
default: automation/templates/section55_response.docx, the copy shipped in the package).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_COLOR_INDEX, WD_TAB_ALIGNMENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

from automation.documents import (
    AFI_PROMPT,
    AFI_RESPONSE_PROMPT,
    CC_COMMENTS_PROMPT,
    CC_COMMENTS_PROMPT_FIRE,
    CONCERN_RESPONSE_PROMPT,
    KEY_FINDINGS_PROMPT,
    OFFICE_USE,
    PROMPT_STYLE,
    RECOMMENDATION_RESPONSE_PROMPT,
    RECOMMENDATIONS_PROMPT,
    RESPONSE_PROMPT,
    office_use_tag,
)

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "automation" / "templates" / "section55_response.docx"
)
BUILT_ON = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
"""The template's creation date in its properties (a fixed date keeps rebuilds identical)."""

TITLE_LINE = (
    "{{ pcc_area }} {{ commissioner }}'s response to inspections of {{ inspected }} "
    "published by His Majesty's Inspectorate of Constabulary and Fire & Rescue Services "
    "(HMICFRS)"
)
POLICE_STATEMENT = (
    "Section 55 of the Police Act 1996 (as amended by section 37 of the Policing and Crime "
    "Act 2017) requires the {{ commissioner }} to publish comments on each HMICFRS report on "
    "an inspection relating to {{ force_name }} within the 56 days beginning with the day "
    "the report is published; this document sets out those comments."
)
FIRE_STATEMENT = (
    "As the fire and rescue authority for {{ inspected }}, the {{ commissioner }} responds to "
    "HMICFRS's inspection reports on the service, as the Fire and Rescue National Framework "
    "for England expects; this document sets out that response."
)

# (bold label, value run text)
FIELDS: tuple[tuple[str, str], ...] = (
    ("Inspection Title:", " {{ title }}"),
    ("Published on:", " {{ published_on }}"),
    ("Publication Types:", " {{ publication_types }}"),
    ("Police Forces:", " {{ police_forces }}"),
)
LINK_LABEL = "Link to Report:"
DEADLINE_LABEL = "{% if fire %}Response Deadline:{% else %}Section 55 Response Deadline:{% endif %}"

KEY_FINDINGS_HEADING = "Key Findings"
RECOMMENDATIONS_HEADING = "Recommendations"
AFI_HEADING = "Areas for Improvement"
CONCERNS_HEADING = "Causes of Concern"
CC_HEADING = "{{ chief_officer }}'s comments"
RESPONSE_HEADING = (
    "{{ commissioner_short }} response to report and any Recommendations/Areas for Improvement"
)
OFFICE_HEADING = "For Office Use Only"

FONT = "Arial"
DARK = RGBColor(0x1F, 0x1F, 0x1F)
GREY = RGBColor(0x70, 0x70, 0x70)
_THEME_ATTRIBUTES = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def _one_font_family(document: Any) -> None:
    """Arial everywhere: theme font references would override it (Calibri headings)."""
    styles_element = document.styles.element
    for fonts in styles_element.iter(qn("w:rFonts")):
        for attribute in _THEME_ATTRIBUTES:
            fonts.attrib.pop(qn(attribute), None)
        for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
            fonts.set(qn(attribute), FONT)
    for lang in styles_element.iter(qn("w:lang")):
        lang.set(qn("w:val"), "en-GB")


def _styles(document: Any) -> None:
    styles = document.styles
    _one_font_family(document)
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(11)
    normal.paragraph_format.space_after = Pt(6)
    for name, size, before, after in (("Heading 1", 15, 0, 12), ("Heading 2", 13, 14, 4)):
        style = styles[name]
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.color.rgb = DARK
        style.font.italic = False
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(after)
    prompt = styles.add_style(PROMPT_STYLE, WD_STYLE_TYPE.CHARACTER)
    prompt.font.highlight_color = WD_COLOR_INDEX.YELLOW
    # Yellow shading as well: LibreOffice (and so a PDF made by it) ignores a character
    # style's highlight, and shading shows the same in both.
    prompt.element.get_or_add_rPr().append(
        parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="FFFF00"/>')
    )
    link = styles.add_style("Hyperlink", WD_STYLE_TYPE.CHARACTER)
    link.font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
    link.font.underline = True


def _current_word_format(document: Any) -> None:
    """Word 2013+ (compatibilityMode 15) and British English proofing."""
    settings = document.settings.element
    for setting in settings.iter(qn("w:compatSetting")):
        if setting.get(qn("w:name")) == "compatibilityMode":
            setting.set(qn("w:val"), "15")
    for lang in settings.iter(qn("w:themeFontLang")):
        lang.set(qn("w:val"), "en-GB")


def _a4(document: Any) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(22)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.header_distance = section.footer_distance = Mm(10)


def _header_and_footer(document: Any) -> None:
    section = document.sections[0]
    header = section.header.paragraphs[0]
    header.paragraph_format.tab_stops.add_tab_stop(Mm(166), WD_TAB_ALIGNMENT.RIGHT)
    header.add_run("{{ office_name }}").bold = True
    header.add_run("\t")
    # A content control staff replace with the logo in Word (once, in the template).
    logo = parse_xml(
        f'<w:sdt {nsdecls("w")}><w:sdtPr><w:alias w:val="Office logo"/>'
        '<w:tag w:val="s55-logo"/><w:showingPlcHdr/></w:sdtPr><w:sdtContent>'
        '<w:r><w:rPr><w:i/><w:color w:val="707070"/></w:rPr>'
        "<w:t>Office logo here</w:t></w:r></w:sdtContent></w:sdt>"
    )
    header._p.append(logo)
    footer = section.footer.paragraphs[0]
    footer.alignment = 1  # centred
    run = footer.add_run("{{ office_name }} \u2013 page ")
    run.font.size = Pt(9)
    footer._p.append(_field("PAGE"))
    footer.add_run(" of ").font.size = Pt(9)
    footer._p.append(_field("NUMPAGES"))


def _field(instruction: str) -> Any:
    return parse_xml(
        f'<w:fldSimple {nsdecls("w")} w:instr=" {instruction} \\* MERGEFORMAT ">'
        '<w:r><w:rPr><w:sz w:val="18"/></w:rPr><w:t>1</w:t></w:r></w:fldSimple>'
    )


def _tag(document: Any, text: str) -> None:
    """A paragraph holding only a paragraph-level Jinja tag (removed when rendering)."""
    document.add_paragraph().add_run(text)


def _prompt(document: Any, text: str) -> None:
    document.add_paragraph().add_run(text, style=PROMPT_STYLE)


def _loop_section(
    document: Any, *, items: str, label: str, response_prompt: str, note: str, missing: str
) -> None:
    """Per item: "<label> N:" (bold) + text, the addressee, then a response prompt."""
    _tag(document, f"{{%p for r in {items} %}}")
    item = document.add_paragraph()
    item.add_run(f"{label} {{{{ r.number }}}}:").bold = True
    item.add_run(" {{ r.text }}")
    item.add_run("{% if r.addressee %} (for {{ r.addressee }}){% endif %}").italic = True
    _prompt(document, response_prompt)
    _tag(document, "{%p endfor %}")
    _tag(document, f"{{%p if {note} %}}")
    document.add_paragraph().add_run(f"{{{{ {note} }}}}")
    _tag(document, "{%p endif %}")
    _tag(document, f"{{%p if {note}_missing %}}")
    _prompt(document, missing)
    _tag(document, "{%p endif %}")


def _check_box(paragraph: Any, tag: str, alias: str) -> None:
    """A Word check box content control (w14:checkbox), unticked."""
    box = parse_xml(
        f'<w:sdt {nsdecls("w")} xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml">'
        f'<w:sdtPr><w:alias w:val="{alias}"/><w:tag w:val="{tag}"/>'
        '<w14:checkbox><w14:checked w14:val="0"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>'
        '<w:sdtContent><w:r><w:rPr><w:rFonts w:ascii="MS Gothic" w:eastAsia="MS Gothic" '
        'w:hAnsi="MS Gothic" w:hint="eastAsia"/></w:rPr><w:t>\u2610</w:t></w:r></w:sdtContent>'
        "</w:sdt>"
    )
    paragraph._p.append(box)


def build() -> Any:
    """Return the template as a python-docx Document (not yet saved)."""
    document = Document()
    # python-docx's default package carries a blank-page thumbnail that Explorer shows.
    package_rels = document.part.package.rels
    for rel_id, rel in list(package_rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del package_rels[rel_id]
    _styles(document)
    _current_word_format(document)
    _a4(document)
    _header_and_footer(document)
    core = document.core_properties
    core.title = "Section 55 response"
    core.subject = "Police and Crime Commissioner's response to an HMICFRS report"
    core.author = "Office of the Police and Crime Commissioner"
    core.last_modified_by = "Office of the Police and Crime Commissioner"
    core.comments = "Response to an inspection report by HMICFRS."
    core.language = "en-GB"
    core.created = core.modified = BUILT_ON.replace(tzinfo=None)
    core.revision = 1

    document.add_heading(level=1).add_run(TITLE_LINE)
    _tag(document, "{%p if fire %}")
    document.add_paragraph().add_run(FIRE_STATEMENT)
    _tag(document, "{%p else %}")
    document.add_paragraph().add_run(POLICE_STATEMENT)
    _tag(document, "{%p endif %}")

    for label, value in FIELDS:
        paragraph = document.add_paragraph()
        paragraph.add_run(label).bold = True
        paragraph.add_run(value)
    link = document.add_paragraph()
    link.add_run(LINK_LABEL).bold = True
    link.add_run(" ")
    link.add_run("{{r report_link }}")
    deadline = document.add_paragraph()
    deadline.add_run(DEADLINE_LABEL).bold = True
    deadline.add_run(" {{ deadline }}")

    document.add_heading(KEY_FINDINGS_HEADING, level=2)
    _tag(document, "{%p if key_findings %}")
    document.add_paragraph().add_run(
        "HMICFRS summarised its findings as: \u201c{{ key_findings }}\u201d"
    )
    _tag(document, "{%p else %}")
    _prompt(document, KEY_FINDINGS_PROMPT)
    _tag(document, "{%p endif %}")

    document.add_heading(RECOMMENDATIONS_HEADING, level=2)
    _tag(document, "{%p if recommendations_intro %}")
    document.add_paragraph().add_run("{{ recommendations_intro }}")
    _tag(document, "{%p endif %}")
    _loop_section(
        document,
        items="recommendations",
        label="Recommendation",
        response_prompt=RECOMMENDATION_RESPONSE_PROMPT,
        note="recommendations_note",
        missing=RECOMMENDATIONS_PROMPT,
    )
    document.add_heading(AFI_HEADING, level=2)
    _loop_section(
        document,
        items="areas_for_improvement",
        label="Area for Improvement",
        response_prompt=AFI_RESPONSE_PROMPT,
        note="afi_note",
        missing=AFI_PROMPT,
    )
    _tag(document, "{%p if causes_of_concern %}")
    document.add_heading(CONCERNS_HEADING, level=2)
    _tag(document, "{%p endif %}")
    _tag(document, "{%p for r in causes_of_concern %}")
    concern = document.add_paragraph()
    concern.add_run("Cause of Concern {{ r.number }}:").bold = True
    concern.add_run(" {{ r.text }}")
    _prompt(document, CONCERN_RESPONSE_PROMPT)
    _tag(document, "{%p endfor %}")

    document.add_heading(CC_HEADING, level=2)
    _tag(document, "{%p if fire %}")
    _prompt(document, CC_COMMENTS_PROMPT_FIRE)
    _tag(document, "{%p else %}")
    _prompt(document, CC_COMMENTS_PROMPT)
    _tag(document, "{%p endif %}")

    document.add_heading(RESPONSE_HEADING, level=2)
    _prompt(document, RESPONSE_PROMPT)

    document.add_heading(OFFICE_HEADING, level=2)
    for item in OFFICE_USE:
        paragraph = document.add_paragraph()
        _check_box(paragraph, office_use_tag(item.columns), item.text)
        paragraph.add_run(f" {item.template_text}")
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
