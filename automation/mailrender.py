"""Render the service's HTML emails from Jinja templates that staff may edit.

Each email ``NAME`` is two files in the templates directory: ``NAME.html.j2`` (the body,
HTML-escaped: autoescape on) and ``NAME.subject.j2`` (the subject, plain text: not escaped,
so a title "A & B" stays "A & B"; newlines and control characters are removed afterwards).
Files starting with "_" are layouts, includes and macros (``_base.html.j2``).

Undefined variables are errors (StrictUndefined), so a typo in an edited template fails
loudly as :class:`~automation.errors.TemplateError` instead of sending a blank. The ``href``
filter passes only http, https and mailto URLs, so a link can never run script.

Contexts (all values plain strings unless stated):

- ``circulation_*``: title, published_on, deadline, report_url, draft_url, pdf_name,
  tracker_url, pcc_area, force_name ("" for a national report), approved_by (a name and
  role, never an address), approved_on, published_url ("" before publication),
  office_name, commissioner, contact_name, contact_phone.
- ``approval_refused``: the circulation values, and note (the tracker's line), problems (a
  list of clauses), approver, via_planner (bool).
- ``approval_preview``: the circulation values, and circulate_at ("14:05"), hold_minutes,
  recipients (a list of group names).
- ``reminder_digest``: recipient_name, manager (bool: the manager's escalations), reports:
  a list of mappings with marker, title, owner, deadline ("" when none), overdue (bool),
  tracker_url, draft_url, report_url (a URL may be "" when there is none) and rows: a list
  of mappings with kind, what (e.g. "Draft the response"), who, due, days (int: days left,
  negative when overdue) and overdue (bool). ``items`` (one mapping per row with title,
  kind, what, due, days, overdue and the three URLs) is kept for edited templates.
- ``reminder_summary``: the manager's weekly summary: the same, with ``today`` and
  ``attention`` (reports as above: the escalations and deadlines of the day).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from automation.domain.text import one_line
from automation.errors import TemplateError

logger = logging.getLogger(__name__)

__all__ = ["TEMPLATE_NAMES", "MailRenderer", "RenderedMail", "sample_context"]

CIRCULATION_TEMPLATES = (
    "circulation_chief_constable",
    "circulation_panel",
    "circulation_website",
    "circulation_hmicfrs",
    "circulation_home_secretary",
)
NOTICE_TEMPLATES = ("approval_refused", "approval_preview")
TEMPLATE_NAMES: tuple[str, ...] = (
    *CIRCULATION_TEMPLATES,
    *NOTICE_TEMPLATES,
    "reminder_digest",
    "reminder_summary",
)

SUBJECT_MAX = 250
_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")
# Control characters, bidi embeddings/overrides/isolates, line and paragraph separators.
_SUBJECT_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Characters that have no place in an HTML body (XML-illegal controls, bidi overrides).
_HTML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedMail:
    """A rendered email: a plain-text subject and an HTML body."""

    subject: str
    html: str


def href(url: object) -> str:
    """``url`` when it is an http(s) or mailto URL, else "" (for ``href="..."``)."""
    text = str(url).strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    return text if scheme in _SAFE_SCHEMES else ""


def clean_subject(text: str) -> str:
    """One line of plain text: control characters dropped, whitespace collapsed, capped."""
    return one_line(_SUBJECT_UNSAFE.sub(" ", text), SUBJECT_MAX)


class MailRenderer:
    """Renders ``NAME.html.j2`` + ``NAME.subject.j2`` from a templates directory."""

    def __init__(self, templates_dir: Path) -> None:
        self._dir = templates_dir
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "html"),
                disabled_extensions=("subject.j2", "txt.j2"),
                default_for_string=True,
                default=True,
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["href"] = href

    def render(self, name: str, context: Mapping[str, object]) -> RenderedMail:
        """Render email ``name`` (e.g. "circulation_chief_constable") with ``context``.

        Raises:
            TemplateError: unknown name, missing file, syntax error, undefined variable or
                an empty subject; the message names the template file.
        """
        if not _NAME.fullmatch(name):
            raise TemplateError(f"invalid email template name {name!r}")
        html, removed = _HTML_UNSAFE.subn("", self._render(f"{name}.html.j2", context))
        if removed:
            logger.warning(
                "removed %d control or bidi override character(s) from email %s", removed, name
            )
        subject = clean_subject(self._render(f"{name}.subject.j2", context))
        if not subject:
            raise TemplateError(f"{name}.subject.j2: the subject is empty")
        return RenderedMail(subject=subject, html=html)

    def _render(self, filename: str, context: Mapping[str, object]) -> str:
        try:
            return self._env.get_template(filename).render(dict(context))
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"{filename}: template not found in {self._dir}") from exc
        except jinja2.TemplateSyntaxError as exc:
            where = exc.name or filename
            raise TemplateError(f"{where}, line {exc.lineno}: syntax error: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{filename}: cannot render: {exc}") from exc

    def check(self) -> list[str]:
        """Problems with the templates, one line each; [] when every email renders.

        Every ``*.j2`` file must parse, and every email in :data:`TEMPLATE_NAMES` must
        render a sample context (which catches misspelt variables).
        """
        problems: list[str] = []
        if not self._dir.is_dir():
            return [f"{self._dir}: email templates directory not found"]
        for path in sorted(self._dir.glob("*.j2")):
            try:
                self._env.get_template(path.name)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{path.name}, line {exc.lineno}: syntax error: {exc.message}")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{path.name}: cannot read: {exc}")
        if problems:
            return problems
        for name in TEMPLATE_NAMES:
            try:
                self.render(name, sample_context(name))
            except TemplateError as exc:
                problems.append(str(exc))
        return problems


def sample_context(name: str) -> dict[str, Any]:
    """A complete example context for email ``name`` (for checks and previews)."""
    if name in ("reminder_digest", "reminder_summary"):
        return _sample_reminders(summary=name == "reminder_summary")
    circulation = {
        "title": "Counter Terrorism Joint Inspection",
        "published_on": "20 July 2023",
        "deadline": "13 September 2023",
        "report_url": "https://hmicfrs.justiceinspectorates.gov.uk/publications/sample/",
        "draft_url": "https://opcc.sharepoint.com/sites/opcc/Drafts/response.docx",
        "pdf_name": "Norfolk PCC response - Counter Terrorism Joint Inspection - "
        "1 September 2023.pdf",
        "tracker_url": "https://opcc.sharepoint.com/sites/opcc/Lists/Section55/DispForm.aspx?ID=1",
        "pcc_area": "Norfolk",
        "force_name": "Norfolk Constabulary",
        "approved_by": "Sarah Taylor, Police and Crime Commissioner",
        "approved_on": "1 September 2023",
        "published_url": "https://www.norfolk-pcc.gov.uk/s55/counter-terrorism/",
        "office_name": "Office of the Norfolk Police and Crime Commissioner",
        "commissioner": "Police and Crime Commissioner",
        "contact_name": "Priya Shah, Policy Officer",
        "contact_phone": "01603 000000",
    }
    if name in CIRCULATION_TEMPLATES:
        return circulation
    if name == "approval_refused":
        return {
            **circulation,
            "note": "Not circulated: approval by Priya Shah on 1 September 2023 refused: ...",
            "problems": ["Priya Shah is not an approver (only Sarah Taylor may approve)"],
            "approver": "Priya Shah",
            "via_planner": True,
        }
    if name == "approval_preview":
        return {
            **circulation,
            "circulate_at": "14:05",
            "hold_minutes": "30",
            "recipients": ["chief constable", "panel", "website"],
        }
    raise KeyError(name)


def _sample_reminders(*, summary: bool) -> dict[str, Any]:
    """A sample context of the reminder digest or the weekly summary."""
    base = "https://opcc.sharepoint.com/sites/opcc"
    peel_row = {
        "kind": "stage",
        "what": "Draft the response",
        "who": "Alex Officer",
        "due": "1 September 2023",
        "days": 3,
        "overdue": False,
    }
    vetting_row = {
        "kind": "deadline",
        "what": "Statutory deadline: publish the response",
        "who": "Alex Officer",
        "due": "13 September 2023",
        "days": -2,
        "overdue": True,
    }
    reports = [
        {
            "marker": "S55-7",
            "title": "PEEL 2023-25: Police effectiveness, efficiency and legitimacy",
            "owner": "Alex Officer",
            "deadline": "21 September 2023",
            "overdue": False,
            "tracker_url": f"{base}/Lists/Section55/DispForm.aspx?ID=7",
            "draft_url": f"{base}/Section55Drafts/2023-07-20%20PEEL.docx",
            "report_url": "https://hmicfrs.justiceinspectorates.gov.uk/peel-reports/",
            "rows": [peel_row],
        },
        {
            "marker": "S55-8",
            "title": "An inspection of vetting and counter-corruption",
            "owner": "Alex Officer",
            "deadline": "13 September 2023",
            "overdue": True,
            "tracker_url": f"{base}/Lists/Section55/DispForm.aspx?ID=8",
            "draft_url": "",
            "report_url": "https://hmicfrs.justiceinspectorates.gov.uk/publications/",
            "rows": [vetting_row],
        },
    ]
    items = [
        {
            "title": report["title"],
            **{k: row[k] for k in ("kind", "what", "due", "days", "overdue")},
            **{k: report[k] for k in ("tracker_url", "draft_url", "report_url")},
        }
        for report in reports
        for row in report["rows"]  # type: ignore[attr-defined]
    ]
    context: dict[str, Any] = {
        "recipient_name": "Sam Manager" if summary else "Alex Officer",
        "manager": summary,
        "reports": reports,
        "items": items,
    }
    if summary:
        context.update(today="15 September 2023", attention=reports[1:])
    return context
