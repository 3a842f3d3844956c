"""Render the Section 55 Word draft from the docxtpl template.

The template (``automation/templates/section55_response.docx``, or the office's copy in
``templates_dir``) is a Word document with Jinja tags that staff may edit in Word. Rendering
is strict: a tag naming a variable this module does not provide, or any Jinja error, raises
:class:`~automation.errors.TemplateError` naming the template and the problem, so a broken
edit is noticed instead of producing a silently wrong draft. Values are data, never
template: they are escaped for XML (autoescape) and never parsed by Jinja, so ``{{ x }}`` in
a title appears literally.

Word's autocorrect turns straight quotes typed inside a tag into curly quotes; docxtpl turns
curly double and single quotes back into straight ones before Jinja sees them, so those
edits keep working. Other quote characters (for example „ or «) are a syntax error.

The variables a template may use are :data:`KNOWN_PLACEHOLDERS`. ``recommendations``,
``areas_for_improvement`` and ``causes_of_concern`` are lists of items with ``number`` (the
report's own, or the position when the report gives none), ``text`` and ``addressee``; the
matching ``recommendations_note``/``afi_note`` is a sentence to show when the list is empty
or shorter than the report's count ("" otherwise), and ``recommendations_note_missing``/
``afi_note_missing`` say that the findings could not be read (the template then shows a
prompt). ``report_link`` is the report's title as a hyperlink to the report (use it as
``{{r report_link }}``); ``fire`` is true for a fire and rescue report (not Section 55).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from docx.oxml import parse_xml
from docxtpl import DocxTemplate, RichText
from jinja2 import meta

from automation.documents.names import UNSAFE_CHARS as _UNSAFE_CHARS
from automation.documents.wording import KEY_FINDINGS_PROMPT
from automation.domain.calendar import long_date
from automation.domain.publications import Finding
from automation.errors import TemplateError

logger = logging.getLogger(__name__)

KEY_FINDINGS_PLACEHOLDER = KEY_FINDINGS_PROMPT
"""The old name of the key findings prompt."""
NO_RECOMMENDATIONS = "There are no recommendations made."
NO_AREAS_FOR_IMPROVEMENT = "There are no areas for improvement made."

KNOWN_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "pcc_area",
        "force_name",
        "title",
        "published_on",
        "publication_types",
        "police_forces",
        "report_url",
        "deadline",
        "deadline_rule_note",
        "key_findings",
        "recommendations",
        "recommendation_count",
        "recommendations_note",
        "areas_for_improvement",
        "afi_count",
        "afi_note",
        # Since issue 12 (the old names above still render, e.g. deadline_rule_note).
        "office_name",
        "commissioner",
        "commissioner_short",
        "chief_officer",
        "panel",
        "inspected",
        "fire",
        "report_link",
        "recommendations_intro",
        "recommendations_note_missing",
        "afi_note_missing",
        "causes_of_concern",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftContext:
    """Everything the Word draft shows, as plain values.

    ``commissioner`` is the office holder's title ("Police and Crime Commissioner", or
    "Police, Fire and Crime Commissioner"); ``fire`` marks a report on the office's fire and
    rescue service, ``inspected`` (default: the force) the body the report inspects.
    ``deadline_rule_note`` is kept for templates that still show it; the shipped template
    does not print it (the rule is in the tracker).
    """

    pcc_area: str
    force_name: str
    title: str
    published_on: date
    publication_types: str
    police_forces: str
    report_url: str
    deadline: date
    deadline_rule_note: str
    key_findings: str = ""
    recommendations: tuple[Finding, ...] = ()
    recommendation_count: int | None = None
    recommendations_left_out: int = 0
    areas_for_improvement: tuple[Finding, ...] = ()
    afi_count: int | None = None
    causes_of_concern: tuple[Finding, ...] = ()
    office_name: str = ""
    commissioner: str = "Police and Crime Commissioner"
    fire: bool = False
    inspected: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberedItem:
    """One recommendation, area for improvement or cause of concern as the template sees it."""

    number: str
    text: str
    addressee: str = ""


format_long_date = long_date
"""``20 July 2023`` (the name the jobs import; the rule lives in `automation.domain.calendar`)."""


def sanitise_text(value: str, *, field: str) -> str:
    """Return ``value`` without characters unsafe in a Word document.

    Line endings are normalised to ``\\n``; control characters other than tab and newline,
    lone surrogates, U+FFFE/U+FFFF and bidi override/isolate characters are removed, with a
    warning naming the field (not the value).
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    cleaned, removed = _UNSAFE_CHARS.subn("", text)
    if removed:
        logger.warning(
            "removed %d control or bidi override character(s) from field %s", removed, field
        )
    return cleaned


