"""The Word draft: rendering the docxtpl template (`render`) and its fixed wording (`wording`).

Other modules import from here; the split keeps each part small.
"""

from __future__ import annotations

from automation.documents.names import attachment_name, draft_filename
from automation.documents.prompts import DraftCheck, fill_prompts, inspect_draft
from automation.documents.render import (
    KNOWN_PLACEHOLDERS,
    DraftContext,
    NumberedItem,
    check_template,
    format_long_date,
    render_draft,
    sanitise_text,
    template_placeholders,
)
from automation.documents.wording import (
    AFI_PROMPT,
    AFI_RESPONSE_PROMPT,
    CC_COMMENTS_PROMPT,
    CC_COMMENTS_PROMPT_FIRE,
    CONCERN_RESPONSE_PROMPT,
    KEY_FINDINGS_PROMPT,
    OFFICE_USE,
    PROMPT_STYLE,
    PROMPTS,
    RECOMMENDATION_RESPONSE_PROMPT,
    RECOMMENDATIONS_PROMPT,
    RESPONSE_PROMPT,
    OfficeUseItem,
    office_use_tag,
    tick_office_use,
)

__all__ = [
    "AFI_PROMPT",
    "AFI_RESPONSE_PROMPT",
    "CC_COMMENTS_PROMPT",
    "CC_COMMENTS_PROMPT_FIRE",
    "CONCERN_RESPONSE_PROMPT",
    "KEY_FINDINGS_PROMPT",
    "KNOWN_PLACEHOLDERS",
    "OFFICE_USE",
    "PROMPTS",
    "PROMPT_STYLE",
    "RECOMMENDATIONS_PROMPT",
    "RECOMMENDATION_RESPONSE_PROMPT",
    "RESPONSE_PROMPT",
    "DraftCheck",
    "DraftContext",
    "NumberedItem",
    "OfficeUseItem",
    "attachment_name",
    "check_template",
    "draft_filename",
    "fill_prompts",
    "format_long_date",
    "inspect_draft",
    "office_use_tag",
    "render_draft",
    "sanitise_text",
    "template_placeholders",
    "tick_office_use",
]
