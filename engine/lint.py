"""Lint a procedure: BPMN structure with element ids, then LeanFlow's domain rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from lxml import etree

from engine import durations
from engine.errors import InvalidInput, LintIssue
from engine.forms import FIELD_TYPES
from engine.loader import BpmnDocument
from engine.model import BPMN, ProcedureModel, extract_document_model, extract_model, find_process
from engine.roles import ROLES, SCOPES, Role
from engine.sandbox import check_code
from engine.spiff.parser import ParsedProcess, parse_process
from engine.views import LintReport

LEAN_CLASSES = ("VA", "NNVA", "W")
CONSTRAINTS = ("minlength", "maxlength", "min", "max", "pattern")
SUPPORTED = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask", "task",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "subProcess", "callActivity", "transaction",
}
UNSUPPORTED = {"complexGateway", "adHocSubProcess", "choreographyTask", "subChoreography"}
# Text that is plainly an attempt at an ISO duration, cycle or date (P3D, PT2H, R3/..., 2026-07-01), not an
# expression over the data such as probation_end.
ISO_LIKE = re.compile(r"P\d|PT\d|R\d*/|\d{4}-\d", re.IGNORECASE)
NOT_FLOW = {"laneSet", "lane", "sequenceFlow", "dataObject", "dataObjectReference", "dataStoreReference",
            "textAnnotation", "association", "extensionElements", "documentation", "ioSpecification",
            "property", "group", "category", "flowNodeRef", "childLaneSet", "incoming", "outgoing"}


def _local(tag: object) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _structure(process: etree._Element) -> list[LintIssue]:
    issues: list[LintIssue] = []
    ids = {e.get("id") for e in process.iter() if isinstance(e.tag, str) and e.get("id")}
    if not any(True for _ in process.iter(f"{{{BPMN}}}startEvent")):
        issues.append(LintIssue("error", "no-start", "the process has no start event", process.get("id"),
                                process.sourceline))
    if not any(True for _ in process.iter(f"{{{BPMN}}}endEvent")):
        issues.append(LintIssue("warning", "no-end", "the process has no end event", process.get("id")))
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if not ref or ref not in ids:
                issues.append(LintIssue("error", "dangling-flow", f"{end} '{ref}' names no element",
                                        flow.get("id"), flow.sourceline))
    for element in process.iter():
        name = _local(element.tag)
        if name in UNSUPPORTED or (element.getparent() is process and name not in SUPPORTED and name not in NOT_FLOW
              and isinstance(element.tag, str) and element.tag.startswith(f"{{{BPMN}}}")):
            issues.append(LintIssue("error", "unsupported-element", f"<{name}> is not supported by the engine",
                                    element.get("id"), element.sourceline))
    incoming = {f.get("targetRef") for f in process.iter(f"{{{BPMN}}}sequenceFlow")}
    outgoing: dict[str, list[etree._Element]] = {}
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
    for element in process.iter():
        name = _local(element.tag)
        eid = element.get("id")
        if name in SUPPORTED - {"startEvent", "boundaryEvent"} and eid not in incoming:
            parent = _local(element.getparent().tag) if element.getparent() is not None else ""
            if not (name == "startEvent" or parent == "subProcess" and name == "startEvent"):
                issues.append(LintIssue("warning", "unreachable", f"<{name}> has no incoming flow", eid,
                                        element.sourceline))
        if name == "exclusiveGateway" and len(outgoing.get(eid or "", [])) > 1:
            default = element.get("default")
            for flow in outgoing[eid or ""]:
                if flow.get("id") != default and flow.find(f"{{{BPMN}}}conditionExpression") is None:
                    issues.append(LintIssue("error", "missing-condition",
                                            "a gateway branch without a condition must be the default flow",
                                            flow.get("id"), flow.sourceline))
            if not element.get("name"):
                issues.append(LintIssue("warning", "unlabelled-gateway", "name the decision this gateway makes",
                                        eid, element.sourceline))
    return issues


def _role_issues(model: ProcedureModel, roles: Mapping[str, Role]) -> list[LintIssue]:
    issues = []
    for task in model.user_tasks.values():
        if task.lane is None and task.role is None:
            issues.append(LintIssue("error", "no-lane", "user task is in no lane (lanes say which role does it)",
                                    task.id, task.line))
            continue
        role = task.role or (task.lane if task.lane in roles else None)
        if role is None:
            issues.append(LintIssue("error", "unknown-role",
                                    f"lane '{task.lane}' is mapped to no role (add camunda:property role=...)",
                                    task.id, task.line))
        elif role not in roles:
            issues.append(LintIssue("error", "unknown-role", f"role '{role}' is not a known role", task.id,
                                    task.line))
        elif roles[role].per_case and not task.assignee:
            issues.append(LintIssue("error", "no-assignee",
                                    f"role '{role}' is filled per case: set camunda:assignee=\"${{variable}}\"",
                                    task.id, task.line))
        if task.scope not in SCOPES:
            issues.append(LintIssue("error", "bad-scope", f"scope must be one of {', '.join(SCOPES)}", task.id,
                                    task.line))
    return issues


def _config_problem(kind: str, name: str, config: str) -> str | None:
    """Why a min, max or pattern config would break validation at submit time (None = fine)."""
    if name == "pattern":
        try:
            re.compile(config)
        except re.error as bad:
            return f"is not a valid regular expression ({bad})"
    elif name in ("min", "max") and kind == "date":
        try:
            if date.fromisoformat(config).isoformat() == config:
                return None
        except ValueError:
            pass
        return "needs a date written YYYY-MM-DD"
    elif name in ("min", "max"):
        try:
            float(config)
        except ValueError:
            return "needs a number"
    return None


def _field_id_issues(process: etree._Element) -> list[LintIssue]:
    """Form field ids must not reuse a diagram element's id: Spiff's parser then misreads the field as a task."""
    element_ids = {e.get("id") for e in process.iter() if isinstance(e.tag, str) and e.tag.startswith(f"{{{BPMN}}}")
                   and e.get("id")}
    issues = []
    for task in extract_model(process).user_tasks.values():
        for form_field in task.form:
            if form_field.id in element_ids:
                issues.append(LintIssue("error", "field-id-clash",
                                        f"form field '{form_field.id}' has the id of a diagram element; rename it",
                                        task.id, task.line))
    return issues


def _task_issues(model: ProcedureModel) -> list[LintIssue]:
    issues = []
    for task in model.user_tasks.values():
        if task.lean_class is None:
            issues.append(LintIssue("error", "no-lean-class", "declare lean_class (VA, NNVA or W)", task.id,
                                    task.line))
        elif task.lean_class not in LEAN_CLASSES:
            issues.append(LintIssue("error", "bad-lean-class", f"lean_class '{task.lean_class}' is not VA, NNVA or W",
                                    task.id, task.line))
        if task.sla is not None:
            try:
                durations.parse_deadline(task.sla)
            except InvalidInput as bad:
                # Not a duration: it may name a date in the data (e.g. action_due); then it must be safe code.
                if ISO_LIKE.match(task.sla.strip().strip("'\"")) or check_code(task.sla, mode="eval"):
                    issues.append(LintIssue("error", "bad-sla", f"sla: {bad.message}", task.id, task.line))
        field_ids = {f.id for f in task.form}
        for form_field in task.form:
            if form_field.type not in FIELD_TYPES:
                issues.append(LintIssue("error", "bad-field-type",
                                        f"field '{form_field.id}' has unknown type '{form_field.type}'", task.id,
                                        task.line))
            if form_field.type == "enum" and not form_field.options:
                issues.append(LintIssue("error", "enum-without-values", f"enum field '{form_field.id}' has no values",
                                        task.id, task.line))
            for name, config in form_field.constraints.items():
                if name not in CONSTRAINTS:
                    issues.append(LintIssue("error", "bad-constraint",
                                            f"field '{form_field.id}': unknown constraint '{name}'", task.id,
                                            task.line))
                elif name in ("minlength", "maxlength") and not config.isdigit():
                    issues.append(LintIssue("error", "bad-constraint",
                                            f"field '{form_field.id}': {name} needs a whole number", task.id,
                                            task.line))
                elif problem := _config_problem(form_field.type, name, config):
                    issues.append(LintIssue("error", "bad-constraint", f"field '{form_field.id}': {name} {problem}",
                                            task.id, task.line))
        for check in task.checks:
            if check.field is not None and check.field not in field_ids:
                issues.append(LintIssue("warning", "check-field",
                                        f"check '{check.name}' points at field '{check.field}' not on the form",
                                        task.id, task.line))
    return issues


def _timer_issues(model: ProcedureModel) -> list[LintIssue]:
    issues = []
    for timer in model.timers.values():
        text = timer.expression.strip()
        literal = text[1:-1] if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"" else text
        parse = {"duration": durations.parse_deadline, "date": durations.parse_date,
                 "cycle": durations.parse_cycle}.get(timer.kind)
        if parse is None or not text:
            issues.append(LintIssue("error", "bad-timer", "timer has no timeDate, timeDuration or timeCycle",
                                    timer.id, timer.line))
            continue
        try:
            parse(literal)
        except InvalidInput as bad:
            # Not a literal: it may be an expression over the data (e.g. probation_end), checked in the sandbox.
            reasons = check_code(text, mode="eval") if timer.kind != "cycle" else [bad.message]
            # A quoted text is always meant as a literal; probation_end or review_date are variable names.
            if reasons or literal != text or ISO_LIKE.match(literal):
                issues.append(LintIssue("error", "bad-timer", f"{timer.kind} '{text}': {bad.message}", timer.id,
                                        timer.line))
    return issues


def _param_issues(model: ProcedureModel) -> list[LintIssue]:
    issues = []
    for param in model.params.values():
        if not param.name.isidentifier():
            issues.append(LintIssue("error", "bad-param", f"parameter name '{param.name}' is not an identifier",
                                    model.process_id))
        if param.values and param.default not in param.values:
            issues.append(LintIssue("error", "bad-param",
                                    f"parameter {param.name}: default '{param.default}' is not one of "
                                    f"{', '.join(param.values)}", model.process_id))
    return issues


def _code_issues(model: ProcedureModel) -> list[LintIssue]:
    issues = []
    for code in model.code:
        if not code.source.strip():
            issues.append(LintIssue("error", "empty-code", "empty script or condition", code.element_id, code.line))
            continue
        for reason in check_code(code.source, mode=code.mode):
            issues.append(LintIssue("error", "unsafe-code", reason, code.element_id, code.line))
    return issues


def lint_document(
    document: BpmnDocument, roles: Mapping[str, Role] = ROLES
) -> tuple[LintReport, ParsedProcess | None, ProcedureModel | None]:
    """Lint a loaded document; return the report and, when it parsed, the Spiff process and the model."""
    processes = [p for p in document.root.iter(f"{{{BPMN}}}process")]
    if not processes:
        issue = LintIssue("error", "no-process", "the document has no bpmn:process")
        return LintReport(document.filename, None, document.sha256, [issue]), None, None
    executable = [p for p in processes if p.get("isExecutable") == "true"] or processes
    issues: list[LintIssue] = []
    for process in executable:
        issues += _structure(process) + _field_id_issues(process)
    parsed: ParsedProcess | None = None
    model: ProcedureModel | None = None
    if not any(i.severity == "error" for i in issues):
        result = parse_process(document)
        if isinstance(result, LintIssue):
            issues.append(result)
        else:
            parsed = result
    process = find_process(document.root, parsed.process_id) if parsed else executable[0]
    if process is not None:
        model = extract_document_model(document.root, process)
        issues += (_role_issues(model, roles) + _task_issues(model) + _timer_issues(model) + _code_issues(model)
                   + _param_issues(model))
    report = LintReport(document.filename, model.process_id if model else None, document.sha256, issues)
    return report, parsed if report.ok else None, model
