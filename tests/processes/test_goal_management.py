"""Goal management (processes/goal_management.bpmn) for 综采一队党支部 (zongcai1) on the coal-mine organisation.

The clock starts on Monday 2026-03-02 09:00 Beijing time, so the year runs from March to December; each month's
reminder list is issued at 09:00 on the month's first Chinese working day (May 6 and October 8 in 2026).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
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
POINTS = {"plan_year": 2026, "work_points": "GP1 组织建设 三会一课按期召开率100%\n"
                                            "GP2 党员教育 党员人均学时不少于32\n"
                                            "GP3 作用发挥 党员先锋岗覆盖全部采煤班组"}
PLAN = {"monthly_plan": "3 liming GP1 召开一季度支部党员大会\n"
                        "3 zhangwei GP2 组织全国两会精神专题学习\n"
                        "4 wangqiang GP2 书记讲专题党课\n"
                        "5 zhaolei GP3 设立采煤班组党员先锋岗\n"
                        "6 liming GP1 召开二季度支部党员大会"}
TARGETS = {"target_member_meetings": 4, "target_committee_meetings": 12, "target_group_meetings": 12,
           "target_lessons": 4, "target_theme_days": 12, "target_dues_rate": 100, "target_training_hours": 32,
           "target_development": 1, "other_targets": "创建党员先锋岗3个"}
RESP_LIST = ("wangqiang 党员大会 每季度主持召开支部党员大会\n"
             "wangqiang 党课 每季度讲党课一次\n"
             "liming 支委会 每月组织召开支委会\n"
             "liming 发展党员 落实发展党员计划\n"
             "liming 党费 按月收缴党费\n"
             "zhangwei 党小组会 督促各党小组每月开会\n"
             "zhangwei 主题党日 每月组织主题党日\n"
             "zhangwei 教育培训 落实党员32学时培训")
RESP = {"committee_members": ["wangqiang", "liming", "zhangwei"], "resp_list": RESP_LIST,
        "responsibility_letter": {"sha256": "ab" * 32, "name": "2026年党建工作责任书.pdf"}, "signed_date": "2026-03-02"}
# 09:00 Beijing on the first working day of each month, in UTC.
FIRST_WORKDAYS = ["2026-03-02", "2026-04-01", "2026-05-06", "2026-06-01", "2026-07-01", "2026-08-03", "2026-09-01",
                  "2026-10-08", "2026-11-02", "2026-12-01"]


@pytest.fixture
def goals(library: WorkflowService, deploy: Callable[[str], None]) -> WorkflowService:
    deploy("goal_management")
    return library


def task_of(view: InstanceView, spec: str) -> TaskView:
    """The one open task of the given step."""
    [task] = [t for t in view.open_tasks if t.task_spec == spec]
    return task


def do(service: WorkflowService, view: InstanceView, spec: str, person: str, data: dict[str, Any]) -> InstanceView:
    return service.complete(task_of(view, spec).id, person_id=person, data=data)


def refused(service: WorkflowService, view: InstanceView, spec: str, person: str, data: dict[str, Any],
            *messages: str) -> list[str]:
    """Submit bad data: every message is among the failures, and the instance, its data and the task are unchanged."""
    task = task_of(view, spec)
    before = service.instance(view.id)
    with pytest.raises(CheckFailed) as failed:
        service.complete(task.id, person_id=person, data=data)
    got = [f.message for f in failed.value.failures]
    for message in messages:
        assert message in got
    after = service.instance(view.id)
    assert after.version == before.version and after.data == before.data
    assert [t.id for t in after.open_tasks] == [t.id for t in before.open_tasks]
    assert service.task(task.id).state == task.state
    assert service.history(view.id)[-1].type == "check_failed"
    return got


def today(service: WorkflowService) -> str:
    """The virtual clock's date in Beijing."""
    return service.clock().now.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def deploy_year(service: WorkflowService, **start_data: Any) -> InstanceView:
    """Work points, monthly key tasks, branch targets and responsibility lists: the monthly loop starts."""
    view = service.start("goal_management", org_unit_id=BRANCH, actor="zhoumin", data=start_data)
    view = do(service, view, "set_work_points", "liujianguo", POINTS)
    view = do(service, view, "decompose_tasks", "zhoumin", PLAN)
    view = do(service, view, "set_branch_targets", "liming", TARGETS)
    view = do(service, view, "review_targets", "chenlixin", {"targets_review": "approve"})
    return do(service, view, "set_responsibilities", "wangqiang", RESP)


