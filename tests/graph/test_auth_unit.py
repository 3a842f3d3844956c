"""Certificate loading and MsalTokenProvider with real msal over a fake requests adapter."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from automation.errors import AuthError
from automation.graph.auth import (
    CertificateCredential,
    MsalTokenProvider,
    SecretCredential,
    load_certificate_credential,
)
from automation.graph.transport import outbound_session

AUTHORITY_HOST = "https://127.0.0.1:8443"
TENANT = "tenant-1"
SECRET = "s3cr3t-value-never-logged"


def make_cert(
    passphrase: bytes | None = None, *, valid_days: int = 30
) -> tuple[str, str, x509.Certificate]:
    """(key PEM, certificate PEM, certificate) valid until ``valid_days`` from now."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "section55-test")])
    now = datetime.now(tz=UTC)
    ends = now + timedelta(days=valid_days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, ends) - timedelta(days=1))
        .not_valid_after(ends)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return key_pem, cert_pem, cert


@pytest.fixture(scope="module")
def cert_parts() -> tuple[str, str, x509.Certificate]:
    return make_cert()


def test_load_certificate_credential_and_thumbprint(
    tmp_path: Path, cert_parts: tuple[str, str, x509.Certificate]
) -> None:
    key_pem, cert_pem, cert = cert_parts
    pem = tmp_path / "app.pem"
    pem.write_text(key_pem + cert_pem)
    cred = load_certificate_credential(pem, None)
    assert cred.thumbprint == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert "BEGIN CERTIFICATE" in cred.certificate_pem
    assert "PRIVATE KEY" in cred.private_key_pem.get_secret_value()
    assert "PRIVATE" not in repr(cred)


def test_load_certificate_credential_errors_never_show_key_text(tmp_path: Path) -> None:
    key_pem, cert_pem, _ = make_cert(passphrase=b"right")
    pem = tmp_path / "app.pem"
    pem.write_text(key_pem + cert_pem)
    with pytest.raises(AuthError, match="passphrase") as info:
        load_certificate_credential(pem, SecretStr("wrong"))
    body_line = key_pem.splitlines()[1]
    assert body_line not in str(info.value)
    assert load_certificate_credential(pem, SecretStr("right")).passphrase is not None

    only_cert = tmp_path / "cert.pem"
    only_cert.write_text(cert_pem)
    with pytest.raises(AuthError, match="no PEM private key"):
        load_certificate_credential(only_cert, None)
    only_key = tmp_path / "key.pem"
    only_key.write_text(key_pem)
    with pytest.raises(AuthError, match="no PEM certificate"):
        load_certificate_credential(only_key, SecretStr("right"))
    with pytest.raises(AuthError, match="cannot be read"):
        load_certificate_credential(tmp_path / "missing.pem", None)


def test_load_certificate_credential_rejects_a_mismatched_certificate(tmp_path: Path) -> None:
    key_pem, _, _ = make_cert()
    _, other_cert, _ = make_cert()
    pem = tmp_path / "mixed.pem"
    pem.write_text(key_pem + other_cert)
    with pytest.raises(AuthError, match="does not match"):
        load_certificate_credential(pem, None)


# ----------------------------------------------------------------------------- msal over a fake


class FakeIdentityAdapter(BaseAdapter):
    """Answers discovery and token requests in-process (no sockets)."""

    def __init__(self, token_answer: Callable[[dict[str, list[str]]], tuple[int, Any]]) -> None:
        super().__init__()
        self.token_answer = token_answer
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        path = urlsplit(request.url or "").path
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            status, body = (
                200,
                {
                    "token_endpoint": f"{AUTHORITY_HOST}/{TENANT}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{AUTHORITY_HOST}/{TENANT}/oauth2/v2.0/authorize",
                    "issuer": f"{AUTHORITY_HOST}/{TENANT}/v2.0",
                },
            )
        elif path == f"/{TENANT}/oauth2/v2.0/token":
            raw = request.body or ""
            form = parse_qs(raw.decode() if isinstance(raw, bytes) else raw)
            status, body = self.token_answer(form)
        else:
            status, body = 404, {"error": "not_found"}
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass

    def token_posts(self) -> list[requests.PreparedRequest]:
        return [r for r in self.requests if r.method == "POST"]


def session_with(adapter: FakeIdentityAdapter) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", adapter)
    return session


