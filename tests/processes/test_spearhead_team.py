"""The spearhead team procedure (processes/spearhead_team.bpmn) on the coal-mine organisation.

The team is formed at 综采一队党支部 (zongcai1) for a 搬家倒面 push; 赵磊 (zhaolei) leads it. The clock starts on
Monday 2026-03-02 09:00 Beijing time; milestone deadlines fall at 00:00 Beijing after each milestone's due date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.errors import CheckFailed, InvalidInput, NotAllowed
from engine.loader import read_bpmn_file
from engine.model import extract_model, find_process
from engine.service import WorkflowService
from engine.views import InstanceView, TaskView
from tests.processes.conftest import PROCESSES

BRANCH = "zongcai1"
TASK = {"task_name": "3103工作面搬家倒面攻坚", "task_kind": "difficult",
        "goal": "在停产检修窗口内安全完成3103工作面搬家倒面", "kpi": "45天内完成搬家倒面，零事故",
        "end_date": "2026-04-30"}
TEAM = {"team_name": "综采一队搬家倒面党员突击队", "leader": "zhaolei", "deputy": "sungang",
        "members": ["sungang", "zhoujie", "wuhao", "fengjun"],
        "charter": "队长赵磊全面负责；孙刚负责支架检修；周杰负责设备运输；吴昊、冯军负责安全监护"}
APPROVE = {"approval": "approve", "doc_no": "东矿党发〔2026〕12号"}
CEREMONY = {"ceremony_date": "2026-03-02", "flag_presenter": "liujianguo", "founding_doc_read": True}
PLEDGE = {"pledge_text": "我代表突击队全体队员承诺：冲锋在前、安全攻坚，按期完成搬家倒面任务！",
          "pledge_date": "2026-03-02"}
PLAN = {"milestone_plan": "2026-03-20 sungang 完成液压支架检修\n2026-04-15 zhoujie 完成工作面设备搬运安装\n"}
ACCEPT = {"kpi_met": True, "score": 95, "evaluation": "提前完成搬家倒面，全程零事故", "acceptance": "accept"}
COMMEND = {"summary": "突击队攻坚克难，按期完成任务", "award": "excellent", "honoured_members": ["zhoujie"]}


@pytest.fixture
def teams(library: WorkflowService, deploy: Callable[[str], None]) -> WorkflowService:
    deploy("spearhead_team")
    return library


def only(view: InstanceView, spec: str) -> TaskView:
    """The one open task of the instance, which must be the given step."""
    assert [t.task_spec for t in view.open_tasks] == [spec]
    return view.open_tasks[0]


def do(service: WorkflowService, view: InstanceView, spec: str, person: str, data: dict[str, Any]) -> InstanceView:
    return service.complete(only(view, spec).id, person_id=person, data=data)


def refused(service: WorkflowService, view: InstanceView, spec: str, person: str, data: dict[str, Any],
            *messages: str) -> list[str]:
    """Submit bad data: every message is among the failures, and the instance, its data and the task are unchanged."""
    task = only(view, spec)
    before = service.instance(view.id)
    with pytest.raises(CheckFailed) as failed:
        service.complete(task.id, person_id=person, data=data)
    got = [f.message for f in failed.value.failures]
    for message in messages:
        assert message in got
    after = service.instance(view.id)
    assert after.version == before.version and after.data == before.data
    assert [t.id for t in after.open_tasks] == [task.id]
    assert service.task(task.id).state == task.state
    assert service.history(view.id)[-1].type == "check_failed"
    return got


def found(service: WorkflowService, **start_data: Any) -> InstanceView:
    """Start, select the task, propose, approve, hold the ceremony and take the pledge: the leader plans next."""
    view = service.start("spearhead_team", org_unit_id=BRANCH, actor="zhoumin", data=start_data)
    view = do(service, view, "select_task", "liujianguo", TASK)
    view = do(service, view, "propose_team", "wangqiang", TEAM)
    view = do(service, view, "approve_team", "chenlixin", APPROVE)
    view = do(service, view, "flag_ceremony", "wangqiang", CEREMONY)
    return do(service, view, "take_pledge", "zhaolei", PLEDGE)


def report(service: WorkflowService, view: InstanceView, pct: int, note: str = "按节点计划推进") -> InstanceView:
    return do(service, view, "report_progress", "zhaolei",
              {"progress_pct": pct, "reached": pct == 100, "progress_note": note})


def today(service: WorkflowService) -> str:
    """The virtual clock's date in Beijing."""
    return service.clock().now.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def finish(service: WorkflowService, view: InstanceView, commend: dict[str, Any]) -> InstanceView:
    """Accept, commend and archive; the instance completes."""
    view = do(service, view, "accept_result", "liujianguo", ACCEPT)
    view = do(service, view, "commend", "liujianguo", commend)
    view = do(service, view, "archive", "zhoumin", {"outcome": "dissolve", "close_date": today(service)})
    assert view.status == "completed" and view.open_tasks == []
    return view