def _count_note(
    read: int,
    count: int | None,
    *,
    none_sentence: str,
    singular: str,
    plural: str,
    verb: str,
    some_left_out: bool = False,
) -> tuple[str, bool]:
    """The sentence under a list of findings, and whether they could not be read at all."""
    if read:
        if count is not None and count > read:
            are = "is" if read == 1 else "are"
            where = "could be read from it" if some_left_out else "listed above"
            return (
                f"The report {verb} {count} {plural}; only {read} {are} {where}. "
                "See the report for the rest.",
                False,
            )
        return "", False
    if count is None:
        return "", True
    if count == 0:
        return none_sentence, False
    noun = singular if count == 1 else plural
    return f"The report {verb} {count} {noun}; see the report.", True


def _recommendations_intro(listed: int, left_out: int, count: int | None) -> str:
    """ "The report makes 21 recommendations; 3 are for policing ..." when some were left out."""
    if not left_out:
        return ""
    total = max(count or 0, listed + left_out)
    noun = "recommendation" if total == 1 else "recommendations"
    if not listed:
        return (
            f"The report makes {total} {noun}; none is for policing (chief constables, "
            "commissioners or police forces), so none is listed here."
        )
    are = "is" if listed == 1 else "are"
    others = "is" if left_out == 1 else "are"
    return (
        f"The report makes {total} {noun}; {listed} {are} for policing (chief constables, "
        f"commissioners or police forces) and {are} set out below with the report's own "
        f"numbers. The other {left_out} {others} for other bodies."
    )


def _items(values: Iterable[Finding], field: str) -> list[NumberedItem]:
    return [
        NumberedItem(
            number=sanitise_text(finding.number, field=f"{field}[{index}].number") or str(index),
            text=sanitise_text(finding.text, field=f"{field}[{index}]"),
            addressee=sanitise_text(finding.addressee, field=f"{field}[{index}].addressee"),
        )
        for index, finding in enumerate(values, start=1)
    ]


def _render_context(ctx: DraftContext) -> dict[str, Any]:
    """The Jinja context for ``ctx``: sanitised strings, formatted dates, computed notes.

    ``report_link`` is (text, url) here; `_render` turns it into a hyperlink.
    """
    recommendations = _items(ctx.recommendations, "recommendations")
    afis = _items(ctx.areas_for_improvement, "areas_for_improvement")
    concerns = _items(ctx.causes_of_concern, "causes_of_concern")
    key_findings = sanitise_text(ctx.key_findings, field="key_findings").strip()
    pcc_area = sanitise_text(ctx.pcc_area, field="pcc_area")
    force_name = sanitise_text(ctx.force_name, field="force_name")
    commissioner = sanitise_text(ctx.commissioner, field="commissioner")
    pfcc = "fire" in commissioner.lower()
    title = sanitise_text(ctx.title, field="title")
    recommendations_note, recommendations_missing = _count_note(
        len(recommendations) + ctx.recommendations_left_out,
        ctx.recommendation_count,
        none_sentence=NO_RECOMMENDATIONS,
        singular="recommendation",
        plural="recommendations",
        verb="makes",
        some_left_out=ctx.recommendations_left_out > 0,
    )
    afi_note, afi_missing = _count_note(
        len(afis),
        ctx.afi_count,
        none_sentence=NO_AREAS_FOR_IMPROVEMENT,
        singular="area for improvement",
        plural="areas for improvement",
        verb="identifies",
    )
    return {
        "office_name": sanitise_text(ctx.office_name, field="office_name")
        or f"Office of the {pcc_area} {commissioner}",
        "commissioner": commissioner,
        "commissioner_short": "PFCC" if pfcc else "PCC",
        "chief_officer": "Chief Fire Officer" if ctx.fire else "Chief Constable",
        "panel": "Police, Fire and Crime Panel" if pfcc else "Police and Crime Panel",
        "inspected": sanitise_text(ctx.inspected, field="inspected") or force_name,
        "fire": ctx.fire,
        "pcc_area": pcc_area,
        "force_name": force_name,
        "title": title,
        "published_on": format_long_date(ctx.published_on),
        "publication_types": sanitise_text(ctx.publication_types, field="publication_types"),
        "police_forces": sanitise_text(ctx.police_forces, field="police_forces"),
        "report_url": sanitise_text(ctx.report_url, field="report_url"),
        "report_link": (title, sanitise_text(ctx.report_url, field="report_url")),
        "deadline": format_long_date(ctx.deadline),
        "deadline_rule_note": sanitise_text(ctx.deadline_rule_note, field="deadline_rule_note"),
        "key_findings": key_findings,
        "recommendations_intro": _recommendations_intro(
            len(recommendations), ctx.recommendations_left_out, ctx.recommendation_count
        ),
        "recommendations": recommendations,
        "recommendation_count": ctx.recommendation_count,
        "recommendations_note": recommendations_note,
        "recommendations_note_missing": recommendations_missing,
        "areas_for_improvement": afis,
        "afi_count": ctx.afi_count,
        "afi_note": afi_note,
        "afi_note_missing": afi_missing,
        "causes_of_concern": concerns,
    }


