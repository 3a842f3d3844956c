"""The sandbox against Microsoft's published Graph v1.0 CSDL.

The model comes from ``tests/sandbox/graph_facts.json``, the slice of
``../shared/reference/graph-v1.0.csdl`` that the sandbox's routes reach, derived by
``tools/derive_graph_facts.py`` and committed, so these checks run on every clone. When
``../shared`` is present, a test checks that the committed slice is up to date.

1. Every Graph route template resolves segment by segment in the CSDL (entity sets and
   singletons, keys, navigation and structural properties, bound actions/functions, and the
   two path-addressing forms Graph uses), and the route's declared ``returns`` type is the
   type that walk arrives at.
2. A realistic scenario touches every GET/POST/PATCH/PUT route that answers JSON; every
   property name in every answer must exist on the route's type in the CSDL (recursively
   through complex and navigation properties; ``@`` annotations and the dynamic keys of open
   "dictionary" types are skipped).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
import requests

from automation.sandbox.framework import ApiError, Route
from automation.sandbox.seed import APP_ROLES, SITE_PATH, SP_HOSTNAME, user_email
from automation.sandbox.server import Sandbox
from tests.conftest import RawGraph
from tests.sandbox import csdl
from tests.sandbox.csdl import Csdl, TypeRef

# Route modules whose scenario steps may be skipped while their routes are not registered
# yet, and whose JSON routes need not all be touched. The lead empties this once every
# group exists; every other module must be fully covered.
PENDING_MODULES: frozenset[str] = frozenset()

# (method, type the walk arrives at, declared returns) -> why the answer differs.
RETURN_EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("PUT", "Edm.Stream", "microsoft.graph.driveItem"): "uploading content answers the driveItem",
}

# Open types used as dictionaries: keys are data (column names, user ids, GUIDs, URLs);
# the value type to check each value against, or None for plain values.
DICTIONARY_TYPES: dict[str, str | None] = {
    "microsoft.graph.fieldValueSet": None,
    "microsoft.graph.plannerAppliedCategories": None,
    "microsoft.graph.plannerAssignments": "microsoft.graph.plannerAssignment",
    "microsoft.graph.plannerChecklistItems": "microsoft.graph.plannerChecklistItem",
    "microsoft.graph.plannerExternalReferences": "microsoft.graph.plannerExternalReference",
}

# Dynamic members of other open types (user, identity, ...) are reported like any unknown
# name; add one here only with the source showing that Graph really returns it:
# (type, member) -> source.
OPEN_TYPE_MEMBERS: dict[tuple[str, str], str] = {}

JSON_METHODS = frozenset({"GET", "POST", "PATCH", "PUT"})
_NAME = r"[A-Za-z0-9_-]+"
_KEY = re.compile(rf"^\{{{_NAME}(:path)?\}}$")
_KEY_PATH = re.compile(rf"^\{{{_NAME}\}}:\{{{_NAME}(:path)?\}}:?$")  # /sites/{host}:{path}
_PATH_START = re.compile(rf"^(?P<stem>[A-Za-z]+|\{{{_NAME}\}}):$")  # root: or {item-id}:
_PATH_PART = re.compile(rf"^\{{{_NAME}(:path)?\}}(?P<end>:)?$")
_CALL = re.compile(r"^(?:microsoft\.graph\.)?(?P<name>[A-Za-z]+)(?:\(\))?$")


@pytest.fixture(scope="session")
def model() -> Csdl:
    return csdl.from_facts()


def test_fact_file_is_up_to_date(shared_dir: Path) -> None:
    """The committed fact file equals what the CSDL and today's routes give."""
    import tools.derive_graph_facts as derive

    expected = derive.render(derive.build(shared_dir / "reference" / "graph-v1.0.csdl"))
    assert csdl.FACTS.read_text(encoding="utf-8") == expected, (
        "tests/sandbox/graph_facts.json is stale: run tools/derive_graph_facts.py"
    )


