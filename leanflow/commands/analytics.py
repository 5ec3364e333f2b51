"""Commands for auditors: the event log as XES or CSV for process-mining tools."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from engine.durations import parse_date
from leanflow.context import Context, pass_ctx


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


COMMANDS = (export,)
