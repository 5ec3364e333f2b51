"""engine.render: SVG from the DI of LeanFlow's and other modelers' diagrams, with states and overlays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from engine.clock import VirtualClock
from engine.layout import layout_definitions
from engine.loader import load_bpmn, read_bpmn_file
from engine.model import BPMN
from engine.render import (
    SVG,
    ElementState,
    NoDiagram,
    Overlay,
    element_states,
    main,
    render_svg,
    states_from_history,
    wrap,
)
from engine.service import open_service

ROOT = Path(__file__).parent.parent.parent
DEMO = ROOT / "leanflow" / "demo" / "branch_meeting.bpmn"
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
MODELERS = sorted((ROOT / "tests" / "fixtures" / "modelers").glob("*.bpmn"))
LAID_OUT = sorted((ROOT / "tests" / "fixtures").glob("*.bpmn"))  # no DI of their own: laid out first
FLOW_NODES = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
              "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
              "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
OUTLINES = {f"{{{SVG}}}{tag}" for tag in ("rect", "circle", "polygon", "path", "ellipse")}
AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}


def _root(path: Path) -> etree._Element:
    """A file's tree, laid out first (as `leanflow layout` would) if it has no DI of its own."""
    root = read_bpmn_file(path).root
    return root if _di(root, "BPMNDiagram") else layout_definitions(root)


def _without_di(path: Path) -> etree._Element:
    """A file's tree with every BPMNDiagram removed."""
    root = read_bpmn_file(path).root
    for diagram in _di(root, "BPMNDiagram"):
        diagram.getparent().remove(diagram)
    return root


def _svg(text: str) -> etree._Element:
    return etree.fromstring(text.encode("utf-8"))


def _drawn(svg: etree._Element) -> dict[str, etree._Element]:
    return {e.get("data-element-id"): e for e in svg.iter() if e.get("data-element-id") is not None}


def _di(root: etree._Element, name: str) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name]


def _visible(svg: etree._Element, element_id: str) -> str:
    """The text drawn for an element, inside its shape or as its outside label, without the white space."""
    holders = [e for e in svg.iter() if element_id in (e.get("data-element-id"), e.get("data-label-for"))]
    return "".join("".join(t.text or "" for h in holders for t in h.iter(f"{{{SVG}}}tspan")).split())


@pytest.mark.parametrize("path", PROCESSES + [DEMO], ids=lambda p: p.name)
def test_library_diagrams_render_every_node_flow_and_chinese_label(path: Path) -> None:
    root = _root(path)
    svg = _svg(render_svg(root))
    drawn = _drawn(svg)
    ids = {e.get("id"): e for e in root.iter(f"{{{BPMN}}}*")}
    nodes = [s.get("bpmnElement") for s in _di(root, "BPMNShape")
             if etree.QName(ids[s.get("bpmnElement")]).localname in FLOW_NODES]
    assert len(nodes) > 5
    for node in nodes:
        assert any(e.tag in OUTLINES for e in drawn[node].iter()), node
    for edge in _di(root, "BPMNEdge"):
        assert drawn[edge.get("bpmnElement")].find(f"{{{SVG}}}path") is not None, edge.get("bpmnElement")
    shown = 0
    for node in nodes:
        name = "".join((ids[node].get("name") or "").split())
        text = _visible(svg, node)
        if name:
            # Every name is drawn in full, or cut short with an ellipsis when it would overflow its box.
            assert text == name or (text.endswith("…") and name.startswith(text[:-1].rstrip())), (node, text)
            shown += text == name
    assert shown >= 0.9 * sum(1 for n in nodes if ids[n].get("name"))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(svg.itertext()))


@pytest.mark.parametrize("path", PROCESSES + [DEMO] + MODELERS + LAID_OUT, ids=lambda p: p.name)
def test_view_box_holds_every_shape_and_waypoint(path: Path) -> None:
    root = _root(path)
    svg = _svg(render_svg(root))
    x, y, w, h = (float(v) for v in svg.get("viewBox").split())
    for shape in _di(root, "BPMNShape"):
        bounds = next(c for c in shape if etree.QName(c).localname == "Bounds")
        bx, by = float(bounds.get("x")), float(bounds.get("y"))
        if bounds.get("width") != "NaN":
            assert x <= bx and bx + float(bounds.get("width")) <= x + w and y <= by <= y + h
    for point in _di(root, "waypoint"):
        assert x <= float(point.get("x")) <= x + w and y <= float(point.get("y")) <= y + h


