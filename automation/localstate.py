"""Local state: a cache only (feed validators, the delta link, resolved ids).

Deleting the state directory must cause no duplicate and lose nothing: SharePoint holds
the record. Writes are atomic (temp file + rename) so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class LocalState:
    """A small JSON document in ``state_dir/state.json``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "state.json"
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {}
        self.load()

    def load(self) -> None:
        """Read the file; a missing or corrupt file starts empty (it is only a cache)."""
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            loaded = {}
        except (OSError, ValueError) as exc:
            log.warning("local state %s unreadable (%s); starting from SharePoint", self.path, exc)
            loaded = {}
        self.data = loaded if isinstance(loaded, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        """A value, or ``default``."""
        with self._lock:
            return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set and save."""
        with self._lock:
            self.data[key] = value
            self._save()

    def section(self, key: str) -> dict[str, Any]:
        """A copy of a dict-valued entry."""
        value = self.get(key, {})
        return dict(value) if isinstance(value, dict) else {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
