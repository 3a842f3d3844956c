"""Service settings and apps wired to the test sandbox, plus crash injection."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from automation.app import App
from automation.cli.sandbox_config import config_text
from automation.graph.client import GraphRequest, GraphResponse, RequestsTransport
from automation.sandbox.server import Sandbox
from automation.settings import Settings, load_settings

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def make_settings(sandbox: Sandbox, state_dir: Path, **overrides: Any) -> Settings:
    """Settings for the sandbox tenant (the same file the ready line points at)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir.parent / f"{state_dir.name}.toml"
    path.write_text(config_text(sandbox.info(), state_dir=state_dir), encoding="utf-8")
    overrides.setdefault("fetch_report_pages", False)
    # Tests approve and run the next pass at once; the hold has tests of its own.
    overrides.setdefault("approval", {"hold_minutes": 0})
    return load_settings(path, **overrides)


class SimulatedCrash(BaseException):
    """The process dies here: nothing in the service may catch it."""


class CrashingTransport(RequestsTransport):
    """Lets ``crash_after`` steps through, then dies right after the next step's answer.

    A step is a write request (token requests aside; a ``$batch`` is one step); subclasses
    widen that with :meth:`is_step`. ``crash_after=None`` never crashes and only counts.
    """

    def __init__(self, *, verify: str | bool, crash_after: int | None) -> None:
        super().__init__(verify=verify)
        self.crash_after = crash_after
        self.steps: list[str] = []
        self.crashed = False
        self._lock = threading.Lock()

    @property
    def writes(self) -> int:
        """Steps seen so far."""
        return len(self.steps)

    @staticmethod
    def is_step(method: str, url: str) -> bool:
        """Whether a request counts as a step."""
        return method.upper() in WRITES and "/oauth2/" not in url

    def label(self, method: str, url: str) -> str:
        """How a step is named in a crash message."""
        return f"{method.upper()} {url}"

    def send(self, request: GraphRequest) -> GraphResponse:
        with self._lock:
            if self.crashed:
                raise SimulatedCrash("already dead")
        response = super().send(request)
        if self.is_step(request.method, request.url):
            with self._lock:
                self.steps.append(self.label(request.method, request.url))
                if self.crash_after is not None and len(self.steps) > self.crash_after:
                    self.crashed = True
                    raise SimulatedCrash(f"crash after step {len(self.steps)}: {self.steps[-1]}")
        return response


def app_for(settings: Settings, *, crash_after: int | None = None) -> App:
    """An App against the sandbox, optionally dying after ``crash_after`` writes."""
    if crash_after is None:
        return App(settings)
    return App(
        settings, transport=CrashingTransport(verify=settings.verify, crash_after=crash_after)
    )


def graph_writes(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Write requests in the sandbox log (inner $batch writes included)."""
    return [entry for entry in sandbox.request_log() if entry.get("write")]
