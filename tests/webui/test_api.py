"""The JSON API: bearer tokens only, the pages' rights, Chinese field messages, and every response as documented.

Every request goes through ``Api.call``, which holds the response to the OpenAPI document: the status must be
listed for the operation and the body must validate (jsonschema, draft 2020-12, formats checked) against the
schema of that status and content type.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

from engine import tokens
from engine.service import WorkflowService
from tests.webui.conftest import DEMO, AuthActions, csrf
from webui.openapi import document

SPEC = document()
BASE = "urn:leanflow:openapi"
REGISTRY = Registry().with_resource(BASE, DRAFT202012.create_resource(SPEC))
FORMATS = Draft202012Validator.FORMAT_CHECKER
MEETING = (DEMO / "branch_meeting.bpmn").read_bytes()
CHANGED = MEETING.replace("（演示）".encode(), "（API 版）".encode())
BROKEN = MEETING.replace(b'value="secretary"', b'value="no_such_role"')
XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       + MEETING.split(b"?>", 1)[1].replace("（演示）".encode(), b"&xxe;", 1))
AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def conforms(response: TestResponse, method: str, path: str) -> None:
    """Assert the response's status is documented for its operation and its body validates against the schema."""
    path = path.split("?", 1)[0]
    template = next((t for t in SPEC["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path)), None)
    operation = SPEC["paths"][template].get(method.lower()) if template else None
    if operation is None:  # not an operation: answered by the catch-all with an error body
        assert response.status_code in (401, 404, 405), (method, path, response.status_code)
        pointer = "/components/schemas/Error"
    else:
        responses = operation["responses"]
        assert str(response.status_code) in responses, (method, path, response.status_code, response.get_data())
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{response.status_code}"  # type: ignore[arg-type]
        ref = responses[str(response.status_code)].get("$ref")
        if ref:
            pointer = ref[1:]
        content = _resolve(pointer)["content"]
        assert response.mimetype in content, (method, path, response.mimetype)
        if response.mimetype != "application/json":
            assert response.get_data(as_text=True).lstrip().startswith(("<svg", "<?xml"))
            return
        pointer += "/content/application~1json/schema"
    validator = Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=REGISTRY, format_checker=FORMATS)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json)]
    assert errors == [], (method, path, response.status_code)


def _resolve(pointer: str) -> Any:
    node: Any = SPEC
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


