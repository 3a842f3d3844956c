"""``automation demo``: the whole Section 55 workflow on the local sandbox, end to end.

A bundled sample feed (``automation/demo_data/sample_feed.xml``) is served by an in-process
sandbox tenant; the real service code files it, the PCC approves the seed report's
response, the website team publishes it, and reminder digests go out over a few weeks.
Nothing leaves the machine. The story is printed for a reader in the office, and the
artefacts are written to the output directory:

- ``drafts/``      every Word draft, downloaded from the document library
- ``tracker.csv``  every tracker item, every column (human column names)
- ``planner.md``   the Planner board, one section per bucket
- ``mail/``        every message sent, as ``.eml`` files
- ``summary.txt``  the printed report

Exit code 0 when every step succeeded, 1 when a step reported failures (they are listed),
2 when the output directory is not one the demo may overwrite.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from automation import logsetup
from automation.app import App, build_app
from automation.cli.demo_files import (
    first_recipient,
    mail_label,
    plan_markdown,
    plural,
    prepare_output,
    safe_file,
    safe_name,
    tracker_csv,
)
from automation.cli.sandbox_config import write_config
from automation.cli.status import render_table
from automation.domain.calendar import long_date
from automation.domain.record import TrackerRecord
from automation.domain.text import one_line
from automation.errors import AutomationError
from automation.exitcodes import ExitCode
from automation.graph.tracker_list import record_from_item
from automation.jobs.panel_report import file_name, panel, render
from automation.jobs.provision import TRIAGE_BUCKET, provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered, message_mime
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import Settings, load_settings

log = logging.getLogger(__name__)

# The sample data stays in the package (automation/demo_data), one level up from the face.
DATA_DIR = Path(__file__).resolve().parent.parent / "demo_data"
FEED_FILE = DATA_DIR / "sample_feed.xml"
SEED_SLUG = "counter-terrorism-joint-inspection-national-security-division"
SEED_LINK = f"https://hmicfrs.justiceinspectorates.gov.uk/publications/{SEED_SLUG}/"
HMICFRS_SITE = "https://hmicfrs.justiceinspectorates.gov.uk/"
# The bundled sample pages the demo's stand-in for the HMICFRS site serves, by path.
SAMPLE_PAGES = {
    f"/publications/{SEED_SLUG}/": DATA_DIR / "sample_report_page.html",
    f"/publication-html/{SEED_SLUG}/": DATA_DIR / "sample_report_html.html",
    "/peel-reports/norfolk-2023/": DATA_DIR / "sample_peel_report.html",
}
ACTING_USER = "X-Sandbox-Acting-User"

INTAKE_DAY = dt.date(2023, 8, 8)
EARLY_REMINDER_DAYS = (dt.date(2023, 8, 9), dt.date(2023, 8, 23))
APPROVAL_DAY = dt.date(2023, 9, 1)
PUBLISH_DAY = dt.date(2023, 9, 4)
LATE_REMINDER_DAYS = (dt.date(2023, 9, 6), dt.date(2023, 9, 14))
CYCLE_DAY = dt.date(2023, 10, 2)  # the first quarterly progress request after publication

TITLE_WIDTH = 44
DRAFT_WIDTH = 34


# -- logging for the demo (its files are written by `demo_files`) ------------------------------
@contextmanager
def demo_logging(level: str) -> Iterator[None]:
    """Service logging (stderr, text) for the demo; the caller's logging comes back after."""
    root = logging.getLogger()
    saved_level = root.level
    saved_handlers = list(root.handlers)
    saved_levels = {
        name: logging.getLogger(name).level for name in ("urllib3", "msal", "apscheduler")
    }
    logsetup.configure(level, "text")
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
        for name, value in saved_levels.items():
            logging.getLogger(name).setLevel(value)


