"""Doctor's checks that need no Graph call: what relevance is decided for, the state
directory, credential expiry, and whether report pages can be read.

Each answers with text that `automation.cli.doctor` folds into its existing check lines
(settings, token, feed): the output keeps one line per check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from automation.domain.publications import Publication
from automation.settings import Settings, state_dir_problem
from automation.webfetch import WebFetchError, WebSession, bounded_get

EXPIRY_WARNING = dt.timedelta(days=30)
"""How far ahead doctor warns that the secret or certificate runs out."""

SECRET_FIX = (
    "add a new client secret to the app registration (Certificates & secrets), put it in "
    "client_secret (AUTOMATION_CLIENT_SECRET) and its Expires date in secret_expires_on"
)
CERTIFICATE_FIX = (
    "make a new certificate, upload it to the app registration (Certificates & secrets) "
    "and replace the file at certificate.pem_path"
)
STATE_FIX = (
    "create the directory for the service user (install -d -o <user> DIR) or set state_dir "
    "(AUTOMATION_STATE_DIR) to a directory that user can write"
)
REPORT_PAGES_FIX = (
    "let this host reach the report pages (proxy, firewall, ca_bundle), or set "
    "fetch_report_pages = false (recommendations are then typed in by hand)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expiry:
    """When a credential runs out, as doctor says it."""

    text: str
    """"" when nothing needs saying; otherwise a sentence naming the date."""
    expired: bool = False
    fix: str = ""


def relevance_line(settings: Settings) -> str:
    """What relevance is decided for: the force and every alias used."""
    aliases = ", ".join(settings.force_aliases) or "none"
    return f"deciding relevance for: {settings.force_name} (aliases: {aliases})"


def state_dir_line(settings: Settings) -> str:
    """The problem with the state directory, or "" when this user can keep state there."""
    return state_dir_problem(settings.state_dir)


def certificate_not_after(settings: Settings) -> dt.datetime | None:
    """The end of the certificate's validity (the file's first certificate), if readable."""
    if settings.certificate is None:
        return None
    try:
        data = settings.certificate.pem_path.read_bytes()
        return x509.load_pem_x509_certificate(data).not_valid_after_utc
    except (OSError, ValueError):
        return None  # the token check reports an unreadable file with its own fix


def credential_expiry(settings: Settings, *, now: dt.datetime) -> Expiry:
    """A warning 30 days ahead of the secret's or certificate's expiry; failed once past."""
    if settings.certificate is not None:
        ends = certificate_not_after(settings)
        what, fix = "the certificate", CERTIFICATE_FIX
        on = ends.date().isoformat() if ends is not None else ""
    elif settings.secret_expires_on is not None:
        day = settings.secret_expires_on
        # Valid through the day Entra shows (its end, UTC).
        ends = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
        what, fix = "the client secret (secret_expires_on)", SECRET_FIX
        on = day.isoformat()
    else:
        return Expiry(text="")
    if ends is None:
        return Expiry(text="")
    if ends <= now:
        return Expiry(text=f"{what} expired on {on}", expired=True, fix=fix)
    if ends - now <= EXPIRY_WARNING:
        days = (ends - now).days
        return Expiry(text=f"WARNING: {what} expires on {on} (in {days} day(s)): {fix}", fix=fix)
    return Expiry(text=f"{what} valid until {on}")


def report_pages_line(
    settings: Settings, session: WebSession, publications: tuple[Publication, ...]
) -> tuple[str, bool]:
    """Whether a report page of the feed can be read: (text, failed).

    Only asked when ``fetch_report_pages`` is on, and only of an allowlisted host (others
    are never read).
    """
    if not settings.fetch_report_pages:
        return "", False
    allowed = {host.strip().lower() for host in settings.report_hosts if host.strip()}
    link = next(
        (pub.link for pub in publications if (urlsplit(pub.link).hostname or "") in allowed), ""
    )
    if not link:
        return "report pages: no item links to a report_hosts host (none will be read)", False
    host = urlsplit(link).hostname or link
    try:
        with bounded_get(
            session,
            link,
            headers={"Accept": "text/html"},
            timeout=settings.timeout,
            verify=settings.verify,
        ) as response:
            status = response.status_code
    except WebFetchError as exc:
        return (
            f"report pages on {host} cannot be read ({exc}): recommendations will not be "
            "pre-filled from the reports",
            True,
        )
    if status >= 400:
        return f"report pages on {host} answer HTTP {status}: not pre-filled", True
    return f"report pages on {host} readable", False
