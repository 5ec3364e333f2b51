"""`leanflow serve` (waitress; Ctrl-C or SIGTERM stops it cleanly), password prompts, and the demo's password check."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from leanflow.cli import main


def test_set_password_prompts_twice_without_echo(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    base = [sys.executable, "-m", "leanflow", "--db", url]
    assert subprocess.run([*base, "org", "import", str(Path(__file__).parents[2] / "leanflow/demo/org.yaml")],
                          capture_output=True, timeout=120).returncode == 0
    done = subprocess.run([*base, "users", "set-password", "li"], input="typed-secret\ntyped-secret\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "typed-secret" not in done.stdout and "password set for li" in done.stdout
    mismatch = subprocess.run([*base, "users", "set-password", "li"], input="typed-secret\nother-secret\n",
                              capture_output=True, text=True, timeout=120)
    assert mismatch.returncode != 0


def _serve(url: str, tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start `leanflow serve` on a free port; return the process and its base URL once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "leanflow", "--db", url, "serve", "--port", "0", "--threads", "2",
                             "--files", str(tmp_path / "files")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"serving on (http://127\.0\.0\.1:\d+)/ \(waitress, 2 threads\)", line)
    assert found, line + proc.stderr.read() if proc.stderr else line
    return proc, found.group(1)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_runs_the_web_ui_with_waitress_and_stops_cleanly(database_url: str, tmp_path: Path,
                                                                 stop: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LEANFLOW_SECRET_KEY"}
    if stop == signal.SIGTERM:
        env["LEANFLOW_SECRET_KEY"] = "a-key-kept-across-restarts"
    proc, base = _serve(database_url, tmp_path, env)
    try:
        with urllib.request.urlopen(f"{base}/login", timeout=30) as response:
            assert response.status == 200 and response.headers["Server"] == "LeanFlow"
            assert "人员编号" in response.read().decode("utf-8")
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "LeanFlow stopped" in out and "Traceback" not in err
    warned = "sessions" in err and "LEANFLOW_SECRET_KEY" in err
    assert warned == (stop == signal.SIGINT)  # a random key is announced; a configured one is not


def test_serve_reports_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "leanflow", "--db", f"sqlite:///{tmp_path / 'x.db'}", "serve",
                               "--port", str(port)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LEANFLOW_SECRET_KEY": "k"})
    assert done.returncode == 1 and "error:" in done.stderr and "Traceback" not in done.stderr


def test_demo_refuses_a_password_the_engine_would_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--db", str(tmp_path / "demo.db"), "--password", "demo", "--no-serve"])
    assert exited.value.code == 2 and "至少 8 个字符" in capsys.readouterr().err
    assert not (tmp_path / "demo.db").exists()
