"""Mail from the shared mailbox, tagged so a sent message can be found again.

Each message carries our idempotency key twice: as a single-value extended property (which
messages can be filtered on) and as an ``X-Section55-Key`` internet header (visible to
recipients' mail systems). Callers look the key up with :meth:`Mail.find_sent` before
calling :meth:`Mail.send`; ``send`` itself never searches for a sent copy and is never
blindly retried.

``find_sent`` searches the whole mailbox, not Sent Items: a message accepted by Exchange
reaches Sent Items only once the transport is done with it (the sendMail page: a 202 "does
not indicate that the request processing has completed"), and meanwhile it may sit in the
Outbox. An unsent draft left in Drafts (a draft-route send that stopped before ``/send``)
is not a sent message: ``find_sent`` ignores it and the draft route deletes it before it
builds the message again. Even so, absence right after a send proves nothing: the jobs keep
a send whose outcome is unknown pending until the search has had long enough (the
``mail.confirm_minutes`` setting).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from automation.errors import GraphError, OutcomeUnknownError
from automation.graph.client import GraphClient
from automation.graph.sharepoint import odata_quote

__all__ = [
    "IDEMPOTENCY_PROPERTY_ID",
    "INLINE_ATTACHMENT_LIMIT",
    "INLINE_TOTAL_LIMIT",
    "KEY_HEADER",
    "Attachment",
    "Mail",
    "SendResult",
]

log = logging.getLogger(__name__)

IDEMPOTENCY_PROPERTY_ID = "String {42a22a0c-be26-4d70-8201-1f4b438fc9f5} Name Section55MessageKey"
KEY_HEADER = "X-Section55-Key"
# Attachments sent inline (base64 in the JSON) must stay under 3 MB; larger ones go
# through an upload session, which in turn refuses anything smaller than 3 MB.
INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
# sendMail's JSON body is limited to 4 MB and base64 grows content by a third: attachments
# totalling more than this go through a draft instead.
INLINE_TOTAL_LIMIT = int(2.5 * 1024 * 1024)
# Upload-session PUTs: at most 4 MB each; a multiple of 320 KiB below that.
ATTACHMENT_CHUNK = 12 * 327_680


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file to attach."""

    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """How a message was handed to Exchange (accepted, not yet delivered)."""

    key: str
    route: Literal["sendMail", "draft"]
    message_id: str | None = None


def _file_attachment(att: Attachment) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": att.name,
        "contentType": att.content_type,
        "contentBytes": base64.b64encode(att.content).decode("ascii"),
    }


