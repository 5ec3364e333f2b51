"""party_dues: one member's dues for one month, from the amount due to payment, reminders and lapse (§2.4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.clock import VirtualClock
from engine.errors import ExecutionError
from engine.service import WorkflowService
from engine.views import InstanceView
from tests.processes.steps import complete, fired, open_task, refused

PROCESS = "party_dues"
# 孙刚, a member of 综采一队党支部, after-tax fixed monthly pay 4200 RMB: 1 % = 42.00 RMB.
MARCH = {"member": "sungang", "period": "2026-03", "base": 4200, "category": "employed"}
PAY = {"amount": 42, "paid_on": "2026-03-02", "channel": "online"}
RECEIVED = {"received": True, "receipt_no": "ZC1-2026-03-017"}
LAPSE = {"held_on": "2026-09-02", "months_unpaid": 6, "good_reason": False, "expected": 8, "present": 7, "yes": 6,
         "decision": "lapse"}


@pytest.fixture
def dues(library: WorkflowService, deploy: Callable[[str], None]) -> WorkflowService:
    deploy(PROCESS)
    return library


def start(service: WorkflowService, **data: Any) -> InstanceView:
    return service.start(PROCESS, org_unit_id="zongcai1", actor="liming", data={**MARCH, **data},
                         title="党费 · 孙刚 · 2026-03", business_key="sungang:2026-03")


def test_member_pays_and_organizer_receipts(dues: WorkflowService) -> None:
    instance = start(dues)
    assert instance.data["amount_due"] == 42.0 and instance.data["rate_percent"] == 1.0
    assert instance.data["member_name"] == "孙刚"
    pay = open_task(dues, instance.id, "pay")
    assert (pay.assignee, pay.lean_class, pay.sla) == ("sungang", "VA", "P1M")
    assert pay.due_at == datetime(2026, 4, 2, 1, 0, tzinfo=UTC)
    assert [t.task_spec for t in dues.tasks_for("sungang")] == ["pay"]
    assert instance.next_timer_due == datetime(2026, 4, 2, 1, 0, tzinfo=UTC)  # the P1M reminder

    complete(dues, instance.id, "pay", "sungang", {**PAY, "amount": 50})
    confirm = open_task(dues, instance.id, "confirm")
    assert (confirm.role, confirm.org_unit_id) == ("organizer", "zongcai1")
    assert [t.task_spec for t in dues.tasks_for("liming")] == ["confirm"]
    done = complete(dues, instance.id, "confirm", "liming", RECEIVED)

    assert done.status == "completed" and done.open_tasks == []
    assert done.data["voluntary_extra"] == 8.0 and done.data["extra_to_centre"] is False
    events = dues.history(instance.id)
    assert sorted(e.payload["spec"] for e in events if e.type == "timer_cancelled") == [
        "lapse_6m", "remind_1m", "talk_3m"]
    assert "timer_fired" not in [e.type for e in events]
    assert dues.verify().ok


def test_amount_due_follows_the_bands(dues: WorkflowService) -> None:
    cases = [("employed", 3000, 15.0), ("employed", 3000.5, 30.01), ("employed", 5000, 50.0),
             ("employed", 8000, 120.0), ("annual_salary", 10000, 150.0), ("self_employed", 12000, 240.0),
             ("retired", 5000, 25.0), ("retired", 6000, 60.0), ("farmer", 0, 0.2), ("low_income", 0, 0.2)]
    for category, base, due in cases:
        instance = start(dues, category=category, base=base)
        assert instance.data["amount_due"] == due, (category, base)
    changed = start(dues, rate_bands="4000:0.5,*:1", base=4000)
    assert changed.data["amount_due"] == 20.0


def test_bad_start_data_creates_nothing(dues: WorkflowService) -> None:
    with pytest.raises(ExecutionError, match="缴费类别"):
        start(dues, category="unknown")
    with pytest.raises(ExecutionError, match="不是正式党员或预备党员"):
        start(dues, member="weidong")  # a development target pays no dues
    with pytest.raises(ExecutionError, match="缴费比例表未覆盖"):
        start(dues, rate_bands="3000:0.5,5000:1", base=6000)
    assert dues.instances(process_id=PROCESS) == []


def test_unreceived_payment_goes_back_without_restarting_the_overdue_clock(dues: WorkflowService,
                                                                          library_clock: VirtualClock) -> None:
    instance = start(dues)
    complete(dues, instance.id, "pay", "sungang", PAY)
    dues.advance("P10D")
    back = complete(dues, instance.id, "confirm", "liming", {"received": False, "confirm_note": "转账未到账"})
    assert [t.task_spec for t in back.open_tasks] == ["pay"]
    assert back.next_timer_due == datetime(2026, 4, 2, 1, 0, tzinfo=UTC)  # still counted from the month's start
    assert [e.type for e in dues.history(instance.id)].count("timer_due") == 3
    complete(dues, instance.id, "pay", "sungang", {**PAY, "paid_on": "2026-03-12"})
    assert complete(dues, instance.id, "confirm", "liming", RECEIVED).status == "completed"
    assert dues.verify().ok


def test_overdue_timers_fire_in_order_and_lapse_is_approved(dues: WorkflowService) -> None:
    instance = start(dues)
    dues.advance("P7M")
    assert fired(dues, instance.id) == [("remind_1m", "2026-04-02T01:00:00+00:00"),
                                        ("talk_3m", "2026-06-02T01:00:00+00:00"),
                                        ("lapse_6m", "2026-09-02T01:00:00+00:00")]
    escalations = [e.payload["kind"] for e in dues.history(instance.id) if e.type == "escalation"]
    assert escalations == ["reminder", "reminder", "deadline"]
    now = dues.instance(instance.id)
    assert sorted(t.task_spec for t in now.open_tasks) == ["lapse_meeting", "remind", "talk"]
    assert {t.task_spec: t.role for t in now.open_tasks} == {
        "remind": "organizer", "talk": "secretary", "lapse_meeting": "member_meeting"}
    assert "pay" not in [t.task_spec for t in dues.tasks_for("sungang")]

    complete(dues, instance.id, "remind", "liming", {"reminded_on": "2026-04-02", "remind_method": "phone"})
    complete(dues, instance.id, "talk", "wangqiang",
             {"talk_date": "2026-06-03", "correct_by": "2026-07-31",
              "talk_record": "谈话提醒，进行批评教育，要求限期补交。"})
    complete(dues, instance.id, "lapse_meeting", "wangqiang", LAPSE)
    approve = open_task(dues, instance.id, "pc_approve")
    assert (approve.role, approve.org_unit_id) == ("higher_committee", "zongcai1")
    assert [t.task_spec for t in dues.tasks_for("liujianguo")] == ["pc_approve"]
    done = complete(dues, instance.id, "pc_approve", "liujianguo", {"approved": True, "approved_on": "2026-10-02"})
    assert done.status == "completed"
    ended = [e for e in dues.history(instance.id) if e.type == "task_completed"][-1]
    assert ended.payload["spec"] == "pc_approve"
    assert dues.verify().ok


def test_each_timer_fires_only_when_due(dues: WorkflowService) -> None:
    instance = start(dues)
    dues.advance("P1M")
    assert [s for s, _ in fired(dues, instance.id)] == ["remind_1m"]
    assert sorted(t.task_spec for t in dues.instance(instance.id).open_tasks) == ["pay", "remind"]
    dues.advance("P2M")
    assert [s for s, _ in fired(dues, instance.id)] == ["remind_1m", "talk_3m"]
    # Paying after the talk cancels the lapse timer; the reminder and talk tasks still need closing.
    complete(dues, instance.id, "pay", "sungang", {**PAY, "paid_on": "2026-06-02"})
    complete(dues, instance.id, "confirm", "liming", RECEIVED)
    assert "lapse_6m" in [e.payload["spec"] for e in dues.history(instance.id) if e.type == "timer_cancelled"]
    complete(dues, instance.id, "remind", "liming", {"reminded_on": "2026-04-03", "remind_method": "in_person"})
    done = complete(dues, instance.id, "talk", "wangqiang", {"talk_date": "2026-06-02",
                                                            "talk_record": "已谈话，本人表示立即补交党费。",
                                                            "correct_by": "2026-06-10"})
    assert done.status == "completed"
    dues.advance("P6M")
    assert [s for s, _ in fired(dues, instance.id)] == ["remind_1m", "talk_3m"]


@pytest.mark.parametrize("decision", ["keep", "refused"])
def test_lapse_not_decided_or_not_approved_leads_to_catch_up(dues: WorkflowService, decision: str) -> None:
    instance = start(dues)
    dues.advance("P6M")
    if decision == "keep":
        complete(dues, instance.id, "lapse_meeting", "wangqiang",
                 {**LAPSE, "good_reason": True, "reason": "长期外派海外项目，无法按月交纳", "decision": "keep",
                  "yes": 0})
    else:
        complete(dues, instance.id, "lapse_meeting", "wangqiang", LAPSE)
        complete(dues, instance.id, "pc_approve", "liujianguo",
                 {"approved": False, "approved_on": "2026-09-10", "pc_opinion": "本人已表示补交，暂不作处理"})
    catch_up = open_task(dues, instance.id, "catch_up")
    assert catch_up.role == "organizer"
    complete(dues, instance.id, "catch_up", "liming",
             {"catch_up_amount": 252, "catch_up_on": "2026-09-02", "catch_up_receipt": "ZC1-2026-09-003"})
    for spec, person, data in [("remind", "liming", {"reminded_on": "2026-04-02", "remind_method": "message"}),
                               ("talk", "wangqiang", {"talk_date": "2026-06-02", "correct_by": "2026-06-30",
                                                      "talk_record": "谈话提醒，要求限期补交。"})]:
        last = complete(dues, instance.id, spec, person, data)
    assert last.status == "completed"
    assert dues.verify().ok


def test_every_check_refuses_with_its_message(dues: WorkflowService) -> None:
    instance = start(dues)
    assert "缴纳金额低于按收入比例核定的本月应缴党费" in refused(dues, instance.id, "pay", "sungang",
                                                  {**PAY, "amount": 41.99})
    assert "缴纳日期不能晚于今天" in refused(dues, instance.id, "pay", "sungang", {**PAY, "paid_on": "2026-03-03"})
    complete(dues, instance.id, "pay", "sungang", PAY)
    assert "已核收的党费须填写收据编号" in refused(dues, instance.id, "confirm", "liming", {"received": True})
    assert "退回重新缴纳时须说明未到账原因" in refused(dues, instance.id, "confirm", "liming", {"received": False})
    complete(dues, instance.id, "confirm", "liming", {"received": False, "confirm_note": "未到账"})

    dues.advance("P6M")
    assert "催缴日期不能晚于今天" in refused(dues, instance.id, "remind", "liming",
                                     {"reminded_on": "2026-12-01", "remind_method": "phone"})
    talk = {"talk_date": "2026-06-02", "talk_record": "谈话提醒，要求限期补交。", "correct_by": "2026-06-30"}
    assert "谈话日期不能晚于今天" in refused(dues, instance.id, "talk", "wangqiang",
                                     {**talk, "talk_date": "2026-12-01", "correct_by": "2026-12-31"})
    assert "限期补交日期须晚于谈话日期" in refused(dues, instance.id, "talk", "wangqiang",
                                        {**talk, "correct_by": "2026-06-02"})
    meeting = {**LAPSE, "held_on": "2026-09-02"}
    bad_meetings = [
        ({"held_on": "2026-09-03"}, "会议日期不能晚于今天"),
        ({"present": 9}, "实到人数不能多于应到人数"),
        ({"present": 4, "yes": 4}, "到会有表决权的党员未达到应到会人数的半数要求，会议不能作出决定"),
        ({"yes": 8}, "赞成票不能多于实到人数"),
        ({"months_unpaid": 5}, "连续6个月不交纳党费的，才能按自行脱党处理"),
        ({"good_reason": True, "reason": "病休"}, "有正当理由未交纳党费的，不能按自行脱党处理"),
        ({"good_reason": True, "decision": "keep"}, "认定有正当理由的，须写明理由"),
        ({"yes": 4}, "赞成票未超过应到会有表决权党员的半数，不能作出自行脱党决定"),
    ]
    for change, message in bad_meetings:
        assert message in refused(dues, instance.id, "lapse_meeting", "wangqiang", {**meeting, **change}), message
    complete(dues, instance.id, "lapse_meeting", "wangqiang", meeting)
    assert "不批准时须填写审批意见" in refused(dues, instance.id, "pc_approve", "liujianguo",
                                       {"approved": False, "approved_on": "2026-09-02"})
    assert "审批日期不能早于支部大会日期" in refused(dues, instance.id, "pc_approve", "liujianguo",
                                         {"approved": True, "approved_on": "2026-09-01"})
    complete(dues, instance.id, "pc_approve", "liujianguo",
             {"approved": False, "approved_on": "2026-09-02", "pc_opinion": "先限期补交"})
    catch_up = {"catch_up_amount": 252, "catch_up_on": "2026-09-02", "catch_up_receipt": "R-1"}
    assert "补交金额低于本月应缴党费" in refused(dues, instance.id, "catch_up", "liming",
                                      {**catch_up, "catch_up_amount": 40})
    assert "补交日期不能晚于今天" in refused(dues, instance.id, "catch_up", "liming",
                                     {**catch_up, "catch_up_on": "2026-09-03"})
    failures = [e for e in dues.history(instance.id) if e.type == "check_failed"]
    assert len(failures) == 19
    assert dues.verify().ok


def test_inclusive_quorum_parameter_accepts_exactly_half(dues: WorkflowService) -> None:
    strict = start(dues)
    inclusive = start(dues, quorum_rule="inclusive")
    dues.advance("P6M")
    half = {**LAPSE, "held_on": "2026-09-02", "expected": 6, "present": 3, "yes": 0, "decision": "keep",
            "good_reason": True, "reason": "病休"}
    assert "到会有表决权的党员未达到应到会人数的半数要求，会议不能作出决定" in refused(
        dues, strict.id, "lapse_meeting", "wangqiang", half)
    after = complete(dues, inclusive.id, "lapse_meeting", "wangqiang", half)
    assert "catch_up" in [t.task_spec for t in after.open_tasks]
