"""``automation demo``: the whole Section 55 workflow on the local sandbox, end to end.

A bundled sample feed (``automation/demo_data/sample_feed.xml``) is served by an in-process
sandbox tenant; the real service code files it; an approval of the unwritten draft is
refused; the policy officer writes the response, the PCC approves it and, after a short
hold, it is circulated; the website team member publishes it and the statutory copies go to
HMICFRS and the Home Secretary; reminder digests go out over a few weeks.

The story stays in 2023: passes run as of the story's days, dates the service writes
(Approved on) follow the pass's calendar, and the saved emails carry the story's day in
their Date header (the sandbox, like Exchange, stamps a message when it is really sent).
Nothing leaves the machine. The story is printed for a reader in the office, and the
artefacts are written to the output directory:

- ``drafts/``      every Word draft, downloaded from the document library
- ``tracker.csv``  every tracker item, every column (human column names)
- ``planner.md``   the Planner board, one section per bucket
- ``mail/``        every message sent, as ``.eml`` files
- ``summary.txt``  the printed report

Over 500 lines because the story is one class whose steps read in order (the people's edits
beside the passes they lead to); the output files are written by ``demo_files``.

Exit code 0 when every step succeeded, 1 when a step reported failures (they are listed),
2 when the output directory is not one the demo may overwrite.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import io
import logging
import os
import sys
import tempfile
import time
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
from automation.documents import fill_prompts, inspect_draft
from automation.domain.calendar import LONDON, london_date, long_date
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
from automation.settings import ApprovalSettings, Settings, load_settings

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
# The hold between approval and circulation, shortened for the demo (an office keeps the
# default 30 minutes); it runs on the real clock.
DEMO_HOLD_MINUTES = 0.05
PUBLISHED_PAGE = "https://www.norfolk-pcc.gov.uk/transparency/hmicfrs-reports/counter-terrorism/"
RESPONSE_TEXT = (
    "The Commissioner welcomes the report and will hold the Chief Constable to account for "
    "the force's part in the recommendations through the quarterly accountability meeting."
)
LATE_REMINDER_DAYS = (dt.date(2023, 9, 6), dt.date(2023, 9, 14))
CYCLE_DAY = dt.date(2023, 10, 2)  # the first quarterly progress request after publication

DEFAULT_HOLD_MINUTES = ApprovalSettings().hold_minutes
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
    mail_days: dict[int, dt.date] = field(default_factory=dict)
    """The story day each delivered message (by position) was sent on."""
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

    def run(self, day: dt.date, *, reminders: bool = True) -> RunReport:
        """One pass of the service as of ``day``; its messages are dated ``day``."""
        report = run_pass(self.app, today=day, reminders=reminders)
        for index in range(len(delivered(self.sandbox.tenant))):
            self.mail_days.setdefault(index, day)
        return report

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
        report = self.run(INTAKE_DAY, reminders=False)
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
            report = self.run(day)
            self.check(f"daily pass {day.isoformat()}", report)
            digests = [m for m in self.new_mail() if mail_label(m) == "digest"]
            if not digests:
                self.say(f"{long_date(day)}: no reminders due")
                continue
            self.say(f"{long_date(day)}: {plural(len(digests), 'reminder digest')}")
            for message in digests:
                self.say(f"  to {first_recipient(message)}: {message.get('subject', '')}")

    def item_path(self, record: TrackerRecord) -> str:
        """The Graph path of a tracker item's fields."""
        ws = self.app.resolve()
        return f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{record.item_id}/fields"

    def complete_task(self, record: TrackerRecord, key: str, upn: str) -> None:
        """``upn`` ticks the item's task of stage ``key`` off in Planner."""
        task_id = str((record.tasks.get(key) or {}).get("id") or "")
        if not task_id:
            self.failures.append(f"{record.marker}: no {key} task recorded")
            return
        task = self.app.planner.get_task(task_id)
        self.as_person(
            upn,
            "PATCH",
            f"/planner/tasks/{quote(task_id, safe='')}",
            json={"percentComplete": 100},
            headers={"If-Match": str(task["@odata.etag"])},
        )
        self.say(f"{self.person(upn)} marks '{one_line(str(task['title']), 70)}' complete.")

    def write_response(self, record: TrackerRecord, upn: str) -> None:
        """``upn`` fills every prompt of the draft in Word and saves it to the library."""
        drive_id = self.app.resolve().drive_id
        content = self.app.drive.download(drive_id, record.draft_item_id)
        before = inspect_draft(content)
        filled = fill_prompts(content, lambda _prompt: RESPONSE_TEXT)
        self.as_person(
            upn,
            "PUT",
            f"/drives/{quote(drive_id, safe='')}/items/{quote(record.draft_item_id, safe='')}"
            "/content",
            data=filled,
            headers={"Content-Type": "application/octet-stream"},
        )
        prompts = len(before.prompts) + len(before.unanswered)
        self.say(
            f"{self.person(upn)} writes the response in Word: the {plural(prompts, 'prompt')} "
            "of the template are replaced by the office's text."
        )

    def approve(self, record: TrackerRecord, upn: str) -> None:
        """``upn`` sets the item's Status to Approved in the tracker."""
        self.as_person(upn, "PATCH", self.item_path(record), json={"Status": "Approved"})
        self.say(f"{self.person(upn)} sets {record.marker} to Approved in the tracker.")

    def say_sent(self, intro: str) -> None:
        """The messages of the last pass (digests aside)."""
        sent = [m for m in self.new_mail() if mail_label(m) != "digest"]
        self.say(f"{intro} ({plural(len(sent), 'email')}):")
        for message in sent:
            names = ", ".join(str(a.get("name", "")) for a in message.get("attachments") or [])
            self.say(
                f"  {mail_label(message):<16} to {', '.join(message.get('to') or [])}"
                f"  [{names or 'no attachments'}]"
            )

    def step_approval(self) -> None:
        """A refused approval of the unwritten draft; the response written; approval, hold,
        circulation."""
        self.heading(f"4. The PCC approves the response ({long_date(APPROVAL_DAY)})")
        seed = self.seed()
        if seed is None:
            return
        pcc = self.settings.people.pcc or user_email("pcc")
        officer = self.settings.people.response_owner or user_email("policy_officer")
        deadline = long_date(seed.deadline) if seed.deadline else "not set"
        self.say(f"{seed.marker}: {seed.title}")
        self.say(f"Response deadline: {deadline}")
        self.say()
        self.approve(seed, pcc)
        self.say("  (the draft is still the template: its prompts are unanswered)")
        self.check("follow-up", self.run(APPROVAL_DAY, reminders=False))
        (refused,) = self.app.tracker.get_many([seed.item_id])
        self.say(f"Refused. Tracker, 'Why not circulated': {refused.approval_problem}")
        self.say(f"Tracker: {refused.marker} is back at {refused.status}.")
        self.say_sent("Nothing is circulated; the response owner is told")
        self.say()
        self.write_response(seed, officer)
        self.complete_task(seed, "cc_comments", officer)
        self.complete_task(seed, "draft", officer)
        self.approve(seed, pcc)
        self.check("follow-up", self.run(APPROVAL_DAY, reminders=False))
        (held,) = self.app.tracker.get_many([seed.item_id])
        hold = self.settings.approval.hold_minutes
        self.say(
            f"Accepted, and held for {hold * 60:g} seconds in this demo (an office has "
            f"{DEFAULT_HOLD_MINUTES:g} minutes) to let the PCC change their mind."
        )
        self.say_sent("The PCC gets a preview with the PDF")
        time.sleep(hold * 60 + 0.5)  # the hold runs on the real clock
        self.check("follow-up", self.run(APPROVAL_DAY, reminders=False))
        self.say_sent(f"The hold ends; the service circulates {held.marker}")
        self.say_status(seed.item_id)

    def step_publish(self) -> None:
        """The website team member publishes it and fills in the page's address; the
        officer submits it onto the HMICFRS portal; the statutory copies go; Published."""
        self.heading(f"5. The website team publishes it ({long_date(PUBLISH_DAY)})")
        seed = self.seed()
        if seed is None:
            return
        website = self.settings.people.website or user_email("website")
        officer = self.settings.people.response_owner or user_email("policy_officer")
        self.as_person(
            website, "PATCH", self.item_path(seed), json={"PublishedUrl": PUBLISHED_PAGE}
        )
        self.say(f"{self.person(website)} publishes the response at {PUBLISHED_PAGE}")
        self.say("  and puts that address in 'Published web page' on the tracker item.")
        self.complete_task(seed, "publish", website)
        self.complete_task(seed, "portal", officer)
        self.check("publication", self.run(PUBLISH_DAY, reminders=False))
        self.say_sent("The statutory copies go, with the published address")
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
                ("submitted onto the HMICFRS portal", record.submitted_portal),
                ("published on website", record.published_on_website),
                ("forwarded to the Home Secretary", record.forwarded_home_secretary),
            )
            if done
        ]
        day = london_date(record.approved_on) if record.approved_on else None
        on = f" on {long_date(day)}" if day else ""
        name = record.approved_by.partition(" <")[0]
        approved = f", approved by {name}{on}" if record.approved_by else ""
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
            mime = message_mime(self.sandbox.tenant, mailbox, message_id)
            (mail_dir / name).write_bytes(self.story_dated(mime, self.mail_days.get(n - 1)))
        self.heading("Output")
        self.say(f"{self.output}/")
        self.say(f"  drafts/      {plural(count, 'Word draft')}")
        self.say(f"  tracker.csv  {plural(len(items), 'tracker item')}, every column")
        self.say("  planner.md   the Planner board")
        self.say(f"  mail/        {plural(len(messages), 'email')} (.eml)")
        self.say("  summary.txt  this report")

    @staticmethod
    def story_dated(mime: bytes, day: dt.date | None) -> bytes:
        """The message with its Date header on the story's ``day`` (the time kept)."""
        if day is None:
            return mime
        message = email.message_from_bytes(mime, policy=email.policy.default)
        sent = message["Date"].datetime if message["Date"] else None
        clock = sent.astimezone(LONDON).time() if sent is not None else dt.time(8, 0)
        moment = dt.datetime.combine(day, clock, tzinfo=LONDON)
        del message["Date"]
        message["Date"] = email.utils.format_datetime(moment)
        return message.as_bytes()

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
                approval={"hold_minutes": DEMO_HOLD_MINUTES},
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