def test_states_from_a_real_instance(tmp_path: Path) -> None:
    service = open_service(f"sqlite:///{tmp_path / 'lf.db'}", clock=VirtualClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    try:
        service.import_org((DEMO.parent / "org.yaml").read_text(encoding="utf-8"), "org.yaml", actor="zhao")
        service.deploy_file(DEMO, actor="zhao")
        instance = service.start("branch_meeting", org_unit_id="b1", actor="zhang")
        service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA)
        events = service.history(instance.id)
    finally:
        assert service.db_engine is not None
        service.db_engine.dispose()
    states = states_from_history(events)
    assert states["prepare_agenda"] == "completed"
    assert states["hold_meeting"] == "active"
    assert states["meeting_deadline"] == "waiting"
    assert states["remind_agenda"] == "not_reached"  # its task was done before it fired: cancelled
    assert "end_passed" not in states
    detail = element_states(events)
    assert detail["prepare_agenda"] == ElementState("completed", entered=1, completed=1)
    assert detail["remind_agenda"].cancelled == 1

    svg = _svg(render_svg(_root(DEMO), states=detail, title="支部党员大会 #1"))
    drawn = _drawn(svg)
    expected = {"prepare_agenda": "completed", "hold_meeting": "active", "meeting_deadline": "waiting",
                "end_passed": "not_reached", "vote_passed": "not_reached", "supervise": "not_reached"}
    for element_id, state in expected.items():
        assert f"state-{state}" in drawn[element_id].get("class").split(), element_id
    assert "state-" not in drawn["lane_secretary"].get("class")  # pools and lanes have no state
    style = svg.find(f"{{{SVG}}}style").text
    assert all(f".state-{s} .lf-shape" in style for s in ("completed", "active", "waiting", "not_reached"))
    assert svg.find(f"{{{SVG}}}title").text == "支部党员大会 #1"
    assert "已完成 completed" in "".join(svg.find(f"{{{SVG}}}g[@class='lf-legend']").itertext())


def test_states_latest_wins_and_parallel_tokens() -> None:
    def event(kind: str, spec: str, token: str) -> object:
        return type("E", (), {"type": kind, "payload": {"spec": spec}, "task_id": token})()

    history = [event("task_ready", "a", "1"), event("task_completed", "a", "1"), event("task_ready", "a", "2"),
               event("task_ready", "vote", "v1"), event("task_ready", "vote", "v2"),
               event("task_completed", "vote", "v1"), event("timer_due", "t", "t1"),
               event("timer_fired", "t", "t1"), event("timer_due", "cycle", "c1"),
               event("timer_fired", "cycle", "c1"), event("timer_due", "cycle", "c1")]
    assert states_from_history(history) == {"a": "active", "vote": "active", "t": "completed", "cycle": "waiting"}
    done = history + [type("E", (), {"type": "instance_completed", "payload": {}, "task_id": None})()]
    assert states_from_history(done) == {"a": "completed", "vote": "completed", "t": "completed",
                                         "cycle": "completed"}


HOSTILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="http://t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" name="&lt;script&gt;alert(1)&lt;/script&gt;" />
    <bpmn:sequenceFlow id="f" name="a &amp; b &quot;c&quot; 'd' ]]&gt;" sourceRef="s" targetRef="t" />
    <bpmn:task id="t" name="&lt;/text&gt;&lt;image href=&quot;x&quot; onerror=&quot;alert(2)&quot;/&gt;" />
    <bpmn:task id="q&quot;&gt;&lt;svg onload=alert(3)&gt;" name="&lt;![CDATA[x]]&gt; &amp;amp;" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D"><bpmndi:BPMNPlane id="P" bpmnElement="p">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="100" y="100" width="36" height="36" />
    </bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="t_di" bpmnElement="t"><dc:Bounds x="200" y="78" width="100" height="80" />
    </bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="q_di" bpmnElement="q&quot;&gt;&lt;svg onload=alert(3)&gt;">
      <dc:Bounds x="350" y="78" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f_di" bpmnElement="f"><di:waypoint x="136" y="118" /><di:waypoint x="200" y="118" />
    </bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_hostile_names_come_out_as_text_never_markup() -> None:
    root = load_bpmn(HOSTILE).root
    text = render_svg(root, title="<script>alert(4)</script>", overlays={"t": Overlay(badge="<b>9</b>",
                                                                                      title="</title><x/>")})
    svg = _svg(text)
    tags = {etree.QName(e).localname for e in svg.iter() if isinstance(e.tag, str)}
    assert tags <= {"svg", "title", "style", "defs", "marker", "path", "g", "rect", "circle", "polygon",
                    "polyline", "text", "tspan", "ellipse"}
    assert not [a for e in svg.iter() for a in e.attrib if a.startswith("on") or a == "href"]
    assert "<script>" not in text and "<image" not in text and "<svg onload" not in text
    assert "<script>alert(1)</script>" in _visible(svg, "s")
    assert "alert(2)" in _visible(svg, "t") and "<b>9</b>" in "".join(svg.itertext())
    assert "q\"><svg onload=alert(3)>" in _drawn(svg)
    assert _visible(svg, "f") == "a&b\"c\"'d']]>"


def test_caller_text_with_control_characters_is_cleaned_and_bad_colours_refused() -> None:
    root = load_bpmn(HOSTILE).root
    svg = _svg(render_svg(root, title="标题\x00\x1b", overlays={"t": Overlay(badge="\x07 3")}))
    assert svg.find(f"{{{SVG}}}title").text == "标题"
    for colour in ("url(javascript:alert(1))", "red; background: url(x)", "#12345", "expression(alert(1))"):
        with pytest.raises(ValueError, match="not a colour"):
            render_svg(root, overlays={"t": Overlay(fill=colour)})
    with pytest.raises(ValueError, match="unknown state"):
        render_svg(root, states={"t": "exploded"})


def test_no_diagram_is_said_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NoDiagram) as raised:
        render_svg(_without_di(DEMO))
    assert str(raised.value) == "this file has no diagram (BPMN DI); lay it out with `leanflow layout FILE`"
    empty_plane = HOSTILE.split("<bpmndi:BPMNShape")[0] + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>"
    with pytest.raises(NoDiagram, match="has no shapes"):
        render_svg(load_bpmn(empty_plane).root)
    bare = tmp_path / "bare.bpmn"
    bare.write_bytes(etree.tostring(_without_di(DEMO), xml_declaration=True, encoding="UTF-8"))
    assert main([str(bare), "-o", str(tmp_path / "x.svg")]) == 1
    assert f"{bare}: this file has no diagram (BPMN DI); lay it out with `leanflow layout {bare}`" \
        in capsys.readouterr().err
    assert not (tmp_path / "x.svg").exists()


def test_overlays_fill_and_badge_elements_and_flows() -> None:
    root = _root(DEMO)
    overlays = {"hold_meeting": Overlay(fill="#ff8a65", badge="12", title="平均 3.5 天"),
                "f2": Overlay(fill="rgb(200, 40, 40)", badge="7×"), "not_in_diagram": Overlay(badge="1")}
    svg = _svg(render_svg(root, overlays=overlays))
    drawn = _drawn(svg)
    outline = next(e for e in drawn["hold_meeting"] if e.get("class") == "lf-shape")
    assert outline.get("style") == "fill: #ff8a65"
    assert "平均 3.5 天" in drawn["hold_meeting"].find(f"{{{SVG}}}title").text
    assert drawn["f2"].find(f"{{{SVG}}}path").get("style") == "stroke: rgb(200, 40, 40)"
    badges = {b.get("data-badge-for"): "".join(b.itertext()) for b in svg.iter() if b.get("class") == "lf-badge"}
    assert badges == {"f2": "7×", "hold_meeting": "12"}


