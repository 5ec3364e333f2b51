"""Lint and deploy procedures: a new version only when the content changed."""

from __future__ import annotations

from dataclasses import asdict

from engine.errors import LintError
from engine.history import SYSTEM_CHAIN, NewEvent
from engine.lint import lint_document
from engine.loader import BpmnDocument
from engine.spiff.serializer import Serializer
from engine.unit_of_work import UnitOfWork
from engine.views import DefinitionView, LintReport
from storage.models import ProcessDefinition


def lint(document: BpmnDocument) -> LintReport:
    """Lint a loaded document."""
    return lint_document(document)[0]


def deploy(uow: UnitOfWork, document: BpmnDocument, serializer: Serializer, actor: str | None) -> DefinitionView:
    """Store a new version of the document's procedure, unless the newest version has the same content."""
    report, parsed, model = lint_document(document)
    if not report.ok or parsed is None or model is None:
        raise LintError(report.issues)
    latest = uow.definitions.latest(parsed.process_id)
    if latest is not None and latest.sha256 == document.sha256:
        return _view(latest, created=False)
    row = uow.definitions.add(ProcessDefinition(
        process_id=parsed.process_id,
        version=(latest.version + 1) if latest else 1,
        name=model.name,
        sha256=document.sha256,
        bpmn_xml=document.content.decode("utf-8", errors="replace"),
        spec_json=serializer.spec_to_json(parsed.spec, parsed.subprocess_specs),
        model=model.to_dict(),
        lint_report=[asdict(i) for i in report.issues],
        deployed_by=actor,
        deployed_at=uow.now,
    ))
    uow.record(SYSTEM_CHAIN, None, NewEvent(
        "deployed", uow.now, actor,
        payload={"process_id": row.process_id, "version": row.version, "definition_id": row.id,
                 "sha256": row.sha256, "filename": document.filename,
                 "warnings": sum(1 for i in report.issues if i.severity == "warning")}))
    return _view(row, created=True)


def _view(row: ProcessDefinition, *, created: bool) -> DefinitionView:
    return DefinitionView(row.id, row.process_id, row.version, row.name, row.sha256, row.deployed_by,
                          row.deployed_at, created)
