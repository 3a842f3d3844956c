"""Upload sessions shared by OneDrive/SharePoint files and Outlook attachments.

Both services hand out a pre-authenticated ``uploadUrl`` that carries its own token in the
query (``tempauth`` for drive items, ``authtoken`` for attachments) and refuses an
``Authorization`` header ("do not include the Authorization header when you upload bytes":
driveitem-createuploadsession and attachment-createuploadsession pages). The bytes arrive as
``PUT`` fragments with ``Content-Range: bytes a-b/total``. What each service checks on a
fragment (sizes, multiples of 320 KiB, error codes) stays in its route module; this module
owns the session records, their tokens, expiry and the bytes received so far.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from automation.sandbox.framework import ApiError, Request
from automation.sandbox.state import Tenant

SESSION_SECONDS = 3600.0
_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadKind:
    """How one service names and guards its upload sessions."""

    table: str  # tenant table of session records
    blob_prefix: str  # blob id prefix of the bytes received so far
    token_param: str  # query parameter holding the session's own token
    url_path: str  # "/_upload/drive"
    auth_code: str  # Graph error code for a bad or extra credential
    missing_code: str  # Graph error code for an unknown or expired session
    invalid_code: str  # Graph error code for a missing or malformed Content-Range


def open_session(
    kind: UploadKind, tenant: Tenant, request: Request, record: dict[str, Any]
) -> tuple[str, str, float]:
    """Store a new session; (session id, upload URL, expiry)."""
    session_id = secrets.token_urlsafe(24)
    token = secrets.token_urlsafe(32)
    expires = time.time() + SESSION_SECONDS
    tenant.table(kind.table)[session_id] = {
        **record,
        "received": 0,
        "expires": expires,
        "token": token,
    }
    tenant.put_blob(f"{kind.blob_prefix}{session_id}", b"")
    url = f"{request.base_url}{kind.url_path}/{session_id}?{kind.token_param}={token}"
    return session_id, url, expires


def find_session(kind: UploadKind, tenant: Tenant, request: Request) -> tuple[str, dict[str, Any]]:
    """The session an upload URL names; 401 with a bearer or a wrong token, 404 when gone."""
    if "authorization" in request.headers:
        raise ApiError(
            401,
            kind.auth_code,
            "The upload URL is pre-authenticated; do not send an Authorization header.",
        )
    session_id = request.params["session_id"]
    record = tenant.table(kind.table).get(session_id)
    if isinstance(record, dict) and record["expires"] < time.time():
        drop_session(kind, tenant, session_id)
        record = None
    if not isinstance(record, dict):
        raise ApiError(404, kind.missing_code, "The upload session was not found.")
    if not secrets.compare_digest(request.query.get(kind.token_param, ""), str(record["token"])):
        raise ApiError(401, kind.auth_code, f"Invalid or missing {kind.token_param} token.")
    return session_id, record


def drop_session(kind: UploadKind, tenant: Tenant, session_id: str) -> None:
    """Forget a session and its bytes."""
    tenant.table(kind.table).pop(session_id, None)
    tenant.delete_blob(f"{kind.blob_prefix}{session_id}")


def content_range(kind: UploadKind, request: Request) -> tuple[int, int, int]:
    """(first byte, last byte, total) from ``Content-Range``; 400 when missing or malformed."""
    found = _RANGE.match(str(request.headers.get("content-range", "")))
    if not found:
        raise ApiError(
            400, kind.invalid_code, "A Content-Range header 'bytes a-b/total' is required."
        )
    start, end, total = (int(value) for value in found.groups())
    if end < start or end >= total or end - start + 1 != len(request.body):
        raise ApiError(
            400, kind.invalid_code, "The Content-Range is not valid for the request body."
        )
    return start, end, total


def received_bytes(kind: UploadKind, tenant: Tenant, session_id: str) -> bytes:
    """The bytes stored for a session so far."""
    return tenant.get_blob(f"{kind.blob_prefix}{session_id}")


def keep_fragment(
    kind: UploadKind, tenant: Tenant, session_id: str, record: dict[str, Any], body: bytes
) -> None:
    """Append a non-final fragment and extend the session's life."""
    tenant.put_blob(
        f"{kind.blob_prefix}{session_id}", received_bytes(kind, tenant, session_id) + body
    )
    record["received"] = int(record["received"]) + len(body)
    record["expires"] = time.time() + SESSION_SECONDS
