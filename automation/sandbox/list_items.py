"""SharePoint list items as Graph shows them: views, ``$expand``, eTags, filters, delta tokens.

The route handlers in :mod:`automation.sandbox.routes.sites` use these to turn stored items
into listItem and fieldValueSet bodies and to read ``$filter``/``$orderby`` on ``fields/X``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from automation.sandbox.framework import ApiError, Request, select_fields
from automation.sandbox.list_schema import (
    BUILTIN_FIELDS,
    column_facet,
    field_key,
    normalise_datetime,
)
from automation.sandbox.odata import FilterSyntaxError, Node, compare, parse_filter

HONOR_NON_INDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"


def item_etag(item: dict[str, Any]) -> str:
    return f'"{{{item["guid"]}}},{item["version"]}"'


def fields_view(record: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": item_etag(item)}
    stored = item["fields"]
    for column in record["columns"]:
        key = field_key(column)
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


def item_view(record: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    resource = record["resource"]
    return {
        "@odata.etag": item_etag(item),
        "createdDateTime": item["created"],
        "eTag": item_etag(item),
        "id": item["id"],
        "lastModifiedDateTime": item["modified"],
        # What Graph returns (microsoft-graph-docs#5381): a "<id>_.000" file, not a page.
        "webUrl": f"{resource['webUrl']}/{item['id']}_.000",
        "createdBy": item["createdBy"],
        "lastModifiedBy": item["lastModifiedBy"],
        "parentReference": {"id": resource["id"], "siteId": record["site_id"]},
        "contentType": {"id": record["content_type_id"], "name": "Item"},
    }


def parse_expand(request: Request) -> tuple[bool, str | None]:
    """(expand fields?, fields select) from ``$expand``/``expand``."""
    return parse_expand_text(request.query.get("$expand", request.query.get("expand", "")))


def parse_expand_text(text: str) -> tuple[bool, str | None]:
    raw = text.strip()
    if not raw:
        return False, None
    match = re.fullmatch(r"fields(?:\(\s*\$?select\s*=\s*([^)]*)\))?", raw)
    if not match:
        raise ApiError(400, "invalidRequest", f"Unsupported $expand '{raw}'.")
    return True, match.group(1)


def shape_item(
    record: dict[str, Any],
    item: dict[str, Any],
    *,
    expand: bool,
    fields_select: str | None,
    select: str | None,
) -> dict[str, Any]:
    view = select_fields(item_view(record, item), select)
    if expand:
        view["fields"] = visible_fields(record, item, fields_select)
    return view


def record_version(item: dict[str, Any]) -> None:
    """Keep the item as it is now as its newest version (after every create and write).

    listItemVersion page: each version has its ``id`` ("1.0", "2.0", …), ``lastModifiedBy``,
    ``lastModifiedDateTime`` and its ``fields``, so who set a value can be read back from the
    history even when someone (or the app) wrote the item afterwards.
    """
    item.setdefault("versions", []).append(
        {
            "version": int(item["version"]),
            "modified": item["modified"],
            "lastModifiedBy": item["lastModifiedBy"],
            "editor": item["editor"],
            "fields": dict(item["fields"]),
        }
    )


def item_versions(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The item's versions, newest first (as the versions collection lists them)."""
    return list(reversed(item.get("versions") or []))


def version_view(
    record: dict[str, Any],
    item: dict[str, Any],
    version: dict[str, Any],
    *,
    expand: bool,
    fields_select: str | None,
) -> dict[str, Any]:
    """One listItemVersion; ``fields`` (hidden-column rule included) only when expanded."""
    view: dict[str, Any] = {
        "id": f"{version['version']}.0",
        "lastModifiedBy": version["lastModifiedBy"],
        "lastModifiedDateTime": version["modified"],
    }
    if expand:
        then = {
            **item,
            "version": version["version"],
            "modified": version["modified"],
            "lastModifiedBy": version["lastModifiedBy"],
            "editor": version["editor"],
            "fields": version["fields"],
        }
        view["fields"] = visible_fields(record, then, fields_select)
    return view


