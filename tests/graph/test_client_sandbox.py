"""The production Graph client against the sandbox: real HTTPS, real msal, real faults.

Each test builds ``MsalTokenProvider`` + ``GraphClient`` from ``automation.graph`` exactly as
the service does, pointed at the sandbox's identity endpoint and CA, and proves one
behaviour of the Foundation acceptance list.
"""

from __future__ import annotations

import io
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import pypdf
import pytest
import trustme
from pydantic import SecretStr

from automation.errors import (
    AuthError,
    ConflictError,
    DuplicateValueError,
    GraphTransportError,
    NotFoundError,
    OutcomeUnknownError,
    PreconditionFailedError,
)
from automation.graph import (
    BatchRequest,
    GraphClient,
    GraphRequest,
    GraphResponse,
    MsalTokenProvider,
    RequestsTransport,
    SecretCredential,
    load_certificate_credential,
)
from automation.graph.auth import CertificateCredential
from automation.graph.drive import UPLOAD_FRAGMENT_UNIT, Drive
from automation.graph.planner import Planner
from automation.graph.sharepoint import SharePoint
from automation.sandbox.faults import OneOff
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox

TOKEN_PATH = "/oauth2/v2.0/token"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PKEY_COLUMN = {
    "name": "PublicationKey",
    "displayName": "Publication key",
    "text": {},
    "indexed": True,
    "enforceUniqueValues": True,
}


@dataclass
class SleepRecorder:
    """Stands in for ``time.sleep``: records the waits and does not wait."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class RecordingTransport(RequestsTransport):
    """The real transport, keeping every response it received."""

    def __init__(self, *, verify: str | bool) -> None:
        super().__init__(verify=verify)
        self.responses: list[GraphResponse] = []

    def send(self, request: GraphRequest) -> GraphResponse:
        response = super().send(request)
        self.responses.append(response)
        return response


def _tokens(
    sandbox: Sandbox,
    *,
    credential: SecretCredential | CertificateCredential | None = None,
    verify: str | None = None,
) -> MsalTokenProvider:
    info = sandbox.info()
    return MsalTokenProvider(
        tenant_id=info["tenant_id"],
        client_id=info["client_id"],
        credential=credential or SecretCredential(secret=SecretStr(info["client_secret"])),
        authority_host=sandbox.url,
        verify=verify or str(sandbox.ca_path),
        timeout=10.0,
    )


def _client(
    sandbox: Sandbox,
    tokens: MsalTokenProvider | None = None,
    *,
    sleep: SleepRecorder | None = None,
    verify: str | None = None,
    transport: RequestsTransport | None = None,
) -> GraphClient:
    return GraphClient(
        base_url=sandbox.graph_url,
        tokens=tokens or _tokens(sandbox),
        transport=transport,
        verify=verify or str(sandbox.ca_path),
        timeout=(5.0, 15.0),
        sleep=sleep or SleepRecorder(),
    )


def _log(sandbox: Sandbox, method: str, pattern: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in sandbox.request_log()
        if entry["method"] == method and re.search(pattern, entry["path"])
    ]


def _token_requests(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e for e in sandbox.request_log() if str(e["path"]).endswith(TOKEN_PATH)]


def _items(client: GraphClient, site_id: str, list_id: str) -> list[dict[str, Any]]:
    """Every item of a list with its fields (a plain paged read)."""
    return list(
        client.paged(f"/sites/{site_id}/lists/{list_id}/items", params={"$expand": "fields"})
    )


def _item(client: GraphClient, site_id: str, list_id: str, item_id: str) -> dict[str, Any]:
    """One item with its fields."""
    path = f"/sites/{site_id}/lists/{list_id}/items/{item_id}"
    found: dict[str, Any] = client.get_json(path, params={"$expand": "fields"})
    return found


def _update_fields(
    client: GraphClient,
    site_id: str,
    list_id: str,
    item_id: str,
    fields: dict[str, Any],
    *,
    etag: str | None = None,
) -> None:
    """PATCH an item's fields (If-Match ``etag``), as the tracker adapter's write does."""
    client.request(
        "PATCH",
        f"/sites/{site_id}/lists/{list_id}/items/{item_id}/fields",
        json=fields,
        headers={"If-Match": etag} if etag else None,
        idempotent=etag is None,
    )


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sandbox: Sandbox, sleeps: SleepRecorder) -> Iterator[GraphClient]:
    graph = _client(sandbox, sleep=sleeps)
    yield graph
    graph.close()


@pytest.fixture
def tracker(sandbox: Sandbox, client: GraphClient) -> tuple[SharePoint, str, str]:
    """(adapter, site id, list id) of a fresh list with a unique PublicationKey column."""
    sharepoint = SharePoint(client)
    site_id = sandbox.info()["site_id"]
    created = sharepoint.create_list(site_id, f"Tracker {uuid.uuid4().hex[:8]}", [PKEY_COLUMN])
    return sharepoint, site_id, str(created["id"])


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A valid CA file that did NOT sign the sandbox's certificate."""
    path = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("kind", ["secret", "certificate"])
