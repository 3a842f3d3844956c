"""``automation report panel``: the Police and Crime Panel's progress paper (Word or CSV)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from automation.app import build_app
from automation.exitcodes import ExitCode
from automation.jobs.panel_report import Format, file_name, panel, render, upload
from automation.settings import Settings


def run_report(
    settings: Settings,
    *,
    as_of: dt.date,
    fmt: Format = "docx",
    output: Path | None = None,
) -> int:
    """Build the Panel report; write it to ``output`` or upload it to the site's library."""
    app = build_app(settings)
    try:
        data = panel(app, as_of)
        content = render(app, data, fmt)
        if output is not None:
            target = output / file_name(as_of, fmt) if output.is_dir() else output
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            where = str(target)
        else:
            where = upload(app, file_name(as_of, fmt), content)
    finally:
        app.client.close()
    sys.stdout.write(
        f"Panel report as of {as_of.isoformat()}: {data.open_count} open of {data.total} "
        f"findings, {len(data.groups)} report(s), {data.overdue_updates} update(s) overdue\n"
        f"written to {where}\n"
    )
    return ExitCode.OK
