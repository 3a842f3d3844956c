"""`automation demo`: the whole workflow on the sandbox, and what it writes."""

from __future__ import annotations

import contextlib
import csv
import email
import email.policy
import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest

from automation.cli import demo
from automation.cli.demo import run_demo
from automation.domain.text import one_line
from automation.jobs.provision import TRIAGE_BUCKET
from automation.sandbox.seed import user_email
from automation.settings import DEFAULT_STAGES

SEED_TITLE = (
    "Counter Terrorism Joint Inspection - National security division and multi-agency "
    "arrangements for the management of terrorist offenders in the wake of terrorist attacks"
)
GROUP_RECIPIENTS = {
    "chief_constable": user_email("chief_constable_office"),
    "panel": user_email("panel"),
    "website": user_email("website"),
    "hmicfrs": "s55responses@hmicfrs.example.org",
    "home_secretary": "s55.copies@homeoffice.example.org",
}


@dataclass(frozen=True)
class DemoRun:
    code: int
    stdout: str
    out: Path


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    out = tmp_path_factory.mktemp("demo") / "out"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run_demo(out)
    return DemoRun(code=code, stdout=buffer.getvalue(), out=out)


def _feed_items() -> int:
    return len(ET.parse(demo.FEED_FILE).getroot().findall("./channel/item"))


def _seed_row(stdout: str) -> str:
    [row] = [line for line in stdout.splitlines() if line.startswith("S55-4 ")][:1]
    return row


