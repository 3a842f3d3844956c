"""Provisioning: the tracker and recommendations lists, the drafts folder, the Planner buckets.

Safe to re-run: it only creates what is missing (a run on a provisioned tenant writes
nothing). A column that exists with another type is reported, not changed: the data in it
belongs to the office.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.graph.recommendations_list import COLUMNS as RECOMMENDATION_COLUMNS
from automation.graph.tracker_list import COLUMNS
from automation.jobs.ports import Services

log = logging.getLogger(__name__)

TYPE_FACETS = ("text", "number", "dateTime", "choice", "boolean")
TRIAGE_BUCKET = "Triage"


@dataclass(slots=True)
class ProvisionResult:
    """What provisioning found and did."""

    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _facet(column: dict[str, Any]) -> str:
    for facet in TYPE_FACETS:
        if column.get(facet) is not None:
            return facet
    return "unknown"


def column_drift(
    existing: list[dict[str, Any]], columns: Sequence[dict[str, Any]] = COLUMNS
) -> tuple[list[dict[str, Any]], list[str]]:
    """(columns missing from the list, problems with columns of the wrong shape)."""
    by_name = {str(column.get("name")): column for column in existing}
    missing, problems = [], []
    for wanted in columns:
        found = by_name.get(wanted["name"])
        if found is None:
            missing.append(wanted)
            continue
        if _facet(found) != _facet(wanted):
            problems.append(
                f"column {wanted['name']}: is {_facet(found)}, expected {_facet(wanted)}"
            )
        if wanted.get("enforceUniqueValues") and not found.get("enforceUniqueValues"):
            problems.append(f"column {wanted['name']}: must enforce unique values")
        if wanted.get("indexed") and not found.get("indexed"):
            problems.append(f"column {wanted['name']}: must be indexed")
    return missing, problems


def provision(app: Services) -> ProvisionResult:
    """Create or upgrade everything the service needs.

    Cached ids that Graph no longer knows (404) are dropped and resolved once more.
    """
    return app.workspace.call(lambda _ids: _provision(app), require_list=False)


def _provision(app: Services) -> ProvisionResult:
    result = ProvisionResult()
    settings = app.settings
    ws = app.workspace.resolve(require_list=False)
    name = settings.sharepoint.tracker_list
    if not ws.list_id:
        created = app.sharepoint.create_list(ws.site_id, name, [dict(c) for c in COLUMNS])
        app.workspace.set_list(str(created["id"]), str(created.get("webUrl", "")))
        result.created.append(f"tracker list '{name}' with {len(COLUMNS) + 1} columns")
    else:
        result.present.append(f"tracker list '{name}'")
        missing, problems = column_drift(app.tracker.columns(ws))
        for column in missing:
            app.sharepoint.add_column(ws.site_id, ws.list_id, dict(column))
            result.created.append(f"column {column['name']}")
        result.problems.extend(problems)
    folder = settings.sharepoint.drafts_folder
    if app.drive.get_by_path(ws.drive_id, folder) is None:
        app.drive.ensure_folder(ws.drive_id, folder)
        result.created.append(f"library folder '{folder}'")
    else:
        result.present.append(f"library folder '{folder}'")
    wanted = list(dict.fromkeys([*(stage.bucket for stage in settings.stages), TRIAGE_BUCKET]))
    existing = {str(b["name"]): str(b["id"]) for b in app.planner.list_buckets(ws.plan_id)}
    already = [bucket for bucket in wanted if bucket in existing]
    for bucket in wanted:
        if bucket in existing:
            continue
        created_bucket = app.planner.create_bucket(ws.plan_id, bucket)
        existing[bucket] = str(created_bucket["id"])
        result.created.append(f"Planner bucket '{bucket}'")
    if already:  # only the ones that were there before this run, not those just created
        result.present.append(f"{len(already)} Planner buckets")
    app.workspace.set_buckets(existing)
    if settings.recommendations.enabled:
        _provision_recommendations(app, result)
    for line in result.created:
        log.info("provision: created %s", line)
    for line in result.problems:
        log.warning("provision: %s", line)
    return result


def _provision_recommendations(app: Services, result: ProvisionResult) -> None:
    """The recommendations list and its columns (created or upgraded like the tracker)."""
    name = app.settings.recommendations.list_name
    existing = app.recommendations.columns()
    if existing is None:
        app.recommendations.create()
        count = len(RECOMMENDATION_COLUMNS) + 1
        result.created.append(f"recommendations list '{name}' with {count} columns")
        return
    result.present.append(f"recommendations list '{name}'")
    missing, problems = column_drift(existing, RECOMMENDATION_COLUMNS)
    for column in missing:
        app.recommendations.add_column(column)
        result.created.append(f"column {column['name']} of '{name}'")
    result.problems.extend(f"{name}: {problem}" for problem in problems)
