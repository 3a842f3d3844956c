"""Sandbox routes: a site's document library (a Graph drive) and its items.

Over 500 lines on purpose: the drive store (paths, names, conflict rules) and one handler
per served route; upload sessions live in :mod:`automation.sandbox.uploads`.

Items live in the table ``driveItems`` (one flat dict keyed by item id, the root created
lazily per drive); file bytes are blobs. Keys starting with ``_`` are bookkeeping and never
leave the sandbox. Supported: drive lookup, items by id or ``root:/path:``, children,
folder creation with ``@microsoft.graph.conflictBehavior``, simple upload (201 new / 200
replaced), upload sessions on a pre-authenticated ``/_upload/drive/...`` URL (320 KiB
fragments, in order), downloads and ``?format=pdf`` as a 302 to a short-lived
``/_upload/download/<token>`` URL on another host name than Graph's (``localhost`` when Graph
is ``127.0.0.1``) that refuses a bearer token, and delete.

Who edits: the application that owns the token, or a person named in the sandbox-only
header ``X-Sandbox-Acting-User`` (user id or UPN), e.g. a member of staff saving in Word.

Conversion choices (Graph documents no exact status for each): a source type Graph cannot
convert is ``400 notSupported``; a .docx that cannot be opened is ``406 notSupported`` (what
Graph answers when the Office converter rejects a file); Office formats the sandbox cannot
render (xlsx, pptx, ...) convert to a stub PDF naming the file.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from automation.sandbox.framework import (
    ApiError,
    Request,
    Response,
    bind,
    collection_response,
    empty_response,
    json_response,
    new_guid,
    now_iso,
    select_fields,
)
from automation.sandbox.pdf import PdfConversionError, docx_text, text_to_pdf
from automation.sandbox.site_access import Access, require_access

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext
    from automation.sandbox.state import Tenant
from automation.sandbox.uploads import (
    UploadKind,
    content_range,
    drop_session,
    find_session,
    keep_fragment,
    open_session,
    received_bytes,
)

__all__ = [
    "ACTING_USER_HEADER",
    "FRAGMENT_UNIT",
    "register",
]

ITEMS = "driveItems"
DRIVE_UPLOADS = UploadKind(
    table="driveUploadSessions",
    blob_prefix="upload-",
    token_param="tempauth",
    url_path="/_upload/drive",
    auth_code="unauthenticated",
    missing_code="itemNotFound",
    invalid_code="invalidRange",
)
DOWNLOADS = "driveDownloads"

ACTING_USER_HEADER = "X-Sandbox-Acting-User"
APP_DISPLAY_NAME = "Section 55 automation"
FRAGMENT_UNIT = 327_680  # upload-session fragments are multiples of 320 KiB
MAX_FRAGMENT = 60 * 1024 * 1024
SIMPLE_UPLOAD_LIMIT = 250 * 1024 * 1024
DOWNLOAD_SECONDS = 300.0
CONFLICT_BEHAVIOURS = frozenset({"fail", "replace", "rename"})
CONFLICT_PARAM = "@microsoft.graph.conflictBehavior"


# Sources that v1.0 converts to PDF; the sandbox renders the text of the first group.
TEXT_SOURCES = frozenset({"txt", "csv", "md"})
STUB_SOURCES = frozenset(
    {
        "doc",
        "odp",
        "ods",
        "odt",
        "pot",
        "potm",
        "potx",
        "pps",
        "ppsx",
        "ppsxm",
        "ppt",
        "pptm",
        "pptx",
        "rtf",
        "xls",
        "xlsx",
    }
)
WORD_ONLINE = frozenset({"docx", "doc", "docm", "dotx"})

MIME_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "doc": "application/msword",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "md": "text/markdown",
    "json": "application/json",
    "html": "text/html",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "zip": "application/zip",
}

_ILLEGAL_NAME = re.compile(r'["*:<>?/\\|\x00-\x1f]')
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# -- small helpers ------------------------------------------------------------------------
def _new_item_id() -> str:
    return "01" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


def _expiry_text(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def _mime_type(name: str) -> str:
    ext = _extension(name)
    if ext in MIME_TYPES:
        return MIME_TYPES[ext]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _require_role(ctx: SandboxContext, request: Request, *, write: bool) -> None:
    """403 unless the app reaches the site of the addressed drive (Sites.* / Files.* roles
    tenant-wide, or a Sites.Selected grant on that site)."""
    store = DriveStore(ctx.tenant)
    if "drive_id" in request.params:
        site_id = store.drive(request.params["drive_id"]).get("site_id")
        site = store.site(str(site_id)) if site_id else {}
    else:
        site = store.site(request.params["site_id"])
    require_access(site, request, Access.WRITE if write else Access.READ, files=True)


def _check_name(name: str) -> str:
    if not name or not name.strip():
        raise ApiError(400, "invalidRequest", "The name of the item is empty.")
    if _ILLEGAL_NAME.search(name) or name != name.strip() or name.endswith("."):
        raise ApiError(
            400,
            "invalidRequest",
            "The provided name cannot contain any illegal characters.",
        )
    return name


def _conflict_value(raw: object, default: str) -> str:
    if raw is None or raw == "":
        return default
    value = str(raw).strip().lower()
    if value not in CONFLICT_BEHAVIOURS:
        raise ApiError(
            400,
            "invalidRequest",
            f"Invalid value '{raw}' for @microsoft.graph.conflictBehavior.",
        )
    return value


def _name_taken(exc_name: str) -> ApiError:
    return ApiError(
        409, "nameAlreadyExists", f"The specified item name already exists. Name: {exc_name}"
    )


def _path_segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


# -- the drive model -------------------------------------------------------------------------
class DriveStore:
    """Drive and item bookkeeping over the tenant's JSON state."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    # drives ---------------------------------------------------------------------------
    def drive(self, drive_id: str) -> dict[str, Any]:
        """The drive record; 404 when unknown."""
        drive = self.tenant.table("drives").get(drive_id)
        if not isinstance(drive, dict):
            raise ApiError(404, "itemNotFound", "The requested drive could not be found.")
        return drive

    def site(self, site_id: str) -> dict[str, Any]:
        """The site record (id matched case-insensitively); 404 when unknown."""
        sites = self.tenant.table("sites")
        found = sites.get(site_id)
        if found is None:
            wanted = site_id.lower()
            found = next((s for k, s in sites.items() if k.lower() == wanted), None)
        if not isinstance(found, dict):
            raise ApiError(404, "itemNotFound", "Requested site could not be found")
        return found

    def site_drives(self, site_id: str) -> list[dict[str, Any]]:
        """The site's libraries, its default one first."""
        site = self.site(site_id)
        drives = self.tenant.table("drives")
        default = site.get("drive_id")
        ordered = [d for d in drives.values() if d.get("site_id") == site["id"]]
        ordered.sort(key=lambda d: (d.get("id") != default, str(d.get("name", ""))))
        return ordered

    def drive_id_for(self, request: Request) -> str:
        """The drive a request addresses: ``drives/{drive-id}`` or ``sites/{site-id}/drive``."""
        if "drive_id" in request.params:
            drive_id = request.params["drive_id"]
            self.drive(drive_id)
            return drive_id
        site = self.site(request.params["site_id"])
        drive_id = str(site.get("drive_id", ""))
        self.drive(drive_id)
        return drive_id

    @staticmethod
    def drive_json(drive: dict[str, Any]) -> dict[str, Any]:
        """A drive as Graph returns it."""
        return {k: v for k, v in drive.items() if k != "site_id" and not k.startswith("_")}

    # items ----------------------------------------------------------------------------
    @property
    def items(self) -> dict[str, Any]:
        """Every item of every drive."""
        return self.tenant.table(ITEMS)

    def root(self, drive_id: str) -> dict[str, Any]:
        """The drive's root folder, created on first use."""
        drive = self.drive(drive_id)
        root_id = drive.get("_root_id")
        if isinstance(root_id, str) and root_id in self.items:
            root: dict[str, Any] = self.items[root_id]
            return root
        root_id = _new_item_id()
        created = str(drive.get("createdDateTime") or now_iso())
        creator = {"application": {"id": "", "displayName": "SharePoint"}}
        root = {
            "id": root_id,
            "name": "root",
            "createdDateTime": created,
            "lastModifiedDateTime": created,
            "createdBy": creator,
            "lastModifiedBy": creator,
            "_drive": drive_id,
            "_parent": None,
            "_guid": new_guid().upper(),
            "_version": 1,
            "_folder": True,
        }
        self.items[root_id] = root
        drive["_root_id"] = root_id
        return root

    def item(self, drive_id: str, item_id: str) -> dict[str, Any]:
        """An item of the drive by id (``root`` is an alias); 404 otherwise."""
        if item_id.lower() == "root":
            return self.root(drive_id)
        record = self.items.get(item_id)
        if not isinstance(record, dict) or record.get("_drive") != drive_id:
            raise ApiError(404, "itemNotFound", "The resource could not be found.")
        return record

    def children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The items directly in a folder, by name."""
        found = [r for r in self.items.values() if r.get("_parent") == parent["id"]]
        found.sort(key=lambda r: str(r["name"]).lower())
        return found

    def child(self, parent: dict[str, Any], name: str) -> dict[str, Any] | None:
        """The child with this name (names are case-insensitive), if any."""
        wanted = name.lower()
        for record in self.children(parent):
            if str(record["name"]).lower() == wanted:
                return record
        return None

    def by_path(self, drive_id: str, path: str) -> dict[str, Any]:
        """The item at ``path`` under the root; 404 when any segment is missing."""
        current = self.root(drive_id)
        for segment in _path_segments(path):
            found = self.child(current, segment)
            if found is None:
                raise ApiError(404, "itemNotFound", "The resource could not be found.")
            current = found
        return current

    def path_of(self, record: dict[str, Any]) -> list[str]:
        """Names from the root (excluded) down to ``record``."""
        names: list[str] = []
        current: dict[str, Any] | None = record
        while current is not None and current.get("_parent"):
            names.append(str(current["name"]))
            current = self.items.get(str(current["_parent"]))
        names.reverse()
        return names

    def size_of(self, record: dict[str, Any]) -> int:
        """A file's size, or the total size of a folder's files."""
        if not record.get("_folder"):
            return int(record.get("_size", 0))
        return sum(self.size_of(child) for child in self.children(record))

    def web_url(self, record: dict[str, Any]) -> str:
        """The browser link: Word Online for Word files, the library path otherwise."""
        drive = self.drive(str(record["_drive"]))
        base = str(drive.get("webUrl", "")).rstrip("/")
        names = self.path_of(record)
        if not names:
            return base
        if not record.get("_folder") and _extension(str(record["name"])) in WORD_ONLINE:
            site = self.tenant.table("sites").get(str(drive.get("site_id", "")))
            site_url = str(site.get("webUrl", base)) if isinstance(site, dict) else base
            return (
                f"{site_url}/_layouts/15/Doc.aspx?sourcedoc=%7B{record['_guid']}%7D"
                f"&file={quote(str(record['name']), safe='')}&action=default&mobileredirect=true"
            )
        return base + "/" + "/".join(quote(name, safe="") for name in names)

    def to_json(self, record: dict[str, Any]) -> dict[str, Any]:
        """An item as Graph returns it."""
        drive_id = str(record["_drive"])
        drive = self.drive(drive_id)
        guid = record["_guid"]
        out: dict[str, Any] = {
            "createdBy": record["createdBy"],
            "createdDateTime": record["createdDateTime"],
            "eTag": f'"{{{guid}}},{record["_version"]}"',
            "id": record["id"],
            "lastModifiedBy": record["lastModifiedBy"],
            "lastModifiedDateTime": record["lastModifiedDateTime"],
            "name": record["name"],
            "webUrl": self.web_url(record),
            "cTag": f'"c:{{{guid}}},{record.get("_content_version", record["_version"])}"',
            "fileSystemInfo": {
                "createdDateTime": record["createdDateTime"],
                "lastModifiedDateTime": record["lastModifiedDateTime"],
            },
            "size": self.size_of(record),
        }
        parent_id = record.get("_parent")
        reference: dict[str, Any] = {
            "driveType": drive.get("driveType", "documentLibrary"),
            "driveId": drive_id,
        }
        if drive.get("site_id"):
            reference["siteId"] = drive["site_id"]
        if parent_id:
            parent = self.items[str(parent_id)]
            parent_path = "/".join(self.path_of(parent))
            reference["id"] = parent_id
            reference["name"] = parent["name"] if parent.get("_parent") else drive.get("name")
            reference["path"] = "/drive/root:" + (f"/{parent_path}" if parent_path else "")
        out["parentReference"] = reference
        if record.get("_folder"):
            out["folder"] = {"childCount": len(self.children(record))}
        else:
            out["file"] = {
                "mimeType": record["_mime"],
                "hashes": {"sha256Hash": record["_sha256"]},
            }
        if not parent_id:
            out["root"] = {}
        return out

    # writes ---------------------------------------------------------------------------
    def identity(self, request: Request) -> dict[str, Any]:
        """Who is writing: the acting user named by the sandbox header, else the app."""
        acting = request.headers.get(ACTING_USER_HEADER, "")
        if acting:
            wanted = str(acting).strip().lower()
            for user in self.tenant.table("users").values():
                keys = {
                    str(user.get("id", "")).lower(),
                    str(user.get("userPrincipalName", "")).lower(),
                    str(user.get("mail", "")).lower(),
                }
                if wanted in keys:
                    return {"user": {"id": user["id"], "displayName": user.get("displayName")}}
            raise ApiError(400, "invalidRequest", f"Unknown acting user '{acting}'.")
        return {"application": {"id": request.app_id, "displayName": APP_DISPLAY_NAME}}

    def unique_name(self, parent: dict[str, Any], name: str) -> str:
        """``name``, or ``stem N.ext`` with the smallest free N (Graph's rename)."""
        if self.child(parent, name) is None:
            return name
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, dot, ext = name, "", ""
        number = 1
        while True:
            candidate = f"{stem} {number}{dot}{ext}"
            if self.child(parent, candidate) is None:
                return candidate
            number += 1

    def _new_record(
        self, parent: dict[str, Any], name: str, who: dict[str, Any], *, folder: bool
    ) -> dict[str, Any]:
        """A new driveItem under ``parent`` (version 1), not yet stored."""
        stamp = now_iso()
        record: dict[str, Any] = {
            "id": _new_item_id(),
            "name": name,
            "createdDateTime": stamp,
            "lastModifiedDateTime": stamp,
            "createdBy": who,
            "lastModifiedBy": who,
            "_drive": parent["_drive"],
            "_parent": parent["id"],
            "_guid": new_guid().upper(),
            "_version": 1,
            "_folder": folder,
        }
        if not folder:
            record["_content_version"] = 1
        return record

    def new_folder(self, parent: dict[str, Any], name: str, who: dict[str, Any]) -> dict[str, Any]:
        """Create a folder under ``parent``."""
        record = self._new_record(parent, name, who, folder=True)
        self.items[record["id"]] = record
        return record

    def ensure_folders(
        self, drive_id: str, segments: list[str], who: dict[str, Any]
    ) -> dict[str, Any]:
        """The folder at ``segments``, creating missing ones (as a path upload does)."""
        current = self.root(drive_id)
        for segment in segments:
            found = self.child(current, segment)
            if found is None:
                found = self.new_folder(current, segment, who)
            elif not found.get("_folder"):
                raise ApiError(400, "invalidRequest", f"'{segment}' is a file, not a folder.")
            current = found
        return current

    def check_parent_path(self, drive_id: str, segments: list[str]) -> dict[str, Any] | None:
        """The existing folder at ``segments`` (None when some are missing); 400 on a file."""
        current = self.root(drive_id)
        for segment in segments:
            _check_name(segment)
            found = self.child(current, segment)
            if found is None:
                return None
            if not found.get("_folder"):
                raise ApiError(400, "invalidRequest", f"'{segment}' is a file, not a folder.")
            current = found
        return current

    def write_file(
        self,
        parent: dict[str, Any],
        name: str,
        content: bytes,
        who: dict[str, Any],
        existing: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Create a file, or replace ``existing``'s content (a new version)."""
        stamp = now_iso()
        if existing is not None:
            record = existing
            record["_version"] = int(record["_version"]) + 1
            record["_content_version"] = int(record.get("_content_version", 1)) + 1
            record["lastModifiedDateTime"] = stamp
            record["lastModifiedBy"] = who
        else:
            record = self._new_record(parent, name, who, folder=False)
            record["_blob"] = f"drive-{record['id']}"
            self.items[record["id"]] = record
        record["_size"] = len(content)
        record["_mime"] = _mime_type(str(record["name"]))
        record["_sha256"] = hashlib.sha256(content).hexdigest().upper()
        self.tenant.put_blob(str(record["_blob"]), content)
        return record

    def delete(self, record: dict[str, Any]) -> None:
        """Remove an item (a folder with everything in it)."""
        for child in self.children(record):
            self.delete(child)
        if record.get("_blob"):
            self.tenant.delete_blob(str(record["_blob"]))
        self.items.pop(str(record["id"]), None)

    def content(self, record: dict[str, Any]) -> bytes:
        """A file's bytes."""
        return self.tenant.get_blob(str(record.get("_blob", "")))


# -- conditional requests ------------------------------------------------------------------
def _etags(store: DriveStore, record: dict[str, Any]) -> set[str]:
    shaped = store.to_json(record)
    return {str(shaped["eTag"]), str(shaped["cTag"])}


def _entity_tags(header: str) -> set[str]:
    """The tags of an If-Match/If-None-Match header (Graph's eTags contain commas)."""
    tags = set(re.findall(r'(?:W/)?"[^"]*"', header))
    if header.strip() == "*":
        tags.add("*")
    return tags


def _not_modified(request: Request, store: DriveStore, record: dict[str, Any]) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = _entity_tags(str(header))
    return "*" in wanted or bool(wanted & _etags(store, record))


def _check_if_match(request: Request, store: DriveStore, record: dict[str, Any] | None) -> None:
    header = request.headers.get("if-match")
    if header:
        wanted = _entity_tags(str(header))
        if record is None or not ("*" in wanted or wanted & _etags(store, record)):
            raise ApiError(
                412, "preconditionFailed", "The resource has changed since the caller last read it."
            )
    none_match = request.headers.get("if-none-match")
    if none_match and record is not None and str(none_match).strip() == "*":
        raise ApiError(412, "preconditionFailed", "An item with this name already exists.")


def item_response(
    ctx: SandboxContext, request: Request, record: dict[str, Any], status: int = 200
) -> Response:
    store = DriveStore(ctx.tenant)
    body = select_fields(store.to_json(record), request.query.get("$select"))
    return json_response(status, body)


# drives ---------------------------------------------------------------------------
def get_site_drive(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=False)
    drive_id = store.drive_id_for(request)
    body = select_fields(store.drive_json(store.drive(drive_id)), request.query.get("$select"))
    return json_response(200, body)


def list_site_drives(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=False)
    drives = [store.drive_json(d) for d in store.site_drives(request.params["site_id"])]
    select = request.query.get("$select")
    return collection_response(request, [select_fields(d, select) for d in drives])


def get_drive(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=False)
    body = store.drive_json(store.drive(request.params["drive_id"]))
    return json_response(200, select_fields(body, request.query.get("$select")))


# items ----------------------------------------------------------------------------
def addressed(ctx: SandboxContext, request: Request) -> dict[str, Any]:
    store = DriveStore(ctx.tenant)
    drive_id = store.drive_id_for(request)
    if "item_path" in request.params:
        return store.by_path(drive_id, request.params["item_path"])
    return store.item(drive_id, request.params.get("item_id", "root"))


def get_item(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=False)
    record = addressed(ctx, request)
    if _not_modified(request, store, record):
        return empty_response(304)
    return item_response(ctx, request, record)


def list_children(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=False)
    record = addressed(ctx, request)
    if not record.get("_folder"):
        raise ApiError(400, "invalidRequest", "The item is not a folder.")
    select = request.query.get("$select")
    values = [select_fields(store.to_json(c), select) for c in store.children(record)]
    return collection_response(request, values)


def create_child(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=True)
    parent = addressed(ctx, request)
    if not parent.get("_folder"):
        raise ApiError(400, "invalidRequest", "The parent item is not a folder.")
    body = request.json_object()
    name = _check_name(str(body.get("name") or ""))
    if not isinstance(body.get("folder"), dict):
        raise ApiError(
            400,
            "invalidRequest",
            "Only folders can be created here; upload files with PUT .../content.",
        )
    conflict = _conflict_value(body.get(CONFLICT_PARAM), "fail")
    who = store.identity(request)
    existing = store.child(parent, name)
    if existing is not None:
        if conflict == "fail":
            raise _name_taken(name)
        if conflict == "rename":
            name = store.unique_name(parent, name)
        else:
            store.delete(existing)
    return item_response(ctx, request, store.new_folder(parent, name, who), 201)


def delete_item(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=True)
    record = addressed(ctx, request)
    if not record.get("_parent"):
        raise ApiError(403, "accessDenied", "The root of a drive cannot be deleted.")
    _check_if_match(request, store, record)
    store.delete(record)
    return empty_response(204)


# simple upload ---------------------------------------------------------------------
def put_content(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=True)
    drive_id = store.drive_id_for(request)
    conflict = _conflict_value(request.query.get(CONFLICT_PARAM), "replace")
    if len(request.body) > SIMPLE_UPLOAD_LIMIT:
        raise ApiError(
            413,
            "invalidRequest",
            "Simple upload is limited to 250 MB; use an upload session.",
        )
    if "item_id" in request.params:  # PUT /items/{item-id}/content replaces a file
        record = store.item(drive_id, request.params["item_id"])
        if record.get("_folder"):
            raise ApiError(400, "invalidRequest", "A folder has no content.")
        _check_if_match(request, store, record)
        parent = store.items[str(record["_parent"])]
        written = store.write_file(
            parent, str(record["name"]), request.body, store.identity(request), record
        )
        return item_response(ctx, request, written, 200)
    if "item_path" in request.params:
        segments = _path_segments(request.params["item_path"])
        if not segments:
            raise ApiError(400, "invalidRequest", "The item path is empty.")
        folders, name = segments[:-1], segments[-1]
        parent = store.check_parent_path(drive_id, folders)
    else:
        parent = store.item(drive_id, request.params["parent_id"])
        if not parent.get("_folder"):
            raise ApiError(400, "invalidRequest", "The parent item is not a folder.")
        folders, name = [], request.params["filename"]
    _check_name(name)
    existing = store.child(parent, name) if parent is not None else None
    _check_if_match(request, store, existing)
    if existing is not None:
        if conflict == "fail" or existing.get("_folder"):
            raise _name_taken(name)
        if conflict == "rename":
            assert parent is not None  # an existing child implies an existing parent
            name = store.unique_name(parent, name)
            existing = None
    who = store.identity(request)
    if parent is None:
        parent = store.ensure_folders(drive_id, folders, who)
    written = store.write_file(parent, name, request.body, who, existing)
    return item_response(ctx, request, written, 200 if existing is not None else 201)


# upload sessions -------------------------------------------------------------------
def create_session(ctx: SandboxContext, request: Request) -> Response:
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=True)
    drive_id = store.drive_id_for(request)
    body = request.json_object() if request.body.strip() else {}
    item = body.get("item") or {}
    if not isinstance(item, dict):
        raise ApiError(400, "invalidRequest", "'item' must be an object.")
    if body.get("deferCommit") is True:
        raise ApiError(400, "notSupported", "deferCommit is not supported by the sandbox.")
    conflict = _conflict_value(item.get(CONFLICT_PARAM), "fail")
    if "item_path" in request.params:
        segments = _path_segments(request.params["item_path"])
        if not segments:
            raise ApiError(400, "invalidRequest", "The item path is empty.")
        folders, name = segments[:-1], segments[-1]
        parent = store.check_parent_path(drive_id, folders)
        parent_id = None
    else:
        parent = store.item(drive_id, request.params["parent_id"])
        if not parent.get("_folder"):
            raise ApiError(400, "invalidRequest", "The parent item is not a folder.")
        folders, name = [], request.params["filename"]
        parent_id = str(parent["id"])
    _check_name(name)
    existing = store.child(parent, name) if parent is not None else None
    _check_if_match(request, store, existing)
    if existing is not None and (conflict == "fail" or existing.get("_folder")):
        raise ApiError(
            409,
            "nameAlreadyExists",
            "Another file exists with the same name as the uploaded session. "
            "Please rename the file or choose a different conflict behavior.",
        )
    declared = item.get("fileSize")
    record = {
        "drive": drive_id,
        "parent_id": parent_id,
        "folders": folders,
        "name": name,
        "conflict": conflict,
        "total": int(declared) if isinstance(declared, int) and declared > 0 else None,
        "who": store.identity(request),
    }
    _, upload_url, expires = open_session(DRIVE_UPLOADS, ctx.tenant, request, record)
    return json_response(
        200,
        {
            "@odata.context": f"{request.graph_url}/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": upload_url,
            "expirationDateTime": _expiry_text(expires),
            "nextExpectedRanges": ["0-"],
        },
    )


def session_status(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "expirationDateTime": _expiry_text(float(record["expires"])),
        "nextExpectedRanges": [f"{record['received']}-"],
    }


def put_fragment(ctx: SandboxContext, request: Request) -> Response:
    session_id, record = find_session(DRIVE_UPLOADS, ctx.tenant, request)
    start, end, total = content_range(DRIVE_UPLOADS, request)
    length = len(request.body)
    if record["total"] is not None and total != record["total"]:
        raise ApiError(
            400,
            "invalidRequest",
            "The total length in Content-Range does not match the upload session.",
        )
    received = int(record["received"])
    if start < received:
        raise ApiError(416, "invalidRange", "Uploaded fragment overlaps with existing data.")
    if start > received:
        raise ApiError(
            416,
            "invalidRange",
            f"Fragments must be uploaded in order; next expected byte: {received}.",
        )
    final = end + 1 == total
    if length > MAX_FRAGMENT:
        raise ApiError(400, "invalidRange", "A fragment must be smaller than 60 MiB.")
    if not final and length % FRAGMENT_UNIT:
        raise ApiError(
            400,
            "invalidRange",
            "Fragments other than the last must be a multiple of 320 KiB (327,680 bytes).",
        )
    if final:
        return commit(ctx, request, session_id, record)
    keep_fragment(DRIVE_UPLOADS, ctx.tenant, session_id, record, request.body)
    record["total"] = total
    return json_response(202, session_status(record))


def commit(
    ctx: SandboxContext, request: Request, session_id: str, record: dict[str, Any]
) -> Response:
    store = DriveStore(ctx.tenant)
    drive_id = str(record["drive"])
    name = str(record["name"])
    who = dict(record["who"])
    if record["parent_id"] is not None:
        parent: dict[str, Any] | None = store.item(drive_id, str(record["parent_id"]))
    else:
        parent = store.check_parent_path(drive_id, list(record["folders"]))
    existing = store.child(parent, name) if parent is not None else None
    if existing is not None:
        if record["conflict"] == "fail" or existing.get("_folder"):
            raise ApiError(
                409,
                "nameAlreadyExists",
                "Another file exists with the same name as the uploaded session. "
                "Please rename the file or choose a different conflict behavior.",
            )
        if record["conflict"] == "rename":
            assert parent is not None
            name = store.unique_name(parent, name)
            existing = None
    content = received_bytes(DRIVE_UPLOADS, ctx.tenant, session_id) + request.body
    if parent is None:
        parent = store.ensure_folders(drive_id, list(record["folders"]), who)
    written = store.write_file(parent, name, content, who, existing)
    drop_session(DRIVE_UPLOADS, ctx.tenant, session_id)
    return json_response(200 if existing is not None else 201, store.to_json(written))


def get_session(ctx: SandboxContext, request: Request) -> Response:
    _, record = find_session(DRIVE_UPLOADS, ctx.tenant, request)
    return json_response(200, session_status(record))


def delete_session(ctx: SandboxContext, request: Request) -> Response:
    session_id, _ = find_session(DRIVE_UPLOADS, ctx.tenant, request)
    drop_session(DRIVE_UPLOADS, ctx.tenant, session_id)
    return empty_response(204)


# downloads -------------------------------------------------------------------------
def downloads(ctx: SandboxContext) -> dict[str, Any]:
    tenant = ctx.tenant
    table = tenant.table(DOWNLOADS)
    now = time.time()
    for token in [t for t, rec in table.items() if rec["expires"] < now]:
        if table[token].get("blob"):
            tenant.delete_blob(str(table[token]["blob"]))
        del table[token]
    return table


def get_content(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = DriveStore(ctx.tenant)
    _require_role(ctx, request, write=False)
    record = addressed(ctx, request)
    if record.get("_folder"):
        raise ApiError(400, "invalidRequest", "A folder has no content to download.")
    if _not_modified(request, store, record):
        return empty_response(304)
    wanted = request.query.get("format", "").strip().lower()
    token = secrets.token_urlsafe(32)
    entry: dict[str, Any] = {
        "drive": record["_drive"],
        "item": record["id"],
        "expires": time.time() + DOWNLOAD_SECONDS,
    }
    if wanted:
        if wanted != "pdf":
            raise ApiError(400, "notSupported", f"Conversion to '{wanted}' is not supported.")
        pdf = to_pdf(ctx, record)
        entry["blob"] = f"download-{token}"
        entry["name"] = str(record["name"]).rsplit(".", 1)[0] + ".pdf"
        entry["mime"] = "application/pdf"
        tenant.put_blob(entry["blob"], pdf)
    downloads(ctx)[token] = entry
    return empty_response(302, {"Location": f"{ctx.download_url()}/_upload/download/{token}"})


def to_pdf(ctx: SandboxContext, record: dict[str, Any]) -> bytes:
    store = DriveStore(ctx.tenant)
    name = str(record["name"])
    ext = _extension(name)
    content = store.content(record)
    title = name.rsplit(".", 1)[0] if "." in name else name
    if ext == "docx":
        try:
            return text_to_pdf(title, docx_text(content))
        except PdfConversionError as exc:
            raise ApiError(406, "notSupported", "The file could not be converted to PDF.") from exc
    if ext in TEXT_SOURCES:
        text = content.decode("utf-8-sig", errors="replace")
        return text_to_pdf(title, text.splitlines())
    if ext == "pdf":
        return content
    if ext in STUB_SOURCES:
        return text_to_pdf(title, [f"(The sandbox does not render .{ext} content.)"])
    raise ApiError(400, "notSupported", f"Conversion from '.{ext}' to PDF is not supported.")


def serve_download(ctx: SandboxContext, request: Request) -> Response:
    tenant = ctx.tenant
    store = DriveStore(ctx.tenant)
    # A pre-authenticated URL "does not require an Authorization header"; SharePoint refuses
    # one it did not issue for this URL (driveitem-get-content page), so a client that sends
    # its Graph bearer along is caught here.
    if "authorization" in request.headers:
        raise ApiError(
            401, "unauthenticated", "A pre-authenticated URL takes no Authorization header."
        )
    host = request.headers.get("host", "").rsplit(":", 1)[0]
    if host != urlsplit(ctx.download_url()).hostname:
        raise ApiError(404, "itemNotFound", "Downloads are served on the file host only.")
    entry = downloads(ctx).get(request.params["token"])
    if not isinstance(entry, dict):
        raise ApiError(401, "unauthenticated", "The download URL is invalid or has expired.")
    if entry.get("blob"):
        content = tenant.get_blob(str(entry["blob"]))
        name, mime = str(entry["name"]), str(entry["mime"])
    else:
        record = store.items.get(str(entry["item"]))
        if not isinstance(record, dict):
            raise ApiError(404, "itemNotFound", "The item no longer exists.")
        content = store.content(record)
        name, mime = str(record["name"]), str(record["_mime"])
    return Response(
        200,
        content,
        {
            "Content-Type": mime,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        },
    )


# -- routes ----------------------------------------------------------------------------------
def register(ctx: SandboxContext) -> None:
    """Register the drive routes (Graph and the pre-authenticated ``/_upload/`` URLs)."""
    DriveStore(ctx.tenant)
    # registration ------------------------------------------------------------------------
    add = ctx.router.add
    add(
        "GET",
        "/sites/{site-id}/drive",
        bind(get_site_drive, ctx),
        returns="microsoft.graph.drive",
    )
    add(
        "GET",
        "/sites/{site-id}/drives",
        bind(list_site_drives, ctx),
        returns="microsoft.graph.drive",
        collection=True,
    )
    add("GET", "/drives/{drive-id}", bind(get_drive, ctx), returns="microsoft.graph.drive")
    item_type = "microsoft.graph.driveItem"
    session_type = "microsoft.graph.uploadSession"
    for prefix in ("/drives/{drive-id}", "/sites/{site-id}/drive"):
        root = f"{prefix}/root"
        by_path = f"{root}:/{{item-path:path}}"
        by_id = f"{prefix}/items/{{item-id}}"
        under_parent = f"{prefix}/items/{{parent-id}}:/{{filename}}:"
        add(
            "GET",
            f"{root}/children",
            bind(list_children, ctx),
            returns=item_type,
            collection=True,
        )
        add("POST", f"{root}/children", bind(create_child, ctx), returns=item_type)
        add("GET", f"{root}/content", bind(get_content, ctx))
        add("GET", root, bind(get_item, ctx), returns=item_type)
        add(
            "GET",
            f"{by_path}:/children",
            bind(list_children, ctx),
            returns=item_type,
            collection=True,
        )
        add("POST", f"{by_path}:/children", bind(create_child, ctx), returns=item_type)
        add("GET", f"{by_path}:/content", bind(get_content, ctx))
        add("PUT", f"{by_path}:/content", bind(put_content, ctx), returns=item_type)
        add(
            "POST",
            f"{by_path}:/createUploadSession",
            bind(create_session, ctx),
            returns=session_type,
        )
        add("GET", f"{by_path}:", bind(get_item, ctx), returns=item_type)
        add("DELETE", f"{by_path}:", bind(delete_item, ctx))
        add("GET", by_path, bind(get_item, ctx), returns=item_type)
        add("PUT", f"{under_parent}/content", bind(put_content, ctx), returns=item_type)
        add(
            "POST",
            f"{under_parent}/createUploadSession",
            bind(create_session, ctx),
            returns=session_type,
        )
        add(
            "GET",
            f"{by_id}/children",
            bind(list_children, ctx),
            returns=item_type,
            collection=True,
        )
        add("POST", f"{by_id}/children", bind(create_child, ctx), returns=item_type)
        add("GET", f"{by_id}/content", bind(get_content, ctx))
        add("PUT", f"{by_id}/content", bind(put_content, ctx), returns=item_type)
        add("GET", by_id, bind(get_item, ctx), returns=item_type)
        add("DELETE", by_id, bind(delete_item, ctx))
    upload = "/_upload/drive/{session-id}"
    add("PUT", upload, bind(put_fragment, ctx), graph=False, auth=False)
    add("GET", upload, bind(get_session, ctx), graph=False, auth=False)
    add("DELETE", upload, bind(delete_session, ctx), graph=False, auth=False)
    add("GET", "/_upload/download/{token}", bind(serve_download, ctx), graph=False, auth=False)
