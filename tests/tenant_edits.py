"""Edits a person makes in SharePoint or Planner, through the sandbox's acting-user header."""

from __future__ import annotations

from typing import Any

import requests

from automation.app import App
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
