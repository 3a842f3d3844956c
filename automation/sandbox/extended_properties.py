"""Outlook single-value extended properties (MAPI named properties) as the sandbox serves them.

Shared by messages and events, which Microsoft documents with the same rules
(singlevaluelegacyextendedproperty-get page; graph.md §5):

* an id is ``"<Type> {<GUID>} Name <name>"`` (or ``Id 0x…``, or a bare proptag ``0x…``);
* ``$filter=singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`` finds
  the items carrying a value; the GUID is matched case-insensitively, the ``Name`` part
  case-sensitively, the value case-insensitively; ``eq`` and ``ne`` on a string value;
* ``$expand=singleValueExtendedProperties($filter=id eq '…')`` is the only way to read one
  back; a filtered list does not include the property unless it is expanded;
* ``$filter`` on a few plain string properties (``subject eq '…'``) combines with it;
* a PATCH carrying ``singleValueExtendedProperties`` creates or updates each named property
  (singlevaluelegacyextendedproperty-post-singlevalueextendedproperties page).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automation.sandbox.framework import ApiError
from automation.sandbox.odata import FilterSyntaxError, Node, parse_filter

Predicate = Callable[[dict[str, Any]], bool]

PATH = "singlevalueextendedproperties"

_PROPERTY_ID = re.compile(
    r"^\s*(?P<type>[A-Za-z]+)\s+\{(?P<guid>[0-9A-Fa-f-]{36})\}\s+Name\s+(?P<name>\S.*?)\s*$"
)
_PROPERTY_TAG = re.compile(
    r"^\s*[A-Za-z]+\s+(\{[0-9A-Fa-f-]{36}\}\s+(Name\s+\S.*|Id\s+0x[0-9A-Fa-f]+)|0x[0-9A-Fa-f]+)\s*$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expand:
    """What ``$expand`` asked for: the properties (optionally one id) and other names."""

    properties: bool
    property_filter: str | None
    others: frozenset[str]


def bad_filter() -> ApiError:
    """The Outlook answer to a ``$filter`` it cannot apply."""
    return ApiError(
        400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
    )


def validated(raw: object) -> list[dict[str, Any]]:
    """The ``singleValueExtendedProperties`` of a request body, checked (400 otherwise)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(
            400, "RequestBodyRead", "'singleValueExtendedProperties' must be a collection."
        )
    out: list[dict[str, Any]] = []
    for prop in raw:
        if (
            not isinstance(prop, dict)
            or not isinstance(prop.get("id"), str)
            or not _PROPERTY_TAG.match(prop["id"])
        ):
            raise ApiError(400, "ErrorInvalidProperty", "The extended property id is not valid.")
        out.append({"id": str(prop["id"]), "value": str(prop.get("value") or "")})
    return out


def _key(property_id: str) -> tuple[str, str, str] | None:
    """(type lower, GUID lower, Name as written) of a named property id."""
    found = _PROPERTY_ID.match(property_id)
    if not found:
        return None
    return found["type"].lower(), found["guid"].lower(), found["name"]


def same_property(a: str, b: str) -> bool:
    """Whether two ids name the same property (GUID any case, Name exact)."""
    key_a, key_b = _key(a), _key(b)
    if key_a is None or key_b is None:
        return " ".join(a.split()).lower() == " ".join(b.split()).lower()
    return key_a == key_b


