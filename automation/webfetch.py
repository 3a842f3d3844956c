"""Bounded GETs from the public web (the HMICFRS feed and report pages), errors mapped once.

Both readers stream the body and stop at a size cap (also while a gzip body inflates), and
both turn `requests`' exceptions into one short reason without the URL's query or any body.
Each caller keeps its own redirect policy: the feed follows any redirect, report pages
follow only allowlisted ones (so they pass ``allow_redirects=False`` and walk them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import requests
import urllib3.exceptions

_CHUNK = 16 * 1024


class WebResponse(Protocol):
    """The parts of a streamed answer the readers use (a ``requests.Response`` has them)."""

    @property
    def status_code(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def is_redirect(self) -> bool: ...
    def iter_content(self, chunk_size: int | None = ...) -> Iterator[bytes]: ...
    def __enter__(self) -> WebResponse: ...
    def __exit__(self, *args: Any) -> None: ...


class WebSession(Protocol):
    """What the public-web readers need of a session: one streamed ``GET``.

    ``requests.Session`` is one; tests hand in an in-memory one that serves given pages.
    """

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str],
        timeout: tuple[float, float],
        verify: str | bool,
        stream: bool,
        allow_redirects: bool,
    ) -> WebResponse: ...


class WebFetchError(Exception):
    """A public-web GET failed; ``str(exc)`` is one short line (no URL, no body)."""


class BodyTooLarge(WebFetchError):
    """The body is larger than the caller's cap."""

    def __init__(self, limit: int, *, declared: str = "") -> None:
        self.limit = limit
        self.declared = declared
        detail = f" (Content-Length {declared})" if declared else ""
        super().__init__(f"over {limit} bytes{detail}")


@contextmanager
def bounded_get(
    session: WebSession,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: tuple[float, float],
    verify: str | bool,
    allow_redirects: bool = True,
) -> Iterator[WebResponse]:
    """A streamed ``GET``; `requests` errors (also while reading the body) become `WebFetchError`.

    Read the body with `read_bounded` inside the ``with`` block.
    """
    try:
        with session.get(
            url,
            headers=dict(headers),
            timeout=timeout,
            verify=verify,
            stream=True,
            allow_redirects=allow_redirects,
        ) as response:
            yield response
    except requests.RequestException as exc:
        raise WebFetchError(failure_reason(exc, timeout)) from exc


def read_bounded(response: WebResponse, max_bytes: int) -> bytes:
    """The (decoded) body, refusing more than ``max_bytes`` even when it arrives compressed.

    Raises:
        BodyTooLarge: the declared or the received body is over ``max_bytes``.
    """
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in {"", "identity"}
    if declared.isdigit() and not encoded and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes, declared=declared)
    buffer = bytearray()
    # iter_content yields decompressed bytes, so a small gzip bomb is caught as it inflates.
    for chunk in response.iter_content(chunk_size=_CHUNK):
        buffer += chunk
        if len(buffer) > max_bytes:
            raise BodyTooLarge(max_bytes)
    return bytes(buffer)


def failure_reason(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    """One short line for a failed request: timed out, could not connect, or the error type."""
    if isinstance(exc, requests.Timeout) or _read_timeout(exc):
        return f"timed out (connect timeout {timeout[0]} s, read timeout {timeout[1]} s)"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "could not decode the compressed body"
    if isinstance(exc, requests.ConnectionError):
        return f"could not connect ({_cause(exc)})"
    return f"request failed: {type(exc).__name__}"


def _read_timeout(exc: BaseException) -> bool:
    """A read timeout while streaming the body, which `requests` raises as a ConnectionError."""
    if any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args):
        return True
    # Older urllib3/requests pairs wrap it in a ProtocolError whose text is all that is left.
    return isinstance(exc, requests.ConnectionError) and "timed out" in str(exc).lower()


def _cause(exc: BaseException) -> str:
    """A short description of a transport error, without the URL's query or any body."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(inner, "reason", None)
    return type(reason).__name__ if isinstance(reason, BaseException) else type(inner).__name__
