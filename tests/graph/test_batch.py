"""Batch shapes, operation values (Op, run, run_all) and non-idempotent calls never re-sent."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from automation.errors import (
    ConflictError,
    DuplicateValueError,
    GraphHTTPError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
)
from automation.graph.batch import (
    BatchRequest,
    BatchResponse,
    BatchShapeError,
    Op,
    check_shape,
    plan_batches,
)
from automation.graph.client import GraphClient, GraphRequest, GraphResponse, MockTransport

BASE = "https://graph.test/v1.0"


class Tokens:
    def token(self) -> str:
        return "tok"

    def invalidate(self) -> None:
        pass


def resp(status: int, body: Any = None, headers: dict[str, str] | None = None) -> GraphResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    return GraphResponse(status=status, headers=headers or {}, body=raw, url="")


def make(
    handler: Callable[[GraphRequest], GraphResponse],
) -> tuple[GraphClient, MockTransport, list[float]]:
    transport = MockTransport(handler)
    sleeps: list[float] = []
    client = GraphClient(
        base_url=BASE,
        tokens=Tokens(),
        transport=transport,
        sleep=sleeps.append,
        rng=random.Random(3),
    )
    return client, transport, sleeps


def batch_endpoint(
    inner: Callable[[dict[str, Any], int], tuple[int, dict[str, str], Any]],
) -> tuple[Callable[[GraphRequest], GraphResponse], list[list[dict[str, Any]]]]:
    """A $batch endpoint that answers like Graph, including 424 after a failed serial step."""
    sent: list[list[dict[str, Any]]] = []

    def handler(request: GraphRequest) -> GraphResponse:
        assert request.url == f"{BASE}/$batch"
        batch = request.json()["requests"]
        sent.append(batch)
        failed: set[str] = set()
        out = []
        for r in batch:
            if any(d in failed for d in r.get("dependsOn", [])):
                status, headers, body = 424, {}, {"error": {"code": "failedDependency"}}
            else:
                status, headers, body = inner(r, len(sent))
            if status >= 400:
                failed.add(r["id"])
            out.append({"id": r["id"], "status": status, "headers": headers, "body": body})
        return resp(200, {"responses": out})

    return handler, sent


def shape_of(batch: list[dict[str, Any]]) -> str:
    deps = [r.get("dependsOn") for r in batch]
    if not any(deps):
        return "parallel"
    if deps[0] is None and all(d == [batch[n]["id"]] for n, d in enumerate(deps[1:])):
        return "serial"
    return "mixed"


def get(rid: str, *, after: tuple[str, ...] = ()) -> BatchRequest:
    return BatchRequest(id=rid, method="GET", url=f"/items/{rid}", depends_on=after)


def patch(rid: str, *, after: tuple[str, ...] = ()) -> BatchRequest:
    return BatchRequest(id=rid, method="PATCH", url=f"/items/{rid}", body={}, depends_on=after)


# ----------------------------------------------------------------------------- shapes


def test_check_shape_accepts_parallel_and_serial_and_refuses_mixed() -> None:
    check_shape([get("a"), get("b")])
    check_shape([get("a"), get("b", after=("a",)), get("c", after=("b",))])
    with pytest.raises(BatchShapeError):
        check_shape([get("a"), get("b"), get("c", after=("a",))])
    with pytest.raises(BatchShapeError):
        check_shape([get("a"), get("b", after=("a",)), get("c", after=("a",))])
    with pytest.raises(BatchShapeError):
        check_shape([get(str(n)) for n in range(21)])


def test_a_join_on_independent_requests_becomes_one_serial_chain() -> None:
    # intake's old shape: N details PATCHes plus the item PATCH depending on all of them.
    requests = [patch("d1"), patch("d2"), patch("d3"), patch("item", after=("d1", "d2", "d3"))]
    (batch,) = plan_batches(requests)
    assert [r.id for r in batch] == ["d1", "d2", "d3", "item"]
    assert [r.depends_on for r in batch] == [(), ("d1",), ("d2",), ("d3",)]


def test_unrelated_groups_are_never_packed_into_one_mixed_batch() -> None:
    requests = [get("x"), patch("a"), patch("b", after=("a",)), get("y"), patch("c")]
    batches = plan_batches(requests)
    assert [[r.id for r in b] for b in batches] == [["x", "y", "c"], ["a", "b"]]
    for batch in batches:
        check_shape(batch)


def test_cycles_are_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        plan_batches([get("a", after=("b",)), get("b", after=("a",))])


def test_a_mixed_request_list_is_split_never_sent_mixed() -> None:
    handler, sent = batch_endpoint(lambda r, _: (200, {}, {"id": r["id"]}))
    client, _, _ = make(handler)
    requests = [get(f"i{n}") for n in range(3)]
    requests += [patch("a"), patch("b"), patch("c", after=("a", "b"))]
    results = client.batch(requests)
    assert sorted(results) == sorted(r.id for r in requests)
    assert [shape_of(b) for b in sent] == ["parallel", "serial"]
    assert len(sent) == 2  # no extra round trip for the split


def test_the_sender_refuses_a_mixed_batch_before_sending() -> None:
    client, transport, _ = make(lambda _: resp(200, {"responses": []}))
    with pytest.raises(BatchShapeError):
        client._send_batch([get("a"), get("b"), get("c", after=("a",))])
    assert transport.calls == []


# ----------------------------------------------------------------------------- responses


def test_raise_for_status_without_arguments_names_the_real_request() -> None:
    request = BatchRequest(id="1", method="GET", url="/sites/s/lists/l/items/7")
    answer = BatchResponse(
        id="1", status=404, headers={}, body={"error": {"code": "itemNotFound"}}, request=request
    )
    with pytest.raises(NotFoundError) as caught:
        answer.raise_for_status()
    assert (caught.value.method, caught.value.url) == ("GET", "/sites/s/lists/l/items/7")
    with pytest.raises(NotFoundError) as old_style:
        answer.raise_for_status("GET", "/other")
    assert old_style.value.url == "/other"


# ----------------------------------------------------------------------------- operations


def item_op(n: int) -> Op[str]:
    def parse(answer: BatchResponse) -> str:
        answer.raise_for_status()
        return str(answer.body["id"])

    return Op("GET", f"/items/{n}", parse)


def test_run_sends_one_plain_request_and_parses_the_answer() -> None:
    client, transport, _ = make(lambda _: resp(200, {"id": "7"}))
    assert client.run(item_op(7)) == "7"
    assert [(c.method, c.url) for c in transport.calls] == [("GET", f"{BASE}/items/7")]


def test_run_raises_what_parse_raises_with_the_absolute_url() -> None:
    client, _, _ = make(lambda _: resp(404, {"error": {"code": "itemNotFound", "message": "x"}}))
    with pytest.raises(NotFoundError) as caught:
        client.run(item_op(7))
    assert caught.value.url == f"{BASE}/items/7"


def test_run_all_parallel_keeps_order_and_puts_errors_in_outcomes() -> None:
    def inner(r: dict[str, Any], _: int) -> tuple[int, dict[str, str], Any]:
        n = r["url"].rsplit("/", 1)[1]
        if n == "3":
            return 404, {}, {"error": {"code": "itemNotFound", "message": "gone"}}
        return 200, {}, {"id": n}

    handler, sent = batch_endpoint(inner)
    client, _, _ = make(handler)
    outcomes = client.run_all([item_op(n) for n in range(25)])
    assert [len(b) for b in sent] == [20, 5]
    assert all(shape_of(b) == "parallel" for b in sent)
    assert [o.value for o in outcomes[:3]] == ["0", "1", "2"]
    assert isinstance(outcomes[3].error, NotFoundError)
    assert outcomes[3].error.url == "/items/3"
    with pytest.raises(NotFoundError):
        outcomes[3].get()
    assert outcomes[24].get() == "24"


def test_run_all_serial_chains_and_fails_the_steps_after_a_failure() -> None:
    def inner(r: dict[str, Any], _: int) -> tuple[int, dict[str, str], Any]:
        if r["url"].endswith("/1"):
            return 400, {}, {"error": {"code": "invalidRequest", "message": "no"}}
        return 200, {}, {"id": r["url"].rsplit("/", 1)[1]}

    handler, sent = batch_endpoint(inner)
    client, _, _ = make(handler)
    outcomes = client.run_all([item_op(n) for n in range(23)], serial=True)
    assert len(sent) == 1  # the chunk after a failed one is never sent
    assert shape_of(sent[0]) == "serial"
    assert outcomes[0].get() == "0"
    assert isinstance(outcomes[1].error, GraphHTTPError)
    assert all(isinstance(o.error, GraphHTTPError) for o in outcomes[2:])
    assert {o.error.status for o in outcomes[2:] if isinstance(o.error, GraphHTTPError)} == {424}


def test_run_all_with_one_op_sends_a_plain_request() -> None:
    client, transport, _ = make(lambda _: resp(200, {"id": "5"}))
    (outcome,) = client.run_all([item_op(5)], serial=True)
    assert outcome.get() == "5"
    assert transport.calls[0].url == f"{BASE}/items/5"


# ----------------------------------------------------------------------------- not re-sent


def send_mail_op() -> Op[None]:
    def parse(answer: BatchResponse) -> None:
        answer.raise_for_status()

    return Op("POST", "/users/opcc@x/sendMail", parse, body={"message": {}})


def test_send_mail_answered_504_is_sent_once_and_its_outcome_is_unknown() -> None:
    client, transport, sleeps = make(lambda _: resp(504, {"error": {"code": "GatewayTimeout"}}))
    with pytest.raises(OutcomeUnknownError) as caught:
        client.run(send_mail_op())
    assert len(transport.calls) == 1
    assert sleeps == []
    assert (caught.value.method, caught.value.status) == ("POST", 504)
    assert caught.value.url == f"{BASE}/users/opcc@x/sendMail"
    # the same through request() with the adapters' idempotent=False
    with pytest.raises(OutcomeUnknownError):
        client.request("POST", "/users/opcc@x/sendMail", json={}, idempotent=False)
    assert len(transport.calls) == 2


def test_a_429_on_send_mail_is_retried_it_was_not_processed() -> None:
    answers = iter([resp(429, headers={"Retry-After": "2"}), resp(202)])
    client, transport, sleeps = make(lambda _: next(answers))
    client.run(send_mail_op())
    assert len(transport.calls) == 2
    assert sleeps == [2.0]


def test_inner_post_answered_504_is_not_resent_and_gets_an_unknown_outcome() -> None:
    def inner(r: dict[str, Any], _: int) -> tuple[int, dict[str, str], Any]:
        if r["method"] == "POST":
            return 504, {"Retry-After": "1"}, {"error": {"code": "GatewayTimeout"}}
        return 503, {"Retry-After": "1"}, {"error": {"code": "serviceNotAvailable"}}

    handler, sent = batch_endpoint(inner)
    client, _, sleeps = make(handler)

    def parse(answer: BatchResponse) -> Any:
        answer.raise_for_status()
        return answer.body

    create = Op("POST", "/planner/tasks", parse, body={"title": "t"})
    read = Op("GET", "/planner/tasks/1", parse)
    outcomes = client.run_all([create, read])
    posts = [r for b in sent for r in b if r["method"] == "POST"]
    assert len(posts) == 1
    assert isinstance(outcomes[0].error, OutcomeUnknownError)
    assert outcomes[0].error.url == "/planner/tasks"
    # the GET beside it is retried as usual (503 on a read), and runs out its budget
    assert isinstance(outcomes[1].error, ServerError)
    assert len(sent) == 6
    assert all(len(b) == 1 and b[0]["method"] == "GET" for b in sent[1:])
    assert len(sleeps) == 5


def test_the_batch_post_itself_is_not_resent_when_it_holds_a_create() -> None:
    client, transport, _ = make(lambda _: resp(503))
    with pytest.raises(OutcomeUnknownError):
        client.batch(
            [
                BatchRequest(id="1", method="POST", url="/planner/tasks", body={}),
                BatchRequest(id="2", method="GET", url="/me"),
            ]
        )
    assert len(transport.calls) == 1


# ----------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (
            409,
            "invalidRequest",
            "The list item could not be added or updated because duplicate"
            " values were found in the following field(s) in the list: [PublicationKey].",
        ),
        (
            500,
            "generalException",
            "-2130575169, Microsoft.SharePoint.SPDuplicateValuesFoundException",
        ),
        (400, "invalidRequest", "Duplicate values were found in a unique column."),
    ],
    ids=["graph-409", "sharepoint-500", "400-message"],
)
def test_duplicate_unique_value_is_recognised_whatever_the_status(
    status: int, code: str, message: str
) -> None:
    client, transport, sleeps = make(
        lambda _: resp(status, {"error": {"code": code, "message": message}})
    )
    with pytest.raises(DuplicateValueError) as caught:
        client.request("POST", "/sites/s/lists/l/items", json={"fields": {}})
    assert isinstance(caught.value, ConflictError)
    assert caught.value.status == status
    assert len(transport.calls) == 1
    assert sleeps == []


def test_a_plain_conflict_is_not_a_duplicate_value() -> None:
    client, _, _ = make(
        lambda _: resp(409, {"error": {"code": "nameAlreadyExists", "message": "exists"}})
    )
    with pytest.raises(ConflictError) as caught:
        client.request("POST", "/drives/d/root/children", json={})
    assert not isinstance(caught.value, DuplicateValueError)
