"""The one HTTP seam to Microsoft Graph.

Everything that speaks HTTP to Graph goes through :class:`GraphClient`: the bearer token,
timeouts, retries (one decision in :mod:`automation.graph.retry`: 429 always, 503/504 and
lost answers only where a repeat is safe, one 401 refresh), ``@odata.nextLink`` paging,
JSON ``$batch`` in the shapes Microsoft accepts (:mod:`automation.graph.batch`), operation
values (:class:`Op`: :meth:`GraphClient.run`, :meth:`GraphClient.run_all`) and the mapping
of error statuses onto :mod:`automation.errors`. Sockets sit behind the
:class:`~automation.graph.transport.Transport` seam, so tests inject a fake one; this
module imports neither ``requests`` nor ``urllib3``.

Why over 500 lines: the request loop, paging, operations and batch execution share the
client's state (tokens, stats, retry budget) and form the one seam; the values, the
transport, the retry decision and the batch shapes already live in their own modules.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from automation.errors import (
    GraphError,
    GraphTransportError,
    OutcomeUnknownError,
    ResponseLost,
)
from automation.graph.auth import TokenProvider
from automation.graph.batch import (
    MAX_BATCH,
    READ_METHODS,
    BatchRequest,
    BatchResponse,
    BatchShapeError,
    Op,
    Outcome,
    check_shape,
    failed_dependency,
    is_serial,
    plan_batches,
    serial_chain,
)
from automation.graph.retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    Reply,
    RetryPolicy,
    is_idempotent,
    parse_retry_after,
    retry_loop,
)
from automation.graph.transport import (
    GraphRequest,
    GraphResponse,
    Headers,
    MockTransport,
    RequestsTransport,
    SentRequest,
    Transport,
    error_for_answer,
    log_path,
    redact_url,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_BATCH",
    "RETRYABLE_STATUSES",
    "BatchRequest",
    "BatchResponse",
    "BatchShapeError",
    "GraphClient",
    "GraphRequest",
    "GraphResponse",
    "Headers",
    "MockTransport",
    "Op",
    "Outcome",
    "RequestStats",
    "RequestsTransport",
    "RetryPolicy",
    "SentRequest",
    "StatsSnapshot",
    "Transport",
    "parse_retry_after",
    "redact_url",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_RETRY = RetryPolicy()


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsSnapshot:
    """Counter values at one moment."""

    requests: int
    round_trips: int
    writes: int


class RequestStats:
    """Thread-safe counters of the client's traffic.

    ``requests``: HTTP sends including retries; ``round_trips``: logical calls (each
    ``$batch`` POST counts once); ``writes``: non-GET logical calls, where a ``$batch``
    counts its inner non-GET requests instead of the POST itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._round_trips = 0
        self._writes = 0

    def add(self, *, requests: int = 0, round_trips: int = 0, writes: int = 0) -> None:
        """Add to the counters."""
        with self._lock:
            self._requests += requests
            self._round_trips += round_trips
            self._writes += writes

    @property
    def requests(self) -> int:
        """HTTP sends, retries included."""
        return self._requests

    @property
    def round_trips(self) -> int:
        """Logical calls."""
        return self._round_trips

    @property
    def writes(self) -> int:
        """Logical writes."""
        return self._writes

    def snapshot(self) -> StatsSnapshot:
        """A consistent copy of all counters."""
        with self._lock:
            return StatsSnapshot(
                requests=self._requests, round_trips=self._round_trips, writes=self._writes
            )

    def reset(self) -> None:
        """Set every counter to zero."""
        with self._lock:
            self._requests = self._round_trips = self._writes = 0


# --------------------------------------------------------------------------- client