def test_msal_gets_a_token_and_graph_answers(sandbox: Sandbox, kind: str) -> None:
    credential: SecretCredential | CertificateCredential | None = None
    if kind == "certificate":
        credential = load_certificate_credential(sandbox.client_certificate_path, None)
    tokens = _tokens(sandbox, credential=credential)
    graph = _client(sandbox, tokens)
    try:
        site = graph.get_json(f"/sites/{sandbox.info()['site_id']}")
    finally:
        graph.close()
    assert site["id"] == sandbox.info()["site_id"]
    assert tokens.last_token_source == "identity_provider"
    token_calls = _token_requests(sandbox)
    assert [e["status"] for e in token_calls] == [200]


def test_wrong_secret_is_an_auth_error_without_the_secret(sandbox: Sandbox) -> None:
    wrong = "Wr0ng~" + uuid.uuid4().hex
    tokens = _tokens(sandbox, credential=SecretCredential(secret=SecretStr(wrong)))
    graph = _client(sandbox, tokens)
    try:
        with pytest.raises(AuthError) as caught:
            graph.get_json("/users")
    finally:
        graph.close()
    assert caught.value.code == "invalid_client"
    text = f"{caught.value!s} {caught.value!r}"
    assert wrong not in text
    assert sandbox.info()["client_secret"] not in text
    # The Graph call was never sent without a token.
    assert not [e for e in sandbox.request_log() if e["graph"]]


def test_one_token_request_serves_many_calls(sandbox: Sandbox) -> None:
    tokens = _tokens(sandbox)
    graph = _client(sandbox, tokens)
    upn = user_email("pcc")
    sources = []
    try:
        for _ in range(6):
            assert graph.get_json(f"/users/{upn}")["userPrincipalName"] == upn
            sources.append(tokens.last_token_source)
    finally:
        graph.close()
    assert len(_token_requests(sandbox)) == 1
    assert sources == ["identity_provider"] + ["cache"] * 5
    assert len(_log(sandbox, "GET", r"^/v1\.0/users/")) == 6


# --------------------------------------------------------------------------- TLS


def test_the_configured_ca_wins_over_the_environment(
    sandbox: Sandbox, other_ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_ca))
    graph = _client(sandbox)
    try:
        site = graph.get_json(f"/sites/{sandbox.info()['site_id']}")
    finally:
        graph.close()
    assert site["id"] == sandbox.info()["site_id"]
    assert os.environ["REQUESTS_CA_BUNDLE"] == str(other_ca)


