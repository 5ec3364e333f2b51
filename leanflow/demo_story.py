"""The demo's story: who does what, and when, in the coal mine's party committee, day by day on the virtual clock.

Every step goes through the engine's public service (start, complete, cancel, advance), with the form data a
person would enter; the data follows tests/processes/, the reference for what each procedure accepts. Each running
instance has an agent that decides, from its open tasks and today's date, which step its people do today and
when to look again; the clock moves one day at a time (09:00 Beijing) and fires every timer on the way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import CheckFailed
from engine.service import WorkflowService
from engine.views import InstanceView, TaskView

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Who acts for a role when several hold it: the unit's secretary, the mine's secretary, the organisation dept head.
LEADS = ("wangqiang", "majun", "songhua", "liujianguo", "zhoumin")
Echo = Callable[[str], None]


def day_of(value: datetime) -> date:
    """The Beijing calendar day of a moment."""
    return value.astimezone(SHANGHAI).date()


class Mine:
    """The organisation as the story needs it: who holds which role where, and acting through the service."""

    def __init__(self, service: WorkflowService, echo: Echo, files: Callable[[str, bytes], dict[str, Any]]) -> None:
        self.service = service
        self.echo = echo
        self.file = files
        self.calendar = service.calendar()
        self.parent = {u.id: u.parent_id for u in service.org_units()}
        self.unit_name = {u.id: u.name for u in service.org_units()}
        self.people = {p.id: p for p in service.users()}
        self.holders: dict[tuple[str, str], list[str]] = defaultdict(list)
        for person in self.people.values():
            for role, unit in person.roles:
                self.holders[(role, unit)].append(person.id)
        for names in self.holders.values():
            names.sort(key=lambda p: (p not in LEADS, p))
        self.today = day_of(service.clock().now)

    # -- who -------------------------------------------------------------------------------------------------

    def holder(self, role: str, unit: str) -> str:
        """The person who acts for a role at a unit: held there or at the nearest ancestor."""
        here: str | None = unit
        while here is not None:
            if self.holders.get((role, here)):
                return self.holders[(role, here)][0]
            here = self.parent.get(here)
        raise LookupError(f"nobody holds {role} at {unit} or above")

    def actor(self, task: TaskView) -> str:
        return task.assignee or self.holder(task.role or "", task.org_unit_id)

    def name(self, person: str) -> str:
        return self.people[person].name

    def members(self, unit: str) -> list[str]:
        """Party members of a branch (holding its member role) or of a party group (working in it)."""
        if self.parent.get(unit) in (None, "dongshan"):
            return [p for p, person in self.people.items() if ("member", unit) in person.roles]
        return [p for p, person in self.people.items()
                if person.org_unit_id == unit and person.membership in ("full", "probationary")]

    # -- when ------------------------------------------------------------------------------------------------

    def iso(self, days: int = 0) -> str:
        return (self.today + timedelta(days=days)).isoformat()

    def workday_from(self, start: date) -> date:
        """The first working day on or after start."""
        while not self.calendar.is_workday(start):
            start += timedelta(days=1)
        return start

    # -- acting ----------------------------------------------------------------------------------------------

    def complete(self, task: TaskView, data: dict[str, Any], person: str | None = None) -> InstanceView:
        try:
            return self.service.complete(task.id, person_id=person or self.actor(task), data=data)
        except CheckFailed as refused:  # the story's data no longer fits the procedure: say where
            raise RuntimeError(f"demo {self.today}: {task.task_spec} of instance {task.instance_id} refused: "
                               + "; ".join(f"{f.field}: {f.message}" for f in refused.failures)) from refused


class Agent:
    """What the people of one instance do: for each open step, the day they do it (None: they leave it open)."""

    def when(self, mine: Mine, view: InstanceView, task: TaskView) -> date | None:
        return day_of(task.ready_at) + timedelta(days=1)

    def data(self, mine: Mine, view: InstanceView, task: TaskView) -> dict[str, Any]:
        return {}

    def person(self, mine: Mine, view: InstanceView, task: TaskView) -> str:
        return mine.actor(task)

    def act(self, mine: Mine, view: InstanceView) -> tuple[InstanceView, date | None]:
        """Do every step that is due today (and what they open today); return the view and the next day to look."""
        for _ in range(50):
            later: list[date] = []
            for task in view.open_tasks:
                on = self.when(mine, view, task)
                if on is None:
                    continue
                if on <= mine.today:
                    view = mine.complete(task, self.data(mine, view, task), self.person(mine, view, task))
                    break
                later.append(on)
            else:
                return view, min(later, default=None)
        raise RuntimeError(f"instance {view.id} does not settle")


# == 三会一课 and 主题党日 =====================================================================================

TOPICS = {
    "committee_meeting": "研究本月安全生产和党建重点工作",
    "branch_member_meeting": "学习贯彻上级党委全会精神，讨论本季度支部工作",
    "party_lecture": "弘扬煤矿安全文化，做合格共产党员",
    "theme_day": "“安全生产月”主题党日：隐患排查进班组",
    "group_meeting": "学习安全规程，交流岗位履责情况",
}
AGENDA = {
    "committee_meeting": "一、通报本月安全生产情况；二、研究党员发展和教育管理工作；三、部署下月工作",
    "branch_member_meeting": "一、传达学习上级精神；二、支部书记报告工作；三、讨论表决事项",
    "party_lecture": "一、书记讲党课；二、党员交流学习体会",
    "theme_day": "一、重温入党誓词；二、集中学习；三、到采掘一线开展隐患排查",
    "group_meeting": "一、学习安全规程；二、交流岗位履责情况；三、收集意见建议",
}
# Days after the start of its period on which a unit sets to work on a meeting, so the work spreads over the month.
PREP_DAY = {"committee_meeting": 2, "group_meeting": 5, "theme_day": 12, "branch_member_meeting": 16,
            "party_lecture": 40}
PLACES = {"zongcai1": "综采一队会议室", "juejin2": "掘进二队学习室", "jiguan": "机关三楼会议室"}
# (unit, meeting type, period) → what happens; every other meeting is held on time.
POLICY = {
    ("jiguan", "theme_day", "2026-01"): "missed",
    ("juejin2", "theme_day", "2026-02"): "missed",
    ("juejin2_g1", "group_meeting", "2026-03"): "missed",
    ("jiguan", "committee_meeting", "2026-02"): "late",
    ("juejin2", "branch_member_meeting", "2026-Q1"): "late",
    ("jiguan", "party_lecture", "2026-Q1"): "late",
    ("zongcai1_g2", "group_meeting", "2026-02"): "late",
}
QUORUM_REFUSED = ("zongcai1", "committee_meeting", "2026-03")
VOTE = ("zongcai1", "branch_member_meeting", "2026-Q1")
SOON = {"set_agenda", "g_agenda", "committee_review", "notice", "g_notice", "leave", "g_leave", "vote",
        "vote_failed", "minutes"}


@dataclass
class MeetingAgent(Agent):
    """One meeting of one unit and period: planned, noticed, held, minuted, followed up and reviewed."""

    unit: str
    meeting_type: str
    period: str
    started: date

    @property
    def policy(self) -> str:
        return POLICY.get((self.unit, self.meeting_type, self.period), "on_time")

    @property
    def group(self) -> bool:
        return self.meeting_type == "group_meeting"

    def when(self, mine: Mine, view: InstanceView, task: TaskView) -> date | None:
        spec, ready = task.task_spec, day_of(task.ready_at)
        if spec in ("plan", "g_plan"):
            if view.data.get("supervisions"):
                return ready  # ordered to make it up: at once
            return None if self.policy != "on_time" else self.started + timedelta(days=PREP_DAY[self.meeting_type])
        if spec in ("hold", "g_hold"):
            return max(ready, date.fromisoformat(view.data["meeting_on"]))  # on the day, or at once if rescheduled
        if spec in SOON:
            return ready
        if spec == "follow_up":
            return ready + timedelta(days=6)
        if spec in ("review", "g_review"):
            return ready + timedelta(days=3)
        if spec in ("supervise", "g_supervise"):
            return ready + timedelta(days=1)
        return ready

    def expected(self, mine: Mine) -> list[str]:
        if self.meeting_type == "committee_meeting":
            committee = sorted(mine.holders[("branch_committee", self.unit)])
            leaders = [p for u, parent in mine.parent.items() if parent == self.unit
                       for p in mine.holders[("group_leader", u)] if p not in committee]
            return committee + leaders[:max(0, 3 - len(committee))]  # 机关's committee of two asks a group leader
        return mine.members(self.unit)

    def chair(self, mine: Mine) -> str:
        return mine.holder("group_leader" if self.group else "secretary", self.unit)

    def recorder(self, mine: Mine) -> str:
        if self.group:
            return next(p for p in self.expected(mine) if p != self.chair(mine))
        return mine.holder("organizer", self.unit)

    def absent(self, mine: Mine) -> list[str]:
        """One member on shift for meetings of six or more; everyone comes to smaller ones."""
        expected = self.expected(mine)
        if len(expected) < 6:
            return []
        return [p for p in expected if p not in (self.chair(mine), self.recorder(mine))][-1:]

    def reasons(self, mine: Mine, people: list[str]) -> str:
        return "\n".join(f"{mine.name(p)}：井下值班" for p in people)

    def data(self, mine: Mine, view: InstanceView, task: TaskView) -> dict[str, Any]:
        spec, d = task.task_spec, view.data
        expected, absent = self.expected(mine), self.absent(mine)
        present = [p for p in expected if p not in absent]
        place = PLACES.get(self.unit, PLACES.get(mine.parent[self.unit] or "", "党员活动室"))
        vote = (self.unit, self.meeting_type, self.period) == VOTE
        if spec in ("plan", "g_plan"):
            meeting_on = mine.workday_from(mine.today + timedelta(days=4))
            lecture = self.meeting_type == "party_lecture"
            extra = {"lecturer": f"{mine.name(self.chair(mine))}（支部书记）"} if lecture else {}
            return {"topic": TOPICS[self.meeting_type], "meeting_on": meeting_on.isoformat(), "place": place,
                    "chair": self.chair(mine), "recorder": self.recorder(mine), "expected": expected, **extra}
        if spec == "set_agenda":
            return {"agenda": AGENDA[self.meeting_type], "needs_vote": vote,
                    "vote_items": "同意将综采一队第一党小组评为2025年度先进党小组" if vote else ""}
        if spec == "g_agenda":
            return {"agenda": AGENDA[self.meeting_type]}
        if spec == "committee_review":
            return {"committee_met_on": mine.iso(), "committee_opinion": "同意提交党员大会表决",
                    "committee_agrees": "agree"}
        if spec in ("notice", "g_notice"):
            return {"notice_on": mine.iso(), "meeting_on": d["meeting_on"], "notice_channel": "platform"}
        if spec in ("leave", "g_leave"):
            return {"on_leave": absent, "leave_reasons": self.reasons(mine, absent)} if absent else {}
        if spec in ("hold", "g_hold"):
            if (self.unit, self.meeting_type, self.period) == QUORUM_REFUSED:
                self.refuse_quorum(mine, task, expected)
            return {"outcome": "held", "present": present, "absent": absent,
                    "absent_reasons": self.reasons(mine, absent)}
        if spec == "vote":
            voters = [p for p in present if p in d.get("voters", present)]
            return {"vote_method": "show_of_hands", "yes": len(voters), "no": 0}
        if spec == "minutes":
            actions: dict[str, Any] = {}
            if self.meeting_type in ("committee_meeting", "theme_day"):
                actions = {"action_1": "组织开展一次井下隐患排查", "action_1_owner": self.recorder(mine),
                           "action_1_due": mine.iso(10)}
            return {"held_on": mine.iso(), "start_time": "14:30", "end_time": "16:00", "place": place,
                    "chair": self.chair(mine), "recorder": self.recorder(mine), "present": present, "absent": absent,
                    "absent_reasons": self.reasons(mine, absent), "content": "书记传达会议精神，党员逐一发言",
                    "resolutions": "一致同意会议议定事项" + ("（表决通过）" if vote else ""), "signed": True,
                    **actions}
        if spec == "follow_up":
            return {"action_result": "已完成排查，发现并整改隐患3处", "action_done_on": mine.iso()}
        if spec in ("review", "g_review"):
            return {"review_verdict": "accepted"}
        if spec in ("supervise", "g_supervise"):
            if self.policy == "missed":
                return {"supervision_note": f"{self.period}会议逾期未开，确认未开并记入年度考核",
                        "supervision_decision": "missed"}
            make_up_by = mine.iso(14)
            return {"supervision_note": f"{self.period}会议未按期召开，限{make_up_by}前补开",
                    "supervision_decision": "make_up", "make_up_by": make_up_by}
        return {}

    def person(self, mine: Mine, view: InstanceView, task: TaskView) -> str:
        if task.task_spec in ("g_review", "g_supervise"):
            return mine.holder("secretary", mine.parent[self.unit] or self.unit)
        return mine.actor(task)

    def refuse_quorum(self, mine: Mine, task: TaskView, expected: list[str]) -> None:
        """The secretary first records a meeting of one: the quorum rule refuses it and nothing changes."""
        others = [p for p in expected if p != self.chair(mine)]
        try:
            mine.service.complete(task.id, person_id=self.chair(mine), data={
                "outcome": "held", "present": [self.chair(mine)], "absent": others,
                "absent_reasons": "\n".join(f"{mine.name(p)}：出差" for p in others)})
        except CheckFailed as refused:
            mine.echo(f"      {mine.iso()} 综采一队支委会: a meeting of one refused, nothing changed: "
                      f"{refused.failures[0].message}")


# == 发展党员 ==================================================================================================

@dataclass(frozen=True)
class Branch:
    """A branch and the people who act in member development there (as in tests/processes)."""

    unit: str
    contacts: list[str]
    voters: list[str]
    group: str


BRANCHES = {
    "zongcai1": Branch("zongcai1", ["sungang", "zhoujie"],
                       ["wangqiang", "liming", "zhangwei", "zhaolei", "qianyong", "sungang", "zhoujie", "wuhao"],
                       "综采一队第一党小组"),
    "juejin2": Branch("juejin2", ["luobin", "gaofei"],
                      ["majun", "huangli", "xuming", "hejun", "luobin", "gaofei", "linfeng"], "掘进二队第一党小组"),
    "jiguan": Branch("jiguan", ["caiwen", "panli"], ["songhua", "dengyan", "caiwen", "panli", "dujuan", "yuanhao"],
                     "机关第一党小组"),
}
SIDE_TASKS = ("d06_contact", "d06_assess", "d21_assess")


@dataclass
class DevelopmentAgent(Agent):
    """One applicant's case, walked along the happy path until it reaches the steps left open for the UI."""

    branch: Branch
    applicant: str
    stop: tuple[str, ...]
    pace: int = 3  # days between a step opening and someone doing it

    def when(self, mine: Mine, view: InstanceView, task: TaskView) -> date | None:
        if task.task_spec in self.stop:
            return None
        ready = day_of(task.ready_at)
        if task.task_spec == "d01_apply":
            return ready
        return ready + timedelta(days=self.pace)

    def person(self, mine: Mine, view: InstanceView, task: TaskView) -> str:
        if task.task_spec == "d16_interview":
            return mine.holder("organization_dept", task.org_unit_id)
        return mine.actor(task)

    def data(self, mine: Mine, view: InstanceView, task: TaskView) -> dict[str, Any]:
        b, today = self.branch, mine.iso()
        organizer = mine.holder("organizer", b.unit)
        secretary = mine.holder("secretary", b.unit)
        committee = {"committee_size": 3, "committee_present": 3}
        present = b.voters[:-1]
        letter = mine.file("入党申请书.pdf", f"{mine.name(self.applicant)} 入党申请书".encode())
        forms: dict[str, dict[str, Any]] = {
            "d01_apply": {"application_date": today, "unit_name": "东山煤矿", "application_letter": letter},
            "d02_talk": {"talker": organizer, "talk_date": today, "talk_record": "了解入党动机，提出努力方向"},
            "esc_talk": {"talk_supervision": "请组织委员本周内完成谈话"},
            "d03_activist": {"recommend_type": "党员推荐", "recommendation": "党小组推荐", **committee,
                             "activist_decision": "确定为入党积极分子", "activist_date": today},
            "d04_file": {"activist_filing": "已备案", "activist_filing_date": today},
            "d05_contacts": {"contacts": b.contacts},
            "d06_contact": {"contact_opinion": "表现积极，按时汇报思想", "thought_reports": 2},
            "d06_assess": {"assessment_date": today, "group_opinion": "同意", "assessment_opinion": "合格"},
            "d06_conclusion": {"cultivation_summary": "培养一年，表现良好", "conclusion_date": today,
                               "cultivation_conclusion": "可列为发展对象人选"},
            "d07_notice": {"notice_content": "拟列为发展对象", "notice_place": "支部公示栏和党建平台"},
            "d07_feedback": {"notice_feedback": "公示期间未收到意见", "notice_result": "无异议"},
            "d07_decide": {"opinions_heard": "党小组、培养联系人、党员和群众均同意", **committee,
                           "target_decision": "列为发展对象", "target_date": today},
            "d08_file": {"target_filing": "同意", "target_filing_date": today},
            "d09_introducers": {"introducers": b.contacts},
            "d10_review": {"review_methods": "谈话、查档、函调", "review_conclusion": "政治历史清楚，表现良好",
                           "review_result": "合格", "review_date": today},
            "d11_training": {"training_days": 3, "training_hours": 24, "training_end": today},
            "d12_bc_review": {"bc_review_opinion": "条件成熟", **committee, "bc_review_result": "合格，报上级党委预审",
                              "bc_review_date": today},
            "d13_prereview": {"prereview_result": "合格", "prereview_date": today, "prereview_notice": "预审合格",
                              "volunteer_form_no": f"DS-{mine.today.year}-{view.id:03d}"},
            "d14_form": {"volunteer_form": mine.file("入党志愿书.pdf", f"{self.applicant} 入党志愿书".encode()),
                         "form_filled_date": today},
            "d14_intro1": {"introducer_1_opinion": "同意介绍入党"},
            "d14_intro2": {"introducer_2_opinion": "同意介绍入党"},
            "d15_meeting": {"meeting_date": today, "voters": b.voters, "present": present, "yes": len(present) - 1,
                            "no": 1, "abstain": 0, "resolution": "同意接收为预备党员"},
            "esc_meeting": {"meeting_supervision": "请尽快召开支部大会"},
            "d16_interview": {"interviewer": mine.holder("organization_dept", b.unit), "interview_date": today,
                              "interview_opinion": "入党动机端正"},
            "d17_approve": {"approval_decision": "批准", "approval_date": today, "approval_meeting": "党委会第12次"},
            "esc_approval": {"approval_supervision": "请抓紧审批"},
            "d18_file": {"od2_filed_date": today},
            "d19_group": {"party_group": b.group},
            "d20_oath": {"oath_date": today, "oath_host": secretary},
            "esc_oath": {"oath_supervision": "请本月组织宣誓"},
            "d21_assess": {"d21_date": today, "d21_method": "谈心", "d21_opinion": "表现良好"},
        }
        return forms[task.task_spec]


