"""Mail from the shared mailbox, tagged so a sent message can be found again.

Each message carries our idempotency key twice: as a single-value extended property (which
Sent Items can be filtered on) and as an ``X-Section55-Key`` internet header (visible to
recipients' mail systems). Callers look the key up with :meth:`Mail.find_sent` before
calling :meth:`Mail.send`; ``send`` itself never searches and is never blindly retried.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from automation.errors import GraphError
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
    """Sending from, and searching the Sent Items of, one mailbox."""

    def __init__(self, client: GraphClient, mailbox: str) -> None:
        if not mailbox:
            raise ValueError("a mailbox is required")
        self._client = client
        self._mailbox = mailbox
        self._base = f"/users/{quote(mailbox, safe='@')}"

    @property
    def mailbox(self) -> str:
        """The sending mailbox (UPN or id)."""
        return self._mailbox

    def find_sent(self, key: str) -> dict[str, Any] | None:
        """The message in Sent Items tagged with ``key`` (id, subject, sentDateTime), or ``None``.

        Sent Items is eventually consistent: a message accepted seconds ago may not show yet.
        """
        flt = (
            "singleValueExtendedProperties/Any(ep: ep/id eq "
            f"{odata_quote(IDEMPOTENCY_PROPERTY_ID)} and ep/value eq {odata_quote(key)})"
        )
        result = self._client.get_json(
            f"{self._base}/mailFolders/SentItems/messages",
            params={"$filter": flt, "$select": "id,subject,sentDateTime", "$top": "1"},
        )
        values = result.get("value") if isinstance(result, dict) else None
        if isinstance(values, list) and values and isinstance(values[0], dict):
            found: dict[str, Any] = values[0]
            return found
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
            GraphTransportError: no answer; the message may or may not have been sent —
                check :meth:`find_sent` before trying again.
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

        draft = self._client.request(
            "POST",
            f"{self._base}/messages",
            json=self._message(key=key, subject=subject, html=html, to=to, cc=cc, inline=()),
            idempotent=False,
        ).json()
        message_id = str(draft["id"])
        message_path = f"{self._base}/messages/{quote(message_id, safe='')}"
        try:
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
        except GraphError:
            self._discard_draft(message_path)
            raise
        self._client.request("POST", f"{message_path}/send", data=b"", idempotent=False)
        log.info("mail %s accepted via draft (%d attachments)", key, len(attachments))
        return SendResult(key=key, route="draft", message_id=message_id)

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
