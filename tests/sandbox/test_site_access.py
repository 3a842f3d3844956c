"""Sites.Selected honoured per site (graph.md §9; site-post-permissions page and example)."""

from __future__ import annotations

from typing import Any

import pytest

from automation.sandbox.seed import OTHER_SITE_PATH, SITE_PATH, SP_HOSTNAME
from tests.conftest import RawGraph


def _roles(raw: RawGraph, *roles: str) -> None:
    answer = raw.session.put(
        f"{raw.sandbox.url}/_sandbox/apps/{raw.info['client_id']}/roles",
        json={"roles": list(roles)},
        timeout=10,
    )
    assert answer.status_code == 204


def _other_site(raw: RawGraph) -> str:
    site_id: str = raw.sandbox.tenant.data["seed"]["other_site_id"]
    return site_id


def _grant(raw: RawGraph, site_id: str, roles: list[str]) -> Any:
    return raw.call(
        "POST",
        f"/sites/{site_id}/permissions",
        json={
            "roles": roles,
            "grantedToIdentities": [
                {"application": {"id": raw.info["client_id"], "displayName": "S55"}}
            ],
        },
    )


def _new_list(raw: RawGraph, site_id: str, name: str = "Probe") -> Any:
    return raw.call(
        "POST",
        f"/sites/{site_id}/lists",
        json={"displayName": name, "list": {"template": "genericList"}},
    )


def test_sites_selected_reaches_only_the_granted_site(raw: RawGraph) -> None:
    site_id, other = raw.info["site_id"], _other_site(raw)
    # The admin (tenant-wide) makes a list on each site first.
    lists = {sid: _new_list(raw, sid).json()["id"] for sid in (site_id, other)}
    _roles(raw, "Sites.Selected")
    # The seed grants the OPCC site "write", as an administrator would for the service.
    assert raw.call("GET", f"/sites/{site_id}").status_code == 200
    assert raw.call("GET", f"/sites/{SP_HOSTNAME}:{SITE_PATH}").status_code == 200
    item = raw.call(
        "POST", f"/sites/{site_id}/lists/{lists[site_id]}/items", json={"fields": {"Title": "x"}}
    )
    assert item.status_code == 201
    assert raw.call("GET", f"/sites/{site_id}/drive/root").status_code == 200
    # Every route into the other site is 403 accessDenied.
    for path in (
        f"/sites/{other}",
        f"/sites/{SP_HOSTNAME}:{OTHER_SITE_PATH}",
        f"/sites/{other}/lists",
        f"/sites/{other}/lists/{lists[other]}/items",
        f"/sites/{other}/drive",
    ):
        denied = raw.call("GET", path)
        assert denied.status_code == 403, path
        assert denied.json()["error"]["code"] == "accessDenied"
    write = raw.call(
        "POST", f"/sites/{other}/lists/{lists[other]}/items", json={"fields": {"Title": "x"}}
    )
    assert write.status_code == 403


def test_write_grant_does_not_create_lists_owner_does(raw: RawGraph) -> None:
    # graph.md §9: creating lists is Sites.Manage.All-level; "write may not be enough"
    # (unverified): the sandbox refuses it, and owner/fullcontrol allow it.
    site_id, other = raw.info["site_id"], _other_site(raw)
    _roles(raw, "Sites.FullControl.All")
    assert _grant(raw, other, ["owner"]).status_code == 201
    _roles(raw, "Sites.Selected")
    refused = _new_list(raw, site_id)
    assert refused.status_code == 403
    assert _new_list(raw, other).status_code == 201


def test_granting_and_revoking_a_site(raw: RawGraph) -> None:
    other = _other_site(raw)
    _roles(raw, "Sites.Selected")
    assert raw.call("GET", f"/sites/{other}").status_code == 403
    # A Sites.Selected app cannot grant itself: the permissions routes need FullControl.All.
    assert _grant(raw, other, ["read"]).status_code == 403
    _roles(raw, "Sites.FullControl.All")
    created = _grant(raw, other, ["read"])
    assert created.status_code == 201
    permission = created.json()
    assert permission["roles"] == ["read"]
    assert permission["grantedToIdentitiesV2"][0]["application"]["id"] == raw.info["client_id"]
    assert permission["grantedToIdentities"] == permission["grantedToIdentitiesV2"]
    listed = raw.call("GET", f"/sites/{other}/permissions").json()["value"]
    assert [p["id"] for p in listed] == [permission["id"]]
    _roles(raw, "Sites.Selected")
    assert raw.call("GET", f"/sites/{other}").status_code == 200
    assert _new_list(raw, other).status_code == 403  # read grant: no writes
    _roles(raw, "Sites.FullControl.All")
    one = f"/sites/{other}/permissions/{permission['id']}"
    assert raw.call("GET", one).json()["roles"] == ["read"]
    assert raw.call("DELETE", one).status_code == 204
    assert raw.call("GET", one).status_code == 404
    _roles(raw, "Sites.Selected")
    assert raw.call("GET", f"/sites/{other}").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"roles": ["admin"], "grantedToIdentities": [{"application": {"id": "a"}}]},
        {"roles": [], "grantedToIdentities": [{"application": {"id": "a"}}]},
        {"roles": ["read"]},
        {"roles": ["read"], "grantedToIdentities": [{"user": {"id": "u"}}]},
    ],
    ids=["unknown-role", "no-role", "no-identity", "not-an-application"],
)
def test_bad_grant_is_400(raw: RawGraph, body: dict[str, Any]) -> None:
    _roles(raw, "Sites.FullControl.All")
    answer = raw.call("POST", f"/sites/{_other_site(raw)}/permissions", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalidRequest"


def test_tenant_wide_roles_reach_every_site_at_their_level(raw: RawGraph) -> None:
    other = _other_site(raw)
    _roles(raw, "Sites.Read.All")
    assert raw.call("GET", f"/sites/{other}").status_code == 200
    assert _new_list(raw, other).status_code == 403
    _roles(raw, "Sites.Manage.All")
    assert _new_list(raw, other).status_code == 201
