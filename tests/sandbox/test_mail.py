"""Sandbox mail routes: sendMail, Sent Items lookup by extended property, drafts, uploads."""

from __future__ import annotations

import base64
import email
import email.policy
import os
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import requests

from automation.sandbox.routes.mail import allow_mailbox, delivered, deny_mailbox, message_mime
from tests.conftest import RawGraph

GUID = "42a22a0c-be26-4d70-8201-1f4b438fc9f5"
PROP = f"String {{{GUID}}} Name Section55MessageKey"
CHUNK = 12 * 327_680


def plain(raw: RawGraph) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(raw.sandbox.ca_path)
    return session


def message(key: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": f"Section 55 response {key}",
        "body": {"contentType": "HTML", "content": "<p>Please find the <b>response</b>.</p>"},
        "toRecipients": [{"emailAddress": {"address": "cc.office@opcc.example.org"}}],
        "ccRecipients": [{"emailAddress": {"address": "panel@opcc.example.org"}}],
        "internetMessageHeaders": [{"name": "X-Section55-Key", "value": key}],
        "singleValueExtendedProperties": [{"id": PROP, "value": key}],
    }
    body.update(extra)
    return body


def send(raw: RawGraph, key: str, save: Any = True, **extra: Any) -> requests.Response:
    return raw.call(
        "POST",
        f"/users/{raw.info['mailbox']}/sendMail",
        json={"message": message(key, **extra), "saveToSentItems": save},
    )


def sent_items(raw: RawGraph, flt: str, **params: str) -> requests.Response:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {"$filter": flt, **params}.items())
    return raw.call("GET", f"/users/{raw.info['mailbox']}/mailFolders/SentItems/messages?{query}")


def key_filter(key: str, prop: str = PROP) -> str:
    escaped = key.replace("'", "''")
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and ep/value eq '{escaped}')"


def test_send_mail_then_find_the_sent_copy_by_key(raw: RawGraph) -> None:
    answer = send(raw, "pub-2024-001", save="true")
    assert answer.status_code == 202
    assert answer.content == b""

    found = sent_items(raw, key_filter("pub-2024-001"), **{"$select": "id,subject,sentDateTime"})
    assert found.status_code == 200
    values = found.json()["value"]
    assert len(values) == 1
    assert values[0]["subject"] == "Section 55 response pub-2024-001"
    assert set(values[0]) == {"@odata.etag", "id", "subject", "sentDateTime"}

    assert sent_items(raw, key_filter("pub-2024-002")).json()["value"] == []
    # GUID case-insensitive, value case-insensitive, whitespace tolerated; Name case-sensitive.
    loose = (
        "singleValueExtendedProperties/any( x :x/id eq "
        f"'String {{{GUID.upper()}}} Name Section55MessageKey'  and x/value eq 'PUB-2024-001' )"
    )
    assert len(sent_items(raw, loose).json()["value"]) == 1
    other_name = f"String {{{GUID}}} Name section55messagekey"
    assert sent_items(raw, key_filter("pub-2024-001", other_name)).json()["value"] == []

    unsupported = sent_items(raw, "contains(subject, 'Section')")
    assert unsupported.status_code == 400

    full = raw.call(
        "GET", f"/users/{raw.info['mailbox']}/messages/{quote(values[0]['id'], safe='')}"
    ).json()
    assert full["isDraft"] is False
    assert full["from"]["emailAddress"]["address"] == raw.info["mailbox"]
    assert full["internetMessageId"].endswith("@opcc.example.org>")
    assert full["hasAttachments"] is False
    assert "internetMessageHeaders" not in full
    assert "singleValueExtendedProperties" not in full

    log = delivered(raw.sandbox.tenant)
    assert len(log) == 1
    assert log[0]["key"] == "pub-2024-001"
    assert log[0]["to"] == ["cc.office@opcc.example.org"]
    assert log[0]["cc"] == ["panel@opcc.example.org"]
    assert log[0]["message_id"] == values[0]["id"]


def test_save_to_sent_items_false_is_delivered_but_not_saved(raw: RawGraph) -> None:
    assert send(raw, "quiet", save="false").status_code == 202
    assert sent_items(raw, key_filter("quiet")).json()["value"] == []
    log = delivered(raw.sandbox.tenant)
    assert [entry["key"] for entry in log] == ["quiet"]
    mime = message_mime(raw.sandbox.tenant, raw.info["mailbox"], log[0]["message_id"])
    parsed = email.message_from_bytes(mime, policy=email.policy.default)
    assert parsed["Subject"] == "Section 55 response quiet"
    assert parsed["X-Section55-Key"] == "quiet"


