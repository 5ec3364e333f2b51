"""Hostile or broken input is refused with a clear message and changes nothing."""

from __future__ import annotations

import pytest

from engine.errors import ExecutionError, LintError, LoadError
from engine.service import WorkflowService

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">\n')
LANE = ('<bpmn:laneSet id="ls"><bpmn:lane id="l" name="书记"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="role" value="secretary"/></camunda:properties></bpmn:extensionElements>'
        '{refs}</bpmn:lane></bpmn:laneSet>')
TASK = ('<bpmn:userTask id="{id}" name="{id}"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="lean_class" value="VA"/></camunda:properties></bpmn:extensionElements>'
        '</bpmn:userTask>')


def scripted(script: str, process_id: str = "scripted") -> bytes:
    """A process: user task → script task → user task, the script given."""
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in ("s", "a", "run", "b", "e"))
    body = (f'<bpmn:process id="{process_id}" isExecutable="true">' + LANE.format(refs=refs)
            + '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>'
            + TASK.format(id="a")
            + '<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="run"/>'
            + f'<bpmn:scriptTask id="run"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
            + '<bpmn:sequenceFlow id="f3" sourceRef="run" targetRef="b"/>' + TASK.format(id="b")
            + '<bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="e"/><bpmn:endEvent id="e"/></bpmn:process>')
    return (HEAD + body + "</bpmn:definitions>").encode("utf-8")


@pytest.mark.parametrize("payload, reason", [
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1/x.dtd"> %p;]><d/>', "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
     b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>', "DOCTYPE"),
    (b"<definitions><unclosed></definitions>", "line 1"),
    (b"<a>" * 5000 + b"</a>" * 5000, "nested deeper"),
    (b"", "empty"),
])
def test_hostile_documents_are_refused_and_nothing_is_stored(service: WorkflowService, payload: bytes,
                                                             reason: str) -> None:
    before = service.definitions()
    with pytest.raises(LoadError, match=reason) as refused:
        service.deploy_bytes(payload, "upload.bpmn")
    assert "root:x:0:0" not in str(refused.value)
    assert service.definitions() == before


def test_oversized_upload_is_refused_before_parsing(service: WorkflowService) -> None:
    with pytest.raises(LoadError, match="over the limit"):
        service.deploy_bytes(b" " * (service.settings.max_bpmn_bytes + 1), "big.bpmn")


@pytest.mark.parametrize("script", [
    "import os",
    "x = ().__class__.__base__.__subclasses__()",
    "while True:\n    pass",
])
def test_unsafe_scripts_are_refused_at_deploy(service: WorkflowService, script: str) -> None:
    with pytest.raises(LintError) as refused:
        service.deploy_bytes(scripted(script), "unsafe.bpmn")
    assert any(i.code == "unsafe-code" and i.element_id == "run" for i in refused.value.issues)
    assert all(d.process_id != "scripted" for d in service.definitions())


@pytest.mark.parametrize("script, message", [
    ("x = 1 / 0", "ZeroDivisionError"),
    ("x = [i * j for i in range(100000) for j in range(100000)]", "time"),
    ("x = 'a' * 10 ** 9", "limit"),
    ("x = open('/etc/passwd').read()", "open"),
])
def test_script_failing_at_run_time_changes_nothing(service: WorkflowService, script: str, message: str) -> None:
    service.deploy_bytes(scripted(script), "fails.bpmn")
    instance = service.start("scripted", org_unit_id="b1")
    task = instance.open_tasks[0]
    events_before = service.history(instance.id)
    with pytest.raises(ExecutionError, match=message):
        service.complete(task.id, person_id="zhang", data={})
    after = service.instance(instance.id)
    assert (after.version, after.status) == (instance.version, "running")
    assert service.task(task.id).state == "ready"
    assert service.history(instance.id) == events_before
    assert service.verify().ok
