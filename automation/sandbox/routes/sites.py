"""Sandbox routes: SharePoint sites, lists, columns and list items (with delta).

Over 500 lines on purpose: one handler per served route of the SharePoint family, each
short; column rules live in :mod:`automation.sandbox.list_schema`, item views, filters and
delta tokens in :mod:`automation.sandbox.list_items`.

Served (Graph v1.0 shapes):

* ``GET /sites/{hostname}:/{server-relative-path}`` (a trailing ``:`` is accepted) and
  ``GET /sites/{site-id}``.
* ``GET|POST /sites/{site-id}/lists``; ``GET /sites/{site-id}/lists/{list-id}`` where the list
  is named by id, ``displayName`` or ``name``; ``GET|POST …/columns``, ``GET|PATCH
  …/columns/{column-id}``.
* ``GET|POST …/items`` (``$expand=fields``, ``expand=fields(select=A,B)``, ``$filter`` on
  ``fields/X`` with ``eq ne gt ge lt le and or``, ``$orderby=fields/X [desc]``, ``$select``,
  ``$top`` with ``@odata.nextLink``); ``GET|PATCH|DELETE …/items/{item-id}``; ``GET|PATCH
  …/items/{item-id}/fields``; ``GET …/items/delta``; ``GET …/items/{item-id}/versions`` and
  ``…/versions/{version-id}`` (newest first; ``$expand=fields`` gives each version's values).

Behaviour worth knowing:

* Filtering or ordering on a column that is not indexed answers 400 ``invalidRequest`` unless
  the request carries ``Prefer: HonorNonIndexedQueriesWarningMayFailRandomly``.
* Items carry eTags ``"{GUID},n"``; every change bumps ``n``. ``If-Match`` (or ``*``) is honoured
  on PATCH and DELETE; a stale one answers 412 with code ``resourceModified`` (a code from
  Graph's documented list; real SharePoint wording varies).
* A duplicate value in a column with ``enforceUniqueValues`` answers 500 ``generalException``
  with SharePoint's SPDuplicateValuesFoundException message (Graph's status is undocumented);
  ``duplicate_status: 409`` in the fault plan gives 409 instead. See docs/sandbox-rules.md.
* Hidden columns: their values are left out of ``fields`` unless ``$select`` names them, and
  their definitions out of ``GET …/columns`` unless ``$select`` names ``hidden``.
* A listItem's ``webUrl`` is ``…/Lists/<list>/<id>_.000``, as Graph returns it.
* Delta tokens are opaque; :func:`expire_delta_tokens` invalidates every token of a list, after
  which they answer 410 ``resyncRequired`` (innerError code ``resyncChangesApplyDifferences``)
  with a ``Location`` header holding a fresh delta URL.

Sandbox-only request header ``X-Sandbox-Acting-User: <user id or UPN>`` (on POST/PATCH of
items): the change is made *as that user*, as if edited in SharePoint — ``createdBy`` /
``lastModifiedBy`` become ``{"user": {"id", "displayName", "email"}}`` and
``AuthorLookupId``/``EditorLookupId`` the user's lookup id on the site. Without it a change is
the application's: ``{"application": {"id": <client id>, "displayName": null}}`` and lookup id
``1073741822`` (SharePoint's "SharePoint App" user).

App roles (:mod:`automation.sandbox.site_access`): reads need Sites.Read.All or higher, item
writes Sites.ReadWrite.All or higher, list and column writes Sites.Manage.All or higher; an app
with Sites.Selected reaches only the sites granted to it through ``POST
/sites/{id}/permissions`` (read / write / owner or fullcontrol for lists and columns).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    bind,
    collection_response,
    empty_response,
    json_response,
    new_guid,
    now_iso,
    select_fields,
)
from automation.sandbox.list_items import (
    check_if_match,
    check_indexed,
    comparable,
    encode_token,
    field_kind,
    field_name,
    fields_view,
    find_item,
    item_etag,
    item_predicate,
    item_versions,
    item_view,
    list_predicate,
    parse_expand,
    parse_expand_text,
    parse_list_filter,
    record_change,
    record_version,
    resolve_token,
    shape_item,
    version_view,
    visible_fields,
)
from automation.sandbox.list_schema import (
    DUPLICATE_MESSAGE,
    check_facet,
    check_unique_needs_index,
    column_facet,
    field_key,
    find_column,
    new_column,
    title_column,
    unique_form,
    validated_fields,
)
from automation.sandbox.odata import comparison_paths
from automation.sandbox.site_access import Access, require_access
from automation.sandbox.state import Tenant

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext

ACTING_USER_HEADER = "X-Sandbox-Acting-User"
APP_LOOKUP_ID = "1073741822"
FIRST_USER_LOOKUP_ID = 10

SITE_INTERNAL_KEYS = frozenset({"hostname", "path", "drive_id"})

LIST_CREATE_PROPERTIES = frozenset({"displayName", "name", "description", "columns", "list"})


# -- admin hooks -----------------------------------------------------------------------------
def expire_delta_tokens(tenant: Tenant, list_id: str) -> None:
    """Invalidate every delta token (and delta nextLink) issued so far for a list.

    Tests call this through ``sandbox.tenant``; the next call with an old token answers 410.
    """
    with tenant.lock:
        record = _lists(tenant).get(list_id)
        if record is None:
            raise KeyError(list_id)
        record["seq"] = int(record["seq"]) + 1
        record["min_seq"] = record["seq"]
        tenant.save()


# -- state -----------------------------------------------------------------------------------
def _store(tenant: Tenant) -> dict[str, Any]:
    store = tenant.table("sharepoint")
    store.setdefault("lists", {})
    store.setdefault("user_lookup", {})
    return store


def _lists(tenant: Tenant) -> dict[str, Any]:
    lists = _store(tenant)["lists"]
    assert isinstance(lists, dict)
    return lists


def _find_site(tenant: Tenant, site_id: str) -> dict[str, Any]:
    sites = tenant.table("sites")
    found = sites.get(site_id)
    if found is None:
        wanted = site_id.lower()
        found = next((s for key, s in sites.items() if key.lower() == wanted), None)
    if found is None:
        raise ApiError(404, "itemNotFound", "Requested site could not be found")
    assert isinstance(found, dict)
    return found


def _site_view(site: dict[str, Any]) -> dict[str, Any]:
    out = {
        key: value
        for key, value in site.items()
        if key not in SITE_INTERNAL_KEYS and not key.startswith("_")
    }
    if site.get("hostname"):
        out["siteCollection"] = {"hostname": site["hostname"]}
    return out


def _find_list(tenant: Tenant, site: dict[str, Any], list_ref: str) -> dict[str, Any]:
    lists = _lists(tenant)
    record = lists.get(list_ref) or lists.get(list_ref.lower())
    if record is None or record["site_id"] != site["id"]:
        wanted = list_ref.lower()
        record = next(
            (
                r
                for r in lists.values()
                if r["site_id"] == site["id"]
                and wanted in (r["resource"]["displayName"].lower(), r["resource"]["name"].lower())
            ),
            None,
        )
    if record is None:
        raise ApiError(404, "itemNotFound", "List not found")
    assert isinstance(record, dict)
    return record


def _list_etag(record: dict[str, Any]) -> str:
    return f'"{record["resource"]["id"]},{record["version"]}"'


def _list_view(record: dict[str, Any], *, with_columns: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": _list_etag(record)}
    out.update(record["resource"])
    out["eTag"] = _list_etag(record)
    if with_columns:
        out["columns"] = [dict(col) for col in record["columns"]]
    return out


def _actor(tenant: Tenant, request: Request, site_id: str) -> tuple[dict[str, Any], str]:
    """(identitySet, lookup id) of whoever makes this change."""
    acting = request.headers.get(ACTING_USER_HEADER)
    if not acting:
        return {"application": {"id": request.app_id, "displayName": None}}, APP_LOOKUP_ID
    wanted = str(acting).strip().lower()
    user = next(
        (
            u
            for u in tenant.table("users").values()
            if wanted
            in (
                str(u.get("id", "")).lower(),
                str(u.get("userPrincipalName", "")).lower(),
                str(u.get("mail", "")).lower(),
            )
        ),
        None,
    )
    if user is None:
        raise ApiError(400, "invalidRequest", f"Unknown acting user '{acting}'.")
    lookups = _store(tenant)["user_lookup"].setdefault(site_id, {})
    if user["id"] not in lookups:
        lookups[user["id"]] = str(FIRST_USER_LOOKUP_ID + len(lookups))
    identity = {
        "user": {
            "id": user["id"],
            "displayName": user.get("displayName"),
            "email": user.get("mail") or user.get("userPrincipalName"),
        }
    }
    return identity, str(lookups[user["id"]])


# -- columns ---------------------------------------------------------------------------------


# -- field values ----------------------------------------------------------------------------


# -- items -----------------------------------------------------------------------------------


# -- $filter / $orderby ----------------------------------------------------------------------


# -- delta tokens ----------------------------------------------------------------------------


def site_of(ctx: SandboxContext, request: Request, need: Access = Access.READ) -> dict[str, Any]:
    """The addressed site, if the app reaches it at level ``need`` (else 403)."""
    site = _find_site(ctx.tenant, request.params["site_id"])
    require_access(site, request, need)
    return site


def list_of(
    ctx: SandboxContext, request: Request, need: Access = Access.READ
) -> tuple[dict[str, Any], dict[str, Any]]:
    site = site_of(ctx, request, need)
    return site, _find_list(ctx.tenant, site, request.params["list_id"])


def list_url(request: Request, record: dict[str, Any]) -> str:
    return f"{request.graph_url}/sites/{record['site_id']}/lists/{record['resource']['id']}"


# sites ------------------------------------------------------------------------------
def site_by_path(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    hostname = request.params["hostname"].lower()
    path = request.params["site_path"].removesuffix(":")
    if ":" in path:
        raise ApiError(400, "invalidRequest", "The sandbox serves only the site itself by path.")
    path = "/" + path.strip("/")
    for site in tenant.table("sites").values():
        same_host = str(site.get("hostname", "")).lower() == hostname
        if same_host and str(site.get("path", "")).rstrip("/").lower() == path.lower():
            require_access(site, request, Access.READ)
            return json_response(200, _site_view(site))
    raise ApiError(404, "itemNotFound", "Requested site could not be found")


def site_by_id(ctx: SandboxContext, request: Request) -> Response:
    return json_response(200, _site_view(site_of(ctx, request)))


# lists ------------------------------------------------------------------------------
def get_lists(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    site = site_of(ctx, request)
    views = [_list_view(r) for r in _lists(tenant).values() if r["site_id"] == site["id"]]
    raw_filter = request.query.get("$filter", request.query.get("filter"))
    if raw_filter:
        predicate = list_predicate(parse_list_filter(raw_filter))
        views = [view for view in views if predicate(view)]
    select = request.query.get("$select", request.query.get("select"))
    return collection_response(request, [select_fields(v, select) for v in views])


def create_list(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    site = site_of(ctx, request, Access.MANAGE)
    body = request.json_object()
    for key in body:
        if key not in LIST_CREATE_PROPERTIES and not key.startswith("@"):
            raise ApiError(
                400,
                "invalidRequest",
                f"The property '{key}' does not exist on type 'microsoft.graph.list'.",
            )
    display = body.get("displayName")
    if not isinstance(display, str) or not display.strip():
        raise ApiError(400, "invalidRequest", "A list needs a 'displayName'.")
    siblings = [r for r in _lists(tenant).values() if r["site_id"] == site["id"]]
    if any(r["resource"]["displayName"].lower() == display.lower() for r in siblings):
        raise ApiError(
            409,
            "nameAlreadyExists",
            "A list, survey, discussion board, or document library with the specified "
            "title already exists in this Web site.  Please choose another title.",
        )
    info = body.get("list") or {}
    if not isinstance(info, dict):
        raise ApiError(400, "invalidRequest", "'list' must be an object.")
    template = str(info.get("template") or "genericList")
    if template != "genericList":
        raise ApiError(400, "notSupported", "The sandbox only creates 'genericList' lists.")
    columns: list[dict[str, Any]] = [title_column()]
    raw_columns = body.get("columns") or []
    if not isinstance(raw_columns, list):
        raise ApiError(400, "invalidRequest", "'columns' must be a list.")
    for raw in raw_columns:
        columns.append(new_column(raw, columns))
    actor, _lookup = _actor(tenant, request, site["id"])
    when = now_iso()
    list_id = new_guid()
    name = str(body.get("name") or display)
    resource = {
        "id": list_id,
        "createdDateTime": when,
        "description": str(body.get("description") or ""),
        "displayName": display,
        "lastModifiedDateTime": when,
        "name": name,
        "webUrl": f"{site['webUrl']}/Lists/{quote(name)}",
        "createdBy": actor,
        "lastModifiedBy": actor,
        "parentReference": {"siteId": site["id"]},
        "list": {
            "contentTypesEnabled": False,
            "hidden": bool(info.get("hidden", False)),
            "template": template,
        },
    }
    record = {
        "site_id": site["id"],
        "resource": resource,
        "version": 1,
        "columns": columns,
        "items": {},
        "next_id": 1,
        "content_type_id": "0x0100" + uuid.uuid4().hex.upper(),
        "seq": 0,
        "min_seq": 0,
        "changes": {},
    }
    _lists(tenant)[list_id] = record
    return json_response(201, _list_view(record))


def get_list(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    expand = request.query.get("$expand", request.query.get("expand", ""))
    view = _list_view(record, with_columns="columns" in expand)
    select = request.query.get("$select", request.query.get("select"))
    return json_response(200, select_fields(view, select) if select else view)


def delete_list(ctx: SandboxContext, request: Request) -> Response:
    """list-delete page: ``DELETE /sites/{site-id}/lists/{list-id}`` -> 204 (to the recycle bin).

    Managing lists is a Sites.Manage.All-level operation, as creating them is.
    """
    _site, record = list_of(ctx, request, Access.MANAGE)
    del _lists(ctx.tenant)[record["resource"]["id"]]
    return empty_response(204)


# columns ----------------------------------------------------------------------------
def get_columns(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    select = request.query.get("$select", request.query.get("select"))
    # columnDefinition page: hidden definitions are listed only when $select names "hidden".
    show_hidden = "hidden" in {part.strip() for part in (select or "").split(",")}
    columns = [
        select_fields(col, select)
        for col in record["columns"]
        if show_hidden or not col.get("hidden")
    ]
    return collection_response(request, columns)


def create_column(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request, Access.MANAGE)
    column = new_column(request.json_object(), record["columns"])
    record["columns"].append(column)
    record["version"] = int(record["version"]) + 1
    record["resource"]["lastModifiedDateTime"] = now_iso()
    return json_response(201, column)


def get_column(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    return json_response(200, find_column(record, request.params["column_id"]))


def update_column(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request, Access.MANAGE)
    column = find_column(record, request.params["column_id"])
    body = request.json_object()
    updated = dict(column)
    facet = column_facet(column)
    for key, value in body.items():
        if key.startswith("@"):
            continue
        if key in ("description", "displayName"):
            updated[key] = str(value or "")
        elif key in ("enforceUniqueValues", "hidden", "indexed", "required"):
            if not isinstance(value, bool):
                raise ApiError(400, "invalidRequest", f"'{key}' must be true or false.")
            updated[key] = value
        elif key == facet:
            check_facet(facet, value)
            updated[facet] = {**column[facet], **value}
        elif key in ("id", "name") and str(value) == str(column[key]):
            continue
        else:
            raise ApiError(400, "invalidRequest", f"The property '{key}' cannot be updated.")
    check_unique_needs_index(updated)
    if updated.get("enforceUniqueValues") and not column.get("enforceUniqueValues"):
        key = field_key(column)
        seen = [
            unique_form(item["fields"][key])
            for item in record["items"].values()
            if item["fields"].get(key) is not None
        ]
        if len(seen) != len(set(seen)):
            raise ApiError(400, "invalidRequest", DUPLICATE_MESSAGE)
    column.clear()
    column.update(updated)
    record["version"] = int(record["version"]) + 1
    return json_response(200, column)


# items ------------------------------------------------------------------------------
def list_items(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    expand, fields_select = parse_expand(request)
    items = sorted(record["items"].values(), key=lambda item: int(item["id"]))
    raw_filter = request.query.get("$filter", request.query.get("filter"))
    raw_order = request.query.get("$orderby", request.query.get("orderby"))
    order: list[tuple[str, bool]] = []
    if raw_order:
        for part in raw_order.split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
                raise ApiError(400, "invalidRequest", f"Invalid $orderby '{raw_order}'.")
            order.append((field_name(words[0]), len(words) == 2 and words[1] == "desc"))
    names: list[str] = []
    predicate: Callable[[dict[str, Any]], bool] | None = None
    if raw_filter:
        tree = parse_list_filter(raw_filter)
        names = [field_name(path) for path in comparison_paths(tree)]
        predicate = item_predicate(record, tree)
    check_indexed(request, record, names + [name for name, _desc in order])
    if predicate is not None:
        items = [item for item in items if predicate(fields_view(record, item))]
    for name, descending in reversed(order):
        kind, _indexed = field_kind(record, name)

        def sort_key(item: dict[str, Any], name: str = name, kind: str = kind) -> Any:
            value = comparable(kind, fields_view(record, item).get(name), literal=False)
            return (value is not None, value if value is not None else 0)

        items.sort(key=sort_key, reverse=descending)
    select = request.query.get("$select", request.query.get("select"))
    shaped = [
        shape_item(record, item, expand=expand, fields_select=fields_select, select=select)
        for item in items
    ]
    return collection_response(request, shaped)


def create_item(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    site, record = list_of(ctx, request, Access.WRITE)
    body = request.json_object()
    for key in body:
        if key not in ("fields", "contentType") and not key.startswith("@"):
            raise ApiError(
                400,
                "invalidRequest",
                f"The property '{key}' does not exist on type 'microsoft.graph.listItem'.",
            )
    changes = validated_fields(
        record, body.get("fields", {}), item_id=None, duplicate_status=_duplicate_status(ctx)
    )
    actor, lookup = _actor(tenant, request, site["id"])
    item_id = str(record["next_id"])
    record["next_id"] = int(record["next_id"]) + 1
    when = now_iso()
    item = {
        "id": item_id,
        "guid": str(uuid.uuid4()).upper(),
        "version": 1,
        "created": when,
        "modified": when,
        "createdBy": actor,
        "lastModifiedBy": actor,
        "author": lookup,
        "editor": lookup,
        "fields": {key: value for key, value in changes.items() if value is not None},
    }
    record["items"][item_id] = item
    record_version(item)
    record_change(record, item_id, when)
    view = item_view(record, item)
    view["fields"] = visible_fields(record, item, None)
    return json_response(201, view, {"ETag": item_etag(item)})


def _duplicate_status(ctx: SandboxContext) -> int:
    return ctx.faults.plan.duplicate_status


def get_item(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    item = find_item(record, request.params["item_id"])
    expand, fields_select = parse_expand(request)
    select = request.query.get("$select", request.query.get("select"))
    view = shape_item(record, item, expand=expand, fields_select=fields_select, select=select)
    return json_response(200, view, {"ETag": item_etag(item)})


def list_versions(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    item = find_item(record, request.params["item_id"])
    expand, fields_select = parse_expand(request)
    views = [
        version_view(record, item, version, expand=expand, fields_select=fields_select)
        for version in item_versions(item)
    ]
    return collection_response(request, views)


def get_version(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    item = find_item(record, request.params["item_id"])
    expand, fields_select = parse_expand(request)
    wanted = request.params["version_id"]
    for version in item_versions(item):
        if f"{version['version']}.0" == wanted:
            view = version_view(record, item, version, expand=expand, fields_select=fields_select)
            return json_response(200, view)
    raise ApiError(404, "itemNotFound", "The version could not be found.")


def get_item_fields(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    item = find_item(record, request.params["item_id"])
    select = request.query.get("$select", request.query.get("select"))
    view = visible_fields(record, item, select)
    return json_response(200, view, {"ETag": item_etag(item)})


def apply_update(
    ctx: SandboxContext, request: Request, values: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    tenant = ctx.tenant
    site, record = list_of(ctx, request, Access.WRITE)
    item = find_item(record, request.params["item_id"])
    check_if_match(request, item)
    changes = validated_fields(
        record, values, item_id=item["id"], duplicate_status=_duplicate_status(ctx)
    )
    actor, lookup = _actor(tenant, request, site["id"])
    when = now_iso()
    for key, value in changes.items():
        if value is None:
            item["fields"].pop(key, None)
        else:
            item["fields"][key] = value
    item["version"] = int(item["version"]) + 1
    item["modified"] = when
    item["lastModifiedBy"] = actor
    item["editor"] = lookup
    record_version(item)
    record_change(record, item["id"], when)
    return record, item


def update_item_fields(ctx: SandboxContext, request: Request) -> Response:
    record, item = apply_update(ctx, request, request.json_object())
    return json_response(200, visible_fields(record, item, None), {"ETag": item_etag(item)})


def update_item(ctx: SandboxContext, request: Request) -> Response:
    body = request.json_object()
    for key in body:
        if key != "fields" and not key.startswith("@"):
            raise ApiError(
                400, "invalidRequest", f"The listItem property '{key}' cannot be updated."
            )
    record, item = apply_update(ctx, request, body.get("fields", {}))
    view = item_view(record, item)
    view["fields"] = visible_fields(record, item, None)
    return json_response(200, view, {"ETag": item_etag(item)})


def delete_item(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request, Access.WRITE)
    item = find_item(record, request.params["item_id"])
    check_if_match(request, item)
    del record["items"][item["id"]]
    record_change(record, item["id"], now_iso())
    return empty_response(204)


# delta ------------------------------------------------------------------------------
def delta(ctx: SandboxContext, request: Request) -> Response:
    _site, record = list_of(ctx, request)
    list_id = record["resource"]["id"]
    base = f"{list_url(request, record)}/items/delta"
    token = request.query.get("token")
    state = (
        {"l": list_id, "m": "full", "f": 0, "t": int(record["seq"]), "a": 0, "o": {}}
        if token is None or token == "latest"
        else resolve_token(record, token, base)
    )
    options: dict[str, Any] = state["o"]
    expand_raw = request.query.get("$expand", request.query.get("expand"))
    if expand_raw is None:
        expand_raw = str(options.get("expand") or "")
    select = request.query.get("$select", request.query.get("select", options.get("select")))
    try:
        top = max(1, min(int(request.query.get("$top", options.get("top", 200))), 5000))
    except ValueError as exc:
        raise ApiError(400, "invalidRequest", "Invalid $top value.") from exc
    expand, fields_select = parse_expand_text(expand_raw)
    opts = {"expand": expand_raw, "select": select, "top": top}
    if token == "latest":
        link = {"l": list_id, "m": "link", "t": int(record["seq"]), "o": opts}
        return json_response(
            200, {"value": [], "@odata.deltaLink": f"{base}?token={encode_token(link)}"}
        )
    if state["m"] == "full":
        candidates = sorted(int(item_id) for item_id in record["items"])
    else:
        since = int(state["f"])
        candidates = sorted(
            int(item_id) for item_id, seq in record["changes"].items() if int(seq) > since
        )
    remaining = [item_id for item_id in candidates if item_id > int(state["a"])]
    chunk = remaining[:top]
    values: list[dict[str, Any]] = []
    for numeric_id in chunk:
        item = record["items"].get(str(numeric_id))
        if item is None:
            values.append(
                {
                    "id": str(numeric_id),
                    "parentReference": {"siteId": record["site_id"]},
                    "deleted": {"state": "deleted"},
                }
            )
            continue
        values.append(
            shape_item(record, item, expand=expand, fields_select=fields_select, select=select)
        )
    payload: dict[str, Any] = {"value": values}
    if len(remaining) > len(chunk):
        next_state = {**state, "a": chunk[-1], "o": opts}
        payload["@odata.nextLink"] = f"{base}?token={encode_token(next_state)}"
    else:
        link = {"l": list_id, "m": "link", "t": int(state["t"]), "o": opts}
        payload["@odata.deltaLink"] = f"{base}?token={encode_token(link)}"
    return json_response(200, payload)


# -- route handlers --------------------------------------------------------------------------
def register(ctx: SandboxContext) -> None:
    """Register the site, list, column and list item routes."""
    add = ctx.router.add
    base = "/sites/{site-id}/lists/{list-id}"
    item = f"{base}/items/{{item-id}}"
    add(
        "GET",
        "/sites/{hostname}:{site-path:path}",
        bind(site_by_path, ctx),
        returns="microsoft.graph.site",
    )
    add("GET", "/sites/{site-id}", bind(site_by_id, ctx), returns="microsoft.graph.site")
    add(
        "GET",
        "/sites/{site-id}/lists",
        bind(get_lists, ctx),
        returns="microsoft.graph.list",
        collection=True,
    )
    add("POST", "/sites/{site-id}/lists", bind(create_list, ctx), returns="microsoft.graph.list")
    add("GET", base, bind(get_list, ctx), returns="microsoft.graph.list")
    add("DELETE", base, bind(delete_list, ctx))
    col = "microsoft.graph.columnDefinition"
    add("GET", f"{base}/columns", bind(get_columns, ctx), returns=col, collection=True)
    add("POST", f"{base}/columns", bind(create_column, ctx), returns=col)
    add("GET", f"{base}/columns/{{column-id}}", bind(get_column, ctx), returns=col)
    add("PATCH", f"{base}/columns/{{column-id}}", bind(update_column, ctx), returns=col)
    li = "microsoft.graph.listItem"
    add("GET", f"{base}/items/delta", bind(delta, ctx), returns=li, collection=True)
    add("GET", f"{base}/items/delta()", bind(delta, ctx), returns=li, collection=True)
    add("GET", f"{base}/items", bind(list_items, ctx), returns=li, collection=True)
    add("POST", f"{base}/items", bind(create_item, ctx), returns=li)
    fvs = "microsoft.graph.fieldValueSet"
    add("GET", f"{item}/fields", bind(get_item_fields, ctx), returns=fvs)
    add("PATCH", f"{item}/fields", bind(update_item_fields, ctx), returns=fvs)
    add("GET", item, bind(get_item, ctx), returns=li)
    add("PATCH", item, bind(update_item, ctx), returns=li)
    add("DELETE", item, bind(delete_item, ctx))
    liv = "microsoft.graph.listItemVersion"
    add("GET", f"{item}/versions", bind(list_versions, ctx), returns=liv, collection=True)
    add("GET", f"{item}/versions/{{version-id}}", bind(get_version, ctx), returns=liv)
