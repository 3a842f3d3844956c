"""Sandbox routes: SharePoint sites, lists, columns and list items (with delta).

Served (Graph v1.0 shapes):

* ``GET /sites/{hostname}:/{server-relative-path}`` (a trailing ``:`` is accepted) and
  ``GET /sites/{site-id}``.
* ``GET|POST /sites/{site-id}/lists``; ``GET /sites/{site-id}/lists/{list-id}`` where the list
  is named by id, ``displayName`` or ``name``; ``GET|POST …/columns``, ``GET|PATCH
  …/columns/{column-id}``.
* ``GET|POST …/items`` (``$expand=fields``, ``expand=fields(select=A,B)``, ``$filter`` on
  ``fields/X`` with ``eq ne gt ge lt le and or``, ``$orderby=fields/X [desc]``, ``$select``,
  ``$top`` with ``@odata.nextLink``); ``GET|PATCH|DELETE …/items/{item-id}``; ``GET|PATCH
  …/items/{item-id}/fields``; ``GET …/items/delta``.

Behaviour worth knowing:

* Filtering or ordering on a column that is not indexed answers 400 ``invalidRequest`` unless
  the request carries ``Prefer: HonorNonIndexedQueriesWarningMayFailRandomly``.
* Items carry eTags ``"{GUID},n"``; every change bumps ``n``. ``If-Match`` (or ``*``) is honoured
  on PATCH and DELETE; a stale one answers 412 with code ``resourceModified`` (a code from
  Graph's documented list; real SharePoint wording varies).
* A duplicate value in a column with ``enforceUniqueValues`` answers 409 ``invalidRequest``
  with SharePoint's "duplicate values were found" message, on create and on update.
* Delta tokens are opaque; :func:`expire_delta_tokens` invalidates every token of a list, after
  which they answer 410 ``resyncRequired`` (innerError code ``resyncChangesApplyDifferences``)
  with a ``Location`` header holding a fresh delta URL.

Sandbox-only request header ``X-Sandbox-Acting-User: <user id or UPN>`` (on POST/PATCH of
items): the change is made *as that user*, as if edited in SharePoint — ``createdBy`` /
``lastModifiedBy`` become ``{"user": {"id", "displayName", "email"}}`` and
``AuthorLookupId``/``EditorLookupId`` the user's lookup id on the site. Without it a change is
the application's: ``{"application": {"id": <client id>, "displayName": null}}`` and lookup id
``1073741822`` (SharePoint's "SharePoint App" user).

App roles: reads need one of the Sites.* roles; item writes need Sites.ReadWrite.All,
Sites.Manage.All, Sites.FullControl.All or Sites.Selected; list and column writes need
Sites.Manage.All, Sites.FullControl.All or Sites.Selected (Sites.Selected is treated as granted
on every site: the sandbox does not model per-site grants here).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    collection_response,
    empty_response,
    json_response,
    new_guid,
    now_iso,
    select_fields,
)
from automation.sandbox.state import Tenant

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext

ACTING_USER_HEADER = "X-Sandbox-Acting-User"
HONOR_NON_INDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"
APP_LOOKUP_ID = "1073741822"
FIRST_USER_LOOKUP_ID = 10
TITLE_FIELD_ID = "fa564e0f-0c70-4ab9-b863-0177e6ddd247"

READ_ROLES = frozenset(
    {
        "Sites.Read.All",
        "Sites.ReadWrite.All",
        "Sites.Manage.All",
        "Sites.FullControl.All",
        "Sites.Selected",
    }
)
WRITE_ROLES = frozenset(
    {"Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All", "Sites.Selected"}
)
MANAGE_ROLES = frozenset({"Sites.Manage.All", "Sites.FullControl.All", "Sites.Selected"})

SITE_INTERNAL_KEYS = frozenset({"hostname", "path", "drive_id"})

TYPE_FACETS = (
    "boolean",
    "calculated",
    "choice",
    "contentApprovalStatus",
    "currency",
    "dateTime",
    "geolocation",
    "hyperlinkOrPicture",
    "lookup",
    "number",
    "personOrGroup",
    "term",
    "text",
    "thumbnail",
)
SUPPORTED_FACETS = frozenset(
    {"boolean", "choice", "currency", "dateTime", "hyperlinkOrPicture", "number", "personOrGroup"}
    | {"text"}
)
COLUMN_PROPERTIES = frozenset(
    {
        "id",
        "columnGroup",
        "defaultValue",
        "description",
        "displayName",
        "enforceUniqueValues",
        "hidden",
        "indexed",
        "isDeletable",
        "isReorderable",
        "isSealed",
        "name",
        "propagateChanges",
        "readOnly",
        "required",
        "sourceContentType",
        "type",
        "validation",
    }
    | set(TYPE_FACETS)
)
LIST_CREATE_PROPERTIES = frozenset({"displayName", "name", "description", "columns", "list"})
FACET_DEFAULTS: dict[str, dict[str, Any]] = {
    "text": {
        "allowMultipleLines": False,
        "appendChangesToExistingText": False,
        "linesForEditing": 0,
        "maxLength": 255,
    },
    "number": {"decimalPlaces": "automatic", "displayAs": "number"},
    "currency": {"locale": "en-GB"},
    "dateTime": {"displayAs": "default", "format": "dateTime"},
    "choice": {"allowTextEntry": False, "choices": [], "displayAs": "dropDownMenu"},
    "boolean": {},
    "hyperlinkOrPicture": {"isPicture": False},
    "personOrGroup": {
        "allowMultipleSelection": False,
        "chooseFromType": "peopleOnly",
        "displayAs": "nameWithPresence",
    },
}
FACET_PROPERTIES: dict[str, frozenset[str]] = {
    "text": frozenset(
        {"allowMultipleLines", "appendChangesToExistingText", "linesForEditing", "maxLength"}
        | {"textType"}
    ),
    "number": frozenset({"decimalPlaces", "displayAs", "maximum", "minimum"}),
    "currency": frozenset({"locale"}),
    "dateTime": frozenset({"displayAs", "format"}),
    "choice": frozenset({"allowTextEntry", "choices", "displayAs"}),
    "boolean": frozenset(),
    "hyperlinkOrPicture": frozenset({"isPicture"}),
    "personOrGroup": frozenset({"allowMultipleSelection", "chooseFromType", "displayAs"}),
}
# Built-in item fields: not writable; "indexed" says whether $filter may use them freely.
BUILTIN_FIELDS: dict[str, tuple[str, bool]] = {
    "id": ("id", True),
    "ID": ("id", True),
    "Created": ("dateTime", False),
    "Modified": ("dateTime", False),
    "AuthorLookupId": ("lookupId", False),
    "EditorLookupId": ("lookupId", False),
    "ContentType": ("text", False),
}
READ_ONLY_FIELDS = frozenset(
    set(BUILTIN_FIELDS)
    | {
        "_UIVersionString",
        "Attachments",
        "Edit",
        "LinkTitle",
        "LinkTitleNoMenu",
        "ItemChildCount",
        "FolderChildCount",
    }
)
DUPLICATE_MESSAGE = (
    "The list item could not be added or updated because duplicate values were found in one "
    "or more fields in the list."
)


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


def _require_role(request: Request, allowed: frozenset[str]) -> None:
    if not allowed.intersection(request.roles):
        raise ApiError(403, "accessDenied", "Access denied")


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
def _field_key(column: dict[str, Any]) -> str:
    """The key of a column's value in ``fields``."""
    name = str(column["name"])
    return f"{name}LookupId" if "personOrGroup" in column else name