def month(service: WorkflowService, view: InstanceView, done_ids: str, score: int = 95) -> InstanceView:
    """Wait for the month's reminder if it is not out yet, hold the progress meeting, check and publish."""
    if not view.open_tasks:
        assert view.next_timer_due is not None
        service.advance(view.next_timer_due - service.clock().now)
        view = service.instance(view.id)
    view = do(service, view, "monthly_report", "wangqiang",
              {"meeting_date": today(service), "attendees": ["wangqiang", "liming", "zhangwei"],
               "done_ids": done_ids, "progress_note": "逐项对照提示单推进"})
    return do(service, view, "monthly_check", "wujing", {"check_result": "publish", "score": score,
                                                         "bulletin": f"{view.data['month']}月考核通报"})


def fired(service: WorkflowService, instance_id: int, spec: str) -> list[str]:
    return [e.payload["due"] for e in service.history(instance_id)
            if e.type == "timer_fired" and e.payload["spec"] == spec]


def test_year_runs_from_work_points_to_annual_review(goals: WorkflowService) -> None:
    view = goals.start("goal_management", org_unit_id=BRANCH, actor="zhoumin")
    points = task_of(view, "set_work_points")
    assert (points.role, points.org_unit_id, points.lean_class, points.sla) == (
        "higher_committee", BRANCH, "VA", "working_days(10)")
    assert points.id in [t.id for t in goals.tasks_for("liujianguo")]
    view = do(goals, view, "set_work_points", "liujianguo", POINTS)
    assert task_of(view, "decompose_tasks").id in [t.id for t in goals.tasks_for("wujing")]
    view = do(goals, view, "decompose_tasks", "zhoumin", PLAN)
    assert [(t["id"], t["month"], t["owner"], t["point"]) for t in view.data["monthly_tasks"]] == [
        ("T01", 3, "liming", "GP1"), ("T02", 3, "zhangwei", "GP2"), ("T03", 4, "wangqiang", "GP2"),
        ("T04", 5, "zhaolei", "GP3"), ("T05", 6, "liming", "GP1")]
    targets = task_of(view, "set_branch_targets")
    assert targets.role == "branch_committee" and targets.id in [t.id for t in goals.tasks_for("zhangwei")]
    view = do(goals, view, "set_branch_targets", "liming", TARGETS)
    view = do(goals, view, "review_targets", "chenlixin", {"targets_review": "approve"})
    view = do(goals, view, "set_responsibilities", "wangqiang", RESP)
    # March's first working day is today, 09:00: the reminder is out at once.
    assert view.data["month"] == 3 and view.data["reminder_ids"] == ["T01", "T02"]
    report = task_of(view, "monthly_report")
    assert (report.role, report.lean_class) == ("secretary", "VA")
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2026-03-31T16:00:00+00:00"
    view = month(goals, view, "T01", score=90)  # T02 stays open and is carried into April's list
    assert view.data["month"] == 4 and view.open_tasks == []
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2026-04-01T01:00:00+00:00"
    goals.advance(view.next_timer_due - goals.clock().now)
    view = goals.instance(view.id)
    assert view.data["reminder_ids"] == ["T02", "T03"]
    view = month(goals, view, "T02,T03", score=100)
    view = month(goals, view, "T04")
    view = month(goals, view, "T05")
    for _ in range(7, 13):
        view = month(goals, view, "")
    assert sorted(FIRST_WORKDAYS) == FIRST_WORKDAYS
    assert fired(goals, view.id, "month_start") == [f"{d}T01:00:00+00:00"
                                                     for d in FIRST_WORKDAYS]
    assert fired(goals, view.id, "report_overdue") == []
    review = task_of(view, "annual_review")
    assert review.role == "higher_committee"
    view = do(goals, view, "annual_review", "liujianguo",
              {"lessons": "提示单逐项销号有效，二季度党课偏少", "standard_changes": "党课计划纳入来年工作要点"})
    assert view.status == "completed"
    assert [(b["month"], b["score"], b["closed"], b["open"]) for b in view.data["bulletins"][:4]] == [
        (3, 90, ["T01"], ["T02"]), (4, 100, ["T02", "T03"], []), (5, 95, ["T04"], []), (6, 95, ["T05"], [])]
    assert len(view.data["bulletins"]) == 10
    assert all(t["status"] == "done" for t in view.data["monthly_tasks"])
    assert goals.verify().ok


