"""The command-line face: ``automation <command>`` and what each command prints.

`automation.cli.main` parses arguments; the other modules are the commands' bodies
(`commands`, `doctor`, `status`, `demo`) and the sandbox's settings file
(`sandbox_config`). Nothing outside this package imports it.
"""

from __future__ import annotations

from automation.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
