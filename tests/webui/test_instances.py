"""The instance pages: who may read what, the timeline with due against done, the data, the chain's status."""

from __future__ import annotations

from flask.testing import FlaskClient

from engine.service import WorkflowService
from tests.processes.conftest import PROCESSES
from tests.webui.conftest import AuthActions, TaskActions, soup, text


def _branch_meeting(service: WorkflowService, unit: str = "zongcai1") -> int:
    return next(i.id for i in service.instances(process_id="branch_meeting") if i.org_unit_id == unit)


def test_timeline_lists_every_event_with_who_when_and_due_against_done(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    instance_id = _branch_meeting(service)
    task_id = service.instance(instance_id).open_tasks[0].id
    auth.login("wangqiang")
    actions.post(f"/tasks/{task_id}/claim")
    service.advance("P3D")  # the reminder fires on the way; done on Thursday, before the due time
    actions.submit(task_id, {"agenda": "讨论发展党员", "meeting_date": "2026-03-04"})
    page = client.get(f"/instances/{instance_id}")
    assert page.status_code == 200
    events = [" ".join(li.get_text(" ").split()) for li in soup(page).select("ol.timeline li")]
    kinds = [li["class"][1] for li in soup(page).select("ol.timeline li")]
    assert kinds[:3] == ["event-instance_started", "event-task_ready", "event-timer_due"]
    assert "event-task_claimed" in kinds and "event-escalation" in kinds and "event-task_completed" in kinds
    assert events[0] == "2026-03-02 09:00 周一 流程发起 周敏"
    assert events[1].startswith("2026-03-02 09:00 周一 任务就绪 「拟定议程」 系统 支部书记 · "
                                "期限 2026-03-05 09:00 周四")
    completed = next(e for e, k in zip(events, kinds, strict=True) if k == "event-task_completed")
    assert completed == "2026-03-05 09:00 周四 完成任务 「拟定议程」 王强 期限 2026-03-05 09:00 周四 · 按期完成"
    steps = [" ".join(tr.get_text(" ").split()) for tr in soup(page).select("table.steps tr.step")]
    assert steps[0].startswith("拟定议程 支部书记 王强 2026-03-02 09:00 周一 2026-03-05 09:00 周四 2026-03-05")
    assert steps[1].startswith("召开会议并表决 支部书记 - 2026-03-05 09:00 周四")
    assert "完整：" in text(page) and "哈希链无断裂" in text(page)
    diagram = soup(page).select_one("figure.diagram svg")  # drawn by engine/render.py, coloured by the history
    assert diagram is not None and diagram.select(".state-completed") and diagram.select(".state-active")
    data = {dt.get_text(strip=True): dd.get_text(strip=True) for dt, dd in zip(
        soup(page).select("dl.data dt"), soup(page).select("dl.data dd"), strict=True)}
    # Data named by a form field is shown under its label; other data (parameters) under its key.
    assert data["议程"] == "讨论发展党员" and data["会议日期"] == "2026-03-04" and data["rule_version"] == "2026-05"


def test_reading_follows_the_org_tree_for_members_and_everything_for_auditors(
        client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    zongcai1, juejin2 = _branch_meeting(service), _branch_meeting(service, "juejin2")
    auth.login("heping")
    listed = {int(a["href"].rsplit("/", 1)[1]) for a in soup(client.get("/instances/")).select("table a")}
    assert {zongcai1, juejin2} <= listed and len(listed) == 3
    assert client.get(f"/instances/{juejin2}").status_code == 200
    auth.login("sungang")  # a plain member of 综采一队
    listed = {int(a["href"].rsplit("/", 1)[1]) for a in soup(client.get("/instances/")).select("table a")}
    assert juejin2 not in listed and zongcai1 in listed
    response = client.get(f"/instances/{juejin2}")
    assert response.status_code == 403 and "无权查看" in text(response)
    assert client.get("/instances/99999").status_code == 404


def test_the_applicant_reads_their_own_case(client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    [case] = service.instances(process_id="member_development")
    auth.login("shenyu")  # holds no role: reads the case because one of its tasks is theirs
    assert client.get(f"/instances/{case.id}").status_code == 200
    assert client.get(f"/instances/{_branch_meeting(service)}").status_code == 403


def test_people_in_the_data_are_shown_by_name(client: FlaskClient, auth: AuthActions,
                                              service: WorkflowService) -> None:
    service.deploy_file(PROCESSES / "member_development.bpmn", actor="zhoumin")
    case = service.start("member_development", org_unit_id="zongcai1", data={"applicant": "shenyu"},
                         actor="wangqiang")
    auth.login("heping")  # the auditor reads everything
    page = client.get(f"/instances/{case.id}")
    data = {dt.get_text(strip=True): dd.get_text(strip=True) for dt, dd in zip(
        soup(page).select("dl.data dt"), soup(page).select("dl.data dd"), strict=True)}
    assert data["入党申请人"] == "沈宇"
