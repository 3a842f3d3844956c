"""In-memory fakes of the job ports (``automation.jobs.ports``): jobs without Graph or HTTP.

Each fake implements one Protocol and nothing more (``test_fakes_match_ports.py`` checks
that every member of a port is here with the same parameters, so a change to a port breaks
the fakes). Where the adapters own a translation, the fakes use the adapter's own code, so
the jobs see what they would see from Graph: tracker fields go through
``encode_fields``/``record_from_item``, new tasks through ``task_body``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from automation.documents import fill_prompts
from automation.domain.calendar import utc_stamp
from automation.domain.recommendations import RecommendationRow
from automation.domain.record import TrackerRecord
from automation.errors import ConflictError, GraphError, NotFoundError, PreconditionFailedError
from automation.graph.batch import Op
from automation.graph.calendar import CalendarEvent, EventSpec
from automation.graph.mail import Attachment, SendResult
from automation.graph.planner import TaskSpec, task_body
from automation.graph.recommendations_list import COLUMNS as REC_COLUMNS
from automation.graph.recommendations_list import row_from_item
from automation.graph.tracker_list import ItemVersion, encode_fields, record_from_item
from automation.graph.users import User
from automation.graph.workspace import Ids
from automation.jobs.intake import Intake
from automation.jobs.ports import Services
from automation.jobs.report import RunReport
from automation.settings import Settings
from tests import feeds as rss

T = TypeVar("T")

FEED_URL = "https://feeds.test/hmicfrs/rss"
LIST_URL = "https://opcc.test/sites/OPCC/Lists/Section55Tracker"
SERVICE = {
    # The service's own writes as SharePoint is reported to show app-only edits: a
    # "SharePoint App" user next to the application (the sandbox shows the application
    # alone; the approval gate must tell both from a person).
    "user": {"displayName": "SharePoint App"},
    "application": {"id": "c", "displayName": "Section 55 service"},
}


def _error(
    kind: type[PreconditionFailedError | ConflictError | NotFoundError], what: str
) -> Exception:
    status = {PreconditionFailedError: 412, ConflictError: 409, NotFoundError: 404}[kind]
    return kind(status=status, code="fake", message=what, request_id="", method="", url=what)


# -- tracker -------------------------------------------------------------------------------------
class FakeTracker:
    """The tracker list as a dict of items (fields stored as Graph would hold them)."""

    def __init__(self, *, list_url: str = LIST_URL) -> None:
        self.list_url = list_url
        self.items: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, dict[str, Any]]] = []  # (kind, item id, fields)
        self.ops_before: list[Op[Any]] = []  # what patch_after ran before its item PATCH
        self._ids = itertools.count(1)
        self._version = 0
        self.history: dict[str, list[ItemVersion]] = {}  # newest first, as Graph lists them

    # helpers for tests
    def record(self, item_id: str) -> TrackerRecord:
        """The item as the jobs read it."""
        return record_from_item(self.items[item_id], list_url=self.list_url)

    def by_key(self, key: str) -> TrackerRecord:
        """The one item with this publication key."""
        (record,) = [r for r in self.all() if r.key == key]
        return record

    def edit(self, item_id: str, fields: Mapping[str, Any], *, by: str, email: str) -> None:
        """A person edits the item in SharePoint (the last editor is read for approvals)."""
        self._write(item_id, fields, editor={"user": {"displayName": by, "email": email}})

    def _write(self, item_id: str, fields: Mapping[str, Any], *, editor: dict[str, Any]) -> None:
        item = self.items[item_id]
        self._version += 1
        stored = item["fields"]
        stored.update(encode_fields(fields))
        stored["Modified"] = utc_stamp(dt.datetime.now(dt.UTC))
        item["eTag"] = f'"{item_id},{self._version}"'
        item["lastModifiedBy"] = editor
        item["version"] = self._version
        self.history.setdefault(item_id, []).insert(
            0,
            ItemVersion(
                version_id=f"{self._version}.0",
                modified_by=dict(editor),
                modified=str(stored["Modified"]),
                fields=dict(stored),
            ),
        )

    # the port
    def versions(self, item_id: str, names: Sequence[str]) -> list[ItemVersion]:
        return [
            ItemVersion(
                version_id=v.version_id,
                modified_by=v.modified_by,
                modified=v.modified,
                fields={k: val for k, val in v.fields.items() if k in names},
            )
            for v in self.history.get(item_id, [])
        ]

    def all(self) -> list[TrackerRecord]:
        return [self.record(item_id) for item_id in self.items]

    def lookup_by_keys(self, keys: Iterable[str]) -> dict[str, TrackerRecord]:
        wanted = set(keys)
        return {r.key: r for r in self.all() if r.key in wanted}

    def get_many(self, item_ids: Sequence[str]) -> list[TrackerRecord]:
        return [self.record(item_id) for item_id in item_ids if item_id in self.items]

    def create_or_find(self, fields: Mapping[str, Any]) -> tuple[TrackerRecord, bool]:
        key = str(fields.get("PublicationKey") or "")
        found = self.lookup_by_keys([key]).get(key)
        if found is not None:
            return found, False
        item_id = str(next(self._ids))
        self.items[item_id] = {"id": item_id, "webUrl": f"{self.list_url}/{item_id}_.000"}
        self.items[item_id]["fields"] = {}
        self._write(item_id, fields, editor=SERVICE)
        self.writes.append(("create", item_id, dict(fields)))
        return self.record(item_id), True

    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]:
        if etag is not None and etag != self.items[item_id]["eTag"]:
            raise _error(PreconditionFailedError, f"item {item_id}")
        self._write(item_id, fields, editor=SERVICE)
        self.writes.append(("patch", item_id, dict(fields)))
        return {**self.items[item_id]["fields"], "@odata.etag": self.items[item_id]["eTag"]}

    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        for item_id, fields in changes.items():
            self.patch(item_id, fields)

    def patch_after(
        self, before: Sequence[Op[Any]], item_id: str, fields: Mapping[str, Any]
    ) -> None:
        self.ops_before.extend(before)
        self.patch(item_id, fields)

    def columns(self, ids: Ids) -> list[dict[str, Any]]:
        return []

    def changes(self, link: str | None) -> tuple[list[TrackerRecord], str]:
        since = int(link.rpartition(":")[2]) if link else 0
        changed = [
            self.record(item_id)
            for item_id, item in self.items.items()
            if int(item["version"]) > since
        ]
        return changed, f"fake-delta:{self._version}"


# -- task board ----------------------------------------------------------------------------------
class FakeTaskBoard:
    """Planner buckets and tasks; new tasks look like Graph's (``task_body``)."""

    def __init__(self) -> None:
        self.buckets: dict[str, list[dict[str, Any]]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def complete_by(self, task_id: str, user_id: str) -> None:
        """A person ticks the task off in Planner."""
        self.tasks[task_id].update(
            percentComplete=100,
            completedBy={"user": {"id": user_id}},
            completedDateTime=utc_stamp(dt.datetime.now(dt.UTC)),
        )

    def list_buckets(self, plan_id: str) -> list[dict[str, Any]]:
        return list(self.buckets.get(plan_id, []))

    def create_bucket(self, plan_id: str, name: str) -> dict[str, Any]:
        bucket = {"id": f"bucket-{next(self._ids)}", "name": name, "planId": plan_id}
        self.buckets.setdefault(plan_id, []).append(bucket)
        return bucket

    def list_tasks(self, plan_id: str) -> list[dict[str, Any]]:
        return [dict(t) for t in self.tasks.values() if t["planId"] == plan_id]

    def get_task(self, task_id: str) -> dict[str, Any]:
        if task_id not in self.tasks:
            raise _error(NotFoundError, task_id)
        return {**self.tasks[task_id], "@odata.etag": f'W/"{task_id}"'}

    def update_task(
        self, task_id: str, etag: str, changes: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        self.tasks[task_id].update(changes)
        return None

    def create_tasks(self, specs: Mapping[str, TaskSpec]) -> dict[str, str | Exception]:
        created: dict[str, str | Exception] = {}
        for key, spec in specs.items():
            task_id = f"task-{next(self._ids)}"
            self.tasks[task_id] = {"id": task_id, "percentComplete": 0, **task_body(spec)}
            created[key] = task_id
        return created

    def details_etags(self, task_ids: Mapping[str, str]) -> dict[str, str]:
        return {key: f'W/"details-{task_id}"' for key, task_id in task_ids.items()}

    def complete(self, task_id: str) -> None:
        self.tasks[task_id]["percentComplete"] = 100


# -- draft library -------------------------------------------------------------------------------
class FakeDraftLibrary:
    """Files by path in one library; PDF conversion is a marked copy."""

    def __init__(self, *, web_root: str = "https://opcc.test/sites/OPCC/Drafts") -> None:
        self.web_root = web_root
        self.files: dict[str, dict[str, Any]] = {}  # path -> driveItem (+ "content")
        self.folders: set[str] = set()
        self._ids = itertools.count(1)

    def get_by_path(self, drive_id: str, path: str) -> dict[str, Any] | None:
        if path in self.folders:
            return {"id": f"folder:{path}", "name": path.rsplit("/", 1)[-1], "folder": {}}
        found = self.files.get(path)
        return None if found is None else {k: v for k, v in found.items() if k != "content"}

    def get_item(self, drive_id: str, item_id: str) -> dict[str, Any]:
        for path, found in self.files.items():
            if found["id"] == item_id:
                folder = path.rsplit("/", 1)[0]
                item = {k: v for k, v in found.items() if k != "content"}
                return {**item, "parentReference": {"path": f"/drive/root:/{folder}"}}
        raise _error(NotFoundError, item_id)

    def ensure_folder(self, drive_id: str, path: str) -> dict[str, Any]:
        self.folders.add(path)
        return {"id": f"folder:{path}", "name": path.rsplit("/", 1)[-1], "folder": {}}

    def upload(
        self,
        drive_id: str,
        folder_path: str,
        name: str,
        content: bytes,
        *,
        conflict: str = "fail",
        chunk_size: int = 0,
    ) -> dict[str, Any]:
        path = f"{folder_path}/{name}"
        if path in self.files and conflict == "fail":
            raise _error(ConflictError, path)
        # Replacing a file's content keeps its id, as in SharePoint.
        known = self.files.get(path)
        item = {
            "id": known["id"] if known is not None else f"file-{next(self._ids)}",
            "name": name,
            "webUrl": f"{self.web_root}/{path}",
            "content": content,
        }
        self.files[path] = item
        return {k: v for k, v in item.items() if k != "content"}

    def _content(self, item_id: str) -> bytes:
        (content,) = [f["content"] for f in self.files.values() if f["id"] == item_id]
        return bytes(content)

    def download(self, drive_id: str, item_id: str) -> bytes:
        return self._content(item_id)

    def download_pdf(self, drive_id: str, item_id: str) -> bytes:
        return b"%PDF-fake " + hashlib.sha256(self._content(item_id)).hexdigest().encode()


# -- outbox --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What the outbox would have sent."""

    key: str
    subject: str
    html: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    attachments: tuple[str, ...]  # file names


class FakeOutbox:
    """Records every message; Sent Items is the list of what was sent (no lag)."""

    def __init__(self, *, mailbox: str = "opcc@opcc.test") -> None:
        self.mailbox = mailbox
        self.sent: list[Message] = []

    def find_sent(self, key: str) -> dict[str, Any] | None:
        for index, message in enumerate(self.sent):
            if message.key == key:
                return {"id": f"msg-{index}", "subject": message.subject}
        return None

    def send(
        self,
        *,
        key: str,
        subject: str,
        html: str,
        to: Sequence[str],
        cc: Sequence[str] = (),
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        self.sent.append(
            Message(
                key=key,
                subject=subject,
                html=html,
                to=tuple(to),
                cc=tuple(cc),
                attachments=tuple(a.name for a in attachments),
            )
        )
        return SendResult(key=key, route="sendMail")


# -- recommendations list, office calendar -------------------------------------------------------
REC_LIST_URL = "https://opcc.test/sites/OPCC/Lists/HMICFRSRecommendations"


class FakeRecommendationRows:
    """The recommendations list as a dict of items (fields as Graph would hold them)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.made = True
        self.writes: list[tuple[str, str, dict[str, Any]]] = []  # (kind, item id, fields)
        self.column_defs: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._version = 0

    def _stamp(self, item_id: str, fields: Mapping[str, Any]) -> None:
        self._version += 1
        item = self.items[item_id]
        item["fields"].update(encode_fields(fields))
        item["eTag"] = f'"{item_id},{self._version}"'

    def _row(self, item_id: str) -> RecommendationRow:
        return row_from_item(self.items[item_id], list_url=REC_LIST_URL)

    def exists(self) -> bool:
        return self.made

    def all(self) -> list[RecommendationRow]:
        return [self._row(i) for i in self.items]

    def for_publications(self, keys: Iterable[str]) -> dict[str, list[RecommendationRow]]:
        rows = self.all()
        return {k: [r for r in rows if r.publication_key == k] for k in dict.fromkeys(keys)}

    def find(self, key: str) -> RecommendationRow | None:
        return next((r for r in self.all() if r.key == key), None)

    def create_or_find(self, fields: Mapping[str, Any]) -> tuple[RecommendationRow, bool]:
        found = self.find(str(fields.get("RecKey") or ""))
        if found is not None:
            return found, False
        item_id = str(next(self._ids))
        self.items[item_id] = {"id": item_id, "fields": {"Created": "2023-09-02T09:00:00Z"}}
        self._stamp(item_id, fields)
        self.writes.append(("create", item_id, dict(fields)))
        return self._row(item_id), True

    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]:
        if etag and etag != self.items[item_id]["eTag"]:
            raise _error(PreconditionFailedError, item_id)
        self._stamp(item_id, fields)
        self.writes.append(("patch", item_id, dict(fields)))
        return {**self.items[item_id]["fields"], "@odata.etag": self.items[item_id]["eTag"]}

    def claim(self, changes: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
        won: dict[str, str] = {}
        for item_id, (etag, fields) in changes.items():
            if etag and etag != self.items[item_id]["eTag"]:
                continue
            won[item_id] = str(self.patch(item_id, fields)["@odata.etag"])
        return won

    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        for item_id, fields in changes.items():
            self.patch(item_id, fields)

    def columns(self) -> list[dict[str, Any]] | None:
        return list(self.column_defs) if self.made else None

    def create(self) -> None:
        self.made = True
        self.column_defs = [dict(c) for c in REC_COLUMNS]

    def add_column(self, column: Mapping[str, Any]) -> None:
        self.column_defs.append(dict(column))


class FakeCalendar:
    """Events by id; each holds its key, subject and day."""

    def __init__(self) -> None:
        self.events: dict[str, CalendarEvent] = {}
        self._ids = itertools.count(1)

    def find(self, keys: Iterable[str]) -> dict[str, list[CalendarEvent]]:
        return {k: [e for e in self.events.values() if e.key == k] for k in dict.fromkeys(keys)}

    def create(self, specs: Iterable[EventSpec]) -> dict[str, CalendarEvent | GraphError]:
        out: dict[str, CalendarEvent | GraphError] = {}
        for spec in specs:
            event_id = f"AAMk-{next(self._ids)}"
            event = CalendarEvent(
                key=spec.key, event_id=event_id, subject=spec.subject, day=spec.day
            )
            self.events[event_id] = event
            out[spec.key] = event
        return out

    def move(self, event_id: str, spec: EventSpec) -> None:
        self.events[event_id] = CalendarEvent(
            key=spec.key, event_id=event_id, subject=spec.subject, day=spec.day
        )

    def delete(self, event_id: str) -> None:
        self.events.pop(event_id, None)


# -- directory, state, workspace, site lists -------------------------------------------------
class FakeDirectory:
    """Users found by id, UPN or mail (case-insensitive)."""

    def __init__(self, users: Iterable[User] = ()) -> None:
        self.users = list(users)

    def get(self, upn_or_id: str) -> User | None:
        wanted = upn_or_id.strip().casefold()
        for user in self.users:
            if wanted in {user.id.casefold(), user.upn.casefold(), (user.mail or "").casefold()}:
                return user
        return None


class FakeState:
    """The local cache as a dict (``clear()`` is an operator deleting the state directory)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def clear(self) -> None:
        self.values.clear()

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def section(self, key: str) -> dict[str, Any]:
        value = self.values.get(key)
        return dict(value) if isinstance(value, dict) else {}


class FakeWorkspace:
    """Fixed ids; buckets come from (or are created on) the fake task board."""

    def __init__(self, board: FakeTaskBoard, *, list_url: str = LIST_URL) -> None:
        self.board = board
        self.ids = Ids(
            site_id="site-1",
            list_id="list-1",
            list_url=list_url,
            drive_id="drive-1",
            plan_id="plan-1",
        )

    def resolve(self, *, require_list: bool = True) -> Ids:
        return self.ids

    def call(self, action: Callable[[Ids], T], *, require_list: bool = True) -> T:
        return action(self.ids)

    def set_list(self, list_id: str, list_url: str) -> None:
        self.ids.list_id, self.ids.list_url = list_id, list_url

    def set_buckets(self, buckets: dict[str, str]) -> None:
        self.ids.buckets = dict(buckets)

    def bucket_id(self, name: str) -> str:
        if name not in self.ids.buckets:
            found = {b["name"]: b["id"] for b in self.board.list_buckets(self.ids.plan_id)}
            if name not in found:
                found[name] = self.board.create_bucket(self.ids.plan_id, name)["id"]
            self.ids.buckets = found
        return self.ids.buckets[name]


class FakeSiteLists:
    """Lists and columns created (provisioning)."""

    def __init__(self) -> None:
        self.lists: dict[str, list[dict[str, Any]]] = {}

    def create_list(
        self, site_id: str, display_name: str, columns: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self.lists[display_name] = list(columns)
        return {"id": f"list-{display_name}", "webUrl": f"{LIST_URL}-{len(self.lists)}"}

    def add_column(self, site_id: str, list_id: str, column: dict[str, Any]) -> dict[str, Any]:
        self.lists.setdefault(list_id, []).append(column)
        return column


# -- feeds ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class FakeResponse:
    """One in-memory answer (what ``bounded_get`` reads)."""

    status_code: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    is_redirect: bool = False

    def iter_content(self, chunk_size: int | None = 1) -> Iterator[bytes]:
        size = chunk_size or len(self.body) or 1
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


class FakeFeeds:
    """Serves feeds built from items given directly; answers 304 to a matching ETag."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.requests: list[str] = []

    def publish(self, url: str, items: Sequence[rss.Item]) -> None:
        """The feed at ``url`` now lists ``items``."""
        self.pages[url] = rss.rss(items)

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str],
        timeout: tuple[float, float],
        verify: str | bool,
        stream: bool,
        allow_redirects: bool,
    ) -> FakeResponse:
        self.requests.append(url)
        body = self.pages.get(url)
        if body is None:
            return FakeResponse(404, reason="Not Found")
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if headers.get("If-None-Match") == etag:
            return FakeResponse(304, headers={"ETag": etag})
        return FakeResponse(
            200, body, headers={"ETag": etag, "Content-Type": "application/rss+xml"}
        )


# -- the bundle ----------------------------------------------------------------------------------
POLICY = User(
    id="u-policy",
    display_name="Pat Policy",
    mail="policy.officer@opcc.test",
    upn="policy.officer@opcc.test",
)
PCC = User(id="u-pcc", display_name="Police and Crime Commissioner", mail=None, upn="pcc@opcc.test")
MANAGER = User(id="u-ce", display_name="Chief Executive", mail="ce@opcc.test", upn="ce@opcc.test")
RECIPIENTS = {
    "chief_constable": ["cc.office@force.test"],
    "panel": ["panel@council.test"],
    "website": ["web@opcc.test"],
    "hmicfrs": ["s55responses@hmicfrs.test"],
}


def fake_settings(state_dir: Path, **overrides: Any) -> Settings:
    """Settings for the fakes: one feed, three people, four recipient groups, no report pages."""
    values: dict[str, Any] = {
        "tenant_id": "contoso.onmicrosoft.com",
        "force_name": "Norfolk Constabulary",
        "pcc_area": "Norfolk",
        "client_id": "c",
        "client_secret": "s",
        "state_dir": state_dir,
        "feed_urls": [FEED_URL],
        "fetch_report_pages": False,
        "mailbox": "opcc@opcc.test",
        "people": {"response_owner": POLICY.upn, "pcc": PCC.upn, "manager": MANAGER.upn},
        "recipients": RECIPIENTS,
        "concurrency": 1,
        "approval": {"hold_minutes": 0},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass(slots=True)
class FakeServices:
    """Every port, in memory (what a job receives instead of ``App``)."""

    settings: Settings
    tracker: FakeTracker = field(default_factory=FakeTracker)
    planner: FakeTaskBoard = field(default_factory=FakeTaskBoard)
    drive: FakeDraftLibrary = field(default_factory=FakeDraftLibrary)
    mail: FakeOutbox = field(default_factory=FakeOutbox)
    users: FakeDirectory = field(default_factory=lambda: FakeDirectory([POLICY, PCC, MANAGER]))
    http: FakeFeeds = field(default_factory=FakeFeeds)
    state: FakeState = field(default_factory=FakeState)
    sharepoint: FakeSiteLists = field(default_factory=FakeSiteLists)
    recommendations: FakeRecommendationRows = field(default_factory=FakeRecommendationRows)
    calendar: FakeCalendar | None = field(default_factory=FakeCalendar)
    workspace: FakeWorkspace = field(init=False)

    def __post_init__(self) -> None:
        self.workspace = FakeWorkspace(self.planner, list_url=self.tracker.list_url)


def services(state_dir: Path, **overrides: Any) -> FakeServices:
    """A fresh set of fakes with :func:`fake_settings`."""
    return FakeServices(fake_settings(state_dir, **overrides))


def as_services(fakes: FakeServices) -> Services:
    """The fakes as the jobs' ``Services`` (mypy checks that they are one)."""
    return fakes


def swap_tracker(services_: FakeServices, tracker: FakeTracker) -> None:
    """Put ``tracker`` (a subclass a test made) in place, holding the same items and history."""
    old = services_.tracker
    tracker.items, tracker.history, tracker.list_url = old.items, old.history, old.list_url
    tracker._version = old._version  # etags go on from the same counter
    services_.tracker = tracker


def finish_draft(services_: FakeServices, item_id: str) -> None:
    """The policy officer writes the response and ticks off the stages before approval."""
    record = services_.tracker.record(item_id)
    for found in services_.drive.files.values():
        if found["id"] == record.draft_item_id:
            found["content"] = fill_prompts(found["content"], lambda _: "The PCC's response.")
    for key in ("cc_comments", "draft"):
        services_.planner.complete_by(record.tasks[key]["id"], POLICY.id)


def filed(state_dir: Path, item: rss.Item, *, today: dt.date) -> tuple[FakeServices, str]:
    """Fakes holding one publication that intake filed and set up as of ``today``; its item id."""
    services_ = services(state_dir)
    services_.http.publish(FEED_URL, [item])
    report = RunReport()
    Intake(services_, report, today=today).run()
    if report.failures:
        raise AssertionError(f"intake failed: {report.failures}")
    (item_id,) = services_.tracker.items
    return services_, item_id