def good_token(form: dict[str, list[str]]) -> tuple[int, Any]:
    return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "AT-1"}


def test_secret_token_is_cached_and_invalidate_goes_back_to_the_idp() -> None:
    adapter = FakeIdentityAdapter(good_token)
    provider = MsalTokenProvider(
        tenant_id=TENANT,
        client_id="client-1",
        credential=SecretCredential(secret=SecretStr(SECRET)),
        authority_host=AUTHORITY_HOST,
        http_client=session_with(adapter),
    )
    assert adapter.requests == []  # nothing happens before the first token
    assert provider.token() == "AT-1"
    assert provider.last_token_source == "identity_provider"
    assert provider.token() == "AT-1"
    assert provider.last_token_source == "cache"
    assert len(adapter.token_posts()) == 1
    form = parse_qs(str(adapter.token_posts()[0].body))
    assert form["client_secret"] == [SECRET]
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    # no instance discovery against login.microsoftonline.com for a local authority
    assert all(urlsplit(r.url or "").hostname == "127.0.0.1" for r in adapter.requests)

    provider.invalidate()
    provider.token()
    assert provider.last_token_source == "identity_provider"
    assert len(adapter.token_posts()) == 2


def test_token_error_raises_auth_error_without_the_secret() -> None:
    def refuse(form: dict[str, list[str]]) -> tuple[int, Any]:
        return 401, {
            "error": "invalid_client",
            "error_description": (
                f"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x {SECRET}"
            ),
            "error_codes": [7000215],
        }

    provider = MsalTokenProvider(
        tenant_id=TENANT,
        client_id="client-1",
        credential=SecretCredential(secret=SecretStr(SECRET)),
        authority_host=AUTHORITY_HOST,
        http_client=session_with(FakeIdentityAdapter(refuse)),
    )
    with pytest.raises(AuthError) as info:
        provider.token()
    assert info.value.code == "invalid_client"
    assert str(info.value) == (
        "token request failed: invalid_client: AADSTS7000215: Invalid client secret provided."
    )
    assert SECRET not in str(info.value)


def test_unreachable_authority_raises_auth_error() -> None:
    class Down(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            raise requests.ConnectionError("refused")

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", Down())
    provider = MsalTokenProvider(
        tenant_id=TENANT,
        client_id="c",
        credential=SecretCredential(secret=SecretStr(SECRET)),
        authority_host=AUTHORITY_HOST,
        http_client=session,
    )
    with pytest.raises(AuthError, match="unusable"):
        provider.token()


def test_certificate_assertion_carries_the_sha1_thumbprint(
    cert_parts: tuple[str, str, x509.Certificate],
) -> None:
    key_pem, cert_pem, cert = cert_parts
    adapter = FakeIdentityAdapter(good_token)
    provider = MsalTokenProvider(
        tenant_id=TENANT,
        client_id="client-1",
        credential=CertificateCredential(
            private_key_pem=SecretStr(key_pem), certificate_pem=cert_pem
        ),
        authority_host=AUTHORITY_HOST,
        http_client=session_with(adapter),
    )
    assert provider.token() == "AT-1"
    form = parse_qs(str(adapter.token_posts()[0].body))
    assert "client_secret" not in form
    assertion = form["client_assertion"][0]
    header = jwt.get_unverified_header(assertion)
    sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert header["x5t"].rstrip("=") == base64.urlsafe_b64encode(sha1).decode().rstrip("=")
    assert "x5c" in header
    claims = jwt.decode(
        assertion,
        cert.public_key(),
        algorithms=["RS256"],
        audience=(f"{AUTHORITY_HOST}/{TENANT}/oauth2/v2.0/token"),
    )
    assert claims["iss"] == claims["sub"] == "client-1"


def test_default_session_uses_the_configured_ca_and_timeout_despite_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/elsewhere.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/elsewhere.pem")
    seen: dict[str, Any] = {}

    class Capture(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            seen.update(kwargs)
            response = requests.Response()
            response.status_code = 204
            response._content = b""
            response.request = request
            return response

        def close(self) -> None:
            pass

    session = outbound_session(verify="/tmp/ca.pem", timeout=7.0)
    session.mount("https://", Capture())
    session.get("https://127.0.0.1:1/x")
    assert session.trust_env is False
    assert seen["verify"] == "/tmp/ca.pem"
    assert seen["timeout"] == 7.0
