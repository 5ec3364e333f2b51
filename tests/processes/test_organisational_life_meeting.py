"""organisational_life_meeting: the annual 组织生活会 of 综采一队党支部, from plan to closed rectification (§2.2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from engine.clock import VirtualClock
from engine.service import WorkflowService
from tests.processes.steps import complete, open_task, refused, specs

PROCESS = "organisational_life_meeting"
# Monday 2026-10-12 09:00 Beijing time: the plan goes up in Q4, 24 days before the meeting.
PLAN_DAY = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
PARTICIPANTS = ["wangqiang", "liming", "zhangwei", "zhaolei", "qianyong", "sungang"]
PLAN = {"theme": "强化政治引领，推动安全生产", "meeting_form": "member_meeting", "meeting_date": "2026-11-05",
        "place": "综采一队会议室", "chair": "wangqiang", "participants": PARTICIPANTS,
        "agenda": "一、书记报告支部工作；二、党员对照检查；三、批评和自我批评；四、民主评议党员",
        "study_items": "党章、《中国共产党支部工作条例（试行）》"}
STUDY = {"study_date": "2026-10-14", "study_hours": 4, "study_attendees": PARTICIPANTS, "study_record": "集中学习党章"}
TALKS = {"talked_with": PARTICIPANTS[1:], "talks_done_on": "2026-10-14", "opinions_count": 7,
         "opinions_summary": "征求到意见建议7条，主要集中在班前会学习流于形式"}
MATERIALS = {"received_from": PARTICIPANTS[:-1], "written_from": ["sungang"]}
MEETING = {"held_on": "2026-11-05", "expected": 6, "present": 5, "absent_note": "孙刚：井下值班（书面材料已宣读）",
           "pc_attendee": "chenlixin", "branch_report": "书记代表支委会报告一年来工作，查摆问题3个",
           "criticism_summary": "每名党员逐一发言，开展批评和自我批评，指出问题12条", "recorder": "zhangwei"}
RECTIFICATION = {"issue_count": 2, "rectification_list": "班前会学习流于形式|每周固定学习主题|liming|2026-12-31\n"
                                                         "台账不全｜补齐三会一课台账｜zhangwei｜2026-11-30"}
REPORT = {"report_text": "综采一队党支部于11月5日召开组织生活会，上级党委陈立新同志到会指导。",
          "reported_on": "2026-11-05", "list_published": True}
CLOSED = {"closed_count": 2, "carried_over": 0, "closing_evidence": "学习记录、台账照片", "closed_on": "2026-12-20"}


@pytest.fixture
def olm(library: WorkflowService, deploy: Callable[[str], None], library_clock: VirtualClock) -> WorkflowService:
    deploy(PROCESS)
    library_clock.set(PLAN_DAY)
    return library


def prepare(service: WorkflowService, **params: str) -> int:
    """Start, plan, approve, study, talk and collect materials: up to the meeting."""
    instance = service.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang", data=dict(params))
    complete(service, instance.id, "plan", "wangqiang", PLAN)
    complete(service, instance.id, "approve_plan", "liujianguo", {"plan_approved": True})
    service.advance("P2D")
    complete(service, instance.id, "study", "liming", STUDY)
    complete(service, instance.id, "talks", "wangqiang", TALKS)
    complete(service, instance.id, "self_check", "liming", MATERIALS)
    complete(service, instance.id, "review_self_check", "wangqiang", {"returned": []})
    return instance.id


def test_meeting_from_plan_to_closed_rectification(olm: WorkflowService) -> None:
    instance = olm.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang")
    plan = open_task(olm, instance.id, "plan")
    assert (plan.role, plan.lean_class, plan.sla) == ("secretary", "NNVA", "P7D")
    assert [t.task_spec for t in olm.tasks_for("wangqiang")] == ["plan"]
    complete(olm, instance.id, "plan", "wangqiang", PLAN)
    approve = open_task(olm, instance.id, "approve_plan")
    assert (approve.role, approve.org_unit_id) == ("higher_committee", "zongcai1")
    assert [t.task_spec for t in olm.tasks_for("liujianguo")] == ["approve_plan"]
    assert olm.tasks_for("majun") == []  # another branch's secretary sees nothing
    both = complete(olm, instance.id, "approve_plan", "liujianguo", {"plan_approved": True, "plan_opinion": "同意"})
    assert specs(both) == ["study", "talks"]  # study and talks run side by side
    assert both.data["meeting_overdue_at"] == "2026-11-06"
    olm.advance("P2D")
    complete(olm, instance.id, "talks", "wangqiang", TALKS)
    complete(olm, instance.id, "study", "liming", STUDY)
    complete(olm, instance.id, "self_check", "liming", MATERIALS)
    meeting = complete(olm, instance.id, "review_self_check", "wangqiang", {"returned": []})
    assert specs(meeting) == ["hold_meeting"]
    assert meeting.next_timer_due == datetime(2026, 11, 5, 16, 0, tzinfo=UTC)  # 2026-11-06 00:00 Beijing

    olm.advance("P22D")  # Thursday 2026-11-05, the planned day
    complete(olm, instance.id, "hold_meeting", "wangqiang", MEETING)
    listed = complete(olm, instance.id, "rectification", "wangqiang", RECTIFICATION)
    assert listed.data["rectify_due_by"] == "2026-12-31" and listed.data["rectify_due_at"] == "2027-01-01"
    complete(olm, instance.id, "report", "wangqiang", REPORT)
    closing = complete(olm, instance.id, "review_report", "chenlixin", {"report_accepted": True})
    assert specs(closing) == ["close_issues"]
    assert closing.next_timer_due == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    olm.advance("P45D")  # 2026-12-20
    done = complete(olm, instance.id, "close_issues", "wangqiang", CLOSED)
    assert done.status == "completed"
    events = olm.history(instance.id)
    assert [e.payload["spec"] for e in events if e.type == "timer_cancelled"] == ["meeting_overdue", "rectify_overdue"]
    assert "timer_fired" not in [e.type for e in events]
    assert olm.verify().ok


def test_overdue_meeting_is_supervised_by_the_higher_committee(olm: WorkflowService) -> None:
    instance_id = prepare(olm)
    olm.advance("P30D")  # past 2026-11-06 00:00 without a meeting
    fired = [e.payload for e in olm.history(instance_id) if e.type == "timer_fired"]
    assert [(f["spec"], f["due"]) for f in fired] == [("meeting_overdue", "2026-11-05T16:00:00+00:00")]
    now = olm.instance(instance_id)
    assert specs(now) == ["hold_meeting", "supervise_meeting"]
    assert open_task(olm, instance_id, "supervise_meeting").role == "higher_committee"
    complete(olm, instance_id, "supervise_meeting", "liujianguo", {"meeting_supervision": "已电话督促，要求本月内召开"})
    complete(olm, instance_id, "hold_meeting", "wangqiang", {**MEETING, "held_on": "2026-11-13"})
    assert specs(olm.instance(instance_id)) == ["rectification"]
    assert olm.verify().ok


def test_overdue_rectification_is_supervised(olm: WorkflowService) -> None:
    instance_id = prepare(olm)
    olm.advance("P22D")
    complete(olm, instance_id, "hold_meeting", "wangqiang", MEETING)
    complete(olm, instance_id, "rectification", "wangqiang", RECTIFICATION)
    complete(olm, instance_id, "report", "wangqiang", REPORT)
    complete(olm, instance_id, "review_report", "liujianguo", {"report_accepted": True})
    olm.advance("P60D")  # 2027-01-04, past the last due date 2026-12-31
    assert [e.payload["spec"] for e in olm.history(instance_id) if e.type == "timer_fired"] == ["rectify_overdue"]
    assert specs(olm.instance(instance_id)) == ["close_issues", "supervise_rectify"]
    complete(olm, instance_id, "supervise_rectify", "liujianguo", {"rectify_supervision": "下达督办单"})
    done = complete(olm, instance_id, "close_issues", "wangqiang",
                    {**CLOSED, "closed_count": 1, "carried_over": 1, "closed_on": "2027-01-04"})
    assert done.status == "completed"
    assert olm.verify().ok


def test_rework_loops(olm: WorkflowService) -> None:
    instance = olm.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang")
    complete(olm, instance.id, "plan", "wangqiang", PLAN)
    back = complete(olm, instance.id, "approve_plan", "liujianguo",
                    {"plan_approved": False, "plan_opinion": "主题要结合年度安全生产任务"})
    assert specs(back) == ["plan"]
    complete(olm, instance.id, "plan", "wangqiang", {**PLAN, "theme": "对标安全生产任务，查找差距"})
    complete(olm, instance.id, "approve_plan", "liujianguo", {"plan_approved": True})
    olm.advance("P2D")
    complete(olm, instance.id, "study", "liming", STUDY)
    complete(olm, instance.id, "talks", "wangqiang", TALKS)
    complete(olm, instance.id, "self_check", "liming", MATERIALS)
    back = complete(olm, instance.id, "review_self_check", "wangqiang",
                    {"returned": ["zhaolei"], "review_opinion": "查摆问题不具体"})
    assert specs(back) == ["self_check"]
    complete(olm, instance.id, "self_check", "liming", {"materials_note": "赵磊已重新提交"})
    assert specs(complete(olm, instance.id, "review_self_check", "wangqiang", {"returned": []})) == ["hold_meeting"]
    olm.advance("P22D")
    complete(olm, instance.id, "hold_meeting", "wangqiang", MEETING)
    complete(olm, instance.id, "rectification", "wangqiang", RECTIFICATION)
    complete(olm, instance.id, "report", "wangqiang", REPORT)
    back = complete(olm, instance.id, "review_report", "liujianguo",
                    {"report_accepted": False, "report_opinion": "补充整改措施的时间节点"})
    assert specs(back) == ["report"]
    complete(olm, instance.id, "report", "wangqiang",
             {**REPORT, "report_text": REPORT["report_text"] + "整改时间节点见清单。"})
    assert specs(complete(olm, instance.id, "review_report", "liujianguo", {"report_accepted": True})) == [
        "close_issues"]
    assert olm.verify().ok


def test_every_check_refuses_with_its_message(olm: WorkflowService) -> None:
    iid = olm.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang").id
    for change, message in [
        ({"meeting_date": "2026-10-21"}, "会议日期距方案报送不足规定天数（默认10天），无法提前通知"),
        ({"meeting_date": "2027-01-08"}, "组织生活会一般在第四季度召开，会议日期应在10月至12月"),
        ({"participants": [*PARTICIPANTS, "weidong"]}, "参会人员须为正式党员或预备党员"),
        ({"chair": "liujianguo"}, "主持人须在参会党员名单中"),
    ]:
        assert message in refused(olm, iid, "plan", "wangqiang", {**PLAN, **change}), message
    complete(olm, iid, "plan", "wangqiang", PLAN)
    assert "退回修改时须填写审核意见" in refused(olm, iid, "approve_plan", "liujianguo", {"plan_approved": False})
    complete(olm, iid, "approve_plan", "liujianguo", {"plan_approved": True})
    olm.advance("P2D")
    for change, message in [
        ({"study_date": "2026-10-15"}, "学习日期不能晚于今天"),
        ({"study_hours": 3.5}, "会前集中学习时间不少于半天（默认4学时）"),
        ({"study_attendees": ["liming", "majun"]}, "参加学习人员须为参会党员"),
    ]:
        assert message in refused(olm, iid, "study", "liming", {**STUDY, **change}), message
    complete(olm, iid, "study", "liming", STUDY)
    for change, message in [
        ({"talked_with": PARTICIPANTS[1:-1]}, "支部书记须与每名参会党员谈心谈话"),
        ({"talks_done_on": "2026-10-15"}, "谈话完成日期不能晚于今天"),
    ]:
        assert message in refused(olm, iid, "talks", "wangqiang", {**TALKS, **change}), message
    complete(olm, iid, "talks", "wangqiang", TALKS)
    assert "每名参会党员都须提交对照检查材料，因故缺席的须提交书面材料" in refused(
        olm, iid, "self_check", "liming", {"received_from": PARTICIPANTS[:-1]})
    complete(olm, iid, "self_check", "liming", MATERIALS)
    assert "退回人员须为参会党员" in refused(olm, iid, "review_self_check", "wangqiang",
                                    {"returned": ["majun"], "review_opinion": "x"})
    assert "退回对照检查材料时须写明修改意见" in refused(olm, iid, "review_self_check", "wangqiang",
                                           {"returned": ["zhaolei"]})
    complete(olm, iid, "review_self_check", "wangqiang", {"returned": []})
    olm.advance("P22D")
    for change, message in [
        ({"held_on": "2026-11-06"}, "召开日期不能晚于今天"),
        ({"held_on": "2026-11-04"}, "会议不得早于方案确定的日期召开（须提前通知）"),
        ({"present": 7}, "实到人数不能多于应到人数"),
        ({"present": 3}, "到会党员未达到应到人数的半数要求，会议不能召开"),
        ({"pc_attendee": "zhaolei"}, "须有上级党组织领导班子成员到会指导，不能由本支部参会党员代替"),
    ]:
        assert message in refused(olm, iid, "hold_meeting", "wangqiang", {**MEETING, **change}), message
    complete(olm, iid, "hold_meeting", "wangqiang", MEETING)
    for change, message in [
        ({"issue_count": 3}, "整改清单的条数与查摆问题数不一致"),
        ({"rectification_list": "问题|措施|liming"}, "整改清单每行须写明：问题|整改措施|责任人|完成时限"),
        ({"rectification_list": "问题|措施|nobody|2026-12-31\n问题|措施|liming|2026-12-31"},
         "每项整改须明确本组织的责任人（填写人员编号）"),
        ({"rectification_list": "问题|措施|liming|2026-11-05\n问题|措施|liming|2026-12-31"},
         "每项整改须有晚于会议日期的完成时限（YYYY-MM-DD）"),
    ]:
        assert message in refused(olm, iid, "rectification", "wangqiang", {**RECTIFICATION, **change}), message
    complete(olm, iid, "rectification", "wangqiang", RECTIFICATION)
    assert "报告日期须在会议之后且不晚于今天" in refused(olm, iid, "report", "wangqiang",
                                               {**REPORT, "reported_on": "2026-11-04"})
    assert "整改清单须在支部内公开后再上报" in refused(olm, iid, "report", "wangqiang",
                                             {**REPORT, "list_published": False})
    complete(olm, iid, "report", "wangqiang", REPORT)
    assert "退回报告时须填写审阅意见" in refused(olm, iid, "review_report", "liujianguo", {"report_accepted": False})
    complete(olm, iid, "review_report", "liujianguo", {"report_accepted": True})
    olm.advance("P45D")
    assert "已销号与转入下年度的问题数之和须等于查摆问题总数" in refused(olm, iid, "close_issues", "wangqiang",
                                                     {**CLOSED, "closed_count": 1})
    assert "销号日期不能晚于今天" in refused(olm, iid, "close_issues", "wangqiang",
                                     {**CLOSED, "closed_on": "2026-12-21"})
    assert complete(olm, iid, "close_issues", "wangqiang", CLOSED).status == "completed"
    assert olm.verify().ok


def test_parameters_relax_the_quarter_and_notice(olm: WorkflowService, library_clock: VirtualClock) -> None:
    library_clock.set(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    strict = olm.start(PROCESS, org_unit_id="zongcai1").id
    relaxed = olm.start(PROCESS, org_unit_id="zongcai1", data={"require_q4": "no", "notice_days": "7"}).id
    march = {**PLAN, "meeting_date": "2026-03-09"}
    assert "组织生活会一般在第四季度召开，会议日期应在10月至12月" in refused(olm, strict, "plan", "wangqiang", march)
    after = complete(olm, relaxed, "plan", "wangqiang", march)
    assert specs(after) == ["approve_plan"]
