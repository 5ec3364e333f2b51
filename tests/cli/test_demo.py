"""The README's first command: the scripted demo runs the library on the coal mine and its history verifies."""

from __future__ import annotations

from pathlib import Path

from leanflow.demo import run_demo


def test_demo_walks_a_month_of_party_work(tmp_path: Path) -> None:
    lines: list[str] = []
    service = run_demo(tmp_path / "demo.db", lines.append)
    text = "\n".join(lines)
    assert text.count("deployed ") == len(list((Path(__file__).parents[2] / "processes").glob("*.bpmn")))
    assert "schedules started 16 meetings" in text
    assert "须年满十八周岁" in text  # the under-18 applicant is refused by the procedure's own check
    assert "支部委员会会议不能召开" in text  # the quorum rule refuses a meeting of one
    assert "committee_meeting 2026-03 ✓" in text and "theme_day 2026-03 ✗" in text
    assert service.verify().ok and "intact" in lines[-1]
    assert service.tasks_for("liujianguo")  # escalations reached the higher committee
    assert service.db_engine is not None
    service.db_engine.dispose()
