"""The small interfaces the jobs use; the composition root (``automation.app``) fills them.

Jobs never build a Graph request: they call these ports, whose adapters live in
``automation.graph``. Tests can hand the jobs in-memory fakes instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import requests

from automation.domain.record import TrackerRecord
from automation.localstate import LocalState
from automation.settings import Settings

if TYPE_CHECKING:  # the adapters that fill the ports (typing only)
    from automation.graph.batch import Op
    from automation.graph.drive import Drive
    from automation.graph.mail import Mail
    from automation.graph.planner import Planner
    from automation.graph.sharepoint import SharePoint
    from automation.graph.tracker_list import ItemVersion
    from automation.graph.users import Users
    from automation.graph.workspace import Workspace

__all__ = ["Directory", "Outbox", "Services", "Tracker"]


class Tracker(Protocol):
    """The tracker list: records in, field changes out."""

    def all(self) -> list[TrackerRecord]: ...
    def lookup_by_keys(self, keys: Iterable[str]) -> dict[str, TrackerRecord]: ...
    def get_many(self, item_ids: Sequence[str]) -> list[TrackerRecord]: ...
    def create_or_find(self, fields: Mapping[str, Any]) -> tuple[TrackerRecord, bool]: ...
    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]: ...
    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> None: ...
    def patch_after(
        self, before: Sequence[Op[Any]], item_id: str, fields: Mapping[str, Any]
    ) -> None: ...
    def columns(self, ids: Any) -> list[dict[str, Any]]: ...
    def changes(self, link: str | None) -> tuple[list[TrackerRecord], str]: ...
    def versions(self, item_id: str, names: Sequence[str]) -> list[ItemVersion]: ...


class Outbox(Protocol):
    """The sending mailbox (send once, search Sent Items by idempotency key)."""

    def find_sent(self, key: str) -> dict[str, Any] | None: ...
    def send(self, *, key: str, subject: str, html: str, to: Sequence[str], **kw: Any) -> Any: ...


class Directory(Protocol):
    """Users by UPN or id (cached by the adapter)."""

    def get(self, upn_or_id: str) -> Any: ...


class Services(Protocol):
    """What a job receives: settings, local state and the ports."""

    @property
    def settings(self) -> Settings: ...
    @property
    def state(self) -> LocalState: ...
    @property
    def http(self) -> requests.Session: ...
    @property
    def tracker(self) -> Tracker: ...
    @property
    def planner(self) -> Planner: ...
    @property
    def drive(self) -> Drive: ...
    @property
    def users(self) -> Users: ...
    @property
    def mail(self) -> Mail | None: ...
    @property
    def workspace(self) -> Workspace: ...
    @property
    def sharepoint(self) -> SharePoint: ...