def _module(route: Route) -> str:
    return route.handler.__module__.rsplit(".", 1)[-1]


def _describe(ref: TypeRef | None) -> str:
    if ref is None:
        return "(no result)"
    return f"Collection({ref.name})" if ref.collection else ref.name


# -- 1. route templates ------------------------------------------------------------------------
class WalkError(Exception):
    """A template segment the CSDL does not explain."""

    def __init__(self, segment: str, reason: str) -> None:
        super().__init__(f"segment {segment!r}: {reason}")


def walk(model: Csdl, template: str) -> TypeRef | None:
    """The type a route template addresses; WalkError on the first unexplained segment."""
    segments = template.strip("/").split("/")
    first = segments[0]
    if first in model.entity_sets:
        state: TypeRef | None = TypeRef(model.entity_sets[first], True)
    elif first in model.singletons:
        state = TypeRef(model.singletons[first], False)
    else:
        raise WalkError(first, "is neither an entity set nor a singleton")
    index = 1
    while index < len(segments):
        segment = segments[index]
        if state is None:
            raise WalkError(segment, "follows an operation that has no result")
        path_start = _PATH_START.match(segment)
        call = _CALL.match(segment)
        if (_KEY.match(segment) or _KEY_PATH.match(segment)) and state.collection:
            state = TypeRef(state.name, False)  # by key, or key/path addressing (site by path)
        elif path_start:
            # "root:" / "{item-id}:" followed by path parameters up to the closing ":"
            stem = path_start["stem"]
            if stem.startswith("{"):
                if not state.collection:
                    raise WalkError(segment, f"a key needs a collection, not {_describe(state)}")
                state = TypeRef(state.name, False)
            else:
                member = None if state.collection else model.member(state.name, stem)
                if member is None or member.collection:
                    raise WalkError(segment, f"{stem} is no single-valued member of {state.name}")
                state = member
            index += 1
            while index < len(segments):
                part = _PATH_PART.match(segments[index])
                if part is None:
                    raise WalkError(segments[index], "expected a path parameter after ':'")
                index += 1
                if part["end"]:
                    break
            continue
        elif call:
            name = call["name"]
            member = None if state.collection else model.member(state.name, name)
            if member is not None:
                state = member
            else:
                operation = model.bound_operation(name, state)
                if operation is None:
                    raise WalkError(
                        segment,
                        f"no property, navigation property or bound operation of "
                        f"{_describe(state)}",
                    )
                state = operation.returns
        else:
            raise WalkError(segment, f"unknown segment form after {_describe(state)}")
        index += 1
    return state


def return_problem(model: Csdl, route: Route, found: TypeRef | None) -> str | None:
    """Why the declared ``returns`` does not fit the walked type, or None."""
    if route.returns is None:
        if route.method == "GET" and found is not None and found.name in model.types:
            return f"answers {_describe(found)} but declares no returns type"
        return None
    if found is None:
        return f"declares {route.returns} but the operation has no result"
    if (route.method, found.name, route.returns) in RETURN_EXCEPTIONS:
        return None
    if not model.derives_from(route.returns, found.name):
        return f"declares {route.returns}, the CSDL says {_describe(found)}"
    created = route.method == "POST" and found.collection and not route.collection
    if found.collection != route.collection and not created:
        return f"declares collection={route.collection}, the CSDL says {_describe(found)}"
    return None


