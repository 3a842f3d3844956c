"""Planner buckets, tasks and task details through Graph (app-only)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from automation.domain.calendar import utc_stamp
from automation.graph.batch import Op
from automation.graph.client import BatchResponse, GraphClient

__all__ = [
    "Planner",
    "TaskSpec",
    "checklist_id",
    "encode_reference_key",
    "task_body",
]

ORDER_FIRST = " !"  # "before nothing, after nothing": the service picks its own hint
RETURN_REPRESENTATION = "return=representation"
# Namespace for checklist item ids, so the same (key, n) always gives the same GUID.
_CHECKLIST_NAMESPACE = uuid.UUID("6f1c2a7e-3b55-4c1d-9a55-5ec7105e0055")
_REFERENCE_TYPES = {
    ".doc": "Word",
    ".docx": "Word",
    ".xls": "Excel",
    ".xlsx": "Excel",
    ".ppt": "PowerPoint",
    ".pptx": "PowerPoint",
}
"""Only documented reference types (PowerPoint, Word, Excel, Other): a PDF is Other."""
CHECKLIST_MAX = 20
"""Planner allows at most 20 checklist items per task."""
CHECKLIST_TITLE_MAX = 100
TASK_TITLE_MAX = 255


def checklist_id(key: str, n: int) -> str:
    """A deterministic GUID for checklist item ``n`` of ``key`` (re-sent patches are idempotent)."""
    return str(uuid.uuid5(_CHECKLIST_NAMESPACE, f"{key}#{n}"))


def encode_reference_key(url: str) -> str:
    """A URL as a Planner reference key: ``% . : @ #`` percent-encoded (``%`` first)."""
    return (
        url.replace("%", "%25")
        .replace(".", "%2E")
        .replace(":", "%3A")
        .replace("@", "%40")
        .replace("#", "%23")
    )


def _reference_type(url: str) -> str:
    path = urlsplit(url).path.lower()
    for suffix, kind in _REFERENCE_TYPES.items():
        if path.endswith(suffix):
            return kind
    return "Other"


