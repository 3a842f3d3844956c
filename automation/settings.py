"""Settings: a TOML file (``--config``) plus ``AUTOMATION_*`` environment variables.

Environment variables win over the file; nested settings use ``__``
(``AUTOMATION_SHAREPOINT__SITE_ID``). Secrets are ``SecretStr`` and never printed.
Every setting is documented in ``config/automation.example.toml``.

Every problem is one line naming the setting and its fix (the CLI exits 2 on them): the
environment is checked before pydantic sees it (lists not written as JSON, names that match
no setting, with a "did you mean"), and the file before it is parsed (unreadable, a
directory). (Over 500 lines: those plain-language checks need the fields they describe.)
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from automation.domain import stages
from automation.domain.forces import force_for_label
from automation.domain.publications import HMICFRS_HOSTS
from automation.errors import SettingsError

DEFAULT_FEED = "https://hmicfrs.justiceinspectorates.gov.uk/feed/"
ENV_PREFIX = "AUTOMATION_"
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_PROXY = re.compile(r"^https?://(?:[^@/\s]+@)?[^@/:\s]+(?::\d{1,5})?/?$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# A verified domain of the tenant (contoso.onmicrosoft.com, opcc.police.uk).
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)
TENANT_HINT = (
    "copy Directory (tenant) ID from Entra admin center > Overview (a GUID such as "
    "8487968d-1c2b-4d5e-9f00-123456789abc), or give the tenant's domain (contoso.onmicrosoft.com)"
)
# The plan id in the path of a Planner link: .../PlanViews/<id> (tasks.office.com) or
# .../plan/<id>/... (planner.cloud.microsoft).
_PLAN_IN_PATH = re.compile(r"/(?:planviews|plan)/([A-Za-z0-9_-]+)", re.IGNORECASE)

PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"
"""The Word and email templates shipped in the package: the default ``templates_dir``.

An office that edits them copies this folder (e.g. to ``/etc/s55-automation/templates``) and
points ``templates_dir`` at the copy; the copy is then used whole, never mixed with this one.
"""


def plan_id_from(value: str) -> str:
    """The Planner plan id in ``value``: the id itself, or a "Copy link to plan" URL.

    Raises:
        ValueError: a URL in which no plan id can be found.
    """
    value = value.strip()
    if not value.lower().startswith(("https://", "http://")):
        return value
    parts = urlsplit(value)
    # Old Planner puts the query in the fragment (#/plantaskboard?groupId=...&planId=...).
    for query in (parts.query, parts.fragment.partition("?")[2]):
        found = {key.lower(): ids for key, ids in parse_qs(query).items()}.get("planid")
        if found and found[0].strip():
            return found[0].strip()
    match = _PLAN_IN_PATH.search(parts.path) or _PLAN_IN_PATH.search(parts.fragment)
    if match:
        return match.group(1)
    raise ValueError(
        f"'{value}' is a link without a plan id: in Planner use the plan's ... menu > "
        "Copy link to plan (the link holds planId=...), or give the id itself"
    )


def derive_aliases(force_name: str, pcc_area: str, extra: list[Any]) -> list[str]:
    """Our force's other names: the area, its known spellings, then ``extra`` (no repeats).

    The force's own name is not repeated; case is ignored when removing repeats.
    """
    names: list[str] = [pcc_area]
    known = force_for_label(force_name)
    if known is not None:
        names.extend(known.spellings)
    names.extend(str(name) for name in extra)
    seen = {force_name.strip().casefold()}
    out: list[str] = []
    for name in (name.strip() for name in names):
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CertificateSettings(_Section):
    """A certificate credential: one PEM file with the private key and the certificate."""

    pem_path: Path
    passphrase: SecretStr | None = None


class SharePointSettings(_Section):
    """Where the tracker list and drafts live."""

    hostname: str = ""
    site_path: str = "/sites/OPCC"
    site_id: str = ""
    tracker_list: str = "Section 55 Tracker"
    drafts_folder: str = "Section 55 Responses"
    # The site's regional time zone (Site settings > Regional settings) as an IANA name:
    # date-only columns are written as midnight there, so SharePoint shows the right day.
    site_time_zone: str = "Europe/London"

    @field_validator("site_time_zone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{name}' is not an IANA time zone name (e.g. Europe/London)"
            ) from None
        return name

    @property
    def site_zone(self) -> ZoneInfo:
        """The site's time zone (date-only columns are midnight there)."""
        return ZoneInfo(self.site_time_zone)


