"""Stand-in for the client's operation values until ``GraphClient.run``/``run_all`` land.

A private bridge built on today's ``GraphClient.request``/``batch`` with the agreed names
(``Op``, ``Outcome``, ``run``, ``run_all``): adapters build ``Op`` values, and only this
module turns them into HTTP. Delete it once the client branch provides the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from automation.errors import GraphError
from automation.graph.client import BatchRequest, BatchResponse, GraphClient

__all__ = ["Op", "Outcome", "run", "run_all"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """One Graph call: the request, and how to read its (successful) answer."""

    method: str
    url: str
    parse: Callable[[BatchResponse], T]
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool | None = None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What became of one operation of a batch: its value or its error."""

    op: Op[T]
    value: T | None = None
    error: GraphError | None = None

    def get(self) -> T:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def run(client: GraphClient, op: Op[T]) -> T:
    """Send one operation as a plain request and parse its answer (errors raise)."""
    response = client.request(
        op.method,
        op.url,
        json=op.body,
        headers=dict(op.headers) or None,
        idempotent=op.idempotent,
    )
    answer = BatchResponse(
        id="0",
        status=response.status,
        headers=response.headers,
        body=response.json() if response.body.strip() else None,
    )
    return op.parse(answer)


def run_all(
    client: GraphClient, ops: Sequence[Op[Any]], *, serial: bool = False
) -> list[Outcome[Any]]:
    """Run operations through ``$batch``: all parallel, or (``serial``) one dependsOn chain."""
    requests = [
        BatchRequest(
            id=str(n),
            method=op.method,
            url=op.url,
            body=op.body,
            headers=dict(op.headers),
            depends_on=(str(n - 1),) if serial and n else (),
        )
        for n, op in enumerate(ops)
    ]
    answers = client.batch(requests)
    out: list[Outcome[Any]] = []
    for request, op in zip(requests, ops, strict=True):
        answer = answers[request.id]
        try:
            answer.raise_for_status(op.method, op.url)
        except GraphError as exc:
            out.append(Outcome(op, error=exc))
            continue
        out.append(Outcome(op, value=op.parse(answer)))
    return out
