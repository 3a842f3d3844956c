"""``automation sandbox`` as a real process: the ready line, a foreign client, SIGTERM,
``--data`` persistence, and ``provision`` + ``once`` run as commands against it.
"""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from tests import feeds

READY_KEYS = {
    "graph_url",
    "authority_host",
    "tenant_id",
    "client_id",
    "client_secret",
    "ca_bundle",
    "config",
    "feed_url",
    "site_id",
    "group_id",
    "plan_id",
    "mailbox",
}
TRACKER = "Section 55 Tracker"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# A separate client that knows nothing of the service: msal + requests and the ready line.
CLIENT_SCRIPT = r"""
import json
import sys

import msal
import requests

info = json.loads(sys.stdin.read())
session = requests.Session()
session.trust_env = False
session.verify = info["ca_bundle"]
app = msal.ConfidentialClientApplication(
    info["client_id"],
    client_credential=info["client_secret"],
    authority=f"{info['authority_host']}/{info['tenant_id']}",
    instance_discovery=False,
    http_client=session,
)
result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
if "access_token" not in result:
    sys.exit(f"no token: {result.get('error')}")
session.headers["Authorization"] = "Bearer " + result["access_token"]
lists = f"{info['graph_url']}/sites/{info['site_id']}/lists"


def call(method, url, **kwargs):
    answer = session.request(method, url, timeout=10, **kwargs)
    if answer.status_code >= 400:
        sys.exit(f"{method} {url} -> {answer.status_code} {answer.text}")
    return answer.json()


mode = sys.argv[1]
if mode == "create":
    created = call(
        "POST",
        lists,
        json={
            "displayName": sys.argv[2],
            "columns": [{"name": "Note", "text": {}}],
            "list": {"template": "genericList"},
        },
    )
    item = call("POST", f"{lists}/{created['id']}/items", json={"fields": {"Title": sys.argv[3]}})
    list_id, item_id = created["id"], item["id"]
else:
    list_id, item_id = sys.argv[2], sys.argv[3]
read = call("GET", f"{lists}/{list_id}/items/{item_id}", params={"$expand": "fields"})
print(json.dumps({"list_id": list_id, "item_id": item_id, "title": read["fields"]["Title"]}))
"""


def _command() -> list[str]:
    script = Path(sys.executable).parent / "automation"
    return [str(script)] if script.exists() else [sys.executable, "-m", "automation"]


class SandboxProcess:
    """``automation sandbox`` in a child process, with its parsed ready line."""

    def __init__(self, args: Sequence[str], stderr_path: Path) -> None:
        self._stderr_file = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [*_command(), "sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            stdin=subprocess.DEVNULL,
        )
        self.stderr_path = stderr_path
        assert self.proc.stdout is not None
        self.stdout: IO[bytes] = self.proc.stdout
        self.raw_line = self._ready_line()
        self.info: dict[str, Any] = json.loads(self.raw_line)

    def _ready_line(self) -> bytes:
        with selectors.DefaultSelector() as selector:
            selector.register(self.stdout, selectors.EVENT_READ)
            if not selector.select(READY_TIMEOUT):
                self.kill()
                pytest.fail(f"no ready line in {READY_TIMEOUT}s: {self._stderr()}")
        line = self.stdout.readline()
        if not line:
            self.proc.wait(timeout=STOP_TIMEOUT)
            pytest.fail(f"sandbox exited {self.proc.returncode}: {self._stderr()}")
        return line

    def _stderr(self) -> str:
        self._stderr_file.flush()
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]

    def terminate(self) -> tuple[int, bytes]:
        """SIGTERM; (exit code, whatever else it printed to stdout)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"sandbox did not exit within {STOP_TIMEOUT}s of SIGTERM")
        rest = self.stdout.read()
        self.close()
        return code, rest

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.close()

    def close(self) -> None:
        self.stdout.close()
        self._stderr_file.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Starts sandbox processes; kills any still running at the end of the test."""
    started: list[SandboxProcess] = []

    def _start(*args: str) -> SandboxProcess:
        sandbox = SandboxProcess(args, tmp_path / f"sandbox-{len(started)}.err")
        started.append(sandbox)
        return sandbox

    yield _start
    for sandbox in started:
        if sandbox.proc.poll() is None:
            sandbox.kill()


