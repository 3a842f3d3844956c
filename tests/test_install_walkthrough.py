"""README's install (sections 0-4) followed as written, on a clean "server", as the service user.

The commands come from the README itself: each block the walkthrough runs is marked
``<!-- walkthrough: NAME -->``, so the README and this test cannot drift apart. They run as
root under ``bash -e`` with a server's ``PATH`` and environment, changed only where a test
machine must differ from a server, each change named here:

* every ``/opt/s55-automation``, ``/etc/s55-automation`` and ``/var/lib/s55-automation`` is
  moved under a temporary root, and the user ``s55`` gets a unique name (``useradd`` runs as
  written and the user is deleted afterwards);
* ``apt-get``, ``git`` and ``openssl`` are no-ops on ``PATH``: the checkout is copied into
  place instead of cloned, and the key and certificate are the ones the sandbox tenant has
  registered for the app (an uploaded certificate), not fresh ones;
* the one ``pip install`` line installs the checkout non-editable, as a wheel built from it,
  but with ``--no-deps --no-index``: tests reach no network beyond loopback, so the wheel is
  built with this venv's setuptools and the dependencies come from this venv (linked through
  a ``.pth`` file: only the runtime closure, see tools/freeze_constraints.py).
  ``WALKTHROUGH_PIP_INDEX=1`` (``make walkthrough``) runs the line exactly as written,
  against the package index.

The "edit the settings" step of section 3 writes the sandbox's ready-line values into the
installed file; the tenant is ``automation sandbox --data DIR`` in its own process. The test
ends with ``doctor`` all OK and a report filed by ``once``, run as the unprivileged user, then
takes the own-templates step of section 0 and runs ``doctor`` again. Runtime on 2 cores: about
20 s offline (part of ``make test``), about 50 s with the package index (``make walkthrough``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import fnmatch
import grp
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import requests

from automation.settings import PACKAGED_TEMPLATES
from tests import feeds
from tests.test_cli_sandbox import SandboxProcess

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- walkthrough: ([\w-]+) -->\n```(\w+)\n(.*?)```", re.DOTALL)
ORDER = ["install", "manual-runs", "templates", "certificate", "check"]
PIP_LINE = "/opt/s55-automation/.venv/bin/pip install /opt/s55-automation"
SERVER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What a copy of the checkout leaves out (a clone has none of it).
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".automation-state",
    "demo-output",
)
FEED_TITLE = "PEEL 2025-27: An inspection of Norfolk Constabulary"


def readme_blocks() -> dict[str, str]:
    """Marked README blocks by name, in README order."""
    return {name: body for name, _, body in BLOCK.findall(README.read_text(encoding="utf-8"))}


def commands(block: str) -> list[str]:
    """The shell commands of a block, one per logical line (continuations joined)."""
    logical = block.replace("\\\n", " ")
    return [line.strip() for line in logical.splitlines() if line.strip()]


# -- the README, without running anything -------------------------------------------------------


def test_readme_marks_the_walkthrough_blocks_in_install_order() -> None:
    blocks = readme_blocks()
    assert list(blocks) == ORDER
    text = README.read_text(encoding="utf-8")
    install = text.index("### 0. Install the software on the server")
    headings = [text.index(f"### {n}. ") for n in range(6)]
    assert headings == sorted(headings), "sections 0-5 out of order"
    assert install == headings[0]
    # Nothing runs `automation` (or writes /etc/s55-automation) before section 0 installed it.
    first_run = min(text.index(f"automation {cmd} --config") for cmd in ("provision", "once"))
    assert first_run > text.index("<!-- walkthrough: install -->")
    [made] = [c for c in commands(blocks["install"]) if c.startswith("install -d") and "/etc/" in c]
    assert made == "install -d -m 0750 -o root -g s55 /etc/s55-automation"
    assert "install -m 0640 -o root -g s55 app-cert.pem /etc/s55-automation/app-cert.pem" in (
        commands(blocks["certificate"])
    )


def test_readme_installs_non_editable_with_the_files_owned_right() -> None:
    install = commands(readme_blocks()["install"])
    assert "python3 -m venv /opt/s55-automation/.venv" in install
    assert PIP_LINE in install  # not `pip install -e`: the templates must come with the package
    for path in ("/etc/s55-automation/automation.toml", "/etc/s55-automation/env"):
        [line] = [c for c in install if c.endswith(path)]
        assert line.startswith("install -m 0640 -o root -g s55 "), line


def test_package_data_ships_every_template() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["automation"]
    files = [p.relative_to(ROOT / "automation").as_posix() for p in PACKAGED_TEMPLATES.rglob("*")]
    shipped = [f for f in files if (PACKAGED_TEMPLATES.parent / f).is_file()]
    assert "templates/section55_response.docx" in shipped
    missing = [f for f in shipped if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not missing, f"templates a non-editable install would lack: {missing}"


# -- the walkthrough ---------------------------------------------------------------------------


def _tool(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _minor(python: str) -> str:
    """``"3.11"`` for a Python 3.11 interpreter."""
    answer = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return answer.stdout.strip()


def _server_python() -> str | None:
    """The server's ``python3`` (on the server PATH), if it is 3.11 or newer."""
    python = shutil.which("python3", path=SERVER_PATH)
    if python is None:
        return None
    major, _, minor = _minor(python).partition(".")
    return python if (int(major or 0), int(minor or 0)) >= (3, 11) else None


