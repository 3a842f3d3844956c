"""`python -m automation`."""

from __future__ import annotations

from automation.cli import main

raise SystemExit(main())
