"""The in-memory fakes have every member of the port they stand in for, with its parameters."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from automation.jobs import ports
from tests.jobs import fakes

PAIRS: list[tuple[type[Any], type[Any]]] = [
    (ports.Tracker, fakes.FakeTracker),
    (ports.TaskBoard, fakes.FakeTaskBoard),
    (ports.DraftLibrary, fakes.FakeDraftLibrary),
    (ports.Outbox, fakes.FakeOutbox),
    (ports.Directory, fakes.FakeDirectory),
    (ports.State, fakes.FakeState),
    (ports.WorkspaceIds, fakes.FakeWorkspace),
    (ports.SiteLists, fakes.FakeSiteLists),
    (ports.Feeds, fakes.FakeFeeds),
    (ports.RecommendationRows, fakes.FakeRecommendationRows),
    (ports.OfficeCalendar, fakes.FakeCalendar),
]


def _members(protocol: type[Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    }


def _shape(function: Any) -> list[tuple[str, Any, bool]]:
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize(("port", "fake"), PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_fake_has_every_member_of_its_port(port: type[Any], fake: type[Any]) -> None:
    members = _members(port)
    assert members, f"{port.__name__} lists no methods"
    for name, method in members.items():
        assert hasattr(fake, name), f"{fake.__name__} lacks {name}"
        assert _shape(getattr(fake, name)) == _shape(method), f"{fake.__name__}.{name}"


def test_services_lists_each_port_the_fakes_fill() -> None:
    wanted = {name for name, value in vars(ports.Services).items() if isinstance(value, property)}
    assert wanted == set(fakes.FakeServices.__dataclass_fields__)
