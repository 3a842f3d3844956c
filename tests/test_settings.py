"""Settings: TOML + environment (env wins), secrets hidden, one line per problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from automation.cli import main
from automation.domain import stages
from automation.errors import SettingsError
from automation.settings import DEFAULT_STAGES, Settings, StageSettings, load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "automation.example.toml"


def _names(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        out.add(name)
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                out |= _names(candidate)
    return out


def test_example_documents_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [name for name in sorted(_names(Settings)) if not re.search(rf"\b{name}\b", text)]
    assert missing == []


def test_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_CLIENT_SECRET", "from-the-environment")
    settings = load_settings(EXAMPLE)
    assert settings.force_name == "Norfolk Constabulary"
    assert [stage.key for stage in settings.stages] == [
        "cc_comments",
        "draft",
        "approval",
        "publish",
        "portal",
    ]
    assert settings.recipients.panel == ["police.crime.panel@council.example.org"]


def test_environment_wins_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("AUTOMATION_FORCE_NAME", "Suffolk Constabulary")
    monkeypatch.setenv("AUTOMATION_PCC_AREA", "Suffolk")  # the two go together
    monkeypatch.setenv("AUTOMATION_SCHEDULE__INTERVAL_MINUTES", "5")
    monkeypatch.setenv("AUTOMATION_FEED_URLS", '["https://example.org/a/feed/"]')
    settings = load_settings(EXAMPLE)
    assert settings.force_name == "Suffolk Constabulary"
    assert settings.schedule.interval_minutes == 5
    assert settings.feed_urls == ["https://example.org/a/feed/"]
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())


def test_problems_name_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOMATION_CLIENT_SECRET", "x" * 12)
    monkeypatch.setenv("AUTOMATION_SCHEDULE__INTERVAL_MINUTES", "abc")
    monkeypatch.setenv("AUTOMATION_GRAPH_URL", "http://graph.example.org/v1.0")
    with pytest.raises(SettingsError) as caught:
        load_settings(EXAMPLE)
    text = "\n".join(caught.value.problems)
    assert "AUTOMATION_SCHEDULE__INTERVAL_MINUTES" in text


def test_cli_exits_2_with_one_line_per_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('tenant_id = ""\nclient_id = "c"\nconcurrency = "many"\n', "utf-8")
    code = main(["once", "--config", str(config)])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert any("tenant_id" in line for line in lines)
    assert any("concurrency" in line for line in lines)
    assert all(line.startswith("error: ") for line in lines)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("tenant_id = [", "utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken)


def test_exactly_one_credential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="exactly one credential"):
        load_settings(EXAMPLE)


def test_default_stages_are_the_domain_stages() -> None:
    # One stage list: settings' defaults are built from the domain's, field for field.
    assert [
        (s.key, s.title, s.bucket, s.assignee, s.anchor, s.offset_days, s.role)
        for s in DEFAULT_STAGES
    ] == [
        (s.key, s.title, s.bucket, s.assignee, s.anchor.value, s.offset_days, s.role)
        for s in stages.DEFAULT_STAGES
    ]


def test_stage_roles_are_the_domain_roles() -> None:
    assert set(get_args(StageSettings.model_fields["role"].annotation)) == stages.STAGE_ROLES
    with pytest.raises(ValueError, match="role"):
        StageSettings(key="k", title="t", bucket="b", role="reviewer")  # type: ignore[arg-type]
