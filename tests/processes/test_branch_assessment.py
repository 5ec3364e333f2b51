"""branch_assessment: star rating of 综采一队党支部: cross-check, veto, quotas, a 5-working-day notice (§4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.clock import VirtualClock
from engine.errors import ExecutionError
from engine.service import WorkflowService
from tests.processes.steps import complete, fired, open_task, refused, specs

PROCESS = "branch_assessment"
# Tuesday 2026-09-01 09:00 Beijing time.
START = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
BRANCH = {"branch": "zongcai1", "year": 2026}
SELF = {"claimed_star": "4", "self_score": 86,
        "self_report": "全年三会一课按期开展，党员发展按计划完成，安全生产无事故。",
        "evidence": "支部工作手册、会议记录、党费台账"}
# 黄丽 (organiser of 掘进二队) leads, 马军 (secretary of 掘进二队) and 邓燕 (organiser of 机关) check.
ARRANGE = {"inspector": "huangli", "inspection_team": ["majun", "dengyan"], "check_date": "2026-09-03"}
CHECK = {"visited_on": "2026-09-03", "check_score": 85, "satisfaction": 96, "findings": "党员活动室资料归档不及时"}
DECIDE = {"final_star": "4", "final_score": 85.5, "decision_basis": "自评86分，交叉检查85分，满意率96%",
          "batch_branches": 3, "batch_four": 1}
PUBLISH = {"notice_start": "2026-09-28", "notice_channel": "东山煤矿党建公示栏及内网"}
OBJECTION = {"objection": "该支部8月有一名党员违反安全规程受到处分", "objector": "张某（综采一队职工）",
             "objection_on": "2026-09-29"}


@pytest.fixture
def stars(library: WorkflowService, deploy: Callable[[str], None], library_clock: VirtualClock) -> WorkflowService:
    deploy(PROCESS)
    library_clock.set(START)
    return library


def to_decision(service: WorkflowService, **params: Any) -> int:
    instance = service.start(PROCESS, org_unit_id="zongcai1", actor="zhoumin", data={**BRANCH, **params})
    complete(service, instance.id, "self_eval", "wangqiang", SELF)
    complete(service, instance.id, "arrange_check", "zhoumin", ARRANGE)
    service.advance("P2D")
    complete(service, instance.id, "cross_check", "huangli", CHECK)
    complete(service, instance.id, "veto_check", "wujing", {})
    return instance.id


def to_notice(service: WorkflowService) -> int:
    """Decide four stars, publish on Thursday 2026-09-24 a notice starting Monday 2026-09-28; reach the notice."""
    iid = to_decision(service)
    complete(service, iid, "decide", "liujianguo", DECIDE)
    service.advance("P21D")  # Thursday 2026-09-24 09:00
    complete(service, iid, "publish", "zhoumin", PUBLISH)
    service.advance("P4D")  # Monday 2026-09-28 09:00
    return iid


def test_star_rating_with_a_notice_over_national_day(stars: WorkflowService) -> None:
    instance = stars.start(PROCESS, org_unit_id="zongcai1", actor="zhoumin", data=BRANCH)
    assert instance.data["thresholds"] == [90.0, 80.0, 70.0]
    assert [t.task_spec for t in stars.tasks_for("wangqiang")] == ["self_eval"]
    complete(stars, instance.id, "self_eval", "wangqiang", SELF)
    arrange = open_task(stars, instance.id, "arrange_check")
    assert (arrange.role, arrange.org_unit_id) == ("organization_dept", "zongcai1")
    assert [t.task_spec for t in stars.tasks_for("wujing")] == ["arrange_check"]
    checking = complete(stars, instance.id, "arrange_check", "zhoumin", ARRANGE)
    assert [(t.task_spec, t.assignee) for t in checking.open_tasks] == [("cross_check", "huangli")]
    assert [t.task_spec for t in stars.tasks_for("huangli")] == ["cross_check"]
    stars.advance("P2D")
    complete(stars, instance.id, "cross_check", "huangli", CHECK)
    complete(stars, instance.id, "veto_check", "wujing", {})
    assert [t.task_spec for t in stars.tasks_for("liujianguo")] == ["decide"]
    complete(stars, instance.id, "decide", "liujianguo", DECIDE)
    stars.advance("P21D")
    waiting = complete(stars, instance.id, "publish", "zhoumin", PUBLISH)
    assert waiting.open_tasks == [] and waiting.next_timer_due == datetime(2026, 9, 27, 16, 0, tzinfo=UTC)

    stars.advance("P4D")  # Monday 2026-09-28: the notice has begun
    notice = open_task(stars, instance.id, "notice")
    # 5 working days counted from 09-28: 28, 29, 30 Sep, then 8 and 9 Oct (1-7 Oct is National Day), so the
    # notice closes at 00:00 on Saturday 2026-10-10, itself a make-up working day.
    assert notice.due_at == datetime(2026, 10, 9, 16, 0, tzinfo=UTC)
    assert stars.instance(instance.id).next_timer_due == datetime(2026, 10, 9, 16, 0, tzinfo=UTC)
    stars.advance(datetime(2026, 10, 9, 15, 0, tzinfo=UTC) - datetime(2026, 9, 28, 1, 0, tzinfo=UTC))
    assert specs(stars.instance(instance.id)) == ["notice"]  # Friday 2026-10-09 23:00: still running
    stars.advance("PT2H")
    named = stars.instance(instance.id)
    assert specs(named) == ["naming"] and named.data["notice_end"] == "2026-10-09"
    assert fired(stars, instance.id) == [("notice_begins", "2026-09-27T16:00:00+00:00"),
                                        ("notice_over", "2026-10-09T16:00:00+00:00")]
    assert [e.payload["kind"] for e in stars.history(instance.id) if e.type == "escalation"] == ["deadline"]
    stars.advance("P2D")  # Monday 2026-10-12
    done = complete(stars, instance.id, "naming", "liujianguo",
                    {"naming_doc": "东煤党〔2026〕12号", "named_on": "2026-10-12"})
    assert done.status == "completed" and done.data["final_star"] == "4"
    assert stars.verify().ok


def test_founded_objection_goes_back_to_the_cross_check(stars: WorkflowService) -> None:
    iid = to_notice(stars)
    stars.advance("P1D")
    complete(stars, iid, "notice", "zhoumin", OBJECTION)
    cancelled = [e.payload["spec"] for e in stars.history(iid) if e.type == "timer_cancelled"]
    assert cancelled == ["notice_over"]
    back = complete(stars, iid, "verify_objection", "wujing",
                    {"objection_founded": True, "verification": "经核实，该党员受到警告处分，须重新检查评分"})
    assert specs(back) == ["arrange_check"]
    complete(stars, iid, "arrange_check", "zhoumin", {**ARRANGE, "inspector": "songhua", "check_date": "2026-09-29"})
    complete(stars, iid, "cross_check", "songhua", {**CHECK, "visited_on": "2026-09-29", "check_score": 78})
    complete(stars, iid, "veto_check", "wujing", {})
    complete(stars, iid, "decide", "liujianguo",
             {**DECIDE, "final_star": "3", "final_score": 78, "batch_branches": 10, "batch_four": 0, "batch_three": 1})
    complete(stars, iid, "publish", "zhoumin", {**PUBLISH, "notice_start": "2026-09-30"})
    # The new notice starts 2026-09-30: 30 Sep, 8, 9, 10 (Saturday, make-up day) and 12 Oct.
    stars.advance("P1D")
    assert open_task(stars, iid, "notice").due_at == datetime(2026, 10, 12, 16, 0, tzinfo=UTC)
    stars.advance("P15D")
    assert specs(stars.instance(iid)) == ["naming"]
    assert stars.verify().ok


def test_unfounded_objection_runs_a_full_new_notice(stars: WorkflowService) -> None:
    iid = to_notice(stars)
    complete(stars, iid, "notice", "zhoumin", {**OBJECTION, "objection_on": "2026-09-28"})
    back = complete(stars, iid, "verify_objection", "zhoumin",
                    {"objection_founded": False, "verification": "经核实，反映的处分发生在其他单位"})
    assert specs(back) == ["publish"]
    complete(stars, iid, "publish", "zhoumin", {**PUBLISH, "notice_start": "2026-09-29"})
    stars.advance("P1D")
    assert open_task(stars, iid, "notice").due_at == datetime(2026, 10, 11, 16, 0, tzinfo=UTC)
    assert [s for s, _ in fired(stars, iid)] == ["notice_begins", "notice_begins"]
    assert stars.verify().ok


def test_veto_ends_without_a_star(stars: WorkflowService) -> None:
    instance = stars.start(PROCESS, org_unit_id="zongcai1", actor="zhoumin", data=BRANCH)
    complete(stars, instance.id, "self_eval", "wangqiang", SELF)
    complete(stars, instance.id, "arrange_check", "zhoumin", ARRANGE)
    stars.advance("P2D")
    complete(stars, instance.id, "cross_check", "huangli", CHECK)
    done = complete(stars, instance.id, "veto_check", "wujing",
                    {"v_accident": True, "veto_note": "2026年7月发生一起超过控制指标的轻伤事故"})
    assert done.status == "completed"
    assert done.data["final_star"] == "none" and done.data["vetoed"] is True
    assert "decide" not in [e.payload.get("spec") for e in stars.history(instance.id) if e.type == "task_ready"]


def test_committee_may_rate_no_star(stars: WorkflowService) -> None:
    iid = to_decision(stars)
    done = complete(stars, iid, "decide", "liujianguo", {**DECIDE, "final_star": "none", "batch_four": 0})
    assert done.status == "completed"


def test_missing_branch_refuses_the_start(stars: WorkflowService) -> None:
    with pytest.raises(ExecutionError, match="参评支部的组织编号"):
        stars.start(PROCESS, org_unit_id="zongcai1", data={"branch": "", "year": 2026})
    with pytest.raises(ExecutionError, match="星级分数线"):
        stars.start(PROCESS, org_unit_id="zongcai1", data={**BRANCH, "star_thresholds": "80,90,70"})
    assert stars.instances(process_id=PROCESS) == []


def test_every_check_refuses_with_its_message(stars: WorkflowService) -> None:
    iid = stars.start(PROCESS, org_unit_id="zongcai1", actor="zhoumin", data=BRANCH).id
    assert "自评得分须在0分到满分之间" in refused(stars, iid, "self_eval", "wangqiang", {**SELF, "self_score": 101})
    assert "自评得分未达到申报星级的分数线" in refused(stars, iid, "self_eval", "wangqiang",
                                            {**SELF, "claimed_star": "5"})
    complete(stars, iid, "self_eval", "wangqiang", SELF)
    for change, message in [
        ({"inspection_team": ["majun", "zhaolei"]}, "交叉检查组成员须来自其他单位，不能检查本支部"),
        ({"inspector": "wangqiang"}, "交叉检查组成员须来自其他单位，不能检查本支部"),
        ({"inspection_team": ["majun", "huangli"]}, "组长不要重复列入检查组成员"),
        ({"check_date": "2026-08-31"}, "计划检查日期不能早于今天"),
    ]:
        assert message in refused(stars, iid, "arrange_check", "zhoumin", {**ARRANGE, **change}), message
    complete(stars, iid, "arrange_check", "zhoumin", ARRANGE)
    stars.advance("P2D")
    assert "检查得分须在0分到满分之间" in refused(stars, iid, "cross_check", "huangli", {**CHECK, "check_score": -1})
    assert "检查日期不能晚于今天" in refused(stars, iid, "cross_check", "huangli",
                                     {**CHECK, "visited_on": "2026-09-04"})
    complete(stars, iid, "cross_check", "huangli", CHECK)
    assert "触发一票否决事项的，须写明事实和依据" in refused(stars, iid, "veto_check", "wujing", {"v_discipline": True})
    complete(stars, iid, "veto_check", "wujing", {})
    for change, message in [
        ({"final_score": 100.5}, "综合得分须在0分到满分之间"),
        ({"final_score": 79}, "综合得分未达到所定星级的分数线"),
        ({"final_star": "5", "final_score": 92, "batch_branches": 20, "batch_five": 1, "batch_four": 0},
         "评定星级不能高于支部申报的星级"),
        ({"batch_four": 1, "batch_three": 3}, "各星级支部数之和不能超过参评支部总数"),
        ({"batch_four": 0}, "本年度该星级的支部数须包含本支部"),
        ({"batch_five": 1}, "五星级党支部超过规定比例（默认不超过参评支部的10%）"),
        ({"batch_four": 2}, "四星级党支部超过规定比例（默认不超过参评支部的40%）"),
        ({"batch_three": 1}, "三星级党支部超过规定比例（默认不超过参评支部的30%）"),
    ]:
        assert message in refused(stars, iid, "decide", "liujianguo", {**DECIDE, **change}), message
    complete(stars, iid, "decide", "liujianguo", DECIDE)
    assert "公示开始日期不能早于今天" in refused(stars, iid, "publish", "zhoumin",
                                       {**PUBLISH, "notice_start": "2026-09-02"})
    # 2026-09-25 is the Mid-Autumn Festival holiday, 2026-10-03 a Saturday of National Day.
    for day in ("2026-09-25", "2026-10-03"):
        assert "公示开始日须为工作日" in refused(stars, iid, "publish", "zhoumin", {**PUBLISH, "notice_start": day})
    complete(stars, iid, "publish", "zhoumin", PUBLISH)
    stars.advance("P25D")  # Monday 2026-09-28 09:00
    assert "异议须在公示期内收到（不早于公示开始日、不晚于今天）" in refused(
        stars, iid, "notice", "zhoumin", {**OBJECTION, "objection_on": "2026-09-27"})
    stars.advance("P14D")
    assert "命名日期须在公示期满之后且不晚于今天" in refused(stars, iid, "naming", "liujianguo",
                                                 {"naming_doc": "东煤党〔2026〕12号", "named_on": "2026-10-09"})
    assert complete(stars, iid, "naming", "liujianguo",
                    {"naming_doc": "东煤党〔2026〕12号", "named_on": "2026-10-12"}).status == "completed"
    assert stars.verify().ok


def test_parameters_change_full_marks_and_quotas(stars: WorkflowService) -> None:
    iid = to_decision(stars, max_score="110", quota_four="70")
    after = complete(stars, iid, "decide", "liujianguo", {**DECIDE, "final_score": 105, "batch_four": 2})
    assert specs(after) == ["publish"]
