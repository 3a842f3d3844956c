"""Logging: JSON lines with the publication key; secrets and tokens redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from automation import logsetup
from automation.jobs.report import RunReport


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_the_publication_key(capsys: pytest.CaptureFixture[str]) -> None:
    logsetup.configure("INFO", "json")
    RunReport().action("hmicfrs:/publications/x", "filed as S55-1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [line] = [entry for entry in lines if entry.get("publication")]
    assert line["publication"] == "hmicfrs:/publications/x"
    assert "filed as S55-1" in line["message"]
    assert line["level"] == "INFO"


@pytest.mark.usefixtures("restore_logging")
def test_registered_secrets_and_token_shapes_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logsetup.configure("DEBUG", "text")
    logsetup.register_secret("very-secret-value-123")
    log = logging.getLogger("automation.test")
    log.info("secret %s", "very-secret-value-123")
    log.info("header Authorization: Bearer abcdefghijklmnop.qrs")
    log.info("upload https://h/_upload/x?tempauth=zzzzzzzzzzzz&a=1")
    try:
        raise ValueError("boom very-secret-value-123")
    except ValueError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert "very-secret-value-123" not in err
    assert "abcdefghijklmnop" not in err
    assert "zzzzzzzzzzzz" not in err
    assert err.count("***") >= 4
