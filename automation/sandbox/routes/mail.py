"""Sandbox routes: sending mail from a mailbox and reading it back.

Over 500 lines on purpose: one handler per served Outlook route plus the MIME rendering
the demo and tests read; ``$filter`` parsing lives in :mod:`automation.sandbox.odata`,
extended properties in :mod:`automation.sandbox.extended_properties` and upload sessions in
:mod:`automation.sandbox.uploads`.

State: ``tenant.data["mailboxes"][upn_lower]["messages"]`` holds Drafts and Sent Items
(keys starting with ``_`` are bookkeeping: folder, attachments). Every accepted send, even
with ``saveToSentItems`` false, is appended to ``tenant.data["delivered"]`` and archived in
``tenant.data["mail_archive"]`` so tests and the demo can count mails and write .eml files
(:func:`delivered`, :func:`message_mime`). A per-mailbox restriction in the style of an
Exchange application access policy is switched with :func:`deny_mailbox`/:func:`allow_mailbox`
(one mailbox refused) or :func:`restrict_mailboxes` (only these mailboxes reachable); the
calendar routes honour the same policy.

Sent Items lag (fault ``sent_items_delay``, off by default): a sent message reaches Sent Items
only that many seconds after the 202; meanwhile it is nowhere (``sent_items_lag:
"invisible"``) or in the Outbox, listed by ``/messages`` but not by ``mailFolders/SentItems``
(``"outbox"``). Delivery to the recipients is not delayed.

Choices where Graph documents no exact answer: contentBytes that is not base64 →
``400 RequestBodyRead`` (an OData binary that cannot be read); an inline attachment of 3 MB
or more, or a JSON request body over 4 MB → ``413 RequestEntityTooLarge``; recipients are
required on send (to, cc or bcc: at least one), not on drafts.
"""

from __future__ import annotations

import base64
import binascii
import copy
import email
import email.policy
import email.utils
import mimetypes
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from automation.sandbox import extended_properties
from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    bind,
    collection_response,
    empty_response,
    json_response,
    now_iso,
    select_fields,
)
from automation.sandbox.uploads import (
    UploadKind,
    content_range,
    drop_session,
    find_session,
    keep_fragment,
    open_session,
    received_bytes,
)

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext
from automation.sandbox.state import Tenant

__all__ = [
    "allow_mailbox",
    "delivered",
    "deny_mailbox",
    "mailbox_access",
    "message_mime",
    "register",
    "restrict_mailboxes",
]

MiB = 1024 * 1024
INLINE_ATTACHMENT_LIMIT = 3 * MiB  # attachments must be under 3 MB inline
REQUEST_LIMIT = 4 * MiB  # a JSON request over 4 MB is refused
UPLOAD_MINIMUM = 3 * MiB  # upload sessions refuse smaller attachments
UPLOAD_MAXIMUM = 150 * MiB
UPLOAD_CHUNK_LIMIT = 4 * MiB
MESSAGE_SIZE_LIMIT = 35 * MiB  # the default tenant message size limit

SEND_ROLES = frozenset({"Mail.Send"})
WRITE_ROLES = frozenset({"Mail.ReadWrite"})
READ_ROLES = frozenset({"Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.ReadWrite"})

WELL_KNOWN_FOLDERS = ("sentitems", "drafts", "inbox", "deleteditems", "outbox", "archive")
ACCESS_DENIED = "Access is denied. Check credentials and try again."
POLICY_DENIED = "Access to OData is disabled."
MAIL_UPLOADS = UploadKind(
    table="mailUploadSessions",
    blob_prefix="mail-upload-",
    token_param="authtoken",
    url_path="/_upload/attachments",
    auth_code="InvalidAuthenticationToken",
    missing_code="ErrorItemNotFound",
    invalid_code="ErrorInvalidRequest",
)
ARCHIVE = "mail_archive"
DELIVERED = "delivered"

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
_FILTERABLE = ("subject", "internetMessageId", "conversationId")
_ORDERABLE = ("receivedDateTime", "sentDateTime", "createdDateTime", "subject")


# -- public helpers for tests and the demo -----------------------------------------------------
def deny_mailbox(tenant: Tenant, upn: str) -> None:
    """Block the app from a mailbox (like an application access policy): 403 on every call."""
    with tenant.lock:
        policy = tenant.data.setdefault("mail_policy", {})
        denied = policy.setdefault("denied_mailboxes", [])
        if upn.lower() not in denied:
            denied.append(upn.lower())
        tenant.save()