class GraphClient:
    """Graph over HTTP: auth, retries, paging, batching, operations and error mapping."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenProvider,
        transport: Transport | None = None,
        verify: str | bool = True,
        proxy: str = "",
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        user_agent: str = "NONISV|OPCC|Section55Automation/0.1",
    ) -> None:
        """Configure the client; ``transport`` defaults to :class:`RequestsTransport`.

        Args:
            verify: CA bundle (or ``True``) for the default transport.
            proxy: the ``proxy`` setting for the default transport; empty: the
                standard ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables.
        """
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._transport: Transport = transport or RequestsTransport(verify=verify, proxy=proxy)
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._user_agent = user_agent
        self.stats = RequestStats()

    @property
    def base_url(self) -> str:
        """The Graph version root, e.g. ``https://graph.microsoft.com/v1.0``."""
        return self._base_url

    def close(self) -> None:
        """Release the transport's connections (when it has any)."""
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()

    # ------------------------------------------------------------------ single calls

    def url_for(self, path_or_url: str, params: Mapping[str, str] | None = None) -> str:
        """The absolute URL for a relative Graph path (absolute URLs pass through)."""
        if path_or_url.startswith(("https://", "http://")):
            url = path_or_url
        else:
            url = self._base_url + ("" if path_or_url.startswith("/") else "/") + path_or_url
        if params:
            query = "&".join(
                f"{quote(str(k), safe='$@')}={quote(str(v), safe='$@')}" for k, v in params.items()
            )
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url

    def _decide(
        self, outcome: Reply | GraphTransportError, attempt: int, safe: bool
    ) -> float | None:
        with self._rng_lock:
            return self._retry.decide(outcome, attempt, idempotent=safe, rng=self._rng)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (),
        idempotent: bool | None = None,
        authenticated: bool = True,
        allow_redirects: bool = True,
    ) -> GraphResponse:
        """Send one logical call, retrying where safe, and return a 2xx/3xx (or ``ok``) answer.

        Args:
            path_or_url: ``/sites/...`` (joined to the base URL) or an absolute URL
                (nextLink, deltaLink, upload URL) used as given.
            ok: extra statuses to return instead of raising (e.g. ``{404}``).
            idempotent: whether a repeat of a possibly processed request is harmless;
                by default true for every method but POST (see :mod:`automation.graph.retry`).
            authenticated: ``False`` for pre-authenticated URLs: no Authorization header.

        Raises:
            GraphHTTPError: (a subclass per status) for an error answer.
            OutcomeUnknownError: a non-idempotent call got 500/502/503/504 or lost its
                answer: it may have been processed, so it was not repeated.
            GraphTransportError: no answer, and a retry was not safe or the budget ran out.
            AuthError: no token could be obtained.
        """
        response = self._request(
            method,
            path_or_url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            idempotent=idempotent,
            authenticated=authenticated,
            allow_redirects=allow_redirects,
            writes=None,
        )
        if response.status in ok or response.status < 400:
            return response
        url = self.url_for(path_or_url, params)
        raise self._answer_error(response, method, url, is_idempotent(method, idempotent))

    def _answer_error(
        self, response: GraphResponse, method: str, url: str, safe: bool
    ) -> GraphError:
        payload: Any
        try:
            payload = jsonlib.loads(response.body) if response.body else None
        except ValueError:
            payload = None
        error = error_for_answer(
            status=response.status,
            headers=response.headers,
            payload=payload,
            method=method,
            url=url,
            idempotent=safe,
        )
        log.warning(
            "graph %s %s -> %d %s (request-id %s)",
            method.upper(),
            log_path(url),
            response.status,
            getattr(error, "code", "") or "-",
            getattr(error, "request_id", "") or "-",
        )
        return error

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
        authenticated: bool,
        allow_redirects: bool,
        writes: int | None,
    ) -> GraphResponse:
        """Send with retries; the final answer whatever its status (transport errors raise)."""
        method = method.upper()
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        url = self.url_for(path_or_url, params)
        path = log_path(url)
        safe = is_idempotent(method, idempotent)

        base_headers: dict[str, str] = {
            "User-Agent": self._user_agent,
            "client-request-id": str(uuid.uuid4()),
        }
        body = data
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode("utf-8")
            base_headers["Content-Type"] = "application/json"
        for key, value in (headers or {}).items():
            for existing in [k for k in base_headers if k.lower() == key.lower()]:
                del base_headers[existing]
            base_headers[key] = value

        self.stats.add(
            round_trips=1,
            writes=(0 if method in READ_METHODS else 1) if writes is None else writes,
        )
        refreshed = False

        def attempt_once(_: int) -> GraphResponse | GraphTransportError:
            nonlocal refreshed
            while True:
                send_headers = dict(base_headers)
                if authenticated:
                    send_headers["Authorization"] = f"Bearer {self._tokens.token()}"
                request = GraphRequest(
                    method=method,
                    url=url,
                    headers=send_headers,
                    body=body,
                    timeout=self._timeout,
                    allow_redirects=allow_redirects,
                )
                started = time.monotonic()
                self.stats.add(requests=1)
                try:
                    response = self._transport.send(request)
                except GraphTransportError as exc:
                    return exc
                elapsed_ms = (time.monotonic() - started) * 1000.0
                log.debug("graph %s %s -> %d (%.0f ms)", method, path, response.status, elapsed_ms)
                if response.status == 401 and authenticated and not refreshed:
                    # A token refresh is not a retry: it does not use up the budget.
                    refreshed = True
                    log.info(
                        "graph %s %s: 401, refreshing the token and retrying once", method, path
                    )
                    self._tokens.invalidate()
                    continue
                return response

        def wait_after(result: GraphResponse | GraphTransportError, attempt: int) -> float | None:
            if isinstance(result, GraphTransportError):
                return self._decide(result, attempt, safe)
            if result.status < 400:
                return None
            return self._decide(Reply(result.status, result.headers), attempt, safe)

        def describe(result: GraphResponse | GraphTransportError) -> str:
            if isinstance(result, GraphTransportError):
                return f"{method} {path}: {type(result).__name__}"
            return f"{method} {path} -> {result.status} (request-id {result.request_id or '-'})"

        result = retry_loop(attempt_once, wait_after, self._sleep, describe=describe)
        if isinstance(result, GraphResponse):
            return result
        log.warning(
            "graph %s %s failed without a response: %s", method, path, type(result).__name__
        )
        if isinstance(result, ResponseLost) and not safe:
            raise OutcomeUnknownError(
                f"{method} {redact_url(url)}: no response ({type(result).__name__});"
                " not repeated: it may have been processed",
                method=method,
                url=redact_url(url),
            ) from result
        raise result

    def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET and parse the JSON body."""
        return self.request("GET", path, params=params, headers=headers).json()

    # ------------------------------------------------------------------ paging

    def pages(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each page (the whole JSON object), following ``@odata.nextLink`` verbatim.

        The same ``headers`` go with every page (e.g. a ``Prefer`` the query needs).
        An error on any page raises; paging never stops silently.
        """
        page = self.get_json(path, params=params, headers=headers)
        while True:
            if not isinstance(page, dict):
                raise GraphError(f"page from {log_path(path)} is not a JSON object", url=path)
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            if not isinstance(next_link, str):
                raise GraphError("@odata.nextLink is not a string", url=path)
            page = self.get_json(next_link, headers=headers)

    def paged(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of ``value`` across all pages."""
        for page in self.pages(path, params=params, headers=headers):
            values = page.get("value", [])
            if not isinstance(values, list):
                raise GraphError(f"'value' from {log_path(path)} is not a list", url=path)
            yield from values

    # ------------------------------------------------------------------ operations

    def run(self, op: Op[T]) -> T:
        """Run one operation as a plain request (with retries); what ``op.parse`` makes of it.

        Raises:
            GraphError: the answer's error status, whatever ``op.parse`` raises, or a
                transport failure / unknown outcome of the call itself.
        """
        request = op.request("0", url=self.url_for(op.url))
        response = self._request(
            op.method,
            op.url,
            params=None,
            json=op.body,
            data=None,
            headers=op.headers,
            idempotent=op.idempotent,
            authenticated=True,
            allow_redirects=True,
            writes=None,
        )
        answer = BatchResponse.from_plain(request, response)
        answer.raise_for_status()
        return op.parse(answer)

    def run_all(self, ops: Sequence[Op[T]], *, serial: bool = False) -> list[Outcome[T]]:
        """Run operations together; one :class:`Outcome` per op, in the order of ``ops``.

        ``serial=False``: fully parallel ``$batch`` requests of at most 20. ``serial=True``:
        one fully serial chain (each request depends on the one before), split over
        ``$batch`` requests of 20 when longer; once a step fails, the later steps are not
        run and get a 424 ``failedDependency`` answer. A single op goes as a plain
        request. Inner 429s (and 503/504 of idempotent requests) are retried; an inner
        send or create answered 500/502/503/504 gives an :class:`OutcomeUnknownError`.
        Errors go into the outcomes, never raised (``Outcome.get`` raises them).
        """
        if not ops:
            return []
        if len(ops) == 1:
            return [self._plain_outcome(ops[0])]
        relative = [self._relative(op.url) for op in ops]
        if serial and None in relative:
            raise ValueError("a serial run_all needs URLs under the Graph base URL")
        answers: dict[str, BatchResponse] = {}
        errors: dict[str, GraphError] = {}
        requests = [
            op.request(str(n), url=rel)
            for n, (op, rel) in enumerate(zip(ops, relative, strict=True))
            if rel is not None
        ]
        self.stats.add(writes=sum(1 for r in requests if r.writes))
        step = len(requests) if not requests else MAX_BATCH
        chunks = [requests[i : i + step] for i in range(0, len(requests), step)]
        failed = False
        for chunk in chunks:
            if serial:
                chunk = serial_chain(chunk)
            if failed:
                answers.update((r.id, failed_dependency(r)) for r in chunk)
                continue
            try:
                answers.update(self._run_chunk(chunk))
            except GraphError as exc:
                errors.update((r.id, exc) for r in chunk)
                failed = serial
                continue
            failed = serial and any(answers[r.id].status >= 400 for r in chunk)
        outcomes: list[Outcome[T]] = []
        for n, op in enumerate(ops):
            rid = str(n)
            if relative[n] is None:
                outcomes.append(self._plain_outcome(op))
            elif rid in errors:
                outcomes.append(Outcome(op, error=errors[rid]))
            else:
                outcomes.append(_parsed(op, answers[rid]))
        return outcomes

    def _plain_outcome(self, op: Op[T]) -> Outcome[T]:
        try:
            return Outcome(op, value=self.run(op))
        except GraphError as exc:
            return Outcome(op, error=exc)

    def _relative(self, url: str) -> str | None:
        """``url`` relative to the version root, as ``$batch`` needs (``None``: elsewhere)."""
        if not url.startswith(("https://", "http://")):
            return url if url.startswith("/") else "/" + url
        if url.startswith(self._base_url + "/"):
            return url[len(self._base_url) :]
        return None

    # ------------------------------------------------------------------ batching

    def batch(self, requests: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        """Run requests through JSON ``$batch`` and return every inner response by id.

        Independent requests go in fully parallel batches of at most 20; each group joined
        by ``depends_on`` is sent as one fully serial chain in dependency order (Microsoft
        refuses any other shape). Inner 429s (and 503/504 of idempotent requests), with
        the 424s they caused, are sent again as a batch of just those after the server's
        wait, within the retry budget. Inner errors are returned, not raised: call
        :meth:`BatchResponse.raise_for_status`.

        Raises:
            ValueError: duplicate ids, unknown or cyclic ``depends_on``, or a chain over 20.
            GraphError: the ``$batch`` call itself failed.
        """
        if not requests:
            return {}
        planned = plan_batches(requests)
        self.stats.add(writes=sum(1 for r in requests if r.writes))
        originals = {r.id: r for r in requests}
        results: dict[str, BatchResponse] = {}
        for chunk in planned:
            results.update(self._run_chunk(chunk))
        return {r.id: _with_request(results[r.id], originals[r.id]) for r in requests}

    def _run_chunk(self, chunk: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        """One batch with inner retries, through the same loop and decision as plain calls."""
        check_shape(chunk)
        serial = len(chunk) > 1 and is_serial(chunk)
        results: dict[str, BatchResponse] = {}
        pending = list(chunk)

        def attempt_once(_: int) -> dict[str, BatchResponse]:
            answers = self._send_batch(pending)
            results.update(answers)
            return answers

        def wait_after(answers: dict[str, BatchResponse], attempt: int) -> float | None:
            waits: dict[str, float] = {}
            for r in pending:
                answer = answers[r.id]
                if answer.status in RETRYABLE_STATUSES:
                    wait = self._decide(
                        Reply(answer.status, answer.headers), attempt, r.safe_to_repeat
                    )
                    if wait is not None:
                        waits[r.id] = wait
            if not waits:
                return None
            retry = set(waits)
            for r in pending:  # dependency order: a 424 follows its prerequisite
                if answers[r.id].status == 424 and any(d in retry for d in r.depends_on):
                    retry.add(r.id)
            again = [r for r in pending if r.id in retry]
            pending[:] = serial_chain(again) if serial else again
            return max(waits.values())

        def describe(answers: dict[str, BatchResponse]) -> str:
            return f"$batch: {len(pending)} inner requests throttled"

        retry_loop(attempt_once, wait_after, self._sleep, describe=describe)
        return results

    def _send_batch(self, pending: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        """One ``$batch`` POST; refuses a shape Microsoft would refuse, before sending."""
        check_shape(pending)
        body = {"requests": [r.to_json() for r in pending]}
        response = self._request(
            "POST",
            "/$batch",
            params=None,
            json=body,
            data=None,
            headers=None,
            # The POST is as safe to repeat as the requests inside it.
            idempotent=all(r.safe_to_repeat for r in pending),
            authenticated=True,
            allow_redirects=False,
            writes=0,
        )
        if response.status >= 400:
            raise self._answer_error(
                response, "POST", self.url_for("/$batch"), all(r.safe_to_repeat for r in pending)
            )
        payload = response.json()
        items = payload.get("responses") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise GraphError("$batch answer has no 'responses' list", method="POST", url="/$batch")
        out: dict[str, BatchResponse] = {}
        wanted = {r.id.lower(): r for r in pending}
        for item in items:
            if not isinstance(item, dict):
                continue
            request = wanted.get(str(item.get("id", "")).lower())
            if request is None:
                continue
            headers = item.get("headers") or {}
            out[request.id] = BatchResponse(
                id=request.id,
                status=int(item.get("status", 0)),
                headers={str(k): str(v) for k, v in headers.items()}
                if isinstance(headers, dict)
                else {},
                body=item.get("body"),
                request=request,
            )
        missing = [r.id for r in pending if r.id not in out]
        if missing:
            raise GraphError(
                f"$batch answer lacks responses for ids {', '.join(missing)}",
                method="POST",
                url="/$batch",
            )
        return out


def _with_request(answer: BatchResponse, request: BatchRequest) -> BatchResponse:
    """The answer naming the caller's own request (its ``depends_on`` as given)."""
    return BatchResponse(
        id=answer.id,
        status=answer.status,
        headers=answer.headers,
        body=answer.body,
        request=request,
    )


def _parsed(op: Op[T], answer: BatchResponse) -> Outcome[T]:
    try:
        answer.raise_for_status()
        return Outcome(op, value=op.parse(answer))
    except GraphError as exc:
        return Outcome(op, error=exc)
