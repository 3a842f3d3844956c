"""Jobs: intake, follow-up and reminders, orchestrating the domain and the Graph adapters."""

from __future__ import annotations