def test_unreported_month_is_supervised_and_timers_fire_in_due_order(goals: WorkflowService) -> None:
    view = deploy_year(goals)
    march = task_of(view, "monthly_report")
    goals.advance("P29DT16H")  # to 01:00 Beijing on 2026-04-01: March ended without a progress report
    view = goals.instance(view.id)
    assert goals.task(march.id).state == "ready"  # a reminder, not a deadline: the report is still due
    supervise = task_of(view, "supervise_report")
    assert (supervise.role, supervise.lean_class) == ("organization_dept", "W")
    assert [e.payload for e in goals.history(view.id) if e.type == "escalation"] == [
        {"kind": "reminder", "attached_to": "monthly_report", "timer": "report_overdue",
         "due": "2026-03-31T16:00:00+00:00"}]
    view = do(goals, view, "supervise_report", "wujing", {"supervision_note": "电话督促王强书记当日补报"})
    view = do(goals, view, "monthly_report", "wangqiang",
              {"meeting_date": "2026-03-31", "attendees": ["wangqiang", "liming"], "done_ids": "T01,T02",
               "progress_note": "推进会已召开，材料补报"})
    view = do(goals, view, "monthly_check", "zhoumin",
              {"check_result": "publish", "score": 80, "bulletin": "逾期报送扣分"})
    assert view.open_tasks == [] and view.data["month"] == 4
    view = month(goals, view, "T03")
    dues = [e.payload["due"] for e in goals.history(view.id) if e.type == "timer_fired"]
    assert dues == ["2026-03-02T01:00:00+00:00", "2026-03-31T16:00:00+00:00", "2026-04-01T01:00:00+00:00"]
    assert goals.verify().ok


def test_rework_loops_return_targets_and_reports(goals: WorkflowService) -> None:
    view = goals.start("goal_management", org_unit_id=BRANCH, actor="zhoumin")
    view = do(goals, view, "set_work_points", "liujianguo", POINTS)
    view = do(goals, view, "decompose_tasks", "zhoumin", PLAN)
    view = do(goals, view, "set_branch_targets", "liming", TARGETS)
    view = do(goals, view, "review_targets", "liujianguo",
              {"targets_review": "return", "targets_opinion": "发展党员计划应与年度计划衔接，请调整为2名"})
    again = task_of(view, "set_branch_targets")
    assert again.role == "branch_committee" and view.data["target_lessons"] == 4  # the form comes back filled
    view = do(goals, view, "set_branch_targets", "zhangwei", {"target_development": 2})
    view = do(goals, view, "review_targets", "liujianguo", {"targets_review": "approve"})
    view = do(goals, view, "set_responsibilities", "wangqiang", RESP)
    view = do(goals, view, "monthly_report", "wangqiang",
              {"meeting_date": "2026-03-02", "attendees": ["wangqiang", "liming"], "done_ids": "T01",
               "progress_note": "党员大会已召开"})
    view = do(goals, view, "monthly_check", "wujing",
              {"check_result": "return", "score": 60, "bulletin": "专题学习缺少会议记录，请补充"})
    supplement = task_of(view, "supplement_report")
    assert (supplement.role, supplement.lean_class) == ("secretary", "W")
    view = do(goals, view, "supplement_report", "wangqiang",
              {"done_ids": "T01,T02", "supplement_note": "补充专题学习记录"})
    view = do(goals, view, "monthly_check", "wujing", {"check_result": "publish", "score": 100, "bulletin": "全部销号"})
    assert view.data["bulletins"] == [{"month": 3, "score": 100, "closed": ["T01", "T02"], "open": []}]
    completed = [e.payload["spec"] for e in goals.history(view.id) if e.type == "task_completed"]
    assert completed.count("set_branch_targets") == 2 and completed.count("monthly_check") == 2
    assert goals.verify().ok


def test_parameters_move_the_reminder_and_the_lecture_baseline(goals: WorkflowService) -> None:
    with pytest.raises(InvalidInput):
        goals.start("goal_management", org_unit_id=BRANCH, data={"reminder_workday": "5"})
    view = goals.start("goal_management", org_unit_id=BRANCH, data={"reminder_workday": "3", "lessons_baseline": "2"})
    view = do(goals, view, "set_work_points", "liujianguo", POINTS)
    view = do(goals, view, "decompose_tasks", "zhoumin", PLAN)
    view = do(goals, view, "set_branch_targets", "liming", {**TARGETS, "target_lessons": 2})
    view = do(goals, view, "review_targets", "chenlixin", {"targets_review": "approve"})
    view = do(goals, view, "set_responsibilities", "wangqiang", RESP)
    # The third working day: Wednesday 2026-03-04, then Friday 2026-04-03 (before the Qingming holiday).
    assert view.open_tasks == [] and view.next_timer_due is not None
    assert view.next_timer_due.isoformat() == "2026-03-04T01:00:00+00:00"
    view = month(goals, view, "T01,T02")
    view = month(goals, view, "T03")
    assert fired(goals, view.id, "month_start") == ["2026-03-04T01:00:00+00:00", "2026-04-03T01:00:00+00:00"]


