"""File names the service gives: the Word draft in the library, the PDF attached to emails.

Characters SharePoint, OneDrive, mail clients and shells refuse or misread are replaced or
dropped, control and bidi characters removed, and long titles cut at a word boundary.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from automation.domain.calendar import long_date
from automation.domain.text import ELLIPSIS

__all__ = ["ATTACHMENT_TITLE_MAX", "UNSAFE_CHARS", "attachment_name", "draft_filename"]

# XML 1.0 forbids C0 controls other than tab/newline/CR, lone surrogates, U+FFFE and U+FFFF;
# C1 controls are legal but invisible trouble. Bidi embeddings, overrides and isolates can
# make text display differently from what it says ("Trojan source"), so they go too.
UNSAFE_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)

# Characters SharePoint/OneDrive refuse or that break URLs and shells, per the drafts contract.
_FILENAME_REPLACEMENTS = {":": " -", "/": "-", "\\": "-", "|": "-", "&": "and"}
_FILENAME_DROP = re.compile(r"[\"*<>?#%~{}]")
_FILENAME_STEM_MAX = 120
_FILENAME_FALLBACK = "Section 55 response"
ATTACHMENT_TITLE_MAX = 60


def _safe_text(text: str) -> str:
    """``text`` with what SharePoint, mail clients and shells refuse replaced or dropped."""
    text = unicodedata.normalize("NFC", text)
    text = UNSAFE_CHARS.sub("", text)
    for old, new in _FILENAME_REPLACEMENTS.items():
        text = text.replace(old, new)
    text = _FILENAME_DROP.sub(" ", text)
    text = " ".join(text.split())
    # SharePoint rejects names containing "_vti_" and names ending with a dot.
    text = text.replace("_vti_", "_vti ")
    return text.strip(" .-")


def _cut(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters, cut at a word boundary and ending with "…"."""
    if len(text) <= room:
        return text
    cut = text[: room - 1]
    space = cut.rfind(" ")
    if space > room // 2:
        cut = cut[:space]
    return cut.rstrip(" .-,;") + ELLIPSIS


def _ascii(text: str) -> str:
    """``text`` in ASCII: dashes become "-", accents are dropped, anything else goes."""
    text = re.sub("[\u2010-\u2015\u2212]", "-", text)
    text = text.replace("\u2018", "'").replace("\u2019", "'")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(plain.split())


def draft_filename(title: str, published_on: date) -> str:
    """A SharePoint-safe file name "YYYY-MM-DD <title>.docx", the stem at most 120 characters.

    Characters SharePoint refuses or that break links (" * : < > ? / \\ | # % ~ & { }) are
    replaced or dropped, control and bidi characters removed, whitespace collapsed; a title
    too long is cut at a word boundary and ends with "…". Never empty.
    """
    text = _safe_text(title) or _FILENAME_FALLBACK
    prefix = f"{published_on.isoformat()} "
    return f"{prefix}{_cut(text, _FILENAME_STEM_MAX - len(prefix))}.docx"


def attachment_name(lead: str, title: str, day: date | None, *, ext: str) -> str:
    """``<lead> - <short title> - <day>.<ext>``, safe for SharePoint and mail.

    ``Norfolk PCC response - Counter terrorism joint inspection - 1 September 2023.pdf``:
    the same characters as `draft_filename` are replaced or dropped, the title is cut to
    :data:`ATTACHMENT_TITLE_MAX` characters at a word boundary, and the name is plain
    ASCII (dashes and accented letters simplified), which every mail client shows. Never
    empty.
    """
    parts = [_ascii(_safe_text(lead)) or _FILENAME_FALLBACK]
    short = _cut(_ascii(_safe_text(title)), ATTACHMENT_TITLE_MAX).removesuffix(ELLIPSIS)
    if short:
        parts.append(short)
    if day is not None:
        parts.append(long_date(day))
    return f"{' - '.join(parts)}.{ext}"
