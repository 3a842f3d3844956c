"""Pure domain rules: publications, relevance, deadlines, stages and workflow.

Nothing here does I/O or reads the clock: ``today`` is always an argument.
"""

from __future__ import annotations

from automation.domain.deadlines import (
    PERIOD_DAYS,
    DeadlineRule,
    day_of_period,
    deadline_rule_label,
    is_bank_holiday,
    is_working_day,
    next_working_day,
    previous_working_day,
    response_deadline,
)
from automation.domain.forces import (
    ALL_FORCES,
    HOME_OFFICE_FORCES,
    NON_HOME_OFFICE_FORCES,
    NOT_APPLICABLE,
    Force,
    force_for_label,
    forces_named_in,
    is_not_applicable,
)
from automation.domain.publications import (
    Finding,
    Publication,
    clean_text,
    normalise_key,
    strip_markup,
)
from automation.domain.relevance import Decision, Relevance, assess
from automation.domain.reminders import (
    Digest,
    Reminder,
    ReminderItem,
    ReminderKind,
    ReminderPolicy,
    StageState,
    digests,
    due_reminders,
)
from automation.domain.stages import (
    DEFAULT_STAGES,
    Anchor,
    PlannedStage,
    StageSpec,
    plan_stages,
    should_file,
)
from automation.domain.workflow import OPEN_STATUSES, Status, initial_status, is_open

__all__ = [
    "ALL_FORCES",
    "DEFAULT_STAGES",
    "HOME_OFFICE_FORCES",
    "NON_HOME_OFFICE_FORCES",
    "NOT_APPLICABLE",
    "OPEN_STATUSES",
    "PERIOD_DAYS",
    "Anchor",
    "DeadlineRule",
    "Decision",
    "Digest",
    "Finding",
    "Force",
    "PlannedStage",
    "Publication",
    "Relevance",
    "Reminder",
    "ReminderItem",
    "ReminderKind",
    "ReminderPolicy",
    "StageSpec",
    "StageState",
    "Status",
    "assess",
    "clean_text",
    "day_of_period",
    "deadline_rule_label",
    "digests",
    "due_reminders",
    "force_for_label",
    "forces_named_in",
    "initial_status",
    "is_bank_holiday",
    "is_not_applicable",
    "is_open",
    "is_working_day",
    "next_working_day",
    "normalise_key",
    "plan_stages",
    "previous_working_day",
    "response_deadline",
    "should_file",
    "strip_markup",
]