def test_team_runs_from_selection_to_archive(teams: WorkflowService) -> None:
    view = teams.start("spearhead_team", org_unit_id=BRANCH, actor="zhoumin")
    select = only(view, "select_task")
    assert (select.role, select.org_unit_id, select.lean_class, select.sla) == (
        "higher_committee", BRANCH, "VA", "working_days(5)")
    assert select.id in [t.id for t in teams.tasks_for("liujianguo")]  # the mine committee, ancestor scope
    assert teams.tasks_for("wangqiang") == []
    view = do(teams, view, "select_task", "liujianguo", TASK)
    assert [t.id for t in teams.tasks_for("wangqiang")] == [only(view, "propose_team").id]
    view = do(teams, view, "propose_team", "wangqiang", TEAM)
    view = do(teams, view, "approve_team", "chenlixin", APPROVE)
    assert view.data["approved_on"] == "2026-03-02"
    view = do(teams, view, "flag_ceremony", "wangqiang", CEREMONY)
    pledge = only(view, "take_pledge")
    assert (pledge.role, pledge.assignee, pledge.state) == ("team_leader", "zhaolei", "claimed")
    view = do(teams, view, "take_pledge", "zhaolei", PLEDGE)
    view = do(teams, view, "plan_milestones", "zhaolei", PLAN)
    assert [(m["due"], m["owner"], m["status"]) for m in view.data["milestones"]] == [
        ("2026-03-20", "sungang", "open"), ("2026-04-15", "zhoujie", "open")]
    # Milestone 1: due 2026-03-20, so its deadline is 00:00 Beijing on the 21st; the weekly report is the SLA.
    first = only(view, "report_progress")
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2026-03-20T16:00:00+00:00"
    assert first.due_at is not None and first.due_at.isoformat() == "2026-03-09T01:00:00+00:00"
    teams.advance("P7D")
    view = report(teams, teams.instance(view.id), 50, "支架检修过半")
    assert view.data["milestone_no"] == 1 and len(view.data["progress_log"]) == 1
    teams.advance("P9D")  # Wednesday 2026-03-18, before the deadline
    view = report(teams, teams.instance(view.id), 100, "支架检修完成")
    assert view.data["milestone_no"] == 2
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2026-04-15T16:00:00+00:00"
    teams.advance("P27D")  # Tuesday 2026-04-14
    view = report(teams, teams.instance(view.id), 100, "设备搬运安装完成")
    done = finish(teams, view, COMMEND)
    assert [(m["status"], m["late"], m["done_on"]) for m in done.data["milestones"]] == [
        ("done", False, "2026-03-18"), ("done", False, "2026-04-14")]
    assert done.data["late_count"] == 0 and done.data["award"] == "excellent"
    assert [e["milestone"] for e in done.data["progress_log"]] == [1, 1, 2]
    types = [e.type for e in teams.history(view.id)]
    assert "escalation" not in types and types.count("timer_cancelled") == 3
    assert types[-1] == "instance_completed"
    assert teams.verify().ok


def test_late_milestone_escalates_to_the_committee_and_is_extended(teams: WorkflowService) -> None:
    view = do(teams, found(teams), "plan_milestones", "zhaolei", PLAN)
    teams.advance("P7D")
    view = report(teams, teams.instance(view.id), 40, "支架配件未到货")
    late = only(view, "report_progress")
    teams.advance("P12D")  # past 00:00 Beijing on 2026-03-21
    view = teams.instance(view.id)
    assert teams.task(late.id).state == "cancelled"
    supervise = only(view, "supervise_late")
    assert (supervise.role, supervise.lean_class) == ("higher_committee", "W")
    assert supervise.id in [t.id for t in teams.tasks_for("chenlixin")]
    assert [t for t in teams.tasks_for("zhaolei") if t.instance_id == view.id] == []
    fired = [e.payload for e in teams.history(view.id) if e.type == "escalation"]
    assert fired == [{"kind": "deadline", "attached_to": "report_progress", "timer": "milestone_overdue",
                      "due": "2026-03-20T16:00:00+00:00"}]
    view = do(teams, view, "supervise_late", "liujianguo",
              {"supervision": "extend", "new_due": "2026-03-31", "supervision_note": "协调配件，延期至3月31日"})
    assert view.data["late_count"] == 1
    assert (view.data["milestones"][0]["due"], view.data["milestones"][0]["late"]) == ("2026-03-31", True)
    assert only(view, "report_progress").assignee == "zhaolei"
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2026-03-31T16:00:00+00:00"
    teams.advance("P5D")
    view = report(teams, teams.instance(view.id), 100, "支架检修完成")
    teams.advance("P14D")
    view = report(teams, teams.instance(view.id), 100, "设备搬运安装完成")
    view = do(teams, view, "accept_result", "liujianguo", ACCEPT)
    # With the default late_blocks_award=yes, a team with a late milestone cannot be named excellent.
    refused(teams, view, "commend", "liujianguo", COMMEND, "有节点逾期的突击队不能评为优秀党员突击队")
    view = do(teams, view, "commend", "liujianguo", {**COMMEND, "award": "praised"})
    view = do(teams, view, "archive", "zhoumin", {"outcome": "standing", "close_date": today(teams)})
    assert view.status == "completed"
    assert teams.verify().ok


