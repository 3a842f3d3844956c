"""When to repeat a Graph request and how long to wait first: one pure decision.

:meth:`RetryPolicy.decide` looks at what one attempt produced (a status with headers, or
one of our transport errors), the attempt number and whether a repeat is harmless, and
returns the seconds to wait or ``None`` (do not repeat). Plain requests and the inner
requests of a ``$batch`` both go through :func:`retry_loop` with it, so they cannot drift
apart again (the batch path once ignored ``RateLimit-Reset``).

The rules:

* 429 (throttled: the request was not processed) is repeated for every method, after the
  server's wait: the larger of ``Retry-After`` and ``RateLimit-Reset``, honoured up to
  ``max_retry_after`` (an hour: a sanity bound, not a cap on Microsoft's guidance).
* 503/504 are repeated only when the request is idempotent: a send or create that got
  them may have been processed (Microsoft Q&A 2286986: four retried sendMail 504s, four
  emails). The client then raises :class:`~automation.errors.OutcomeUnknownError`.
* :class:`~automation.errors.ConnectFailed` (never sent) is repeated for every method,
  :class:`~automation.errors.ResponseLost` only when idempotent, and
  :class:`~automation.errors.TLSFailed` never.
* Idempotent by method: GET, HEAD, OPTIONS, PUT, DELETE and PATCH (Graph's PATCH sets the
  given properties, so a repeat leaves the same state; with ``If-Match`` a repeat after
  success answers 412, never a second write). POST is not, unless the caller says so.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from automation.errors import ConnectFailed, GraphTransportError, TLSFailed

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "UNKNOWN_OUTCOME_STATUSES",
    "Reply",
    "RetryPolicy",
    "is_idempotent",
    "parse_retry_after",
    "retry_loop",
    "server_wait",
]

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 503, 504})
# A non-idempotent request answered with one of these may have been processed.
UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
_DELTA_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
# Waits longer than this are logged at WARNING: the run is visibly paused.
LONG_WAIT = 60.0

R = TypeVar("R")


def is_idempotent(method: str, explicit: bool | None = None) -> bool:
    """Whether repeating a request is harmless: ``explicit`` when given, else by method."""
    return method.upper() in IDEMPOTENT_METHODS if explicit is None else explicit


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP-date).

    Graph sends fractional seconds too (``2.128``). Returns ``None`` when the value is
    absent or not understood (negative numbers included: the caller then backs off on its
    own); a date in the past gives ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.match(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def server_wait(headers: Mapping[str, str], now: datetime) -> float | None:
    """The server's requested wait: the larger of ``Retry-After`` and ``RateLimit-Reset``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    candidates = [
        parse_retry_after(lowered.get("retry-after"), now),
        parse_retry_after(lowered.get("ratelimit-reset"), now),
    ]
    known = [c for c in candidates if c is not None]
    return max(known) if known else None


@dataclass(frozen=True, slots=True)
class Reply:
    """What an attempt got back when it got an HTTP answer: the status and headers."""

    status: int
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How long and how often to retry; a value, so tests and settings can vary it."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # A sanity bound on the server's wait, not a cap: Microsoft says to wait as told.
    max_retry_after: float = 3600.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        A server's ``Retry-After`` wins (bounded by ``max_retry_after``); otherwise
        exponential backoff from ``backoff_base``, capped at ``backoff_cap``, with
        +/- ``jitter`` (a fraction) so parallel workers do not retry in step.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, attempt - 1))
        spread = 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        return max(0.0, min(self.backoff_cap, base * spread))

    def decide(
        self,
        outcome: Reply | GraphTransportError,
        attempt: int,
        *,
        idempotent: bool,
        rng: random.Random | None = None,
        now: datetime | None = None,
    ) -> float | None:
        """Seconds to wait before repeating, or ``None``: do not repeat (see the module rules).

        Args:
            outcome: the status and headers of the answer, or the transport error.
            attempt: the number of the attempt that produced it (1-based).
            idempotent: whether a repeat after a possibly processed request is harmless.
            rng: jitter source (a seeded one in tests); none: no jitter.
            now: the clock for HTTP-date ``Retry-After`` values.
        """
        if attempt >= self.max_attempts:
            return None
        rng = rng or _NO_JITTER
        if isinstance(outcome, GraphTransportError):
            if isinstance(outcome, TLSFailed):
                return None  # a certificate problem does not heal by waiting
            if isinstance(outcome, ConnectFailed) or idempotent:
                return self.delay(attempt, None, rng)
            return None  # ResponseLost on a send or create: it may have been processed
        if outcome.status not in RETRYABLE_STATUSES:
            return None
        if outcome.status != 429 and not idempotent:
            return None
        wait = server_wait(outcome.headers, now or datetime.now(tz=UTC))
        return self.delay(attempt, wait, rng)


class _Midpoint(random.Random):
    """A "random" source that always answers 0.5: backoff without jitter."""

    def random(self) -> float:
        return 0.5


_NO_JITTER = _Midpoint()


def retry_loop(
    attempt_once: Callable[[int], R],
    wait_after: Callable[[R, int], float | None],
    sleep: Callable[[float], None],
    *,
    describe: Callable[[R], str],
) -> R:
    """Run ``attempt_once(n)`` until ``wait_after(result, n)`` says stop; the last result.

    The one loop for plain requests and ``$batch`` chunks: ``wait_after`` applies
    :meth:`RetryPolicy.decide` to whatever the attempt produced, and ``describe`` names
    the result in the log line (no bodies, no tokens).
    """
    attempt = 0
    while True:
        attempt += 1
        result = attempt_once(attempt)
        wait = wait_after(result, attempt)
        if wait is None:
            return result
        # A long server-requested wait pauses the run: say so where operators look.
        level = logging.WARNING if wait > LONG_WAIT else logging.INFO
        log.log(level, "graph %s, retry %d in %.2fs", describe(result), attempt, wait)
        sleep(wait)
