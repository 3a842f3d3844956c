"""Outbound proxies: the ``proxy`` setting and the standard variables, through a real proxy."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from automation.errors import SettingsError
from automation.graph import GraphClient, MsalTokenProvider, SecretCredential
from automation.graph.transport import ProxyRoutes, outbound_session
from automation.sandbox.server import Sandbox
from automation.settings import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "automation.example.toml"
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy", "no_proxy")


class _Tunnel(socketserver.BaseRequestHandler):
    """Answers one CONNECT to a loopback address and relays bytes both ways."""

    server: TunnelProxy

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host not in {"127.0.0.1", "localhost"}:
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with self.server.lock:
            self.server.tunnels.append(target)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        sockets = [self.request, upstream]
        try:
            while True:
                ready, _, _ = select.select(sockets, [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.request else self.request).sendall(data)
        finally:
            upstream.close()


class TunnelProxy(socketserver.ThreadingTCPServer):
    """A tiny CONNECT-only proxy on 127.0.0.1 that records each tunnel's target."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.lock = threading.Lock()
        self.tunnels: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[TunnelProxy]:
    server = TunnelProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _tokens(sandbox: Sandbox, proxy: str = "") -> MsalTokenProvider:
    info = sandbox.info()
    return MsalTokenProvider(
        tenant_id=info["tenant_id"],
        client_id=info["client_id"],
        credential=SecretCredential(secret=SecretStr(info["client_secret"])),
        authority_host=sandbox.url,
        verify=str(sandbox.ca_path),
        timeout=10.0,
        proxy=proxy,
    )


def _site(graph: GraphClient, sandbox: Sandbox) -> str:
    try:
        return str(graph.get_json(f"/sites/{sandbox.info()['site_id']}")["id"])
    finally:
        graph.close()


def test_the_proxy_setting_carries_sign_in_and_graph(sandbox: Sandbox, proxy: TunnelProxy) -> None:
    target = sandbox.url.removeprefix("https://")
    tokens = _tokens(sandbox, proxy.url)
    tokens.token()
    assert proxy.tunnels == [target]  # msal's session went through the proxy
    graph = GraphClient(
        base_url=sandbox.graph_url, tokens=tokens, verify=str(sandbox.ca_path), proxy=proxy.url
    )
    assert _site(graph, sandbox) == sandbox.info()["site_id"]
    assert proxy.tunnels == [target, target]  # and so did the Graph request
    assert [e["status"] for e in sandbox.request_log() if e["graph"]] == [200]


def test_without_the_setting_https_proxy_is_honoured_and_no_proxy_excludes(
    sandbox: Sandbox, proxy: TunnelProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = _tokens(sandbox)  # built before the variables: goes direct
    tokens.token()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    graph = GraphClient(base_url=sandbox.graph_url, tokens=tokens, verify=str(sandbox.ca_path))
    assert _site(graph, sandbox) == sandbox.info()["site_id"]
    assert len(proxy.tunnels) == 1

    monkeypatch.setenv("NO_PROXY", "example.org, 127.0.0.1")
    direct = GraphClient(base_url=sandbox.graph_url, tokens=tokens, verify=str(sandbox.ca_path))
    assert _site(direct, sandbox) == sandbox.info()["site_id"]
    assert len(proxy.tunnels) == 1  # excluded host: no new tunnel
    assert len([e for e in sandbox.request_log() if e["graph"]]) == 2


def test_sessions_keep_the_configured_ca_and_ignore_the_environment_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    session = outbound_session(verify="/tmp/ca.pem")
    assert session.trust_env is False
    assert session.verify == "/tmp/ca.pem"
    assert session.routes.for_url("https://graph.microsoft.com/v1.0") == {
        "https": "http://proxy.test:3128"
    }


@pytest.mark.parametrize(
    ("no_proxy", "url", "proxied"),
    [
        ("", "https://graph.microsoft.com/v1.0/me", True),
        ("*", "https://graph.microsoft.com/v1.0/me", False),
        ("microsoft.com", "https://graph.microsoft.com/v1.0/me", False),
        (".microsoft.com", "https://graph.microsoft.com/v1.0/me", False),
        ("soft.com", "https://graph.microsoft.com/v1.0/me", True),
        ("10.0.0.0/8", "https://10.1.2.3/x", False),
        ("10.0.0.0/8", "https://11.1.2.3/x", True),
        ("localhost:8443", "https://localhost:8443/x", False),
        ("localhost:8443", "https://localhost:9443/x", True),
        ("::1", "https://[::1]:8443/x", False),
    ],
)
def test_no_proxy_matching(no_proxy: str, url: str, proxied: bool) -> None:
    routes = ProxyRoutes.resolve(
        "", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": no_proxy, "http_proxy": "http://q:2"}
    )
    assert bool(routes.for_url(url)) is proxied


def test_the_setting_wins_over_the_variables() -> None:
    routes = ProxyRoutes.resolve(
        "http://set:8080", {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}
    )
    assert routes.for_url("https://graph.microsoft.com/") == {"https": "http://set:8080"}
    assert routes.for_url("http://feed.example/") == {"http": "http://set:8080"}


def test_proxy_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_CLIENT_SECRET", "from-the-environment")
    assert load_settings(EXAMPLE).proxy == ""
    monkeypatch.setenv("AUTOMATION_PROXY", "http://proxy.example.police.uk:8080")
    assert load_settings(EXAMPLE).proxy == "http://proxy.example.police.uk:8080"
    monkeypatch.setenv("AUTOMATION_PROXY", "socks5://proxy:1080")
    with pytest.raises(SettingsError, match="proxy"):
        load_settings(EXAMPLE)