# == 党费 ======================================================================================================

@dataclass
class DuesAgent(Agent):
    """One member's dues for one month: paid some days after the month opens (or not), then receipted."""

    member: str
    pays_after: int | None
    receipted: bool = True

    def when(self, mine: Mine, view: InstanceView, task: TaskView) -> date | None:
        if task.task_spec == "pay":
            return None if self.pays_after is None else day_of(view.started_at) + timedelta(days=self.pays_after)
        if task.task_spec == "confirm":
            return day_of(task.ready_at) + timedelta(days=2) if self.receipted else None
        return None

    def data(self, mine: Mine, view: InstanceView, task: TaskView) -> dict[str, Any]:
        if task.task_spec == "pay":
            return {"amount": view.data["amount_due"], "paid_on": mine.iso(), "channel": "online"}
        return {"received": True, "receipt_no": f"{view.org_unit_id.upper()}-{view.data['period']}-{view.id:03d}"}


# == scripted procedures: each step's person, data and pace ===================================================

Step = tuple[int | None, str | None, Callable[[Mine, InstanceView], dict[str, Any]]]


@dataclass
class ScriptAgent(Agent):
    """A procedure walked by a table: spec → (days after it opens or None to leave it open, person, data)."""

    steps: dict[str, Step]
    keep: Callable[[TaskView], bool] = lambda task: False  # steps left open although the table has them
    state: dict[str, Any] = field(default_factory=dict)

    def when(self, mine: Mine, view: InstanceView, task: TaskView) -> date | None:
        step = self.steps.get(task.task_spec)
        if step is None or step[0] is None or self.keep(task):
            return None
        if task.task_spec in self.state.get("on", {}):
            return date.fromisoformat(self.state["on"][task.task_spec])
        return day_of(task.ready_at) + timedelta(days=step[0])

    def person(self, mine: Mine, view: InstanceView, task: TaskView) -> str:
        return self.steps[task.task_spec][1] or mine.actor(task)

    def data(self, mine: Mine, view: InstanceView, task: TaskView) -> dict[str, Any]:
        return self.steps[task.task_spec][2](mine, view)