def _messages(out: Path) -> dict[str, EmailMessage]:
    parsed = {}
    for path in sorted((out / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        parsed[path.name] = message
    return parsed


def test_demo_succeeds_and_prints_the_summary(first_run: DemoRun) -> None:
    assert first_run.code == 0, first_run.stdout
    stdout = first_run.stdout
    assert "7 publications filed: 3 need a response, 3 not for us, 1 to be decided" in stdout
    header = next(line for line in stdout.splitlines() if line.startswith("Item "))
    for column in ("Title", "Published", "Deadline", "Response", "Status", "Tasks", "Draft"):
        assert column in header
    row = _seed_row(stdout)
    assert SEED_TITLE[:30] in row
    assert "2023-07-20" in row
    assert "2023-09-13" in row
    assert "Yes" in row
    assert SEED_TITLE in stdout
    assert "13 September 2023" in stdout
    assert "S55-4 is now Circulated" in stdout
    assert "S55-4 is now Published" in stdout
    assert "Demo finished: every step succeeded." in stdout
    assert "Problems" not in stdout


def test_summary_txt_is_what_was_printed(first_run: DemoRun) -> None:
    assert (first_run.out / "summary.txt").read_text(encoding="utf-8") == first_run.stdout


def test_drafts_are_word_documents_with_the_seed_fields(first_run: DemoRun) -> None:
    drafts = sorted((first_run.out / "drafts").glob("*.docx"))
    assert len(drafts) == 3  # one per publication that needs a response
    texts = {}
    for path in drafts:
        texts[path.name] = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    [seed_name] = [name for name in texts if name.startswith("2023-07-20 Counter Terrorism")]
    assert f"Inspection Title: {SEED_TITLE}" in texts[seed_name]
    assert "13 September 2023" in texts[seed_name]


def test_tracker_csv_has_every_item_and_column(first_run: DemoRun) -> None:
    with (first_run.out / "tracker.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == _feed_items()
    assert len({row["Item"] for row in rows}) == len(rows)
    [seed] = [row for row in rows if row["Title"] == SEED_TITLE]
    assert seed["Item"] == "S55-4"
    assert seed["Section 55 response deadline"] == "2023-09-13"
    assert seed["Published on"] == "2023-07-20"
    assert seed["Response required"] == "Yes"
    assert seed["Status"] == "Published"
    assert seed["Forwarded to Chief Constable"] == "Yes"
    # The whole office-use checklist (issue 11: the portal submission is a stage).
    assert seed["Submitted onto the HMICFRS portal"] == "Yes"
    assert seed["Forwarded to the Home Secretary"] == "Yes"
    assert seed["Approved by"].startswith("Sarah Taylor")
    assert seed["Approved on"].startswith("2023-09-01")  # the story's time, not the clock
    decided = sorted(row["Response required"] for row in rows)
    assert decided == ["No", "No", "No", "To be decided", "Yes", "Yes", "Yes"]


def _planner_tasks(text: str) -> dict[str, list[str]]:
    """Task title -> its detail lines, from planner.md."""
    tasks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("- **"):
            current = tasks.setdefault(line[4:].removesuffix("**"), [])
        elif line.startswith("  - ") and current is not None:
            current.append(line[4:])
        else:
            current = None
    return tasks


def test_planner_md_has_every_bucket_and_the_seed_tasks(first_run: DemoRun) -> None:
    text = (first_run.out / "planner.md").read_text(encoding="utf-8")
    for bucket in [*(stage.bucket for stage in DEFAULT_STAGES), TRIAGE_BUCKET]:
        assert f"## {bucket}\n" in text
    tasks = _planner_tasks(text)
    seed = {title: lines for title, lines in tasks.items() if title.startswith("[S55-4]")}
    assert len(seed) == len(DEFAULT_STAGES)

    def task(stage_title: str) -> list[str]:
        [lines] = [lines for title, lines in seed.items() if stage_title in title]
        return lines

    assert task("Invite the Chief Constable's comments") == [
        "assigned to: Priya Shah",
        "due: 10 August 2023",  # filed late (Tue 8 August): two working days later
        "100% complete",  # issue 11: ticked off before the PCC approves
        "checklist: 0 items",
    ]
    assert task("Draft the response")[1] == "due: 23 August 2023"
    approval = task("PCC approval")
    assert approval[0] == "assigned to: Sarah Taylor"
    assert approval[2] == "100% complete"
    publish = task("Publish the response on the website")
    assert publish[0] == "assigned to: Website Team"  # completed by its assignee
    assert publish[2] == "100% complete"
    assert task("Submit the response onto the HMICFRS portal")[2] == "100% complete"
    assert any(title.startswith("[S55-1] Decide") for title in tasks)


def test_mail_has_the_circulation_and_reminder_digests(first_run: DemoRun) -> None:
    messages = _messages(first_run.out)
    assert messages
    circulation = {
        name.split("-")[1]: message
        for name, message in messages.items()
        if name.split("-")[1] in GROUP_RECIPIENTS
    }
    assert sorted(circulation) == sorted(GROUP_RECIPIENTS)
    for group, message in circulation.items():
        assert GROUP_RECIPIENTS[group] in str(message["To"])
        names = [part.get_filename() or "" for part in message.iter_attachments()]
        assert any(name.endswith(".pdf") for name in names)
        assert any(name.endswith(".docx") for name in names) == (group == "website")
    circulation_files = [n for n in messages if n.split("-")[1] in GROUP_RECIPIENTS]
    assert len(circulation_files) == len(GROUP_RECIPIENTS)  # once each, despite reruns
    digests = [m for n, m in messages.items() if n.split("-")[1] == "digest"]
    assert digests
    assert all(str(m["Subject"]).startswith("Section 55 reminders") for m in digests)
    numbers = [int(name.split("-")[0]) for name in messages]
    assert numbers == list(range(1, len(messages) + 1))


def test_second_run_into_the_same_directory_wipes_it(
    first_run: DemoRun, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = first_run.out / "mail" / "99-stale-nobody.eml"
    stale.write_bytes(b"Subject: stale\n\nold\n")
    assert run_demo(first_run.out) == 0
    stdout = capsys.readouterr().out
    row = _seed_row(stdout)
    assert "2023-09-13" in row
    assert not stale.exists()
    assert (
        len(list((first_run.out / "mail").glob("*.eml")))
        == len([line for line in stdout.splitlines() if line.startswith("  to ")])
        + len(GROUP_RECIPIENTS)
        + 2
    )  # issue 11: the refusal notice and the PCC's preview


def test_refuses_a_directory_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    assert run_demo(tmp_path) == 2
    assert keep.read_text(encoding="utf-8") == "mine"
    assert "not empty" in capsys.readouterr().err


def test_a_broken_feed_makes_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "feed.xml"
    broken.write_text("<rss><channel><item><title>cut off", encoding="utf-8")
    monkeypatch.setattr(demo, "FEED_FILE", broken)
    assert run_demo(tmp_path / "out") == 1
    stdout = capsys.readouterr().out
    assert "Problems" in stdout
    assert "Demo finished" not in stdout


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "automation"
    assert script.is_file(), f"console script missing next to {sys.executable}"
    result = subprocess.run(
        [str(script), "demo", "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2023-09-13" in _seed_row(result.stdout)
    assert (tmp_path / "out" / "tracker.csv").is_file()


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [("short", 10, "short"), ("a  b\nc", 10, "a b c"), ("abcdefghijkl", 6, "abcde…")],
)
def test_one_line_cells(text: str, width: int, expected: str) -> None:
    assert one_line(text, width) == expected


def test_render_table_aligns_columns() -> None:
    lines = demo.render_table(["A", "Long header"], [["wide cell", "x"], ["y", "z"]])
    assert lines == [
        "A          Long header",
        "---------  -----------",
        "wide cell  x",
        "y          z",
    ]


def test_mail_label() -> None:
    assert demo.mail_label({"key": "s55-circulation-abc-4-chief_constable"}) == "chief_constable"
    assert demo.mail_label({"key": "s55-digest:a@b.org:2023-08-09"}) == "digest"
    assert demo.mail_label({"key": None}) == "mail"


def test_the_story_refuses_an_unwritten_draft_and_stays_in_2023(first_run: DemoRun) -> None:
    stdout = first_run.stdout
    assert "Refused. Tracker, 'Why not circulated': Not circulated: approval by Sarah Taylor" in (
        stdout
    )
    assert "writes the response in Word" in stdout
    assert "The PCC gets a preview with the PDF" in stdout
    assert "approved by Sarah Taylor on 1 September 2023" in stdout
    assert "Website Team marks '[S55-4] Publish the response on the website" in stdout
    messages = _messages(first_run.out)
    circulated = [m for name, m in messages.items() if name.split("-")[1] in GROUP_RECIPIENTS]
    assert {m["Date"].datetime.year for m in circulated} == {2023}
    for message in circulated:
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        text = str(html.get_content())
        assert "[To be completed" not in text
        assert "sent by the Section 55 response service" not in text or "website" in str(
            message["To"]
        )
        assert "pcc@" not in text  # the approver by name and role, not their mailbox
