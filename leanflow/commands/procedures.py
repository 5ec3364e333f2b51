"""Commands that set LeanFlow up: the database, the organisation, procedures (lint, layout, render, deploy)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from leanflow.context import Context, pass_ctx
from leanflow.output import emit_json, table, when


@click.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create or upgrade the database schema."""
    ctx.service.init_database()
    click.echo(f"database ready: {ctx.db}")


@click.group()
def org() -> None:
    """Organisation tree, people and roles."""


@org.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", help="Who imports.")
@pass_ctx
def org_import(ctx: Context, file: Path, actor: str | None) -> None:
    """Import units, people and roles from YAML or JSON."""
    units, people = ctx.service.import_org(file.read_text(encoding="utf-8"), file.name, actor=actor)
    if ctx.as_json:
        emit_json({"units": units, "people": people})
    else:
        click.echo(f"imported {units} units and {people} people")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_ctx
def lint(ctx: Context, files: tuple[Path, ...]) -> None:
    """Check BPMN files: structure, roles, lean classes, timers, sandboxed code."""
    reports = [ctx.service.lint_file(f) for f in files]
    if ctx.as_json:
        emit_json(reports)
    else:
        for report in reports:
            status = "ok" if report.ok else "FAILED"
            click.echo(f"{report.filename}: {status} ({report.process_id or '-'})")
            for issue in report.issues:
                where = f"line {issue.line}" if issue.line else ""
                click.echo(f"  {issue.severity:7} {issue.element_id or '-'} [{issue.code}] {issue.message} {where}")
    if not all(r.ok for r in reports):
        sys.exit(1)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of in place.")
def layout(file: Path, output: Path | None) -> None:
    """Lay out a BPMN diagram: lanes as rows, stages as groups, fresh DI (in place unless -o)."""
    from engine.layout import main as layout_main

    code = layout_main([str(file)] + (["-o", str(output)] if output else []))
    if code:
        sys.exit(1)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--instance", "instance_id", type=int, default=None, help="Colour the steps by this instance's state.")
@click.option("--highlight", default=None, help="Element id to outline.")
@pass_ctx
def render(ctx: Context, file: Path, output: Path, instance_id: int | None, highlight: str | None) -> None:
    """Draw a BPMN diagram as SVG from its DI, optionally coloured by an instance's progress."""
    from engine.render import main as render_main

    args = [str(file), "-o", str(output)] + (["--highlight", highlight] if highlight else [])
    if instance_id is not None:
        args += ["--instance", str(instance_id), "--db", ctx.db]
    if render_main(args):
        sys.exit(1)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", help="Who deploys.")
@pass_ctx
def deploy(ctx: Context, files: tuple[Path, ...], actor: str | None) -> None:
    """Deploy procedures (a new version only when the content changed)."""
    views = [ctx.service.deploy_file(f, actor=actor) for f in files]
    if ctx.as_json:
        emit_json(views)
        return
    for v in views:
        what = "deployed" if v.created else "unchanged"
        click.echo(f"{what}: {v.process_id} v{v.version} ({v.name}) sha256 {v.sha256[:12]}")


@click.command()
@pass_ctx
def definitions(ctx: Context) -> None:
    """List deployed procedure versions."""
    views = ctx.service.definitions()
    if ctx.as_json:
        emit_json(views)
        return
    table([[str(v.id), v.process_id, str(v.version), v.name, v.sha256[:12], v.deployed_by or "-",
            when(v.deployed_at)] for v in views], ["id", "process", "ver", "name", "sha256", "by", "at"])


COMMANDS = (init, org, lint, layout, render, deploy, definitions)
