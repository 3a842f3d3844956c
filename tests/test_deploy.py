"""Every file under deploy/ is checked: systemd units, the container build, Kubernetes, README."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from automation.cli import build_parser
from automation.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
IGNOREFILE = DEPLOY / "container" / "Containerfile.dockerignore"
CONSTRAINTS = DEPLOY / "container" / "constraints.txt"
CRONJOB = DEPLOY / "kubernetes" / "cronjob.yaml"
SECRET_EXAMPLE = DEPLOY / "kubernetes" / "secret.example.yaml"
FREEZE_TOOL = ROOT / "tools" / "freeze_constraints.py"
README = DEPLOY / "README.md"

EXEC = "/opt/s55-automation/.venv/bin/automation"
SERVICE_CONFIG = "/etc/s55-automation/automation.toml"
STATE = "/var/lib/s55-automation"

# Which check covers which file (patterns relative to deploy/). A file no pattern matches
# fails test_every_deploy_file_is_checked.
COVERAGE = {
    "systemd/*.service": "test_service_units / test_systemd_analyze_verify",
    "systemd/*.timer": "test_timer / test_systemd_analyze_verify",
    "container/Containerfile": "test_containerfile_*",
    "container/Containerfile.dockerignore": "test_ignore_file_*",
    "container/constraints.txt": "test_constraints_*",
    "kubernetes/*.yaml": "test_kubernetes_*",
    "README.md": "test_readme_names_every_file",
}

Unit = dict[str, dict[str, list[str]]]


def deploy_files() -> list[str]:
    return sorted(
        PurePosixPath(path.relative_to(DEPLOY)).as_posix()
        for path in DEPLOY.rglob("*")
        if path.is_file()
    )


def matching(pattern: str) -> list[Path]:
    return [DEPLOY / name for name in deploy_files() if fnmatch.fnmatch(name, pattern)]


def test_every_deploy_file_is_checked() -> None:
    files = deploy_files()
    assert files, "deploy/ is empty"
    unchecked = [name for name in files if not any(fnmatch.fnmatch(name, p) for p in COVERAGE)]
    assert not unchecked, f"files under deploy/ that no test checks: {unchecked}"
    stale = [pattern for pattern in COVERAGE if not matching(pattern)]
    assert not stale, f"coverage patterns that match no file: {stale}"


def cli_accepts(argv: list[str]) -> str:
    """The command ``argv`` (after the program name) names; fails if the CLI rejects it."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"the automation CLI rejects {argv}")
    return str(args.command)


def setting_exists(env_name: str) -> bool:
    """Whether ``AUTOMATION_X`` / ``AUTOMATION_X__Y`` names a real setting."""
    assert env_name.startswith("AUTOMATION_")
    field = env_name.removeprefix("AUTOMATION_").split("__")[0].lower()
    return field in Settings.model_fields


# -- systemd -----------------------------------------------------------------------------------


def parse_unit(path: Path) -> Unit:
    """Sections -> key -> values (keys may repeat), as systemd reads a unit file."""
    sections: Unit = {}
    current: dict[str, list[str]] | None = None
    logical = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for number, raw in enumerate(logical.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1]
            assert name not in sections, f"{path.name}:{number}: section [{name}] repeated"
            current = sections[name] = {}
            continue
        assert current is not None, f"{path.name}:{number}: key outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not key=value: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: Unit, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is missing"
    assert len(values) == 1, f"[{section}] {key}= is given {len(values)} times"
    return values[0]


SERVICES = matching("systemd/*.service")
TIMERS = matching("systemd/*.timer")


