"""The library: upload → lint report element by element → deploy a new version; start an instance at a unit."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient

from engine.service import WorkflowService
from tests.webui.conftest import DEMO, AuthActions, TaskActions, csrf, soup, text

MEETING = (DEMO / "branch_meeting.bpmn").read_bytes()
CHANGED = MEETING.replace("（演示）".encode(), "（第二版）".encode())
BROKEN = MEETING.replace(b'value="secretary"', b'value="no_such_role"').replace(b'value="VA"', b'value="XX"')


def _upload(client: FlaskClient, content: bytes, name: str = "branch_meeting.bpmn"):  # type: ignore[no-untyped-def]
    token = csrf(client.get("/library/"))
    return client.post("/library/lint", data={"csrf_token": token, "bpmn": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_library_lists_versions_with_who_when_and_hash(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("sungang")
    page = soup(client.get("/library/"))
    row = page.select_one("tr[data-process=meeting]")
    assert row is not None and row["data-version"] == "1"
    cells = [" ".join(td.get_text(" ").split()) for td in row.find_all("td")]
    assert cells[1:4] == ["v1", "周敏", "2026-03-02 09:00 周一"] and re.fullmatch(r"[0-9a-f]{12}", cells[4])
    assert page.select_one("form[action='/library/lint']") is None  # members neither upload nor start
    assert page.find("a", string="发起") is None


def test_upload_lint_and_deploy_a_new_version(client: FlaskClient, auth: AuthActions,
                                              service: WorkflowService) -> None:
    auth.login("zhoumin")
    report = _upload(client, CHANGED)
    assert report.status_code == 200 and "检查通过" in text(report)
    form = soup(report).select_one("form[action='/library/deploy']")
    assert form is not None
    response = client.post("/library/deploy", data={i["name"]: i["value"] for i in form.select("input")})
    assert response.status_code == 302 and response.headers["Location"] == "/library/"
    page = client.get("/library/")
    assert "已部署「支部党员大会（第二版）」第 2 版" in text(page)
    versions = [(tr["data-version"], " ".join(tr.get_text(" ").split())) for tr in
                soup(page).select("tr[data-process=branch_meeting]")]
    assert [v for v, _ in versions] == ["2", "1"] and "周敏" in versions[0][1]
    assert [d.version for d in service.definitions() if d.process_id == "branch_meeting"] == [1, 2]
    again = soup(_upload(client, CHANGED)).select_one("form[action='/library/deploy']")
    client.post("/library/deploy", data={i["name"]: i["value"] for i in again.select("input")})  # type: ignore[union-attr]
    assert "未产生新版本" in text(client.get("/library/"))


def test_lint_errors_are_listed_element_by_element_and_block_deployment(client: FlaskClient,
                                                                        auth: AuthActions) -> None:
    auth.login("zhoumin")
    report = _upload(client, BROKEN)
    assert report.status_code == 422 and "检查未通过：3 个错误" in text(report)
    rows = [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in soup(report).select("tr.issue-error")]
    assert ["错误", "hold_meeting", "bad-lean-class"] in [r[:3] for r in rows]
    assert sorted(r[1] for r in rows if r[2] == "unknown-role") == ["hold_meeting", "prepare_agenda"]
    assert soup(report).select_one("form[action='/library/deploy']") is None
    # The findings are drawn on the diagram: each faulty element is marked, and its report row points at it.
    figure = soup(report).select_one("figure.diagram")
    assert figure is not None
    marked = {b["data-badge-for"] for b in figure.select("[data-badge-for]")}
    assert {"hold_meeting", "prepare_agenda"} <= marked
    assert {tr["data-element-id"] for tr in soup(report).select("tr.issue-error")} >= {"hold_meeting"}
    garbage = _upload(client, b"<bpmn:definitions", "garbage.bpmn")
    assert garbage.status_code == 422 and "load-error" in text(garbage)


def test_only_the_committee_uploads_or_deploys(client: FlaskClient, auth: AuthActions, actions: TaskActions,
                                               service: WorkflowService) -> None:
    auth.login("zhoumin")
    form = soup(_upload(client, CHANGED)).select_one("form[action='/library/deploy']")
    staged = {i["name"]: i["value"] for i in form.select("input") if i["name"] != "csrf_token"}  # type: ignore[union-attr]
    for person in ("wangqiang", "heping"):
        auth.login(person)
        assert _upload(client, CHANGED).status_code == 403
        response = actions.post("/library/deploy", staged, page="/library/")
        assert response.status_code == 403 and "无权" in text(response)
    assert [d.version for d in service.definitions() if d.process_id == "branch_meeting"] == [1]


def test_start_an_instance_for_a_unit_with_initial_data(client: FlaskClient, auth: AuthActions,
                                                        actions: TaskActions, service: WorkflowService) -> None:
    auth.login("liujianguo")
    page = soup(client.get("/library/meeting/start"))
    units = [o["value"] for o in page.select("select[name=org_unit] option")]
    assert units[0] == "dongshan" and len(units) == 8 and "zongcai1_g1" in units
    bad = actions.post("/library/meeting/start", {"org_unit": "jiguan", "data": "{meeting_type: 1"},
                       page="/library/meeting/start")
    assert bad.status_code == 422 and "data is not valid JSON" in text(bad)
    response = actions.post("/library/meeting/start", {"org_unit": "jiguan", "title": "机关支部三月支委会",
                                                        "data": '{"meeting_type": "committee_meeting"}'},
                            page="/library/meeting/start")
    assert response.status_code == 302
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    view = service.instance(instance_id)
    assert (view.title, view.org_unit_id, view.started_by) == ("机关支部三月支委会", "jiguan", "liujianguo")
    assert view.data["meeting_type"] == "committee_meeting"
    assert "已发起「机关支部三月支委会」" in text(client.get(response.headers["Location"]))


def test_a_branch_secretary_or_an_auditor_cannot_start(client: FlaskClient, auth: AuthActions,
                                                       actions: TaskActions, service: WorkflowService) -> None:
    before = len(service.instances())
    for person in ("wangqiang", "heping"):
        auth.login(person)
        assert "没有发起流程的权限" in text(client.get("/library/meeting/start"))
        response = actions.post("/library/meeting/start", {"org_unit": "zongcai1", "data": "{}"},
                                page="/library/meeting/start")
        assert response.status_code == 403
    assert len(service.instances()) == before
    assert client.get("/library/no_such_process/start").status_code == 404
