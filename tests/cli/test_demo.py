"""The README's first command: `leanflow demo` seeds the coal mine through the real engine, then serves it.

Seeded once per module with `leanflow demo --no-serve` (as the browser journeys do); the checks read the database
through the engine: every procedure deployed, cases at every stage, meetings held, late and missed, logins for
every role with the demo password, an intact history.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.service import WorkflowService, open_service
from leanflow.cli import main
from leanflow.demo import DEFAULT_PASSWORD, END, LOGINS, counts_by_procedure

PROCESSES = Path(__file__).parents[2] / "processes"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, float]]:
    """The demo database, what the command printed, and how long seeding took."""
    folder = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main(["demo", "--db", str(folder / "demo.db"), "--no-serve"])
    seconds = time.perf_counter() - began
    assert exited.value.code in (0, None), out.getvalue()
    yield folder / "demo.db", out.getvalue(), seconds


@pytest.fixture(scope="module")
def service(seeded: tuple[Path, str, float]) -> Iterator[WorkflowService]:
    opened = open_service(f"sqlite:///{seeded[0]}")
    yield opened
    assert opened.db_engine is not None
    opened.db_engine.dispose()


def test_demo_seeds_quickly_and_says_what_it_did(seeded: tuple[Path, str, float]) -> None:
    path, text, seconds = seeded
    assert seconds < 30  # about 5 s on two cores
    assert text.count("deployed ") == len(list(PROCESSES.glob("*.bpmn")))
    assert "须年满十八周岁" in text  # the under-18 applicant is refused by the procedure's own check
    assert "支部委员会会议不能召开" in text  # the quorum rule refuses a meeting of one
    assert "intact" in text and "TAMPERED" not in text
    for _role, person in LOGINS:
        assert f" {person} " in text  # one login per role in the printed table
    assert DEFAULT_PASSWORD in text
    assert (path.parent / "demo-files" / "attachments").is_dir()  # the letters and forms download


def test_every_procedure_has_cases_in_different_stages(service: WorkflowService) -> None:
    counts = Counter({(p, s): n for p, s, n in counts_by_procedure(service)})
    deployed = {d.process_id for d in service.definitions()}
    assert deployed == {p.stem for p in PROCESSES.glob("*.bpmn")}
    assert 60 <= sum(counts.values()) <= 150
    assert counts[("meeting", "completed")] >= 25 and counts[("meeting", "running")] >= 10
    assert counts[("party_dues", "completed")] >= 15 and counts[("party_dues", "running")] >= 3
    assert counts[("member_development", "cancelled")] == 1
    assert {p for p, s in counts if s == "running"} >= {
        "member_development", "branch_assessment", "spearhead_team", "goal_management", "democratic_appraisal"}
    assert counts[("branch_assessment", "completed")] == 1
    cases = {v.business_key: service.instance(v.id) for v in service.instances(process_id="member_development")}
    stages = {person: sorted(t.task_spec for t in case.open_tasks) for person, case in cases.items()}
    assert stages["xieyi"] == ["d01_apply"]  # just asked to apply
    assert stages["shenyu"] == ["d02_talk", "esc_talk"]  # the talk is overdue and escalated
    assert stages["jiangtao"] == ["d03_activist"]
    assert stages["qinlan"] == ["d13_prereview"]  # a development target at the higher committee
    assert stages["tangning"] == [] and cases["tangning"].data["activist_date"] < "2025-07"  # cultivated a year
    assert cases["hanxue"].status == "cancelled"
    weidong = cases["weidong"]
    assert weidong.data["probation_start"] < END.isoformat() < weidong.data["probation_end"]  # probationary member


def test_meetings_were_held_late_and_missed(service: WorkflowService) -> None:
    statuses = Counter(r.status for r in service.compliance(process_id="meeting")
                       if r.period not in ("2026-04", "2026-Q2"))
    assert statuses["on_time"] >= 20 and statuses["late"] >= 3 and statuses["missed"] >= 3
    assert service.clock().now.date() == END


def test_every_person_logs_in_with_the_demo_password(service: WorkflowService) -> None:
    accounts = service.users()
    assert len(accounts) == 40 and all(a.has_password for a in accounts)
    for _role, person in LOGINS:
        assert service.authenticate(person, DEFAULT_PASSWORD) is not None
        assert service.authenticate(person, "wrong-password") is None
    inboxes = {person: len(service.tasks_for(person)) for _role, person in LOGINS}
    assert all(inboxes[p] > 0 for p in ("wangqiang", "liujianguo", "zhoumin", "sungang", "xieyi")), inboxes
    assert service.verify().ok
