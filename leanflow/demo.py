"""A scripted demo on SQLite: a branch meeting run through the real engine under the virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.errors import CheckFailed
from engine.service import WorkflowService, open_service

DEMO = Path(__file__).parent / "demo"
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 17:00 Beijing time


def run_demo(db_path: Path, echo: Callable[[str], None]) -> WorkflowService:
    """Create a fresh database and drive two meetings: one held on time, one escalated after its deadline."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    service = open_service(f"sqlite:///{db_path}")
    units, people = service.import_org((DEMO / "org.yaml").read_text(encoding="utf-8"), "org.yaml", actor="zhao")
    echo(f"[1/7] database {db_path} created; {units} org units and {people} people imported")
    service.set_clock(START, actor="zhao")
    definition = service.deploy_file(DEMO / "branch_meeting.bpmn", actor="zhao")
    echo(f"[2/7] deployed {definition.process_id} v{definition.version} ({definition.name}); "
         f"virtual clock at {START.isoformat()}")
    first = service.start("branch_meeting", org_unit_id="b1", actor="zhang")
    second = service.start("branch_meeting", org_unit_id="b2", actor="wang")
    echo(f"[3/7] started instance {first.id} at b1 and instance {second.id} at b2")
    for task in service.tasks_for("zhang"):
        echo(f"      inbox of zhang: task {task.id} {task.name}, due {beijing(task.due_at)}")
    service.complete(second.open_tasks[0].id, person_id="wang", data={"agenda": "学习", "meeting_date": "2026-03-02"})
    agenda = first.open_tasks[0]
    held = service.complete(agenda.id, person_id="zhang", data={"agenda": "讨论发展对象", "meeting_date": "2026-03-02"})
    hold = held.open_tasks[0]
    echo(f"[4/7] zhang drafted the agenda; next: {hold.name}")
    try:
        service.complete(hold.id, person_id="zhang", data={"expected": 12, "present": 5, "yes": 5})
    except CheckFailed as failed:
        for failure in failed.failures:
            echo(f"      check refused the step, nothing changed: {failure.field}: {failure.message}")
    done = service.complete(hold.id, person_id="zhang", data={"expected": 12, "present": 10, "yes": 9})
    echo(f"[5/7] meeting held with quorum, vote passed: instance {done.id} {done.status}")
    result = service.advance("P1M", actor="zhao")
    echo(f"[6/7] clock advanced one month: {result.timers_fired} timers fired; b2 missed its meeting deadline")
    for task in service.tasks_for("zhao"):
        echo(f"      inbox of zhao (higher committee): task {task.id} {task.name}")
        service.complete(task.id, person_id="zhao", data={})
    report = service.verify()
    echo(f"[7/7] history: {report.events} events in {report.chains} hash chains, "
         f"{'intact' if report.ok else 'TAMPERED'}")
    return service


def beijing(value: datetime | None) -> str:
    """Show a time in Beijing time."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "-"


def demo_hint(db_path: Path) -> str:
    """Tell the user what to look at next."""
    url = f"sqlite:///{db_path}"
    return (f"try: leanflow --db {url} instances\n"
            f"     leanflow --db {url} history 2\n"
            f"     leanflow --db {url} tasks --user zhang --all")
