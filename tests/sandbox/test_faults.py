"""Microsoft's failure modes as sandbox faults: off by default, each switched on by a test.

* processed, then the answer was lost (``OneOff(when="after")``) for every write the service
  makes, plain and inside ``$batch`` (Microsoft Q&A 2286986 and 5629476; audit F3);
* the Sent Items lag after sendMail and ``/send`` (sendMail page: the 202 "does not indicate
  that the request processing has completed"; audit F4), in both undocumented modes;
* throttle storms (429/503 with ``Retry-After``; throttling guidance page).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from automation.sandbox.routes.mail import delivered
from tests.conftest import RawGraph

GUID = "42a22a0c-be26-4d70-8201-1f4b438fc9f5"
PROP = f"String {{{GUID}}} Name Section55MessageKey"
JSON = {"Content-Type": "application/json"}


def _message(key: str) -> dict[str, Any]:
    return {
        "subject": f"Response {key}",
        "body": {"contentType": "HTML", "content": "<p>x</p>"},
        "toRecipients": [{"emailAddress": {"address": "panel@opcc.example.org"}}],
        "singleValueExtendedProperties": [{"id": PROP, "value": key}],
    }


def _key_filter(key: str) -> str:
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq '{key}')"
    return quote(flt, safe="")


def _deliveries(raw: RawGraph, key: str) -> int:
    return len([d for d in delivered(raw.sandbox.tenant) if d["key"] == key])


# -- processed, then the answer was lost ---------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    """One write: the request (built after set-up) and how to count its effect."""

    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    effect: Callable[[], Any]


def _mailbox(raw: RawGraph) -> str:
    return f"/users/{raw.info['mailbox']}"


def _draft(raw: RawGraph, key: str) -> str:
    created = raw.call("POST", f"{_mailbox(raw)}/messages", json=_message(key))
    assert created.status_code == 201
    return str(created.json()["id"])


def _tracker(raw: RawGraph) -> str:
    site = raw.info["site_id"]
    created = raw.call(
        "POST",
        f"/sites/{site}/lists",
        json={
            "displayName": "Faults",
            "columns": [
                {"name": "PublicationKey", "text": {}, "indexed": True, "enforceUniqueValues": True}
            ],
            "list": {"template": "genericList"},
        },
    )
    assert created.status_code == 201
    return f"/sites/{site}/lists/{created.json()['id']}/items"


def _items(raw: RawGraph, items: str) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = raw.call("GET", f"{items}?$expand=fields").json()["value"]
    return values


def _task(raw: RawGraph) -> dict[str, Any]:
    created = raw.call("POST", "/planner/tasks", json={"planId": raw.info["plan_id"], "title": "t"})
    assert created.status_code == 201
    return dict(created.json())


def _send_mail(raw: RawGraph) -> Write:
    return Write(
        method="POST",
        path=f"{_mailbox(raw)}/sendMail",
        body={"message": _message("lost-1"), "saveToSentItems": True},
        headers=JSON,
        effect=lambda: _deliveries(raw, "lost-1"),
    )


def _send_draft(raw: RawGraph) -> Write:
    draft = _draft(raw, "lost-2")
    return Write(
        method="POST",
        path=f"{_mailbox(raw)}/messages/{draft}/send",
        body=None,
        headers={},
        effect=lambda: _deliveries(raw, "lost-2"),
    )


def _upload_session(raw: RawGraph) -> Write:
    draft = _draft(raw, "lost-3")
    item = {"attachmentType": "file", "name": "big.pdf", "size": 3_500_000}
    return Write(
        method="POST",
        path=f"{_mailbox(raw)}/messages/{draft}/attachments/createUploadSession",
        body={"AttachmentItem": item},
        headers=JSON,
        effect=lambda: len(raw.sandbox.tenant.table("mailUploadSessions")),
    )


def _create_task(raw: RawGraph) -> Write:
    plan = raw.info["plan_id"]

    def count() -> int:
        tasks = raw.call("GET", f"/planner/plans/{plan}/tasks").json()["value"]
        return len([t for t in tasks if t["title"] == "[S55-1] Draft"])

    return Write(
        method="POST",
        path="/planner/tasks",
        body={"planId": plan, "title": "[S55-1] Draft"},
        headers=JSON,
        effect=count,
    )


def _create_item(raw: RawGraph) -> Write:
    items = _tracker(raw)
    return Write(
        method="POST",
        path=items,
        body={"fields": {"Title": "t", "PublicationKey": "k-lost"}},
        headers=JSON,
        effect=lambda: len(_items(raw, items)),
    )


def _patch_details(raw: RawGraph) -> Write:
    task = _task(raw)
    path = f"/planner/tasks/{task['id']}/details"
    etag = raw.call("GET", path).json()["@odata.etag"]
    return Write(
        method="PATCH",
        path=path,
        body={"description": "processed"},
        headers={**JSON, "If-Match": etag},
        effect=lambda: int(raw.call("GET", path).json()["description"] == "processed"),
    )


def _patch_item(raw: RawGraph) -> Write:
    items = _tracker(raw)
    made = raw.call("POST", items, json={"fields": {"Title": "before", "PublicationKey": "p"}})
    path = f"{items}/{made.json()['id']}/fields"
    return Write(
        method="PATCH",
        path=path,
        body={"Title": "processed"},
        headers=JSON,
        effect=lambda: int(raw.call("GET", path).json()["Title"] == "processed"),
    )


WRITES: dict[str, Callable[[RawGraph], Write]] = {
    "sendMail": _send_mail,
    "message-send": _send_draft,
    "attachment-createUploadSession": _upload_session,
    "planner-task-create": _create_task,
    "list-item-create": _create_item,
    "task-details-patch": _patch_details,
    "list-item-patch": _patch_item,
}


@pytest.mark.parametrize("batched", [False, True], ids=["plain", "in-batch"])
@pytest.mark.parametrize("name", list(WRITES))
def test_processed_then_answer_lost(raw: RawGraph, name: str, batched: bool) -> None:
    write = WRITES[name](raw)
    assert write.effect() == 0
    raw.sandbox.faults.configure(
        {
            "one_offs": [
                {
                    "method": write.method,
                    "path": "^/v1.0" + write.path.split("?")[0] + "$",
                    "status": 504,
                    "when": "after",
                }
            ]
        }
    )
    if batched:
        inner: dict[str, Any] = {"id": "1", "method": write.method, "url": write.path}
        if write.headers:
            inner["headers"] = write.headers
        if write.body is not None:
            inner["body"] = write.body
        outer = raw.call("POST", "/$batch", json={"requests": [inner]})
        assert outer.status_code == 200
        (answer,) = outer.json()["responses"]
        status, error = answer["status"], answer["body"]["error"]
    else:
        plain = raw.call(
            write.method,
            write.path,
            json=write.body,
            headers={
                **write.headers,
                **({} if write.body is not None else {"Content-Length": "0"}),
            },
        )
        status, error = plain.status_code, plain.json()["error"]
    assert (status, error["code"]) == (504, "gatewayTimeout")
    assert write.effect() == 1  # the work was done although the caller saw a 504
    assert raw.sandbox.faults.to_dict()["one_offs"] == []  # one-off: used up


# -- Sent Items lag ----------------------------------------------------------------------------
def _lag(raw: RawGraph, mode: str, delay: float) -> None:
    # Through the admin route, as `automation sandbox --faults` and an outside test would.
    answer = raw.session.put(
        f"{raw.sandbox.url}/_sandbox/faults",
        json={"sent_items_delay": delay, "sent_items_lag": mode},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def _search(raw: RawGraph, key: str, folder: str | None) -> list[dict[str, Any]]:
    where = f"/mailFolders/{folder}" if folder else ""
    answer = raw.call("GET", f"{_mailbox(raw)}{where}/messages?$filter={_key_filter(key)}")
    assert answer.status_code == 200, answer.text
    values: list[dict[str, Any]] = answer.json()["value"]
    return values


def _wait_until_in_sent_items(raw: RawGraph, key: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = _search(raw, key, "SentItems")
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("never reached Sent Items")


def _send(raw: RawGraph, key: str, how: str) -> str | None:
    """Send by sendMail or by sending a draft (202 either way); the draft id, if any."""
    draft_id = None
    if how == "sendMail":
        sent = raw.call("POST", f"{_mailbox(raw)}/sendMail", json={"message": _message(key)})
    else:
        draft_id = _draft(raw, key)
        sent = raw.call(
            "POST", f"{_mailbox(raw)}/messages/{draft_id}/send", headers={"Content-Length": "0"}
        )
    assert sent.status_code == 202
    return draft_id


@pytest.mark.parametrize("how", ["sendMail", "draft-send"])
def test_sent_items_lag_invisible_mode(raw: RawGraph, how: str) -> None:
    _lag(raw, "invisible", 0.6)
    key = f"lag-invisible-{how}"
    draft_id = _send(raw, key, how)
    assert _deliveries(raw, key) == 1  # delivered at once; only the Sent Items copy lags
    assert _search(raw, key, "SentItems") == []
    assert _search(raw, key, None) == []  # nowhere in the mailbox
    if draft_id:
        assert raw.call("GET", f"{_mailbox(raw)}/messages/{draft_id}").status_code == 404
    found = _wait_until_in_sent_items(raw, key)
    assert len(found) == 1
    assert len(_search(raw, key, None)) == 1  # the whole-mailbox search finds it too


@pytest.mark.parametrize("how", ["sendMail", "draft-send"])
def test_sent_items_lag_outbox_mode(raw: RawGraph, how: str) -> None:
    _lag(raw, "outbox", 0.6)
    key = f"lag-outbox-{how}"
    _send(raw, key, how)
    assert _search(raw, key, "SentItems") == []
    (waiting,) = _search(raw, key, None)  # the whole mailbox has it, in the Outbox
    assert len(_search(raw, key, "outbox")) == 1
    outbox_id = waiting["parentFolderId"]
    found = _wait_until_in_sent_items(raw, key)
    assert found[0]["parentFolderId"] != outbox_id
    assert _search(raw, key, "outbox") == []
    (settled,) = _search(raw, key, None)
    assert settled["parentFolderId"] == found[0]["parentFolderId"]


def test_no_lag_by_default(raw: RawGraph) -> None:
    assert raw.sandbox.faults.to_dict()["sent_items_delay"] == 0.0
    sent = raw.call("POST", f"{_mailbox(raw)}/sendMail", json={"message": _message("now")})
    assert sent.status_code == 202
    assert len(_search(raw, "now", "SentItems")) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"sent_items_lag": "sometimes"},
        {"sent_items_delay": -1},
        {"duplicate_status": 400},
        {"event_transaction_window": -1},
    ],
)
def test_bad_fault_settings_are_refused(raw: RawGraph, bad: dict[str, Any]) -> None:
    answer = raw.session.put(f"{raw.sandbox.url}/_sandbox/faults", json=bad, timeout=10)
    assert answer.status_code == 400


# -- throttle storms ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "status", "code"),
    [("throttle_rate", 429, "TooManyRequests"), ("unavailable_rate", 503, "serviceNotAvailable")],
)
def test_throttle_storm(raw: RawGraph, setting: str, status: int, code: str) -> None:
    raw.sandbox.faults.configure({setting: 1.0, "retry_after": "2", "seed": 1})
    answer = raw.call("GET", f"/planner/plans/{raw.info['plan_id']}")
    assert answer.status_code == status
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["error"]["code"] == code
    inner = raw.call(
        "POST",
        "/$batch",
        json={"requests": [{"id": "1", "method": "GET", "url": "/planner/plans/x"}]},
    )
    # The storm hits the $batch POST itself first; it is not processed.
    assert inner.status_code == status
    raw.sandbox.faults.configure({})
    assert raw.call("GET", f"/planner/plans/{raw.info['plan_id']}").status_code == 200
