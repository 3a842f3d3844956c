"""The small interfaces the jobs use; the composition root (``automation.app``) fills them.

Jobs never build a Graph request: they call these ports, whose adapters live in
``automation.graph``. Each port lists only what the jobs call today, so an in-memory fake
(``tests/jobs/fakes.py``) can stand in for it, and a change to a port breaks the fakes.

====================  ===========================================  ====================
port                  what the jobs call                           adapter
====================  ===========================================  ====================
``Tracker``           records of the tracker list, field changes   ``TrackerList``
``TaskBoard``         Planner buckets and tasks                    ``Planner``
``DraftLibrary``      the document library with the Word drafts    ``Drive``
``Outbox``            the sending mailbox and its Sent Items       ``Mail``
``Directory``         users by UPN, mail or id                     ``Users``
``Feeds``             public-web GETs (feeds and report pages)     ``requests.Session``
``State``             the local cache (feed validators, delta)     ``LocalState``
``WorkspaceIds``      site, list, drive, plan and bucket ids       ``Workspace``
``SiteLists``         creating the list and its columns            ``SharePoint``
``RecommendationRows``  the recommendations list's rows            ``RecommendationsList``
``OfficeCalendar``    all-day events in the office mailbox         ``OfficeCalendar``
====================  ===========================================  ====================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

from automation.domain.recommendations import RecommendationRow
from automation.domain.record import TrackerRecord
from automation.settings import Settings
from automation.webfetch import WebSession

if TYPE_CHECKING:  # adapter value types the ports speak in (typing only)
    from automation.errors import GraphError
    from automation.graph.batch import Op
    from automation.graph.calendar import CalendarEvent, EventSpec
    from automation.graph.mail import Attachment, SendResult
    from automation.graph.planner import TaskSpec
    from automation.graph.tracker_list import ItemVersion
    from automation.graph.users import User
    from automation.graph.workspace import Ids

__all__ = [
    "Directory",
    "DraftLibrary",
    "Feeds",
    "OfficeCalendar",
    "Outbox",
    "RecommendationRows",
    "Services",
    "SiteLists",
    "State",
    "TaskBoard",
    "Tracker",
    "WorkspaceIds",
]

T = TypeVar("T")

Feeds: TypeAlias = WebSession
"""The session feeds and report pages are read through (``automation.feed.fetch_feed``)."""


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
    def columns(self, ids: Ids) -> list[dict[str, Any]]: ...
    def changes(self, link: str | None) -> tuple[list[TrackerRecord], str]: ...
    def versions(self, item_id: str, names: Sequence[str]) -> list[ItemVersion]: ...


class TaskBoard(Protocol):
    """The Planner plan: buckets, tasks, task details."""

    def list_buckets(self, plan_id: str) -> list[dict[str, Any]]: ...
    def create_bucket(self, plan_id: str, name: str) -> dict[str, Any]: ...
    def list_tasks(self, plan_id: str) -> list[dict[str, Any]]: ...
    def get_task(self, task_id: str) -> dict[str, Any]: ...
    def update_task(
        self, task_id: str, etag: str, changes: Mapping[str, Any]
    ) -> dict[str, Any] | None: ...
    def create_tasks(self, specs: Mapping[str, TaskSpec]) -> dict[str, str | Exception]: ...
    def details_etags(self, task_ids: Mapping[str, str]) -> dict[str, str]: ...
    def complete(self, task_id: str) -> None: ...


class DraftLibrary(Protocol):
    """The document library that holds the Word drafts."""

    def get_by_path(self, drive_id: str, path: str) -> dict[str, Any] | None: ...
    def get_item(self, drive_id: str, item_id: str) -> dict[str, Any]: ...
    def ensure_folder(self, drive_id: str, path: str) -> dict[str, Any]: ...
    def upload(
        self,
        drive_id: str,
        folder_path: str,
        name: str,
        content: bytes,
        *,
        conflict: str = ...,
        chunk_size: int = ...,
    ) -> dict[str, Any]: ...
    def download(self, drive_id: str, item_id: str) -> bytes: ...
    def download_pdf(self, drive_id: str, item_id: str) -> bytes: ...


class Outbox(Protocol):
    """The sending mailbox (send once, search Sent Items by idempotency key)."""

    def find_sent(self, key: str) -> dict[str, Any] | None: ...
    def send(
        self,
        *,
        key: str,
        subject: str,
        html: str,
        to: Sequence[str],
        cc: Sequence[str] = ...,
        attachments: Sequence[Attachment] = ...,
    ) -> SendResult: ...


class Directory(Protocol):
    """Users by UPN, mail or id (cached by the adapter); ``None`` for nobody."""

    def get(self, upn_or_id: str) -> User | None: ...


class State(Protocol):
    """The local cache: JSON values by key (losing it must lose nothing)."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...
    def section(self, key: str) -> dict[str, Any]: ...


class WorkspaceIds(Protocol):
    """The ids of the site, list, library and plan (resolved once, cached)."""

    def resolve(self, *, require_list: bool = True) -> Ids: ...
    def call(self, action: Callable[[Ids], T], *, require_list: bool = True) -> T: ...
    def set_list(self, list_id: str, list_url: str) -> None: ...
    def set_buckets(self, buckets: dict[str, str]) -> None: ...
    def bucket_id(self, name: str) -> str: ...


class SiteLists(Protocol):
    """Creating the tracker list and its columns (provisioning only)."""

    def create_list(
        self, site_id: str, display_name: str, columns: list[dict[str, Any]]
    ) -> dict[str, Any]: ...
    def add_column(self, site_id: str, list_id: str, column: dict[str, Any]) -> dict[str, Any]: ...


class RecommendationRows(Protocol):
    """The recommendations list: one row per finding of a published response."""

    def exists(self) -> bool: ...
    def all(self) -> list[RecommendationRow]: ...
    def for_publications(self, keys: Iterable[str]) -> dict[str, list[RecommendationRow]]: ...
    def find(self, key: str) -> RecommendationRow | None: ...
    def create_or_find(self, fields: Mapping[str, Any]) -> tuple[RecommendationRow, bool]: ...
    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]: ...
    def claim(self, changes: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, str]: ...
    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> None: ...
    def columns(self) -> list[dict[str, Any]] | None: ...
    def create(self) -> None: ...
    def add_column(self, column: Mapping[str, Any]) -> None: ...


class OfficeCalendar(Protocol):
    """All-day events of ours in the office mailbox's calendar, found by key."""

    def find(self, keys: Iterable[str]) -> dict[str, list[CalendarEvent]]: ...
    def create(self, specs: Iterable[EventSpec]) -> dict[str, CalendarEvent | GraphError]: ...
    def move(self, event_id: str, spec: EventSpec) -> None: ...
    def delete(self, event_id: str) -> None: ...


class Services(Protocol):
    """What a job receives: settings and the ports (``automation.app.App`` is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def state(self) -> State: ...
    @property
    def http(self) -> Feeds: ...
    @property
    def tracker(self) -> Tracker: ...
    @property
    def planner(self) -> TaskBoard: ...
    @property
    def drive(self) -> DraftLibrary: ...
    @property
    def users(self) -> Directory: ...
    @property
    def mail(self) -> Outbox | None: ...
    @property
    def workspace(self) -> WorkspaceIds: ...
    @property
    def sharepoint(self) -> SiteLists: ...
    @property
    def recommendations(self) -> RecommendationRows: ...
    @property
    def calendar(self) -> OfficeCalendar | None: ...