@pytest.mark.parametrize("path", SERVICES + TIMERS, ids=lambda p: p.name)
def test_every_unit_has_a_description(path: Path) -> None:
    assert one(parse_unit(path), "Unit", "Description")


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_service_units(path: Path) -> None:
    unit = parse_unit(path)
    assert one(unit, "Service", "Type") in {"simple", "exec", "oneshot"}
    command = shlex.split(one(unit, "Service", "ExecStart"))
    assert PurePosixPath(command[0]).is_absolute()
    assert command[0] == EXEC
    assert cli_accepts(command[1:]) in {"run", "once"}
    assert command[command.index("--config") + 1] == SERVICE_CONFIG
    assert one(unit, "Service", "User") == "s55"
    assert one(unit, "Service", "NoNewPrivileges") == "true"
    assert one(unit, "Service", "ProtectSystem") == "strict"
    # StateDirectory= makes the state directory writable (and owned by User=) by itself.
    assert one(unit, "Service", "StateDirectory") == "s55-automation"
    assert "ReadWritePaths" not in unit["Service"], "redundant next to StateDirectory="
    assert one(unit, "Service", "PrivateTmp") == "true"
    assert one(unit, "Service", "WorkingDirectory") == STATE
    # "-": a missing environment file is not an error (certificate deployments need none).
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/s55-automation/env"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert int(one(unit, "Service", "TimeoutStopSec")) >= 300


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_service_units_have_the_hardening_extras(path: Path) -> None:
    service = parse_unit(path)["Service"]
    assert "@system-service" in service["SystemCallFilter"]
    assert one({"Service": service}, "Service", "SystemCallErrorNumber") == "EPERM"
    assert service["ProtectProc"] == ["invisible"]
    assert service["ProcSubset"] == ["pid"]
    assert service["PrivateUsers"] == ["yes"]
    assert service["RemoveIPC"] == ["yes"]


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_no_unit_counts_a_failed_pass_as_success(path: Path) -> None:
    # Exit 1 (items failed) and 2 (settings or credential error, e.g. an expired secret)
    # must show as a failed unit, where an administrator looks.
    statuses = " ".join(parse_unit(path)["Service"].get("SuccessExitStatus", [])).split()
    assert not {"1", "2"} & set(statuses), f"SuccessExitStatus={statuses}"


def test_long_running_service_unit() -> None:
    unit = parse_unit(SYSTEMD / "s55-automation.service")
    assert one(unit, "Service", "Type") == "simple"
    assert shlex.split(one(unit, "Service", "ExecStart"))[1] == "run"
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    # A configuration or credential error is not cured by restarting every 30 seconds.
    assert "2" in one(unit, "Service", "RestartPreventExitStatus").split()


