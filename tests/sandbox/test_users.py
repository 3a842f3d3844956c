"""Sandbox users and groups: lookups by id/UPN, the directory 404, $filter, permissions."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from automation.sandbox.routes.users import USER_DEFAULT_PROPERTIES
from automation.sandbox.seed import user_email
from tests.conftest import RawGraph


def _set_roles(raw: RawGraph, roles: list[str]) -> None:
    answer = raw.session.put(
        f"{raw.sandbox.url}/_sandbox/apps/{raw.info['client_id']}/roles",
        json={"roles": roles},
        timeout=10,
    )
    assert answer.status_code == 204


def _query(params: dict[str, str]) -> str:
    """Spaces as %20: the sandbox (like the production client) never sends '+' for a space."""
    return urlencode(params, quote_via=quote)


def _officer_id(raw: RawGraph) -> str:
    return str(raw.sandbox.tenant.data["seed"]["user_ids"]["policy_officer"])


def test_user_by_upn_any_case_has_default_property_set(raw: RawGraph) -> None:
    answer = raw.call("GET", f"/users/{user_email('policy_officer').upper()}")
    assert answer.status_code == 200
    body = answer.json()
    assert {k for k in body if not k.startswith("@")} == set(USER_DEFAULT_PROPERTIES)
    assert body["id"] == _officer_id(raw)
    assert body["userPrincipalName"] == user_email("policy_officer")
    assert body["displayName"] == "Priya Shah"


def test_user_by_id_with_select(raw: RawGraph) -> None:
    answer = raw.call("GET", f"/users/{_officer_id(raw)}", params={"$select": "mail,displayName"})
    assert answer.status_code == 200
    body = answer.json()
    assert {k for k in body if not k.startswith("@")} == {"id", "mail", "displayName"}
    assert body["mail"] == user_email("policy_officer")


def test_unknown_user_is_directory_404(raw: RawGraph) -> None:
    answer = raw.call("GET", "/users/nobody@opcc.example.org")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"] == (
        "Resource 'nobody@opcc.example.org' does not exist or one of its queried "
        "reference-property objects are not present."
    )
    assert error["innerError"]["request-id"] == answer.headers["request-id"]


def test_filter_on_mail_or_upn(raw: RawGraph) -> None:
    address = user_email("pcc")
    query = _query(
        {
            "$filter": f"mail eq '{address.upper()}' or userPrincipalName eq '{address}'",
            "$select": "id",
        }
    )
    answer = raw.call("GET", f"/users?{query}")
    assert answer.status_code == 200
    value = answer.json()["value"]
    assert value == [{"id": raw.sandbox.tenant.data["seed"]["user_ids"]["pcc"]}]
    none = raw.call("GET", "/users?" + _query({"$filter": "mail eq 'ghost@opcc.example.org'"}))
    assert none.status_code == 200
    assert none.json()["value"] == []


def test_unsupported_filter_is_400(raw: RawGraph) -> None:
    answer = raw.call("GET", "/users?" + _query({"$filter": "startswith(displayName,'P')"}))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "Request_UnsupportedQuery"


@pytest.mark.parametrize("roles", [["User.ReadBasic.All"], ["User.Read.All"]])
def test_either_user_read_role_is_enough(raw: RawGraph, roles: list[str]) -> None:
    _set_roles(raw, roles)
    assert raw.call("GET", f"/users/{raw.info['mailbox']}").status_code == 200


def test_missing_user_role_is_403(raw: RawGraph) -> None:
    _set_roles(raw, ["Mail.Send", "Tasks.ReadWrite.All"])
    for path in (f"/users/{raw.info['mailbox']}", "/users?" + _query({"$filter": "mail eq 'x'"})):
        answer = raw.call("GET", path)
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["code"] == "Authorization_RequestDenied"
        assert error["message"] == "Insufficient privileges to complete the operation."


def test_group_needs_group_read_role(raw: RawGraph) -> None:
    group_id = raw.info["group_id"]
    denied = raw.call("GET", f"/groups/{group_id}")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    _set_roles(raw, ["Group.Read.All"])
    answer = raw.call("GET", f"/groups/{group_id}")
    assert answer.status_code == 200
    assert answer.json()["id"] == group_id
    assert answer.json()["groupTypes"] == ["Unified"]
    missing = raw.call("GET", "/groups/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