def test_late_milestone_can_be_replanned_keeping_the_done_ones(teams: WorkflowService) -> None:
    view = do(teams, found(teams), "plan_milestones", "zhaolei", PLAN)
    teams.advance("P16D")
    view = report(teams, teams.instance(view.id), 100, "支架检修完成")
    teams.advance("P30D")  # 2026-04-17: milestone 2 (due 04-15) is late
    view = teams.instance(view.id)
    view = do(teams, view, "supervise_late", "chenlixin",
              {"supervision": "replan", "supervision_note": "运输巷道变更，重新排定节点"})
    assert only(view, "plan_milestones").assignee == "zhaolei"
    refused(teams, view, "plan_milestones", "zhaolei", PLAN, "节点日期须为晚于今天的有效日期")
    view = do(teams, view, "plan_milestones", "zhaolei",
              {"milestone_plan": "2026-04-24 zhoujie 完成设备运输\n2026-04-29 wuhao 完成安装调试"})
    assert [(m["due"], m["status"]) for m in view.data["milestones"]] == [
        ("2026-03-20", "done"), ("2026-04-24", "open"), ("2026-04-29", "open")]
    assert view.data["milestone_no"] == 2 and view.data["late_count"] == 1
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2026-04-24T16:00:00+00:00"
    view = report(teams, view, 100, "设备运输完成")
    view = report(teams, view, 100, "安装调试完成")
    finish(teams, view, {**COMMEND, "award": "none", "honoured_members": []})
    assert teams.verify().ok


def test_rework_loops_return_the_proposal_and_rectify_the_result(teams: WorkflowService) -> None:
    view = teams.start("spearhead_team", org_unit_id=BRANCH, actor="zhoumin")
    view = do(teams, view, "select_task", "liujianguo", TASK)
    view = do(teams, view, "propose_team", "wangqiang", TEAM)
    view = do(teams, view, "approve_team", "liujianguo",
              {"approval": "return", "return_opinion": "请增加一名熟悉运输的党员"})
    redo = only(view, "propose_team")
    assert redo.role == "secretary" and view.data["team_name"] == TEAM["team_name"]  # the form comes back filled
    view = do(teams, view, "propose_team", "wangqiang", {"members": [*TEAM["members"], "qianyong"]})
    view = do(teams, view, "approve_team", "liujianguo", APPROVE)
    view = do(teams, view, "flag_ceremony", "wangqiang", CEREMONY)
    view = do(teams, view, "take_pledge", "zhaolei", PLEDGE)
    view = do(teams, view, "plan_milestones", "zhaolei", {"milestone_plan": "2026-04-15 qianyong 完成设备运输"})
    view = report(teams, view, 100)
    view = do(teams, view, "accept_result", "liujianguo",
              {"kpi_met": False, "score": 70, "evaluation": "运输巷道清理不彻底", "acceptance": "rectify"})
    rectify = only(view, "rectify")
    assert (rectify.assignee, rectify.lean_class) == ("zhaolei", "W")
    view = do(teams, view, "rectify", "zhaolei", {"rectification": "已完成巷道清理并复查"})
    view = finish(teams, view, {**COMMEND, "award": "praised", "honoured_members": ["qianyong"]})
    completed = [e.payload["spec"] for e in teams.history(view.id) if e.type == "task_completed"]
    assert completed.count("propose_team") == 2 and completed.count("accept_result") == 2
    assert teams.verify().ok