def spearhead_team() -> ScriptAgent:
    """综采一队's 搬家倒面 spearhead team: founded in March, first milestone done, the second under way."""
    reports = iter([(50, "支架检修过半"), (100, "支架检修完成"), (30, "设备开始搬运"), (60, "运输巷设备到位"),
                    (80, "工作面设备安装过半")])

    def report(_mine: Mine, _view: InstanceView) -> dict[str, Any]:
        pct, note = next(reports)
        return {"progress_pct": pct, "reached": pct == 100, "progress_note": note}

    return ScriptAgent({
        "select_task": (0, "liujianguo", lambda m, v: {
            "task_name": "3103工作面搬家倒面攻坚", "task_kind": "difficult",
            "goal": "在停产检修窗口内安全完成3103工作面搬家倒面", "kpi": "45天内完成搬家倒面，零事故",
            "end_date": "2026-04-30"}),
        "propose_team": (1, "wangqiang", lambda m, v: {
            "team_name": "综采一队搬家倒面党员突击队", "leader": "zhaolei", "deputy": "sungang",
            "members": ["sungang", "zhoujie", "wuhao", "fengjun"],
            "charter": "队长赵磊全面负责；孙刚负责支架检修；周杰负责设备运输；吴昊、冯军负责安全监护"}),
        "approve_team": (1, "chenlixin", lambda m, v: {"approval": "approve", "doc_no": "东矿党发〔2026〕12号"}),
        "flag_ceremony": (1, "wangqiang", lambda m, v: {"ceremony_date": m.iso(), "flag_presenter": "liujianguo",
                                                        "founding_doc_read": True}),
        "take_pledge": (0, "zhaolei", lambda m, v: {
            "pledge_text": "我代表突击队全体队员承诺：冲锋在前、安全攻坚，按期完成搬家倒面任务！",
            "pledge_date": m.iso()}),
        "plan_milestones": (1, "zhaolei", lambda m, v: {
            "milestone_plan": "2026-03-20 sungang 完成液压支架检修\n2026-04-15 zhoujie 完成工作面设备搬运安装\n"}),
        "report_progress": (7, "zhaolei", report),
    })


