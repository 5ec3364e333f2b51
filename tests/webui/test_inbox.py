"""The inbox: the right tasks, due said relatively against the engine's clock, filters, counts, claim buttons."""

from __future__ import annotations

from flask.testing import FlaskClient

from engine.service import WorkflowService
from tests.webui.conftest import AuthActions, TaskActions, soup, text


def _rows(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    page = soup(client.get("/inbox/" + query))
    rows = []
    for row in page.select("tr.task"):
        cells = [" ".join(td.get_text(" ").split()) for td in row.find_all("td")]
        rows.append({"task": row["data-task"], "due": cells[0], "name": cells[1], "procedure": cells[2],
                     "unit": cells[3], "role": cells[4], "state": cells[5], "actions": cells[6]})
    return rows


def test_inbox_shows_my_roles_tasks_with_relative_and_exact_due(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("wangqiang")
    [row] = _rows(client)
    assert row["name"] == "拟定议程" and "综采一队三月党员大会" in row["procedure"]
    assert row["unit"] == "综采一队党支部" and row["role"] == "支部书记" and row["state"] == "待认领"
    # Monday 09:00 + three working days = Thursday 09:00, Beijing time.
    assert row["due"] == "3 天后到期 2026-03-05 09:00 周四"
    assert row["actions"] == "认领"
    chips = [" ".join(li.get_text(" ").split()) for li in soup(client.get("/inbox/")).select(".per-role li")]
    assert chips == ["支部书记 1"]


def test_each_person_sees_only_their_own_and_their_roles_tasks(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("majun")
    assert [r["procedure"].split()[0] for r in _rows(client)] == ["掘进二队三月党员大会"]
    auth.login("shenyu")
    [row] = _rows(client)
    assert row["name"] == "D01 递交入党申请书" and row["state"] == "办理中 沈宇" and row["actions"] == ""
    auth.login("liming")
    assert _rows(client) == []
    assert "暂无待办" in text(client.get("/inbox/"))


def test_overdue_comes_first_and_says_by_how_many_days(client: FlaskClient, auth: AuthActions,
                                                       service: WorkflowService) -> None:
    service.advance("P5D")  # Saturday 2026-03-07 09:00
    later = service.start("branch_meeting", org_unit_id="zongcai1", actor="zhoumin", title="补开的党员大会")
    auth.login("wangqiang")
    rows = _rows(client)
    assert [r["procedure"].split()[0] for r in rows] == ["综采一队三月党员大会", "补开的党员大会"]
    assert rows[0]["due"].startswith("逾期 2 天") and "due-overdue" in str(soup(client.get("/inbox/")).select_one(
        "tr.task .due"))
    # From a Saturday, three working days are Monday, Tuesday and Wednesday.
    assert rows[1]["due"] == "4 天后到期 2026-03-11 09:00 周三"
    assert rows[1]["task"] == str(later.open_tasks[0].id)
    assert "虚拟时钟：2026-03-07 09:00 周六" in text(client.get("/inbox/"))


def test_filters_by_procedure_unit_and_state(client: FlaskClient, auth: AuthActions, actions: TaskActions,
                                             service: WorkflowService) -> None:
    service.start("meeting", org_unit_id="zongcai1", data={"meeting_type": "committee_meeting"}, actor="zhoumin")
    service.start("branch_meeting", org_unit_id="zongcai1_g1", actor="zhoumin")
    auth.login("wangqiang")
    assert len(_rows(client)) == 2  # the party group's meeting goes to its own leader, not the branch secretary
    assert [r["name"] for r in _rows(client, "?process=branch_meeting")] == ["拟定议程"]
    assert len(_rows(client, "?unit=zongcai1")) == 2 and _rows(client, "?unit=juejin2") == []
    first = _rows(client)[0]
    actions.post(f"/tasks/{first['task']}/claim", {"next": "/inbox/"})
    assert [r["task"] for r in _rows(client, "?state=claimed")] == [first["task"]]
    assert first["task"] not in [r["task"] for r in _rows(client, "?state=ready")]
    page = client.get("/inbox/?process=democratic_appraisal")
    assert "没有符合筛选条件的待办" in text(page) and soup(page).find("a", string="清除筛选") is not None


def test_claim_and_give_back_from_the_inbox(client: FlaskClient, auth: AuthActions, actions: TaskActions,
                                            service: WorkflowService) -> None:
    auth.login("wangqiang")
    [row] = _rows(client)
    response = actions.post(f"/tasks/{row['task']}/claim", {"next": "/inbox/"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox/"
    assert "已认领「拟定议程」" in text(client.get("/inbox/"))
    [row] = _rows(client)
    assert row["state"] == "办理中 王强" and row["actions"] == "退回"
    assert service.task(int(row["task"])).assignee == "wangqiang"
    actions.post(f"/tasks/{row['task']}/unclaim", {"next": "/inbox/"})
    assert service.task(int(row["task"])).state == "ready"
    assert _rows(client)[0]["actions"] == "认领"


def test_empty_inbox_of_an_auditor_says_what_to_do(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("heping")
    page = text(client.get("/inbox/"))
    assert "暂无待办" in page and "审计人员只读" in page and "只读" in page
    auth.login("zhoumin")
    assert "前往流程库" in text(client.get("/inbox/"))
