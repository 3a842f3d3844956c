"""The one retry decision, as a table: outcome x method -> wait or stop."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from automation.errors import ConnectFailed, GraphTransportError, ResponseLost, TLSFailed
from automation.graph.retry import Reply, RetryPolicy, is_idempotent, server_wait

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=30.0, jitter=0.0)
URL = "https://graph.test/v1.0/x"


def reply(status: int, **headers: str) -> Reply:
    return Reply(status, {k.replace("_", "-"): v for k, v in headers.items()})


CASES: list[tuple[str, Reply | GraphTransportError, int, bool, float | None]] = [
    # name, outcome, attempt, idempotent, expected wait
    ("429 any method, Retry-After", reply(429, Retry_After="2.128"), 1, False, 2.128),
    ("429 without header backs off", reply(429), 2, False, 1.0),
    ("429 RateLimit-Reset larger", reply(429, Retry_After="2", RateLimit_Reset="9"), 1, True, 9.0),
    ("429 long wait honoured", reply(429, Retry_After="600"), 1, False, 600.0),
    ("429 absurd wait bounded", reply(429, Retry_After="999999"), 1, True, 3600.0),
    (
        "429 HTTP-date",
        reply(429, Retry_After=format_datetime(NOW + timedelta(seconds=30), usegmt=True)),
        1,
        True,
        30.0,
    ),
    ("429 budget spent", reply(429, Retry_After="1"), 4, True, None),
    ("503 idempotent", reply(503, Retry_After="3"), 1, True, 3.0),
    ("503 send/create", reply(503, Retry_After="3"), 1, False, None),
    ("504 idempotent backs off", reply(504), 3, True, 2.0),
    ("504 send/create", reply(504), 1, False, None),
    ("500 never", reply(500), 1, True, None),
    ("502 never", reply(502), 1, True, None),
    ("404 never", reply(404), 1, True, None),
    ("200 never", reply(200), 1, True, None),
    ("connect failed, send", ConnectFailed("refused", method="POST", url=URL), 1, False, 0.5),
    ("connect failed, budget", ConnectFailed("refused", method="GET", url=URL), 4, True, None),
    ("answer lost, read", ResponseLost("timeout", method="GET", url=URL), 2, True, 1.0),
    ("answer lost, send", ResponseLost("timeout", method="POST", url=URL), 1, False, None),
    ("TLS never", TLSFailed("bad cert", method="GET", url=URL), 1, True, None),
]


@pytest.mark.parametrize(
    ("outcome", "attempt", "idempotent", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(
    outcome: Reply | GraphTransportError, attempt: int, idempotent: bool, expected: float | None
) -> None:
    assert POLICY.decide(outcome, attempt, idempotent=idempotent, now=NOW) == expected


def test_backoff_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0, jitter=0.25)
    rng = random.Random(5)
    waits = [policy.decide(reply(503), 3, idempotent=True, rng=rng) for _ in range(50)]
    assert all(w is not None and 3.0 <= w <= 5.0 for w in waits)
    assert len(set(waits)) > 1


@pytest.mark.parametrize(
    ("method", "explicit", "expected"),
    [
        ("GET", None, True),
        ("put", None, True),
        ("DELETE", None, True),
        ("PATCH", None, True),
        ("POST", None, False),
        ("POST", True, True),
        ("PATCH", False, False),
    ],
)
def test_is_idempotent(method: str, explicit: bool | None, expected: bool) -> None:
    assert is_idempotent(method, explicit) is expected


def test_server_wait_reads_headers_in_any_case() -> None:
    assert server_wait({"retry-after": "4", "ratelimit-reset": "2"}, NOW) == 4.0
    assert server_wait({}, NOW) is None


def test_long_waits_are_logged_as_warnings(caplog: pytest.LogCaptureFixture) -> None:
    from automation.graph.retry import retry_loop

    results = iter([700.0, 1.0, None])
    sleeps: list[float] = []
    with caplog.at_level("INFO"):
        retry_loop(
            lambda n: n,
            lambda _, __: next(results),
            sleeps.append,
            describe=lambda n: f"call {n}",
        )
    assert sleeps == [700.0, 1.0]
    levels = [r.levelname for r in caplog.records]
    assert levels == ["WARNING", "INFO"]
