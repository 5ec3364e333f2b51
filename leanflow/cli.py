"""The `leanflow` command line: every verb is a few lines that call the engine."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from engine.errors import CheckFailed, LeanFlowError, LintError, LoadError
from engine.runtime import parse_json_object
from engine.service import WorkflowService, open_service
from leanflow.output import emit_json, table, when

DEFAULT_DB = "sqlite:///leanflow.db"


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


@click.group()
@click.option("--db", envvar="LEANFLOW_DATABASE_URL", default=DEFAULT_DB, show_default=True,
              help="Database URL (SQLite file or postgresql+psycopg://...).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def cli(ctx: click.Context, db: str, as_json: bool) -> None:
    """LeanFlow (精益党建流程引擎): executable, measurable party-work procedures."""
    ctx.obj = Context(db, as_json)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create or upgrade the database schema."""
    ctx.service.init_database()
    click.echo(f"database ready: {ctx.db}")


@cli.group()
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


@cli.command()
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


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of in place.")
def layout(file: Path, output: Path | None) -> None:
    """Lay out a BPMN diagram: lanes as rows, stages as groups, fresh DI (in place unless -o)."""
    from engine.layout import main as layout_main

    code = layout_main([str(file)] + (["-o", str(output)] if output else []))
    if code:
        sys.exit(1)


@cli.command()
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


@cli.command()
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


@cli.command()
@pass_ctx
def definitions(ctx: Context) -> None:
    """List deployed procedure versions."""
    views = ctx.service.definitions()
    if ctx.as_json:
        emit_json(views)
        return
    table([[str(v.id), v.process_id, str(v.version), v.name, v.sha256[:12], v.deployed_by or "-",
            when(v.deployed_at)] for v in views], ["id", "process", "ver", "name", "sha256", "by", "at"])


@cli.command()
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
    _show_instance(ctx, view)


