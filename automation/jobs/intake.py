"""Intake: from the feeds to tracker items, Word drafts and Planner tasks.

Every step is idempotent and resumable from the tracker item alone:

1. the tracker item (unique ``PublicationKey``; a lost answer or a race gives 409 and the
   item is looked up instead), ``S55Setup`` = "filed";
2. the draft at ``<drafts folder>/<year>/<name>.docx`` (``conflictBehavior=fail``; a file
   already there that carries our key in its core properties is ours);
3. one Planner task per stage, titled ``[S55-<item id>] <stage>`` so a task created before
   a crash is found again;
4. task details (description, deterministic checklist ids, references);
5. one final update of the item: DraftUrl, task ids, ``S55Setup`` = "complete".

A crash between any two steps leaves an item whose setup is not complete; the next run
finds it (through the feed lookup or the list's delta) and carries on from there.

(Over 500 lines: the steps of a pass share one ``Intake``'s per-pass state: the plan's tasks
read once, the feeds whose items failed or were left for later, the progress counter.)
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from automation import feed as feeds
from automation import reports
from automation.domain.calendar import at_london, long_date
from automation.domain.deadlines import (
    DeadlineRule,
    deadline_rule_label,
    response_deadline,
)
from automation.domain.publications import (
    Publication,
    finding_label,
    findings_from_json,
    findings_json,
)
from automation.domain.record import TrackerRecord, dump_json
from automation.domain.relevance import Decision, assess
from automation.domain.stages import Anchor, PlannedStage, StageSpec, plan_stages, should_file
from automation.domain.text import shorten
from automation.domain.workflow import (
    REASON_MAX,
    TERMINAL,
    SetupState,
    Status,
    initial_status,
    stage_status,
)
from automation.drafts import build_draft, draft_folder, draft_key, draft_name
from automation.errors import (
    AutomationError,
    ConflictError,
    FeedError,
    GraphError,
    ItemError,
    OutcomeUnknownError,
    SettingsError,
)
from automation.graph.batch import Op
from automation.graph.planner import (
    CHECKLIST_MAX,
    CHECKLIST_TITLE_MAX,
    TASK_TITLE_MAX,
    Planner,
    TaskSpec,
    checklist_id,
    details_body,
)
from automation.jobs.decisions import complete_recorded_task, decision_reason
from automation.jobs.lease import claim, lease_value
from automation.jobs.ports import Services
from automation.jobs.report import RunReport

log = logging.getLogger(__name__)

TRIAGE_STAGE = StageSpec(
    key="triage",
    title="Decide whether a response is needed",
    bucket="Triage",
    assignee="",
    anchor=Anchor.PUBLICATION,
    offset_days=7,
)
REPORT_JSON_MAX = 30_000
LOOKUP_CHUNK = 20
"""Keys per lookup round trip (a Graph ``$batch`` holds at most 20 requests)."""
CREATE_ROUNDS = 3
"""Task creates per pass while each answer is lost (5xx) and the plan does not show the task."""
EARLIEST_PUBLICATION = dt.date(2000, 1, 1)
"""A feed date before this is a broken date, not a publication to respond to."""
PAST_DEADLINE_SEEN = "past_deadline_seen"
"""Local-state key: past-deadline feed items already reported as left for backfill (or
found filed), so each is said once, not on every pass that re-reads the feed."""
HISTORIC_NOTE = (
    "Filed as historic by backfill: the deadline had passed (no draft, tasks or reminders)."
)


def assignee_setting(stage_assignee: str, key: str) -> str:
    """The setting that names a stage's assignee (for an error message)."""
    if stage_assignee in ("", "response_owner"):
        return "people.response_owner"
    if stage_assignee in ("pcc", "manager"):
        return f"people.{stage_assignee}"
    return f"stages[{key}].assignee"


def stage_specs(app: Services) -> list[StageSpec]:
    """The configured stages as domain values (assignees resolved to UPNs)."""
    settings = app.settings
    return [
        StageSpec(
            key=stage.key,
            title=stage.title,
            bucket=stage.bucket,
            assignee=settings.stage_assignee(stage),
            anchor=Anchor(stage.anchor),
            offset_days=stage.offset_days,
            role=stage.role,
        )
        for stage in settings.stages
    ]


