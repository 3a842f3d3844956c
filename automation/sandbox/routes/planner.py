"""Sandbox routes: Planner plans, buckets, tasks and task details.

Over 500 lines on purpose: Planner's write rules (etags, order hints, checklist and
reference maps) and one handler per served route, kept together because they share the store.

State lives in ``tenant.data["planner"]`` as ``{plans, buckets, tasks, details}``, each a dict
keyed by id. Every record keeps its version in ``etag_version`` (stripped before answering);
the ``@odata.etag`` is an opaque ``W/"..."`` string derived from kind, id and version, so a
task and its details (same id) carry different, independently changing etags.

Behaviour follows graph.md §4: ``If-Match`` is required on PATCH/DELETE (400 without, 412
when stale), ``Prefer: return=representation`` turns a 204 into 200 + the resource, open-type
values (assignments, checklist items, references) need ``@odata.type``, the service replaces
client order hints, and ``percentComplete`` 100 sets ``completedDateTime``/``completedBy``.
A reference's ``type`` must be one of the documented PowerPoint, Word, Excel, Other (400
otherwise: stricter than Microsoft, whose enforcement is unverified).

The sandbox-only header ``X-Sandbox-Acting-User: <user id or UPN>`` makes a change look as if
a person made it in the Planner app (``createdBy``/``completedBy``/``lastModifiedBy`` name
that user instead of the calling application).
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    bind,
    collection_response,
    empty_response,
    json_response,
    now_iso,
    select_fields,
)
from automation.sandbox.routes.users import find_user

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext
    from automation.sandbox.state import Tenant

ACTING_USER_HEADER = "X-Sandbox-Acting-User"
READ_ROLES = frozenset({"Tasks.Read.All", "Tasks.ReadWrite.All"})
WRITE_ROLES = frozenset({"Tasks.ReadWrite.All"})
VERSION_KEY = "etag_version"
# plannerExternalReference page: "Types include: PowerPoint, Word, Excel, Other". Whether
# Planner refuses others (e.g. "Pdf") is unverified; the sandbox does, to be safe.
REFERENCE_TYPES = frozenset({"PowerPoint", "Word", "Excel", "Other"})
PREVIEW_TYPES = frozenset({"automatic", "noPreview", "checklist", "description", "reference"})
MAX_ASSIGNEES = 20
MAX_CHECKLIST_ITEMS = 20
MAX_REFERENCES = 10
TASKS_PAGE_SIZE = 100
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ETAG = re.compile(r'^(W/)?"[^"]*"$')
_CATEGORY = re.compile(r"^category([1-9]|1[0-9]|2[0-5])$")
_GROUP_URL = re.compile(r"/groups/([^/?#]+)/?$")

TASK_WRITABLE = frozenset(
    {
        "title",
        "bucketId",
        "assignments",
        "appliedCategories",
        "dueDateTime",
        "startDateTime",
        "percentComplete",
        "priority",
        "orderHint",
        "assigneePriority",
        "previewType",
        "conversationThreadId",
    }
)
TASK_READ_ONLY = frozenset(
    {
        "id",
        "activeChecklistItemCount",
        "checklistItemCount",
        "completedBy",
        "completedDateTime",
        "createdBy",
        "createdDateTime",
        "hasDescription",
        "referenceCount",
    }
)
DETAILS_WRITABLE = frozenset({"description", "previewType", "checklist", "references"})
CHECKLIST_ITEM_WRITABLE = frozenset({"title", "isChecked", "orderHint"})
REFERENCE_WRITABLE = frozenset({"alias", "type", "previewPriority"})


# -- errors -----------------------------------------------------------------------------------
def planner_not_found() -> ApiError:
    """Planner's 404 (Planner errors carry an empty ``code``)."""
    return ApiError(404, "", "The requested item is not found.")


def bad_request(message: str) -> ApiError:
    """A 400 for a body the service cannot accept."""
    return ApiError(400, "BadRequest", message)


def require_role(request: Request, *, write: bool) -> None:
    """403 unless the app holds Tasks.ReadWrite.All (or Tasks.Read.All for reads)."""
    allowed = WRITE_ROLES if write else READ_ROLES
    if not allowed.intersection(request.roles):
        raise ApiError(403, "", "You do not have the required permissions to access this item.")


