"""Command line: ``automation <command>`` (DESIGN.md §4.1).

Exit codes: `automation.exitcodes.ExitCode` (0 success, 1 a run finished with item-level
failures, 2 configuration or usage).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import logging
import signal
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from automation import __version__
from automation.errors import AutomationError, SettingsError, is_access_failure
from automation.exitcodes import ExitCode


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


EXIT_CODES = """\
exit codes:
  0  everything asked for was done
  1  the run finished, but some items failed (listed; retried next run)
  2  configuration, credential or permission problem (wrong or expired secret,
     wrong tenant, unreadable certificate, missing permission, bad setting):
     a person must fix it; systemd does not restart `run` on it
"""

EXAMPLES = """\
examples:
  automation doctor --config /etc/s55-automation/automation.toml
  automation provision --config /etc/s55-automation/automation.toml
  automation once --config /etc/s55-automation/automation.toml --dry-run
  automation backfill --config /etc/s55-automation/automation.toml --since 2025-01-01
"""


def _paragraphs(text: str) -> str:
    """Wrap prose paragraphs to 79 columns; indented lines (examples) stay as written."""
    out = []
    for block in text.split("\n\n"):
        if block.startswith("  "):
            out.append(block)
        else:
            out.append(textwrap.fill(block, width=79))
    return "\n\n".join(out)


def _command(
    sub: Any, name: str, common: argparse.ArgumentParser, summary: str, text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[common],
        help=summary,
        description=_paragraphs(f"{summary}.\n\n{text}"),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every command accepts --config)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the TOML settings file (e.g. /etc/s55-automation/automation.toml); "
        "AUTOMATION_* environment variables win over it",
    )
    parser = argparse.ArgumentParser(
        prog="automation",
        description="Section 55 response service: HMICFRS reports to SharePoint, Word, "
        "Planner and mail, through Microsoft Graph.",
        epilog=EXAMPLES + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    _command(
        sub,
        "run",
        common,
        "the scheduled service, until stopped",
        "Intake and follow-up every schedule.interval_minutes; reminders on working days at "
        "schedule.reminders_at (London time). SIGTERM or SIGINT finish the job in flight and "
        "exit 0; a refused credential or permission stops it with exit 2. Optional health "
        "endpoint: [healthz] enabled = true serves GET /healthz (200 healthy, 503 not).\n\n"
        "  automation run --config /etc/s55-automation/automation.toml",
    )
    once = _command(
        sub,
        "once",
        common,
        "one intake + follow-up + reminders pass, then exit",
        "For timers and CronJobs. Reminders go out as `run` sends them: on working days "
        "(England and Wales), at or after schedule.reminders_at London time, once a day "
        "however often the timer fires.\n\n"
        "  automation once --config FILE\n"
        "  automation once --config FILE --dry-run\n"
        "  automation once --config FILE --as-of 2026-03-02",
    )
    once.add_argument(
        "--as-of",
        type=_date,
        metavar="YYYY-MM-DD",
        help="treat this date as today for deadlines and reminders; that day's reminders "
        "are worked out whatever the clock or weekday (catch-up; the exactly-once records "
        "still stop repeats)",
    )
    once.add_argument(
        "--dry-run", action="store_true", help="write and send nothing; print what would be done"
    )
    _command(
        sub,
        "provision",
        common,
        "create or upgrade the tracker list, drafts folder and Planner buckets",
        "Safe to re-run: what exists is left alone.\n\n  automation provision --config FILE",
    )
    doctor = _command(
        sub,
        "doctor",
        common,
        "check settings, token and every resource, one line each",
        "Prints OK/FAIL/SKIP per check with a fix: line after each failure; warns 30 days "
        "before the secret (secret_expires_on) or certificate expires. Exit 1 when a check "
        "fails.\n\n  automation doctor --config FILE",
    )
    doctor.add_argument(
        "--probe",
        action="store_true",
        help="first install: check on the tenant what no document settles (scratch list, "
        "bucket and task created and deleted; one message sent to the office mailbox)",
    )
    status = _command(
        sub,
        "status",
        common,
        "open responses and their deadlines",
        "  automation status --config FILE\n  automation status --config FILE --format csv",
    )
    status.add_argument(
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="count days as if today were this date"
    )
    status.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format"
    )
    backfill = _command(
        sub,
        "backfill",
        common,
        "file older publications, reading the feed page by page",
        "Reads the feed's older pages (?paged=2, 3, ...) back to --since, with a progress bar "
        "on a terminal. Publications whose deadline has passed are filed as historic (Status "
        "Closed; no draft, tasks or reminders) unless --with-tasks. Idempotent.\n\n"
        "  automation backfill --config FILE --since 2025-01-01",
    )
    backfill.add_argument(
        "--since",
        type=_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="file publications published on or after this date",
    )
    backfill.add_argument(
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="treat this date as today"
    )
    backfill.add_argument(
        "--with-tasks",
        action="store_true",
        help="set up past-deadline publications like new ones (draft, tasks, reminders)",
    )
    sandbox = _command(
        sub,
        "sandbox",
        common,
        "serve the local Microsoft 365 sandbox tenant until stopped",
        "Prints one JSON ready line (graph_url, authority_host, config, ...).\n\n"
        "  automation sandbox --port 0 --data ./tenant",
    )
    sandbox.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port on 127.0.0.1 (0: a free one, named in the ready line)",
    )
    sandbox.add_argument("--data", type=Path, help="persist the tenant in this directory")
    sandbox.add_argument("--feed", type=Path, help="serve this file at /feed/")
    sandbox.add_argument("--faults", help="JSON fault plan, e.g. '{\"latency_ms\": 50}'")
    demo = _command(
        sub,
        "demo",
        common,
        "the whole workflow on the sandbox, with a bundled sample feed",
        "  automation demo --output demo-output",
    )
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("demo-output"),
        help="folder for drafts, mails (.eml) and the tracker CSV (default demo-output)",
    )
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
    from automation import logsetup
    from automation.passes import access_failure_line
    from automation.settings import load_settings, require_state_dir

    settings = load_settings(args.config)
    logsetup.configure(
        settings.log_level,
        settings.log_format,
        printed=args.command in ("once", "backfill", "provision"),
    )
    if settings.client_secret is not None:
        logsetup.register_secret(settings.client_secret.get_secret_value())
    if args.command != "doctor":
        require_state_dir(settings)  # doctor reports it as a check instead
    try:
        return _dispatch(args, settings)
    except AutomationError as exc:
        if not is_access_failure(exc):
            raise
        line = logsetup.redact(access_failure_line(exc, settings))
        logging.getLogger(__name__).error("%s", line)
        sys.stderr.write(f"error: {line}\n")
        return ExitCode.CONFIG


def _dispatch(args: argparse.Namespace, settings: Any) -> int:
    from automation.cli import commands

    if args.command == "run":
        return commands.run_service(settings, config=args.config)
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
        return commands.backfill(
            settings, since=args.since, as_of=args.as_of, with_tasks=args.with_tasks
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
