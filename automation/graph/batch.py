"""JSON ``$batch`` values and shapes, and Graph calls as values (:class:`Op`).

Microsoft runs a batch only when it is *fully parallel* (no ``dependsOn``) or *fully
serial* (each request depends on exactly the one before): anything else is answered
``400 Batch should be either fully sequential or fully parallel`` (json-batching page;
microsoftgraph/microsoft-graph-docs#16280). :func:`plan_batches` therefore packs
independent requests into parallel batches of at most 20 and turns every group joined by
``dependsOn`` into one serial chain of its own, in dependency order; :func:`check_shape`
is the last guard before sending. A :class:`BatchResponse` carries its request, so its
errors name the real method and URL.
"""

from __future__ import annotations

import itertools
import json as jsonlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from automation.errors import GraphError
from automation.graph.retry import is_idempotent
from automation.graph.transport import GraphResponse, as_headers, error_for_answer

__all__ = [
    "MAX_BATCH",
    "BatchRequest",
    "BatchResponse",
    "BatchShapeError",
    "Op",
    "Outcome",
    "check_shape",
    "failed_dependency",
    "plan_batches",
    "serial_chain",
]

MAX_BATCH = 20
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")


class BatchShapeError(ValueError):
    """A programming error: a batch that is neither fully parallel nor fully serial."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRequest:
    """One request inside a JSON ``$batch``; ``url`` is relative to the version root."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    idempotent: bool | None = None  # None: by method (see automation.graph.retry)

    @property
    def safe_to_repeat(self) -> bool:
        """Whether a repeat after a possibly processed attempt is harmless."""
        return is_idempotent(self.method, self.idempotent)

    @property
    def writes(self) -> bool:
        """Whether the request changes anything."""
        return self.method.upper() not in READ_METHODS

    def to_json(self, *, depends_on: Sequence[str] | None = None) -> dict[str, Any]:
        """The request's entry in the ``$batch`` body."""
        entry: dict[str, Any] = {"id": self.id, "method": self.method.upper(), "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
            entry["body"] = self.body
        if headers:
            entry["headers"] = headers
        deps = list(self.depends_on if depends_on is None else depends_on)
        if deps:
            entry["dependsOn"] = deps
        return entry


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResponse:
    """One answer to a :class:`BatchRequest` (inner ``$batch`` answer or a plain call's)."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any
    request: BatchRequest | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", as_headers(self.headers))

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def error(self, method: str | None = None, url: str | None = None) -> GraphError | None:
        """The error this answer stands for (``None`` below 400)."""
        if self.status < 400:
            return None
        request = self.request
        return error_for_answer(
            status=self.status,
            headers=self.headers,
            payload=self.body,
            method=method or (request.method if request else "?"),
            url=url or (request.url if request else "?"),
            idempotent=request.safe_to_repeat if request else True,
        )

    def raise_for_status(self, method: str | None = None, url: str | None = None) -> None:
        """Raise the :mod:`automation.errors` class for an error status (>= 400).

        ``method`` and ``url`` default to the response's own request; a non-idempotent
        request answered 500/502/503/504 raises
        :class:`~automation.errors.OutcomeUnknownError`.
        """
        error = self.error(method, url)
        if error is not None:
            raise error

    @classmethod
    def from_plain(cls, request: BatchRequest, response: GraphResponse) -> BatchResponse:
        """A plain call's answer in the same shape (JSON body parsed, else the bytes)."""
        body: Any = response.body
        if response.body.strip():
            try:
                body = jsonlib.loads(response.body)
            except ValueError:
                body = response.body
        else:
            body = None
        return cls(
            id=request.id,
            status=response.status,
            headers=response.headers,
            body=body,
            request=request,
        )


def failed_dependency(request: BatchRequest) -> BatchResponse:
    """The 424 a serial step gets when an earlier step failed (as Graph answers it)."""
    return BatchResponse(
        id=request.id,
        status=424,
        headers={},
        body={"error": {"code": "failedDependency", "message": "an earlier step failed"}},
        request=request,
    )


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """One Graph call as a value: the request and the parser of its answer."""

    method: str
    url: str  # path relative to the Graph base ("/sites/..."), or absolute
    parse: Callable[[BatchResponse], T]  # gets successful answers only (errors are raised)
    body: Any = None  # JSON-able
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool | None = None  # None: by method (see automation.graph.retry)

    def request(self, id: str, *, url: str | None = None) -> BatchRequest:
        """The op as a :class:`BatchRequest` with ``id`` (and ``url`` when rewritten)."""
        return BatchRequest(
            id=id,
            method=self.method.upper(),
            url=self.url if url is None else url,
            body=self.body,
            headers=dict(self.headers),
            idempotent=self.idempotent,
        )


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What running one :class:`Op` gave: its parsed value, or the error."""

    op: Op[T]
    value: T | None = None
    error: GraphError | None = None

    def get(self) -> T:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # T itself may include None


# --------------------------------------------------------------------------- shapes


def is_serial(requests: Sequence[BatchRequest]) -> bool:
    """Each request after the first depends on exactly the one before it."""
    if not requests or requests[0].depends_on:
        return False
    return all(r.depends_on == (prev.id,) for prev, r in itertools.pairwise(requests))


def check_shape(requests: Sequence[BatchRequest]) -> None:
    """Refuse, before sending, a batch Microsoft would refuse (or one over 20 requests).

    Raises:
        BatchShapeError: neither fully parallel nor fully serial, or too many requests.
    """
    if len(requests) > MAX_BATCH:
        raise BatchShapeError(f"a batch of {len(requests)} requests exceeds {MAX_BATCH}")
    if all(not r.depends_on for r in requests) or is_serial(requests):
        return
    raise BatchShapeError(
        "batch is neither fully parallel nor fully serial: ids "
        + ", ".join(f"{r.id}->{'/'.join(r.depends_on) or '-'}" for r in requests)
    )


def serial_chain(requests: Sequence[BatchRequest]) -> list[BatchRequest]:
    """The requests, in order, each depending on exactly the one before it."""
    chain: list[BatchRequest] = []
    for request in requests:
        deps = (chain[-1].id,) if chain else ()
        chain.append(_with_deps(request, deps))
    return chain


def _with_deps(request: BatchRequest, deps: tuple[str, ...]) -> BatchRequest:
    if request.depends_on == deps:
        return request
    return BatchRequest(
        id=request.id,
        method=request.method,
        url=request.url,
        body=request.body,
        headers=request.headers,
        depends_on=deps,
        idempotent=request.idempotent,
    )


def validate(requests: Sequence[BatchRequest]) -> None:
    """Unique ids (ignoring case, as Graph does) and known ``depends_on`` targets."""
    lowered: set[str] = set()
    ids = {r.id for r in requests}
    for r in requests:
        if r.id.lower() in lowered:
            raise ValueError(f"duplicate batch request id {r.id!r}")
        lowered.add(r.id.lower())
    for r in requests:
        for dep in r.depends_on:
            if dep not in ids:
                raise ValueError(f"batch request {r.id!r} depends on unknown id {dep!r}")


def plan_batches(requests: Sequence[BatchRequest]) -> list[list[BatchRequest]]:
    """Batches of at most 20, each fully parallel or fully serial.

    Requests without dependencies are packed, in the caller's order, into parallel
    batches. Each group joined by ``dependsOn`` becomes one serial chain of its own in
    dependency order (caller's order among equals): a request still runs only after all
    of its prerequisites, and Microsoft's "single prerequisite" rule holds.

    Raises:
        ValueError: duplicate ids, unknown or cyclic ``depends_on``, or a group over 20.
    """
    validate(requests)
    parent: dict[str, str] = {r.id: r.id for r in requests}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in requests:
        for dep in r.depends_on:
            a, b = find(r.id), find(dep)
            if a != b:
                parent[a] = b
    groups: dict[str, list[BatchRequest]] = {}
    for r in requests:
        groups.setdefault(find(r.id), []).append(r)

    position = {r.id: n for n, r in enumerate(requests)}
    batches: list[list[BatchRequest]] = []
    parallel: list[BatchRequest] = []
    for group in groups.values():  # dicts keep first-seen order
        if len(group) == 1 and not group[0].depends_on:
            parallel.append(group[0])
            continue
        if len(group) > MAX_BATCH:
            raise ValueError(
                f"a dependsOn chain of {len(group)} requests exceeds the batch limit of {MAX_BATCH}"
            )
        batches.append(serial_chain(_dependency_order(group)))
    batches += [parallel[start : start + MAX_BATCH] for start in range(0, len(parallel), MAX_BATCH)]
    # Send in the caller's order of first appearance (prerequisites usually come first).
    return sorted(batches, key=lambda batch: min(position[r.id] for r in batch))


def _dependency_order(group: Sequence[BatchRequest]) -> list[BatchRequest]:
    """Topological order of one group, taking the earliest ready request first."""
    done: set[str] = set()
    left = list(group)
    ordered: list[BatchRequest] = []
    while left:
        ready = next((r for r in left if all(d in done for d in r.depends_on)), None)
        if ready is None:
            raise ValueError("batch requests depend on each other in a cycle: " + left[0].id)
        ordered.append(ready)
        done.add(ready.id)
        left.remove(ready)
    return ordered