def test_only_the_named_people_may_act(teams: WorkflowService) -> None:
    view = teams.start("spearhead_team", org_unit_id=BRANCH, actor="zhoumin")
    view = do(teams, view, "select_task", "liujianguo", TASK)
    with pytest.raises(NotAllowed):
        teams.complete(only(view, "propose_team").id, person_id="majun", data=TEAM)  # secretary of 掘进二队
    view = do(teams, view, "propose_team", "wangqiang", TEAM)
    view = do(teams, view, "approve_team", "chenlixin", APPROVE)
    view = do(teams, view, "flag_ceremony", "wangqiang", CEREMONY)
    with pytest.raises(NotAllowed):
        teams.complete(only(view, "take_pledge").id, person_id="hejun", data=PLEDGE)  # a team leader, not this one
    assert [t.task_spec for t in teams.tasks_for("zhaolei")] == ["take_pledge"]


def test_parameters_relax_the_member_rule_and_the_award_bar(teams: WorkflowService) -> None:
    with pytest.raises(InvalidInput):
        teams.start("spearhead_team", org_unit_id=BRANCH, data={"member_rule": "anyone"})
    view = teams.start("spearhead_team", org_unit_id=BRANCH,
                       data={"member_rule": "majority_party", "late_blocks_award": "no", "excellent_score": "85"})
    view = do(teams, view, "select_task", "liujianguo", TASK)
    with_activist = {**TEAM, "members": ["sungang", "zhoujie", "jiangtao"]}  # 姜涛 is an activist
    view = do(teams, view, "propose_team", "wangqiang", with_activist)
    view = do(teams, view, "approve_team", "chenlixin", APPROVE)
    view = do(teams, view, "flag_ceremony", "wangqiang", CEREMONY)
    view = do(teams, view, "take_pledge", "zhaolei", PLEDGE)
    view = do(teams, view, "plan_milestones", "zhaolei", {"milestone_plan": "2026-03-10 zhoujie 完成支架检修"})
    teams.advance("P10D")  # late: the deadline was 00:00 on 2026-03-11
    view = do(teams, teams.instance(view.id), "supervise_late", "liujianguo",
              {"supervision": "extend", "new_due": "2026-03-20", "supervision_note": "延期"})
    view = report(teams, view, 100)
    view = do(teams, view, "accept_result", "liujianguo", {**ACCEPT, "score": 86})
    view = do(teams, view, "commend", "liujianguo", COMMEND)  # late and 86 points: excellent under these settings
    assert view.data["award"] == "excellent" and view.data["late_count"] == 1


