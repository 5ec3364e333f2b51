"""Event-log export: XES read back by independent readers (stdlib ElementTree, pm4py when installed) and CSV."""

from __future__ import annotations

import csv
import io
import json
import warnings
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.clock import VirtualClock
from engine.errors import CheckFailed
from engine.export import CSV_COLUMNS, export_csv, export_xes
from engine.service import WorkflowService
from tests.conftest import START

NS = {"x": "http://www.xes-standard.org/"}
HOSTILE = '<script>alert("党&支部")</script> \'引号\' ]]> &amp;'
AGENDA = {"agenda": HOSTILE, "meeting_date": "2026-03-02"}
VOTE_PASS = {"expected": 10, "present": 8, "yes": 6}


def _drive(service: WorkflowService, clock: VirtualClock) -> dict[str, int]:
    """Three instances: one run to the end (with a reminder timer and a failed check), two cancelled."""
    done = service.start("branch_meeting", org_unit_id="b1", actor="zhang", title=HOSTILE)
    agenda = done.open_tasks[0]
    clock.advance(timedelta(hours=1))
    service.claim(agenda.id, person_id="zhang")
    clock.advance(timedelta(hours=1))
    service.open_task(agenda.id, person_id="zhang")
    service.advance("P2DT1H")  # the non-interrupting reminder 议程提醒 fires
    hold = service.complete(agenda.id, person_id="zhang", data=AGENDA).open_tasks[0]
    clock.advance(timedelta(minutes=30))
    with pytest.raises(CheckFailed):
        service.complete(hold.id, person_id="zhang", data={"expected": 10, "present": 11, "yes": 2})
    clock.advance(timedelta(minutes=30))
    assert service.complete(hold.id, person_id="zhang", data=VOTE_PASS).status == "completed"

    clock.advance(timedelta(days=1))
    aborted = service.start("branch_meeting", org_unit_id="b2", actor="wang", title="第二支部")
    service.claim(aborted.open_tasks[0].id, person_id="wang")
    service.open_task(aborted.open_tasks[0].id, person_id="wang")
    service.cancel(aborted.id, actor="zhao", reason="重复发起")

    clock.advance(timedelta(days=1, microseconds=123457))  # finer than XES's usual milliseconds
    withdrawn = service.start("branch_meeting", org_unit_id="b1", title="撤回")
    service.cancel(withdrawn.id, actor="zhao")
    return {"done": done.id, "aborted": aborted.id, "withdrawn": withdrawn.id}


EXPECTED = {
    "done": [("拟定议程", "schedule"), ("拟定议程", "assign"), ("拟定议程", "start"), ("议程提醒", "complete"),
             ("拟定议程", "complete"), ("召开会议并表决", "schedule"), ("召开会议并表决", "unknown"),
             ("召开会议并表决", "complete")],
    "aborted": [("拟定议程", "schedule"), ("拟定议程", "assign"), ("拟定议程", "start"), ("拟定议程", "ate_abort")],
    "withdrawn": [("拟定议程", "schedule"), ("拟定议程", "withdraw")],
}


def _xes(service: WorkflowService, **kw) -> bytes:
    buffer = io.BytesIO()
    export_xes(service, process_id="branch_meeting", out=buffer, **kw)
    return buffer.getvalue()


def _attrs(element: ET.Element) -> dict[str, str]:
    return {a.get("key", ""): a.get("value", "") for a in element
            if a.tag.split("}")[-1] in ("string", "date", "int", "float", "boolean", "id")}


