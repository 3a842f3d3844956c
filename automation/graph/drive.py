"""Files in a SharePoint document library (a Graph drive)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urljoin

from automation.errors import ConflictError, GraphError
from automation.graph.client import GraphClient

__all__ = ["SIMPLE_UPLOAD_LIMIT", "UPLOAD_FRAGMENT_UNIT", "Drive"]

log = logging.getLogger(__name__)

SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024  # simple PUT is safe up to 4 MB everywhere
UPLOAD_FRAGMENT_UNIT = 327_680  # upload-session fragments are multiples of 320 KiB
CONFLICT_BEHAVIOURS = frozenset({"fail", "replace", "rename"})


def _path(path: str) -> str:
    """A drive path with each segment URL-quoted, no leading/trailing slash."""
    return "/".join(quote(p, safe="") for p in path.strip("/").split("/") if p)


def _seg(value: str) -> str:
    return quote(value, safe="")


class Drive:
    """A document library: folders, uploads, downloads and PDF conversion."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    def site_drive(self, site_id: str) -> dict[str, Any]:
        """The site's default document library."""
        result: dict[str, Any] = self._client.get_json(f"/sites/{quote(site_id, safe=',')}/drive")
        return result

    def _root(self, drive_id: str) -> str:
        return f"/drives/{_seg(drive_id)}/root"

    def get_by_path(self, drive_id: str, path: str) -> dict[str, Any] | None:
        """The driveItem at ``path`` (relative to the library root), or ``None``."""
        quoted = _path(path)
        url = f"{self._root(drive_id)}:/{quoted}" if quoted else self._root(drive_id)
        response = self._client.request("GET", url, ok={404})
        if response.status == 404:
            return None
        result: dict[str, Any] = response.json()
        return result

    def get_item(self, drive_id: str, item_id: str) -> dict[str, Any]:
        """The driveItem with this id."""
        result: dict[str, Any] = self._client.get_json(
            f"/drives/{_seg(drive_id)}/items/{_seg(item_id)}"
        )
        return result

    def ensure_folder(self, drive_id: str, path: str) -> dict[str, Any]:
        """The folder at ``path``, creating each missing segment; safe to repeat."""
        existing = self.get_by_path(drive_id, path)
        if existing is not None:
            return _require_folder(existing, path)
        segments = [p for p in path.strip("/").split("/") if p]
        parent = self.get_by_path(drive_id, "")
        if parent is None:
            raise GraphError(f"drive {drive_id} has no root", method="GET", url=drive_id)
        walked: list[str] = []
        for name in segments:
            walked.append(name)
            here = "/".join(walked)
            item = self.get_by_path(drive_id, here)
            if item is None:
                try:
                    item = self._client.request(
                        "POST",
                        f"/drives/{_seg(drive_id)}/items/{_seg(str(parent['id']))}/children",
                        json={
                            "name": name,
                            "folder": {},
                            "@microsoft.graph.conflictBehavior": "fail",
                        },
                    ).json()
                except ConflictError:
                    # Someone (or an earlier attempt of ours) created it meanwhile.
                    item = self.get_by_path(drive_id, here)
                    if item is None:
                        raise
            parent = _require_folder(item, here)
        return parent

    def upload(
        self,
        drive_id: str,
        folder_path: str,
        name: str,
        content: bytes,
        *,
        conflict: str = "fail",
        chunk_size: int = 10 * UPLOAD_FRAGMENT_UNIT,
        session_threshold: int = SIMPLE_UPLOAD_LIMIT,
    ) -> dict[str, Any]:
        """Upload ``content`` as ``folder_path/name``; returns the driveItem.

        Up to ``session_threshold`` bytes (4 MB by default, the most a simple PUT takes
        everywhere) in one PUT, larger through an upload session in ``chunk_size``
        fragments. ``conflict`` is fail (409 ConflictError when the name exists),
        replace or rename.
        """
        if conflict not in CONFLICT_BEHAVIOURS:
            raise ValueError(f"conflict must be one of {sorted(CONFLICT_BEHAVIOURS)}")
        if chunk_size <= 0 or chunk_size % UPLOAD_FRAGMENT_UNIT:
            raise ValueError("chunk_size must be a positive multiple of 327680 bytes")
        if not 0 <= session_threshold <= SIMPLE_UPLOAD_LIMIT:
            raise ValueError(f"session_threshold must be between 0 and {SIMPLE_UPLOAD_LIMIT}")
        target = _path(f"{folder_path}/{name}")
        item_url = f"{self._root(drive_id)}:/{target}:"
        if len(content) <= session_threshold:
            result: dict[str, Any] = self._client.request(
                "PUT",
                f"{item_url}/content",
                params={"@microsoft.graph.conflictBehavior": conflict},
                data=content,
                headers={"Content-Type": "application/octet-stream"},
                # With "fail" a repeat after a lost answer would hit our own file (409).
                idempotent=conflict != "fail",
            ).json()
            return result
        session = self._client.request(
            "POST",
            f"{item_url}/createUploadSession",
            json={"item": {"@microsoft.graph.conflictBehavior": conflict, "name": name}},
        ).json()
        upload_url = str(session["uploadUrl"])
        try:
            return self._upload_fragments(upload_url, content, chunk_size)
        except GraphError:
            self._cancel_session(upload_url)
            raise

    def _upload_fragments(self, upload_url: str, content: bytes, chunk_size: int) -> dict[str, Any]:
        total = len(content)
        offset = 0
        while offset < total:
            end = min(offset + chunk_size, total)
            response = self._client.request(
                "PUT",
                upload_url,
                data=content[offset:end],
                headers={
                    "Content-Range": f"bytes {offset}-{end - 1}/{total}",
                    "Content-Type": "application/octet-stream",
                },
                authenticated=False,
                # A fragment repeated after a lost answer is rejected (416): do not guess.
                idempotent=False,
            )
            if response.status in (200, 201):
                item: dict[str, Any] = response.json()
                return item
            next_offset = _next_offset(response.json(), default=end)
            if next_offset <= offset:
                raise GraphError(
                    f"upload session stalled at byte {offset}", method="PUT", url="uploadUrl"
                )
            offset = next_offset
        raise GraphError("upload session ended without a driveItem", method="PUT", url="")

    def _cancel_session(self, upload_url: str) -> None:
        try:
            self._client.request("DELETE", upload_url, authenticated=False, ok={404})
        except GraphError as exc:  # best effort: the session expires on its own
            log.info("upload session could not be cancelled: %s", type(exc).__name__)

    def _follow_download(self, path: str, params: dict[str, str] | None) -> bytes:
        # Follow the 302 ourselves so the bearer token never goes to the pre-authenticated URL.
        response = self._client.request("GET", path, params=params, allow_redirects=False)
        if 300 <= response.status < 400:
            location = response.headers.get("Location")
            if not location:
                raise GraphError("redirect without a Location", method="GET", url=path)
            target = urljoin(response.url or self._client.url_for(path, params), location)
            return self._client.request("GET", target, authenticated=False).body
        return response.body

    def download(self, drive_id: str, item_id: str) -> bytes:
        """The file's bytes."""
        return self._follow_download(
            f"/drives/{_seg(drive_id)}/items/{_seg(item_id)}/content", None
        )

    def download_pdf(self, drive_id: str, item_id: str) -> bytes:
        """The file converted to PDF by Graph (docx and other Office formats)."""
        return self._follow_download(
            f"/drives/{_seg(drive_id)}/items/{_seg(item_id)}/content", {"format": "pdf"}
        )


def _require_folder(item: dict[str, Any], path: str) -> dict[str, Any]:
    if "folder" not in item:
        raise ConflictError(
            status=409,
            code="notAFolder",
            message=f"{path!r} exists and is not a folder",
            request_id="",
            method="GET",
            url=path,
        )
    return item


def _next_offset(status: Any, *, default: int) -> int:
    """The first byte the server still expects (from ``nextExpectedRanges``)."""
    ranges = status.get("nextExpectedRanges") if isinstance(status, dict) else None
    if isinstance(ranges, list) and ranges:
        start = str(ranges[0]).split("-", 1)[0]
        if start.isdigit():
            return int(start)
    return default
