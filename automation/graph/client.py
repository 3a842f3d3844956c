"""The one HTTP seam to Microsoft Graph.

Everything that speaks HTTP to Graph goes through :class:`GraphClient`: the bearer token,
timeouts, retries (429/503/504 honouring ``Retry-After``, one 401 refresh, connection errors
only where a repeat is safe), ``@odata.nextLink`` paging, JSON ``$batch`` and the mapping of
error statuses onto :mod:`automation.errors`. The socket work sits behind :class:`Transport`
so tests inject a fake one.
"""

from __future__ import annotations

import http
import json as jsonlib
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from automation.errors import GraphError, GraphHTTPError, GraphTransportError, http_error_class
from automation.graph.auth import TokenProvider

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "GraphClient",
    "GraphResponse",
    "Headers",
    "MockTransport",
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

RETRYABLE_STATUSES = frozenset({429, 503, 504})
# Methods a repeat cannot harm after an ambiguous failure (RFC 9110 idempotent methods).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BATCH = 20
# Query parameters whose values are credentials (upload/download URLs) or opaque tokens.
_SECRET_QUERY_KEYS = frozenset({"token", "authtoken", "tempauth"})
_DELTA_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")


# --------------------------------------------------------------------------- values


class Headers(Mapping[str, str]):
    """A read-only, case-insensitive header mapping that keeps the original spelling."""

    __slots__ = ("_items",)

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for key, value in (source or {}).items():
            self._items[key.lower()] = (key, str(value))

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({sorted(self)!r})"  # names only: values may be credentials


def _as_headers(value: Mapping[str, str] | None) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How long and how often to retry; a value, so tests and settings can vary it."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 120.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        A server's ``Retry-After`` wins (capped at ``max_retry_after``); otherwise
        exponential backoff from ``backoff_base``, capped at ``backoff_cap``, with
        +/- ``jitter`` (a fraction) so parallel workers do not retry in step.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, attempt - 1))
        spread = 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        return max(0.0, min(self.backoff_cap, base * spread))


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


def redact_url(url: str) -> str:
    """The URL with credential-like query values (token, authtoken, tempauth) masked."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pieces = []
    for piece in parts.query.split("&"):
        key, sep, _ = piece.partition("=")
        if sep and key.lower() in _SECRET_QUERY_KEYS:
            pieces.append(f"{key}=REDACTED")
        else:
            pieces.append(piece)
    return urlunsplit(parts._replace(query="&".join(pieces)))


def _log_path(url: str) -> str:
    """Only the path of a URL, for log lines (no query, no host)."""
    return urlsplit(url).path or "/"


@dataclass(frozen=True, slots=True)
class GraphResponse:
    """One HTTP answer as the client sees it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _as_headers(self.headers))

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        if not self.body.strip():
            return None
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            raise GraphError(
                f"response from {_log_path(self.url)} is not JSON (status {self.status})",
                url=redact_url(self.url),
            ) from None

    @property
    def request_id(self) -> str:
        """Graph's ``request-id`` header ('' when absent)."""
        return self.headers.get("request-id", "")


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRequest:
    """One request inside a JSON ``$batch``; ``url`` is relative to the version root."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()

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
    """One inner response of a ``$batch``."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _as_headers(self.headers))

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def raise_for_status(self, method: str, url: str) -> None:
        """Raise the :mod:`automation.errors` class for an error status (>= 400)."""
        if self.status < 400:
            return
        raise _http_error(
            status=self.status,
            headers=self.headers,
            payload=self.body,
            method=method,
            url=url,
        )


def _error_fields(payload: Any) -> tuple[str, str, str]:
    """(code, message, request-id) from a Graph error body (any shape)."""
    if not isinstance(payload, dict):
        return "", "", ""
    error = payload.get("error")
    if not isinstance(error, dict):
        return "", "", ""
    code = error.get("code")
    message = error.get("message")
    inner = error.get("innerError") or error.get("innererror")
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    return (
        code if isinstance(code, str) else "",
        message if isinstance(message, str) else "",
        request_id if isinstance(request_id, str) else "",
    )


