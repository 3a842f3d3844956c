"""Identity endpoints: OpenID discovery and the v2.0 token endpoint (client credentials).

Checks the client secret, or a certificate assertion: a JWT signed RS256/PS256 with the
registered key, found by its ``x5t`` (SHA-1) or ``x5t#S256`` thumbprint, ``aud`` the token
URL, ``iss`` = ``sub`` = client id. Issues opaque bearer tokens that Graph routes require.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from automation.sandbox.framework import Request, Response, Router, json_response
from automation.sandbox.state import Tenant

TOKEN_LIFETIME = 3599
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def identity(tenant: Tenant) -> dict[str, Any]:
    """The identity part of the state."""
    return tenant.table("identity")


def register_app(
    tenant: Tenant,
    *,
    client_id: str,
    secret: str | None,
    certificate_pem: str | None,
    roles: list[str],
) -> None:
    """Register (or replace) an application."""
    certs = []
    if certificate_pem:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
        certs.append(
            {
                "sha1": cert.fingerprint(hashes.SHA1()).hex(),
                "sha256": cert.fingerprint(hashes.SHA256()).hex(),
                "pem": certificate_pem,
            }
        )
    identity(tenant).setdefault("apps", {})[client_id] = {
        "secret": secret,
        "certificates": certs,
        "roles": sorted(roles),
    }


def app_for_token(tenant: Tenant, token: str) -> tuple[str, tuple[str, ...]] | None:
    """(client id, current roles) for a live bearer token."""
    record = identity(tenant).get("tokens", {}).get(token)
    if not record or record["exp"] < time.time():
        return None
    app = identity(tenant).get("apps", {}).get(record["app"])
    if app is None:
        return None
    return record["app"], tuple(app["roles"])


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad_error(status: int, error: str, aadsts: int, description: str) -> Response:
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    trace = secrets.token_hex(16)
    text = f"AADSTS{aadsts}: {description} Trace ID: {trace} Timestamp: {stamp}"
    return json_response(
        status,
        {
            "error": error,
            "error_description": text,
            "error_codes": [aadsts],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": secrets.token_hex(16),
        },
    )


def register(router: Router, tenant: Tenant) -> None:
    """Add the identity routes."""

    def discovery(request: Request) -> Response:
        tid = request.params["tenant"]
        if tid != identity(tenant).get("tenant_id"):
            return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tid}' not found.")
        base = f"{request.base_url}/{tid}"
        return json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{request.base_url}/{tid}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                ],
                "response_types_supported": ["code", "id_token", "token"],
                "scopes_supported": ["openid"],
                "tenant_region_scope": "EU",
            },
        )

    def token(request: Request) -> Response:
        tid = request.params["tenant"]
        state = identity(tenant)
        if tid != state.get("tenant_id"):
            return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tid}' not found.")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, "Unsupported grant type.")
        client_id = form.get("client_id", "")
        app = state.get("apps", {}).get(client_id)
        if app is None:
            return _aad_error(
                400, "unauthorized_client", 700016, f"Application '{client_id}' not found."
            )
        scope = form.get("scope", "")
        if not any(part.endswith("/.default") for part in scope.split()):
            return _aad_error(
                400, "invalid_scope", 1002012, "The provided value for scope is not valid."
            )
        token_url = f"{request.base_url}/{tid}/oauth2/v2.0/token"
        if "client_secret" in form:
            expected = app.get("secret")
            if not expected or not hmac.compare_digest(
                form["client_secret"].encode(), str(expected).encode()
            ):
                return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        elif form.get("client_assertion_type") == JWT_BEARER:
            problem = _check_assertion(form.get("client_assertion", ""), app, client_id, token_url)
            if problem:
                return _aad_error(401, "invalid_client", 700027, problem)
        else:
            return _aad_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain 'client_assertion' or 'client_secret'.",
            )
        access_token = "sbx." + secrets.token_urlsafe(32)
        tokens = state.setdefault("tokens", {})
        now = time.time()
        for old in [key for key, rec in tokens.items() if rec["exp"] < now]:
            del tokens[old]
        tokens[access_token] = {"app": client_id, "exp": now + TOKEN_LIFETIME}
        state["issued"] = int(state.get("issued", 0)) + 1
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": access_token,
            },
        )

    router.add(
        "GET",
        "/{tenant}/v2.0/.well-known/openid-configuration",
        discovery,
        graph=False,
        auth=False,
    )
    router.add("POST", "/{tenant}/oauth2/v2.0/token", token, graph=False, auth=False)


def _check_assertion(assertion: str, app: dict[str, Any], client_id: str, token_url: str) -> str:
    """'' when the client assertion is valid, else the reason."""
    try:
        header_part = assertion.split(".")[0]
        header = json.loads(_b64url_decode(header_part))
    except (ValueError, IndexError):
        return "The client assertion is not a valid JWT."
    if not isinstance(header, dict):
        return "The client assertion is not a valid JWT."
    cert_pem = None
    for cert in app.get("certificates", []):
        if "x5t" in header and _b64url_decode(str(header["x5t"])).hex() == cert["sha1"]:
            cert_pem = cert["pem"]
        if "x5t#S256" in header and _b64url_decode(str(header["x5t#S256"])).hex() == cert["sha256"]:
            cert_pem = cert["pem"]
    if cert_pem is None:
        return "The certificate with the thumbprint in the assertion is not registered."
    algorithm = header.get("alg")
    if algorithm not in {"RS256", "PS256"}:
        return f"Unsupported signing algorithm '{algorithm}'."
    public_key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    try:
        claims = jwt.decode(
            assertion,
            key=public_key,  # type: ignore[arg-type]
            algorithms=[str(algorithm)],
            audience=token_url,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        return f"Client assertion failed signature or claims validation: {type(exc).__name__}."
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return "Client assertion issuer/subject must be the client id."
    return ""