def test_internet_message_header_must_start_with_x(raw: RawGraph) -> None:
    answer = send(raw, "k", internetMessageHeaders=[{"name": "Tracker-Key", "value": "k"}])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidInternetMessageHeader"
    assert answer.json()["error"]["message"] == (
        "The internet message header name 'Tracker-Key' should start with 'x-' or 'X-'."
    )
    assert delivered(raw.sandbox.tenant) == []


def test_recipients_are_required(raw: RawGraph) -> None:
    answer = send(raw, "k", toRecipients=[], ccRecipients=[])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ErrorInvalidRecipients"
    invalid = send(raw, "k", toRecipients=[{"emailAddress": {"address": "not an address"}}])
    assert invalid.status_code == 400


def test_send_mail_needs_the_mail_send_role(raw: RawGraph) -> None:
    roles = requests.put(
        f"{raw.sandbox.url}/_sandbox/apps/{raw.info['client_id']}/roles",
        json={"roles": ["Mail.ReadWrite"]},
        verify=str(raw.sandbox.ca_path),
        timeout=10,
    )
    assert roles.status_code == 204
    answer = send(raw, "k")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "ErrorAccessDenied"
    assert answer.json()["error"]["message"] == "Access is denied. Check credentials and try again."
    assert delivered(raw.sandbox.tenant) == []


def test_denied_mailbox_gets_the_access_policy_error(raw: RawGraph) -> None:
    deny_mailbox(raw.sandbox.tenant, raw.info["mailbox"].upper())
    answer = send(raw, "k")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "ErrorAccessDenied"
    assert answer.json()["error"]["message"] == "Access to OData is disabled."
    listing = raw.call("GET", f"/users/{raw.info['mailbox']}/mailFolders/sentitems/messages")
    assert listing.status_code == 403
    other = raw.call(
        "POST",
        "/users/website@opcc.example.org/sendMail",
        json={"message": message("other")},
    )
    assert other.status_code == 202
    allow_mailbox(raw.sandbox.tenant, raw.info["mailbox"])
    assert send(raw, "k").status_code == 202


def test_unknown_user_is_404(raw: RawGraph) -> None:
    answer = raw.call("POST", "/users/ghost@opcc.example.org/sendMail", json={"message": {}})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ErrorInvalidUser"


def test_inline_attachment_checks(raw: RawGraph) -> None:
    bad = send(
        raw,
        "k",
        attachments=[
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "a.pdf",
                "contentBytes": "not base64!",
            }
        ],
    )
    assert bad.status_code == 400
    big = base64.b64encode(b"x" * (3 * 1024 * 1024)).decode()
    too_big = send(
        raw,
        "k",
        attachments=[
            {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.pdf", "contentBytes": big}
        ],
    )
    assert too_big.status_code == 413
    small = send(
        raw,
        "small",
        attachments=[
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "response.pdf",
                "contentType": "application/pdf",
                "contentBytes": base64.b64encode(b"%PDF-1.4 tiny").decode(),
            }
        ],
    )
    assert small.status_code == 202
    assert delivered(raw.sandbox.tenant)[0]["attachments"] == [
        {"name": "response.pdf", "contentType": "application/pdf", "size": 13}
    ]