class Mail:
    """Sending from, and searching by idempotency key, one mailbox."""

    def __init__(self, client: GraphClient, mailbox: str) -> None:
        if not mailbox:
            raise ValueError("a mailbox is required")
        self._client = client
        self._mailbox = mailbox
        self._base = f"/users/{quote(mailbox, safe='@')}"
        # Unsent drafts find_sent saw, by key: send() deletes them before a new attempt.
        self._leftovers: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @property
    def mailbox(self) -> str:
        """The sending mailbox (UPN or id)."""
        return self._mailbox

    def _tagged(self, key: str, folder: str, select: str) -> list[dict[str, Any]]:
        """Messages tagged with ``key`` in the whole mailbox (``folder=""``) or one folder."""
        flt = (
            "singleValueExtendedProperties/Any(ep: ep/id eq "
            f"{odata_quote(IDEMPOTENCY_PROPERTY_ID)} and ep/value eq {odata_quote(key)})"
        )
        where = f"/mailFolders/{folder}" if folder else ""
        result = self._client.get_json(
            f"{self._base}{where}/messages",
            params={"$filter": flt, "$select": select, "$top": "10"},
        )
        values = result.get("value") if isinstance(result, dict) else None
        if not isinstance(values, list):
            return []
        return [value for value in values if isinstance(value, dict)]

    def find_sent(self, key: str) -> dict[str, Any] | None:
        """A sent message tagged with ``key`` anywhere in the mailbox, or ``None``.

        The answer has id, subject, sentDateTime and isDraft. Outbox, Sent Items and any
        folder a person moved the message to count; an unsent draft in Drafts does not.
        ``None`` right after a send proves nothing: the copy may not be visible yet.
        """
        found = self._tagged(key, "", "id,subject,sentDateTime,isDraft")
        for message in found:
            if message.get("isDraft") is not True:
                return message
        if not found:
            return None
        # Flagged unsent: a leftover draft, or (undocumented) a submitted message still
        # in the Outbox. Only the ones in Drafts are drafts; send() deletes them.
        drafts = {str(m.get("id")) for m in self._tagged(key, "drafts", "id")}
        with self._lock:
            self._leftovers[key] = sorted(drafts)
        for message in found:
            if str(message.get("id")) not in drafts:
                return message
        return None

    def _message(
        self,
        *,
        key: str,
        subject: str,
        html: str,
        to: Sequence[str],
        cc: Sequence[str],
        inline: Sequence[Attachment],
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "subject": subject,
            "body": {"contentType": "HTML", "content": html},
            "toRecipients": [{"emailAddress": {"address": a}} for a in to],
            "ccRecipients": [{"emailAddress": {"address": a}} for a in cc],
            "internetMessageHeaders": [{"name": KEY_HEADER, "value": key}],
            "singleValueExtendedProperties": [{"id": IDEMPOTENCY_PROPERTY_ID, "value": key}],
        }
        if inline:
            message["attachments"] = [_file_attachment(a) for a in inline]
        return message

    def send(
        self,
        *,
        key: str,
        subject: str,
        html: str,
        to: Sequence[str],
        cc: Sequence[str] = (),
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """Send an HTML message tagged with ``key``.

        Attachments totalling at most 3 MB go inline through one ``sendMail``; otherwise a
        draft is created, attachments of 3 MB or more are uploaded through upload
        sessions (smaller ones posted one by one) and the draft is sent.

        Raises:
            OutcomeUnknownError: ``sendMail`` or ``/send`` got a 5xx or lost its answer:
                the message may have been sent. Check :meth:`find_sent`, for long enough,
                before trying again.
            GraphError: any other failure; the message was not sent (a failure while the
                draft is being built discards the draft and is raised as a plain
                :class:`GraphError` even when its own outcome was unknown).
        """
        if not key:
            raise ValueError("an idempotency key is required")
        if not to:
            raise ValueError("at least one recipient is required")
        total = sum(len(a.content) for a in attachments)
        if total <= INLINE_TOTAL_LIMIT:
            message = self._message(
                key=key, subject=subject, html=html, to=to, cc=cc, inline=attachments
            )
            self._client.request(
                "POST",
                f"{self._base}/sendMail",
                json={"message": message, "saveToSentItems": True},
                idempotent=False,
            )
            log.info("mail %s accepted via sendMail (%d attachments)", key, len(attachments))
            return SendResult(key=key, route="sendMail")

        message_id = self._build_draft(
            self._message(key=key, subject=subject, html=html, to=to, cc=cc, inline=()),
            key,
            attachments,
        )
        message_path = f"{self._base}/messages/{quote(message_id, safe='')}"
        self._client.request("POST", f"{message_path}/send", data=b"", idempotent=False)
        log.info("mail %s accepted via draft (%d attachments)", key, len(attachments))
        return SendResult(key=key, route="draft", message_id=message_id)

    def _build_draft(
        self, message: dict[str, Any], key: str, attachments: Sequence[Attachment]
    ) -> str:
        """A new draft with every attachment; its id. Nothing is sent.

        Drafts an earlier attempt left behind with the same key (seen by :meth:`find_sent`)
        go first, so at most one message with the key can ever be sent. Any failure
        discards the new draft and raises a :class:`GraphError`: an unknown outcome here
        is no unknown send.
        """
        with self._lock:
            leftovers = self._leftovers.pop(key, [])
        for leftover in leftovers:
            self._discard_draft(f"{self._base}/messages/{quote(leftover, safe='')}")
        message_path = ""
        try:
            draft = self._client.request(
                "POST", f"{self._base}/messages", json=message, idempotent=False
            ).json()
            message_id = str(draft["id"])
            message_path = f"{self._base}/messages/{quote(message_id, safe='')}"
            for att in attachments:
                if len(att.content) >= INLINE_ATTACHMENT_LIMIT:
                    self._upload_attachment(message_path, att)
                else:
                    self._client.request(
                        "POST",
                        f"{message_path}/attachments",
                        json=_file_attachment(att),
                        idempotent=False,
                    )
        except OutcomeUnknownError as exc:
            # A draft (or an attachment on it) may exist: the next attempt deletes it.
            if message_path:
                self._discard_draft(message_path)
            raise GraphError(
                f"mail {key} not sent: the draft could not be built ({exc})",
                method=exc.method,
                url=exc.url,
            ) from exc
        except GraphError:
            if message_path:
                self._discard_draft(message_path)
            raise
        return message_id

    def _upload_attachment(self, message_path: str, att: Attachment) -> None:
        session = self._client.request(
            "POST",
            f"{message_path}/attachments/createUploadSession",
            json={
                "AttachmentItem": {
                    "attachmentType": "file",
                    "name": att.name,
                    "size": len(att.content),
                    "contentType": att.content_type,
                }
            },
            # A repeat only opens a spare session, which expires unused.
            idempotent=True,
        ).json()
        upload_url = str(session["uploadUrl"])
        total = len(att.content)
        for start in range(0, total, ATTACHMENT_CHUNK):
            end = min(start + ATTACHMENT_CHUNK, total)
            self._client.request(
                "PUT",
                upload_url,
                data=att.content[start:end],
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {start}-{end - 1}/{total}",
                },
                authenticated=False,
                idempotent=False,
            )

    def _discard_draft(self, message_path: str) -> None:
        try:
            self._client.request("DELETE", message_path, ok={404})
        except GraphError as exc:  # best effort: a stray draft is never sent
            log.warning("draft could not be deleted: %s", type(exc).__name__)
