"""democratic_appraisal: the annual 民主评议党员 of 综采一队党支部, including the handling of 不合格 (§2.3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from engine.clock import VirtualClock
from engine.service import WorkflowService
from tests.processes.steps import complete, open_task, refused, specs

PROCESS = "democratic_appraisal"
# Tuesday 2026-12-01 09:00 Beijing time.
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
MEMBERS = ["sungang", "zhoujie", "wuhao", "zhengtao", "fengjun"]
MOBILISE = {"appraisal_year": 2026, "members": MEMBERS, "mobilised_on": "2026-12-01",
            "appraisal_plan": "对照合格党员标准和入党誓词，开展个人自评、党员互评和民主测评"}
SUMMARY = {"self_summary": "本人对照合格党员标准和入党誓词，认真查找在学习、工作中的差距和不足。",
           "self_grade": "qualified"}
MUTUAL = {"mutual_on": "2026-12-01", "mutual_mode": "groups", "evaluated": MEMBERS, "peer_comments": "互评意见32条"}
RATING = {"rated_on": "2026-12-01", "voters_expected": 4, "ballots": 4, "rating_summary": "周杰优秀4票；郑涛不合格3票"}
MEETING = {"review_held_on": "2026-12-01", "review_expected": 8, "review_present": 7, "review_yes": 6}
REPORT = {"result_report": "综采一队党支部2026年度民主评议党员结果：优秀1名，合格3名，不合格1名。",
          "reported_on": "2026-12-08"}
HANDLE_MEETING = {"handle_held_on": "2027-03-01", "handle_expected": 8, "handle_present": 7, "handle_yes": 6}


@pytest.fixture
def da(library: WorkflowService, deploy: Callable[[str], None], library_clock: VirtualClock) -> WorkflowService:
    deploy(PROCESS)
    library_clock.set(START)
    return library


def self_evaluate(service: WorkflowService, instance_id: int) -> None:
    """Every member completes their own self-evaluation."""
    for task in service.instance(instance_id).open_tasks:
        service.complete(task.id, person_id=task.assignee or "", data=SUMMARY)


def to_proposal(service: WorkflowService, **params: str) -> int:
    instance = service.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang", data=dict(params))
    complete(service, instance.id, "mobilise", "wangqiang", MOBILISE)
    self_evaluate(service, instance.id)
    complete(service, instance.id, "review_self", "wangqiang", {"returned": []})
    complete(service, instance.id, "mutual", "liming", MUTUAL)
    complete(service, instance.id, "rating", "liming", RATING)
    return instance.id


def to_handling(service: WorkflowService, **params: str) -> int:
    """Grade 郑涛 不合格, pass the meeting, the publicity and the higher committee's review."""
    iid = to_proposal(service, **params)
    complete(service, iid, "propose", "liming", {"unqualified": ["zhengtao"], "grade_basis": "长期不参加组织生活"})
    complete(service, iid, "meeting_review", "wangqiang", MEETING)
    complete(service, iid, "publicise", "wangqiang", {"feedback_given": True, "publicity_scope": "支部党员"})
    service.advance("P7D")
    complete(service, iid, "report", "wangqiang", REPORT)
    complete(service, iid, "pc_review", "liujianguo", {"results_accepted": True})
    return iid


def test_appraisal_from_mobilisation_to_report(da: WorkflowService) -> None:
    instance = da.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang")
    assert [t.task_spec for t in da.tasks_for("wangqiang")] == ["mobilise"]
    selves = complete(da, instance.id, "mobilise", "wangqiang", MOBILISE)
    assert sorted((t.task_spec, t.assignee or "") for t in selves.open_tasks) == sorted(
        ("self_eval", m) for m in MEMBERS)
    assert [t.task_spec for t in da.tasks_for("zhoujie")] == ["self_eval"]
    assert all(t.lean_class == "VA" and t.sla == "P7D" for t in selves.open_tasks)
    self_evaluate(da, instance.id)
    complete(da, instance.id, "review_self", "wangqiang", {"returned": []})
    complete(da, instance.id, "mutual", "liming", MUTUAL)
    proposal = complete(da, instance.id, "rating", "liming", RATING)
    assert open_task(da, instance.id, "propose").role == "branch_committee"
    assert [t.task_spec for t in da.tasks_for("zhangwei")] == ["propose"]
    assert specs(proposal) == ["propose"]
    meeting = complete(da, instance.id, "propose", "zhangwei",
                       {"excellent": ["zhoujie"], "grade_basis": "带头攻坚，测评全优"})
    assert meeting.data["qualified"] == ["sungang", "wuhao", "zhengtao", "fengjun"]
    assert open_task(da, instance.id, "meeting_review").role == "member_meeting"
    complete(da, instance.id, "meeting_review", "wangqiang", MEETING)
    waiting = complete(da, instance.id, "publicise", "wangqiang",
                       {"feedback_given": True, "publicity_scope": "支部党员"})
    assert waiting.open_tasks == [] and waiting.next_timer_due == datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    da.advance("P7D")
    report = open_task(da, instance.id, "report")
    assert report.due_at == datetime(2026, 12, 11, 1, 0, tzinfo=UTC)  # within 10 days of the appraisal
    complete(da, instance.id, "report", "wangqiang", REPORT)
    assert [t.task_spec for t in da.tasks_for("liujianguo")] == ["pc_review"]
    done = complete(da, instance.id, "pc_review", "liujianguo", {"results_accepted": True, "pc_opinion": "同意"})
    assert done.status == "completed"
    assert (done.data["excellent"], done.data["unqualified"], done.data["basic"]) == (["zhoujie"], [], [])
    completed_by = {e.actor for e in da.history(instance.id) if e.type == "task_completed"}
    assert set(MEMBERS) <= completed_by
    assert da.verify().ok