def test_every_graph_route_resolves_against_the_csdl(sandbox: Sandbox, model: Csdl) -> None:
    problems: list[str] = []
    checked = 0
    for route in sandbox.router.routes:
        if not route.graph:
            continue
        checked += 1
        label = f"{route.method} {route.template} (routes/{_module(route)}.py)"
        if route.template == "/$batch":
            if route.returns is not None:
                problems.append(f"{label}: $batch answers no entity; returns must be None")
            continue
        try:
            found = walk(model, route.template)
        except WalkError as exc:
            problems.append(f"{label}: {exc}")
            continue
        problem = return_problem(model, route, found)
        if problem:
            problems.append(f"{label}: {problem}")
    print(f"checked {checked} routes against the CSDL")
    assert checked > 0
    assert not problems, "routes that do not fit the CSDL:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "/sites/{site-id}/lists/{list-id}/items/{item-id}/fields",
            "microsoft.graph.fieldValueSet",
        ),
        ("/sites/{site-id}/lists/{list-id}/items/delta()", "Collection(microsoft.graph.listItem)"),
        ("/sites/{hostname}:{site-path:path}", "microsoft.graph.site"),
        (
            "/drives/{drive-id}/root:/{item-path:path}:/children",
            "Collection(microsoft.graph.driveItem)",
        ),
        ("/drives/{drive-id}/items/{parent-id}:/{name}:/content", "Edm.Stream"),
        ("/users/{user-id}/sendMail", "(no result)"),
        (
            "/users/{user-id}/messages/{message-id}/attachments/createUploadSession",
            "microsoft.graph.uploadSession",
        ),
        ("/groups/{group-id}/planner/plans", "Collection(microsoft.graph.plannerPlan)"),
    ],
)
def test_walk_resolves_known_forms(model: Csdl, template: str, expected: str) -> None:
    assert _describe(walk(model, template)) == expected


@pytest.mark.parametrize(
    ("template", "segment"),
    [
        ("/sites/{site-id}/listz", "listz"),
        ("/planner/tasks/{task-id}/detail", "detail"),
        ("/nowhere/{id}", "nowhere"),
        ("/users/{user-id}/{extra}", "{extra}"),
        ("/drives/{drive-id}/root:/literal:/content", "literal:"),
        ("/users/{user-id}/sendMail/more", "more"),
    ],
)
def test_walk_rejects_unknown_segments(model: Csdl, template: str, segment: str) -> None:
    with pytest.raises(WalkError, match=re.escape(repr(segment))):
        walk(model, template)


# -- 2. answer bodies ------------------------------------------------------------------------
def check_object(
    model: Csdl, obj: dict[str, Any], type_name: str, where: str, problems: list[str]
) -> None:
    """Record every property of ``obj`` (recursively) that ``type_name`` does not have."""
    annotated = obj.get("@odata.type")
    if isinstance(annotated, str):
        named = annotated.lstrip("#")
        if named not in model.types:
            problems.append(f"{where}: unknown @odata.type {annotated!r}")
        elif model.derives_from(named, type_name):
            type_name = named
        else:
            problems.append(f"{where}: @odata.type {annotated!r} is not a {type_name}")
    if type_name in DICTIONARY_TYPES:
        value_type = DICTIONARY_TYPES[type_name]
        for key, value in obj.items():
            if value_type and not key.startswith("@") and isinstance(value, dict):
                check_object(model, value, value_type, f"{where}[{key!r}]", problems)
        return
    if type_name not in model.types:
        problems.append(f"{where}: {type_name} is not a structured type of the CSDL")
        return
    for key, value in obj.items():
        if "@" in key:  # instance and property annotations
            continue
        ref = model.member(type_name, key)
        if ref is None:
            if (type_name, key) not in OPEN_TYPE_MEMBERS:
                problems.append(f"{where}.{key}: not a property of {type_name}")
            continue
        if ref.name not in model.types and ref.name not in DICTIONARY_TYPES:
            continue
        children = value if isinstance(value, list) else [value]
        for index, child in enumerate(children):
            if isinstance(child, dict):
                suffix = f"[{index}]" if isinstance(value, list) else ""
                check_object(model, child, ref.name, f"{where}.{key}{suffix}", problems)


class RouteMissing(Exception):
    """The scenario called a path no registered route serves."""


