"""`automation doctor --probe` against the sandbox (Microsoft's rules always on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from automation.app import App
from automation.cli.probe import Probe, run_probe
from automation.jobs.provision import provision
from automation.sandbox.faults import OneOff
from automation.sandbox.seed import APP_ROLES, OTHER_SITE_PATH
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests.service_env import make_settings
from tests.test_doctor import set_app_roles

CHECKS = [
    "hidden columns",
    "batch shapes",
    "duplicate key",
    "item webUrl",
    "planner reference types",
    "site time zone",
    "sent items delay",
]


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    settings = make_settings(sandbox, tmp_path / "state")
    provision(App(settings))
    return settings


def _probe(
    settings: Settings, capsys: pytest.CaptureFixture[str], **kw: float
) -> tuple[int, list[str]]:
    code = run_probe(settings, probe=Probe(settings, poll_every=0.1, **kw))
    return code, capsys.readouterr().out.splitlines()


def _line(lines: list[str], check: str) -> str:
    [found] = [line for line in lines if line.startswith(f"{check}: ")]
    return found


def _nothing_left(sandbox: Sandbox, settings: Settings) -> None:
    app = App(settings)
    ws = app.resolve()
    lists = app.client.get_json(f"/sites/{ws.site_id}/lists")["value"]
    assert [x["displayName"] for x in lists if "S55 probe" in x["displayName"]] == []
    buckets = app.planner.list_buckets(ws.plan_id)
    assert [b["name"] for b in buckets if "S55 probe" in b["name"]] == []
    tasks = app.planner.list_tasks(ws.plan_id)
    assert [t["title"] for t in tasks if "S55 probe" in t["title"]] == []
    messages = app.client.get_json(f"/users/{settings.mailbox}/messages")["value"]
    assert [m["subject"] for m in messages if "S55 probe" in m["subject"]] == []


def test_every_check_is_as_assumed_on_the_sandbox(
    sandbox: Sandbox, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _probe(settings, capsys)
    assert code == 0, lines
    assert [line.split(":", 1)[0] for line in lines] == CHECKS
    assert all(line.split(": ", 2)[1] == "as assumed" for line in lines), lines
    duplicate = _line(lines, "duplicate key")
    assert "500 generalException with a duplicate-values message: recognised" in duplicate
    batches = _line(lines, "batch shapes")
    assert "a mixed one was refused (400 BadRequest" in batches
    web_url = _line(lines, "item webUrl")
    assert "_.000 (a file" in web_url
    assert "/DispForm.aspx?ID=1" in web_url
    assert '"Pdf" refused (400' in _line(lines, "planner reference types")
    zone = _line(lines, "site time zone")
    assert "cannot be read through Graph v1.0" in zone
    assert "(UTC) Dublin, Edinburgh, Lisbon, London" in zone
    assert "sharepoint.site_time_zone (now Europe/London)" in zone
    assert "after 0 s (within the confirm window of 10 min)" in _line(lines, "sent items delay")
    _nothing_left(sandbox, settings)


def test_duplicate_status_409_changes_the_line_not_the_verdict(
    sandbox: Sandbox, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.faults.configure({"duplicate_status": 409})
    code, lines = _probe(settings, capsys)
    assert code == 0, lines
    duplicate = _line(lines, "duplicate key")
    assert (
        duplicate
        == "duplicate key: as assumed: 409 nameAlreadyExists: recognised as a duplicate key"
    )


def test_refused_reference_type_differs_and_fails_and_still_cleans_up(
    sandbox: Sandbox, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # The batch check's details PATCH goes first; the second details PATCH is "Other".
    sandbox.faults.configure(
        {
            "one_offs": [
                {
                    "method": "PATCH",
                    "path": r"/planner/tasks/[^/]+/details$",
                    "status": 400,
                    "when": "before",
                    "count": 1,
                    "code": "invalidRequest",
                }
            ]
        }
    )
    code, lines = _probe(settings, capsys)
    assert code == 1, lines
    batches = _line(lines, "batch shapes")
    assert batches.startswith("batch shapes: differs: a serial chain")
    assert "fail every publication's setup" in batches
    assert _line(lines, "planner reference types").startswith("planner reference types: as assumed")
    _nothing_left(sandbox, settings)


def test_sent_items_slower_than_the_window_differs(
    sandbox: Sandbox, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.faults.configure({"sent_items_delay": 2.0, "sent_items_lag": "outbox"})
    code, lines = _probe(settings, capsys, mail_window=0.5)
    assert code == 1, lines
    sent = _line(lines, "sent items delay")
    assert sent.startswith("sent items delay: differs: the message was not found in Sent Items")
    assert "raise mail.confirm_minutes" in sent
    sandbox.faults.configure({"sent_items_delay": 0.5})
    code, lines = _probe(settings, capsys, mail_window=10.0)
    assert code == 0, lines
    assert "sent items delay: as assumed: in Sent Items" in _line(lines, "sent items delay")


def test_a_failing_check_still_deletes_the_scratch_objects(
    sandbox: Sandbox, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.faults.add_one_off(
        OneOff(method="GET", path=r"/lists/[^/]+/columns$", status=403, code="accessDenied")
    )
    code, lines = _probe(settings, capsys)
    assert code == 1, lines
    hidden = _line(lines, "hidden columns")
    assert hidden.startswith("hidden columns: differs: unexpected answer")
    assert "403" in hidden
    _nothing_left(sandbox, settings)


def test_missing_settings_stop_it_before_any_request(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sandbox, tmp_path / "state", planner={"plan_id": ""}, mailbox="")
    sandbox.clear_log()
    code, lines = _probe(settings, capsys)
    assert code == 2
    assert lines[0].startswith("FAIL planner: planner.plan_id is not set")
    assert lines[1] == "      fix: set planner.plan_id"
    assert lines[2].startswith("FAIL mailbox: mailbox is not set")
    assert lines[-1].startswith("probe: cannot run")
    assert [e for e in sandbox.request_log() if "/v1.0/" in str(e["path"])] == []


def _sites_selected_only(sandbox: Sandbox) -> None:
    set_app_roles(
        sandbox, [r for r in APP_ROLES if not r.startswith("Sites.") or r == "Sites.Selected"]
    )


def test_a_site_without_a_grant_cannot_run(
    sandbox: Sandbox, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sites_selected_only(sandbox)
    other = make_settings(
        sandbox, tmp_path / "other", sharepoint={"site_id": "", "site_path": OTHER_SITE_PATH}
    )
    code, lines = _probe(other, capsys)
    assert code == 2
    assert lines[0].startswith("FAIL site: ")
    assert "no permission grant for this app on the site" in lines[0]
    assert "/permissions" in lines[1]
    assert lines[-1].startswith("probe: cannot run")


def test_a_write_grant_cannot_create_the_scratch_list(
    sandbox: Sandbox, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Sites.Selected with the seed's write grant: items yes, lists no (sandbox's strict reading).
    _sites_selected_only(sandbox)
    code, lines = _probe(settings, capsys)
    assert code == 2
    scratch = _line(lines, "scratch objects")
    assert scratch.startswith("scratch objects: cannot run: creating the scratch list: 403")
    assert "Sites.Selected grant role owner" in scratch
    assert lines[-1].startswith("probe: cannot run")


def test_command_line_option(sandbox: Sandbox, settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "state.toml"
    done = subprocess.run(
        [sys.executable, "-m", "automation", "doctor", "--probe", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hidden columns: as assumed" in done.stdout
    assert "OK   " not in done.stdout
