"""engine.layout: procedures without DI get a layout that opens cleanly in Camunda Modeler and bpmn.io."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from lxml import etree

from engine.layout import BPMNDI, DC, DI, FLOW_NODES, layout_definitions, main, serialize
from engine.lint import lint_document
from engine.loader import load_bpmn, read_bpmn_file
from engine.model import BPMN, CAMUNDA

ROOT = Path(__file__).parent.parent.parent
DEMO = ROOT / "leanflow" / "demo" / "branch_meeting.bpmn"
FIXTURES = sorted((ROOT / "tests" / "fixtures").glob("*.bpmn")) + [DEMO]
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
Box = tuple[float, float, float, float]


def _stage(name: str) -> str:
    return (f'<bpmn:extensionElements><camunda:properties><camunda:property name="stage" value="{name}" />'
            '</camunda:properties></bpmn:extensionElements>')


def _user_task(tid: str, name: str, stage: str) -> str:
    return (f'<bpmn:userTask id="{tid}" name="{name}"><bpmn:extensionElements><camunda:properties>'
            f'<camunda:property name="lean_class" value="VA" /><camunda:property name="stage" value="{stage}" />'
            '</camunda:properties></bpmn:extensionElements></bpmn:userTask>')


S1, S2, S3 = "1 入党申请", "2 积极分子培养", "3 接收预备党员"
# Two lanes, three stages; stage 2's short branch (x) would share columns with stage 1's long one (a-b-c)
# unless stages are shifted apart; a rework loop runs from stage 3 back into stage 2.
STAGED = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a staged procedure, written by hand -->
<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:camunda="{CAMUNDA}" id="defs" targetNamespace="http://leanflow.example/t">
  <bpmn:process id="staged" name="分阶段（测试）" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_secretary" name="支部书记">
        <bpmn:extensionElements><camunda:properties><camunda:property name="role" value="secretary" />
        </camunda:properties></bpmn:extensionElements>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>a</bpmn:flowNodeRef><bpmn:flowNodeRef>b</bpmn:flowNodeRef><bpmn:flowNodeRef>c</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>decide</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>ok</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_member" name="党员">
        <bpmn:extensionElements><camunda:properties><camunda:property name="role" value="member" />
        </camunda:properties></bpmn:extensionElements>
        <bpmn:flowNodeRef>x</bpmn:flowNodeRef><bpmn:flowNodeRef>study</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="收到申请">{_stage(S1)}</bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" name="分头办理">{_stage(S1)}</bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="a" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="x" />
    {_user_task("a", "谈话", S1)}
    <bpmn:sequenceFlow id="f3" sourceRef="a" targetRef="b" />
    {_user_task("b", "审查", S1)}
    <bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="c" />
    {_user_task("c", "登记", S1)}
    <bpmn:sequenceFlow id="f5" sourceRef="c" targetRef="join" />
    {_user_task("x", "自学", S2)}
    <bpmn:sequenceFlow id="f6" sourceRef="x" targetRef="join" />
    <bpmn:parallelGateway id="join" name="汇合">{_stage(S2)}</bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="study" />
    {_user_task("study", "培养教育", S2)}
    <bpmn:sequenceFlow id="f8" sourceRef="study" targetRef="decide" />
    <bpmn:exclusiveGateway id="decide" name="可以接收？" default="f_back">{_stage(S3)}</bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_ok" name="可以" sourceRef="decide" targetRef="ok">
      <bpmn:conditionExpression>True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_back" name="继续培养" sourceRef="decide" targetRef="study" />
    {_user_task("ok", "接收", S3)}
    <bpmn:sequenceFlow id="f9" sourceRef="ok" targetRef="end" />
    <bpmn:endEvent id="end" name="完成" />
  </bpmn:process>
</bpmn:definitions>
"""


def _laid_out(path: Path) -> etree._Element:
    return layout_definitions(read_bpmn_file(path).root)


def _box(parent: etree._Element) -> Box:
    bounds = parent.find(f"{{{DC}}}Bounds")
    return tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def _shapes(root: etree._Element) -> dict[str, Box]:
    return {s.get("bpmnElement"): _box(s) for s in root.iter(f"{{{BPMNDI}}}BPMNShape")}


