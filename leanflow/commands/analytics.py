"""Commands for auditors: lean metrics from the history, and the event log as XES or CSV for mining tools."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from engine.durations import parse_date
from leanflow.context import Context, pass_ctx
from leanflow.output import emit_json, table


@click.command("export")
@click.argument("fmt", type=click.Choice(["xes", "csv"]))
@click.option("--procedure", "process_id", required=True, help="Process id, e.g. meeting.")
@click.option("--org", "org_unit", default=None, help="Org unit; its whole subtree is included.")
@click.option("--from", "first", default=None, help="Instances started on or after (YYYY-MM-DD, Beijing time).")
@click.option("--to", "last", default=None, help="Instances started before (YYYY-MM-DD, Beijing time).")
@click.option("--with-data", is_flag=True, help="XES only: add each completed step's form data (personal data!).")
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_ctx
def export(ctx: Context, fmt: str, process_id: str, org_unit: str | None, first: str | None, last: str | None,
           with_data: bool, out: Path) -> None:
    """Write the event log of a procedure as XES (IEEE 1849) or CSV to OUT ('-' for standard output)."""
    from engine.export import export_csv, export_xes

    start: datetime | None = parse_date(first) if first else None
    end: datetime | None = parse_date(last) if last else None
    stream = sys.stdout.buffer if str(out) == "-" else out.open("wb")
    try:
        if fmt == "xes":
            count = export_xes(ctx.service, process_id=process_id, org_unit_id=org_unit, start=start, end=end,
                               out=stream, include_data=with_data)
            what = "traces"
        else:
            count = export_csv(ctx.service, process_id=process_id, org_unit_id=org_unit, start=start, end=end,
                               out=stream)
            what = "events"
    finally:
        if stream is not sys.stdout.buffer:
            stream.close()
    if str(out) != "-":
        click.echo(f"{count} {what} written to {out}", err=True)


@click.command("metrics")
@click.option("--procedure", "process_id", required=True, help="Process id, e.g. meeting.")
@click.option("--version", "definition_id", type=int, default=None, help="Only this definition (row id).")
@click.option("--org", "org_unit", default=None, help="Org unit; its whole subtree is included.")
@click.option("--from", "first", default=None, help="Instances started on or after (YYYY-MM-DD, Beijing time).")
@click.option("--to", "last", default=None, help="Instances started before (YYYY-MM-DD, Beijing time).")
@pass_ctx
def metrics(ctx: Context, process_id: str, definition_id: int | None, org_unit: str | None, first: str | None,
            last: str | None) -> None:
    """Waiting and touch time per step, SLA breaches, rework, lead time, WIP, first-pass yield and PCE."""
    found = ctx.service.metrics(process_id, org_unit_id=org_unit, start=parse_date(first) if first else None,
                                end=parse_date(last) if last else None, definition_id=definition_id)
    if ctx.as_json:
        click.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        return

    def hours(stats: Any) -> str:
        return "-" if not stats.count else f"{stats.median:.1f} / {stats.p90:.1f}"

    table([[s.spec, str(s.frequency), hours(s.queue), hours(s.hold), hours(s.touch),
            f"{s.sla_breach_share:.0%}" if s.sla_breach_share is not None else "-", str(s.rework_extra_visits),
            str(s.check_failed)] for s in found.steps],
          ["step", "done", "queue h (med/p90)", "hold h", "touch h", "SLA breach", "rework", "check failed"])
    throughput = found.throughput_per_week or 0.0
    click.echo(f"instances {len(found.instance_ids)}: completed {len(found.completed_ids)}, running "
               f"{len(found.running_ids)}; lead time {hours(found.lead_time)} h; throughput {throughput:.2f}/week")
    fpy = "-" if found.first_pass_yield is None else f"{found.first_pass_yield:.0%}"
    pce = "-" if found.pce is None else f"{found.pce:.1%}"
    click.echo(f"first-pass yield {fpy}; process-cycle efficiency {pce}")
    for note in found.notes:
        click.echo(f"note: {note}")


@click.command("wastes")
@click.option("--procedure", "process_id", required=True, help="Process id, e.g. meeting.")
@click.option("--org", "org_unit", default=None, help="Org unit; its whole subtree is included.")
@click.option("--from", "first", default=None, help="Instances started on or after (YYYY-MM-DD, Beijing time).")
@click.option("--to", "last", default=None, help="Instances started before (YYYY-MM-DD, Beijing time).")
@pass_ctx
def wastes(ctx: Context, process_id: str, org_unit: str | None, first: str | None, last: str | None) -> None:
    """The eight wastes (DOWNTIME) found in a procedure's history, with the steps and cases behind each."""
    found = ctx.service.wastes(process_id, org_unit_id=org_unit, start=parse_date(first) if first else None,
                               end=parse_date(last) if last else None)
    if ctx.as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no waste found / 未发现浪费")
    for finding in found:
        cases = ", ".join(str(i) for i in finding.instance_ids[:10]) + (" …" if len(finding.instance_ids) > 10 else "")
        click.echo(f"[{finding.severity}] {finding.kind} {finding.title_zh}: {', '.join(finding.steps) or '-'}")
        click.echo(f"    {finding.detail_zh}")
        click.echo(f"    cases: {cases or '-'}")


COMMANDS = (export, metrics, wastes)
