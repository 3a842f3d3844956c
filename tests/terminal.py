"""Run the command line on a pseudo-terminal, as an operator at a shell would see it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys


def run_on_terminal(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """``python -m automation <argv>`` with stdout and stderr on one terminal: (exit, output).

    The terminal reports no size (0 x 0), as a bare pty does; what it shows is decoded
    with replacement.
    """
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "automation", *argv],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the other side closed (Linux answers EIO)
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=timeout)
    finally:
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")