@dataclass
class Recorder:
    """Calls the sandbox, remembers which route answered and checks each JSON answer."""

    raw: RawGraph
    model: Csdl
    touched: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    bodies: int = 0
    skipped: list[str] = field(default_factory=list)

    def route_for(self, method: str, url: str) -> Route:
        split = urlsplit(url)
        path = split.path if url.startswith("https://") else "/v1.0" + split.path
        try:
            route, _params = self.raw.sandbox.router.match(method, unquote(path))
        except ApiError as exc:
            raise RouteMissing(f"{method} {path}") from exc
        return route

    def call(
        self, method: str, url: str, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> requests.Response:
        route = self.route_for(method, url)
        answer = self.raw.call(method, url, **kwargs)
        assert answer.status_code in expect, (
            f"{method} {url} -> {answer.status_code}: {answer.text[:600]}"
        )
        self.touched.add((route.method, route.template))
        if route.template == "/$batch" and route.graph:
            self._check_batch(kwargs.get("json") or {}, answer.json())
        elif answer.content and "json" in answer.headers.get("Content-Type", ""):
            self.check(route, answer.json())
        return answer

    def check(self, route: Route, body: Any) -> None:
        if route.returns is None:
            return
        label = f"{route.method} {route.template}"
        if route.collection:
            assert isinstance(body.get("value"), list), f"{label}: no 'value' array"
            for index, item in enumerate(body["value"]):
                check_object(
                    self.model, item, route.returns, f"{label} value[{index}]", self.problems
                )
        else:
            check_object(self.model, body, route.returns, label, self.problems)
        self.bodies += 1

    def check_as(self, type_name: str, body: dict[str, Any], label: str) -> None:
        """Check an answer of a non-Graph route (an upload URL) against a known type."""
        check_object(self.model, body, type_name, label, self.problems)
        self.bodies += 1

    def _check_batch(self, sent: dict[str, Any], answer: dict[str, Any]) -> None:
        requests_by_id = {item["id"]: item for item in sent.get("requests", [])}
        for entry in answer["responses"]:
            inner = requests_by_id[entry["id"]]
            assert entry["status"] < 400, f"batch request {entry['id']}: {entry}"
            route = self.route_for(inner["method"], "/" + inner["url"].lstrip("/"))
            self.touched.add((route.method, route.template))
            if isinstance(entry.get("body"), dict):
                self.check(route, entry["body"])

    def step(self, module: str, name: str, run: Callable[[], None]) -> None:
        """Run one scenario step; a missing route skips it only for a pending module."""
        try:
            run()
        except RouteMissing as exc:
            if module not in PENDING_MODULES:
                raise AssertionError(f"scenario step {module}/{name}: no route for {exc}") from exc
            self.skipped.append(f"{module}/{name} (no route for {exc})")


def _q(params: dict[str, str]) -> str:
    return urlencode(params, quote_via=quote)


def _upload(raw: RawGraph, upload_url: str, content: bytes, chunk: int) -> requests.Response:
    """PUT ``content`` to a pre-authenticated upload URL (no Authorization header)."""
    session = requests.Session()
    session.trust_env = False
    answer: requests.Response | None = None
    for start in range(0, len(content), chunk):
        part = content[start : start + chunk]
        end = start + len(part) - 1
        answer = session.put(
            upload_url,
            data=part,
            headers={"Content-Range": f"bytes {start}-{end}/{len(content)}"},
            verify=str(raw.sandbox.ca_path),
            timeout=10,
        )
        assert answer.status_code in (200, 201, 202), answer.text[:600]
    assert answer is not None
    return answer


def scenario_users(r: Recorder) -> None:
    mailbox = r.raw.info["mailbox"]
    r.call("GET", f"/users/{mailbox}")
    r.call("GET", f"/users/{mailbox}?$select=id,displayName,mail")
    wanted = f"mail eq '{mailbox}' or userPrincipalName eq '{mailbox}'"
    found = r.call("GET", "/users?" + _q({"$filter": wanted})).json()
    assert len(found["value"]) == 1
    r.call("GET", f"/groups/{r.raw.info['group_id']}")


def scenario_planner(r: Recorder) -> dict[str, Any]:
    group = r.raw.info["group_id"]
    officer = r.raw.sandbox.tenant.data["seed"]["user_ids"]["policy_officer"]
    plan = r.call(
        "POST",
        "/planner/plans",
        json={
            "container": {"url": f"https://graph.microsoft.com/v1.0/groups/{group}"},
            "title": "S",
        },
    ).json()
    r.call("GET", f"/planner/plans/{plan['id']}")
    r.call("GET", f"/groups/{group}/planner/plans")
    bucket = r.call(
        "POST",
        "/planner/buckets",
        json={"name": "Drafting", "planId": plan["id"], "orderHint": " !"},
    ).json()
    r.call("GET", f"/planner/buckets/{bucket['id']}")
    r.call(
        "PATCH",
        f"/planner/buckets/{bucket['id']}",
        json={"name": "Drafting responses"},
        headers={"If-Match": bucket["@odata.etag"], "Prefer": "return=representation"},
    )
    r.call("GET", f"/planner/plans/{plan['id']}/buckets")
    task = r.call(
        "POST",
        "/planner/tasks",
        json={
            "planId": plan["id"],
            "bucketId": bucket["id"],
            "title": "Draft the Section 55 response",
            "assignments": {
                officer: {"@odata.type": "#microsoft.graph.plannerAssignment", "orderHint": " !"}
            },
            "appliedCategories": {"category1": True},
            "dueDateTime": "2025-07-01T17:00:00Z",
        },
    ).json()
    r.call("GET", f"/planner/tasks/{task['id']}")
    r.call(
        "PATCH",
        f"/planner/tasks/{task['id']}",
        json={"percentComplete": 100},
        headers={"If-Match": task["@odata.etag"], "Prefer": "return=representation"},
    )
    details = r.call("GET", f"/planner/tasks/{task['id']}/details").json()
    r.call(
        "PATCH",
        f"/planner/tasks/{task['id']}/details",
        json={
            "description": "Draft, then send for approval.",
            "checklist": {
                "0a5c4c0e-7f3c-4c1e-9a55-6f1c2d7c8b01": {
                    "@odata.type": "microsoft.graph.plannerChecklistItem",
                    "title": "Check the deadline",
                }
            },
            "references": {
                "https%3A//opcc-example%2Esharepoint%2Ecom/sites/OPCC/draft%2Edocx": {
                    "@odata.type": "microsoft.graph.plannerExternalReference",
                    "alias": "Draft",
                    "type": "Word",
                }
            },
        },
        headers={"If-Match": details["@odata.etag"], "Prefer": "return=representation"},
    )
    r.call("GET", f"/planner/plans/{plan['id']}/tasks")
    r.call("GET", f"/planner/buckets/{bucket['id']}/tasks")
    return {"plan": plan["id"]}


def scenario_sites(r: Recorder) -> None:
    site = r.call("GET", f"/sites/{SP_HOSTNAME}:{SITE_PATH}").json()
    site_id = site["id"]
    r.call("GET", f"/sites/{site_id}")
    created = r.call(
        "POST",
        f"/sites/{site_id}/lists",
        json={
            "displayName": "Scenario tracker",
            "columns": [
                {
                    "name": "PublicationKey",
                    "text": {},
                    "indexed": True,
                    "enforceUniqueValues": True,
                },
                {"name": "PublishedOn", "dateTime": {"format": "dateOnly"}},
            ],
            "list": {"template": "genericList"},
        },
    ).json()
    lists = f"/sites/{site_id}/lists"
    base = f"{lists}/{created['id']}"
    r.call("GET", lists)
    r.call("GET", base)
    column = r.call(
        "POST",
        f"{base}/columns",
        json={"name": "Stage", "choice": {"choices": ["Triage", "Drafting"]}},
    ).json()
    r.call("GET", f"{base}/columns")
    r.call("GET", f"{base}/columns/{column['id']}")
    r.call("PATCH", f"{base}/columns/{column['id']}", json={"description": "Workflow stage"})
    latest = r.call("GET", f"{base}/items/delta?token=latest").json()
    item = r.call(
        "POST",
        f"{base}/items",
        json={"fields": {"Title": "Inspection", "PublicationKey": "k-1", "Stage": "Triage"}},
    ).json()
    r.call("GET", f"{base}/items?$expand=fields")
    r.call("GET", f"{base}/items/{item['id']}?$expand=fields")
    r.call("GET", f"{base}/items/{item['id']}/fields")
    r.call("PATCH", f"{base}/items/{item['id']}/fields", json={"Stage": "Drafting"})
    r.call("PATCH", f"{base}/items/{item['id']}", json={"fields": {"Stage": "Triage"}})
    r.call("GET", f"{base}/items/{item['id']}/versions?$expand=fields")
    r.call("GET", f"{base}/items/{item['id']}/versions/1.0?$expand=fields")
    changes = r.call("GET", latest["@odata.deltaLink"]).json()
    assert [change["id"] for change in changes["value"]] == [item["id"]]
    r.call("GET", f"{base}/items/delta()?$expand=fields")
    grants = f"/sites/{site_id}/permissions"
    granted = r.call(
        "POST",
        grants,
        json={
            "roles": ["read"],
            "grantedToIdentities": [
                {"application": {"id": r.raw.info["client_id"], "displayName": "Scenario"}}
            ],
        },
    ).json()
    r.call("GET", grants)
    r.call("GET", f"{grants}/{granted['id']}")


def scenario_drive(r: Recorder, prefix: str, tag: str) -> None:
    folder_name = f"Drafts-{tag}"
    r.call("GET", f"{prefix}/root")
    folder = r.call(
        "POST",
        f"{prefix}/root/children",
        json={"name": folder_name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"},
    ).json()
    r.call("GET", f"{prefix}/root/children")
    r.call("GET", f"{prefix}/root:/{folder_name}:")
    r.call("GET", f"{prefix}/root:/{folder_name}")
    r.call("POST", f"{prefix}/root:/{folder_name}:/children", json={"name": "Sub", "folder": {}})
    r.call("GET", f"{prefix}/root:/{folder_name}:/children")
    note = r.call(
        "PUT", f"{prefix}/root:/{folder_name}/note.txt:/content", data=b"hello", expect=(201,)
    ).json()
    r.call("PUT", f"{prefix}/items/{folder['id']}:/second.txt:/content", data=b"x", expect=(201,))
    r.call("PUT", f"{prefix}/items/{note['id']}/content", data=b"replaced", expect=(200,))
    r.call("GET", f"{prefix}/items/{note['id']}")
    r.call("GET", f"{prefix}/items/{folder['id']}/children")
    r.call("POST", f"{prefix}/items/{folder['id']}/children", json={"name": "Other", "folder": {}})
    r.call(
        "GET",
        f"{prefix}/root:/{folder_name}/note.txt:/content",
        allow_redirects=False,
        expect=(302,),
    )
    session = r.call(
        "POST",
        f"{prefix}/root:/{folder_name}/big.bin:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "replace"}},
    ).json()
    final = _upload(r.raw, session["uploadUrl"], b"\x01" * (327_680 + 10), 327_680)
    assert final.status_code in (200, 201)
    r.check_as("microsoft.graph.driveItem", final.json(), "PUT {uploadUrl} (drive, final)")
    r.call(
        "POST",
        f"{prefix}/items/{folder['id']}:/big2.bin:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "rename"}},
    )


def scenario_drives(r: Recorder) -> None:
    site_id = r.raw.info["site_id"]
    drive = r.call("GET", f"/sites/{site_id}/drive").json()
    r.call("GET", f"/sites/{site_id}/drives")
    r.call("GET", f"/drives/{drive['id']}")
    scenario_drive(r, f"/drives/{drive['id']}", "a")
    scenario_drive(r, f"/sites/{site_id}/drive", "b")


def scenario_mail(r: Recorder) -> None:
    mailbox = r.raw.info["mailbox"]
    prop = "String {00020329-0000-0000-C000-000000000046} Name S55IdempotencyKey"
    r.call(
        "POST",
        f"/users/{mailbox}/sendMail",
        json={
            "message": {
                "subject": "Section 55 response",
                "body": {"contentType": "HTML", "content": "<p>Attached.</p>"},
                "toRecipients": [{"emailAddress": {"address": user_email("pcc")}}],
                "singleValueExtendedProperties": [{"id": prop, "value": "key-1"}],
            },
            "saveToSentItems": True,
        },
        expect=(202,),
    )
    query = _q(
        {
            "$filter": (
                f"singleValueExtendedProperties/any(ep: ep/id eq '{prop}' and ep/value eq 'key-1')"
            ),
            "$expand": f"singleValueExtendedProperties($filter=id eq '{prop}')",
        }
    )
    sent = r.call("GET", f"/users/{mailbox}/mailFolders/SentItems/messages?{query}").json()
    assert len(sent["value"]) == 1
    draft = r.call(
        "POST",
        f"/users/{mailbox}/messages",
        json={
            "subject": "Draft for approval",
            "body": {"contentType": "Text", "content": "Please approve."},
            "toRecipients": [{"emailAddress": {"address": user_email("chief_executive")}}],
        },
    ).json()
    message = f"/users/{mailbox}/messages/{draft['id']}"
    r.call("GET", f"/users/{mailbox}/messages")
    r.call("GET", message)
    attachment = r.call(
        "POST",
        f"{message}/attachments",
        json={
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "note.txt",
            "contentBytes": base64.b64encode(b"hello").decode(),
        },
    ).json()
    r.call("GET", f"{message}/attachments")
    r.call("GET", f"{message}/attachments/{attachment['id']}")
    r.call(
        "POST",
        f"{message}/attachments/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "big.pdf", "size": 3_200_000}},
    )
    r.call("POST", f"{message}/send", expect=(202,))


def scenario_calendar(r: Recorder) -> None:
    mailbox = r.raw.info["mailbox"]
    prop = "String {8a1b6c3e-2f4d-4e5a-9b7c-0d1e2f3a4b5c} Name Section55DeadlineKey"
    r.call("GET", f"/users/{mailbox}/calendar")
    event = r.call(
        "POST",
        f"/users/{mailbox}/events",
        json={
            "subject": "Section 55 deadline",
            "body": {"contentType": "text", "content": "Response due."},
            "isAllDay": True,
            "start": {"dateTime": "2025-07-01T00:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-07-02T00:00:00", "timeZone": "Europe/London"},
            "location": {"displayName": "OPCC"},
            "attendees": [{"emailAddress": {"address": user_email("pcc")}, "type": "optional"}],
            "transactionId": "scenario-1",
            "singleValueExtendedProperties": [{"id": prop, "value": "key-1"}],
        },
        headers={"Prefer": 'outlook.timezone="Europe/London"'},
    ).json()
    r.call(
        "POST",
        f"/users/{mailbox}/calendar/events",
        json={
            "subject": "Panel meeting",
            "start": {"dateTime": "2025-07-03T10:00:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2025-07-03T12:00:00", "timeZone": "GMT Standard Time"},
        },
    )
    query = _q(
        {
            "$filter": (
                f"singleValueExtendedProperties/any(ep: ep/id eq '{prop}' and ep/value eq 'key-1')"
            ),
            "$expand": f"singleValueExtendedProperties($filter=id eq '{prop}')",
        }
    )
    found = r.call("GET", f"/users/{mailbox}/events?{query}").json()
    assert [item["id"] for item in found["value"]] == [event["id"]]
    r.call("GET", f"/users/{mailbox}/calendar/events")
    one = f"/users/{mailbox}/events/{event['id']}"
    r.call("GET", f"{one}?$expand=singleValueExtendedProperties")
    r.call("PATCH", one, json={"subject": "Moved deadline", "showAs": "busy"})


def scenario_batch(r: Recorder, plan_id: str) -> None:
    mailbox = r.raw.info["mailbox"]
    r.call(
        "POST",
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": f"/users/{mailbox}"},
                {
                    "id": "2",
                    "method": "GET",
                    "url": f"planner/plans/{plan_id}/tasks",
                    "dependsOn": ["1"],
                },
                {
                    "id": "3",
                    "method": "GET",
                    "url": f"/planner/plans/{plan_id}",
                    "dependsOn": ["2"],
                },
            ]
        },
    )