def allow_mailbox(tenant: Tenant, upn: str) -> None:
    """Lift :func:`deny_mailbox`."""
    with tenant.lock:
        policy = tenant.data.setdefault("mail_policy", {})
        denied = policy.setdefault("denied_mailboxes", [])
        policy["denied_mailboxes"] = [entry for entry in denied if entry != upn.lower()]
        tenant.save()


def restrict_mailboxes(tenant: Tenant, upns: list[str] | None) -> None:
    """Scope the app to these mailboxes only (a RestrictAccess policy or an RBAC for
    Applications management scope); every other mailbox answers 403. ``None`` lifts it."""
    with tenant.lock:
        policy = tenant.data.setdefault("mail_policy", {})
        if upns is None:
            policy.pop("allowed_mailboxes", None)
        else:
            policy["allowed_mailboxes"] = sorted({upn.lower() for upn in upns})
        tenant.save()


def delivered(tenant: Tenant) -> list[dict[str, Any]]:
    """Every accepted send, oldest first (a copy): mailbox, message_id, to, cc, bcc, subject,
    key (the first single-value extended property's value, or None), attachments
    ({name, contentType, size}), sentDateTime."""
    with tenant.lock:
        return copy.deepcopy(list(tenant.data.get(DELIVERED, [])))


def message_mime(tenant: Tenant, mailbox: str, message_id: str) -> bytes:
    """The RFC 5322 form (.eml) of a sent message, attachments included.

    Raises:
        KeyError: no message with this id was sent from ``mailbox``.
    """
    with tenant.lock:
        record = tenant.data.get(ARCHIVE, {}).get(message_id)
        if not isinstance(record, dict) or record["_mailbox"] != mailbox.lower():
            raise KeyError(message_id)
        message = EmailMessage(policy=email.policy.SMTP)
        sender = record.get("from") or record.get("sender") or {}
        message["From"] = _format_recipient(sender)
        for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients")):
            if record.get(key):
                message[header] = ", ".join(_format_recipient(r) for r in record[key])
        message["Subject"] = str(record.get("subject") or "")
        sent = datetime.fromisoformat(str(record["sentDateTime"]).replace("Z", "+00:00"))
        message["Date"] = email.utils.format_datetime(sent)
        message["Message-ID"] = str(record["internetMessageId"])
        for header in record.get("internetMessageHeaders") or []:
            message[str(header["name"])] = str(header["value"])
        body = record.get("body") or {}
        subtype = "html" if str(body.get("contentType", "")).lower() == "html" else "plain"
        message.set_content(str(body.get("content") or ""), subtype=subtype)
        for attachment in record.get("_attachments", []):
            maintype, _, subtype = str(attachment["contentType"]).partition("/")
            message.add_attachment(
                tenant.get_blob(str(attachment["_blob"])),
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=str(attachment["name"]),
            )
        return message.as_bytes()


def _format_recipient(recipient: dict[str, Any]) -> str:
    address = recipient.get("emailAddress") or {}
    return email.utils.formataddr((str(address.get("name") or ""), str(address["address"])))


# -- small helpers ------------------------------------------------------------------------------
def _new_message_id() -> str:
    return "AAMkAG" + secrets.token_urlsafe(96) + "AAA="


def _new_attachment_id() -> str:
    return "AAMkAG" + secrets.token_urlsafe(60) + "BEgAQ="


def _change_key() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def _expiry_text(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _require(request: Request, roles: frozenset[str]) -> None:
    if not roles.intersection(request.roles):
        raise ApiError(403, "ErrorAccessDenied", ACCESS_DENIED)


def _preview(body: dict[str, Any]) -> str:
    text = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:255]


def _guess_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ApiError(400, "RequestBodyRead", f"Cannot convert the literal '{value}' to Edm.Boolean.")