def test_highlight_outlines_one_element() -> None:
    svg = _svg(render_svg(_root(DEMO), highlight="vote_passed"))
    marks = [e for e in svg.iter() if "lf-highlight" in (e.get("class") or "")]
    assert [m.get("data-highlight-for") for m in marks] == ["vote_passed"]
    assert not [e for e in _svg(render_svg(_root(DEMO), highlight="nope")).iter()
                if "lf-highlight" in (e.get("class") or "")]


def test_output_is_deterministic() -> None:
    states = {"prepare_agenda": "completed", "hold_meeting": "active"}
    overlays = {"supervise": Overlay(fill="#abc", badge="3")}
    first = render_svg(_root(DEMO), states=states, overlays=overlays, title="t")
    assert first == render_svg(_root(DEMO), states=dict(reversed(states.items())), overlays=overlays, title="t")
    assert render_svg(read_bpmn_file(PROCESSES[0]).root) == render_svg(read_bpmn_file(PROCESSES[0]).root)


def test_wrap_breaks_cjk_anywhere_latin_at_spaces_and_keeps_punctuation() -> None:
    assert wrap("召开支部党员大会并表决", 48, 12) == ["召开支部", "党员大会", "并表决"]
    assert wrap("Check the application for completeness", 88, 12) == ["Check the", "application for",
                                                                      "completeness"]
    assert wrap("审议通过，报上级", 48, 12) == ["审议通过，", "报上级"]  # a comma never starts a line
    assert wrap("提交申请（含附件）", 60, 12) == ["提交申请", "（含附件）"]  # nor does a bracket end one
    long_word = wrap("Supercalifragilisticexpialidocious", 60, 12)  # a word wider than the box is cut
    assert len(long_word) >= 3 and "".join(long_word) == "Supercalifragilisticexpialidocious"
    assert wrap("第一行\n第二行", 200, 12) == ["第一行", "第二行"]


# -- other modelers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODELERS, ids=lambda p: p.name)
def test_modeler_samples_render_every_flow_node_they_draw(path: Path) -> None:
    root = read_bpmn_file(path).root
    svg = _svg(render_svg(root))
    drawn = _drawn(svg)
    assert svg.get("viewBox") and float(svg.get("width")) > 100
    assert len([e for e in drawn.values() if e.find(f"{{{SVG}}}path") is not None]) >= 2
    assert sum(1 for e in drawn.values() if "lf-userTask" in e.get("class") or "lf-task" in e.get("class")) >= 1


def _modeler(name: str) -> tuple[etree._Element, dict[str, etree._Element]]:
    svg = _svg(render_svg(read_bpmn_file(ROOT / "tests" / "fixtures" / "modelers" / name).root))
    return svg, _drawn(svg)


def test_camunda_modeler_sample_picks_the_collaboration_not_the_drill_down() -> None:
    svg, drawn = _modeler("camunda_modeler.bpmn")
    assert {"Participant_1", "Lane_applicant", "Lane_finance", "Activity_archive", "Event_remind"} <= set(drawn)
    assert "Archive_scan" not in drawn  # lives in the collapsed sub-process's own diagram
    archive = drawn["Activity_archive"]
    assert any(g.get("class") == "lf-glyph" for g in archive.iter())  # the + marker of a collapsed sub-process
    assert drawn["Flow_big"].find(f"{{{SVG}}}path").get("marker-end") == "url(#lf-arrow)"
    assert len(drawn["Flow_small"].findall(f"{{{SVG}}}path")) == 2  # the default flow's slash
    assert "1 4" in drawn["Association_1"].find(f"{{{SVG}}}path").get("stroke-dasharray")
    assert _visible(svg, "TextAnnotation_1") == "超过5000元需经理审批&<复核>"
    assert drawn["Event_remind"].find(f"{{{SVG}}}circle").get("stroke-dasharray") == "4 2"  # non-interrupting


def test_shapes_inside_a_collapsed_sub_process_are_not_drawn_over_it() -> None:
    text = (ROOT / "tests" / "fixtures" / "modelers" / "camunda_modeler.bpmn").read_text(encoding="utf-8")
    stray = '<bpmndi:BPMNShape id="x_di" bpmnElement="Archive_scan"><dc:Bounds x="900" y="320" width="80" ' \
            'height="60" /></bpmndi:BPMNShape>'
    text = text.replace('<bpmndi:BPMNEdge id="Flow_1_di"', stray + '<bpmndi:BPMNEdge id="Flow_1_di"', 1)
    drawn = _drawn(_svg(render_svg(load_bpmn(text).root)))
    assert "Activity_archive" in drawn and "Archive_scan" not in drawn


