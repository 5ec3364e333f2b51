"""The `leanflow` command line: every verb is a few lines that call the engine (commands live in commands/)."""

from __future__ import annotations

import sys

import click

from engine.errors import CheckFailed, LeanFlowError, LintError, LoadError
from leanflow.commands import analytics, procedures, timekeeping, web, work
from leanflow.context import Context

DEFAULT_DB = "sqlite:///leanflow.db"


@click.group()
@click.option("--db", envvar="LEANFLOW_DATABASE_URL", default=DEFAULT_DB, show_default=True,
              help="Database URL (SQLite file or postgresql+psycopg://...).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def cli(ctx: click.Context, db: str, as_json: bool) -> None:
    """LeanFlow (精益党建流程引擎): executable, measurable party-work procedures."""
    ctx.obj = Context(db, as_json)
    ctx.call_on_close(ctx.obj.close)


# Each commands/ module lists its verbs in COMMANDS; the group gets them all.
for _module in (procedures, work, timekeeping, web, analytics):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


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