# -- small values -----------------------------------------------------------------------------
def new_planner_id() -> str:
    """A 28-character Planner id."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(28))


def etag(kind: str, record: dict[str, Any]) -> str:
    """The opaque weak etag of a record's current version."""
    raw = f"{kind}:{record['id']}:{record.get(VERSION_KEY, 1)}".encode()
    return 'W/"JzEt' + base64.b64encode(raw).decode("ascii") + '"'


def render(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as Graph answers it: etag first, bookkeeping stripped."""
    out: dict[str, Any] = {"@odata.etag": etag(kind, record)}
    out.update(
        (key, copy.deepcopy(value))
        for key, value in record.items()
        if key != VERSION_KEY and not key.startswith("_")
    )
    return out


def bump(record: dict[str, Any]) -> None:
    """Move a record to its next version (its etag changes)."""
    record[VERSION_KEY] = int(record.get(VERSION_KEY, 1)) + 1


def check_if_match(request: Request, kind: str, record: dict[str, Any]) -> None:
    """400 when If-Match is absent or malformed, 412 when it is not the current etag."""
    value = str(request.headers.get("if-match") or "").strip()
    if not value:
        raise ApiError(400, "", "The If-Match header must be specified for this kind of request.")
    if not _ETAG.match(value):
        raise ApiError(400, "", "The If-Match header contains an invalid value.")
    if value != etag(kind, record):
        raise ApiError(412, "UnknownError", "The If-Match etag does not match the current version.")


def wants_representation(request: Request) -> bool:
    """``Prefer: return=representation`` was sent."""
    prefer = str(request.headers.get("prefer") or "")
    return any(p.strip().lower() == "return=representation" for p in prefer.split(","))


def order_hint(tenant: Tenant) -> str:
    """A service-generated order hint (characters 32-126, distinct per call)."""
    number = tenant.counter("planner-order-hint")
    return f"8585{10**14 - number * 7919:014d}P!"


def actor(request: Request, tenant: Tenant) -> dict[str, Any]:
    """identitySet of who made the change: the acting user (sandbox header) or the app."""
    acting = str(request.headers.get(ACTING_USER_HEADER) or "").strip()
    if acting:
        user = find_user(tenant.table("users"), acting)
        if user is None:
            raise bad_request(f"{ACTING_USER_HEADER} names no user of this tenant: '{acting}'.")
        return {"user": {"id": user["id"], "displayName": user.get("displayName")}}
    return {"application": {"id": request.app_id, "displayName": None}}


def _odata_type_ok(value: dict[str, Any], type_name: str) -> bool:
    given = value.get("@odata.type")
    return isinstance(given, str) and given.lstrip("#") == type_name


def _datetime(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Property '{name}' must be a DateTimeOffset string or null.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise bad_request(f"Cannot convert '{value}' to DateTimeOffset for '{name}'.") from exc
    if parsed.tzinfo is None:
        raise bad_request(f"'{value}' for '{name}' has no time zone offset (DateTimeOffset).")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_in(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"Property '{name}' must be an integer from {low} to {high}.")
    return value


def _hint_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or any(not 32 <= ord(ch) <= 126 for ch in value):
        raise bad_request(f"Property '{name}' is not a valid order hint.")


def _check_keys(body: dict[str, Any], writable: frozenset[str], read_only: frozenset[str]) -> None:
    for key in body:
        if key.startswith("@"):
            continue
        if key in read_only:
            raise bad_request(f"The property '{key}' is read-only and cannot be set.")
        if key not in writable:
            raise bad_request(f"The property '{key}' does not exist on this type.")


# -- the planner store -------------------------------------------------------------------------
class PlannerStore:
    """Access to ``tenant.data["planner"]`` with the lookups handlers need."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    @property
    def data(self) -> dict[str, dict[str, Any]]:
        planner = self.tenant.table("planner")
        for name in ("plans", "buckets", "tasks", "details"):
            planner.setdefault(name, {})
        return planner

    def get(self, table: str, key: str) -> dict[str, Any]:
        found = self.data[table].get(key)
        if found is None:
            raise planner_not_found()
        record: dict[str, Any] = found
        return record

    def tasks_where(self, field: str, value: str) -> list[dict[str, Any]]:
        return [task for task in self.data["tasks"].values() if task.get(field) == value]

    def delete_task(self, task_id: str) -> None:
        self.data["tasks"].pop(task_id, None)
        self.data["details"].pop(task_id, None)


# -- task fields ---------------------------------------------------------------------------------
def apply_task_fields(
    task: dict[str, Any],
    body: dict[str, Any],
    *,
    store: PlannerStore,
    who: dict[str, Any],
) -> None:
    """Validate ``body`` and write it onto ``task`` (a copy; the caller commits)."""
    tenant = store.tenant
    if "title" in body:
        title = body["title"]
        if not isinstance(title, str) or not title.strip() or len(title) > 255:
            raise bad_request("Property 'title' must be a non-empty string of at most 255.")
        task["title"] = title
    if "bucketId" in body:
        bucket_id = body["bucketId"]
        if bucket_id is not None:
            bucket = store.data["buckets"].get(str(bucket_id))
            if bucket is None or bucket.get("planId") != task["planId"]:
                raise bad_request(f"The bucket '{bucket_id}' does not belong to the plan.")
        task["bucketId"] = bucket_id
    for name in ("dueDateTime", "startDateTime"):
        if name in body:
            task[name] = _datetime(name, body[name])
    if "priority" in body:
        task["priority"] = _int_in("priority", body["priority"], 0, 10)
    for name in ("orderHint", "assigneePriority"):
        if name in body:
            _hint_text(name, body[name])
            task[name] = order_hint(tenant)
    if "previewType" in body:
        if body["previewType"] not in PREVIEW_TYPES:
            raise bad_request(f"'{body['previewType']}' is not a valid previewType.")
        task["previewType"] = body["previewType"]
    if "conversationThreadId" in body:
        thread = body["conversationThreadId"]
        if thread is not None and not isinstance(thread, str):
            raise bad_request("Property 'conversationThreadId' must be a string or null.")
        task["conversationThreadId"] = thread
    if "appliedCategories" in body:
        _apply_categories(task, body["appliedCategories"])
    if "assignments" in body:
        _apply_assignments(task, body["assignments"], tenant=tenant, who=who)
    if "percentComplete" in body:
        percent = _int_in("percentComplete", body["percentComplete"], 0, 100)
        was_complete = task.get("percentComplete") == 100
        task["percentComplete"] = percent
        if percent == 100 and not was_complete:
            task["completedDateTime"] = now_iso()
            task["completedBy"] = who
        elif percent < 100:
            task["completedDateTime"] = None
            task["completedBy"] = None


def _apply_categories(task: dict[str, Any], value: Any) -> None:
    if not isinstance(value, dict):
        raise bad_request("Property 'appliedCategories' must be an object.")
    categories = dict(task.get("appliedCategories") or {})
    for key, flag in value.items():
        if key.startswith("@"):
            continue
        if not _CATEGORY.match(key) or not isinstance(flag, bool):
            raise bad_request(f"Invalid applied category '{key}': use category1..25 with a bool.")
        if flag:
            categories[key] = True
        else:
            categories.pop(key, None)
    task["appliedCategories"] = categories


def _apply_assignments(
    task: dict[str, Any], value: Any, *, tenant: Tenant, who: dict[str, Any]
) -> None:
    if not isinstance(value, dict):
        raise bad_request("Property 'assignments' must be an object keyed by user id.")
    assignments: dict[str, Any] = dict(task.get("assignments") or {})
    users = tenant.table("users")
    for key, item in value.items():
        if key.startswith("@"):
            continue
        if item is None:
            assignments.pop(key, None)
            continue
        if not isinstance(item, dict) or not _odata_type_ok(
            item, "microsoft.graph.plannerAssignment"
        ):
            raise bad_request(
                f"The assignment for '{key}' must be an object with "
                '"@odata.type": "#microsoft.graph.plannerAssignment".'
            )
        extra = sorted(k for k in item if not k.startswith("@") and k != "orderHint")
        if extra:
            raise bad_request(f"Assignment properties {extra} cannot be set.")
        if "orderHint" in item:
            _hint_text("orderHint", item["orderHint"])
        if key not in users:
            raise bad_request(
                f"Assignment key '{key}' is not the id of a user in this tenant "
                "(assignments are keyed by Entra user object id)."
            )
        existing = assignments.get(key)
        if existing is None:
            assignments[key] = {
                "@odata.type": "#microsoft.graph.plannerAssignment",
                "assignedDateTime": now_iso(),
                "orderHint": order_hint(tenant),
                "assignedBy": who,
            }
        elif "orderHint" in item:
            existing = dict(existing)
            existing["orderHint"] = order_hint(tenant)
            assignments[key] = existing
    if len(assignments) > MAX_ASSIGNEES:
        raise ApiError(403, "MaximumAssigneesInTasks", "The task has too many assignees.")
    task["assignments"] = assignments


# -- task details ----------------------------------------------------------------------------
def apply_details_fields(
    details: dict[str, Any], body: dict[str, Any], *, tenant: Tenant, who: dict[str, Any]
) -> None:
    """Validate ``body`` and write it onto ``details`` (a copy; the caller commits)."""
    if "description" in body:
        text = body["description"]
        if text is not None and not isinstance(text, str):
            raise bad_request("Property 'description' must be a string or null.")
        details["description"] = text
    if "previewType" in body:
        if body["previewType"] not in PREVIEW_TYPES:
            raise bad_request(f"'{body['previewType']}' is not a valid previewType.")
        details["previewType"] = body["previewType"]
    if "checklist" in body:
        _apply_checklist(details, body["checklist"], tenant=tenant, who=who)
    if "references" in body:
        _apply_references(details, body["references"], tenant=tenant, who=who)


def _apply_checklist(
    details: dict[str, Any], value: Any, *, tenant: Tenant, who: dict[str, Any]
) -> None:
    if not isinstance(value, dict):
        raise bad_request("Property 'checklist' must be an object keyed by GUID.")
    checklist: dict[str, Any] = dict(details.get("checklist") or {})
    for key, item in value.items():
        if key.startswith("@"):
            continue
        try:
            uuid.UUID(key)
        except ValueError as exc:
            raise bad_request(f"Checklist item key '{key}' is not a GUID.") from exc
        if item is None:
            checklist.pop(key, None)
            continue
        existing = checklist.get(key)
        if not isinstance(item, dict):
            raise bad_request(f"Checklist item '{key}' must be an object or null.")
        typed = _odata_type_ok(item, "microsoft.graph.plannerChecklistItem")
        if (existing is None and not typed) or ("@odata.type" in item and not typed):
            raise bad_request(
                f"Checklist item '{key}' needs "
                '"@odata.type": "microsoft.graph.plannerChecklistItem".'
            )
        _check_keys(item, CHECKLIST_ITEM_WRITABLE, frozenset())
        entry = dict(existing or {"@odata.type": "#microsoft.graph.plannerChecklistItem"})
        if "title" in item or existing is None:
            title = item.get("title")
            if not isinstance(title, str) or not title.strip():
                raise bad_request(f"Checklist item '{key}' needs a non-empty 'title'.")
            entry["title"] = title
        if "isChecked" in item:
            if not isinstance(item["isChecked"], bool):
                raise bad_request(f"Checklist item '{key}': 'isChecked' must be a bool.")
            entry["isChecked"] = item["isChecked"]
        entry.setdefault("isChecked", False)
        if "orderHint" in item:
            _hint_text("orderHint", item["orderHint"])
        if existing is None or "orderHint" in item:
            entry["orderHint"] = order_hint(tenant)
        entry["lastModifiedBy"] = who
        entry["lastModifiedDateTime"] = now_iso()
        checklist[key] = entry
    if len(checklist) > MAX_CHECKLIST_ITEMS:
        raise ApiError(403, "MaximumChecklistItemsOnTask", "The task has too many checklist items.")
    details["checklist"] = checklist


def decode_reference_key(key: str) -> str:
    """The URL behind an encoded reference key; 400 when it is not an encoded http(s) URL."""
    raw = sorted({ch for ch in key if ch in ".:@#"})
    if raw:
        raise bad_request(
            f"Reference key '{key}' contains unencoded {raw}: encode '.', ':', '%', '@' and '#'."
        )
    url = unquote(key)
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise bad_request(f"Reference key '{key}' does not decode to an http(s) URL.")
    return url


def _apply_references(
    details: dict[str, Any], value: Any, *, tenant: Tenant, who: dict[str, Any]
) -> None:
    if not isinstance(value, dict):
        raise bad_request("Property 'references' must be an object keyed by encoded URL.")
    references: dict[str, Any] = dict(details.get("references") or {})
    for key, item in value.items():
        if key.startswith("@"):
            continue
        url = decode_reference_key(key)
        stored_key = next((k for k in references if unquote(k) == url), key)
        if item is None:
            references.pop(stored_key, None)
            continue
        existing = references.get(stored_key)
        if not isinstance(item, dict):
            raise bad_request(f"Reference '{key}' must be an object or null.")
        typed = _odata_type_ok(item, "microsoft.graph.plannerExternalReference")
        if (existing is None and not typed) or ("@odata.type" in item and not typed):
            raise bad_request(
                f"Reference '{key}' needs "
                '"@odata.type": "microsoft.graph.plannerExternalReference".'
            )
        _check_keys(item, REFERENCE_WRITABLE, frozenset())
        entry = dict(existing or {"@odata.type": "#microsoft.graph.plannerExternalReference"})
        for name in ("alias", "type"):
            if name in item:
                if item[name] is not None and not isinstance(item[name], str):
                    raise bad_request(f"Reference '{key}': '{name}' must be a string.")
                entry[name] = item[name]
        if entry.get("type") is not None and entry["type"] not in REFERENCE_TYPES:
            raise bad_request(
                f"Reference '{key}': type '{entry['type']}' is not one of "
                f"{', '.join(sorted(REFERENCE_TYPES))}."
            )
        entry.setdefault("alias", None)
        entry.setdefault("type", None)
        if "previewPriority" in item:
            _hint_text("previewPriority", item["previewPriority"])
        if existing is None or "previewPriority" in item:
            entry["previewPriority"] = order_hint(tenant)
        entry["lastModifiedBy"] = who
        entry["lastModifiedDateTime"] = now_iso()
        references[stored_key] = entry
    if len(references) > MAX_REFERENCES:
        raise ApiError(403, "MaximumReferencesOnTask", "The task has too many references.")
    details["references"] = references


def sync_task_counts(task: dict[str, Any], details: dict[str, Any]) -> None:
    """The task's summary fields that mirror its details."""
    checklist = details.get("checklist") or {}
    task["checklistItemCount"] = len(checklist)
    task["activeChecklistItemCount"] = sum(
        1 for item in checklist.values() if not item.get("isChecked")
    )
    task["referenceCount"] = len(details.get("references") or {})
    task["hasDescription"] = bool(details.get("description"))


def answer(status: int, kind: str, record: dict[str, Any], request: Request) -> Response:
    body = select_fields(render(kind, record), request.query.get("$select"))
    return json_response(status, body)


def write_answer(kind: str, record: dict[str, Any], request: Request) -> Response:
    if wants_representation(request):
        return answer(200, kind, record, request)
    return empty_response(204)


# plans ---------------------------------------------------------------------------------
def create_plan(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    body = request.json_object()
    _check_keys(body, frozenset({"container", "title", "owner"}), frozenset({"id"}))
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("Property 'title' is required.")
    container = body.get("container", {})
    group_id = body.get("owner")
    if isinstance(container, dict) and container:
        kind = container.get("type", "group")
        if kind != "group":
            raise bad_request(f"Container type '{kind}' is not supported here.")
        group_id = container.get("containerId")
        if not group_id and isinstance(container.get("url"), str):
            found = _GROUP_URL.search(container["url"])
            group_id = found.group(1) if found else None
    if not group_id:
        raise bad_request("Property 'container' must name a group (url or containerId).")
    if group_id not in tenant.table("groups"):
        raise planner_not_found()
    plan = {
        "id": new_planner_id(),
        "title": title,
        "owner": group_id,
        "createdDateTime": now_iso(),
        "createdBy": actor(request, tenant),
        "container": {
            "@odata.type": "#microsoft.graph.plannerPlanContainer",
            "containerId": group_id,
            "type": "group",
            "url": f"https://graph.microsoft.com/v1.0/groups/{group_id}",
        },
        VERSION_KEY: 1,
    }
    store.data["plans"][plan["id"]] = plan
    return answer(201, "plan", plan, request)


def get_plan(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    return answer(200, "plan", store.get("plans", request.params["plan_id"]), request)


def list_plan_buckets(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    plan = store.get("plans", request.params["plan_id"])
    buckets = [
        render("bucket", bucket)
        for bucket in store.data["buckets"].values()
        if bucket.get("planId") == plan["id"]
    ]
    return collection_response(request, buckets)


def list_plan_tasks(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    plan = store.get("plans", request.params["plan_id"])
    tasks = [render("task", task) for task in store.tasks_where("planId", plan["id"])]
    return collection_response(request, tasks, default_top=TASKS_PAGE_SIZE)


def list_group_plans(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    group_id = request.params["group_id"]
    if group_id not in tenant.table("groups"):
        raise planner_not_found()
    plans = [
        render("plan", plan)
        for plan in store.data["plans"].values()
        if (plan.get("container") or {}).get("containerId") == group_id
    ]
    return collection_response(request, plans)


# buckets -------------------------------------------------------------------------------
def create_bucket(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    body = request.json_object()
    _check_keys(body, frozenset({"name", "planId", "orderHint"}), frozenset({"id"}))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Property 'name' is required.")
    plan_id = body.get("planId")
    if not isinstance(plan_id, str) or not plan_id:
        raise bad_request("Property 'planId' is required.")
    plan = store.get("plans", plan_id)
    if "orderHint" in body:
        _hint_text("orderHint", body["orderHint"])
    bucket = {
        "name": name,
        "planId": plan["id"],
        "orderHint": order_hint(tenant),
        "id": new_planner_id(),
        VERSION_KEY: 1,
    }
    store.data["buckets"][bucket["id"]] = bucket
    return answer(201, "bucket", bucket, request)


def get_bucket(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    return answer(200, "bucket", store.get("buckets", request.params["bucket_id"]), request)


def update_bucket(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    bucket = store.get("buckets", request.params["bucket_id"])
    check_if_match(request, "bucket", bucket)
    body = request.json_object()
    _check_keys(body, frozenset({"name", "orderHint"}), frozenset({"id", "planId"}))
    if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
        raise bad_request("Property 'name' must be a non-empty string.")
    if "orderHint" in body:
        _hint_text("orderHint", body["orderHint"])
        bucket["orderHint"] = order_hint(tenant)
    if "name" in body:
        bucket["name"] = body["name"]
    bump(bucket)
    return write_answer("bucket", bucket, request)


def delete_bucket(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    bucket = store.get("buckets", request.params["bucket_id"])
    check_if_match(request, "bucket", bucket)
    for task in store.tasks_where("bucketId", bucket["id"]):
        store.delete_task(task["id"])
    del store.data["buckets"][bucket["id"]]
    return empty_response(204)


def list_bucket_tasks(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    bucket = store.get("buckets", request.params["bucket_id"])
    tasks = [render("task", task) for task in store.tasks_where("bucketId", bucket["id"])]
    return collection_response(request, tasks, default_top=TASKS_PAGE_SIZE)


# tasks ---------------------------------------------------------------------------------
def create_task(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    body = request.json_object()
    _check_keys(body, TASK_WRITABLE | {"planId"}, TASK_READ_ONLY)
    plan_id = body.get("planId")
    if not isinstance(plan_id, str) or not plan_id:
        raise bad_request("Property 'planId' is required.")
    plan = store.get("plans", plan_id)
    if "title" not in body:
        raise bad_request("Property 'title' is required.")
    who = actor(request, tenant)
    task: dict[str, Any] = {
        "planId": plan["id"],
        "bucketId": None,
        "title": "",
        "orderHint": order_hint(tenant),
        "assigneePriority": "",
        "percentComplete": 0,
        "startDateTime": None,
        "createdDateTime": now_iso(),
        "dueDateTime": None,
        "hasDescription": False,
        "previewType": "automatic",
        "completedDateTime": None,
        "completedBy": None,
        "referenceCount": 0,
        "checklistItemCount": 0,
        "activeChecklistItemCount": 0,
        "conversationThreadId": None,
        "priority": 5,
        "id": new_planner_id(),
        "createdBy": who,
        "appliedCategories": {},
        "assignments": {},
        VERSION_KEY: 1,
    }
    apply_task_fields(task, body, store=store, who=who)
    if len(store.tasks_where("planId", plan["id"])) >= 2400:
        raise ApiError(403, "MaximumTasksInProject", "The plan has too many tasks.")
    store.data["tasks"][task["id"]] = task
    store.data["details"][task["id"]] = {
        "id": task["id"],
        "description": "",
        "previewType": "automatic",
        "checklist": {},
        "references": {},
        VERSION_KEY: 1,
    }
    return answer(201, "task", task, request)


def get_task(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    return answer(200, "task", store.get("tasks", request.params["task_id"]), request)


def update_task(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    task = store.get("tasks", request.params["task_id"])
    check_if_match(request, "task", task)
    body = request.json_object()
    _check_keys(body, TASK_WRITABLE, TASK_READ_ONLY | {"planId"})
    changed = copy.deepcopy(task)
    apply_task_fields(changed, body, store=store, who=actor(request, tenant))
    bump(changed)
    store.data["tasks"][task["id"]] = changed
    return write_answer("task", changed, request)


def delete_task(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    task = store.get("tasks", request.params["task_id"])
    check_if_match(request, "task", task)
    store.delete_task(task["id"])
    return empty_response(204)


def get_details(ctx: SandboxContext, request: Request) -> Response:
    store = PlannerStore(ctx.tenant)
    require_role(request, write=False)
    task = store.get("tasks", request.params["task_id"])
    return answer(200, "details", store.get("details", task["id"]), request)


def update_details(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = PlannerStore(ctx.tenant)
    require_role(request, write=True)
    task = store.get("tasks", request.params["task_id"])
    details = store.get("details", task["id"])
    check_if_match(request, "details", details)
    body = request.json_object()
    _check_keys(body, DETAILS_WRITABLE, frozenset({"id"}))
    changed = copy.deepcopy(details)
    apply_details_fields(changed, body, tenant=tenant, who=actor(request, tenant))
    bump(changed)
    sync_task_counts(task, changed)
    bump(task)
    store.data["details"][task["id"]] = changed
    return write_answer("details", changed, request)


# -- routes ----------------------------------------------------------------------------------------
def register(ctx: SandboxContext) -> None:
    """Register the routes of this group."""
    tenant = ctx.tenant
    PlannerStore(tenant)
    router = ctx.router
    plan_type = "microsoft.graph.plannerPlan"
    bucket_type = "microsoft.graph.plannerBucket"
    task_type = "microsoft.graph.plannerTask"
    router.add("POST", "/planner/plans", bind(create_plan, ctx), returns=plan_type)
    router.add("GET", "/planner/plans/{plan-id}", bind(get_plan, ctx), returns=plan_type)
    router.add(
        "GET",
        "/planner/plans/{plan-id}/buckets",
        bind(list_plan_buckets, ctx),
        returns=bucket_type,
        collection=True,
    )
    router.add(
        "GET",
        "/planner/plans/{plan-id}/tasks",
        bind(list_plan_tasks, ctx),
        returns=task_type,
        collection=True,
    )
    router.add(
        "GET",
        "/groups/{group-id}/planner/plans",
        bind(list_group_plans, ctx),
        returns=plan_type,
        collection=True,
    )
    router.add("POST", "/planner/buckets", bind(create_bucket, ctx), returns=bucket_type)
    router.add("GET", "/planner/buckets/{bucket-id}", bind(get_bucket, ctx), returns=bucket_type)
    router.add(
        "PATCH", "/planner/buckets/{bucket-id}", bind(update_bucket, ctx), returns=bucket_type
    )
    router.add("DELETE", "/planner/buckets/{bucket-id}", bind(delete_bucket, ctx))
    router.add(
        "GET",
        "/planner/buckets/{bucket-id}/tasks",
        bind(list_bucket_tasks, ctx),
        returns=task_type,
        collection=True,
    )
    router.add("POST", "/planner/tasks", bind(create_task, ctx), returns=task_type)
    router.add(
        "GET",
        "/planner/tasks/{task-id}/details",
        bind(get_details, ctx),
        returns="microsoft.graph.plannerTaskDetails",
    )
    router.add(
        "PATCH",
        "/planner/tasks/{task-id}/details",
        bind(update_details, ctx),
        returns="microsoft.graph.plannerTaskDetails",
    )
    router.add("GET", "/planner/tasks/{task-id}", bind(get_task, ctx), returns=task_type)
    router.add("PATCH", "/planner/tasks/{task-id}", bind(update_task, ctx), returns=task_type)
    router.add("DELETE", "/planner/tasks/{task-id}", bind(delete_task, ctx))
