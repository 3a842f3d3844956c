"""The import contracts in pyproject.toml hold, cover every module, and fail when broken."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import automation

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(automation.__file__).resolve().parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _top_level() -> set[str]:
    return {f"automation.{m.name}" for m in pkgutil.iter_modules([str(PACKAGE)])}


def _lint(cwd: Path, *contracts: str, pythonpath: Path | None = None) -> tuple[int, str]:
    env = dict(os.environ)
    if pythonpath is not None:
        # Ahead of the editable install, so the copy is the package that gets analysed.
        env["PYTHONPATH"] = str(pythonpath)
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout + done.stderr


def test_the_contracts_are_kept() -> None:
    code, output = _lint(ROOT)
    assert code == 0, output
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in output


def test_the_lists_name_every_top_level_module() -> None:
    # A forbidden contract lists modules one by one; a new module must be placed, not missed.
    contracts = _contracts()
    everything = _top_level()
    assert set(contracts["domain-pure"]["forbidden_modules"]) == everything - {"automation.domain"}
    assert set(contracts["sandbox-alone"]["forbidden_modules"]) == everything - {
        "automation.sandbox"
    }
    assert set(contracts["service-no-sandbox"]["source_modules"]) == everything - {
        "automation.cli",
        "automation.sandbox",
        "automation.__main__",
    }


def test_the_face_is_one_package_without_a_cycle() -> None:
    assert not (PACKAGE / "cli.py").exists()
    assert not (PACKAGE / "sandbox" / "tenant_config.py").exists()
    scheduling = (PACKAGE / "scheduling.py").read_text(encoding="utf-8")
    assert "automation.cli" not in scheduling


# One forbidden import per contract; each must break exactly the contract named.
BREAKS = [
    pytest.param("layers", "graph/auth.py", "import automation.jobs", id="adapter-imports-jobs"),
    pytest.param("layers", "passes.py", "import automation.cli", id="service-imports-face"),
    pytest.param("domain-pure", "domain/text.py", "import automation.graph", id="domain-graph"),
    pytest.param("domain-pure", "domain/text.py", "import automation.errors", id="domain-errors"),
    pytest.param(
        "service-no-sandbox", "feed.py", "import automation.sandbox.seed", id="feed-sandbox"
    ),
    pytest.param("sandbox-alone", "sandbox/seed.py", "import automation.settings", id="sandbox"),
    pytest.param("jobs-no-app", "jobs/report.py", "import automation.app", id="new-job-app-edge"),
]


@pytest.mark.parametrize(("contract", "module", "line"), BREAKS)
def test_a_forbidden_import_breaks_the_contract(
    tmp_path: Path, contract: str, module: str, line: str
) -> None:
    copy = tmp_path / "automation"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    code, output = _lint(tmp_path, contract, pythonpath=tmp_path)
    assert code == 0, output  # the copy is clean before the change

    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", "utf-8")
    code, output = _lint(tmp_path, contract, pythonpath=tmp_path)
    assert code != 0
    assert "BROKEN" in output
    imported = line.split()[-1]
    assert imported in output, output
