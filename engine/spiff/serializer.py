"""Serialisation of specs (once per definition version) and of instance state (every step, without the spec)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.serializer.default.event_definition import (  # type: ignore[import-untyped]
    TimerConditionalEventDefinitionConverter,
)
from SpiffWorkflow.bpmn.serializer.default.workflow import (  # type: ignore[import-untyped]
    BpmnWorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG  # type: ignore[import-untyped]

from engine.spiff.timers import TIMER_CLASSES

SERIALIZER_VERSION = VERSION


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Writes a workflow without its spec and restores it around a spec the caller already holds."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], specs: tuple[Any, dict[str, Any]] | None = None) -> Any:
        if specs is None:
            raise ValueError("restoring a workflow needs its specs")
        spec, subprocess_specs = specs
        dct = dict(dct)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(text: str) -> UUID:
    return UUID(text)


class Serializer:
    """One configured registry for LeanFlow's specs and states."""

    def __init__(self) -> None:
        config = dict(CAMUNDA_CONFIG)
        for cls in TIMER_CLASSES:
            config[cls] = TimerConditionalEventDefinitionConverter
        config[BpmnWorkflow] = StateOnlyWorkflowConverter
        self.registry = BpmnWorkflowSerializer.configure(config)
        # Form data may hold dates and decimals; Spiff knows neither by default.
        self.registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]))
        self.registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
        self._workflow_serializer = BpmnWorkflowSerializer(self.registry)

    def spec_to_json(self, spec: Any, subprocess_specs: dict[str, Any]) -> str:
        """Serialise a parsed process spec and its sub-process specs."""
        return json.dumps(
            {
                "spec": self.registry.convert(spec),
                "subprocess_specs": {k: self.registry.convert(v) for k, v in subprocess_specs.items()},
                "serializer_version": SERIALIZER_VERSION,
            }
        )

    def spec_from_json(self, text: str) -> tuple[Any, dict[str, Any]]:
        """Restore a spec and its sub-process specs."""
        dct = json.loads(text)
        spec = self.registry.restore(dct["spec"])
        subs = {k: self.registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs

    def state_to_json(self, workflow: Any) -> str:
        """Serialise a workflow's state without its spec."""
        return self._workflow_serializer.serialize_json(workflow)  # type: ignore[no-any-return]

    def state_from_json(self, text: str, spec: Any, subprocess_specs: dict[str, Any]) -> Any:
        """Restore a workflow from its state and the specs of its definition version."""
        dct = json.loads(text)
        # Older serialisations are upgraded by Spiff's own migrations before restoring.
        self._workflow_serializer.migrate(dct)
        return self.registry.restore(dct, specs=(spec, subprocess_specs))
