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
CLOCK_CALLS = frozenset(
    {
        "datetime.date.today",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.perf_counter",
        "time.localtime",
        "time.gmtime",
    }
)
# Bare names the old rule assumed (``date.today()``), kept when no import says otherwise.
_DEFAULT_ALIASES = {"date": "datetime.date", "datetime": "datetime.datetime", "time": "time"}
# The one clock read the domain has: `calendar.london_now()` when the caller passes no ``now``
# (every decision function takes ``today``; this is how the face gets one).
CLOCK_ALLOWED = {("calendar.py", "datetime.datetime.now")}


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


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it is: ``import datetime as dt`` gives ``{"dt": "datetime"}``."""
    aliases = dict(_DEFAULT_ALIASES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else [*inner, node.attr]
    return None


def clock_reads(source: str) -> list[str]:
    """Every call in ``source`` that reads the clock, however the module was imported."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts = _dotted(node.func)
        if parts is None or parts[0] not in aliases:
            continue
        qualified = ".".join([aliases[parts[0]], *parts[1:]])
        if qualified in CLOCK_CALLS:
            found.append(qualified)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_clock_reads(path: Path) -> None:
    calls = [
        call
        for call in clock_reads(path.read_text(encoding="utf-8"))
        if (path.name, call) not in CLOCK_ALLOWED
    ]
    assert calls == []


@pytest.mark.parametrize(
    "source",
    [
        "import datetime as dt\ndt.date.today()",
        "import datetime\ndatetime.datetime.now()",
        "from datetime import datetime as D\nD.utcnow()",
        "from datetime import date\ndate.today()",
        "date.today()",
        "import time as t\nt.monotonic()",
        "from time import time\ntime()",
        "from time import perf_counter as clock\nclock()",
    ],
)
def test_the_clock_rule_sees_every_spelling(source: str) -> None:
    assert len(clock_reads(source)) == 1


def test_the_clock_rule_ignores_look_alikes() -> None:
    assert clock_reads("import datetime as dt\ndt.date(2023, 7, 20)\nx.time()") == []


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