class Server:
    """A temporary root standing for the server's /, with the README's blocks made local."""

    def __init__(self, root: Path, user: str) -> None:
        self.root = root
        self.user = user
        self.scratch = root / "root-home"
        self.stubs = root / "stubs"
        self.checkout = root / "opt" / "s55-automation"
        self.etc = root / "etc" / "s55-automation"
        self.state = root / "var" / "lib" / "s55-automation"
        for folder in (self.scratch, self.stubs):
            folder.mkdir(parents=True)

    def localise(self, text: str) -> str:
        """The README's paths under the temporary root; the user ``s55`` renamed."""
        text = re.sub(
            r"(?<![\w.])/(opt|etc|var/lib)/s55-automation",
            lambda match: f"{self.root}/{match.group(1)}/s55-automation",
            text,
        )
        return re.sub(r"(?<![\w/.-])s55(?![\w-])", self.user, text)

    def env(self) -> dict[str, str]:
        """A root shell's environment on a server: no AUTOMATION_*, no CA or pip overrides."""
        return {
            "PATH": f"{self.stubs}:{SERVER_PATH}",
            "HOME": str(self.scratch),
            "LANG": "C.UTF-8",
        }

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        """``script`` as root under ``bash -e``, from the scratch directory."""
        return subprocess.run(
            ["bash", "-e", "-c", "umask 022\n" + script],
            cwd=self.scratch,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def stub(self, name: str, body: str = "exit 0") -> None:
        path = self.stubs / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(0o755)


def _link_runtime_dependencies(target: Path) -> None:
    """Symlink this venv's runtime closure (not `automation` itself) into ``target``."""
    target.mkdir()
    for name in _tool("freeze_constraints").runtime_pins():
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)


def _offline_pip_install(server: Server) -> str:
    """The pip line's stand-in: the checkout's wheel installed, dependencies from this venv."""
    deps = server.root / "deps"
    _link_runtime_dependencies(deps)
    wheels = server.root / "wheelhouse"
    venv = server.checkout / ".venv"
    server.stub(
        "pip-install-offline",
        # The wheel is built with this venv's setuptools (the fresh venv's may be too old to
        # build one without fetching a newer one), then installed as pip installs any wheel.
        f"{sys.executable} -m pip wheel --quiet --no-deps --no-build-isolation --no-index "
        f'-w "{wheels}" "{server.checkout}"\n'
        f"site=$({venv}/bin/python -c "
        "'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')\n"
        f'echo "{deps}" > "$site/walkthrough-deps.pth"\n'
        f'exec "{venv}/bin/pip" install --quiet --no-deps --no-index "{wheels}"/automation-*.whl',
    )
    return str(server.stubs / "pip-install-offline")