def _recipients(value: object, field: str, user_names: dict[str, str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, "RequestBodyRead", f"'{field}' must be a collection of recipients.")
    out: list[dict[str, Any]] = []
    for entry in value:
        address = entry.get("emailAddress") if isinstance(entry, dict) else None
        if not isinstance(address, dict) or not isinstance(address.get("address"), str):
            raise ApiError(
                400, "ErrorInvalidRecipients", f"A recipient in '{field}' has no email address."
            )
        text = address["address"].strip()
        name = address.get("name") or user_names.get(text.lower()) or text
        out.append({"emailAddress": {"name": str(name), "address": text}})
    return out


# -- message filters ----------------------------------------------------------------------------
def _message_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over stored messages for the supported ``$filter`` forms.

    ``subject|internetMessageId|conversationId eq '…'`` and
    ``singleValueExtendedProperties/any(ep: ep/id eq '…' [and ep/value eq '…'])``, combined
    with ``and``/``or`` (the forms on the message-list and extended-property pages).
    """
    return extended_properties.item_filter(text, _FILTERABLE)


def _order(messages: list[dict[str, Any]], orderby: str | None) -> list[dict[str, Any]]:
    if not orderby:
        return sorted(messages, key=lambda m: str(m.get("receivedDateTime") or ""), reverse=True)
    parts = orderby.split()
    prop = next((p for p in _ORDERABLE if parts and p.lower() == parts[0].lower()), None)
    direction = parts[1].lower() if len(parts) > 1 else "asc"
    if prop is None or len(parts) > 2 or direction not in {"asc", "desc"}:
        raise ApiError(400, "BadRequest", f"The $orderby expression '{orderby}' is not supported.")
    return sorted(messages, key=lambda m: str(m.get(prop) or ""), reverse=direction == "desc")


def user_for(ctx: SandboxContext, request: Request) -> dict[str, Any]:
    tenant = ctx.tenant
    wanted = request.params["user_id"].strip().lower()
    for user in tenant.table("users").values():
        keys = {
            str(user.get("id", "")).lower(),
            str(user.get("userPrincipalName", "")).lower(),
        }
        if wanted in keys:
            return dict(user)
    raise ApiError(
        404, "ErrorInvalidUser", f"The requested user '{request.params['user_id']}' is invalid."
    )


def mailbox_access(
    ctx: SandboxContext, request: Request, roles: frozenset[str]
) -> tuple[dict[str, Any], str]:
    """(the user, their mailbox key) once the app's roles and the mailbox policy allow it.

    The policy is Exchange's, not Graph's: an application access policy or RBAC for
    Applications covers mail and calendars alike (graph.md §5), so the calendar routes use
    this check too.
    """
    user = user_for(ctx, request)
    _require(request, roles)
    upn = str(user["userPrincipalName"]).lower()
    policy = ctx.tenant.data.get("mail_policy", {})
    allowed = policy.get("allowed_mailboxes")
    if upn in policy.get("denied_mailboxes", []) or (allowed is not None and upn not in allowed):
        raise ApiError(403, "ErrorAccessDenied", POLICY_DENIED)
    return user, upn


def mailbox_for(
    ctx: SandboxContext, request: Request, roles: frozenset[str]
) -> tuple[dict[str, Any], str]:
    """(the user, their mailbox key) after the permission and policy checks."""
    user, upn = mailbox_access(ctx, request, roles)
    mailbox = ctx.tenant.table("mailboxes").setdefault(upn, {"messages": {}})
    mailbox.setdefault("messages", {})
    folders = mailbox.setdefault("folders", {})
    for name in WELL_KNOWN_FOLDERS:
        folders.setdefault(name, "AAMkAG" + secrets.token_urlsafe(30) + "AAA=")
    return user, upn


def messages_of(ctx: SandboxContext, upn: str) -> dict[str, Any]:
    tenant = ctx.tenant
    messages: dict[str, Any] = tenant.table("mailboxes")[upn]["messages"]
    return messages


def folder_id(ctx: SandboxContext, upn: str, name: str) -> str:
    tenant = ctx.tenant
    return str(tenant.table("mailboxes")[upn]["folders"][name])


def user_names(ctx: SandboxContext) -> dict[str, str]:
    tenant = ctx.tenant
    return {
        str(u.get("mail", "")).lower(): str(u.get("displayName") or "")
        for u in tenant.table("users").values()
        if u.get("mail")
    }


def sender_of(user: dict[str, Any]) -> dict[str, Any]:
    address = str(user.get("mail") or user["userPrincipalName"])
    return {"emailAddress": {"name": user.get("displayName") or address, "address": address}}


# building a message from JSON -------------------------------------------------------------
def attachment_record(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ApiError(400, "RequestBodyRead", "An attachment must be an object.")
    kind = str(raw.get("@odata.type", "")).lstrip("#").lower()
    if kind != "microsoft.graph.fileattachment":
        raise ApiError(
            400,
            "RequestBodyRead",
            "Only #microsoft.graph.fileAttachment attachments are supported here.",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "ErrorInvalidRequest", "An attachment needs a name.")
    encoded = raw.get("contentBytes")
    if not isinstance(encoded, str):
        raise ApiError(400, "ErrorInvalidRequest", "A file attachment needs contentBytes.")
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(
            400,
            "RequestBodyRead",
            "Cannot convert the literal in 'contentBytes' to the expected type 'Edm.Binary'.",
        ) from exc
    if len(content) >= INLINE_ATTACHMENT_LIMIT:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            "Attachments of 3 MB or more must be added through an upload session.",
        )
    return {
        "id": _new_attachment_id(),
        "name": name,
        "contentType": str(raw.get("contentType") or _guess_type(name)),
        "size": len(content),
        "isInline": bool(raw.get("isInline", False)),
        "lastModifiedDateTime": now_iso(),
        "contentId": raw.get("contentId"),
        "_content": content,
    }


def build_message(
    ctx: SandboxContext, body: dict[str, Any], user: dict[str, Any], upn: str, *, draft: bool
) -> dict[str, Any]:
    names = user_names(ctx)
    headers = body.get("internetMessageHeaders") or []
    if not isinstance(headers, list):
        raise ApiError(400, "RequestBodyRead", "'internetMessageHeaders' must be a collection.")
    for header in headers:
        name = header.get("name") if isinstance(header, dict) else None
        if not isinstance(name, str) or not name.lower().startswith("x-"):
            raise ApiError(
                400,
                "InvalidInternetMessageHeader",
                f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
            )
    properties = extended_properties.validated(body.get("singleValueExtendedProperties"))
    content = body.get("body") or {"contentType": "text", "content": ""}
    if not isinstance(content, dict):
        raise ApiError(400, "RequestBodyRead", "'body' must be an itemBody.")
    content_type = str(content.get("contentType") or "text").lower()
    if content_type not in {"text", "html"}:
        raise ApiError(
            400, "RequestBodyRead", f"The value '{content_type}' is not a valid bodyType."
        )
    importance = str(body.get("importance") or "normal").lower()
    if importance not in {"low", "normal", "high"}:
        raise ApiError(400, "RequestBodyRead", f"The value '{importance}' is not valid.")
    raw_attachments = body.get("attachments") or []
    if not isinstance(raw_attachments, list):
        raise ApiError(400, "RequestBodyRead", "'attachments' must be a collection.")
    attachments = [attachment_record(raw) for raw in raw_attachments]
    stamp = now_iso()
    domain = str(user["userPrincipalName"]).rpartition("@")[2]
    internet_id = body.get("internetMessageId")
    if not (draft and isinstance(internet_id, str) and internet_id):
        internet_id = f"<{secrets.token_hex(16).upper()}@{domain}>"
    item_body = {"contentType": content_type, "content": str(content.get("content") or "")}
    sender = sender_of(user)
    message_id = _new_message_id()
    return {
        "id": message_id,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": _change_key(),
        "categories": [],
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": bool(attachments),
        "internetMessageId": internet_id,
        "subject": str(body.get("subject") or ""),
        "bodyPreview": _preview(item_body),
        "importance": importance,
        "parentFolderId": "",
        "conversationId": "AAQkAG" + secrets.token_urlsafe(30) + "=",
        "isDeliveryReceiptRequested": bool(body.get("isDeliveryReceiptRequested", False)),
        "isReadReceiptRequested": bool(body.get("isReadReceiptRequested", False)),
        "isRead": True,
        "isDraft": draft,
        "webLink": (
            "https://outlook.office365.com/owa/?ItemID="
            f"{quote(message_id, safe='')}&exvsurl=1&viewmodel=ReadMessageItem"
        ),
        "inferenceClassification": "focused",
        "body": item_body,
        "sender": sender,
        "from": sender,
        "toRecipients": _recipients(body.get("toRecipients"), "toRecipients", names),
        "ccRecipients": _recipients(body.get("ccRecipients"), "ccRecipients", names),
        "bccRecipients": _recipients(body.get("bccRecipients"), "bccRecipients", names),
        "replyTo": _recipients(body.get("replyTo"), "replyTo", names),
        "flag": {"flagStatus": "notFlagged"},
        "internetMessageHeaders": [
            {"name": str(h["name"]), "value": str(h.get("value") or "")} for h in headers
        ],
        "singleValueExtendedProperties": properties,
        "_folder": "drafts" if draft else "sentitems",
        "_mailbox": upn,
        "_attachments": attachments,
    }


def store_attachments(ctx: SandboxContext, message: dict[str, Any]) -> None:
    """Move attachment bytes out of the record into blobs."""
    tenant = ctx.tenant
    for attachment in message["_attachments"]:
        if "_content" in attachment:
            attachment["_blob"] = f"mail-att-{attachment['id']}"
            tenant.put_blob(attachment["_blob"], attachment.pop("_content"))


def check_sendable(message: dict[str, Any]) -> None:
    everyone = message["toRecipients"] + message["ccRecipients"] + message["bccRecipients"]
    if not everyone:
        raise ApiError(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is required, but none were found.",
        )
    for recipient in everyone:
        address = recipient["emailAddress"]["address"]
        if not _ADDRESS.match(address):
            raise ApiError(
                400,
                "ErrorInvalidRecipients",
                f"At least one recipient isn't valid: '{address}'.",
            )
    total = sum(int(a["size"]) for a in message["_attachments"])
    if total > MESSAGE_SIZE_LIMIT:
        raise ApiError(
            413, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size."
        )


def record_delivery(ctx: SandboxContext, message: dict[str, Any]) -> None:
    """Archive the sent message (with its attachments) and log the delivery."""
    tenant = ctx.tenant
    archived = copy.deepcopy(message)
    for attachment in archived["_attachments"]:
        archive_blob = f"mail-archive-{archived['id']}-{attachment['id']}"
        tenant.put_blob(archive_blob, tenant.get_blob(str(attachment["_blob"])))
        attachment["_blob"] = archive_blob
    tenant.data.setdefault(ARCHIVE, {})[archived["id"]] = archived
    properties = message.get("singleValueExtendedProperties") or []
    tenant.data.setdefault(DELIVERED, []).append(
        {
            "mailbox": message["_mailbox"],
            "message_id": message["id"],
            "to": [r["emailAddress"]["address"] for r in message["toRecipients"]],
            "cc": [r["emailAddress"]["address"] for r in message["ccRecipients"]],
            "bcc": [r["emailAddress"]["address"] for r in message["bccRecipients"]],
            "subject": message["subject"],
            "key": properties[0]["value"] if properties else None,
            "attachments": [
                {"name": a["name"], "contentType": a["contentType"], "size": a["size"]}
                for a in message["_attachments"]
            ],
            "sentDateTime": message["sentDateTime"],
        }
    )


# rendering ----------------------------------------------------------------------------------
def attachment_json(ctx: SandboxContext, attachment: dict[str, Any]) -> dict[str, Any]:
    tenant = ctx.tenant
    content = tenant.get_blob(str(attachment.get("_blob", "")))
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "@odata.mediaContentType": attachment["contentType"],
        "id": attachment["id"],
        "lastModifiedDateTime": attachment["lastModifiedDateTime"],
        "name": attachment["name"],
        "contentType": attachment["contentType"],
        "size": attachment["size"],
        "isInline": attachment["isInline"],
        "contentId": attachment.get("contentId"),
        "contentLocation": None,
        "contentBytes": base64.b64encode(content).decode("ascii"),
    }


def message_json(
    ctx: SandboxContext, request: Request, upn: str, message: dict[str, Any], *, context: bool
) -> dict[str, Any]:
    select = request.query.get("$select")
    hidden = {"internetMessageHeaders", "singleValueExtendedProperties"}
    public = {k: v for k, v in message.items() if not k.startswith("_") and k not in hidden}
    public["parentFolderId"] = folder_id(ctx, upn, str(message["_folder"]))
    out: dict[str, Any] = {}
    if context:
        out["@odata.context"] = (
            f"{request.graph_url}/$metadata#users('{quote(upn, safe='@')}')/messages/$entity"
        )
    out["@odata.etag"] = f'W/"{message["changeKey"]}"'
    if select:
        wanted = {part.strip().lower() for part in select.split(",")}
        if "internetmessageheaders" in wanted:
            public["internetMessageHeaders"] = message.get("internetMessageHeaders", [])
        out.update({k: v for k, v in public.items() if k.lower() in wanted or k == "id"})
    else:
        out.update(public)
    expand = request.query.get("$expand")
    if expand:
        asked = extended_properties.parse_expand(expand, frozenset({"attachments"}))
        if asked.properties:
            props = extended_properties.expanded(
                message.get("singleValueExtendedProperties") or [], asked.property_filter
            )
            if props:
                out["singleValueExtendedProperties"] = props
        if "attachments" in asked.others:
            out["attachments"] = [attachment_json(ctx, a) for a in message["_attachments"]]
    return out


def after_send(ctx: SandboxContext, message: dict[str, Any]) -> None:
    """File a message just sent: in Sent Items now, or after the configured lag."""
    plan = ctx.faults.plan
    if plan.sent_items_delay <= 0:
        message["_folder"] = "sentitems"
        return
    message["_folder"] = "outbox"
    message["_due"] = time.time() + plan.sent_items_delay
    message["_lag"] = plan.sent_items_lag


def visible_messages(ctx: SandboxContext, upn: str) -> dict[str, Any]:
    """The mailbox as a reader sees it now: lagging sends moved once due, hidden ones left out."""
    now = time.time()
    shown: dict[str, Any] = {}
    for message_id, message in messages_of(ctx, upn).items():
        if message.get("_due") is not None and float(message["_due"]) <= now:
            message["_folder"] = "sentitems"
            del message["_due"]
            message.pop("_lag", None)
        if message.get("_due") is not None and message.get("_lag") == "invisible":
            continue
        shown[message_id] = message
    return shown


def find_message(ctx: SandboxContext, upn: str, message_id: str) -> dict[str, Any]:
    message = visible_messages(ctx, upn).get(message_id)
    if not isinstance(message, dict):
        raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return message


# handlers -----------------------------------------------------------------------------------
def send_mail(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    user, upn = mailbox_for(ctx, request, SEND_ROLES)
    if len(request.body) > REQUEST_LIMIT:
        raise ApiError(413, "RequestEntityTooLarge", "The maximum request length supported is 4MB.")
    content_type = str(request.headers.get("content-type", "")).lower()
    if content_type.startswith("text/plain"):
        body = {"message": mime_to_message(request.body), "saveToSentItems": True}
    else:
        body = request.json_object()
    raw_message = body.get("message")
    if not isinstance(raw_message, dict):
        raise ApiError(400, "ErrorInvalidRequest", "The 'message' parameter is required.")
    save = _bool(body.get("saveToSentItems"), True)
    message = build_message(ctx, raw_message, user, upn, draft=False)
    check_sendable(message)
    store_attachments(ctx, message)
    record_delivery(ctx, message)
    after_send(ctx, message)
    if save:
        messages_of(ctx, upn)[message["id"]] = message
    else:
        for attachment in message["_attachments"]:
            tenant.delete_blob(str(attachment["_blob"]))
    return empty_response(202)


def mime_to_message(raw: bytes) -> dict[str, Any]:
    try:
        decoded = base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(
            400,
            "ErrorMimeContentInvalidBase64String",
            "Invalid base64 string for MIME content.",
        ) from exc
    parsed = email.message_from_bytes(decoded, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)

    def addresses(header: str) -> list[dict[str, Any]]:
        values = parsed.get_all(header) or []
        return [
            {"emailAddress": {"name": name or address, "address": address}}
            for name, address in email.utils.getaddresses([str(v) for v in values])
            if address
        ]

    html = parsed.get_body(preferencelist=("html", "plain"))
    text = html.get_content() if html is not None else ""
    kind = "html" if html is not None and html.get_content_subtype() == "html" else "text"
    attachments = []
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True)
        attachments.append(
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": part.get_filename() or "attachment",
                "contentType": part.get_content_type(),
                "contentBytes": base64.b64encode(
                    payload if isinstance(payload, bytes) else b""
                ).decode("ascii"),
            }
        )
    return {
        "subject": str(parsed.get("Subject", "")),
        "body": {"contentType": kind, "content": str(text)},
        "toRecipients": addresses("To"),
        "ccRecipients": addresses("Cc"),
        "bccRecipients": addresses("Bcc"),
        "internetMessageHeaders": [
            {"name": k, "value": str(v)} for k, v in parsed.items() if k.lower().startswith("x-")
        ],
        "attachments": attachments,
    }


def create_draft(ctx: SandboxContext, request: Request) -> Response:
    user, upn = mailbox_for(ctx, request, WRITE_ROLES)
    if len(request.body) > REQUEST_LIMIT:
        raise ApiError(413, "RequestEntityTooLarge", "The maximum request length supported is 4MB.")
    message = build_message(ctx, request.json_object(), user, upn, draft=True)
    store_attachments(ctx, message)
    messages_of(ctx, upn)[message["id"]] = message
    shown = message_json(ctx, request, upn, message, context=True)
    return json_response(201, shown)


def get_message(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_for(ctx, request, READ_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    return json_response(200, message_json(ctx, request, upn, message, context=True))


def delete_message(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    _, upn = mailbox_for(ctx, request, WRITE_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    for attachment in message["_attachments"]:
        tenant.delete_blob(str(attachment["_blob"]))
    del messages_of(ctx, upn)[message["id"]]
    return empty_response(204)


def list_messages(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    _, upn = mailbox_for(ctx, request, READ_ROLES)
    messages = list(visible_messages(ctx, upn).values())
    if "folder_id" in request.params:
        wanted = request.params["folder_id"].strip()
        folders = tenant.table("mailboxes")[upn]["folders"]
        name = next((k for k, v in folders.items() if k == wanted.lower() or v == wanted), None)
        if name is None:
            raise ApiError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        messages = [m for m in messages if m["_folder"] == name]
    flt = request.query.get("$filter")
    if flt:
        predicate = _message_filter(flt)
        messages = [m for m in messages if predicate(m)]
    messages = _order(messages, request.query.get("$orderby"))
    values = [message_json(ctx, request, upn, m, context=False) for m in messages]
    context = f"{request.graph_url}/$metadata#users('{quote(upn, safe='@')}')/messages"
    return collection_response(request, values, context=context, default_top=10)


def add_attachment(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    _, upn = mailbox_for(ctx, request, WRITE_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    if len(request.body) > REQUEST_LIMIT:
        raise ApiError(413, "RequestEntityTooLarge", "The maximum request length supported is 4MB.")
    attachment = attachment_record(request.json_object())
    attachment["_blob"] = f"mail-att-{attachment['id']}"
    tenant.put_blob(attachment["_blob"], attachment.pop("_content"))
    message["_attachments"].append(attachment)
    message["hasAttachments"] = True
    message["changeKey"] = _change_key()
    message["lastModifiedDateTime"] = now_iso()
    shown = attachment_json(ctx, attachment)
    shown = {
        "@odata.context": (
            f"{request.graph_url}/$metadata#users('{quote(upn, safe='@')}')/"
            f"messages('{quote(str(message['id']), safe='')}')/attachments/$entity"
        ),
        **shown,
    }
    return json_response(201, shown)


def list_attachments(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_for(ctx, request, READ_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    select = request.query.get("$select")
    values = [select_fields(attachment_json(ctx, a), select) for a in message["_attachments"]]
    return collection_response(request, values)


def get_attachment(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_for(ctx, request, READ_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    for attachment in message["_attachments"]:
        if attachment["id"] == request.params["attachment_id"]:
            shown = attachment_json(ctx, attachment)
            return json_response(200, select_fields(shown, request.query.get("$select")))
    raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def send_draft(ctx: SandboxContext, request: Request) -> Response:
    _, upn = mailbox_for(ctx, request, SEND_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    if not message.get("isDraft"):
        raise ApiError(400, "ErrorInvalidOperation", "Only a draft message can be sent.")
    check_sendable(message)
    stamp = now_iso()
    message["isDraft"] = False
    message["sentDateTime"] = stamp
    message["receivedDateTime"] = stamp
    message["lastModifiedDateTime"] = stamp
    message["changeKey"] = _change_key()
    after_send(ctx, message)
    record_delivery(ctx, message)
    return empty_response(202)


# attachment upload sessions -------------------------------------------------------------
def create_upload(ctx: SandboxContext, request: Request) -> Response:
    user, upn = mailbox_for(ctx, request, WRITE_ROLES)
    message = find_message(ctx, upn, request.params["message_id"])
    body = request.json_object()
    item = body.get("AttachmentItem", body.get("attachmentItem"))
    if not isinstance(item, dict):
        raise ApiError(400, "ErrorInvalidRequest", "The AttachmentItem parameter is required.")
    if str(item.get("attachmentType", "")).lower() != "file":
        raise ApiError(400, "ErrorInvalidRequest", "Only file attachments can be uploaded.")
    name = item.get("name")
    size = item.get("size")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "ErrorInvalidRequest", "The attachment needs a name.")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ApiError(400, "ErrorInvalidRequest", "The attachment needs a positive size.")
    if size < UPLOAD_MINIMUM:
        raise ApiError(
            400,
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        )
    if size > UPLOAD_MAXIMUM:
        raise ApiError(400, "ErrorAttachmentSizeLimitExceeded", "The attachment exceeds 150 MB.")
    record = {
        "mailbox": upn,
        "user_id": user["id"],
        "message": message["id"],
        "name": name,
        "size": size,
        "contentType": str(item.get("contentType") or _guess_type(name)),
        "isInline": bool(item.get("isInline", False)),
        "contentId": item.get("contentId"),
    }
    _, upload_url, expires = open_session(MAIL_UPLOADS, ctx.tenant, request, record)
    return json_response(
        201,
        {
            "@odata.context": f"{request.graph_url}/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": upload_url,
            "expirationDateTime": _expiry_text(expires),
            "nextExpectedRanges": ["0-"],
        },
    )


def upload_status(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "@odata.context": (
            f"{request.base_url}/api/v2.0/$metadata#Users('{record['user_id']}')/"
            f"Messages('{quote(str(record['message']), safe='')}')/AttachmentSessions/$entity"
        ),
        "ExpirationDateTime": _expiry_text(float(record["expires"])),
        "nextExpectedRanges": [str(record["received"])],
    }


def put_chunk(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    session_id, record = find_session(MAIL_UPLOADS, ctx.tenant, request)
    start, end, total = content_range(MAIL_UPLOADS, request)
    length = len(request.body)
    if total != record["size"]:
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            "The total length in Content-Range does not match the attachment size.",
        )
    if length > UPLOAD_CHUNK_LIMIT:
        raise ApiError(413, "RequestEntityTooLarge", "Upload at most 4 MB per request.")
    if start != int(record["received"]):
        raise ApiError(
            416,
            "ErrorInvalidRange",
            f"The range is not the next expected one ({record['received']}-).",
        )
    if end + 1 < total:
        keep_fragment(MAIL_UPLOADS, ctx.tenant, session_id, record, request.body)
        return json_response(200, upload_status(request, record))
    content = received_bytes(MAIL_UPLOADS, ctx.tenant, session_id) + request.body
    upn = str(record["mailbox"])
    message = messages_of(ctx, upn).get(str(record["message"]))
    if not isinstance(message, dict):
        drop_session(MAIL_UPLOADS, ctx.tenant, session_id)
        raise ApiError(404, "ErrorItemNotFound", "The message no longer exists.")
    attachment = {
        "id": _new_attachment_id(),
        "name": record["name"],
        "contentType": record["contentType"],
        "size": len(content),
        "isInline": record["isInline"],
        "lastModifiedDateTime": now_iso(),
        "contentId": record["contentId"],
        "_blob": "",
    }
    attachment["_blob"] = f"mail-att-{attachment['id']}"
    tenant.put_blob(attachment["_blob"], content)
    message["_attachments"].append(attachment)
    message["hasAttachments"] = True
    message["changeKey"] = _change_key()
    message["lastModifiedDateTime"] = now_iso()
    drop_session(MAIL_UPLOADS, ctx.tenant, session_id)
    location = (
        f"{request.graph_url}/users('{record['user_id']}')/messages('"
        f"{quote(str(message['id']), safe='')}')/attachments('"
        f"{quote(str(attachment['id']), safe='')}')"
    )
    return empty_response(201, {"Location": location})


def get_upload(ctx: SandboxContext, request: Request) -> Response:
    _, record = find_session(MAIL_UPLOADS, ctx.tenant, request)
    return json_response(200, upload_status(request, record))


def delete_upload(ctx: SandboxContext, request: Request) -> Response:
    session_id, _ = find_session(MAIL_UPLOADS, ctx.tenant, request)
    drop_session(MAIL_UPLOADS, ctx.tenant, session_id)
    return empty_response(204)


# -- routes -------------------------------------------------------------------------------------
def register(ctx: SandboxContext) -> None:
    """Register the mail routes (Graph and the attachment upload URLs)."""
    # registration ---------------------------------------------------------------------------
    add = ctx.router.add
    message_type = "microsoft.graph.message"
    attachment_type = "microsoft.graph.attachment"
    user = "/users/{user-id}"
    one = f"{user}/messages/{{message-id}}"
    add("POST", f"{user}/sendMail", bind(send_mail, ctx))
    add(
        "GET",
        f"{user}/mailFolders/{{folder-id}}/messages",
        bind(list_messages, ctx),
        returns=message_type,
        collection=True,
    )
    add(
        "POST",
        f"{one}/attachments/createUploadSession",
        bind(create_upload, ctx),
        returns="microsoft.graph.uploadSession",
    )
    add("POST", f"{one}/attachments", bind(add_attachment, ctx), returns=attachment_type)
    add(
        "GET",
        f"{one}/attachments",
        bind(list_attachments, ctx),
        returns=attachment_type,
        collection=True,
    )
    add(
        "GET",
        f"{one}/attachments/{{attachment-id}}",
        bind(get_attachment, ctx),
        returns=attachment_type,
    )
    add("POST", f"{one}/send", bind(send_draft, ctx))
    add("GET", one, bind(get_message, ctx), returns=message_type)
    add("DELETE", one, bind(delete_message, ctx))
    add("POST", f"{user}/messages", bind(create_draft, ctx), returns=message_type)
    add(
        "GET",
        f"{user}/messages",
        bind(list_messages, ctx),
        returns=message_type,
        collection=True,
    )
    upload = "/_upload/attachments/{session-id}"
    add("PUT", upload, bind(put_chunk, ctx), graph=False, auth=False)
    add("GET", upload, bind(get_upload, ctx), graph=False, auth=False)
    add("DELETE", upload, bind(delete_upload, ctx), graph=False, auth=False)
