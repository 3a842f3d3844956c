"""No secret reaches a log line, an exception text, the console or a state file.

A whole life runs against the sandbox with DEBUG logging: provision, intake of the sample
feed, approval, circulation, reminders on several days, a settings error, one token taken
with the certificate credential, and doctor. Afterwards everything that was written is
scanned for the client secret, the private key's PEM body lines and every access token the
sandbox issued. The raw log text is scanned as the code formatted it, before the redactor
runs, so the test proves the code never logs a secret (the redactor is a second line).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import automation
from automation import cli, logsetup
from automation.app import App
from automation.cli.doctor import run_doctor
from automation.domain.record import TrackerRecord
from automation.errors import GraphHTTPError, SettingsError, UnauthorizedError
from automation.exitcodes import ExitCode
from automation.graph.client import GraphClient
from automation.jobs.provision import provision
from automation.jobs.report import RunReport
from automation.passes import run_pass
from automation.sandbox.routes.mail import delivered
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from automation.settings import load_settings
from tests.service_env import make_settings
from tests.tenant_edits import edit_item, finish_draft

SAMPLE_FEED = Path(automation.__file__).parent / "demo_data" / "sample_feed.xml"
NOISY = ("urllib3", "msal", "apscheduler.executors.default")
MIN_LOG_LINES = 50


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """caplog at DEBUG; afterwards, the service's log handler removed again.

    The test calls ``logsetup.configure`` itself, so the handler writes to the stderr that
    capsys captures during the test (not to a stream of the set-up phase).
    """
    levels = {name: logging.getLogger(name).level for name in NOISY}
    caplog.set_level(logging.DEBUG)
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_s55", False):
            root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@dataclass
class Secrets:
    """The needles: values that must never appear anywhere."""

    client_secret: str
    key_lines: list[str]
    tokens: set[str] = field(default_factory=set)

    def found_in(self, text: str) -> list[str]:
        hits = []
        if self.client_secret in text:
            hits.append("client secret")
        hits += [f"private key line {n}" for n, line in enumerate(self.key_lines) if line in text]
        hits += [f"access token {token[:6]}..." for token in self.tokens if token in text]
        return hits


def private_key_lines(pem: Path) -> list[str]:
    """The base64 body lines of the PEM's private key block (long enough to be unique)."""
    lines, inside = [], False
    for line in pem.read_text(encoding="ascii").splitlines():
        if line.startswith("-----BEGIN") and "PRIVATE KEY" in line:
            inside = True
        elif line.startswith("-----END") and "PRIVATE KEY" in line:
            inside = False
        elif inside and len(line.strip()) >= 16:
            lines.append(line.strip())
    return lines


def issued_tokens(sandbox: Sandbox) -> set[str]:
    with sandbox.tenant.lock:
        return set(sandbox.tenant.data["identity"]["tokens"])


def records_of(app: App) -> list[TrackerRecord]:
    app.resolve()
    return app.tracker.all()


def files_text(root: Path) -> dict[str, str]:
    return {
        str(path): path.read_bytes().decode("utf-8", errors="replace")
        for path in root.rglob("*")
        if path.is_file()
    }


class RevokedToken:
    """A token provider that keeps handing out one token the tenant no longer accepts."""

    def __init__(self, token: str) -> None:
        self.value = token

    def token(self) -> str:
        return self.value

    def invalidate(self) -> None:
        return None


def exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.args)