def _http_error(
    *, status: int, headers: Mapping[str, str], payload: Any, method: str, url: str
) -> GraphHTTPError:
    code, message, inner_request_id = _error_fields(payload)
    if not message:
        try:
            message = http.HTTPStatus(status).phrase
        except ValueError:
            message = "HTTP error"
    hdrs = _as_headers(headers)
    return http_error_class(status)(
        status=status,
        code=code,
        message=message,
        request_id=hdrs.get("request-id", "") or inner_request_id,
        method=method.upper(),
        url=redact_url(url),
        retry_after=parse_retry_after(hdrs.get("Retry-After"), datetime.now(tz=UTC)),
        location=hdrs.get("Location"),
    )


# --------------------------------------------------------------------------- transport


class Transport(Protocol):
    """Sends one HTTP request; the only place sockets are touched."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
        allow_redirects: bool,
    ) -> GraphResponse:
        """Send and return the answer.

        Raises:
            requests.ConnectionError, requests.Timeout (or subclasses), or
            GraphTransportError when no HTTP answer arrived.
        """
        ...


class RequestsTransport:
    """The default transport: one pooled ``requests.Session`` that ignores proxy/CA env vars."""

    def __init__(self, *, verify: str | bool = True, pool_size: int = 8) -> None:
        self._verify = verify
        self._session = requests.Session()
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would otherwise override ``verify``.
        self._session.trust_env = False
        self._session.verify = verify
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
        allow_redirects: bool,
    ) -> GraphResponse:
        """Send one request with the configured CA bundle."""
        response = self._session.request(
            method,
            url,
            headers=dict(headers),
            data=body,
            timeout=timeout,
            allow_redirects=allow_redirects,
            verify=self._verify,
        )
        return GraphResponse(
            status=response.status_code,
            headers=dict(response.headers),
            body=response.content,
            url=response.url,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class SentRequest:
    """A request as a :class:`MockTransport` received it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    allow_redirects: bool

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return jsonlib.loads(self.body) if self.body else None


class MockTransport:
    """A transport that hands every request to ``handler`` (for tests; no sockets).

    The handler returns a :class:`GraphResponse` or raises what a real transport would
    (``requests.ConnectionError``, ``requests.Timeout``...). Every request is kept in
    ``calls``.
    """

    def __init__(self, handler: Callable[[SentRequest], GraphResponse]) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self.calls: list[SentRequest] = []

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
        allow_redirects: bool,
    ) -> GraphResponse:
        """Record the request and answer with the handler's response."""
        sent = SentRequest(
            method=method,
            url=url,
            headers=Headers(headers),
            body=body,
            allow_redirects=allow_redirects,
        )
        with self._lock:
            self.calls.append(sent)
        return self._handler(sent)


