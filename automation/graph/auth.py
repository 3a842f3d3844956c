"""App-only access tokens for Graph through msal (client-credentials flow).

The msal application is built lazily, on the first :meth:`MsalTokenProvider.token` call,
because msal fetches the authority's OpenID configuration in its constructor: the identity
endpoint only has to be reachable when a token is first needed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from automation.errors import AuthError
from automation.graph.transport import outbound_session

__all__ = [
    "CertificateCredential",
    "MsalTokenProvider",
    "SecretCredential",
    "TokenProvider",
    "auth_fix",
    "load_certificate_credential",
]

log = logging.getLogger(__name__)
_FILE = "certificate_file"

# Hosts for which msal validates the authority itself; for any other host (a sovereign
# cloud not listed here, or a local identity endpoint) instance discovery is switched off,
# because it would call login.microsoftonline.com.
_MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.us",
        "login-us.microsoftonline.com",
        "login.usgovcloudapi.net",
    }
)

# OAuth error codes that say "try again later" (RFC 6749 5.2 and Entra's server errors);
# every other refusal is about the credential, the tenant or the app registration.
_TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
_AADSTS = re.compile(r"AADSTS(\d+)")
_TOKEN_FIXES = {
    "7000215": "the client secret is wrong: copy the secret's Value (not its Secret ID) from "
    "the app registration (Certificates & secrets) into client_secret",
    "7000222": "the client secret has expired: add a new secret to the app registration and "
    "update client_secret",
    "700027": "the certificate is not uploaded to the app registration (Certificates & "
    "secrets) or has expired: upload the certificate from certificate.pem_path",
    "700016": "client_id is not an application in this tenant: check client_id and tenant_id",
    "90002": "tenant_id not found: copy Directory (tenant) ID",
    "900023": "tenant_id is not a valid tenant: copy Directory (tenant) ID",
}

_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretCredential:
    """A client secret registered on the app."""

    secret: SecretStr


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateCredential:
    """A certificate registered on the app and its private key (both PEM)."""

    private_key_pem: SecretStr
    certificate_pem: str
    passphrase: SecretStr | None = None

    @property
    def thumbprint(self) -> str:
        """SHA-1 of the DER certificate, upper-case hex (what Entra shows)."""
        cert = x509.load_pem_x509_certificate(self.certificate_pem.encode("ascii"))
        der = cert.public_bytes(serialization.Encoding.DER)
        return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def load_certificate_credential(
    pem_path: Path, passphrase: SecretStr | None
) -> CertificateCredential:
    """Read one PEM file holding the private key and the certificate.

    Raises:
        AuthError: the file is unreadable, lacks a part, or the key cannot be decrypted.
            The message names the file, never any key material.
    """
    try:
        text = pem_path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthError(
            f"certificate file {pem_path}: cannot be read ({type(exc).__name__})", code=_FILE
        ) from None

    keys: list[str] = []
    certs: list[str] = []
    for match in _PEM_BLOCK.finditer(text):
        label = match.group(1)
        if label.endswith("PRIVATE KEY"):
            keys.append(match.group(0))
        elif label == "CERTIFICATE":
            certs.append(match.group(0))
    if not keys:
        raise AuthError(f"certificate file {pem_path}: no PEM private key block", code=_FILE)
    if not certs:
        raise AuthError(f"certificate file {pem_path}: no PEM certificate block", code=_FILE)
    if len(keys) > 1:
        raise AuthError(f"certificate file {pem_path}: more than one private key", code=_FILE)

    key_pem = keys[0]
    password = passphrase.get_secret_value().encode() if passphrase is not None else None
    try:
        private_key = serialization.load_pem_private_key(key_pem.encode("ascii"), password)
    except (ValueError, TypeError):
        # cryptography's messages do not contain key text, but keep ours fixed anyway.
        raise AuthError(
            f"certificate file {pem_path}: private key cannot be loaded "
            "(wrong or missing passphrase, or an unsupported key)"
        ) from None
    try:
        cert = x509.load_pem_x509_certificate(certs[0].encode("ascii"))
    except ValueError:
        raise AuthError(f"certificate file {pem_path}: certificate cannot be parsed") from None
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise AuthError(
            f"certificate file {pem_path}: the first certificate does not match the key"
        )
    # The leaf certificate goes first: msal sends the chain as x5c in this order.
    return CertificateCredential(
        private_key_pem=SecretStr(key_pem),
        certificate_pem="\n".join(certs) + "\n",
        passphrase=passphrase,
    )


class TokenProvider(Protocol):
    """Source of bearer tokens for the Graph client."""

    def token(self) -> str:
        """A valid access token (from a cache when possible)."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token (Graph said 401)."""
        ...