def test_next_years_plan_starts_in_january_on_the_calendar_in_force(goals: WorkflowService) -> None:
    goals.set_calendar_day(date(2027, 1, 1), is_workday=False, note="元旦")  # past chinesecalendar's range
    view = goals.start("goal_management", org_unit_id=BRANCH)
    view = do(goals, view, "set_work_points", "liujianguo", {**POINTS, "plan_year": 2027})
    view = do(goals, view, "decompose_tasks", "zhoumin",
              {"monthly_plan": "1 liming GP1 a\n2 liming GP2 b\n1 liming GP3 c"})
    view = do(goals, view, "set_branch_targets", "liming", TARGETS)
    view = do(goals, view, "review_targets", "chenlixin", {"targets_review": "approve"})
    view = do(goals, view, "set_responsibilities", "wangqiang", RESP)
    assert view.data["month"] == 1 and view.open_tasks == []
    assert view.next_timer_due is not None and view.next_timer_due.isoformat() == "2027-01-04T01:00:00+00:00"


def test_only_the_roles_of_the_branch_and_its_committee_may_act(goals: WorkflowService) -> None:
    view = goals.start("goal_management", org_unit_id=BRANCH)
    with pytest.raises(NotAllowed):
        goals.complete(task_of(view, "set_work_points").id, person_id="wangqiang", data=POINTS)
    view = do(goals, view, "set_work_points", "liujianguo", POINTS)
    view = do(goals, view, "decompose_tasks", "zhoumin", PLAN)
    with pytest.raises(NotAllowed):
        goals.complete(task_of(view, "set_branch_targets").id, person_id="huangli", data=TARGETS)  # 掘进二队 committee
    with pytest.raises(NotAllowed):
        goals.complete(task_of(view, "set_branch_targets").id, person_id="zhaolei", data=TARGETS)  # member only
    assert [t.task_spec for t in goals.tasks_for("liming")] == ["set_branch_targets"]


