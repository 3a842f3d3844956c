"""Edits a person makes in SharePoint or Planner, through the sandbox's acting-user header."""

from __future__ import annotations

from typing import Any

import requests

from automation.app import App
from automation.documents import fill_prompts
from automation.domain.record import TrackerRecord
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox


def as_user(sandbox: Sandbox, method: str, path: str, user: str, **kwargs: Any) -> Any:
    """One Graph call made by ``user`` (not by the service); fails the test unless 2xx."""
    info = sandbox.info()
    session = requests.Session()
    session.trust_env = False
    token = session.post(
        f"{sandbox.url}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=str(sandbox.ca_path),
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Sandbox-Acting-User": user}
    headers.update(kwargs.pop("headers", {}))
    answer = session.request(
        method,
        f"{sandbox.graph_url}{path}",
        headers=headers,
        verify=str(sandbox.ca_path),
        timeout=10,
        **kwargs,
    )
    assert answer.status_code < 300, answer.text
    return answer


def edit_item(sandbox: Sandbox, app: App, item_id: str, user: str, fields: dict[str, Any]) -> None:
    """Change tracker item fields as ``user`` would in the SharePoint list."""
    ws = app.resolve()
    as_user(
        sandbox,
        "PATCH",
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{item_id}/fields",
        user,
        json=fields,
    )


RESPONSE_TEXT = "The Commissioner welcomes the report and has asked the Chief Constable to act."


def write_response(
    sandbox: Sandbox, app: App, record: TrackerRecord, user: str, *, text: str = RESPONSE_TEXT
) -> None:
    """``user`` fills every prompt of the item's draft in Word and saves it to the library."""
    drive_id = app.resolve().drive_id
    content = fill_prompts(app.drive.download(drive_id, record.draft_item_id), lambda _: text)
    as_user(
        sandbox,
        "PUT",
        f"/drives/{drive_id}/items/{record.draft_item_id}/content",
        user,
        data=content,
        headers={"Content-Type": "application/octet-stream"},
    )


def complete_stage_task(sandbox: Sandbox, app: App, task_id: str, user: str) -> None:
    """``user`` ticks a task off in Planner."""
    task = app.planner.get_task(task_id)
    as_user(
        sandbox,
        "PATCH",
        f"/planner/tasks/{task_id}",
        user,
        json={"percentComplete": 100},
        headers={"If-Match": task["@odata.etag"]},
    )


def finish_draft(sandbox: Sandbox, app: App, record: TrackerRecord) -> None:
    """The policy officer writes the response and ticks off the stages before approval."""
    officer = user_email("policy_officer")
    write_response(sandbox, app, record, officer)
    for key in ("cc_comments", "draft"):
        entry = record.tasks.get(key)
        if isinstance(entry, dict) and entry.get("id"):
            task = app.planner.get_task(str(entry["id"]))
            if int(task.get("percentComplete") or 0) < 100:
                complete_stage_task(sandbox, app, str(entry["id"]), officer)