def visible_fields(
    record: dict[str, Any], item: dict[str, Any], select: str | None
) -> dict[str, Any]:
    """The fieldValueSet Graph shows: hidden columns only when ``$select`` names them.

    columnDefinition page: "To list hidden field values on listItems, include the desired
    columns by name in your $select statement".
    """
    view = fields_view(record, item)
    named = {part.strip() for part in (select or "").split(",") if part.strip()}
    for column in record["columns"]:
        key = field_key(column)
        if column.get("hidden") and key not in named:
            view.pop(key, None)
    return select_fields(view, select)


def find_item(record: dict[str, Any], item_id: str) -> dict[str, Any]:
    item = record["items"].get(item_id)
    if item is None:
        raise ApiError(404, "itemNotFound", "The specified list item was not found.")
    assert isinstance(item, dict)
    return item


def check_if_match(request: Request, item: dict[str, Any]) -> None:
    wanted = request.headers.get("if-match")
    if wanted is None:
        return
    given = str(wanted).strip()
    if given == "*":
        return
    current = item_etag(item)
    if given.removeprefix("W/") in (current, current.strip('"')):
        return
    raise ApiError(
        412,
        "resourceModified",
        "The request ETag value does not match the object's ETag value.",
    )


def record_change(record: dict[str, Any], item_id: str, when: str) -> None:
    record["seq"] = int(record["seq"]) + 1
    record["changes"][item_id] = record["seq"]
    record["resource"]["lastModifiedDateTime"] = when


def field_name(path: str) -> str:
    if not path.startswith("fields/") or len(path) <= len("fields/"):
        raise ApiError(
            400, "invalidRequest", f"Only 'fields/<name>' can be filtered or ordered on: '{path}'."
        )
    return path[len("fields/") :]


def field_kind(record: dict[str, Any], name: str) -> tuple[str, bool]:
    """(value kind, indexed) of a field named in $filter/$orderby."""
    if name in BUILTIN_FIELDS:
        return BUILTIN_FIELDS[name]
    for column in record["columns"]:
        if field_key(column) == name:
            facet = column_facet(column)
            kind = {"currency": "number", "personOrGroup": "lookupId"}.get(facet, facet)
            return kind, bool(column.get("indexed"))
    raise ApiError(400, "invalidRequest", f"Field '{name}' is not recognized")


def check_indexed(request: Request, record: dict[str, Any], names: list[str]) -> None:
    honour = HONOR_NON_INDEXED.lower() in str(request.headers.get("prefer", "")).lower()
    for name in names:
        _kind, indexed = field_kind(record, name)
        if not indexed and not honour:
            raise ApiError(
                400,
                "invalidRequest",
                f"Field '{name}' cannot be referenced in filter or orderby as it is not indexed. "
                f"Provide the 'Prefer: {HONOR_NON_INDEXED}' header to allow this, but be warned "
                "that such queries may fail on large lists.",
            )


def comparable(kind: str, value: Any, *, literal: bool) -> Any:
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


def item_predicate(record: dict[str, Any], node: Node) -> Callable[[dict[str, Any]], bool]:
    if node[0] in ("and", "or"):
        children = [item_predicate(record, child) for child in node[1]]
        if node[0] == "and":
            return lambda fields: all(child(fields) for child in children)
        return lambda fields: any(child(fields) for child in children)
    _, path, op, (_literal_kind, raw_value) = node
    name = field_name(str(path))
    kind, _indexed = field_kind(record, name)
    expected = comparable(kind, raw_value, literal=True)

    def matches(fields: dict[str, Any]) -> bool:
        return compare(comparable(kind, fields.get(name), literal=False), op, expected)

    return matches


def list_predicate(node: Node) -> Callable[[dict[str, Any]], bool]:
    if node[0] in ("and", "or"):
        children = [list_predicate(child) for child in node[1]]
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
        return compare(value, op, expected)

    return matches


def encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


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
    decoded = decode_token(token)
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


def parse_list_filter(text: str) -> Node:
    """A ``$filter`` on lists or items; 400 ``invalidRequest`` when it cannot be read."""
    try:
        return parse_filter(text)
    except FilterSyntaxError as exc:
        raise ApiError(400, "invalidRequest", str(exc)) from exc
