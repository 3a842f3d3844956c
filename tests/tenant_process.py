"""The sandbox and the service as separate processes (for kill -9 tests), and a tenant audit.

Everything here is bounded in time; callers stop processes in ``finally`` blocks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

from automation.app import App
from automation.domain.relevance import Decision, assess
from automation.feed import parse_feed
from automation.graph.mail import IDEMPOTENCY_PROPERTY_ID
from automation.settings import Settings, load_settings
from tests import feeds

ROOT = Path(__file__).resolve().parents[1]


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"no line within {timeout}s") from None


@dataclass(slots=True)
class SandboxProcess:
    """``automation sandbox`` in a child process."""

    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    stderr_path: Path
    drain: threading.Thread

    @classmethod
    def start(cls, data: Path, *, faults: dict[str, Any], log_dir: Path) -> SandboxProcess:
        """Start it and wait (at most 60 s) for the ready line."""
        stderr_path = log_dir / "sandbox.stderr"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "automation",
                    "sandbox",
                    "--port",
                    "0",
                    "--data",
                    str(data),
                    "--faults",
                    json.dumps(faults),
                ],
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
                env=service_env(log_dir / "unused-state"),
            )
        try:
            assert proc.stdout is not None
            line = _read_line(proc.stdout, 60.0)
            info = json.loads(line)
        except (TimeoutError, ValueError):
            stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()
            raise AssertionError(
                "sandbox gave no ready line: " + stderr_path.read_text("utf-8", "replace")
            ) from None
        drain = threading.Thread(target=proc.stdout.read, daemon=True)  # never let it block
        drain.start()
        return cls(proc=proc, info=info, stderr_path=stderr_path, drain=drain)

    def session(self) -> requests.Session:
        """A plain HTTPS session trusting the sandbox CA."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.info["ca_bundle"])
        return session

    def serve_feed(self, content: bytes) -> None:
        """Serve ``content`` at /feed/ (admin API)."""
        answer = self.session().post(
            f"{self.info['authority_host']}/_sandbox/pages",
            json={"path": "/feed/", "content": content.decode("utf-8")},
            timeout=10,
        )
        assert answer.status_code == 204, answer.text

    def faults(self, plan: dict[str, Any]) -> None:
        """Replace the fault plan."""
        answer = self.session().put(
            f"{self.info['authority_host']}/_sandbox/faults", json=plan, timeout=10
        )
        assert answer.status_code == 200, answer.text

    def writes(self) -> int:
        """Graph writes the sandbox has answered so far (inner ``$batch`` writes included)."""
        answer = self.session().get(f"{self.info['authority_host']}/_sandbox/log", timeout=10)
        assert answer.status_code == 200, answer.text
        return sum(1 for entry in answer.json()["value"] if entry.get("write"))

    def settings(self, state_dir: Path) -> Settings:
        """Settings for an in-test App against this sandbox (its own state directory)."""
        return load_settings(
            Path(self.info["config"]), state_dir=state_dir, fetch_report_pages=False
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 10 s; the pipe closed."""
        stop(self.proc)
        self.drain.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def service_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a service process: its own state directory, no report-page fetches."""
    env = dict(os.environ)
    env["AUTOMATION_STATE_DIR"] = str(state_dir)
    env["AUTOMATION_FETCH_REPORT_PAGES"] = "false"
    env.update(extra)
    return env


def automation(
    args: Sequence[str], *, config: Path, state_dir: Path, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    """Start ``automation <args> --config <config>`` (output appended to ``log``)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "automation", *args, "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=service_env(state_dir, **env),
        )


def kill9(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap (a zombie would still look alive to a liveness check)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill9(proc)
    else:
        proc.wait(timeout=30)


# -- feeds ------------------------------------------------------------------------------------
def many_publications(count: int, *, first: dt.date, last: dt.date) -> list[feeds.Item]:
    """``count`` distinct publications spread over [first, last]: ours, other forces', and
    super-complaints (response required: Yes, No and To be decided)."""
    other_forces = [
        "Suffolk Constabulary",
        "Essex Police",
        "Kent Police",
        "Cambridgeshire Constabulary",
        "Lincolnshire Police",
        "Hertfordshire Constabulary",
        "Bedfordshire Police",
        "Thames Valley Police",
    ]
    span = (last - first).days
    items = []
    for n in range(count):
        day = first + dt.timedelta(days=(n * span) // max(1, count - 1))
        stamp = dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC)
        pub_date = stamp.strftime("%a, %d %b %Y %H:%M:%S +0000")
        kind = n % 5
        if kind in (0, 1):
            item = feeds.Item(
                title=f"National thematic inspection {n}: police response to topic {n}",
                link=f"https://hmicfrs.justiceinspectorates.gov.uk/publications/thematic-{n}/",
                pub_date=pub_date,
                categories=("Joint inspection", "N/A"),
            )
        elif kind == 2:
            item = feeds.Item(
                title=f"An inspection of Norfolk Constabulary's work on subject {n}",
                link=f"https://hmicfrs.justiceinspectorates.gov.uk/publications/norfolk-{n}/",
                pub_date=pub_date,
                categories=("Custody", "Norfolk Constabulary"),
            )
        elif kind == 3:
            force = other_forces[n % len(other_forces)]
            item = feeds.Item(
                title=f"An inspection of {force}: report number {n}",
                link=f"https://hmicfrs.justiceinspectorates.gov.uk/publications/other-{n}/",
                pub_date=pub_date,
                categories=("Custody", force),
            )
        else:
            item = feeds.Item(
                title=f"Report on the super-complaint number {n}",
                link=f"https://hmicfrs.justiceinspectorates.gov.uk/publications/super-{n}/",
                pub_date=pub_date,
                categories=("Super-complaints",),
            )
        items.append(item)
    return items


def expected_decisions(content: bytes, settings: Settings) -> dict[str, Decision]:
    """Publication key -> relevance decision, as the service will see the feed."""
    publications, problems = parse_feed(content, "https://feed.example/")
    assert not problems, problems
    return {
        pub.key: assess(
            pub, force_name=settings.force_name, aliases=settings.force_aliases
        ).decision
        for pub in publications
    }


# -- the audit ----------------------------------------------------------------------------------
SETUP_FOR = {Decision.YES: "complete", Decision.NO: "none", Decision.TBD: "triage"}


def audit(app: App, expected: dict[str, Decision]) -> list[str]:
    """Everything wrong with the tenant after intake of ``expected`` (empty when consistent).

    Exactly one item per key; setup finished the way the item's decision needs; one draft
    and one task per stage for each response; nothing orphaned; no lease left behind.
    """
    problems: list[str] = []
    ws = app.resolve()
    records = app.tracker.all()
    counts = Counter(r.key for r in records)
    problems += [f"{key}: {n} items" for key, n in counts.items() if n != 1]
    if set(counts) != set(expected):
        problems.append(
            f"keys: missing {sorted(set(expected) - set(counts))}, "
            f"unexpected {sorted(set(counts) - set(expected))}"
        )
    stage_keys = {stage.key for stage in app.settings.stages}
    for r in records:
        decision = expected.get(r.key)
        if decision is None:
            continue
        if r.setup != SETUP_FOR[decision]:
            problems.append(f"{r.key}: setup {r.setup!r}, wanted {SETUP_FOR[decision]!r}")
        if r.lease:
            problems.append(f"{r.key}: lease left behind ({r.lease})")
        wanted_tasks = {
            Decision.YES: stage_keys,
            Decision.TBD: {"triage"},
            Decision.NO: set(),
        }[decision]
        if set(r.tasks) != wanted_tasks:
            problems.append(f"{r.key}: tasks {sorted(r.tasks)}, wanted {sorted(wanted_tasks)}")
        if bool(r.draft_item_id) != (decision == Decision.YES):
            problems.append(f"{r.key}: draft id {r.draft_item_id!r} for a {decision} item")

    by_id = {r.item_id: r for r in records}
    recorded_drafts = {r.draft_item_id for r in records if r.draft_item_id}
    drafts = _files(app, f"{app.settings.sharepoint.drafts_folder}")
    draft_ids = Counter(str(d["id"]) for d in drafts)
    orphans = [str(d["name"]) for d in drafts if str(d["id"]) not in recorded_drafts]
    if orphans:
        problems.append(f"orphan drafts: {orphans}")
    lost = recorded_drafts - set(draft_ids)
    if lost:
        problems.append(f"recorded drafts missing from the library: {sorted(lost)}")

    recorded_tasks = {
        str(entry["id"]): r.item_id
        for r in records
        for entry in r.tasks.values()
        if isinstance(entry, dict) and entry.get("id")
    }
    tasks = app.planner.list_tasks(ws.plan_id)
    titles = Counter(str(t["title"]) for t in tasks)
    problems += [f"task {title!r} {n} times" for title, n in titles.items() if n > 1]
    for task in tasks:
        owner = recorded_tasks.get(str(task["id"]))
        if owner is None:
            problems.append(f"orphan task {task['title']!r}")
        elif not str(task["title"]).startswith(f"[{by_id[owner].marker}] "):
            problems.append(f"task {task['title']!r} recorded on {by_id[owner].marker}")
    missing = set(recorded_tasks) - {str(t["id"]) for t in tasks}
    if missing:
        problems.append(f"recorded tasks missing from the plan: {sorted(missing)}")
    return problems


def _files(app: App, folder: str) -> list[dict[str, Any]]:
    """Every file under ``folder`` (recursively)."""
    ws = app.resolve()
    top = app.drive.get_by_path(ws.drive_id, folder)
    if top is None:
        return []
    out: list[dict[str, Any]] = []
    pending = [str(top["id"])]
    while pending:
        parent = pending.pop()
        for child in app.client.paged(f"/drives/{ws.drive_id}/items/{parent}/children"):
            if "folder" in child:
                pending.append(str(child["id"]))
            else:
                out.append(child)
    return out


def sent_keys(app: App) -> Counter[str]:
    """How many messages in the mailbox's Sent Items carry each idempotency key."""
    mailbox = app.settings.mailbox
    escaped = IDEMPOTENCY_PROPERTY_ID.replace("'", "''")
    keys: Counter[str] = Counter()
    for message in app.client.paged(
        f"/users/{mailbox}/mailFolders/SentItems/messages",
        params={
            "$select": "id,subject",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{escaped}')",
        },
    ):
        props = message.get("singleValueExtendedProperties") or [{}]
        keys[str(props[0].get("value") or message.get("subject"))] += 1
    return keys
