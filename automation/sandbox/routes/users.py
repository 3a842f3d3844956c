"""Sandbox routes: directory users (by id or UPN, ``$filter`` on mail/UPN) and groups.

Reading users needs the application permission ``User.ReadBasic.All`` (or a higher one);
reading a group needs a group read permission. Missing permissions answer the directory's
``403 Authorization_RequestDenied``; unknown objects ``404 Request_ResourceNotFound``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    collection_response,
    json_response,
)

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext

USER_READ_ROLES = frozenset(
    {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}
)
GROUP_READ_ROLES = frozenset(
    {"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All"}
)

# The properties GET /users/{id} returns without $select (user-get.md).
USER_DEFAULT_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
GROUP_DEFAULT_PROPERTIES = (
    "id",
    "createdDateTime",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "securityEnabled",
)
FILTER_PROPERTIES = {"mail": "mail", "userprincipalname": "userPrincipalName"}
_CLAUSE = re.compile(r"^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*$")


def require_role(request: Request, allowed: frozenset[str]) -> None:
    """403 ``Authorization_RequestDenied`` unless the app holds one of ``allowed``."""
    if not allowed.intersection(request.roles):
        raise ApiError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def not_found(key: str) -> ApiError:
    """The directory's 404 for an unknown object."""
    return ApiError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def find_user(users: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A user by object id or user principal name (case-insensitive)."""
    if key in users:
        found: dict[str, Any] = users[key]
        return found
    lowered = key.lower()
    for user in users.values():
        if lowered in (str(user.get("id", "")).lower(), str(user.get("userPrincipalName")).lower()):
            match: dict[str, Any] = user
            return match
    return None


def _public(obj: dict[str, Any], defaults: tuple[str, ...], select: str | None) -> dict[str, Any]:
    """The default property set, or the ``$select``ed stored properties (plus ``id``)."""
    visible = {k: v for k, v in obj.items() if not k.startswith("_")}
    if not select:
        return {key: visible.get(key) for key in defaults}
    wanted = {part.strip() for part in select.split(",") if part.strip()}
    return {key: value for key, value in visible.items() if key in wanted or key == "id"}


def _user_key(raw: str) -> str:
    """``/users/{key}`` also accepts ``/users('key')``; B2B ``#`` arrives decoded already."""
    match = re.fullmatch(r"\('((?:[^']|'')*)'\)", raw)
    return match.group(1).replace("''", "'") if match else raw


def parse_user_filter(text: str) -> list[tuple[str, str]]:
    """``mail eq 'a' or userPrincipalName eq 'b'`` as [(property, value)]; 400 otherwise."""
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        prop = FILTER_PROPERTIES.get(match.group(1).lower()) if match else None
        if match is None or prop is None:
            raise ApiError(
                400,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified for property "
                f"'{part.strip()}' of resource 'User'.",
            )
        clauses.append((prop, match.group(2).replace("''", "'")))
    return clauses


def register(ctx: SandboxContext) -> None:
    """Register the routes of this group."""
    tenant = ctx.tenant

    def get_user(request: Request) -> Response:
        require_role(request, USER_READ_ROLES)
        key = _user_key(request.params["user_id"])
        user = find_user(tenant.table("users"), key)
        if user is None:
            raise not_found(key)
        body = {"@odata.context": f"{request.graph_url}/$metadata#users/$entity"}
        body.update(_public(user, USER_DEFAULT_PROPERTIES, request.query.get("$select")))
        return json_response(200, body)

    def list_users(request: Request) -> Response:
        require_role(request, USER_READ_ROLES)
        users = list(tenant.table("users").values())
        text = request.query.get("$filter")
        if text:
            clauses = parse_user_filter(text)
            users = [
                user
                for user in users
                if any(
                    str(user.get(prop) or "").lower() == value.lower() for prop, value in clauses
                )
            ]
        select = request.query.get("$select")
        items = [_public(user, USER_DEFAULT_PROPERTIES, select) for user in users]
        return collection_response(
            request, items, context=f"{request.graph_url}/$metadata#users", default_top=100
        )

    def get_group(request: Request) -> Response:
        require_role(request, GROUP_READ_ROLES)
        key = request.params["group_id"]
        group = tenant.table("groups").get(key)
        if group is None:
            raise not_found(key)
        body = {"@odata.context": f"{request.graph_url}/$metadata#groups/$entity"}
        body.update(_public(group, GROUP_DEFAULT_PROPERTIES, request.query.get("$select")))
        return json_response(200, body)

    ctx.router.add("GET", "/users", list_users, returns="microsoft.graph.user", collection=True)
    ctx.router.add("GET", "/users/{user-id}", get_user, returns="microsoft.graph.user")
    ctx.router.add("GET", "/groups/{group-id}", get_group, returns="microsoft.graph.group")
