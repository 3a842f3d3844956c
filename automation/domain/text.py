"""Plain-text helpers the whole service shares."""

from __future__ import annotations

ELLIPSIS = "\u2026"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit == 1:
        return ELLIPSIS
    return text[: limit - 1].rstrip() + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs become one space), `shorten`-ed to ``limit``."""
    return shorten(" ".join(text.split()), limit)
