"""The workspace cache: keyed by the settings it came from, healed after a 404."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from automation.graph.client import (
    GraphClient,
    GraphResponse,
    MockTransport,
    RetryPolicy,
    SentRequest,
)
from automation.graph.drive import Drive
from automation.graph.planner import Planner
from automation.graph.sharepoint import SharePoint
from automation.graph.tracker_list import TrackerList
from automation.graph.workspace import Workspace
from automation.localstate import LocalState
from automation.settings import Settings

BASE = "https://graph.test/v1.0"


class Tokens:
    def token(self) -> str:
        return "t"

    def invalidate(self) -> None:
        pass


def _answer(status: int, body: Any) -> GraphResponse:
    return GraphResponse(status=status, headers={}, body=json.dumps(body).encode(), url="")


def _tenant(sent: SentRequest, *, list_id: str = "new-list") -> GraphResponse:
    path = unquote(urlsplit(sent.url).path.removeprefix("/v1.0"))
    if path.startswith("/sites/contoso.sharepoint.com:"):
        return _answer(200, {"id": "site-2", "webUrl": "https://contoso/sites/New"})
    if path == "/sites/site-2/lists":
        return _answer(200, {"value": [{"id": list_id, "displayName": "Section 55 Tracker"}]})
    if path == "/sites/site-2/drive":
        return _answer(200, {"id": "drive-2"})
    if path.endswith("/buckets"):
        return _answer(200, {"value": []})
    if path == f"/sites/site-2/lists/{list_id}/items":
        return _answer(200, {"value": []})
    return _answer(404, {"error": {"code": "itemNotFound", "message": "gone"}})


def _workspace(tmp_path: Path, site_path: str, handler: Any) -> tuple[Workspace, TrackerList]:
    client = GraphClient(
        base_url=BASE,
        tokens=Tokens(),
        transport=MockTransport(handler),
        retry=RetryPolicy(max_attempts=1),
        sleep=lambda _: None,
        rng=random.Random(0),
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        tenant_id="t",
        client_id="c",
        client_secret="s",
        state_dir=tmp_path,
        graph_url=BASE,
        sharepoint={"hostname": "contoso.sharepoint.com", "site_path": site_path},
        planner={"plan_id": "plan-1"},
    )
    sharepoint = SharePoint(client)
    workspace = Workspace(
        client,
        settings,
        LocalState(tmp_path),
        sharepoint=sharepoint,
        drive=Drive(client),
        planner=Planner(client),
    )
    return workspace, TrackerList(client, workspace, sharepoint)


def _cache_old_site(tmp_path: Path, site_path: str) -> None:
    workspace, _ = _workspace(tmp_path, site_path, _tenant)
    workspace.resolve()
    workspace.ids.site_id = "site-old"
    workspace.ids.list_id = "old-list"
    workspace.save()


def test_a_new_site_path_is_not_ignored_while_the_cache_exists(tmp_path: Path) -> None:
    _cache_old_site(tmp_path, "/sites/Old")
    workspace, _ = _workspace(tmp_path, "/sites/New", _tenant)
    assert (workspace.resolve().site_id, workspace.resolve().list_id) == ("site-2", "new-list")


def test_a_404_on_a_cached_list_drops_the_cache_and_resolves_again(tmp_path: Path) -> None:
    _cache_old_site(tmp_path, "/sites/New")
    workspace, tracker = _workspace(tmp_path, "/sites/New", _tenant)
    assert workspace.resolve().list_id == "old-list"  # trusted until Graph says otherwise
    assert tracker.all() == []
    assert workspace.resolve().list_id == "new-list"
    assert LocalState(tmp_path).section("workspace")["list_id"] == "new-list"
