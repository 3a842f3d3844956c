"""Two `automation once` processes at the same time against one tenant duplicate nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from automation.app import App
from automation.cli.sandbox_config import config_text
from automation.jobs.provision import provision
from automation.sandbox.framework import Request, Response
from automation.sandbox.routes.mail import delivered
from automation.sandbox.server import Sandbox
from tests import feeds
from tests.service_env import make_settings
from tests.test_followup import approve_in_tracker


class FeedBarrier:
    """Holds each instance's feed request until both have asked: their passes start together.

    Without it, whether the two processes overlap is luck (one can finish before the other
    has imported its modules), and the test would pass without testing its claim.
    """

    def __init__(self, handle: Callable[[Request], Response]) -> None:
        self._handle = handle
        self.barrier = threading.Barrier(2, timeout=60)
        self.released = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if request.path == "/feed/":
            self.barrier.wait()  # BrokenBarrierError surfaces as a sandbox handler error
            with self._lock:
                self.released += 1
        return self._handle(request)


def _run_two(config: Path, tmp: Path, as_of: str, sandbox: Sandbox, mp: pytest.MonkeyPatch) -> None:
    gate = FeedBarrier(sandbox.handle)
    mp.setattr(sandbox, "handle", gate)
    procs = []
    for n in (1, 2):
        env = dict(os.environ)
        env["AUTOMATION_STATE_DIR"] = str(tmp / f"instance-{n}")
        env["AUTOMATION_FETCH_REPORT_PAGES"] = "false"
        env["AUTOMATION_APPROVAL__HOLD_MINUTES"] = "0"  # circulate in the pass that approves
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "automation",
                    "once",
                    "--config",
                    str(config),
                    "--as-of",
                    as_of,
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        outputs.append((out + err).decode())
        assert proc.returncode == 0, (out + err).decode()
        assert b"Traceback" not in err, err.decode()
    mp.undo()
    # Both instances were inside their pass at the same moment: the barrier let both through.
    assert gate.released == 2, outputs


def test_two_once_processes_leave_one_of_everything(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(sandbox, tmp_path / "setup")
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED, feeds.NORFOLK_PEEL]))
    config = tmp_path / "automation.toml"
    config.write_text(config_text(sandbox.info(), state_dir=tmp_path / "unused"), "utf-8")

    # Latency stretches each run so the two really overlap.
    sandbox.faults.configure({"latency_ms": 15})
    _run_two(config, tmp_path, "2023-08-08", sandbox, monkeypatch)
    races = [e for e in sandbox.request_log() if e["status"] in (409, 412)]
    print(f"two instances: {len(races)} conflict answers (409/412) seen and absorbed")
    ws = app.resolve()
    records = app.tracker.all()
    assert len(records) == 2
    assert all(r.setup == "complete" for r in records)
    tasks = app.planner.list_tasks(ws.plan_id)
    assert len(tasks) == 2 * len(settings.stages)
    folder = app.drive.get_by_path(ws.drive_id, f"{settings.sharepoint.drafts_folder}/2023")
    assert folder is not None
    drafts = list(app.client.paged(f"/drives/{ws.drive_id}/items/{folder['id']}/children"))
    assert len(drafts) == 2

    seed = next(r for r in records if r.title == feeds.SEED_TITLE)
    approve_in_tracker(sandbox, app, seed)
    _run_two(config, tmp_path, "2023-09-01", sandbox, monkeypatch)
    circulation = [e for e in delivered(sandbox.tenant) if "circulation" in str(e.get("key"))]
    groups = sorted(str(e["key"]).rsplit("-", 1)[-1] for e in circulation)
    assert groups == ["chief_constable", "panel", "website"]  # HMICFRS: on publication
    digests = [str(e["key"]) for e in delivered(sandbox.tenant) if "digest" in str(e.get("key"))]
    assert len(digests) == len(set(digests))