def star_rating(unit: str, stop: str | None) -> ScriptAgent:
    """星级党支部评定 for 2025: self-evaluation, cross-check by other branches, decision, notice, naming."""
    inspectors = {"zongcai1": ("huangli", ["majun", "dengyan"]), "juejin2": ("songhua", ["liming", "dengyan"]),
                  "jiguan": ("liming", ["majun", "huangli"])}
    inspector, team = inspectors[unit]
    agent = ScriptAgent({})

    def arrange(mine: Mine, _view: InstanceView) -> dict[str, Any]:
        check_on = mine.workday_from(mine.today + timedelta(days=2)).isoformat()
        agent.state.setdefault("on", {})["cross_check"] = check_on
        return {"inspector": inspector, "inspection_team": team, "check_date": check_on}

    def publish(mine: Mine, _view: InstanceView) -> dict[str, Any]:
        monday = mine.today + timedelta(days=7 - mine.today.weekday())
        return {"notice_start": monday.isoformat(), "notice_channel": "东山煤矿党建公示栏及内网"}

    steps: dict[str, Step] = {
        "self_eval": (5, None, lambda m, v: {
            "claimed_star": "4", "self_score": 86,
            "self_report": "全年三会一课按期开展，党员发展按计划完成，安全生产无事故。",
            "evidence": "支部工作手册、会议记录、党费台账"}),
        "arrange_check": (2, "zhoumin", arrange),
        "cross_check": (0, inspector, lambda m, v: {"visited_on": m.iso(), "check_score": 85, "satisfaction": 96,
                                                    "findings": "党员活动室资料归档不及时"}),
        "veto_check": (1, "wujing", lambda m, v: {}),
        "decide": (2, "liujianguo", lambda m, v: {
            "final_star": "4", "final_score": 85.5, "decision_basis": "自评86分，交叉检查85分，满意率96%",
            "batch_branches": 3, "batch_four": 1}),
        "publish": (1, "zhoumin", publish),
        "naming": (1, "liujianguo", lambda m, v: {"naming_doc": "东煤党〔2026〕3号", "named_on": m.iso()}),
    }
    for spec in list(steps)[list(steps).index(stop):] if stop else []:
        steps[spec] = (None, *steps[spec][1:])
    agent.steps = steps
    return agent


