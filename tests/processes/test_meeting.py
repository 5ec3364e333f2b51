"""The generic meeting procedure (processes/meeting.bpmn): 三会一课 and 主题党日 on the coal-mine organisation.

The clock starts on Monday 2026-03-02 09:00 Beijing time; the scheduler's start data names the March period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.errors import CheckFailed, NotAllowed
from engine.service import WorkflowService
from engine.views import InstanceView, TaskView

BRANCH = "zongcai1"
GROUP = "zongcai1_g1"
MARCH = {"period": "2026-03", "period_end": "2026-03-31"}
COMMITTEE = ["wangqiang", "liming", "zhangwei"]
# The branch's members: eight full members with a vote, zhengtao under 留党察看 and two probationary members.
VOTERS = ["wangqiang", "liming", "zhangwei", "zhaolei", "qianyong", "sungang", "zhoujie", "wuhao"]
MEMBERS = [*VOTERS, "zhengtao", "fengjun", "chenchen"]
GROUP_MEMBERS = ["zhaolei", "sungang", "zhoujie", "fengjun"]


@pytest.fixture
def meetings(library: WorkflowService, deploy: Callable[[str], None]) -> WorkflowService:
    deploy("meeting")
    return library


def start(service: WorkflowService, meeting_type: str, unit: str = BRANCH, **extra: Any) -> InstanceView:
    return service.start("meeting", org_unit_id=unit, data={"meeting_type": meeting_type, **MARCH, **extra})


def only(view: InstanceView, spec: str) -> TaskView:
    """The one open task of the instance, which must be the given step."""
    assert [t.task_spec for t in view.open_tasks] == [spec]
    return view.open_tasks[0]


def do(service: WorkflowService, view: InstanceView, spec: str, person: str, data: dict[str, Any]) -> InstanceView:
    return service.complete(only(view, spec).id, person_id=person, data=data)


def plan(expected: list[str], chair: str = "wangqiang", recorder: str = "liming", **extra: Any) -> dict[str, Any]:
    return {"topic": "学习贯彻安全生产会议精神", "meeting_on": "2026-03-06", "place": "综采一队会议室",
            "chair": chair, "recorder": recorder, "expected": expected, **extra}


NOTICE = {"notice_on": "2026-03-02", "meeting_on": "2026-03-06", "notice_channel": "platform"}


def minutes(present: list[str], absent: list[str], reasons: str, chair: str = "wangqiang",
            recorder: str = "liming", **extra: Any) -> dict[str, Any]:
    return {"held_on": "2026-03-06", "start_time": "14:30", "end_time": "16:00", "place": "综采一队会议室",
            "chair": chair, "recorder": recorder, "present": present, "absent": absent, "absent_reasons": reasons,
            "content": "书记传达会议精神，党员逐一发言", "resolutions": "一致同意开展安全隐患排查",
            "signed": True, **extra}


def prepare(service: WorkflowService, view: InstanceView, *, expected: list[str], needs_vote: bool = False,
            leave: dict[str, Any] | None = None, **plan_extra: Any) -> InstanceView:
    """Plan, agenda (with the committee's review for a member-meeting vote), notice and leave, then the meeting day."""
    view = do(service, view, "plan", "wangqiang", plan(expected, **plan_extra))
    view = do(service, view, "set_agenda", "wangqiang",
              {"agenda": "一、传达会议精神；二、讨论表决事项", "needs_vote": needs_vote,
               "vote_items": "同意开展安全隐患排查" if needs_vote else ""})
    if view.open_tasks[0].task_spec == "committee_review":
        view = do(service, view, "committee_review", "liming",
                  {"committee_met_on": "2026-03-02", "committee_opinion": "同意提交党员大会表决",
                   "committee_agrees": "agree"})
    view = do(service, view, "notice", "wangqiang", NOTICE)
    view = do(service, view, "leave", "wangqiang", leave or {})
    service.advance("P4D")  # to Friday 2026-03-06, the meeting day
    return service.instance(view.id)


def finish(service: WorkflowService, view: InstanceView, reviewer: str = "liujianguo") -> InstanceView:
    """Let each owner report on their action, then the reviewer accepts the report."""
    while view.open_tasks and view.open_tasks[0].task_spec == "follow_up":
        task = view.open_tasks[0]
        service.complete(task.id, person_id=task.assignee or "",
                         data={"action_result": "已完成", "action_done_on": "2026-03-06"})
        view = service.instance(view.id)
    spec = "g_review" if view.open_tasks[0].task_spec == "g_review" else "review"
    return do(service, view, spec, reviewer, {"review_verdict": "accepted"})


def test_branch_member_meeting_with_vote_runs_to_completion(meetings: WorkflowService) -> None:
    view = start(meetings, "branch_member_meeting")
    view = prepare(meetings, view, expected=MEMBERS, needs_vote=True,
                   leave={"on_leave": ["zhoujie", "wuhao"], "leave_reasons": "周杰：井下值班\n吴昊：外出培训",
                          "written_from": ["zhoujie"], "written_opinions": "周杰：同意"})
    present = [p for p in MEMBERS if p not in ("zhoujie", "wuhao")]
    view = do(meetings, view, "hold", "wangqiang",
              {"outcome": "held", "present": present, "absent": ["zhoujie", "wuhao"],
               "absent_reasons": "周杰：井下值班\n吴昊：外出培训"})
    view = do(meetings, view, "vote", "wangqiang",
              {"vote_method": "show_of_hands", "yes": 5, "no": 1, "written_yes": 1})
    view = do(meetings, view, "minutes", "liming",
              minutes(present, ["zhoujie", "wuhao"], "周杰：井下值班\n吴昊：外出培训",
                      action_1="组织隐患排查", action_1_owner="liming", action_1_due="2026-03-20",
                      action_2="整改台账上墙", action_2_owner="sungang", action_2_due="2026-03-27"))
    assert view.data["voters"] == VOTERS  # probationary members and zhengtao (留党察看) have no vote
    assert view.data["vote_result"] == "passed" and view.data["meeting_status"] == "on_time"
    assert sorted(t.assignee or "" for t in view.open_tasks) == ["liming", "sungang"]
    done = finish(meetings, view)
    assert done.status == "completed"
    assert done.data["held_on"] == "2026-03-06" and done.data["period_end"] == "2026-03-31"
    assert meetings.verify().ok


def test_committee_meeting_votes_by_a_majority_of_all_members(meetings: WorkflowService) -> None:
    view = start(meetings, "committee_meeting", review_reports="no")
    view = prepare(meetings, view, expected=COMMITTEE, needs_vote=True,
                   leave={"on_leave": ["zhangwei"], "leave_reasons": "张伟：出差"})
    view = do(meetings, view, "hold", "wangqiang",
              {"outcome": "held", "present": ["wangqiang", "liming"], "absent": ["zhangwei"],
               "absent_reasons": "张伟：出差"})
    view = do(meetings, view, "vote", "wangqiang", {"vote_method": "show_of_hands", "yes": 2, "no": 0})
    view = do(meetings, view, "minutes", "liming", minutes(["wangqiang", "liming"], ["zhangwei"], "张伟：出差"))
    # Two of three members present and both in favour: more than half of all three members.
    assert view.status == "completed" and view.data["vote_result"] == "passed"
    assert view.data["meeting_status"] == "on_time"  # no review wanted (parameter review_reports=no)
    assert meetings.verify().ok


@pytest.mark.parametrize("meeting_type", ["party_lecture", "theme_day"])
def test_lecture_and_theme_day_run_without_a_vote(meetings: WorkflowService, meeting_type: str) -> None:
    view = start(meetings, meeting_type)
    lecturer = {"lecturer": "王强（支部书记）"} if meeting_type == "party_lecture" else {}
    view = prepare(meetings, view, expected=MEMBERS, **lecturer)
    view = do(meetings, view, "hold", "wangqiang", {"outcome": "held", "present": MEMBERS})
    assert [t.task_spec for t in view.open_tasks] == ["minutes"]  # no vote step
    view = do(meetings, view, "minutes", "liming",
              minutes(MEMBERS, [], "", action_1="开展志愿服务", action_1_owner="zhangwei",
                      action_1_due="2026-03-13"))
    assert only(view, "follow_up").assignee == "zhangwei"
    meetings.advance("P8D")  # past the action's due date: a reminder, the owner's task stays open
    escalations = [e.payload for e in meetings.history(view.id) if e.type == "escalation"]
    assert [(e["kind"], e["timer"]) for e in escalations] == [("reminder", "action_overdue")]
    view = meetings.instance(view.id)
    follow_up = only(view, "follow_up")
    view = meetings.complete(follow_up.id, person_id="zhangwei",
                             data={"action_result": "组织党员到社区开展志愿服务", "action_done_on": "2026-03-13"})
    # The higher committee returns the record; the recorder completes it, the actions are not asked again.
    with pytest.raises(CheckFailed, match="退回补正须写明需要补正的内容"):
        do(meetings, view, "review", "liujianguo", {"review_verdict": "returned"})
    view = do(meetings, view, "review", "liujianguo", {"review_verdict": "returned", "review_note": "补充发言摘要"})
    view = do(meetings, view, "minutes", "liming", {"content": "书记讲话；党员逐一发言（摘要附后）"})
    done = do(meetings, view, "review", "liujianguo", {"review_verdict": "accepted"})
    assert done.status == "completed" and done.data["vote_result"] == "none"
    assert meetings.verify().ok


def test_lecture_needs_a_lecturer_and_lecture_cannot_vote(meetings: WorkflowService) -> None:
    view = start(meetings, "party_lecture")
    with pytest.raises(CheckFailed) as failed:
        do(meetings, view, "plan", "wangqiang", plan(MEMBERS))
    assert [f.message for f in failed.value.failures] == ["党课须明确授课人"]
    view = do(meetings, view, "plan", "wangqiang", plan(MEMBERS, lecturer="刘建国"))
    with pytest.raises(CheckFailed) as failed:
        do(meetings, view, "set_agenda", "wangqiang", {"agenda": "党课", "needs_vote": True, "vote_items": "x"})
    assert "党课、主题党日不表决" in failed.value.failures[0].message


def test_group_meeting_is_offered_to_its_group_leader_only(meetings: WorkflowService) -> None:
    view = start(meetings, "group_meeting", unit=GROUP)
    task = only(view, "g_plan")
    assert (task.role, task.org_unit_id) == ("group_leader", GROUP)
    assert [t.id for t in meetings.tasks_for("zhaolei")] == [task.id]
    for other in ("qianyong", "wangqiang", "liming", "sungang", "liujianguo"):
        assert meetings.tasks_for(other) == [], other
        with pytest.raises(NotAllowed):
            meetings.complete(task.id, person_id=other, data=plan(GROUP_MEMBERS, "zhaolei", "sungang"))
    view = do(meetings, view, "g_plan", "zhaolei", plan(GROUP_MEMBERS, "zhaolei", "sungang"))
    view = do(meetings, view, "g_agenda", "zhaolei", {"agenda": "学习安全规程，交流岗位履责情况"})
    view = do(meetings, view, "g_notice", "zhaolei", NOTICE)
    view = do(meetings, view, "g_leave", "zhaolei", {"on_leave": ["fengjun"], "leave_reasons": "冯军：病假"})
    meetings.advance("P4D")
    view = meetings.instance(view.id)
    view = do(meetings, view, "g_hold", "zhaolei",
              {"outcome": "held", "present": ["zhaolei", "sungang", "zhoujie"], "absent": ["fengjun"],
               "absent_reasons": "冯军：病假"})
    # The recorder named in the plan writes the minutes.
    assert only(view, "minutes").assignee == "sungang"
    view = do(meetings, view, "minutes", "sungang",
              minutes(["zhaolei", "sungang", "zhoujie"], ["fengjun"], "冯军：病假", "zhaolei", "sungang"))
    # A group meeting reports to its branch committee (parameter group_oversight).
    review = only(view, "g_review")
    assert [t.id for t in meetings.tasks_for("liming")] == [review.id]
    assert meetings.tasks_for("liujianguo") == []
    done = finish(meetings, view, reviewer="liming")
    assert done.status == "completed" and done.data["held_on"] == "2026-03-06"
    assert meetings.verify().ok


def test_member_meeting_without_quorum_is_refused_and_can_be_rescheduled(meetings: WorkflowService) -> None:
    view = prepare(meetings, start(meetings, "branch_member_meeting"), expected=MEMBERS)
    hold = only(view, "hold")
    before = meetings.instance(view.id)
    # Four of the eight voting members, plus the three without a vote: 4 * 2 is not more than 8.
    present = ["wangqiang", "liming", "zhangwei", "zhaolei", "zhengtao", "fengjun", "chenchen"]
    absent = ["qianyong", "sungang", "zhoujie", "wuhao"]
    reasons = "钱勇：出差\n孙刚：病假\n周杰：值班\n吴昊：培训"
    with pytest.raises(CheckFailed) as failed:
        meetings.complete(hold.id, person_id="wangqiang",
                          data={"outcome": "held", "present": present, "absent": absent, "absent_reasons": reasons})
    assert [(f.field, f.rule) for f in failed.value.failures] == [("present", "quorum_member")]
    assert failed.value.failures[0].message.startswith("到会的有表决权正式党员未超过应到会有表决权党员的半数")
    after = meetings.instance(view.id)
    assert (after.version, after.status, after.data) == (before.version, before.status, before.data)
    assert meetings.task(hold.id).state == "ready"
    assert meetings.history(view.id)[-1].type == "check_failed"
    # Not enough members came: reschedule, notify again and hold it with a quorum.
    view = meetings.complete(hold.id, person_id="wangqiang", data={"outcome": "postponed"})
    view = do(meetings, view, "notice", "wangqiang", {"notice_on": "2026-03-06", "meeting_on": "2026-03-10"})
    view = do(meetings, view, "leave", "wangqiang", {})
    meetings.advance("P4D")
    view = do(meetings, meetings.instance(view.id), "hold", "wangqiang",
              {"outcome": "held", "present": [*present, "qianyong"], "absent": absent[1:],
               "absent_reasons": reasons})
    assert only(view, "minutes").assignee == "liming"
    assert meetings.verify().ok


def test_half_or_more_reading_is_configurable(meetings: WorkflowService) -> None:
    view = start(meetings, "branch_member_meeting", attendance_rule="half_or_more")
    view = prepare(meetings, view, expected=MEMBERS)
    present = ["wangqiang", "liming", "zhangwei", "zhaolei"]  # exactly half of the eight voters
    view = do(meetings, view, "hold", "wangqiang",
              {"outcome": "held", "present": present, "absent": [p for p in MEMBERS if p not in present],
               "absent_reasons": "钱勇、孙刚、周杰、吴昊、郑涛、冯军、陈晨：井下生产"})
    assert only(view, "minutes").task_spec == "minutes"


def test_committee_meeting_without_quorum_is_refused(meetings: WorkflowService) -> None:
    view = prepare(meetings, start(meetings, "committee_meeting"), expected=COMMITTEE)
    with pytest.raises(CheckFailed) as failed:
        do(meetings, view, "hold", "wangqiang", {"outcome": "held", "present": ["wangqiang"],
                                                 "absent": ["liming", "zhangwei"], "absent_reasons": "李明：出差"})
    assert {f.message for f in failed.value.failures} == {
        "到会的支部委员未超过应到会委员的半数，支部委员会会议不能召开；请选择“改期召开”",
        "每名缺席人员都须写明缺席原因（按“姓名：原因”填写）"}


def test_failed_vote_is_retabled_or_recorded(meetings: WorkflowService) -> None:
    view = prepare(meetings, start(meetings, "committee_meeting"), expected=COMMITTEE, needs_vote=True)
    view = do(meetings, view, "hold", "wangqiang", {"outcome": "held", "present": COMMITTEE})
    with pytest.raises(CheckFailed, match="表决票数不能多于到会的有表决权人数"):
        do(meetings, view, "vote", "wangqiang", {"vote_method": "show_of_hands", "yes": 3, "no": 1})
    # One yes of three members is not more than half of all members: the vote fails.
    view = do(meetings, view, "vote", "wangqiang", {"vote_method": "secret_ballot", "yes": 1, "no": 2})
    view = do(meetings, view, "vote_failed", "wangqiang",
              {"failed_decision": "retable", "failed_note": "补充排查方案后重新提交"})
    view = do(meetings, view, "set_agenda", "wangqiang",
              {"agenda": "审议修改后的排查方案", "needs_vote": True, "vote_items": "修改后的排查方案"})
    view = do(meetings, view, "notice", "wangqiang", {"notice_on": "2026-03-06", "meeting_on": "2026-03-10"})
    view = do(meetings, view, "leave", "wangqiang", {})
    meetings.advance("P4D")
    view = do(meetings, meetings.instance(view.id), "hold", "wangqiang", {"outcome": "held", "present": COMMITTEE})
    view = do(meetings, view, "vote", "wangqiang", {"vote_method": "show_of_hands", "yes": 1, "no": 2})
    view = do(meetings, view, "vote_failed", "wangqiang", {"failed_decision": "drop", "failed_note": "暂缓实施"})
    view = do(meetings, view, "minutes", "liming",
              minutes(COMMITTEE, [], "", held_on="2026-03-10", resolutions="排查方案表决未通过（1票赞成，2票反对）"))
    assert view.data["vote_result"] == "failed"
    assert finish(meetings, view).status == "completed"
    assert meetings.verify().ok


def test_minutes_missing_required_fields_are_refused(meetings: WorkflowService) -> None:
    view = prepare(meetings, start(meetings, "theme_day"), expected=COMMITTEE)
    view = do(meetings, view, "hold", "wangqiang",
              {"outcome": "held", "present": ["wangqiang", "liming"], "absent": ["zhangwei"],
               "absent_reasons": "张伟：出差"})
    task = only(view, "minutes")
    before = meetings.instance(view.id)
    incomplete = minutes(["wangqiang", "liming"], ["zhangwei"], "张伟：出差")
    for key in ("start_time", "content", "resolutions", "signed"):
        del incomplete[key]
    with pytest.raises(CheckFailed) as failed:
        meetings.complete(task.id, person_id="liming", data={**incomplete, "place": ""})
    assert {f.field: f.message for f in failed.value.failures} == {
        "start_time": "「开始时间」为必填项", "place": "「会议地点」为必填项",
        "content": "「会议内容（报告、发言摘要、主持人小结）」为必填项",
        "resolutions": "「决议或议定事项（含表决结果）」为必填项", "signed": "「主持人、记录人已签字确认」为必填项"}
    with pytest.raises(CheckFailed) as failed:
        meetings.complete(task.id, person_id="liming", data=minutes(
            ["wangqiang", "liming"], ["zhangwei"], "", chair="zhangwei", held_on="2026-03-07",
            action_1="整改", action_1_owner="liming"))
    assert {f.message for f in failed.value.failures} == {
        "召开日期不能晚于今天（会议记录在会后填写）", "主持人应在出席人员之中",
        "每名缺席人员都须写明缺席原因（按“姓名：原因”填写）", "每项落实事项都须指定责任人和完成期限"}
    after = meetings.instance(view.id)
    assert (after.version, after.data) == (before.version, before.data)
    view = meetings.complete(task.id, person_id="liming",
                             data=minutes(["wangqiang", "liming"], ["zhangwei"], "张伟：出差"))
    assert only(view, "review").role == "higher_committee"
    assert meetings.verify().ok


def test_missed_deadline_escalates_to_the_higher_committee(meetings: WorkflowService) -> None:
    view = start(meetings, "branch_member_meeting")
    view = do(meetings, view, "plan", "wangqiang", plan(MEMBERS))
    agenda = only(view, "set_agenda")
    meetings.advance("P25D")  # Friday 27 March: the reminder five days before the period end has fired
    escalations = [e.payload for e in meetings.history(view.id) if e.type == "escalation"]
    assert [(e["kind"], e["timer"]) for e in escalations] == [("reminder", "period_reminder")]
    assert meetings.task(agenda.id).state == "ready"
    meetings.advance("P5D")  # past the end of 31 March: the deadline interrupts the preparation
    escalations = [e.payload for e in meetings.history(view.id) if e.type == "escalation"]
    assert escalations[-1]["kind"] == "deadline" and escalations[-1]["timer"] == "period_deadline"
    assert meetings.task(agenda.id).state == "cancelled"
    view = meetings.instance(view.id)
    supervise = only(view, "supervise")
    assert (supervise.role, supervise.org_unit_id) == ("higher_committee", BRANCH)
    assert supervise.id in [t.id for t in meetings.tasks_for("liujianguo")]
    assert meetings.tasks_for("wangqiang") == []
    with pytest.raises(NotAllowed):
        meetings.complete(supervise.id, person_id="wangqiang", data={})
    with pytest.raises(CheckFailed, match="责令补开须给出晚于今天的补开期限"):
        do(meetings, view, "supervise", "liujianguo",
           {"supervision_note": "限期补开", "supervision_decision": "make_up", "make_up_by": "2026-03-31"})
    view = do(meetings, view, "supervise", "liujianguo",
              {"supervision_note": "一季度党员大会未按期召开，限4月15日前补开", "supervision_decision": "make_up",
               "make_up_by": "2026-04-15"})
    # The branch holds the first-quarter meeting late, within the make-up deadline.
    view = do(meetings, view, "plan", "wangqiang", plan(MEMBERS, meeting_on="2026-04-08"))
    view = do(meetings, view, "set_agenda", "wangqiang", {"agenda": "补开一季度党员大会"})
    view = do(meetings, view, "notice", "wangqiang", {"notice_on": "2026-04-01", "meeting_on": "2026-04-08"})
    view = do(meetings, view, "leave", "wangqiang", {})
    meetings.advance("P7D")
    view = do(meetings, meetings.instance(view.id), "hold", "wangqiang", {"outcome": "held", "present": MEMBERS})
    view = do(meetings, view, "minutes", "liming", minutes(MEMBERS, [], "", held_on="2026-04-08"))
    done = finish(meetings, view)
    assert done.status == "completed"
    assert (done.data["held_on"], done.data["meeting_status"], done.data["supervisions"]) == ("2026-04-08", "late", 1)
    assert meetings.verify().ok


@pytest.mark.parametrize("oversight, supervisor, spec", [("branch_committee", "liming", "g_supervise"),
                                                       ("higher_committee", "liujianguo", "supervise")])
def test_supervisor_may_record_a_missed_group_meeting(meetings: WorkflowService, oversight: str, supervisor: str,
                                                      spec: str) -> None:
    view = start(meetings, "group_meeting", unit=GROUP, group_oversight=oversight)
    meetings.advance("P31D")
    view = meetings.instance(view.id)
    assert [t.id for t in meetings.tasks_for(supervisor)] == [only(view, spec).id]
    view = do(meetings, view, spec, supervisor,
              {"supervision_note": "三月党小组会未开", "supervision_decision": "missed"})
    assert view.status == "completed" and view.data["meeting_status"] == "missed"
    assert "held_on" not in view.data
    assert meetings.verify().ok
