"""The domain package is pure: no I/O libraries, no service adapters, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import automation.domain

DOMAIN_DIR = Path(automation.domain.__file__).parent
MODULES = sorted(DOMAIN_DIR.glob("*.py"))
FORBIDDEN_IMPORTS = (
    "requests",
    "urllib3",
    "httpx",
    "msal",
    "socket",
    "subprocess",
    "feedparser",
    "automation.graph",
    "automation.sandbox",
    "automation.jobs",
    "automation.feed",
    "automation.reports",
    "automation.settings",
)
CLOCK_CALLS = ("today", "now", "utcnow", "time", "monotonic")


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [
        name
        for name in _imports(tree)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)
    ]
    assert bad == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_clock_reads(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_CALLS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"date", "datetime", "time"}
    ]
    assert calls == []


def test_no_open_calls() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        opens = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "open"
        ]
        assert opens == [], path.name


def test_the_rule_sees_the_modules() -> None:
    assert {p.name for p in MODULES} >= {
        "publications.py",
        "relevance.py",
        "deadlines.py",
        "stages.py",
        "workflow.py",
        "forces.py",
    }