def _owner_and_mode(path: Path) -> tuple[str, str, str]:
    info = path.stat()
    return (
        pwd.getpwuid(info.st_uid).pw_name,
        grp.getgrgid(info.st_gid).gr_name,
        oct(stat.S_IMODE(info.st_mode)),
    )


def _split_pem(pem: str) -> tuple[str, str]:
    """(private key, certificate) blocks of a PEM holding both."""
    blocks = re.findall(r"(-----BEGIN ([A-Z ]+)-----.*?-----END \2-----\n?)", pem, re.DOTALL)
    [key] = [text for text, kind in blocks if kind.endswith("PRIVATE KEY")]
    [cert] = [text for text, kind in blocks if kind == "CERTIFICATE"]
    return key, cert


def _settings_from_ready_line(info: dict[str, Any], server: Server) -> str:
    """Section 3's edit: the tenant's values, the certificate, the state dir as the example."""
    generated = Path(info["config"]).read_text(encoding="utf-8")
    dropped = ("client_secret =", "state_dir =", "ca_bundle =")
    lines = [line for line in generated.splitlines() if not line.startswith(dropped)]
    top = [
        'state_dir = ".automation-state"',
        # The tenant's CA, as an office behind a TLS-inspecting proxy installs its own.
        f'ca_bundle = "{server.etc}/ca.pem"',
    ]
    certificate = ["", "[certificate]", f'pem_path = "{server.etc}/app-cert.pem"', ""]
    return "\n".join([lines[0], *top, *lines[1:], *certificate])


