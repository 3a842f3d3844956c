"""Microsoft Graph: the HTTP client (the only module that speaks HTTP to Graph), msal
tokens, and thin adapters for SharePoint, drives, Planner, mail and users."""

from __future__ import annotations

from automation.graph.auth import (
    CertificateCredential,
    MsalTokenProvider,
    SecretCredential,
    TokenProvider,
    load_certificate_credential,
)
from automation.graph.client import (
    BatchRequest,
    BatchResponse,
    GraphClient,
    GraphRequest,
    GraphResponse,
    Op,
    Outcome,
    RequestsTransport,
    RetryPolicy,
    Transport,
)

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "CertificateCredential",
    "GraphClient",
    "GraphRequest",
    "GraphResponse",
    "MsalTokenProvider",
    "Op",
    "Outcome",
    "RequestsTransport",
    "RetryPolicy",
    "SecretCredential",
    "TokenProvider",
    "Transport",
    "load_certificate_credential",
]