def test_xes_structure_read_back_with_elementtree(service: WorkflowService, clock: VirtualClock) -> None:
    ids = _drive(service, clock)
    raw = _xes(service, include_data=True)
    assert raw.startswith(b"<?xml") and b"encoding='utf-8'" in raw.split(b"\n")[0].lower().replace(b'"', b"'")
    assert b"<script>" not in raw  # escaped by the serialiser, never by hand
    log = ET.fromstring(raw)  # the standard library's parser: independent of lxml
    assert log.tag == "{http://www.xes-standard.org/}log" and log.get("xes.version")
    extensions = {e.get("prefix"): (e.get("name"), e.get("uri")) for e in log.findall("x:extension", NS)}
    for name, prefix in [("Concept", "concept"), ("Time", "time"), ("Lifecycle", "lifecycle"),
                         ("Organizational", "org")]:
        assert extensions[prefix] == (name, f"http://www.xes-standard.org/{prefix}.xesext")
    assert "leanflow" in extensions
    scopes = {g.get("scope"): _attrs(g) for g in log.findall("x:global", NS)}
    assert "concept:name" in scopes["trace"] and {"concept:name", "time:timestamp"} <= set(scopes["event"])
    assert [c.get("keys") for c in log.findall("x:classifier", NS)][0] == "concept:name"
    assert _attrs(log)["lifecycle:model"] == "standard"
    # Children in the order the schema demands: extensions, globals, classifiers, attributes, traces.
    order = [c.tag.split("}")[-1] for c in log]
    assert order == sorted(order, key=["extension", "global", "classifier", "string", "trace"].index)

    traces = {t_attrs["concept:name"]: (t_attrs, t) for t in log.findall("x:trace", NS)
              for t_attrs in [_attrs(t)]}
    assert set(traces) == {str(i) for i in ids.values()}
    histories = {key: service.history(i) for key, i in ids.items()}
    for key, instance_id in ids.items():
        case, trace = traces[str(instance_id)]
        events = [_attrs(e) for e in trace.findall("x:event", NS)]
        assert [(e["concept:name"], e["lifecycle:transition"]) for e in events] == EXPECTED[key]
        for e in events:  # every global event attribute is present, and times carry an offset
            assert set(scopes["event"]) <= set(e)
            assert datetime.fromisoformat(e["time:timestamp"]).utcoffset() is not None
        # Timestamps round-trip to the history's own times.
        exported_at = {datetime.fromisoformat(e["time:timestamp"]) for e in events}
        assert exported_at <= {h.at for h in histories[key]}
        assert case["leanflow:process_id"] == "branch_meeting" and case["leanflow:definition_version"] == "1"
    done_case, done_trace = traces[str(ids["done"])]
    assert done_case["leanflow:title"] == HOSTILE  # HTML, quotes and ]]> survive as text
    assert (done_case["leanflow:status"], done_case["leanflow:org_unit"]) == ("completed", "b1")
    assert "leanflow:ended_at" in done_case
    assert traces[str(ids["aborted"])][0]["leanflow:status"] == "cancelled"
    done_events = [_attrs(e) for e in done_trace.findall("x:event", NS)]
    scheduled = done_events[0]
    assert (scheduled["org:role"], scheduled["leanflow:spec"], scheduled["leanflow:lean_class"]) == (
        "secretary", "prepare_agenda", "NNVA")
    assert scheduled["leanflow:due_at"].startswith("2026-03-05T09:00:00")
    assert "org:resource" not in scheduled  # offered to a role, nobody acted yet
    assert [e.get("org:resource") for e in done_events[1:3]] == ["zhang", "zhang"]
    completed = done_events[4]
    assert completed["org:resource"] == "zhang" and json.loads(completed["leanflow:data"])["agenda"] == HOSTILE
    check = done_events[6]
    assert check["leanflow:event_type"] == "check_failed" and check["org:resource"] == "zhang"
    assert json.loads(check["leanflow:failures"])[0]["message"] == "实到人数不能多于应到人数"
    assert done_events[3]["leanflow:event_type"] == "timer_fired"
    aborted = [_attrs(e) for e in traces[str(ids["aborted"])][1].findall("x:event", NS)]
    assert aborted[-1]["org:resource"] == "zhao" and aborted[0]["org:group"] == "b2"


def test_form_data_is_left_out_unless_asked(service: WorkflowService, clock: VirtualClock) -> None:
    _drive(service, clock)
    raw = _xes(service)
    assert b"leanflow:data" not in raw and b"meeting_date" not in raw


