"""The socket side of the Graph client: one request value in, one response value out.

:class:`Transport` is the seam (httpx's ``handle_request``): the client hands it a
:class:`GraphRequest` and gets a :class:`GraphResponse`. :class:`RequestsTransport` maps
every ``requests``/``urllib3`` failure onto our own types here, once, so the client decides
on :class:`~automation.errors.ConnectFailed` (never sent), :class:`~automation.errors.ResponseLost`
(sent, answer lost) and :class:`~automation.errors.TLSFailed` only. :func:`outbound_session`
builds every outbound ``requests.Session`` of the service (Graph, msal, feed, report pages):
the configured CA always wins over ``REQUESTS_CA_BUNDLE``, and the proxy comes from the
``proxy`` setting or, when that is empty, from the standard proxy variables.
"""

from __future__ import annotations

import http
import ipaddress
import json as jsonlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from automation.errors import (
    ConnectFailed,
    DuplicateValueError,
    GraphError,
    GraphTransportError,
    OutcomeUnknownError,
    ResponseLost,
    TLSFailed,
    http_error_class,
)
from automation.graph.retry import UNKNOWN_OUTCOME_STATUSES, parse_retry_after

__all__ = [
    "GraphRequest",
    "GraphResponse",
    "Headers",
    "MockTransport",
    "OutboundSession",
    "ProxyRoutes",
    "RequestsTransport",
    "SentRequest",
    "Transport",
    "error_for_answer",
    "log_path",
    "outbound_session",
    "redact_url",
]

# Query parameters whose values are credentials (upload/download URLs) or opaque tokens.
_SECRET_QUERY_KEYS = frozenset({"token", "authtoken", "tempauth"})


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


def as_headers(value: Mapping[str, str] | None) -> Headers:
    """``value`` as :class:`Headers` (unchanged when it already is)."""
    return value if isinstance(value, Headers) else Headers(value)


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


def log_path(url: str) -> str:
    """Only the path of a URL, for log lines (no query, no host)."""
    return urlsplit(url).path or "/"


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphRequest:
    """One HTTP request as it goes through the seam (absolute URL, final headers)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: tuple[float, float] = (5.0, 30.0)
    allow_redirects: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", as_headers(self.headers))

    def json(self) -> Any:
        """The request body parsed as JSON (``None`` without a body)."""
        return jsonlib.loads(self.body) if self.body else None


# What MockTransport handlers used to receive; the same value now.
SentRequest = GraphRequest


@dataclass(frozen=True, slots=True)
class GraphResponse:
    """One HTTP answer as the client sees it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", as_headers(self.headers))

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        if not self.body.strip():
            return None
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            raise GraphError(
                f"response from {log_path(self.url)} is not JSON (status {self.status})",
                url=redact_url(self.url),
            ) from None

    @property
    def request_id(self) -> str:
        """Graph's ``request-id`` header ('' when absent)."""
        return self.headers.get("request-id", "")


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


def error_for_answer(
    *,
    status: int,
    headers: Mapping[str, str],
    payload: Any,
    method: str,
    url: str,
    idempotent: bool = True,
) -> GraphError:
    """The error for an error answer (>= 400) to ``method url``.

    A non-idempotent request answered 500/502/503/504 gives
    :class:`~automation.errors.OutcomeUnknownError` (it may have been processed), unless
    the answer names a duplicate unique value: that is a definite "not created".
    """
    code, message, inner_request_id = _error_fields(payload)
    if not message:
        try:
            message = http.HTTPStatus(status).phrase
        except ValueError:
            message = "HTTP error"
    hdrs = as_headers(headers)
    request_id = hdrs.get("request-id", "") or inner_request_id
    method = method.upper()
    safe_url = redact_url(url)
    cls = http_error_class(status, code, message)
    if not idempotent and status in UNKNOWN_OUTCOME_STATUSES and cls is not DuplicateValueError:
        return OutcomeUnknownError(
            f"{method} {safe_url} -> {status} {code}: {message} (request-id {request_id or '-'});"
            " not repeated: it may have been processed",
            method=method,
            url=safe_url,
            status=status,
            code=code,
            request_id=request_id,
        )
    return cls(
        status=status,
        code=code,
        message=message,
        request_id=request_id,
        method=method,
        url=safe_url,
        retry_after=parse_retry_after(hdrs.get("Retry-After"), datetime.now(tz=UTC)),
        location=hdrs.get("Location"),
    )


class Transport(Protocol):
    """Sends one HTTP request; the only place sockets are touched."""

    def send(self, request: GraphRequest) -> GraphResponse:
        """Send and return the answer, whatever its status.

        Raises:
            ConnectFailed: the request never left (safe to repeat).
            ResponseLost: it was sent but no answer arrived (it may have been processed).
            TLSFailed: the TLS handshake failed.
        """
        ...


