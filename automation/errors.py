"""One exception tree for the service.

    AutomationError
    ├── SettingsError(ValueError)      invalid or missing settings (CLI exit 2)
    ├── FeedError                      a feed could not be fetched or parsed (names the URL)
    ├── TemplateError                  the Word or email template cannot be rendered
    ├── AuthError                      no token could be obtained (msal error code, no secret);
    │                                  ``transient`` when the identity endpoint was unreachable
    ├── ItemError                      one publication failed; carries the key and field
    └── GraphError                     Graph answered with an error or could not be reached
        ├── GraphTransportError        connection/timeout; no HTTP status
        │   ├── ConnectFailed          never sent (refused, connect timeout): safe to repeat
        │   ├── ResponseLost           sent, but the answer was lost (read timeout, reset)
        │   └── TLSFailed              certificate or handshake problem: never retried
        ├── OutcomeUnknownError        a non-idempotent request (send, create) got a 5xx or
        │                              lost its answer: it may have been processed; check
        │                              (mailbox search, task by title, item by key), never resend
        └── GraphHTTPError             an HTTP error status; carries status, code, request-id
            ├── BadRequestError        400
            ├── UnauthorizedError      401
            ├── ForbiddenError         403
            ├── NotFoundError          404
            ├── ConflictError          409 (e.g. nameAlreadyExists)
            │   └── DuplicateValueError a unique column already holds the value (409, or
            │                          SharePoint's 500 SPDuplicateValuesFoundException)
            ├── GoneError              410 (delta token expired; ``location`` holds the resync link)
            ├── PreconditionFailedError 412 (stale etag)
            ├── ThrottledError         429 after the retry budget was spent
            └── ServerError            5xx after the retry budget was spent

Every GraphError carries the HTTP method and URL (without query secrets) so a log line
or a CLI message names the call that failed.
"""

from __future__ import annotations

import re


class AutomationError(Exception):
    """Base class of every error the service raises on purpose."""


class SettingsError(AutomationError, ValueError):
    """Settings are invalid; ``problems`` has one line per problem naming the setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) or "invalid settings")


class FeedError(AutomationError):
    """A feed could not be fetched or parsed."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"feed {url}: {reason}")


class TemplateError(AutomationError):
    """A template (Word or email) could not be rendered."""


class AuthError(AutomationError):
    """No access token could be obtained.

    ``transient`` is True when the identity endpoint could not be reached or answered with
    a server error (the next try may work); otherwise a person must fix the credential,
    the tenant or the app registration.
    """

    def __init__(self, message: str, *, code: str = "", transient: bool = False) -> None:
        self.code = code
        self.transient = transient
        super().__init__(message)


class ItemError(AutomationError):
    """One publication could not be processed; the rest of the run goes on."""

    def __init__(self, key: str, field: str, reason: str) -> None:
        self.key = key
        self.field = field
        self.reason = reason
        super().__init__(f"{key}: {field}: {reason}")


class GraphError(AutomationError):
    """Graph could not be reached or answered with an error."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class GraphTransportError(GraphError):
    """The request did not get an HTTP answer (connection refused, timeout, TLS)."""


class ConnectFailed(GraphTransportError):
    """The request never left (connection refused, connect timeout, DNS): safe to repeat."""


class ResponseLost(GraphTransportError):
    """The request was sent but no answer arrived (read timeout, reset): it may have run."""


class TLSFailed(GraphTransportError):
    """The TLS handshake failed (untrusted or wrong certificate): waiting does not heal it."""


class OutcomeUnknownError(GraphError):
    """A non-idempotent request may or may not have been processed; check before repeating.

    Raised instead of a retry when a send or create gets a 5xx or loses its answer
    (Microsoft may have processed it: repeating it sends a second mail or makes a second
    task). ``status`` is the HTTP status (``None`` when the answer was lost) and
    ``request_id`` Graph's request-id when there was an answer.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        code: str = "",
        request_id: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        super().__init__(message, method=method, url=url)


class GraphHTTPError(GraphError):
    """Graph answered with an error status."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        request_id: str,
        method: str,
        url: str,
        retry_after: float | None = None,
        location: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.graph_message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.location = location
        text = f"{method} {url} -> {status} {code}: {message} (request-id {request_id or '-'})"
        super().__init__(text, method=method, url=url)


class BadRequestError(GraphHTTPError):
    """400."""


class UnauthorizedError(GraphHTTPError):
    """401."""


class ForbiddenError(GraphHTTPError):
    """403."""


class NotFoundError(GraphHTTPError):
    """404."""


class ConflictError(GraphHTTPError):
    """409."""


class DuplicateValueError(ConflictError):
    """A unique column already holds the value; Graph may say so with 409 or another status."""


class GoneError(GraphHTTPError):
    """410; ``location`` holds the fresh enumeration link when Graph gave one."""


class PreconditionFailedError(GraphHTTPError):
    """412: the etag sent with If-Match is stale."""


class ThrottledError(GraphHTTPError):
    """429 after the retry budget was spent."""


class ServerError(GraphHTTPError):
    """5xx after the retry budget was spent."""


_BY_STATUS: dict[int, type[GraphHTTPError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    412: PreconditionFailedError,
    429: ThrottledError,
}


# SharePoint names a unique-column clash in the code or message, whatever the status:
# Graph's 409 ("duplicate values"), SharePoint REST's 500 SPDuplicateValuesFoundException.
_DUPLICATE = re.compile(
    r"SPDuplicateValuesFound|duplicate values? (?:were |was )?found|unique (?:value|constraint)"
    r"|duplicate key|uniqueness",
    re.IGNORECASE,
)


def is_access_failure(exc: BaseException) -> bool:
    """Whether ``exc`` means the app is not let in: nothing works until a person acts.

    A wrong or expired credential, a wrong tenant, an unreadable certificate, or Graph
    answering 401/403 to a call a whole pass depends on (a missing permission or grant).
    Commands exit 2 on it and ``run`` stops (a restart cannot heal it).
    """
    if isinstance(exc, AuthError):
        return not exc.transient
    return isinstance(exc, UnauthorizedError | ForbiddenError)


def names_duplicate_value(code: str, message: str) -> bool:
    """Whether a Graph error's code or message says a unique value already exists."""
    return bool(_DUPLICATE.search(code) or _DUPLICATE.search(message))


def http_error_class(status: int, code: str = "", message: str = "") -> type[GraphHTTPError]:
    """The exception class for an HTTP error status (and its Graph code and message)."""
    if status >= 400 and names_duplicate_value(code, message):
        return DuplicateValueError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return GraphHTTPError
