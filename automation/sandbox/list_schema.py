"""SharePoint list columns as the sandbox keeps them: definitions, validation, field values.

What a column may look like when created (the columnDefinition resource and its type facets,
https://learn.microsoft.com/graph/api/resources/columndefinition), and how a written field
value is checked against its column (fieldValueSet, listItem create/update pages).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from automation.sandbox.framework import ApiError, new_guid

TITLE_FIELD_ID = "fa564e0f-0c70-4ab9-b863-0177e6ddd247"
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


# SharePoint's SPDuplicateValuesFoundException text (pnp/pnpcore#1280), naming the fields.
DUPLICATE_FIELD_MESSAGE = (
    "The list item could not be added or updated because duplicate values were found in the "
    "following field(s) in the list: [{fields}]."
)
DUPLICATE_MESSAGE = (
    "The list item could not be added or updated because duplicate values were found in one "
    "or more fields in the list."
)


def field_key(column: dict[str, Any]) -> str:
    """The key of a column's value in ``fields``."""
    name = str(column["name"])
    return f"{name}LookupId" if "personOrGroup" in column else name


def column_facet(column: dict[str, Any]) -> str:
    return next(facet for facet in TYPE_FACETS if facet in column)


def check_facet(facet: str, settings: Any) -> None:
    if not isinstance(settings, dict):
        raise ApiError(400, "invalidRequest", f"The '{facet}' facet must be an object.")
    for key in settings:
        if key not in FACET_PROPERTIES.get(facet, frozenset()):
            raise ApiError(
                400,
                "invalidRequest",
                f"The property '{key}' does not exist on type 'microsoft.graph.{facet}Column'.",
            )


def new_column(body: Any, existing: list[dict[str, Any]]) -> dict[str, Any]:
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
    check_facet(facet, settings)
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
    check_unique_needs_index(column)
    return column


def check_unique_needs_index(column: dict[str, Any]) -> None:
    if column.get("enforceUniqueValues") and not column.get("indexed"):
        raise ApiError(
            400,
            "invalidRequest",
            f"Column '{column['name']}': this field must be indexed to enforce unique values.",
        )


def title_column() -> dict[str, Any]:
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


def find_column(record: dict[str, Any], ref: str) -> dict[str, Any]:
    wanted = ref.lower()
    for column in record["columns"]:
        if wanted in (str(column["id"]).lower(), str(column["name"]).lower()):
            assert isinstance(column, dict)
            return column
    raise ApiError(404, "itemNotFound", f"Column '{ref}' does not exist.")


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


def bad_value(key: str, why: str) -> ApiError:
    return ApiError(400, "invalidRequest", f"Field '{key}' has an invalid value: {why}.")


def coerce_value(column: dict[str, Any], key: str, value: Any) -> Any:
    """A written value checked against the column's type; ``None`` clears the field."""
    if value is None:
        return None
    facet = column_facet(column)
    settings = column[facet]
    if facet == "text":
        if not isinstance(value, str):
            raise bad_value(key, "a string is expected")
        if not settings.get("allowMultipleLines") and len(value) > int(
            settings.get("maxLength") or 255
        ):
            raise bad_value(key, f"longer than {settings.get('maxLength') or 255} characters")
        return value
    if facet in ("number", "currency"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad_value(key, "a number is expected")
        low, high = settings.get("minimum"), settings.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise bad_value(key, f"outside {low}..{high}")
        return value
    if facet == "boolean":
        if not isinstance(value, bool):
            raise bad_value(key, "true or false is expected")
        return value
    if facet == "dateTime":
        if not isinstance(value, str):
            raise bad_value(key, "an ISO 8601 date string is expected")
        try:
            return normalise_datetime(value)
        except ValueError as exc:
            raise bad_value(key, str(exc)) from exc
    if facet == "choice":
        if not isinstance(value, str):
            raise bad_value(key, "a string is expected")
        if not settings.get("allowTextEntry") and value not in settings.get("choices", []):
            raise bad_value(key, f"'{value}' is not one of the column's choices")
        return value
    if facet == "personOrGroup":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise bad_value(key, "a lookup id is expected")
        if not str(value).isdigit():
            raise bad_value(key, "a lookup id is expected")
        return str(value)
    if facet == "hyperlinkOrPicture":
        if not isinstance(value, dict) or not isinstance(value.get("Url"), str):
            raise bad_value(key, "an object with 'Url' is expected")
        return {"Description": value.get("Description") or value["Url"], "Url": value["Url"]}
    return value


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def unique_form(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else json.dumps(value, sort_keys=True)


def validated_fields(
    record: dict[str, Any], values: Any, *, item_id: str | None, duplicate_status: int = 500
) -> dict[str, Any]:
    """The changes ``values`` asks for, checked; ``item_id`` is None when creating."""
    if not isinstance(values, dict):
        raise ApiError(400, "invalidRequest", "'fields' must be an object.")
    by_key = {field_key(col): col for col in record["columns"]}
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
        changes[key] = coerce_value(column, key, value)
    current = {} if item_id is None else dict(record["items"][item_id]["fields"])
    merged = {**current, **changes}
    for column in record["columns"]:
        key = field_key(column)
        needs_check = item_id is None or key in changes
        if column.get("required") and needs_check and is_blank(merged.get(key)):
            raise ApiError(400, "invalidRequest", f"Field '{key}' is required.")
    for column in record["columns"]:
        key = field_key(column)
        if not column.get("enforceUniqueValues") or key not in changes:
            continue
        if changes[key] is None:
            continue
        mine = unique_form(changes[key])
        for other_id, other in record["items"].items():
            theirs = other["fields"].get(key)
            if other_id != item_id and theirs is not None and unique_form(theirs) == mine:
                raise ApiError(
                    duplicate_status,
                    "generalException" if duplicate_status >= 500 else "nameAlreadyExists",
                    DUPLICATE_FIELD_MESSAGE.format(fields=key),
                )
    return changes
