"""SharePoint sites, lists and list items through Graph.

List versioning settings have no Graph v1.0 call, so they are not managed here (set them
once in the list's settings page or with SharePoint admin tooling).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any
from urllib.parse import quote

from automation.domain.calendar import LONDON, parse_stamp, utc_stamp
from automation.errors import GraphError
from automation.graph.client import GraphClient

__all__ = [
    "NON_INDEXED_PREFER",
    "DeltaPage",
    "SharePoint",
    "from_sp_date",
    "site_date",
    "to_sp_date",
]

NON_INDEXED_PREFER = "HonorNonIndexedQueriesWarningMayFailRandomly"
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?$")


def to_sp_date(d: date, zone: tzinfo = LONDON) -> str:
    """A date-only column value: midnight of ``d`` in the site's zone, as UTC ISO 8601 (``Z``).

    SharePoint keeps date-only values as an instant and shows them in the site's regional
    time zone: midnight there is the one instant every reader sees as the same calendar day.
    """
    return utc_stamp(datetime.combine(d, time(0, 0), tzinfo=zone))


def site_date(value: object, zone: tzinfo = LONDON) -> date | None:
    """The calendar date in the site's zone of a date/time value (None when unreadable).

    A bare ``YYYY-MM-DD`` is taken as that calendar date.
    """
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    moment = parse_stamp(value)
    return None if moment is None else moment.astimezone(zone).date()


def from_sp_date(s: str, zone: tzinfo = LONDON) -> date:
    """The calendar date (in the site's zone) of a date/time column value Graph returned."""
    found = site_date(s, zone)
    if found is None:
        raise ValueError(f"not a date: {s!r}")
    return found


def odata_quote(value: str) -> str:
    """A string literal for ``$filter`` (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _seg(value: str) -> str:
    """One URL path segment (ids contain commas, names contain spaces)."""
    return quote(value, safe=",")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeltaPage:
    """The changes since a delta link, and the link to ask for the next changes."""

    items: list[dict[str, Any]]
    delta_link: str


class SharePoint:
    """Sites, lists, columns, item creation and item delta (other item reads and writes are
    the tracker adapter's, :mod:`automation.graph.tracker_list`)."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    # ------------------------------------------------------------------ sites and lists

    def get_site(self, site_id: str) -> dict[str, Any]:
        """The site with this id (``host,site-guid,web-guid``)."""
        result: dict[str, Any] = self._client.get_json(f"/sites/{_seg(site_id)}")
        return result

    def site_by_path(self, hostname: str, path: str) -> dict[str, Any]:
        """The site at ``https://{hostname}/{path}`` (e.g. ``/sites/OPCC``)."""
        relative = "/".join(quote(p) for p in path.strip("/").split("/") if p)
        result: dict[str, Any] = self._client.get_json(f"/sites/{_seg(hostname)}:/{relative}")
        return result

    def get_list(self, site_id: str, name_or_id: str) -> dict[str, Any] | None:
        """The list with this id, display name or URL name (case-insensitive), or ``None``."""
        base = f"/sites/{_seg(site_id)}/lists"
        if _GUID.match(name_or_id):
            response = self._client.request(
                "GET", f"{base}/{_seg(name_or_id.strip('{}'))}", ok={404}
            )
            if response.status != 404:
                found: dict[str, Any] = response.json()
                return found
        wanted = name_or_id.casefold()
        for lst in self._client.paged(base):
            if wanted in (
                str(lst.get("displayName", "")).casefold(),
                str(lst.get("name", "")).casefold(),
            ):
                return lst
        return None

    def create_list(
        self, site_id: str, display_name: str, columns: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Create a generic list with these column definitions."""
        body = {
            "displayName": display_name,
            "columns": columns,
            "list": {"template": "genericList"},
        }
        result: dict[str, Any] = self._client.request(
            "POST", f"/sites/{_seg(site_id)}/lists", json=body
        ).json()
        return result

    def list_columns(
        self, site_id: str, list_id: str, *, select: str | None = None
    ) -> list[dict[str, Any]]:
        """The list's column definitions (``select`` must name ``hidden`` to see hidden ones)."""
        return list(
            self._client.paged(
                f"/sites/{_seg(site_id)}/lists/{_seg(list_id)}/columns",
                params={"$select": select} if select else None,
            )
        )

    def add_column(self, site_id: str, list_id: str, column: dict[str, Any]) -> dict[str, Any]:
        """Add one column definition to a list."""
        result: dict[str, Any] = self._client.request(
            "POST", f"/sites/{_seg(site_id)}/lists/{_seg(list_id)}/columns", json=column
        ).json()
        return result

    # ------------------------------------------------------------------ items

    def _items(self, site_id: str, list_id: str) -> str:
        return f"/sites/{_seg(site_id)}/lists/{_seg(list_id)}/items"

    def create_item(self, site_id: str, list_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create an item; returns the listItem (``id``, ``fields``, ``eTag`` ...)."""
        result: dict[str, Any] = self._client.request(
            "POST", self._items(site_id, list_id), json={"fields": dict(fields)}
        ).json()
        return result

    def delta(
        self,
        site_id: str,
        list_id: str,
        link: str | None,
        *,
        latest: bool = False,
        expand: str = "fields",
    ) -> DeltaPage:
        """Changes since ``link`` (a stored deltaLink), or a full enumeration when ``None``.

        ``latest=True`` without a link skips the enumeration and only returns a link to
        track from now on. Items are the latest state per id (an item changed twice shows
        once, in its last position). Deleted items carry a ``deleted`` facet.

        Raises:
            GoneError: the link expired; ``.location`` holds a fresh enumeration link.
        """
        if link:
            pages = self._client.pages(link)
        else:
            params = {"$expand": expand}
            if latest:
                params["token"] = "latest"
            pages = self._client.pages(f"{self._items(site_id, list_id)}/delta", params=params)
        latest_by_id: dict[str, dict[str, Any]] = {}
        for page in pages:
            for item in page.get("value", []):
                key = str(item.get("id"))
                latest_by_id.pop(key, None)
                latest_by_id[key] = item
            delta_link = page.get("@odata.deltaLink")
            if isinstance(delta_link, str) and delta_link:
                return DeltaPage(items=list(latest_by_id.values()), delta_link=delta_link)
        raise GraphError("delta ended without an @odata.deltaLink", method="GET", url=link or "")