def _never_sent(exc: BaseException) -> bool:
    """True when the failure happened before the request left (connect refused/timed out)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(
            current,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.ConnectTimeoutError
            | ConnectionRefusedError,
        ):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            todo.append(current.reason)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return False


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
    """Graph over HTTP: auth, retries, paging, batching and error mapping."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenProvider,
        transport: Transport | None = None,
        verify: str | bool = True,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        user_agent: str = "NONISV|OPCC|Section55Automation/0.1",
    ) -> None:
        """Configure the client; ``transport`` defaults to :class:`RequestsTransport`."""
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._transport: Transport = transport or RequestsTransport(verify=verify)
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

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        with self._rng_lock:
            return self._retry.delay(attempt, retry_after, self._rng)

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
            idempotent: whether a repeat after an ambiguous failure (read timeout,
                reset) is safe; by default true for GET/HEAD/PUT/DELETE/OPTIONS.
            authenticated: ``False`` for pre-authenticated URLs: no Authorization header.

        Raises:
            GraphHTTPError: (a subclass per status) for an error answer.
            GraphTransportError: no answer, and a retry was not safe or the budget ran out.
            AuthError: no token could be obtained.
        """
        return self._request(
            method,
            path_or_url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            ok=ok,
            idempotent=idempotent,
            authenticated=authenticated,
            allow_redirects=allow_redirects,
            writes=None,
        )

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        ok: Collection[int],
        idempotent: bool | None,
        authenticated: bool,
        allow_redirects: bool,
        writes: int | None,
    ) -> GraphResponse:
        method = method.upper()
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        url = self.url_for(path_or_url, params)
        path = _log_path(url)
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent

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
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            send_headers = dict(base_headers)
            if authenticated:
                send_headers["Authorization"] = f"Bearer {self._tokens.token()}"
            started = time.monotonic()
            self.stats.add(requests=1)
            try:
                response = self._transport.send(
                    method,
                    url,
                    headers=send_headers,
                    body=body,
                    timeout=self._timeout,
                    allow_redirects=allow_redirects,
                )
            except (requests.RequestException, GraphTransportError) as exc:
                kind = type(exc).__name__
                ambiguous = False
                if isinstance(exc, requests.exceptions.SSLError):
                    retryable = False  # a certificate problem does not heal by waiting
                elif _never_sent(exc):
                    retryable = True
                else:
                    retryable = safe_to_repeat
                    ambiguous = not safe_to_repeat
                if retryable and attempt < self._retry.max_attempts:
                    wait = self._delay(attempt, None)
                    log.info(
                        "graph %s %s: %s, retry %d in %.2fs", method, path, kind, attempt, wait
                    )
                    self._sleep(wait)
                    continue
                log.warning(
                    "graph %s %s failed without a response: %s (attempt %d)",
                    method,
                    path,
                    kind,
                    attempt,
                )
                note = "; not repeated: it may have been processed" if ambiguous else ""
                # ``from None``: requests' messages quote the URL with its query, which
                # for upload URLs holds a credential.
                raise GraphTransportError(
                    f"{method} {redact_url(url)}: no response ({kind}){note}",
                    method=method,
                    url=redact_url(url),
                ) from None

            elapsed_ms = (time.monotonic() - started) * 1000.0
            log.debug("graph %s %s -> %d (%.0f ms)", method, path, response.status, elapsed_ms)
            status = response.status

            if status in ok or 200 <= status < 400:
                return response

            if status == 401 and authenticated and not refreshed:
                refreshed = True
                attempt -= 1  # a token refresh does not use up the retry budget
                log.info("graph %s %s: 401, refreshing the token and retrying once", method, path)
                self._tokens.invalidate()
                continue

            if status in RETRYABLE_STATUSES and attempt < self._retry.max_attempts:
                retry_after = _server_wait(response.headers)
                wait = self._delay(attempt, retry_after)
                log.info(
                    "graph %s %s -> %d (request-id %s), retry %d in %.2fs",
                    method,
                    path,
                    status,
                    response.request_id or "-",
                    attempt,
                    wait,
                )
                self._sleep(wait)
                continue

            payload: Any
            try:
                payload = jsonlib.loads(response.body) if response.body else None
            except ValueError:
                payload = None
            error = _http_error(
                status=status,
                headers=response.headers,
                payload=payload,
                method=method,
                url=url,
            )
            log.warning(
                "graph %s %s -> %d %s (request-id %s)",
                method,
                path,
                status,
                error.code or "-",
                error.request_id or "-",
            )
            raise error

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
                raise GraphError(f"page from {_log_path(path)} is not a JSON object", url=path)
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
                raise GraphError(f"'value' from {_log_path(path)} is not a list", url=path)
            yield from values

    # ------------------------------------------------------------------ batching

    def batch(self, requests: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        """Run requests through JSON ``$batch`` and return every inner response by id.

        Requests are packed into batches of at most 20; a ``depends_on`` chain is never
        split. Inner 429/503/504 answers (and the 424s they caused) are sent again, as a
        new batch of just those, after the longest inner ``Retry-After``, within the retry
        budget. Inner errors are returned, not raised: call
        :meth:`BatchResponse.raise_for_status`.

        Raises:
            ValueError: duplicate ids, unknown ``depends_on`` ids, or a chain over 20.
            GraphError: the ``$batch`` call itself failed.
        """
        if not requests:
            return {}
        by_id = _index_batch(requests)
        results: dict[str, BatchResponse] = {}
        self.stats.add(writes=sum(1 for r in requests if r.method.upper() not in READ_METHODS))
        for chunk in _chunk_batch(requests):
            results.update(self._run_chunk(chunk, by_id))
        return {r.id: results[r.id] for r in requests}

    def _run_chunk(
        self, chunk: Sequence[BatchRequest], by_id: Mapping[str, BatchRequest]
    ) -> dict[str, BatchResponse]:
        results: dict[str, BatchResponse] = {}
        pending = list(chunk)
        attempt = 0
        while True:
            attempt += 1
            responses = self._send_batch(pending)
            results.update(responses)
            retry_ids = _batch_retry_ids(pending, responses)
            if not retry_ids:
                return results
            waits = [
                parse_retry_after(responses[i].headers.get("Retry-After"), datetime.now(tz=UTC))
                for i in retry_ids
            ]
            known = [w for w in waits if w is not None]
            if attempt >= self._retry.max_attempts:
                log.warning(
                    "graph $batch: %d inner requests still throttled after %d attempts",
                    len(retry_ids),
                    attempt,
                )
                return results
            wait = self._delay(attempt, max(known) if known else None)
            log.info(
                "graph $batch: %d inner requests throttled, retry %d in %.2fs",
                len(retry_ids),
                attempt,
                wait,
            )
            self._sleep(wait)
            pending = [by_id[i] for i in (r.id for r in pending) if i in retry_ids]

    def _send_batch(self, pending: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        ids = {r.id for r in pending}
        body = {
            "requests": [
                r.to_json(depends_on=[d for d in r.depends_on if d in ids]) for r in pending
            ]
        }
        all_reads = all(r.method.upper() in READ_METHODS for r in pending)
        response = self._request(
            "POST",
            "/$batch",
            params=None,
            json=body,
            data=None,
            headers=None,
            ok=(),
            idempotent=all_reads,
            authenticated=True,
            allow_redirects=False,
            writes=0,
        )
        payload = response.json()
        items = payload.get("responses") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise GraphError("$batch answer has no 'responses' list", method="POST", url="/$batch")
        out: dict[str, BatchResponse] = {}
        wanted = {r.id.lower(): r.id for r in pending}
        for item in items:
            if not isinstance(item, dict):
                continue
            rid = wanted.get(str(item.get("id", "")).lower())
            if rid is None:
                continue
            headers = item.get("headers") or {}
            out[rid] = BatchResponse(
                id=rid,
                status=int(item.get("status", 0)),
                headers={str(k): str(v) for k, v in headers.items()}
                if isinstance(headers, dict)
                else {},
                body=item.get("body"),
            )
        missing = [r.id for r in pending if r.id not in out]
        if missing:
            raise GraphError(
                f"$batch answer lacks responses for ids {', '.join(missing)}",
                method="POST",
                url="/$batch",
            )
        return out


def _server_wait(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait: the larger of Retry-After and RateLimit-Reset."""
    now = datetime.now(tz=UTC)
    candidates = [
        parse_retry_after(headers.get("Retry-After"), now),
        parse_retry_after(headers.get("RateLimit-Reset"), now),
    ]
    known = [c for c in candidates if c is not None]
    return max(known) if known else None


