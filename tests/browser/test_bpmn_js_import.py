"""Every procedure opens in bpmn-js, the library behind bpmn.io and Camunda Modeler, in real headless Chromium.

For each diagram: bpmn-js imports it with no warning (an unknown element or attribute, a broken reference, a
shape for no element all come back as warnings), draws every flow node and sequence flow of the XML, and the
drawing at 100% makes a screenshot that is not blank.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.layout import layout_definitions, serialize
from engine.loader import read_bpmn_file
from tests.browser.conftest import ROOT, node_module

if TYPE_CHECKING:
    from playwright.sync_api import Page

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
# Every concrete subclass of BPMN 2.0's FlowNode.
FLOW_NODES = {
    "task", "userTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "manualTask", "businessRuleTask",
    "callActivity", "subProcess", "adHocSubProcess", "transaction",
    "startEvent", "endEvent", "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
}
BRANCH_MEETING = ROOT / "leanflow" / "demo" / "branch_meeting.bpmn"
DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn")) + [BRANCH_MEETING]

IMPORT = """async (xml) => {
  const viewer = new BpmnJS({container: '#canvas'});
  window.viewer = viewer;
  const {warnings} = await viewer.importXML(xml);
  const flowNodes = [];
  const walk = (container) => (container.flowElements || []).forEach((element) => {
    if (element.$instanceOf('bpmn:FlowNode')) flowNodes.push(element.id);
    walk(element);
  });
  viewer.getDefinitions().rootElements.filter((e) => e.$instanceOf('bpmn:Process')).forEach(walk);
  return {warnings: warnings.map((w) => w.message), flowNodes, inner: viewer.get('canvas').viewbox().inner};
}"""
# Show the whole diagram at 100%, as a modeler does before one zooms out, MARGIN px around it.
ACTUAL_SIZE = """([x, y, width, height]) => {
  const canvas = viewer.get('canvas');
  canvas.resized();
  canvas.viewbox({x, y, width, height});
  return canvas.zoom();
}"""
MARGIN = 20
MAX_SIDE = 16_000  # Chromium's limit for one screenshot's side
UNDRAWN = "(ids) => ids.filter((id) => !viewer.get('elementRegistry').get(id))"


def ids_of(xml: str, kinds: set[str]) -> set[str]:
    """Return the ids of the BPMN elements of these kinds, read with the standard library."""
    root = ET.fromstring(xml.encode("utf-8"))
    return {e.attrib["id"] for e in root.iter() if e.tag.startswith(BPMN) and e.tag[len(BPMN):] in kinds}


@pytest.fixture(scope="module")
def bpmn_js() -> Path:
    """bpmn-js's prebuilt bundles and styles (node_modules/bpmn-js/dist)."""
    return node_module("bpmn-js/dist/bpmn-viewer.production.min.js").parent


def open_in_bpmn_js(page: Page, bpmn_js: Path, xml: str, screenshot: Path) -> None:
    """Import the XML into bpmn-js's viewer and check that it is read without warnings and drawn whole."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_content('<div id="canvas" style="width: 100vw; height: 100vh"></div>')
    page.add_style_tag(path=bpmn_js / "assets" / "diagram-js.css")
    page.add_style_tag(path=bpmn_js / "assets" / "bpmn-js.css")
    page.add_script_tag(path=bpmn_js / "bpmn-viewer.production.min.js")

    result = page.evaluate(IMPORT, xml)

    assert result["warnings"] == []
    flow_nodes = ids_of(xml, FLOW_NODES)
    assert flow_nodes, "no flow node in the diagram"
    assert set(result["flowNodes"]) == flow_nodes, "bpmn-js and the XML disagree on the flow nodes"
    assert page.evaluate(UNDRAWN, sorted(flow_nodes | ids_of(xml, {"sequenceFlow"}))) == [], "not on the canvas"
    inner = result["inner"]
    width, height = (min(MAX_SIDE, round(inner[side]) + 2 * MARGIN) for side in ("width", "height"))
    page.set_viewport_size({"width": width, "height": height})
    assert page.evaluate(ACTUAL_SIZE, [inner["x"] - MARGIN, inner["y"] - MARGIN, width, height]) == pytest.approx(1)
    page.screenshot(path=screenshot)
    page.locator("#canvas").evaluate("(canvas) => { canvas.style.visibility = 'hidden'; }")
    blank = page.screenshot()  # the same page with nothing drawn: a drawing compresses to 6 to 16 times its size
    assert screenshot.stat().st_size > 3 * len(blank), "the screenshot looks blank"
    assert errors == []


def test_there_are_diagrams() -> None:
    assert len(DIAGRAMS) > 1


@pytest.mark.parametrize("path", DIAGRAMS, ids=[p.stem for p in DIAGRAMS])
def test_bpmn_js_reads_and_draws_the_diagram(path: Path, page: Page, bpmn_js: Path, tmp_path: Path) -> None:
    open_in_bpmn_js(page, bpmn_js, path.read_text(encoding="utf-8"), tmp_path / f"{path.stem}.png")


def test_bpmn_js_draws_a_diagram_laid_out_by_leanflow(page: Page, bpmn_js: Path, tmp_path: Path) -> None:
    laid_out = serialize(layout_definitions(read_bpmn_file(BRANCH_MEETING).root)).decode("utf-8")
    open_in_bpmn_js(page, bpmn_js, laid_out, tmp_path / "branch_meeting_laid_out.png")
