"""Commands that do the work: start instances, list, claim, open and complete tasks, read and verify history."""

from __future__ import annotations

import sys
from typing import Any

import click

from engine.runtime import parse_json_object
from leanflow.context import Context, pass_ctx, show_instance
from leanflow.output import emit_json, table, when


@click.command()
@click.argument("process_id")
@click.option("--org", "org_unit", required=True, help="Org unit the instance runs at.")
@click.option("--data", default=None, help="Initial data as a JSON object.")
@click.option("--title", default=None)
@click.option("--key", "business_key", default=None, help="Business key.")
@click.option("--as", "actor", help="Who starts it.")
@pass_ctx
def start(ctx: Context, process_id: str, org_unit: str, data: str | None, title: str | None,
          business_key: str | None, actor: str | None) -> None:
    """Start a procedure at an org unit."""
    view = ctx.service.start(process_id, org_unit_id=org_unit, data=parse_json_object(data), actor=actor,
                             title=title, business_key=business_key)
    show_instance(ctx, view)


@click.command()
@click.option("--user", required=True, help="Person id.")
@click.option("--all", "include_done", is_flag=True, help="Include completed tasks.")
@pass_ctx
def tasks(ctx: Context, user: str, include_done: bool) -> None:
    """List a person's tasks: assigned to them or offered to their roles."""
    views = ctx.service.tasks_for(user, include_done=include_done)
    if ctx.as_json:
        emit_json(views)
        return
    if not views:
        click.echo(f"no open tasks for {user}")
        return
    table([[str(t.id), str(t.instance_id), t.name, t.role or "-", t.org_unit_id, t.state, t.assignee or "-",
            when(t.due_at)] for t in views], ["task", "instance", "name", "role", "unit", "state", "assignee", "due"])


@click.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def claim(ctx: Context, task_id: int, user: str) -> None:
    """Claim a task offered to one's role."""
    view = ctx.service.claim(task_id, person_id=user)
    emit_json(view) if ctx.as_json else click.echo(f"task {view.id} claimed by {view.assignee}")


@click.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def unclaim(ctx: Context, task_id: int, user: str) -> None:
    """Give a claimed task back to its role."""
    view = ctx.service.unclaim(task_id, person_id=user)
    emit_json(view) if ctx.as_json else click.echo(f"task {view.id} is offered to {view.role} again")


@click.command("open")
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def open_task(ctx: Context, task_id: int, user: str) -> None:
    """Record that work on a task started."""
    view = ctx.service.open_task(task_id, person_id=user)
    emit_json(view) if ctx.as_json else click.echo(f"task {view.id} opened at {when(view.opened_at)}")


@click.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@pass_ctx
def complete(ctx: Context, task_id: int, user: str, data: str | None) -> None:
    """Complete a task with form data (checked; nothing changes if a check fails)."""
    view = ctx.service.complete(task_id, person_id=user, data=parse_json_object(data))
    show_instance(ctx, view)


@click.command()
@click.argument("instance_id", type=int)
@click.option("--as", "actor")
@click.option("--reason", default="")
@pass_ctx
def cancel(ctx: Context, instance_id: int, actor: str | None, reason: str) -> None:
    """Cancel a running instance."""
    show_instance(ctx, ctx.service.cancel(instance_id, actor=actor, reason=reason))


@click.command()
@click.option("--status", default=None)
@click.option("--process", "process_id", default=None)
@pass_ctx
def instances(ctx: Context, status: str | None, process_id: str | None) -> None:
    """List instances."""
    views = ctx.service.instances(status=status, process_id=process_id)
    if ctx.as_json:
        emit_json(views)
        return
    table([[str(v.id), v.process_id, v.org_unit_id, v.title, v.status, when(v.started_at), when(v.next_timer_due)]
           for v in views], ["id", "process", "unit", "title", "status", "started", "next timer"])


@click.command()
@click.argument("instance_id", type=int)
@pass_ctx
def history(ctx: Context, instance_id: int) -> None:
    """Show an instance's history."""
    events = ctx.service.history(instance_id)
    if ctx.as_json:
        emit_json(events)
        return
    table([[str(e.chain_seq), when(e.at), e.type, e.actor or "-", _summary(e.payload)] for e in events],
          ["#", "at", "event", "actor", "details"])


def _summary(payload: dict[str, Any]) -> str:
    keys = ("name", "spec", "due", "kind", "message", "process_id", "reason")
    parts = [f"{k}={payload[k]}" for k in keys if payload.get(k) not in (None, "")]
    if "failures" in payload:
        parts.append("; ".join(f["message"] for f in payload["failures"]))
    return " ".join(parts)[:100]


@click.command()
@pass_ctx
def verify(ctx: Context) -> None:
    """Verify the hash chains of the whole history."""
    report = ctx.service.verify()
    if ctx.as_json:
        emit_json(report)
    else:
        click.echo(f"{report.events} events in {report.chains} chains: {'intact' if report.ok else 'TAMPERED'}")
        for p in report.problems:
            click.echo(f"  {p.chain} event {p.event_id or '-'} (#{p.chain_seq or '-'}): {p.problem}")
    if not report.ok:
        sys.exit(1)


COMMANDS = (start, tasks, claim, unclaim, open_task, complete, cancel, instances, history, verify)