def due_datetime(day: dt.date) -> dt.datetime:
    """A Planner due date: 17:00 London time on ``day``."""
    return at_london(day, 17)


def report_json(pub: Publication) -> str:
    """The report details kept on the item (the draft can be made later from them).

    Recommendations, areas for improvement and causes of concern keep the report's own
    numbers and addressees (``findings_json``); when the text is too long for the column the
    last items go first, then the summary is shortened.
    """
    details: dict[str, Any] = {
        "title": pub.title,
        "link": pub.link,
        "summary": pub.summary,
        "pdf": pub.report_pdf_url,
        "recommendations": findings_json(pub.recommendations),
        "recommendations_left_out": pub.recommendations_left_out,
        "areas_for_improvement": findings_json(pub.areas_for_improvement),
        "causes_of_concern": findings_json(pub.causes_of_concern),
        "recommendation_count": pub.recommendation_count,
        "afi_count": pub.afi_count,
        "feed": pub.feed_url,
        "guid": pub.guid,
    }
    text = dump_json(details)
    lists = ("causes_of_concern", "areas_for_improvement", "recommendations")
    while len(text) > REPORT_JSON_MAX and (
        any(details[name] for name in lists) or details["summary"]
    ):
        longest = next((name for name in lists if details[name]), "")
        if longest:
            details[longest].pop()
        else:
            details["summary"] = shorten(details["summary"], len(details["summary"]) // 2)
        text = dump_json(details)
    return text


class Intake:
    """One intake pass (feeds, lookups, filing, setup completion)."""

    def __init__(
        self,
        app: Services,
        report: RunReport,
        *,
        today: dt.date,
        progress: Callable[[int, int], None] | None = None,
        with_tasks: bool = False,
        pages: Callable[[str, int, int], None] | None = None,
    ) -> None:
        """``progress(done, total)`` after each publication filed; ``pages(url, page, items)``
        after each feed page read by a backfill; ``with_tasks``: a backfill sets up
        past-deadline publications like new ones instead of filing them as historic."""
        self.app = app
        self.progress = progress
        self.pages = pages
        self.with_tasks = with_tasks
        self._assignees_checked = False
        self._done = 0
        self.failed_feeds: set[str] = set()
        """Feeds with an item failed or left for later: their validators are not committed,
        so the next pass reads them again even if nothing in them changed."""
        self.settings = app.settings
        self.report = report
        self.today = today
        self.dry_run = report.dry_run
        self._plan_tasks: list[dict[str, Any]] | None = None
        self._plan_lock = threading.Lock()
        self._since: dt.date | None = None

    # -- feeds ------------------------------------------------------------------------------
    def read_feeds(
        self, *, conditional: bool = True, since: dt.date | None = None
    ) -> tuple[list[Publication], dict[str, feeds.FeedCache]]:
        """Publications of every feed (first occurrence of a key wins) and new validators.

        ``conditional=False`` (backfill) ignores stored validators: the whole feed is wanted,
        and with ``since`` its older pages too (`read_pages`).
        """
        if since is not None:
            return self.read_pages(since), {}
        cache_state = self.app.state.section("feeds") if conditional else {}
        publications: dict[str, Publication] = {}
        new_caches: dict[str, feeds.FeedCache] = {}
        for url in self.settings.feed_urls:
            stored = cache_state.get(url) or {}
            cache = feeds.FeedCache(
                etag=str(stored.get("etag", "")), last_modified=str(stored.get("last_modified", ""))
            )
            try:
                result = self.fetch(url, cache)
            except FeedError as exc:
                self.report.failure(url, f"feed not read: {exc.reason}")
                continue
            for problem in result.problems:
                log.warning("feed %s: %s", url, problem)
            if result.not_modified:
                log.info("feed %s not modified", url)
                continue
            new_caches[url] = result.cache
            for pub in result.publications:
                publications.setdefault(pub.key, pub)
        return list(publications.values()), new_caches

    def fetch(self, url: str, cache: feeds.FeedCache | None) -> feeds.FeedResult:
        """One feed (or feed page) with the configured limits.

        Raises:
            FeedError: not fetched or not a feed.
        """
        return feeds.fetch_feed(
            self.app.http,
            url,
            cache=cache,
            timeout=self.settings.timeout,
            max_bytes=self.settings.feed_max_bytes,
            verify=self.settings.verify,
        )

    def read_pages(self, since: dt.date) -> list[Publication]:
        """Every feed page by page (WordPress ``?paged=N``) back to ``since``.

        A feed lists only its newest items (10 by default); older ones are on the next
        pages. Reading stops at a page whose oldest item is before ``since``, an empty or
        missing (404) page, a page that repeats the one before (a feed without paging), or
        after `feeds.MAX_PAGES`.
        """
        publications: dict[str, Publication] = {}
        for url in self.settings.feed_urls:
            previous: set[str] = set()
            for page in range(1, feeds.MAX_PAGES + 1):
                address = feeds.page_url(url, page)
                try:
                    result = self.fetch(address, None)
                except FeedError as exc:
                    if page > 1 and exc.reason.startswith("HTTP 404"):
                        break  # past the last page
                    self.report.failure(address, f"feed not read: {exc.reason}")
                    break
                for problem in result.problems:
                    log.warning("feed %s: %s", address, problem)
                keys = {pub.key for pub in result.publications}
                if not keys or keys <= previous:
                    break
                previous = keys
                for pub in result.publications:
                    publications.setdefault(pub.key, pub)
                if self.pages is not None:
                    self.pages(url, page, len(result.publications))
                if min(pub.published_on for pub in result.publications) < since:
                    break
            else:
                log.warning("feed %s: stopped after %d pages", url, feeds.MAX_PAGES)
        return list(publications.values())

    def commit_feed_caches(self, caches: dict[str, feeds.FeedCache]) -> None:
        """Remember validators, so an unchanged feed costs one conditional GET."""
        if self.dry_run or not caches:
            return
        state = self.app.state.section("feeds")
        for url, cache in caches.items():
            state[url] = {"etag": cache.etag, "last_modified": cache.last_modified}
        self.app.state.set("feeds", state)

    def wanted(self, pub: Publication, *, since: dt.date | None) -> bool:
        """The first-run rule (or the backfill window), and no dates in the future."""
        if pub.published_on < EARLIEST_PUBLICATION:
            log.warning(
                "%s: publication date %s is before %s, not a plausible HMICFRS date; not filed",
                pub.key,
                pub.published_on,
                EARLIEST_PUBLICATION,
            )
            return False
        if pub.published_on > self.today + dt.timedelta(days=1):
            log.warning(
                "%s: publication date %s is after %s; not filed yet",
                pub.key,
                pub.published_on,
                self.today,
            )
            return False
        if since is not None:
            return pub.published_on >= since
        deadline = response_deadline(pub.published_on, DeadlineRule(self.settings.deadline_rule))
        return should_file(deadline, self.today)

    # -- the pass ----------------------------------------------------------------------------
    def past_deadline(self, pub: Publication) -> bool:
        """Whether the publication's response deadline is before today."""
        deadline = response_deadline(pub.published_on, DeadlineRule(self.settings.deadline_rule))
        return deadline < self.today

    def historic(self, pub: Publication, *, since: dt.date | None) -> bool:
        """A backfill files a past-deadline publication as a record only (no work)."""
        return since is not None and not self.with_tasks and self.past_deadline(pub)

    def run(self, *, since: dt.date | None = None) -> None:
        """Read the feeds and file what is new; finish any setup left incomplete."""
        publications, caches = self.read_feeds(conditional=since is None, since=since)
        self.file_publications(publications, since=since)
        if since is None:
            self.say_left_for_backfill(publications)
        # A feed whose items failed keeps its old validators, so it is read again next run.
        self.commit_feed_caches(
            {url: cache for url, cache in caches.items() if url not in self.failed_feeds}
        )

    def say_left_for_backfill(self, publications: Sequence[Publication]) -> None:
        """Log each past-deadline feed item not in the tracker, once, and how to file it.

        The first-run rule leaves them out; an office may still want them on record.
        """
        past = [
            pub
            for pub in publications
            if pub.published_on >= EARLIEST_PUBLICATION and self.past_deadline(pub)
        ]
        seen = set(self.app.state.get(PAST_DEADLINE_SEEN) or [])
        new = [pub for pub in past if pub.key not in seen]
        if new:
            self.app.workspace.resolve()
            existing, unknown = self.lookup_each(new)
            left = [pub for pub in new if pub.key not in existing and pub.key not in unknown]
            for pub in left:
                log.warning(
                    "%s: '%s' published %s: its response deadline has passed; not filed "
                    "(left for backfill)",
                    pub.key,
                    shorten(pub.title, 80),
                    pub.published_on.isoformat(),
                    extra={"publication": pub.key},
                )
            if left:
                earliest = min(pub.published_on for pub in left)
                log.warning(
                    "skipped %d publication(s) whose deadline has passed; file them with: "
                    "automation backfill --since %s",
                    len(left),
                    earliest.isoformat(),
                )
            seen |= {pub.key for pub in new if pub.key not in unknown}
        current = {pub.key for pub in past}
        if not self.dry_run and seen & current != set(self.app.state.get(PAST_DEADLINE_SEEN) or []):
            self.app.state.set(PAST_DEADLINE_SEEN, sorted(seen & current))

    def check_assignees(self) -> None:
        """Refuse to file when a stage's assignee is not a user of the tenant.

        A task for an unknown person would be left unassigned and its reminders would go
        nowhere; the fix is in the settings, so nothing is filed until it is made.

        Raises:
            SettingsError: one line per unknown assignee, naming the setting.
        """
        if self._assignees_checked:
            return
        named: dict[str, str] = {}
        if self.settings.people.response_owner:
            named.setdefault(self.settings.people.response_owner, "people.response_owner")
        for stage in self.settings.stages:
            upn = self.settings.stage_assignee(stage)
            if upn:
                named.setdefault(upn, assignee_setting(stage.assignee, stage.key))
        problems = [
            f"{setting}: {upn} is not a user in the tenant; correct the setting "
            "(`automation doctor` checks every person)"
            for upn, setting in named.items()
            if self.app.users.get(upn) is None
        ]
        if problems:
            raise SettingsError(problems)
        self._assignees_checked = True

    def file_publications(
        self, publications: Sequence[Publication], *, since: dt.date | None = None
    ) -> None:
        """File every wanted publication not yet in the tracker (in parallel)."""
        candidates = [pub for pub in publications if self.wanted(pub, since=since)]
        if not candidates:
            return
        self.app.workspace.resolve()
        existing, unknown = self.lookup_each(candidates)
        todo: list[tuple[Publication, TrackerRecord | None]] = []
        for pub in candidates:
            if pub.key in unknown:
                continue
            record = existing.get(pub.key)
            if record is None or self.needs_setup(record):
                todo.append((pub, record))
        if not todo:
            return
        if any(not self.historic(pub, since=since) for pub, _record in todo):
            self.check_assignees()
        self._since = since
        workers = max(1, min(self.settings.concurrency, len(todo)))
        total = len(todo)

        def one(pair: tuple[Publication, TrackerRecord | None]) -> None:
            self._file_one(*pair)
            with self._plan_lock:
                self._done += 1
                done = self._done
            if self.progress is not None:
                self.progress(done, total)

        if workers == 1:
            for pair in todo:
                one(pair)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="intake") as pool:
            list(pool.map(one, todo))

    def _file_one(self, pub: Publication, record: TrackerRecord | None) -> None:
        try:
            if record is None:
                filed = self.file(pub)
                if filed is None:
                    return
                record, created = filed
                finished = self.continue_setup(record, fresh=created)
            else:
                finished = self.continue_setup(record, fresh=False)
        except AutomationError as exc:
            self.failed_feeds.add(pub.feed_url)
            self.report.failure(pub.key, str(exc))
            return
        if not finished:
            self.failed_feeds.add(pub.feed_url)

    # -- lookups -------------------------------------------------------------------------------
    def lookup(self, keys: Iterable[str]) -> dict[str, TrackerRecord]:
        """Tracker records by key: one ``$batch`` round trip per 20 keys."""
        return self.app.tracker.lookup_by_keys(keys)

    def lookup_each(
        self, publications: Sequence[Publication]
    ) -> tuple[dict[str, TrackerRecord], set[str]]:
        """Records by key, and the keys whose lookup failed (one round trip per 20 keys).

        A lookup still throttled or failing after the retry budget fails only the
        publications of its round trip: they are reported, their feed's validators are kept
        (so the next pass reads them again) and the others go on.
        """
        found: dict[str, TrackerRecord] = {}
        unknown: set[str] = set()
        for start in range(0, len(publications), LOOKUP_CHUNK):
            chunk = publications[start : start + LOOKUP_CHUNK]
            try:
                found.update(self.lookup([pub.key for pub in chunk]))
            except GraphError as exc:
                for pub in chunk:
                    unknown.add(pub.key)
                    self.failed_feeds.add(pub.feed_url)
                    self.report.failure(pub.key, f"not looked up in the tracker: {exc}")
        return found, unknown

    # -- filing ------------------------------------------------------------------------------
    def item_fields(self, pub: Publication) -> dict[str, Any]:
        """The new item's fields."""
        rule = DeadlineRule(self.settings.deadline_rule)
        deadline = response_deadline(pub.published_on, rule)
        relevance = assess(
            pub,
            force_name=self.settings.force_name,
            aliases=self.settings.force_aliases,
            fire_and_rescue_service=self.settings.fire_and_rescue_service,
        )
        status = initial_status(relevance.decision)
        if status is Status.DRAFTING:
            status = self.first_stage_status()
        setup = SetupState.NONE if relevance.decision == Decision.NO else SetupState.FILED
        fields: dict[str, Any] = {
            "Title": shorten(pub.title, 255),
            "PublicationKey": pub.key,
            "ReportUrl": pub.link,
            "PublishedOn": pub.published_on,
            "ResponseDeadline": deadline,
            "PublicationTypes": shorten("; ".join(pub.types), 255),
            "PoliceForces": shorten("; ".join(pub.forces), 255),
            "ResponseRequired": str(relevance.decision),
            "TriageReason": relevance.reason,
            "Status": str(status),
            "ResponseOwner": self.settings.people.response_owner,
            "S55DeadlineRule": rule.value,
            "S55Setup": setup.value,
            "S55Report": report_json(pub),
        }
        if self.historic(pub, since=self._since) and relevance.decision != Decision.NO:
            fields["Status"] = Status.CLOSED.value
            fields["TriageReason"] = shorten(f"{relevance.reason} {HISTORIC_NOTE}", REASON_MAX)
            setup = SetupState.NONE
            fields["S55Setup"] = setup.value
        if setup != SetupState.NONE:
            fields["S55Lease"] = lease_value()
        if pub.recommendation_count is not None:
            fields["Recommendations"] = pub.recommendation_count
        elif pub.recommendations:
            fields["Recommendations"] = len(pub.recommendations)
        if pub.afi_count is not None:
            fields["AreasForImprovement"] = pub.afi_count
        elif pub.areas_for_improvement:
            fields["AreasForImprovement"] = len(pub.areas_for_improvement)
        return fields

    def file(self, pub: Publication) -> tuple[TrackerRecord, bool] | None:
        """Create the tracker item: (record, created by us), or None in a dry run."""
        if self.settings.fetch_report_pages:
            pub = reports.enrich(
                pub,
                self.app.http,
                allowed_hosts=self.settings.report_hosts,
                verify=self.settings.verify,
            )
        fields = self.item_fields(pub)
        deadline = response_deadline(pub.published_on, DeadlineRule(self.settings.deadline_rule))
        summary = (
            f"file '{shorten(pub.title, 80)}' published {long_date(pub.published_on)}: "
            f"{fields['ResponseRequired']} ({fields['TriageReason']}), "
            f"deadline {long_date(deadline)}"
        )
        if fields["Status"] == Status.CLOSED.value:
            summary += " (historic: Closed, no draft, tasks or reminders)"
        self.report.action(pub.key, summary)
        if self.dry_run and fields["Status"] == Status.CLOSED.value:
            return None
        if self.dry_run:
            if fields["ResponseRequired"] == Decision.YES.value:
                self.report.action(pub.key, "create the Word draft and one Planner task per stage")
            elif fields["ResponseRequired"] == Decision.TBD.value:
                self.report.action(pub.key, "create a triage task")
            return None
        record, created = self.app.tracker.create_or_find(fields)
        if not created:
            # Our earlier answer was lost, or another instance filed it first.
            log.info("%s: already filed as %s", pub.key, record.marker)
            return record, False
        self.report.filed.append(pub.key)
        return record, True

    # -- setup ---------------------------------------------------------------------------------
    def needs_setup(self, record: TrackerRecord) -> bool:
        """Whether the item still needs a draft/tasks or a triage task."""
        terminal = record.status in TERMINAL
        if terminal and record.response_required != Decision.YES:
            return False
        if record.response_required == Decision.YES.value:
            if "S55Tasks" in record.unreadable and not terminal:
                return True  # the task ids were edited away: find the tasks again by title
            return record.setup != SetupState.COMPLETE and record.status != Status.CLOSED
        if record.response_required == Decision.TBD.value:
            return record.setup in ("", SetupState.FILED)
        return False

    def continue_setup(self, record: TrackerRecord, *, fresh: bool) -> bool:
        """Carry the item's setup forward from wherever it stopped.

        Returns:
            False when the setup was left for a later pass (another instance holds the
            item's lease: it is recorded with :meth:`RunReport.later`), True otherwise.
        """
        if not self.needs_setup(record):
            return True
        if self.dry_run:
            self.report.action(record.key, f"complete the setup of {record.marker}")
            return True
        if not fresh and not claim(self.app, record, fields=self.decision_fields(record)):
            self.report.later(record.key, f"setup of {record.marker}: another instance holds it")
            return False
        if record.response_required == Decision.YES.value:
            self.setup_response(record, fresh=fresh)
        else:
            self.setup_triage(record, fresh=fresh)
        return True

    def decision_fields(self, record: TrackerRecord) -> dict[str, Any] | None:
        """ "Decided Yes by ..." for an item a person turned into a response, else None.

        Written with the claim (one write), so the person stays the item's last editor
        until their decision is recorded, even if this pass dies right after.
        """
        if record.response_required != Decision.YES.value or record.setup not in (
            SetupState.TRIAGE,
            SetupState.NONE,
        ):
            return None
        reason = decision_reason(self.app, record, Decision.YES, today=self.today)
        return None if reason == record.triage_reason else {"TriageReason": reason}

    def planned(self, record: TrackerRecord) -> list[PlannedStage]:
        """Due dates of the stages for this item."""
        if record.published_on is None or record.deadline is None:
            raise ItemError(record.key, "PublishedOn/ResponseDeadline", "missing or not a date")
        # Filed late (backfill, or after downtime): stages already past are due from today.
        return plan_stages(
            record.published_on, record.deadline, stage_specs(self.app), today=self.today
        )

    def setup_response(self, record: TrackerRecord, *, fresh: bool) -> None:
        """Draft, stage tasks, details, then the final bookkeeping update."""
        if "S55Tasks" in record.unreadable:
            log.warning(
                "%s (%s): S55Tasks: not valid JSON; finding the Planner tasks again",
                record.key,
                record.marker,
            )
        draft_id, draft_url = record.draft_item_id, record.draft_url
        if not draft_id:
            draft = self.ensure_draft(record)
            draft_id, draft_url = str(draft["id"]), str(draft.get("webUrl", ""))
            self.report.action(record.key, f"draft {draft.get('name')} in the library")
        planned = self.planned(record)
        tasks = self.ensure_tasks(record, planned, fresh=fresh)
        details = self.detail_requests(record, planned, tasks, draft_url=draft_url)
        # A person decided Yes on a triage item: its triage task is done.
        complete_recorded_task(self.app, record, TRIAGE_STAGE.key)
        final: dict[str, Any] = {
            "DraftUrl": draft_url,
            "S55DraftItemId": draft_id,
            "S55Tasks": {key: {**value, "details": True} for key, value in tasks.items()},
            "S55Setup": SetupState.COMPLETE.value,
            "S55Lease": "",
        }
        if record.status in ("", Status.TRIAGE):
            final["Status"] = self.first_stage_status().value
        if not record.response_owner and self.settings.people.response_owner:
            final["ResponseOwner"] = self.settings.people.response_owner
        self.finish(record, details, final)

    def first_stage_status(self) -> Status:
        """Where a response starts: the stage its new tasks put it at (Chief Constable
        comments with the default stages), as follow-up computes it, so the next pass has no
        Status to correct."""
        return stage_status(stage.role for stage in self.settings.stages)

    def setup_triage(self, record: TrackerRecord, *, fresh: bool) -> None:
        """A triage task for a publication a person must decide on."""
        if record.published_on is None or record.deadline is None:
            raise ItemError(record.key, "PublishedOn/ResponseDeadline", "missing or not a date")
        # Due a week after publication; filed late, rebased like the stages of a response.
        planned = plan_stages(
            record.published_on, record.deadline, [TRIAGE_STAGE], today=self.today
        )
        tasks = self.ensure_tasks(record, planned, fresh=fresh)
        details = self.detail_requests(record, planned, tasks, draft_url="")
        final: dict[str, Any] = {
            "S55Tasks": {**record.tasks, **{k: {**v, "details": True} for k, v in tasks.items()}},
            "S55Setup": SetupState.TRIAGE.value,
            "S55Lease": "",
        }
        self.finish(record, details, final)

    def finish(
        self, record: TrackerRecord, details: Sequence[Op[Any]], final: dict[str, Any]
    ) -> None:
        """Patch task details and then (only if they all worked) the tracker item.

        One fully serial chain: Microsoft refuses a batch that mixes parallel and
        dependent requests, and the item's "complete" must come after every detail.
        """
        self.app.tracker.patch_after(details, record.item_id, final)
        self.report.action(record.key, f"{record.marker} set up ({final.get('S55Setup')})")

    # -- draft ---------------------------------------------------------------------------------
    def ensure_draft(self, record: TrackerRecord) -> dict[str, Any]:
        """Upload the draft, or find the one an earlier (crashed) run uploaded."""
        ws = self.app.workspace.resolve()
        folder = draft_folder(self.settings, record)
        content = build_draft(self.settings, record)
        for attempt in range(1, 6):
            name = draft_name(record, attempt)
            try:
                return self.app.drive.upload(ws.drive_id, folder, name, content, conflict="fail")
            except ConflictError:
                existing = self.app.drive.get_by_path(ws.drive_id, f"{folder}/{name}")
                if existing is None:
                    continue
                if (
                    draft_key(self.app.drive.download(ws.drive_id, str(existing["id"])))
                    == (record.key[:255])
                ):
                    log.info("%s: found the draft uploaded earlier: %s", record.key, name)
                    return existing
        raise ItemError(record.key, "DraftUrl", f"no free file name for the draft in {folder}")

    # -- tasks -----------------------------------------------------------------------------------
    def task_title(self, record: TrackerRecord, spec: StageSpec) -> str:
        """``[S55-12] Draft the response - <title>`` (the prefix finds it again)."""
        return shorten(f"{self.task_prefix(record, spec)} \u2013 {record.title}", TASK_TITLE_MAX)

    @staticmethod
    def task_prefix(record: TrackerRecord, spec: StageSpec) -> str:
        """The stable start of a task's title."""
        return f"[{record.marker}] {spec.title}"

    def plan_tasks(self) -> list[dict[str, Any]]:
        """All tasks of the plan (read once per run, only when recovering)."""
        with self._plan_lock:
            if self._plan_tasks is None:
                plan_id = self.app.workspace.resolve().plan_id
                self._plan_tasks = self.app.planner.list_tasks(plan_id)
            return self._plan_tasks

    def ensure_tasks(
        self, record: TrackerRecord, planned: Sequence[PlannedStage], *, fresh: bool
    ) -> dict[str, dict[str, Any]]:
        """Task ids per stage key: recorded ones, found ones, then newly created ones."""
        tasks: dict[str, dict[str, Any]] = {
            key: dict(value) for key, value in record.tasks.items() if isinstance(value, dict)
        }
        missing = [stage for stage in planned if stage.spec.key not in tasks]

        def find_by_title(stages: Sequence[PlannedStage]) -> None:
            for task in self.plan_tasks():
                title = str(task.get("title", ""))
                for stage in stages:
                    if title.startswith(self.task_prefix(record, stage.spec)):
                        tasks.setdefault(stage.spec.key, {"id": str(task["id"])})

        if missing and not fresh:
            find_by_title(missing)
            missing = [stage for stage in planned if stage.spec.key not in tasks]
        if not missing:
            return tasks
        ws = self.app.workspace.resolve()
        specs: dict[str, TaskSpec] = {}
        for stage in missing:
            assignee = stage.spec.assignee or self.settings.people.response_owner
            user = self.app.users.get(assignee)
            if assignee and user is None:
                log.warning(
                    "%s: stage %s assignee %s is not a known user; task left unassigned "
                    "(check the stages/people settings)",
                    record.key,
                    stage.spec.key,
                    assignee,
                )
            specs[stage.spec.key] = TaskSpec(
                plan_id=ws.plan_id,
                bucket_id=self.app.workspace.bucket_id(stage.spec.bucket),
                title=self.task_title(record, stage.spec),
                assignee_ids=(user.id,) if user else (),
                due=due_datetime(stage.due),
            )
        problems: list[str] = []
        created_count = 0
        for attempt in range(1, CREATE_ROUNDS + 1):
            unknown = []
            for key, created in self.app.planner.create_tasks(specs).items():
                if isinstance(created, OutcomeUnknownError) and attempt < CREATE_ROUNDS:
                    unknown.append(key)  # Planner may have made it: look before creating again
                elif isinstance(created, Exception):
                    problems.append(f"{key}: HTTP {getattr(created, 'status', '?')}")
                else:
                    tasks[key] = {"id": created}
                    created_count += 1
            if not unknown:
                break
            with self._plan_lock:
                self._plan_tasks = None  # read the plan again: the task may be new
            find_by_title([stage for stage in missing if stage.spec.key in unknown])
            specs = {key: specs[key] for key in unknown if key not in tasks}
            if not specs:
                break
        self.report.action(record.key, f"{created_count} Planner task(s) created")
        if problems:
            raise ItemError(record.key, "Planner tasks", "; ".join(problems))
        return tasks

    def detail_requests(
        self,
        record: TrackerRecord,
        planned: Sequence[PlannedStage],
        tasks: dict[str, dict[str, Any]],
        *,
        draft_url: str,
    ) -> list[Op[None]]:
        """PATCH operations for the details of tasks not yet described (etags read in one batch)."""
        todo = [stage for stage in planned if not tasks[stage.spec.key].get("details")]
        if not todo:
            return []
        etags = self.app.planner.details_etags(
            {stage.spec.key: str(tasks[stage.spec.key]["id"]) for stage in todo}
        )
        return [
            Planner.details_patch_op(
                str(tasks[stage.spec.key]["id"]),
                etags[stage.spec.key],
                self.task_details(record, stage, draft_url=draft_url),
            )
            for stage in todo
        ]

    def task_details(
        self, record: TrackerRecord, stage: PlannedStage, *, draft_url: str
    ) -> dict[str, Any]:
        """Description with links, checklist (recommendations) and references."""
        report = record.report
        link = str(report.get("link") or record.report_url)
        deadline = record.deadline
        rule = DeadlineRule(record.deadline_rule or self.settings.deadline_rule)
        lines = [
            f"Section 55 response: {report.get('title') or record.title}",
            f"Published: {long_date(record.published_on) if record.published_on else '?'}",
            f"Response deadline: {long_date(deadline) if deadline else '?'} "
            f"({deadline_rule_label(rule)})",
            f"This stage is due: {long_date(stage.due)}",
            "",
            f"Tracker item: {record.web_url}",
        ]
        if draft_url:
            lines.append(f"Draft: {draft_url}")
        lines.append(f"Report: {link}")
        if record.triage_reason and stage.spec.key == TRIAGE_STAGE.key:
            lines += [
                "",
                f"Why this needs a decision: {record.triage_reason}",
                "Set 'Response required' on the tracker item to Yes or No.",
            ]
        references = {
            url: alias
            for url, alias in (
                (draft_url, "Draft response"),
                (link, "HMICFRS report"),
                (str(report.get("pdf") or ""), "Report (PDF)"),
                (record.web_url, "Tracker item"),
            )
            if url.startswith(("https://", "http://"))
        }
        checklist = {}
        if stage.spec.role == "draft":
            # The report's own numbers ("Recommendation 19: ..."), as the draft shows them.
            findings = findings_from_json(report.get("recommendations"))
            for position, finding in enumerate(findings[:CHECKLIST_MAX], start=1):
                item_id = checklist_id(f"{record.key}/{stage.spec.key}", position)
                checklist[item_id] = shorten(
                    f"{finding_label('Recommendation', finding, position)}: {finding.text}",
                    CHECKLIST_TITLE_MAX,
                )
        body = details_body(
            description="\n".join(lines), checklist=checklist, references=references
        )
        body["previewType"] = "description"
        if checklist:
            body["previewType"] = "checklist"
        return body