def test_bpmn_io_sample_draws_markers_and_triggers() -> None:
    svg, drawn = _modeler("bpmn_io.bpmn")
    assert "lf-subProcess" in drawn["Activity_meeting"].get("class") and "Sub_discuss" in drawn
    assert drawn["Event_done"].find(f"{{{SVG}}}circle").get("stroke-width") == "4"
    assert len(drawn["Event_minutes"].findall(f"{{{SVG}}}circle")) == 2  # intermediate: double ring
    assert _visible(svg, "Group_prep") == "Preparation准备"  # a group shows its category value
    assert _visible(svg, "DataObjectReference_guests") == "Guestlist"


def test_signavio_sample_with_float_bounds_and_labels_without_bounds() -> None:
    svg, drawn = _modeler("signavio.bpmn")
    assert {"sid-citizen", "sid-town", "sid-front", "sid-back", "sid-mf-apply", "sid-mf-notify"} <= set(drawn)
    assert drawn["sid-mf-apply"].find(f"{{{SVG}}}path").get("stroke-dasharray") == "10 6"
    assert _visible(svg, "sid-start") == "Applicationreceived"  # wrapped at the space, under the event
    assert _visible(svg, "sid-citizen") == "Citizen"  # a black-box pool: name in the middle
    # "Done" has a flow arriving from below, so its label goes above the event rather than over the arrow.
    label = next(e for e in svg.iter() if e.get("data-label-for") == "sid-end")
    assert float(label.find(f".//{{{SVG}}}tspan").get("y")) < 218


def test_bizagi_sample_picks_the_main_diagram_and_skips_broken_di() -> None:
    svg, drawn = _modeler("bizagi_multi.bpmn")
    assert {"Id_pool", "Id_start", "Id_register", "Id_evaluate", "Id_end", "Id_f1", "Id_f2", "Id_f3"} <= set(drawn)
    assert not {"Id_ghost_deleted_task", "Id_note", "Id_f4", "Id_eval_task"} & set(drawn)


def test_vertical_pool_and_qname_references() -> None:
    svg, drawn = _modeler("vertical_qnames.bpmn")
    assert {"pool", "lane_req", "lane_app", "request", "f_no"} <= set(drawn)
    # A vertical pool's name runs across its top band; its lanes say nothing, so their shape decides.
    for element_id in ("pool", "lane_req", "lane_app"):
        assert drawn[element_id].find(f".//{{{SVG}}}text").get("transform") is None
    assert "rotate" in _modeler("signavio.bpmn")[1]["sid-back"].find(f".//{{{SVG}}}text").get("transform")


def test_cli_renders_an_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'lf.db'}"
    service = open_service(url, clock=VirtualClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    try:
        service.import_org((DEMO.parent / "org.yaml").read_text(encoding="utf-8"), "org.yaml", actor="zhao")
        service.deploy_file(DEMO, actor="zhao")
        instance = service.start("branch_meeting", org_unit_id="b1", actor="zhang")
    finally:
        assert service.db_engine is not None
        service.db_engine.dispose()
    laid_out = tmp_path / "meeting.bpmn"
    laid_out.write_bytes(etree.tostring(_root(DEMO), xml_declaration=True, encoding="UTF-8"))
    out = tmp_path / "meeting.svg"
    assert main([str(laid_out), "-o", str(out), "--instance", str(instance.id), "--db", url]) == 0
    svg = etree.parse(str(out)).getroot()
    assert "state-active" in _drawn(svg)["prepare_agenda"].get("class")
    assert f"#{instance.id}" in svg.find(f"{{{SVG}}}title").text
    assert main([str(ROOT / "tests" / "fixtures" / "modelers" / "bpmn_io.bpmn"), "--instance",
                 str(instance.id), "--db", url]) == 1
    assert "does not contain" in capsys.readouterr().err