@pytest.fixture
def server() -> Iterator[Server]:
    """A temporary root traversable by the service user, and the user deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the walkthrough creates a user and runs as root, like the README")
    for tool in ("runuser", "useradd", "userdel", "install", "bash"):
        if shutil.which(tool, path=SERVER_PATH) is None:
            pytest.skip(f"{tool} is not installed")
    root = Path(tempfile.mkdtemp(prefix="walkthrough-", dir="/tmp"))
    root.chmod(0o755)
    user = f"s55w{secrets.token_hex(3)}"
    try:
        yield Server(root, user)
    finally:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", user], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_readme_install_walkthrough_as_the_service_user(server: Server) -> None:
    python = _server_python()
    if python is None:
        pytest.skip("no python3 >= 3.11 on the server PATH")
    offline = os.environ.get("WALKTHROUGH_PIP_INDEX") != "1"
    if offline and _minor(python) != f"{sys.version_info[0]}.{sys.version_info[1]}":
        pytest.skip(f"{python} is not Python {sys.version_info[:2]}: this venv's packages won't do")
    blocks = {name: server.localise(body) for name, body in readme_blocks().items()}
    for name in ("apt-get", "git", "openssl"):
        server.stub(name)
    shutil.copytree(ROOT, server.checkout, ignore=NOT_IN_A_CLONE)  # the `git clone`
    install = blocks["install"]
    if offline:
        line = server.localise(PIP_LINE)
        assert line in install
        install = install.replace(line, _offline_pip_install(server))

    tenant = SandboxProcess(["--data", str(server.root / "tenant")], server.root / "tenant.err")
    try:
        _walk(server, blocks, install, tenant.info)
    finally:
        tenant.terminate()


def _walk(server: Server, blocks: dict[str, str], install: str, info: dict[str, Any]) -> None:
    user = server.user
    # -- section 0: install ------------------------------------------------------------------
    done = server.run(install)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert pwd.getpwnam(user).pw_dir == str(server.state)
    assert _owner_and_mode(server.etc) == ("root", user, "0o750")
    assert _owner_and_mode(server.state) == (user, user, "0o750")
    for name in ("automation.toml", "env"):
        assert _owner_and_mode(server.etc / name) == ("root", user, "0o640")
    example = (server.checkout / "config" / "automation.example.toml").read_text("utf-8")
    assert (server.etc / "automation.toml").read_text("utf-8") == example
    site_packages = list((server.checkout / ".venv" / "lib").glob("python3.*/site-packages"))
    [installed] = [p / "automation" for p in site_packages]
    assert (installed / "templates" / "section55_response.docx").is_file()  # non-editable

    # -- section 2: the certificate (the key and certificate the tenant has registered) ------
    key, cert = _split_pem(Path(info["ca_bundle"]).with_name("client-cert.pem").read_text())
    (server.scratch / "key.pem").write_text(key, encoding="utf-8")
    (server.scratch / "cert.pem").write_text(cert, encoding="utf-8")
    done = server.run(blocks["certificate"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert _owner_and_mode(server.etc / "app-cert.pem") == ("root", user, "0o640")
    assert not (server.scratch / "key.pem").exists()

    # -- section 3: settings (the ready line's values; the tenant's CA as a proxy CA) --------
    shutil.copy(info["ca_bundle"], server.etc / "ca.pem")
    (server.etc / "ca.pem").chmod(0o644)
    settings = server.etc / "automation.toml"
    settings.write_text(_settings_from_ready_line(info, server), encoding="utf-8")
    assert _owner_and_mode(settings) == ("root", user, "0o640")  # editing keeps owner and mode
    _publish_feed(info)

    # -- section 4: provision and check, each line as the service user -----------------------
    outputs = {}
    for line in commands(blocks["check"]):
        done = server.run(blocks["manual-runs"] + "\n" + line)
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs[line.split(" --config")[0].split("#")[0].strip()] = done.stdout
    doctor = outputs["automation doctor"].splitlines()
    statuses = {line.split()[0] for line in doctor if line[:1].isupper()}
    assert statuses == {"OK"}, "\n".join(doctor)
    assert f"templates dir: {installed / 'templates'}" in outputs["automation doctor"]
    assert "file '" in outputs["automation once --dry-run"]
    assert f"file '{FEED_TITLE}'" in outputs["automation once"]
    assert FEED_TITLE[:30] in outputs["automation status"]
    # The state is the service user's, where the units keep it.
    assert (server.state / ".automation-state").is_dir()
    assert (server.state / ".automation-state").stat().st_uid == pwd.getpwnam(user).pw_uid

    # -- section 0, the office's own templates -----------------------------------------------
    done = server.run(blocks["templates"])
    assert done.returncode == 0, done.stderr[-3000:]
    own = server.etc / "templates"
    assert _owner_and_mode(own / "section55_response.docx") == ("root", user, "0o640")
    text = settings.read_text(encoding="utf-8")
    settings.write_text(f'templates_dir = "{own}"\n' + text, encoding="utf-8")
    done = server.run(
        blocks["manual-runs"] + f"\nautomation doctor --config {server.etc}/automation.toml"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"templates dir: {own}" in done.stdout


def _publish_feed(info: dict[str, Any]) -> None:
    """The tenant's feed: one report about our force, published yesterday."""
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    item = feeds.Item(
        title=FEED_TITLE,
        link="https://hmicfrs.justiceinspectorates.gov.uk/peel-reports/norfolk-2025-27/",
        pub_date=email.utils.format_datetime(yesterday),
        categories=("PEEL", "Norfolk Constabulary"),
    )
    session = requests.Session()
    session.trust_env = False
    answer = session.post(
        f"{info['authority_host']}/_sandbox/pages",
        json={"path": "/feed/", "content": feeds.rss([item]).decode("utf-8")},
        verify=info["ca_bundle"],
        timeout=10,
    )
    assert answer.status_code == 204
