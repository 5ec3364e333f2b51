"""Serving the web UI with waitress, a production WSGI server (never Flask's development server).

`leanflow serve` and `leanflow demo` run it in the foreground until Ctrl-C (or SIGTERM), which lets the requests
in flight finish and closes the database connections. Tests run the same server in a background thread.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from flask import Flask
from waitress.server import create_server

from webui import create_app
from webui.workflow import close

SECRET_ENV = "LEANFLOW_SECRET_KEY"
FILES_ENV = "LEANFLOW_UPLOAD_FOLDER"


def secret_key(warn: Callable[[str], None]) -> str:
    """The key that signs sessions: LEANFLOW_SECRET_KEY, or a random one with a warning."""
    key = os.environ.get(SECRET_ENV, "").strip()
    if key:
        return key
    warn(f"warning: {SECRET_ENV} is not set, so a random secret key signs the sessions: every login ends when "
         f"the server restarts (set {SECRET_ENV} to keep them)")
    return secrets.token_hex(32)


def make_app(database_url: str, *, secret: str, upload_folder: str | Path | None = None,
             **settings: Any) -> Flask:
    """The web UI on a database (its schema created or upgraded on start)."""
    config: dict[str, Any] = {"DATABASE_URL": database_url, "SECRET_KEY": secret, **settings}
    folder = upload_folder or os.environ.get(FILES_ENV)
    if folder:
        config["UPLOAD_FOLDER"] = str(folder)
    return create_app(config)


class Server:
    """A waitress server for one app, bound at construction (so port 0 picks a free port)."""

    def __init__(self, app: Flask, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 4) -> None:
        self.app = app
        self.server: Any = create_server(app, host=host, port=port, threads=threads, ident="LeanFlow")
        self.host, self.port, self.threads = host, int(self.server.effective_port), threads
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self, echo: Callable[[str], None]) -> None:
        """Serve in the foreground until Ctrl-C or SIGTERM; then finish the requests in flight and close."""
        previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
        echo(f"LeanFlow serving on {self.url}/ (waitress, {self.threads} threads); press Ctrl-C to stop")
        try:
            self.server.run()  # returns after KeyboardInterrupt, having shut its worker threads down
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.server.close()
            close(self.app)
        echo("LeanFlow stopped")

    def start(self) -> Server:
        """Serve from a background thread (tests)."""
        self._thread = threading.Thread(target=self.server.run, name=f"waitress:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop a background server: close its sockets, wait for its loop and workers, release the database."""
        from waitress import wasyncore

        wasyncore.close_all(self.server._map)  # the loop ends when it has nothing left to watch
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()
        close(self.app)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


__all__ = ["Server", "make_app", "secret_key"]
