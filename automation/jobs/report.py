"""What a run did, for the CLI and the logs."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

log = logging.getLogger("automation.actions")


@dataclass(slots=True)
class RunReport:
    """Actions taken (or, in a dry run, that would be taken) and item-level failures."""

    dry_run: bool = False
    actions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    filed: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    """Publication keys this pass set to *Published* (the recommendations list follows)."""
    unfinished: list[str] = field(default_factory=list)
    """Items left for a later pass on purpose (another instance's lease, a send whose outcome
    is still being confirmed): not failures, but the pass must come back to them."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def action(self, key: str, text: str) -> None:
        """Record one action on a publication (one log line, with its key)."""
        line = f"{'would ' if self.dry_run else ''}{text}"
        with self._lock:
            self.actions.append(f"{key}: {line}")
        log.info("%s: %s", key, line, extra={"publication": key, "action": text})

    def failure(self, key: str, text: str) -> None:
        """Record an item-level failure (the run goes on; the item is retried next run)."""
        with self._lock:
            self.failures.append(f"{key}: {text}")
        log.error("%s: %s", key, text, extra={"publication": key})

    def later(self, key: str, text: str) -> None:
        """Record work left unfinished on purpose; the next pass must return to ``key``."""
        with self._lock:
            self.unfinished.append(f"{key}: {text}")
        log.info("%s: left for a later pass: %s", key, text, extra={"publication": key})
