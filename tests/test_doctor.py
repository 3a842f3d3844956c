"""`automation doctor` against the sandbox over HTTPS with real msal."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import docx
import pytest
import requests

from automation.app import App
from automation.cli.doctor import GRAPH_CHECKS, PROBE_NAME, PROBE_SUBJECT, run_doctor
from automation.jobs.provision import provision
from automation.sandbox.routes.mail import delivered, deny_mailbox
from automation.sandbox.seed import APP_ROLES, OTHER_SITE_PATH
from automation.sandbox.server import Sandbox
from automation.settings import PACKAGED_TEMPLATES, RecipientsSettings, Settings
from tests import feeds
from tests.service_env import make_settings

CHECK_ORDER = [
    "settings",
    "statutory recipients",
    "ca bundle",
    "templates dir",
    "token",
    *GRAPH_CHECKS,
    "word template",
    "email templates",
    "feed",
]


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED, feeds.NORFOLK_PEEL]))
    return make_settings(sandbox, tmp_path / "state")


@pytest.fixture
def provisioned(settings: Settings) -> Settings:
    provision(App(settings))
    return settings


def _doctor(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = run_doctor(settings)
    return code, capsys.readouterr().out.splitlines()


def _line(lines: list[str], status: str, check: str) -> str:
    prefix = f"{status:<4} {check}: "
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


def _fix_after(lines: list[str], line: str) -> str:
    following = lines[lines.index(line) + 1]
    assert following.startswith("      fix: "), lines
    return following


def _checks(lines: list[str]) -> list[str]:
    return [line[5:].split(":", 1)[0] for line in lines if not line.startswith(" ")]


def set_app_roles(sandbox: Sandbox, roles: list[str]) -> None:
    session = requests.Session()
    session.trust_env = False
    answer = session.put(
        f"{sandbox.url}/_sandbox/apps/{sandbox.info()['client_id']}/roles",
        json={"roles": roles},
        verify=str(sandbox.ca_path),
        timeout=10,
    )
    assert answer.status_code == 204


def test_healthy_tenant_passes_every_check(
    sandbox: Sandbox, provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _doctor(provisioned, capsys)
    assert code == 0, lines
    assert _checks(lines) == CHECK_ORDER
    assert all(line.startswith("OK   ") for line in lines), lines
    assert "credential secret" in _line(lines, "OK", "settings")
    assert "2 item(s)" in _line(lines, "OK", "feed")
    # External recipients are a note, not a failure.
    assert "s55responses@hmicfrs.example.org" in _line(lines, "OK", "users")
    mailbox_line = _line(lines, "OK", "mailbox")
    assert provisioned.mailbox in mailbox_line
    assert "can only be proven by sending" in mailbox_line
    # Nothing was sent, and neither the probe file nor the draft is left behind.
    assert delivered(sandbox.tenant) == []
    app = App(provisioned)
    ws = app.resolve()
    folder = provisioned.sharepoint.drafts_folder
    assert app.drive.get_by_path(ws.drive_id, f"{folder}/{PROBE_NAME}") is None
    drafts = app.client.get_json(f"/users/{provisioned.mailbox}/messages")["value"]
    assert [m for m in drafts if m.get("subject") == PROBE_SUBJECT] == []
    writes = [(e["method"], str(e["path"])) for e in sandbox.request_log() if e.get("write")]
    assert [m for m, path in writes if PROBE_NAME in path] == ["PUT"]
    assert [m for m, path in writes if "/items/" in path and m == "DELETE"] == ["DELETE"]
    assert [m for m, path in writes if path.endswith("/messages")] == ["POST"]
    # Never a secret or a token.
    output = "\n".join(lines)
    assert provisioned.client_secret is not None
    assert provisioned.client_secret.get_secret_value() not in output
    assert "sbx." not in output


def test_removed_column_is_named_as_schema_drift(
    sandbox: Sandbox, provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox.tenant.lock:
        lists = sandbox.tenant.table("sharepoint")["lists"]
        [record] = [
            r for r in lists.values() if r["resource"]["displayName"] == "Section 55 Tracker"
        ]
        record["columns"] = [c for c in record["columns"] if c["name"] != "ResponseDeadline"]
    code, lines = _doctor(provisioned, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "tracker list")
    assert "schema drift: column ResponseDeadline missing" in failed
    assert "automation provision" in _fix_after(lines, failed)
    assert [line for line in lines if line.startswith("FAIL")] == [failed]


def test_missing_buckets_and_list_before_provisioning(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _doctor(settings, capsys)
    assert code == 1
    assert "not found" in _line(lines, "FAIL", "tracker list")
    assert "'Section 55 Responses' not found" in _line(lines, "FAIL", "library")
    planner = _line(lines, "FAIL", "planner")
    assert "Triage" in planner
    assert "automation provision" in _fix_after(lines, planner)


def test_revoked_mailbox_fails_with_hint(
    sandbox: Sandbox, provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    deny_mailbox(sandbox.tenant, provisioned.mailbox)
    code, lines = _doctor(provisioned, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "mailbox")
    assert provisioned.mailbox in failed
    assert "mailbox permission revoked or restricted" in failed
    assert "ErrorAccessDenied" in failed
    fix = _fix_after(lines, failed)
    assert "Mail.Send" in fix
    assert "application access policy" in fix
    assert [line for line in lines if line.startswith("FAIL")] == [failed]


def test_removed_mail_roles_fail_the_mailbox_check(
    sandbox: Sandbox, provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    set_app_roles(sandbox, [r for r in APP_ROLES if r not in ("Mail.Send", "Mail.ReadWrite")])
    code, lines = _doctor(provisioned, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "mailbox")
    assert "mailbox permission revoked or restricted while creating a draft" in failed
    assert "Mail.ReadWrite" in _fix_after(lines, failed)
    assert delivered(sandbox.tenant) == []


def test_removed_user_role_fails_the_users_check(
    sandbox: Sandbox, provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    set_app_roles(sandbox, [r for r in APP_ROLES if r != "User.ReadBasic.All"])
    code, lines = _doctor(provisioned, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "users")
    assert "User.ReadBasic.All" in _fix_after(lines, failed)
    mailbox = _line(lines, "FAIL", "mailbox")
    assert "cannot be looked up" in mailbox
    assert "User.ReadBasic.All" in _fix_after(lines, mailbox)


def test_unknown_person_fails_but_external_recipient_does_not(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        sandbox,
        tmp_path / "state",
        people={
            "response_owner": "policy.officer@opcc.example.org",
            "pcc": "no.such.pcc@opcc.example.org",
        },
    )
    provision(App(settings))
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    code, lines = _doctor(settings, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "users")
    assert "no.such.pcc@opcc.example.org (people.pcc, stage approval assignee)" in failed
    assert "s55responses@hmicfrs.example.org" not in failed
    assert "spelling" in _fix_after(lines, failed)


def test_wrong_secret_fails_token_and_skips_graph_checks(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "Wr0ng~SecretValue.for-doctor-test"
    settings = make_settings(sandbox, tmp_path / "state", client_secret=wrong)
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    code, lines = _doctor(settings, capsys)
    assert code == 1
    assert _checks(lines) == CHECK_ORDER
    failed = _line(lines, "FAIL", "token")
    assert "invalid_client" in failed
    assert "AADSTS7000215" in failed
    assert "client secret is wrong" in _fix_after(lines, failed)
    for check in GRAPH_CHECKS:
        assert "skipped" in _line(lines, "SKIP", check)
    # Checks that need no token still run.
    _line(lines, "OK", "word template")
    _line(lines, "OK", "feed")
    assert wrong not in "\n".join(lines)
    assert sandbox.info()["client_secret"] not in "\n".join(lines)


def test_unknown_template_placeholder_is_named(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(PACKAGED_TEMPLATES, templates)
    word = templates / "section55_response.docx"
    document = docx.Document(str(word))
    document.add_paragraph().add_run("Lead officer: {{ lead_oficer }}")
    document.save(str(word))
    settings = make_settings(sandbox, tmp_path / "state", templates_dir=templates)
    provision(App(settings))
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    code, lines = _doctor(settings, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "word template")
    assert "lead_oficer" in failed
    assert str(word) in _fix_after(lines, failed)
    _line(lines, "OK", "email templates")
    assert [line for line in lines if line.startswith("FAIL")] == [failed]


def test_broken_email_template_and_unreachable_feed(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(PACKAGED_TEMPLATES, templates)
    subject = templates / "email" / "circulation_panel.subject.j2"
    subject.write_text("Section 55: {{ titel }}", encoding="utf-8")
    settings = make_settings(sandbox, tmp_path / "state", templates_dir=templates)
    sandbox.set_page("/feed/", b"gone", content_type="text/plain", status=404)
    code, lines = _doctor(settings, capsys)
    assert code == 1
    assert "titel" in _line(lines, "FAIL", "email templates")
    feed = _line(lines, "FAIL", "feed")
    assert "HTTP 404" in feed
    assert "feed_urls" in _fix_after(lines, feed)


def test_output_lines_use_the_contract_format(
    provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bad: Any = provisioned.model_copy(update={"mailbox": ""})
    code, lines = _doctor(bad, capsys)
    assert code == 1
    for line in lines:
        assert line.startswith(("OK   ", "FAIL ", "SKIP ", "      fix: ")), line
    failed = _line(lines, "FAIL", "mailbox")
    assert "mailbox is not set" in failed


def test_command_line_exit_code(sandbox: Sandbox, provisioned: Settings, tmp_path: Path) -> None:
    config = tmp_path / "state.toml"  # written by make_settings for the "state" directory
    assert config.is_file()
    done = subprocess.run(
        [sys.executable, "-m", "automation", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK   mailbox: " in done.stdout
    deny_mailbox(sandbox.tenant, provisioned.mailbox)
    done = subprocess.run(
        [sys.executable, "-m", "automation", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "FAIL mailbox: " in done.stdout


def test_site_without_a_grant_names_the_grant_to_make(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Sites.Selected only: the OPCC site is granted (seed), the intranet site is not.
    set_app_roles(
        sandbox, [r for r in APP_ROLES if not r.startswith("Sites.") or r == "Sites.Selected"]
    )
    settings = make_settings(
        sandbox, tmp_path / "state", sharepoint={"site_id": "", "site_path": OTHER_SITE_PATH}
    )
    code, lines = _doctor(settings, capsys)
    assert code == 1
    failed = _line(lines, "FAIL", "site")
    assert f"{OTHER_SITE_PATH}: the app has no access to this site (accessDenied)" in failed
    fix = _fix_after(lines, failed)
    assert "POST https://graph.microsoft.com/v1.0/sites/{site-id}/permissions" in fix
    assert '"roles": ["write"]' in fix
    assert f'"id": "{settings.client_id}"' in fix
    assert f"GET /sites/{settings.sharepoint.hostname}:{OTHER_SITE_PATH}?$select=id" in fix
    assert "skipped (no site)" in _line(lines, "SKIP", "tracker list")
    # The granted site is reached with the same roles.
    granted = make_settings(sandbox, tmp_path / "granted")
    code, lines = _doctor(granted, capsys)
    site = _line(lines, "OK", "site")
    assert "date-only columns written as midnight Europe/London" in site
    assert "sharepoint.site_time_zone" in site


def test_provision_reports_created_buckets_once_and_present_ones_on_a_rerun(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    first = provision(App(settings))
    assert any("Planner bucket" in line for line in first.created)
    # Buckets made by this run are not also reported as already there.
    assert not any("Planner buckets" in line for line in first.present)
    again = provision(App(settings))
    assert again.created == []
    assert any("Planner buckets" in line for line in again.present)


# -- statutory recipients (issue 11) ------------------------------------------------------------
def _recipients(settings: Settings, **changes: object) -> dict[str, object]:
    return {**settings.recipients.model_dump(), **changes}


def test_an_empty_home_secretary_address_fails_until_set(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_settings(sandbox, tmp_path / "base")
    settings = make_settings(
        sandbox, tmp_path / "state", recipients=_recipients(base, home_secretary=[])
    )
    provision(App(settings))
    code, lines = _doctor(settings, capsys)
    assert code != 0
    line = _line(lines, "FAIL", "statutory recipients")
    assert "recipients.home_secretary empty" in line
    assert "allow_missing_statutory_recipients" in _fix_after(lines, line)


def test_missing_statutory_recipients_may_be_allowed(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_settings(sandbox, tmp_path / "base")
    recipients = _recipients(
        base, hmicfrs=[], home_secretary=[], allow_missing_statutory_recipients=True
    )
    settings = make_settings(sandbox, tmp_path / "state", recipients=recipients)
    provision(App(settings))
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    _, lines = _doctor(settings, capsys)
    line = _line(lines, "OK", "statutory recipients")
    assert "recipients.hmicfrs, recipients.home_secretary empty" in line


def test_the_default_settings_require_both_statutory_groups() -> None:
    defaults = RecipientsSettings()
    assert defaults.missing_statutory() == ["hmicfrs", "home_secretary"]
    assert not defaults.allow_missing_statutory_recipients
