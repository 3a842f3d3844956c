"""Composition root: settings -> Graph client -> adapters (no Graph calls, no caches)."""

from __future__ import annotations

import logging

import requests

from automation import logsetup
from automation.errors import AuthError, GraphError, SettingsError
from automation.graph.auth import (
    CertificateCredential,
    MsalTokenProvider,
    SecretCredential,
    TokenProvider,
    load_certificate_credential,
)
from automation.graph.calendar import OfficeCalendar
from automation.graph.client import GraphClient, RetryPolicy, Transport
from automation.graph.drive import Drive
from automation.graph.mail import Mail
from automation.graph.planner import Planner
from automation.graph.recommendations_list import RecommendationsList
from automation.graph.sharepoint import SharePoint
from automation.graph.tracker_list import TrackerList
from automation.graph.transport import outbound_session
from automation.graph.users import Users
from automation.graph.workspace import Ids, Workspace
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
            proxy=settings.proxy,
        )
    )


class App:
    """The composition root: builds the Graph client and the adapters, and holds them.

    It makes no Graph calls itself: workspace ids come from :class:`Workspace`, users from
    :class:`Users` (one cache), tracker items from :class:`TrackerList`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        tokens: TokenProvider | None = None,
        retry: RetryPolicy | None = None,
        client: GraphClient | None = None,
    ) -> None:
        """``retry`` overrides the Graph client's default retry budget; ``client`` replaces it."""
        self.settings = settings
        if settings.client_secret is not None:
            logsetup.register_secret(settings.client_secret.get_secret_value())
        self.tokens = tokens or token_provider(settings)
        self.client = client or GraphClient(
            base_url=settings.graph_url,
            tokens=self.tokens,
            transport=transport,
            verify=settings.verify,
            timeout=settings.timeout,
            retry=retry or RetryPolicy(),
            proxy=settings.proxy,
        )
        self.sharepoint = SharePoint(self.client)
        self.drive = Drive(self.client)
        self.planner = Planner(self.client)
        self.users = Users(self.client)
        self.mail = Mail(self.client, settings.mailbox) if settings.mailbox else None
        self.state = LocalState(settings.state_dir)
        self.workspace = Workspace(
            self.client,
            settings,
            self.state,
            sharepoint=self.sharepoint,
            drive=self.drive,
            planner=self.planner,
        )
        self.tracker = TrackerList(
            self.client,
            self.workspace,
            self.sharepoint,
            site_zone=settings.sharepoint.site_zone,
        )
        self.recommendations = RecommendationsList(
            self.client,
            self.workspace,
            self.sharepoint,
            self.state,
            list_name=settings.recommendations.list_name,
            site_zone=settings.sharepoint.site_zone,
        )
        calendar_mailbox = settings.calendar.mailbox or settings.mailbox
        self.calendar = (
            OfficeCalendar(self.client, calendar_mailbox, time_zone=settings.calendar.time_zone)
            if settings.calendar.enabled and calendar_mailbox
            else None
        )
        # Feeds and report pages are public web pages, not Graph: their own session.
        self.http: requests.Session = outbound_session(verify=settings.verify, proxy=settings.proxy)

    def resolve(self, *, require_list: bool = True) -> Ids:
        """The workspace ids (see :meth:`Workspace.resolve`)."""
        return self.workspace.resolve(require_list=require_list)

    def check_token(self) -> None:
        """Obtain a token now (fails fast with a clear message)."""
        try:
            self.tokens.token()
        except AuthError:
            raise
        except GraphError as exc:
            raise AuthError(f"token endpoint unreachable: {exc}") from None


def build_app(
    settings: Settings,
    *,
    transport: Transport | None = None,
    tokens: TokenProvider | None = None,
    retry: RetryPolicy | None = None,
    client: GraphClient | None = None,
) -> App:
    """Everything the jobs and commands need, built from settings (``client`` for benchmarks)."""
    return App(settings, transport=transport, tokens=tokens, retry=retry, client=client)
