"""Routing, request/response values and Graph-shaped errors for the sandbox.

Route modules call :meth:`Router.add` with a path template written the way the Graph
docs write it (``/sites/{site-id}/lists/{list-id}/items``) plus the Graph type it returns,
so that a test can walk every route and check it against the published CSDL.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote


class ApiError(Exception):
    """A Graph error answer: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        inner_code: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner_code = inner_code


class CaseInsensitiveDict(dict[str, str]):
    """Header map with case-insensitive lookups (keys stored lower-case)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__()
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(slots=True)
class Request:
    """One HTTP request as a route handler sees it."""

    method: str
    path: str  # decoded path, e.g. "/v1.0/sites/x/lists"
    query: dict[str, str]
    headers: CaseInsensitiveDict
    body: bytes
    base_url: str  # "https://127.0.0.1:PORT"
    params: dict[str, str] = field(default_factory=dict)
    app_id: str = ""  # client id of the bearer token, "" when unauthenticated
    roles: tuple[str, ...] = ()
    in_batch: bool = False

    def json(self) -> Any:
        """The JSON body; 400 ``BadRequest`` when it is not JSON."""
        if not self.body:
            raise ApiError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", "Unable to read JSON request payload.") from exc

    def json_object(self) -> dict[str, Any]:
        """The JSON body, which must be an object."""
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest", "A JSON object was expected.")
        return data

    @property
    def graph_url(self) -> str:
        """The absolute Graph base URL, ``https://127.0.0.1:P/v1.0``."""
        return f"{self.base_url}/v1.0"


@dataclass(slots=True)
class Response:
    """An HTTP answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer with Graph's content type."""
    out = {"Content-Type": "application/json;odata.metadata=minimal;charset=utf-8"}
    out.update(headers or {})
    return Response(status, json.dumps(payload).encode("utf-8"), out)


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """An answer with no body (202, 204)."""
    return Response(status, b"", dict(headers or {}))


def error_body(code: str, message: str, request_id: str, inner_code: str | None = None) -> bytes:
    """Graph's error envelope."""
    inner: dict[str, Any] = {
        "request-id": request_id,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if inner_code:
        inner["code"] = inner_code
    return json.dumps({"error": {"code": code, "message": message, "innerError": inner}}).encode()


Handler = Callable[[Request], Response]
_C = TypeVar("_C")


def bind(handler: Callable[[_C, Request], Response], ctx: _C) -> Handler:
    """A route handler ``handler(ctx, request)`` with its context bound.

    Unlike ``functools.partial`` the result keeps the handler's ``__module__`` and name, which
    the conformance test uses to tell route groups apart.
    """

    def handle(request: Request) -> Response:
        return handler(ctx, request)

    functools.update_wrapper(handle, handler)
    return handle


@dataclass(frozen=True, slots=True)
class Route:
    """One served route.

    ``template`` is the Graph path after ``/v1.0`` with ``{name}`` parameters. A parameter
    written ``{name:path}`` matches across slashes (used for ``root:/{path}:`` addressing).
    ``returns`` is the Graph type of the JSON body (``microsoft.graph.listItem``), with
    ``collection`` set when the body is ``{"value": [...]}``; ``None`` for empty bodies.
    ``graph`` is False for routes outside Graph (identity, upload URLs, sandbox admin).
    """

    method: str
    template: str
    handler: Handler
    returns: str | None = None
    collection: bool = False
    graph: bool = True
    auth: bool = True
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False)


_PARAM = re.compile(r"\{([A-Za-z0-9_-]+)(:path)?\}")


def _compile(template: str) -> re.Pattern[str]:
    pattern = ""
    pos = 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[pos : match.start()])
        name = match.group(1).replace("-", "_")
        pattern += f"(?P<{name}>.+?)" if match.group(2) else f"(?P<{name}>[^/]+)"
        pos = match.end()
    pattern += re.escape(template[pos:])
    return re.compile(f"^{pattern}$")


class Router:
    """Maps (method, path) to a handler; Graph routes live under ``/v1.0``."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        returns: str | None = None,
        collection: bool = False,
        graph: bool = True,
        auth: bool | None = None,
    ) -> None:
        """Register a route. Graph templates are given without the ``/v1.0`` prefix."""
        full = f"/v1.0{template}" if graph else template
        route = Route(
            method=method.upper(),
            template=template,
            handler=handler,
            returns=returns,
            collection=collection,
            graph=graph,
            auth=graph if auth is None else auth,
            regex=_compile(full),
        )
        self._routes.append(route)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every registered route, in registration order."""
        return tuple(self._routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for a request; 404/405 ``ApiError`` otherwise."""
        path_matched = False
        for route in self._routes:
            found = route.regex.match(path)
            if not found:
                continue
            path_matched = True
            if route.method == method.upper():
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        if path_matched:
            raise ApiError(405, "Request_BadRequest", f"Method {method} is not allowed here.")
        raise ApiError(404, "itemNotFound", f"Resource not found for the segment '{path}'.")


def parse_query(raw: str) -> dict[str, str]:
    """Query string to a dict (first value wins); ``+`` reads as a space, as Graph does."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        out.setdefault(key, value)
    return out


def new_guid() -> str:
    """A lower-case GUID."""
    return str(uuid.uuid4())


def now_iso() -> str:
    """UTC now as Graph writes it: ``2023-07-20T08:15:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select_fields(obj: Mapping[str, Any], select: str | None) -> dict[str, Any]:
    """Apply ``$select`` (keeps ``@odata.*`` annotations and ``id``)."""
    if not select:
        return dict(obj)
    wanted = {part.strip() for part in select.split(",") if part.strip()}
    return {
        key: value
        for key, value in obj.items()
        if key in wanted or key.startswith("@odata.") or key == "id"
    }


def page(
    items: list[dict[str, Any]],
    request: Request,
    *,
    default_top: int = 200,
) -> tuple[list[dict[str, Any]], str | None]:
    """Slice ``items`` by ``$top``/``$skiptoken``; the nextLink when more remain.

    The skiptoken is opaque to clients: an offset encoded as hex behind a marker.
    """
    try:
        top = int(request.query.get("$top", default_top))
    except ValueError as exc:
        raise ApiError(400, "BadRequest", "Invalid $top value.") from exc
    top = max(1, min(top, 5000))
    token = request.query.get("$skiptoken", "")
    offset = 0
    if token:
        try:
            offset = int(token.removeprefix("Paged=TRUE&p_ID="), 16)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", "Invalid $skiptoken.") from exc
    chunk = items[offset : offset + top]
    if offset + top >= len(items):
        return chunk, None
    query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
    query["$top"] = str(top)
    query["$skiptoken"] = f"Paged=TRUE&p_ID={offset + top:x}"
    encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
    return chunk, f"{request.base_url}{quote(request.path)}?{encoded}"


def collection_response(
    request: Request,
    items: list[dict[str, Any]],
    *,
    context: str | None = None,
    default_top: int = 200,
) -> Response:
    """``{"value": [...], "@odata.nextLink"?}`` with paging applied."""
    chunk, next_link = page(items, request, default_top=default_top)
    payload: dict[str, Any] = {}
    if context:
        payload["@odata.context"] = context
    payload["value"] = chunk
    if next_link:
        payload["@odata.nextLink"] = next_link
    return json_response(200, payload)


def iter_json_objects(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object inside ``value`` with a dotted path (used by the CSDL test)."""
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            yield from iter_json_objects(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from iter_json_objects(child, f"{path}[{index}]")
