"""LeanFlow's web UI: a Flask app over engine.service (Chinese first, English second).

webui/ may import engine/, Flask and its extensions; never storage/, SQLAlchemy or SpiffWorkflow
(tests/webui/test_boundaries.py checks it), and nothing imports webui/. Views parse the request, call one
engine service method that checks the acting person's rights, and render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, redirect, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from webui import api, auth, errors, formatting, i18n, inbox, instances, library, login, settings, tasks, workflow
from webui.analytics import bp as analytics_bp


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: settings, the engine service, login, CSRF, translations, blueprints."""
    app = Flask(__name__, instance_relative_config=True)
    settings.init_app(app, config)
    workflow.init_app(app)
    login.init_app(app)
    CSRFProtect(app)
    i18n.init_app(app)
    formatting.init_app(app)
    errors.init_app(app)
    for blueprint in (auth.bp, inbox.bp, tasks.bp, instances.bp, library.bp, api.bp, analytics_bp):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("inbox.index"))

    return app


__all__ = ["create_app"]