# -- the demo -----------------------------------------------------------------------------------
@dataclass(slots=True)
class Demo:
    """One demo run against a started sandbox."""

    sandbox: Sandbox
    app: App
    output: Path
    transcript: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    mail_seen: int = 0
    _names: dict[str, str] = field(default_factory=dict)

    # -- output ---------------------------------------------------------------------------
    def say(self, line: str = "") -> None:
        """Print one line (and keep it for summary.txt)."""
        self.transcript.append(line)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def heading(self, text: str) -> None:
        """A section heading."""
        self.say()
        self.say(text)
        self.say("=" * len(text))

    # -- facts ----------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The service's settings."""
        return self.app.settings

    def items(self) -> list[dict[str, Any]]:
        """Every tracker item (fields expanded), by item id."""
        found = self.app.tracker.items()
        return sorted(found, key=lambda i: int(str(i.get("id") or 0)))

    def records(self) -> list[TrackerRecord]:
        """Every tracker item as a record."""
        return [record_from_item(item) for item in self.items()]

    def seed(self) -> TrackerRecord | None:
        """The seed report's tracker item."""
        for record in self.records():
            if record.report_url == SEED_LINK:
                return record
        self.failures.append(f"the seed report ({SEED_LINK}) is not in the tracker")
        return None

    def person(self, user_id_or_upn: str) -> str:
        """A user's display name (cached)."""
        if user_id_or_upn not in self._names:
            user = self.app.users.get(user_id_or_upn)
            self._names[user_id_or_upn] = (
                user.display_name if user and user.display_name else user_id_or_upn
            )
        return self._names[user_id_or_upn]

    def draft_name(self, record: TrackerRecord) -> str:
        """The file name of the item's Word draft, or ``-``."""
        if not record.draft_item_id:
            return "-"
        item = self.app.drive.get_item(self.app.resolve().drive_id, record.draft_item_id)
        return str(item.get("name") or "-")

    def new_mail(self) -> list[dict[str, Any]]:
        """Messages delivered since the last call."""
        everything = delivered(self.sandbox.tenant)
        fresh = everything[self.mail_seen :]
        self.mail_seen = len(everything)
        return fresh

    def check(self, what: str, report: RunReport) -> None:
        """Keep a run's failures (they make the exit code 1)."""
        self.failures.extend(f"{what}: {line}" for line in report.failures)
        if report.failures:
            self.say(f"  ! {plural(len(report.failures), 'failure')} in {what} (listed at the end)")

    def as_person(self, upn: str, method: str, path: str, **kwargs: Any) -> None:
        """A change a person makes in SharePoint or Planner (sandbox acting-user header)."""
        headers = {ACTING_USER: upn, **kwargs.pop("headers", {})}
        self.app.client.request(method, path, headers=headers, **kwargs)

    # -- steps ----------------------------------------------------------------------------
    def step_provision(self) -> None:
        """Create the tracker list, library folder and Planner buckets."""
        self.heading("1. Setting up SharePoint and Planner")
        result = provision(self.app)
        for line in result.created:
            self.say(f"  created {line}")
        for line in result.problems:
            self.say(f"  PROBLEM {line}")
        self.failures.extend(f"provision: {line}" for line in result.problems)

    def step_intake(self) -> None:
        """File the sample feed as of the intake day and show the tracker."""
        self.heading(f"2. New HMICFRS publications ({long_date(INTAKE_DAY)})")
        report = run_pass(self.app, today=INTAKE_DAY, reminders=False)
        self.check("intake", report)
        records = self.records()
        decided = {
            answer: sum(1 for r in records if r.response_required == answer)
            for answer in ("Yes", "No", "To be decided")
        }
        self.say(
            f"{plural(len(records), 'publication')} filed: {decided['Yes']} need a response, "
            f"{decided['No']} not for us, {decided['To be decided']} to be decided"
        )
        self.say()
        for line in self.summary_table(records):
            self.say(line)
        self.say()
        drafts = sum(1 for r in records if r.draft_item_id)
        tasks = sum(len(r.tasks) for r in records)
        self.say(
            f"{plural(drafts, 'Word draft')} in the '{self.settings.sharepoint.drafts_folder}' "
            f"folder; {plural(tasks, 'Planner task')} assigned."
        )
        for line in self.enrichment_note():
            self.say(line)

    def summary_table(self, records: Sequence[TrackerRecord]) -> list[str]:
        """The tracker as a table."""
        rows = [
            [
                record.marker,
                one_line(record.title, TITLE_WIDTH),
                record.published_on.isoformat() if record.published_on else "-",
                record.deadline.isoformat() if record.deadline else "-",
                record.response_required or "-",
                record.status or "-",
                str(len(record.tasks)),
                one_line(self.draft_name(record), DRAFT_WIDTH),
            ]
            for record in records
        ]
        headers = ["Item", "Title", "Published", "Deadline", "Response", "Status", "Tasks"]
        return render_table([*headers, "Draft"], rows)

    def enrichment_note(self) -> list[str]:
        """What the report pages (the bundled sample pages) added to the seed report."""
        lines = [
            "Report pages: read from the bundled sample pages (a stand-in for "
            f"{urlsplit(HMICFRS_SITE).hostname}; other reports' pages have no findings)."
        ]
        seed = next((r for r in self.records() if r.report_url == SEED_LINK), None)
        findings = seed.report.get("recommendations") if seed is not None else None
        if isinstance(findings, list) and findings:
            numbers = [str(f.get("number", "")) for f in findings if isinstance(f, dict)]
            lines.append(
                f"The seed report makes {seed.recommendations if seed else '?'} recommendations; "
                f"recommendations {', '.join(numbers)} (for policing) are in its draft, with "
                "the report's own numbers and a response prompt under each."
            )
        return lines

    def step_reminders(self, days: Sequence[dt.date]) -> None:
        """Run the daily pass on each day and show the reminder digests sent."""
        for day in days:
            report = run_pass(self.app, today=day)
            self.check(f"daily pass {day.isoformat()}", report)
            digests = [m for m in self.new_mail() if mail_label(m) == "digest"]
            if not digests:
                self.say(f"{long_date(day)}: no reminders due")
                continue
            self.say(f"{long_date(day)}: {plural(len(digests), 'reminder digest')}")
            for message in digests:
                self.say(f"  to {first_recipient(message)}: {message.get('subject', '')}")

    def step_approval(self) -> None:
        """The PCC approves the seed report's response in the tracker; follow-up circulates it."""
        self.heading(f"4. The PCC approves the response ({long_date(APPROVAL_DAY)})")
        seed = self.seed()
        if seed is None:
            return
        ws = self.app.resolve()
        pcc = self.settings.people.pcc or user_email("pcc")
        self.as_person(
            pcc,
            "PATCH",
            f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{seed.item_id}/fields",
            json={"Status": "Approved"},
        )
        deadline = long_date(seed.deadline) if seed.deadline else "not set"
        self.say(f"{seed.marker}: {seed.title}")
        self.say(f"Response deadline: {deadline}")
        self.say(f"{self.person(pcc)} sets {seed.marker} to Approved in the tracker.")
        report = run_pass(self.app, today=APPROVAL_DAY, reminders=False)
        self.check("follow-up", report)
        sent = [m for m in self.new_mail() if mail_label(m) != "digest"]
        self.say(f"The service emails the approved response ({plural(len(sent), 'email')}):")
        for message in sent:
            names = ", ".join(str(a.get("name", "")) for a in message.get("attachments") or [])
            self.say(
                f"  {mail_label(message):<16} to {', '.join(message.get('to') or [])}"
                f"  [{names or 'no attachments'}]"
            )
        self.say_status(seed.item_id)

    def step_publish(self) -> None:
        """The website team completes the publish task; the tracker says Published."""
        self.heading(f"5. The website team publishes it ({long_date(PUBLISH_DAY)})")
        seed = self.seed()
        if seed is None:
            return
        entry = seed.tasks.get("publish") or {}
        task_id = str(entry.get("id") or "")
        if not task_id:
            self.failures.append(f"{seed.marker}: no publish task recorded")
            return
        task = self.app.planner.get_task(task_id)
        website = user_email("website")
        self.as_person(
            website,
            "PATCH",
            f"/planner/tasks/{quote(task_id, safe='')}",
            json={"percentComplete": 100},
            headers={"If-Match": str(task["@odata.etag"])},
        )
        self.say(f"{self.person(website)} marks '{one_line(str(task['title']), 70)}' complete.")
        report = run_pass(self.app, today=PUBLISH_DAY, reminders=False)
        self.check("publication", report)
        self.say_status(seed.item_id)

    def step_after_publication(self) -> None:
        """Issue 14: the seed's recommendations as rows, a progress request, the Panel paper."""
        self.heading(f"8. After publication: every recommendation tracked ({long_date(CYCLE_DAY)})")
        for row in sorted(self.app.recommendations.all(), key=lambda r: r.key):
            self.say(f"  row {row.key.rsplit('#', 1)[-1]}: {one_line(row.label, 40)}, {row.status}")
        self.check("progress cycle", run_pass(self.app, today=CYCLE_DAY, reminders=False))
        for message in self.new_mail():
            self.say(f"  to {first_recipient(message)}: {message.get('subject', '')}")
        content = render(self.app, panel(self.app, CYCLE_DAY), "docx")
        (self.output / file_name(CYCLE_DAY, "docx")).write_bytes(content)
        self.say(f"Panel report: {file_name(CYCLE_DAY, 'docx')} (in the output folder)")

    def say_status(self, item_id: str) -> None:
        """One line: the item's status and office-use checklist."""
        (record,) = self.app.tracker.get_many([item_id])
        ticks = [
            name
            for name, done in (
                ("forwarded to Chief Constable", record.forwarded_chief_constable),
                ("forwarded to Panel", record.forwarded_panel),
                ("forwarded to HMICFRS", record.forwarded_hmicfrs),
                ("published on website", record.published_on_website),
            )
            if done
        ]
        approved = f", approved by {record.approved_by}" if record.approved_by else ""
        self.say(f"Tracker: {record.marker} is now {record.status}{approved}.")
        if ticks:
            self.say(f"Office-use checklist: {', '.join(ticks)}.")

    def step_final(self) -> None:
        """Where things stand at the end."""
        self.heading(f"7. Where things stand ({long_date(LATE_REMINDER_DAYS[-1])})")
        for line in self.summary_table(self.records()):
            self.say(line)

    # -- artefacts ------------------------------------------------------------------------
    def write_outputs(self) -> None:
        """drafts/, tracker.csv, planner.md, mail/ (summary.txt is written last)."""
        items = self.items()
        drafts = self.output / "drafts"
        drafts.mkdir()
        drive_id = self.app.resolve().drive_id
        count = 0
        for item in items:
            record = record_from_item(item)
            if not record.draft_item_id:
                continue
            name = self.draft_name(record)
            (drafts / safe_file(name)).write_bytes(
                self.app.drive.download(drive_id, record.draft_item_id)
            )
            count += 1
        (self.output / "tracker.csv").write_text(tracker_csv(items), encoding="utf-8")
        (self.output / "planner.md").write_text(self.planner_markdown(), encoding="utf-8")
        mail_dir = self.output / "mail"
        mail_dir.mkdir()
        messages = delivered(self.sandbox.tenant)
        for n, entry in enumerate(messages, start=1):
            name = f"{n:02d}-{mail_label(entry)}-{safe_name(first_recipient(entry))}.eml"
            mailbox, message_id = str(entry["mailbox"]), str(entry["message_id"])
            (mail_dir / name).write_bytes(message_mime(self.sandbox.tenant, mailbox, message_id))
        self.heading("Output")
        self.say(f"{self.output}/")
        self.say(f"  drafts/      {plural(count, 'Word draft')}")
        self.say(f"  tracker.csv  {plural(len(items), 'tracker item')}, every column")
        self.say("  planner.md   the Planner board")
        self.say(f"  mail/        {plural(len(messages), 'email')} (.eml)")
        self.say("  summary.txt  this report")

    def planner_markdown(self) -> str:
        """The Planner board as Markdown: one section per bucket."""
        ws = self.app.resolve()
        buckets = {str(b["id"]): str(b["name"]) for b in self.app.planner.list_buckets(ws.plan_id)}
        wanted = [*(s.bucket for s in self.settings.stages), TRIAGE_BUCKET]
        tasks = self.app.planner.list_tasks(ws.plan_id)
        return plan_markdown(wanted, buckets, tasks, person=self.person)

    def write_summary(self) -> None:
        """summary.txt: everything printed."""
        (self.output / "summary.txt").write_text("\n".join(self.transcript) + "\n", "utf-8")


