"""Import an organisation tree with its people and roles from YAML or JSON."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import yaml

from engine.errors import InvalidInput
from engine.history import SYSTEM_CHAIN, NewEvent
from engine.roles import ROLES
from engine.unit_of_work import UnitOfWork

KINDS = ("committee", "general_branch", "branch", "group")


def parse_org_document(text: str, filename: str = "<org>") -> dict[str, Any]:
    """Read YAML or JSON (JSON is YAML) into a dict with units and people."""
    try:
        data = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as bad:
        raise InvalidInput(f"{filename}: not valid YAML/JSON: {str(bad).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("units"), list):
        raise InvalidInput(f"{filename}: expected a mapping with a 'units' list (and 'people')")
    return data


def _date(value: Any, what: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{what}: '{value}' is not a date (YYYY-MM-DD)") from None


def _attributes(value: Any, pid: str) -> dict[str, Any]:
    """Keep a person's free attributes as JSON: YAML dates become ISO text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"person {pid}: attributes must be a mapping")

    def plain(item: Any) -> Any:
        if isinstance(item, date):
            return item.isoformat()
        if isinstance(item, dict):
            return {str(k): plain(v) for k, v in item.items()}
        if isinstance(item, list):
            return [plain(v) for v in item]
        return item if isinstance(item, str | int | float | bool) or item is None else str(item)

    return {str(k): plain(v) for k, v in value.items()}


def import_org(uow: UnitOfWork, data: dict[str, Any], actor: str | None) -> tuple[int, int]:
    """Create or update units (parents first) and people with their roles; return (units, people)."""
    units = data["units"]
    known = {u.id for u in uow.orgs.units()}
    pending = list(units)
    # Parents may come after children in the file; place units whose parent is known until none are left.
    while pending:
        placed = []
        for unit in pending:
            if not isinstance(unit, dict) or not unit.get("id") or not unit.get("name"):
                raise InvalidInput(f"each unit needs an id and a name: {unit!r}")
            if unit.get("kind", "branch") not in KINDS:
                raise InvalidInput(f"unit {unit['id']}: kind must be one of {', '.join(KINDS)}")
            parent = unit.get("parent")
            if parent is None or parent in known:
                uow.orgs.save_unit(str(unit["id"]), name=str(unit["name"]), kind=unit.get("kind", "branch"),
                                   parent_id=parent)
                known.add(unit["id"])
                placed.append(unit)
        if not placed:
            missing = sorted({u.get("parent") for u in pending})
            raise InvalidInput(f"units name parents that do not exist: {', '.join(map(str, missing))}")
        pending = [u for u in pending if u not in placed]
    people = data.get("people") or []
    for person in people:
        if not isinstance(person, dict) or not person.get("id") or not person.get("name"):
            raise InvalidInput(f"each person needs an id and a name: {person!r}")
        pid = str(person["id"])
        unit_id = person.get("unit")
        if unit_id is not None and unit_id not in known:
            raise InvalidInput(f"person {pid}: unit '{unit_id}' does not exist")
        uow.orgs.save_person(
            pid, name=str(person["name"]), org_unit_id=unit_id, membership=person.get("membership"),
            birth_date=_date(person.get("birth_date"), f"person {pid} birth_date"),
            attributes=_attributes(person.get("attributes"), pid),
        )
        roles = []
        for grant in person.get("roles") or []:
            role, at = grant.get("role"), grant.get("unit", unit_id)
            if role not in ROLES:
                raise InvalidInput(f"person {pid}: unknown role '{role}' (known: {', '.join(sorted(ROLES))})")
            if at not in known:
                raise InvalidInput(f"person {pid}: role {role} at unknown unit '{at}'")
            roles.append((role, at, _date(grant.get("from"), f"person {pid} role from"),
                          _date(grant.get("to"), f"person {pid} role to")))
        uow.orgs.replace_roles(pid, roles)
    uow.record(SYSTEM_CHAIN, None, NewEvent("org_imported", uow.now, actor,
                                            payload={"units": len(units), "people": len(people)}))
    return len(units), len(people)
