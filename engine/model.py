"""The procedure model: what a BPMN file declares in LeanFlow's extension vocabulary (processes/README.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN, "camunda": CAMUNDA}


@dataclass(frozen=True)
class FormField:
    """One field of a user task's form (camunda:formField)."""

    id: str
    label: str
    type: str
    required: bool = False
    readonly: bool = False
    default: str | None = None
    constraints: dict[str, str] = field(default_factory=dict)
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CheckRule:
    """A step check: a sandboxed boolean expression and the message shown when it is false."""

    name: str
    rule: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class UserTaskModel:
    """A user task with the role that does it, its lean class, SLA, form and checks."""

    id: str
    name: str
    lane: str | None
    role: str | None
    scope: str
    assignee: str | None
    lean_class: str | None
    sla: str | None
    form: list[FormField]
    checks: list[CheckRule]
    line: int | None = None


@dataclass(frozen=True)
class TimerModel:
    """A timer event: its kind (date, duration, cycle), text and the activity it is attached to."""

    id: str
    name: str
    kind: str
    expression: str
    attached_to: str | None
    interrupting: bool
    line: int | None = None


@dataclass(frozen=True)
class CodeModel:
    """A piece of sandboxed code in the diagram: a script, a condition or a check rule."""

    element_id: str
    mode: str  # "exec" or "eval"
    source: str
    line: int | None = None


@dataclass(frozen=True)
class ProcessParameter:
    """A setting of the procedure (rule version, local practice) with its default and allowed values."""

    name: str
    default: str
    values: list[str] = field(default_factory=list)
    label: str | None = None


@dataclass(frozen=True)
class ProcedureModel:
    """Everything LeanFlow needs from a procedure beyond what Spiff executes."""

    process_id: str
    name: str
    user_tasks: dict[str, UserTaskModel]
    timers: dict[str, TimerModel]
    code: list[CodeModel]
    lanes: dict[str, dict[str, str]]
    params: dict[str, ProcessParameter] = field(default_factory=dict)
    start_form: list[FormField] = field(default_factory=list)
    start_checks: list[CheckRule] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (stored with the definition version)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, dct: dict[str, Any]) -> ProcedureModel:
        """Rebuild the model stored with a definition version."""
        user_tasks = {
            k: UserTaskModel(
                **{
                    **v,
                    "form": [_field_from_dict(f) for f in v["form"]],
                    "checks": [CheckRule(**c) for c in v["checks"]],
                }
            )
            for k, v in dct["user_tasks"].items()
        }
        return cls(
            process_id=dct["process_id"],
            name=dct["name"],
            user_tasks=user_tasks,
            timers={k: TimerModel(**v) for k, v in dct["timers"].items()},
            code=[CodeModel(**c) for c in dct["code"]],
            lanes=dct["lanes"],
            params={k: ProcessParameter(**v) for k, v in dct.get("params", {}).items()},
            start_form=[_field_from_dict(f) for f in dct.get("start_form", [])],
            start_checks=[CheckRule(**c) for c in dct.get("start_checks", [])],
        )


def _field_from_dict(dct: dict[str, Any]) -> FormField:
    return FormField(**{**dct, "options": [tuple(o) for o in dct["options"]]})


def _properties(element: etree._Element) -> dict[str, str]:
    """Read camunda:properties directly under the element's extensionElements."""
    props: dict[str, str] = {}
    for prop in element.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS):
        name = prop.get("name")
        if name:
            props[name] = prop.get("value") or (prop.text or "")
    return props


def _variable(expression: str | None) -> str | None:
    """Turn Camunda's ${applicant} into the data variable name it refers to."""
    if not expression:
        return None
    text = expression.strip()
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].strip()
    return text


def _form(task: etree._Element) -> list[FormField]:
    fields = []
    for node in task.xpath("./bpmn:extensionElements/camunda:formData/camunda:formField", namespaces=NS):
        constraints = {
            c.get("name", ""): c.get("config") or ""
            for c in node.xpath("./camunda:validation/camunda:constraint", namespaces=NS)
        }
        options = [
            (v.get("id", ""), v.get("name") or v.get("id", "")) for v in node.xpath("./camunda:value", namespaces=NS)
        ]
        fields.append(
            FormField(
                id=node.get("id", ""),
                label=node.get("label") or node.get("id", ""),
                type=node.get("type") or "string",
                required="required" in constraints,
                readonly="readonly" in constraints,
                default=node.get("defaultValue"),
                constraints={k: v for k, v in constraints.items() if k not in ("required", "readonly")},
                options=options,
            )
        )
    return fields


def _checks(props: dict[str, str]) -> list[CheckRule]:
    checks = []
    for key, rule in props.items():
        if key.startswith("check.") and key.count(".") == 1:
            name = key.split(".", 1)[1]
            checks.append(
                CheckRule(
                    name=name,
                    rule=rule,
                    message=props.get(f"check.{name}.message") or f"检查未通过：{name}",
                    field=props.get(f"check.{name}.field") or None,
                )
            )
    return checks


