"""``automation doctor --probe``: on the real tenant, the checks no document settles.

Run once at the first install. Each check prints one line: ``<check>: as assumed: <what was
seen>`` or ``<check>: differs: <what was seen>; the service will <what it does>``. The
checks work in a scratch list, a scratch Planner bucket and task (named "S55 probe <time>
(safe to delete)") that the probe creates and deletes, even when a check fails; the
Sent Items check sends one tagged message to the office's own mailbox and deletes it.

Exit codes: 0 all as assumed (or differing in a way the service handles), 1 something
differs that the service cannot handle (or a scratch object could not be deleted), 2 the
probe cannot run (settings, token, site access, permission to create the scratch list).
(Over 500 lines: each check is small, and they share the scratch objects and their cleanup.)

Why over 400 lines: seven independent checks, each with its reading of what it saw; they
share the scratch objects and their cleanup, which is the point of keeping them together.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from automation import logsetup
from automation.cli.doctor import CheckResult, Doctor
from automation.errors import (
    AutomationError,
    ConflictError,
    DuplicateValueError,
    GraphError,
    GraphHTTPError,
    OutcomeUnknownError,
)
from automation.exitcodes import ExitCode
from automation.graph.batch import Op
from automation.graph.mail import IDEMPOTENCY_PROPERTY_ID, Mail
from automation.graph.planner import encode_reference_key
from automation.graph.sharepoint import odata_quote, site_date, to_sp_date
from automation.graph.tracker_list import COLUMNS, display_url
from automation.settings import Settings

__all__ = ["Finding", "Probe", "run_probe"]

log = logging.getLogger(__name__)

PROBE_COLUMNS = ("PublicationKey", "PublishedOn", "S55Setup", "S55Lease")
"""The tracker's own definitions: an indexed unique key, a date-only and two hidden columns."""
HIDDEN = "S55Setup"
PROBE_DAY = dt.date(2024, 7, 2)  # in British Summer Time: London midnight is 23:00 UTC
DEFAULT_CONFIRM_MINUTES = 10.0
LONDON_REGIONAL = "(UTC) Dublin, Edinburgh, Lisbon, London"