def merged(existing: list[dict[str, Any]], updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``existing`` with each of ``updates`` created or replaced (a PATCH)."""
    out = [dict(prop) for prop in existing]
    for update in updates:
        for prop in out:
            if same_property(str(prop["id"]), str(update["id"])):
                prop["value"] = update["value"]
                break
        else:
            out.append(dict(update))
    return out


def item_filter(text: str, filterable: tuple[str, ...]) -> Predicate:
    """A predicate over stored Outlook items for ``$filter`` (400 for anything else).

    ``<one of filterable> eq '…'`` and ``singleValueExtendedProperties/any(ep: …)``,
    combined with ``and``/``or``.
    """
    try:
        tree = parse_filter(text)
    except FilterSyntaxError as exc:
        raise bad_filter() from exc
    return _item_predicate(tree, filterable)


def _item_predicate(node: Node, filterable: tuple[str, ...]) -> Predicate:
    if node[0] in ("and", "or"):
        parts = [_item_predicate(child, filterable) for child in node[1]]
        combine = all if node[0] == "and" else any
        return lambda item: combine(part(item) for part in parts)
    if node[0] == "any":
        return any_predicate(node)
    _, path, op, (kind, value) = node
    prop = next((p for p in filterable if p.lower() == str(path).lower()), None)
    if prop is None or op != "eq" or kind != "str":
        raise bad_filter()
    wanted = str(value).lower()
    return lambda item: str(item.get(prop) or "").lower() == wanted


def any_predicate(node: Node) -> Predicate:
    """An item predicate for ``singleValueExtendedProperties/any(ep: …)`` (the "any" node)."""
    _, path, variable, body = node
    if str(path).lower() != PATH:
        raise bad_filter()
    matches = _property_predicate(variable, body)

    def predicate(item: dict[str, Any]) -> bool:
        return any(matches(prop) for prop in item.get("singleValueExtendedProperties") or [])

    return predicate


def _property_predicate(variable: str, node: Node) -> Predicate:
    """Inside ``any(ep: …)``: ``ep/id eq '…'`` and ``ep/value eq|ne '…'`` joined by and/or."""
    if node[0] in ("and", "or"):
        parts = [_property_predicate(variable, child) for child in node[1]]
        combine = all if node[0] == "and" else any
        return lambda prop: combine(part(prop) for part in parts)
    if node[0] != "cmp":
        raise bad_filter()
    _, path, op, (kind, value) = node
    owner, _, member = str(path).partition("/")
    member = member.lower()
    if owner != variable or kind != "str" or member not in ("id", "value"):
        raise bad_filter()
    wanted = str(value)
    if member == "id" and op == "eq":
        return lambda prop: same_property(str(prop["id"]), wanted)
    if member == "value" and op in ("eq", "ne"):
        equal = op == "eq"
        return lambda prop: (str(prop["value"] or "").lower() == wanted.lower()) == equal
    raise bad_filter()


def parse_expand(text: str, others: frozenset[str] = frozenset()) -> Expand:
    """Read ``$expand``: ``singleValueExtendedProperties[($filter=id eq '…')]`` and ``others``.

    Any other name is 400 ``BadRequest`` (Outlook: "Could not find a property named …").
    """
    want, prop_filter, seen = False, None, set()
    for part in re.split(r",(?![^(]*\))", text):
        part = part.strip()
        if not part:
            continue
        name, _, options = part.partition("(")
        lowered = name.strip().lower()
        if lowered in others:
            seen.add(lowered)
            continue
        if lowered != PATH:
            raise ApiError(400, "BadRequest", f"Could not find a property named '{name}'.")
        want = True
        options = options.rstrip(")").strip()
        if options:
            prop_filter = _expand_id_filter(options)
    return Expand(properties=want, property_filter=prop_filter, others=frozenset(seen))


def _expand_id_filter(options: str) -> str:
    """The id in ``$filter=id eq '…'`` inside ``$expand=singleValueExtendedProperties(…)``."""
    name, equals, text = options.partition("=")
    if not equals or name.strip().lower() not in ("$filter", "filter"):
        raise bad_filter()
    try:
        tree = parse_filter(text)
    except FilterSyntaxError as exc:
        raise bad_filter() from exc
    if tree[0] != "cmp" or str(tree[1]).lower() != "id" or tree[2] != "eq" or tree[3][0] != "str":
        raise bad_filter()
    return str(tree[3][1])


def expanded(properties: list[dict[str, Any]], wanted: str | None) -> list[dict[str, Any]]:
    """The stored properties an ``$expand`` returns (all, or those with the wanted id)."""
    return [
        dict(prop)
        for prop in properties
        if wanted is None or same_property(str(prop["id"]), wanted)
    ]