def test_draft_with_large_attachment_upload_session_then_send(raw: RawGraph) -> None:
    mailbox = raw.info["mailbox"]
    draft = raw.call("POST", f"/users/{mailbox}/messages", json=message("big-one"))
    assert draft.status_code == 201
    created = draft.json()
    assert created["isDraft"] is True
    assert "internetMessageHeaders" not in created
    path = f"/users/{mailbox}/messages/{quote(created['id'], safe='')}"

    small = raw.call(
        "POST",
        f"{path}/attachments/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "s.pdf", "size": 1_000_000}},
    )
    assert small.status_code == 400
    assert small.json()["error"]["code"] == "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize"

    content = os.urandom(4 * 1024 * 1024)
    session = raw.call(
        "POST",
        f"{path}/attachments/createUploadSession",
        json={
            "AttachmentItem": {
                "attachmentType": "file",
                "name": "response.pdf",
                "size": len(content),
                "contentType": "application/pdf",
            }
        },
    )
    assert session.status_code == 201
    upload_url = session.json()["uploadUrl"]
    assert upload_url.startswith(f"{raw.sandbox.url}/_upload/attachments/")
    assert "authtoken=" in upload_url
    assert session.json()["nextExpectedRanges"] == ["0-"]

    anonymous = plain(raw)
    first = anonymous.put(
        upload_url,
        data=content[:CHUNK],
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes 0-{CHUNK - 1}/{len(content)}",
        },
        timeout=10,
    )
    assert first.status_code == 200
    assert set(first.json()) == {"@odata.context", "ExpirationDateTime", "nextExpectedRanges"}
    assert first.json()["nextExpectedRanges"] == [str(CHUNK)]
    last = anonymous.put(
        upload_url,
        data=content[CHUNK:],
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {CHUNK}-{len(content) - 1}/{len(content)}",
        },
        timeout=10,
    )
    assert last.status_code == 201
    assert last.content == b""
    assert "/attachments(" in last.headers["Location"]

    extra = raw.call(
        "POST",
        f"{path}/attachments",
        json={
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "note.txt",
            "contentBytes": base64.b64encode(b"hello").decode(),
        },
    )
    assert extra.status_code == 201
    assert extra.json()["size"] == 5

    assert delivered(raw.sandbox.tenant) == []
    sent = raw.call("POST", f"{path}/send", data=b"")
    assert sent.status_code == 202

    log = delivered(raw.sandbox.tenant)
    assert len(log) == 1
    assert log[0]["key"] == "big-one"
    assert log[0]["attachments"] == [
        {"name": "response.pdf", "contentType": "application/pdf", "size": len(content)},
        {"name": "note.txt", "contentType": "text/plain", "size": 5},
    ]
    found = raw.call("GET", path).json()
    assert found["isDraft"] is False
    assert found["hasAttachments"] is True
    assert len(sent_items(raw, key_filter("big-one")).json()["value"]) == 1

    mime = message_mime(raw.sandbox.tenant, mailbox, created["id"])
    parsed = email.message_from_bytes(mime, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert "cc.office@opcc.example.org" in str(parsed["To"])
    assert "panel@opcc.example.org" in str(parsed["Cc"])
    assert parsed["From"].addresses[0].addr_spec == mailbox
    assert parsed["X-Section55-Key"] == "big-one"
    assert parsed["Message-ID"] == found["internetMessageId"]
    parts = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert parts["response.pdf"] == content
    body = parsed.get_body(preferencelist=("html",))
    assert body is not None
    assert "<b>response</b>" in body.get_content()


def test_expand_single_value_extended_property(raw: RawGraph) -> None:
    assert send(raw, "expand-me").status_code == 202
    message_id = sent_items(raw, key_filter("expand-me")).json()["value"][0]["id"]
    path = f"/users/{raw.info['mailbox']}/messages/{quote(message_id, safe='')}"
    expand = f"singleValueExtendedProperties($filter=id eq '{PROP}')"
    answer = raw.call("GET", f"{path}?$expand={quote(expand, safe='')}")
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["singleValueExtendedProperties"] == [{"id": PROP, "value": "expand-me"}]
    assert shown["@odata.context"].endswith("/messages/$entity")
    assert shown["id"] == message_id
    assert shown["sender"]["emailAddress"]["address"] == raw.info["mailbox"]

    other = f"singleValueExtendedProperties($filter=id eq 'String {{{GUID}}} Name Other')"
    missing = raw.call("GET", f"{path}?$expand={quote(other, safe='')}").json()
    assert "singleValueExtendedProperties" not in missing

    headers = raw.call("GET", f"{path}?$select=internetMessageHeaders").json()
    assert headers["internetMessageHeaders"] == [{"name": "X-Section55-Key", "value": "expand-me"}]
    assert "subject" not in headers


def test_draft_can_be_discarded(raw: RawGraph) -> None:
    mailbox = raw.info["mailbox"]
    draft = raw.call("POST", f"/users/{mailbox}/messages", json=message("discard")).json()
    path = f"/users/{mailbox}/messages/{quote(draft['id'], safe='')}"
    assert raw.call("DELETE", path).status_code == 204
    assert raw.call("GET", path).status_code == 404
    listed = raw.call("GET", f"/users/{mailbox}/mailFolders/Drafts/messages").json()["value"]
    assert listed == []
