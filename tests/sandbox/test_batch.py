"""Sandbox JSON batching: validation, dependsOn/424, inner faults, inner auth and bodies."""

from __future__ import annotations

from typing import Any

import pytest

from automation.sandbox.seed import user_email
from tests.conftest import RawGraph


def _batch(raw: RawGraph, requests: list[dict[str, Any]]) -> Any:
    return raw.call("POST", "/$batch", json={"requests": requests})


def _by_id(answer: Any) -> dict[str, dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return {entry["id"]: entry for entry in answer.json()["responses"]}


def test_independent_gets_and_inner_errors(raw: RawGraph) -> None:
    answer = _batch(
        raw,
        [
            {"id": "1", "method": "GET", "url": f"/users/{user_email('pcc')}"},
            {"id": "2", "method": "GET", "url": "users/nobody@opcc.example.org"},
            {"id": "3", "method": "GET", "url": f"/planner/plans/{raw.info['plan_id']}?$select=id"},
        ],
    )
    found = _by_id(answer)
    assert found["1"]["status"] == 200
    assert found["1"]["body"]["userPrincipalName"] == user_email("pcc")
    assert found["1"]["headers"]["Content-Type"].startswith("application/json")
    assert found["2"]["status"] == 404
    assert found["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert found["3"]["status"] == 200
    assert found["3"]["body"]["id"] == raw.info["plan_id"]
    log = [e for e in raw.sandbox.request_log() if e["batch"]]
    # Parallel requests run in any order (json-batching page): only the set is fixed.
    assert sorted(e["status"] for e in log) == [200, 200, 404]


def test_depends_on_runs_in_order_and_failed_prerequisite_gives_424(raw: RawGraph) -> None:
    plan = raw.info["plan_id"]
    json_headers = {"Content-Type": "application/json"}
    # A fully serial chain, the only dependsOn shape Graph accepts besides fully parallel.
    answer = _batch(
        raw,
        [
            {
                "id": "bucket",
                "method": "POST",
                "url": "/planner/buckets",
                "headers": json_headers,
                "body": {"name": "Batch bucket", "planId": plan},
            },
            {
                "id": "task",
                "method": "POST",
                "url": "/planner/tasks",
                "headers": json_headers,
                "body": {"planId": plan, "title": "From batch"},
                "dependsOn": ["bucket"],
            },
            {
                "id": "broken",
                "method": "POST",
                "url": "/planner/tasks",
                "headers": json_headers,
                "body": {"planId": plan},  # no title -> 400
                "dependsOn": ["task"],
            },
            {
                "id": "after-broken",
                "method": "GET",
                "url": f"/planner/plans/{plan}/tasks",
                "dependsOn": ["broken"],
            },
            {
                "id": "chained",
                "method": "GET",
                "url": f"/planner/plans/{plan}",
                "dependsOn": ["AFTER-BROKEN"],
            },
        ],
    )
    found = _by_id(answer)
    order = [entry["id"] for entry in answer.json()["responses"]]
    assert order.index("bucket") < order.index("task") < order.index("broken")
    assert found["bucket"]["status"] == 201
    assert found["task"]["status"] == 201
    assert found["task"]["body"]["title"] == "From batch"
    assert found["broken"]["status"] == 400
    assert found["after-broken"]["status"] == 424
    assert "error" in found["after-broken"]["body"]
    assert found["chained"]["status"] == 424
    tasks = raw.call("GET", f"/planner/plans/{plan}/tasks").json()["value"]
    assert [t["title"] for t in tasks] == ["From batch"]


@pytest.mark.parametrize(
    "depends",
    [
        pytest.param([[], [], ["a", "b"]], id="join-on-two"),  # Intake.finish's old shape
        pytest.param([[], ["a"], []], id="chain-plus-free"),
        pytest.param([[], ["a"], ["a"]], id="fan-out"),
        pytest.param([["b"], [], []], id="serial-out-of-list-order"),
    ],
)
def test_mixed_dependency_shape_is_400(raw: RawGraph, depends: list[list[str]]) -> None:
    plan = raw.info["plan_id"]
    requests = [
        {"id": rid, "method": "GET", "url": f"/planner/plans/{plan}", "dependsOn": deps}
        for rid, deps in zip("abc", depends, strict=True)
    ]
    answer = _batch(raw, requests)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"
    assert answer.json()["error"]["message"] == (
        "Batch should be either fully sequential or fully parallel"
    )
    assert not [e for e in raw.sandbox.request_log() if e["batch"]]  # nothing ran


def test_parallel_requests_run_and_answer_in_any_order(raw: RawGraph) -> None:
    plan = raw.info["plan_id"]
    orders = set()
    for _ in range(6):
        requests = [
            {"id": str(n), "method": "GET", "url": f"/planner/plans/{plan}?$select=id"}
            for n in range(1, 6)
        ]
        answer = _batch(raw, requests)
        orders.add(tuple(entry["id"] for entry in answer.json()["responses"]))
        assert {entry["status"] for entry in answer.json()["responses"]} == {200}
    assert len(orders) > 1  # not always list order: a client must correlate by id


def test_inner_429_carries_retry_after_while_siblings_succeed(raw: RawGraph) -> None:
    raw.sandbox.faults.configure(
        {
            "one_offs": [
                {"method": "GET", "path": "^/v1.0/users/pcc@", "status": 429, "retry_after": "3"}
            ]
        }
    )
    answer = _batch(
        raw,
        [
            {"id": "a", "method": "GET", "url": f"/users/{user_email('policy_officer')}"},
            {"id": "b", "method": "GET", "url": f"/users/{user_email('pcc')}"},
            {"id": "c", "method": "GET", "url": f"/planner/plans/{raw.info['plan_id']}"},
        ],
    )
    found = _by_id(answer)
    assert found["b"]["status"] == 429
    assert found["b"]["headers"]["Retry-After"] == "3"
    assert found["b"]["body"]["error"]["code"] == "TooManyRequests"
    assert found["a"]["status"] == 200
    assert found["c"]["status"] == 200
    retried = _batch(raw, [{"id": "b", "method": "GET", "url": f"/users/{user_email('pcc')}"}])
    assert _by_id(retried)["b"]["status"] == 200


def test_empty_inner_answers_have_no_body(raw: RawGraph) -> None:
    created = raw.call(
        "POST", "/planner/tasks", json={"planId": raw.info["plan_id"], "title": "Patch me"}
    ).json()
    answer = _batch(
        raw,
        [
            {
                "id": "1",
                "method": "PATCH",
                "url": f"/planner/tasks/{created['id']}",
                "headers": {"Content-Type": "application/json", "If-Match": created["@odata.etag"]},
                "body": {"percentComplete": 100},
            }
        ],
    )
    entry = _by_id(answer)["1"]
    assert entry["status"] == 204
    assert "body" not in entry
    after = raw.call("GET", f"/planner/tasks/{created['id']}").json()
    assert after["percentComplete"] == 100


def test_inner_requests_use_the_outer_apps_permissions(raw: RawGraph) -> None:
    answer = raw.session.put(
        f"{raw.sandbox.url}/_sandbox/apps/{raw.info['client_id']}/roles",
        json={"roles": ["Tasks.ReadWrite.All"]},
        timeout=10,
    )
    assert answer.status_code == 204
    found = _by_id(
        _batch(
            raw,
            [
                {"id": "1", "method": "GET", "url": f"/users/{user_email('pcc')}"},
                {"id": "2", "method": "GET", "url": f"/planner/plans/{raw.info['plan_id']}"},
            ],
        )
    )
    assert found["1"]["status"] == 403
    assert found["1"]["body"]["error"]["code"] == "Authorization_RequestDenied"
    assert found["2"]["status"] == 200


def _get(rid: str) -> dict[str, Any]:
    return {"id": rid, "method": "GET", "url": "/users"}


@pytest.mark.parametrize(
    "requests",
    [
        [_get(str(n)) for n in range(21)],
        [_get("a"), _get("A")],
        [{"method": "GET", "url": "/users"}],
        [{"id": "1", "url": "/users"}],
        [{"id": "1", "method": "GET"}],
        [{"id": "1", "method": "POST", "url": "/planner/tasks", "body": {"title": "x"}}],
        [
            {
                "id": "1",
                "method": "POST",
                "url": "/planner/tasks",
                "headers": {"If-Match": "x"},
                "body": {},
            }
        ],
        [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}],
        [{"id": "1", "method": "POST", "url": "/$batch"}],
        [{**_get("1"), "dependsOn": ["9"]}],
        [{**_get("1"), "dependsOn": ["2"]}, {**_get("2"), "dependsOn": ["1"]}],
    ],
    ids=[
        "21-requests",
        "duplicate-id-ignoring-case",
        "no-id",
        "no-method",
        "no-url",
        "body-without-headers",
        "body-without-content-type",
        "absolute-url",
        "nested-batch",
        "unknown-dependency",
        "cycle",
    ],
)
def test_malformed_batch_is_400_and_runs_nothing(
    raw: RawGraph, requests: list[dict[str, Any]]
) -> None:
    raw.sandbox.clear_log()
    answer = _batch(raw, requests)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"
    assert not [e for e in raw.sandbox.request_log() if e["batch"]]


def test_twenty_requests_are_allowed(raw: RawGraph) -> None:
    found = _by_id(_batch(raw, [_get(str(n)) for n in range(20)]))
    assert len(found) == 20
    assert {entry["status"] for entry in found.values()} == {200}