def _link(tpl: Any, value: Any) -> Any:
    """The report's title as a hyperlink to its address (plain text for a non-web address)."""
    if not isinstance(value, tuple):
        return value
    text, url = value
    label = text or url
    if not url.lower().startswith(("https://", "http://")):
        return RichText(label)
    return RichText(label, url_id=tpl.build_url_id(url), style="Hyperlink")


def _jinja_env() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


def _read_template(template: Path) -> bytes:
    try:
        return template.read_bytes()
    except OSError as exc:
        raise TemplateError(f"{template}: cannot read the template: {exc.strerror}") from exc


def _open_template(template: Path, data: bytes) -> Any:
    """A DocxTemplate over ``data``, checked to be a readable Word document."""
    tpl = DocxTemplate(io.BytesIO(data))
    try:
        tpl.init_docx()
    except Exception as exc:  # python-docx raises zip, XML and key errors for a bad package
        raise TemplateError(f"{template}: not a readable Word document ({exc})") from exc
    return tpl


def _sources(tpl: Any) -> list[tuple[str, str]]:
    """(part name, Jinja source) for the body, headers and footers, as docxtpl renders them."""
    parts = [("document", tpl.patch_xml(tpl.get_xml()))]
    for rel in tpl.docx.part.rels.values():
        if rel.is_external or rel.reltype not in (tpl.HEADER_URI, tpl.FOOTER_URI):
            continue
        kind = "header" if rel.reltype == tpl.HEADER_URI else "footer"
        xml = tpl.xml_to_string(parse_xml(rel.target_part.blob))
        parts.append((kind, tpl.patch_xml(xml)))
    # docxtpl starts each paragraph on a new line before rendering; do the same so that
    # Jinja's line numbers point near the offending paragraph.
    return [(name, re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)) for name, xml in parts]


def _excerpt(source: str, lineno: int | None) -> str:
    if not lineno:
        return ""
    lines = source.splitlines()
    if not 0 < lineno <= len(lines):
        return ""
    text = re.sub(r"<[^>]+>", "", lines[lineno - 1]).strip()
    if len(text) > 80:
        text = text[:77] + "..."
    return f" near {text!r}" if text else ""


def _parse(template: Path, tpl: Any, env: jinja2.Environment) -> set[str]:
    """Parse every part; return the undeclared variables or raise TemplateError."""
    names: set[str] = set()
    for part, source in _sources(tpl):
        try:
            ast = env.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{template.name}: Jinja syntax error in the {part}, line {exc.lineno}"
                f"{_excerpt(source, exc.lineno)}: {exc.message} (use straight quotes and "
                "check every {% ... %} has its matching end tag)"
            ) from exc
        names |= meta.find_undeclared_variables(ast)
    return names


