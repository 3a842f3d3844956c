"""Sandbox routes: per-site application grants (``/sites/{site-id}/permissions``).

What an administrator does once so that an app holding only ``Sites.Selected`` reaches a site
(site-post-permissions page, example ``site-post-permissions.json``; graph.md §9):

* ``POST /sites/{site-id}/permissions`` ``{"roles": ["write"], "grantedToIdentities":
  [{"application": {"id": "<client id>", "displayName": "…"}}]}`` (or
  ``grantedToIdentitiesV2``) → ``201 permission`` naming the app in both properties.
* ``GET /sites/{site-id}/permissions``, ``GET|DELETE …/permissions/{permission-id}``.

Every one of these needs ``Sites.FullControl.All`` (the site-*-permissions pages list it as
the only application permission); a Sites.Selected app cannot grant itself. Roles are
``read``, ``write``, ``owner`` and ``fullcontrol``; anything else is 400 ``invalidRequest``.
The access rule itself lives in :mod:`automation.sandbox.site_access`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    bind,
    collection_response,
    empty_response,
    json_response,
)
from automation.sandbox.site_access import GRANT_ROLES, new_permission, site_grants

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext

GRANT_ADMIN_ROLE = "Sites.FullControl.All"
PERMISSION = "microsoft.graph.permission"


def _site(ctx: SandboxContext, request: Request) -> dict[str, Any]:
    if GRANT_ADMIN_ROLE not in request.roles:
        raise ApiError(403, "accessDenied", "Access denied")
    sites = ctx.tenant.table("sites")
    wanted = request.params["site_id"].lower()
    site = next((s for key, s in sites.items() if key.lower() == wanted), None)
    if not isinstance(site, dict):
        raise ApiError(404, "itemNotFound", "Requested site could not be found")
    return site


def _find(site: dict[str, Any], permission_id: str) -> dict[str, Any]:
    for permission in site_grants(site):
        if permission["id"] == permission_id:
            return permission
    raise ApiError(404, "itemNotFound", "The permission could not be found.")


def create_permission(ctx: SandboxContext, request: Request) -> Response:
    site = _site(ctx, request)
    body = request.json_object()
    roles = body.get("roles")
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) and r in GRANT_ROLES for r in roles)
    ):
        raise ApiError(
            400, "invalidRequest", "'roles' must list read, write, owner or fullcontrol."
        )
    identities = body.get("grantedToIdentitiesV2") or body.get("grantedToIdentities")
    apps = [
        entry["application"]
        for entry in identities or []
        if isinstance(entry, dict) and isinstance(entry.get("application"), dict)
    ]
    if len(apps) != 1 or not apps[0].get("id"):
        raise ApiError(400, "invalidRequest", "Exactly one application identity must be granted.")
    permission = new_permission(str(apps[0]["id"]), roles, apps[0].get("displayName"))
    site_grants(site).append(permission)
    return json_response(201, permission)


def list_permissions(ctx: SandboxContext, request: Request) -> Response:
    return collection_response(request, [dict(p) for p in site_grants(_site(ctx, request))])


def get_permission(ctx: SandboxContext, request: Request) -> Response:
    return json_response(200, _find(_site(ctx, request), request.params["permission_id"]))


def delete_permission(ctx: SandboxContext, request: Request) -> Response:
    site = _site(ctx, request)
    site_grants(site).remove(_find(site, request.params["permission_id"]))
    return empty_response(204)


def register(ctx: SandboxContext) -> None:
    """Register the site permission routes."""
    add = ctx.router.add
    base = "/sites/{site-id}/permissions"
    one = f"{base}/{{permission-id}}"
    add("POST", base, bind(create_permission, ctx), returns=PERMISSION)
    add("GET", base, bind(list_permissions, ctx), returns=PERMISSION, collection=True)
    add("GET", one, bind(get_permission, ctx), returns=PERMISSION)
    add("DELETE", one, bind(delete_permission, ctx))
