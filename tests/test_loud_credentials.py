"""Credentials and permissions: a refusal is exit 2 with one line and its fix, everywhere.

Issue 13: an expired or wrong secret exited 1 (which the timer unit counted as success) and
``run`` logged it every cycle. Now every command exits 2, ``run`` stops with exit 2 (systemd's
``RestartPreventExitStatus=2`` then leaves it stopped), and doctor warns ahead of expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from automation.app import App
from automation.cli import main
from automation.cli.doctor import run_doctor
from automation.cli.doctor_local import credential_expiry
from automation.cli.sandbox_config import config_text
from automation.exitcodes import ExitCode
from automation.jobs.provision import provision
from automation.sandbox.server import Sandbox
from automation.settings import load_settings
from tests import feeds
from tests.graph.test_auth_unit import make_cert
from tests.service_env import make_settings

WRONG_SECRET = "Wr0ng~SecretValue.for-exit-code-test"


def _config(sandbox: Sandbox, tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "automation.toml"
    text = config_text(sandbox.info(), state_dir=tmp_path / "state") + extra
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    provision(App(make_settings(sandbox, tmp_path / "setup")))
    sandbox.set_page("/feed/", feeds.rss([feeds.NORFOLK_PEEL]))
    monkeypatch.setenv("AUTOMATION_FETCH_REPORT_PAGES", "false")
    return _config(sandbox, tmp_path)


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    "argv",
    [
        ["once", "--as-of", "2023-08-08"],
        ["backfill", "--since", "2023-08-01", "--as-of", "2023-08-08"],
        ["provision"],
        ["status"],
    ],
    ids=["once", "backfill", "provision", "status"],
)
def test_a_wrong_secret_is_exit_2_with_the_fix(
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.setenv("AUTOMATION_CLIENT_SECRET", WRONG_SECRET)
    assert main([*argv, "--config", str(config)]) == ExitCode.CONFIG
    [line] = _errors(capsys)
    assert "AADSTS7000215" in line
    assert "fix: the client secret is wrong" in line
    assert WRONG_SECRET not in line


def test_an_unknown_tenant_says_copy_the_tenant_id(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOMATION_TENANT_ID", "11111111-2222-3333-4444-555555555555")
    assert main(["once", "--as-of", "2023-08-08", "--config", str(config)]) == ExitCode.CONFIG
    [line] = _errors(capsys)
    assert "tenant_id not found: copy Directory (tenant) ID" in line
    assert "unreachable" not in line


def test_a_malformed_tenant_id_fails_the_settings(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOMATION_TENANT_ID", "11111111-2222-3333-4444-55555555555")
    assert main(["doctor", "--config", str(config)]) == ExitCode.CONFIG
    [line] = _errors(capsys)
    assert "setting tenant_id" in line
    assert "Directory (tenant) ID" in line


def test_an_unreadable_certificate_key_is_exit_2(
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pem = tmp_path / "app-cert.pem"
    pem.write_text("not a key\n", encoding="ascii")
    monkeypatch.setenv("AUTOMATION_CERTIFICATE__PEM_PATH", str(pem))
    text = config.read_text(encoding="utf-8")
    config.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("client_secret")),
        encoding="utf-8",
    )
    assert main(["once", "--as-of", "2023-08-08", "--config", str(config)]) == ExitCode.CONFIG
    [line] = _errors(capsys)
    assert "no PEM private key block" in line
    assert "certificate.pem_path readable by the service user" in line


def test_a_missing_permission_on_the_first_graph_call_is_exit_2(
    sandbox: Sandbox, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = requests.Session()
    session.trust_env = False
    answer = session.put(
        f"{sandbox.url}/_sandbox/apps/{sandbox.info()['client_id']}/roles",
        json={"roles": ["Mail.Send"]},
        verify=str(sandbox.ca_path),
        timeout=10,
    )
    assert answer.status_code == 204
    assert main(["once", "--as-of", "2023-08-08", "--config", str(config)]) == ExitCode.CONFIG
    [line] = _errors(capsys)
    assert "access refused (403)" in line
    assert "automation doctor" in line


def test_run_stops_with_exit_2_on_a_refused_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    provision(App(make_settings(sandbox, tmp_path / "setup")))
    sandbox.set_page("/feed/", feeds.rss([]))
    config = _config(sandbox, tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")},
        "AUTOMATION_CLIENT_SECRET": WRONG_SECRET,
        "AUTOMATION_SCHEDULE__INTERVAL_SECONDS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "automation", "run", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitCode.CONFIG, done.stderr
    critical = [line for line in done.stderr.splitlines() if " CRITICAL " in line]
    assert len(critical) == 1, done.stderr
    assert "AADSTS7000215" in critical[0]
    assert "restarting cannot fix this" in critical[0]
    # The start-up line names what this instance works on.
    start = next(line for line in done.stderr.splitlines() if "starting: config" in line)
    assert str(config.resolve()) in start
    assert sandbox.info()["tenant_id"] in start
    assert "next reminders" in start
    assert WRONG_SECRET not in done.stderr


def test_doctor_warns_before_the_secret_expires_and_fails_after(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.set_page("/feed/", feeds.rss([feeds.SEED]))
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)
    settings = make_settings(sandbox, tmp_path / "state", secret_expires_on=soon)
    provision(App(settings))
    assert run_doctor(settings) == ExitCode.OK
    [token] = [line for line in capsys.readouterr().out.splitlines() if " token: " in line]
    assert token.startswith("OK   token:")
    assert f"WARNING: the client secret (secret_expires_on) expires on {soon}" in token

    past = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    expired = make_settings(sandbox, tmp_path / "state", secret_expires_on=past)
    assert run_doctor(expired) == ExitCode.ITEM_FAILURES
    lines = capsys.readouterr().out.splitlines()
    [token] = [line for line in lines if " token: " in line]
    assert token.startswith("FAIL token:")
    assert f"expired on {past}" in token
    assert "add a new client secret" in lines[lines.index(token) + 1]


def _certificate(tmp_path: Path, days_left: int) -> Path:
    key_pem, cert_pem, _cert = make_cert(valid_days=days_left)
    pem = tmp_path / f"cert-{days_left}.pem"
    pem.write_text(key_pem + cert_pem, encoding="ascii")
    return pem


@pytest.mark.parametrize(
    ("days_left", "expired", "says"),
    [
        (200, False, "valid until"),
        (12, False, "WARNING: the certificate expires on"),
        (-3, True, "expired on"),
    ],
)
def test_certificate_expiry_is_read_from_the_file(
    tmp_path: Path, days_left: int, expired: bool, says: str
) -> None:
    settings = load_settings(
        tenant_id="contoso.onmicrosoft.com",
        client_id="c",
        force_name="Kent Police",
        pcc_area="Kent",
        certificate={"pem_path": _certificate(tmp_path, days_left)},
    )
    expiry = credential_expiry(settings, now=dt.datetime.now(dt.UTC))
    assert expiry.expired is expired
    assert says in expiry.text


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/reports/peel/", "OK", "report pages on 127.0.0.1 readable"),
        ("/reports/missing/", "FAIL", "report pages on 127.0.0.1 answer HTTP 404"),
    ],
)
def test_doctor_checks_report_pages_when_they_are_read(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: str,
    status: str,
    says: str,
) -> None:
    sandbox.set_page("/reports/peel/", b"<html><title>PEEL</title></html>", "text/html")
    item = feeds.Item(
        title="PEEL 2025-27: An inspection of Norfolk Constabulary",
        link=f"{sandbox.url}{path}",
        pub_date="Thu, 03 Aug 2023 23:01:00 +0000",
        categories=("PEEL", "Norfolk Constabulary"),
    )
    sandbox.set_page("/feed/", feeds.rss([item]))
    settings = make_settings(sandbox, tmp_path / "state", fetch_report_pages=True)
    run_doctor(settings)
    lines = capsys.readouterr().out.splitlines()
    [feed] = [line for line in lines if line[5:].startswith("feed:")]
    assert feed.startswith(f"{status:<4} feed:")
    assert says in feed
    if status == "FAIL":
        assert "fetch_report_pages = false" in lines[lines.index(feed) + 1]
