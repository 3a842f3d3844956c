"""Logging set-up: text or JSON lines, with secrets redacted as a last line of defence.

Code never logs secrets on purpose; the redactor also masks any registered secret value
(client secret, certificate passphrase, access tokens) and anything shaped like a bearer
token, should one slip into a message or an exception text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from datetime import UTC, datetime

_lock = threading.Lock()
_secrets: set[str] = set()
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_QUERY_SECRET = re.compile(r"(?i)((?:tempauth|authtoken|token|sig|code)=)[^&\s\"']+")


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it would appear in a log line."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with registered secrets and token-shaped strings masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    text = _JWT.sub("***", text)
    return _QUERY_SECRET.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """Renders the message once, redacted, so no formatter sees the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg = message
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("publication", "action", "job"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


PRINTED_LOGGERS = ("automation.actions", "automation.jobs.provision")
"""Loggers whose INFO lines a command also prints on stdout (each action, what provision made)."""


class PrintedElsewhere(logging.Filter):
    """Drops INFO lines that the command prints itself, so a terminal shows each once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and record.name.startswith(PRINTED_LOGGERS))


def same_stream(first: object, second: object) -> bool:
    """Whether two open files write to the same place (one terminal, one journal stream)."""
    try:
        a = os.fstat(first.fileno())  # type: ignore[attr-defined]
        b = os.fstat(second.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev)


def configure(level: str = "INFO", fmt: str = "text", *, printed: bool = False) -> None:
    """Send logs to stderr in the chosen format, redacted.

    ``printed``: the command prints its actions on stdout; when stdout and stderr are the
    same terminal or stream, the matching INFO log lines are left out (said once). Where
    they differ (stdout to a file, logs to the journal), the log keeps them.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_s55", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._s55 = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    if printed and same_stream(sys.stdout, sys.stderr):
        handler.addFilter(PrintedElsewhere())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "msal"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler says "Adding job tentatively" and "Running job" every cycle; the service
    # logs each job's outcome itself.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
