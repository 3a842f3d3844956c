"""Backfill progress: a bar on a terminal (tqdm), plain lines in a log or a pipe."""

from __future__ import annotations

import shutil
import threading
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm


class BackfillProgress:
    """Reports feed pages read and publications filed.

    On a terminal: one bar for the pages, then one for the publications (``n/total``).
    Elsewhere (systemd, a pipe, a file): one plain line per page and per publication.
    ``filed`` may be called from the intake's worker threads.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self._lock = threading.Lock()
        self._pages: tqdm[Any] | None = None
        self._filed: tqdm[Any] | None = None

    def __enter__(self) -> BackfillProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            for bar in (self._pages, self._filed):
                if bar is not None:
                    bar.close()

    def _bar(self, *, desc: str, unit: str, total: int | None) -> tqdm[Any]:
        # A terminal that reports no size (0 x 0) would hide the bar: tqdm draws none.
        size = shutil.get_terminal_size((80, 24))
        return tqdm(
            desc=desc,
            unit=unit,
            total=total,
            file=self.stream,
            ncols=size.columns or 80,
            nrows=size.lines or 24,
        )

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def page(self, url: str, page: int, items: int) -> None:
        """One feed page read (``items`` publications on it)."""
        with self._lock:
            if not self.terminal:
                self._line(f"read feed page {page} of {url}: {items} item(s)")
                return
            pages = self._pages
            if pages is None:
                pages = self._bar(desc="feed pages", unit="page", total=None)
                self._pages = pages
            pages.set_postfix_str(f"{items} item(s) on page {page}", refresh=False)
            pages.update(1)

    def filed(self, done: int, total: int) -> None:
        """``done`` of ``total`` publications filed (or set up)."""
        with self._lock:
            if not self.terminal:
                self._line(f"filed {done} of {total}")
                return
            if self._pages is not None:
                self._pages.close()
                self._pages = None
            filing = self._filed
            if filing is None:
                filing = self._bar(desc="filing", unit="report", total=total)
                self._filed = filing
            filing.update(done - filing.n)