Status = Literal["as assumed", "differs", "cannot run", "left behind"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """What one check saw; ``handled``: a difference the service copes with."""

    name: str
    status: Status
    detail: str
    handled: bool = True

    @property
    def blocking(self) -> bool:
        """A difference the service cannot handle, or a scratch object left behind."""
        return (self.status == "differs" and not self.handled) or self.status == "left behind"

    def line(self) -> str:
        """The printed line (through the log redactor)."""
        return logsetup.redact(f"{self.name}: {self.status}: {self.detail}")


def _as_assumed(name: str, detail: str) -> Finding:
    return Finding(name=name, status="as assumed", detail=detail)


def _differs(name: str, seen: str, does: str, *, handled: bool) -> Finding:
    return Finding(
        name=name, status="differs", detail=f"{seen}; the service will {does}", handled=handled
    )


def _answer(exc: GraphError) -> str:
    """``<status> <code> (<message>)`` of an error answer; the whole error otherwise."""
    if isinstance(exc, GraphHTTPError):
        return f"{exc.status} {exc.code} ({exc.graph_message})"
    if isinstance(exc, OutcomeUnknownError):
        return f"{exc.status or 'no answer'} {exc.code}".strip()
    return str(exc)


def confirm_minutes(settings: Settings) -> float:
    """How long the service searches the mailbox before it treats a send as not made.

    ``mail.confirm_minutes`` when the settings have it, else 10 minutes.
    """
    section = getattr(settings, "mail", None)
    minutes = getattr(section, "confirm_minutes", None)
    return float(minutes) if isinstance(minutes, int | float) else DEFAULT_CONFIRM_MINUTES


@dataclass(slots=True)
class _Scratch:
    """The probe's own objects on the tenant (deleted at the end)."""

    site_id: str = ""
    list_id: str = ""
    list_url: str = ""
    item: dict[str, Any] | None = None
    bucket_id: str = ""
    task_id: str = ""


class Probe:
    """Runs the checks; :meth:`findings` yields each one as soon as it is known."""

    def __init__(
        self,
        settings: Settings,
        *,
        doctor: Doctor | None = None,
        mail_window: float | None = None,
        poll_every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``mail_window``: seconds to wait for Sent Items (default: the confirm window)."""
        self.settings = settings
        self._doctor = doctor or Doctor(settings)
        self._window = mail_window if mail_window is not None else confirm_minutes(settings) * 60.0
        self._poll_every = poll_every
        self._clock = clock
        self._sleep = sleep
        self._stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H%M%S")
        self._label = f"S55 probe {self._stamp} (safe to delete)"
        self._zone = settings.sharepoint.site_zone
        self.scratch = _Scratch()
        self.prerequisites: list[CheckResult] = []

    # -- the run ---------------------------------------------------------------------------
    def findings(self) -> Iterator[Finding]:
        """Every check, in order (nothing when a prerequisite failed: see prerequisites)."""
        problems = self._settings_problems()
        if problems:
            self.prerequisites = problems
            return
        checks, site_id = self._doctor.reach_site()
        failed = [check for check in checks if check.failed]
        if failed:
            self.prerequisites = failed
            return
        self.scratch.site_id = site_id
        self.client = self._doctor.client
        try:
            setup = self._create_scratch()
            if setup is not None:
                yield setup
                return
            for name, check in (
                ("hidden columns", self._hidden_columns),
                ("batch shapes", self._batch_shapes),
                ("duplicate key", self._duplicate_key),
                ("item webUrl", self._item_web_url),
                ("planner reference types", self._reference_types),
                ("site time zone", self._site_time_zone),
            ):
                yield self._guarded(name, check)
        finally:
            left = self._delete_scratch()
        yield from left
        try:
            yield self._guarded("sent items delay", self._sent_items_delay)
        finally:
            self.client.close()

    def _settings_problems(self) -> list[CheckResult]:
        out = []
        if not self.settings.planner.plan_id:
            out.append(
                CheckResult(
                    name="planner",
                    status="FAIL",
                    detail="planner.plan_id is not set (the probe needs a scratch bucket in it)",
                    hint="set planner.plan_id",
                )
            )
        if not self.settings.mailbox:
            out.append(
                CheckResult(
                    name="mailbox",
                    status="FAIL",
                    detail="mailbox is not set (the probe sends one message to it)",
                    hint="set mailbox to the shared mailbox the service sends from",
                )
            )
        return out

    @staticmethod
    def _guarded(name: str, check: Callable[[], Finding]) -> Finding:
        try:
            return check()
        except AutomationError as exc:
            log.info("probe: check %s failed: %s", name, type(exc).__name__)
            return _differs(
                name,
                f"unexpected answer: {exc}",
                "fail the same request in its work (see the answer)",
                handled=False,
            )

    # -- scratch objects ---------------------------------------------------------------------
    def _site_path(self) -> str:
        return f"/sites/{quote(self.scratch.site_id, safe=',')}"

    def _list_path(self) -> str:
        return f"{self._site_path()}/lists/{quote(self.scratch.list_id, safe='')}"

    def _item_path(self) -> str:
        assert self.scratch.item is not None
        return f"{self._list_path()}/items/{quote(str(self.scratch.item['id']), safe='')}"

    def _create_scratch(self) -> Finding | None:
        columns = [dict(c) for c in COLUMNS if c["name"] in PROBE_COLUMNS]
        step = "creating the scratch list"
        try:
            created = self._doctor.sharepoint.create_list(
                self.scratch.site_id, self._label, columns
            )
            self.scratch.list_id = str(created["id"])
            self.scratch.list_url = str(created.get("webUrl") or "")
            step = "creating an item in the scratch list"
            self.scratch.item = self._doctor.sharepoint.create_item(
                self.scratch.site_id,
                self.scratch.list_id,
                {
                    "Title": self._label,
                    "PublicationKey": f"s55-probe-{self._stamp}",
                    "PublishedOn": to_sp_date(PROBE_DAY, self._zone),
                    HIDDEN: "probe",
                },
            )
            step = "creating the scratch Planner bucket"
            plan_id = self.settings.planner.plan_id
            bucket = self._doctor.planner.create_bucket(plan_id, self._label)
            self.scratch.bucket_id = str(bucket["id"])
            step = "creating the scratch Planner task"
            task = self._doctor.planner.create_task(
                plan_id=plan_id,
                bucket_id=self.scratch.bucket_id,
                title=f"[S55 probe] {self._stamp} (safe to delete)",
                assignee_ids=(),
                due=None,
            )
            self.scratch.task_id = str(task["id"])
        except GraphError as exc:
            return Finding(
                name="scratch objects",
                status="cannot run",
                detail=f"{step}: {_answer(exc)}: the probe (and `automation provision`) needs "
                "the app to manage lists on the site (Sites.Selected grant role owner, or "
                "Sites.Manage.All) and Tasks.ReadWrite.All on the plan",
            )
        return None

    def _delete_scratch(self) -> list[Finding]:
        left: list[Finding] = []
        client = self.client

        def attempt(what: str, action: Callable[[], Any]) -> None:
            try:
                action()
            except AutomationError as exc:
                left.append(
                    Finding(
                        name="cleanup",
                        status="left behind",
                        detail=f"{what} '{self._label}' could not be deleted ({exc}): "
                        "delete it by hand",
                    )
                )

        def delete_planner(kind: str, object_id: str) -> None:
            path = f"/planner/{kind}/{quote(object_id, safe='')}"
            etag = str(client.get_json(path).get("@odata.etag") or "")
            client.request("DELETE", path, headers={"If-Match": etag}, ok={404})

        if self.scratch.task_id:
            attempt("the Planner task", lambda: delete_planner("tasks", self.scratch.task_id))
        if self.scratch.bucket_id:
            attempt("the Planner bucket", lambda: delete_planner("buckets", self.scratch.bucket_id))
        if self.scratch.list_id:
            attempt(
                "the scratch list",
                lambda: client.request("DELETE", self._list_path(), ok={404}),
            )
        return left

    # -- the checks ----------------------------------------------------------------------------
    def _hidden_columns(self) -> Finding:
        name = "hidden columns"
        plain = self.client.get_json(self._item_path(), params={"$expand": "fields"})
        named = self.client.get_json(
            self._item_path(), params={"$expand": f"fields($select=PublicationKey,{HIDDEN})"}
        )
        sp, site_id, list_id = self._doctor.sharepoint, self.scratch.site_id, self.scratch.list_id
        listed = {c.get("name") for c in sp.list_columns(site_id, list_id)}
        selected = {c.get("name") for c in sp.list_columns(site_id, list_id, select="name,hidden")}
        value_plain = HIDDEN in (plain.get("fields") or {})
        value_named = HIDDEN in (named.get("fields") or {})
        if not value_named or HIDDEN not in selected:
            missing = [
                text
                for text, ok in (
                    ("values even when named in $select", value_named),
                    ("definitions even with $select=name,hidden", HIDDEN in selected),
                )
                if not ok
            ]
            return _differs(
                name,
                f"hidden columns' {' and '.join(missing)} are not returned",
                "lose its resume state (setup redone, ticks reset) and provision would try to "
                "add columns again: do not go live; report this",
                handled=False,
            )
        if value_plain or HIDDEN in listed:
            return _differs(
                name,
                "hidden columns came back without being named in $select too (or the column "
                "was not made hidden)",
                "name them in $select anyway (nothing changes)",
                handled=True,
            )
        return _as_assumed(
            name,
            "hidden values only when named in $select, hidden definitions only with "
            "$select=...hidden (the service names them)",
        )

    def _item_get_op(self) -> Op[Any]:
        return Op("GET", f"{self._item_path()}?$expand=fields", lambda answer: answer.body)

    def _batch_shapes(self) -> Finding:
        name = "batch shapes"
        refused: list[str] = []
        try:
            for outcome in self.client.run_all([self._item_get_op(), self._item_get_op()]):
                outcome.get()
        except GraphError as exc:
            refused.append(f"a fully parallel batch was refused: {_answer(exc)}")
        planner = self._doctor.planner
        etag = str(planner.get_details(self.scratch.task_id).get("@odata.etag") or "")
        chain = [
            planner.details_patch_op(self.scratch.task_id, etag, {"description": "S55 probe"}),
            Op(
                "PATCH",
                f"{self._item_path()}/fields",
                lambda answer: answer.body,
                body={"S55Lease": "probe"},
            ),
        ]
        try:
            for outcome in self.client.run_all(chain, serial=True):
                outcome.get()
        except GraphError as exc:
            refused.append(
                f"a serial chain (details PATCH then item PATCH) was refused: {_answer(exc)}"
            )
        if refused:
            return _differs(
                name,
                "; ".join(refused),
                "fail every publication's setup (its last step is such a batch): do not go "
                "live; report this",
                handled=False,
            )
        return _as_assumed(
            name,
            "a fully parallel batch and a fully serial chain ending in an item PATCH were "
            f"accepted; {self._mixed_batch()} (informational)",
        )

    def _mixed_batch(self) -> str:
        # Two independent GETs and a PATCH depending on both: neither parallel nor serial.
        ops = [
            self._item_get_op(),
            self._item_get_op(),
            Op("PATCH", f"{self._item_path()}/fields", lambda a: a.body, body={"S55Lease": ""}),
        ]
        requests = [
            op.request(str(n)).to_json(depends_on=["1", "2"] if n == 3 else [])
            for n, op in enumerate(ops, start=1)
        ]
        try:
            self.client.request("POST", "/$batch", json={"requests": requests})
        except GraphError as exc:
            return f"a mixed one was refused ({_answer(exc)})"
        return "a mixed one was accepted too (the service never sends one)"

    def _duplicate_key(self) -> Finding:
        name = "duplicate key"
        assert self.scratch.item is not None
        key = str((self.scratch.item.get("fields") or {}).get("PublicationKey") or "")
        try:
            self._doctor.sharepoint.create_item(
                self.scratch.site_id,
                self.scratch.list_id,
                {"Title": self._label, "PublicationKey": key},
            )
        except DuplicateValueError as exc:
            how = "" if exc.status == 409 else " with a duplicate-values message"
            return _as_assumed(name, f"{exc.status} {exc.code}{how}: recognised as a duplicate key")
        except (ConflictError, OutcomeUnknownError) as exc:
            return _differs(
                name,
                f"{_answer(exc)}, not recognised as a duplicate",
                "look the item up by its key, as after a lost answer, and use it",
                handled=True,
            )
        except GraphError as exc:
            return _differs(
                name,
                f"{_answer(exc)}",
                "fail the publication when two instances file it at once: report this",
                handled=False,
            )
        return _differs(
            name,
            "a second item with the same key was created (unique values not enforced)",
            "file a publication twice if two instances race: check the column's "
            "'Enforce unique values' setting",
            handled=False,
        )

    def _item_web_url(self) -> Finding:
        name = "item webUrl"
        item = self.client.get_json(self._item_path())
        item_id = str(item.get("id") or "")
        web_url = str(item.get("webUrl") or "")
        link = display_url(self.scratch.list_url, item, item_id)
        if urlsplit(web_url).path.endswith(f"/{item_id}_.000"):
            return _as_assumed(
                name, f"{web_url} (a file, not the item's page); the service links to {link}"
            )
        return _differs(
            name,
            f"webUrl is {web_url or 'missing'}",
            f"link to the display form either way ({link})",
            handled=True,
        )

    def _reference_types(self) -> Finding:
        name = "planner reference types"
        planner = self._doctor.planner
        task_id = self.scratch.task_id

        def attach(kind: str) -> str:
            etag = str(planner.get_details(task_id).get("@odata.etag") or "")
            url = f"https://example.org/s55-probe/{kind.lower()}/report.pdf"
            body = {
                "references": {
                    encode_reference_key(url): {
                        "@odata.type": "microsoft.graph.plannerExternalReference",
                        "alias": f"S55 probe ({kind})",
                        "type": kind,
                    }
                }
            }
            try:
                self.client.run(planner.details_patch_op(task_id, etag, body))
            except GraphError as exc:
                return f"refused ({_answer(exc)})"
            return "accepted"

        other = attach("Other")
        pdf = attach("Pdf")
        if other != "accepted":
            return _differs(
                name,
                f'type "Other" {other}',
                "fail the report link on every task (setup would not finish): report this",
                handled=False,
            )
        return _as_assumed(name, f'"Other" accepted; "Pdf" {pdf} (informational)')

    def _site_time_zone(self) -> Finding:
        name = "site time zone"
        zone = self.settings.sharepoint.site_time_zone
        written = to_sp_date(PROBE_DAY, self._zone)
        item = self.client.get_json(
            self._item_path(), params={"$expand": "fields($select=PublishedOn)"}
        )
        stored = str((item.get("fields") or {}).get("PublishedOn") or "")
        check = (
            f"the site's own time zone cannot be read through Graph v1.0: check Site "
            f"settings > Regional settings is {LONDON_REGIONAL}, or set "
            f"sharepoint.site_time_zone (now {zone})"
        )
        day = site_date(stored, self._zone)
        if day != PROBE_DAY:
            return _differs(
                name,
                f"a date-only value written as midnight {zone} ({written}) came back as "
                f"{stored or 'nothing'}, {day} in {zone}: the site is not in {zone}",
                "read and show response dates a day off: set sharepoint.site_time_zone to "
                f"the site's Regional settings zone ({check})",
                handled=False,
            )
        same = "unchanged" if stored == written else f"as {stored}, the same day"
        return _as_assumed(name, f"a date-only value at midnight {zone} reads back {same}; {check}")

    def _sent_items_delay(self) -> Finding:
        name = "sent items delay"
        mailbox = self.settings.mailbox
        mail = Mail(self.client, mailbox)
        key = f"s55-probe-{self._stamp.replace(' ', '-')}"
        subject = f"[S55 probe] {self._stamp}: Sent Items delay check (safe to delete)"
        base = f"/users/{quote(mailbox, safe='@')}"
        mail.send(
            key=key,
            subject=subject,
            html="<p>Section 55 automation probe: this message to the office itself times "
            "how long Sent Items takes. Safe to delete.</p>",
            to=[mailbox],
        )
        started = self._clock()
        window = self._window
        try:
            while True:
                waited = self._clock() - started
                if self._in_sent_items(base, key):
                    break
                if waited >= window:
                    return _differs(
                        name,
                        f"the message was not found in Sent Items by the key search within "
                        f"{window:.0f} s",
                        "not be sure a send happened before its confirm window ends: raise "
                        "mail.confirm_minutes above the delay seen in Outlook",
                        handled=False,
                    )
                self._sleep(self._poll_every)
        finally:
            self._delete_messages(base, key, subject)
        return _as_assumed(
            name,
            f"in Sent Items, found by the whole-mailbox key search, after {waited:.0f} s "
            f"(within the confirm window of {window / 60:.0f} min)",
        )

    def _key_search(self, path: str, key: str) -> list[dict[str, Any]]:
        flt = (
            "singleValueExtendedProperties/Any(ep: ep/id eq "
            f"{odata_quote(IDEMPOTENCY_PROPERTY_ID)} and ep/value eq {odata_quote(key)})"
        )
        answer = self.client.get_json(path, params={"$filter": flt, "$select": "id"})
        return [m for m in answer.get("value", []) if isinstance(m, dict)]

    def _in_sent_items(self, base: str, key: str) -> bool:
        """Whether the whole-mailbox key search finds the copy that is in Sent Items."""
        anywhere = {str(m.get("id")) for m in self._key_search(f"{base}/messages", key)}
        sent = {
            str(m.get("id"))
            for m in self._key_search(f"{base}/mailFolders/SentItems/messages", key)
        }
        return bool(sent & anywhere)

    def _delete_messages(self, base: str, key: str, subject: str) -> None:
        try:
            found = {str(m.get("id")) for m in self._key_search(f"{base}/messages", key)}
            by_subject = self.client.get_json(
                f"{base}/messages",
                params={"$filter": f"subject eq {odata_quote(subject)}", "$select": "id"},
            )
            found |= {str(m.get("id")) for m in by_subject.get("value", []) if isinstance(m, dict)}
            for message_id in found:
                self.client.request(
                    "DELETE", f"{base}/messages/{quote(message_id, safe='')}", ok={404}
                )
        except AutomationError as exc:  # best effort: the subject says it is safe to delete
            log.warning("probe: probe message not deleted: %s", type(exc).__name__)


def run_probe(settings: Settings, *, probe: Probe | None = None) -> int:
    """Run the probe, print one line per check; the exit code (see the module docstring)."""
    probe = probe or Probe(settings)
    blocking = False
    cannot_run = False
    for finding in probe.findings():
        blocking = blocking or finding.blocking
        cannot_run = cannot_run or finding.status == "cannot run"
        sys.stdout.write(finding.line() + "\n")
        sys.stdout.flush()
    for result in probe.prerequisites:
        cannot_run = True
        for line in result.lines():
            sys.stdout.write(line + "\n")
    if cannot_run:
        sys.stdout.write("probe: cannot run (fix the above, then run it again)\n")
        return ExitCode.CONFIG
    return ExitCode.ITEM_FAILURES if blocking else ExitCode.OK