def test_every_check_refuses_with_its_message_and_changes_nothing(teams: WorkflowService) -> None:
    seen: set[str] = set()

    def bad(view: InstanceView, spec: str, person: str, good: dict[str, Any], change: dict[str, Any],
            *messages: str) -> None:
        seen.update(refused(teams, view, spec, person, {**good, **change}, *messages))

    view = teams.start("spearhead_team", org_unit_id=BRANCH, actor="zhoumin")
    bad(view, "select_task", "liujianguo", TASK, {"end_date": "2026-03-02"}, "攻坚任务的完成日期须晚于今天")
    view = do(teams, view, "select_task", "liujianguo", TASK)

    bad(view, "propose_team", "wangqiang", TEAM, {"leader": "fengjun", "deputy": None,
                                                  "members": ["sungang", "zhoujie"]}, "突击队长须为正式党员")
    bad(view, "propose_team", "wangqiang", TEAM, {"leader": "zhengtao"},
        "突击队长不能由受党纪处分期间（如留党察看）的党员担任")
    bad(view, "propose_team", "wangqiang", TEAM, {"members": ["zhaolei", "sungang"]},
        "队长不列入队员名单，请勿重复填写")
    bad(view, "propose_team", "wangqiang", TEAM, {"members": ["sungang", "zhoujie", "jiangtao"]},
        "突击队员须全部为党员（正式党员或预备党员）")
    bad(view, "propose_team", "wangqiang", TEAM, {"members": ["sungang", "jiangtao", "weidong"]},
        "突击队员须全部为党员（正式党员或预备党员）", "突击队员中党员人数须超过半数")
    bad(view, "propose_team", "wangqiang", TEAM, {"deputy": "qianyong"}, "副队长须从突击队员中产生")
    view = do(teams, view, "propose_team", "wangqiang", TEAM)

    bad(view, "approve_team", "chenlixin", APPROVE, {"doc_no": ""}, "同意成立须填写成立文件文号")
    bad(view, "approve_team", "chenlixin", APPROVE, {"approval": "return"}, "退回修改须写明修改意见")
    view = do(teams, view, "approve_team", "chenlixin", APPROVE)

    bad(view, "flag_ceremony", "wangqiang", CEREMONY, {"ceremony_date": "2026-03-01"}, "授旗仪式须在批准成立之后举行")
    bad(view, "flag_ceremony", "wangqiang", CEREMONY, {"ceremony_date": "2026-03-03"}, "授旗日期不能晚于今天")
    bad(view, "flag_ceremony", "wangqiang", CEREMONY, {"founding_doc_read": False}, "授旗仪式须宣读成立文件、明确职责")
    bad(view, "flag_ceremony", "wangqiang", CEREMONY, {"flag_presenter": "jiangtao"},
        "授旗人须为正式党员（党委负责同志或支部书记）")
    view = do(teams, view, "flag_ceremony", "wangqiang", CEREMONY)

    bad(view, "take_pledge", "zhaolei", PLEDGE, {"pledge_date": "2026-03-01"},
        "承诺日期须在授旗之日或之后，且不晚于今天")
    view = do(teams, view, "take_pledge", "zhaolei", PLEDGE)

    bad(view, "plan_milestones", "zhaolei", PLAN, {"milestone_plan": "2026-03-20 完成检修"},
        "节点计划每行须为：日期 负责人编号 节点目标（例如 2026-04-15 zhoujie 完成设备安装）")
    bad(view, "plan_milestones", "zhaolei", PLAN, {"milestone_plan": "2026-03-01 sungang 完成检修"},
        "节点日期须为晚于今天的有效日期")
    bad(view, "plan_milestones", "zhaolei", PLAN, {"milestone_plan": "2026-04-15 sungang 甲\n2026-03-20 zhoujie 乙"},
        "节点日期须按先后顺序排列且互不相同")
    bad(view, "plan_milestones", "zhaolei", PLAN, {"milestone_plan": "2026-05-15 sungang 完成检修"},
        "节点日期不能晚于攻坚任务完成日期")
    bad(view, "plan_milestones", "zhaolei", PLAN, {"milestone_plan": "2026-03-20 qianyong 完成检修"},
        "节点负责人须为本突击队队长或队员")
    view = do(teams, view, "plan_milestones", "zhaolei", PLAN)

    bad(view, "report_progress", "zhaolei", {"progress_note": "x"}, {"progress_pct": 80, "reached": True},
        "标记节点已完成时，完成进度须为100%")
    view = report(teams, view, 60)
    teams.advance("P20D")  # milestone 1 is late
    view = teams.instance(view.id)
    supervise = {"supervision": "extend", "new_due": "2026-03-31", "supervision_note": "延期"}
    bad(view, "supervise_late", "liujianguo", supervise, {"new_due": None},
        "批准延期须给出晚于今天、且不晚于攻坚任务完成日期的新节点日期")
    bad(view, "supervise_late", "liujianguo", supervise, {"new_due": "2026-05-10"},
        "批准延期须给出晚于今天、且不晚于攻坚任务完成日期的新节点日期")
    view = do(teams, view, "supervise_late", "liujianguo", supervise)
    view = report(teams, view, 100)
    view = report(teams, view, 100)

    bad(view, "accept_result", "liujianguo", ACCEPT, {"kpi_met": False},
        "考核指标未达成，不能验收通过（请选择限期整改）")
    bad(view, "accept_result", "liujianguo", ACCEPT, {"score": 55},
        "验收评分低于60分，不能验收通过（请选择限期整改）")
    view = do(teams, view, "accept_result", "liujianguo", {**ACCEPT, "score": 85})

    bad(view, "commend", "liujianguo", COMMEND, {}, "验收评分未达到优秀党员突击队的分数线，不能评为优秀",
        "有节点逾期的突击队不能评为优秀党员突击队")
    bad(view, "commend", "liujianguo", COMMEND, {"award": "praised", "honoured_members": ["jiangtao"]},
        "受表彰的个人须为本突击队队长或队员")
    view = do(teams, view, "commend", "liujianguo", {**COMMEND, "award": "praised"})

    archive = {"outcome": "dissolve", "close_date": today(teams)}
    bad(view, "archive", "zhoumin", archive, {"close_date": "2026-12-31"}, "解散或转常态日期须在成立之后，且不晚于今天")
    view = do(teams, view, "archive", "zhoumin", archive)
    assert view.status == "completed"

    model = extract_model(find_process(read_bpmn_file(PROCESSES / "spearhead_team.bpmn").root, "spearhead_team"))
    declared = {c.message for t in model.user_tasks.values() for c in t.checks}
    assert declared <= seen, declared - seen
    assert teams.verify().ok