def template_placeholders(template: Path) -> set[str]:
    """The variables the template uses (undeclared in it), e.g. {"title", "deadline"}.

    Raises:
        TemplateError: the file cannot be read or has a Jinja syntax error.
    """
    data = _read_template(template)
    return _parse(template, _open_template(template, data), _jinja_env())


def _unknown_problem(template: Path, unknown: Iterable[str]) -> str:
    return (
        f"{template.name}: unknown placeholder(s) {', '.join(sorted(unknown))}; "
        f"known: {', '.join(sorted(KNOWN_PLACEHOLDERS))}"
    )


def _render(template: Path, data: bytes, context: Mapping[str, Any]) -> bytes:
    env = _jinja_env()
    tpl = _open_template(template, data)
    unknown = _parse(template, tpl, env) - KNOWN_PLACEHOLDERS - set(env.globals)
    if unknown:
        raise TemplateError(_unknown_problem(template, unknown))
    values = dict(context)
    values["report_link"] = _link(tpl, values.get("report_link"))
    try:
        tpl.render(values, jinja_env=env, autoescape=True)
        out = io.BytesIO()
        tpl.save(out)
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        where = f", line {lineno}" if lineno else ""
        raise TemplateError(f"{template.name}: cannot render{where}: {exc}") from exc
    except Exception as exc:  # docxtpl/lxml/python-docx failures have no common base
        raise TemplateError(f"{template.name}: cannot render: {exc!r}") from exc
    return out.getvalue()


def render_draft(template: Path, ctx: DraftContext) -> bytes:
    """Render the Word draft for ``ctx`` and return the .docx bytes.

    Raises:
        TemplateError: the template cannot be read, has a syntax error, uses an unknown
            placeholder, or fails to render; the message names the template and the problem.
    """
    data = _read_template(template)
    return _render(template, data, _render_context(ctx))


def _sample_contexts() -> list[DraftContext]:
    base = DraftContext(
        pcc_area="Norfolk",
        force_name="Norfolk Constabulary",
        title="Sample inspection",
        published_on=date(2023, 7, 20),
        publication_types="Joint inspection",
        police_forces="N/A",
        report_url="https://hmicfrs.justiceinspectorates.gov.uk/publications/sample/",
        deadline=date(2023, 9, 13),
        deadline_rule_note="56 days beginning with the day of publication",
        key_findings="Sample findings.",
        recommendations=(
            Finding(number="19", text="First.", addressee="chief constables"),
            Finding(number="", text="Second."),
        ),
        recommendation_count=3,
        areas_for_improvement=(Finding(number="", text="Only."),),
        afi_count=1,
        causes_of_concern=(Finding(number="1", text="A concern."),),
    )
    return [
        base,
        replace(base, recommendations=(), areas_for_improvement=(), recommendations_left_out=2),
        replace(
            base,
            key_findings="",
            recommendations=(),
            recommendation_count=None,
            areas_for_improvement=(),
            afi_count=0,
            causes_of_concern=(),
            deadline_rule_note="",
            fire=True,
            commissioner="Police, Fire and Crime Commissioner",
            inspected="Sample Fire and Rescue Service",
        ),
    ]


def check_template(template: Path) -> list[str]:
    """Problems with the template, one line each; [] when it renders.

    Checks that the file is a readable Word document, that its Jinja parses, that it uses
    only :data:`KNOWN_PLACEHOLDERS`, and that it renders sample drafts with and without
    recommendations and areas for improvement.
    """
    try:
        data = _read_template(template)
        tpl = _open_template(template, data)
        env = _jinja_env()
        unknown = _parse(template, tpl, env) - KNOWN_PLACEHOLDERS - set(env.globals)
    except TemplateError as exc:
        return [str(exc)]
    if unknown:
        return [_unknown_problem(template, unknown)]
    problems: list[str] = []
    for sample in _sample_contexts():
        try:
            _render(template, data, _render_context(sample))
        except TemplateError as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
    return problems