class PlannerSettings(_Section):
    """The Planner plan (of the team's Microsoft 365 group)."""

    # The plan's id, or its "Copy link to plan" URL (reduced to the id).
    plan_id: str = ""
    # For the reader only: the Microsoft 365 group that owns the plan. The service finds
    # everything through plan_id and never reads this.
    group_id: str = ""

    @field_validator("plan_id")
    @classmethod
    def _plan_id(cls, value: str) -> str:
        return plan_id_from(value)


RecipientGroup = Literal["chief_constable", "panel", "website", "hmicfrs", "home_secretary"]
"""The recipient groups of a response, in the order they are sent."""
RECIPIENT_GROUPS: tuple[str, ...] = get_args(RecipientGroup)
STATUTORY_GROUPS: tuple[RecipientGroup, ...] = ("hmicfrs", "home_secretary")
"""Police Act 1996 s.55(5), as amended by the Policing and Crime Act 2017 s.37(3): copies of
the published comments go to the inspectors of constabulary and the Secretary of State."""


def _check_addresses(addresses: list[str]) -> list[str]:
    for address in addresses:
        if not _EMAIL.match(address):
            raise ValueError(f"'{address}' is not an email address")
    return addresses


class RecipientsSettings(_Section):
    """Who gets the response, and when. Mail goes only to these addresses."""

    chief_constable: list[str] = Field(default_factory=list)
    panel: list[str] = Field(default_factory=list)
    website: list[str] = Field(default_factory=list)
    hmicfrs: list[str] = Field(default_factory=list)
    # The Home Office address for the Home Secretary's copy; no default: the office sets it.
    home_secretary: list[str] = Field(default_factory=list)
    # Groups sent once the response is published (with its web address); the others are
    # sent when it is approved.
    on_publication: list[RecipientGroup] = Field(default_factory=lambda: list(STATUTORY_GROUPS))
    # doctor fails while hmicfrs or home_secretary is empty, unless this is true.
    allow_missing_statutory_recipients: bool = False

    @field_validator("chief_constable", "panel", "website", "hmicfrs", "home_secretary")
    @classmethod
    def _addresses(cls, addresses: list[str]) -> list[str]:
        # A field validator, so the problem names recipients.<group> and is reported
        # together with every other problem.
        return _check_addresses(addresses)

    def addresses(self, group: str) -> list[str]:
        """The addresses of ``group`` (one of `RECIPIENT_GROUPS`)."""
        return list(getattr(self, group))

    def missing_statutory(self) -> list[str]:
        """The statutory groups with no address (doctor reports them)."""
        return [group for group in STATUTORY_GROUPS if not self.addresses(group)]


class PeopleSettings(_Section):
    """People by role (user principal names)."""

    response_owner: str = ""
    pcc: str = ""
    manager: str = ""
    # Who may approve a response for circulation; empty: the PCC alone.
    approvers: list[str] = Field(default_factory=list)
    # The website team member who publishes (the publish stage's assignee, when set).
    website: str = ""
    # The contact officer named at the foot of the emails the office sends.
    contact_name: str = ""
    contact_phone: str = ""

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, addresses: list[str]) -> list[str]:
        return _check_addresses(addresses)


class ApprovalSettings(_Section):
    """The hold between an approval and the circulation it starts."""

    # Minutes the approver has to change their mind (a preview email with the PDF says when
    # it goes); 0 circulates at once. Measured on the real clock, also under `once --as-of`.
    hold_minutes: float = Field(default=30.0, ge=0)


class StageSettings(_Section):
    """One stage of the work: a Planner task with an assignee and a due date."""

    key: str
    title: str
    bucket: str
    assignee: str = ""  # a UPN, or "" for the response owner, or "pcc"/"manager"/"website"
    anchor: Literal["publication", "deadline"] = "deadline"
    offset_days: int = 0
    role: stages.StageRole = ""