def test_another_ca_fails_the_token_request_quickly(sandbox: Sandbox, other_ca: Path) -> None:
    sleeps = SleepRecorder()
    graph = _client(sandbox, _tokens(sandbox, verify=str(other_ca)), sleep=sleeps)
    started = time.monotonic()
    try:
        with pytest.raises(AuthError) as caught:
            graph.get_json("/users")
    finally:
        graph.close()
    assert time.monotonic() - started < 10
    assert caught.value.code in {"authority_unavailable", "request_failed"}
    assert "SSLError" in str(caught.value)
    assert sleeps.calls == []
    # No handshake completed, so the sandbox never saw an HTTP request.
    assert sandbox.request_log() == []


def test_another_ca_fails_graph_calls_without_retrying(sandbox: Sandbox, other_ca: Path) -> None:
    sleeps = SleepRecorder()
    graph = _client(sandbox, sleep=sleeps, verify=str(other_ca))  # tokens use the right CA
    try:
        with pytest.raises(GraphTransportError) as caught:
            graph.get_json("/users")
    finally:
        graph.close()
    assert "SSLError" in str(caught.value)
    assert caught.value.method == "GET"
    assert caught.value.url.endswith("/v1.0/users")
    assert sleeps.calls == []
    assert graph.stats.requests == 1
    assert not [e for e in sandbox.request_log() if e["graph"]]


# --------------------------------------------------------------------------- retries


def test_429_retry_after_is_waited_for(
    sandbox: Sandbox, client: GraphClient, sleeps: SleepRecorder
) -> None:
    upn = user_email("policy_officer")
    sandbox.faults.add_one_off(
        OneOff(method="GET", path=r"^/v1\.0/users/", status=429, retry_after="1.5")
    )
    user = client.get_json(f"/users/{upn}")
    assert user["userPrincipalName"] == upn
    assert sleeps.calls == [pytest.approx(1.5)]
    assert [e["status"] for e in _log(sandbox, "GET", r"^/v1\.0/users/")] == [429, 200]


def test_503_on_post_is_sent_once_and_reported_as_unknown_outcome(
    sandbox: Sandbox,
    client: GraphClient,
    tracker: tuple[SharePoint, str, str],
    sleeps: SleepRecorder,
) -> None:
    # A create answered 503 may have been processed: it is not repeated, the caller checks.
    sharepoint, site_id, list_id = tracker
    items_path = rf"/lists/{list_id}/items$"
    sandbox.faults.add_one_off(
        OneOff(method="POST", path=items_path, status=503, count=3, when="before")
    )
    with pytest.raises(OutcomeUnknownError) as caught:
        sharepoint.create_item(site_id, list_id, {"Title": "Storm", "PublicationKey": "k1"})
    assert caught.value.status == 503
    assert caught.value.method == "POST"
    assert [e["status"] for e in _log(sandbox, "POST", items_path)] == [503]
    assert sleeps.calls == []
    assert list(_items(client, site_id, list_id)) == []


def test_503_storm_on_an_idempotent_call_is_retried_to_success(
    sandbox: Sandbox,
    client: GraphClient,
    tracker: tuple[SharePoint, str, str],
    sleeps: SleepRecorder,
) -> None:
    sharepoint, site_id, list_id = tracker
    created = sharepoint.create_item(site_id, list_id, {"Title": "Storm", "PublicationKey": "k1"})
    fields_path = rf"/items/{created['id']}/fields$"
    sandbox.faults.add_one_off(
        OneOff(method="PATCH", path=fields_path, status=503, count=3, when="before")
    )
    _update_fields(client, site_id, list_id, str(created["id"]), {"Title": "Calm"})
    items = list(_items(client, site_id, list_id))
    assert [item["fields"]["Title"] for item in items] == ["Calm"]
    assert [e["status"] for e in _log(sandbox, "PATCH", fields_path)] == [503, 503, 503, 200]
    assert len(sleeps.calls) == 3