def test_answer_bodies_use_only_csdl_property_names(raw: RawGraph, model: Csdl) -> None:
    granted = raw.session.put(
        f"{raw.sandbox.url}/_sandbox/apps/{raw.info['client_id']}/roles",
        json={"roles": [*APP_ROLES, "Group.Read.All", "Sites.FullControl.All"]},
        timeout=10,
    )
    assert granted.status_code == 204
    r = Recorder(raw, model)
    planner: dict[str, Any] = {}
    r.step("users", "lookups", lambda: scenario_users(r))
    r.step("planner", "plan to details", lambda: planner.update(scenario_planner(r)))
    r.step("sites", "list, columns, items, delta", lambda: scenario_sites(r))
    r.step("drive", "folders, uploads, sessions", lambda: scenario_drives(r))
    r.step("mail", "send, sent items, drafts", lambda: scenario_mail(r))
    r.step("calendar", "calendar, events, key lookup", lambda: scenario_calendar(r))
    r.step("batch", "inner requests", lambda: scenario_batch(r, planner["plan"]))

    json_routes = {
        (route.method, route.template): _module(route)
        for route in raw.sandbox.router.routes
        if route.graph and route.returns is not None and route.method in JSON_METHODS
    }
    untouched = sorted(key for key in json_routes if key not in r.touched)
    enforced = [key for key in untouched if json_routes[key] not in PENDING_MODULES]
    print(
        f"checked {len(r.touched)} routes and {r.bodies} bodies against the CSDL"
        f" ({len(untouched)} JSON routes untouched, {len(r.skipped)} steps skipped)"
    )
    for line in r.skipped:
        print(f"skipped: {line}")
    for method, template in untouched:
        print(f"untouched: {method} {template} (routes/{json_routes[(method, template)]}.py)")
    assert not r.problems, "property names not in the CSDL:\n" + "\n".join(r.problems)
    assert not enforced, "JSON routes the scenario does not touch:\n" + "\n".join(
        f"{method} {template}" for method, template in enforced
    )
    assert r.bodies > 0


def test_body_check_flags_unknown_names(model: Csdl) -> None:
    problems: list[str] = []
    task = {
        "@odata.etag": 'W/"x"',
        "id": "t",
        "title": "T",
        "assignments": {"u1": {"@odata.type": "#microsoft.graph.plannerAssignment", "bogus": 1}},
        "createdBy": {"application": {"id": "a", "nickname": "n"}},
        "etag_version": 3,
    }
    check_object(model, task, "microsoft.graph.plannerTask", "task", problems)
    assert problems == [
        "task.assignments['u1'].bogus: not a property of microsoft.graph.plannerAssignment",
        "task.createdBy.application.nickname: not a property of microsoft.graph.identity",
        "task.etag_version: not a property of microsoft.graph.plannerTask",
    ]
    fields: list[str] = []
    check_object(
        model, {"AnyColumn": 1, "@odata.etag": "e"}, "microsoft.graph.fieldValueSet", "f", fields
    )
    assert fields == []
