"""Commands about time: the clock, firing timers, schedules and their compliance, the working-day calendar."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from leanflow.context import Context, pass_ctx, show_tick
from leanflow.output import emit_json, table, when


@click.group("clock")
def clock_group() -> None:
    """Show or move the database's clock."""


@clock_group.command("show")
@pass_ctx
def clock_show(ctx: Context) -> None:
    """Show the clock."""
    view = ctx.service.clock()
    emit_json(view) if ctx.as_json else click.echo(f"{view.mode} clock: {view.now.isoformat()} ({when(view.now)})")


@clock_group.command("set")
@click.argument("when_", metavar="DATETIME")
@pass_ctx
def clock_set(ctx: Context, when_: str) -> None:
    """Switch to a virtual clock at DATETIME (ISO 8601 with offset), or 'system'."""
    if when_ == "system":
        view = ctx.service.use_system_clock()
    else:
        from engine.durations import parse_date

        view = ctx.service.set_clock(parse_date(when_))
    emit_json(view) if ctx.as_json else click.echo(f"{view.mode} clock: {view.now.isoformat()}")


@clock_group.command("advance")
@click.argument("duration")
@pass_ctx
def clock_advance(ctx: Context, duration: str) -> None:
    """Move the virtual clock forward by an ISO 8601 DURATION, firing due timers in order."""
    result = ctx.service.advance(duration)
    show_tick(ctx, result)


@click.command()
@pass_ctx
def tick(ctx: Context) -> None:
    """Fire every timer that is due now."""
    show_tick(ctx, ctx.service.tick())


@click.group("schedule")
def schedule_group() -> None:
    """Recurring procedures per org unit (e.g. 三会一课 at their cadence)."""


@schedule_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", help="Who imports.")
@pass_ctx
def schedule_import(ctx: Context, file: Path, actor: str | None) -> None:
    """Create or update schedules from YAML or JSON."""
    views = ctx.service.import_schedules(file.read_text(encoding="utf-8"), file.name, actor=actor)
    emit_json(views) if ctx.as_json else click.echo(f"{len(views)} schedules saved")


@schedule_group.command("list")
@click.option("--process", "process_id", default=None)
@pass_ctx
def schedule_list(ctx: Context, process_id: str | None) -> None:
    """List schedules and when each starts its next period."""
    views = ctx.service.schedules(process_id)
    if ctx.as_json:
        emit_json(views)
        return
    table([[v.key, v.process_id, v.org_unit_id, v.cadence, when(v.next_start), "yes" if v.active else "no"]
           for v in views], ["key", "process", "unit", "cadence", "next period", "active"])


@click.command()
@click.option("--process", "process_id", default=None)
@click.option("--org", "org_unit", default=None, help="Org unit; its whole subtree is included.")
@click.option("--from", "first", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--to", "last", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@pass_ctx
def compliance(ctx: Context, process_id: str | None, org_unit: str | None, first: datetime | None,
               last: datetime | None) -> None:
    """Per unit and period: held on time, late, missed, or still open."""
    rows = ctx.service.compliance(process_id=process_id, org_unit_id=org_unit,
                                  first=first.date() if first else None, last=last.date() if last else None)
    if ctx.as_json:
        emit_json(rows)
        return
    marks = {"on_time": "✓ on time", "late": "! late", "missed": "✗ missed", "open": "… open"}
    table([[r.org_unit_id, r.schedule, r.period, marks.get(r.status, r.status), r.done_on or "-",
            str(r.instance_id or "-")] for r in rows], ["unit", "schedule", "period", "status", "done on", "instance"])


@click.group("calendar")
def calendar_group() -> None:
    """Working-day calendar overrides."""


@calendar_group.command("set")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("kind", type=click.Choice(["workday", "holiday"]))
@click.option("--note", default=None)
@pass_ctx
def calendar_set(ctx: Context, day: datetime, kind: str, note: str | None) -> None:
    """Record whether DAY is a working day (for years chinesecalendar does not know)."""
    ctx.service.set_calendar_day(day.date(), is_workday=kind == "workday", note=note)
    click.echo(f"{day.date().isoformat()} is a {kind}")


@calendar_group.command("show")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@pass_ctx
def calendar_show(ctx: Context, day: datetime) -> None:
    """Say whether DAY is a working day and where that answer comes from."""
    info = ctx.service.calendar().day(date.fromisoformat(day.date().isoformat()))
    if ctx.as_json:
        emit_json(info)
    else:
        flag = " (provisional)" if info.provisional else ""
        click.echo(f"{info.day}: {'workday' if info.is_workday else 'holiday'} from {info.source}{flag}")


COMMANDS = (clock_group, tick, schedule_group, compliance, calendar_group)