class MsalTokenProvider:
    """Tokens for the app from msal's confidential client, cached by msal."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        credential: SecretCredential | CertificateCredential,
        authority_host: str = "https://login.microsoftonline.com",
        verify: str | bool = True,
        timeout: float = 30.0,
        scopes: Sequence[str] = ("https://graph.microsoft.com/.default",),
        http_client: requests.Session | None = None,
        proxy: str = "",
    ) -> None:
        """Configure; nothing is contacted until the first token is asked for.

        Args:
            http_client: the session msal uses; by default
                :func:`~automation.graph.transport.outbound_session` with ``verify``
                (so the configured CA is really used) and ``proxy``.
            proxy: the ``proxy`` setting; empty: the standard proxy variables.
        """
        if not tenant_id or not client_id:
            raise AuthError("tenant_id and client_id are required")
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._credential = credential
        self._authority_host = authority_host.rstrip("/")
        self._verify = verify
        self._timeout = timeout
        self._scopes = list(scopes)
        self._http_client = http_client
        self._proxy = proxy
        self._app: Any = None
        self._lock = threading.Lock()
        self._last_token_source: str | None = None

    @property
    def authority(self) -> str:
        """The authority URL handed to msal."""
        return f"{self._authority_host}/{self._tenant_id}"

    @property
    def last_token_source(self) -> str | None:
        """``"cache"`` or ``"identity_provider"`` for the last token returned."""
        return self._last_token_source

    def _client_credential(self) -> str | Mapping[str, str]:
        cred = self._credential
        if isinstance(cred, SecretCredential):
            return cred.secret.get_secret_value()
        value = {
            "private_key": cred.private_key_pem.get_secret_value(),
            "thumbprint": cred.thumbprint,
            "public_certificate": cred.certificate_pem,
        }
        if cred.passphrase is not None:
            value["passphrase"] = cred.passphrase.get_secret_value()
        return value

    def _build(self) -> Any:
        host = (urlsplit(self._authority_host).hostname or "").lower()
        session = self._http_client or outbound_session(
            verify=self._verify, proxy=self._proxy, timeout=self._timeout
        )
        kwargs: dict[str, Any] = {}
        if host not in _MICROSOFT_AUTHORITY_HOSTS:
            kwargs["instance_discovery"] = False
        try:
            return msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._client_credential(),
                authority=self.authority,
                http_client=session,
                **kwargs,
            )
        except ValueError:
            # msal's tenant discovery got a 4xx: the endpoint answered, the tenant is unknown.
            raise AuthError(
                f"tenant_id {self._tenant_id} not found at {self._authority_host}: "
                "copy Directory (tenant) ID from the app registration's Overview",
                code="tenant_not_found",
            ) from None
        except (requests.RequestException, msal.exceptions.MsalError, RuntimeError) as exc:
            raise AuthError(
                f"identity endpoint {self.authority} unusable (unreachable): {_describe(exc)}",
                code="authority_unavailable",
                transient=True,
            ) from None

    def token(self) -> str:
        """An access token for the configured scopes.

        Raises:
            AuthError: the identity endpoint refused or could not be reached.
        """
        with self._lock:
            if self._app is None:
                self._app = self._build()
            try:
                result = self._app.acquire_token_for_client(scopes=self._scopes)
            except (ValueError, requests.RequestException, msal.exceptions.MsalError) as exc:
                raise AuthError(
                    f"token request failed: {_describe(exc)}", code="request_failed", transient=True
                ) from None
        if not isinstance(result, dict):
            raise AuthError("token request failed: no response", code="no_response", transient=True)
        if "access_token" not in result:
            error = str(result.get("error") or "unknown_error")
            description = str(result.get("error_description") or "").strip()
            first_line = description.splitlines()[0] if description else ""
            raise AuthError(
                f"token request failed: {error}: {first_line}",
                code=error,
                transient=error in _TRANSIENT_TOKEN_ERRORS,
            )
        self._last_token_source = str(result.get("token_source") or "identity_provider")
        log.debug("token obtained from %s", self._last_token_source)
        return str(result["access_token"])

    def invalidate(self) -> None:
        """Drop msal's cached app tokens so the next call goes to the identity provider."""
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()


def auth_fix(exc: AuthError, *, certificate: bool, authority_host: str) -> str:
    """What a person does about ``exc``: one sentence naming the setting to change."""
    found = _AADSTS.search(str(exc))
    if found and found.group(1) in _TOKEN_FIXES:
        return _TOKEN_FIXES[found.group(1)]
    if exc.code == "invalid_client":
        if certificate:
            return _TOKEN_FIXES["700027"]
        return "the client secret is wrong or expired: create a new one in the app registration"
    if exc.code in ("invalid_tenant", "tenant_not_found"):
        return _TOKEN_FIXES["90002"]
    if exc.code == "certificate_file":
        return (
            "make certificate.pem_path readable by the service user (install -m 0640 -g "
            "<service group>) and holding the private key and the certificate"
        )
    if exc.transient:
        host = urlsplit(authority_host).netloc or authority_host
        return (
            f"the identity endpoint is unreachable: check authority_host ({host}), "
            "proxy/firewall and ca_bundle"
        )
    return (
        "check tenant_id, client_id and the credential (wrong or expired secret, certificate "
        "not uploaded to the app registration, wrong tenant)"
    )


def _describe(exc: BaseException) -> str:
    """A short description of a failure that never carries request bodies."""
    if isinstance(exc, requests.RequestException):
        return type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
