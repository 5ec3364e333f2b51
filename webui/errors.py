"""Error pages: the engine's refusals and HTTP errors become a page with a Chinese title and the reason."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import Conflict, InvalidInput, LeanFlowError, LoadError, NotAllowed, NotFound


def page(status: int, title: str, message: str) -> tuple[str, int]:
    """Render the error page."""
    return render_template("error.html", status=status, title=title, message=message), status


def _engine_error(error: LeanFlowError) -> tuple[str, int]:
    if isinstance(error, NotAllowed):
        return page(403, _("无权操作"), error.message)
    if isinstance(error, NotFound):
        return page(404, _("未找到"), error.message)
    if isinstance(error, Conflict):
        return page(409, _("操作冲突，请刷新后重试"), error.message)
    if isinstance(error, InvalidInput | LoadError):
        return page(400, _("输入有误"), error.message)
    return page(400, _("操作未完成"), error.message)


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return page(400, _("页面已过期或缺少安全令牌，请刷新页面后重试"), error.description or "")


def _http_error(error: HTTPException) -> tuple[str, int]:
    titles = {403: _("无权操作"), 404: _("未找到"), 405: _("不支持的请求"), 413: _("上传的文件过大")}
    status = error.code or 500
    return page(status, titles.get(status, error.name), error.description or "")


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(LeanFlowError, _engine_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
