"""The seeded tenant: an OPCC site with its library, a group with a Planner plan, users for
each role, a sending mailbox, and one registered application (secret and certificate).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from automation.sandbox import identity
from automation.sandbox.framework import now_iso
from automation.sandbox.site_access import grant_site
from automation.sandbox.state import Tenant

DOMAIN = "opcc.example.org"
SP_HOSTNAME = "opcc-example.sharepoint.com"
SITE_PATH = "/sites/OPCC"
OTHER_SITE_PATH = "/sites/Intranet"

# role -> (local part, display name, job title)
USERS: dict[str, tuple[str, str, str]] = {
    "policy_officer": ("policy.officer", "Priya Shah", "Policy Officer"),
    "pcc": ("pcc", "Sarah Taylor", "Police and Crime Commissioner"),
    "chief_executive": ("chief.executive", "Mark Stokes", "Chief Executive"),
    "chief_constable_office": ("cc.office", "Chief Constable's Office", "Staff Officer"),
    "panel": ("panel", "Police and Crime Panel", "Panel Secretariat"),
    "website": ("website", "Website Team", "Communications Officer"),
    "mailbox": ("opcc", "OPCC Section 55", "Shared mailbox"),
}

APP_ROLES = [
    "Sites.Selected",
    "Sites.Manage.All",
    "Tasks.ReadWrite.All",
    "Mail.Send",
    "Mail.ReadWrite",
    "Calendars.ReadWrite",
    "User.ReadBasic.All",
]


def _graph_id(length: int = 28) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def make_client_certificate(common_name: str) -> tuple[str, str]:
    """(private key PEM, certificate PEM) for the app's certificate credential."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def seed_tenant(tenant: Tenant, workdir: Path, previous: dict[str, Any] | None = None) -> None:
    """Fill an empty tenant. ``previous`` (from a reset) keeps ids and credentials stable."""
    facts: dict[str, Any] = dict(previous or {})
    facts.setdefault("tenant_id", str(uuid.uuid4()))
    facts.setdefault("client_id", str(uuid.uuid4()))
    facts.setdefault("client_secret", "sbx~" + secrets.token_urlsafe(30))
    facts.setdefault("site_id", f"{SP_HOSTNAME},{uuid.uuid4()},{uuid.uuid4()}")
    facts.setdefault("drive_id", "b!" + _graph_id(64))
    facts.setdefault("group_id", str(uuid.uuid4()))
    facts.setdefault("plan_id", _graph_id())
    facts.setdefault("mailbox", f"opcc@{DOMAIN}")
    facts.setdefault("user_ids", {role: str(uuid.uuid4()) for role in USERS})
    cert_path = workdir / "client-cert.pem"
    if "client_cert_pem" not in facts or not cert_path.exists():
        key_pem, cert_pem = make_client_certificate("s55-automation-sandbox")
        cert_path.write_text(key_pem + cert_pem, encoding="utf-8")
        cert_path.chmod(0o600)
        facts["client_cert_pem"] = cert_pem
    tenant.data["seed"] = facts

    ident = identity.identity(tenant)
    ident["tenant_id"] = facts["tenant_id"]
    identity.register_app(
        tenant,
        client_id=facts["client_id"],
        secret=facts["client_secret"],
        certificate_pem=facts["client_cert_pem"],
        roles=list(APP_ROLES),
    )

    created = now_iso()
    users = tenant.table("users")
    for role, (local, name, title) in USERS.items():
        uid = facts["user_ids"][role]
        given, _, surname = name.partition(" ")
        users[uid] = {
            "id": uid,
            "businessPhones": [],
            "displayName": name,
            "givenName": given,
            "jobTitle": title,
            "mail": f"{local}@{DOMAIN}",
            "mobilePhone": None,
            "officeLocation": "OPCC",
            "preferredLanguage": "en-GB",
            "surname": surname or None,
            "userPrincipalName": f"{local}@{DOMAIN}",
        }
        tenant.table("mailboxes").setdefault(f"{local}@{DOMAIN}".lower(), {"messages": {}})

    tenant.table("groups")[facts["group_id"]] = {
        "id": facts["group_id"],
        "displayName": "OPCC Policy Team",
        "mail": f"policyteam@{DOMAIN}",
        "mailEnabled": True,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
        "createdDateTime": created,
    }
    site_id = facts["site_id"]
    tenant.table("sites")[site_id] = {
        "id": site_id,
        "name": "OPCC",
        "displayName": "Office of the Police and Crime Commissioner",
        "webUrl": f"https://{SP_HOSTNAME}{SITE_PATH}",
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "hostname": SP_HOSTNAME,
        "path": SITE_PATH,
        "drive_id": facts["drive_id"],
    }
    if "Sites.Selected" in APP_ROLES:
        # As an administrator would (graph.md §9): Sites.Selected reaches no site ungranted.
        grant_site(
            tenant.table("sites")[site_id], facts["client_id"], ["write"], "Section 55 automation"
        )
    # A second site the app is not granted: Sites.Selected alone must not reach it.
    other_id = facts.setdefault("other_site_id", f"{SP_HOSTNAME},{uuid.uuid4()},{uuid.uuid4()}")
    tenant.table("sites")[other_id] = {
        "id": other_id,
        "name": "Intranet",
        "displayName": "OPCC intranet",
        "webUrl": f"https://{SP_HOSTNAME}{OTHER_SITE_PATH}",
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "hostname": SP_HOSTNAME,
        "path": OTHER_SITE_PATH,
    }
    tenant.table("drives")[facts["drive_id"]] = {
        "id": facts["drive_id"],
        "name": "Documents",
        "driveType": "documentLibrary",
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "webUrl": f"https://{SP_HOSTNAME}{SITE_PATH}/Shared%20Documents",
        "site_id": site_id,
    }
    planner = tenant.table("planner")
    plans = planner.setdefault("plans", {})
    plans[facts["plan_id"]] = {
        "id": facts["plan_id"],
        "title": "Section 55 responses",
        "owner": facts["group_id"],
        "createdDateTime": created,
        "createdBy": {"application": {"id": facts["client_id"], "displayName": None}},
        "container": {
            "@odata.type": "#microsoft.graph.plannerPlanContainer",
            "containerId": facts["group_id"],
            "type": "group",
            "url": f"https://graph.microsoft.com/v1.0/groups/{facts['group_id']}",
        },
        "etag_version": 1,
    }
    planner.setdefault("buckets", {})
    planner.setdefault("tasks", {})
    planner.setdefault("details", {})


def user_email(role: str) -> str:
    """The seeded address of a role."""
    return f"{USERS[role][0]}@{DOMAIN}"
