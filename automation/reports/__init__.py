"""Reading HMICFRS report pages and PDFs (allowlisted hosts only).

- `fetch`: `enrich` a publication from its landing page and, when needed, the full report;
- `pages`: what an HTML page says (`parse_report_page`);
- `pdf`: a report PDF's text as blocks;
- `findings`: numbered recommendations, areas for improvement and causes of concern.
"""

from __future__ import annotations

from automation.reports.fetch import enrich, merge_details, with_findings
from automation.reports.findings import Findings, addressed_to_policing, read_findings
from automation.reports.pages import ReportDetails, parse_report_page
from automation.reports.pdf import pdf_text, text_blocks

__all__ = [
    "Findings",
    "ReportDetails",
    "addressed_to_policing",
    "enrich",
    "merge_details",
    "parse_report_page",
    "pdf_text",
    "read_findings",
    "text_blocks",
    "with_findings",
]