def _utc(moment: datetime | None, name: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return utc_stamp(moment)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    """What a new Planner task should look like."""

    plan_id: str
    bucket_id: str
    title: str
    assignee_ids: Sequence[str] = ()
    due: datetime | None = None
    start: datetime | None = None


def task_body(spec: TaskSpec) -> dict[str, Any]:
    """The ``POST /planner/tasks`` body for a task."""
    if not spec.title.strip():
        raise ValueError("a Planner task needs a title")
    body: dict[str, Any] = {
        "planId": spec.plan_id,
        "bucketId": spec.bucket_id,
        "title": spec.title,
        "assignments": {
            user_id: {"@odata.type": "#microsoft.graph.plannerAssignment", "orderHint": ORDER_FIRST}
            for user_id in spec.assignee_ids
        },
    }
    due = _utc(spec.due, "due")
    start = _utc(spec.start, "start")
    if due is not None:
        body["dueDateTime"] = due
    if start is not None:
        body["startDateTime"] = start
    return body


def details_body(
    *,
    description: str | None = None,
    checklist: Mapping[str, str] | None = None,
    references: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A task-details PATCH body (checklist: id -> title; references: URL -> alias).

    Checklist items are added unchecked; reference keys are encoded as Planner requires.
    """
    body: dict[str, Any] = {}
    if description is not None:
        body["description"] = description
    if checklist:
        body["checklist"] = {
            item_id: {
                "@odata.type": "microsoft.graph.plannerChecklistItem",
                "title": title,
                "isChecked": False,
            }
            for item_id, title in checklist.items()
        }
    if references:
        body["references"] = {
            encode_reference_key(url): {
                "@odata.type": "microsoft.graph.plannerExternalReference",
                "alias": alias,
                "type": _reference_type(url),
            }
            for url, alias in references.items()
        }
    return body


class Planner:
    """Buckets, tasks and task details of plans."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    def list_buckets(self, plan_id: str) -> list[dict[str, Any]]:
        """The plan's buckets."""
        return list(self._client.paged(f"/planner/plans/{quote(plan_id, safe='')}/buckets"))

    def create_bucket(self, plan_id: str, name: str) -> dict[str, Any]:
        """Create a bucket at the start of the plan's board."""
        result: dict[str, Any] = self._client.request(
            "POST",
            "/planner/buckets",
            json={"name": name, "planId": plan_id, "orderHint": ORDER_FIRST},
        ).json()
        return result

    def list_tasks(self, plan_id: str) -> list[dict[str, Any]]:
        """Every task of the plan (all pages)."""
        return list(self._client.paged(f"/planner/plans/{quote(plan_id, safe='')}/tasks"))

    def get_task(self, task_id: str) -> dict[str, Any]:
        """One task (with its ``@odata.etag``)."""
        result: dict[str, Any] = self._client.get_json(f"/planner/tasks/{quote(task_id, safe='')}")
        return result

    def create_task(
        self,
        *,
        plan_id: str,
        bucket_id: str,
        title: str,
        assignee_ids: Sequence[str],
        due: datetime | None,
        start: datetime | None = None,
    ) -> dict[str, Any]:
        """Create a task; ``due``/``start`` must be timezone-aware."""
        spec = TaskSpec(
            plan_id=plan_id,
            bucket_id=bucket_id,
            title=title,
            assignee_ids=tuple(assignee_ids),
            due=due,
            start=start,
        )
        result: dict[str, Any] = self._client.request(
            "POST", "/planner/tasks", json=task_body(spec)
        ).json()
        return result

    def update_task(
        self, task_id: str, etag: str, changes: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Patch a task; returns the task when Graph sends it (200), ``None`` on 204.

        Raises:
            PreconditionFailedError: the etag is stale (read the task again).
            ConflictError: the change conflicts with a newer one.
        """
        response = self._client.request(
            "PATCH",
            f"/planner/tasks/{quote(task_id, safe='')}",
            json=dict(changes),
            headers={"If-Match": etag, "Prefer": RETURN_REPRESENTATION},
        )
        if response.status == 204 or not response.body:
            return None
        result: dict[str, Any] = response.json()
        return result

    def get_details(self, task_id: str) -> dict[str, Any]:
        """The task's details (description, checklist, references) with their own etag."""
        result: dict[str, Any] = self._client.get_json(
            f"/planner/tasks/{quote(task_id, safe='')}/details"
        )
        return result

    def update_details(
        self,
        task_id: str,
        etag: str,
        *,
        description: str | None = None,
        checklist: Mapping[str, str] | None = None,
        references: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Patch task details with the **details** etag.

        Args:
            checklist: checklist item id (a GUID, see :func:`checklist_id`) -> title;
                items are added unchecked.
            references: URL -> alias; keys are encoded as Planner requires.

        Returns:
            The details when Graph sends them (200), ``None`` on 204.
        """
        body = details_body(description=description, checklist=checklist, references=references)
        if not body:
            raise ValueError("nothing to update")
        response = self._client.request(
            "PATCH",
            f"/planner/tasks/{quote(task_id, safe='')}/details",
            json=body,
            headers={"If-Match": etag, "Prefer": RETURN_REPRESENTATION},
        )
        if response.status == 204 or not response.body:
            return None
        result: dict[str, Any] = response.json()
        return result

    # -- operations (run alone or combined into one $batch) ----------------------------------
    @staticmethod
    def create_task_op(spec: TaskSpec) -> Op[str]:
        """POST a task; the value is the new task's id."""
        return Op("POST", "/planner/tasks", _new_id, body=task_body(spec))

    @staticmethod
    def details_read_op(task_id: str) -> Op[str]:
        """GET a task's details; the value is the details' etag."""
        return Op("GET", f"/planner/tasks/{quote(task_id, safe='')}/details", _etag)

    @staticmethod
    def details_patch_op(task_id: str, etag: str, body: Mapping[str, Any]) -> Op[None]:
        """PATCH a task's details with the details etag (If-Match)."""
        return Op(
            "PATCH",
            f"/planner/tasks/{quote(task_id, safe='')}/details",
            _nothing,
            body=dict(body),
            headers={"If-Match": etag},
        )

    def create_tasks(self, specs: Mapping[str, TaskSpec]) -> dict[str, str | Exception]:
        """Create tasks in one round trip per 20: stage key -> new id, or the error."""
        outcomes = self._client.run_all([self.create_task_op(spec) for spec in specs.values()])
        return {
            key: outcome.error if outcome.error is not None else outcome.get()
            for key, outcome in zip(specs, outcomes, strict=True)
        }

    def details_etags(self, task_ids: Mapping[str, str]) -> dict[str, str]:
        """The details etag of each task (stage key -> etag), in one round trip per 20."""
        outcomes = self._client.run_all([self.details_read_op(i) for i in task_ids.values()])
        return {key: outcome.get() for key, outcome in zip(task_ids, outcomes, strict=True)}

    def complete(self, task_id: str) -> None:
        """Mark a task 100% complete (nothing when it already is)."""
        task = self.get_task(task_id)
        if int(task.get("percentComplete") or 0) >= 100:
            return
        self.update_task(task_id, str(task.get("@odata.etag", "")), {"percentComplete": 100})


def _json_object(answer: BatchResponse) -> dict[str, Any]:
    return answer.body if isinstance(answer.body, dict) else {}


def _new_id(answer: BatchResponse) -> str:
    return str(_json_object(answer)["id"])


def _etag(answer: BatchResponse) -> str:
    return str(_json_object(answer).get("@odata.etag", ""))


def _nothing(answer: BatchResponse) -> None:
    return None
