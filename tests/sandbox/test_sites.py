"""Sandbox SharePoint routes: sites, lists, columns, items, filters, paging, delta."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from automation.sandbox import seed
from automation.sandbox.routes.sites import expire_delta_tokens
from automation.sandbox.server import Sandbox
from tests.conftest import RawGraph

NON_INDEXED_MESSAGE = (
    "Field 'ResponseOwner' cannot be referenced in filter or orderby as it is not indexed. "
    "Provide the 'Prefer: HonorNonIndexedQueriesWarningMayFailRandomly' header to allow this, "
    "but be warned that such queries may fail on large lists."
)
HONOUR = {"Prefer": "HonorNonIndexedQueriesWarningMayFailRandomly"}

TRACKER_COLUMNS: list[dict[str, Any]] = [
    {"name": "PublicationKey", "text": {}, "indexed": True, "enforceUniqueValues": True},
    {"name": "ResponseOwner", "text": {}},
    {"name": "PublishedOn", "dateTime": {"format": "dateOnly"}},
    {"name": "Recommendations", "number": {}},
    {"name": "ForwardedToPanel", "boolean": {}},
    {
        "name": "Status",
        "indexed": True,
        "choice": {"choices": ["Triage", "Drafting", "PCC approval", "Approved"]},
    },
]


def make_list(raw: RawGraph, name: str = "Section 55 Tracker") -> tuple[str, str]:
    """Create the tracker list; (site id, list id)."""
    site_id = raw.info["site_id"]
    answer = raw.call(
        "POST",
        f"/sites/{site_id}/lists",
        json={"displayName": name, "columns": TRACKER_COLUMNS, "list": {"template": "genericList"}},
    )
    assert answer.status_code == 201, answer.text
    return site_id, answer.json()["id"]


def items_url(site_id: str, list_id: str) -> str:
    return f"/sites/{site_id}/lists/{list_id}/items"


def add_item(raw: RawGraph, site_id: str, list_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("Title", f"Report {fields.get('PublicationKey', '')}")
    answer = raw.call("POST", items_url(site_id, list_id), json={"fields": fields})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def error_of(answer: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = answer.json()["error"]
    return error


def follow(
    raw: RawGraph, first: str, **kwargs: Any
) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """Follow nextLinks verbatim; (all values, pages, last page body)."""
    values: list[dict[str, Any]] = []
    url: str | None = first
    pages = 0
    body: dict[str, Any] = {}
    while url:
        answer = raw.call("GET", url, **kwargs)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        values.extend(body["value"])
        pages += 1
        url = body.get("@odata.nextLink")
    return values, pages, body


# -- sites ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", ":"])
def test_site_by_path_and_by_id(raw: RawGraph, suffix: str) -> None:
    answer = raw.call("GET", f"/sites/{seed.SP_HOSTNAME}:{seed.SITE_PATH}{suffix}")
    assert answer.status_code == 200, answer.text
    site = answer.json()
    assert site["id"] == raw.info["site_id"]
    assert site["webUrl"] == f"https://{seed.SP_HOSTNAME}{seed.SITE_PATH}"
    assert not {"hostname", "path", "drive_id"} & set(site)
    by_id = raw.call("GET", f"/sites/{site['id']}")
    assert by_id.status_code == 200
    assert by_id.json() == site


def test_unknown_site_is_404(raw: RawGraph) -> None:
    by_id = raw.call("GET", f"/sites/{seed.SP_HOSTNAME},nope,nope")
    assert by_id.status_code == 404
    assert error_of(by_id)["code"] == "itemNotFound"
    by_path = raw.call("GET", f"/sites/{seed.SP_HOSTNAME}:/sites/Elsewhere")
    assert by_path.status_code == 404


# -- lists and columns ---------------------------------------------------------------------
def test_create_list_with_columns_and_get_it_by_id_or_name(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    for ref in (list_id, "Section 55 Tracker"):
        answer = raw.call("GET", f"/sites/{site_id}/lists/{ref}?$expand=columns")
        assert answer.status_code == 200
        found = answer.json()
        assert found["id"] == list_id
        assert found["list"] == {
            "contentTypesEnabled": False,
            "hidden": False,
            "template": "genericList",
        }
        assert found["webUrl"].endswith("/Lists/Section%2055%20Tracker")
    columns = {col["name"]: col for col in found["columns"]}
    assert columns["Title"]["required"] is True
    assert "text" in columns["Title"]
    key = columns["PublicationKey"]
    assert (key["indexed"], key["enforceUniqueValues"]) == (True, True)
    assert columns["ResponseOwner"]["indexed"] is False
    listed = raw.call("GET", f"/sites/{site_id}/lists").json()["value"]
    assert [entry["id"] for entry in listed] == [list_id]


def test_duplicate_list_name_is_409(raw: RawGraph) -> None:
    site_id, _ = make_list(raw)
    again = raw.call("POST", f"/sites/{site_id}/lists", json={"displayName": "section 55 tracker"})
    assert again.status_code == 409
    assert error_of(again)["code"] == "nameAlreadyExists"


def test_unique_column_must_be_indexed(raw: RawGraph) -> None:
    site_id = raw.info["site_id"]
    answer = raw.call(
        "POST",
        f"/sites/{site_id}/lists",
        json={
            "displayName": "Bad",
            "columns": [{"name": "K", "text": {}, "enforceUniqueValues": True}],
        },
    )
    assert answer.status_code == 400
    assert error_of(answer)["code"] == "invalidRequest"


def test_add_column_later_and_reject_duplicates(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    url = f"/sites/{site_id}/lists/{list_id}/columns"
    added = raw.call("POST", url, json={"name": "TaskIds", "text": {}, "hidden": True})
    assert added.status_code == 201
    column = added.json()
    assert (column["name"], column["hidden"], column["indexed"]) == ("TaskIds", True, False)
    assert column["text"]["maxLength"] == 255
    # A hidden column is listed only when $select names "hidden" (columnDefinition page).
    names = [col["name"] for col in raw.call("GET", f"{url}?$select=name,hidden").json()["value"]]
    assert names[-1] == "TaskIds"
    assert "Title" in names
    duplicate = raw.call("POST", url, json={"name": "taskids", "number": {}})
    assert duplicate.status_code == 409
    two_facets = raw.call("POST", url, json={"name": "Two", "number": {}, "text": {}})
    assert two_facets.status_code == 400
    item = add_item(raw, site_id, list_id, TaskIds="a,b")
    fields_url = f"{items_url(site_id, list_id)}/{item['id']}/fields?$select=TaskIds"
    assert raw.call("GET", fields_url).json()["TaskIds"] == "a,b"


# -- items -----------------------------------------------------------------------------------
def test_create_and_get_item_shapes(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    created = add_item(
        raw, site_id, list_id, PublicationKey="k1", Recommendations=3, Status="Triage"
    )
    assert created["id"] == "1"
    assert created["eTag"] == created["@odata.etag"]
    assert re.fullmatch(r'"\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\},1"', created["eTag"])
    assert created["createdBy"] == {
        "application": {"id": raw.info["client_id"], "displayName": None}
    }
    assert created["lastModifiedBy"] == created["createdBy"]
    # Graph's listItem webUrl is a "<id>_.000" file, not a form (microsoft-graph-docs#5381).
    assert created["webUrl"].endswith("/Lists/Section%2055%20Tracker/1_.000")
    assert created["parentReference"] == {"id": list_id, "siteId": site_id}
    assert created["contentType"]["name"] == "Item"
    fields = created["fields"]
    assert fields["@odata.etag"] == created["eTag"]
    assert (fields["id"], fields["Title"], fields["Recommendations"]) == ("1", "Report k1", 3)
    assert fields["Created"] == created["createdDateTime"]
    assert fields["_UIVersionString"] == "1.0"
    assert "ResponseOwner" not in fields  # empty values are left out, as SharePoint does
    second = add_item(raw, site_id, list_id, PublicationKey="k2")
    assert second["id"] == "2"

    plain = raw.call("GET", f"{items_url(site_id, list_id)}/1")
    assert plain.status_code == 200
    assert "fields" not in plain.json()
    expanded = raw.call("GET", f"{items_url(site_id, list_id)}/1?$expand=fields").json()
    assert expanded["fields"]["PublicationKey"] == "k1"
    only = raw.call("GET", f"{items_url(site_id, list_id)}/1/fields").json()
    assert only["Status"] == "Triage"
    missing = raw.call("GET", f"{items_url(site_id, list_id)}/99")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "itemNotFound"


def test_list_items_expand_variants(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    add_item(raw, site_id, list_id, PublicationKey="k1", Status="Drafting")
    url = items_url(site_id, list_id)
    bare = raw.call("GET", url).json()["value"]
    assert "fields" not in bare[0]
    dollar = raw.call("GET", f"{url}?$expand=fields").json()["value"]
    assert dollar[0]["fields"]["Status"] == "Drafting"
    plain = raw.call("GET", f"{url}?expand=fields").json()["value"]
    assert plain[0]["fields"]["PublicationKey"] == "k1"
    some = raw.call("GET", f"{url}?expand=fields(select=Title,Status)").json()["value"]
    assert set(some[0]["fields"]) - {"@odata.etag", "id"} == {"Title", "Status"}


def test_field_validation(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    url = items_url(site_id, list_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"Title": "x", "Colour": "red"}, "Field 'Colour' is not recognized"),
        ({"Title": "x", "Recommendations": "three"}, "Recommendations"),
        ({"Title": "x", "ForwardedToPanel": "yes"}, "ForwardedToPanel"),
        ({"Title": "x", "PublishedOn": "13/09/2023"}, "PublishedOn"),
        ({"Title": "x", "Status": "Maybe"}, "Status"),
        ({"PublicationKey": "no title"}, "Title"),
    ]
    for fields, needle in cases:
        answer = raw.call("POST", url, json={"fields": fields})
        assert answer.status_code == 400, fields
        assert error_of(answer)["code"] == "invalidRequest"
        assert needle in error_of(answer)["message"]
    assert raw.call("GET", url).json()["value"] == []


def test_date_written_in_utc_reads_back_identical(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    item = add_item(raw, site_id, list_id, PublicationKey="k", PublishedOn="2023-09-12T23:00:00Z")
    assert item["fields"]["PublishedOn"] == "2023-09-12T23:00:00Z"
    url = f"{items_url(site_id, list_id)}/{item['id']}/fields"
    assert raw.call("GET", url).json()["PublishedOn"] == "2023-09-12T23:00:00Z"
    patched = raw.call("PATCH", url, json={"PublishedOn": "2023-09-13T00:00:00+01:00"})
    assert patched.json()["PublishedOn"] == "2023-09-12T23:00:00Z"


def test_patch_fields_returns_full_set_and_bumps_version(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    item = add_item(raw, site_id, list_id, PublicationKey="k1", Status="Triage")
    url = f"{items_url(site_id, list_id)}/{item['id']}/fields"
    answer = raw.call("PATCH", url, json={"Status": "Drafting"}, headers={"If-Match": item["eTag"]})
    assert answer.status_code == 200, answer.text
    fields = answer.json()
    assert (fields["Status"], fields["PublicationKey"], fields["Title"]) == (
        "Drafting",
        "k1",
        "Report k1",
    )
    assert fields["@odata.etag"].endswith(',2"')
    assert fields["_UIVersionString"] == "2.0"
    star = raw.call("PATCH", url, json={"Recommendations": 4}, headers={"If-Match": "*"})
    assert star.status_code == 200
    assert star.json()["@odata.etag"].endswith(',3"')
    cleared = raw.call("PATCH", url, json={"Recommendations": None})
    assert "Recommendations" not in cleared.json()


def test_stale_if_match_is_412_and_leaves_item_unchanged(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    item = add_item(raw, site_id, list_id, PublicationKey="k1", Status="Triage")
    url = f"{items_url(site_id, list_id)}/{item['id']}/fields"
    assert raw.call("PATCH", url, json={"Status": "Drafting"}).status_code == 200
    stale = raw.call("PATCH", url, json={"Status": "Approved"}, headers={"If-Match": item["eTag"]})
    assert stale.status_code == 412
    assert error_of(stale)["code"] == "resourceModified"
    now = raw.call("GET", url).json()
    assert now["Status"] == "Drafting"
    assert now["@odata.etag"].endswith(',2"')
    delete = raw.call(
        "DELETE", f"{items_url(site_id, list_id)}/{item['id']}", headers={"If-Match": item["eTag"]}
    )
    assert delete.status_code == 412
    assert raw.call("GET", url).status_code == 200


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        pytest.param(None, 500, "generalException", id="default-500"),
        pytest.param(409, 409, "nameAlreadyExists", id="fault-409"),
    ],
)
def test_unique_column_rejects_duplicates_on_create_and_patch(
    raw: RawGraph, mode: int | None, status: int, code: str
) -> None:
    # Graph's status is undocumented; SharePoint REST answers 500 (pnp/pnpcore#1280).
    if mode is not None:
        raw.sandbox.faults.configure({"duplicate_status": mode})
    site_id, list_id = make_list(raw)
    add_item(raw, site_id, list_id, PublicationKey="key-1")
    second = add_item(raw, site_id, list_id, PublicationKey="key-2")
    url = items_url(site_id, list_id)
    dup = raw.call("POST", url, json={"fields": {"Title": "again", "PublicationKey": "KEY-1"}})
    assert dup.status_code == status
    assert error_of(dup)["code"] == code
    assert "duplicate values" in error_of(dup)["message"]
    assert "[PublicationKey]" in error_of(dup)["message"]
    patch = raw.call("PATCH", f"{url}/{second['id']}/fields", json={"PublicationKey": "key-1"})
    assert patch.status_code == status
    same = raw.call("PATCH", f"{url}/{second['id']}/fields", json={"PublicationKey": "key-2"})
    assert same.status_code == 200
    keys = sorted(
        v["fields"]["PublicationKey"]
        for v in raw.call("GET", f"{url}?$expand=fields").json()["value"]
    )
    assert keys == ["key-1", "key-2"]


def test_duplicate_status_fault_accepts_only_the_two_outcomes(raw: RawGraph) -> None:
    admin = f"{raw.sandbox.url}/_sandbox/faults"
    assert raw.session.put(admin, json={"duplicate_status": 400}, timeout=10).status_code == 400
    put = raw.session.put(admin, json={"duplicate_status": 409}, timeout=10)
    assert put.json()["duplicate_status"] == 409


def test_hidden_field_values_only_when_selected_by_name(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    url = f"/sites/{site_id}/lists/{list_id}"
    assert raw.call("POST", f"{url}/columns", json={"name": "S55Setup", "text": {}, "hidden": True})
    item = add_item(raw, site_id, list_id, PublicationKey="k1", S55Setup="complete")
    assert "S55Setup" not in item["fields"]
    one = f"{url}/items/{item['id']}"
    assert "S55Setup" not in raw.call("GET", f"{one}?$expand=fields").json()["fields"]
    assert "S55Setup" not in raw.call("GET", f"{one}/fields").json()
    listed = raw.call("GET", f"{url}/items?$expand=fields").json()["value"]
    assert "S55Setup" not in listed[0]["fields"]
    chosen = raw.call("GET", f"{one}?$expand=fields($select=Title,S55Setup)").json()["fields"]
    assert (chosen["Title"], chosen["S55Setup"]) == ("Report k1", "complete")
    assert raw.call("GET", f"{one}/fields?$select=S55Setup").json()["S55Setup"] == "complete"
    many = raw.call("GET", f"{url}/items?$expand=fields($select=S55Setup)").json()["value"]
    assert many[0]["fields"]["S55Setup"] == "complete"


def test_hidden_column_definitions_only_when_select_names_hidden(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    url = f"/sites/{site_id}/lists/{list_id}/columns"
    assert raw.call("POST", url, json={"name": "S55Lease", "text": {}, "hidden": True})
    assert "S55Lease" not in [c["name"] for c in raw.call("GET", url).json()["value"]]
    named = raw.call("GET", f"{url}?$select=name").json()["value"]
    assert "S55Lease" not in [c["name"] for c in named]
    shown = raw.call("GET", f"{url}?$select=name,hidden").json()["value"]
    assert [c["hidden"] for c in shown if c["name"] == "S55Lease"] == [True]
    again = raw.call("POST", url, json={"name": "S55Lease", "text": {}, "hidden": True})
    assert again.status_code == 409  # exists although not listed (msgraph-beta-sdk-dotnet#433)


def test_delete_item(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    item = add_item(raw, site_id, list_id, PublicationKey="k1")
    url = f"{items_url(site_id, list_id)}/{item['id']}"
    assert raw.call("DELETE", url, headers={"If-Match": item["eTag"]}).status_code == 204
    assert raw.call("GET", url).status_code == 404
    assert raw.call("DELETE", url).status_code == 404


# -- filtering and paging --------------------------------------------------------------------
def test_filter_on_indexed_column(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    for n in range(1, 5):
        add_item(
            raw, site_id, list_id, PublicationKey=f"k{n}", Status="Approved" if n % 2 else "Triage"
        )
    url = items_url(site_id, list_id)
    answer = raw.call("GET", f"{url}?$expand=fields&$filter=fields/PublicationKey eq 'k3'")
    assert answer.status_code == 200, answer.text
    assert [v["fields"]["PublicationKey"] for v in answer.json()["value"]] == ["k3"]
    both = raw.call(
        "GET",
        f"{url}?$expand=fields"
        "&$filter=fields/Status eq 'Approved' and fields/PublicationKey ne 'k1'",
    )
    assert [v["id"] for v in both.json()["value"]] == ["3"]
    none = raw.call("GET", f"{url}?$filter=fields/PublicationKey eq 'nope'")
    assert none.json()["value"] == []


def test_filter_on_non_indexed_column_needs_prefer_header(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    add_item(raw, site_id, list_id, PublicationKey="k1", ResponseOwner="a@x", Recommendations=2)
    add_item(raw, site_id, list_id, PublicationKey="k2", ResponseOwner="b@x", Recommendations=5)
    url = f"{items_url(site_id, list_id)}?$expand=fields&$filter=fields/ResponseOwner eq 'b@x'"
    refused = raw.call("GET", url)
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "invalidRequest"
    assert error_of(refused)["message"] == NON_INDEXED_MESSAGE
    allowed = raw.call("GET", url, headers=HONOUR)
    assert allowed.status_code == 200
    assert [v["fields"]["PublicationKey"] for v in allowed.json()["value"]] == ["k2"]
    numbers = raw.call(
        "GET", f"{items_url(site_id, list_id)}?$filter=fields/Recommendations ge 3", headers=HONOUR
    )
    assert [v["id"] for v in numbers.json()["value"]] == ["2"]


def test_paging_follows_next_links_verbatim(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    for n in range(7):
        add_item(raw, site_id, list_id, PublicationKey=f"k{n}")
    values, pages, last = follow(raw, f"{items_url(site_id, list_id)}?$expand=fields&$top=2")
    assert pages == 4
    assert [v["fields"]["PublicationKey"] for v in values] == [f"k{n}" for n in range(7)]
    assert "@odata.nextLink" not in last
    filtered, pages, _ = follow(
        raw,
        f"{items_url(site_id, list_id)}?$filter=fields/PublicationKey ne 'k0'&$top=3",
    )
    assert pages == 2
    assert len(filtered) == 6


# -- acting user -----------------------------------------------------------------------------
def test_acting_user_header_makes_the_change_a_users(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    item = add_item(raw, site_id, list_id, PublicationKey="k1", Status="PCC approval")
    pcc = seed.user_email("pcc")
    url = f"{items_url(site_id, list_id)}/{item['id']}"
    answer = raw.call(
        "PATCH",
        f"{url}/fields",
        json={"Status": "Approved"},
        headers={"X-Sandbox-Acting-User": pcc},
    )
    assert answer.status_code == 200
    assert answer.json()["EditorLookupId"] != answer.json()["AuthorLookupId"]
    got = raw.call("GET", url).json()
    user = got["lastModifiedBy"]["user"]
    assert user["email"] == pcc
    assert user["id"] == raw.sandbox.tenant.data["seed"]["user_ids"]["pcc"]
    assert user["displayName"] == "Sarah Taylor"
    assert "application" in got["createdBy"]
    unknown = raw.call(
        "PATCH",
        f"{url}/fields",
        json={"Status": "Drafting"},
        headers={"X-Sandbox-Acting-User": "x@y"},
    )
    assert unknown.status_code == 400


# -- delta -----------------------------------------------------------------------------------
def test_delta_enumerates_then_reports_only_changes(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    for n in range(5):
        add_item(raw, site_id, list_id, PublicationKey=f"k{n}", Status="Triage")
    delta = f"{items_url(site_id, list_id)}/delta"
    values, pages, last = follow(raw, f"{delta}?$top=2&$expand=fields")
    assert pages == 3
    assert [v["id"] for v in values] == ["1", "2", "3", "4", "5"]
    assert values[0]["fields"]["PublicationKey"] == "k0"
    delta_link = last["@odata.deltaLink"]
    assert "/items/delta?token=" in delta_link

    nothing = raw.call("GET", delta_link).json()
    assert nothing["value"] == []

    add_item(raw, site_id, list_id, PublicationKey="k5")
    assert (
        raw.call(
            "PATCH", f"{items_url(site_id, list_id)}/2/fields", json={"Status": "Drafting"}
        ).status_code
        == 200
    )
    raw.call("PATCH", f"{items_url(site_id, list_id)}/2/fields", json={"Status": "PCC approval"})
    assert raw.call("DELETE", f"{items_url(site_id, list_id)}/4").status_code == 204

    changes, _, tail = follow(raw, delta_link)
    by_id = {v["id"]: v for v in changes}
    assert sorted(by_id, key=int) == ["2", "4", "6"]
    assert len(changes) == 3
    assert by_id["2"]["fields"]["Status"] == "PCC approval"  # latest state, expand kept
    assert by_id["4"] == {
        "id": "4",
        "parentReference": {"siteId": site_id},
        "deleted": {"state": "deleted"},
    }
    assert by_id["6"]["fields"]["PublicationKey"] == "k5"
    again = raw.call("GET", tail["@odata.deltaLink"]).json()
    assert again["value"] == []


def test_delta_token_latest_starts_from_now(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    add_item(raw, site_id, list_id, PublicationKey="old")
    delta = f"{items_url(site_id, list_id)}/delta"
    latest = raw.call("GET", f"{delta}?token=latest")
    assert latest.status_code == 200
    body = latest.json()
    assert body["value"] == []
    assert "@odata.nextLink" not in body
    add_item(raw, site_id, list_id, PublicationKey="new")
    changes, _, _ = follow(raw, body["@odata.deltaLink"])
    assert [v["id"] for v in changes] == ["2"]


def test_expired_or_bad_token_is_410_with_location(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    add_item(raw, site_id, list_id, PublicationKey="k")
    delta = f"{items_url(site_id, list_id)}/delta"
    link = raw.call("GET", delta).json()["@odata.deltaLink"]
    expire_delta_tokens(raw.sandbox.tenant, list_id)
    gone = raw.call("GET", link)
    assert gone.status_code == 410
    error = error_of(gone)
    assert error["code"] == "resyncRequired"
    assert error["innerError"]["code"] == "resyncChangesApplyDifferences"
    location = gone.headers["Location"]
    assert location == raw.url(delta)
    fresh, _, last = follow(raw, location)
    assert [v["id"] for v in fresh] == ["1"]
    assert raw.call("GET", last["@odata.deltaLink"]).json()["value"] == []
    assert raw.call("GET", f"{delta}?token=garbage!").status_code == 410


# -- persistence -----------------------------------------------------------------------------
def test_lists_and_items_survive_a_restart(tmp_path: Path) -> None:
    first = Sandbox(data_dir=tmp_path).start()
    try:
        raw = RawGraph(first)
        site_id, list_id = make_list(raw)
        item = add_item(raw, site_id, list_id, PublicationKey="k1", Status="Triage")
        raw.call("PATCH", f"{items_url(site_id, list_id)}/1/fields", json={"Status": "Drafting"})
        link = raw.call("GET", f"{items_url(site_id, list_id)}/delta").json()["@odata.deltaLink"]
    finally:
        first.stop()
    second = Sandbox(data_dir=tmp_path).start()
    try:
        raw = RawGraph(second)
        assert raw.info["site_id"] == site_id
        got = raw.call("GET", f"{items_url(site_id, list_id)}/1?$expand=fields")
        assert got.status_code == 200
        assert got.json()["fields"]["Status"] == "Drafting"
        assert got.json()["eTag"].startswith(item["eTag"][:-3])
        assert raw.call("GET", f"/sites/{site_id}/lists/Section 55 Tracker").status_code == 200
        add_item(raw, site_id, list_id, PublicationKey="k2")
        port_free_link = link.split("/v1.0", 1)[1]
        changes = raw.call("GET", port_free_link).json()["value"]
        assert [v["id"] for v in changes] == ["2"]
        assert second.handler_errors == []
    finally:
        second.stop()


def test_column_update_and_unknown_facet_property(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    url = f"/sites/{site_id}/lists/{list_id}/columns"
    bad = raw.call("POST", url, json={"name": "Link", "text": {"colour": "red"}})
    assert bad.status_code == 400
    assert "colour" in error_of(bad)["message"]
    add_item(raw, site_id, list_id, PublicationKey="k1", ResponseOwner="same@x")
    add_item(raw, site_id, list_id, PublicationKey="k2", ResponseOwner="same@x")
    owner = f"{url}/ResponseOwner"
    unique_unindexed = raw.call("PATCH", owner, json={"enforceUniqueValues": True})
    assert unique_unindexed.status_code == 400
    duplicates = raw.call("PATCH", owner, json={"indexed": True, "enforceUniqueValues": True})
    assert duplicates.status_code == 400
    indexed = raw.call("PATCH", owner, json={"indexed": True})
    assert indexed.status_code == 200
    assert indexed.json()["indexed"] is True
    query = f"{items_url(site_id, list_id)}?$filter=fields/ResponseOwner eq 'SAME@x'"
    found = raw.call("GET", query)  # indexed now: no Prefer header needed
    assert found.status_code == 200
    assert [v["id"] for v in found.json()["value"]] == ["1", "2"]


def test_orderby_and_list_filter(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    for n, count in enumerate([5, 1, 3]):
        add_item(raw, site_id, list_id, PublicationKey=f"k{n}", Recommendations=count)
    url = f"{items_url(site_id, list_id)}?$orderby=fields/Recommendations desc"
    assert raw.call("GET", url).status_code == 400  # not indexed
    ordered = raw.call("GET", url, headers=HONOUR).json()["value"]
    assert [v["id"] for v in ordered] == ["1", "3", "2"]
    make_list(raw, "Other")
    lists = raw.call("GET", f"/sites/{site_id}/lists?$filter=displayName eq 'other'")
    assert [entry["displayName"] for entry in lists.json()["value"]] == ["Other"]


def test_expired_token_mid_enumeration_is_410(raw: RawGraph) -> None:
    site_id, list_id = make_list(raw)
    for n in range(3):
        add_item(raw, site_id, list_id, PublicationKey=f"k{n}")
    first = raw.call("GET", f"{items_url(site_id, list_id)}/delta?$top=1").json()
    assert len(first["value"]) == 1
    expire_delta_tokens(raw.sandbox.tenant, list_id)
    gone = raw.call("GET", first["@odata.nextLink"])
    assert gone.status_code == 410
    fresh = raw.call("GET", f"{items_url(site_id, list_id)}/delta?$top=1").json()
    assert raw.call("GET", fresh["@odata.nextLink"]).status_code == 200
    _, other_list = make_list(raw, "Other")
    add_item(raw, site_id, other_list, PublicationKey="x")
    foreign = fresh["@odata.nextLink"].replace(list_id, other_list)
    assert raw.call("GET", foreign).status_code == 410  # a token is only good for its list


# -- versions --------------------------------------------------------------------------------
def test_every_write_adds_a_version_with_its_editor_newest_first(raw: RawGraph) -> None:
    # listItemVersion page: id, lastModifiedBy, lastModifiedDateTime, fields (expandable).
    site_id, list_id = make_list(raw)
    url = f"/sites/{site_id}/lists/{list_id}/items"
    assert (
        raw.call(
            "POST",
            f"/sites/{site_id}/lists/{list_id}/columns",
            json={"name": "S55Mail", "text": {}, "hidden": True},
        ).status_code
        == 201
    )
    item = add_item(raw, site_id, list_id, PublicationKey="k1", Status="PCC approval")
    pcc = seed.user_email("pcc")
    approved = raw.call(
        "PATCH",
        f"{url}/{item['id']}/fields",
        json={"Status": "Approved"},
        headers={"X-Sandbox-Acting-User": pcc},
    )
    assert approved.status_code == 200
    # The app writes afterwards: lastModifiedBy is now the app, the history keeps the PCC.
    later = raw.call(
        "PATCH", f"{url}/{item['id']}", json={"fields": {"S55Mail": "sent", "Recommendations": 2}}
    )
    assert later.status_code == 200
    assert "application" in later.json()["lastModifiedBy"]
    plain = raw.call("GET", f"{url}/{item['id']}/versions").json()["value"]
    assert [v["id"] for v in plain] == ["3.0", "2.0", "1.0"]
    assert all("fields" not in v for v in plain)
    assert [next(iter(v["lastModifiedBy"])) for v in plain] == [
        "application",
        "user",
        "application",
    ]
    assert plain[1]["lastModifiedBy"]["user"]["email"] == pcc
    assert plain[0]["lastModifiedDateTime"] >= plain[1]["lastModifiedDateTime"]
    expanded = raw.call("GET", f"{url}/{item['id']}/versions?$expand=fields").json()["value"]
    assert [v["fields"]["Status"] for v in expanded] == ["Approved", "Approved", "PCC approval"]
    assert [v["fields"].get("Recommendations") for v in expanded] == [2, None, None]
    first_approved = next(v for v in reversed(expanded) if v["fields"]["Status"] == "Approved")
    assert first_approved["lastModifiedBy"]["user"]["email"] == pcc
    # Hidden columns follow the fieldValueSet rule in versions too.
    assert "S55Mail" not in expanded[0]["fields"]
    chosen = raw.call(
        "GET", f"{url}/{item['id']}/versions?$expand=fields($select=Status,S55Mail)"
    ).json()["value"]
    assert chosen[0]["fields"]["S55Mail"] == "sent"
    one = raw.call("GET", f"{url}/{item['id']}/versions/2.0?expand=fields").json()
    assert (one["id"], one["fields"]["Status"]) == ("2.0", "Approved")
    assert raw.call("GET", f"{url}/{item['id']}/versions/9.0").status_code == 404
