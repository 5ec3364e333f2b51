"""The engine service of the app: one WorkflowService per app, kept in app.extensions.

The web UI holds no database session: every service call is one unit of work (one transaction) that the
engine opens and closes, so a request never leaves a session open and never sees half of another's change.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app, g

from engine.service import WorkflowService, open_service
from engine.views import ClockView

KEY = "leanflow"


def init_app(app: Flask) -> None:
    """Open the service on the configured database (migrating it unless told not to)."""
    app.extensions[KEY] = open_service(app.config["DATABASE_URL"], migrate=bool(app.config["MIGRATE"]))


def workflow() -> WorkflowService:
    """Return the app's engine service."""
    return cast(WorkflowService, current_app.extensions[KEY])


def clock() -> ClockView:
    """Return the engine's clock (possibly virtual), read once per request."""
    if "clock" not in g:
        g.clock = workflow().clock()
    return cast(ClockView, g.clock)


def close(app: Flask) -> None:
    """Release the service's database connections (tests and shutdown)."""
    service = app.extensions.get(KEY)
    if service is not None and service.db_engine is not None:
        service.db_engine.dispose()
