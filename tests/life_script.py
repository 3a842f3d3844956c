"""The whole life of three responses as a fixed script of passes, and a normalised snapshot.

Used by tests/test_fault_matrix.py: the same script runs clean (the reference), with a
crash after the k-th step (then the crashed pass again, then the rest), and under a
throttling storm; every run must end in the same normalised state.

The life: pass A (2023-08-08) files the seed, Norfolk PEEL and a super-complaint; the
policy officer writes the seed's response (the draft's prompts filled, the earlier stages
ticked off) and the PCC approves it in the tracker; pass B (2023-09-01) circulates it to the
groups sent on approval; the website team fills in the published address and completes its
publish task, the officer completes the HMICFRS portal task; pass C (2023-09-02) sends the
statutory copies (HMICFRS, Home Secretary) and marks it Published. Reminder digests go out
inside the passes.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.app import App
from automation.domain.record import TrackerRecord
from automation.graph.client import RetryPolicy
from automation.jobs.provision import provision
from automation.passes import run_pass
from automation.sandbox.faults import OneOff
from automation.sandbox.routes.mail import delivered
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests import feeds
from tests.service_env import WRITES, CrashingTransport, SimulatedCrash, make_settings
from tests.test_followup import approve_in_tracker, publish

FEED = (feeds.SEED, feeds.NORFOLK_PEEL, feeds.SUPER_COMPLAINT)
SEED_KEY_LINK = feeds.SEED.link


@dataclass(frozen=True, slots=True, kw_only=True)
class Pass:
    """One scheduled pass of the service, and what people do just before it."""

    name: str
    today: dt.date
    before: Callable[[Sandbox, App], None] | None = None


def _seed_record(app: App) -> TrackerRecord:
    records = tracker_records(app)
    [seed] = [r for r in records if r.title == feeds.SEED_TITLE]
    return seed


def _approve_seed(sandbox: Sandbox, app: App) -> None:
    approve_in_tracker(sandbox, app, _seed_record(app))  # the response written first


def _publish_seed(sandbox: Sandbox, app: App) -> None:
    publish(sandbox, app, _seed_record(app))


LIFE: tuple[Pass, ...] = (
    Pass(name="A", today=dt.date(2023, 8, 8)),
    Pass(name="B", today=dt.date(2023, 9, 1), before=_approve_seed),
    Pass(name="C", today=dt.date(2023, 9, 2), before=_publish_seed),
)


# -- crash injection ------------------------------------------------------------------------
class StepCrash(CrashingTransport):
    """Crash injection over a whole life: steps are counted across passes.

    Besides writes, the request that converts the draft to PDF is a step (a read, but the
    last thing circulation does before the first email, so a crash right after it is a
    point of its own).
    """

    def __init__(self, *, verify: str | bool, crash_after: int | None) -> None:
        super().__init__(verify=verify, crash_after=crash_after)
        self.current_pass = ""

    @staticmethod
    def is_step(method: str, url: str) -> bool:
        """Writes and the PDF conversion."""
        if "/oauth2/" in url:
            return False
        return method.upper() in WRITES or "format=pdf" in url

    def label(self, method: str, url: str) -> str:
        """``pass B: POST /v1.0/...``."""
        return f"pass {self.current_pass}: {method.upper()} {_short(url)}"


def _short(url: str) -> str:
    path = url.split("/v1.0", 1)[-1]
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27,}|[A-Za-z0-9_-]{20,}", "{id}", path)[:90]


# -- running the script ----------------------------------------------------------------------
@dataclass(slots=True)
class LifeRun:
    """What happened in one run of the script."""

    crashed_in: str = ""
    crash_step: str = ""
    steps: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    """What the last pass left for later (sends being confirmed)."""
    later_passes: int = 0
    """Passes run after the script to settle it."""


def prepare(sandbox: Sandbox, state: Path, **overrides: Any) -> Settings:
    """A freshly reset tenant, provisioned, with the life's feed; settings for it."""
    sandbox.reset()
    if state.exists():
        shutil.rmtree(state)
    # The life's passes follow each other within seconds and Sent Items does not lag unless
    # a test says so (and then sets its own window): a crash between recording a send as
    # pending and making it is healed by the next pass, not ten minutes later.
    overrides.setdefault("mail", {"confirm_minutes": 0})
    # Likewise the passes do not wait for an approval's hold.
    overrides.setdefault("approval", {"hold_minutes": 0})
    settings = make_settings(sandbox, state, **overrides)
    provision(App(settings))
    sandbox.set_page("/feed/", feeds.rss(list(FEED)))
    return settings


