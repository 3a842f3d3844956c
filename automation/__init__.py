"""Section 55 response service: HMICFRS publications to SharePoint, Word and Planner."""

from __future__ import annotations

__version__ = "0.1.0"
