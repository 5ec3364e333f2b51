"""The roles lanes may name, with their Chinese and English titles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """A role a lane can be mapped to."""

    id: str
    zh: str
    en: str
    per_case: bool = False  # filled per instance from the data (e.g. the applicant), not from the org


ROLES: Mapping[str, Role] = {
    r.id: r
    for r in (
        Role("secretary", "支部书记", "Branch secretary"),
        Role("deputy_secretary", "副书记", "Deputy secretary"),
        Role("branch_committee", "支部委员会", "Branch committee"),
        Role("organizer", "组织委员", "Organisation committee member"),
        Role("propaganda", "宣传委员", "Propaganda committee member"),
        Role("discipline", "纪检委员", "Discipline committee member"),
        Role("member", "党员", "Party member"),
        Role("member_meeting", "支部党员大会", "Branch member meeting"),
        Role("group_leader", "党小组长", "Party group leader"),
        Role("committee", "党委", "Party committee"),
        Role("higher_committee", "上级党委", "Higher party committee"),
        Role("organization_dept", "党委组织部", "Organisation department"),
        Role("team_leader", "突击队长", "Spearhead team leader"),
        Role("auditor", "审计人员", "Auditor"),
        Role("admin", "管理员", "Administrator"),
        Role("applicant", "入党申请人", "Applicant", per_case=True),
        Role("introducer", "入党介绍人", "Introducer", per_case=True),
        Role("contact", "培养联系人", "Contact person", per_case=True),
        Role("assignee", "承办人", "Assignee", per_case=True),
    )
}

SCOPES = ("unit", "ancestor")


def role_title(role_id: str | None) -> str:
    """Return "支部书记 / Branch secretary" for a role id, or the id itself when unknown."""
    if role_id is None:
        return "-"
    role = ROLES.get(role_id)
    return f"{role.zh} / {role.en}" if role else role_id