def test_every_check_refuses_with_its_message_and_changes_nothing(goals: WorkflowService) -> None:
    seen: set[str] = set()

    def bad(view: InstanceView, spec: str, person: str, good: dict[str, Any], change: dict[str, Any],
            *messages: str) -> None:
        seen.update(refused(goals, view, spec, person, {**good, **change}, *messages))

    view = goals.start("goal_management", org_unit_id=BRANCH, actor="zhoumin")
    bad(view, "set_work_points", "liujianguo", POINTS, {"plan_year": 2025}, "计划年度只能是今年或明年")
    bad(view, "set_work_points", "liujianguo", POINTS, {"work_points": "GP1 组织建设"},
        "工作要点每行须为：编号 领域 目标与考核指标（例如 GP1 组织建设 三会一课按期召开率100%）")
    bad(view, "set_work_points", "liujianguo", POINTS, {"work_points": "GP1 组织建设 甲\nGP1 党员教育 乙"},
        "工作要点编号不能重复")
    view = do(goals, view, "set_work_points", "liujianguo", POINTS)

    lines = PLAN["monthly_plan"]
    bad(view, "decompose_tasks", "zhoumin", PLAN, {"monthly_plan": lines + "\n13 liming GP1 x"},
        "月度重点任务每行须为：月份(1-12) 负责人编号 要点编号 任务内容")
    bad(view, "decompose_tasks", "zhoumin", PLAN, {"monthly_plan": lines + "\n2 liming GP1 x"},
        "月度重点任务的月份不能早于本月")
    bad(view, "decompose_tasks", "zhoumin", PLAN, {"monthly_plan": lines + "\n7 jiangtao GP1 x"},
        "任务负责人须为本组织的党员（填写人员编号）")
    bad(view, "decompose_tasks", "zhoumin", PLAN, {"monthly_plan": lines + "\n7 liming GP9 x"},
        "月度重点任务引用了不存在的工作要点编号")
    bad(view, "decompose_tasks", "zhoumin", PLAN, {"monthly_plan": "3 liming GP1 x\n4 liming GP2 y"},
        "每项工作要点至少要分解出一项月度重点任务")
    view = do(goals, view, "decompose_tasks", "zhoumin", PLAN)

    low = {"target_member_meetings": 3, "target_committee_meetings": 11, "target_group_meetings": 11,
           "target_lessons": 3, "target_theme_days": 11, "target_dues_rate": 95, "target_training_hours": 30}
    bad(view, "set_branch_targets", "liming", TARGETS, low,
        "支部党员大会一般每季度召开一次，全年目标不得少于4次",
        "支委会一般每月召开一次，全年目标不得少于12次",
        "党小组会一般每月召开一次，全年目标不得少于12次",
        "党课全年目标低于规定下限（流程参数 lessons_baseline，默认每季度一次共4次）",
        "主题党日每月开展一次，全年目标不得少于12次",
        "党费应按月足额交纳，交纳率目标须为100%",
        "党员教育培训每人每年不少于32学时")
    view = do(goals, view, "set_branch_targets", "liming", TARGETS)

    bad(view, "review_targets", "chenlixin", {"targets_review": "return"}, {}, "退回调整须写明调整意见")
    view = do(goals, view, "review_targets", "chenlixin", {"targets_review": "approve"})

    bad(view, "set_responsibilities", "wangqiang", RESP, {"resp_list": RESP_LIST + "\nwangqiang 党课"},
        "责任清单每行须为：责任人编号 目标项目 职责内容（例如 wangqiang 党课 每季度讲党课一次）")
    bad(view, "set_responsibilities", "wangqiang", RESP, {"resp_list": RESP_LIST + "\nwangqiang 宣传 办好宣传栏"},
        "目标项目须为：党员大会、支委会、党小组会、党课、主题党日、党费、发展党员、教育培训或其他")
    bad(view, "set_responsibilities", "wangqiang", RESP, {"resp_list": RESP_LIST.replace("教育培训", "其他")},
        "每项支部年度目标都须落实到责任人")
    bad(view, "set_responsibilities", "wangqiang", RESP,
        {"committee_members": [*RESP["committee_members"], "qianyong"]}, "每名支委至少承担一项责任")
    bad(view, "set_responsibilities", "wangqiang", RESP, {"resp_list": RESP_LIST + "\njiangtao 其他 协助宣传"},
        "责任人须为本组织的党员（填写人员编号）")
    bad(view, "set_responsibilities", "wangqiang", RESP, {"signed_date": "2026-03-03"}, "责任书签订日期不能晚于今天")
    view = do(goals, view, "set_responsibilities", "wangqiang", RESP)

    report = {"meeting_date": "2026-03-02", "attendees": ["wangqiang"], "done_ids": "T01", "progress_note": "x"}
    bad(view, "monthly_report", "wangqiang", report, {"meeting_date": "2026-03-01"},
        "推进会须在本月提示单下达之后召开，且日期不晚于今天")
    bad(view, "monthly_report", "wangqiang", report, {"meeting_date": "2026-03-03"},
        "推进会须在本月提示单下达之后召开，且日期不晚于今天")
    bad(view, "monthly_report", "wangqiang", report, {"done_ids": "T01,T03"}, "销号的任务编号须为本月提示单中的任务")
    view = do(goals, view, "monthly_report", "wangqiang", report)

    check = {"check_result": "publish", "score": 100, "bulletin": "x"}
    bad(view, "monthly_check", "wujing", check, {}, "本月提示单仍有未销号的任务，考核得分不能为满分")
    view = do(goals, view, "monthly_check", "wujing", {**check, "check_result": "return", "score": 70})
    bad(view, "supplement_report", "wangqiang", {"supplement_note": "x"}, {"done_ids": "T09"},
        "销号的任务编号须为本月提示单中的任务")
    view = do(goals, view, "supplement_report", "wangqiang", {"supplement_note": "补充材料"})
    view = do(goals, view, "monthly_check", "wujing", {**check, "score": 90})
    for _ in range(4, 13):
        view = month(goals, view, "")  # nothing more is closed: T02 to T05 stay open all year

    review = {"lessons": "销号不及时"}
    bad(view, "annual_review", "liujianguo", review, {}, "全年仍有未销号的任务，须说明原因")
    view = do(goals, view, "annual_review", "liujianguo", {**review, "open_reason": "先锋岗建设延至来年"})
    assert view.status == "completed"
    assert [t["id"] for t in view.data["monthly_tasks"] if t["status"] == "open"] == ["T02", "T03", "T04", "T05"]

    model = extract_model(find_process(read_bpmn_file(PROCESSES / "goal_management.bpmn").root, "goal_management"))
    declared = {c.message for t in model.user_tasks.values() for c in t.checks}
    assert declared <= seen, declared - seen
    assert goals.verify().ok