def test_timer() -> None:
    timers = {path.name: parse_unit(path) for path in TIMERS}
    assert set(timers) == {"s55-automation-once.timer"}
    timer = timers["s55-automation-once.timer"]
    assert one(timer, "Install", "WantedBy") == "timers.target"
    assert one(timer, "Timer", "Persistent") == "true"
    calendar = one(timer, "Timer", "OnCalendar")
    assert calendar in {"*:0/15", "*:00/15", "*-*-* *:00/15:00", "*:00,15,30,45"}
    target = one(timer, "Timer", "Unit")
    service = parse_unit(SYSTEMD / target)  # the timer starts a unit that exists here
    assert one(service, "Service", "Type") == "oneshot"
    assert shlex.split(one(service, "Service", "ExecStart"))[1] == "once"
    # Enabled through the timer only: enabling it directly would run a pass at every boot.
    assert "Install" not in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_timer_calendar_is_every_fifteen_minutes() -> None:
    calendar = one(parse_unit(SYSTEMD / "s55-automation-once.timer"), "Timer", "OnCalendar")
    result = subprocess.run(
        ["systemd-analyze", "calendar", calendar],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Normalized form: *-*-* *:00/15:00" in result.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart exists: point it at a stub, keep everything else as is.
    stub = tmp_path / "automation"
    stub.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    stub.chmod(0o755)
    copies = []
    for path in SERVICES + TIMERS:
        copy = tmp_path / path.name
        copy.write_text(path.read_text(encoding="utf-8").replace(EXEC, str(stub)), "utf-8")
        copies.append(str(copy))
    result = subprocess.run(
        ["systemd-analyze", "verify", *copies],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    # verify exits 0 on unknown keys or bad values but prints them: any line about our units fails.
    ours = [line for line in output.splitlines() if "s55-automation" in line]
    assert result.returncode == 0, output
    assert not ours, "\n".join(ours)


def exposure(path: Path) -> float:
    """The overall exposure ``systemd-analyze security --offline`` gives a unit (0-10)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout[-2000:] + result.stderr[-2000:]
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_systemd_security_exposure_stays_low(path: Path, tmp_path: Path) -> None:
    # 3.2 before the hardening extras, 1.3 with them; a lost line pushes it back up.
    copy = tmp_path / path.name
    copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert exposure(copy) <= 1.5


# -- container ---------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    logical = "\n".join(lines).replace("\\\n", " ")
    result: list[tuple[str, str]] = []
    for line in logical.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def env_names(arguments: str) -> list[str]:
    return [part.split("=", 1)[0] for part in shlex.split(arguments)]


def test_containerfile_base_user_and_entrypoint() -> None:
    steps = instructions(CONTAINERFILE)
    assert steps[0][0] == "FROM"
    bases = [args.split()[0] for word, args in steps if word == "FROM"]
    # Pinned to an exact Python release (a digest may be added), the same in both stages.
    assert len(set(bases)) == 1, bases
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", bases[0])
    final = final_stage(steps)
    users = [args for word, args in final if word == "USER"]
    assert users, "the image must not run as root: no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    entrypoint = [args for word, args in final if word == "ENTRYPOINT"]
    assert [json.loads(args) for args in entrypoint] == [["automation"]]
    [cmd] = [json.loads(args) for word, args in final if word == "CMD"]
    assert cli_accepts(cmd) == "run"
    assert cmd[cmd.index("--config") + 1] == "/config/automation.toml"


def test_containerfile_has_no_secrets_and_real_settings() -> None:
    for word, args in instructions(CONTAINERFILE):
        if word in {"ENV", "ARG"}:
            for name in env_names(args):
                upper = name.upper()
                assert not any(s in upper for s in ("SECRET", "PASSWORD", "TOKEN", "PASSPHRASE"))
                # A setting in the image's environment silently wins over the settings file.
                assert not upper.startswith("AUTOMATION_"), f"{name} set in the image"
        if word in {"COPY", "ADD"}:
            assert not any(s in args for s in (".pem", ".key", ".env", "automation.toml"))


def test_containerfile_installs_with_the_constraints() -> None:
    runs = [args for word, args in instructions(CONTAINERFILE) if word == "RUN"]
    installs = [args for args in runs if "pip install" in args]
    assert installs, "no pip install in the Containerfile"
    for args in installs:
        words = shlex.split(args.replace("&&", " "))
        assert "--constraint" in words
        assert words[words.index("--constraint") + 1] == "constraints.txt"
    copies = [shlex.split(args) for word, args in instructions(CONTAINERFILE) if word == "COPY"]
    assert ["deploy/container/constraints.txt", "./constraints.txt"] in copies


def constraint_pins() -> dict[str, str]:
    """Canonical name -> pinned version, from deploy/container/constraints.txt."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(CONSTRAINTS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt:{number}: not name==version"
        assert version, f"constraints.txt:{number}: no version"
        assert ";" not in line, f"constraints.txt:{number}: a marker (pins are for Linux only)"
        key = canonicalize_name(name)
        assert key not in pins, f"constraints.txt:{number}: {name} pinned twice"
        pins[key] = version
    return pins


def test_constraints_pin_every_dependency_in_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = constraint_pins()
    for text in project["dependencies"]:
        requirement = Requirement(text)
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[key], prereleases=True), (
            f"{requirement.name}=={pins[key]} does not satisfy {requirement.specifier}"
        )


def _freeze_tool() -> Any:
    spec = importlib.util.spec_from_file_location("freeze_constraints", FREEZE_TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_constraints_cover_the_whole_runtime_closure() -> None:
    # Every distribution the installed service needs (dependencies of dependencies too) is
    # pinned; a new one after an upgrade means: regenerate with tools/freeze_constraints.py.
    tool = _freeze_tool()
    needed = set(tool.runtime_pins())
    missing = sorted(needed - set(constraint_pins()))
    assert not missing, f"not pinned: {missing}; regenerate (see {FREEZE_TOOL.name})"
    # The file is the tool's output (header included), so it is regenerated, never hand-edited.
    assert CONSTRAINTS.read_text(encoding="utf-8").startswith(tool.HEADER)


def copy_sources() -> list[str]:
    sources: list[str] = []
    for word, args in instructions(CONTAINERFILE):
        if word == "COPY" and "--from" not in args:
            sources.extend(part.rstrip("/") for part in shlex.split(args)[:-1])
    return sources


def test_containerfile_copies_what_exists() -> None:
    sources = copy_sources()
    assert {"pyproject.toml", "automation"} <= set(sources)
    # The templates are package data (automation/templates), installed with the package.
    assert "templates" not in sources
    missing = [source for source in sources if not (ROOT / source).exists()]
    assert not missing, f"COPY sources missing from the repository root: {missing}"


def test_ignore_file_is_an_allow_list_covering_every_copy() -> None:
    patterns = [
        line.strip()
        for line in IGNOREFILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the ignore file should start by excluding everything"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    assert set(copy_sources()) <= allowed
    for secret in ("**/*.pem", "**/.env"):
        assert secret in patterns


# -- Kubernetes --------------------------------------------------------------------------------


def kube_documents() -> dict[str, dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(CRONJOB.read_text("utf-8")) if doc]
    kinds = [doc["kind"] for doc in documents]
    # No Secret here: applying this file again must never overwrite the real credential.
    assert sorted(kinds) == ["ConfigMap", "CronJob"]
    [secret] = [doc for doc in yaml.safe_load_all(SECRET_EXAMPLE.read_text("utf-8")) if doc]
    assert secret["kind"] == "Secret"
    return {**{doc["kind"]: doc for doc in documents}, "Secret": secret}


def test_kubernetes_files_are_all_checked() -> None:
    names = [path.name for path in matching("kubernetes/*.yaml")]
    assert names == sorted([CRONJOB.name, SECRET_EXAMPLE.name])


def test_kubernetes_secret_lives_only_in_the_example_file() -> None:
    text = CRONJOB.read_text(encoding="utf-8")
    assert "kind: Secret" not in text
    assert SECRET_EXAMPLE.name in text, "the CronJob file should say where the Secret comes from"
    assert "EXAMPLE" in SECRET_EXAMPLE.read_text(encoding="utf-8").splitlines()[0]


def test_kubernetes_cronjob_runs_in_london_time() -> None:
    assert kube_documents()["CronJob"]["spec"]["timeZone"] == "Europe/London"


def test_kubernetes_configmap_office_values_are_marked_placeholders() -> None:
    text = kube_documents()["ConfigMap"]["data"]["automation.toml"]
    assert "Norfolk" not in text, "a real force in the example would be kept by mistake"
    data = tomllib.loads(text)
    office = [
        data["force_name"],
        data["pcc_area"],
        data["mailbox"],
        data["sharepoint"]["hostname"],
        data["sharepoint"]["site_path"],
        data["planner"]["plan_id"],
        *data["people"].values(),
        *(address for group in data["recipients"].values() for address in group),
    ]
    unmarked = [value for value in office if "REPLACE" not in value]
    assert not unmarked, f"ConfigMap values not marked REPLACE: {unmarked}"


def test_kubernetes_cronjob_schedule_and_limits() -> None:
    cronjob = kube_documents()["CronJob"]
    assert cronjob["apiVersion"] == "batch/v1"
    spec = cronjob["spec"]
    assert spec["schedule"] == "*/15 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert isinstance(spec["startingDeadlineSeconds"], int)
    assert spec["startingDeadlineSeconds"] > 0
    assert isinstance(spec["successfulJobsHistoryLimit"], int)
    assert isinstance(spec["failedJobsHistoryLimit"], int)
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] in (0, 1)
    # A hung pass must end before the next one is due (every 15 minutes).
    assert 0 < job["activeDeadlineSeconds"] < 15 * 60
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["resources"]["limits"]["memory"] == "256Mi"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # The pod's user is the image's non-root user.
    image_user = [args for word, args in instructions(CONTAINERFILE) if word == "USER"][-1]
    assert str(pod["securityContext"]["runAsUser"]) == image_user.split(":")[0]


def test_kubernetes_command_is_one_pass_with_the_mounted_config() -> None:
    documents = kube_documents()
    pod = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    argv = [*container.get("command", []), *container.get("args", [])]
    assert argv[0] == "automation"
    assert "once" in argv
    assert cli_accepts(argv[1:]) == "once"
    config = PurePosixPath(argv[argv.index("--config") + 1])

    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    mount = mounts[str(config.parent)]
    configmap = documents["ConfigMap"]
    assert volumes[mount["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    assert config.name in configmap["data"]


def test_kubernetes_writable_paths_are_empty_dirs() -> None:
    pod = kube_documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    for path in (env["AUTOMATION_STATE_DIR"]["value"], "/tmp"):
        assert "emptyDir" in volumes[mounts[path]], f"{path} must be a writable emptyDir"


def test_kubernetes_secret_is_a_placeholder_wired_to_the_env() -> None:
    documents = kube_documents()
    secret = documents["Secret"]
    assert "data" not in secret, "use stringData placeholders, not encoded values"
    assert secret["stringData"]
    for key, value in secret["stringData"].items():
        assert "REPLACE" in value, f"Secret value {key} does not look like a placeholder"
    pod = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    for name in env:
        assert setting_exists(name), f"{name} is not a setting"
    ref = env["AUTOMATION_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] in secret["stringData"]


def test_kubernetes_configmap_settings_are_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("AUTOMATION_"):
            monkeypatch.delenv(name)
    text = kube_documents()["ConfigMap"]["data"]["automation.toml"]
    data = tomllib.loads(text)
    assert "client_secret" not in data, "the secret belongs in the Secret, not the ConfigMap"
    config = tmp_path / "automation.toml"
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config, client_secret="placeholder")
    assert settings.tenant_id == "00000000-0000-0000-0000-000000000000"


# -- README ------------------------------------------------------------------------------------


def test_readme_names_every_file() -> None:
    text = README.read_text(encoding="utf-8")
    for name in deploy_files():
        if name != "README.md":
            assert PurePosixPath(name).name in text, f"deploy/README.md does not mention {name}"