def _edges(root: etree._Element) -> dict[str, list[tuple[float, float]]]:
    return {e.get("bpmnElement"): [(float(p.get("x")), float(p.get("y"))) for p in e.iter(f"{{{DI}}}waypoint")]
            for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")}


def _nodes(root: etree._Element) -> dict[str, etree._Element]:
    return {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(f"{{{BPMN}}}")
            and etree.QName(e).localname in FLOW_NODES}


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(a: Box, outer: Box) -> bool:
    return outer[0] <= a[0] and outer[1] <= a[1] and a[0] + a[2] <= outer[0] + outer[2] \
        and a[1] + a[3] <= outer[1] + outer[3]


def _on_border(point: tuple[float, float], b: Box) -> bool:
    x, y = point
    return ((x in (b[0], b[0] + b[2]) and b[1] <= y <= b[1] + b[3])
            or (y in (b[1], b[1] + b[3]) and b[0] <= x <= b[0] + b[2]))


def _staged(tmp_path: Path) -> Path:
    path = tmp_path / "staged.bpmn"
    path.write_text(STAGED, encoding="utf-8")
    return path


ALL = FIXTURES + PROCESSES


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_node_shapes_do_not_overlap(path: Path) -> None:
    root = _laid_out(path)
    shapes, nodes = _shapes(root), _nodes(root)
    assert set(nodes) <= set(shapes), "every flow node has a shape"
    for a, b in combinations(sorted(nodes), 2):
        ea, eb = nodes[a], nodes[b]
        if b in (ea.get("attachedToRef"), *(x.get("id") for x in ea.iterancestors())):
            continue  # a boundary event on its task, a node inside its expanded sub-process
        if a in (eb.get("attachedToRef"), *(x.get("id") for x in eb.iterancestors())):
            continue
        assert not _overlap(shapes[a], shapes[b]), (a, b)
    for event in root.iter(f"{{{BPMN}}}boundaryEvent"):  # on the bottom edge of its task
        ev, task = shapes[event.get("id")], shapes[event.get("attachedToRef")]
        assert ev[1] + ev[3] / 2 == task[1] + task[3] and task[0] <= ev[0] + ev[2] / 2 <= task[0] + task[2]


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_nodes_inside_their_lanes_and_lanes_stacked_inside_the_pool(path: Path) -> None:
    root = _laid_out(path)
    shapes = _shapes(root)
    for participant in root.iter(f"{{{BPMN}}}participant"):
        pool = shapes[participant.get("id")]
        process = root.find(f"{{{BPMN}}}process[@id='{participant.get('processRef')}']")
        lanes = [shapes[lane.get("id")] for lane in process.iterfind(f"{{{BPMN}}}laneSet/{{{BPMN}}}lane")]
        for lane in lanes:
            assert _inside(lane, pool) and lane[0] == pool[0] + 30, "a 30 px pool header on the left"
        for upper, lower in zip(lanes, lanes[1:], strict=False):
            assert upper[1] + upper[3] == lower[1], "lanes are stacked without gaps, in laneSet order"
        if lanes:
            assert lanes[0][1] == pool[1] and lanes[-1][1] + lanes[-1][3] == pool[1] + pool[3]
        for node in _nodes(process):
            assert _inside(shapes[node], pool), node
        nodes = _nodes(process)
        for lane in process.iter(f"{{{BPMN}}}lane"):
            for ref in lane.iterfind(f"{{{BPMN}}}flowNodeRef"):
                node, box = nodes[ref.text.strip()], shapes[ref.text.strip()]
                if node.get("attachedToRef"):
                    continue  # a boundary event sits on its task, wherever the task is
                if _inside(box, shapes[lane.get("id")]):
                    continue
                # A sub-process whose nodes work in several lanes spans those lanes, its own included.
                inner = [shapes[n] for n in _nodes(node)]
                assert inner and _overlap(box, shapes[lane.get("id")]), (ref.text, lane.get("id"))


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_flow_has_orthogonal_waypoints_from_border_to_border(path: Path) -> None:
    root = _laid_out(path)
    shapes, edges = _shapes(root), _edges(root)
    for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
        points = edges[flow.get("id")]
        assert len(points) >= 2
        assert _on_border(points[0], shapes[flow.get("sourceRef")]), (flow.get("id"), points)
        assert _on_border(points[-1], shapes[flow.get("targetRef")]), (flow.get("id"), points)
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert (x1 == x2) != (y1 == y2), f"{flow.get('id')}: segments are horizontal or vertical"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_flows_do_not_cut_through_shapes(path: Path) -> None:
    root = _laid_out(path)
    shapes, edges, nodes = _shapes(root), _edges(root), _nodes(root)
    for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
        ends = {flow.get("sourceRef"), flow.get("targetRef"), nodes[flow.get("sourceRef")].get("attachedToRef")}
        siblings = [n for n, e in nodes.items() if e.getparent() is flow.getparent() and n not in ends]
        points = edges[flow.get("id")]
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            segment = (min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))
            crossed = [n for n in siblings if _overlap(segment, shapes[n])]
            assert not crossed, (flow.get("id"), crossed)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_gateways_events_and_named_flows_have_labels(path: Path) -> None:
    root = layout_definitions(read_bpmn_file(path).root)
    labelled = {e.getparent().get("bpmnElement") for e in root.iter(f"{{{BPMNDI}}}BPMNLabel")}
    for element in root.iter():
        name = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if element.get("name") and (name.endswith(("Gateway", "Event")) or name == "sequenceFlow"):
            assert element.get("id") in labelled, element.get("id")
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape"):
        if shape.get("bpmnElement") in {g.get("id") for g in root.iter(f"{{{BPMN}}}exclusiveGateway")}:
            assert shape.get("isMarkerVisible") == "true"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_laid_out_fixture_loads_and_lints_clean(path: Path) -> None:
    document = load_bpmn(serialize(_laid_out(path)), filename=path.name)
    report = lint_document(document)[0]
    assert report.ok, [(i.code, i.element_id, i.message) for i in report.issues if i.severity == "error"]
    assert len(document.root.findall(f"{{{BPMNDI}}}BPMNDiagram")) == 1