def goal_management() -> ScriptAgent:
    """综采一队's 2026 goals: work points, monthly key tasks, targets, responsibilities; then a meeting a month."""
    return ScriptAgent({
        "set_work_points": (1, "liujianguo", lambda m, v: {
            "plan_year": 2026, "work_points": "GP1 组织建设 三会一课按期召开率100%\nGP2 党员教育 党员人均学时不少于32\n"
                                              "GP3 作用发挥 党员先锋岗覆盖全部采煤班组"}),
        "decompose_tasks": (1, "zhoumin", lambda m, v: {
            "monthly_plan": "1 liming GP1 制定年度党员发展计划\n2 zhangwei GP2 组织春节安全生产专题学习\n"
                            "3 liming GP1 召开一季度支部党员大会\n4 wangqiang GP2 书记讲专题党课\n"
                            "5 zhaolei GP3 设立采煤班组党员先锋岗\n6 liming GP1 召开二季度支部党员大会"}),
        "set_branch_targets": (1, "liming", lambda m, v: {
            "target_member_meetings": 4, "target_committee_meetings": 12, "target_group_meetings": 12,
            "target_lessons": 4, "target_theme_days": 12, "target_dues_rate": 100, "target_training_hours": 32,
            "target_development": 1, "other_targets": "创建党员先锋岗3个"}),
        "review_targets": (1, "chenlixin", lambda m, v: {"targets_review": "approve"}),
        "set_responsibilities": (1, "wangqiang", lambda m, v: {
            "committee_members": ["wangqiang", "liming", "zhangwei"],
            "resp_list": "\n".join([
                "wangqiang 党员大会 每季度主持召开支部党员大会", "wangqiang 党课 每季度讲党课一次",
                "liming 支委会 每月组织召开支委会", "liming 发展党员 落实发展党员计划", "liming 党费 按月收缴党费",
                "zhangwei 党小组会 督促各党小组每月开会", "zhangwei 主题党日 每月组织主题党日",
                "zhangwei 教育培训 落实党员32学时培训"]),
            "responsibility_letter": m.file("2026年党建工作责任书.pdf", b"2026 responsibility letter"),
            "signed_date": m.iso()}),
        "monthly_report": (4, "wangqiang", lambda m, v: {
            "meeting_date": m.iso(), "attendees": ["wangqiang", "liming", "zhangwei"],
            "done_ids": ",".join(v.data.get("reminder_ids") or []), "progress_note": "逐项对照提示单推进"}),
        "monthly_check": (3, "wujing", lambda m, v: {"check_result": "publish", "score": 95,
                                                     "bulletin": f"{v.data.get('month')}月考核通报"}),
    })