def test_all_qualified_skips_the_member_meeting(da: WorkflowService) -> None:
    iid = to_proposal(da)
    after = complete(da, iid, "propose", "liming", {"basic": ["wuhao"], "grade_basis": "学习不够主动"})
    assert specs(after) == ["publicise"]


def test_unqualified_member_is_corrected_then_persuaded_to_leave(da: WorkflowService) -> None:
    iid = to_handling(da)
    handle = open_task(da, iid, "handle")
    assert handle.role == "branch_committee"
    first = {"correct": ["zhengtao"], "correct_by": "2027-03-01", "handling_basis": "教育帮助，限期三个月改正"}
    waiting = complete(da, iid, "handle", "liming", first)
    assert waiting.open_tasks == [] and waiting.next_timer_due == datetime(2027, 2, 28, 16, 0, tzinfo=UTC)
    da.advance("P2M")
    assert specs(da.instance(iid)) == []
    da.advance("P1M")  # the correction deadline 2027-03-01 00:00 Beijing passes
    assert [e.payload["spec"] for e in da.history(iid) if e.type == "timer_fired"] == [
        "publicity_wait", "correction_due"]
    complete(da, iid, "recheck", "liming", {"not_improved": ["zhengtao"], "recheck_note": "仍不参加组织生活"})
    second = open_task(da, iid, "handle")
    assert second.task_spec == "handle" and da.instance(iid).data["handling_round"] == 2
    complete(da, iid, "handle", "liming", {"correct": [], "persuade": ["zhengtao"], "handling_basis": "经教育仍无转变"})
    complete(da, iid, "meeting_handle", "wangqiang", HANDLE_MEETING)
    assert [t.task_spec for t in da.tasks_for("liujianguo")] == ["pc_handle"]
    done = complete(da, iid, "pc_handle", "liujianguo", {"handle_approved": True})
    assert done.status == "completed"
    assert da.verify().ok


def test_corrected_member_closes_the_case(da: WorkflowService) -> None:
    iid = to_handling(da)
    complete(da, iid, "handle", "liming",
             {"correct": ["zhengtao"], "correct_by": "2027-01-15", "handling_basis": "限期改正"})
    da.advance("P2M")
    done = complete(da, iid, "recheck", "liming", {"improved": ["zhengtao"], "recheck_note": "按时参加组织生活"})
    assert done.status == "completed"


def test_rework_loops(da: WorkflowService) -> None:
    instance = da.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang")
    complete(da, instance.id, "mobilise", "wangqiang", MOBILISE)
    self_evaluate(da, instance.id)
    again = complete(da, instance.id, "review_self", "wangqiang",
                     {"returned": ["wuhao"], "review_note": "总结过于笼统"})
    assert [(t.task_spec, t.assignee) for t in again.open_tasks] == [("self_eval", "wuhao")]
    complete(da, instance.id, "self_eval", "wuhao", {**SUMMARY, "self_summary": SUMMARY["self_summary"] + "重写"})
    complete(da, instance.id, "review_self", "wangqiang", {"returned": []})
    complete(da, instance.id, "mutual", "liming", MUTUAL)
    complete(da, instance.id, "rating", "liming", RATING)
    complete(da, instance.id, "propose", "liming", {"excellent": ["zhoujie", "sungang"], "grade_basis": "测评优秀"})
    back = complete(da, instance.id, "meeting_review", "wangqiang", {**MEETING, "review_yes": 4})
    assert specs(back) == ["propose"]  # 4 of 8 is not more than half
    complete(da, instance.id, "propose", "liming", {"excellent": ["zhoujie"]})
    complete(da, instance.id, "meeting_review", "wangqiang", MEETING)
    complete(da, instance.id, "publicise", "wangqiang", {"feedback_given": True, "publicity_scope": "支部党员"})
    da.advance("P7D")
    complete(da, instance.id, "report", "wangqiang", REPORT)
    back = complete(da, instance.id, "pc_review", "liujianguo",
                    {"results_accepted": False, "pc_opinion": "周杰评为优秀的依据不充分，请重新核实"})
    assert specs(back) == ["propose"]
    complete(da, instance.id, "propose", "liming", {"excellent": [], "grade_basis": ""})
    assert specs(da.instance(instance.id)) == ["publicise"]
    assert da.verify().ok


