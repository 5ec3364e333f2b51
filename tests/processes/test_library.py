"""Every procedure in processes/ lints clean, has its .md, and is listed in processes/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.loader import read_bpmn_file
from engine.model import BPMN
from engine.service import WorkflowService
from tests.processes.conftest import PROCESSES

FILES = sorted(PROCESSES.glob("*.bpmn"))


def test_the_library_is_not_empty() -> None:
    assert FILES, "processes/ holds no procedure"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_procedure_lints_clean_and_is_documented(path: Path, library: WorkflowService) -> None:
    report = library.lint_file(path)
    assert report.ok, [(i.element_id, i.code, i.message) for i in report.issues if i.severity == "error"]
    assert report.process_id == path.stem, "the file is named after its process id"
    assert path.with_suffix(".md").exists(), f"{path.stem}.md is missing"
    assert f"{path.stem}" in (PROCESSES / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_user_task_has_lean_class_and_sla(path: Path) -> None:
    root = read_bpmn_file(path).root
    for task in root.iter(f"{{{BPMN}}}userTask"):
        text = "".join(task.itertext()) + " ".join(
            p.get("name", "") for p in task.iter("{http://camunda.org/schema/1.0/bpmn}property"))
        assert "lean_class" in text and "sla" in text, task.get("id")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_diagram_has_layout(path: Path) -> None:
    root = read_bpmn_file(path).root
    shapes = list(root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape"))
    nodes = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(f"{{{BPMN}}}")
             and e.tag.split("}")[1] in ("userTask", "scriptTask", "serviceTask", "exclusiveGateway",
                                          "parallelGateway", "startEvent", "endEvent", "boundaryEvent",
                                          "intermediateCatchEvent", "intermediateThrowEvent", "subProcess")]
    placed = {s.get("bpmnElement") for s in shapes}
    assert {n.get("id") for n in nodes} <= placed
