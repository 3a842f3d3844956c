"""Sandbox route: JSON batching (``POST /$batch``), graph.md §7.

The batch is validated as a whole first (at most 20 requests, unique ids ignoring case,
``id``/``method``/``url`` present, relative urls, ``Content-Type`` with every body, known
``dependsOn`` ids without cycles, no nested ``$batch``, and a shape that is fully parallel or
fully serial): any problem is a 400 for the whole batch. Then each inner request runs through
``ctx.dispatch`` (faults apply to it like to a top-level request): a serial chain in its order,
a parallel batch in a shuffled order (answers too, as Graph may). A request whose prerequisite
failed gets ``424 Failed Dependency``. The answer is always ``200 {"responses": [...]}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from automation.sandbox.framework import (
    ApiError,
    CaseInsensitiveDict,
    Request,
    Response,
    error_body,
    json_response,
    new_guid,
    parse_query,
)

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext

MAX_REQUESTS = 20
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _is_json_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in {"application/json", "text/json"}


def validate_batch(payload: Any) -> list[dict[str, Any]]:
    """The inner requests of a well-formed batch (a serial chain is in its order); 400 otherwise."""
    if not isinstance(payload, dict) or not isinstance(payload.get("requests"), list):
        raise _bad("Invalid batch payload format: a 'requests' array is expected.")
    requests: list[Any] = payload["requests"]
    if len(requests) > MAX_REQUESTS:
        raise _bad(f"Number of batch requests exceeds the limit of {MAX_REQUESTS}.")
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict):
            raise _bad("Each batch request must be a JSON object.")
        rid, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(rid, str) or not rid:
            raise _bad("Each batch request needs a string 'id'.")
        if rid.lower() in seen:
            raise _bad(f"Batch request id '{rid}' is not unique (ids are case-insensitive).")
        seen.add(rid.lower())
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise _bad(f"Batch request '{rid}' has a missing or unsupported 'method'.")
        if not isinstance(url, str) or not url:
            raise _bad(f"Batch request '{rid}' needs a 'url'.")
        if "://" in url.split("?")[0]:
            raise _bad(f"Batch request '{rid}': the url must be relative to the version root.")
        if urlsplit(url).path.strip("/").lower() == "$batch":
            raise _bad(f"Batch request '{rid}': a batch cannot contain another $batch.")
        headers = item.get("headers")
        if headers is not None and not (
            isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())
        ):
            raise _bad(f"Batch request '{rid}': 'headers' must be an object of strings.")
        if "body" in item and not CaseInsensitiveDict(headers or {}).get("content-type"):
            raise _bad(f"Write request id : {rid} does not contain Content-Type header or body.")
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _bad(f"Batch request '{rid}': 'dependsOn' must be an array of ids.")
    known = {item["id"].lower() for item in requests}
    for item in requests:
        for dep in item.get("dependsOn", []):
            if dep.lower() not in known or dep.lower() == item["id"].lower():
                raise _bad(f"Batch request '{item['id']}' depends on unknown id '{dep}'.")
    _check_shape(requests)  # which also rules out cycles
    return list(requests)


def _check_shape(requests: list[dict[str, Any]]) -> None:
    """Fully parallel (no dependsOn) or fully serial (each on the one before); 400 otherwise.

    json-batching page tip and microsoft-graph-docs#16280: any other shape answers
    400 "Batch should be either fully sequential or fully parallel".
    """
    deps = [[d.lower() for d in item.get("dependsOn", [])] for item in requests]
    parallel = not any(deps)
    serial = (
        bool(requests)
        and not deps[0]
        and all(deps[n] == [requests[n - 1]["id"].lower()] for n in range(1, len(requests)))
    )
    if not (parallel or serial):
        raise _bad("Batch should be either fully sequential or fully parallel")


def _inner_body(item: dict[str, Any], content_type: str) -> bytes:
    if "body" not in item:
        return b""
    body = item["body"]
    if _is_json_type(content_type):
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            if content_type.lower().startswith("text/"):
                return body.encode("utf-8")
            raise _bad(
                f"Batch request '{item['id']}': a non-JSON body must be base64-encoded."
            ) from None
    return json.dumps(body).encode("utf-8")


def _response_entry(rid: str, response: Response) -> dict[str, Any]:
    headers = {
        key: value
        for key, value in response.headers.items()
        if key.lower() not in {"content-length", "request-id"}
    }
    entry: dict[str, Any] = {"id": rid, "status": response.status, "headers": headers}
    if response.body:
        content_type = CaseInsensitiveDict(response.headers).get("content-type", "")
        if _is_json_type(str(content_type)):
            entry["body"] = json.loads(response.body)
        else:
            entry["body"] = base64.b64encode(response.body).decode("ascii")
    return entry


# Fixed seed: the order differs between batches yet is the same on every test run.
SHUFFLE_SEED = 55


def register(ctx: SandboxContext) -> None:
    """Register the routes of this group."""

    order = random.Random(SHUFFLE_SEED)
    ctx.extras["batch_order"] = order

    def batch(request: Request) -> Response:
        if request.in_batch:
            raise _bad("A batch cannot contain another $batch.")
        ordered = validate_batch(request.json())
        if not any(item.get("dependsOn") for item in ordered):
            # Graph runs unordered requests in any order (json-batching page); a seeded
            # shuffle makes an ordering assumption fail in tests, reproducibly.
            order.shuffle(ordered)
        inner = [_inner_request(request, item) for item in ordered]  # validates bodies too
        statuses: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        for item, inner_request in zip(ordered, inner, strict=True):
            rid: str = item["id"]
            failed = [d for d in item.get("dependsOn", []) if statuses.get(d.lower(), 0) >= 400]
            if failed:
                request_id = new_guid()
                response = Response(
                    424,
                    error_body(
                        "FailedDependency",
                        f"The request depends on request(s) {failed} that failed.",
                        request_id,
                    ),
                    {"Content-Type": "application/json"},
                )
            else:
                response = ctx.dispatch(inner_request)
            statuses[rid.lower()] = response.status
            responses.append(_response_entry(rid, response))
        return json_response(200, {"responses": responses})

    ctx.router.add("POST", "/$batch", batch, returns=None)


def _inner_request(outer: Request, item: dict[str, Any]) -> Request:
    """A framework Request for one inner batch request, authenticated as the outer one."""
    url = str(item["url"])
    split = urlsplit(url if url.startswith("/") else f"/{url}")
    headers = CaseInsensitiveDict({str(k): str(v) for k, v in (item.get("headers") or {}).items()})
    if "authorization" in outer.headers:
        headers["Authorization"] = outer.headers["authorization"]
    content_type = str(headers.get("content-type", ""))
    return Request(
        method=str(item["method"]).upper(),
        path="/v1.0" + unquote(split.path),
        query=parse_query(split.query),
        headers=headers,
        body=_inner_body(item, content_type),
        base_url=outer.base_url,
        app_id=outer.app_id,
        roles=outer.roles,
    )