def _index_batch(requests: Sequence[BatchRequest]) -> dict[str, BatchRequest]:
    by_id: dict[str, BatchRequest] = {}
    lowered: set[str] = set()
    for r in requests:
        if r.id.lower() in lowered:
            raise ValueError(f"duplicate batch request id {r.id!r}")
        lowered.add(r.id.lower())
        by_id[r.id] = r
    for r in requests:
        for dep in r.depends_on:
            if dep not in by_id:
                raise ValueError(f"batch request {r.id!r} depends on unknown id {dep!r}")
    return by_id


def _chunk_batch(requests: Sequence[BatchRequest]) -> list[list[BatchRequest]]:
    """Pack requests into batches of at most 20, keeping each dependsOn group whole."""
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
    chunks: list[list[BatchRequest]] = []
    current: list[BatchRequest] = []
    for group in groups.values():  # dicts keep first-seen order
        if len(group) > MAX_BATCH:
            raise ValueError(
                f"a dependsOn chain of {len(group)} requests exceeds the batch limit of {MAX_BATCH}"
            )
        if len(current) + len(group) > MAX_BATCH:
            chunks.append(current)
            current = []
        current.extend(group)
    if current:
        chunks.append(current)
    # Within a batch, keep the caller's order (prerequisites usually come first).
    order = {r.id: n for n, r in enumerate(requests)}
    return [sorted(chunk, key=lambda r: order[r.id]) for chunk in chunks]


def _batch_retry_ids(
    pending: Sequence[BatchRequest], responses: Mapping[str, BatchResponse]
) -> set[str]:
    """Ids to send again: throttled ones, plus 424s whose prerequisites are being retried."""
    retry = {r.id for r in pending if responses[r.id].status in RETRYABLE_STATUSES}
    changed = True
    while changed:
        changed = False
        for r in pending:
            if (
                r.id not in retry
                and responses[r.id].status == 424
                and any(d in retry for d in r.depends_on)
            ):
                retry.add(r.id)
                changed = True
    return retry
