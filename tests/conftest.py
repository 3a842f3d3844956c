"""Shared fixtures: one HTTPS sandbox per test session, reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from automation.sandbox.server import Sandbox

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test inherits the operator's ``AUTOMATION_*`` settings (or a real tenant's host)."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("AUTOMATION_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def _session_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(_session_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, freshly reset; fails the test if a handler raised (a sandbox bug)."""
    _session_sandbox.reset()
    yield _session_sandbox
    errors = list(_session_sandbox.handler_errors)
    _session_sandbox.handler_errors.clear()
    assert not errors, "sandbox handler errors:\n" + "\n".join(errors)


class RawGraph:
    """Plain requests against the sandbox (no production code), for route tests."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.info = sandbox.info()
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(sandbox.ca_path)
        token_url = f"{sandbox.url}/{self.info['tenant_id']}/oauth2/v2.0/token"
        answer = self.session.post(
            token_url,
            data={
                "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"],
                "grant_type": "client_credentials",
                "scope": "https://graph.microsoft.com/.default",
            },
            timeout=10,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.sandbox.graph_url}{path}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url(path), **kwargs)


@pytest.fixture
def raw(sandbox: Sandbox) -> RawGraph:
    """A token-carrying requests session against the reset sandbox."""
    return RawGraph(sandbox)


@pytest.fixture
def shared_dir() -> Path:
    """../shared, or skip when it is absent."""
    if not (SHARED / "reference" / "graph-v1.0.csdl").exists():
        pytest.skip("../shared/reference is absent; CSDL checks skipped")
    return SHARED