def test_paging_follows_next_links_over_four_pages(
    sandbox: Sandbox, client: GraphClient, tracker: tuple[SharePoint, str, str]
) -> None:
    sharepoint, site_id, list_id = tracker
    for n in range(7):
        sharepoint.create_item(site_id, list_id, {"Title": f"Item {n}", "PublicationKey": f"p{n}"})
    sandbox.clear_log()
    path = f"/sites/{site_id}/lists/{list_id}/items"
    items = list(client.paged(path, params={"$top": "2", "$expand": "fields"}))
    assert sorted(item["fields"]["Title"] for item in items) == [f"Item {n}" for n in range(7)]
    assert len({item["id"] for item in items}) == 7
    gets = _log(sandbox, "GET", rf"/lists/{list_id}/items$")
    assert len(gets) >= 4
    assert all(e["status"] == 200 for e in gets)


def test_batch_resends_only_the_throttled_inner_request(
    sandbox: Sandbox, client: GraphClient, sleeps: SleepRecorder
) -> None:
    info = sandbox.info()
    requests = [
        BatchRequest(id="site", method="GET", url=f"/sites/{info['site_id']}"),
        BatchRequest(id="user", method="GET", url=f"/users/{user_email('pcc')}"),
        BatchRequest(id="plan", method="GET", url=f"/planner/plans/{info['plan_id']}"),
    ]
    sandbox.faults.add_one_off(
        OneOff(method="GET", path=r"^/v1\.0/users/", status=429, retry_after="1")
    )
    results = client.batch(requests)
    assert {rid: r.status for rid, r in results.items()} == {
        "site": 200,
        "user": 200,
        "plan": 200,
    }
    assert results["user"].body["userPrincipalName"] == user_email("pcc")
    assert results["plan"].body["id"] == info["plan_id"]
    assert len(_log(sandbox, "POST", r"^/v1\.0/\$batch$")) == 2
    inner_users = [e["status"] for e in sandbox.request_log() if "/users/" in e["path"]]
    assert inner_users == [429, 200]
    assert len([e for e in sandbox.request_log() if "/sites/" in e["path"]]) == 1
    assert sleeps.calls == [pytest.approx(1.0)]


# --------------------------------------------------------------------------- concurrency


def test_stale_list_item_etag_is_412(
    client: GraphClient, tracker: tuple[SharePoint, str, str]
) -> None:
    sharepoint, site_id, list_id = tracker
    created = sharepoint.create_item(site_id, list_id, {"Title": "v1", "PublicationKey": "e1"})
    old_etag = str(created["eTag"])
    item_id = str(created["id"])
    _update_fields(client, site_id, list_id, item_id, {"Title": "v2"}, etag=old_etag)
    with pytest.raises(PreconditionFailedError) as caught:
        _update_fields(client, site_id, list_id, item_id, {"Title": "v3"}, etag=old_etag)
    assert caught.value.status == 412
    assert _item(client, site_id, list_id, item_id)["fields"]["Title"] == "v2"


def test_stale_planner_details_etag_is_412(sandbox: Sandbox, client: GraphClient) -> None:
    planner = Planner(client)
    plan_id = sandbox.info()["plan_id"]
    bucket = planner.create_bucket(plan_id, "Etag checks")
    task = planner.create_task(
        plan_id=plan_id, bucket_id=bucket["id"], title="Check", assignee_ids=(), due=None
    )
    details = planner.get_details(task["id"])
    old_etag = str(details["@odata.etag"])
    planner.update_details(task["id"], old_etag, description="first")
    with pytest.raises(PreconditionFailedError) as caught:
        planner.update_details(task["id"], old_etag, description="second")
    assert caught.value.status == 412
    assert caught.value.method == "PATCH"
    assert planner.get_details(task["id"])["description"] == "first"


@pytest.mark.parametrize("status", [500, 409])
def test_duplicate_unique_value_is_recognised_whatever_the_status(
    sandbox: Sandbox, client: GraphClient, tracker: tuple[SharePoint, str, str], status: int
) -> None:
    # Graph's status for a duplicate unique value is undocumented (SharePoint REST: 500
    # SPDuplicateValuesFoundException): the client recognises it by status 409 or by message.
    sandbox.faults.configure({"duplicate_status": status})
    sharepoint, site_id, list_id = tracker
    sharepoint.create_item(site_id, list_id, {"Title": "first", "PublicationKey": "same"})
    with pytest.raises(DuplicateValueError) as caught:
        sharepoint.create_item(site_id, list_id, {"Title": "second", "PublicationKey": "same"})
    assert caught.value.status == status
    assert isinstance(caught.value, ConflictError)
    assert [i["fields"]["Title"] for i in _items(client, site_id, list_id)] == ["first"]


