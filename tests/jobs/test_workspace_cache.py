"""The workspace cache: keyed by the settings it came from, healed after a 404."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from automation.graph.client import GraphResponse, SentRequest
from automation.graph.tracker_list import TrackerList
from automation.graph.workspace import Workspace
from automation.localstate import LocalState
from tests.jobs.mock_graph import adapters, answer, settings


def _tenant(sent: SentRequest, *, list_id: str = "new-list") -> GraphResponse:
    path = unquote(urlsplit(sent.url).path.removeprefix("/v1.0"))
    if path.startswith("/sites/contoso.sharepoint.com:"):
        return answer(200, {"id": "site-2", "webUrl": "https://contoso/sites/New"})
    if path == "/sites/site-2/lists":
        return answer(200, {"value": [{"id": list_id, "displayName": "Section 55 Tracker"}]})
    if path == "/sites/site-2/drive":
        return answer(200, {"id": "drive-2"})
    if path.endswith("/buckets"):
        return answer(200, {"value": []})
    if path == f"/sites/site-2/lists/{list_id}/items":
        return answer(200, {"value": []})
    return answer(404, {"error": {"code": "itemNotFound", "message": "gone"}})


def _workspace(tmp_path: Path, site_path: str, handler: Any) -> tuple[Workspace, TrackerList]:
    config = settings(
        tmp_path,
        sharepoint={"hostname": "contoso.sharepoint.com", "site_path": site_path},
        planner={"plan_id": "plan-1"},
    )
    workspace, tracker, _ = adapters(config, handler)
    return workspace, tracker


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
