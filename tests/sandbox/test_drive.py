"""Sandbox drive routes: the site library, folders, uploads, downloads and PDF conversion."""

from __future__ import annotations

import hashlib
import io
import os
import re
from typing import Any
from urllib.parse import quote, urlsplit

import docx
import pypdf
import pytest
import requests

from automation.sandbox import identity
from automation.sandbox.routes.drive import ACTING_USER_HEADER, FRAGMENT_UNIT
from tests.conftest import RawGraph

ETAG = re.compile(r'^"\{[0-9A-F-]{36}\},(\d+)"$')
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def plain(raw: RawGraph) -> requests.Session:
    """A session without the bearer token (pre-authenticated URLs)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(raw.sandbox.ca_path)
    return session


def drive_id(raw: RawGraph) -> str:
    answer = raw.call("GET", f"/sites/{raw.info['site_id']}/drive")
    assert answer.status_code == 200
    return str(answer.json()["id"])


def upload(raw: RawGraph, path: str, content: bytes, **kwargs: Any) -> requests.Response:
    quoted = "/".join(quote(part, safe="") for part in path.split("/"))
    return raw.call(
        "PUT", f"/drives/{drive_id(raw)}/root:/{quoted}:/content", data=content, **kwargs
    )


def make_docx(*paragraphs: str, cell: str = "") -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if cell:
        table = document.add_table(rows=1, cols=2)
        table.cell(0, 0).text = "Label"
        table.cell(0, 1).text = cell
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_site_drive_drives_and_drive_by_id(raw: RawGraph) -> None:
    seeded = raw.sandbox.tenant.data["seed"]["drive_id"]
    drive = raw.call("GET", f"/sites/{raw.info['site_id']}/drive").json()
    assert drive["id"] == seeded
    assert drive["driveType"] == "documentLibrary"
    assert drive["webUrl"].endswith("/sites/OPCC/Shared%20Documents")
    assert not any(key.startswith("_") or key == "site_id" for key in drive)
    listed = raw.call("GET", f"/sites/{raw.info['site_id']}/drives").json()["value"]
    assert [d["id"] for d in listed] == [seeded]
    assert raw.call("GET", f"/drives/{seeded}").json() == drive
    missing = raw.call("GET", "/drives/b!nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "itemNotFound"


def test_root_item_shape(raw: RawGraph) -> None:
    did = drive_id(raw)
    root = raw.call("GET", f"/drives/{did}/root").json()
    assert root["root"] == {}
    assert root["folder"] == {"childCount": 0}
    assert re.fullmatch(r"01[A-Z2-7]{32}", root["id"])
    assert ETAG.match(root["eTag"])
    assert root["cTag"].startswith('"c:{')
    assert root["parentReference"]["driveId"] == did
    assert root["webUrl"] == raw.call("GET", f"/drives/{did}").json()["webUrl"]
    assert raw.call("GET", f"/drives/{did}/items/{root['id']}").json()["id"] == root["id"]


def test_folder_create_fail_conflict_and_rename(raw: RawGraph) -> None:
    did = drive_id(raw)
    body = {"name": "Drafts", "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}
    created = raw.call("POST", f"/drives/{did}/root/children", json=body)
    assert created.status_code == 201
    folder = created.json()
    assert folder["name"] == "Drafts"
    assert folder["folder"] == {"childCount": 0}
    assert folder["parentReference"]["path"] == "/drive/root:"
    assert folder["createdBy"]["application"]["id"] == raw.info["client_id"]

    clash = raw.call("POST", f"/drives/{did}/root/children", json={**body, "name": "drafts"})
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "nameAlreadyExists"

    renamed = raw.call(
        "POST",
        f"/drives/{did}/root/children",
        json={**body, "@microsoft.graph.conflictBehavior": "rename"},
    )
    assert renamed.status_code == 201
    assert renamed.json()["name"] == "Drafts 1"

    nested = raw.call(
        "POST",
        f"/drives/{did}/items/{folder['id']}/children",
        json={"name": "2024", "folder": {}},
    )
    assert nested.status_code == 201
    assert nested.json()["parentReference"] == {
        "driveType": "documentLibrary",
        "driveId": did,
        "siteId": raw.info["site_id"],
        "id": folder["id"],
        "name": "Drafts",
        "path": "/drive/root:/Drafts",
    }
    names = [c["name"] for c in raw.call("GET", f"/drives/{did}/root/children").json()["value"]]
    assert names == ["Drafts", "Drafts 1"]
    assert raw.call("GET", f"/drives/{did}/root").json()["folder"]["childCount"] == 2
    bad = raw.call("POST", f"/drives/{did}/root/children", json={"name": "a:b", "folder": {}})
    assert bad.status_code == 400


def test_simple_upload_new_replace_fail_rename(raw: RawGraph) -> None:
    did = drive_id(raw)
    first = upload(raw, "Drafts/Response draft.docx", b"version one")
    assert first.status_code == 201
    item = first.json()
    assert item["size"] == len(b"version one")
    assert item["file"]["mimeType"] == DOCX_MIME
    assert (
        item["file"]["hashes"]["sha256Hash"] == hashlib.sha256(b"version one").hexdigest().upper()
    )
    assert ETAG.match(item["eTag"])[1] == "1"  # type: ignore[index]
    assert item["parentReference"]["path"] == "/drive/root:/Drafts"
    assert "/_layouts/15/Doc.aspx?sourcedoc=%7B" in item["webUrl"]
    assert "file=Response%20draft.docx" in item["webUrl"]
    folder = raw.call("GET", f"/drives/{did}/root:/Drafts").json()
    assert folder["folder"]["childCount"] == 1  # the missing folder was created

    replaced = upload(raw, "Drafts/Response draft.docx", b"version two!")
    assert replaced.status_code == 200
    assert replaced.json()["id"] == item["id"]
    assert ETAG.match(replaced.json()["eTag"])[1] == "2"  # type: ignore[index]
    assert replaced.json()["size"] == len(b"version two!")

    refused = upload(
        raw,
        "Drafts/response DRAFT.docx",
        b"x",
        params={"@microsoft.graph.conflictBehavior": "fail"},
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "nameAlreadyExists"

    renamed = upload(
        raw,
        "Drafts/Response draft.docx",
        b"y",
        params={"@microsoft.graph.conflictBehavior": "rename"},
    )
    assert renamed.status_code == 201
    assert renamed.json()["name"] == "Response draft 1.docx"

    by_parent = raw.call(
        "PUT", f"/drives/{did}/items/{folder['id']}:/notes.txt:/content", data=b"hello"
    )
    assert by_parent.status_code == 201
    assert by_parent.json()["file"]["mimeType"] == "text/plain"


def test_get_by_path_with_and_without_trailing_colon(raw: RawGraph) -> None:
    did = drive_id(raw)
    made = upload(raw, "A folder/Inner/report.txt", b"abc").json()
    for url in (
        f"/drives/{did}/root:/A%20folder/Inner/report.txt",
        f"/drives/{did}/root:/A%20folder/Inner/report.txt:",
        f"/drives/{did}/root:/a%20FOLDER/inner/REPORT.txt",
    ):
        answer = raw.call("GET", url)
        assert answer.status_code == 200, url
        assert answer.json()["id"] == made["id"]
    children = raw.call("GET", f"/drives/{did}/root:/A%20folder/Inner:/children").json()["value"]
    assert [c["id"] for c in children] == [made["id"]]
    missing = raw.call("GET", f"/drives/{did}/root:/A%20folder/nothing.txt")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "itemNotFound"
    selected = raw.call("GET", f"/drives/{did}/items/{made['id']}", params={"$select": "name"})
    assert set(selected.json()) == {"id", "name"}


def test_children_are_paged(raw: RawGraph) -> None:
    did = drive_id(raw)
    for number in range(5):
        assert upload(raw, f"Many/file{number}.txt", b"x").status_code == 201
    seen: list[str] = []
    url = f"/drives/{did}/root:/Many:/children?$top=2"
    while url:
        page = raw.call("GET", url).json()
        seen += [c["name"] for c in page["value"]]
        url = page.get("@odata.nextLink", "")
    assert seen == [f"file{n}.txt" for n in range(5)]


def test_conditional_get_item(raw: RawGraph) -> None:
    did = drive_id(raw)
    item = upload(raw, "c.txt", b"one").json()
    same = raw.call(
        "GET", f"/drives/{did}/items/{item['id']}", headers={"If-None-Match": item["eTag"]}
    )
    assert same.status_code == 304
    upload(raw, "c.txt", b"two")
    changed = raw.call(
        "GET", f"/drives/{did}/items/{item['id']}", headers={"If-None-Match": item["eTag"]}
    )
    assert changed.status_code == 200


def _session(raw: RawGraph, path: str, conflict: str = "fail") -> dict[str, Any]:
    answer = raw.call(
        "POST",
        f"/drives/{drive_id(raw)}/root:/{path}:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": conflict}},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _put(
    session: requests.Session, url: str, data: bytes, start: int, total: int
) -> requests.Response:
    return session.put(
        url,
        data=data,
        headers={"Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}"},
        timeout=10,
    )


def test_upload_session_round_trip_and_download_redirect(raw: RawGraph) -> None:
    did = drive_id(raw)
    content = os.urandom(1024 * 1024)
    created = _session(raw, "Big/random.bin")
    url = created["uploadUrl"]
    assert url.startswith(f"{raw.sandbox.url}/_upload/drive/")
    assert "tempauth=" in url
    assert created["nextExpectedRanges"] == ["0-"]
    assert created["expirationDateTime"].endswith("Z")
    anonymous = plain(raw)
    offset = 0
    final: requests.Response | None = None
    while offset < len(content):
        chunk = content[offset : offset + FRAGMENT_UNIT]
        answer = _put(anonymous, url, chunk, offset, len(content))
        offset += len(chunk)
        if offset < len(content):
            assert answer.status_code == 202, answer.text
            assert answer.json()["nextExpectedRanges"] == [f"{offset}-"]
            status = anonymous.get(url, timeout=10).json()
            assert status["nextExpectedRanges"] == [f"{offset}-"]
        else:
            final = answer
    assert final is not None
    assert final.status_code == 201, final.text
    item = final.json()
    assert item["size"] == len(content)
    assert item["name"] == "random.bin"
    assert item["parentReference"]["path"] == "/drive/root:/Big"
    assert item["file"]["hashes"]["sha256Hash"] == hashlib.sha256(content).hexdigest().upper()

    redirect = raw.call("GET", f"/drives/{did}/items/{item['id']}/content", allow_redirects=False)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    # Pre-authenticated, on the file host, not Graph's (driveitem-get-content page).
    assert location.startswith(f"{raw.sandbox.download_url}/_upload/download/")
    downloaded = anonymous.get(location, timeout=10)
    assert "Authorization" not in downloaded.request.headers
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["Content-Type"] == "application/octet-stream"
    # The session is gone once committed.
    assert anonymous.get(url, timeout=10).status_code == 404


def test_upload_session_rejects_bad_fragments(raw: RawGraph) -> None:
    created = _session(raw, "frag.bin")
    url = created["uploadUrl"]
    anonymous = plain(raw)
    total = FRAGMENT_UNIT * 3
    data = os.urandom(total)

    misaligned = _put(anonymous, url, data[:100_000], 0, total)
    assert misaligned.status_code == 400
    assert misaligned.json()["error"]["code"] == "invalidRange"

    assert _put(anonymous, url, data[:FRAGMENT_UNIT], 0, total).status_code == 202
    overlap = _put(anonymous, url, data[:FRAGMENT_UNIT], 0, total)
    assert overlap.status_code == 416
    assert overlap.json()["error"] == {
        "code": "invalidRange",
        "message": "Uploaded fragment overlaps with existing data.",
        "innerError": overlap.json()["error"]["innerError"],
    }
    gap = _put(anonymous, url, data[2 * FRAGMENT_UNIT :], 2 * FRAGMENT_UNIT, total)
    assert gap.status_code == 416
    other_total = _put(
        anonymous, url, data[FRAGMENT_UNIT : 2 * FRAGMENT_UNIT], FRAGMENT_UNIT, total + 1
    )
    assert other_total.status_code == 400

    with_auth = anonymous.put(
        url,
        data=data[FRAGMENT_UNIT : 2 * FRAGMENT_UNIT],
        headers={
            "Content-Range": f"bytes {FRAGMENT_UNIT}-{2 * FRAGMENT_UNIT - 1}/{total}",
            "Authorization": f"Bearer {raw.token}",
        },
        timeout=10,
    )
    assert with_auth.status_code == 401
    wrong_token = anonymous.get(re.sub(r"tempauth=[^&]+", "tempauth=wrong", url), timeout=10)
    assert wrong_token.status_code == 401
    assert anonymous.get(url, timeout=10).json()["nextExpectedRanges"] == [f"{FRAGMENT_UNIT}-"]

    assert anonymous.delete(url, timeout=10).status_code == 204
    assert anonymous.get(url, timeout=10).status_code == 404


def test_upload_session_name_clash_at_commit_and_replace(raw: RawGraph) -> None:
    did = drive_id(raw)
    failing = _session(raw, "clash.bin", conflict="fail")
    replacing = _session(raw, "clash.bin", conflict="replace")
    original = upload(raw, "clash.bin", b"someone else's file").json()
    anonymous = plain(raw)
    clash = _put(anonymous, failing["uploadUrl"], b"mine", 0, 4)
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "nameAlreadyExists"
    early = raw.call(
        "POST",
        f"/drives/{did}/root:/clash.bin:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "fail"}},
    )
    assert early.status_code == 409

    replaced = _put(anonymous, replacing["uploadUrl"], b"replacement", 0, 11)
    assert replaced.status_code == 200
    assert replaced.json()["id"] == original["id"]
    assert replaced.json()["size"] == 11


def test_pdf_conversion_of_a_docx(raw: RawGraph) -> None:
    did = drive_id(raw)
    sentence = "The Commissioner welcomes the inspectorate\u2019s findings on custody."
    content = make_docx("Section 55 response", sentence, cell="Norfolk Constabulary")
    item = upload(raw, "Drafts/response.docx", content).json()
    redirect = raw.call(
        "GET",
        f"/drives/{did}/items/{item['id']}/content",
        params={"format": "pdf"},
        allow_redirects=False,
    )
    assert redirect.status_code == 302
    pdf = plain(raw).get(redirect.headers["Location"], timeout=10)
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    flat = " ".join(text.split())
    assert sentence.replace("\u2019", "'") in flat
    assert "Label | Norfolk Constabulary" in flat
    # The plain download is still the Word file.
    raw_redirect = raw.call(
        "GET", f"/drives/{did}/items/{item['id']}/content", allow_redirects=False
    )
    assert plain(raw).get(raw_redirect.headers["Location"], timeout=10).content == content


@pytest.mark.parametrize("params", [{"format": "pdf"}, {}], ids=["pdf", "plain"])
def test_download_redirect_is_cross_host_and_refuses_a_bearer(
    raw: RawGraph, params: dict[str, str]
) -> None:
    did = drive_id(raw)
    item = upload(raw, "redirect.csv", b"a,b\n1,2\n").json()
    redirect = raw.call(
        "GET", f"/drives/{did}/items/{item['id']}/content", params=params, allow_redirects=False
    )
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    graph = urlsplit(raw.sandbox.graph_url)
    assert location.hostname != graph.hostname
    assert (graph.hostname, location.hostname) == ("127.0.0.1", "localhost")
    # The bearer Graph accepted is refused by the pre-authenticated URL ...
    with_bearer = plain(raw).get(
        location.geturl(), headers={"Authorization": f"Bearer {raw.token}"}, timeout=10
    )
    assert with_bearer.status_code == 401
    # ... the URL on Graph's host name is not the download (the client must follow Location) ...
    same_host = location._replace(netloc=graph.netloc).geturl()
    assert plain(raw).get(same_host, timeout=10).status_code == 404
    # ... and without a bearer the bytes come, over TLS verified by the sandbox's CA.
    fetched = plain(raw).get(location.geturl(), timeout=10)
    assert fetched.status_code == 200
    assert fetched.content.startswith(b"%PDF" if params else b"a,b")


def test_pdf_conversion_refusals(raw: RawGraph) -> None:
    did = drive_id(raw)
    image = upload(raw, "logo.png", b"\x89PNG\r\n\x1a\nnot really").json()
    refused = raw.call(
        "GET", f"/drives/{did}/items/{image['id']}/content?format=pdf", allow_redirects=False
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "notSupported"
    broken = upload(raw, "broken.docx", b"this is not a zip").json()
    failed = raw.call(
        "GET", f"/drives/{did}/items/{broken['id']}/content?format=pdf", allow_redirects=False
    )
    assert failed.status_code == 406
    assert failed.json()["error"]["code"] == "notSupported"


def test_download_url_expires(raw: RawGraph) -> None:
    did = drive_id(raw)
    item = upload(raw, "short.txt", b"short-lived").json()
    redirect = raw.call("GET", f"/drives/{did}/items/{item['id']}/content", allow_redirects=False)
    location = redirect.headers["Location"]
    assert plain(raw).get(location, timeout=10).content == b"short-lived"
    token = location.rsplit("/", 1)[1]
    with raw.sandbox.tenant.lock:
        raw.sandbox.tenant.data["driveDownloads"][token]["expires"] = 0
    assert plain(raw).get(location, timeout=10).status_code == 401


def test_acting_user_header_sets_created_and_modified_by(raw: RawGraph) -> None:
    officer_id = raw.sandbox.tenant.data["seed"]["user_ids"]["policy_officer"]
    staff = upload(
        raw,
        "by-staff.txt",
        b"typed in Word",
        headers={ACTING_USER_HEADER: "Policy.Officer@opcc.example.org"},
    ).json()
    assert staff["lastModifiedBy"] == {"user": {"id": officer_id, "displayName": "Priya Shah"}}
    assert staff["createdBy"] == staff["lastModifiedBy"]
    by_app = upload(raw, "by-staff.txt", b"saved by the service").json()
    assert by_app["lastModifiedBy"]["application"]["id"] == raw.info["client_id"]
    assert by_app["createdBy"]["user"]["id"] == officer_id
    unknown = upload(raw, "x.txt", b"x", headers={ACTING_USER_HEADER: "nobody@example.org"})
    assert unknown.status_code == 400


def test_delete_item_and_folder(raw: RawGraph) -> None:
    did = drive_id(raw)
    item = upload(raw, "Trash/one.txt", b"1").json()
    folder_id = item["parentReference"]["id"]
    assert raw.call("DELETE", f"/drives/{did}/items/{folder_id}").status_code == 204
    assert raw.call("GET", f"/drives/{did}/items/{item['id']}").status_code == 404
    assert raw.call("GET", f"/drives/{did}/root:/Trash").status_code == 404
    root = raw.call("GET", f"/drives/{did}/root").json()
    assert raw.call("DELETE", f"/drives/{did}/items/{root['id']}").status_code == 403


@pytest.mark.parametrize(("roles", "status"), [(["Mail.Send"], 403), (["Sites.Selected"], 201)])
def test_drive_writes_need_a_sites_role(raw: RawGraph, roles: list[str], status: int) -> None:
    did = drive_id(raw)
    with raw.sandbox.tenant.lock:
        identity.identity(raw.sandbox.tenant)["apps"][raw.info["client_id"]]["roles"] = roles
    answer = raw.call("PUT", f"/drives/{did}/root:/r.txt:/content", data=b"r")
    assert answer.status_code == status
    if status == 403:
        assert answer.json()["error"]["code"] == "accessDenied"
