"""The Panel report: built from the recommendations list, uploaded to the site's library.

The file is named for its as-of date ("Panel report 2023-10-20.docx"), so a second run for
the same date replaces it instead of adding a copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from automation.documents.panel_report import panel_csv, render_panel
from automation.domain.panel import PanelData, panel_data
from automation.jobs.ports import Services

log = logging.getLogger(__name__)

Format = Literal["docx", "csv"]


def file_name(as_of: dt.date, fmt: Format) -> str:
    """``Panel report 2023-10-20.docx`` (one file per as-of date and format)."""
    return f"Panel report {as_of.isoformat()}.{fmt}"


def panel(app: Services, as_of: dt.date) -> PanelData:
    """The report's content as of ``as_of`` (one paged read of the list)."""
    return panel_data(app.recommendations.all(), as_of=as_of)


def render(app: Services, data: PanelData, fmt: Format) -> bytes:
    """The report as Word (the office's template) or CSV."""
    if fmt == "csv":
        return panel_csv(data)
    settings = app.settings
    return render_panel(settings.templates_dir, data, office=settings.office_label)


def upload(app: Services, name: str, content: bytes) -> str:
    """Put the file in the "Panel reports" folder of the site's library; its web address."""
    drive_id = app.workspace.resolve().drive_id
    folder = app.settings.recommendations.panel_folder
    if app.drive.get_by_path(drive_id, folder) is None:
        app.drive.ensure_folder(drive_id, folder)
    item = app.drive.upload(drive_id, folder, name, content, conflict="replace")
    log.info("panel report uploaded to %s", folder)
    return str(item.get("webUrl") or f"{folder}/{name}")
