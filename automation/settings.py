"""Settings: a TOML file (``--config``) plus ``AUTOMATION_*`` environment variables.

Environment variables win over the file; nested settings use ``__``
(``AUTOMATION_SHAREPOINT__SITE_ID``). Secrets are ``SecretStr`` and never printed.
Every setting is documented in ``config/automation.example.toml``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args
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
from automation.domain.publications import HMICFRS_HOSTS
from automation.errors import SettingsError

DEFAULT_FEED = "https://hmicfrs.justiceinspectorates.gov.uk/feed/"
ENV_PREFIX = "AUTOMATION_"
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_PROXY = re.compile(r"^https?://(?:[^@/\s]+@)?[^@/:\s]+(?::\d{1,5})?/?$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
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


class ReminderSettings(_Section):
    """When reminders go out (days before a due date; negative numbers are not allowed)."""

    enabled: bool = True
    stage_offsets: list[int] = Field(default_factory=lambda: [7, 3, 1, 0])
    deadline_offsets: list[int] = Field(default_factory=lambda: [14, 7, 3, 1])
    overdue_every_days: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _offsets(self) -> ReminderSettings:
        for name in ("stage_offsets", "deadline_offsets"):
            if any(day < 0 for day in getattr(self, name)):
                raise ValueError(f"{name}: offsets are days before, 0 or more")
        return self


class MailSettings(_Section):
    """How a send whose outcome is unknown is confirmed."""

    # A send answered 5xx or with no answer may have gone out: it is not repeated until the
    # mailbox has been searched for its key for this long (Sent Items lags behind a send).
    confirm_minutes: float = Field(default=10.0, ge=0)


class ScheduleSettings(_Section):
    """The `run` service's schedule."""

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
    force_name: str = Field(default="Norfolk Constabulary", min_length=1)
    force_aliases: list[str] = Field(default_factory=lambda: ["Norfolk"])
    pcc_area: str = Field(default="Norfolk", min_length=1)
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

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    # Checks of one field are field validators: a model validator only runs when every
    # field is valid, so its problems would hide behind the others'.
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
        keys = [stage.key for stage in self.stages]
        if len(set(keys)) != len(keys):
            raise ValueError("stages: stage keys must be unique")
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


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem naming the setting (file key and environment variable)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        if loc:
            dotted = ".".join(str(part) for part in loc)
            lines.append(f"setting {dotted} ({_env_name(loc)}): {message}")
        else:
            lines.append(f"settings: {message}")
    return lines


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from ``config`` (TOML), the environment and ``overrides``.

    Raises:
        SettingsError: with one line per problem naming the setting.
    """
    settings_cls: type[Settings] = Settings
    if config is not None:
        if not config.is_file():
            raise SettingsError([f"config file {config}: not found"])
        try:
            tomllib.loads(config.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError([f"config file {config}: not valid TOML: {exc}"]) from None

        class FileSettings(Settings):
            model_config = SettingsConfigDict(toml_file=config)

        settings_cls = FileSettings
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None
