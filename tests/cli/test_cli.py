"""The `leanflow` command line driven as a user would: exit codes 0/1/2, JSON output, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leanflow.cli import main
from tests.conftest import DEMO, FIXTURES


class Cli:
    """Runs `leanflow --db URL ...` in-process and returns (exit code, stdout, stderr)."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(["--db", self.url, *args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return int(exited.value.code or 0), out, err

    def json(self, *args: str) -> object:
        code, out, err = self("--json", *args)
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(database_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    runner = Cli(database_url, capsys)
    assert runner("init")[0] == 0
    assert runner("org", "import", str(DEMO / "org.yaml"))[0] == 0
    assert runner("clock", "set", "2026-03-02T17:00:00+08:00")[0] == 0
    return runner


def test_whole_procedure_from_the_command_line(cli: Cli) -> None:
    assert cli("lint", str(DEMO / "branch_meeting.bpmn"))[0] == 0
    code, out, _ = cli("deploy", str(DEMO / "branch_meeting.bpmn"), "--as", "zhao")
    assert code == 0 and "deployed: branch_meeting v1" in out
    assert "unchanged" in cli("deploy", str(DEMO / "branch_meeting.bpmn"))[1]
    [definition] = cli.json("definitions")
    assert definition["version"] == 1 and len(definition["sha256"]) == 64
    started = cli.json("start", "branch_meeting", "--org", "b1", "--as", "zhang")
    instance_id = started["id"]
    [task] = cli.json("tasks", "--user", "zhang")
    assert task["task_spec"] == "prepare_agenda" and task["due_at"].startswith("2026-03-05")
    assert cli("claim", str(task["id"]), "--user", "zhang")[0] == 0
    code, _, err = cli("complete", str(task["id"]), "--user", "zhang", "--data", '{"agenda": ""}')
    assert code == 1 and "必填" in err
    after = cli.json("complete", str(task["id"]), "--user", "zhang", "--data",
                     '{"agenda": "讨论", "meeting_date": "2026-03-02"}')
    [hold] = after["open_tasks"]
    code, _, err = cli("complete", str(hold["id"]), "--user", "wang", "--data", "{}")
    assert code == 1 and "may not work" in err
    done = cli.json("complete", str(hold["id"]), "--user", "zhang", "--data",
                    '{"expected": 9, "present": 7, "yes": 6}')
    assert done["status"] == "completed"
    history = cli.json("history", str(instance_id))
    assert history[0]["type"] == "instance_started" and history[-1]["type"] == "instance_completed"
    assert any(e["type"] == "check_failed" for e in history)
    assert cli.json("verify")["ok"] is True
    [row] = cli.json("instances")
    assert row["status"] == "completed"


def test_clock_and_timers_from_the_command_line(cli: Cli) -> None:
    cli("deploy", str(DEMO / "branch_meeting.bpmn"))
    started = cli.json("start", "branch_meeting", "--org", "b1")
    assert cli.json("clock", "show")["mode"] == "virtual"
    result = cli.json("clock", "advance", "P3D")
    assert result["timers_fired"] == 1
    assert cli.json("tick")["timers_fired"] == 0
    assert any(e["type"] == "escalation" for e in cli.json("history", str(started["id"])))
    code, out, _ = cli("calendar", "show", "2027-01-04")
    assert code == 0 and "provisional" in out
    cli("calendar", "set", "2027-01-04", "holiday", "--note", "test")
    assert "override" in cli("calendar", "show", "2027-01-04")[1]


def test_refusals_exit_1_and_usage_errors_exit_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "xxe.bpmn"
    bad.write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   '<definitions>&x;</definitions>', encoding="utf-8")
    code, out, _ = cli("lint", str(bad))
    assert code == 1 and "DOCTYPE" in out and "root:" not in out
    code, _, err = cli("deploy", str(bad))
    assert code == 1 and "DOCTYPE" in err
    assert cli.json("definitions") == []
    code, _, err = cli("start", "branch_meeting", "--org", "b1", "--data", "{not json")
    assert code == 2 and "not valid JSON" in err
    code, _, err = cli("start", "nothing_deployed", "--org", "b1")
    assert code == 1 and "not deployed" in err
    assert cli("tasks")[0] == 2  # --user is required
    assert cli("no-such-command")[0] == 2
    code, _, err = cli("clock", "set", "2026-03-02T09:00:00")
    assert code == 2 and "offset" in err


