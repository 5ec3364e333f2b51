"""The scripted demo: the coal-mine organisation runs the procedure library under the virtual clock (SQLite)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import CheckFailed
from engine.service import WorkflowService, open_service
from engine.views import InstanceView

DEMO = Path(__file__).parent / "demo"
PROCESSES = Path(__file__).parent.parent / "processes"
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # Monday morning, Beijing time
COMMITTEE = ["wangqiang", "liming", "zhangwei"]
LETTER = {"sha256": "0" * 64, "name": "入党申请书.pdf", "size": 2048, "type": "application/pdf"}
STEPS = 8


def run_demo(db_path: Path, echo: Callable[[str], None]) -> WorkflowService:
    """Create a fresh database and walk through a month of the coal mine's party work."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    service = open_service(f"sqlite:///{db_path}")
    units, people = service.import_org((DEMO / "coal_mine.yaml").read_text(encoding="utf-8"), "coal_mine.yaml",
                                       actor="admin")
    service.set_clock(START, actor="admin")
    echo(f"[1/{STEPS}] {db_path}: 东山煤矿党委, {units} org units, {people} people; virtual clock at "
         f"{START:%Y-%m-%d %H:%M} Beijing")
    for path in sorted(PROCESSES.glob("*.bpmn")):
        view = service.deploy_file(path, actor="zhoumin")
        echo(f"      deployed {view.process_id} v{view.version}: {view.name}")
    echo(f"[2/{STEPS}] the procedure library is deployed")
    service.import_schedules((DEMO / "schedules.yaml").read_text(encoding="utf-8"), "schedules.yaml",
                             actor="zhoumin")
    started = service.tick()
    meetings = service.instances(process_id="meeting")
    echo(f"[3/{STEPS}] schedules started {len(meetings)} meetings for March and the first quarter "
         f"({started.timers_fired} timers fired)")
    _member_development(service, echo)
    _committee_meeting(service, echo, meetings)
    result = service.advance("P30D", actor="admin")
    echo(f"[6/{STEPS}] a month later ({result.now.astimezone(SHANGHAI):%Y-%m-%d}): {result.timers_fired} timers "
         f"fired — reminders, deadlines and escalations to the higher committee")
    _compliance(service, echo)
    inbox = Counter({p: len(service.tasks_for(p)) for p in ("wangqiang", "liming", "majun", "liujianguo")})
    echo(f"[7/{STEPS}] open tasks: " + ", ".join(f"{p} {n}" for p, n in inbox.items()))
    report = service.verify()
    echo(f"[8/{STEPS}] history: {report.events} events in {report.chains} hash chains, "
         f"{'intact' if report.ok else 'TAMPERED'}")
    return service


def _member_development(service: WorkflowService, echo: Callable[[str], None]) -> None:
    case = service.start("member_development", org_unit_id="zongcai1", data={"applicant": "shenyu"},
                         actor="wangqiang")
    [apply] = service.tasks_for("shenyu")
    service.complete(apply.id, person_id="shenyu",
                     data={"application_date": "2026-03-02", "unit_name": "东山煤矿", "application_letter": LETTER})
    step = service.instance(case.id).open_tasks[0]
    echo(f"[4/{STEPS}] 发展党员: 沈宇 applied; next step {step.name} for {step.role}, due {_day(step.due_at)}")
    minor = service.start("member_development", org_unit_id="zongcai1", data={"applicant": "hanxue"},
                          actor="wangqiang")
    try:
        service.complete(minor.open_tasks[0].id, person_id="hanxue",
                         data={"application_date": "2026-03-02", "unit_name": "东山煤矿",
                               "application_letter": LETTER})
    except CheckFailed as refused:
        echo(f"      韩雪's application refused, nothing changed: {refused.failures[0].message}")


def _committee_meeting(service: WorkflowService, echo: Callable[[str], None], meetings: list[InstanceView]) -> None:
    [meeting] = [m for m in meetings if m.org_unit_id == "zongcai1"
                 and service.instance(m.id).data.get("meeting_type") == "committee_meeting"]
    view = service.instance(meeting.id)
    view = _do(service, view, "wangqiang", {
        "topic": "研究一季度安全生产和党建工作", "meeting_on": "2026-03-06", "place": "综采一队会议室",
        "chair": "wangqiang", "recorder": "liming", "expected": COMMITTEE})
    view = _do(service, view, "wangqiang", {"agenda": "一、安全生产；二、发展党员", "needs_vote": False,
                                            "vote_items": ""})
    view = _do(service, view, "wangqiang", {"notice_on": "2026-03-02", "meeting_on": "2026-03-06",
                                            "notice_channel": "platform"})
    view = _do(service, view, "wangqiang", {})
    service.advance(timedelta(days=4))
    view = service.instance(view.id)
    try:
        _do(service, view, "wangqiang", {"outcome": "held", "present": ["wangqiang"],
                                         "absent": ["liming", "zhangwei"], "absent_reasons": "李明：出差\n张伟：培训"})
    except CheckFailed as refused:
        echo(f"[5/{STEPS}] 支部委员会: quorum refused, nothing changed: {refused.failures[0].message}")
    view = _do(service, view, "wangqiang", {"outcome": "held", "present": COMMITTEE, "absent": [],
                                            "absent_reasons": ""})
    view = _do(service, view, "liming", {
        "held_on": "2026-03-06", "start_time": "14:30", "end_time": "16:00", "place": "综采一队会议室",
        "chair": "wangqiang", "recorder": "liming", "present": COMMITTEE, "absent": [], "absent_reasons": "",
        "content": "研究一季度工作", "resolutions": "同意开展隐患排查", "signed": True})
    echo(f"      held on 2026-03-06 with all three committee members; next: {view.open_tasks[0].name}")


def _compliance(service: WorkflowService, echo: Callable[[str], None]) -> None:
    rows = [r for r in service.compliance(process_id="meeting") if r.period in ("2026-03", "2026-Q1")]
    marks = {"on_time": "✓", "late": "!", "missed": "✗", "open": "…"}
    echo("      三会一课 compliance (✓ on time, ✗ missed, … still open):")
    by_unit: dict[str, list[str]] = {}
    for r in rows:
        by_unit.setdefault(r.org_unit_id, []).append(f"{r.params.get('meeting_type')} {r.period} "
                                                      f"{marks.get(r.status, r.status)}")
    for unit, items in sorted(by_unit.items()):
        echo(f"        {unit:12} " + "; ".join(items))


def _do(service: WorkflowService, view: InstanceView, person: str, data: dict[str, Any]) -> InstanceView:
    return service.complete(view.open_tasks[0].id, person_id=person, data=data)


def _day(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d") if value else "-"


def demo_hint(db_path: Path) -> str:
    """Tell the user what to look at next."""
    url = f"sqlite:///{db_path}"
    return (f"try: leanflow --db {url} tasks --user wangqiang\n"
            f"     leanflow --db {url} compliance --org zongcai1\n"
            f"     leanflow --db {url} history 1\n"
            f"     leanflow --db {url} verify")


__all__ = ["demo_hint", "run_demo"]