class Api:
    """An API client holding one bearer token (or none); every response is checked against the document."""

    def __init__(self, client: FlaskClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def call(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        """Send a request with the token and check the response against the OpenAPI document."""
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
        conforms(response, method, f"/api/v1{path}")
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """GET, checked."""
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        """POST, checked."""
        return self.call("POST", path, **kwargs)


@pytest.fixture
def api(client: FlaskClient, service: WorkflowService):  # type: ignore[no-untyped-def]
    """Make an API client acting as a person (through a token issued for them), or with no token."""
    def make(person: str | None = None) -> Api:
        token = tokens.issue_token(service, person, name="tests").secret if person else None
        return Api(client, token)
    return make


def _my_task(api: Api, process_id: str = "branch_meeting") -> dict[str, Any]:
    entries = api.get(f"/tasks?process={process_id}").json["items"]
    assert entries, f"no {process_id} task"
    return entries[0]["task"]  # type: ignore[no-any-return]


def _error(response: TestResponse) -> dict[str, Any]:
    return response.json["error"]  # type: ignore[no-any-return,index]


def test_the_document_is_valid_openapi_and_lists_exactly_the_routes(app: Flask, api) -> None:  # type: ignore[no-untyped-def]
    validate_spec(SPEC)
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint != "api.unknown"
              for method in rule.methods - {"HEAD", "OPTIONS"}}  # type: ignore[operator]
    documented = {(path, method) for path, item in SPEC["paths"].items() for method in item}
    assert routes == documented
    served = api().get("/openapi.json")  # no token needed
    assert served.status_code == 200 and served.json == SPEC
    assert not FORMATS.conforms("2026-03-02T09:00:00", "date-time")  # the date-time format is really checked


def test_no_token_a_bad_one_or_a_revoked_one_gets_401(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    anonymous = api()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic d2FuZ3FpYW5nOnB3"},
                    {"Authorization": "Bearer lf_not-a-token"}, {"Authorization": "lf_not-a-token"}):
        response = anonymous.get("/me", headers=headers)
        assert response.status_code == 401 and _error(response)["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="leanflow"')
    assert 'error="invalid_token"' in anonymous.get(
        "/me", headers={"Authorization": "Bearer lf_x"}).headers["WWW-Authenticate"]
    assert anonymous.post("/tasks/1/claim").status_code == 401  # refused for the token, not for CSRF
    assert anonymous.get("/no/such/path").status_code == 401
    issued = tokens.issue_token(service, "wangqiang", name="revoked soon")
    member = Api(anonymous.client, issued.secret)
    assert member.get("/me").status_code == 200
    tokens.revoke_token(service, issued.token.id, actor="admin")
    assert member.get("/me").status_code == 401 and member.get("/tasks").status_code == 401


def test_a_session_cookie_alone_is_refused(client: FlaskClient, auth: AuthActions, api,  # type: ignore[no-untyped-def]
                                           service: WorkflowService) -> None:
    auth.login("wangqiang")
    assert client.get("/inbox/").status_code == 200  # the browser is logged in
    task_id = next(e.task.id for e in service.inbox_as("wangqiang") if e.instance.process_id == "branch_meeting")
    cookie_only = api()
    assert cookie_only.get("/me").status_code == 401
    token = csrf(client.get(f"/tasks/{task_id}"))
    response = cookie_only.post(f"/tasks/{task_id}/complete", json={"data": AGENDA}, headers={"X-CSRFToken": token})
    assert response.status_code == 401
    assert service.task(task_id).state == "ready"


def test_me_and_the_org_units(api) -> None:  # type: ignore[no-untyped-def]
    member = api("wangqiang").get("/me").json
    assert (member["id"], member["name"], member["org_unit_id"]) == ("wangqiang", "王强", "zongcai1")
    assert {"role": "secretary", "org_unit_id": "zongcai1", "org_path": "/dongshan/zongcai1/"} in member["roles"]
    assert (member["read_only"], member["may_deploy"], member["may_start_at"]) == (False, False, [])
    auditor = api("heping").get("/me").json
    assert (auditor["read_only"], auditor["reads_everything"], auditor["may_deploy"]) == (True, True, False)
    committee = api("zhoumin").get("/me").json
    assert committee["may_deploy"] and "dongshan" in committee["may_start_at"] and "zongcai1" in committee[
        "may_start_at"]
    units = api("wangqiang").get("/org-units").json["items"]
    assert units[0]["id"] == "dongshan" and units[0]["depth"] == 0 and units[0]["parent_id"] is None


def test_a_member_completes_their_task_and_bad_data_gets_chinese_messages(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    member = api("wangqiang")
    task = _my_task(member)
    assert task["ready_at"].endswith("+08:00")  # ISO 8601 in the configured zone, with its offset
    detail = member.get(f"/tasks/{task['id']}").json
    assert detail["may_work"] and {f["id"]: f["label"] for f in detail["fields"]}["agenda"] == "议程"
    before = service.task(task["id"])
    refused = member.post(f"/tasks/{task['id']}/complete", json={"data": {"agenda": "", "meeting_date": "下周一"}})
    assert refused.status_code == 422 and _error(refused)["code"] == "check_failed"
    assert {f["field"]: f["message"] for f in _error(refused)["failures"]} == {
        "agenda": "「议程」为必填项", "meeting_date": "「会议日期」应为日期，格式 YYYY-MM-DD"}
    after = service.task(task["id"])
    assert (after.state, after.completed_at) == (before.state, None)
    assert "agenda" not in service.instance(before.instance_id).data
    for body, status in (({"agenda": "x"}, 400), ({"data": ["x"]}, 400), ({"data": AGENDA, "extra": 1}, 400)):
        bad = member.post(f"/tasks/{task['id']}/complete", json=body)
        assert bad.status_code == status and _error(bad)["failures"], body
    assert member.post(f"/tasks/{task['id']}/complete", data="agenda=x").status_code == 415
    done = member.post(f"/tasks/{task['id']}/complete", json={"data": AGENDA})
    assert done.status_code == 200
    assert done.json["instance"]["data"]["agenda"] == "讨论发展党员"
    assert done.json["next_task"]["task_spec"] == "hold_meeting"
    assert service.task(task["id"]).state == "completed"
    assert member.post(f"/tasks/{task['id']}/complete", json={"data": AGENDA}).status_code == 409


def test_claim_open_and_give_back(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    member = api("wangqiang")
    task = _my_task(member)
    claimed = member.post(f"/tasks/{task['id']}/claim")
    assert claimed.status_code == 200 and (claimed.json["state"], claimed.json["assignee"]) == ("claimed", "wangqiang")
    assert [e["task"]["id"] for e in member.get("/tasks?state=claimed").json["items"]] == [task["id"]]
    opened = member.post(f"/tasks/{task['id']}/open")
    assert opened.status_code == 200 and opened.json["opened_at"] is not None
    given_back = member.post(f"/tasks/{task['id']}/unclaim")
    assert given_back.status_code == 200 and given_back.json["state"] == "ready"
    assert api("liming").post(f"/tasks/{task['id']}/claim").status_code == 403  # not the secretary
    assert api("majun").get(f"/tasks/{task['id']}").status_code == 403  # another branch does not even read it
    assert member.get("/tasks?state=done").status_code == 400
    assert member.get("/tasks/999999").status_code == 404 and member.post("/tasks/999999/claim").status_code == 404
    assert service.task(task["id"]).state == "ready"


def test_markup_in_data_comes_back_verbatim_as_json(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    typed = '<script>alert("x")</script><b onmouseover="alert(1)">议程</b> & 50% </script>'
    member = api("wangqiang")
    task = _my_task(member)
    assert member.post(f"/tasks/{task['id']}/complete", json={"data": {**AGENDA, "agenda": typed}}).status_code == 200
    for path in (f"/instances/{task['instance_id']}", f"/tasks/{task['id']}"):
        response = member.get(path)
        assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script>alert(\\\"x\\\")</script>" in response.get_data(as_text=True)  # not \u003c, not &lt;
        body = response.json
        assert (body.get("data") or body.get("values"))["agenda"] == typed
    assert service.instance(task["instance_id"]).data["agenda"] == typed


def test_an_auditor_reads_everything_and_changes_nothing(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    auditor = api("heping")
    task = next(e.task for e in service.inbox_as("wangqiang") if e.instance.process_id == "branch_meeting")
    listed = auditor.get("/instances").json["items"]
    assert {i["process_id"] for i in listed} == {"branch_meeting", "member_development"} and len(listed) == 3
    detail = auditor.get(f"/instances/{task.instance_id}").json
    assert detail["open_tasks"][0]["id"] == task.id and detail["tasks"][0]["id"] == task.id
    assert [e["type"] for e in auditor.get(f"/instances/{task.instance_id}/history").json["items"]][0] == \
        "instance_started"
    assert auditor.get(f"/instances/{task.instance_id}/verify").json["ok"] is True
    diagram = auditor.get(f"/instances/{task.instance_id}/diagram.svg?highlight=prepare_agenda")
    assert diagram.status_code == 200 and diagram.mimetype == "image/svg+xml"
    assert "script-src" not in diagram.headers["Content-Security-Policy"]
    assert auditor.get(f"/tasks/{task.id}").json["may_work"] is False
    before = len(service.instances())
    refusals = [auditor.post(f"/tasks/{task.id}/complete", json={"data": AGENDA}),
                auditor.post(f"/tasks/{task.id}/claim"),
                auditor.post("/definitions", data=CHANGED, content_type="application/xml"),
                auditor.post("/definitions/lint", data=CHANGED, content_type="application/xml"),
                auditor.post("/instances", json={"process_id": "branch_meeting", "org_unit_id": "zongcai1"})]
    assert [r.status_code for r in refusals] == [403] * 5
    assert all("审计人员" in _error(r)["message"] for r in refusals)
    assert service.task(task.id).state == "ready" and len(service.instances()) == before
    assert [d.version for d in service.definitions() if d.process_id == "branch_meeting"] == [1]


def test_reading_follows_the_org_tree(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    other = next(i for i in service.instances() if i.org_unit_id == "juejin2")
    member = api("wangqiang")
    assert other.id not in [i["id"] for i in member.get("/instances").json["items"]]
    for path in ("", "/history", "/verify", "/diagram.svg"):
        response = member.get(f"/instances/{other.id}{path}")
        assert response.status_code == 403 and _error(response)["code"] == "forbidden"
    assert member.get("/instances/999999").status_code == 404
    assert [i["process_id"] for i in member.get("/instances?process=member_development").json["items"]] == [
        "member_development"]


def test_the_committee_lints_deploys_and_starts(api, service: WorkflowService) -> None:  # type: ignore[no-untyped-def]
    committee = api("zhoumin")
    report = committee.post("/definitions/lint?filename=meeting.bpmn", data=CHANGED, content_type="application/xml")
    assert report.status_code == 200 and report.json["ok"] and report.json["process_id"] == "branch_meeting"
    deployed = committee.post("/definitions?filename=meeting.bpmn", data=CHANGED, content_type="application/xml")
    assert deployed.status_code == 201 and (deployed.json["version"], deployed.json["created"]) == (2, True)
    assert deployed.json["deployed_by"] == "zhoumin" and deployed.json["name"] == "支部党员大会（API 版）"
    again = committee.post("/definitions", data={"bpmn": (io.BytesIO(CHANGED), "again.bpmn")},
                           content_type="multipart/form-data")
    assert again.status_code == 200 and (again.json["version"], again.json["created"]) == (2, False)
    listed = committee.get("/definitions").json["items"]
    assert [d["version"] for d in listed if d["process_id"] == "branch_meeting"] == [2, 1]
    for path in ("/definitions", "/definitions/lint"):
        broken = committee.post(path, data=BROKEN, content_type="application/xml")
        assert broken.status_code == 422 and _error(broken)["code"] == "lint_failed"
        assert {(i["element_id"], i["code"]) for i in _error(broken)["issues"]} >= {("prepare_agenda", "unknown-role")}
        assert {"field": "prepare_agenda", "rule": "unknown-role"}.items() <= _error(broken)["failures"][0].items()
    hostile = committee.post("/definitions", data=XXE, content_type="application/xml")
    assert hostile.status_code == 400 and _error(hostile)["code"] == "load_error"
    assert "DOCTYPE" in _error(hostile)["message"] and "root:" not in hostile.get_data(as_text=True)
    assert committee.post("/definitions", data=b"", content_type="application/xml").status_code == 400
    assert committee.post("/definitions", json={"bpmn": "x"}).status_code == 415
    assert api("wangqiang").post("/definitions", data=CHANGED, content_type="application/xml").status_code == 403
    started = committee.post("/instances", json={"process_id": "branch_meeting", "org_unit_id": "zongcai1",
                                                  "title": "API 发起的党员大会", "data": {"note": "<i>x</i>"}})
    assert started.status_code == 201 and started.json["started_by"] == "zhoumin"
    assert started.json["definition_id"] == deployed.json["id"]  # the newest version
    assert started.headers["Location"] == f"/api/v1/instances/{started.json['id']}"
    assert started.json["open_tasks"][0]["task_spec"] == "prepare_agenda"
    assert committee.get(started.headers["Location"].removeprefix("/api/v1")).json["title"] == "API 发起的党员大会"
    missing = committee.post("/instances", json={"process_id": "branch_meeting"})
    assert missing.status_code == 400 and [f["field"] for f in _error(missing)["failures"]] == ["org_unit_id"]
    assert committee.post("/instances", json={"process_id": "nope", "org_unit_id": "zongcai1"}).status_code == 404
    assert api("wangqiang").post("/instances", json={"process_id": "branch_meeting",
                                                     "org_unit_id": "zongcai1"}).status_code == 403


def test_too_large_unknown_paths_and_wrong_methods_answer_in_json(app: Flask, api) -> None:  # type: ignore[no-untyped-def]
    committee = api("zhoumin")
    huge = committee.post("/definitions", data=b"<" * (5 * 1024 * 1024 + 1), content_type="application/xml")
    assert huge.status_code == 413 and _error(huge)["code"] == "too_large"
    app.config["MAX_CONTENT_LENGTH"] = 1000
    body = committee.post("/tasks/1/complete", json={"data": {"agenda": "x" * 2000}})
    assert body.status_code == 413 and _error(body)["code"] == "too_large"
    unknown = committee.get("/no/such/path")
    assert unknown.status_code == 404 and _error(unknown)["code"] == "not_found"
    wrong = committee.call("DELETE", "/tasks/1/claim")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert committee.get("/tasks/1/complete").status_code == 405