def _facet(column: dict[str, Any]) -> str:
    return next(facet for facet in TYPE_FACETS if facet in column)


def _check_facet(facet: str, settings: Any) -> None:
    if not isinstance(settings, dict):
        raise ApiError(400, "invalidRequest", f"The '{facet}' facet must be an object.")
    for key in settings:
        if key not in FACET_PROPERTIES.get(facet, frozenset()):
            raise ApiError(
                400,
                "invalidRequest",
                f"The property '{key}' does not exist on type 'microsoft.graph.{facet}Column'.",
            )


def _new_column(body: Any, existing: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalidRequest", "A columnDefinition object was expected.")
    for key in body:
        if key not in COLUMN_PROPERTIES and not key.startswith("@"):
            raise ApiError(
                400,
                "invalidRequest",
                f"The property '{key}' does not exist on type 'microsoft.graph.columnDefinition'. "
                "Make sure to only use property names that are defined by the type.",
            )
    name = body.get("name") or re.sub(r"[^A-Za-z0-9_]", "", str(body.get("displayName") or ""))
    if not isinstance(name, str) or not name:
        raise ApiError(400, "invalidRequest", "A column needs a 'name'.")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ApiError(400, "invalidRequest", f"Invalid column name '{name}'.")
    facets = [facet for facet in TYPE_FACETS if facet in body]
    if len(facets) != 1:
        raise ApiError(
            400,
            "invalidRequest",
            f"Column '{name}' must have exactly one type facet (text, number, dateTime, ...).",
        )
    facet = facets[0]
    if facet not in SUPPORTED_FACETS:
        raise ApiError(400, "notSupported", f"The sandbox does not support '{facet}' columns.")
    settings = body[facet]
    _check_facet(facet, settings)
    taken = {str(col["name"]).lower() for col in existing} | {k.lower() for k in READ_ONLY_FIELDS}
    if name.lower() in taken:
        raise ApiError(409, "nameAlreadyExists", f'A duplicate field name "{name}" was found.')
    column: dict[str, Any] = {
        "columnGroup": "Custom Columns",
        "description": "",
        "displayName": name,
        "enforceUniqueValues": False,
        "hidden": False,
        "id": new_guid(),
        "indexed": False,
        "name": name,
        "readOnly": False,
        "required": False,
    }
    for key in ("description", "displayName", "enforceUniqueValues", "hidden", "indexed"):
        if key in body and body[key] is not None:
            column[key] = body[key]
    column["required"] = bool(body.get("required", False))
    for flag in ("enforceUniqueValues", "hidden", "indexed", "required"):
        if not isinstance(column[flag], bool):
            raise ApiError(400, "invalidRequest", f"'{flag}' must be true or false.")
    merged = dict(FACET_DEFAULTS.get(facet, {}))
    merged.update(settings)
    if facet == "choice" and not (
        isinstance(merged.get("choices"), list)
        and all(isinstance(choice, str) for choice in merged["choices"])
    ):
        raise ApiError(400, "invalidRequest", "'choices' must be a list of strings.")
    column[facet] = merged
    _check_unique_needs_index(column)
    return column


def _check_unique_needs_index(column: dict[str, Any]) -> None:
    if column.get("enforceUniqueValues") and not column.get("indexed"):
        raise ApiError(
            400,
            "invalidRequest",
            f"Column '{column['name']}': this field must be indexed to enforce unique values.",
        )


def _title_column() -> dict[str, Any]:
    return {
        "columnGroup": "Custom Columns",
        "description": "",
        "displayName": "Title",
        "enforceUniqueValues": False,
        "hidden": False,
        "id": TITLE_FIELD_ID,
        "indexed": False,
        "name": "Title",
        "readOnly": False,
        "required": True,
        "text": dict(FACET_DEFAULTS["text"]),
    }


def _find_column(record: dict[str, Any], ref: str) -> dict[str, Any]:
    wanted = ref.lower()
    for column in record["columns"]:
        if wanted in (str(column["id"]).lower(), str(column["name"]).lower()):
            assert isinstance(column, dict)
            return column
    raise ApiError(404, "itemNotFound", f"Column '{ref}' does not exist.")


# -- field values ----------------------------------------------------------------------------
def normalise_datetime(text: str) -> str:
    """An ISO date or date-time as SharePoint returns it: UTC ``YYYY-MM-DDTHH:MM:SSZ``.

    A value without an offset is taken as UTC; a bare date as midnight UTC.
    """
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            parsed = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a date") from exc
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bad_value(key: str, why: str) -> ApiError:
    return ApiError(400, "invalidRequest", f"Field '{key}' has an invalid value: {why}.")


def _coerce(column: dict[str, Any], key: str, value: Any) -> Any:
    """A written value checked against the column's type; ``None`` clears the field."""
    if value is None:
        return None
    facet = _facet(column)
    settings = column[facet]
    if facet == "text":
        if not isinstance(value, str):
            raise _bad_value(key, "a string is expected")
        if not settings.get("allowMultipleLines") and len(value) > int(
            settings.get("maxLength") or 255
        ):
            raise _bad_value(key, f"longer than {settings.get('maxLength') or 255} characters")
        return value
    if facet in ("number", "currency"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad_value(key, "a number is expected")
        low, high = settings.get("minimum"), settings.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise _bad_value(key, f"outside {low}..{high}")
        return value
    if facet == "boolean":
        if not isinstance(value, bool):
            raise _bad_value(key, "true or false is expected")
        return value
    if facet == "dateTime":
        if not isinstance(value, str):
            raise _bad_value(key, "an ISO 8601 date string is expected")
        try:
            return normalise_datetime(value)
        except ValueError as exc:
            raise _bad_value(key, str(exc)) from exc
    if facet == "choice":
        if not isinstance(value, str):
            raise _bad_value(key, "a string is expected")
        if not settings.get("allowTextEntry") and value not in settings.get("choices", []):
            raise _bad_value(key, f"'{value}' is not one of the column's choices")
        return value
    if facet == "personOrGroup":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _bad_value(key, "a lookup id is expected")
        if not str(value).isdigit():
            raise _bad_value(key, "a lookup id is expected")
        return str(value)
    if facet == "hyperlinkOrPicture":
        if not isinstance(value, dict) or not isinstance(value.get("Url"), str):
            raise _bad_value(key, "an object with 'Url' is expected")
        return {"Description": value.get("Description") or value["Url"], "Url": value["Url"]}
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unique_form(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _validated_fields(
    record: dict[str, Any], values: Any, *, item_id: str | None
) -> dict[str, Any]:
    """The changes ``values`` asks for, checked; ``item_id`` is None when creating."""
    if not isinstance(values, dict):
        raise ApiError(400, "invalidRequest", "'fields' must be an object.")
    by_key = {_field_key(col): col for col in record["columns"]}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key.startswith("@odata."):
            continue
        if key in READ_ONLY_FIELDS:
            raise ApiError(400, "invalidRequest", f"Field '{key}' is read-only.")
        column = by_key.get(key)
        if column is None:
            raise ApiError(400, "invalidRequest", f"Field '{key}' is not recognized")
        if column.get("readOnly"):
            raise ApiError(400, "invalidRequest", f"Field '{key}' is read-only.")
        changes[key] = _coerce(column, key, value)
    current = {} if item_id is None else dict(record["items"][item_id]["fields"])
    merged = {**current, **changes}
    for column in record["columns"]:
        key = _field_key(column)
        needs_check = item_id is None or key in changes
        if column.get("required") and needs_check and _empty(merged.get(key)):
            raise ApiError(400, "invalidRequest", f"Field '{key}' is required.")
    for column in record["columns"]:
        key = _field_key(column)
        if not column.get("enforceUniqueValues") or key not in changes:
            continue
        if changes[key] is None:
            continue
        mine = _unique_form(changes[key])
        for other_id, other in record["items"].items():
            theirs = other["fields"].get(key)
            if other_id != item_id and theirs is not None and _unique_form(theirs) == mine:
                raise ApiError(409, "invalidRequest", DUPLICATE_MESSAGE)
    return changes


# -- items -----------------------------------------------------------------------------------
def _item_etag(item: dict[str, Any]) -> str:
    return f'"{{{item["guid"]}}},{item["version"]}"'


def _fields_view(record: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": _item_etag(item)}
    stored = item["fields"]
    for column in record["columns"]:
        key = _field_key(column)
        if stored.get(key) is not None:
            out[key] = stored[key]
    title = stored.get("Title")
    out.update(
        {
            "id": item["id"],
            "ContentType": "Item",
            "Modified": item["modified"],
            "Created": item["created"],
            "AuthorLookupId": item["author"],
            "EditorLookupId": item["editor"],
            "_UIVersionString": f"{item['version']}.0",
            "Attachments": False,
            "Edit": "",
            "ItemChildCount": "0",
            "FolderChildCount": "0",
        }
    )
    if title is not None:
        out["LinkTitleNoMenu"] = title
        out["LinkTitle"] = title
    return out


def _item_view(record: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    resource = record["resource"]
    return {
        "@odata.etag": _item_etag(item),
        "createdDateTime": item["created"],
        "eTag": _item_etag(item),
        "id": item["id"],
        "lastModifiedDateTime": item["modified"],
        "webUrl": f"{resource['webUrl']}/DispForm.aspx?ID={item['id']}",
        "createdBy": item["createdBy"],
        "lastModifiedBy": item["lastModifiedBy"],
        "parentReference": {"id": resource["id"], "siteId": record["site_id"]},
        "contentType": {"id": record["content_type_id"], "name": "Item"},
    }


def _parse_expand(request: Request) -> tuple[bool, str | None]:
    """(expand fields?, fields select) from ``$expand``/``expand``."""
    return _parse_expand_text(request.query.get("$expand", request.query.get("expand", "")))


def _parse_expand_text(text: str) -> tuple[bool, str | None]:
    raw = text.strip()
    if not raw:
        return False, None
    match = re.fullmatch(r"fields(?:\(\s*\$?select\s*=\s*([^)]*)\))?", raw)
    if not match:
        raise ApiError(400, "invalidRequest", f"Unsupported $expand '{raw}'.")
    return True, match.group(1)


def _shape_item(
    record: dict[str, Any],
    item: dict[str, Any],
    *,
    expand: bool,
    fields_select: str | None,
    select: str | None,
) -> dict[str, Any]:
    view = select_fields(_item_view(record, item), select)
    if expand:
        view["fields"] = select_fields(_fields_view(record, item), fields_select)
    return view


def _get_item(record: dict[str, Any], item_id: str) -> dict[str, Any]:
    item = record["items"].get(item_id)
    if item is None:
        raise ApiError(404, "itemNotFound", "The specified list item was not found.")
    assert isinstance(item, dict)
    return item


def _check_if_match(request: Request, item: dict[str, Any]) -> None:
    wanted = request.headers.get("if-match")
    if wanted is None:
        return
    given = str(wanted).strip()
    if given == "*":
        return
    current = _item_etag(item)
    if given.removeprefix("W/") in (current, current.strip('"')):
        return
    raise ApiError(
        412,
        "resourceModified",
        "The request ETag value does not match the object's ETag value.",
    )


def _record_change(record: dict[str, Any], item_id: str, when: str) -> None:
    record["seq"] = int(record["seq"]) + 1
    record["changes"][item_id] = record["seq"]
    record["resource"]["lastModifiedDateTime"] = when


# -- $filter / $orderby ----------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<paren>[()])|(?P<word>[^\s()']+))")
_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})

Node = tuple[Any, ...]


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ApiError(400, "invalidRequest", "Invalid filter clause")
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return [token for token in tokens if token]


class _FilterParser:
    """``a eq 'x' and (b gt 3 or c ne null)`` into a small tree."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self) -> Node:
        node = self._or()
        if self.pos != len(self.tokens):
            raise ApiError(400, "invalidRequest", "Invalid filter clause")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ApiError(400, "invalidRequest", "Invalid filter clause")
        self.pos += 1
        return token

    def _or(self) -> Node:
        parts = [self._and()]
        while (self._peek() or "").lower() == "or":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def _and(self) -> Node:
        parts = [self._term()]
        while (self._peek() or "").lower() == "and":
            self.pos += 1
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def _term(self) -> Node:
        if self._peek() == "(":
            self.pos += 1
            node = self._or()
            if self._take() != ")":
                raise ApiError(400, "invalidRequest", "Invalid filter clause")
            return node
        path = self._take()
        op = self._take().lower()
        if op not in _OPS:
            raise ApiError(400, "invalidRequest", f"Unsupported filter operator '{op}'.")
        return ("cmp", path, op, _literal(self._take()))


def _literal(token: str) -> tuple[str, Any]:
    if token.startswith("'"):
        return "str", token[1:-1].replace("''", "'")
    lowered = token.lower()
    if lowered in ("true", "false"):
        return "bool", lowered == "true"
    if lowered == "null":
        return "null", None
    try:
        return "num", float(token) if re.search(r"[.eE]", token) else int(token)
    except ValueError:
        return "raw", token


def _paths(node: Node) -> list[str]:
    if node[0] == "cmp":
        return [str(node[1])]
    return [path for child in node[1] for path in _paths(child)]


def _field_name(path: str) -> str:
    if not path.startswith("fields/") or len(path) <= len("fields/"):
        raise ApiError(
            400, "invalidRequest", f"Only 'fields/<name>' can be filtered or ordered on: '{path}'."
        )
    return path[len("fields/") :]


def _field_kind(record: dict[str, Any], name: str) -> tuple[str, bool]:
    """(value kind, indexed) of a field named in $filter/$orderby."""
    if name in BUILTIN_FIELDS:
        return BUILTIN_FIELDS[name]
    for column in record["columns"]:
        if _field_key(column) == name:
            facet = _facet(column)
            kind = {"currency": "number", "personOrGroup": "lookupId"}.get(facet, facet)
            return kind, bool(column.get("indexed"))
    raise ApiError(400, "invalidRequest", f"Field '{name}' is not recognized")


def _check_indexed(request: Request, record: dict[str, Any], names: list[str]) -> None:
    honour = HONOR_NON_INDEXED.lower() in str(request.headers.get("prefer", "")).lower()
    for name in names:
        _kind, indexed = _field_kind(record, name)
        if not indexed and not honour:
            raise ApiError(
                400,
                "invalidRequest",
                f"Field '{name}' cannot be referenced in filter or orderby as it is not indexed. "
                f"Provide the 'Prefer: {HONOR_NON_INDEXED}' header to allow this, but be warned "
                "that such queries may fail on large lists.",
            )


def _comparable(kind: str, value: Any, *, literal: bool) -> Any:
    """A value of ``kind`` in a form that compares correctly; 400 for a literal of a wrong type."""
    if value is None:
        return None
    try:
        if kind in ("text", "choice"):
            if isinstance(value, str):
                return value.lower()
            raise ValueError("a quoted string is expected")
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("a number is expected")
            return float(value)
        if kind in ("id", "lookupId"):
            return int(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if value in (0, 1):
                return bool(value)
            raise ValueError("true or false is expected")
        if kind == "dateTime":
            if not isinstance(value, str):
                raise ValueError("a date is expected")
            return normalise_datetime(value)
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        if literal:
            raise ApiError(400, "invalidRequest", f"Invalid filter value: {exc}") from exc
        return None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if expected is None or actual is None:
        if op == "eq":
            return actual is None and expected is None
        if op == "ne":
            return (actual is None) != (expected is None)
        return False
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    try:
        if op == "gt":
            return bool(actual > expected)
        if op == "ge":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


def _item_predicate(record: dict[str, Any], node: Node) -> Callable[[dict[str, Any]], bool]:
    if node[0] in ("and", "or"):
        children = [_item_predicate(record, child) for child in node[1]]
        if node[0] == "and":
            return lambda fields: all(child(fields) for child in children)
        return lambda fields: any(child(fields) for child in children)
    _, path, op, (_literal_kind, raw_value) = node
    name = _field_name(str(path))
    kind, _indexed = _field_kind(record, name)
    expected = _comparable(kind, raw_value, literal=True)

    def matches(fields: dict[str, Any]) -> bool:
        return _compare(_comparable(kind, fields.get(name), literal=False), op, expected)

    return matches


def _list_predicate(node: Node) -> Callable[[dict[str, Any]], bool]:
    if node[0] in ("and", "or"):
        children = [_list_predicate(child) for child in node[1]]
        if node[0] == "and":
            return lambda view: all(child(view) for child in children)
        return lambda view: any(child(view) for child in children)
    _, path, op, (_kind, raw_value) = node
    if path not in ("displayName", "name", "id", "list/template", "list/hidden"):
        raise ApiError(400, "invalidRequest", f"Filtering lists on '{path}' is not supported.")
    expected = raw_value.lower() if isinstance(raw_value, str) else raw_value

    def matches(view: dict[str, Any]) -> bool:
        value: Any = view
        for part in str(path).split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.lower()
        return _compare(value, op, expected)

    return matches


# -- delta tokens ----------------------------------------------------------------------------
def _encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


# -- route handlers --------------------------------------------------------------------------
def register(ctx: SandboxContext) -> None:
    """Register the site, list, column and list item routes."""
    tenant = ctx.tenant
    add = ctx.router.add

    def site_of(request: Request) -> dict[str, Any]:
        _require_role(request, READ_ROLES)
        return _find_site(tenant, request.params["site_id"])

    def list_of(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        site = site_of(request)
        return site, _find_list(tenant, site, request.params["list_id"])

    def list_url(request: Request, record: dict[str, Any]) -> str:
        return f"{request.graph_url}/sites/{record['site_id']}/lists/{record['resource']['id']}"

    # sites ------------------------------------------------------------------------------
    def site_by_path(request: Request) -> Response:
        _require_role(request, READ_ROLES)
        hostname = request.params["hostname"].lower()
        path = request.params["site_path"].removesuffix(":")
        if ":" in path:
            raise ApiError(
                400, "invalidRequest", "The sandbox serves only the site itself by path."
            )
        path = "/" + path.strip("/")
        for site in tenant.table("sites").values():
            same_host = str(site.get("hostname", "")).lower() == hostname
            if same_host and str(site.get("path", "")).rstrip("/").lower() == path.lower():
                return json_response(200, _site_view(site))
        raise ApiError(404, "itemNotFound", "Requested site could not be found")

    def site_by_id(request: Request) -> Response:
        return json_response(200, _site_view(site_of(request)))

    # lists ------------------------------------------------------------------------------
    def get_lists(request: Request) -> Response:
        site = site_of(request)
        views = [_list_view(r) for r in _lists(tenant).values() if r["site_id"] == site["id"]]
        raw_filter = request.query.get("$filter", request.query.get("filter"))
        if raw_filter:
            predicate = _list_predicate(_FilterParser(raw_filter).parse())
            views = [view for view in views if predicate(view)]
        select = request.query.get("$select", request.query.get("select"))
        return collection_response(request, [select_fields(v, select) for v in views])

    def create_list(request: Request) -> Response:
        site = site_of(request)
        _require_role(request, MANAGE_ROLES)
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
        columns: list[dict[str, Any]] = [_title_column()]
        raw_columns = body.get("columns") or []
        if not isinstance(raw_columns, list):
            raise ApiError(400, "invalidRequest", "'columns' must be a list.")
        for raw in raw_columns:
            columns.append(_new_column(raw, columns))
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

    def get_list(request: Request) -> Response:
        _site, record = list_of(request)
        expand = request.query.get("$expand", request.query.get("expand", ""))
        view = _list_view(record, with_columns="columns" in expand)
        select = request.query.get("$select", request.query.get("select"))
        return json_response(200, select_fields(view, select) if select else view)

    # columns ----------------------------------------------------------------------------
    def get_columns(request: Request) -> Response:
        _site, record = list_of(request)
        select = request.query.get("$select", request.query.get("select"))
        columns = [select_fields(col, select) for col in record["columns"]]
        return collection_response(request, columns)

    def create_column(request: Request) -> Response:
        _site, record = list_of(request)
        _require_role(request, MANAGE_ROLES)
        column = _new_column(request.json_object(), record["columns"])
        record["columns"].append(column)
        record["version"] = int(record["version"]) + 1
        record["resource"]["lastModifiedDateTime"] = now_iso()
        return json_response(201, column)

    def get_column(request: Request) -> Response:
        _site, record = list_of(request)
        return json_response(200, _find_column(record, request.params["column_id"]))

    def update_column(request: Request) -> Response:
        _site, record = list_of(request)
        _require_role(request, MANAGE_ROLES)
        column = _find_column(record, request.params["column_id"])
        body = request.json_object()
        updated = dict(column)
        facet = _facet(column)
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
                _check_facet(facet, value)
                updated[facet] = {**column[facet], **value}
            elif key in ("id", "name") and str(value) == str(column[key]):
                continue
            else:
                raise ApiError(400, "invalidRequest", f"The property '{key}' cannot be updated.")
        _check_unique_needs_index(updated)
        if updated.get("enforceUniqueValues") and not column.get("enforceUniqueValues"):
            key = _field_key(column)
            seen = [
                _unique_form(item["fields"][key])
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
    def list_items(request: Request) -> Response:
        _site, record = list_of(request)
        expand, fields_select = _parse_expand(request)
        items = sorted(record["items"].values(), key=lambda item: int(item["id"]))
        raw_filter = request.query.get("$filter", request.query.get("filter"))
        raw_order = request.query.get("$orderby", request.query.get("orderby"))
        order: list[tuple[str, bool]] = []
        if raw_order:
            for part in raw_order.split(","):
                words = part.split()
                if (
                    not words
                    or len(words) > 2
                    or (len(words) == 2 and words[1] not in ("asc", "desc"))
                ):
                    raise ApiError(400, "invalidRequest", f"Invalid $orderby '{raw_order}'.")
                order.append((_field_name(words[0]), len(words) == 2 and words[1] == "desc"))
        names: list[str] = []
        predicate: Callable[[dict[str, Any]], bool] | None = None
        if raw_filter:
            tree = _FilterParser(raw_filter).parse()
            names = [_field_name(path) for path in _paths(tree)]
            predicate = _item_predicate(record, tree)
        _check_indexed(request, record, names + [name for name, _desc in order])
        if predicate is not None:
            items = [item for item in items if predicate(_fields_view(record, item))]
        for name, descending in reversed(order):
            kind, _indexed = _field_kind(record, name)

            def sort_key(item: dict[str, Any], name: str = name, kind: str = kind) -> Any:
                value = _comparable(kind, _fields_view(record, item).get(name), literal=False)
                return (value is not None, value if value is not None else 0)

            items.sort(key=sort_key, reverse=descending)
        select = request.query.get("$select", request.query.get("select"))
        shaped = [
            _shape_item(record, item, expand=expand, fields_select=fields_select, select=select)
            for item in items
        ]
        return collection_response(request, shaped)

    def create_item(request: Request) -> Response:
        site, record = list_of(request)
        _require_role(request, WRITE_ROLES)
        body = request.json_object()
        for key in body:
            if key not in ("fields", "contentType") and not key.startswith("@"):
                raise ApiError(
                    400,
                    "invalidRequest",
                    f"The property '{key}' does not exist on type 'microsoft.graph.listItem'.",
                )
        changes = _validated_fields(record, body.get("fields", {}), item_id=None)
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
        _record_change(record, item_id, when)
        view = _item_view(record, item)
        view["fields"] = _fields_view(record, item)
        return json_response(201, view, {"ETag": _item_etag(item)})

    def get_item(request: Request) -> Response:
        _site, record = list_of(request)
        item = _get_item(record, request.params["item_id"])
        expand, fields_select = _parse_expand(request)
        select = request.query.get("$select", request.query.get("select"))
        view = _shape_item(record, item, expand=expand, fields_select=fields_select, select=select)
        return json_response(200, view, {"ETag": _item_etag(item)})

    def get_item_fields(request: Request) -> Response:
        _site, record = list_of(request)
        item = _get_item(record, request.params["item_id"])
        select = request.query.get("$select", request.query.get("select"))
        view = select_fields(_fields_view(record, item), select)
        return json_response(200, view, {"ETag": _item_etag(item)})

    def apply_update(request: Request, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        site, record = list_of(request)
        _require_role(request, WRITE_ROLES)
        item = _get_item(record, request.params["item_id"])
        _check_if_match(request, item)
        changes = _validated_fields(record, values, item_id=item["id"])
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
        _record_change(record, item["id"], when)
        return record, item

    def update_item_fields(request: Request) -> Response:
        record, item = apply_update(request, request.json_object())
        return json_response(200, _fields_view(record, item), {"ETag": _item_etag(item)})

    def update_item(request: Request) -> Response:
        body = request.json_object()
        for key in body:
            if key != "fields" and not key.startswith("@"):
                raise ApiError(
                    400, "invalidRequest", f"The listItem property '{key}' cannot be updated."
                )
        record, item = apply_update(request, body.get("fields", {}))
        view = _item_view(record, item)
        view["fields"] = _fields_view(record, item)
        return json_response(200, view, {"ETag": _item_etag(item)})

    def delete_item(request: Request) -> Response:
        _site, record = list_of(request)
        _require_role(request, WRITE_ROLES)
        item = _get_item(record, request.params["item_id"])
        _check_if_match(request, item)
        del record["items"][item["id"]]
        _record_change(record, item["id"], now_iso())
        return empty_response(204)

    # delta ------------------------------------------------------------------------------
    def delta(request: Request) -> Response:
        _site, record = list_of(request)
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
        expand, fields_select = _parse_expand_text(expand_raw)
        opts = {"expand": expand_raw, "select": select, "top": top}
        if token == "latest":
            link = {"l": list_id, "m": "link", "t": int(record["seq"]), "o": opts}
            return json_response(
                200, {"value": [], "@odata.deltaLink": f"{base}?token={_encode_token(link)}"}
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
                _shape_item(record, item, expand=expand, fields_select=fields_select, select=select)
            )
        payload: dict[str, Any] = {"value": values}
        if len(remaining) > len(chunk):
            next_state = {**state, "a": chunk[-1], "o": opts}
            payload["@odata.nextLink"] = f"{base}?token={_encode_token(next_state)}"
        else:
            link = {"l": list_id, "m": "link", "t": int(state["t"]), "o": opts}
            payload["@odata.deltaLink"] = f"{base}?token={_encode_token(link)}"
        return json_response(200, payload)

    def resolve_token(record: dict[str, Any], token: str, base: str) -> dict[str, Any]:
        """The paging state a token stands for; 410 when it is unknown, foreign or expired."""
        gone = ApiError(
            410,
            "resyncRequired",
            "Resync required. Replace any local items with the server's version (including "
            "deletes) if you're sure that the service was up to date with your local changes "
            "when you last sync'd. Upload any local changes that the server doesn't know about.",
            headers={"Location": base},
            inner_code="resyncChangesApplyDifferences",
        )
        decoded = _decode_token(token)
        if decoded is None or decoded.get("l") != record["resource"]["id"]:
            raise gone
        try:
            mode = str(decoded["m"])
            to_seq = int(decoded["t"])
            options = decoded.get("o") or {}
            if not isinstance(options, dict):
                raise gone
            if mode == "link":
                from_seq, to_seq, after = to_seq, int(record["seq"]), 0
                mode = "chg"
            elif mode in ("full", "chg"):
                from_seq, after = int(decoded["f"]), int(decoded["a"])
            else:
                raise gone
        except (KeyError, TypeError, ValueError) as exc:
            raise gone from exc
        min_seq, seq = int(record["min_seq"]), int(record["seq"])
        if not min_seq <= to_seq <= seq or (mode == "chg" and not min_seq <= from_seq <= seq):
            raise gone
        return {"l": decoded["l"], "m": mode, "f": from_seq, "t": to_seq, "a": after, "o": options}

    base = "/sites/{site-id}/lists/{list-id}"
    item = f"{base}/items/{{item-id}}"
    add("GET", "/sites/{hostname}:{site-path:path}", site_by_path, returns="microsoft.graph.site")
    add("GET", "/sites/{site-id}", site_by_id, returns="microsoft.graph.site")
    add("GET", "/sites/{site-id}/lists", get_lists, returns="microsoft.graph.list", collection=True)
    add("POST", "/sites/{site-id}/lists", create_list, returns="microsoft.graph.list")
    add("GET", base, get_list, returns="microsoft.graph.list")
    col = "microsoft.graph.columnDefinition"
    add("GET", f"{base}/columns", get_columns, returns=col, collection=True)
    add("POST", f"{base}/columns", create_column, returns=col)
    add("GET", f"{base}/columns/{{column-id}}", get_column, returns=col)
    add("PATCH", f"{base}/columns/{{column-id}}", update_column, returns=col)
    li = "microsoft.graph.listItem"
    add("GET", f"{base}/items/delta", delta, returns=li, collection=True)
    add("GET", f"{base}/items/delta()", delta, returns=li, collection=True)
    add("GET", f"{base}/items", list_items, returns=li, collection=True)
    add("POST", f"{base}/items", create_item, returns=li)
    fvs = "microsoft.graph.fieldValueSet"
    add("GET", f"{item}/fields", get_item_fields, returns=fvs)
    add("PATCH", f"{item}/fields", update_item_fields, returns=fvs)
    add("GET", item, get_item, returns=li)
    add("PATCH", item, update_item, returns=li)
    add("DELETE", item, delete_item)