DEFAULT_STAGES: tuple[StageSettings, ...] = tuple(
    StageSettings.model_validate(
        {
            "key": spec.key,
            "title": spec.title,
            "bucket": spec.bucket,
            "assignee": spec.assignee,
            "anchor": spec.anchor.value,
            "offset_days": spec.offset_days,
            "role": spec.role,
        }
    )
    for spec in stages.DEFAULT_STAGES
)
"""The domain's default stages (`automation.domain.stages.DEFAULT_STAGES`) as settings."""


WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday")
_OLD_REMINDER_KEYS = {
    "stage_offsets": "notice_working_days",
    "deadline_offsets": "notice_working_days (the deadline is told once, on the day)",
    "overdue_every_days": "weekly_on (overdue work is reminded weekly)",
}


class ReminderSettings(_Section):
    """When reminders go out, in working days (README, "Reminders")."""

    enabled: bool = True
    # A stage is reminded this many working days before it is due, and on the day.
    notice_working_days: int = Field(default=3, ge=0, le=20)
    # Overdue work is reminded weekly on this day (the next working day after a bank
    # holiday), and the manager's weekly summary goes out on it.
    weekly_on: Literal["monday", "tuesday", "wednesday", "thursday", "friday"] = "monday"
    weekly_summary: bool = True

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for old, new in _OLD_REMINDER_KEYS.items():
                if old in data:
                    raise ValueError(f"reminders.{old} is no longer used: see {new}")
        return data

    @property
    def weekday(self) -> int:
        """`weekly_on` as a weekday number (0 = Monday)."""
        return WEEKDAYS.index(self.weekly_on)


class RecommendationsSettings(_Section):
    """After publication: the recommendations list, progress requests and the Panel report.

    Progress requests go on the first working day of every ``progress_every_months``-th
    month (January first) and ``request_working_days_before`` working days before each
    Panel meeting; an owner has ``response_working_days`` working days to give an update
    before it is overdue (escalated once to the manager).
    """

    enabled: bool = True
    list_name: str = "HMICFRS recommendations"
    # Owner of new rows ("" = people.response_owner); owners must be configured people.
    default_owner: str = ""
    # People in the force or the office who may own rows (besides the people section).
    owners: list[str] = Field(default_factory=list)
    progress_every_months: int = Field(default=3, ge=1, le=12)
    panel_meetings: list[date] = Field(default_factory=list)
    request_working_days_before: int = Field(default=15, ge=1, le=60)
    response_working_days: int = Field(default=10, ge=1, le=60)
    panel_folder: str = "Panel reports"

    @field_validator("owners")
    @classmethod
    def _owners(cls, addresses: list[str]) -> list[str]:
        for address in addresses:
            if not _EMAIL.match(address):
                raise ValueError(f"'{address}' is not an email address")
        return addresses


class CalendarSettings(_Section):
    """Deadlines and stage due dates as all-day events in the office mailbox's calendar.

    Needs the application permission Calendars.ReadWrite, restricted to that mailbox (README).
    """

    enabled: bool = False
    # The mailbox whose calendar holds the events ("" = the sending mailbox).
    mailbox: str = ""
    # The zone all-day events are in (an IANA name Outlook accepts, or a Windows name).
    time_zone: str = "Europe/London"


class MailSettings(_Section):
    """How a send whose outcome is unknown is confirmed."""

    # A send answered 5xx or with no answer may have gone out: it is not repeated until the
    # mailbox has been searched for its key for this long (Sent Items lags behind a send).
    confirm_minutes: float = Field(default=10.0, ge=0)


class ScheduleSettings(_Section):
    """The `run` service's schedule; ``reminders_at`` also governs ``once`` (timers)."""

    interval_minutes: int = Field(default=15, ge=1)
    interval_seconds: int | None = Field(default=None, ge=1)
    reminders_at: str = "08:00"
    misfire_grace_seconds: int = Field(default=3600, ge=1)

    @model_validator(mode="after")
    def _time(self) -> ScheduleSettings:
        if not _HHMM.match(self.reminders_at):
            raise ValueError(f"reminders_at: '{self.reminders_at}' is not HH:MM (24-hour)")
        return self


