"""Print exact pins of every runtime dependency of the service, for the container build.

The closure of ``[project].dependencies`` (extras and environment markers followed, the test
extra left out) as installed in the running interpreter, one ``name==version`` a line.
Regenerate after changing dependencies or upgrading the venv, from a venv that passed
``make test``::

    .venv/bin/python tools/freeze_constraints.py > deploy/container/constraints.txt

``tests/test_deploy.py`` checks the file covers every dependency and its closure.
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = "automation"
HEADER = """\
# Exact versions of every runtime dependency of the service (the closure of pyproject.toml's
# [project].dependencies), for the container build (pip install --constraint this file).
# Generated, do not edit; to regenerate from a venv that passed `make test`:
#   .venv/bin/python tools/freeze_constraints.py > deploy/container/constraints.txt
"""


def runtime_pins(root: str = ROOT) -> dict[str, str]:
    """Canonical name -> installed version for every distribution ``root`` needs at run time."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        if (key, extras) in seen:
            continue
        seen.add((key, extras))
        dist = metadata.distribution(name)
        if key != canonicalize_name(root):
            pins[key] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            # "" stands for "no extra": it keeps plain requirements and drops extra-only ones.
            wanted = extras or frozenset({""})
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({"extra": e}) for e in wanted):
                continue
            pending.append((requirement.name, frozenset(requirement.extras)))
    return pins


def render(pins: dict[str, str]) -> str:
    """The constraints file: the header, then ``name==version`` lines sorted by name."""
    return HEADER + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def main() -> int:
    """Write the constraints for the running interpreter's environment to stdout."""
    sys.stdout.write(render(runtime_pins()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