def test_delta_returns_only_changes_after_the_stored_link(
    client: GraphClient,
    tracker: tuple[SharePoint, str, str],
) -> None:
    sharepoint, site_id, list_id = tracker
    ids = []
    for n in range(3):
        fields = {"Title": f"d{n}", "PublicationKey": f"d{n}"}
        ids.append(str(sharepoint.create_item(site_id, list_id, fields)["id"]))
    first = sharepoint.delta(site_id, list_id, None)
    assert sorted(str(item["id"]) for item in first.items) == sorted(ids)
    _update_fields(client, site_id, list_id, ids[1], {"Title": "d1 changed"})
    new = sharepoint.create_item(site_id, list_id, {"Title": "d3", "PublicationKey": "d3"})
    second = sharepoint.delta(site_id, list_id, first.delta_link)
    assert sorted(str(item["id"]) for item in second.items) == sorted([ids[1], str(new["id"])])
    assert second.delta_link != first.delta_link
    assert sharepoint.delta(site_id, list_id, second.delta_link).items == []


# --------------------------------------------------------------------------- files


def test_upload_session_round_trips_one_megabyte(sandbox: Sandbox, client: GraphClient) -> None:
    drive = Drive(client)
    drive_id = str(drive.site_drive(sandbox.info()["site_id"])["id"])
    content = os.urandom(1024 * 1024)
    item = drive.upload(
        drive_id,
        "Uploads",
        "random.bin",
        content,
        chunk_size=UPLOAD_FRAGMENT_UNIT,
        session_threshold=0,
    )
    assert item["size"] == len(content)
    assert drive.download(drive_id, str(item["id"])) == content
    assert len(_log(sandbox, "POST", r"/createUploadSession$")) == 1
    assert not _log(sandbox, "PUT", r"/content$")  # no simple upload
    fragments = _log(sandbox, "PUT", r"^/_upload/")
    assert len(fragments) == 4  # 1 MiB in 320 KiB fragments
    assert not any(e["graph"] for e in fragments)


def test_pdf_conversion_contains_the_documents_text(sandbox: Sandbox, client: GraphClient) -> None:
    sentence = f"The inspectorate's finding {uuid.uuid4().hex[:10]} was accepted in full."
    document = docx.Document()
    document.add_paragraph(sentence)
    buffer = io.BytesIO()
    document.save(buffer)
    drive = Drive(client)
    drive_id = str(drive.site_drive(sandbox.info()["site_id"])["id"])
    item = drive.upload(drive_id, "Drafts", "response.docx", buffer.getvalue())
    pdf = drive.download_pdf(drive_id, str(item["id"]))
    assert pdf.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert " ".join(sentence.split()) in " ".join(text.split())


# --------------------------------------------------------------------------- errors


def test_errors_carry_status_code_request_id_method_and_url(sandbox: Sandbox) -> None:
    transport = RecordingTransport(verify=str(sandbox.ca_path))
    graph = _client(sandbox, transport=transport)
    try:
        with pytest.raises(NotFoundError) as caught:
            graph.get_json("/users/nobody@x")
    finally:
        graph.close()
    error = caught.value
    assert error.status == 404
    assert error.code == "Request_ResourceNotFound"
    assert error.graph_message
    assert GUID.match(error.request_id)
    assert error.request_id == transport.responses[-1].headers["request-id"]
    assert error.method == "GET"
    assert "/users/" in error.url
    assert error.url.startswith(sandbox.graph_url)
    assert error.request_id in str(error)
    assert "404 Request_ResourceNotFound" in str(error)
