"""``automation doctor``: check settings, token and every resource, one line each.

Each check prints ``OK   <check>: <detail>`` or ``FAIL <check>: <problem>`` followed by an
indented ``fix:`` hint. Checks go on after a failure where they can; without a token the
Graph checks are reported as skipped. Nothing is sent to anyone: the mailbox check creates
and deletes a draft, the library check writes and deletes a probe file. Output never holds a
secret or a token (every line also goes through the log redactor).
(Over 500 lines: one short function per check, in the order doctor prints them.)
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from automation import logsetup
from automation.app import build_app, token_provider
from automation.cli.doctor_local import (
    REPORT_PAGES_FIX,
    STATE_FIX,
    credential_expiry,
    relevance_line,
    report_pages_line,
    state_dir_line,
)
from automation.documents import check_template
from automation.drafts import template_path
from automation.errors import (
    AuthError,
    AutomationError,
    FeedError,
    ForbiddenError,
    GraphError,
    NotFoundError,
    UnauthorizedError,
)
from automation.exitcodes import ExitCode
from automation.feed import fetch_feed
from automation.graph.auth import TokenProvider, auth_fix
from automation.graph.client import RetryPolicy, Transport
from automation.graph.tracker_list import COLUMN_SELECT
from automation.graph.transport import outbound_session
from automation.jobs.provision import TRIAGE_BUCKET, column_drift
from automation.mailrender import MailRenderer
from automation.settings import Settings

__all__ = ["CheckResult", "Doctor", "run_doctor"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# A doctor answers quickly: one repeat at most, and no long Retry-After waits.
RETRY = RetryPolicy(max_attempts=2, backoff_base=0.5, backoff_cap=2.0, max_retry_after=5.0)
PROBE_NAME = ".s55-doctor-probe.txt"
PROBE_CONTENT = b"Section 55 automation: doctor write check. Safe to delete.\n"
PROBE_SUBJECT = "Section 55 doctor check (not sent)"
GRAPH_CHECKS = ("site", "tracker list", "library", "planner", "users", "mailbox")

SITE_HINT = (
    "grant the app write access to the site (Sites.Selected: POST /sites/{site-id}/permissions "
    'with {"roles": ["write"], "grantedToIdentities": [{"application": {"id": "<client_id>"}}]}), '
    "and check sharepoint.site_id or sharepoint.hostname + site_path (the site URL)"
)
SITE_GRANT_HINT = (
    "with Sites.Selected the app reaches only the sites granted to it: an administrator "
    "(holding Sites.FullControl.All) sends POST https://graph.microsoft.com/v1.0/sites/"
    "{{site-id}}/permissions with "
    '{{"roles": ["write"], "grantedToIdentities": [{{"application": {{"id": "{client_id}", '
    '"displayName": "Section 55 automation"}}}}]}} (the site id: GET /sites/{where}?$select=id); '
    "or correct sharepoint.site_id / hostname + site_path if this is the wrong site"
)
PROVISION_HINT = "run `automation provision`"
LIBRARY_WRITE_HINT = (
    "give the app write permission on the site (Sites.Selected grant with role write, "
    "or Sites.ReadWrite.All)"
)
PLANNER_HINT = (
    "grant Tasks.ReadWrite.All (application, admin consent), check planner.plan_id, "
    "then run `automation provision`"
)
USERS_HINT = (
    "grant User.ReadBasic.All (application, admin consent) and check the spelling of the "
    "addresses under [people] and each stage's assignee"
)
MAILBOX_HINT = (
    "grant Mail.Send and Mail.ReadWrite (application, admin consent) and include the mailbox "
    "in the app's scope: the Exchange application access policy (New-ApplicationAccessPolicy) "
    "or the RBAC for Applications management scope"
)
FEED_HINT = "check feed_urls and that this host can reach the feed (proxy, firewall, ca_bundle)"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: Literal["OK", "FAIL", "SKIP"]
    detail: str
    hint: str = ""

    @property
    def failed(self) -> bool:
        """True for a failed check."""
        return self.status == "FAIL"

    def lines(self) -> list[str]:
        """The check as printed: a status line, and a ``fix:`` line after a failure."""
        out = [f"{self.status:<4} {self.name}: {self.detail}"]
        if self.failed and self.hint:
            out.append(f"      fix: {self.hint}")
        return [logsetup.redact(line) for line in out]


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name=name, status="OK", detail=detail)


def _fail(name: str, problem: str, hint: str) -> CheckResult:
    return CheckResult(name=name, status="FAIL", detail=problem, hint=hint)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


class Doctor:
    """Runs the checks; :meth:`checks` yields each result as soon as it is known."""

    def __init__(
        self,
        settings: Settings,
        *,
        tokens: TokenProvider | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings.model_copy(
            update={
                "http_connect_timeout": min(settings.http_connect_timeout, CONNECT_TIMEOUT),
                "http_read_timeout": min(settings.http_read_timeout, READ_TIMEOUT),
            }
        )
        if settings.client_secret is not None:
            logsetup.register_secret(settings.client_secret.get_secret_value())
        self._tokens = tokens
        self._transport = transport
        self._site_id = ""

    # -- plumbing --------------------------------------------------------------------------
    def _connect(self, tokens: TokenProvider) -> None:
        app = build_app(self.settings, transport=self._transport, tokens=tokens, retry=RETRY)
        self.client = app.client
        self.sharepoint = app.sharepoint
        self.drive = app.drive
        self.planner = app.planner
        self.users = app.users

    @staticmethod
    def _guarded(name: str, hint: str, check: Callable[[], CheckResult]) -> CheckResult:
        try:
            return check()
        except AutomationError as exc:
            log.info("doctor: check %s failed: %s", name, type(exc).__name__)
            return _fail(name, str(exc), hint)

    # -- the checks ------------------------------------------------------------------------
    def checks(self) -> Iterator[CheckResult]:
        """Every check, in order."""
        yield self._settings()
        yield self._statutory_recipients()
        yield self._ca_bundle()
        yield self._templates_dir()
        token = self._token()
        yield token
        if token.failed:
            for name in GRAPH_CHECKS:
                yield CheckResult(name=name, status="SKIP", detail="skipped (no access token)")
        else:
            try:
                yield from self._graph_checks()
            finally:
                self.client.close()
        yield self._word_template()
        yield self._email_templates()
        yield from self._feeds()

    def reach_site(self) -> tuple[list[CheckResult], str]:
        """The token and site checks alone (what ``--probe`` needs); and the site id or "".

        After a token, :attr:`client` and the adapters are connected (the caller closes
        the client).
        """
        token = self._token()
        if token.failed:
            return [token], ""
        site = self._guarded("site", SITE_HINT, self._site)
        return [token, site], self._site_id

    def _graph_checks(self) -> Iterator[CheckResult]:
        yield self._guarded("site", SITE_HINT, self._site)
        for name, hint, check in (
            ("tracker list", PROVISION_HINT, self._tracker_list),
            ("library", LIBRARY_WRITE_HINT, self._library),
        ):
            if self._site_id:
                yield self._guarded(name, hint, check)
            else:
                yield CheckResult(name=name, status="SKIP", detail="skipped (no site)")
        yield self._guarded("planner", PLANNER_HINT, self._planner)
        yield self._guarded("users", USERS_HINT, self._users)
        yield self._guarded("mailbox", MAILBOX_HINT, self._mailbox)

    def _settings(self) -> CheckResult:
        s = self.settings
        kind = "certificate" if s.certificate is not None else "secret"
        state = state_dir_line(s)
        if state:
            return _fail("settings", state, STATE_FIX)
        return _ok(
            "settings",
            f"tenant {s.tenant_id}, client {s.client_id}, credential {kind}, "
            f"authority host {_host(s.authority_host)}, graph host {_host(s.graph_url)}, "
            f"state_dir {s.state_dir} writable; {relevance_line(s)}",
        )

    def _statutory_recipients(self) -> CheckResult:
        """HMICFRS and the Home Secretary get copies (Police Act 1996 s.55(5), as amended)."""
        recipients = self.settings.recipients
        missing = recipients.missing_statutory()
        if not missing:
            return _ok(
                "statutory recipients",
                f"hmicfrs {', '.join(recipients.hmicfrs)}; "
                f"home_secretary {', '.join(recipients.home_secretary)}",
            )
        names = ", ".join(f"recipients.{group}" for group in missing)
        if recipients.allow_missing_statutory_recipients:
            return _ok(
                "statutory recipients",
                f"{names} empty: no copy is emailed (allow_missing_statutory_recipients)",
            )
        return _fail(
            "statutory recipients",
            f"{names} empty: s.55(5) requires copies to HMICFRS and the Home Secretary",
            "set the address(es) your office sends s.55 copies to, or, if they are sent "
            "another way, recipients.allow_missing_statutory_recipients = true",
        )

    def _ca_bundle(self) -> CheckResult:
        path = self.settings.ca_bundle
        if path is None:
            return _ok("ca bundle", "not set (the system trust store is used)")
        hint = "set ca_bundle to a readable PEM file of CA certificates"
        try:
            data = path.read_bytes()
        except OSError as exc:
            return _fail("ca bundle", f"{path}: cannot be read ({exc.strerror})", hint)
        count = data.count(b"-----BEGIN CERTIFICATE-----")
        if not count:
            return _fail("ca bundle", f"{path}: no PEM certificate in the file", hint)
        return _ok("ca bundle", f"{path} ({count} certificate(s))")

    def _templates_dir(self) -> CheckResult:
        folder = self.settings.templates_dir
        if not folder.is_dir():
            return _fail(
                "templates dir",
                f"{folder}: not a directory",
                "set templates_dir to the folder holding section55_response.docx and email/",
            )
        return _ok("templates dir", str(folder))

    def _token(self) -> CheckResult:
        try:
            tokens = self._tokens or token_provider(self.settings)
            tokens.token()
        except AuthError as exc:
            expiry = credential_expiry(self.settings, now=dt.datetime.now(dt.UTC))
            note = f" ({expiry.text})" if expiry.expired else ""
            fix = auth_fix(
                exc,
                certificate=self.settings.certificate is not None,
                authority_host=self.settings.authority_host,
            )
            return _fail("token", f"{exc}{note}", expiry.fix if expiry.expired else fix)
        self._connect(tokens)
        expiry = credential_expiry(self.settings, now=dt.datetime.now(dt.UTC))
        if expiry.expired:
            return _fail("token", f"token obtained, but {expiry.text}", expiry.fix)
        detail = f"app-only token obtained from {_host(self.settings.authority_host)}"
        return _ok("token", f"{detail}; {expiry.text}" if expiry.text else detail)

    def _site(self) -> CheckResult:
        sp = self.settings.sharepoint
        if sp.site_id:
            where = f"site id {sp.site_id}"
        elif sp.hostname:
            where = f"https://{sp.hostname}{sp.site_path}"
        else:
            return _fail("site", "sharepoint.site_id and sharepoint.hostname are unset", SITE_HINT)
        try:
            if sp.site_id:
                site = self.client.get_json(f"/sites/{quote(sp.site_id, safe=',')}")
            else:
                site = self.sharepoint.site_by_path(sp.hostname, sp.site_path)
        except NotFoundError:
            return _fail("site", f"{where}: not found", SITE_HINT)
        except ForbiddenError as exc:
            # Sites.Selected consented but not granted on this site answers 403 accessDenied.
            address = sp.site_id or f"{sp.hostname}:{sp.site_path}"
            return _fail(
                "site",
                f"{where}: the app has no access to this site ({exc.code or exc.status}): "
                "no permission grant for this app on the site",
                SITE_GRANT_HINT.format(client_id=self.settings.client_id, where=address),
            )
        except UnauthorizedError as exc:
            return _fail("site", f"{where}: access denied ({exc.code or exc.status})", SITE_HINT)
        self._site_id = str(site["id"])
        name = site.get("displayName") or site.get("name") or self._site_id
        return _ok(
            "site",
            f"{name} ({site.get('webUrl', where)}); date-only columns written as midnight "
            f"{sp.site_time_zone} (sharepoint.site_time_zone: must match the site's Regional "
            "settings, which Graph v1.0 cannot read)",
        )

    def _tracker_list(self) -> CheckResult:
        name = self.settings.sharepoint.tracker_list
        found = self.sharepoint.get_list(self._site_id, name)
        if found is None:
            return _fail("tracker list", f"list '{name}' not found on the site", PROVISION_HINT)
        columns = self.sharepoint.list_columns(
            self._site_id, str(found["id"]), select=COLUMN_SELECT
        )
        missing, problems = column_drift(columns)
        drift = [f"column {column['name']} missing" for column in missing] + problems
        if drift:
            return _fail(
                "tracker list",
                f"'{name}': schema drift: {'; '.join(drift)}",
                f"{PROVISION_HINT} (it adds missing columns; a column of the wrong shape must "
                "be fixed in the list settings)",
            )
        return _ok("tracker list", f"'{name}': every column present with the right type")

    def _library(self) -> CheckResult:
        drive = self.drive.site_drive(self._site_id)
        drive_id = str(drive["id"])
        folder = self.settings.sharepoint.drafts_folder
        library = drive.get("name") or drive_id
        if self.drive.get_by_path(drive_id, folder) is None:
            return _fail(
                "library", f"'{library}': drafts folder '{folder}' not found", PROVISION_HINT
            )
        try:
            probe = self.drive.upload(
                drive_id, folder, PROBE_NAME, PROBE_CONTENT, conflict="replace"
            )
        except (ForbiddenError, UnauthorizedError) as exc:
            return _fail(
                "library",
                f"'{library}': cannot write to '{folder}' ({exc.code or exc.status})",
                LIBRARY_WRITE_HINT,
            )
        try:
            self.client.request(
                "DELETE",
                f"/drives/{quote(drive_id, safe='')}/items/{quote(str(probe['id']), safe='')}",
                ok={404},
            )
        except GraphError as exc:
            return _fail(
                "library",
                f"probe file '{folder}/{PROBE_NAME}' written but not deleted: {exc}",
                f"delete '{folder}/{PROBE_NAME}' by hand; the app needs delete (write) permission",
            )
        return _ok(
            "library", f"'{library}': folder '{folder}' found, probe file written and deleted"
        )

    def _planner(self) -> CheckResult:
        plan_id = self.settings.planner.plan_id
        if not plan_id:
            return _fail("planner", "planner.plan_id is not set", PLANNER_HINT)
        plan = self.client.get_json(f"/planner/plans/{quote(plan_id, safe='')}")
        title = plan.get("title") or plan_id
        present = {str(bucket.get("name")) for bucket in self.planner.list_buckets(plan_id)}
        wanted = list(
            dict.fromkeys([*(stage.bucket for stage in self.settings.stages), TRIAGE_BUCKET])
        )
        missing = [bucket for bucket in wanted if bucket not in present]
        if missing:
            return _fail(
                "planner",
                f"plan '{title}': bucket(s) missing: {', '.join(missing)}",
                PROVISION_HINT,
            )
        return _ok("planner", f"plan '{title}': all {len(wanted)} buckets present")

    def _users(self) -> CheckResult:
        s = self.settings
        people: dict[str, list[str]] = {}
        unset: list[str] = []
        roles = [
            ("people.response_owner", s.people.response_owner),
            ("people.pcc", s.people.pcc),
            ("people.manager", s.people.manager),
            *((f"stage {stage.key} assignee", s.stage_assignee(stage)) for stage in s.stages),
        ]
        for role, upn in roles:
            if upn:
                people.setdefault(upn.casefold(), [upn]).append(role)
            else:
                unset.append(role)
        missing = [
            f"{names[0]} ({', '.join(names[1:])})"
            for names in people.values()
            if self.users.get(names[0]) is None
        ]
        recipients = list(
            dict.fromkeys(
                address
                for group in ("chief_constable", "panel", "website", "hmicfrs")
                for address in getattr(s.recipients, group)
            )
        )
        external = [address for address in recipients if self.users.get(address) is None]
        notes = []
        if external:
            notes.append(
                f"note: recipient(s) not in the tenant (external; mail still goes to them): "
                f"{', '.join(external)}"
            )
        if unset:
            notes.append(f"not set: {', '.join(unset)}")
        if missing:
            return _fail("users", f"not found in the tenant: {'; '.join(missing)}", USERS_HINT)
        detail = (
            f"{len(people)} people/assignees found, "
            f"{len(recipients) - len(external)} of {len(recipients)} recipients in the tenant"
        )
        return _ok("users", "; ".join([detail, *notes]))

    def _mailbox(self) -> CheckResult:
        mailbox = self.settings.mailbox
        if not mailbox:
            return _fail(
                "mailbox",
                "mailbox is not set",
                "set mailbox to the shared mailbox the service sends from",
            )
        try:
            found = self.users.get(mailbox)
        except (ForbiddenError, UnauthorizedError) as exc:
            return _fail(
                "mailbox", f"{mailbox}: cannot be looked up ({exc.code or exc.status})", USERS_HINT
            )
        if found is None:
            return _fail(
                "mailbox",
                f"{mailbox}: not found in the tenant",
                "check the mailbox address (the user principal name of the shared mailbox)",
            )
        base = f"/users/{quote(mailbox, safe='@')}"
        step = "creating a draft"
        try:
            draft: dict[str, Any] = self.client.request(
                "POST",
                f"{base}/messages",
                json={
                    "subject": PROBE_SUBJECT,
                    "body": {"contentType": "Text", "content": "Permission check; never sent."},
                },
                idempotent=False,
            ).json()
            step = "deleting the draft"
            self.client.request(
                "DELETE", f"{base}/messages/{quote(str(draft['id']), safe='')}", ok={404}
            )
            step = "reading Sent Items (needed for the exactly-once check)"
            self.client.get_json(
                f"{base}/mailFolders/SentItems/messages", params={"$top": "1", "$select": "id"}
            )
        except (ForbiddenError, UnauthorizedError) as exc:
            left = ""
            if step == "deleting the draft":
                left = f"; the draft '{PROBE_SUBJECT}' is left in Drafts: delete it by hand"
            return _fail(
                "mailbox",
                f"{mailbox}: mailbox permission revoked or restricted while {step} "
                f"({exc.code or exc.status}: {exc.graph_message}){left}",
                MAILBOX_HINT,
            )
        return _ok(
            "mailbox",
            f"{mailbox}: draft created and deleted, Sent Items readable (Mail.Send itself can "
            "only be proven by sending; the draft check proves mailbox access)",
        )

    def _word_template(self) -> CheckResult:
        path = template_path(self.settings)
        problems = check_template(path)
        if problems:
            return _fail(
                "word template",
                "; ".join(problems),
                f"correct the placeholders in {path} (or restore it from the project's templates)",
            )
        return _ok("word template", f"{path.name} renders")

    def _email_templates(self) -> CheckResult:
        folder = self.settings.templates_dir / "email"
        problems = MailRenderer(folder).check()
        if problems:
            return _fail(
                "email templates",
                "; ".join(problems),
                f"correct the templates in {folder} (or restore them from the project's templates)",
            )
        return _ok("email templates", f"{folder} renders")

    def _feeds(self) -> Iterator[CheckResult]:
        urls = self.settings.feed_urls
        if not urls:
            yield _fail("feed", "feed_urls is empty", "set feed_urls (the HMICFRS feed)")
            return
        session = outbound_session(verify=self.settings.verify, proxy=self.settings.proxy)
        try:
            for url in urls:
                try:
                    result = fetch_feed(
                        session,
                        url,
                        cache=None,
                        timeout=self.settings.timeout,
                        max_bytes=self.settings.feed_max_bytes,
                        verify=self.settings.verify,
                    )
                except FeedError as exc:
                    yield _fail("feed", str(exc), FEED_HINT)
                    continue
                detail = f"{url}: {len(result.publications)} item(s)"
                if result.problems:
                    detail += f", {len(result.problems)} unusable"
                pages, failed = report_pages_line(self.settings, session, result.publications)
                if failed:
                    yield _fail("feed", f"{detail}; {pages}", REPORT_PAGES_FIX)
                    continue
                yield _ok("feed", f"{detail}; {pages}" if pages else detail)
        finally:
            session.close()


def run_doctor(settings: Settings) -> int:
    """Run every check, print one line each; 0 when all pass, 1 when any fails."""
    failed = False
    for result in Doctor(settings).checks():
        failed = failed or result.failed
        for line in result.lines():
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return ExitCode.ITEM_FAILURES if failed else ExitCode.OK
