"""Exactly-once mail: a send is recorded as pending before it goes, and confirmed after.

Microsoft may process a ``sendMail`` (or a draft's ``/send``) and still answer 5xx, or the
answer may be lost; and a message accepted by Exchange reaches Sent Items only some time
after the 202 (DESIGN §2: absence there right after a send proves nothing). So a job:

1. searches the mailbox for the message's idempotency key: found means sent, record it;
2. otherwise, if the item says a send of that key is pending and its stamp is younger than
   ``mail.confirm_minutes``, leaves it for a later pass (:meth:`RunReport.later`): it may
   have gone out and not be visible yet; older (or no pending entry): sends it;
3. before sending, records ``{"key": ..., "at": <UTC stamp>}`` as pending on the item, then
   sends; on a 202 records it sent (the pending entry goes); on an unknown outcome it
   searches the mailbox for up to a minute and records it sent if it shows, else (or after
   a crash) the pending entry stays for step 2 of a later pass; on a failure that proves
   the message did not go (4xx, 429, no connection) the pending entry is removed again.

At most once under Sent Items lag (within the window), at least once after a crash between
the pending record and the send (after the window). A window of 0 turns the confirmation off
(for a mailbox whose Sent Items never lags, such as the sandbox's by default): no pending
entry is written, and a send not found is repeated on the next pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol

from automation.domain.calendar import parse_stamp, utc_stamp
from automation.errors import AutomationError, OutcomeUnknownError

log = logging.getLogger(__name__)

POLL_SECONDS = 60.0
"""How long a pass searches for a send whose answer it lost before leaving it for later."""
FIRST_PAUSE = 0.25
SENDS_WITHOUT_WINDOW = 3
"""With no window: sends made in one pass while each answer is lost and the mailbox shows none."""

PENDING = "pending"
"""The key, in ``S55Mail`` and ``S55Reminders``, of the sends whose outcome is unconfirmed."""


class SentSearch(Protocol):
    """The mailbox search by idempotency key (``automation.graph.mail.Mail``)."""

    def find_sent(self, key: str) -> dict[str, Any] | None: ...


class Step(StrEnum):
    """What to do about one idempotency key now."""

    RECORD = "record"  # the mailbox has it: record it as sent
    WAIT = "wait"  # pending and still within the confirmation window: leave it
    SEND = "send"  # send it (again)


def pending_entry(key: str, now: dt.datetime) -> dict[str, str]:
    """The bookkeeping of a send about to happen."""
    return {"key": key, "at": utc_stamp(now)}


def confirming(entry: Mapping[str, Any] | None, key: str, now: dt.datetime, minutes: float) -> bool:
    """Whether ``entry`` is a pending send of ``key`` still within its confirmation window."""
    if not isinstance(entry, Mapping) or entry.get("key") != key:
        return False
    stamp = parse_stamp(entry.get("at"))
    if stamp is None:
        log.warning("pending send %s has an unreadable stamp; treated as expired", key)
        return False
    return now - stamp < dt.timedelta(minutes=minutes)


def next_step(
    mail: SentSearch, key: str, entry: Mapping[str, Any] | None, *, now: dt.datetime, minutes: float
) -> Step:
    """Search the mailbox for ``key``; then the pending ``entry`` (if any) decides."""
    if mail.find_sent(key) is not None:
        return Step.RECORD
    if confirming(entry, key, now, minutes):
        return Step.WAIT
    return Step.SEND


def send_recorded(
    *,
    mark: Callable[[], None],
    send: Callable[[], object],
    forget: Callable[[], None],
    found: Callable[[], bool],
    minutes: float,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Record the send as pending, send; True when sent, False when the outcome is unknown.

    ``mark`` writes the pending entry, ``forget`` removes it (best effort: a failure there
    only delays the next attempt to the end of the window). A crash anywhere leaves the
    pending entry for the next pass. With a window (``minutes``) of 0 neither is called:
    nothing would ever read the entry.

    After an unknown outcome the mailbox is searched (``found``) with a growing pause for
    up to :data:`POLL_SECONDS` (never longer than the window): a send Exchange did take
    usually shows within seconds, and the pass can then finish what depends on it. With
    no window, one search decides, and a send it does not find is made again (at most
    :data:`SENDS_WITHOUT_WINDOW` times in all).

    Raises:
        AutomationError: the send failed and did not go out (the entry is forgotten).
    """
    if minutes <= 0:
        mark = forget = _nothing
    for attempt in range(1, SENDS_WITHOUT_WINDOW + 1):
        mark()
        try:
            send()
        except OutcomeUnknownError as exc:
            log.warning("send outcome unknown (%s); searching the mailbox", type(exc).__name__)
            if _appears(found, min(minutes * 60.0, POLL_SECONDS), sleep):
                return True
            if minutes > 0 or attempt == SENDS_WITHOUT_WINDOW:
                return False
            # No window: a send the mailbox does not show was not made; send it again.
            continue
        except AutomationError:
            try:
                forget()
            except AutomationError as exc:
                log.warning("pending send not cleared (%s); retried after the window", exc)
            raise
        return True
    return False  # not reached: the last attempt returns


def _appears(found: Callable[[], bool], seconds: float, sleep: Callable[[float], None]) -> bool:
    """Whether ``found`` becomes true within about ``seconds`` (searching with a growing pause)."""
    give_up = time.monotonic() + seconds
    pause = FIRST_PAUSE
    while True:
        if found():
            log.info("the send whose answer was lost is in the mailbox")
            return True
        if time.monotonic() + pause > give_up:
            log.warning("send not found in the mailbox yet; pending until confirmed")
            return False
        sleep(pause)
        pause = min(pause * 2, 8.0)


def _nothing() -> None:
    return None