def test_removal_rework_when_meeting_or_committee_says_no(da: WorkflowService) -> None:
    iid = to_handling(da, handling_order="direct")
    remove = {"remove": ["zhengtao"], "handling_basis": "拒不改正，坚持不参加组织生活"}
    complete(da, iid, "handle", "liming", remove)  # direct handling allows removal in the first round
    da.advance("P3M")
    back = complete(da, iid, "meeting_handle", "wangqiang", {**HANDLE_MEETING, "handle_yes": 3})
    assert specs(back) == ["handle"]
    complete(da, iid, "handle", "liming", remove)
    complete(da, iid, "meeting_handle", "wangqiang", HANDLE_MEETING)
    back = complete(da, iid, "pc_handle", "liujianguo", {"handle_approved": False, "handle_opinion": "先限期改正"})
    assert specs(back) == ["handle"]
    complete(da, iid, "handle", "liming",
             {"remove": [], "correct": ["zhengtao"], "correct_by": "2027-06-30", "handling_basis": "限期改正"})
    assert da.instance(iid).next_timer_due == datetime(2027, 6, 29, 16, 0, tzinfo=UTC)
    assert da.verify().ok


def test_publicity_period_parameter_counts_working_days(da: WorkflowService) -> None:
    iid = to_proposal(da, publicity_period="working_days(5)")
    complete(da, iid, "propose", "liming", {})
    waiting = complete(da, iid, "publicise", "wangqiang", {"feedback_given": True, "publicity_scope": "支部党员"})
    # Tuesday 2026-12-01 09:00 + 5 working days = Tuesday 2026-12-08 09:00 Beijing.
    assert waiting.next_timer_due == datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def test_every_check_refuses_with_its_message(da: WorkflowService) -> None:
    iid = da.start(PROCESS, org_unit_id="zongcai1", actor="wangqiang", data={"excellent_cap": "20"}).id
    assert "参评人员须为正式党员或预备党员" in refused(da, iid, "mobilise", "wangqiang",
                                          {**MOBILISE, "members": [*MEMBERS, "jiangtao"]})
    assert "动员学习日期不能晚于今天" in refused(da, iid, "mobilise", "wangqiang",
                                       {**MOBILISE, "mobilised_on": "2026-12-02"})
    complete(da, iid, "mobilise", "wangqiang", MOBILISE)
    [form_error] = refused(da, iid, "self_eval", "sungang", {**SUMMARY, "self_summary": "表现良好"})
    assert "至少 20 字" in form_error
    self_evaluate(da, iid)
    assert "退回人员须为参评党员" in refused(da, iid, "review_self", "wangqiang",
                                     {"returned": ["majun"], "review_note": "x"})
    assert "退回个人总结时须写明意见" in refused(da, iid, "review_self", "wangqiang", {"returned": ["wuhao"]})
    complete(da, iid, "review_self", "wangqiang", {"returned": []})
    assert "每名参评党员都须接受互评" in refused(da, iid, "mutual", "liming", {**MUTUAL, "evaluated": MEMBERS[:-1]})
    assert "互评日期不能晚于今天" in refused(da, iid, "mutual", "liming", {**MUTUAL, "mutual_on": "2026-12-02"})
    complete(da, iid, "mutual", "liming", MUTUAL)
    for change, message in [
        ({"ballots": 5}, "收回的党员测评票不能多于应参加测评的党员人数"),
        ({"ballots": 2}, "收回的测评票未达到应参加测评党员人数的半数要求，测评无效"),
        ({"rated_on": "2026-12-02"}, "测评日期不能晚于今天"),
    ]:
        assert message in refused(da, iid, "rating", "liming", {**RATING, **change}), message
    complete(da, iid, "rating", "liming", RATING)
    for data, message in [
        ({"excellent": ["majun"], "grade_basis": "x"}, "评定对象须为参评党员"),
        ({"excellent": ["zhoujie"], "basic": ["zhoujie"], "grade_basis": "x"}, "同一名党员只能评定一个等次"),
        ({"unqualified": ["zhengtao"]}, "评定为优秀、基本合格或不合格的，须写明评定依据，不能简单以票取人"),
        ({"excellent": ["zhoujie", "sungang"], "grade_basis": "x"}, "评为优秀的党员超过规定比例"),
    ]:
        assert message in refused(da, iid, "propose", "liming", data), message
    complete(da, iid, "propose", "liming", {"excellent": ["zhoujie"], "unqualified": ["zhengtao"], "grade_basis": "x"})
    for change, message in [
        ({"review_held_on": "2026-12-02"}, "会议日期不能晚于今天"),
        ({"review_present": 9}, "实到人数不能多于应到人数"),
        ({"review_present": 4, "review_yes": 4}, "到会有表决权的党员未达到应到会人数的半数要求，会议不能表决"),
        ({"review_yes": 8}, "赞成票不能多于实到人数"),
    ]:
        assert message in refused(da, iid, "meeting_review", "wangqiang", {**MEETING, **change}), message
    complete(da, iid, "meeting_review", "wangqiang", MEETING)
    assert "须先向每名党员本人反馈评议结果，再进行公示" in refused(da, iid, "publicise", "wangqiang",
                                                 {"feedback_given": False, "publicity_scope": "支部"})
    complete(da, iid, "publicise", "wangqiang", {"feedback_given": True, "publicity_scope": "支部"})
    da.advance("P7D")
    assert "报告日期不能晚于今天" in refused(da, iid, "report", "wangqiang", {**REPORT, "reported_on": "2026-12-09"})
    complete(da, iid, "report", "wangqiang", REPORT)
    assert "退回重新核实时须填写审核意见" in refused(da, iid, "pc_review", "liujianguo", {"results_accepted": False})
    complete(da, iid, "pc_review", "liujianguo", {"results_accepted": True})
    for data, message in [
        ({"correct": [], "handling_basis": "x"}, "每名不合格党员须且只能确定一种处置方式"),
        ({"persuade": ["zhengtao"], "handling_basis": "x"},
         "按党章第九条，不合格党员应先教育并限期改正；经教育仍无转变的，方可劝其退党或除名"),
        ({"correct": ["zhengtao"], "handling_basis": "x"}, "限期改正的，须确定晚于今天的改正期限"),
        ({"correct": ["zhengtao"], "correct_by": "2026-12-08", "handling_basis": "x"},
         "限期改正的，须确定晚于今天的改正期限"),
    ]:
        assert message in refused(da, iid, "handle", "liming", data), message
    complete(da, iid, "handle", "liming", {"correct": ["zhengtao"], "correct_by": "2027-03-01", "handling_basis": "x"})
    da.advance("P3M")
    assert "须对每名限期改正的党员作出是否改正的结论" in refused(da, iid, "recheck", "liming", {"recheck_note": "x"})
    complete(da, iid, "recheck", "liming", {"not_improved": ["zhengtao"], "recheck_note": "x"})
    complete(da, iid, "handle", "liming", {"correct": [], "remove": ["zhengtao"], "handling_basis": "x"})
    for change, message in [
        ({"handle_held_on": "2027-03-09"}, "会议日期不能晚于今天"),
        ({"handle_present": 9}, "实到人数不能多于应到人数"),
        ({"handle_present": 4, "handle_yes": 4}, "到会有表决权的党员未达到应到会人数的半数要求，会议不能表决"),
        ({"handle_yes": 8}, "赞成票不能多于实到人数"),
    ]:
        assert message in refused(da, iid, "meeting_handle", "wangqiang", {**HANDLE_MEETING, **change}), message
    complete(da, iid, "meeting_handle", "wangqiang", HANDLE_MEETING)
    assert "不批准时须填写审批意见" in refused(da, iid, "pc_handle", "liujianguo", {"handle_approved": False})
    assert complete(da, iid, "pc_handle", "liujianguo", {"handle_approved": True}).status == "completed"
    assert da.verify().ok


def test_inclusive_quorum_accepts_exactly_half_of_the_ballots(da: WorkflowService) -> None:
    instance = da.start(PROCESS, org_unit_id="zongcai1", data={"quorum_rule": "inclusive"})
    complete(da, instance.id, "mobilise", "wangqiang", MOBILISE)
    self_evaluate(da, instance.id)
    complete(da, instance.id, "review_self", "wangqiang", {"returned": []})
    complete(da, instance.id, "mutual", "liming", MUTUAL)
    after = complete(da, instance.id, "rating", "liming", {**RATING, "ballots": 2})
    assert specs(after) == ["propose"]