# --------------------------------------------------------------------------- proxies


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyRoutes:
    """Which proxy a URL goes through: one per scheme, and hosts that go direct."""

    https: str = ""
    http: str = ""
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, proxy: str = "", environ: Mapping[str, str] | None = None) -> ProxyRoutes:
        """The routes for a ``proxy`` setting; when it is empty, the standard variables.

        A configured proxy carries every request (the variables are then ignored). Without
        one, ``https_proxy``/``HTTPS_PROXY``, ``http_proxy``/``HTTP_PROXY`` (and
        ``all_proxy`` as the fallback) and ``no_proxy``/``NO_PROXY`` are read, lower case
        first as curl and urllib do.
        """
        if proxy:
            return cls(https=proxy, http=proxy)
        env = os.environ if environ is None else environ

        def read(name: str) -> str:
            return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

        fallback = read("all_proxy")
        hosts = tuple(h.strip() for h in read("no_proxy").split(",") if h.strip())
        return cls(
            https=read("https_proxy") or fallback,
            http=read("http_proxy") or fallback,
            no_proxy=hosts,
        )

    def for_url(self, url: str) -> dict[str, str]:
        """The ``proxies`` mapping requests needs for ``url`` (empty: go direct)."""
        parts = urlsplit(url)
        chosen = self.https if parts.scheme == "https" else self.http
        if not chosen or self._bypass(parts.hostname or "", parts.port):
            return {}
        return {parts.scheme: chosen}

    def _bypass(self, host: str, port: int | None) -> bool:
        host = host.lower().strip("[]")
        for entry in self.no_proxy:
            entry = entry.lower()
            if entry == "*":
                return True
            name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
            if entry_port and port is not None and str(port) != entry_port:
                continue
            name = name.strip("[]")
            if _in_network(host, name):
                return True
            name = name.lstrip(".")
            if host == name or host.endswith("." + name):
                return True
        return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (head.endswith("]") or ":" not in head)


def _in_network(host: str, entry: str) -> bool:
    """Whether ``host`` is an IP address inside ``entry`` (an address or a CIDR range)."""
    try:
        address = ipaddress.ip_address(host)
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return address in network


class OutboundSession(requests.Session):
    """A session whose CA, proxy and default timeout come from the settings, never the env.

    ``trust_env`` stays off so ``REQUESTS_CA_BUNDLE`` cannot replace the configured CA;
    the proxy is chosen per request (redirects included) from :class:`ProxyRoutes`.
    """

    def __init__(
        self,
        *,
        verify: str | bool,
        routes: ProxyRoutes,
        timeout: float | tuple[float, float] | None = None,
        pool_size: int = 10,
    ) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify
        self.routes = routes
        self._default_timeout = timeout
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send with the configured CA and default timeout unless the caller gave them."""
        if self._default_timeout is not None:
            kwargs.setdefault("timeout", self._default_timeout)
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send through the proxy chosen for this URL (every hop of a redirect too)."""
        kwargs["proxies"] = self.routes.for_url(request.url or "")
        return super().send(request, **kwargs)


def outbound_session(
    *,
    verify: str | bool,
    proxy: str = "",
    timeout: float | tuple[float, float] | None = None,
    pool_size: int = 10,
) -> OutboundSession:
    """The one way the service builds an outbound ``requests.Session``.

    Args:
        verify: the CA bundle path (or ``True`` for the system store).
        proxy: the ``proxy`` setting; empty: the standard proxy variables, read now.
        timeout: used when a call gives none (msal and feed code pass their own or none).
    """
    return OutboundSession(
        verify=verify, routes=ProxyRoutes.resolve(proxy), timeout=timeout, pool_size=pool_size
    )


# --------------------------------------------------------------------------- transports


class RequestsTransport:
    """The default transport: one pooled :class:`OutboundSession`."""

    def __init__(self, *, verify: str | bool = True, proxy: str = "", pool_size: int = 8) -> None:
        self._verify = verify
        self._session = outbound_session(verify=verify, proxy=proxy, pool_size=pool_size)

    def send(self, request: GraphRequest) -> GraphResponse:
        """Send one request with the configured CA; failures become our transport errors."""
        try:
            response = self._session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=request.timeout,
                allow_redirects=request.allow_redirects,
                verify=self._verify,
            )
        except requests.RequestException as exc:
            # ``from None``: requests' messages quote the URL with its query, which for
            # upload URLs holds a credential. The kind is enough for logs and retries.
            raise transport_error(exc, request) from None
        return GraphResponse(
            status=response.status_code,
            headers=dict(response.headers),
            body=response.content,
            url=response.url,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()


def transport_error(exc: BaseException, request: GraphRequest) -> GraphTransportError:
    """Our error for a ``requests``/``urllib3`` failure of ``request`` (the one mapping)."""
    kind = type(exc).__name__
    url = redact_url(request.url)
    cls: type[GraphTransportError]
    if isinstance(exc, requests.exceptions.SSLError) or _caused_by(
        exc, urllib3.exceptions.SSLError
    ):
        cls = TLSFailed
    elif _never_sent(exc):
        cls = ConnectFailed
    else:
        cls = ResponseLost
    return cls(f"{request.method} {url}: no response ({kind})", method=request.method, url=url)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (args, causes, contexts, urllib3 reasons)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            todo.append(current.reason)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend(linked for linked in (current.__cause__, current.__context__) if linked)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(current, kind) for current in _chain(exc))


def _never_sent(exc: BaseException) -> bool:
    """True when the failure happened before the request left (connect refused/timed out)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    return any(
        isinstance(
            current,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.ConnectTimeoutError
            | urllib3.exceptions.NameResolutionError
            | ConnectionRefusedError,
        )
        for current in _chain(exc)
    )


class MockTransport:
    """A transport that hands every request to ``handler`` (for tests; no sockets).

    The handler returns a :class:`GraphResponse` or raises what a real transport would
    (:class:`~automation.errors.ConnectFailed`, :class:`~automation.errors.ResponseLost`,
    :class:`~automation.errors.TLSFailed`). Every request is kept in ``calls``.
    """

    def __init__(self, handler: Callable[[GraphRequest], GraphResponse]) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self.calls: list[GraphRequest] = []

    def send(self, request: GraphRequest) -> GraphResponse:
        """Record the request and answer with the handler's response."""
        with self._lock:
            self.calls.append(request)
        return self._handler(request)