def test_filters_by_procedure_org_subtree_and_start_range(service: WorkflowService, clock: VirtualClock) -> None:
    ids = _drive(service, clock)

    def cases(**kw) -> set[int]:
        log = ET.fromstring(_xes(service, **kw))
        return {int(_attrs(t)["concept:name"]) for t in log.findall("x:trace", NS)}

    assert cases() == set(ids.values())
    assert cases(org_unit_id="c1") == set(ids.values())  # the committee's subtree holds both branches
    assert cases(org_unit_id="b2") == {ids["aborted"]}
    assert cases(org_unit_id="nowhere") == set()
    assert cases(start=START + timedelta(hours=12)) == {ids["aborted"], ids["withdrawn"]}
    assert cases(end=START + timedelta(hours=12)) == {ids["done"]}
    other = io.BytesIO()
    assert export_xes(service, process_id="rework_loop", out=other) == 0
    assert ET.fromstring(other.getvalue()).findall("x:trace", NS) == []


def test_csv_has_one_row_per_event(service: WorkflowService, clock: VirtualClock) -> None:
    ids = _drive(service, clock)
    buffer = io.BytesIO()
    with service.unit() as uow:  # a unit of work is accepted as well as the service
        written = export_csv(uow, process_id="branch_meeting", out=buffer)
    assert not buffer.closed
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue().decode("utf-8"), newline="")))
    assert written == len(rows) == sum(len(v) for v in EXPECTED.values())
    assert tuple(rows[0]) == CSV_COLUMNS
    for key, instance_id in ids.items():
        mine = [r for r in rows if r["case_id"] == str(instance_id)]
        assert [(r["activity"], r["lifecycle"]) for r in mine] == EXPECTED[key]
    first = rows[0]
    assert (first["role"], first["org_unit"], first["lean_class"]) == ("secretary", "b1", "NNVA")
    assert first["due_at"].startswith("2026-03-05T09:00:00") and first["timestamp"].endswith("+00:00")
    assert [r["resource"] for r in rows[1:3]] == ["zhang", "zhang"]


def test_quotes_and_commas_in_names_survive_csv(tmp_path: Path, service: WorkflowService,
                                                 clock: VirtualClock) -> None:
    from tests.conftest import DEMO

    text = (DEMO / "branch_meeting.bpmn").read_text(encoding="utf-8")
    path = tmp_path / "meeting.bpmn"
    path.write_text(text.replace('name="拟定议程"', 'name="拟定&quot;议程&quot;, &lt;b&gt;草案&lt;/b&gt;"'),
                    encoding="utf-8")
    service.deploy_file(path)
    instance = service.start("branch_meeting", org_unit_id="b1")
    buffer = io.BytesIO()
    export_csv(service, process_id="branch_meeting", out=buffer)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue().decode("utf-8"), newline="")))
    assert [(r["case_id"], r["activity"]) for r in rows] == [(str(instance.id), '拟定"议程", <b>草案</b>')]
    log = ET.fromstring(_xes(service))
    [trace] = log.findall("x:trace", NS)
    assert _attrs(trace)["leanflow:definition_version"] == "2"
    assert _attrs(trace.find("x:event", NS))["concept:name"] == '拟定"议程", <b>草案</b>'


def test_pm4py_reads_the_log(tmp_path: Path, service: WorkflowService, clock: VirtualClock) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm4py = pytest.importorskip("pm4py")  # GPL/AGPL: test-only, from the `mining` extra
    ids = _drive(service, clock)
    path = tmp_path / "meeting.xes"
    path.write_bytes(_xes(service))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pm4py.read_xes(str(path))
    assert set(frame["case:concept:name"]) == {str(i) for i in ids.values()}
    for key, instance_id in ids.items():
        mine = frame[frame["case:concept:name"] == str(instance_id)]
        assert list(zip(mine["concept:name"], mine["lifecycle:transition"], strict=True)) == EXPECTED[key]
        history_at = {h.at for h in service.history(instance_id)}
        assert {t.to_pydatetime() for t in mine["time:timestamp"]} <= history_at
    done = frame[frame["case:concept:name"] == str(ids["done"])]
    assert list(done["org:resource"])[1:3] == ["zhang", "zhang"]
    assert set(done["case:leanflow:title"]) == {HOSTILE}