@pytest.mark.parametrize("path", PROCESSES, ids=[p.stem for p in PROCESSES])
def test_layout_adds_no_lint_issue_to_a_procedure(path: Path) -> None:
    def issues(document: object) -> set[tuple[str, str, str | None]]:
        return {(i.severity, i.code, i.element_id) for i in lint_document(document)[0].issues}  # type: ignore[arg-type]

    assert issues(load_bpmn(serialize(_laid_out(path)))) == issues(read_bpmn_file(path))


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_layout_is_deterministic_and_idempotent(path: Path) -> None:
    once = serialize(_laid_out(path))
    assert serialize(_laid_out(path)) == once
    assert serialize(layout_definitions(load_bpmn(once).root)) == once
    assert once.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')


def test_demo_meeting_lanes_loop_and_timers() -> None:
    root = _laid_out(DEMO)
    shapes, edges = _shapes(root), _edges(root)
    plane = root.find(f"{{{BPMNDI}}}BPMNDiagram/{{{BPMNDI}}}BPMNPlane")
    assert plane.get("bpmnElement") == "collab" and len(root.findall(f"{{{BPMN}}}collaboration")) == 1
    secretary, higher = shapes["lane_secretary"], shapes["lane_higher"]
    assert secretary[1] < higher[1] and _inside(shapes["supervise"], higher)
    # Columns follow the longest path, ignoring the rework loop: start < prepare < hold < vote < end.
    xs = [shapes[n][0] for n in ("start", "prepare_agenda", "hold_meeting", "vote_passed", "end_passed")]
    assert xs == sorted(xs) and len(set(xs)) == 5
    # The rework loop leaves the gateway and runs below every shape of the lane, then comes back.
    rework = edges["f_rework"]
    lowest = max(y for _, y in rework)
    lane_nodes = [r.text for r in root.iterfind(f".//{{{BPMN}}}lane[@id='lane_secretary']/{{{BPMN}}}flowNodeRef")]
    assert all(shapes[n][1] + shapes[n][3] < lowest <= secretary[1] + secretary[3] for n in lane_nodes)
    # The boundary timer's flow starts at its bottom; its target is a column right of the task.
    assert edges["f_remind"][0] == (shapes["remind_agenda"][0] + 18, shapes["remind_agenda"][1] + 36)
    assert shapes["reminded"][0] > shapes["prepare_agenda"][0] + shapes["prepare_agenda"][2]


def test_lanes_without_a_collaboration_get_a_participant() -> None:
    root = _laid_out(ROOT / "tests" / "fixtures" / "probation.bpmn")
    (collaboration,) = root.findall(f"{{{BPMN}}}collaboration")
    (participant,) = collaboration.findall(f"{{{BPMN}}}participant")
    assert participant.get("processRef") == "probation" and participant.get("name") == "预备期（测试）"
    assert collaboration.getnext().get("id") == "probation", "the collaboration comes before the process"
    plane = root.find(f"{{{BPMNDI}}}BPMNDiagram/{{{BPMNDI}}}BPMNPlane")
    assert plane.get("bpmnElement") == collaboration.get("id")
    shape = root.find(f".//{{{BPMNDI}}}BPMNShape[@bpmnElement='{participant.get('id')}']")
    assert shape.get("isHorizontal") == "true"


