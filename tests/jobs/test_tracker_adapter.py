"""The tracker adapter: hidden columns selected on every read, display-form links, batching."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from automation.graph.client import GraphResponse, SentRequest
from automation.graph.tracker_list import COLUMNS, TrackerList, record_from_item
from automation.graph.workspace import Ids
from tests.jobs.mock_graph import BASE, adapters, answer, settings

LIST_URL = "https://contoso.sharepoint.com/sites/OPCC/Lists/Tracker"
HIDDEN = [c["name"] for c in COLUMNS if c.get("hidden")]


def _tracker(tmp_path: Path, handler: Any) -> tuple[TrackerList, Any]:
    workspace, tracker, transport = adapters(settings(tmp_path), handler)
    workspace.ids = Ids(site_id="s", list_id="l", list_url=LIST_URL, drive_id="d", plan_id="p")
    return tracker, transport


def _selected(url: str) -> list[str]:
    expand = parse_qs(urlsplit(url).query)["$expand"][0]
    assert expand.startswith("fields($select=")
    return expand.removeprefix("fields($select=").removesuffix(")").split(",")


def test_every_item_read_names_the_hidden_columns(tmp_path: Path) -> None:
    item = {"id": "7", "webUrl": f"{LIST_URL}/7_.000", "fields": {"PublicationKey": "k"}}

    def handler(sent: SentRequest) -> GraphResponse:
        if sent.url.endswith("/$batch"):
            requests = sent.json()["requests"]
            return answer(
                200,
                {
                    "responses": [
                        {"id": r["id"], "status": 200, "body": {"value": [item], **item}}
                        for r in requests
                    ]
                },
            )
        return answer(200, {"value": [item], "@odata.deltaLink": f"{BASE}/delta?token=x"})

    tracker, transport = _tracker(tmp_path, handler)
    tracker.all()
    tracker.lookup_by_keys(["k"])
    tracker.get_many(["7"])
    tracker.changes(None)
    urls = []
    for call in transport.calls:  # a single read may go as a plain request or inside $batch
        if call.url.endswith("/$batch"):
            urls += [f"{BASE}{r['url']}" for r in call.json()["requests"]]
        else:
            urls.append(call.url)
    assert len(urls) == 4
    for url in urls:
        selected = _selected(unquote(url))
        assert set(HIDDEN) <= set(selected), url
        assert {"Title", "PublicationKey", "Modified"} <= set(selected)


def test_the_tracker_link_is_the_display_form_not_the_item_web_url() -> None:
    item = {"id": "12", "webUrl": f"{LIST_URL}/12_.000", "fields": {}}
    assert record_from_item(item, list_url=LIST_URL).web_url == f"{LIST_URL}/DispForm.aspx?ID=12"
    # Without the list URL, the list is the parent of the item's own URL.
    assert record_from_item(item).web_url == f"{LIST_URL}/DispForm.aspx?ID=12"


def test_a_delta_link_for_another_host_is_not_used(tmp_path: Path) -> None:
    def handler(sent: SentRequest) -> GraphResponse:
        return answer(200, {"value": [], "@odata.deltaLink": f"{BASE}/delta?token=new"})

    tracker, transport = _tracker(tmp_path, handler)
    _, link = tracker.changes("https://old-host.test/v1.0/sites/s/lists/l/items/delta?token=a")
    assert link.endswith("token=new")
    assert urlsplit(transport.calls[0].url).netloc == "graph.test"


def test_a_key_lookup_quotes_the_key_and_sends_the_prefer_header(tmp_path: Path) -> None:
    tracker, transport = _tracker(tmp_path, lambda sent: answer(200, {"value": []}))
    assert tracker.find("o'brien") is None
    (sent,) = transport.calls
    query = parse_qs(urlsplit(sent.url).query)
    assert query["$filter"] == ["fields/PublicationKey eq 'o''brien'"]
    assert sent.headers["Prefer"] == "HonorNonIndexedQueriesWarningMayFailRandomly"


def test_a_patch_with_an_etag_sends_if_match(tmp_path: Path) -> None:
    tracker, transport = _tracker(tmp_path, lambda sent: answer(200, {"Status": "Approved"}))
    out = tracker.patch("7", {"Status": "Approved"}, etag='"{G},3"')
    assert out == {"Status": "Approved"}
    (sent,) = transport.calls
    assert (sent.method, urlsplit(sent.url).path) == (
        "PATCH",
        "/v1.0/sites/s/lists/l/items/7/fields",
    )
    assert sent.headers["If-Match"] == '"{G},3"'
    assert sent.json() == {"Status": "Approved"}
