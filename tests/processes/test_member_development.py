"""发展党员 (member development) end to end on the coal-mine organisation under the virtual clock.

One happy path per rule version, every timer (talk reminder, half-yearly activist assessment, one-year cultivation,
5-working-day notice, approval warning and limit, oath, probation, extension, conversion approval), every rework loop,
and every check refused with its Chinese message while nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.clock import VirtualClock
from engine.errors import CheckFailed, NotAllowed
from engine.service import WorkflowService
from engine.views import EventView, InstanceView, TaskView

BEIJING = ZoneInfo("Asia/Shanghai")
PROCESS = "member_development"
FILE = {"sha256": "a" * 64, "name": "扫描件.pdf", "size": 2048, "type": "application/pdf"}
BC = {"committee_size": 3, "committee_present": 3}
STEPS = [f"d{n:02d}" for n in range(1, 26)]  # D01..D25 as the prefixes of the task ids
NOTICE_STEPS = ("d07_notice", "d07_feedback")
SIDE_TASKS = ("d06_contact", "d06_assess", "d21_assess")  # spawned by the half-yearly and quarterly cycles


@dataclass(frozen=True)
class Branch:
    """A branch of the coal mine and the people who act in the procedure there."""

    unit: str
    applicant: str
    secretary: str
    organizer: str
    contacts: list[str]
    voters: list[str]  # full members with a vote (no probationary member, nobody under 留党察看)
    group: str
    higher: str = "liujianguo"
    dept: str = "zhoumin"


ZONGCAI1 = Branch("zongcai1", "shenyu", "wangqiang", "liming", ["sungang", "zhoujie"],
                  ["wangqiang", "liming", "zhangwei", "zhaolei", "qianyong", "sungang", "zhoujie", "wuhao"],
                  "综采一队第二党小组")
JUEJIN2 = Branch("juejin2", "xieyi", "majun", "huangli", ["luobin", "gaofei"],
                 ["majun", "huangli", "xuming", "hejun", "luobin", "gaofei", "linfeng"], "掘进二队第一党小组")

# The happy path, in order; (task id, how long to wait before the next step).
PATH: list[tuple[str, str | None]] = [
    ("d01_apply", "P7D"), ("d02_talk", "P7D"), ("d03_activist", None), ("d04_file", None), ("d05_contacts", None),
    ("d06_conclusion", None), ("d07_notice", None), ("d07_feedback", None), ("d07_decide", None), ("d08_file", None),
    ("d09_introducers", None), ("d10_review", "P7D"), ("d11_training", None), ("d12_bc_review", None),
    ("d13_prereview", None), ("d14_form", None), ("d14_intro1", None), ("d14_intro2", None), ("d15_meeting", None),
    ("d16_interview", None), ("d17_approve", None), ("d18_file", None), ("d19_group", None), ("d20_oath", None),
    ("d22_apply", None), ("d23_meeting", None), ("d24_approve", None), ("d25_archive", None),
]


@dataclass
class Case:
    """One 发展党员 instance driven through the service the way people would, step by step."""

    service: WorkflowService
    clock: VirtualClock
    branch: Branch
    instance_id: int
    done: list[str] = field(default_factory=list)

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def instance(self) -> InstanceView:
        return self.service.instance(self.instance_id)

    @property
    def data(self) -> dict[str, Any]:
        return self.instance.data

    def today(self) -> str:
        return self.clock.now().astimezone(BEIJING).date().isoformat()

    def open_specs(self) -> list[str]:
        return sorted(t.task_spec for t in self.instance.open_tasks)

    def task(self, spec: str) -> TaskView:
        tasks = [t for t in self.instance.open_tasks if t.task_spec == spec]
        assert tasks, f"{spec} is not open; open: {self.open_specs()}"
        return tasks[0]

    def events(self, kind: str | None = None) -> list[EventView]:
        return [e for e in self.service.history(self.instance_id) if kind is None or e.type == kind]

    def fired(self, timer: str) -> list[str]:
        return [e.payload["due"] for e in self.events("timer_fired") if e.payload["spec"] == timer]

    # -- acting -------------------------------------------------------------------------------------------

    def person_for(self, task: TaskView) -> str:
        b = self.branch
        by_role = {"secretary": b.secretary, "branch_committee": b.secretary, "member_meeting": b.secretary,
                   "organizer": b.organizer, "higher_committee": b.higher, "organization_dept": b.dept}
        return task.assignee or by_role[task.role or ""]

    def complete(self, spec: str, person: str | None = None, **overrides: Any) -> InstanceView:
        task = self.task(spec)
        data = {**self.form(spec), **overrides}
        result = self.service.complete(task.id, person_id=person or self.person_for(task), data=data)
        self.done.append(spec)
        return result

    def refused(self, spec: str, message: str, field_id: str | None = None, **overrides: Any) -> None:
        """Submit bad data: the step is refused with the message, and the instance and task are untouched."""
        task = self.task(spec)
        before = self.instance
        with pytest.raises(CheckFailed) as failed:
            self.service.complete(task.id, person_id=self.person_for(task), data={**self.form(spec), **overrides})
        found = [f for f in failed.value.failures if message in f.message]
        assert found, f"{spec}: expected «{message}», got {[f.message for f in failed.value.failures]}"
        if field_id is not None:
            assert found[0].field == field_id
        after = self.instance
        assert (after.version, after.status, after.data) == (before.version, before.status, before.data)
        assert self.service.task(task.id).state in ("ready", "claimed")
        assert self.events()[-1].type == "check_failed"

    def advance(self, duration: str | timedelta) -> None:
        self.service.advance(duration)

    def advance_to(self, day: str, hour: int = 9) -> None:
        target = datetime.fromisoformat(day).replace(hour=hour, tzinfo=BEIJING)
        assert target >= self.clock.now(), f"{day} is in the past"
        self.service.advance(target - self.clock.now())

    def finish_side_tasks(self) -> None:
        """Do the half-yearly and quarterly assessments that the cycles have opened."""
        for _ in range(20):
            side = [t for t in self.instance.open_tasks if t.task_spec in SIDE_TASKS]
            if not side:
                return
            self.complete(side[0].task_spec)

    def wait_for(self, spec: str, step: str = "P1M", limit: int = 40) -> None:
        """Let time pass (doing the periodic assessments) until a step opens."""
        for _ in range(limit):
            if spec in self.open_specs():
                return
            self.advance(step)
            self.finish_side_tasks()
        raise AssertionError(f"{spec} never opened; open: {self.open_specs()}")

    def _position(self) -> int:
        """Where the case stands on the happy path: the first open step, or the one after the last done."""
        specs = [spec for spec, _pause in PATH]
        open_now = set(self.open_specs())
        for index, spec in enumerate(specs):
            if spec in open_now:
                return index
        for spec in reversed(self.done):
            if spec in specs:
                return specs.index(spec) + 1
        return 0

    def run_to(self, target: str | None = None) -> Case:
        """Walk on along the happy path up to the step target (left open), or to the end."""
        for spec, pause in PATH[self._position():]:
            if spec in NOTICE_STEPS and self.data["rule_version"] != "2026-05":
                continue
            self.wait_for(spec, "P1D" if spec == "d07_feedback" else "P1M")
            if spec == target:
                return self
            self.complete(spec)
            if pause:
                self.advance(pause)
        assert target is None, f"{target} is not on the happy path"
        return self

    # -- the data people enter ----------------------------------------------------------------------------

    def form(self, spec: str) -> dict[str, Any]:
        b, today = self.branch, self.today()
        forms: dict[str, dict[str, Any]] = {
            "d01_apply": {"application_date": today, "unit_name": "东山煤矿", "application_letter": FILE},
            "d02_talk": {"talker": b.organizer, "talk_date": today, "talk_record": "了解入党动机，提出努力方向"},
            "esc_talk": {"talk_supervision": "请组织委员本周内完成谈话"},
            "d03_activist": {"recommend_type": "党员推荐", "recommendation": "党小组推荐", **BC,
                             "activist_decision": "确定为入党积极分子", "activist_date": today},
            "d04_file": {"activist_filing": "已备案", "activist_filing_date": today},
            "d05_contacts": {"contacts": b.contacts},
            "d06_contact": {"contact_opinion": "表现积极，按时汇报思想", "thought_reports": 2},
            "d06_assess": {"assessment_date": today, "group_opinion": "同意", "assessment_opinion": "合格"},
            "d06_conclusion": {"cultivation_summary": "培养一年，表现良好", "conclusion_date": today,
                               "cultivation_conclusion": "可列为发展对象人选"},
            "d07_notice": {"notice_content": "拟列为发展对象", "notice_place": "支部公示栏和党建平台"},
            "d07_feedback": {"notice_feedback": "公示期间未收到意见", "notice_result": "无异议"},
            "d07_decide": {"opinions_heard": "党小组、培养联系人、党员和群众均同意", **BC,
                           "target_decision": "列为发展对象", "target_date": today},
            "d08_file": {"target_filing": "同意", "target_filing_date": today},
            "d09_introducers": {"introducers": b.contacts},
            "d10_review": {"review_methods": "谈话、查档、函调", "review_conclusion": "政治历史清楚，表现良好",
                           "review_result": "合格", "review_date": today},
            "d11_training": {"training_days": 3, "training_hours": 24, "training_end": today},
            "d12_bc_review": {"bc_review_opinion": "条件成熟", **BC, "bc_review_result": "合格，报上级党委预审",
                              "bc_review_date": today},
            "d13_prereview": {"prereview_result": "合格", "prereview_date": today, "prereview_notice": "预审合格",
                              "volunteer_form_no": "DS-2027-001"},
            "d14_form": {"volunteer_form": FILE, "form_filled_date": today},
            "d14_intro1": {"introducer_1_opinion": "同意介绍入党"},
            "d14_intro2": {"introducer_2_opinion": "同意介绍入党"},
            "d15_meeting": {"meeting_date": today, "voters": b.voters, "present": b.voters[:-1], "yes": 6, "no": 1,
                            "abstain": 0, "resolution": "同意接收为预备党员"},
            "esc_meeting": {"meeting_supervision": "请尽快召开支部大会"},
            "d16_interview": {"interviewer": b.dept, "interview_date": today, "interview_opinion": "入党动机端正"},
            "d17_approve": {"approval_decision": "批准", "approval_date": today, "approval_meeting": "党委会第12次"},
            "esc_approval": {"approval_supervision": "请抓紧审批"},
            "d17_overdue": {"overdue_note": "超过六个月未审批，重新提交支部大会"},
            "d17_notify": {"notify_note": "已谈话，继续努力"},
            "d18_file": {"od2_filed_date": today},
            "d19_group": {"party_group": b.group},
            "d20_oath": {"oath_date": today, "oath_host": b.secretary},
            "esc_oath": {"oath_supervision": "请本月组织宣誓"},
            "d21_assess": {"d21_date": today, "d21_method": "谈心", "d21_opinion": "表现良好"},
            "d22_apply": {"conversion_letter": FILE, "conversion_submitted": today},
            "d23_meeting": {"conv_group_opinion": "同意", "conv_mass_opinion": "同意", "conv_bc_review": "同意",
                            "conv_meeting_date": today, "conv_voters": b.voters, "conv_present": b.voters,
                            "conv_yes": len(b.voters), "conv_no": 0, "conv_abstain": 0, "conv_outcome": "按期转正",
                            "conv_resolution": "同意按期转正"},
            "d24_approve": {"conv_decision": "同意", "conv_approval_date": today},
            "esc_conv_approval": {"conv_supervision": "请在三个月内审批"},
            "d25_archive": {"archived_volunteer_form": True, "archived_application": True,
                            "archived_political_review": True, "archived_conversion_application": True,
                            "archived_cultivation_records": True, "archive_location": "人事档案",
                            "archive_date": today},
        }
        return forms[spec]


@pytest.fixture
def start(library: WorkflowService, library_clock: VirtualClock, deploy: Callable[[str], None]
          ) -> Callable[..., Case]:
    """Start a case: at a branch, under a rule version, optionally at another time (Beijing, 09:00)."""
    deploy(PROCESS)

    def _start(branch: Branch = ZONGCAI1, rule_version: str | None = None, on: str | None = None) -> Case:
        if on is not None:
            library_clock.set(datetime.fromisoformat(on).replace(hour=9, tzinfo=BEIJING))
        data: dict[str, Any] = {"applicant": branch.applicant}
        if rule_version is not None:
            data["rule_version"] = rule_version
        instance = library.start(PROCESS, org_unit_id=branch.unit, data=data, actor=branch.secretary)
        return Case(library, library_clock, branch, instance.id)

    return _start


# -- happy paths ----------------------------------------------------------------------------------------------

def test_2026_rules_from_application_to_conversion(start: Callable[..., Case], library: WorkflowService) -> None:
    case = start()
    assert case.data["rule_version"] == "2026-05"  # the default: the stricter, newer rule set
    assert case.events("instance_started")[0].payload["data"]["rule_version"] == "2026-05"
    assert [t.task_spec for t in library.tasks_for("shenyu")] == ["d01_apply"]  # the applicant's own inbox
    case.complete("d01_apply")
    assert [t.task_spec for t in library.tasks_for("liming")] == ["d02_talk"]  # 组织委员
    assert library.tasks_for("majun") == []  # another branch's secretary sees nothing
    case.advance("P7D")
    case.complete("d02_talk")
    task = case.task("d03_activist")
    assert library.claim(task.id, person_id="zhangwei").assignee == "zhangwei"  # a committee member takes it
    with pytest.raises(NotAllowed):
        library.complete(task.id, person_id="liming", data=case.form("d03_activist"))
    case.complete("d03_activist", person="zhangwei")
    assert case.data["target_earliest"] == "2027-03-09"  # activist date + P1Y
    case.complete("d04_file", person="wujing")  # either person of the organisation department
    case.complete("d05_contacts")
    assert case.data["contact"] == "sungang"

    case.run_to("d06_conclusion")
    assert case.today() == "2027-03-09"
    assert case.fired("t_eligible") == ["2027-03-08T16:00:00+00:00"]  # 00:00 Beijing, one year after
    assert len(case.fired("t_assess")) == 2  # two half-yearly assessments, both done by the branch
    case.complete("d06_conclusion")
    case.complete("d07_notice")
    assert case.data["notice_start"] == "2027-03-09"
    case.run_to("d07_decide")
    assert case.data["notice_end"] == "2027-03-15"  # Tue..Fri, Mon: 5 working days counting the first
    for spec in ("d07_decide", "d08_file", "d09_introducers"):
        case.complete(spec)
    assert (case.data["introducer_1"], case.data["introducer_2"]) == ("sungang", "zhoujie")
    case.run_to("d14_intro1")
    assert sorted(t.task_spec for t in library.tasks_for("zhoujie")) == ["d14_intro2"]
    case.run_to("d16_interview")
    data = case.data
    assert data["admission_date"] == data["meeting_date"] == data["probation_start"] == "2027-03-22"
    assert (data["probation_end"], data["approval_due"], data["approval_limit"]) == (
        "2028-03-22", "2027-06-22", "2027-09-22")
    case.run_to("d18_file")
    assert case.data["oath_due"] == "2027-04-22"  # 2026-05: within one month of approval
    case.run_to("d22_apply")
    assert case.today() == "2028-03-22" and len(case.fired("t_quarterly")) == 3
    case.run_to()

    final = case.instance
    assert final.status == "completed" and final.open_tasks == []
    assert final.data["development_result"] == "转为正式党员"
    assert final.data["party_standing_from"] == final.data["probation_end"] == "2028-03-22"
    completed = {e.payload["spec"][:3] for e in case.events("task_completed")}
    assert set(STEPS) <= completed  # all 25 steps were done by people
    # The assessment cycles fire on schedule but are the procedure's rhythm, not escalations; nothing was late.
    assert case.fired("t_quarterly") and not case.events("escalation")
    assert case.events()[-1].type == "instance_completed"
    assert library.verify().ok


def test_2014_rules_have_no_notice_and_the_probation_bounds_the_oath(start: Callable[..., Case],
                                                                      library: WorkflowService) -> None:
    case = start(rule_version="2014").run_to("d07_decide")
    assert "d07_notice" not in {e.payload["spec"] for e in case.events("task_ready")}
    assert "notice_end" not in case.data
    case.refused("d07_decide", "不满一年", "target_date", target_date="2027-03-08")
    case.run_to("d19_group")
    assert case.data["oath_due"] == case.data["probation_end"]  # no national time limit on the oath in 2014
    case.run_to()
    assert case.instance.status == "completed"
    assert case.data["rule_version"] == "2014" and case.data["development_result"] == "转为正式党员"
    assert len(case.events("check_failed")) == 1  # the one refusal above
    assert library.verify().ok


# -- timers ---------------------------------------------------------------------------------------------------

def test_talk_overdue_is_escalated_without_interrupting(start: Callable[..., Case], library: WorkflowService) -> None:
    case = start()
    case.complete("d01_apply")
    case.advance("P1M")  # Mon 2026-03-02 09:00 + P1M
    assert case.open_specs() == ["d02_talk", "esc_talk"]
    assert [t.task_spec for t in library.tasks_for("wangqiang")] == ["esc_talk"]
    [escalation] = case.events("escalation")
    assert escalation.payload == {"kind": "reminder", "attached_to": "d02_talk", "timer": "t_talk_overdue",
                                  "due": "2026-04-02T01:00:00+00:00"}
    case.complete("d02_talk")  # late, but still done by the organiser
    assert case.open_specs() == ["d03_activist", "esc_talk"]
    case.complete("esc_talk")
    assert case.open_specs() == ["d03_activist"]


def test_activist_is_assessed_every_six_months_until_the_conclusion(start: Callable[..., Case]) -> None:
    case = start().run_to("d05_contacts")
    case.complete("d05_contacts")  # 2026-03-16 09:00: the activist stage's cycle starts
    case.advance("P6M")
    assert case.open_specs() == ["d06_contact"]
    assert case.task("d06_contact").assignee == "sungang"  # the first cultivation contact
    case.complete("d06_contact")
    assert case.open_specs() == ["d06_assess"]
    case.refused("d06_assess", "考察日期不能晚于今天", "assessment_date", assessment_date="2026-09-17")
    case.complete("d06_assess")
    case.advance_to("2027-03-15")  # one day short of a year as an activist
    assert case.open_specs() == []
    case.advance("P1D")
    assert case.open_specs() == ["d06_conclusion", "d06_contact"]
    case.advance("P6M")  # the branch has not concluded: the activist stage and its cycle go on
    assert case.open_specs() == ["d06_conclusion", "d06_contact", "d06_contact"]
    assert case.fired("t_assess") == ["2026-09-16T01:00:00+00:00", "2027-03-16T01:00:00+00:00",
                                      "2027-09-16T01:00:00+00:00"]
    case.complete("d06_conclusion")
    assert case.open_specs() == ["d07_notice"]  # the stage ended, so its pending assessments are withdrawn
    assert [e.payload["spec"] for e in case.events("task_cancelled")] == ["d06_contact", "d06_contact"]
    assert case.events("timer_cancelled")[-1].payload["spec"] == "t_assess"  # and the cycle stops


def test_notice_of_five_working_days_spans_national_day(start: Callable[..., Case]) -> None:
    case = start(on="2025-09-01").run_to("d07_notice")
    assert case.today() == "2026-09-15"
    case.advance_to("2026-09-28")
    case.complete("d07_notice")
    due = [e.payload for e in case.events("timer_due") if e.payload["spec"] == "t_notice"][0]
    assert due["due"] == "2026-10-09T01:00:00+00:00" and due["provisional_calendar"] is False
    case.advance_to("2026-10-08", hour=23)
    assert case.open_specs() == []  # 28, 29, 30 Sep and 8 Oct are four working days
    case.advance_to("2026-10-09")
    assert case.open_specs() == ["d07_feedback"]
    assert (case.data["notice_start"], case.data["notice_end"]) == ("2026-09-28", "2026-10-09")
    case.complete("d07_feedback")
    case.refused("d07_decide", "公示期满", "target_date", target_date="2026-10-08")
    case.complete("d07_decide")
    assert case.open_specs() == ["d08_file"]


def test_approval_warns_after_three_months_and_is_redone_after_six(start: Callable[..., Case],
                                                                   library: WorkflowService) -> None:
    case = start().run_to("d15_meeting")
    case.advance("P1M")
    case.advance("P1D")  # the whole month after the pre-review (2027-03-29) has passed
    assert case.open_specs() == ["d15_meeting", "esc_meeting"]
    case.refused("d15_meeting", "一个月内应提交支部大会", "delay_reason")
    case.complete("d15_meeting", delay_reason="部分党员井下作业，推迟召开")
    case.complete("esc_meeting")
    meeting = case.data["meeting_date"]
    assert (meeting, case.data["approval_due"]) == ("2027-04-30", "2027-07-30")
    case.advance("P3M")
    assert case.open_specs() == ["d16_interview"]  # the whole of 2027-07-30 is still within three months
    case.advance("P1D")
    assert case.open_specs() == ["d16_interview", "esc_approval"]
    assert [t.task_spec for t in library.tasks_for("zhoumin")] == ["d16_interview", "esc_approval"]
    case.complete("esc_approval")
    case.complete("d16_interview")
    case.refused("d17_approve", "须说明特殊情况", "special_reason")
    case.advance_to("2027-10-31")  # past the six-month limit (2027-10-30)
    assert case.open_specs() == ["d17_overdue"]
    assert {e.payload["spec"] for e in case.events("task_cancelled")} == {"d17_approve"}
    case.complete("d17_overdue")
    assert case.data["branch_meeting_due"] == "2027-11-30"
    case.complete("d15_meeting")  # the branch votes again
    case.complete("d16_interview")
    case.complete("d17_approve")
    data = case.data
    assert (data["meeting_date"], data["probation_end"]) == ("2027-10-31", "2028-10-31")  # from the new vote
    case.complete("d18_file")
    case.complete("d19_group")
    case.advance("P1M")
    assert case.open_specs() == ["d20_oath"]
    case.advance("P1D")
    assert case.open_specs() == ["d20_oath", "esc_oath"]  # 2026-05: the oath within one month of approval
    assert [t.task_spec for t in library.tasks_for("liujianguo")] == ["esc_oath"]


def test_probation_from_a_leap_day_ends_on_28_february(start: Callable[..., Case]) -> None:
    case = start(rule_version="2014", on="2022-12-01").run_to("d15_meeting")
    assert case.today() == "2023-12-22"
    case.advance_to("2024-02-29")
    assert "esc_meeting" in case.open_specs()  # 2014: the one-month reminder is local practice, not a rule
    case.complete("d15_meeting")  # no delay reason needed under 2014
    assert (case.data["probation_start"], case.data["probation_end"]) == ("2024-02-29", "2025-02-28")
    case.complete("esc_meeting")
    case.run_to("d20_oath")
    case.advance("P1M")
    case.advance("P1D")
    assert case.open_specs() == ["d20_oath"]  # 2014 sets no one-month limit on the oath
    case.complete("d20_oath")
    case.advance_to("2025-02-27", hour=23)
    assert case.open_specs() == ["d21_assess", "d21_assess", "d21_assess"]  # one each quarter
    case.refused("d21_assess", "考察日期不能晚于今天", "d21_date", d21_date="2025-02-28")
    case.finish_side_tasks()
    assert "d22_apply" not in case.open_specs()
    case.advance_to("2025-02-28")
    assert case.open_specs() == ["d22_apply"]
    assert case.fired("t_probation_end") == ["2025-02-27T16:00:00+00:00"]  # 2025-02-28 00:00 Beijing
    case.complete("d22_apply")
    case.refused("d23_meeting", "预备期未满", "conv_meeting_date", conv_meeting_date="2025-02-27")
    case.run_to()
    assert case.data["party_standing_from"] == "2025-02-28"


def test_probation_extended_once_then_converted(start: Callable[..., Case], library: WorkflowService) -> None:
    case = start().run_to("d23_meeting")
    end = case.data["probation_end"]
    case.refused("d23_meeting", "不能少于半年", "extension_months", conv_outcome="延长预备期", extension_months=5)
    case.refused("d23_meeting", "不能少于半年", "extension_months", conv_outcome="延长预备期", extension_months=13)
    case.complete("d23_meeting", conv_outcome="延长预备期", extension_months=6, conv_resolution="延长预备期半年")
    case.advance("P3M")
    case.advance("P1D")
    assert case.open_specs() == ["d24_approve", "esc_conv_approval"]  # conversion approval is three months
    case.complete("esc_conv_approval")
    case.complete("d24_approve")
    assert (end, case.data["probation_end"], case.data["extensions"]) == ("2028-03-29", "2028-09-29", 1)
    case.advance_to("2028-09-28", hour=23)
    assert case.open_specs() == []
    case.advance_to("2028-09-29")
    assert case.open_specs() == ["d22_apply"]
    assert case.fired("t_extension_end") == ["2028-09-28T16:00:00+00:00"]
    case.complete("d22_apply")
    case.refused("d23_meeting", "只能延长一次", "conv_outcome", conv_outcome="延长预备期", extension_months=6)
    case.run_to()
    assert case.data["party_standing_from"] == "2028-09-29"  # the end of the extended probation
    assert library.verify().ok


# -- rework paths ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "overrides", "expected"), [
    ("d03_activist", {"activist_decision": "暂不确定"}, ["d03_activist"]),
    ("d04_file", {"activist_filing": "材料不全退回"}, ["d03_activist"]),
    ("d06_conclusion", {"cultivation_conclusion": "继续培养"}, ["d06_conclusion"]),
    ("d07_feedback", {"notice_result": "有异议暂缓发展"}, ["d06_conclusion"]),
    ("d07_decide", {"target_decision": "暂缓"}, ["d06_conclusion"]),
    ("d08_file", {"target_filing": "不同意"}, ["d06_conclusion"]),
    ("d12_bc_review", {"bc_review_result": "不合格"}, ["d06_conclusion"]),
    ("d13_prereview", {"prereview_result": "不合格"}, ["d12_bc_review"]),
    ("d15_meeting", {"yes": 3, "written_yes": 1, "no": 3, "abstain": 1}, ["d06_conclusion"]),
    ("d23_meeting", {"conv_yes": 4, "conv_no": 4}, ["d23_meeting"]),
    ("d24_approve", {"conv_decision": "不同意"}, ["d23_meeting"]),
], ids=["activist_not_chosen", "filing_returned", "keep_cultivating", "notice_objection", "target_deferred",
        "committee_disagrees", "bc_review_fails", "prereview_fails", "vote_fails", "conversion_vote_fails",
        "conversion_not_approved"])
def test_rework_loops_back(start: Callable[..., Case], spec: str, overrides: dict[str, Any],
                           expected: list[str]) -> None:
    case = start().run_to(spec)
    case.complete(spec, **overrides)
    assert case.open_specs() == expected
    assert case.instance.status == "running"
    case.run_to(expected[0])  # the case can go on from where it was sent back
    assert case.open_specs() == expected


@pytest.mark.parametrize(("spec", "overrides", "result"), [
    ("d10_review", {"review_result": "不合格"}, "政治审查不合格，终止发展"),
    ("d17_approve", {"approval_decision": "不批准"}, "上级党委未批准"),
    ("d23_meeting", {"conv_outcome": "取消预备党员资格"}, "取消预备党员资格"),
])
def test_a_case_can_end_without_admission(start: Callable[..., Case], spec: str, overrides: dict[str, Any],
                                          result: str) -> None:
    case = start().run_to(spec)
    case.complete(spec, **overrides)
    for step in ("d17_notify", "d24_approve"):
        if step in case.open_specs():
            case.complete(step)
    assert (case.instance.status, case.data["development_result"]) == ("completed", result)
    assert "party_standing_from" not in case.data


# -- checks ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("applicant", "message"), [("hanxue", "须年满十八周岁"), ("fengjun", "已是中共党员")])
def test_an_applicant_is_refused(start: Callable[..., Case], applicant: str, message: str) -> None:
    case = start(replace(ZONGCAI1, applicant=applicant))
    case.refused("d01_apply", message)
    assert case.open_specs() == ["d01_apply"] and case.task("d01_apply").assignee == applicant


def test_leaving_the_unit_within_three_months_blocks_the_prereview(start: Callable[..., Case]) -> None:
    case = start(JUEJIN2, rule_version="2014", on="2025-01-01").run_to("d12_bc_review")
    case.advance_to("2026-02-02")  # xieyi leaves the unit on 2026-04-30
    case.complete("d12_bc_review")
    case.refused("d13_prereview", "三个月内将离开", "prereview_result")
    case.complete("d13_prereview", prereview_result="不合格", prereview_notice="拟调离，暂不接收")
    assert case.open_specs() == ["d12_bc_review"]


# (step, data that breaks a rule, the message, the field it belongs to); tried on the way along the happy path.
REFUSALS: dict[str, list[tuple[dict[str, Any], str, str | None]]] = {
    "d01_apply": [({"application_date": "2026-03-03"}, "申请日期不能晚于今天", "application_date")],
    "d02_talk": [({"talk_date": "2026-03-01"}, "谈话日期不能早于申请日期", "talk_date"),
                 ({"talk_date": "2026-03-10"}, "谈话日期不能晚于今天", "talk_date"),
                 ({"talker": "fengjun"}, "谈话人应为", "talker")],
    "d03_activist": [({"committee_present": 1}, "支部委员会到会委员未达到规定人数", "committee_present"),
                     ({"committee_present": 4}, "到会委员人数不能多于委员总数", "committee_present"),
                     ({"activist_date": "2026-03-08"}, "不能早于谈话日期", "activist_date"),
                     ({"activist_date": "2026-03-17"}, "日期不能晚于今天", "activist_date")],
    "d04_file": [({"activist_filing_date": "2026-03-15"}, "备案日期不能早于", "activist_filing_date")],
    "d05_contacts": [({"contacts": ["sungang", "zhoujie", "wuhao"]}, "一至两名", "contacts"),
                     ({"contacts": ["fengjun"]}, "必须是正式党员", "contacts"),
                     ({"contacts": ["zhengtao"]}, "受留党察看处分", "contacts"),
                     ({"contacts": ["sungang", "shenyu"]}, "不能是申请人本人", "contacts")],
    "d06_conclusion": [({"conclusion_date": "2027-03-15"}, "一年以上培养教育", "conclusion_date"),
                       ({"conclusion_date": "2027-03-17"}, "日期不能晚于今天", "conclusion_date")],
    "d07_decide": [({"committee_size": 4, "committee_present": 2}, "支部委员会到会委员未达到规定人数",
                    "committee_present"),
                   ({"target_date": "2027-03-21"}, "公示期满", "target_date"),
                   ({"target_date": "2027-03-23"}, "日期不能晚于今天", "target_date")],
    "d08_file": [({"target_filing_date": "2027-03-21"}, "备案日期不能早于", "target_filing_date")],
    "d09_introducers": [({"introducers": ["sungang"]}, "两名入党介绍人", "introducers"),
                        ({"introducers": ["sungang", "zhengtao"]}, "受留党察看处分", "introducers"),
                        ({"introducers": ["sungang", "chenchen"]}, "必须是正式党员", "introducers"),
                        ({"introducers": ["sungang", "shenyu"]}, "不能是申请人本人", "introducers")],
    "d10_review": [({"review_date": "2027-03-21"}, "不能早于列为发展对象的日期", "review_date"),
                   ({"review_date": "2027-03-23"}, "日期不能晚于今天", "review_date")],
    "d11_training": [({"training_days": 2, "training_hours": 16}, "不少于3天", "training_days"),
                     ({"training_end": "2027-03-21"}, "结业日期不能早于", "training_end")],
    "d12_bc_review": [({"committee_present": 0}, "支部委员会到会委员未达到规定人数", "committee_present"),
                      ({"bc_review_date": "2027-03-28"}, "不能早于政治审查和集中培训", "bc_review_date")],
    "d13_prereview": [({"volunteer_form_no": ""}, "入党志愿书编号", "volunteer_form_no"),
                      ({"prereview_date": "2027-03-28"}, "预审日期不能早于", "prereview_date"),
                      ({"prereview_date": "2027-03-30"}, "日期不能晚于今天", "prereview_date")],
    "d14_form": [({"form_filled_date": "2027-03-28"}, "填写日期不能早于预审日期", "form_filled_date")],
    "d15_meeting": [
        ({"present": ["wangqiang", "liming", "zhangwei", "zhaolei"]}, "未超过应到会人数的一半", "present"),
        ({"voters": [*ZONGCAI1.voters, "zhengtao"]}, "没有表决权", "voters"),
        ({"voters": [*ZONGCAI1.voters, "fengjun"]}, "没有表决权", "voters"),
        ({"voters": [*ZONGCAI1.voters, "shenyu"]}, "被讨论的本人", "voters"),
        ({"present": ["wangqiang", "liming", "zhangwei", "zhaolei", "qianyong", "majun"]}, "应到会名单之中",
         "present"),
        ({"yes": 7, "no": 1}, "不能多于实到会人数", "yes"),
        ({"written_yes": 2}, "书面意见份数", "written_yes"),
        ({"meeting_date": "2027-03-28"}, "不能早于预审日期", "meeting_date"),
        ({"meeting_date": "2027-03-30"}, "会议日期不能晚于今天", "meeting_date")],
    "d16_interview": [({"interview_date": "2027-03-21"}, "不能早于支部大会日期", "interview_date"),
                      ({"interview_date": "2027-03-30"}, "日期不能晚于今天", "interview_date"),
                      ({"interviewer": "fengjun"}, "党委委员或组织员", "interviewer")],
    "d17_approve": [({"approval_date": "2027-03-28"}, "不能早于谈话日期", "approval_date"),
                    ({"approval_date": "2027-03-30"}, "审批日期不能晚于今天", "approval_date")],
    "d18_file": [({"od2_filed_date": "2027-03-28"}, "备案日期不能早于审批日期", "od2_filed_date")],
    "d20_oath": [({"oath_date": "2027-03-21"}, "不能早于审批日期", "oath_date"),
                 ({"oath_date": "2027-03-30"}, "宣誓日期不能晚于今天", "oath_date")],
    "d22_apply": [({"conversion_submitted": "2099-01-01"}, "不能晚于今天", "conversion_submitted"),
                  ({"conversion_submitted": "2027-03-28"}, "不能早于预备期开始", "conversion_submitted")],
    "d23_meeting": [
        ({"conv_present": ["wangqiang", "liming", "zhangwei"]}, "未超过应到会人数的一半", "conv_present"),
        ({"conv_voters": [*ZONGCAI1.voters, "chenchen"]}, "没有表决权", "conv_voters"),
        ({"conv_meeting_date": "2028-03-28"}, "不能早于转正申请日期", "conv_meeting_date")],
    "d24_approve": [({"conv_approval_date": "2028-03-28"}, "不能早于支部大会日期", "conv_approval_date"),
                    ({"conv_approval_date": "2028-03-30"}, "审批日期不能晚于今天", "conv_approval_date")],
    "d25_archive": [({"archived_political_review": False}, "须全部归档", None),
                    ({"archive_date": "2028-03-28"}, "不能早于转正审批日期", "archive_date")],
}


def test_every_check_refuses_with_its_message_and_changes_nothing(start: Callable[..., Case],
                                                                  library: WorkflowService) -> None:
    case = start()
    for spec, _pause in PATH:
        case.run_to(spec)
        for overrides, message, field_id in REFUSALS.get(spec, []):
            case.refused(spec, message, field_id, **overrides)
        if spec == "d23_meeting":  # 郑涛's 留党察看 ended on 2027-06-30: his rights are restored, so he votes
            voters = [*ZONGCAI1.voters, "zhengtao"]
            case.complete(spec, conv_voters=voters, conv_present=voters, conv_yes=len(voters))
        if spec == "d25_archive":
            break
    case.run_to()
    failed = case.events("check_failed")
    assert len(failed) == sum(len(v) for v in REFUSALS.values())
    assert {f["rule"] for e in failed for f in e.payload["failures"]} >= {
        "committee_quorum", "contacts_not_under_discipline", "introducers_count", "training_enough", "quorum",
        "voters_have_vote", "archive_complete"}
    assert case.instance.status == "completed" and library.verify().ok


def test_a_case_cannot_start_without_an_applicant_of_the_organisation(library: WorkflowService,
                                                                     deploy: Callable[[str], None]) -> None:
    from engine.errors import CheckFailed

    deploy(PROCESS)
    for data, message in (({}, "「入党申请人」为必填项"), ({"applicant": "nobody"}, "不是本组织中的人员")):
        with pytest.raises(CheckFailed) as refused:
            library.start(PROCESS, org_unit_id="zongcai1", data=data, actor="wangqiang")
        assert message in refused.value.failures[0].message and refused.value.failures[0].field == "applicant"
    assert library.instances(process_id=PROCESS) == []
