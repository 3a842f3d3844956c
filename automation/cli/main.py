"""Command line: ``automation <command>`` (DESIGN.md §4.1).

Exit codes: `automation.exitcodes.ExitCode` (0 success, 1 a run finished with item-level
failures, 2 configuration or usage).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from automation.errors import AutomationError, SettingsError
from automation.exitcodes import ExitCode


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every command accepts --config)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML settings file")
    parser = argparse.ArgumentParser(
        prog="automation",
        description="Section 55 response service: HMICFRS reports to SharePoint, Word, Planner.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    sub.add_parser("run", parents=[common], help="the scheduled service, until stopped")
    once = sub.add_parser("once", parents=[common], help="one intake + follow-up + reminders pass")
    once.add_argument("--as-of", type=_date, help="treat this date as today (YYYY-MM-DD)")
    once.add_argument(
        "--dry-run", action="store_true", help="write nothing; print what would be done"
    )
    sub.add_parser("provision", parents=[common], help="create or upgrade the tracker list etc.")
    doctor = sub.add_parser(
        "doctor", parents=[common], help="check settings, token and every resource"
    )
    doctor.add_argument(
        "--probe",
        action="store_true",
        help="first install: check on the tenant what no document settles (scratch list, "
        "bucket and task created and deleted; one message sent to the office mailbox)",
    )
    status = sub.add_parser("status", parents=[common], help="open responses and their deadlines")
    status.add_argument("--as-of", type=_date)
    status.add_argument("--format", choices=("table", "csv", "json"), default="table")
    backfill = sub.add_parser("backfill", parents=[common], help="file older publications")
    backfill.add_argument("--since", type=_date, required=True)
    backfill.add_argument("--as-of", type=_date)
    sandbox = sub.add_parser("sandbox", parents=[common], help="serve the local M365 sandbox")
    sandbox.add_argument("--port", type=int, default=0)
    sandbox.add_argument("--data", type=Path, help="persist the tenant in this directory")
    sandbox.add_argument("--feed", type=Path, help="serve this file at /feed/")
    sandbox.add_argument("--faults", help="JSON fault plan, e.g. '{\"latency_ms\": 50}'")
    report = sub.add_parser("report", parents=[common], help="build a report (panel: progress)")
    report.add_argument("which", choices=("panel",))
    report.add_argument("--as-of", type=_date, help="position as of this date (YYYY-MM-DD)")
    report.add_argument("--format", choices=("docx", "csv"), default="docx")
    report.add_argument("--output", type=Path, help="write here instead of uploading")
    demo = sub.add_parser("demo", parents=[common], help="the whole workflow on the sandbox")
    demo.add_argument("--output", type=Path, default=Path("demo-output"))
    return parser


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's per-thread malloc arenas (the parallel intake otherwise fragments ~30 MB).

    Returns True when applied; a no-op on other C libraries.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_arena_max = -8  # glibc's M_ARENA_MAX
    return bool(mallopt(ctypes.c_int(m_arena_max), ctypes.c_int(arenas)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    limit_malloc_arenas()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sandbox":
            return _sandbox(args)
        if args.command == "demo":
            from automation.cli.demo import run_demo

            return run_demo(args.output)
        return _service_command(args)
    except SettingsError as exc:
        for line in exc.problems:
            sys.stderr.write(f"error: {line}\n")
        return ExitCode.CONFIG
    except AutomationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return ExitCode.ITEM_FAILURES
    except KeyboardInterrupt:
        return 130


def _service_command(args: argparse.Namespace) -> int:
    from automation.cli import commands
    from automation.settings import load_settings

    settings = load_settings(args.config)
    from automation import logsetup

    logsetup.configure(settings.log_level, settings.log_format)
    if settings.client_secret is not None:
        logsetup.register_secret(settings.client_secret.get_secret_value())
    if args.command == "run":
        return commands.run_service(settings)
    if args.command == "once":
        return commands.once(settings, as_of=args.as_of, dry_run=args.dry_run)
    if args.command == "provision":
        return commands.provision(settings)
    if args.command == "doctor":
        if args.probe:
            from automation.cli.probe import run_probe

            return run_probe(settings)
        return commands.doctor(settings)
    if args.command == "status":
        return commands.status(settings, as_of=args.as_of, fmt=args.format)
    if args.command == "backfill":
        return commands.backfill(settings, since=args.since, as_of=args.as_of)
    if args.command == "report":
        from automation.cli.report import run_report
        from automation.domain.calendar import london_today

        return run_report(
            settings, as_of=args.as_of or london_today(), fmt=args.format, output=args.output
        )
    raise SettingsError([f"unknown command {args.command}"])


def _sandbox(args: argparse.Namespace) -> int:
    from automation.cli.sandbox_config import write_config
    from automation.sandbox.server import Sandbox, dump_ready_line

    faults: dict[str, Any] | None = None
    if args.faults:
        try:
            faults = json.loads(args.faults)
        except ValueError as exc:
            raise SettingsError([f"--faults: not JSON: {exc}"]) from None
    data = args.data.resolve() if args.data else None
    sandbox = Sandbox(data_dir=data, port=args.port, faults=faults)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sandbox.start()
    try:
        if args.feed:
            sandbox.set_page("/feed/", args.feed.read_bytes())
        else:
            sandbox.set_page("/feed/", EMPTY_FEED.encode())
        info = sandbox.info()
        config = write_config(
            sandbox.workdir / "automation.toml",
            info,
            state_dir=sandbox.workdir / "service-state",
        )
        info["config"] = str(config.resolve())
        sys.stdout.write(dump_ready_line(info) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return ExitCode.OK


EMPTY_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>HMICFRS (sandbox)</title>
<link>https://hmicfrs.justiceinspectorates.gov.uk/</link>
<description>Empty sandbox feed</description></channel></rss>
"""
