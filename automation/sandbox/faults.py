"""Fault injection: Microsoft's failure modes, off by default, switched on by tests or ``--faults``.

Latency, a share of 429s and 503s (throttle storms), one-off failures on a route (``when=
"after"``: processed, then the answer was lost), the status of a duplicate unique value, the
Sent Items lag and how long an event's transactionId is remembered. docs/sandbox-rules.md
lists each with its Microsoft source.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class OneOff:
    """Fail the next ``count`` requests matching ``method`` and ``path`` (a regex).

    ``when="before"`` answers the failure without doing the work; ``"after"`` does the
    work and then answers the failure (a lost response, as after a crash or a timeout).
    """

    method: str
    path: str
    status: int = 503
    count: int = 1
    when: str = "before"
    retry_after: str | None = None
    code: str = ""


SENT_ITEMS_LAG_MODES = frozenset({"invisible", "outbox"})


@dataclass(slots=True)
class FaultPlan:
    """What the sandbox is told to get wrong; applies to Graph and upload routes only."""

    latency_ms: float = 0.0
    throttle_rate: float = 0.0
    unavailable_rate: float = 0.0
    retry_after: str = "1"
    seed: int | None = None
    one_offs: list[OneOff] = field(default_factory=list)
    # Status of a duplicate value in a unique column: Graph's is undocumented; SharePoint REST
    # answers 500 SPDuplicateValuesFoundException (pnp/pnpcore#1280). 409 is the other outcome.
    duplicate_status: int = 500
    # Sent Items lag (sendMail page: a 202 "does not indicate that the request processing has
    # completed"; audit F4): seconds between the 202 and the copy landing in Sent Items.
    sent_items_delay: float = 0.0
    # Where the message is meanwhile, undocumented: "invisible" (nowhere in the mailbox) or
    # "outbox" (listed by /messages in the Outbox, not in mailFolders/SentItems).
    sent_items_lag: str = "invisible"
    # How long Outlook remembers an event's transactionId (event resource page: "for the
    # server to avoid redundant POST operations in case of client retries"): the window is
    # undocumented. A repeat POST within it answers the event already made; 0 = ignored.
    event_transaction_window: float = 300.0


@dataclass(frozen=True, slots=True)
class Injected:
    """A failure chosen for one request."""

    status: int
    code: str
    message: str
    when: str
    headers: dict[str, str]


class Faults:
    """Thread-safe holder of the current fault plan."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self.plan = plan or FaultPlan()
        self._rng = random.Random(self.plan.seed)

    def configure(self, settings: dict[str, Any]) -> None:
        """Replace the plan from a JSON object (the admin endpoint and ``--faults``)."""
        one_offs = [OneOff(**item) for item in settings.get("one_offs", [])]
        for item in one_offs:
            re.compile(item.path)
            if item.when not in {"before", "after"}:
                raise ValueError("when must be 'before' or 'after'")
        plan = FaultPlan(
            latency_ms=float(settings.get("latency_ms", 0.0)),
            throttle_rate=float(settings.get("throttle_rate", 0.0)),
            unavailable_rate=float(settings.get("unavailable_rate", 0.0)),
            retry_after=str(settings.get("retry_after", "1")),
            seed=settings.get("seed"),
            one_offs=one_offs,
            duplicate_status=int(settings.get("duplicate_status", 500)),
            sent_items_delay=float(settings.get("sent_items_delay", 0.0)),
            sent_items_lag=str(settings.get("sent_items_lag", "invisible")),
            event_transaction_window=float(settings.get("event_transaction_window", 300.0)),
        )
        if plan.duplicate_status not in {409, 500}:
            raise ValueError("duplicate_status must be 409 or 500")
        if plan.sent_items_lag not in SENT_ITEMS_LAG_MODES:
            raise ValueError("sent_items_lag must be 'invisible' or 'outbox'")
        if plan.sent_items_delay < 0:
            raise ValueError("sent_items_delay must be >= 0")
        if plan.event_transaction_window < 0:
            raise ValueError("event_transaction_window must be >= 0")
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)

    def add_one_off(self, one_off: OneOff) -> None:
        """Queue one more one-off failure."""
        re.compile(one_off.path)
        with self._lock:
            self.plan.one_offs.append(one_off)

    def to_dict(self) -> dict[str, Any]:
        """The current plan as JSON."""
        with self._lock:
            return asdict(self.plan)

    @property
    def latency_seconds(self) -> float:
        """Delay to add to each request."""
        return self.plan.latency_ms / 1000.0

    def decide(self, method: str, path: str) -> Injected | None:
        """The failure for this request, if any (one-offs first, then random shares)."""
        with self._lock:
            for item in self.plan.one_offs:
                if (
                    item.count > 0
                    and item.method.upper() in {method.upper(), "*"}
                    and re.search(item.path, path)
                ):
                    item.count -= 1
                    if item.count <= 0:
                        self.plan.one_offs.remove(item)
                    headers = {"Retry-After": item.retry_after} if item.retry_after else {}
                    code = item.code or _default_code(item.status)
                    return Injected(item.status, code, "Injected failure.", item.when, headers)
            roll = self._rng.random()
            if roll < self.plan.throttle_rate:
                return Injected(
                    429,
                    "TooManyRequests",
                    "Please retry again later.",
                    "before",
                    {"Retry-After": self.plan.retry_after},
                )
            if roll < self.plan.throttle_rate + self.plan.unavailable_rate:
                return Injected(
                    503,
                    "serviceNotAvailable",
                    "The service is temporarily unavailable.",
                    "before",
                    {"Retry-After": self.plan.retry_after},
                )
        return None


def _default_code(status: int) -> str:
    return {
        429: "TooManyRequests",
        500: "generalException",
        502: "badGateway",
        503: "serviceNotAvailable",
        504: "gatewayTimeout",
    }.get(status, "generalException")
