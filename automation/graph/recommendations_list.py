"""The recommendations list through Graph: its columns, the row mapping, every item request.

Like the tracker (:mod:`automation.graph.tracker_list`), every item read expands
``fields($select=<every column>)``: the hidden bookkeeping column (``S55Progress``) comes back
only when named. The list is found by its display name on the tracker's site; its id is
cached in local state and resolved again after a 404.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from typing import Any, TypeVar
from urllib.parse import quote

from automation.domain.calendar import LONDON, london_date
from automation.domain.recommendations import Kind, Rag, RecommendationRow, RowStatus
from automation.errors import (
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
    PreconditionFailedError,
    SettingsError,
)
from automation.graph.batch import Op
from automation.graph.client import BatchResponse, GraphClient
from automation.graph.sharepoint import NON_INDEXED_PREFER, SharePoint, odata_quote, site_date
from automation.graph.tracker_list import (
    COLUMN_SELECT,
    _choice,
    _date_time,
    _text,
    display_url,
    encode_fields,
    item_etag,
)
from automation.graph.workspace import Workspace
from automation.localstate import LocalState

__all__ = ["COLUMNS", "FIELD_NAMES", "RecommendationsList", "row_from_item"]

log = logging.getLogger(__name__)

T = TypeVar("T")
SECTION = "recommendations_list"

# Title comes with the genericList template (the service writes "<kind> <number>: <report>").
COLUMNS: tuple[dict[str, Any], ...] = (
    _text("RecKey", "Recommendation key", indexed=True, unique=True),
    _text("PublicationKey", "Publication key", indexed=True),
    _text("ReportTitle", "Report"),
    _text("ReportUrl", "Link to report", multiline=True),
    _date_time("ReportPublished", "Report published", date_only=True),
    _text("TrackerItemUrl", "Tracker item", multiline=True),
    _choice("Kind", "Kind", [k.value for k in Kind]),
    _text("Number", "Number"),
    _text("RecText", "Text", multiline=True),
    _text("AddressedTo", "Addressed to"),
    _text("Owner", "Owner (email)"),
    _choice("Status", "Status", [s.value for s in RowStatus], indexed=True),
    _choice("RAG", "RAG", [r.value for r in Rag]),
    _date_time("TargetDate", "Target date", date_only=True),
    _text("LastUpdate", "Last update", multiline=True),
    _date_time("LastUpdateOn", "Last update on", date_only=True),
    _date_time("NextUpdateDue", "Next update due", date_only=True),
    _text("EvidenceUrl", "Evidence link", multiline=True),
    # bookkeeping (hidden): progress requests and escalations sent, a short work lease
    _text("S55Progress", "Progress requests sent", hidden=True, multiline=True),
)
FIELD_NAMES: tuple[str, ...] = ("Title", *(c["name"] for c in COLUMNS), "Created", "Modified")
"""Every field an item read names in ``$select`` (the hidden column comes back only if named)."""
ITEM_EXPAND = f"fields($select={','.join(FIELD_NAMES)})"


def _progress(raw: object) -> dict[str, Any]:
    try:
        value = json.loads(str(raw)) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def row_from_item(
    item: Mapping[str, Any], *, list_url: str = "", zone: tzinfo = LONDON
) -> RecommendationRow:
    """A row from a listItem read with :data:`ITEM_EXPAND` (dates in the site's zone)."""
    fields: Mapping[str, Any] = item.get("fields") or {}
    item_id = str(item.get("id") or fields.get("id") or "")

    def text(name: str) -> str:
        return str(fields.get(name) or "").strip()

    return RecommendationRow(
        item_id=item_id,
        etag=item_etag(item, fields),
        web_url=display_url(list_url, item, item_id),
        key=text("RecKey"),
        title=text("Title"),
        publication_key=text("PublicationKey"),
        report_title=text("ReportTitle"),
        report_url=text("ReportUrl"),
        report_published=site_date(fields.get("ReportPublished"), zone),
        tracker_url=text("TrackerItemUrl"),
        kind=text("Kind"),
        number=text("Number"),
        text=text("RecText"),
        addressed_to=text("AddressedTo"),
        owner=text("Owner"),
        status=text("Status"),
        rag=text("RAG"),
        target_date=site_date(fields.get("TargetDate"), zone),
        last_update=text("LastUpdate"),
        last_update_on=site_date(fields.get("LastUpdateOn"), zone),
        next_update_due=site_date(fields.get("NextUpdateDue"), zone),
        evidence_url=text("EvidenceUrl"),
        progress=_progress(fields.get("S55Progress")),
        created=london_date(fields.get("Created") or item.get("createdDateTime")),
    )


def _json_object(answer: BatchResponse) -> dict[str, Any]:
    return answer.body if isinstance(answer.body, dict) else {}


class RecommendationsList:
    """The RecommendationRows port on a SharePoint list of the tracker's site."""

    def __init__(
        self,
        client: GraphClient,
        workspace: Workspace,
        sharepoint: SharePoint,
        state: LocalState,
        *,
        list_name: str,
        site_zone: tzinfo = LONDON,
    ) -> None:
        """``list_name``: the list's display name (settings.recommendations.list_name)."""
        self._client = client
        self._workspace = workspace
        self._sharepoint = sharepoint
        self._state = state
        self._name = list_name
        self._zone = site_zone
        self._lock = threading.Lock()
        self._ids: tuple[str, str, str] | None = None  # site id, list id, list url

    # -- resolution ---------------------------------------------------------------------------
    def _cache_key(self, site_id: str) -> dict[str, str]:
        return {"site_id": site_id, "list": self._name}

    def _resolve(self, *, fresh: bool = False) -> tuple[str, str, str] | None:
        with self._lock:
            if self._ids is not None and not fresh:
                return self._ids
            site_id = self._workspace.resolve().site_id
            cached = self._state.section(SECTION)
            if not fresh and cached.get("key") == self._cache_key(site_id) and cached.get("id"):
                self._ids = (site_id, str(cached["id"]), str(cached.get("url", "")))
                return self._ids
            found = self._sharepoint.get_list(site_id, self._name)
            if found is None:
                self._ids = None
                self._state.set(SECTION, {})
                return None
            self._remember(site_id, str(found["id"]), str(found.get("webUrl", "")))
            return self._ids

    def _remember(self, site_id: str, list_id: str, url: str) -> None:
        self._ids = (site_id, list_id, url)
        self._state.set(SECTION, {"key": self._cache_key(site_id), "id": list_id, "url": url})

    def exists(self) -> bool:
        """Whether the list is on the site (``automation provision`` creates it)."""
        return self._resolve() is not None

    def _call(self, action: Callable[[tuple[str, str, str]], T]) -> T:
        ids = self._resolve()
        if ids is None:
            raise SettingsError(
                [f"list '{self._name}' not found on the site: run `automation provision`"]
            )
        try:
            return action(ids)
        except NotFoundError:
            log.warning("the cached recommendations list id is gone (404); resolving it again")
            ids = self._resolve(fresh=True)
            if ids is None:
                raise
            return action(ids)

    @staticmethod
    def _items(ids: tuple[str, str, str]) -> str:
        return f"/sites/{quote(ids[0], safe=',')}/lists/{quote(ids[1], safe='')}/items"

    def _row(self, ids: tuple[str, str, str], item: Mapping[str, Any]) -> RecommendationRow:
        return row_from_item(item, list_url=ids[2], zone=self._zone)

    def _filter_op(
        self, ids: tuple[str, str, str], column: str, value: str
    ) -> Op[list[RecommendationRow]]:
        query = quote(f"fields/{column} eq {odata_quote(value)}", safe="")
        return Op(
            "GET",
            f"{self._items(ids)}?$expand={quote(ITEM_EXPAND, safe='(),$=')}&$filter={query}",
            lambda answer: [
                self._row(ids, item)
                for item in _json_object(answer).get("value", [])
                if isinstance(item, dict)
            ],
            headers={"Prefer": NON_INDEXED_PREFER},
        )

    def _patch_op(
        self, ids: tuple[str, str, str], item_id: str, fields: Mapping[str, Any], etag: str | None
    ) -> Op[dict[str, Any]]:
        return Op(
            "PATCH",
            f"{self._items(ids)}/{quote(item_id, safe='')}/fields",
            _json_object,
            body=encode_fields(fields, zone=self._zone),
            headers={"If-Match": etag} if etag else {},
            idempotent=etag is None,
        )

    # -- reads --------------------------------------------------------------------------------
    def all(self) -> list[RecommendationRow]:
        """Every row of the list (rows staff added included)."""

        def read(ids: tuple[str, str, str]) -> list[RecommendationRow]:
            return [
                self._row(ids, item)
                for item in self._client.paged(self._items(ids), params={"$expand": ITEM_EXPAND})
            ]

        return self._call(read)

    def for_publications(self, keys: Iterable[str]) -> dict[str, list[RecommendationRow]]:
        """The rows of each publication (one ``$batch`` round trip per 20 publications)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        def read(ids: tuple[str, str, str]) -> dict[str, list[RecommendationRow]]:
            ops = [self._filter_op(ids, "PublicationKey", key) for key in wanted]
            out: dict[str, list[RecommendationRow]] = {}
            for key, outcome in zip(wanted, self._client.run_all(ops), strict=True):
                out[key] = [row for row in outcome.get() if row.publication_key == key]
            return out

        return self._call(read)

    def find(self, key: str) -> RecommendationRow | None:
        """The row with this key (a plain request)."""

        def read(ids: tuple[str, str, str]) -> RecommendationRow | None:
            rows = self._client.run(self._filter_op(ids, "RecKey", key))
            return next((row for row in rows if row.key == key), None)

        return self._call(read)

    # -- writes -------------------------------------------------------------------------------
    def create_or_find(self, fields: Mapping[str, Any]) -> tuple[RecommendationRow, bool]:
        """Create a row; on a duplicate key or an unknown outcome, the row with that key.

        Raises:
            ConflictError: a duplicate key, but no row with it could be read.
            OutcomeUnknownError: the create may have happened; no row with the key yet.
        """
        key = str(fields.get("RecKey") or "")
        encoded = encode_fields(fields, zone=self._zone)

        def create(ids: tuple[str, str, str]) -> RecommendationRow:
            item = self._sharepoint.create_item(ids[0], ids[1], encoded)
            whole = {**item, "fields": {**encoded, **dict(item.get("fields") or {})}}
            return self._row(ids, whole)

        try:
            return self._call(create), True
        except (ConflictError, OutcomeUnknownError):
            # Our earlier answer was lost, or another instance made the row first.
            found = self.find(key)
            if found is None:
                raise
            return found, False

    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]:
        """Change some columns of one row (``etag``: only if unchanged since read).

        Raises:
            PreconditionFailedError: ``etag`` was given and the row changed since.
        """
        return self._call(lambda ids: self._client.run(self._patch_op(ids, item_id, fields, etag)))

    def claim(self, changes: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
        """PATCH each row ``{item id: (etag, fields)}`` if unchanged; the new etags of those won.

        A row changed since it was read (412: another instance, or a person) is left out.
        """

        def send(ids: tuple[str, str, str]) -> dict[str, str]:
            ops = [
                self._patch_op(ids, item_id, fields, etag or None)
                for item_id, (etag, fields) in changes.items()
            ]
            won: dict[str, str] = {}
            for item_id, outcome in zip(changes, self._client.run_all(ops), strict=True):
                if isinstance(outcome.error, PreconditionFailedError):
                    continue
                answer = outcome.get()
                won[item_id] = str(answer.get("@odata.etag") or "")
            return won

        return self._call(send) if changes else {}

    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Change several rows in one round trip per 20; the first error raises."""

        def send(ids: tuple[str, str, str]) -> None:
            ops = [self._patch_op(ids, i, fields, None) for i, fields in changes.items()]
            for outcome in self._client.run_all(ops):
                outcome.get()

        if changes:
            self._call(send)

    # -- schema (provisioning) --------------------------------------------------------------
    def columns(self) -> list[dict[str, Any]] | None:
        """The list's column definitions (hidden ones included); None when there is no list."""
        ids = self._resolve()
        if ids is None:
            return None
        return self._sharepoint.list_columns(ids[0], ids[1], select=COLUMN_SELECT)

    def create(self) -> None:
        """Create the list with every column (provisioning; the list must not exist)."""
        site_id = self._workspace.resolve().site_id
        created = self._sharepoint.create_list(site_id, self._name, [dict(c) for c in COLUMNS])
        with self._lock:
            self._remember(site_id, str(created["id"]), str(created.get("webUrl", "")))

    def add_column(self, column: Mapping[str, Any]) -> None:
        """Add one column (provisioning)."""
        self._call(lambda ids: self._sharepoint.add_column(ids[0], ids[1], dict(column)))