def _lanes(process: etree._Element) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Return lane properties by lane name and the lane name of every flow node id."""
    lanes: dict[str, dict[str, str]] = {}
    node_lane: dict[str, str] = {}
    # Nested lanes: the innermost lane wins, so walk outer lanes first.
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name = lane.get("name") or lane.get("id", "")
        lanes[name] = {"id": lane.get("id", ""), **_properties(lane)}
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            node_lane[(ref.text or "").strip()] = name
    return lanes, node_lane


def _timer(event: etree._Element, definition: etree._Element) -> TimerModel:
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        node = definition.find(f"{{{BPMN}}}{kind}")
        if node is not None:
            text = node.text or ""
            break
    else:
        kind, text = "missing", ""
    return TimerModel(
        id=event.get("id", ""),
        name=event.get("name") or event.get("id", ""),
        kind={"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}.get(kind, kind),
        expression=text.strip(),
        attached_to=event.get("attachedToRef"),
        interrupting=event.get("cancelActivity", "true") != "false",
        line=event.sourceline,
    )


def _params(process: etree._Element) -> dict[str, ProcessParameter]:
    """Read param.<name> (default), param.<name>.values (comma-separated) and param.<name>.label."""
    props = _properties(process)
    params = {}
    for key, default in props.items():
        if key.startswith("param.") and key.count(".") == 1:
            name = key.split(".", 1)[1]
            values = [v.strip() for v in props.get(f"param.{name}.values", "").split(",") if v.strip()]
            params[name] = ProcessParameter(name, default, values, props.get(f"param.{name}.label"))
    return params


def extract_model(process: etree._Element) -> ProcedureModel:
    """Read the LeanFlow model of one bpmn:process element."""
    lanes, node_lane = _lanes(process)
    user_tasks: dict[str, UserTaskModel] = {}
    for task in process.iter(f"{{{BPMN}}}userTask"):
        tid = task.get("id", "")
        props = _properties(task)
        lane = node_lane.get(tid)
        lane_props = lanes.get(lane or "", {})
        user_tasks[tid] = UserTaskModel(
            id=tid,
            name=task.get("name") or tid,
            lane=lane,
            role=props.get("role") or lane_props.get("role"),
            scope=props.get("scope") or lane_props.get("scope") or "unit",
            assignee=_variable(
                task.get(f"{{{CAMUNDA}}}assignee") or props.get("assignee") or lane_props.get("assignee")
            ),
            lean_class=props.get("lean_class"),
            sla=props.get("sla"),
            form=_form(task),
            checks=_checks(props),
            line=task.sourceline,
        )
    timers = {}
    for definition in process.iter(f"{{{BPMN}}}timerEventDefinition"):
        event = definition.getparent()
        timers[event.get("id", "")] = _timer(event, definition)
    code = [
        CodeModel(s.getparent().get("id", ""), "exec", s.text or "", s.sourceline)
        for s in process.iter(f"{{{BPMN}}}script")
        if s.getparent().tag == f"{{{BPMN}}}scriptTask"
    ]
    code += [
        CodeModel(c.getparent().get("id", ""), "eval", (c.text or "").strip(), c.sourceline)
        for c in process.iter(f"{{{BPMN}}}conditionExpression")
    ]
    code += [
        CodeModel(t.id, "eval", check.rule, t.line)
        for t in user_tasks.values()
        for check in t.checks
    ]
    # The start form: camunda:formData and check.* properties on the process's own start event.
    starts = process.findall(f"{{{BPMN}}}startEvent")
    start_form = [f for s in starts for f in _form(s)]
    start_checks = [c for s in starts for c in _checks(_properties(s))]
    code += [CodeModel(s.get("id", ""), "eval", c.rule, s.sourceline) for s in starts for c in _checks(_properties(s))]
    return ProcedureModel(
        process_id=process.get("id", ""),
        name=process.get("name") or process.get("id", ""),
        user_tasks=user_tasks,
        timers=timers,
        code=code,
        lanes=lanes,
        params=_params(process),
        start_form=start_form,
        start_checks=start_checks,
    )


def extract_document_model(root: etree._Element, process: etree._Element) -> ProcedureModel:
    """Read the model of the main process plus the processes it calls in the same file (their tasks run too)."""
    main = extract_model(process)
    others = [extract_model(p) for p in root.iter(f"{{{BPMN}}}process") if p is not process]
    if not others:
        return main
    return ProcedureModel(
        process_id=main.process_id,
        name=main.name,
        user_tasks={k: v for m in [*others, main] for k, v in m.user_tasks.items()},
        timers={k: v for m in [*others, main] for k, v in m.timers.items()},
        code=[c for m in [main, *others] for c in m.code],
        lanes={k: v for m in [*others, main] for k, v in m.lanes.items()},
        params=main.params,
        start_form=main.start_form,
        start_checks=main.start_checks,
    )


def find_process(root: etree._Element, process_id: str) -> etree._Element | None:
    """Find a bpmn:process by id."""
    for process in root.iter(f"{{{BPMN}}}process"):
        if process.get("id") == process_id:
            return process
    return None