APPRAISED = ["sungang", "zhoujie", "wuhao", "zhengtao", "fengjun"]


def democratic_appraisal() -> ScriptAgent:
    """综采一队's 2025 民主评议党员: mobilised at the end of March; every member but one has summed up."""
    return ScriptAgent({
        "mobilise": (0, "wangqiang", lambda m, v: {
            "appraisal_year": 2025, "members": APPRAISED, "mobilised_on": m.iso(),
            "appraisal_plan": "对照合格党员标准和入党誓词，开展个人自评、党员互评和民主测评"}),
        "self_eval": (2, None, lambda m, v: {
            "self_summary": "本人对照合格党员标准和入党誓词，认真查找在学习、工作中的差距和不足。",
            "self_grade": "qualified"}),
    }, keep=lambda task: task.task_spec == "self_eval" and task.assignee == "sungang")


# == the clock =================================================================================================

class Simulation:
    """Moves the virtual clock a day at a time; on working days runs the day's events and wakes the agents due."""

    def __init__(self, mine: Mine) -> None:
        self.mine = mine
        self.agents: dict[int, Agent] = {}
        self.wake: dict[int, date] = {}
        self.events: dict[date, list[Callable[[], None]]] = defaultdict(list)
        self.adopt_meetings = False

    def on(self, day: date, action: Callable[[], None]) -> None:
        """Do something on a day (at 09:00 Beijing), before the agents act."""
        self.events[day].append(action)

    def follow(self, view: InstanceView, agent: Agent) -> None:
        """Let an agent drive an instance from today on."""
        self.agents[view.id] = agent
        self.wake[view.id] = self.mine.today

    def run(self, until: date) -> None:
        """Live every day up to and including until, then stop the clock there."""
        mine = self.mine
        while True:
            for action in self.events.pop(mine.today, []):
                action()
            if mine.calendar.is_workday(mine.today):
                if self.adopt_meetings:
                    self._adopt_meetings()
                for instance_id in sorted(i for i, day in self.wake.items() if day <= mine.today):
                    self._look(instance_id)
            if mine.today >= until:
                return
            mine.service.advance(timedelta(days=1), actor="admin")
            mine.today += timedelta(days=1)

    def _adopt_meetings(self) -> None:
        """Give every meeting the schedules started an agent."""
        for listed in self.mine.service.instances(process_id="meeting"):
            if listed.id in self.agents:
                continue
            view = self.mine.service.instance(listed.id)
            self.follow(view, MeetingAgent(view.org_unit_id, view.data["meeting_type"], view.data["period"],
                                           day_of(view.started_at)))

    def _look(self, instance_id: int) -> None:
        mine = self.mine
        view = mine.service.instance(instance_id)
        own: date | None = None
        if view.status == "running":
            view, own = self.agents[instance_id].act(mine, view)
        timer = day_of(view.next_timer_due) if view.next_timer_due and view.status == "running" else None
        days = [d for d in (own, timer) if d is not None]
        if not days:
            del self.wake[instance_id]
            return
        self.wake[instance_id] = max(min(days), mine.today + timedelta(days=1))