def test_a_whole_life_leaks_no_secret(
    sandbox: Sandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    debug_logging: None,
) -> None:
    logsetup.configure("DEBUG", "text")
    info = sandbox.info()
    secrets = Secrets(
        client_secret=str(info["client_secret"]),
        key_lines=private_key_lines(sandbox.client_certificate_path),
    )
    assert len(secrets.key_lines) >= 10
    state = tmp_path / "state"
    settings = make_settings(sandbox, state, fetch_report_pages=True)
    reports: list[RunReport] = []
    exceptions: list[str] = []

    # provision, intake of the sample feed
    app = App(settings)
    provision(app)
    sandbox.set_page("/feed/", SAMPLE_FEED.read_bytes())
    reports.append(run_pass(app, today=dt.date(2023, 8, 1)))
    to_approve = [r for r in records_of(app) if r.draft_item_id]
    assert to_approve, "the sample feed filed no response"

    # the response written, approval in the tracker, circulation, then reminders
    finish_draft(sandbox, app, to_approve[0])
    edit_item(sandbox, app, to_approve[0].item_id, user_email("pcc"), {"Status": "Approved"})
    for day in (dt.date(2023, 8, 2), dt.date(2023, 8, 9), dt.date(2023, 8, 24)):
        reports.append(run_pass(App(settings), today=day))
    sent = [str(entry.get("key")) for entry in delivered(sandbox.tenant)]
    assert any(key.startswith("s55-circulation-") for key in sent)
    assert any(key.startswith("s55-digest:") for key in sent)

    # a settings error, through the library and through the command line
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (tmp_path / "state.toml")
        .read_text(encoding="utf-8")
        .replace(f'graph_url = "{info["graph_url"]}"', 'graph_url = "http://graph.invalid/v1.0"'),
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as settings_error:
        load_settings(bad)
    assert any("graph_url" in line for line in settings_error.value.problems)
    exceptions.append(exception_text(settings_error.value))
    assert cli.main(["once", "--config", str(bad)]) == ExitCode.CONFIG

    # one token with the certificate credential (no client secret in these settings)
    cert_state = tmp_path / "cert-state"
    cert_settings = make_settings(
        sandbox,
        cert_state,
        client_secret=None,
        certificate={"pem_path": sandbox.client_certificate_path},
    )
    assert cert_settings.client_secret is None
    cert_app = App(cert_settings)
    cert_app.check_token()
    assert cert_app.resolve().site_id

    # a 401 with a token the tenant no longer accepts
    revoked = app.tokens.token()
    secrets.tokens |= issued_tokens(sandbox)
    with sandbox.tenant.lock:
        del sandbox.tenant.data["identity"]["tokens"][revoked]
    client = GraphClient(
        base_url=settings.graph_url,
        tokens=RevokedToken(revoked),
        verify=settings.verify,
        timeout=settings.timeout,
    )
    with pytest.raises(UnauthorizedError) as unauthorized:
        client.get_json(f"/sites/{info['site_id']}")
    assert isinstance(unauthorized.value, GraphHTTPError)
    assert unauthorized.value.status == 401
    exceptions.append(exception_text(unauthorized.value))

    # doctor (every check talks to the tenant)
    assert run_doctor(settings) == 0

    secrets.tokens |= issued_tokens(sandbox)
    assert secrets.tokens, "the sandbox issued no token: nothing was checked"

    out, err = capsys.readouterr()
    raw_log = caplog.text
    sources: dict[str, str] = {
        "raw log (before redaction)": raw_log,
        "stdout": out,
        "stderr (the service's log handler)": err,
        "run reports": "\n".join(
            line for report in reports for line in (*report.actions, *report.failures)
        ),
        "exceptions": "\n".join(exceptions),
        "repr(settings)": repr(settings) + repr(cert_settings),
        "str(settings)": str(settings) + str(cert_settings),
        "settings dump": str(settings.model_dump()) + settings.model_dump_json(),
    }
    for root in (state, cert_state):
        for path, text in files_text(root).items():
            sources[f"file {path}"] = text
    assert any(name.startswith("file ") for name in sources), "no state file was written"

    assert len(raw_log.splitlines()) >= MIN_LOG_LINES
    assert len(err.splitlines()) >= MIN_LOG_LINES
    assert "Logging error" not in err
    assert "DEBUG" in raw_log
    assert "OK   token:" in out  # doctor's lines were scanned too
    leaks = {name: hits for name, text in sources.items() if (hits := secrets.found_in(text))}
    assert leaks == {}


def test_settings_text_hides_secret_and_passphrase(tmp_path: Path) -> None:
    pem = tmp_path / "client.pem"
    pem.write_text("not checked until a token is wanted\n", encoding="ascii")
    secret = "a-client-secret-value-6d1f"
    passphrase = "a-key-passphrase-value-0c2a"
    with_secret = load_settings(
        tenant_id="contoso.onmicrosoft.com",
        force_name="Norfolk Constabulary",
        pcc_area="Norfolk",
        client_id="c",
        client_secret=secret,
    )
    with_cert = load_settings(
        tenant_id="contoso.onmicrosoft.com",
        force_name="Norfolk Constabulary",
        pcc_area="Norfolk",
        client_id="c",
        certificate={"pem_path": pem, "passphrase": passphrase},
    )
    for shown in (with_secret, with_cert):
        text = repr(shown) + str(shown) + str(shown.model_dump()) + shown.model_dump_json()
        assert secret not in text
        assert passphrase not in text
    assert with_secret.client_secret is not None
    assert with_secret.client_secret.get_secret_value() == secret  # really held, just hidden
