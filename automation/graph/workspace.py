"""The resolved workspace: site, list, drive, plan and bucket ids (cached in local state).

The cache is keyed by everything it was resolved from (Graph host, SharePoint hostname,
site path or id, tracker list, plan id): a change of any of them resolves again instead
of silently using the old ids. Ids read from the cache are trusted until Graph answers
404 for one of them (the list or plan was deleted and recreated): :meth:`Workspace.call`
then drops the cache, resolves once more and repeats the call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from automation.errors import NotFoundError, SettingsError
from automation.graph.client import GraphClient
from automation.graph.drive import Drive
from automation.graph.planner import Planner
from automation.graph.sharepoint import SharePoint
from automation.localstate import LocalState
from automation.settings import Settings

__all__ = ["Ids", "Workspace"]

log = logging.getLogger(__name__)

T = TypeVar("T")
SECTION = "workspace"


@dataclass(slots=True)
class Ids:
    """Ids resolved once per process (and cached in local state between runs)."""

    site_id: str = ""
    site_url: str = ""
    list_id: str = ""
    list_url: str = ""
    drive_id: str = ""
    plan_id: str = ""
    buckets: dict[str, str] = field(default_factory=dict)


class Workspace:
    """Resolves and caches the workspace ids; heals the cache after a 404."""

    def __init__(
        self,
        client: GraphClient,
        settings: Settings,
        state: LocalState,
        *,
        sharepoint: SharePoint,
        drive: Drive,
        planner: Planner,
    ) -> None:
        self._client = client
        self._settings = settings
        self._state = state
        self._sharepoint = sharepoint
        self._drive = drive
        self._planner = planner
        self.ids = Ids()
        self._from_cache = False
        self._lock = threading.RLock()

    # -- the cache key ------------------------------------------------------------------------
    def cache_key(self) -> dict[str, str]:
        """What the cached ids were resolved from (any change invalidates them)."""
        sp = self._settings.sharepoint
        return {
            "graph_host": urlsplit(self._settings.graph_url).netloc.casefold(),
            "hostname": sp.hostname.casefold(),
            "site": sp.site_id or sp.site_path.strip("/").casefold(),
            "tracker_list": sp.tracker_list,
            "plan_id": self._settings.planner.plan_id,
        }

    def _load(self) -> bool:
        cached = self._state.section(SECTION)
        if cached.get("key") != self.cache_key() or not cached.get("list_id"):
            return False
        ids = self.ids
        ids.site_id = str(cached.get("site_id", ""))
        ids.site_url = str(cached.get("site_url", ""))
        ids.list_id = str(cached.get("list_id", ""))
        ids.list_url = str(cached.get("list_url", ""))
        ids.drive_id = str(cached.get("drive_id", ""))
        ids.plan_id = str(cached.get("plan_id", ""))
        ids.buckets = dict(cached.get("buckets", {}))
        return bool(ids.site_id and ids.drive_id and ids.plan_id)

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, *, require_list: bool = True) -> Ids:
        """Site, list, drive and plan ids (from the cache when it matches the settings)."""
        with self._lock:
            ids = self.ids
            if ids.site_id and (ids.list_id or not require_list):
                return ids
            if self._load():
                self._from_cache = True
                return self.ids
            self.ids = Ids()
            return self._resolve_fresh(require_list=require_list)

    def _resolve_fresh(self, *, require_list: bool) -> Ids:
        ids = self.ids
        sp = self._settings.sharepoint
        if sp.site_id:
            site = self._sharepoint.get_site(sp.site_id)
        elif sp.hostname:
            site = self._sharepoint.site_by_path(sp.hostname, sp.site_path)
        else:
            raise SettingsError(["setting sharepoint.site_id or sharepoint.hostname is required"])
        ids.site_id = str(site["id"])
        ids.site_url = str(site.get("webUrl", ""))
        tracker = self._sharepoint.get_list(ids.site_id, sp.tracker_list)
        if tracker is None:
            if require_list:
                raise SettingsError(
                    [
                        f"tracker list '{sp.tracker_list}' not found on the site: "
                        "run `automation provision` first"
                    ]
                )
        else:
            ids.list_id = str(tracker["id"])
            ids.list_url = str(tracker.get("webUrl", ""))
        ids.drive_id = str(self._drive.site_drive(ids.site_id)["id"])
        if not self._settings.planner.plan_id:
            raise SettingsError(["setting planner.plan_id is required"])
        ids.plan_id = self._settings.planner.plan_id
        ids.buckets = {
            str(b["name"]): str(b["id"]) for b in self._planner.list_buckets(ids.plan_id)
        }
        self._from_cache = False
        if ids.list_id:
            self.save()
        return ids

    def call(self, action: Callable[[Ids], T], *, require_list: bool = True) -> T:
        """``action(ids)``; after a 404 with cached ids, forget them, resolve again, retry once."""
        ids = self.resolve(require_list=require_list)
        try:
            return action(ids)
        except NotFoundError:
            if not self._from_cache:
                raise
            log.warning("a cached workspace id is gone (404); resolving the workspace again")
            self.forget()
            return action(self.resolve(require_list=require_list))

    def set_list(self, list_id: str, list_url: str) -> None:
        """Record a list created by provisioning."""
        with self._lock:
            self.ids.list_id = list_id
            self.ids.list_url = list_url

    def set_buckets(self, buckets: dict[str, str]) -> None:
        """Record the plan's buckets (bucket name -> id) and save the cache."""
        with self._lock:
            self.ids.buckets = dict(buckets)
            self.save()

    def save(self) -> None:
        """Cache the resolved ids, with the key they were resolved from."""
        ids = self.ids
        self._state.set(
            SECTION,
            {
                "key": self.cache_key(),
                "site_id": ids.site_id,
                "site_url": ids.site_url,
                "list_id": ids.list_id,
                "list_url": ids.list_url,
                "drive_id": ids.drive_id,
                "plan_id": ids.plan_id,
                "buckets": ids.buckets,
            },
        )

    def forget(self) -> None:
        """Drop the cached ids (the next call resolves them again)."""
        with self._lock:
            self.ids = Ids()
            self._from_cache = False
            self._state.set(SECTION, {})

    def bucket_id(self, name: str) -> str:
        """The id of a bucket, creating it when missing (provision normally did)."""
        with self._lock:
            ids = self.resolve()
            if name in ids.buckets:
                return ids.buckets[name]

            def lookup(found: Ids) -> dict[str, str]:
                return {
                    str(b["name"]): str(b["id"]) for b in self._planner.list_buckets(found.plan_id)
                }

            buckets = self.call(lookup)
            if name not in buckets:
                created = self._planner.create_bucket(self.ids.plan_id, name)
                buckets[name] = str(created["id"])
            self.set_buckets(buckets)
            return buckets[name]
