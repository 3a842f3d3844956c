"""A Graph client on a mock transport, and the workspace and tracker adapters built on it."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from automation.graph.client import (
    GraphClient,
    GraphResponse,
    MockTransport,
    RetryPolicy,
    SentRequest,
)
from automation.graph.drive import Drive
from automation.graph.planner import Planner
from automation.graph.sharepoint import SharePoint
from automation.graph.tracker_list import TrackerList
from automation.graph.workspace import Workspace
from automation.localstate import LocalState
from automation.settings import Settings

BASE = "https://graph.test/v1.0"


class Tokens:
    def token(self) -> str:
        return "t"

    def invalidate(self) -> None:
        pass


def answer(status: int, body: Any) -> GraphResponse:
    """A JSON answer."""
    return GraphResponse(status=status, headers={}, body=json.dumps(body).encode(), url="")


def settings(state_dir: Any, **extra: Any) -> Settings:
    """Minimal settings for the adapters."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        tenant_id="contoso.onmicrosoft.com",
        force_name="Norfolk Constabulary",
        pcc_area="Norfolk",
        client_id="c",
        client_secret="s",
        state_dir=state_dir,
        graph_url=BASE,
        **extra,
    )


def adapters(
    config: Settings, handler: Callable[[SentRequest], GraphResponse]
) -> tuple[Workspace, TrackerList, MockTransport]:
    """The workspace and tracker adapters on a mock transport."""
    transport = MockTransport(handler)
    client = GraphClient(
        base_url=BASE,
        tokens=Tokens(),
        transport=transport,
        retry=RetryPolicy(max_attempts=1),
        sleep=lambda _: None,
        rng=random.Random(0),
    )
    sharepoint = SharePoint(client)
    workspace = Workspace(
        client,
        config,
        LocalState(config.state_dir),
        sharepoint=sharepoint,
        drive=Drive(client),
        planner=Planner(client),
    )
    return workspace, TrackerList(client, workspace, sharepoint), transport
