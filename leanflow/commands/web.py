"""Commands for the web UI and the API: serve, the demo server, logins and API tokens."""

from __future__ import annotations

from pathlib import Path

import click

from leanflow.context import Context, pass_ctx, warn
from leanflow.output import emit_json, table, when


@click.group("tokens")
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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@click.option("--files", type=click.Path(file_okay=False, path_type=Path), envvar="LEANFLOW_UPLOAD_FOLDER",
              default=None, help="Folder for attachments and uploads (default: the app's instance/files).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, threads: int, files: Path | None) -> None:
    """Serve the web UI on the --db database with waitress (Ctrl-C stops it)."""
    from leanflow.serve import Server, make_app, secret_key

    app = make_app(ctx.db, secret=secret_key(warn), upload_folder=files)
    Server(app, host=host, port=port, threads=threads).run(click.echo)


@click.command()
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

    app = make_app(f"sqlite:///{db_path.resolve()}", secret=secret_key(warn), upload_folder=files.resolve())
    server = Server(app, host="127.0.0.1", port=port)
    click.echo(f"open {server.url}/login and log in as one of the people above")
    server.run(click.echo)


@click.group(invoke_without_command=True)
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


COMMANDS = (tokens_group, serve, demo, users)
