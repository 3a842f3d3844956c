"""Benchmark scenario 5: peak RSS of ``automation backfill`` and of an idle ``automation run``.

Each measured command runs in a child process started through a small launcher, so its
``ru_maxrss`` is its own and not inherited from this (large) process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil
import requests

from benchmarks.scenarios import (
    BACKFILL_AS_OF,
    BACKFILL_COUNT,
    BACKFILL_SINCE,
    BenchmarkError,
    backfill_items,
    classify,
    rss,
)

log = logging.getLogger("benchmarks")

MB = 1_000_000  # decimal megabytes: the stricter reading of "120 MB"


# --------------------------------------------------------------------------- scenario 5


@dataclass(frozen=True, slots=True, kw_only=True)
class RssResult:
    """Peak resident memory of one child process."""

    peak_bytes: int  # sampled every 20 ms with psutil
    kernel_max_bytes: int  # ru_maxrss of the child (wait4)
    children_max_bytes: int  # getrusage(RUSAGE_CHILDREN).ru_maxrss after it was reaped
    exit_code: int
    seconds: float
    output: str = field(default="", repr=False)

    @property
    def note(self) -> str:
        """The last lines of the output, for messages."""
        tail = self.output.strip().splitlines()[-3:]
        return (": " + " | ".join(tail))[-300:] if tail else ""


class Children:
    """Child processes started by the benchmark, so every one can be stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Popen ``args`` and remember the process."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(list(args), **kwargs)
        with self._lock:
            self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; reaps the process."""
        if proc.returncode is None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=grace)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)

    def stop_all(self) -> None:
        """Stop every process still running."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            try:
                self.stop(proc, grace=5.0)
            except (OSError, subprocess.SubprocessError):
                log.warning("could not stop child %s", proc.pid)


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any AUTOMATION_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# Starts the measured command and reports its pid, then its exit and ru_maxrss, as JSON lines.
# Linux carries a parent's RSS high-water mark into a child it forks or vforks (kept across
# exec), so a child of this big process would report at least our own peak as ru_maxrss.
# The launcher is small, so the measured command's ru_maxrss is its own.
LAUNCHER = """
import json, os, resource, signal, subprocess, sys
with open(sys.argv[1], "wb") as out:
    child = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
print(json.dumps({"pid": child.pid}), flush=True)
signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
_, status, usage = os.wait4(child.pid, 0)
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "ru_maxrss_kb": usage.ru_maxrss,
                  "children_kb": children}), flush=True)
"""


def read_json_line(stream: IO[bytes], *, timeout: float, what: str) -> dict[str, Any]:
    """The next line of ``stream`` as a JSON object (``what`` names it in errors)."""
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise BenchmarkError(f"no {what} within {timeout:.0f} s") from None
    if not line.strip():
        raise BenchmarkError(f"the process exited before printing its {what}")
    info: dict[str, Any] = json.loads(line)
    return info


def measure_peak_rss(
    children: Children,
    args: Sequence[str],
    *,
    output: Path,
    env: Mapping[str, str] | None = None,
    timeout: float,
    terminate_after: float | None = None,
    interval: float = 0.02,
) -> RssResult:
    """Run ``args`` (through :data:`LAUNCHER`) and sample its RSS every ``interval`` s.

    ``terminate_after``: send SIGTERM after that many seconds (a service run).
    ``timeout``: kill it and fail when it is still running after that many seconds.
    The command's stdout and stderr go to ``output``.
    """
    launcher = children.start(
        [sys.executable, "-c", LAUNCHER, str(output), *args],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=None if env is None else dict(env),
    )
    pid = 0
    try:
        assert launcher.stdout is not None
        pid = int(read_json_line(launcher.stdout, timeout=30, what="launcher pid")["pid"])
        watched = psutil.Process(pid)
        started = time.monotonic()
        peak = 0
        terminated = False
        while launcher.poll() is None:
            with contextlib.suppress(psutil.Error):  # exiting: the last sample stands
                peak = max(peak, int(watched.memory_info().rss))
            elapsed = time.monotonic() - started
            if terminate_after is not None and not terminated and elapsed >= terminate_after:
                _signal(pid, signal.SIGTERM)
                terminated = True
            if elapsed > timeout:
                raise BenchmarkError(f"{' '.join(args)[-120:]} still running after {timeout:.0f} s")
            time.sleep(interval)
        seconds = time.monotonic() - started
        final = read_json_line(launcher.stdout, timeout=10, what="launcher result")
    finally:
        if pid:
            _signal(pid, signal.SIGKILL)  # a no-op unless we are failing
        children.stop(launcher)
    return RssResult(
        peak_bytes=peak,
        kernel_max_bytes=int(final["ru_maxrss_kb"]) * 1024,
        children_max_bytes=int(final["children_kb"]) * 1024,
        exit_code=int(final["exit"]),
        seconds=seconds,
        output=output.read_text(encoding="utf-8", errors="replace"),
    )


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceMemory:
    """Scenario 5."""

    backfill: RssResult
    run: RssResult | None
    run_note: str
    count: int


