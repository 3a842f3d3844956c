"""The thin Graph adapters against a MockTransport: what they send and how they read answers."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from automation.errors import GoneError, NotFoundError
from automation.graph.client import (
    GraphClient,
    GraphResponse,
    MockTransport,
    RetryPolicy,
    SentRequest,
)
from automation.graph.drive import Drive
from automation.graph.mail import (
    IDEMPOTENCY_PROPERTY_ID,
    INLINE_ATTACHMENT_LIMIT,
    INLINE_TOTAL_LIMIT,
    KEY_HEADER,
    Attachment,
    Mail,
)
from automation.graph.planner import (
    Planner,
    TaskSpec,
    checklist_id,
    details_body,
    encode_reference_key,
)
from automation.graph.sharepoint import SharePoint, from_sp_date, to_sp_date
from automation.graph.users import Users

BASE = "https://graph.test/v1.0"
TOKEN = "adapter-token-xyz"


class Tokens:
    def token(self) -> str:
        return TOKEN

    def invalidate(self) -> None:
        pass


def resp(
    status: int, body: Any = None, headers: Mapping[str, str] | None = None, url: str = ""
) -> GraphResponse:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return GraphResponse(status=status, headers=dict(headers or {}), body=raw, url=url)


def make(handler: Callable[[SentRequest], GraphResponse]) -> tuple[GraphClient, MockTransport]:
    transport = MockTransport(handler)
    client = GraphClient(
        base_url=BASE,
        tokens=Tokens(),
        transport=transport,
        retry=RetryPolicy(max_attempts=2),
        sleep=lambda _: None,
        rng=random.Random(0),
    )
    return client, transport


def path_of(sent: SentRequest) -> str:
    return unquote(urlsplit(sent.url).path.removeprefix("/v1.0"))


def query_of(sent: SentRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(sent.url).query)


# ----------------------------------------------------------------------------- pure helpers


def test_reference_key_encoding() -> None:
    assert (
        encode_reference_key("https://contoso.sharepoint.com/sites/x/draft.docx")
        == "https%3A//contoso%2Esharepoint%2Ecom/sites/x/draft%2Edocx"
    )
    assert encode_reference_key("https://h/a%20b@c#d") == "https%3A//h/a%2520b%40c%23d"


def test_checklist_id_is_a_deterministic_guid() -> None:
    first = checklist_id("hmicfrs:abc", 1)
    assert first == checklist_id("hmicfrs:abc", 1)
    assert first != checklist_id("hmicfrs:abc", 2)
    assert first != checklist_id("hmicfrs:abd", 1)
    assert str(uuid.UUID(first)) == first


@pytest.mark.parametrize(
    ("day", "wire"),
    [
        (date(2023, 9, 13), "2023-09-12T23:00:00Z"),  # British Summer Time
        (date(2024, 1, 15), "2024-01-15T00:00:00Z"),  # GMT
        (date(2024, 3, 31), "2024-03-31T00:00:00Z"),  # the clocks go forward at 01:00
        (date(2024, 10, 27), "2024-10-26T23:00:00Z"),  # the clocks go back at 02:00
    ],
)
def test_sp_dates_round_trip_as_london_calendar_dates(day: date, wire: str) -> None:
    assert to_sp_date(day) == wire
    assert from_sp_date(wire) == day


def test_from_sp_date_accepts_offsets_and_bare_dates() -> None:
    assert from_sp_date("2023-09-12T23:00:00+00:00") == date(2023, 9, 13)
    assert from_sp_date("2023-09-13") == date(2023, 9, 13)
    assert from_sp_date("2024-01-15T00:00:00Z") == date(2024, 1, 15)


# ----------------------------------------------------------------------------- drive


def test_download_pdf_does_not_send_authorization_to_the_redirect_target() -> None:
    target = "https://files.test/transform/pdf?tempauth=pre-authenticated"

    def handler(sent: SentRequest) -> GraphResponse:
        if sent.url.startswith(BASE):
            return resp(302, headers={"Location": target}, url=sent.url)
        return resp(200, b"%PDF-1.7 stub", {"Content-Type": "application/pdf"}, url=sent.url)

    client, transport = make(handler)
    pdf = Drive(client).download_pdf("drive-1", "item-1")
    assert pdf == b"%PDF-1.7 stub"
    graph_call, file_call = transport.calls
    assert path_of(graph_call) == "/drives/drive-1/items/item-1/content"
    assert query_of(graph_call) == {"format": ["pdf"]}
    assert graph_call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert graph_call.allow_redirects is False
    assert file_call.url == target
    assert "Authorization" not in file_call.headers


def test_small_upload_is_one_put_with_conflict_behaviour() -> None:
    client, transport = make(lambda s: resp(201, {"id": "f1", "name": "a b.docx"}))
    item = Drive(client).upload("d1", "Drafts/2024", "a b.docx", b"docx-bytes")
    assert item["id"] == "f1"
    (sent,) = transport.calls
    assert sent.method == "PUT"
    assert path_of(sent) == "/drives/d1/root:/Drafts/2024/a b.docx:/content"
    assert "a%20b.docx" in sent.url
    assert query_of(sent) == {"@microsoft.graph.conflictBehavior": ["fail"]}
    assert sent.body == b"docx-bytes"


def test_large_upload_uses_a_session_with_unauthenticated_fragments() -> None:
    content = bytes(range(256)) * 20_000  # 5,120,000 bytes > 4 MB
    upload_url = "https://upload.test/sess/1?tempauth=x"
    chunk = 327_680 * 10

    def handler(sent: SentRequest) -> GraphResponse:
        if sent.url.endswith(":/createUploadSession"):
            return resp(200, {"uploadUrl": upload_url, "expirationDateTime": "x"})
        assert sent.url == upload_url
        _start, end = map(int, sent.headers["Content-Range"].split()[1].split("/")[0].split("-"))
        if end + 1 < len(content):
            return resp(202, {"nextExpectedRanges": [f"{end + 1}-"]})
        return resp(201, {"id": "big", "size": len(content)})

    client, transport = make(handler)
    item = Drive(client).upload("d1", "Drafts", "big.docx", content, conflict="replace")
    assert item["id"] == "big"
    create, *fragments = transport.calls
    assert create.json() == {
        "item": {"@microsoft.graph.conflictBehavior": "replace", "name": "big.docx"}
    }
    assert [f.headers["Content-Range"] for f in fragments] == [
        f"bytes 0-{chunk - 1}/{len(content)}",
        f"bytes {chunk}-{len(content) - 1}/{len(content)}",
    ]
    assert all("Authorization" not in f.headers for f in fragments)
    assert b"".join(f.body or b"" for f in fragments) == content


def test_ensure_folder_creates_missing_segments_and_survives_a_race() -> None:
    state: dict[str, dict[str, Any]] = {"": {"id": "root", "folder": {}}}
    raced = {"Drafts": False}

    def handler(sent: SentRequest) -> GraphResponse:
        path = path_of(sent)
        if sent.method == "GET":
            key = path.removeprefix("/drives/d1/root").removeprefix(":/")
            return (
                resp(200, state[key])
                if key in state
                else resp(404, {"error": {"code": "itemNotFound"}})
            )
        body = sent.json()
        parent_id = path.split("/")[4]
        parent_path = next(k for k, v in state.items() if v["id"] == parent_id)
        here = f"{parent_path}/{body['name']}".lstrip("/")
        assert body["@microsoft.graph.conflictBehavior"] == "fail"
        if here == "Drafts" and not raced["Drafts"]:
            raced["Drafts"] = True  # someone else created it between our GET and POST
            state[here] = {"id": "id-Drafts", "folder": {}}
            return resp(409, {"error": {"code": "nameAlreadyExists", "message": "exists"}})
        state[here] = {"id": f"id-{body['name']}", "folder": {}}
        return resp(201, state[here])

    client, transport = make(handler)
    folder = Drive(client).ensure_folder("d1", "Drafts/2024")
    assert folder["id"] == "id-2024"
    assert set(state) == {"", "Drafts", "Drafts/2024"}
    assert sum(1 for c in transport.calls if c.method == "POST") == 2
    # second call: one GET, nothing created
    before = len(transport.calls)
    assert Drive(client).ensure_folder("d1", "Drafts/2024")["id"] == "id-2024"
    assert len(transport.calls) == before + 1


# ----------------------------------------------------------------------------- mail


def mail_handler(calls: list[str]) -> Callable[[SentRequest], GraphResponse]:
    def handler(sent: SentRequest) -> GraphResponse:
        path = path_of(sent)
        calls.append(f"{sent.method} {path if sent.url.startswith(BASE) else 'UPLOAD'}")
        if path.endswith("/sendMail") or path.endswith("/send"):
            return resp(202)
        if path.endswith("/messages") and sent.method == "POST":
            return resp(201, {"id": "draft-1", "isDraft": True})
        if path.endswith("/createUploadSession"):
            return resp(201, {"uploadUrl": "https://outlook.test/upload?authtoken=abc"})
        if not sent.url.startswith(BASE):
            return resp(200, {"ExpirationDateTime": "x", "nextExpectedRanges": ["1-"]})
        if path.endswith("/attachments"):
            return resp(201, {"id": "att"})
        raise AssertionError(f"unexpected {sent.method} {sent.url}")

    return handler


def test_mail_at_the_3mb_boundary_uses_send_mail_with_inline_attachments() -> None:
    calls: list[str] = []
    client, transport = make(mail_handler(calls))
    atts = [
        Attachment(
            name="a.pdf",
            content_type="application/pdf",
            content=b"a" * (INLINE_TOTAL_LIMIT - 10),
        ),
        Attachment(name="b.txt", content_type="text/plain", content=b"b" * 10),
    ]
    result = Mail(client, "opcc@contoso.test").send(
        key="K-1", subject="S", html="<p>x</p>", to=["cc@x.test"], cc=["p@x.test"], attachments=atts
    )
    assert result.route == "sendMail"
    assert calls == ["POST /users/opcc@contoso.test/sendMail"]
    body = transport.calls[0].json()
    message = body["message"]
    assert body["saveToSentItems"] is True
    assert message["toRecipients"] == [{"emailAddress": {"address": "cc@x.test"}}]
    assert message["ccRecipients"] == [{"emailAddress": {"address": "p@x.test"}}]
    assert message["singleValueExtendedProperties"] == [
        {"id": IDEMPOTENCY_PROPERTY_ID, "value": "K-1"}
    ]
    assert message["internetMessageHeaders"] == [{"name": KEY_HEADER, "value": "K-1"}]
    assert [a["name"] for a in message["attachments"]] == ["a.pdf", "b.txt"]
    assert base64.b64decode(message["attachments"][1]["contentBytes"]) == b"b" * 10
    assert message["attachments"][0]["@odata.type"] == "#microsoft.graph.fileAttachment"


def test_mail_over_3mb_uses_a_draft_and_an_upload_session() -> None:
    calls: list[str] = []
    client, transport = make(mail_handler(calls))
    big = Attachment(
        name="r.pdf", content_type="application/pdf", content=b"x" * (INLINE_ATTACHMENT_LIMIT + 1)
    )
    small = Attachment(name="n.txt", content_type="text/plain", content=b"note")
    result = Mail(client, "opcc@contoso.test").send(
        key="K-2", subject="S", html="<p>x</p>", to=["a@x.test"], attachments=[big, small]
    )
    assert result.route == "draft"
    assert result.message_id == "draft-1"
    mbx = "/users/opcc@contoso.test/messages"
    uploads = [c for c in calls if c == "PUT UPLOAD"]
    assert calls == [
        f"POST {mbx}",
        f"POST {mbx}/draft-1/attachments/createUploadSession",
        *uploads,
        f"POST {mbx}/draft-1/attachments",
        f"POST {mbx}/draft-1/send",
    ]
    assert len(uploads) == 1
    draft_body = transport.calls[0].json()
    assert "attachments" not in draft_body
    assert draft_body["singleValueExtendedProperties"][0]["value"] == "K-2"
    session_body = transport.calls[1].json()
    assert session_body["AttachmentItem"]["size"] == INLINE_ATTACHMENT_LIMIT + 1
    put = transport.calls[2]
    assert "Authorization" not in put.headers
    assert (
        put.headers["Content-Range"]
        == f"bytes 0-{INLINE_ATTACHMENT_LIMIT}/{INLINE_ATTACHMENT_LIMIT + 1}"
    )
    assert all(len(c.body or b"") <= 4 * 1000 * 1000 for c in transport.calls if c.method == "PUT")


def test_find_sent_filters_on_the_extended_property() -> None:
    client, transport = make(lambda s: resp(200, {"value": [{"id": "m1", "subject": "S"}]}))
    found = Mail(client, "opcc@contoso.test").find_sent("it's-K")
    assert found == {"id": "m1", "subject": "S"}
    query = query_of(transport.calls[0])
    # The whole mailbox (Outbox, Sent Items, any folder), not Sent Items alone (audit F4).
    assert path_of(transport.calls[0]) == "/users/opcc@contoso.test/messages"
    assert query["$filter"] == [
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{IDEMPOTENCY_PROPERTY_ID}' "
        "and ep/value eq 'it''s-K')"
    ]
    assert query["$select"] == ["id,subject,sentDateTime,isDraft"]


# ----------------------------------------------------------------------------- sharepoint


def test_get_list_matches_display_name_over_pages() -> None:
    nxt = f"{BASE}/sites/s1/lists?$skiptoken=2"

    def handler(sent: SentRequest) -> GraphResponse:
        if sent.url == nxt:
            return resp(
                200, {"value": [{"id": "L2", "displayName": "Section 55 Tracker", "name": "S55"}]}
            )
        return resp(
            200, {"value": [{"id": "L1", "displayName": "Documents"}], "@odata.nextLink": nxt}
        )

    client, _ = make(handler)
    sp = SharePoint(client)
    assert sp.get_list("s1", "section 55 tracker") == {
        "id": "L2",
        "displayName": "Section 55 Tracker",
        "name": "S55",
    }
    assert sp.get_list("s1", "Missing") is None


def test_delta_follows_next_links_to_the_delta_link_and_keeps_the_latest_state() -> None:
    first = f"{BASE}/sites/s1/lists/l1/items/delta?$expand=fields"
    second = f"{BASE}/sites/s1/lists/l1/items/delta?token=page2"
    final = f"{BASE}/sites/s1/lists/l1/items/delta?token=next-round"
    pages = {
        first: resp(200, {"value": [{"id": "1", "v": 1}, {"id": "2"}], "@odata.nextLink": second}),
        second: resp(200, {"value": [{"id": "1", "v": 2}], "@odata.deltaLink": final}),
    }
    client, transport = make(lambda s: pages[s.url])
    page = SharePoint(client).delta("s1", "l1", None)
    assert page.delta_link == final
    assert page.items == [{"id": "2"}, {"id": "1", "v": 2}]
    assert [c.url for c in transport.calls] == [first, second]


def test_delta_gone_propagates_with_location() -> None:
    fresh = f"{BASE}/sites/s1/lists/l1/items/delta?token=restart"
    client, _ = make(
        lambda s: resp(
            410,
            {"error": {"code": "resyncChangesApplyDifferences", "message": "resync"}},
            {"Location": fresh},
        )
    )
    with pytest.raises(GoneError) as info:
        SharePoint(client).delta("s1", "l1", f"{BASE}/sites/s1/lists/l1/items/delta?token=old")
    assert info.value.location == fresh


def test_delta_latest_asks_for_token_latest() -> None:
    link = f"{BASE}/x?token=now"
    client, transport = make(lambda s: resp(200, {"value": [], "@odata.deltaLink": link}))
    page = SharePoint(client).delta("s1", "l1", None, latest=True)
    assert page.items == []
    assert page.delta_link == link
    assert query_of(transport.calls[0])["token"] == ["latest"]


# ----------------------------------------------------------------------------- planner


def test_create_task_body() -> None:
    client, transport = make(lambda s: resp(201, {"id": "t1"}))
    Planner(client).create_task(
        plan_id="p1",
        bucket_id="b1",
        title="Draft response",
        assignee_ids=["u1", "u2"],
        due=datetime(2024, 7, 1, 17, 0, tzinfo=UTC),
    )
    body = transport.calls[0].json()
    assert body == {
        "planId": "p1",
        "bucketId": "b1",
        "title": "Draft response",
        "assignments": {
            u: {"@odata.type": "#microsoft.graph.plannerAssignment", "orderHint": " !"}
            for u in ("u1", "u2")
        },
        "dueDateTime": "2024-07-01T17:00:00Z",
    }
    with pytest.raises(ValueError, match="timezone"):
        Planner(client).create_task(
            plan_id="p",
            bucket_id="b",
            title="t",
            assignee_ids=[],
            due=datetime(2024, 7, 1),  # noqa: DTZ001
        )


def test_create_task_op_posts_the_task_body() -> None:
    op = Planner.create_task_op(TaskSpec(plan_id="p", bucket_id="b", title="One"))
    assert (op.method, op.url) == ("POST", "/planner/tasks")
    assert op.body["title"] == "One"


def test_details_patch_op_sends_the_details_etag() -> None:
    op = Planner.details_patch_op("t/1", 'W/"e"', {"description": "d"})
    assert (op.method, op.url) == ("PATCH", "/planner/tasks/t%2F1/details")
    assert op.headers["If-Match"] == 'W/"e"'


def test_a_pdf_reference_is_of_the_documented_type_other() -> None:
    body = details_body(references={"https://x/report.pdf": "Report"})
    [reference] = body["references"].values()
    assert reference["type"] == "Other"


@pytest.mark.parametrize(
    ("status", "expected"), [(204, None), (200, {"id": "t1", "percentComplete": 100})]
)
def test_update_task_accepts_200_and_204(status: int, expected: dict[str, Any] | None) -> None:
    client, transport = make(lambda s: resp(status, expected))
    assert Planner(client).update_task("t1", 'W/"abc"', {"percentComplete": 100}) == expected
    sent = transport.calls[0]
    assert sent.headers["If-Match"] == 'W/"abc"'
    assert sent.headers["Prefer"] == "return=representation"


def test_update_details_encodes_references_and_checklist() -> None:
    client, transport = make(lambda s: resp(204))
    cid = checklist_id("K", 1)
    Planner(client).update_details(
        "t1",
        'W/"details"',
        description="Respond by 1 July",
        checklist={cid: "Check numbers"},
        references={"https://contoso.sharepoint.com/sites/x/draft.docx": "Draft"},
    )
    sent = transport.calls[0]
    assert path_of(sent) == "/planner/tasks/t1/details"
    assert sent.headers["If-Match"] == 'W/"details"'
    assert sent.json() == {
        "description": "Respond by 1 July",
        "checklist": {
            cid: {
                "@odata.type": "microsoft.graph.plannerChecklistItem",
                "title": "Check numbers",
                "isChecked": False,
            }
        },
        "references": {
            "https%3A//contoso%2Esharepoint%2Ecom/sites/x/draft%2Edocx": {
                "@odata.type": "microsoft.graph.plannerExternalReference",
                "alias": "Draft",
                "type": "Word",
            }
        },
    }


# ----------------------------------------------------------------------------- users


def test_users_get_caches_and_returns_none_for_unknown() -> None:
    def handler(sent: SentRequest) -> GraphResponse:
        if path_of(sent) == "/users/cc@contoso.test":
            return resp(
                200,
                {
                    "id": "u1",
                    "displayName": "Chief",
                    "mail": "cc@contoso.test",
                    "userPrincipalName": "cc@contoso.test",
                },
            )
        if path_of(sent) == "/users":
            return resp(200, {"value": []})
        return resp(404, {"error": {"code": "Request_ResourceNotFound", "message": "no"}})

    client, transport = make(handler)
    users = Users(client)
    user = users.get("cc@contoso.test")
    assert user is not None
    assert (user.id, user.display_name, user.mail, user.upn) == (
        "u1",
        "Chief",
        "cc@contoso.test",
        "cc@contoso.test",
    )
    assert users.get("CC@contoso.test") is user
    assert len(transport.calls) == 1
    assert query_of(transport.calls[0])["$select"] == ["id,displayName,mail,userPrincipalName"]
    assert users.get("nobody@contoso.test") is None
    assert query_of(transport.calls[-1])["$filter"] == [
        "mail eq 'nobody@contoso.test' or userPrincipalName eq 'nobody@contoso.test'"
    ]


def test_users_other_errors_still_raise() -> None:
    client, _ = make(
        lambda s: resp(404, {"error": {"code": "x"}}) if "/users/" in s.url else resp(403)
    )
    with pytest.raises(Exception, match="403"):
        Users(client).get("a@b.test")
    client2, _ = make(lambda s: resp(404, {"error": {"code": "itemNotFound"}}))
    with pytest.raises(NotFoundError):
        Drive(client2).get_item("d", "i")
