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

The variables a template may use are :data:`KNOWN_PLACEHOLDERS`. ``recommendations`` and
``areas_for_improvement`` are lists of items with ``number`` and ``text``; the matching
``recommendations_note``/``afi_note`` is a sentence to show when the list is empty or shorter
than the report's count, and "" otherwise.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from docx.oxml import parse_xml
from docxtpl import DocxTemplate
from jinja2 import meta

from automation.domain.calendar import long_date
from automation.domain.text import ELLIPSIS
from automation.errors import TemplateError

logger = logging.getLogger(__name__)

__all__ = [
    "KNOWN_PLACEHOLDERS",
    "DraftContext",
    "NumberedItem",
    "check_template",
    "draft_filename",
    "format_long_date",
    "render_draft",
    "sanitise_text",
    "template_placeholders",
]

KEY_FINDINGS_PLACEHOLDER = (
    "[To be completed: a summary of the report's key findings, taken from the report.]"
)
UNKNOWN_FROM_REPORT = "To be completed from the report."
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
    }
)

# XML 1.0 forbids C0 controls other than tab/newline/CR, lone surrogates, U+FFFE and U+FFFF;
# C1 controls are legal but invisible trouble. Bidi embeddings, overrides and isolates can
# make text display differently from what it says ("Trojan source"), so they go too.
_UNSAFE_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)

# Characters SharePoint/OneDrive refuse or that break URLs and shells, per the drafts contract.
_FILENAME_REPLACEMENTS = {":": " -", "/": "-", "\\": "-", "|": "-", "&": "and"}
_FILENAME_DROP = re.compile(r"[\"*<>?#%~{}]")
_FILENAME_STEM_MAX = 120
_FILENAME_FALLBACK = "Section 55 response"


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftContext:
    """Everything the Word draft shows, as plain values."""

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
    recommendations: tuple[str, ...] = ()
    recommendation_count: int | None = None
    areas_for_improvement: tuple[str, ...] = ()
    afi_count: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberedItem:
    """One recommendation or area for improvement as the template sees it."""

    number: int
    text: str


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
    listed: int, count: int | None, *, none_sentence: str, singular: str, plural: str, verb: str
) -> str:
    if listed:
        if count is not None and count > listed:
            are = "is" if listed == 1 else "are"
            return (
                f"The report {verb} {count} {plural}; only {listed} {are} listed above. "
                "See the report for the rest."
            )
        return ""
    if count is None:
        return UNKNOWN_FROM_REPORT
    if count == 0:
        return none_sentence
    noun = singular if count == 1 else plural
    return f"The report {verb} {count} {noun}; see the report."


def _items(values: Iterable[str], field: str) -> list[NumberedItem]:
    return [
        NumberedItem(number=index, text=sanitise_text(text, field=f"{field}[{index}]"))
        for index, text in enumerate(values, start=1)
    ]


def _render_context(ctx: DraftContext) -> dict[str, Any]:
    """The Jinja context for ``ctx``: sanitised strings, formatted dates, computed notes."""
    recommendations = _items(ctx.recommendations, "recommendations")
    afis = _items(ctx.areas_for_improvement, "areas_for_improvement")
    key_findings = sanitise_text(ctx.key_findings, field="key_findings").strip()
    return {
        "pcc_area": sanitise_text(ctx.pcc_area, field="pcc_area"),
        "force_name": sanitise_text(ctx.force_name, field="force_name"),
        "title": sanitise_text(ctx.title, field="title"),
        "published_on": format_long_date(ctx.published_on),
        "publication_types": sanitise_text(ctx.publication_types, field="publication_types"),
        "police_forces": sanitise_text(ctx.police_forces, field="police_forces"),
        "report_url": sanitise_text(ctx.report_url, field="report_url"),
        "deadline": format_long_date(ctx.deadline),
        "deadline_rule_note": sanitise_text(ctx.deadline_rule_note, field="deadline_rule_note"),
        "key_findings": key_findings or KEY_FINDINGS_PLACEHOLDER,
        "recommendations": recommendations,
        "recommendation_count": ctx.recommendation_count,
        "recommendations_note": _count_note(
            len(recommendations),
            ctx.recommendation_count,
            none_sentence=NO_RECOMMENDATIONS,
            singular="recommendation",
            plural="recommendations",
            verb="makes",
        ),
        "areas_for_improvement": afis,
        "afi_count": ctx.afi_count,
        "afi_note": _count_note(
            len(afis),
            ctx.afi_count,
            none_sentence=NO_AREAS_FOR_IMPROVEMENT,
            singular="area for improvement",
            plural="areas for improvement",
            verb="identifies",
        ),
    }


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
    try:
        tpl.render(dict(context), jinja_env=env, autoescape=True)
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
        recommendations=("First.", "Second."),
        recommendation_count=3,
        areas_for_improvement=("Only.",),
        afi_count=1,
    )
    return [
        base,
        replace(base, recommendations=(), areas_for_improvement=()),
        replace(
            base,
            key_findings="",
            recommendations=(),
            recommendation_count=None,
            areas_for_improvement=(),
            afi_count=0,
            deadline_rule_note="",
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


def draft_filename(title: str, published_on: date) -> str:
    """A SharePoint-safe file name "YYYY-MM-DD <title>.docx", the stem at most 120 characters.

    Characters SharePoint refuses or that break links (" * : < > ? / \\ | # % ~ & { }) are
    replaced or dropped, control and bidi characters removed, whitespace collapsed; a title
    too long is cut at a word boundary and ends with "…". Never empty.
    """
    text = unicodedata.normalize("NFC", title)
    text = _UNSAFE_CHARS.sub("", text)
    for old, new in _FILENAME_REPLACEMENTS.items():
        text = text.replace(old, new)
    text = _FILENAME_DROP.sub(" ", text)
    text = " ".join(text.split())
    # SharePoint rejects names containing "_vti_" and names ending with a dot.
    text = text.replace("_vti_", "_vti ")
    text = text.strip(" .-")
    if not text:
        text = _FILENAME_FALLBACK
    prefix = f"{published_on.isoformat()} "
    room = _FILENAME_STEM_MAX - len(prefix)
    if len(text) > room:
        cut = text[: room - 1]
        space = cut.rfind(" ")
        if space > room // 2:
            cut = cut[:space]
        text = cut.rstrip(" .-,;") + ELLIPSIS
    return f"{prefix}{text}.docx"
