"""A small reader of the Graph v1.0 CSDL (``graph-v1.0.csdl``) for conformance tests.

It keeps what the sandbox checks need: the entity container (entity sets, singletons),
entity and complex types with their structural and navigation properties (following
``BaseType``; ``OpenType``), and bound actions/functions keyed by name and binding type.
Type names are normalised to full namespaces (``graph.x`` -> ``microsoft.graph.x``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

FACTS = Path(__file__).with_name("graph_facts.json")

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A property or return type: a qualified name and whether it is a collection."""

    name: str
    collection: bool = False


@dataclass(slots=True)
class StructuredType:
    """An EntityType or ComplexType, with only its own (not inherited) members."""

    name: str
    kind: str  # "entity" | "complex"
    base: str | None
    open: bool
    properties: dict[str, TypeRef] = field(default_factory=dict)
    navigation: dict[str, TypeRef] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Operation:
    """A bound action or function."""

    name: str
    kind: str  # "action" | "function"
    binding: TypeRef
    returns: TypeRef | None


@dataclass(slots=True)
class Csdl:
    """The parsed model."""

    entity_sets: dict[str, str] = field(default_factory=dict)
    singletons: dict[str, str] = field(default_factory=dict)
    types: dict[str, StructuredType] = field(default_factory=dict)
    operations: dict[str, list[Operation]] = field(default_factory=dict)

    # -- types ------------------------------------------------------------------------------
    def lineage(self, name: str) -> list[StructuredType]:
        """The type and its base types, most derived first."""
        out: list[StructuredType] = []
        current: str | None = name
        while current is not None and current in self.types:
            found = self.types[current]
            out.append(found)
            current = found.base
        return out

    def is_open(self, name: str) -> bool:
        """OpenType on the type or any base type."""
        return any(t.open for t in self.lineage(name))

    def member(self, type_name: str, member: str) -> TypeRef | None:
        """A structural or navigation property of a type (inherited ones included)."""
        for found in self.lineage(type_name):
            if member in found.properties:
                return found.properties[member]
            if member in found.navigation:
                return found.navigation[member]
        return None

    def is_navigation(self, type_name: str, member: str) -> bool:
        """Whether ``member`` is a navigation property of the type."""
        return any(member in found.navigation for found in self.lineage(type_name))

    def member_names(self, type_name: str) -> set[str]:
        """Every property and navigation property name of the type."""
        names: set[str] = set()
        for found in self.lineage(type_name):
            names.update(found.properties)
            names.update(found.navigation)
        return names

    def derives_from(self, name: str, base: str) -> bool:
        """``name`` is ``base`` or one of its subtypes."""
        return any(found.name == base for found in self.lineage(name))

    # -- operations -----------------------------------------------------------------------
    def bound_operation(self, name: str, binding: TypeRef) -> Operation | None:
        """The operation called ``name`` bound to ``binding`` (or to one of its base types)."""
        candidates = self.operations.get(name, [])
        names = [found.name for found in self.lineage(binding.name)] or [binding.name]
        for wanted in names:
            for op in candidates:
                if op.binding == TypeRef(wanted, binding.collection):
                    return op
        return None


def parse(path: Path) -> Csdl:
    """Parse a CSDL file (about 3.4 MB for Graph v1.0)."""
    root = ET.parse(path).getroot()
    schemas = list(root.iter(f"{EDM}Schema"))
    aliases: dict[str, str] = {}
    for schema in schemas:
        namespace = schema.attrib["Namespace"]
        aliases[namespace] = namespace
        if "Alias" in schema.attrib:
            aliases[schema.attrib["Alias"]] = namespace

    def qualify(raw: str) -> TypeRef:
        collection = raw.startswith("Collection(") and raw.endswith(")")
        inner = raw[len("Collection(") : -1] if collection else raw
        prefix, _, local = inner.rpartition(".")
        if prefix in aliases:
            inner = f"{aliases[prefix]}.{local}"
        return TypeRef(inner, collection)

    model = Csdl()
    for schema in schemas:
        namespace = schema.attrib["Namespace"]
        for element in schema:
            tag = element.tag.removeprefix(EDM)
            if tag in {"EntityType", "ComplexType"}:
                base = element.attrib.get("BaseType")
                found = StructuredType(
                    name=f"{namespace}.{element.attrib['Name']}",
                    kind="entity" if tag == "EntityType" else "complex",
                    base=qualify(base).name if base else None,
                    open=element.attrib.get("OpenType") == "true",
                )
                for child in element:
                    child_tag = child.tag.removeprefix(EDM)
                    if child_tag == "Property":
                        found.properties[child.attrib["Name"]] = qualify(child.attrib["Type"])
                    elif child_tag == "NavigationProperty":
                        found.navigation[child.attrib["Name"]] = qualify(child.attrib["Type"])
                model.types[found.name] = found
            elif tag in {"Action", "Function"} and element.attrib.get("IsBound") == "true":
                parameters = element.findall(f"{EDM}Parameter")
                if not parameters:
                    continue
                returns = element.find(f"{EDM}ReturnType")
                op = Operation(
                    name=element.attrib["Name"],
                    kind=tag.lower(),
                    binding=qualify(parameters[0].attrib["Type"]),
                    returns=qualify(returns.attrib["Type"]) if returns is not None else None,
                )
                model.operations.setdefault(op.name, []).append(op)
            elif tag == "EntityContainer":
                for child in element:
                    child_tag = child.tag.removeprefix(EDM)
                    if child_tag == "EntitySet":
                        model.entity_sets[child.attrib["Name"]] = qualify(
                            child.attrib["EntityType"]
                        ).name
                    elif child_tag == "Singleton":
                        model.singletons[child.attrib["Name"]] = qualify(child.attrib["Type"]).name
    return model


@lru_cache(maxsize=2)
def load(path: Path) -> Csdl:
    """Parse once per process."""
    return parse(path)


def _type_ref(text: str | None) -> TypeRef | None:
    if text is None:
        return None
    if text.startswith("Collection(") and text.endswith(")"):
        return TypeRef(text[len("Collection(") : -1], True)
    return TypeRef(text)


def from_facts(path: Path = FACTS) -> Csdl:
    """The model as committed in the fact file (``tools/derive_graph_facts.py`` writes it)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    model = Csdl(entity_sets=dict(data["entity_sets"]), singletons=dict(data["singletons"]))
    for name, entry in data["types"].items():
        model.types[name] = StructuredType(
            name=name,
            kind=entry["kind"],
            base=entry["base"],
            open=entry["open"],
            properties={k: TypeRef(*_split(v)) for k, v in entry["properties"].items()},
            navigation={k: TypeRef(*_split(v)) for k, v in entry["navigation"].items()},
        )
    for name, ops in data["operations"].items():
        model.operations[name] = [
            Operation(
                name=name,
                kind=op["kind"],
                binding=TypeRef(*_split(op["binding"])),
                returns=_type_ref(op["returns"]),
            )
            for op in ops
        ]
    return model


def _split(text: str) -> tuple[str, bool]:
    ref = _type_ref(text)
    assert ref is not None
    return ref.name, ref.collection