@cli.command()
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


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def claim(ctx: Context, task_id: int, user: str) -> None:
    """Claim a task offered to one's role."""
    view = ctx.service.claim(task_id, person_id=user)
    emit_json(view) if ctx.as_json else click.echo(f"task {view.id} claimed by {view.assignee}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def unclaim(ctx: Context, task_id: int, user: str) -> None:
    """Give a claimed task back to its role."""
    view = ctx.service.unclaim(task_id, person_id=user)
    emit_json(view) if ctx.as_json else click.echo(f"task {view.id} is offered to {view.role} again")


@cli.command("open")
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def open_task(ctx: Context, task_id: int, user: str) -> None:
    """Record that work on a task started."""
    view = ctx.service.open_task(task_id, person_id=user)
    emit_json(view) if ctx.as_json else click.echo(f"task {view.id} opened at {when(view.opened_at)}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@pass_ctx
def complete(ctx: Context, task_id: int, user: str, data: str | None) -> None:
    """Complete a task with form data (checked; nothing changes if a check fails)."""
    view = ctx.service.complete(task_id, person_id=user, data=parse_json_object(data))
    _show_instance(ctx, view)


@cli.command()
@click.argument("instance_id", type=int)
@click.option("--as", "actor")
@click.option("--reason", default="")
@pass_ctx
def cancel(ctx: Context, instance_id: int, actor: str | None, reason: str) -> None:
    """Cancel a running instance."""
    _show_instance(ctx, ctx.service.cancel(instance_id, actor=actor, reason=reason))


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.group("clock")
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
    _show_tick(ctx, result)


@cli.command()
@pass_ctx
def tick(ctx: Context) -> None:
    """Fire every timer that is due now."""
    _show_tick(ctx, ctx.service.tick())


@cli.group("tokens")
def tokens_group() -> None:
    """API tokens (Authorization: Bearer ...) for /api/v1."""


@tokens_group.command("issue")
@click.option("--user", required=True, help="Person the token acts as (with their rights).")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--as", "actor", help="Who issues it.")
@pass_ctx
def tokens_issue(ctx: Context, user: str, name: str, actor: str | None) -> None:
    """Issue a token and print its secret once (only its hash is kept)."""
    from engine.tokens import issue_token

    issued = issue_token(ctx.service, user, name=name, actor=actor)
    if ctx.as_json:
        emit_json({"id": issued.token.id, "person_id": user, "name": name, "secret": issued.secret})
    else:
        click.echo(f"token {issued.token.id} for {user} ({name}); shown once, keep it safe:\n{issued.secret}")


@tokens_group.command("list")
@click.option("--user", required=True)
@pass_ctx
def tokens_list(ctx: Context, user: str) -> None:
    """List a person's tokens (never their secrets)."""
    from engine.tokens import tokens_of

    views = tokens_of(ctx.service, user)
    if ctx.as_json:
        emit_json(views)
        return
    table([[str(v.id), v.name, when(v.created_at), when(v.last_used_at), "yes" if v.revoked else "no"]
           for v in views], ["id", "name", "created", "last used", "revoked"])


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--as", "actor", help="Who revokes it.")
@pass_ctx
def tokens_revoke(ctx: Context, token_id: int, actor: str | None) -> None:
    """Revoke a token."""
    from engine.tokens import revoke_token

    view = revoke_token(ctx.service, token_id, actor=actor)
    click.echo(f"token {view.id} ({view.name}) of {view.person_id} revoked")


@cli.group("schedule")
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


@cli.command()
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


@cli.group("calendar")
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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@click.option("--files", type=click.Path(file_okay=False, path_type=Path), envvar="LEANFLOW_UPLOAD_FOLDER",
              default=None, help="Folder for attachments and uploads (default: the app's instance/files).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, threads: int, files: Path | None) -> None:
    """Serve the web UI on the --db database with waitress (Ctrl-C stops it)."""
    from leanflow.serve import Server, make_app, secret_key

    app = make_app(ctx.db, secret=secret_key(_warn), upload_folder=files)
    Server(app, host=host, port=port, threads=threads).run(click.echo)


@cli.command()
@click.option("--db", "db_path", default="leanflow-demo.db", show_default=True, type=click.Path(path_type=Path),
              help="SQLite file to create (replaced if it exists); attachments go to NAME-files/ beside it.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the web UI on 127.0.0.1.")
@click.option("--password", default=None, help="Everyone's password (default: demo1234).")
@click.option("--no-serve", is_flag=True, help="Only create the database; do not start the web UI.")
def demo(db_path: Path, port: int, password: str | None, no_serve: bool) -> None:
    """Create the demo database (the coal mine, every procedure, ~100 cases) and serve it on 127.0.0.1."""
    import shutil

    from leanflow.demo import DEFAULT_PASSWORD, demo_hint, file_store, logins, run_demo

    password = password or DEFAULT_PASSWORD
    files = db_path.with_name(f"{db_path.stem}-files")
    shutil.rmtree(files, ignore_errors=True)
    service = run_demo(db_path, click.echo, password=password, files=file_store(files))
    rows = [[role, pid, name, unit, password] for role, pid, name, unit in logins(service)]
    if service.db_engine is not None:
        service.db_engine.dispose()
    click.echo("")
    table(rows, ["role", "login", "name", "unit", "password"])
    click.echo("")
    if no_serve:
        click.echo(demo_hint(db_path))
        return
    from leanflow.serve import Server, make_app, secret_key

    app = make_app(f"sqlite:///{db_path.resolve()}", secret=secret_key(_warn), upload_folder=files.resolve())
    server = Server(app, host="127.0.0.1", port=port)
    click.echo(f"open {server.url}/login and log in as one of the people above")
    server.run(click.echo)


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def users(click_ctx: click.Context, as_json: bool) -> None:
    """List the logins: person, name, unit, roles, whether a password is set."""
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    if click_ctx.invoked_subcommand is not None:
        return
    views = ctx.service.users()
    if as_json or ctx.as_json:
        emit_json(views)
        return
    units = {u.id: u.name for u in ctx.service.org_units()}
    table([[v.id, v.name, units.get(v.org_unit_id or "", "-"), ", ".join(f"{r}@{u}" for r, u in v.roles) or "-",
            "yes" if v.has_password else "no"] + ([] if v.active else ["inactive"]) for v in views],
          ["person", "name", "unit", "roles", "password"])


@users.command("set-password")
@click.argument("person_id")
@click.option("--password", default=None, help="The new password (prompted for when left out).")
@click.option("--as", "actor", default=None, help="Who sets it (recorded in the history).")
@pass_ctx
def users_set_password(ctx: Context, person_id: str, password: str | None, actor: str | None) -> None:
    """Set a person's password (at least 8 characters); their open sessions end."""
    if password is None:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    ctx.service.set_password(person_id, password, actor=actor)
    click.echo(f"password set for {person_id}")


def _warn(message: str) -> None:
    click.echo(message, err=True)


def _show_tick(ctx: Context, result: Any) -> None:
    if ctx.as_json:
        emit_json(result)
        return
    click.echo(f"now {result.now.isoformat()}: {result.timers_fired} timers fired in {result.instances} instances")
    for instance_id, message in result.failed:
        click.echo(f"  instance {instance_id} failed: {message}")


def _show_instance(ctx: Context, view: Any) -> None:
    if ctx.as_json:
        emit_json(view)
        return
    click.echo(f"instance {view.id} ({view.process_id}) {view.status}: {view.title}")
    for t in view.open_tasks:
        who = t.assignee or f"role {t.role}"
        click.echo(f"  task {t.id}: {t.name} → {who} at {t.org_unit_id}, due {when(t.due_at)}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning engine errors into messages and exit codes, never tracebacks."""
    try:
        code = cli.main(args=argv, prog_name="leanflow", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as bad:
        bad.show()
        sys.exit(2)
    except CheckFailed as failed:
        click.echo("check failed / 检查未通过:", err=True)
        for f in failed.failures:
            click.echo(f"  {f.field or '-'}: {f.message}", err=True)
        sys.exit(1)
    except LintError as bad:
        click.echo(str(bad), err=True)
        sys.exit(1)
    except (LoadError, LeanFlowError) as bad:
        click.echo(f"error: {bad.message}", err=True)
        sys.exit(bad.exit_code)
    except OSError as bad:
        click.echo(f"error: {bad}", err=True)
        sys.exit(1)