def test_console_script_runs_as_a_program(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    done = subprocess.run([sys.executable, "-m", "leanflow", "--db", url, "lint", str(DEMO / "branch_meeting.bpmn")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout
    env_run = subprocess.run([sys.executable, "-m", "leanflow", "--json", "definitions"], capture_output=True,
                             text=True, timeout=120, env={"LEANFLOW_DATABASE_URL": url, "PATH": "/usr/bin:/bin"})
    assert env_run.returncode == 0 and json.loads(env_run.stdout) == []


def test_schedules_and_compliance_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cli("deploy", str(DEMO / "branch_meeting.bpmn"))
    plan = tmp_path / "schedules.yaml"
    plan.write_text("- {process: branch_meeting, units: [b1, b2], cadence: monthly, done_field: meeting_date}\n",
                    encoding="utf-8")
    assert "2 schedules saved" in cli("schedule", "import", str(plan))[1]
    assert len(cli.json("schedule", "list")) == 2
    cli("tick")
    cli("clock", "advance", "P1M")
    rows = cli.json("compliance", "--process", "branch_meeting", "--org", "c1")
    assert {(r["org_unit_id"], r["period"], r["status"]) for r in rows} >= {("b1", "2026-03", "missed"),
                                                                            ("b1", "2026-04", "open")}
    code, out, _ = cli("compliance")
    assert code == 0 and "missed" in out


def test_layout_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "laid_out.bpmn"
    with pytest.raises(SystemExit) as exited:
        main(["layout", str(FIXTURES / "probation.bpmn"), "-o", str(out)])
    assert exited.value.code == 0
    assert b"BPMNDiagram" in out.read_bytes() and b"BPMNDiagram" not in (FIXTURES / "probation.bpmn").read_bytes()
    assert "shapes" in capsys.readouterr().out


def test_render_an_instance_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cli("deploy", str(DEMO / "branch_meeting.bpmn"))
    started = cli.json("start", "branch_meeting", "--org", "b1")
    out = tmp_path / "state.svg"
    code, _, err = cli("render", str(DEMO / "branch_meeting.bpmn"), "-o", str(out), "--instance", str(started["id"]))
    assert code == 0, err
    svg = out.read_text(encoding="utf-8")
    assert 'data-element-id="prepare_agenda"' in svg and "state-active" in svg


def test_users_lists_logins_and_sets_passwords(cli: Cli) -> None:
    code, out, _ = cli("users")
    assert code == 0
    assert re.search(r"zhang\s+张书记\s+第一党支部\s+secretary@b1, member@b1\s+no", out), out
    listed = cli.json("users")
    assert [(u["id"], u["has_password"]) for u in listed][:1] == [("li", False)]
    assert cli.json("users") == json.loads(cli("users", "--json")[1])  # --json before or after the verb

    code, _, err = cli("users", "set-password", "zhang", "--password", "short")
    assert code == 2 and "至少 8 个字符" in err  # invalid input, as a usage error
    code, _, err = cli("users", "set-password", "nobody", "--password", "long-enough")
    assert code == 1 and "nobody" in err
    code, out, _ = cli("users", "set-password", "zhang", "--password", "long-enough", "--as", "zhao")
    assert code == 0 and "password set for zhang" in out
    assert {u["id"]: u["has_password"] for u in cli.json("users")}["zhang"] is True


def test_api_tokens_from_the_command_line(cli: Cli) -> None:
    issued = cli.json("tokens", "issue", "--user", "zhang", "--name", "手机端")
    assert issued["secret"].startswith("lf_") and issued["person_id"] == "zhang"
    [listed] = cli.json("tokens", "list", "--user", "zhang")
    assert listed["name"] == "手机端" and "secret" not in listed and listed["revoked_at"] is None
    assert cli("tokens", "revoke", str(listed["id"]))[0] == 0
    assert cli.json("tokens", "list", "--user", "zhang")[0]["revoked_at"] is not None
    code, _, err = cli("tokens", "issue", "--user", "nobody")
    assert code == 1 and "nobody" in err


def test_export_the_event_log_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    import csv
    from xml.etree import ElementTree

    cli("deploy", str(DEMO / "branch_meeting.bpmn"))
    cli.json("start", "branch_meeting", "--org", "b1")
    cli.json("start", "branch_meeting", "--org", "b2")
    xes, table_file = tmp_path / "log.xes", tmp_path / "log.csv"
    assert cli("export", "xes", "--procedure", "branch_meeting", "--org", "b1", str(xes))[0] == 0
    traces = ElementTree.parse(xes).getroot().findall("{http://www.xes-standard.org/}trace")
    assert len(traces) == 1
    assert cli("export", "csv", "--procedure", "branch_meeting", str(table_file))[0] == 0
    with table_file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["case_id"] for r in rows} == {"1", "2"} and {r["activity"] for r in rows} == {"拟定议程"}


def test_metrics_from_the_command_line(cli: Cli) -> None:
    cli("deploy", str(DEMO / "branch_meeting.bpmn"))
    started = cli.json("start", "branch_meeting", "--org", "b1")
    [task] = started["open_tasks"]
    cli("clock", "advance", "PT5H")
    cli("complete", str(task["id"]), "--user", "zhang", "--data", '{"agenda": "讨论", "meeting_date": "2026-03-02"}')
    figures = cli.json("metrics", "--procedure", "branch_meeting", "--org", "c1")
    [agenda] = [s for s in figures["steps"] if s["spec"] == "prepare_agenda"]
    assert agenda["frequency"] == 1 and agenda["queue"]["median"] == 5.0  # five hours from ready to completion
    code, out, _ = cli("metrics", "--procedure", "branch_meeting")
    assert code == 0 and "prepare_agenda" in out and "first-pass yield" in out


def test_wastes_from_the_command_line(cli: Cli) -> None:
    cli("deploy", str(DEMO / "branch_meeting.bpmn"))
    instance = cli.json("start", "branch_meeting", "--org", "b1")
    cli("clock", "advance", "P10D")  # far past the agenda's 3-working-day SLA
    found = cli.json("wastes", "--procedure", "branch_meeting")
    waiting = [f for f in found if f["kind"] == "waiting"]
    assert waiting and waiting[0]["steps"] == ["prepare_agenda"] and waiting[0]["instance_ids"] == [instance["id"]]
    code, out, _ = cli("wastes", "--procedure", "branch_meeting")
    assert code == 0 and "waiting" in out and "prepare_agenda" in out
