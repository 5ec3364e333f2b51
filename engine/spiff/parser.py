"""Parse a safely loaded BPMN document into SpiffWorkflow specs, reporting problems as lint issues."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException  # type: ignore[import-untyped]
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # type: ignore[import-untyped]
from SpiffWorkflow.exceptions import SpiffWorkflowException  # type: ignore[import-untyped]

from engine.errors import LintIssue
from engine.loader import BpmnDocument
from engine.spiff.timers import adopt_timers


@dataclass(frozen=True)
class ParsedProcess:
    """The executable process of a document as Spiff specs (opaque outside engine.spiff)."""

    process_id: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]


@lru_cache(maxsize=1)
def _validator() -> Any:
    """Load the BPMN 2.0 XSD once per process (it takes ~100 ms)."""
    return BpmnValidator()


def _issue(exc: Exception, code: str) -> LintIssue:
    element = getattr(exc, "id", None) or None
    line = getattr(exc, "line_number", None)
    message = str(exc.args[0]) if exc.args else str(exc)
    return LintIssue("error", code, message, element_id=element, line=line if isinstance(line, int) else None)


def parse_process(document: BpmnDocument, process_id: str | None = None) -> ParsedProcess | LintIssue:
    """Parse the document's executable process, or return the one issue that stopped the parser."""
    parser = CamundaParser(validator=_validator())
    try:
        # Spiff's validator rewrites some nodes in place; give it a copy of our tree.
        parser.add_bpmn_xml(copy.deepcopy(document.root), filename=document.filename)
        candidates = parser.get_process_ids()
        if process_id is None:
            if not candidates:
                return LintIssue("error", "no-executable-process", "no process is marked isExecutable=\"true\"")
            process_id = _main_process(parser, candidates)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        return _issue(exc, "bpmn-invalid")
    except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError, TypeError, AttributeError) as exc:
        return _issue(exc, "bpmn-unsupported")
    adopt_timers([spec, *subprocess_specs.values()])
    return ParsedProcess(process_id, spec.description or process_id, spec, subprocess_specs)


def _main_process(parser: Any, candidates: list[str]) -> str:
    """Pick the process no call activity calls; a collaboration's callees are not the entry point."""
    called: set[str] = set()
    for pid in candidates:
        for node in parser.get_process_parser(pid).node.iter():
            if isinstance(node.tag, str) and node.tag.endswith("callActivity") and node.get("calledElement"):
                called.add(node.get("calledElement"))
    roots = [pid for pid in candidates if pid not in called]
    return (roots or candidates)[0]
