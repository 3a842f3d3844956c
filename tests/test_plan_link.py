"""``planner.plan_id`` accepts the plan's id or the link Planner's "Copy link to plan" gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.errors import SettingsError
from automation.settings import load_settings, plan_id_from

PLAN = "xqQg5FS2LkCp935s-FIFm2QAFkHM"


@pytest.mark.parametrize(
    "given",
    [
        PLAN,
        f"  {PLAN}  ",
        # Planner on the web, "Copy link to plan" (query string).
        f"https://planner.cloud.microsoft/webui/v1/plan?planId={PLAN}&tid=contoso",
        # Old Planner: the query sits in the fragment.
        f"https://tasks.office.com/contoso.onmicrosoft.com/Home/Planner/#/plantaskboard?groupId=g1&planId={PLAN}",
        # Plan views link: the id is a path segment.
        f"https://tasks.office.com/contoso.onmicrosoft.com/en-GB/Home/PlanViews/{PLAN}?Type=PlanLink&Channel=Link",
        f"https://planner.cloud.microsoft/webui/plan/{PLAN}/view/board?tid=contoso",
        # Teams deep links put it in a parameter with another case.
        f"https://teams.microsoft.com/l/entity/com.microsoft.teamspace.tab.planner/tt.c?PLANID={PLAN}",
    ],
)
def test_plan_id_or_link_gives_the_id(given: str) -> None:
    assert plan_id_from(given) == PLAN


def test_a_link_without_a_plan_id_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="Copy link to plan"):
        plan_id_from("https://tasks.office.com/contoso.onmicrosoft.com/Home/Planner/")


def test_the_settings_file_may_hold_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTOMATION_PLANNER__PLAN_ID", raising=False)
    config = tmp_path / "automation.toml"
    config.write_text(
        'tenant_id = "contoso.onmicrosoft.com"\nforce_name = "Norfolk Constabulary"\n'
        'pcc_area = "Norfolk"\nclient_id = "c"\n[planner]\n'
        f'plan_id = "https://planner.cloud.microsoft/webui/v1/plan?planId={PLAN}"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, client_secret="s")
    assert settings.planner.plan_id == PLAN


def test_a_bad_link_in_the_environment_is_one_settings_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOMATION_PLANNER__PLAN_ID", "https://tasks.office.com/x/Home/")
    with pytest.raises(SettingsError) as caught:
        load_settings(
            tenant_id="contoso.onmicrosoft.com",
            force_name="Norfolk Constabulary",
            pcc_area="Norfolk",
            client_id="c",
            client_secret="s",
        )
    [line] = [line for line in caught.value.problems if "plan_id" in line]
    assert "AUTOMATION_PLANNER__PLAN_ID" in line
    assert "planId=" in line