class HealthzSettings(_Section):
    """Optional health endpoint of `run`."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8055, ge=0, le=65535)


class Settings(BaseSettings):
    """Everything the service needs; see config/automation.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    # When the client secret expires (Entra shows it next to the secret): doctor warns
    # 30 days ahead and fails once it has passed.
    secret_expires_on: dt.date | None = None
    certificate: CertificateSettings | None = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_bundle: Path | None = None
    # Outbound proxy for Graph, sign-in, the feed and report pages; empty: the standard
    # HTTPS_PROXY / HTTP_PROXY / NO_PROXY variables are read instead.
    proxy: str = ""
    http_connect_timeout: float = Field(default=5.0, gt=0)
    http_read_timeout: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=16)

    state_dir: Path = Path(".automation-state")
    # Default: the templates shipped in the package; an office's edited copy goes elsewhere.
    templates_dir: Path = PACKAGED_TEMPLATES

    feed_urls: list[str] = Field(default_factory=lambda: [DEFAULT_FEED])
    feed_max_bytes: int = Field(default=5_000_000, ge=1000)
    fetch_report_pages: bool = True
    report_hosts: list[str] = Field(default_factory=lambda: list(HMICFRS_HOSTS))

    deadline_rule: Literal["statutory", "publication_plus_56"] = "statutory"
    # Required, no default: a wrong force decides every report wrongly and silently.
    force_name: str = Field(min_length=1)
    pcc_area: str = Field(min_length=1)
    # Derived from force_name and pcc_area (the force's known spellings and the area);
    # names given here are added (a former name, an abbreviation).
    force_aliases: list[str] = Field(default_factory=list)
    # A Police, Fire and Crime Commissioner's office names its fire and rescue service here;
    # its inspection reports then need a response (not under Section 55).
    fire_and_rescue_service: str = ""
    # The header of the Word draft; "" gives "Office of the <pcc_area> <commissioner>".
    office_name: str = ""

    sharepoint: SharePointSettings = Field(default_factory=SharePointSettings)
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    mailbox: str = ""
    mail: MailSettings = Field(default_factory=MailSettings)
    recipients: RecipientsSettings = Field(default_factory=RecipientsSettings)
    people: PeopleSettings = Field(default_factory=PeopleSettings)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    stages: list[StageSettings] = Field(default_factory=lambda: list(DEFAULT_STAGES))
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    healthz: HealthzSettings = Field(default_factory=HealthzSettings)
    recommendations: RecommendationsSettings = Field(default_factory=RecommendationsSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    # Checks of one field are field validators: a model validator only runs when every
    # field is valid, so its problems would hide behind the others'.
    @model_validator(mode="before")
    @classmethod
    def _derive_aliases(cls, data: Any) -> Any:
        """force_aliases = the area, the force's known spellings, then any given extras."""
        if not isinstance(data, Mapping):
            return data
        force, area = data.get("force_name"), data.get("pcc_area")
        extra = data.get("force_aliases") or []
        if not isinstance(force, str) or not isinstance(area, str) or not isinstance(extra, list):
            return data
        return {**data, "force_aliases": derive_aliases(force, area, extra)}

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        value = value.strip()
        if value and not (_GUID.match(value) or _DOMAIN.match(value)):
            raise ValueError(f"'{value}' is neither a tenant GUID nor a domain: {TENANT_HINT}")
        return value

    @field_validator("authority_host", "graph_url")
    @classmethod
    def _https(cls, url: str) -> str:
        if not url.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return url

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, url: str) -> str:
        url = url.strip()
        if url and not _PROXY.match(url):
            raise ValueError(f"'{url}' is not an http(s) proxy URL (http://host:port)")
        return url

    @field_validator("feed_urls")
    @classmethod
    def _feed_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"'{url}' is not an http(s) URL")
        return urls

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if (self.client_secret is None) == (self.certificate is None):
            raise ValueError("give exactly one credential: client_secret or certificate")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise ValueError(f"ca_bundle: file '{self.ca_bundle}' does not exist")
        if self.certificate is not None and not self.certificate.pem_path.is_file():
            raise ValueError(f"certificate.pem_path: file '{self.certificate.pem_path}' not found")
        if self.mailbox and not _EMAIL.match(self.mailbox):
            raise ValueError(f"mailbox: '{self.mailbox}' is not an email address")
        if self.calendar.mailbox and not _EMAIL.match(self.calendar.mailbox):
            raise ValueError(f"calendar.mailbox: '{self.calendar.mailbox}' is not an email address")
        keys = [stage.key for stage in self.stages]
        if len(set(keys)) != len(keys):
            raise ValueError("stages: stage keys must be unique")
        ours = force_for_label(self.force_name)
        for name in (self.pcc_area, *self.force_aliases):
            other = force_for_label(name)
            if other is not None and ours is not None and other != ours:
                raise ValueError(
                    f"force_aliases/pcc_area: '{name}' is {other.name}, not {ours.name} "
                    "(force_name): correct force_name, pcc_area and force_aliases together"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then the environment, then the TOML file (if any)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @property
    def verify(self) -> str | bool:
        """What TLS verification uses: the configured CA bundle, else the system store."""
        return str(self.ca_bundle) if self.ca_bundle else True

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) timeouts for HTTP calls."""
        return (self.http_connect_timeout, self.http_read_timeout)

    @property
    def commissioner(self) -> str:
        """The office holder's title: a PFCC when a fire and rescue service is configured."""
        if self.fire_and_rescue_service.strip():
            return "Police, Fire and Crime Commissioner"
        return "Police and Crime Commissioner"

    @property
    def office_label(self) -> str:
        """The office's name as the draft's header shows it."""
        return self.office_name.strip() or f"Office of the {self.pcc_area} {self.commissioner}"

    @property
    def approvers(self) -> list[str]:
        """Who may approve a response: ``people.approvers``, else the PCC."""
        chosen = self.people.approvers or ([self.people.pcc] if self.people.pcc else [])
        return [address.strip() for address in chosen if address.strip()]

    def stage_assignee(self, stage: StageSettings) -> str:
        """The UPN a stage's task is assigned to."""
        if stage.assignee in ("", "response_owner"):
            return self.people.response_owner
        if stage.assignee == "pcc":
            return self.people.pcc
        if stage.assignee == "manager":
            return self.people.manager
        if stage.assignee == "website":
            return self.people.website or self.people.response_owner
        return stage.assignee


