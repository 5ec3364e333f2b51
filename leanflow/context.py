"""The CLI's shared context: the lazily opened service, output options, and how results are shown."""

from __future__ import annotations

from typing import Any

import click

from engine.service import WorkflowService, open_service
from leanflow.output import emit_json, when


class Context:
    """Lazily opened service plus output options."""

    def __init__(self, db: str, as_json: bool) -> None:
        self.db = db
        self.as_json = as_json
        self._service: WorkflowService | None = None

    @property
    def service(self) -> WorkflowService:
        if self._service is None:
            self._service = open_service(self.db)
        return self._service

    def close(self) -> None:
        """Release the database connections."""
        if self._service is not None and self._service.db_engine is not None:
            self._service.db_engine.dispose()


pass_ctx = click.make_pass_decorator(Context)


def warn(message: str) -> None:
    """Print a warning on stderr."""
    click.echo(message, err=True)


def show_tick(ctx: Context, result: Any) -> None:
    """Print what firing timers did."""
    if ctx.as_json:
        emit_json(result)
        return
    click.echo(f"now {result.now.isoformat()}: {result.timers_fired} timers fired in {result.instances} instances")
    for instance_id, message in result.failed:
        click.echo(f"  instance {instance_id} failed: {message}")


def show_instance(ctx: Context, view: Any) -> None:
    """Print an instance and its open tasks."""
    if ctx.as_json:
        emit_json(view)
        return
    click.echo(f"instance {view.id} ({view.process_id}) {view.status}: {view.title}")
    for t in view.open_tasks:
        who = t.assignee or f"role {t.role}"
        click.echo(f"  task {t.id}: {t.name} → {who} at {t.org_unit_id}, due {when(t.due_at)}")