@pytest.fixture
def client_script(tmp_path: Path) -> Path:
    path = tmp_path / "foreign_client.py"
    path.write_text(CLIENT_SCRIPT, encoding="utf-8")
    return path


def _foreign_client(script: Path, info: dict[str, Any], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(script), *args],
        input=json.dumps(info).encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _session(info: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_bundle"]
    return session


def test_ready_line_foreign_client_and_sigterm(start: Any, client_script: Path) -> None:
    sandbox = start()
    assert sandbox.raw_line.endswith(b"\n")
    assert set(sandbox.info) == READY_KEYS
    info = sandbox.info
    assert info["graph_url"] == info["authority_host"] + "/v1.0"
    assert info["authority_host"].startswith("https://127.0.0.1:")
    assert Path(info["ca_bundle"]).is_absolute()
    assert Path(info["ca_bundle"]).is_file()
    assert Path(info["config"]).is_absolute()
    assert Path(info["config"]).is_file()
    title = f"Made elsewhere {uuid.uuid4().hex[:8]}"
    answer = _foreign_client(client_script, info, "create", "Foreign list", title)
    assert answer["title"] == title
    code, rest = sandbox.terminate()
    assert code == 0
    assert rest == b""  # exactly one line was printed


def test_data_dir_keeps_the_tenant_across_restarts(
    start: Any, client_script: Path, tmp_path: Path
) -> None:
    data = tmp_path / "tenant"
    first = start("--data", str(data))
    title = f"Kept {uuid.uuid4().hex[:8]}"
    created = _foreign_client(client_script, first.info, "create", "Persisted", title)
    code, _ = first.terminate()
    assert code == 0

    second = start("--data", str(data))
    assert second.info["tenant_id"] == first.info["tenant_id"]
    assert second.info["client_id"] == first.info["client_id"]
    assert second.info["site_id"] == first.info["site_id"]
    again = _foreign_client(
        client_script, second.info, "read", created["list_id"], created["item_id"]
    )
    assert again["title"] == title
    code, _ = second.terminate()
    assert code == 0


def test_provision_then_once_files_the_feed_item(start: Any, tmp_path: Path) -> None:
    sandbox = start()
    info = sandbox.info
    config = info["config"]
    session = _session(info)
    answer = session.post(
        f"{info['authority_host']}/_sandbox/pages",
        json={"path": "/feed/", "content": feeds.rss([feeds.SEED]).decode("utf-8")},
        timeout=10,
    )
    assert answer.status_code == 204

    provisioned = _cli("provision", "--config", config)
    assert provisioned.returncode == 0, provisioned.stderr[-2000:]
    assert "created" in provisioned.stdout

    first = _cli("once", "--config", config, "--as-of", "2023-08-08")
    assert first.returncode == 0, first.stderr[-2000:] + first.stdout[-2000:]
    assert "file '" in first.stdout
    titles = _tracker_titles(session, info)
    assert titles == [feeds.SEED_TITLE]

    second = _cli("once", "--config", config, "--as-of", "2023-08-08")
    assert second.returncode == 0, second.stderr[-2000:] + second.stdout[-2000:]
    assert "file '" not in second.stdout  # nothing new to file
    assert _tracker_titles(session, info) == titles

    code, _ = sandbox.terminate()
    assert code == 0


def _tracker_titles(session: requests.Session, info: dict[str, Any]) -> list[str]:
    """Titles in the tracker list, read with a plain client-credentials token."""
    token = session.post(
        f"{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=10,
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    lists_url = f"{info['graph_url']}/sites/{info['site_id']}/lists"
    lists = session.get(lists_url, headers=headers, timeout=10).json()["value"]
    tracker = [lst for lst in lists if lst["displayName"] == TRACKER]
    assert len(tracker) == 1
    items = session.get(
        f"{lists_url}/{tracker[0]['id']}/items",
        params={"$expand": "fields"},
        headers=headers,
        timeout=10,
    ).json()
    assert "@odata.nextLink" not in items
    return [str(item["fields"]["Title"]) for item in items["value"]]