def test_expanded_subprocess_contains_its_own_layout() -> None:
    root = _laid_out(ROOT / "tests" / "fixtures" / "stress_subprocess_vote.bpmn")
    shapes, edges = _shapes(root), _edges(root)
    shape = root.find(f".//{{{BPMNDI}}}BPMNShape[@bpmnElement='round']")
    assert shape.get("isExpanded") == "true"
    for inner in ("round_start", "vote", "round_end"):
        assert _inside(shapes[inner], shapes["round"]), inner
    assert shapes["round_start"][0] < shapes["vote"][0] < shapes["round_end"][0]
    assert {"s1", "s2"} <= set(edges)


def test_stages_become_ordered_groups_around_their_nodes(tmp_path: Path) -> None:
    root = _laid_out(_staged(tmp_path))
    shapes = _shapes(root)
    values = {v.get("id"): v.get("value") for v in root.iter(f"{{{BPMN}}}categoryValue")}
    groups = {values[g.get("categoryValueRef")]: shapes[g.get("id")] for g in root.iter(f"{{{BPMN}}}group")}
    assert list(groups) == [S1, S2, S3]
    assert groups[S1][0] + groups[S1][2] < groups[S2][0] < groups[S2][0] + groups[S2][2] < groups[S3][0]
    for a, b in combinations(groups.values(), 2):
        assert not _overlap(a, b)
    members = {S1: ["start", "split", "a", "b", "c"], S2: ["x", "join", "study"], S3: ["decide", "ok"]}
    for stage, nodes in members.items():
        for node in nodes:
            assert _inside(shapes[node], groups[stage]), (stage, node)
    # Stage 2's short branch was shifted right of stage 1's long one, so the stages do not interleave.
    assert shapes["x"][0] > shapes["c"][0] + shapes["c"][2]
    labels = {e.getparent().get("bpmnElement") for e in root.iter(f"{{{BPMNDI}}}BPMNLabel")}
    assert {g.get("id") for g in root.iter(f"{{{BPMN}}}group")} <= labels, "stage names are shown"
    document = load_bpmn(serialize(root))
    assert lint_document(document)[0].ok, lint_document(document)[0].issues
    again = layout_definitions(document.root)
    assert len(again.findall(f".//{{{BPMN}}}group")) == 3 and len(again.findall(f"{{{BPMN}}}category")) == 1


def test_everything_else_in_the_file_is_kept(tmp_path: Path) -> None:
    text = serialize(_laid_out(_staged(tmp_path))).decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!-- a staged procedure, written by hand -->\n')
    assert 'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"' in text.split(">", 3)[2]
    # Take away what layout adds: what is left is the original, whitespace included.
    laid_out = etree.fromstring(text.encode())
    for added in [*laid_out.iter(f"{{{BPMN}}}group"), *laid_out.iter(f"{{{BPMN}}}category"),
                  *laid_out.iter(f"{{{BPMN}}}collaboration"), *laid_out.iter(f"{{{BPMNDI}}}BPMNDiagram")]:
        parent, previous = added.getparent(), added.getprevious()
        if previous is None:
            parent.text = added.tail
        else:
            previous.tail = added.tail
        parent.remove(added)
    etree.cleanup_namespaces(laid_out)
    original = etree.fromstring(STAGED.encode())
    assert etree.tostring(laid_out, method="c14n") == etree.tostring(original, method="c14n")


def test_old_diagrams_are_replaced(tmp_path: Path) -> None:
    twice = layout_definitions(layout_definitions(read_bpmn_file(DEMO).root))
    assert len(twice.findall(f"{{{BPMNDI}}}BPMNDiagram")) == 1
    assert len(twice.findall(f".//{{{BPMNDI}}}BPMNShape[@bpmnElement='start']")) == 1


def test_cli_lays_out_in_place_or_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _staged(tmp_path)
    out = tmp_path / "out.bpmn"
    assert main([str(path), "-o", str(out)]) == 0
    assert path.read_text(encoding="utf-8") == STAGED and b"BPMNDiagram" in out.read_bytes()
    assert main([str(path)]) == 0
    assert path.read_bytes() == out.read_bytes()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "3 groups" in lines[0] and str(out) in lines[0]
    assert main([str(tmp_path / "missing.bpmn")]) == 1
    assert "cannot read file" in capsys.readouterr().err
