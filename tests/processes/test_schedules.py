"""The demo coal mine's 三会一课 schedule: instances per unit and period, and the compliance they add up to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from engine.service import WorkflowService
from tests.processes.test_meeting import COMMITTEE, prepare

SCHEDULES = Path(__file__).parent.parent.parent / "leanflow" / "demo" / "schedules.yaml"


def _types(service: WorkflowService, period: str) -> Counter[str]:
    found = Counter()
    for instance in service.instances(process_id="meeting"):
        data = service.instance(instance.id).data
        if data.get("period") == period:
            found[data["meeting_type"]] += 1
    return found


def test_every_unit_gets_its_meetings_at_their_cadence(library: WorkflowService,
                                                      deploy: Callable[[str], None]) -> None:
    deploy("meeting")
    saved = library.import_schedules(SCHEDULES.read_text(encoding="utf-8"), "schedules.yaml", actor="zhoumin")
    assert len(saved) == 16
    assert {s.cadence for s in saved if s.params["meeting_type"] == "party_lecture"} == {"quarterly"}
    assert {s.cadence for s in saved if s.params["meeting_type"] == "group_meeting"} == {"monthly"}
    library.tick()
    assert _types(library, "2026-03") == {"committee_meeting": 3, "theme_day": 3, "group_meeting": 4}
    assert _types(library, "2026-Q1") == {"branch_member_meeting": 3, "party_lecture": 3}
    library.advance("P1M")  # into April: monthly meetings and the second quarter start again
    assert _types(library, "2026-04") == {"committee_meeting": 3, "theme_day": 3, "group_meeting": 4}
    assert _types(library, "2026-Q2") == {"branch_member_meeting": 3, "party_lecture": 3}


def test_compliance_rolls_up_the_org_tree(library: WorkflowService, deploy: Callable[[str], None]) -> None:
    deploy("meeting")
    library.import_schedules(SCHEDULES.read_text(encoding="utf-8"), "schedules.yaml")
    library.tick()
    [committee] = [i for i in library.instances(process_id="meeting") if i.org_unit_id == "zongcai1"
                   and library.instance(i.id).data["meeting_type"] == "committee_meeting"]
    view = prepare(library, library.instance(committee.id), expected=COMMITTEE)
    view = library.complete(view.open_tasks[0].id, person_id="wangqiang",
                            data={"outcome": "held", "present": COMMITTEE, "absent": [], "absent_reasons": ""})
    assert view.open_tasks[0].task_spec == "minutes"
    library.complete(view.open_tasks[0].id, person_id="liming", data={
        "held_on": "2026-03-06", "start_time": "14:30", "end_time": "16:00", "place": "综采一队会议室",
        "chair": "wangqiang", "recorder": "liming", "present": COMMITTEE, "absent": [], "absent_reasons": "",
        "content": "研究一季度工作", "resolutions": "同意", "signed": True})
    library.advance("P1M")
    march = [r for r in library.compliance(process_id="meeting") if r.period == "2026-03"]
    statuses = Counter((r.org_unit_id, r.status) for r in march)
    assert statuses[("zongcai1", "on_time")] == 1  # held on 6 March; its follow-up review may still run
    assert statuses[("zongcai1", "missed")] == 1  # the theme day never happened
    assert sum(n for (unit, status), n in statuses.items() if status == "missed") == 9
    branch = {r.org_unit_id for r in library.compliance(process_id="meeting", org_unit_id="zongcai1")}
    assert branch == {"zongcai1", "zongcai1_g1", "zongcai1_g2"}  # a branch sees itself and its party groups
    everyone = {r.org_unit_id for r in library.compliance(process_id="meeting", org_unit_id="dongshan")}
    assert len(everyone) == 7
