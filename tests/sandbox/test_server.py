"""The sandbox's own plumbing: TLS with its CA, identity, bearer checks, faults, log."""

from __future__ import annotations

import requests

from automation.sandbox.server import Sandbox
from tests.conftest import RawGraph


def test_discovery_and_token_over_https(sandbox: Sandbox) -> None:
    info = sandbox.info()
    session = requests.Session()
    session.trust_env = False
    found = session.get(
        f"{sandbox.url}/{info['tenant_id']}/v2.0/.well-known/openid-configuration",
        verify=str(sandbox.ca_path),
        timeout=5,
    )
    assert found.status_code == 200
    assert found.json()["token_endpoint"].startswith(f"{sandbox.url}/{info['tenant_id']}/")


def test_wrong_secret_is_401_invalid_client(sandbox: Sandbox) -> None:
    info = sandbox.info()
    answer = requests.post(
        f"{sandbox.url}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "client_id": info["client_id"],
            "client_secret": "wrong",
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=str(sandbox.ca_path),
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert "wrong" not in answer.text


def test_graph_requires_token(sandbox: Sandbox) -> None:
    answer = requests.get(
        f"{sandbox.graph_url}/users/{sandbox.info()['mailbox']}",
        verify=str(sandbox.ca_path),
        timeout=5,
    )
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["request-id"] == answer.headers["request-id"]


def test_one_off_fault_and_log(raw: RawGraph) -> None:
    raw.sandbox.faults.configure(
        {"one_offs": [{"method": "GET", "path": "/users/", "status": 429, "retry_after": "2"}]}
    )
    first = raw.call("GET", f"/users/{raw.info['mailbox']}")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    second = raw.call("GET", f"/users/{raw.info['mailbox']}")
    assert second.status_code == 200
    statuses = [
        e["status"] for e in raw.sandbox.request_log() if e["path"].startswith("/v1.0/users")
    ]
    assert statuses == [429, 200]