def brief_error(text: str) -> str:
    """The first and last lines of a multi-line error (a request and its exception)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else text
    return f"{lines[0]} ... {lines[-1]}"


class SampleSite(requests.adapters.BaseAdapter):
    """A stand-in for the HMICFRS site: the bundled sample pages, a blank page elsewhere.

    Mounted on the service's web session for the demo only, so the real enrichment code
    (allowlist, redirects, size caps, parsing) reads the seed report's pages offline.
    """

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer ``request`` from the sample pages (the other arguments do not apply)."""
        path = urlsplit(request.url or "").path
        page = SAMPLE_PAGES.get(path)
        body = page.read_bytes() if page is not None else b"<html><body></body></html>"
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        response.headers["Content-Length"] = str(len(body))
        response.raw = io.BytesIO(body)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


def _log_level() -> str:
    return "DEBUG" if os.environ.get("AUTOMATION_LOG_LEVEL", "").upper() == "DEBUG" else "WARNING"


def run_demo(output: Path) -> int:
    """Run the whole workflow on a local sandbox and write the artefacts to ``output``."""
    problem = prepare_output(output)
    if problem is not None:
        sys.stderr.write(f"automation demo: {problem}\n")
        return ExitCode.CONFIG
    level = _log_level()
    with (
        demo_logging(level),
        tempfile.TemporaryDirectory(prefix="s55-demo-") as work,
    ):
        sandbox = Sandbox().start()
        app: App | None = None
        try:
            sandbox.set_page("/feed/", FEED_FILE.read_bytes())
            state_dir = Path(work) / "state"
            config = Path(work) / "automation.toml"
            write_config(config, sandbox.info(), state_dir=state_dir)
            settings = load_settings(
                config,
                state_dir=state_dir,
                feed_urls=[sandbox.info()["feed_url"]],
                fetch_report_pages=True,
                # The HMICFRS site, answered offline by `SampleSite` (mounted below).
                report_hosts=[urlsplit(HMICFRS_SITE).hostname],
                # One at a time: the items are numbered in feed order, so the demo reads
                # the same every time (the service itself files in parallel).
                concurrency=1,
                log_level=level,
                log_format="text",
            )
            app = build_app(settings)
            app.http.mount(HMICFRS_SITE, SampleSite())
            demo = Demo(sandbox=sandbox, app=app, output=output)
            return _story(demo)
        finally:
            if app is not None:
                app.client.close()
                app.http.close()
            sandbox.stop()


def _story(demo: Demo) -> int:
    demo.say("Section 55 responses: a demonstration on a local Microsoft 365 sandbox")
    demo.say("(sample HMICFRS feed; no email leaves this machine)")
    try:
        demo.step_provision()
        demo.step_intake()
        demo.heading("3. Reminders while the drafts are written")
        demo.step_reminders(EARLY_REMINDER_DAYS)
        demo.step_approval()
        demo.step_publish()
        demo.heading("6. Reminders near the deadlines")
        demo.step_reminders(LATE_REMINDER_DAYS)
        demo.step_final()
        demo.step_after_publication()
        demo.write_outputs()
    except AutomationError as exc:
        log.debug("demo stopped", exc_info=True)
        demo.failures.append(f"demo stopped: {exc}")
    demo.failures.extend(f"sandbox: {brief_error(text)}" for text in demo.sandbox.handler_errors)
    if demo.failures:
        demo.heading("Problems")
        for line in dict.fromkeys(demo.failures):
            demo.say(f"  {line}")
        result = ExitCode.ITEM_FAILURES
    else:
        demo.say()
        demo.say("Demo finished: every step succeeded.")
        result = ExitCode.OK
    demo.write_summary()
    return result
