"""Who may read, write or manage a SharePoint site: tenant-wide roles or a per-site grant.

Microsoft's model (permissions-selected-overview page; graph.md §9): the tenant-wide
application roles ``Sites.Read.All`` < ``Sites.ReadWrite.All`` < ``Sites.Manage.All`` <
``Sites.FullControl.All`` reach every site. ``Sites.Selected`` alone reaches **no** site until
an administrator grants the app a role on that site with ``POST /sites/{id}/permissions``
(site-post-permissions page): ``read``, ``write``, ``owner`` or ``fullcontrol``. Consent without
a grant gives nothing; a site without a grant answers 403 ``accessDenied``.

Creating lists and columns is a ``Sites.Manage.All``-level operation; graph.md §9 says a
``write`` grant "may not be enough" (not verified against a tenant), so the sandbox takes the
stricter reading: lists and columns need ``owner`` or ``fullcontrol`` on the site.

Grants live on the site record under ``_permissions`` (never shown in a site's JSON).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from automation.sandbox.framework import ApiError, Request, new_guid


class Access(IntEnum):
    """What a request needs on a site, weakest first."""

    NONE = 0
    READ = 1
    WRITE = 2
    MANAGE = 3


TENANT_WIDE: dict[str, Access] = {
    "Sites.Read.All": Access.READ,
    "Sites.ReadWrite.All": Access.WRITE,
    "Sites.Manage.All": Access.MANAGE,
    "Sites.FullControl.All": Access.MANAGE,
}
# Document libraries are also reachable through the Files roles (driveitem pages).
FILES_WIDE: dict[str, Access] = {
    "Files.Read.All": Access.READ,
    "Files.ReadWrite.All": Access.WRITE,
}
GRANT_ROLES: dict[str, Access] = {
    "read": Access.READ,
    "write": Access.WRITE,
    "owner": Access.MANAGE,
    "fullcontrol": Access.MANAGE,
}
SELECTED = "Sites.Selected"


def site_grants(site: dict[str, Any]) -> list[dict[str, Any]]:
    """The site's permission records (``POST /sites/{id}/permissions``), created on demand."""
    grants = site.setdefault("_permissions", [])
    assert isinstance(grants, list)
    return grants


def new_permission(client_id: str, roles: list[str], name: str | None) -> dict[str, Any]:
    """A permission record granting ``roles`` to one app (site-post-permissions example)."""
    identities = [{"application": {"id": client_id, "displayName": name}}]
    return {
        "id": new_guid(),
        "roles": list(roles),
        "grantedToIdentities": identities,
        "grantedToIdentitiesV2": identities,
    }


def grant_site(site: dict[str, Any], client_id: str, roles: list[str], name: str) -> None:
    """Record a grant without an HTTP call (the seed does, as an administrator would)."""
    site_grants(site).append(new_permission(client_id, roles, name))


def granted_apps(permission: dict[str, Any]) -> set[str]:
    """Client ids a permission record names."""
    out: set[str] = set()
    for key in ("grantedToIdentitiesV2", "grantedToIdentities"):
        for entry in permission.get(key) or []:
            app = entry.get("application") if isinstance(entry, dict) else None
            if isinstance(app, dict) and app.get("id"):
                out.add(str(app["id"]).lower())
    return out


def access_on(
    site: dict[str, Any],
    app_id: str | None,
    roles: tuple[str, ...] | list[str],
    *,
    files: bool = False,
) -> Access:
    """The strongest access the app's roles (and its grants on ``site``) give."""
    table = {**TENANT_WIDE, **FILES_WIDE} if files else TENANT_WIDE
    level = max((table.get(role, Access.NONE) for role in roles), default=Access.NONE)
    if SELECTED in roles and app_id:
        for permission in site_grants(site):
            if str(app_id).lower() in granted_apps(permission):
                for role in permission.get("roles", []):
                    level = max(level, GRANT_ROLES.get(str(role), Access.NONE))
    return level


def require_access(
    site: dict[str, Any], request: Request, need: Access, *, files: bool = False
) -> None:
    """403 ``accessDenied`` unless the request's app reaches ``site`` at level ``need``."""
    if access_on(site, request.app_id, request.roles, files=files) < need:
        raise ApiError(403, "accessDenied", "Access denied")
