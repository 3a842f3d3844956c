"""Derive the compact Graph metadata facts the sandbox conformance tests read.

Usage: ``python tools/derive_graph_facts.py [--csdl ../shared/reference/graph-v1.0.csdl]
[--out tests/sandbox/graph_facts.json] [--check]``.

The Graph v1.0 CSDL is 3.4 MB and lives outside the repository (``../shared/reference``).
The conformance tests need only the part of it that the sandbox's routes reach, so this
script keeps:

* the entity sets and singletons named by the first segment of a sandbox route;
* every type reachable from them by a navigation property or bound operation whose name is
  a segment of some route, by any structural property, by a route's declared ``returns``
  type, or as a value type of an open "dictionary" type; with each kept type, all of its
  property and navigation names (so that an unknown name in an answer is still caught) and
  its base types; plus the subtypes of kept abstract-like bases the answers use
  (``fileAttachment`` for ``attachment``);
* the bound actions and functions whose name is a route segment.

``--check`` exits 1 when the committed file differs from what the CSDL gives now.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.sandbox.csdl import Csdl, TypeRef, parse  # noqa: E402

DEFAULT_CSDL = ROOT.parent / "shared" / "reference" / "graph-v1.0.csdl"
DEFAULT_OUT = ROOT / "tests" / "sandbox" / "graph_facts.json"
# Value types of open types the tests read as dictionaries (test_csdl_conformance.py).
DICTIONARY_VALUES = (
    "microsoft.graph.plannerAssignment",
    "microsoft.graph.plannerChecklistItem",
    "microsoft.graph.plannerExternalReference",
)
# Bases whose subtypes appear in answers through "@odata.type" (attachments, identities).
SUBTYPE_BASES = ("microsoft.graph.attachment", "microsoft.graph.identitySet")
_SEGMENT = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def route_facts() -> tuple[set[str], set[str]]:
    """(segment names, declared return types) of every Graph route the sandbox serves."""
    from automation.sandbox.server import Sandbox

    sandbox = Sandbox()
    segments: set[str] = set()
    returns: set[str] = set()
    for route in sandbox.router.routes:
        if not route.graph:
            continue
        for part in route.template.split("/"):
            for word in _SEGMENT.findall(part.split("{")[0]):
                segments.add(word.removeprefix("microsoft").removeprefix("graph"))
            if "." in part:
                segments.add(part.rsplit(".", 1)[-1].removesuffix("()"))
        if route.returns:
            returns.add(route.returns)
    return {s for s in segments if s}, returns


def _ref(ref: TypeRef | None) -> str | None:
    if ref is None:
        return None
    return f"Collection({ref.name})" if ref.collection else ref.name


def derive(model: Csdl, segments: set[str], returns: set[str]) -> dict[str, Any]:
    """The fact dictionary: the reachable slice of ``model``."""
    sets = {k: v for k, v in model.entity_sets.items() if k in segments}
    singletons = {k: v for k, v in model.singletons.items() if k in segments}
    operations = {name: ops for name, ops in model.operations.items() if name in segments and ops}
    pending = [*sets.values(), *singletons.values(), *returns, *DICTIONARY_VALUES]
    for ops in operations.values():
        for op in ops:
            pending.append(op.binding.name)
            if op.returns is not None:
                pending.append(op.returns.name)
    kept: set[str] = set()
    while pending:
        name = pending.pop()
        if name in kept or name not in model.types:
            continue
        kept.add(name)
        found = model.types[name]
        if found.base:
            pending.append(found.base)
        pending.extend(ref.name for ref in found.properties.values())
        pending.extend(ref.name for key, ref in found.navigation.items() if key in segments)
        if name in SUBTYPE_BASES:
            pending.extend(t.name for t in model.types.values() if t.base == name)
    bindings = kept | set(returns)
    operations = {
        name: [op for op in ops if op.binding.name in bindings] for name, ops in operations.items()
    }
    return {
        "entity_sets": dict(sorted(sets.items())),
        "singletons": dict(sorted(singletons.items())),
        "types": {
            name: {
                "kind": model.types[name].kind,
                "base": model.types[name].base,
                "open": model.types[name].open,
                "properties": {k: _ref(v) for k, v in sorted(model.types[name].properties.items())},
                "navigation": {k: _ref(v) for k, v in sorted(model.types[name].navigation.items())},
            }
            for name in sorted(kept)
        },
        "operations": {
            name: [
                {"kind": op.kind, "binding": _ref(op.binding), "returns": _ref(op.returns)}
                for op in ops
            ]
            for name, ops in sorted(operations.items())
            if ops
        },
    }


def build(csdl_path: Path) -> dict[str, Any]:
    """The fact file's content for this CSDL and the sandbox's current routes."""
    segments, returns = route_facts()
    facts = derive(parse(csdl_path), segments, returns)
    digest = hashlib.sha256(csdl_path.read_bytes()).hexdigest()
    return {"source": {"file": csdl_path.name, "sha256": digest}, **facts}


def render(facts: dict[str, Any]) -> str:
    """The committed text: one entry per line, so that a change reads well in a diff."""
    lines = ["{"]
    sections = list(facts.items())
    for n, (key, value) in enumerate(sections):
        comma = "," if n < len(sections) - 1 else ""
        if not isinstance(value, dict) or not value:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{comma}")
            continue
        lines.append(f" {json.dumps(key)}: {{")
        entries = list(value.items())
        for m, (name, entry) in enumerate(entries):
            inner = "," if m < len(entries) - 1 else ""
            lines.append(f"  {json.dumps(name)}: {json.dumps(entry, separators=(',', ':'))}{inner}")
        lines.append(f" }}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the fact file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csdl", type=Path, default=DEFAULT_CSDL)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(build(args.csdl))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run tools/derive_graph_facts.py")  # noqa: T201
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} bytes)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
