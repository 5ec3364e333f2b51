"""Template filters: times in the configured zone, due dates said relatively, roles, people, events, states."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from engine.roles import ROLES
from webui.i18n import is_chinese
from webui.workflow import clock, workflow

WEEKDAYS_ZH = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

EVENTS = {
    "instance_started": _l("流程发起"),
    "task_ready": _l("任务就绪"),
    "task_claimed": _l("认领任务"),
    "task_unclaimed": _l("退回任务"),
    "task_opened": _l("开始办理"),
    "task_completed": _l("完成任务"),
    "check_failed": _l("检查未通过"),
    "task_cancelled": _l("任务取消"),
    "timer_due": _l("计时开始"),
    "timer_fired": _l("计时到期"),
    "timer_cancelled": _l("计时取消"),
    "escalation": _l("提醒或督办"),
    "instance_completed": _l("流程办结"),
    "instance_cancelled": _l("流程取消"),
    "incident": _l("运行异常"),
}
STATES = {
    "ready": _l("待认领"),
    "claimed": _l("办理中"),
    "completed": _l("已完成"),
    "cancelled": _l("已取消"),
    "running": _l("进行中"),
    "error": _l("异常"),
}


def zone() -> ZoneInfo:
    """Return the time zone pages are shown in."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def when(value: datetime | None) -> str:
    """Say an instant as "2026-03-05 09:00 周四" in the configured zone."""
    if value is None:
        return "-"
    local = value.astimezone(zone())
    weekday = f"周{WEEKDAYS_ZH[local.weekday()]}" if is_chinese() else WEEKDAYS_EN[local.weekday()]
    return f"{local:%Y-%m-%d %H:%M} {weekday}"


def fromiso(value: str | None) -> datetime | None:
    """Read an ISO 8601 instant stored as text in the history."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def day(value: datetime | None) -> str:
    """Say the local date of an instant."""
    return value.astimezone(zone()).strftime("%Y-%m-%d") if value else "-"


def due(value: datetime | None, now: datetime | None = None) -> tuple[str, str]:
    """Say a due date relative to the engine's clock ("3 天后到期", "逾期 2 天") with a CSS class."""
    if value is None:
        return _("无期限"), "due-none"
    now = now or clock().now
    today, due_day = now.astimezone(zone()).date(), value.astimezone(zone()).date()
    if value < now:
        late = (today - due_day).days
        if late < 1:
            return _("今天到期，已逾期"), "due-overdue"
        return ngettext("逾期 %(num)d 天", "逾期 %(num)d 天", late), "due-overdue"
    ahead = (due_day - today).days
    if ahead == 0:
        return _("今天到期"), "due-today"
    if ahead == 1:
        return _("明天到期"), "due-soon"
    return ngettext("%(num)d 天后到期", "%(num)d 天后到期", ahead), "due-soon" if ahead <= 3 else "due-later"


def done_vs_due(completed: datetime | None, due_at: datetime | None) -> tuple[str, str]:
    """Say whether a step was done in time ("按期完成", "超期 2 天完成")."""
    if completed is None or due_at is None:
        return "", ""
    if completed <= due_at:
        return _("按期完成"), "due-ok"
    late = max((completed.astimezone(zone()).date() - due_at.astimezone(zone()).date()).days, 0)
    if late < 1:
        return _("当天超时完成"), "due-overdue"
    return ngettext("超期 %(num)d 天完成", "超期 %(num)d 天完成", late), "due-overdue"


def role_title(role_id: str | None) -> str:
    """Say a role in the page's language."""
    if not role_id:
        return _("指派给个人")
    role = ROLES.get(role_id)
    if role is None:
        return role_id
    return role.zh if is_chinese() else role.en


def _directory() -> dict[str, Any]:
    if "directory" not in g:
        g.directory = {"people": {u.id: u.name for u in workflow().users()},
                       "units": {u.id: u.name for u in workflow().org_units()}}
    return dict(g.directory)


def person_name(person_id: str | None) -> str:
    """Say a person's name, or "系统" for the engine itself."""
    if not person_id:
        return _("系统")
    return str(_directory()["people"].get(person_id, person_id))


def unit_name(unit_id: str | None) -> str:
    """Say an org unit's name."""
    if not unit_id:
        return "-"
    return str(_directory()["units"].get(unit_id, unit_id))


def event_label(kind: str) -> str:
    """Say what a history event was."""
    return str(EVENTS.get(kind, kind))


def state_label(state: str) -> str:
    """Say a task's or an instance's state."""
    return str(STATES.get(state, state))


def pretty(value: Any) -> str:
    """Show a data value: text as typed, lists joined, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "、".join(value)
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def sla_text(value: str | None) -> str:
    """Say an SLA as people do: working_days(5) → "5 个工作日", P3D → "3 天"; other forms as written."""
    if not value:
        return ""
    from engine.durations import CalendarDuration, WorkingDays, parse_deadline
    from engine.errors import InvalidInput

    try:
        deadline = parse_deadline(value)
    except InvalidInput:
        return value
    if isinstance(deadline, WorkingDays):
        return _("%(n)s 个工作日", n=deadline.n)
    if isinstance(deadline, CalendarDuration):
        return when_span(deadline)
    return value


def when_span(d: Any) -> str:
    """An ISO duration in words (years, months, weeks, days, hours)."""
    parts = [(d.years, _("%(n)s 年", n=d.years)), (d.months, _("%(n)s 个月", n=d.months)),
             (d.weeks, _("%(n)s 周", n=d.weeks)), (d.days, _("%(n)s 天", n=d.days)),
             (d.hours, _("%(n)s 小时", n=d.hours))]
    return " ".join(text for n, text in parts if n) or d.iso()


def init_app(app: Flask) -> None:
    """Register the filters and globals the templates use."""
    app.add_template_filter(when)
    app.add_template_filter(day)
    app.add_template_filter(fromiso)
    app.add_template_filter(role_title)
    app.add_template_filter(person_name)
    app.add_template_filter(unit_name)
    app.add_template_filter(event_label)
    app.add_template_filter(state_label)
    app.add_template_filter(pretty)
    app.add_template_filter(sla_text)
    app.add_template_global(due)
    app.add_template_global(done_vs_due)
    app.add_template_global(clock)
