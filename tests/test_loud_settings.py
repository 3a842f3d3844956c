"""Every settings problem is one line naming the setting and the fix, exit 2 (issue 13).

Before: a list in the environment not written as JSON gave a 40-line traceback and exit 1, an
unreadable config or a read-only state directory a traceback, a top-level environment typo
was silently ignored, and the force defaulted to Norfolk.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.cli import main
from automation.cli.doctor import run_doctor
from automation.exitcodes import ExitCode
from automation.sandbox.server import Sandbox
from automation.settings import load_settings
from tests.service_env import make_settings

NOBODY = 65534
BASE = (
    'tenant_id = "8487968d-1c2b-4d5e-9f00-123456789abc"\n'
    'client_id = "c"\nclient_secret = "a-secret-for-the-test"\n'
    # Nothing beyond loopback: a port where nobody listens.
    'authority_host = "https://127.0.0.1:9"\ngraph_url = "https://127.0.0.1:9/v1.0"\n'
    'feed_urls = ["https://127.0.0.1:9/feed/"]\n'
)
FORCE = 'force_name = "Kent Police"\npcc_area = "Kent"\n'


def _write(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "automation.toml"
    config.write_text(text + f'state_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    return config


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def test_the_force_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(["doctor", "--config", str(_write(tmp_path, BASE))], capsys)
    assert code == ExitCode.CONFIG
    assert any(line.startswith("error: setting force_name") for line in lines), lines
    assert any(line.startswith("error: setting pcc_area") for line in lines), lines


def test_aliases_are_derived_from_the_force_and_can_be_added_to(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, BASE + FORCE))
    assert settings.force_aliases == ["Kent"]
    more = load_settings(_write(tmp_path, BASE + FORCE + 'force_aliases = ["Kent Constabulary"]\n'))
    assert more.force_aliases == ["Kent", "Kent Constabulary"]


def test_a_force_and_an_area_of_different_forces_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = BASE + 'force_name = "Kent Police"\npcc_area = "Norfolk"\n'
    code, lines = _run(["once", "--config", str(_write(tmp_path, text))], capsys)
    assert code == ExitCode.CONFIG
    assert lines == [
        "error: settings: force_aliases/pcc_area: 'Norfolk' is Norfolk Constabulary, not "
        "Kent Police (force_name): correct force_name, pcc_area and force_aliases together"
    ]


def test_doctor_says_what_relevance_is_decided_for(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sandbox, tmp_path / "state", force_name="Kent Police", pcc_area="Kent")
    run_doctor(settings)
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.startswith("OK   settings:")]
    assert line.endswith("deciding relevance for: Kent Police (aliases: Kent)")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "AUTOMATION_FEED_URLS",
            "https://127.0.0.1:8765/feed.xml",
            'AUTOMATION_FEED_URLS: not JSON; write ["https://127.0.0.1:8765/feed.xml"]',
        ),
        (
            "AUTOMATION_RECIPIENTS__PANEL",
            "panel@example.org",
            'AUTOMATION_RECIPIENTS__PANEL: not JSON; write ["panel@example.org"]',
        ),
        ("AUTOMATION_FORCE_ALIASES", "Kent", 'AUTOMATION_FORCE_ALIASES: not JSON; write ["Kent"]'),
        (
            "AUTOMATION_REPORT_HOSTS",
            "hmicfrs.justiceinspectorates.gov.uk,assets.example.org",
            "AUTOMATION_REPORT_HOSTS: not JSON; write "
            '["hmicfrs.justiceinspectorates.gov.uk", "assets.example.org"]',
        ),
        (
            "AUTOMATION_FORCENAME",
            "Kent Police",
            "AUTOMATION_FORCENAME: names no setting (did you mean force_name?); remove it or "
            "correct the name",
        ),
        (
            "AUTOMATION_SHAREPOINT__SITEPATH",
            "/sites/x",
            "AUTOMATION_SHAREPOINT__SITEPATH: names no setting sharepoint.sitepath (did you "
            "mean site_path?)",
        ),
    ],
)
def test_environment_mistakes_are_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    code, lines = _run(["doctor", "--config", str(_write(tmp_path, BASE + FORCE))], capsys)
    assert code == ExitCode.CONFIG
    assert lines == [f"error: {expected}"]


def test_a_file_typo_gets_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE + FORCE + 'force_nmae = "Kent Police"\n[sharepoint]\nsite_pth = "/sites/x"\n'
    code, lines = _run(["once", "--config", str(_write(tmp_path, text))], capsys)
    assert code == ExitCode.CONFIG
    assert "error: unknown setting force_nmae (did you mean force_name?)" in lines
    assert "error: unknown setting sharepoint.site_pth (did you mean site_path?)" in lines


def test_forgetting_config_says_pass_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, lines = _run(["once"], capsys)
    assert code == ExitCode.CONFIG
    assert lines[-1] == "error: no settings file given: pass --config FILE"


def test_a_directory_given_as_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(["doctor", "--config", str(tmp_path)], capsys)
    assert code == ExitCode.CONFIG
    [line] = lines
    assert line.startswith(f"error: config file {tmp_path}: is a directory")
    assert str(tmp_path / "automation.toml") in line


def test_a_state_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(tmp_path, BASE + FORCE)
    (tmp_path / "state").write_text("not a directory", encoding="utf-8")
    code, lines = _run(["once", "--config", str(config)], capsys)
    assert code == ExitCode.CONFIG
    [line] = lines
    assert line.startswith(f"error: state_dir {tmp_path / 'state'}: not a directory;")
    assert "AUTOMATION_STATE_DIR" in line


def _as_nobody(argv: list[str]) -> tuple[int, str, str]:
    """``automation <argv>`` in a child process running as uid/gid 65534 (exit, out, err)."""
    if os.getuid() != 0:
        pytest.skip("needs root to run the command as another user")
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: becomes nobody, runs the command, never returns
        code = 99
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            code = int(main(argv))
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    with open(out_r, encoding="utf-8") as out, open(err_r, encoding="utf-8") as err:
        stdout, stderr = out.read(), err.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), stdout, stderr


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is under a 0700 folder)."""
    with tempfile.TemporaryDirectory(prefix="s55-loud-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


def test_an_unreadable_config_file_names_the_uid_and_the_fix(open_dir: Path) -> None:
    tmp_path = open_dir
    config = _write(tmp_path, BASE + FORCE)
    config.chmod(0o600)
    code, _out, err = _as_nobody(["once", "--config", str(config)])
    assert code == ExitCode.CONFIG, err
    assert err.splitlines() == [
        f"error: config file {config}: cannot be read by uid {NOBODY} (permission denied); "
        "give the service user's group read access (chgrp s55; chmod 0640)"
    ]


def test_an_unwritable_state_dir_is_exit_2_and_a_doctor_failure(open_dir: Path) -> None:
    tmp_path = open_dir
    config = _write(tmp_path, BASE + FORCE)
    config.chmod(0o644)
    (tmp_path / "state").mkdir(mode=0o755)
    code, _out, err = _as_nobody(["once", "--config", str(config)])
    assert code == ExitCode.CONFIG, err
    [line] = err.splitlines()
    assert line.startswith(f"error: state_dir {tmp_path / 'state'}: not writable by uid {NOBODY}")
    code, out, err = _as_nobody(["doctor", "--config", str(config)])
    assert code == ExitCode.ITEM_FAILURES, err
    first = out.splitlines()[0]
    assert first.startswith(f"FAIL settings: state_dir {tmp_path / 'state'}: not writable")