def _env_name(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if not isinstance(part, int)]
    return ENV_PREFIX + "__".join(part.upper() for part in parts)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings section class in ``annotation`` (``X | None`` included), if any."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.6)
    if not close:
        folded = {choice.replace("_", ""): choice for choice in choices}
        close = [folded[key] for key in (name.lower().replace("_", ""),) if key in folded]
    return f" (did you mean {close[0]}?)" if close else ""


def _json_example(value: str, annotation: Any) -> str:
    """``value`` as the JSON list the setting wants, for the fix hint."""
    items: list[Any] = [part.strip().strip("'\"") for part in value.strip("[]").split(",")]
    items = [item for item in items if item]
    item_type = (get_args(annotation) or (str,))[0]
    if item_type is int and all(item.lstrip("-").isdigit() for item in items):
        items = [int(item) for item in items]
    return json.dumps(items)


def environment_problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """``AUTOMATION_*`` variables that name no setting, or hold a list/section not as JSON.

    pydantic-settings ignores an unknown top-level name (a typo is silently lost) and
    answers a non-JSON list with a traceback: both become one line naming the fix.
    """
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    fields = Settings.model_fields
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or len(name) == len(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        field = fields.get(path[0])
        if field is None:
            hint = _did_you_mean(path[0], list(fields))
            problems.append(f"{name}: names no setting{hint}; remove it or correct the name")
            continue
        annotation = field.annotation
        section = _model_of(annotation)
        if len(path) > 1 and section is not None:
            sub = section.model_fields.get(path[1])
            if sub is None:
                hint = _did_you_mean(path[1], list(section.model_fields))
                dotted = f"{path[0]}.{path[1]}"
                problems.append(f"{name}: names no setting {dotted}{hint}")
                continue
            annotation, section = sub.annotation, None
        if not (_is_list(annotation) or section is not None):
            continue
        try:
            json.loads(value)
        except ValueError:
            example = (
                _json_example(value, annotation) if _is_list(annotation) else '{"key": "value"}'
            )
            problems.append(f"{name}: not JSON; write {example}")
    return problems


def describe_errors(exc: ValidationError, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per problem naming the setting (file key and environment variable)."""
    environ = os.environ if environ is None else environ
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        dotted = ".".join(str(part) for part in loc)
        if error.get("type") == "extra_forbidden" and loc:
            lines.append(f"unknown setting {dotted}{_unknown_hint(loc)}")
        elif loc:
            where = _env_name(loc)
            source = " (set in the environment)" if where in environ else ""
            lines.append(f"setting {dotted} ({where}){source}: {message}")
        else:
            lines.append(f"settings: {message}")
    return lines


def _unknown_hint(loc: tuple[Any, ...]) -> str:
    """ "(did you mean ...?)" for an unknown key, from the section it appears in."""
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        model = _model_of(field.annotation) if field is not None else None
        if model is None and field is not None and _is_list(field.annotation):
            model = _model_of(get_args(field.annotation)[0])
    if model is None:
        return ""
    return _did_you_mean(str(loc[-1]), list(model.model_fields))


def _read_config(config: Path) -> None:
    """Refuse a missing, unreadable or non-TOML file with one line naming the fix."""
    if config.is_dir():
        raise SettingsError(
            [
                f"config file {config}: is a directory; pass the settings file inside it "
                f"(e.g. --config {config / 'automation.toml'})"
            ]
        )
    if not config.exists():
        raise SettingsError([f"config file {config}: not found; pass --config FILE"])
    try:
        text = config.read_text(encoding="utf-8")
    except PermissionError:
        raise SettingsError(
            [
                f"config file {config}: cannot be read by uid {os.getuid()} (permission denied); "
                "give the service user's group read access (chgrp s55; chmod 0640)"
            ]
        ) from None
    except OSError as exc:
        raise SettingsError([f"config file {config}: cannot be read ({exc.strerror})"]) from None
    except UnicodeDecodeError as exc:
        raise SettingsError([f"config file {config}: not valid TOML: {exc}"]) from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"config file {config}: not valid TOML: {exc}"]) from None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from ``config`` (TOML), the environment and ``overrides``.

    Raises:
        SettingsError: with one line per problem naming the setting.
    """
    settings_cls: type[Settings] = Settings
    if config is not None:
        _read_config(config)

        class FileSettings(Settings):
            model_config = SettingsConfigDict(toml_file=config)

        settings_cls = FileSettings
    problems = environment_problems()
    if problems:
        raise SettingsError(problems)
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        lines = describe_errors(exc)
        missing = any(error.get("type") == "missing" for error in exc.errors())
        if config is None and missing and not overrides:
            lines.append("no settings file given: pass --config FILE")
        raise SettingsError(lines) from None
    except ValueError as exc:  # pydantic-settings' own parse error (an odd environment value)
        raise SettingsError([f"environment: {exc}"]) from None


def state_dir_problem(state_dir: Path) -> str:
    """Why the service cannot keep its state in ``state_dir`` ("" when it can).

    The directory need not exist yet: its nearest existing parent must then be writable.
    """
    uid = os.getuid()
    fix = (
        f"create it for the service user (install -d -o <user> {state_dir}) or point "
        "state_dir (AUTOMATION_STATE_DIR) at a writable directory"
    )
    if state_dir.exists() and not state_dir.is_dir():
        return f"state_dir {state_dir}: not a directory; {fix}"
    probe = state_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"state_dir {state_dir}: {probe} is not a directory; {fix}"
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "" if probe == state_dir else f" ({probe} would hold it)"
        return f"state_dir {state_dir}: not writable by uid {uid}{what}; {fix}"
    state = state_dir / "state.json"
    if state.exists() and not os.access(state, os.R_OK | os.W_OK):
        return f"state_dir {state_dir}: state.json not writable by uid {uid}; {fix}"
    return ""


def require_state_dir(settings: Settings) -> None:
    """Raise a one-line SettingsError when the state directory is unusable.

    Raises:
        SettingsError: ``state_dir`` is a file, or not writable by this user.
    """
    problem = state_dir_problem(settings.state_dir)
    if problem:
        raise SettingsError([problem])
