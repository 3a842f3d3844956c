"""Composition root: settings -> Graph client -> adapters -> the resolved workspace."""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from automation import logsetup
from automation.errors import AuthError, GraphError, NotFoundError, SettingsError
from automation.graph.auth import (
    CertificateCredential,
    MsalTokenProvider,
    SecretCredential,
    TokenProvider,
    load_certificate_credential,
)
from automation.graph.client import GraphClient, RetryPolicy, Transport
from automation.graph.drive import Drive
from automation.graph.mail import Mail
from automation.graph.planner import Planner
from automation.graph.sharepoint import SharePoint
from automation.graph.users import User, Users
from automation.localstate import LocalState
from automation.settings import Settings

log = logging.getLogger(__name__)


class _RedactingTokens:
    """Wraps a token provider so every token it hands out is masked in logs."""

    def __init__(self, inner: TokenProvider) -> None:
        self._inner = inner

    def token(self) -> str:
        value = self._inner.token()
        logsetup.register_secret(value)
        return value

    def invalidate(self) -> None:
        self._inner.invalidate()


def token_provider(settings: Settings) -> TokenProvider:
    """msal client credentials from settings (secret or certificate)."""
    credential: SecretCredential | CertificateCredential
    if settings.client_secret is not None:
        credential = SecretCredential(secret=settings.client_secret)
    elif settings.certificate is not None:
        credential = load_certificate_credential(
            settings.certificate.pem_path, settings.certificate.passphrase
        )
        if settings.certificate.passphrase is not None:
            logsetup.register_secret(settings.certificate.passphrase.get_secret_value())
    else:  # pragma: no cover - settings validation forbids it
        raise SettingsError(["give exactly one credential: client_secret or certificate"])
    return _RedactingTokens(
        MsalTokenProvider(
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            credential=credential,
            authority_host=settings.authority_host,
            verify=settings.verify,
            timeout=settings.http_read_timeout,
        )
    )


@dataclass(slots=True)
class Workspace:
    """Ids resolved once per process (and cached in local state between runs)."""

    site_id: str = ""
    site_url: str = ""
    list_id: str = ""
    list_url: str = ""
    drive_id: str = ""
    plan_id: str = ""
    buckets: dict[str, str] = field(default_factory=dict)


