"""The sandbox's HTTPS server: one port for identity, Graph, upload URLs, feeds and admin.

Every request is logged (method, path, status, duration). Graph and upload routes go
through fault injection (latency, random 429/503, one-off failures). Handlers run under
the tenant lock; a handler that raises anything but ``ApiError`` is a sandbox bug: it is
answered 500 *and* kept in ``handler_errors`` so a test can fail on it.

Over 500 lines on purpose: the :class:`Sandbox` object is the one contract tests and the
CLI hold (start/stop, ready line, reset, pages, log, admin routes), and the request
dispatch it owns (authentication, faults, logging) reads its private state.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import shutil
import ssl
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

from automation.sandbox import identity
from automation.sandbox.faults import Faults, OneOff
from automation.sandbox.framework import (
    ApiError,
    CaseInsensitiveDict,
    Request,
    Response,
    Route,
    Router,
    error_body,
    json_response,
    parse_query,
)
from automation.sandbox.state import Tenant

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(slots=True)
class StaticPage:
    """A non-Graph page the sandbox serves (feeds, report pages), with validators."""

    content: bytes
    content_type: str
    etag: str
    last_modified: str
    status: int = 200


@dataclass(slots=True)
class SandboxContext:
    """What route modules get: the tenant, the router and an inner dispatcher for $batch."""

    tenant: Tenant
    router: Router
    dispatch: Callable[[Request], Response]
    log_inner: Callable[[Request, Response, float], None]
    base_url: Callable[[], str]
    # Where pre-authenticated downloads live: another host name than Graph's, as on a tenant.
    download_url: Callable[[], str]
    faults: Faults
    extras: dict[str, Any] = field(default_factory=dict)


class Sandbox:
    """A running (or startable) local Microsoft 365 tenant."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.data_dir = data_dir
        self.tenant = Tenant(data_dir)
        self.faults = Faults()
        if faults:
            self.faults.configure(faults)
        self.router = Router()
        self.log_lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.handler_errors: list[str] = []
        self.static: dict[str, StaticPage] = {}
        self.workdir = data_dir or Path(tempfile.mkdtemp(prefix="s55-sandbox-"))
        self._own_workdir = data_dir is None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ctx = SandboxContext(
            tenant=self.tenant,
            router=self.router,
            dispatch=self._dispatch_inner,
            log_inner=self._log_inner,
            base_url=lambda: self.url,
            download_url=lambda: self.download_url,
            faults=self.faults,
        )
        self._ca = self._load_or_make_ca()
        self._register_routes()

    # -- set-up -------------------------------------------------------------------------
    def _load_or_make_ca(self) -> trustme.CA:
        ca_key = self.workdir / "ca-key.pem"
        ca_cert = self.workdir / "ca.pem"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if ca_key.exists() and ca_cert.exists():
            return trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
        ca = trustme.CA(organization_name="Section 55 sandbox")
        ca.cert_pem.write_to_path(str(ca_cert))
        ca.private_key_pem.write_to_path(str(ca_key))
        ca_key.chmod(0o600)
        return ca

    def _register_routes(self) -> None:
        from automation.sandbox import routes

        identity.register(self.router, self.tenant)
        routes.register_all(self.ctx)

    @property
    def ca_path(self) -> Path:
        """PEM of the CA that signed the server certificate."""
        return self.workdir / "ca.pem"

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._httpd is None:
            raise RuntimeError("sandbox not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return f"https://{self.host}:{self.port}"

    @property
    def download_host(self) -> str:
        """The other name of this machine, for pre-authenticated download URLs.

        Graph's download redirect goes to a different host than ``graph.microsoft.com``
        (driveitem-get-content page: a pre-authenticated URL on the file's own host), so a
        client that keeps Graph's host or its bearer token for it is caught.
        """
        return "127.0.0.1" if self.host == "localhost" else "localhost"

    @property
    def download_url(self) -> str:
        """``https://localhost:PORT`` (the same port, the other host name)."""
        return f"https://{self.download_host}:{self.port}"

    @property
    def graph_url(self) -> str:
        """The Graph base URL clients use."""
        return f"{self.url}/v1.0"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind, seed (or load) the tenant and serve in a background thread."""
        from automation.sandbox import seed

        with self.tenant.lock:
            if not self.tenant.load():
                seed.seed_tenant(self.tenant, self.workdir)
                self.tenant.save()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # One certificate for both names: Graph's and the download host's.
        self._ca.issue_cert(self.host, self.download_host).configure_cert(context)
        httpd = ThreadingHTTPServer((self.host, self.requested_port), _make_handler(self))
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; removes the temporary work directory of an in-memory sandbox."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the freshly seeded tenant (same ids for apps and users), empty log."""
        from automation.sandbox import seed
        from automation.sandbox.routes import batch

        with self.tenant.lock:
            keep = self.tenant.data.get("seed")
            self.tenant.clear()
            seed.seed_tenant(self.tenant, self.workdir, previous=keep)
            self.tenant.save()
        self.faults.configure({})
        self.ctx.extras["batch_order"].seed(batch.SHUFFLE_SEED)
        self.clear_log()
        self.static.clear()
        self.handler_errors.clear()

    # -- facts for clients ----------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The ready-line facts (DESIGN.md §4.2) apart from ``config``."""
        facts = self.tenant.data["seed"]
        return {
            "graph_url": self.graph_url,
            "authority_host": self.url,
            "tenant_id": facts["tenant_id"],
            "client_id": facts["client_id"],
            "client_secret": facts["client_secret"],
            "ca_bundle": str(self.ca_path.resolve()),
            "feed_url": f"{self.url}/feed/",
            "site_id": facts["site_id"],
            "group_id": facts["group_id"],
            "plan_id": facts["plan_id"],
            "mailbox": facts["mailbox"],
        }

    @property
    def client_certificate_path(self) -> Path:
        """PEM (private key + certificate) registered for the app's certificate credential."""
        return self.workdir / "client-cert.pem"

    # -- log ------------------------------------------------------------------------------
    def request_log(self) -> list[dict[str, Any]]:
        """A copy of the request log."""
        with self.log_lock:
            return [dict(entry) for entry in self.requests]

    def clear_log(self) -> None:
        """Forget logged requests."""
        with self.log_lock:
            self.requests.clear()

    def _record(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self.requests.append(entry)

    def _log_inner(self, request: Request, response: Response, started: float) -> None:
        self._record(
            {
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "batch": True,
                "graph": True,
                "write": request.method in WRITE_METHODS,
            }
        )

    # -- static pages -----------------------------------------------------------------------
    def set_page(
        self,
        path: str,
        content: bytes,
        content_type: str = "application/rss+xml",
        status: int = 200,
    ) -> None:
        """Serve ``content`` at ``path`` (with ETag/Last-Modified for conditional GETs).

        ``path`` may carry a query (``/feed/?paged=2``): that page then answers requests
        with exactly that query, and the bare path answers the rest.
        """
        digest = hashlib.sha256(content).hexdigest()[:20]
        self.static[path] = StaticPage(
            content=content,
            content_type=content_type,
            etag=f'"{digest}"',
            last_modified=email.utils.formatdate(usegmt=True),
            status=status,
        )

    # -- dispatch -------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise ApiError(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty.",
            )
        found = identity.app_for_token(self.tenant, header[7:].strip())
        if found is None:
            raise ApiError(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            )
        request.app_id, request.roles = found

    def _run_handler(self, route: Route, request: Request) -> Response:
        try:
            with self.tenant.lock:
                response = route.handler(request)
                if request.method in WRITE_METHODS and response.status < 400:
                    self.tenant.save()
            return response
        except ApiError:
            raise
        except Exception:
            self.handler_errors.append(f"{request.method} {request.path}: {traceback.format_exc()}")
            log.exception("sandbox handler failed: %s %s", request.method, request.path)
            raise ApiError(
                500, "generalException", "The sandbox failed to handle the request."
            ) from None

    def _dispatch_inner(self, request: Request) -> Response:
        """Dispatch one inner $batch request (faults and auth applied, like a real one)."""
        request.in_batch = True
        rid = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            route, params = self.router.match(request.method, request.path)
            request.params = params
            injected = self.faults.decide(request.method, request.path)
            if injected and injected.when == "before":
                response = _error_response(
                    injected.status, injected.code, injected.message, rid, injected.headers
                )
            else:
                response = self._run_handler(route, request)
                if injected:
                    response = _error_response(
                        injected.status, injected.code, injected.message, rid, injected.headers
                    )
        except ApiError as exc:
            response = _error_response(
                exc.status, exc.code, exc.message, rid, exc.headers, exc.inner_code
            )
        self._log_inner(request, response, started)
        return response

    def handle(self, request: Request) -> Response:
        """Answer one top-level request."""
        rid = str(uuid.uuid4())
        path = request.path
        if path.startswith("/_sandbox/"):
            return self._admin(request)
        if request.method == "GET":
            # A page set with its query (/feed/?paged=2) wins over the bare path.
            query = "&".join(f"{key}={value}" for key, value in sorted(request.query.items()))
            for key in (f"{path}?{query}" if query else "", path):
                if key in self.static:
                    return self._static(request, self.static[key])
        try:
            route, params = self.router.match(request.method, path)
        except ApiError as exc:
            return _error_response(
                exc.status, exc.code, exc.message, rid, exc.headers, exc.inner_code
            )
        request.params = params
        faultable = route.graph or path.startswith("/_upload/")
        injected = self.faults.decide(request.method, path) if faultable else None
        if faultable and self.faults.latency_seconds:
            time.sleep(self.faults.latency_seconds)
        if injected and injected.when == "before":
            return _error_response(
                injected.status, injected.code, injected.message, rid, injected.headers
            )
        try:
            if route.auth:
                self._authenticate(request)
            response = self._run_handler(route, request)
        except ApiError as exc:
            return _error_response(
                exc.status, exc.code, exc.message, rid, exc.headers, exc.inner_code
            )
        if injected:
            return _error_response(
                injected.status, injected.code, injected.message, rid, injected.headers
            )
        response.headers.setdefault("request-id", rid)
        return response

    def _static(self, request: Request, page: StaticPage) -> Response:
        headers = {
            "Content-Type": page.content_type,
            "ETag": page.etag,
            "Last-Modified": page.last_modified,
        }
        if request.headers.get("if-none-match") == page.etag:
            return Response(304, b"", headers)
        if request.headers.get("if-modified-since") == page.last_modified and (
            "if-none-match" not in request.headers
        ):
            return Response(304, b"", headers)
        return Response(page.status, page.content, headers)

    # -- admin API (not Graph; loopback only) -----------------------------------------------
    def _admin(self, request: Request) -> Response:
        path, method = request.path, request.method
        try:
            if path == "/_sandbox/log" and method == "GET":
                return json_response(200, {"value": self.request_log()})
            if path == "/_sandbox/log" and method == "DELETE":
                self.clear_log()
                return Response(204)
            if path == "/_sandbox/faults" and method == "GET":
                return json_response(200, self.faults.to_dict())
            if path == "/_sandbox/faults" and method == "PUT":
                self.faults.configure(request.json_object())
                return json_response(200, self.faults.to_dict())
            if path == "/_sandbox/faults/one-off" and method == "POST":
                self.faults.add_one_off(OneOff(**request.json_object()))
                return json_response(200, self.faults.to_dict())
            if path == "/_sandbox/reset" and method == "POST":
                self.reset()
                return Response(204)
            if path == "/_sandbox/pages" and method == "POST":
                body = request.json_object()
                self.set_page(
                    str(body["path"]),
                    str(body["content"]).encode("utf-8"),
                    str(body.get("content_type", "application/rss+xml")),
                    int(body.get("status", 200)),
                )
                return Response(204)
            if path.startswith("/_sandbox/apps/") and path.endswith("/roles") and method == "PUT":
                client_id = path.split("/")[3]
                roles = request.json_object().get("roles", [])
                with self.tenant.lock:
                    apps = identity.identity(self.tenant).get("apps", {})
                    if client_id not in apps:
                        raise ApiError(404, "itemNotFound", "No such app.")
                    apps[client_id]["roles"] = sorted(str(role) for role in roles)
                    self.tenant.save()
                return Response(204)
        except (TypeError, ValueError, KeyError) as exc:
            return json_response(400, {"error": {"code": "BadRequest", "message": str(exc)}})
        except ApiError as exc:
            return _error_response(exc.status, exc.code, exc.message, str(uuid.uuid4()), {})
        return json_response(404, {"error": {"code": "itemNotFound", "message": "unknown"}})


def _error_response(
    status: int,
    code: str,
    message: str,
    request_id: str,
    headers: dict[str, str],
    inner_code: str | None = None,
) -> Response:
    out = {"Content-Type": "application/json", "request-id": request_id}
    out.update(headers)
    return Response(status, error_body(code, message, request_id, inner_code), out)


def _make_handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "S55Sandbox/1.0"
        # Headers and body go out in separate writes; with Nagle on, the body waits for the
        # client's delayed ACK (~40 ms per request on Linux), swamping injected latency.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                # The client went away mid-body (killed): like a real server, do nothing.
                self.close_connection = True
                return
            split = urlsplit(self.path)
            from urllib.parse import unquote

            request = Request(
                method=self.command,
                path=unquote(split.path),
                query=parse_query(split.query),
                headers=CaseInsensitiveDict(dict(self.headers.items())),
                body=body,
                base_url=sandbox.url,
            )
            response = sandbox.handle(request)
            headers = dict(response.headers)
            if "client-request-id" in request.headers:
                headers.setdefault("client-request-id", request.headers["client-request-id"])
            headers.setdefault("Cache-Control", "no-store")
            # Log before answering: a client that has its answer must find it in the log.
            if not request.path.startswith("/_sandbox/"):
                route_kind = "static" if request.path in sandbox.static else "http"
                sandbox._record(
                    {
                        "method": request.method,
                        "path": request.path,
                        "status": response.status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "batch": False,
                        "graph": request.path.startswith("/v1.0/"),
                        "write": request.method in WRITE_METHODS
                        and request.path.startswith(("/v1.0/", "/_upload/"))
                        and request.path != "/v1.0/$batch",
                        "kind": route_kind,
                    }
                )
            self.send_response(response.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_PATCH = _serve
        do_DELETE = _serve
        do_HEAD = _serve

    return Handler


def dump_ready_line(info: dict[str, Any]) -> str:
    """The one-line JSON ready message."""
    return json.dumps(info, separators=(", ", ": "))
