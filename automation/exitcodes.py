"""The exit codes every command uses (README "Exit codes"; systemd and cron engines read them)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a command's exit status means."""

    OK = 0
    """Everything asked for was done."""
    ITEM_FAILURES = 1
    """The run finished, but some items failed; they are listed and retried next run."""
    CONFIG = 2
    """A configuration, credential or usage error: nothing will work until a person fixes it."""
