"""The sandbox tenant's state: plain JSON data behind one lock, optionally persisted.

Route handlers run while the server holds ``tenant.lock``; they read and change
``tenant.data`` (JSON-serialisable dicts) and file contents through ``put_blob``/``get_blob``.
With a data directory, ``save()`` writes ``state.json`` atomically and blobs as files, so a
restarted sandbox resumes the same tenant.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class Tenant:
    """Mutable tenant state; ``lock`` serialises every handler."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.data_dir = data_dir
        self.data: dict[str, Any] = {}
        self._blobs: dict[str, bytes] = {}
        self._dirty_blobs: set[str] = set()

    # -- loading and saving -------------------------------------------------------------
    @property
    def state_file(self) -> Path | None:
        """Where the state is persisted, if anywhere."""
        return self.data_dir / "state.json" if self.data_dir else None

    def load(self) -> bool:
        """Load persisted state; False when there is none."""
        path = self.state_file
        if path is None or not path.exists():
            return False
        self.data = json.loads(path.read_text(encoding="utf-8"))
        return True

    def save(self) -> None:
        """Persist state (no-op in memory)."""
        if self.data_dir is None:
            return
        blob_dir = self.data_dir / "blobs"
        blob_dir.mkdir(parents=True, exist_ok=True)
        for blob_id in sorted(self._dirty_blobs):
            content = self._blobs.get(blob_id)
            target = blob_dir / blob_id
            if content is None:
                target.unlink(missing_ok=True)
            else:
                _atomic_write(target, content)
        self._dirty_blobs.clear()
        assert self.state_file is not None
        _atomic_write(self.state_file, json.dumps(self.data).encode("utf-8"))

    # -- helpers for handlers -----------------------------------------------------------
    def table(self, name: str) -> dict[str, Any]:
        """A top-level collection, created on first use."""
        table = self.data.setdefault(name, {})
        assert isinstance(table, dict)
        return table

    def counter(self, name: str) -> int:
        """The next value of a named counter (1, 2, 3, ...)."""
        counters = self.table("_counters")
        counters[name] = int(counters.get(name, 0)) + 1
        return int(counters[name])

    def put_blob(self, blob_id: str, content: bytes) -> None:
        """Store file content."""
        self._blobs[blob_id] = content
        self._dirty_blobs.add(blob_id)

    def get_blob(self, blob_id: str) -> bytes:
        """File content stored earlier (b"" when unknown)."""
        if blob_id not in self._blobs and self.data_dir is not None:
            path = self.data_dir / "blobs" / blob_id
            if path.exists():
                self._blobs[blob_id] = path.read_bytes()
        return self._blobs.get(blob_id, b"")

    def delete_blob(self, blob_id: str) -> None:
        """Forget file content."""
        self._blobs.pop(blob_id, None)
        self._dirty_blobs.add(blob_id)

    def clear(self) -> None:
        """Drop everything (used by reset before re-seeding)."""
        self.data = {}
        for blob_id in list(self._blobs):
            self.delete_blob(blob_id)


def _atomic_write(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