def service_memory(
    workdir: Path, children: Children, *, count: int = BACKFILL_COUNT, run_seconds: float = 8.0
) -> ServiceMemory:
    """Peak RSS of ``automation backfill`` (``count`` publications) and of ``automation run``.

    Runs ``automation sandbox --port 0 --data DIR`` as a child, serves the feed through its
    admin API, provisions, then measures the two commands as children of their own.
    """
    python = sys.executable
    data = workdir / "rss-sandbox"
    state = workdir / "rss-state"
    stderr_path = workdir / "rss-sandbox.stderr"
    with stderr_path.open("wb") as sandbox_err:
        sandbox = children.start(
            [python, "-m", "automation", "sandbox", "--port", "0", "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=sandbox_err,
            stdin=subprocess.DEVNULL,
            env=child_env(),
        )
    admin = requests.Session()
    try:
        assert sandbox.stdout is not None
        info = read_json_line(sandbox.stdout, timeout=60, what="sandbox ready line")
        base = str(info["authority_host"])
        admin.trust_env = False
        admin.verify = str(info["ca_bundle"])
        answer = admin.post(
            f"{base}/_sandbox/pages",
            json={"path": "/feed/", "content": rss(backfill_items(count)).decode("utf-8")},
            timeout=30,
            verify=str(info["ca_bundle"]),
        )
        answer.raise_for_status()
        env = child_env(
            AUTOMATION_STATE_DIR=str(state),
            AUTOMATION_FEED_URLS=json.dumps([str(info["feed_url"])]),
            AUTOMATION_FETCH_REPORT_PAGES="false",
            AUTOMATION_LOG_LEVEL="WARNING",
        )
        config = str(info["config"])
        done = subprocess.run(
            [python, "-m", "automation", "provision", "--config", config],
            env=env,
            capture_output=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            raise BenchmarkError(f"provision failed ({done.returncode}): {done.stdout[-500:]!r}")
        backfill = measure_peak_rss(
            children,
            [
                python,
                "-m",
                "automation",
                "backfill",
                "--since",
                BACKFILL_SINCE.isoformat(),
                "--as-of",
                BACKFILL_AS_OF.isoformat(),
                "--with-tasks",
                "--config",
                config,
            ],
            env=env,
            output=workdir / "backfill.out",
            timeout=900,
        )
        if backfill.exit_code != 0:
            raise BenchmarkError(f"automation backfill exited {backfill.exit_code}{backfill.note}")
        if f": {count} filed, 0 failed" not in backfill.output:
            raise BenchmarkError(f"automation backfill did not file {count}:{backfill.note}")
        admin.delete(f"{base}/_sandbox/log", timeout=30, verify=str(info["ca_bundle"]))
        # Idle: nothing new to file, and no reminder catch-up (it would mail 200 owners).
        run_env = dict(
            env,
            AUTOMATION_SCHEDULE__INTERVAL_SECONDS="2",
            AUTOMATION_REMINDERS__ENABLED="false",
        )
        run = measure_peak_rss(
            children,
            [python, "-m", "automation", "run", "--config", config],
            env=run_env,
            output=workdir / "run.out",
            timeout=run_seconds + 30,
            terminate_after=run_seconds,
        )
        logged = admin.get(f"{base}/_sandbox/log", timeout=30, verify=str(info["ca_bundle"]))
        seen = classify(logged.json().get("value", []))
        run_result: RssResult | None = run
        if run.seconds < run_seconds - 0.5 or run.exit_code not in (0, -signal.SIGTERM):
            run_note = f"n/a (run not available: exit {run.exit_code}{run.note})"
            run_result = None
        else:
            run_note = (
                f"{seen['feed_gets']} cycles, {seen['graph_http']} Graph requests in "
                f"{run_seconds:.0f} s, then SIGTERM"
            )
            if run.exit_code != 0:
                run_note += f" (exit {run.exit_code})"
    finally:
        admin.close()
        children.stop(sandbox)
    return ServiceMemory(backfill=backfill, run=run_result, run_note=run_note, count=count)