def run_life(
    sandbox: Sandbox,
    settings: Settings,
    *,
    crash_after: int | None = None,
    retry: RetryPolicy | None = None,
    lose_state_on_crash: bool = False,
    one_offs: Mapping[str, Sequence[OneOff]] | None = None,
    settle_seconds: float = 0.0,
) -> LifeRun:
    """Run the script; after a crash, the crashed pass again with a normal App, then the rest.

    ``one_offs``: faults queued just before the pass of that name (after people's edits).
    ``settle_seconds``: afterwards, the last pass again (a later run the same day) until
    no work is left for later (a send being confirmed), for at most that long.
    """
    transport = StepCrash(verify=settings.verify, crash_after=crash_after)
    outcome = LifeRun()
    for step in LIFE:
        if step.before is not None:
            # People's edits are not what is under test: no faults while they happen.
            faults = sandbox.faults.to_dict()
            sandbox.faults.configure({})
            step.before(sandbox, App(settings))
            sandbox.faults.configure(faults)
        for one_off in (one_offs or {}).get(step.name, ()):
            sandbox.faults.add_one_off(one_off)
        if not transport.crashed:
            transport.current_pass = step.name
            try:
                report = run_pass(_app(settings, transport, retry), today=step.today)
            except SimulatedCrash as crash:
                outcome.crashed_in = step.name
                outcome.crash_step = str(crash)
                if lose_state_on_crash:
                    shutil.rmtree(settings.state_dir, ignore_errors=True)
            else:
                outcome.failures += [f"{step.name}: {line}" for line in report.failures]
                outcome.unfinished = list(report.unfinished)
                continue
        report = run_pass(_app(settings, None, retry), today=step.today)
        outcome.failures += [f"{step.name} (after crash): {line}" for line in report.failures]
        outcome.unfinished = list(report.unfinished)
    give_up = time.monotonic() + settle_seconds
    while outcome.unfinished and time.monotonic() < give_up:
        time.sleep(0.2)
        outcome.later_passes += 1
        report = run_pass(_app(settings, None, retry), today=LIFE[-1].today)
        outcome.failures += [f"later pass: {line}" for line in report.failures]
        outcome.unfinished = list(report.unfinished)
    outcome.steps = list(transport.steps)
    return outcome


def _app(settings: Settings, transport: StepCrash | None, retry: RetryPolicy | None) -> App:
    if retry is None:
        return App(settings, transport=transport)
    return App(settings, transport=transport, retry=retry)


# -- the normalised snapshot -------------------------------------------------------------------
def tracker_records(app: App) -> list[TrackerRecord]:
    """Every tracker item."""
    app.resolve()
    return app.tracker.all()


def _drive_names(app: App) -> list[str]:
    ws = app.resolve()
    names: list[str] = []
    folders = [("", f"/drives/{ws.drive_id}/root/children")]
    while folders:
        prefix, path = folders.pop()
        for child in app.client.paged(path):
            name = f"{prefix}/{child['name']}"
            if "folder" in child:
                folders.append((name, f"/drives/{ws.drive_id}/items/{child['id']}/children"))
            else:
                names.append(name)
    return sorted(names)


def snapshot(sandbox: Sandbox, settings: Settings) -> dict[str, Any]:
    """The tenant's state without ids, etags and timestamps (item ids become keys)."""
    app = App(settings)
    records = tracker_records(app)
    by_id = {r.item_id: r.key for r in records}

    def unid(text: str) -> str:
        text = re.sub(r"\[S55-(\d+)\]", lambda m: f"[{by_id.get(m.group(1), '?')}]", text)
        return re.sub(
            r"(s55-circulation-[0-9a-f]+)-(\d+)-",
            lambda m: f"{m.group(1)}-{by_id.get(m.group(2), '?')}-",
            text,
        )

    items = sorted(
        (
            {
                "key": r.key,
                "status": r.status,
                "response_required": r.response_required,
                "setup": r.setup,
                "flags": {
                    "forwarded_chief_constable": r.forwarded_chief_constable,
                    "forwarded_panel": r.forwarded_panel,
                    "forwarded_hmicfrs": r.forwarded_hmicfrs,
                    "submitted_portal": r.submitted_portal,
                    "published_on_website": r.published_on_website,
                    "forwarded_home_secretary": r.forwarded_home_secretary,
                },
                "approved_by": r.approved_by,
                "has_draft": bool(r.draft_item_id and r.draft_url),
                "tasks": len(r.tasks),
                "mail": sorted(r.mail),
                "reminders": sorted(str(x) for x in r.reminders.get("sent", [])),
                "lease": bool(r.lease),
            }
            for r in records
        ),
        key=lambda entry: str(entry["key"]),
    )
    tasks = sorted(
        (unid(str(t.get("title", ""))), int(t.get("percentComplete") or 0))
        for t in app.planner.list_tasks(app.resolve().plan_id)
    )
    mail = Counter(
        (
            unid(str(entry.get("key") or "")),
            tuple(entry.get("to") or ()),
            tuple(sorted(str(a["name"]) for a in entry.get("attachments") or ())),
        )
        for entry in delivered(sandbox.tenant)
    )
    return {
        "items": items,
        "files": _drive_names(app),
        "tasks": tasks,
        "mail": sorted(mail.items()),
    }


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Short lines naming what differs between two snapshots (empty when equal)."""
    out = []
    want_items = {item["key"]: item for item in expected["items"]}
    got_items = {item["key"]: item for item in actual["items"]}
    for key in sorted(set(want_items) | set(got_items)):
        want, got = want_items.get(key), got_items.get(key)
        if want is None or got is None:
            out.append(f"item {key}: {'missing' if got is None else 'unexpected'}")
            continue
        out += [
            f"item {key}: {name} {got[name]!r}, wanted {want[name]!r}"
            for name in want
            if want[name] != got.get(name)
        ]
    for part in ("files", "tasks", "mail"):
        want_list, got_list = list(expected[part]), list(actual[part])
        if want_list != got_list:
            missing = [x for x in want_list if x not in got_list]
            extra = [x for x in got_list if x not in want_list]
            out.append(f"{part}: missing {missing!r}, unexpected {extra!r}"[:1500])
    return out