class App:
    """Everything a job needs, built from settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        tokens: TokenProvider | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``retry`` overrides the Graph client's default retry budget."""
        self.settings = settings
        # Long-lived import-time objects go to the permanent generation, so the full
        # collections after each draft (see drafts.py) stay cheap.
        gc.freeze()
        if settings.client_secret is not None:
            logsetup.register_secret(settings.client_secret.get_secret_value())
        self.tokens = tokens or token_provider(settings)
        self.client = GraphClient(
            base_url=settings.graph_url,
            tokens=self.tokens,
            transport=transport,
            verify=settings.verify,
            timeout=settings.timeout,
            retry=retry or RetryPolicy(),
        )
        self.sharepoint = SharePoint(self.client)
        self.drive = Drive(self.client)
        self.planner = Planner(self.client)
        self.users = Users(self.client)
        self.mail = Mail(self.client, settings.mailbox) if settings.mailbox else None
        self.state = LocalState(settings.state_dir)
        self.workspace = Workspace()
        self._lock = threading.Lock()
        self._user_cache: dict[str, User | None] = {}
        self._user_lock = threading.Lock()
        self.http = requests.Session()
        self.http.trust_env = False

    # -- resolution -----------------------------------------------------------------------
    def resolve(self, *, require_list: bool = True) -> Workspace:
        """Site, list, drive and plan ids (cached in local state; one lookup otherwise)."""
        ws = self.workspace
        if ws.site_id and (ws.list_id or not require_list):
            return ws
        cached = self.state.section("workspace")
        if cached.get("graph_url") == self.settings.graph_url and cached.get("list_id"):
            ws.site_id = str(cached["site_id"])
            ws.site_url = str(cached.get("site_url", ""))
            ws.list_id = str(cached["list_id"])
            ws.list_url = str(cached.get("list_url", ""))
            ws.drive_id = str(cached["drive_id"])
            ws.plan_id = str(cached["plan_id"])
            ws.buckets = dict(cached.get("buckets", {}))
            if self._cache_matches_settings(cached):
                return ws
        sp = self.settings.sharepoint
        if sp.site_id:
            site = self.client.get_json(f"/sites/{sp.site_id}")
        elif sp.hostname:
            site = self.sharepoint.site_by_path(sp.hostname, sp.site_path)
        else:
            raise SettingsError(["setting sharepoint.site_id or sharepoint.hostname is required"])
        ws.site_id = str(site["id"])
        ws.site_url = str(site.get("webUrl", ""))
        tracker = self.sharepoint.get_list(ws.site_id, sp.tracker_list)
        if tracker is None:
            if require_list:
                raise SettingsError(
                    [
                        f"tracker list '{sp.tracker_list}' not found on the site: "
                        "run `automation provision` first"
                    ]
                )
        else:
            ws.list_id = str(tracker["id"])
            ws.list_url = str(tracker.get("webUrl", ""))
        ws.drive_id = str(self.drive.site_drive(ws.site_id)["id"])
        if not self.settings.planner.plan_id:
            raise SettingsError(["setting planner.plan_id is required"])
        ws.plan_id = self.settings.planner.plan_id
        if not ws.buckets:
            ws.buckets = {
                str(b["name"]): str(b["id"]) for b in self.planner.list_buckets(ws.plan_id)
            }
        if ws.list_id:
            self.save_workspace()
        return ws

    def _cache_matches_settings(self, cached: dict[str, Any]) -> bool:
        sp = self.settings.sharepoint
        return bool(
            cached.get("tracker_list") == sp.tracker_list
            and cached.get("plan_id") == self.settings.planner.plan_id
            and (not sp.site_id or cached.get("site_id") == sp.site_id)
        )

    def save_workspace(self) -> None:
        """Cache the resolved ids."""
        ws = self.workspace
        self.state.set(
            "workspace",
            {
                "graph_url": self.settings.graph_url,
                "tracker_list": self.settings.sharepoint.tracker_list,
                "site_id": ws.site_id,
                "site_url": ws.site_url,
                "list_id": ws.list_id,
                "list_url": ws.list_url,
                "drive_id": ws.drive_id,
                "plan_id": ws.plan_id,
                "buckets": ws.buckets,
            },
        )

    def forget_workspace(self) -> None:
        """Drop cached ids (after a 404 on a cached id: the list may have been recreated)."""
        self.workspace = Workspace()
        self.state.set("workspace", {})

    def bucket_id(self, name: str) -> str:
        """The id of a bucket, creating it when missing (provision normally did)."""
        ws = self.resolve()
        with self._lock:
            if name in ws.buckets:
                return ws.buckets[name]
            ws.buckets = {
                str(b["name"]): str(b["id"]) for b in self.planner.list_buckets(ws.plan_id)
            }
            if name not in ws.buckets:
                created = self.planner.create_bucket(ws.plan_id, name)
                ws.buckets[name] = str(created["id"])
            self.save_workspace()
            return ws.buckets[name]

    def user(self, upn: str) -> User | None:
        """A user by UPN (cached); None when unknown or not given."""
        if not upn:
            return None
        with self._user_lock:  # one lookup per user, even with parallel workers
            if upn in self._user_cache:
                return self._user_cache[upn]
            try:
                found = self.users.get(upn)
            except NotFoundError:
                found = None
            self._user_cache[upn] = found
            return found

    def check_token(self) -> None:
        """Obtain a token now (fails fast with a clear message)."""
        try:
            self.tokens.token()
        except AuthError:
            raise
        except GraphError as exc:
            raise AuthError(f"token endpoint unreachable: {exc}") from None
