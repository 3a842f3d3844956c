"""GraphClient against an injected MockTransport: retries, errors, paging, batching, logs."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from automation.errors import (
    BadRequestError,
    ConflictError,
    ConnectFailed,
    GoneError,
    GraphError,
    GraphHTTPError,
    GraphTransportError,
    NotFoundError,
    OutcomeUnknownError,
    PreconditionFailedError,
    ResponseLost,
    ServerError,
    ThrottledError,
    UnauthorizedError,
)
from automation.graph.client import (
    BatchRequest,
    BatchResponse,
    GraphClient,
    GraphRequest,
    GraphResponse,
    MockTransport,
    RetryPolicy,
    SentRequest,
    parse_retry_after,
    redact_url,
)
from automation.graph.transport import transport_error

BASE = "https://graph.test/v1.0"
TOKEN = "tok-SECRET-0123456789"


class FakeTokens:
    def __init__(self, tokens: list[str] | None = None) -> None:
        self._tokens = tokens or [TOKEN]
        self.index = 0
        self.invalidations = 0

    def token(self) -> str:
        return self._tokens[min(self.index, len(self._tokens) - 1)]

    def invalidate(self) -> None:
        self.invalidations += 1
        self.index += 1


def lost(text: str) -> ResponseLost:
    """What the transport raises when a request went out and its answer never came."""
    return ResponseLost(f"no response ({text})", method="POST", url=BASE)


def resp(
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    url: str = "",
) -> GraphResponse:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return GraphResponse(status=status, headers=dict(headers or {}), body=raw, url=url)


def error_body(code: str, message: str, request_id: str = "inner-rid") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"request-id": request_id, "date": "2024-05-01T10:00:00"},
        }
    }


def scripted(*answers: GraphResponse | BaseException) -> Callable[[SentRequest], GraphResponse]:
    queue: Iterator[GraphResponse | BaseException] = iter(answers)

    def handler(_: SentRequest) -> GraphResponse:
        answer = next(queue)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return handler


def make_client(
    handler: Callable[[SentRequest], GraphResponse],
    *,
    tokens: FakeTokens | None = None,
    retry: RetryPolicy | None = None,
) -> tuple[GraphClient, MockTransport, list[float]]:
    transport = MockTransport(handler)
    sleeps: list[float] = []
    client = GraphClient(
        base_url=BASE,
        tokens=tokens or FakeTokens(),
        transport=transport,
        retry=retry or RetryPolicy(),
        sleep=sleeps.append,
        rng=random.Random(1234),
    )
    return client, transport, sleeps


# ----------------------------------------------------------------------------- Retry-After


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("2.128", 2.128),
        (" 30 ", 30.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=10), usegmt=True), 10.0),
        (format_datetime(NOW - timedelta(seconds=10), usegmt=True), 0.0),
        ("soon", None),
        ("-3", None),
        ("", None),
        (None, None),
        ("1e3", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_delay_prefers_server_value_capped_and_backs_off_with_bounded_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0, max_retry_after=60.0, jitter=0.25)
    rng = random.Random(7)
    assert policy.delay(1, 2.128, rng) == 2.128
    assert policy.delay(1, 500.0, rng) == 60.0
    for attempt, nominal in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        wait = policy.delay(attempt, None, rng)
        assert nominal * 0.75 <= wait <= min(4.0, nominal * 1.25)


# ----------------------------------------------------------------------------- retries


def test_429_waits_for_retry_after_then_succeeds() -> None:
    client, transport, sleeps = make_client(
        scripted(
            resp(429, error_body("TooManyRequests", "slow down"), {"Retry-After": "2.128"}),
            resp(200, {"ok": True}),
        )
    )
    assert client.get_json("/users/a") == {"ok": True}
    assert sleeps == [2.128]
    assert len(transport.calls) == 2
    snap = client.stats.snapshot()
    assert (snap.requests, snap.round_trips, snap.writes) == (2, 1, 0)


def test_503_storm_on_idempotent_post_is_retried_until_success_as_one_logical_call() -> None:
    client, transport, sleeps = make_client(
        scripted(
            resp(503), resp(503, headers={"Retry-After": "1"}), resp(503), resp(201, {"id": "9"})
        )
    )
    result = client.request("POST", "/planner/tasks", json={"title": "x"}, idempotent=True)
    assert result.status == 201
    assert [c.method for c in transport.calls] == ["POST"] * 4
    assert len(sleeps) == 3
    assert sleeps[1] == 1.0
    # the same client-request-id identifies every attempt of one logical call
    assert len({c.headers["client-request-id"] for c in transport.calls}) == 1
    snap = client.stats.snapshot()
    assert (snap.requests, snap.round_trips, snap.writes) == (4, 1, 1)


def test_504_is_retried() -> None:
    client, transport, sleeps = make_client(scripted(resp(504), resp(200, {"v": 1})))
    assert client.get_json("/sites/root") == {"v": 1}
    assert len(transport.calls) == 2
    assert len(sleeps) == 1


def test_budget_exhausted_raises_throttled_error_with_request_id() -> None:
    answer = resp(
        429,
        error_body("TooManyRequests", "Please retry again later."),
        {"Retry-After": "3", "request-id": "rid-429"},
    )
    client, transport, sleeps = make_client(lambda _: answer, retry=RetryPolicy(max_attempts=4))
    with pytest.raises(ThrottledError) as info:
        client.request("GET", "/sites/root")
    err = info.value
    assert (err.status, err.code, err.request_id) == (429, "TooManyRequests", "rid-429")
    assert err.retry_after == 3.0
    assert len(transport.calls) == 4
    assert sleeps == [3.0, 3.0, 3.0]


def test_503_budget_exhausted_raises_server_error() -> None:
    client, _, _ = make_client(lambda _: resp(503), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(ServerError) as info:
        client.request("GET", "/x")
    assert info.value.status == 503


def test_500_is_not_retried() -> None:
    client, transport, sleeps = make_client(lambda _: resp(500, error_body("generalException", "")))
    with pytest.raises(ServerError):
        client.request("GET", "/x")
    assert len(transport.calls) == 1
    assert sleeps == []


def test_read_timeout_on_post_is_not_retried() -> None:
    client, transport, sleeps = make_client(scripted(lost("read timed out")))
    with pytest.raises(OutcomeUnknownError) as info:
        client.request("POST", "/users/m/sendMail", json={"message": {}})
    assert len(transport.calls) == 1
    assert sleeps == []
    assert info.value.method == "POST"
    assert info.value.url == f"{BASE}/users/m/sendMail"
    assert "may have been processed" in str(info.value)


def test_connection_reset_on_post_is_not_retried() -> None:
    reset = lost("connection reset by peer")
    client, transport, _ = make_client(scripted(reset))
    with pytest.raises(OutcomeUnknownError):
        client.request("POST", "/x", json={})
    assert len(transport.calls) == 1


def test_read_timeout_on_get_is_retried() -> None:
    client, transport, sleeps = make_client(scripted(lost("slow"), resp(200, {"v": 2})))
    assert client.get_json("/x") == {"v": 2}
    assert len(transport.calls) == 2
    assert len(sleeps) == 1


def test_read_timeout_on_post_marked_idempotent_is_retried() -> None:
    client, transport, _ = make_client(scripted(lost("slow"), resp(200, {})))
    client.request("POST", "/x", json={}, idempotent=True)
    assert len(transport.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [
        ConnectFailed("connect timed out", method="POST", url=f"{BASE}/users/m/sendMail"),
        ConnectFailed("Connection refused", method="POST", url=f"{BASE}/users/m/sendMail"),
    ],
    ids=["connect-timeout", "refused"],
)
def test_connect_error_on_post_is_retried(failure: Exception) -> None:
    client, transport, sleeps = make_client(scripted(failure, resp(202)))
    assert client.request("POST", "/users/m/sendMail", json={}).status == 202
    assert len(transport.calls) == 2
    assert len(sleeps) == 1


def test_real_refused_connection_is_classified_as_never_sent() -> None:
    # A real requests failure against a closed loopback port (nothing listens on it).
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.ConnectionError) as info:
        session.post("http://127.0.0.1:9/", data=b"x", timeout=2)
    mapped = transport_error(info.value, GraphRequest(method="POST", url="http://127.0.0.1:9/"))
    assert isinstance(mapped, ConnectFailed)
    client, transport, _ = make_client(scripted(mapped, resp(201, {})))
    assert client.request("POST", "/x", json={}).status == 201
    assert len(transport.calls) == 2


def test_transport_failure_after_budget_raises_transport_error() -> None:
    client, transport, _ = make_client(
        lambda _: (_ for _ in ()).throw(ConnectFailed("down", method="GET", url=BASE)),
        retry=RetryPolicy(max_attempts=3),
    )
    with pytest.raises(GraphTransportError):
        client.get_json("/x")
    assert len(transport.calls) == 3


def test_401_invalidates_token_and_retries_once() -> None:
    tokens = FakeTokens(["old-token", "new-token"])
    client, transport, _ = make_client(
        scripted(resp(401, error_body("InvalidAuthenticationToken", "expired")), resp(200, {})),
        tokens=tokens,
    )
    client.get_json("/x")
    assert tokens.invalidations == 1
    assert [c.headers["Authorization"] for c in transport.calls] == [
        "Bearer old-token",
        "Bearer new-token",
    ]


def test_second_401_raises_unauthorized() -> None:
    tokens = FakeTokens(["a", "b", "c"])
    client, transport, _ = make_client(
        lambda _: resp(401, error_body("InvalidAuthenticationToken", "nope")), tokens=tokens
    )
    with pytest.raises(UnauthorizedError):
        client.get_json("/x")
    assert len(transport.calls) == 2
    assert tokens.invalidations == 1


# ----------------------------------------------------------------------------- requests and errors


def test_request_headers_body_and_url_building() -> None:
    client, transport, _ = make_client(lambda _: resp(201, {}))
    client.request(
        "POST",
        "/sites/s/lists/l/items",
        params={"$filter": "fields/Key eq 'a b'", "$expand": "fields"},
        json={"fields": {"Title": "T"}},
        headers={"If-Match": '"etag,1"'},
    )
    sent = transport.calls[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"].startswith("NONISV|OPCC|")
    assert sent.headers["If-Match"] == '"etag,1"'
    uuid.UUID(sent.headers["client-request-id"])
    assert sent.json() == {"fields": {"Title": "T"}}
    split = urlsplit(sent.url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == f"{BASE}/sites/s/lists/l/items"
    assert parse_qs(split.query) == {"$filter": ["fields/Key eq 'a b'"], "$expand": ["fields"]}
    assert "+" not in split.query


def test_absolute_url_used_verbatim_and_unauthenticated_has_no_authorization() -> None:
    client, transport, _ = make_client(lambda _: resp(202, {}))
    url = "https://upload.test/session/1?tempauth=abc&x=1"
    client.request("PUT", url, data=b"123", authenticated=False)
    assert transport.calls[0].url == url
    assert "Authorization" not in transport.calls[0].headers
    assert transport.calls[0].body == b"123"


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (400, BadRequestError, "invalidRequest"),
        (404, NotFoundError, "itemNotFound"),
        (409, ConflictError, "nameAlreadyExists"),
        (412, PreconditionFailedError, "resourceModified"),
        (410, GoneError, "resyncChangesApplyDifferences"),
    ],
)
def test_error_mapping_carries_details(status: int, cls: type[GraphHTTPError], code: str) -> None:
    location = "https://graph.test/v1.0/sites/s/lists/l/items/delta?token=fresh"
    headers = {"request-id": "rid-1"}
    if status == 410:
        headers["Location"] = location
    client, _, sleeps = make_client(
        lambda _: resp(status, error_body(code, "Something wrong"), headers)
    )
    with pytest.raises(cls) as info:
        client.request("GET", f"{BASE}/sites/s/lists/l/items/delta?token=SECRETTOKEN&$top=5")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.code == code
    assert err.graph_message == "Something wrong"
    assert err.request_id == "rid-1"
    assert err.method == "GET"
    assert err.url == f"{BASE}/sites/s/lists/l/items/delta?token=REDACTED&$top=5"
    assert "SECRETTOKEN" not in str(err)
    assert err.location == (location if status == 410 else None)
    assert sleeps == []


def test_error_request_id_from_inner_error_and_non_json_body() -> None:
    client, _, _ = make_client(
        scripted(
            resp(403, error_body("accessDenied", "no", "inner-7")), resp(502, b"<html>bad</html>")
        )
    )
    with pytest.raises(GraphHTTPError) as first:
        client.get_json("/a")
    assert first.value.request_id == "inner-7"
    assert first.value.code == "accessDenied"
    with pytest.raises(ServerError) as second:
        client.get_json("/b")
    assert second.value.code == ""
    assert second.value.graph_message == "Bad Gateway"


def test_ok_statuses_are_returned() -> None:
    client, _, _ = make_client(lambda _: resp(404, error_body("itemNotFound", "gone")))
    assert client.request("GET", "/x", ok={404}).status == 404


def test_redact_url_keeps_path_and_other_parameters() -> None:
    url = "https://h/p/a:/b?authtoken=s1&Tempauth=s2&format=pdf"
    assert redact_url(url) == "https://h/p/a:/b?authtoken=REDACTED&Tempauth=REDACTED&format=pdf"


def test_invalid_json_body_raises_graph_error() -> None:
    client, _, _ = make_client(lambda _: resp(200, b"not json"))
    with pytest.raises(GraphError):
        client.get_json("/x")


# ----------------------------------------------------------------------------- paging


def page_handler(pages: dict[str, GraphResponse]) -> Callable[[SentRequest], GraphResponse]:
    def handler(sent: SentRequest) -> GraphResponse:
        return pages[sent.url]

    return handler


def test_paging_follows_next_links_verbatim_with_the_same_headers() -> None:
    first = f"{BASE}/sites/s/lists/l/items?$expand=fields"
    second = f"{BASE}/sites/s/lists/l/items?$expand=fields&$skiptoken=Paged%3DTRUE%26p_ID%3D2"
    third = "https://other.test/v1.0/sites/s/lists/l/items?$skiptoken=3"
    client, transport, _ = make_client(
        page_handler(
            {
                first: resp(200, {"value": [{"id": "1"}, {"id": "2"}], "@odata.nextLink": second}),
                second: resp(200, {"value": [{"id": "3"}], "@odata.nextLink": third}),
                third: resp(200, {"value": [{"id": "4"}]}),
            }
        )
    )
    items = list(
        client.paged(
            "/sites/s/lists/l/items", params={"$expand": "fields"}, headers={"Prefer": "p"}
        )
    )
    assert [i["id"] for i in items] == ["1", "2", "3", "4"]
    assert [c.url for c in transport.calls] == [first, second, third]
    assert all(c.headers["Prefer"] == "p" for c in transport.calls)


def test_paging_error_midway_raises_after_the_first_page() -> None:
    second = f"{BASE}/next?$skiptoken=2"
    client, _, _ = make_client(
        page_handler(
            {
                f"{BASE}/items": resp(200, {"value": [{"id": "1"}], "@odata.nextLink": second}),
                second: resp(400, error_body("invalidRequest", "bad skiptoken")),
            }
        )
    )
    pages = client.paged("/items")
    assert next(pages)["id"] == "1"
    with pytest.raises(BadRequestError):
        next(pages)


# ----------------------------------------------------------------------------- batch


def batch_handler(
    inner: Callable[[dict[str, Any], int], tuple[int, dict[str, str], Any]],
) -> tuple[Callable[[SentRequest], GraphResponse], list[list[dict[str, Any]]]]:
    """A $batch endpoint; ``inner(request, call_number)`` -> (status, headers, body)."""
    batches: list[list[dict[str, Any]]] = []

    def handler(sent: SentRequest) -> GraphResponse:
        assert sent.url == f"{BASE}/$batch"
        assert sent.method == "POST"
        reqs = sent.json()["requests"]
        batches.append(reqs)
        out = []
        for r in reversed(reqs):  # Graph may answer out of order
            status, headers, body = inner(r, len(batches))
            out.append({"id": r["id"], "status": status, "headers": headers, "body": body})
        return resp(200, {"responses": out})

    return handler, batches


def test_batch_splits_into_chunks_of_at_most_20() -> None:
    handler, batches = batch_handler(lambda r, _: (201, {}, {"echo": r["id"]}))
    client, _, _ = make_client(handler)
    requests_ = [
        BatchRequest(id=str(n), method="POST", url="/planner/tasks", body={"title": f"t{n}"})
        for n in range(45)
    ]
    results = client.batch(requests_)
    assert [len(b) for b in batches] == [20, 20, 5]
    assert list(results) == [str(n) for n in range(45)]
    assert all(r.status == 201 and r.body == {"echo": r.id} for r in results.values())
    assert batches[0][0]["headers"]["Content-Type"] == "application/json"
    snap = client.stats.snapshot()
    assert (snap.requests, snap.round_trips, snap.writes) == (3, 3, 45)


def test_batch_keeps_depends_on_chains_in_one_chunk() -> None:
    handler, batches = batch_handler(lambda r, _: (200, {}, {}))
    client, _, _ = make_client(handler)
    reqs = [BatchRequest(id=f"i{n}", method="GET", url=f"/users/{n}") for n in range(18)]
    reqs += [
        BatchRequest(id="a", method="POST", url="/planner/tasks", body={}),
        BatchRequest(id="b", method="PATCH", url="/x", body={}, depends_on=("a",)),
        BatchRequest(id="c", method="PATCH", url="/y", body={}, depends_on=("b",)),
    ]
    results = client.batch(reqs)
    assert len(results) == 21
    assert all(len(b) <= 20 for b in batches)
    chain_batches = {n for n, b in enumerate(batches) for r in b if r["id"] in {"a", "b", "c"}}
    assert len(chain_batches) == 1
    chain = batches[chain_batches.pop()]
    by_id = {r["id"]: r for r in chain}
    assert by_id["b"]["dependsOn"] == ["a"]
    assert by_id["c"]["dependsOn"] == ["b"]


def test_batch_rejects_a_chain_longer_than_20_and_unknown_dependencies() -> None:
    client, _, _ = make_client(lambda _: resp(200, {"responses": []}))
    chain = [BatchRequest(id="0", method="GET", url="/x")] + [
        BatchRequest(id=str(n), method="GET", url="/x", depends_on=(str(n - 1),))
        for n in range(1, 21)
    ]
    with pytest.raises(ValueError, match="exceeds"):
        client.batch(chain)
    with pytest.raises(ValueError, match="unknown"):
        client.batch([BatchRequest(id="1", method="GET", url="/x", depends_on=("9",))])
    with pytest.raises(ValueError, match="duplicate"):
        client.batch(
            [
                BatchRequest(id="A", method="GET", url="/x"),
                BatchRequest(id="a", method="GET", url="/y"),
            ]
        )


def test_batch_inner_429_retried_after_longest_retry_after() -> None:
    def inner(r: dict[str, Any], call: int) -> tuple[int, dict[str, str], Any]:
        if call == 1 and r["id"] == "2":
            return 429, {"Retry-After": "7"}, error_body("TooManyRequests", "slow")
        if call == 1 and r["id"] == "4":
            return 503, {"retry-after": "3"}, error_body("serviceNotAvailable", "busy")
        return 201, {}, {"id": f"task-{r['id']}", "call": call}

    handler, batches = batch_handler(inner)
    client, _, sleeps = make_client(handler)
    reqs = [
        BatchRequest(id=str(n), method="POST", url="/planner/tasks", body={"n": n})
        for n in range(1, 4)
    ] + [BatchRequest(id="4", method="PATCH", url="/z", body={})]
    results = client.batch(reqs)
    assert sleeps == [7.0]
    assert [sorted(r["id"] for r in b) for b in batches] == [["1", "2", "3", "4"], ["2", "4"]]
    assert all(r.status == 201 for r in results.values())
    assert results["2"].body == {"id": "task-2", "call": 2}
    assert results["1"].body == {"id": "task-1", "call": 1}
    assert client.stats.writes == 4


def test_batch_serial_chain_retries_the_throttled_step_and_its_424s_as_a_chain() -> None:
    def inner(r: dict[str, Any], call: int) -> tuple[int, dict[str, str], Any]:
        if call == 1 and r["id"] == "b":
            # RateLimit-Reset is honoured inside batches as for single calls.
            return 429, {"Retry-After": "2", "RateLimit-Reset": "5"}, error_body("x", "slow")
        if call == 1 and r["id"] == "c":
            return 424, {}, error_body("failedDependency", "dependency failed")
        return 200, {}, {"id": r["id"], "call": call}

    handler, batches = batch_handler(inner)
    client, _, sleeps = make_client(handler)
    results = client.batch(
        [
            BatchRequest(id="a", method="PATCH", url="/a", body={}),
            BatchRequest(id="b", method="PATCH", url="/b", body={}, depends_on=("a",)),
            BatchRequest(id="c", method="PATCH", url="/c", body={}, depends_on=("b",)),
        ]
    )
    assert sleeps == [5.0]
    retried = {r["id"]: r for r in batches[1]}
    assert sorted(retried) == ["b", "c"]
    assert "dependsOn" not in retried["b"]  # "a" already succeeded
    assert retried["c"]["dependsOn"] == ["b"]
    assert {rid: r.body["call"] for rid, r in results.items()} == {"a": 1, "b": 2, "c": 2}


def test_batch_inner_throttling_past_budget_is_returned_for_the_caller_to_raise() -> None:
    handler, batches = batch_handler(
        lambda r, _: (
            429,
            {"Retry-After": "1", "request-id": "rid-b"},
            error_body("TooManyRequests", "x"),
        )
    )
    client, _, sleeps = make_client(handler, retry=RetryPolicy(max_attempts=3))
    results = client.batch([BatchRequest(id="1", method="GET", url="/users/a")])
    assert len(batches) == 3
    assert sleeps == [1.0, 1.0]
    with pytest.raises(ThrottledError) as info:
        results["1"].raise_for_status("GET", "/users/a")
    assert info.value.request_id == "rid-b"


def test_batch_response_raise_for_status_maps_errors() -> None:
    ok = BatchResponse(id="1", status=204, headers={}, body=None)
    ok.raise_for_status("PATCH", "/x")
    bad = BatchResponse(
        id="2", status=412, headers={"Request-Id": "r"}, body=error_body("", "stale", "inner")
    )
    with pytest.raises(PreconditionFailedError) as info:
        bad.raise_for_status("PATCH", "/planner/tasks/t")
    assert info.value.request_id == "r"
    assert info.value.url == "/planner/tasks/t"


# ----------------------------------------------------------------------------- logging and threads


def test_logs_never_contain_token_authorization_or_bodies(caplog: pytest.LogCaptureFixture) -> None:
    marker = "BODY-MARKER-4242"
    client, _, _ = make_client(
        scripted(
            resp(
                429, {"error": {"code": "TooManyRequests", "message": marker}}, {"Retry-After": "1"}
            ),
            resp(200, {"secret": marker}),
            resp(400, {"error": {"code": "invalidRequest", "message": marker}}),
            lost(marker),
        ),
        retry=RetryPolicy(max_attempts=2),
    )
    with caplog.at_level(logging.DEBUG):
        client.request("POST", "/x", json={"payload": marker})
        with pytest.raises(BadRequestError):
            client.request("POST", "/y", json={"payload": marker})
        with pytest.raises(OutcomeUnknownError):
            client.request("POST", "/z?authtoken=" + TOKEN, json={"payload": marker})
    text = caplog.text
    assert "/x" in text  # the logs do name the calls
    assert "invalidRequest" in text
    assert TOKEN not in text
    assert marker not in text
    assert "Authorization" not in text
    assert "Bearer" not in text


def test_stats_are_thread_safe() -> None:
    client, _, _ = make_client(lambda _: resp(200, {}))

    def work() -> None:
        for _ in range(50):
            client.request("GET", "/x")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.stats.requests == 400
    assert client.stats.round_trips == 400


# ----------------------------------------------------------------------------- real transport


def test_requests_transport_over_loopback_without_following_redirects() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/target")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = json.dumps({"auth": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("request-id", "rid-loop")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/v1.0"
        client = GraphClient(base_url=base, tokens=FakeTokens(), sleep=lambda _: None)
        moved = client.request("GET", "/redirect", allow_redirects=False)
        assert moved.status == 302
        assert moved.headers["location"] == "/target"
        answer = client.request("GET", "/item")
        assert answer.json() == {"auth": f"Bearer {TOKEN}"}
        assert answer.request_id == "rid-loop"
        client.close()
    finally:
        server.shutdown()
        server.server_close()
